#include "sim/plasticity.hpp"

#include "sim/engine.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace snn {

RuleKind rule_kind_from(const std::string& s) {
    if (s == "pair") return RuleKind::Pair;
    if (s == "diehl-cook") return RuleKind::DiehlCook;
    if (s == "stochastic") return RuleKind::Stochastic;
    throw OptionError("rule", s, "rule '" + s + "': expected pair, diehl-cook or stochastic");
}

WeightDependence weight_dependence_from(const std::string& s) {
    if (s == "additive") return WeightDependence::Additive;
    if (s == "multiplicative") return WeightDependence::Multiplicative;
    throw OptionError("form", s, "form '" + s + "': expected additive or multiplicative");
}

Pairing pairing_from(const std::string& s) {
    if (s == "all-to-all") return Pairing::AllToAll;
    if (s == "nearest") return Pairing::Nearest;
    throw OptionError("pairing", s, "pairing '" + s + "': expected all-to-all or nearest");
}

Depression depression_from(const std::string& s) {
    if (s == "constant") return Depression::Constant;
    if (s == "exponential") return Depression::Exponential;
    throw OptionError("depression", s, "depression '" + s + "': expected constant or exponential");
}

BinaryLevels binary_levels_from(const std::string& s) {
    if (s == "unipolar") return BinaryLevels::Unipolar;
    if (s == "bipolar") return BinaryLevels::Bipolar;
    throw OptionError("binary", s, "binary '" + s + "': expected unipolar ({0,1}) or bipolar ({-1,+1})");
}

std::int32_t RuleSpec::window_steps() const {
    return window ? *window : std::int32_t(std::ceil(3 * tau_plus));
}

namespace {

std::string num(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return b;
}

// `option` is the parameter's key ("tau-plus"), as the CLI's flag without "--".
void require_positive(double x, const std::string& option) {
    if (!(x > 0) || !std::isfinite(x))
        throw OptionError(option, num(x), option + " must be a positive number of steps (got " + num(x) + ")");
}

void require_non_negative(double x, const std::string& option) {
    if (!(x >= 0) || !std::isfinite(x))
        throw OptionError(option, num(x), option + " must be at least 0 (got " + num(x) + ")");
}

void require_probability(double x, const std::string& option) {
    if (!(x >= 0 && x <= 1))
        throw OptionError(option, num(x), option + " is a probability and must be in [0, 1] (got " + num(x) + ")");
}

// A trace buffer that decays by exp(−Δ/τ) over a gap of Δ steps: exact
// decay, not an Euler step, and the one-step factor is computed once.
struct Trace {
    std::vector<double> x;
    double tau = 1, one_step = 1;
    void init(std::size_t n, double tau_steps) {
        x.assign(n, 0.0);
        tau = tau_steps;
        one_step = std::exp(-1.0 / tau);
    }
    void decay(std::int64_t gap) {
        if (gap <= 0) return;
        const double f = gap == 1 ? one_step : std::exp(-double(gap) / tau);
        for (double& v : x) v *= f;
    }
};

// The step before every spike: traces are all 0, so any gap decays them to 0.
constexpr std::int64_t no_step = std::int64_t(-1) << 40;

// Pair-based STDP with exponential traces.
//
// Pre trace x_i jumps at each spike of input i and decays with τ₊; post trace
// y_j jumps at each spike of unit j and decays with τ₋. All-to-all: x ← x + 1,
// so at time t, x_i = Σ_k exp(−(t − t_k)/τ₊) over the earlier pre spikes t_k,
// and every pre/post pair counts. Nearest-spike (NEST stdp_nn_symm_synapse,
// Brian2's `x = 1` idiom): x ← 1, so x_i = exp(−(t − t_last)/τ₊) and each post
// spike pairs with the latest pre spike only (and each pre spike with the
// latest post spike).
//   post spike of j at t:  w_ij ← w_ij + A₊·f₊(w_ij)·x_i   (Δt = t_post − t_pre > 0)
//   pre spike of i at t:   w_ij ← w_ij − A₋·f₋(w_ij)·y_j   (Δt < 0)
// then w is clipped to [w_min, w_max]. Additive: f₊ = f₋ = 1. Multiplicative
// (soft bounds; NEST's μ = 1 with λ = A₊/w_max, α = A₋/A₊ when w_min = 0):
// f₊ = (w_max − w)/(w_max − w_min), f₋ = (w − w_min)/(w_max − w_min); with
// A·trace ≤ 1 the step lands inside the bounds by itself.
// An isolated pair therefore gives Δw = A₊·e^(−Δt/τ₊) for Δt > 0 and
// −A₋·e^(Δt/τ₋) for Δt < 0 (additive).
//
// Order in a step, as NEST: a post spike at t sees the pre trace without the
// pre spikes of t, a pre spike sees the post trace without the post spikes of
// t, so coincident spikes (Δt = 0) do not pair; potentiation for the post
// spikes of t comes before depression for the pre spikes of t (NEST applies
// the facilitation of posts up to t before the depression of the pre at t),
// which matters only when a bound clips.
class PairStdp final : public PlasticityRule {
public:
    explicit PairStdp(const RuleSpec& p) : p_(p) {}

