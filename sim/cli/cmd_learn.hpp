#pragma once
// The `snn learn` subcommand: unsupervised STDP learning of one layer on a
// data set, label assignment, and the accuracy of the assignment readout.
#include "sim/learn.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace snn {

struct LearnArgs {
    MemoryBudget memory; // --max-memory
    std::string data = "mnist:train", test_data = "mnist:test", rule = "diehl-cook", report, output, checkpoint, resume,
                depression = "constant", binary = "unipolar";
    std::int64_t limit = -1, test_limit = -1, checkpoint_every = 0;
    LearnOptions options;
    bool quiet = false;
};

CLI::App* add_learn_command(CLI::App& app, LearnArgs& args);
int run_learn_command(LearnArgs& args); // throws snn::Error on bad input

} // namespace snn
