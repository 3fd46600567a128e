// Plasticity rules, tested the way NEST and Brian2 test theirs: isolated pairs
// against the closed-form window, spike trains against an independent
// reference (tools/stdp_reference.py, numpy, event by event with direct sums),
// bounds, and for the stochastic binary rule switch fractions against the
// binomial interval, thread independence and binary weights.
#include "sim/plasticity.hpp"
#include "sim/stdp_curve.hpp"
#include "snn/error.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace snn;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

const std::vector<int> pair_dts = {-40, -20, -10, -5, -1, 0, 1, 5, 10, 20, 40};

RuleSpec pair_rule(WeightDependence dep, Pairing pairing) {
    RuleSpec r;
    r.kind = RuleKind::Pair;
    r.dependence = dep;
    r.pairing = pairing;
    return r;
}

// Closed form of an isolated pair (Δt = t_post − t_pre), from the rule's
// definition: additive A₊e^(−Δt/τ₊) and −A₋e^(Δt/τ₋); multiplicative scales
// them by (w_max − w0)/(w_max − w_min) and (w0 − w_min)/(w_max − w_min);
// coincident spikes do not pair.
double pair_closed_form(const RuleSpec& r, int dt, double w0) {
    const bool mult = r.dependence == WeightDependence::Multiplicative;
    const double span = r.w_max - r.w_min;
    if (dt > 0) return r.a_plus * std::exp(-dt / r.tau_plus) * (mult ? (r.w_max - w0) / span : 1.0);
    if (dt < 0) return -r.a_minus * std::exp(dt / r.tau_minus) * (mult ? (w0 - r.w_min) / span : 1.0);
    return 0.0;
}

// Steps at which a Bernoulli(p) train spikes, over [0, steps).
std::vector<int> poisson_train(double p, int steps, std::mt19937_64& rng) {
    std::bernoulli_distribution spike(p);
    std::vector<int> t;
    for (int s = 0; s < steps; ++s)
        if (spike(rng)) t.push_back(s);
    return t;
}

// One synapse driven by two spike trains; the weight at the end of every step
// with a pre spike. With `every_step`, the rule is called at every step (one-step
// decay); otherwise only at steps with a spike (decay over gaps).
std::vector<double> weights_after_pre(const RuleSpec& spec, const std::vector<int>& pre, const std::vector<int>& post,
                                      float w0, bool every_step) {
    auto rule = make_rule(spec);
    float w = w0;
    rule->begin_sample(1, 1, StreamKey{});
    const std::set<int> pre_set(pre.begin(), pre.end()), post_set(post.begin(), post.end());
    const int last = std::max(pre.empty() ? 0 : pre.back(), post.empty() ? 0 : post.back());
    const std::vector<std::int32_t> one{0}, none;
    std::vector<double> out;
    for (int t = 0; t <= last; ++t) {
        const bool a = pre_set.count(t) > 0, b = post_set.count(t) > 0;
        if (!every_step && !a && !b) continue;
        rule->step(t, a ? one : none, b ? one : none, SynapseView{&w, 1, 1});
        if (a) out.push_back(w);
    }
    return out;
}

json rule_json(const RuleSpec& r) {
    if (r.kind == RuleKind::DiehlCook)
        return {{"kind", "diehl-cook"}, {"nu_pre", r.nu_pre},       {"nu_post", r.nu_post},
                {"tau_pre", r.tau_pre}, {"tau_post1", r.tau_post1}, {"tau_post2", r.tau_post2},
                {"w_max", r.w_max},     {"mu", r.mu}};
    return {{"kind", "pair"},
            {"a_plus", r.a_plus},
            {"a_minus", r.a_minus},
            {"tau_plus", r.tau_plus},
            {"tau_minus", r.tau_minus},
            {"w_min", r.w_min},
            {"w_max", r.w_max},
            {"form", r.dependence == WeightDependence::Additive ? "additive" : "multiplicative"},
            {"pairing", r.pairing == Pairing::AllToAll ? "all-to-all" : "nearest"}};
}

