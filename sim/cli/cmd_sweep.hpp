#pragma once
// `snn sweep MODEL --calib D --data D --levers SPEC -o OUT.json`: the
// cartesian product of conversion and run levers (quantize, prune, idp,
// steps), each combination converted and run in-process by the functions
// `snn convert` and `snn run` use, one row each of accuracy, synaptic
// operations, bytes moved, model bytes and energy per input (docs/sweep.md).
// Kept out of main.cpp, which only registers it.
#include "snn/memory.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct SweepArgs {
    MemoryBudget memory; // --max-memory
    std::string model, calib, data, encode = "current", levers, partition, output, costs, plot, idp_profile;
    std::string norm = "percentile:99.9"; // snn convert's default
    std::int64_t calib_samples = 1000, limit = -1, prune_seed = 1;
    int steps = 64, threads = 1;
    std::uint64_t seed = 1;
    double max_rate = 1.0;
    CLI::App* command = nullptr;
    CLI::Option* steps_option = nullptr;
    CLI::Option* limit_option = nullptr;
};

// One lever and the values it takes, as --levers names them (values as written).
struct Lever {
    std::string name;
    std::vector<std::string> values;
};

// Parses --levers: NAME=V1,V2,...;NAME=...; names quantize, prune, idp and
// steps, each at most once; within a value '+' stands for the ',' that joins
// entries on the command line (quantize=dense_1=int:4+dense_2=int:8). Every
// value is checked by the parser of its flag; throws OptionError naming the
// lever and value that are wrong.
std::vector<Lever> parse_levers(const std::string& spec);

// Registers `snn sweep`; returns the command.
CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args, int default_threads);
// Runs it if it was parsed; returns the exit code, or −1 if it was not.
int run_sweep_command(const SweepArgs& args);

} // namespace snn
