#include "sim/exits.hpp"

#include "snn/error.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

namespace snn {

std::vector<double> softmax(std::span<const double> logits) {
    std::vector<double> p(logits.begin(), logits.end());
    if (p.empty()) return p;
    const double top = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (double& z : p) sum += (z = std::exp(z - top));
    for (double& z : p) z /= sum;
    return p;
}

double entropy(std::span<const double> probabilities) {
    double h = 0;
    for (double q : probabilities)
        if (q > 0) h -= q * std::log(q);
    return h;
}

bool exit_confident(const Exit& e, std::span<const double> logits) {
    const std::vector<double> p = softmax(logits);
    if (e.rule == ExitRule::Entropy) return entropy(p) < e.threshold;
    return !p.empty() && *std::max_element(p.begin(), p.end()) > e.threshold;
}

std::vector<float> fit_softmax_regression(const std::vector<float>& x, const std::vector<int>& labels,
                                          std::int64_t features, int classes, std::vector<float>& bias,
                                          const SoftmaxFitOptions& o) {
    using Mat = Eigen::MatrixXf;
    const std::int64_t n = std::int64_t(labels.size());
    if (n == 0) throw DataError("", "no samples to fit an exit classifier on");
    if (std::int64_t(x.size()) != n * features) throw InternalError("fit_softmax_regression: x has the wrong size");
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> X(x.data(), n, features);
    Mat Y = Mat::Zero(n, classes);
    for (std::int64_t i = 0; i < n; ++i) {
        const int c = labels[std::size_t(i)];
        if (c < 0 || c >= classes)
            throw DataError("", "label " + std::to_string(c) + " of sample " + std::to_string(i) +
                                    " is not a class of the network (0.." + std::to_string(classes - 1) + ")");
        Y(i, c) = 1;
    }
    Mat W = Mat::Zero(features, classes);
    Eigen::RowVectorXf b = Eigen::RowVectorXf::Zero(classes);
    Mat mW = Mat::Zero(features, classes), vW = Mat::Zero(features, classes);
    Eigen::RowVectorXf mb = Eigen::RowVectorXf::Zero(classes), vb = Eigen::RowVectorXf::Zero(classes);
    const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    for (int it = 1; it <= o.iterations; ++it) {
        Mat Z = X * W;
        Z.rowwise() += b;
        // Softmax row by row, shifted by the row maximum.
        const Eigen::VectorXf top = Z.rowwise().maxCoeff();
        Z.colwise() -= top;
        Z = Z.array().exp().matrix();
        const Eigen::VectorXf sum = Z.rowwise().sum();
        for (std::int64_t i = 0; i < n; ++i) Z.row(i) /= sum(i);
        // d(mean cross-entropy)/dZ = (softmax − onehot)/n.
        const Mat G = (Z - Y) / float(n);
        const Mat gW = X.transpose() * G + float(o.l2) * W;
        const Eigen::RowVectorXf gb = G.colwise().sum();
        mW = beta1 * mW + (1 - beta1) * gW;
        vW = beta2 * vW + (1 - beta2) * gW.cwiseProduct(gW);
        mb = beta1 * mb + (1 - beta1) * gb;
        vb = beta2 * vb + (1 - beta2) * gb.cwiseProduct(gb);
        const float c1 = 1 - std::pow(beta1, float(it)), c2 = 1 - std::pow(beta2, float(it));
        const float lr = float(o.learning_rate) * std::sqrt(c2) / c1;
        W.array() -= lr * mW.array() / (vW.array().sqrt() + eps);
        b.array() -= lr * mb.array() / (vb.array().sqrt() + eps);
    }
    bias.assign(b.data(), b.data() + classes);
    std::vector<float> w(std::size_t(features * classes));
    for (std::int64_t f = 0; f < features; ++f)
        for (int c = 0; c < classes; ++c) w[std::size_t(f * classes + c)] = W(f, c);
    return w;
}

} // namespace snn