// Runs tools/stdp_reference.py on /usr/bin/python3 (Debian's, with numpy).
std::vector<double> python_reference(const RuleSpec& r, const std::vector<int>& pre, const std::vector<int>& post,
                                     double w0) {
    static const test::TempDir dir("stdp-ref");
    const std::string in = dir.file("in.json"), out = dir.file("out.json");
    std::ofstream(in) << json{{"rule", rule_json(r)}, {"w0", w0}, {"pre", pre}, {"post", post}}.dump();
    const std::string cmd = std::string("/usr/bin/python3 '") + SNN_SOURCE_DIR + "/tools/stdp_reference.py' '" + in +
                            "' '" + out + "'";
    const int status = std::system(cmd.c_str());
    REQUIRE(status != -1);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    std::ifstream f(out);
    const json j = json::parse(f);
    REQUIRE(j.at("pre").get<std::vector<int>>() == pre);
    return j.at("w").get<std::vector<double>>();
}

// NEST's edge case (test_stdp_synapse.py), in steps: every ordering of pre
// and post spikes, coincident spikes (9 and 12) included.
const std::vector<int> nest_pre = {1, 5, 6, 7, 9, 11, 12, 13, 15, 17};
const std::vector<int> nest_post = {2, 3, 4, 8, 9, 10, 12, 14, 16, 18};

// 99.9% two-sided normal interval of a binomial fraction with n trials.
bool in_binomial_interval(double fraction, double p, std::int64_t n) {
    const double z = 3.2905;
    return std::abs(fraction - p) <= z * std::sqrt(p * (1 - p) / double(n)) + 1e-12;
}

} // namespace

TEST_CASE("pair STDP: isolated pairs follow the closed-form window", "[plasticity]") {
    for (auto dep : {WeightDependence::Additive, WeightDependence::Multiplicative})
        for (auto pairing : {Pairing::AllToAll, Pairing::Nearest}) {
            RuleSpec r = pair_rule(dep, pairing);
            // Unequal time constants catch a τ₊/τ₋ swap; large amplitudes in
            // wide bounds make an Euler decay ((1 − 1/τ)^Δt) miss by far more
            // than the tolerance (at Δt = 40, τ = 10: 0.0148 against 0.0183).
            r.a_plus = 1.0;
            r.a_minus = 1.05;
            r.tau_plus = 10;
            r.tau_minus = 30;
            r.w_min = -5;
            r.w_max = 5;
            for (const float w0 : {0.0f, 1.5f})
                for (const int dt : pair_dts) {
                    auto rule = make_rule(r);
                    const double dw = double(run_pair(*rule, dt, w0, StreamKey{})) - w0;
                    INFO(r.describe() << " w0 " << w0 << " dt " << dt);
                    CHECK(dw == Approx(pair_closed_form(r, dt, w0)).margin(1e-6));
                }
        }
}

TEST_CASE("stdp_curve reports the window of the default pair rule", "[plasticity]") {
    RuleSpec r; // A₊ 0.01, A₋ 0.0105, τ± 20: Song, Miller & Abbott
    CurveOptions o;
    const Curve c = stdp_curve(r, o);
    REQUIRE(c.points.size() == 101);
    CHECK(c.w_init == 0.5);
    for (const auto& p : c.points) {
        INFO("dt " << p.dt);
        CHECK(p.dt == int(&p - c.points.data()) - 50);
        const double expected = p.dt > 0 ? 0.01 * std::exp(-p.dt / 20.0) : p.dt < 0 ? -0.0105 * std::exp(p.dt / 20.0) : 0.0;
        CHECK(p.dw == Approx(expected).margin(1e-6));
    }
}

