#pragma once
// The `snn exits` subcommands (train, add, clear, place) and `snn partition`:
// they edit the exits and the partition stored in a network file. Kept out of
// main.cpp, which only registers them.
#include "snn/memory.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct ExitsArgs {
    MemoryBudget memory; // --max-memory
    std::string network, output, at, data, rule = "entropy", candidates, check_list = "0,16,8,4", json;
    double threshold = 0.1, max_drop = 0.5;
    int steps = 32, check_every = 0, threads = 1, iterations = 300;
    std::int64_t limit = 10000, train_samples = 5000, val_samples = 2000;
    bool no_temporal = false;
    CLI::App *train = nullptr, *add = nullptr, *clear = nullptr, *place = nullptr;
    std::string partition_network, partition_spec, partition_output;
    CLI::App* partition = nullptr;
};

// Throws DataError where `data` is a test split (mnist:test, fashion-mnist:test,
// with or without a sample range): exits are fitted and tuned on training data.
void refuse_test_split(const std::string& data, const char* what);

// Registers `snn exits ...` and `snn partition`; returns the `exits` command.
CLI::App* add_exits_commands(CLI::App& app, ExitsArgs& args, int default_threads);
// Runs whichever of them was parsed; returns the exit code, or −1 if none was.
int run_exits_command(const CLI::App* exits, ExitsArgs& args);

} // namespace snn
