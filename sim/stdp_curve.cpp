#include "sim/stdp_curve.hpp"

#include "snn/error.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>

namespace snn {

float run_pair(PlasticityRule& rule, std::int32_t dt, float w0, const StreamKey& key) {
    const std::array<std::int32_t, 1> unit{0};
    const std::span<const std::int32_t> one(unit), none;
    float w = w0;
    const SynapseView view{&w, 1, 1};
    rule.begin_sample(1, 1, key);
    // Both spikes at steps ≥ 0, the earlier one at step 0.
    const std::int32_t t_pre = dt < 0 ? -dt : 0, t_post = t_pre + dt;
    if (dt == 0) {
        rule.step(0, one, one, view);
    } else if (dt > 0) {
        rule.step(t_pre, one, none, view);
        rule.step(t_post, none, one, view);
    } else {
        rule.step(t_post, none, one, view);
        rule.step(t_pre, one, none, view);
    }
    return w;
}

namespace {

// Trials starting at `w0` whose weight ends elsewhere. Trial k draws from
// sample first + k, so the count does not depend on how trials are split
// among threads.
std::int64_t count_switches(const RuleSpec& spec, std::int32_t dt, float w0, std::uint64_t first, std::int64_t trials,
                            std::uint64_t seed) {
    std::atomic<std::int64_t> switched{0};
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, trials, 256), [&](const tbb::blocked_range<std::int64_t>& r) {
        auto rule = make_rule(spec);
        std::int64_t n = 0;
        for (std::int64_t k = r.begin(); k != r.end(); ++k)
            n += run_pair(*rule, dt, w0, StreamKey{seed, first + std::uint64_t(k), 0}) != w0;
        switched += n;
    });
    return switched.load();
}

} // namespace

Curve stdp_curve(const RuleSpec& rule, const CurveOptions& o) {
    validate(rule);
    if (o.dt_max < 0 || o.dt_max > 100000)
        throw OptionError("dt-max", std::to_string(o.dt_max),
                          "dt-max must be between 0 and 100000 steps (got " + std::to_string(o.dt_max) + ")");
    if (o.threads < 1) throw OptionError("threads", std::to_string(o.threads), "threads must be at least 1");
    Curve c;
    c.rule = rule;
    const bool stochastic = rule.kind == RuleKind::Stochastic;
    if (stochastic) {
        if (o.w_init)
            throw OptionError("w-init", "",
                              "w-init does not apply to --rule stochastic (its trials start at each binary level)");
        if (o.trials < 1)
            throw OptionError("trials", std::to_string(o.trials), "trials must be at least 1 (got " +
                                                                  std::to_string(o.trials) + ")");
        c.trials = o.trials;
    } else {
        const double lo = rule.kind == RuleKind::Pair ? rule.w_min : 0.0, hi = rule.w_max;
        c.w_init = o.w_init.value_or(0.5 * (lo + hi));
        if (!(c.w_init >= lo && c.w_init <= hi)) {
            char b[160], v[32];
            std::snprintf(b, sizeof b, "w-init %g is outside the weight range [%g, %g]", c.w_init, lo, hi);
            std::snprintf(v, sizeof v, "%g", c.w_init);
            throw OptionError("w-init", v, b);
        }
    }
    tbb::task_arena arena(o.threads);
    arena.execute([&] {
        for (std::int32_t dt = -o.dt_max; dt <= o.dt_max; ++dt) {
            CurvePoint p;
            p.dt = dt;
            if (stochastic) {
                // Samples: (Δt index, starting level, trial), each its own stream.
                const std::uint64_t index = std::uint64_t(dt + o.dt_max);
                p.up = count_switches(rule, dt, rule.low(), (2 * index) * std::uint64_t(o.trials), o.trials, o.seed);
                p.down = count_switches(rule, dt, rule.high(), (2 * index + 1) * std::uint64_t(o.trials), o.trials, o.seed);
                p.p_up = double(p.up) / double(o.trials);
                p.p_down = double(p.down) / double(o.trials);
                p.dw = p.p_up - p.p_down;
            } else {
                auto r = make_rule(rule);
                const float w0 = float(c.w_init);
                p.dw = double(run_pair(*r, dt, w0, StreamKey{o.seed, 0, 0})) - double(w0);
            }
            c.points.push_back(p);
        }
    });
    return c;
}

std::string curve_table(const Curve& c) {
    std::string s = "# " + c.rule.describe() + "\n";
    char b[160];
    if (c.rule.kind == RuleKind::Stochastic) {
        std::snprintf(b, sizeof b, "# %lld trials per dt and starting level; dw = p_up - p_down\n", (long long)c.trials);
        s += b;
        s += "   dt      p_up    p_down        dw\n";
        for (const auto& p : c.points) {
            std::snprintf(b, sizeof b, "%5d  %8.5f  %8.5f  %8.5f\n", p.dt, p.p_up, p.p_down, p.dw);
            s += b;
        }
    } else {
        std::snprintf(b, sizeof b, "# initial weight %g; dt = t_post - t_pre in steps\n", c.w_init);
        s += b;
        s += "   dt             dw\n";
        for (const auto& p : c.points) {
            std::snprintf(b, sizeof b, "%5d  %13.6e\n", p.dt, p.dw);
            s += b;
        }
    }
    return s;
}

nlohmann::json curve_json(const Curve& c) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : c.points) {
        nlohmann::json e = {{"dt", p.dt}, {"dw", p.dw}};
        if (c.rule.kind == RuleKind::Stochastic) {
            e["p_up"] = p.p_up;
            e["p_down"] = p.p_down;
        }
        j.push_back(e);
    }
    return j;
}

} // namespace snn
