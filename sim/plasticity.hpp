#pragma once
// Plasticity rules: spike-timing-dependent changes of one layer's weights.
//
// A rule sees one weight matrix, dense (pre, post) row-major like a Dense
// kernel (in, out), and, step by step, which pre- and which postsynaptic units
// spiked. It keeps its own traces (or last spike times) between steps; weights
// persist across samples, traces do not (begin_sample is the rest between
// samples). Time is in steps; every τ is in steps.
//
// The rules:
//   pair        pair-based STDP with exponential traces (NEST stdp_synapse,
//               Brian2's Song, Miller & Abbott example), additive or
//               multiplicative (soft-bound), all-to-all or nearest-spike pairing
//   diehl-cook  the rule of Diehl & Cook 2015 as in their Brian code: one pre
//               trace, two post traces (a triplet rule)
//   stochastic  binary weights switched with a probability set by spike timing
//               (Srinivasan & Roy; paper 000, section IV)
// Their formulas are derived in plasticity.cpp.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace snn {

enum class RuleKind { Pair, DiehlCook, Stochastic };
enum class WeightDependence { Additive, Multiplicative };
enum class Pairing { AllToAll, Nearest };
enum class Depression { Constant, Exponential };
enum class BinaryLevels { Unipolar, Bipolar }; // {0,1} or {−1,+1}

RuleKind rule_kind_from(const std::string&);
WeightDependence weight_dependence_from(const std::string&);
Pairing pairing_from(const std::string&);
Depression depression_from(const std::string&);
BinaryLevels binary_levels_from(const std::string&);

// Every parameter of every rule; a rule reads only its own (the defaults are
// the references' values: Song et al. 2000 for pair, Diehl & Cook's code for
// diehl-cook).
struct RuleSpec {
    RuleKind kind = RuleKind::Pair;
    // pair, and τ± of stochastic
    double a_plus = 0.01, a_minus = 0.0105;
    double tau_plus = 20, tau_minus = 20;
    double w_min = 0, w_max = 1; // pair: hard bounds; diehl-cook: [0, w_max]
    WeightDependence dependence = WeightDependence::Additive;
    Pairing pairing = Pairing::AllToAll;
    // diehl-cook
    double nu_pre = 0.0001, nu_post = 0.01;
    double tau_pre = 20, tau_post1 = 20, tau_post2 = 40;
    double mu = 0; // weight dependence exponent: 0 in their code (the commented-out variant has 0.2)
    // stochastic
    double gamma_plus = 0.1, gamma_minus = 0.05;
    std::optional<std::int32_t> window; // potentiation window in steps; unset: ceil(3·τ₊)
    Depression depression = Depression::Constant;
    BinaryLevels levels = BinaryLevels::Unipolar;

    float low() const { return levels == BinaryLevels::Unipolar ? 0.0f : -1.0f; }
    float high() const { return 1.0f; }
    std::int32_t window_steps() const;
    std::string describe() const; // one line: the rule and its parameters
};

// Throws snn::Error naming the first parameter out of range.
void validate(const RuleSpec&);

// Keys the random draws of one sample of one layer (engine.hpp, uniform_draw):
// `layer` is the index of the population whose incoming weights learn; the
// rule draws from plasticity_stream(layer).
struct StreamKey {
    std::uint64_t seed = 1, sample = 0, layer = 0;
};

// A weight matrix as a rule sees it: w[i·n_post + j] is the synapse from
// pre unit i to post unit j.
struct SynapseView {
    float* w;
    std::int32_t n_pre, n_post;
};

class PlasticityRule {
public:
    virtual ~PlasticityRule() = default;
    // Rest: traces cleared, spikes forgotten. Draws of this sample use `key`.
    virtual void begin_sample(std::int32_t n_pre, std::int32_t n_post, const StreamKey& key) = 0;
    // Step t (increasing, not necessarily consecutive: traces decay over the
    // gap exactly): `pre` and `post` list the units that spiked in step t.
    virtual void step(std::int32_t t, std::span<const std::int32_t> pre, std::span<const std::int32_t> post,
                      SynapseView w) = 0;
};

// A rule with its own state; validates the spec first.
std::unique_ptr<PlasticityRule> make_rule(const RuleSpec&);

// The layer key of plasticity draws: the engine keys its own draws by the
// population index; plasticity of that population's weights sets bit 31 so
// that the two streams never meet.
constexpr std::uint64_t plasticity_stream(std::uint64_t layer) { return layer | (std::uint64_t(1) << 31); }

} // namespace snn
