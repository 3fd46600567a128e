#pragma once
// The STDP window of a rule: isolated pre/post pairs at Δt = t_post − t_pre
// from −dt_max to +dt_max steps, and the weight change each produces (or,
// for the stochastic rule, the fraction of trials in which the weight switched).
#include "sim/plasticity.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace snn {

struct CurveOptions {
    std::int32_t dt_max = 50;
    std::int64_t trials = 20000;   // stochastic only: trials per Δt and starting level
    std::optional<double> w_init;  // pair and diehl-cook; unset: the middle of the weight range
    std::uint64_t seed = 1;
    int threads = 1;
};

struct CurvePoint {
    std::int32_t dt = 0;
    double dw = 0; // deterministic: the weight change; stochastic: p_up − p_down
    // stochastic: switches low→high among trials starting low, high→low among
    // trials starting high
    std::int64_t up = 0, down = 0;
    double p_up = 0, p_down = 0;
};

struct Curve {
    RuleSpec rule;
    double w_init = 0;
    std::int64_t trials = 1;
    std::vector<CurvePoint> points;
};

// One isolated pair: a 1×1 weight at `w0`, the pre spike at t_pre, the post
// spike at t_pre + dt (both ≥ 0); returns the final weight. `key.sample` keys
// the draws of a stochastic rule.
float run_pair(PlasticityRule& rule, std::int32_t dt, float w0, const StreamKey& key);

Curve stdp_curve(const RuleSpec& rule, const CurveOptions& options);

std::string curve_table(const Curve&);
nlohmann::json curve_json(const Curve&); // [{"dt", "dw"} (+ "p_up", "p_down" for stochastic)]

} // namespace snn
