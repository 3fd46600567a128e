#pragma once
// Scales chosen for a target number of time steps.
//
// Data-based normalization picks each layer's λ from the DNN's activations
// alone (a percentile), whatever the number of steps the network will run.
// At few steps the rate code is coarse: a λ a little below the percentile
// makes a layer fire faster, so that its activations are carried by more
// spikes, at the price of clipping the largest ones. `calibrate_steps`
// searches that trade-off with the SNN itself: front to back, each spiking
// layer's λ is multiplied by the factor (from a fixed grid) that gives the
// lowest classification loss on the calibration data at exactly T steps: the
// cross-entropy of the labels under the softmax of the SNN's output read as
// logits (output rate × λ of the output layer). The loss follows accuracy but
// is not flat: a count of correct answers on a training split that the DNN
// already gets right 99.9 % of the time moves by one sample at a time and
// picks factors by chance. A factor must not lower the number of correct
// answers, and ties go to the factor nearest 1. The data must not be the test
// split.
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <string>
#include <vector>

namespace snn {

struct CalibrateOptions {
    int steps = 8;
    int threads = 1;
    // Candidate factors for each layer's λ; 1 (no change) is always tried.
    std::vector<double> factors{0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.25, 1.5};
};

struct CalibrateScore {
    std::int64_t correct = 0; // calibration samples classified right at T steps
    double loss = 0;          // mean cross-entropy of the labels (natural log)
    // A lower loss that costs correct answers is not better.
    bool better_than(const CalibrateScore& o) const { return correct >= o.correct && loss < o.loss; }
};

struct CalibrateResult {
    std::vector<double> factors;  // per population (1 where unchanged)
    CalibrateScore before, after; // on the calibration data
    std::vector<std::string> log; // one line per layer, for the user
};

// The score of `net` on `data` at `steps` steps (current encoding, net.readout).
CalibrateScore calibration_score(const Network& net, const Dataset& data, int steps, int threads);

// Rescales `net` in place (rescale_population) and says what it chose.
CalibrateResult calibrate_steps(Network& net, const Dataset& data, const CalibrateOptions& options);

// Bias calibration (the light calibration pipeline of Li et al., "A free
// lunch from ANN: towards efficient, accurate spiking neural networks
// calibration", ICML 2021). A converted layer's mean rate is not exactly the
// DNN's mean activation: spikes arrive unevenly over the steps, a unit that
// fired early cannot take it back, and the errors of the layers before it
// add up. Over many inputs the error has a mean per channel that a bias
// removes. Front to back, for every spiking layer l (not a relay), the SNN
// up to l runs on the calibration data at `steps` steps (current encoding,
// no exits, l firing as it does inside the network) with every layer before
// l already corrected, and
//   correction_c ← correction_c + v_th · (mean of min(a_j, 1) − mean of r_j)
// over every sample and unit j of channel c, where r_j is the unit's rate
// (spikes / steps) and a_j the DNN's activation in rate units (activation /
// λ, capped at one spike per step). The output read as a membrane compares
// (v − v_init·v_th) / steps with the uncapped a_j. The correction goes into
// Population::bias_correction, which only the SNN adds: the DNN pass, and
// the report's DNN figures, keep the model's biases. The data must not be
// the test split.
struct BiasCalibrationOptions {
    int steps = 64;
    int threads = 1;
};

struct BiasCalibrationResult {
    double mean_error = 0;        // over the corrected layers: the mean |channel error| (rate units) corrected
    std::vector<std::string> log; // one line per layer, for the user
};

BiasCalibrationResult calibrate_biases(Network& net, const Dataset& data, const BiasCalibrationOptions& options);

} // namespace snn