TEST_CASE("Diehl & Cook: an isolated pair only depresses, a post-post-pre triplet potentiates", "[plasticity]") {
    RuleSpec r;
    r.kind = RuleKind::DiehlCook;
    for (const int dt : pair_dts) {
        auto rule = make_rule(r);
        const double dw = double(run_pair(*rule, dt, 0.5f, StreamKey{})) - 0.5;
        INFO("dt " << dt);
        // pre after post: w −= ν_pre·e^(Δt/τ_post1); post after pre: post2before = 0.
        // Float weights: 0.5 is stored to 3e-8.
        CHECK(dw == Approx(dt < 0 ? -r.nu_pre * std::exp(dt / r.tau_post1) : 0.0).margin(1e-7));
    }
    // post at 0, pre at 5, post at 8: the second post sees pre = e^(−3/20) and
    // post2before = e^(−8/40); the pre spike saw post1 = e^(−5/20).
    const auto w = weights_after_pre(r, {5}, {0, 8}, 0.5f, true);
    REQUIRE(w.size() == 1);
    CHECK(w[0] == Approx(0.5 - r.nu_pre * std::exp(-5 / 20.0)).margin(1e-7));
    auto rule = make_rule(r);
    float wf = 0.5f;
    const std::vector<std::int32_t> one{0}, none;
    rule->begin_sample(1, 1, StreamKey{});
    rule->step(0, none, one, SynapseView{&wf, 1, 1});
    rule->step(5, one, none, SynapseView{&wf, 1, 1});
    rule->step(8, none, one, SynapseView{&wf, 1, 1});
    CHECK(wf == Approx(0.5 - r.nu_pre * std::exp(-0.25) + r.nu_post * std::exp(-3 / 20.0) * std::exp(-8 / 40.0))
                    .margin(1e-7));
}

TEST_CASE("spike trains: the weight after every pre spike equals the numpy reference", "[plasticity]") {
    std::mt19937_64 rng(12345);
    // 20 Hz at 1 ms steps: a spike probability of 0.02 per step.
    const std::vector<int> poisson_pre = poisson_train(0.02, 1000, rng), poisson_post = poisson_train(0.02, 1000, rng);
    // Dense trains (0.1 per step) drive all-to-all traces above 1 and the weight into its bounds.
    const std::vector<int> dense_pre = poisson_train(0.1, 400, rng), dense_post = poisson_train(0.1, 400, rng);
    REQUIRE(poisson_pre.size() > 5);
    REQUIRE(poisson_post.size() > 5);

    std::vector<RuleSpec> rules;
    for (auto dep : {WeightDependence::Additive, WeightDependence::Multiplicative})
        for (auto pairing : {Pairing::AllToAll, Pairing::Nearest}) {
            RuleSpec r = pair_rule(dep, pairing);
            r.a_plus = 0.08;
            r.a_minus = 0.09;
            r.tau_plus = 16.8;
            r.tau_minus = 33.7;
            rules.push_back(r);
        }
    for (const double mu : {0.0, 0.2}) {
        RuleSpec r;
        r.kind = RuleKind::DiehlCook;
        r.nu_pre = 0.02; // larger than theirs so that each spike moves the weight visibly
        r.nu_post = 0.1;
        r.mu = mu;
        rules.push_back(r);
    }
    int clipped_runs = 0;
    for (const auto& r : rules)
        for (const auto& [pre, post] : {std::pair{nest_pre, nest_post}, std::pair{poisson_pre, poisson_post},
                                        std::pair{dense_pre, dense_post}}) {
            const float w0 = 0.5f;
            const std::vector<double> expected = python_reference(r, pre, post, w0);
            REQUIRE(expected.size() == pre.size());
            for (const bool every_step : {true, false}) {
                const std::vector<double> got = weights_after_pre(r, pre, post, w0, every_step);
                REQUIRE(got.size() == expected.size());
                for (std::size_t k = 0; k < got.size(); ++k) {
                    INFO(r.describe() << ", pre spike " << k << " at step " << pre[k] << ", every step " << every_step);
                    CHECK(got[k] == Approx(expected[k]).margin(1e-6));
                }
            }
            bool at_bound = false;
            for (const double w : expected) at_bound = at_bound || w == 0.0 || w == r.w_max;
            clipped_runs += at_bound;
        }
    // The comparison covered clipping, where the order of updates in a step matters.
    CHECK(clipped_runs >= 2);
}