    void begin_sample(std::int32_t n_pre, std::int32_t n_post, const StreamKey&) override {
        x_.init(std::size_t(n_pre), p_.tau_plus);
        y_.init(std::size_t(n_post), p_.tau_minus);
        last_ = no_step;
    }

    void step(std::int32_t t, std::span<const std::int32_t> pre, std::span<const std::int32_t> post,
              SynapseView w) override {
        if (last_ != no_step) {
            x_.decay(t - last_);
            y_.decay(t - last_);
        }
        last_ = t;
        const double span = p_.w_max - p_.w_min;
        const bool mult = p_.dependence == WeightDependence::Multiplicative;
        for (const std::int32_t j : post)
            for (std::int32_t i = 0; i < w.n_pre; ++i) {
                const double x = x_.x[std::size_t(i)];
                if (x == 0) continue;
                float& wij = w.w[std::size_t(i) * std::size_t(w.n_post) + std::size_t(j)];
                const double f = mult ? (p_.w_max - wij) / span : 1.0;
                wij = float(std::clamp(wij + p_.a_plus * f * x, p_.w_min, p_.w_max));
            }
        for (const std::int32_t i : pre) {
            float* row = w.w + std::size_t(i) * std::size_t(w.n_post);
            for (std::int32_t j = 0; j < w.n_post; ++j) {
                const double y = y_.x[std::size_t(j)];
                if (y == 0) continue;
                const double f = mult ? (row[j] - p_.w_min) / span : 1.0;
                row[j] = float(std::clamp(row[j] - p_.a_minus * f * y, p_.w_min, p_.w_max));
            }
        }
        const bool nearest = p_.pairing == Pairing::Nearest;
        for (const std::int32_t i : pre) x_.x[std::size_t(i)] = nearest ? 1.0 : x_.x[std::size_t(i)] + 1.0;
        for (const std::int32_t j : post) y_.x[std::size_t(j)] = nearest ? 1.0 : y_.x[std::size_t(j)] + 1.0;
    }

private:
    RuleSpec p_;
    Trace x_, y_;
    std::int64_t last_ = no_step;
};

// Diehl & Cook 2015, as their Brian code has it (traces set to 1 at a spike,
// i.e. nearest-spike):
//   pre spike:   pre = 1;  w −= ν_pre·post1·w^μ
//   post spike:  w += ν_post·pre·post2before·(w_max − w)^μ;  post1 = 1; post2 = 1
// with pre, post1, post2 decaying with τ_pre, τ_post1, τ_post2, post2before
// the value of post2 just before this post spike, and w kept in [0, w_max]
// (Brian's STDP wmin = 0, wmax). μ = 0 is their active code; the
// weight-dependent variant in their comments has μ = 0.2. Because potentiation
// is gated by post2before, an isolated pair only depresses: it is a triplet
// rule (Pfister & Gerstner 2006) and needs an earlier post spike to potentiate.
//
// Order in a step, as Brian2 orders its pathways (on_pre before on_post): the
// pre spikes of t set their trace first, so a post spike at t potentiates with
// pre = 1 for an input that spiked in the same step; the pre spikes of t
// depress with post1 from before t.
class DiehlCook final : public PlasticityRule {
public:
    explicit DiehlCook(const RuleSpec& p) : p_(p) {}

    void begin_sample(std::int32_t n_pre, std::int32_t n_post, const StreamKey&) override {
        pre_.init(std::size_t(n_pre), p_.tau_pre);
        post1_.init(std::size_t(n_post), p_.tau_post1);
        post2_.init(std::size_t(n_post), p_.tau_post2);
        last_ = no_step;
    }

