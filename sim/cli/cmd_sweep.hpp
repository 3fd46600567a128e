#pragma once
// `snn sweep MODEL --calib D --data D --levers SPEC -o OUT.json`: the
// cartesian product of conversion and run levers (quantize, prune, idp,
// steps; edge and exit for a hybrid edge/cloud split), each combination
// converted and run in-process by the functions `snn convert`, `snn exits`
// and `snn run` use, one row each of accuracy, synaptic operations, bytes
// moved, model bytes and energy per input (docs/sweep.md).
// Kept out of main.cpp, which only registers it.
#include "snn/memory.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct SweepArgs {
    MemoryBudget memory; // --max-memory
    std::string model, calib, data, encode = "current", levers, partition, output, costs, plot, idp_profile, markdown;
    std::string norm = "percentile:99.9"; // snn convert's default
    std::int64_t calib_samples = 1000, limit = -1, prune_seed = 1;
    int steps = 64, threads = 1;
    // The exit at the end of the edge (levers edge and exit): fitted as
    // `snn exits train --data exit_data --limit exit_samples --steps exit_steps
    // --iterations exit_iterations` does where the model has no head there.
    std::string exit_data, exit_rule = "entropy";
    std::int64_t exit_samples = 10000;
    int exit_steps = 32, exit_iterations = 300;
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

// Parses --levers: NAME=V1,V2,...;NAME=...; names quantize, prune, idp,
// steps, edge and exit, each at most once; within a value '+' stands for the ',' that joins
// entries on the command line (quantize=dense_1=int:4+dense_2=int:8). Every
// value is checked by the parser of its flag; throws OptionError naming the
// lever and value that are wrong.
std::vector<Lever> parse_levers(const std::string& spec);

// Registers `snn sweep`; returns the command.
CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args, int default_threads);
// Runs it if it was parsed; returns the exit code, or −1 if it was not.
int run_sweep_command(const SweepArgs& args);

} // namespace snn
