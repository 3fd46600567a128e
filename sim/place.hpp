#pragma once
// Exit classifiers fitted on a layer's firing rates ("separate optimization"
// in the hybrid-network paper: the network stays fixed), and the search for
// where to put exits and with which thresholds.
#include "sim/exits.hpp"
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <string>
#include <vector>

namespace snn {

struct ExitTrainOptions {
    int steps = 32;  // rates are spike counts after this many steps, divided by it
    int threads = 1;
    SoftmaxFitOptions fit;
    MemoryBudget memory; // what the collected rates may take
};

// Firing rates (count / steps) of populations `at` after `steps` steps, one
// (samples × neurons) row-major matrix per population; the network runs
// without its exits, so every sample reaches every layer.
std::vector<std::vector<float>> collect_rates(const Network& net, const std::vector<int>& at, const Dataset& data,
                                              int steps, int threads, const MemoryBudget& budget = {});

// A classifier exit at population `at`, fitted on `data` (a training split).
// Rule, threshold and schedule are left for the caller to set.
Exit train_exit(const Network& net, const std::string& at, const Dataset& data, const ExitTrainOptions& options);

struct PlaceOptions {
    int steps = 32;
    int threads = 1;
    double max_accuracy_drop = 0.5;     // percentage points against the network without exits
    std::vector<std::string> candidates; // populations for an exit in depth; empty: every one before the output
    bool depth = true;                   // false: no exit in depth at all
    bool temporal = true;                // also try an exit in time on the output's own readout
    ExitRule rule = ExitRule::Entropy;
    std::vector<double> thresholds;      // empty: a grid suited to the rule
    std::vector<int> check_every{0, 16, 8, 4}; // 0: at the last step only
    SoftmaxFitOptions fit;
    MemoryBudget memory; // what the collected rates may take
};

// One configuration: at most one exit in depth and one in time on the output.
struct PlacePoint {
    std::string depth_at; // empty: no exit in depth
    double depth_threshold = 0;
    int depth_check = 0;
    bool output_exit = false;
    double output_threshold = 0;
    int output_check = 0;
    double accuracy = 0;     // on the validation data
    double ops = 0;          // synaptic operations + exit classifier operations per input
    double taken_depth = 0;  // fraction of inputs that left at the exit in depth
    double mean_steps = 0;   // steps simulated per input, in the segment where it stopped
};

struct PlaceResult {
    PlacePoint baseline;          // no exits
    std::vector<PlacePoint> front; // Pareto front: cheaper and more accurate than every other point
    int chosen = -1;               // the cheapest point of the front within the accuracy drop; −1: none
    std::vector<Exit> classifiers; // one per candidate in depth, fitted on the training data
    std::vector<std::string> log;
};

// Indices of the points (cost, accuracy) that no other point dominates
// (no more cost and no less accuracy, one of them strictly), by cost ascending.
// Ties in both keep the first.
std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& cost_accuracy);

// Fits a classifier at every candidate on `train`, simulates `validation` once
// watching every candidate at every check step, then scores every
// configuration without simulating again. `validation` must not be a test split.
PlaceResult place_exits(const Network& net, const Dataset& train, const Dataset& validation, const PlaceOptions& options);

// The exits of a point, named exit_<population> and exit_output.
std::vector<Exit> exits_of(const PlacePoint& point, const PlaceResult& result, const Network& net, ExitRule rule);

} // namespace snn
