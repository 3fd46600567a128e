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
#include "sim/plasticity.hpp"
#include "snn/dataset.hpp"

#include <cstdint>
#include <functional>
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
    std::int32_t min_spikes = 5;               // fewer output spikes: present again, brighter
    std::int32_t max_presentations = 5;
    RuleSpec rule;                             // set kind = DiehlCook for their rule
    std::uint64_t seed = 1;
};

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
    std::vector<float> weights;   // (inputs, neurons) row-major, like a Dense kernel
    std::vector<double> theta;    // adaptive threshold per neuron

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
    std::vector<float> weights;
    std::vector<double> theta;
    std::vector<std::int32_t> assignments;
    double train_accuracy = 0; // of the assignments on the training samples' frozen responses
};

// Learns from `train` (one pass), then, with weights and θ frozen, records
// the responses to the training samples and assigns labels. `progress`
// (may be empty) is called after each training sample with the count done.
LearnResult learn(const Dataset& train, const LearnOptions& options,
                  const std::function<void(std::int64_t)>& progress = {});

// Accuracy of a learned layer on `data`, weights and θ frozen.
double evaluate(const LearnResult& learned, const Dataset& data, const LearnOptions& options);

} // namespace snn