TEST_CASE("pair STDP: weights stay in their bounds; multiplicative never leaves [0, w_max]", "[plasticity]") {
    std::mt19937_64 rng(7);
    const int n_pre = 20, n_post = 6, steps = 2000;
    for (auto dep : {WeightDependence::Additive, WeightDependence::Multiplicative})
        for (auto pairing : {Pairing::AllToAll, Pairing::Nearest}) {
            RuleSpec r = pair_rule(dep, pairing);
            r.a_plus = 0.3; // large steps, so that the bounds are hit
            r.a_minus = 0.3;
            r.w_min = dep == WeightDependence::Additive ? -0.5 : 0.0;
            r.w_max = 2.0;
            auto rule = make_rule(r);
            std::uniform_real_distribution<float> init(float(r.w_min), float(r.w_max));
            std::vector<float> w(n_pre * n_post);
            for (float& x : w) x = init(rng);
            rule->begin_sample(n_pre, n_post, StreamKey{});
            std::bernoulli_distribution spike(0.15);
            bool reached_low = false, reached_high = false;
            for (int t = 0; t < steps; ++t) {
                std::vector<std::int32_t> pre, post;
                for (int i = 0; i < n_pre; ++i)
                    if (spike(rng)) pre.push_back(i);
                for (int j = 0; j < n_post; ++j)
                    if (spike(rng)) post.push_back(j);
                rule->step(t, pre, post, SynapseView{w.data(), n_pre, n_post});
                for (const float x : w) {
                    REQUIRE(x >= float(r.w_min));
                    REQUIRE(x <= float(r.w_max));
                    reached_low = reached_low || x <= float(r.w_min) + 1e-3f;
                    reached_high = reached_high || x >= float(r.w_max) - 1e-3f;
                }
            }
            INFO(r.describe());
            if (dep == WeightDependence::Additive) {
                CHECK(reached_low); // the bounds were tested, not just never approached
                CHECK(reached_high);
            }
        }
}

TEST_CASE("stochastic binary STDP: switch fractions lie in the 99.9% binomial interval", "[plasticity]") {
    for (auto depression : {Depression::Constant, Depression::Exponential}) {
        RuleSpec r;
        r.kind = RuleKind::Stochastic;
        r.gamma_plus = 0.6;
        r.gamma_minus = 0.3;
        r.tau_plus = 12;
        r.tau_minus = 25;
        r.window = 30;
        r.depression = depression;
        CurveOptions o;
        o.dt_max = 40;
        o.trials = 20000;
        o.threads = 2;
        const Curve c = stdp_curve(r, o);
        REQUIRE(c.points.size() == 81);
        for (const int dt : {-40, -20, -10, -5, -1, 0, 1, 5, 10, 20, 29, 30, 31, 40}) {
            const CurvePoint& p = c.points[std::size_t(dt + 40)];
            REQUIRE(p.dt == dt);
            // From the rule's definition: up within the window after a pre
            // spike; down for pre after post (exponential: within the window),
            // or, constant, at any post spike that found the input silent.
            const double up = dt >= 0 && dt <= 30 ? 0.6 * std::exp(-dt / 12.0) : 0.0;
            double down = 0;
            if (depression == Depression::Constant) down = dt < 0 || dt > 30 ? 0.3 : 0.0;
            else down = dt < 0 && -dt <= 30 ? 0.3 * std::exp(dt / 25.0) : 0.0;
            INFO(r.describe() << " dt " << dt << " p_up " << p.p_up << " p_down " << p.p_down);
            CHECK(in_binomial_interval(p.p_up, up, o.trials));
            CHECK(in_binomial_interval(p.p_down, down, o.trials));
        }
    }
}

