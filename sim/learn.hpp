#pragma once
// Unsupervised STDP learning of one layer, Diehl & Cook 2015 style: Poisson
// input, an excitatory layer with winner-take-all lateral inhibition and
// adaptive thresholds, a plasticity rule on the input weights, per-neuron
// weight normalization, rest between samples; then each neuron is assigned
// the class it responds to most, and a sample's class is the one whose
// neurons respond most.
//
// Simplifications against their network, each for a stated reason:
//   - current-based LIF in steps, v ← v·e^(−1/τ_mem) + Σ w (spiking inputs),
//     reset to 0, in place of conductances: the engine's neuron model;
//   - direct inhibition of unbounded strength: in a step, of the units above
//     their threshold v_th + θ only the one furthest above spikes, and every
//     unit's potential is reset to 0 (their inhibitory population, strong and
//     fast, does nearly this); no inhibitory population is simulated;
//   - rest between samples is an exact reset of potentials and traces (their
//     150 ms of silence lets these decay to nearly 0); θ persists.
//
// After learning, the layer is a Network (learned_network): an input
// population, one LIF population with the frozen θ as per-unit thresholds
// and winner-take-all inhibition, and the assignment readout. Its responses
// to the training samples (label assignment) and to the test samples
// (evaluate) are the ordinary engine's (sim/engine.hpp), so `snn run` on the
// saved file reproduces the accuracy `snn learn` reports. What differs from
// the layer as it learned: one presentation per sample (learning presents a
// sample again, brighter, while the layer spikes fewer than min_spikes
// times; the engine has no such loop), float32 membranes (double while
// learning), and input weights stored as w·max_rate, which the engine
// divides by max_rate again (within one float rounding of w).
//
// Binary weights (rule stochastic, {0,1}): the weight normalization would
// make them real, so a binary layer keeps its weights in {0,1} and instead
// gives each neuron one gain, weight_sum / (its number of weights at 1), by
// which its input current is multiplied: the current a real-valued layer
// would get from the same weights normalized to weight_sum. Storage: one bit
// per synapse plus one float per neuron.
#include "sim/plasticity.hpp"
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace snn {

struct LearnOptions {
    std::int32_t neurons = 100;
    std::int32_t steps = 350;       // per presentation (their 350 ms at 1 ms steps)
    double max_rate = 63.75 / 1000; // spike probability per step of a pixel at 1.0 (their 63.75 Hz at 1 ms)
    double tau_mem = 100;           // steps
    double v_th = 5.0;             // tried on training images 3001-4000 (README: v_th 3 did better there)
    double theta_plus = 0.05, tau_theta = 1e7; // θ grows by θ₊ per spike, decays with τ_θ (steps)
    double weight_sum = 78;                    // sum of each neuron's input weights after normalization
    double w_init_max = 0.3;                   // initial weights uniform in [0, w_init_max)
    double p_init = 0.1;                       // binary: P(initial weight = 1); 0.1 of 784 ≈ 78 = weight_sum
    std::int32_t min_spikes = 5;               // fewer output spikes: present again, brighter
    std::int32_t max_presentations = 5;
    RuleSpec rule;                             // set kind = DiehlCook for their rule
    std::int32_t epochs = 1;                   // passes over the training data
    std::uint64_t seed = 1;
    int threads = 1;                           // for the frozen passes; results do not depend on it
    bool binary() const { return rule.kind == RuleKind::Stochastic; }
    std::string fingerprint() const;           // every option that changes what is learned, exactly
};

// Throws snn::Error naming the first option out of range (the rule's included).
void validate(const LearnOptions& options);

// One excitatory layer and its learning state.
class CompetitiveLayer {
public:
    CompetitiveLayer(std::int32_t inputs, const LearnOptions& options);

    // Presents one sample (pixels in [0,1]) for options.steps steps at
    // `intensity` times the base rate; returns each neuron's spike count.
    // Learning: the rule changes the weights and θ adapts; otherwise both are
    // frozen. `key` keys the Poisson draws (and the rule's).
    std::vector<std::int32_t> present(const float* x, std::uint64_t key, double intensity, bool learning);

    // Scales each neuron's input weights to sum to options.weight_sum (a
    // neuron whose weights are all 0 keeps them).
    void normalize();

    std::int32_t inputs() const { return inputs_; }
    std::int32_t neurons() const { return opt_.neurons; }
    std::vector<float> weights;   // (inputs, neurons) row-major, like a Dense kernel; binary: 0 or 1
    std::vector<double> theta;    // adaptive threshold per neuron
    std::vector<double> gain;     // binary only: weight_sum / (weights at 1), per neuron (0 if none)

private:
    std::int32_t inputs_;
    LearnOptions opt_;
    std::unique_ptr<PlasticityRule> rule_;
    double mem_decay_, theta_decay_;
    std::vector<double> v_;
    std::vector<std::int32_t> in_spikes_;
};

// Class of each neuron: the class with the highest mean count per sample of
// that class; −1 for a neuron that never spiked. counts: (neurons, classes),
// summed over samples; samples_per_class: (classes).
std::vector<std::int32_t> assign_labels(const std::vector<std::int64_t>& counts,
                                        const std::vector<std::int64_t>& samples_per_class, std::int32_t classes);

// The class whose assigned neurons have the highest mean count (ties: the
// lower class); −1 if no assigned neuron spiked.
std::int32_t classify(const std::vector<std::int32_t>& counts, const std::vector<std::int32_t>& assignments,
                      std::int32_t classes);

struct LearnResult {
    std::vector<float> weights;  // binary: 0 or 1
    std::vector<double> theta;
    std::vector<double> gain;    // binary only
    std::vector<std::int32_t> assignments;
    double train_accuracy = 0; // of the assignments on the training samples' frozen responses
};

// The learning state between two samples: everything that a resumed run
// needs to continue exactly (the traces and potentials rest between samples,
// and every draw is keyed by (seed, sample, layer, step), so the position in
// the random streams is the sample index).
struct LearnState {
    std::vector<float> weights;
    std::vector<double> theta;
    std::int32_t epoch = 0;
    std::int64_t next_sample = 0; // within the epoch
    std::string fingerprint;      // LearnOptions::fingerprint() + the data's name, size and sample size
};

// Checkpoints: written through a temporary file renamed over `path`
// (AtomicOutput); load refuses anything but a complete checkpoint.
void save_checkpoint(const LearnState& state, const std::string& path);
LearnState load_checkpoint(const std::string& path, const MemoryBudget& budget = {});
std::string learn_fingerprint(const Dataset& train, const LearnOptions& options);

struct Checkpointing {
    std::string path;             // empty: none
    std::int64_t every = 0;       // samples between two checkpoints (and one when learning ends)
    const LearnState* resume = nullptr;
};

// Called after each training sample: the epoch, the samples done in it, and
// the running accuracy (labels assigned on the previous 1000 samples'
// responses, applied to the samples since; −1 before the first 1000).
using LearnProgress = std::function<void(std::int32_t epoch, std::int64_t done, double running_accuracy)>;

// Learns from `train` (options.epochs passes), then, with weights and θ
// frozen, records the engine's responses to the training samples and assigns
// labels. `progress` may be empty.
LearnResult learn(const Dataset& train, const LearnOptions& options, const LearnProgress& progress = {},
                  const Checkpointing& checkpointing = {});

// The learned layer as a network the engine runs (see the top of this file).
Network learned_network(const LearnResult& learned, const LearnOptions& options, const Shape& input,
                        const std::string& source);

// Accuracy of a learned layer on `data`, weights and θ frozen: the engine's
// on learned_network, exactly what `snn run` reports with the same seed.
double evaluate(const LearnResult& learned, const Dataset& data, const LearnOptions& options);

} // namespace snn