    void step(std::int32_t t, std::span<const std::int32_t> pre, std::span<const std::int32_t> post,
              SynapseView w) override {
        if (last_ != no_step) {
            pre_.decay(t - last_);
            post1_.decay(t - last_);
            post2_.decay(t - last_);
        }
        last_ = t;
        const double w_max = p_.w_max, mu = p_.mu;
        for (const std::int32_t i : pre) {
            pre_.x[std::size_t(i)] = 1.0;
            float* row = w.w + std::size_t(i) * std::size_t(w.n_post);
            for (std::int32_t j = 0; j < w.n_post; ++j) {
                const double y = post1_.x[std::size_t(j)];
                if (y == 0) continue;
                const double f = mu == 0 ? 1.0 : std::pow(double(row[j]), mu);
                row[j] = float(std::clamp(row[j] - p_.nu_pre * y * f, 0.0, w_max));
            }
        }
        for (const std::int32_t j : post) {
            const double post2_before = post2_.x[std::size_t(j)];
            if (post2_before != 0)
                for (std::int32_t i = 0; i < w.n_pre; ++i) {
                    const double x = pre_.x[std::size_t(i)];
                    if (x == 0) continue;
                    float& wij = w.w[std::size_t(i) * std::size_t(w.n_post) + std::size_t(j)];
                    const double f = mu == 0 ? 1.0 : std::pow(w_max - wij, mu);
                    wij = float(std::clamp(wij + p_.nu_post * x * post2_before * f, 0.0, w_max));
                }
            post1_.x[std::size_t(j)] = 1.0;
            post2_.x[std::size_t(j)] = 1.0;
        }
    }

private:
    RuleSpec p_;
    Trace pre_, post1_, post2_;
    std::int64_t last_ = no_step;
};

// Stochastic STDP for binary weights (Srinivasan, Sengupta & Roy 2016;
// Srinivasan & Roy 2019). A weight is low or high, nothing in between, so no
// full-precision value is stored; timing sets the probability of a switch.
//   post spike of j at t, input i's latest spike at t_i, Δt = t − t_i:
//     0 ≤ Δt ≤ W (the window): w_ij ← high with probability γ₊·e^(−Δt/τ₊)
//     otherwise (silent in the window): constant variant: w_ij ← low with
//       probability γ₋; exponential variant: no change here, but
//   pre spike of i at t after j's latest spike at t_j, 1 ≤ t − t_j ≤ W
//   (Δt = t_j − t < 0), exponential variant only:
//       w_ij ← low with probability γ₋·e^(−|Δt|/τ₋)
// So for an isolated pair, P(switch up) = γ₊·e^(−Δt/τ₊) for 0 ≤ Δt ≤ W, and
// P(switch down) = γ₋·e^(Δt/τ₋) (exponential) or γ₋ (constant: at the post
// spike the input has not spiked within the window yet) for Δt < 0.
// Coincident spikes (Δt = 0) potentiate with probability γ₊: the pre spikes
// of t are recorded before the post spikes of t are handled.
//
// Each decision draws uniform_draw(seed, sample, plasticity_stream(layer), t,
// unit) with unit = 2·(i·n_post + j) + event (0: at a post spike, 1: at a pre
// spike), so a draw depends only on which synapse, which event and when, and
// never on the order in which threads reach it.
class StochasticBinary final : public PlasticityRule {
public:
    explicit StochasticBinary(const RuleSpec& p) : p_(p), low_(p.low()), high_(p.high()) {
        const std::int32_t W = p.window_steps();
        up_.resize(std::size_t(W) + 1);
        down_.resize(std::size_t(W) + 1);
        for (std::int32_t d = 0; d <= W; ++d) {
            up_[std::size_t(d)] = p.gamma_plus * std::exp(-d / p.tau_plus);
            down_[std::size_t(d)] = p.gamma_minus * std::exp(-d / p.tau_minus);
        }
    }

    void begin_sample(std::int32_t n_pre, std::int32_t n_post, const StreamKey& key) override {
        last_pre_.assign(std::size_t(n_pre), no_step);
        last_post_.assign(std::size_t(n_post), no_step);
        key_ = key;
    }

    void step(std::int32_t t, std::span<const std::int32_t> pre, std::span<const std::int32_t> post,
              SynapseView w) override {
        const std::int64_t W = std::int64_t(up_.size()) - 1;
        const std::uint64_t layer = plasticity_stream(key_.layer), n_post = std::uint64_t(w.n_post);
        const auto draw = [&](std::uint64_t i, std::uint64_t j, std::uint64_t event) {
            return uniform_draw(key_.seed, key_.sample, layer, std::uint64_t(t), 2 * (i * n_post + j) + event);
        };
        if (p_.depression == Depression::Exponential)
            for (const std::int32_t i : pre) {
                float* row = w.w + std::size_t(i) * n_post;
                for (std::int32_t j = 0; j < w.n_post; ++j) {
                    const std::int64_t d = t - last_post_[std::size_t(j)];
                    if (d >= 1 && d <= W && draw(std::uint64_t(i), std::uint64_t(j), 1) < down_[std::size_t(d)])
                        row[j] = low_;
                }
            }
        for (const std::int32_t i : pre) last_pre_[std::size_t(i)] = t;
        for (const std::int32_t j : post) {
            for (std::int32_t i = 0; i < w.n_pre; ++i) {
                const std::int64_t d = t - last_pre_[std::size_t(i)];
                float& wij = w.w[std::size_t(i) * n_post + std::size_t(j)];
                if (d <= W) {
                    if (draw(std::uint64_t(i), std::uint64_t(j), 0) < up_[std::size_t(d)]) wij = high_;
                } else if (p_.depression == Depression::Constant) {
                    if (draw(std::uint64_t(i), std::uint64_t(j), 0) < p_.gamma_minus) wij = low_;
                }
            }
            last_post_[std::size_t(j)] = t;
        }
    }

private:
    RuleSpec p_;
    float low_, high_;
    std::vector<double> up_, down_; // switch probabilities by |Δt|, 0..W
    std::vector<std::int64_t> last_pre_, last_post_;
    StreamKey key_;
};

} // namespace