TEST_CASE("stochastic binary STDP: identical with 1 and 2 threads, and keyed by the seed", "[plasticity]") {
    RuleSpec r;
    r.kind = RuleKind::Stochastic;
    r.depression = Depression::Exponential;
    CurveOptions o;
    o.dt_max = 10;
    o.trials = 5000;
    o.threads = 1;
    const Curve one = stdp_curve(r, o);
    o.threads = 2;
    const Curve two = stdp_curve(r, o);
    o.seed = 2;
    const Curve other_seed = stdp_curve(r, o);
    bool seed_matters = false;
    for (std::size_t k = 0; k < one.points.size(); ++k) {
        CHECK(one.points[k].up == two.points[k].up);
        CHECK(one.points[k].down == two.points[k].down);
        seed_matters = seed_matters || one.points[k].up != other_seed.points[k].up;
    }
    CHECK(seed_matters);
}

TEST_CASE("stochastic binary STDP: weights stay binary, and switch both ways", "[plasticity]") {
    for (auto levels : {BinaryLevels::Unipolar, BinaryLevels::Bipolar})
        for (auto depression : {Depression::Constant, Depression::Exponential}) {
            RuleSpec r;
            r.kind = RuleKind::Stochastic;
            r.levels = levels;
            r.depression = depression;
            r.gamma_plus = 0.5;
            r.gamma_minus = 0.2;
            const float lo = levels == BinaryLevels::Unipolar ? 0.0f : -1.0f, hi = 1.0f;
            CHECK(r.low() == lo);
            const int n_pre = 30, n_post = 8;
            std::vector<float> w(n_pre * n_post);
            std::mt19937_64 rng(3);
            std::bernoulli_distribution coin(0.5), spike(0.05);
            for (float& x : w) x = coin(rng) ? hi : lo;
            auto rule = make_rule(r);
            rule->begin_sample(n_pre, n_post, StreamKey{9, 4, 2});
            int ups = 0, downs = 0;
            for (int t = 0; t < 600; ++t) {
                std::vector<std::int32_t> pre, post;
                for (int i = 0; i < n_pre; ++i)
                    if (spike(rng)) pre.push_back(i);
                for (int j = 0; j < n_post; ++j)
                    if (spike(rng)) post.push_back(j);
                const std::vector<float> before = w;
                rule->step(t, pre, post, SynapseView{w.data(), n_pre, n_post});
                for (std::size_t k = 0; k < w.size(); ++k) {
                    REQUIRE((w[k] == lo || w[k] == hi));
                    ups += before[k] == lo && w[k] == hi;
                    downs += before[k] == hi && w[k] == lo;
                }
            }
            INFO(r.describe());
            CHECK(ups > 0);
            CHECK(downs > 0);
        }
}

TEST_CASE("plasticity rules refuse parameters out of range, naming the option", "[plasticity]") {
    const auto refused = [](RuleSpec r, const std::string& option) {
        INFO(option);
        CHECK_THROWS_MATCHES(make_rule(r), Error, Catch::Matchers::Predicate<Error>([&](const Error& e) {
                                 return std::string(e.what()).find(option) != std::string::npos;
                             }));
    };
    RuleSpec r;
    r.tau_plus = -3;
    refused(r, "tau-plus");
    r = RuleSpec{};
    r.tau_minus = 0;
    refused(r, "tau-minus");
    r = RuleSpec{};
    r.a_minus = -0.1;
    refused(r, "a-minus");
    r = RuleSpec{};
    r.w_min = 1;
    r.w_max = 1;
    refused(r, "w-min");
    r = RuleSpec{};
    r.kind = RuleKind::Stochastic;
    r.gamma_plus = 1.5;
    refused(r, "gamma-plus");
    r.gamma_plus = 0.5;
    r.window = -2;
    refused(r, "window");
    r = RuleSpec{};
    r.kind = RuleKind::DiehlCook;
    r.tau_post2 = std::nan("");
    refused(r, "tau-post2");
    CHECK_THROWS_AS(rule_kind_from("hebb"), Error);
    CHECK_THROWS_AS(pairing_from("all"), Error);
    CurveOptions o;
    o.w_init = 2.0;
    CHECK_THROWS_AS(stdp_curve(RuleSpec{}, o), Error);
}

