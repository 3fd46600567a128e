#pragma once
// The `snn stdp-curve` subcommand: its options and what it runs. Kept out of
// main.cpp, which only registers it.
#include "sim/stdp_curve.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

namespace snn {

struct StdpCurveArgs {
    std::string rule = "pair", form = "additive", pairing = "all-to-all", depression = "constant", binary = "unipolar";
    RuleSpec spec;
    CurveOptions curve;
    double w_init = 0;
    std::int32_t window = 0;
    bool json = false;
    CLI::Option *w_init_opt = nullptr, *window_opt = nullptr;
    // Options that belong to some rules only, with a bit per RuleKind.
    std::vector<std::pair<CLI::Option*, unsigned>> rule_options;
};

CLI::App* add_stdp_curve_command(CLI::App& app, StdpCurveArgs& args);
int run_stdp_curve_command(StdpCurveArgs& args); // prints the curve; throws snn::Error on bad input

} // namespace snn
