#pragma once
// Conditional exits at run time: the confidence rules, and the softmax
// regression that fits an exit's classifier on a layer's firing rates.
#include "snn/network.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace snn {

// Softmax of `logits` (shifted by their maximum, so large logits do not overflow).
std::vector<double> softmax(std::span<const double> logits);
// −Σ p·ln p in nats (0·ln 0 = 0): 0 for a one-hot, ln C for a uniform distribution.
double entropy(std::span<const double> probabilities);
// Entropy of the softmax below the threshold, or its largest probability above it.
bool exit_confident(const Exit&, std::span<const double> logits);

struct SoftmaxFitOptions {
    int iterations = 300;
    double l2 = 1e-4;          // weight decay on the weights (not the bias)
    double learning_rate = 0.05; // Adam's step size (features are rates in [0, 1])
};

// Multinomial logistic regression by full-batch Adam: minimizes the mean
// cross-entropy of softmax(W^T·x + b) plus l2/2·‖W‖². `x` is (samples,
// features) row-major, labels in [0, classes). Deterministic: the same data
// gives the same weights whatever the number of threads. Returns the weights
// (features, classes) row-major and writes the bias.
std::vector<float> fit_softmax_regression(const std::vector<float>& x, const std::vector<int>& labels,
                                          std::int64_t features, int classes, std::vector<float>& bias,
                                          const SoftmaxFitOptions& options = {});

} // namespace snn