namespace {

using test::Outcome;

Outcome stdp_cli(const std::string& args) { return test::snn_cli("stdp-curve " + args); }

} // namespace

TEST_CASE("snn stdp-curve prints the window as JSON and as a table", "[plasticity][cli]") {
    const Outcome j = stdp_cli("--rule pair --a-plus 0.01 --a-minus 0.0105 --tau-plus 20 --tau-minus 20 --json");
    REQUIRE(j.status == 0);
    const json curve = json::parse(j.out);
    REQUIRE(curve.size() == 101);
    CHECK(curve.front().at("dt") == -50);
    CHECK(curve.back().at("dt") == 50);
    CHECK(curve[60].at("dt") == 10);
    CHECK(curve[60].at("dw").get<double>() == Approx(0.01 * std::exp(-0.5)).margin(1e-6));
    CHECK(curve[40].at("dw").get<double>() == Approx(-0.0105 * std::exp(-0.5)).margin(1e-6));

    // Multiplicative from w0 = 0.25: potentiation scaled by 1 − w0, depression by w0.
    const Outcome m = stdp_cli("--form multiplicative --pairing nearest --w-init 0.25 --dt-max 5 --json");
    REQUIRE(m.status == 0);
    const json mc = json::parse(m.out);
    REQUIRE(mc.size() == 11);
    CHECK(mc[10].at("dw").get<double>() == Approx(0.01 * 0.75 * std::exp(-5 / 20.0)).margin(1e-6));
    CHECK(mc[0].at("dw").get<double>() == Approx(-0.0105 * 0.25 * std::exp(-5 / 20.0)).margin(1e-6));

    const Outcome s = stdp_cli("--rule stochastic --gamma-plus 1 --gamma-minus 0 --trials 50 --dt-max 2 --json");
    REQUIRE(s.status == 0);
    const json sc = json::parse(s.out);
    REQUIRE(sc.size() == 5);
    CHECK(sc[2].at("p_up") == 1.0); // γ₊ = 1 at Δt = 0: every trial switches up
    CHECK(sc[0].at("p_down") == 0.0);

    const Outcome t = stdp_cli("--dt-max 1");
    REQUIRE(t.status == 0);
    CHECK_THAT(t.out, Contains("pair STDP (additive, all-to-all)"));
    CHECK(std::count(t.out.begin(), t.out.end(), '\n') == 2 + 1 + 3); // two comments, the header, three rows
}

TEST_CASE("snn stdp-curve refuses bad input with exit code 1 and one line", "[plasticity][cli]") {
    for (const auto& [args, fact] : std::vector<std::pair<std::string, std::string>>{
             {"--rule hebb", "--rule 'hebb'"},
             {"--tau-plus -3", "--tau-plus must be a positive"},
             {"--rule stochastic --tau-minus 0", "--tau-minus"},
             {"--rule pair --gamma-plus 0.2", "--gamma-plus does not apply to --rule pair"},
             {"--rule stochastic --gamma-minus 2", "--gamma-minus is a probability"},
             {"--rule stochastic --trials 0", "--trials must be at least 1"},
             {"--form mult", "--form 'mult'"},
             {"--w-init 3", "outside the weight range"},
             {"--dt-max -1", "--dt-max"},
         }) {
        const Outcome o = stdp_cli(args);
        INFO(args << " -> " << o.err);
        CHECK(o.status == 1);
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_THAT(o.err, Contains(fact));
        CHECK(o.out.empty());
    }
}
