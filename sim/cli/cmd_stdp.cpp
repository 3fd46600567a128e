#include "sim/cli/cmd_stdp.hpp"

#include "snn/error.hpp"

#include <iostream>
#include <thread>

namespace snn {

namespace {

constexpr unsigned bit(RuleKind k) { return 1u << unsigned(k); }
constexpr unsigned pair = bit(RuleKind::Pair), dc = bit(RuleKind::DiehlCook), stochastic = bit(RuleKind::Stochastic);

std::string rule_names(unsigned mask) {
    std::string s;
    for (const auto& [b, name] : {std::pair{pair, "pair"}, {dc, "diehl-cook"}, {stochastic, "stochastic"}})
        if (mask & b) s += (s.empty() ? "" : ", ") + std::string(name);
    return s;
}

} // namespace

CLI::App* add_stdp_curve_command(CLI::App& app, StdpCurveArgs& a) {
    auto* c = app.add_subcommand("stdp-curve",
                                 "Weight change of a plasticity rule against spike timing (dt = t_post - t_pre, in steps)");
    a.curve.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    c->add_option("--rule", a.rule, "pair, diehl-cook or stochastic")->capture_default_str();
    const auto only = [&](CLI::Option* o, unsigned mask) {
        a.rule_options.emplace_back(o, mask);
        return o;
    };
    RuleSpec& s = a.spec;
    only(c->add_option("--a-plus", s.a_plus, "pair: potentiation amplitude A+")->capture_default_str(), pair);
    only(c->add_option("--a-minus", s.a_minus, "pair: depression amplitude A-")->capture_default_str(), pair);
    only(c->add_option("--tau-plus", s.tau_plus, "pair, stochastic: potentiation time constant (steps)")->capture_default_str(),
         pair | stochastic);
    only(c->add_option("--tau-minus", s.tau_minus, "pair, stochastic: depression time constant (steps)")->capture_default_str(),
         pair | stochastic);
    only(c->add_option("--form", a.form, "pair: additive or multiplicative (soft bounds)")->capture_default_str(), pair);
    only(c->add_option("--pairing", a.pairing, "pair: all-to-all or nearest (nearest-spike)")->capture_default_str(), pair);
    only(c->add_option("--w-min", s.w_min, "pair: lower weight bound")->capture_default_str(), pair);
    only(c->add_option("--w-max", s.w_max, "pair, diehl-cook: upper weight bound")->capture_default_str(), pair | dc);
    a.w_init_opt = only(c->add_option("--w-init", a.w_init, "pair, diehl-cook: initial weight (default: middle of the range)"),
                        pair | dc);
    only(c->add_option("--nu-pre", s.nu_pre, "diehl-cook: depression rate at a pre spike")->capture_default_str(), dc);
    only(c->add_option("--nu-post", s.nu_post, "diehl-cook: potentiation rate at a post spike")->capture_default_str(), dc);
    only(c->add_option("--tau-pre", s.tau_pre, "diehl-cook: pre trace time constant (steps)")->capture_default_str(), dc);
    only(c->add_option("--tau-post1", s.tau_post1, "diehl-cook: post trace of depression (steps)")->capture_default_str(), dc);
    only(c->add_option("--tau-post2", s.tau_post2, "diehl-cook: post trace gating potentiation (steps)")->capture_default_str(), dc);
    only(c->add_option("--mu", s.mu, "diehl-cook: weight dependence exponent (0: their code)")->capture_default_str(), dc);
    only(c->add_option("--gamma-plus", s.gamma_plus, "stochastic: switch-up probability at dt = 0")->capture_default_str(),
         stochastic);
    only(c->add_option("--gamma-minus", s.gamma_minus, "stochastic: switch-down probability (scale)")->capture_default_str(),
         stochastic);
    a.window_opt = only(c->add_option("--window", a.window, "stochastic: potentiation window in steps (default: ceil(3 tau+))"),
                        stochastic);
    only(c->add_option("--depression", a.depression,
                       "stochastic: constant (input silent in the window at a post spike) or exponential (pre after post)")
             ->capture_default_str(),
         stochastic);
    only(c->add_option("--binary", a.binary, "stochastic: unipolar {0,1} or bipolar {-1,+1} weights")->capture_default_str(),
         stochastic);
    only(c->add_option("--trials", a.curve.trials, "stochastic: trials per dt and starting level")->capture_default_str(),
         stochastic);
    only(c->add_option("--seed", a.curve.seed, "stochastic: seed of the random streams")->capture_default_str(), stochastic);
    c->add_option("--dt-max", a.curve.dt_max, "dt runs from -dt-max to +dt-max steps")->capture_default_str();
    c->add_option("--threads", a.curve.threads, "Worker threads (results do not depend on it)")->capture_default_str();
    c->add_flag("--json", a.json, "Print a JSON list of {\"dt\", \"dw\"} instead of a table");
    return c;
}

int run_stdp_curve_command(StdpCurveArgs& a) {
    RuleSpec& s = a.spec;
    s.kind = rule_kind_from(a.rule);
    for (const auto& [opt, mask] : a.rule_options)
        if (opt->count() > 0 && !(mask & bit(s.kind)))
            throw OptionError(opt->get_lnames().empty() ? opt->get_name() : opt->get_lnames().front(),
                              opt->results().empty() ? std::string() : opt->results().back(),
                              opt->get_name() + " does not apply to --rule " + a.rule + " (it is a parameter of: " +
                                  rule_names(mask) + ")");
    s.dependence = weight_dependence_from(a.form);
    s.pairing = pairing_from(a.pairing);
    s.depression = depression_from(a.depression);
    s.levels = binary_levels_from(a.binary);
    if (a.window_opt->count() > 0) s.window = a.window;
    if (a.w_init_opt->count() > 0) a.curve.w_init = a.w_init;
    const Curve c = stdp_curve(s, a.curve);
    if (a.json) std::cout << curve_json(c).dump(1) << "\n";
    else std::cout << curve_table(c);
    return 0;
}

} // namespace snn