void validate(const RuleSpec& p) {
    switch (p.kind) {
    case RuleKind::Pair:
        require_non_negative(p.a_plus, "a-plus");
        require_non_negative(p.a_minus, "a-minus");
        require_positive(p.tau_plus, "tau-plus");
        require_positive(p.tau_minus, "tau-minus");
        if (!std::isfinite(p.w_min) || !std::isfinite(p.w_max) || !(p.w_min < p.w_max))
            throw OptionError("w-min", num(p.w_min),
                              "w-min must be below --w-max (got " + num(p.w_min) + " and " + num(p.w_max) + ")");
        break;
    case RuleKind::DiehlCook:
        require_non_negative(p.nu_pre, "nu-pre");
        require_non_negative(p.nu_post, "nu-post");
        require_positive(p.tau_pre, "tau-pre");
        require_positive(p.tau_post1, "tau-post1");
        require_positive(p.tau_post2, "tau-post2");
        if (!(p.w_max > 0) || !std::isfinite(p.w_max))
            throw OptionError("w-max", num(p.w_max), "w-max must be positive (got " + num(p.w_max) + ")");
        require_non_negative(p.mu, "mu");
        break;
    case RuleKind::Stochastic:
        require_probability(p.gamma_plus, "gamma-plus");
        require_probability(p.gamma_minus, "gamma-minus");
        require_positive(p.tau_plus, "tau-plus");
        require_positive(p.tau_minus, "tau-minus");
        // The switch probabilities are tabulated over the window, one entry a step.
        if (p.window && (*p.window < 0 || *p.window > 1000000))
            throw OptionError("window", std::to_string(*p.window),
                              "window must be between 0 and 1000000 steps (got " + std::to_string(*p.window) + ")");
        if (!p.window && 3 * p.tau_plus > 1000000)
            throw OptionError("tau-plus", num(p.tau_plus),
                              "tau-plus " + num(p.tau_plus) +
                                  " makes the default window (3·τ₊) longer than 1000000 steps; give --window");
        break;
    }
}

std::string RuleSpec::describe() const {
    switch (kind) {
    case RuleKind::Pair:
        return std::string("pair STDP (") + (dependence == WeightDependence::Additive ? "additive" : "multiplicative") +
               ", " + (pairing == Pairing::AllToAll ? "all-to-all" : "nearest-spike") + "): A+=" + num(a_plus) +
               " A-=" + num(a_minus) + " tau+=" + num(tau_plus) + " tau-=" + num(tau_minus) + " w in [" + num(w_min) +
               ", " + num(w_max) + "]";
    case RuleKind::DiehlCook:
        return "Diehl & Cook STDP: nu_pre=" + num(nu_pre) + " nu_post=" + num(nu_post) + " tau_pre=" + num(tau_pre) +
               " tau_post1=" + num(tau_post1) + " tau_post2=" + num(tau_post2) + " w_max=" + num(w_max) +
               " mu=" + num(mu);
    case RuleKind::Stochastic:
        return std::string("stochastic binary STDP (") + (levels == BinaryLevels::Unipolar ? "{0,1}" : "{-1,+1}") +
               ", " + (depression == Depression::Constant ? "constant" : "exponential") +
               " depression): gamma+=" + num(gamma_plus) + " gamma-=" + num(gamma_minus) + " tau+=" + num(tau_plus) +
               " tau-=" + num(tau_minus) + " window=" + std::to_string(window_steps());
    }
    throw InternalError("unknown rule kind");
}

std::unique_ptr<PlasticityRule> make_rule(const RuleSpec& p) {
    validate(p);
    switch (p.kind) {
    case RuleKind::Pair: return std::make_unique<PairStdp>(p);
    case RuleKind::DiehlCook: return std::make_unique<DiehlCook>(p);
    case RuleKind::Stochastic: return std::make_unique<StochasticBinary>(p);
    }
    throw InternalError("unknown rule kind");
}

} // namespace snn
