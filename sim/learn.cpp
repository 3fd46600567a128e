#include "sim/learn.hpp"

#include "sim/engine.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace snn {

namespace {

// Stream layers: 0 the Poisson input, 1 the excitatory layer (its rule draws
// from plasticity_stream(1)), and one of its own for the initial weights.
constexpr std::uint64_t input_stream = 0, layer_index = 1, init_stream = std::uint64_t(1) << 30;
// Sample keys of the three phases, so that no two presentations share draws.
constexpr std::uint64_t respond_phase = std::uint64_t(1) << 40, evaluate_phase = std::uint64_t(2) << 40;

void check(const LearnOptions& o) {
    if (o.neurons < 1) throw Error("--neurons must be at least 1 (got " + std::to_string(o.neurons) + ")");
    if (o.steps < 1) throw Error("--steps must be at least 1");
    if (!(o.max_rate > 0 && o.max_rate <= 1)) throw Error("--max-rate must be in (0, 1]");
    if (!(o.tau_mem > 0) || !(o.tau_theta > 0)) throw Error("time constants must be positive");
    if (!(o.v_th > 0)) throw Error("--v-th must be positive");
    if (!(o.theta_plus >= 0)) throw Error("--theta-plus must be at least 0");
    if (!(o.weight_sum > 0)) throw Error("--weight-sum must be positive");
    if (!(o.w_init_max > 0)) throw Error("--w-init-max must be positive");
    if (o.max_presentations < 1) throw Error("--max-presentations must be at least 1");
}

} // namespace

CompetitiveLayer::CompetitiveLayer(std::int32_t inputs, const LearnOptions& options)
    : inputs_(inputs), opt_(options), rule_(make_rule(options.rule)) {
    check(opt_);
    if (inputs < 1) throw Error("a learning layer needs at least one input");
    mem_decay_ = std::exp(-1.0 / opt_.tau_mem);
    theta_decay_ = std::exp(-1.0 / opt_.tau_theta);
    weights.resize(std::size_t(inputs) * std::size_t(opt_.neurons));
    for (std::size_t k = 0; k < weights.size(); ++k)
        weights[k] = float(opt_.w_init_max) * uniform_draw(opt_.seed, 0, init_stream, 0, k);
    theta.assign(std::size_t(opt_.neurons), 0.0);
    v_.assign(std::size_t(opt_.neurons), 0.0);
}

std::vector<std::int32_t> CompetitiveLayer::present(const float* x, std::uint64_t key, double intensity, bool learning) {
    const std::size_t N = std::size_t(opt_.neurons);
    std::vector<std::int32_t> counts(N, 0);
    std::fill(v_.begin(), v_.end(), 0.0); // rest
    if (learning) rule_->begin_sample(inputs_, opt_.neurons, StreamKey{opt_.seed, key, layer_index});
    const double rate = opt_.max_rate * intensity;
    std::vector<std::int32_t> winner;
    for (std::int32_t t = 0; t < opt_.steps; ++t) {
        in_spikes_.clear();
        for (std::int32_t p = 0; p < inputs_; ++p)
            if (x[p] > 0 && uniform_draw(opt_.seed, key, input_stream, std::uint64_t(t), std::uint64_t(p)) < x[p] * rate)
                in_spikes_.push_back(p);
        for (double& v : v_) v *= mem_decay_;
        for (const std::int32_t i : in_spikes_) {
            const float* row = weights.data() + std::size_t(i) * N;
            for (std::size_t j = 0; j < N; ++j) v_[j] += row[j];
        }
        // Winner-take-all: the unit furthest above its threshold spikes, and
        // the inhibition it triggers resets every unit.
        std::int64_t best = -1;
        double margin = 0;
        for (std::size_t j = 0; j < N; ++j) {
            const double m = v_[j] - (opt_.v_th + theta[j]);
            if (m >= 0 && (best < 0 || m > margin)) {
                best = std::int64_t(j);
                margin = m;
            }
        }
        winner.clear();
        if (best >= 0) {
            winner.push_back(std::int32_t(best));
            ++counts[std::size_t(best)];
            std::fill(v_.begin(), v_.end(), 0.0);
        }
        if (learning) {
            if (theta_decay_ != 1.0)
                for (double& th : theta) th *= theta_decay_;
            if (best >= 0) theta[std::size_t(best)] += opt_.theta_plus;
            rule_->step(t, in_spikes_, winner, SynapseView{weights.data(), inputs_, opt_.neurons});
        }
    }
    return counts;
}

void CompetitiveLayer::normalize() {
    const std::size_t N = std::size_t(opt_.neurons);
    std::vector<double> sum(N, 0.0);
    for (std::size_t i = 0; i < std::size_t(inputs_); ++i)
        for (std::size_t j = 0; j < N; ++j) sum[j] += weights[i * N + j];
    for (std::size_t j = 0; j < N; ++j) {
        if (sum[j] <= 0) continue;
        const double f = opt_.weight_sum / sum[j];
        for (std::size_t i = 0; i < std::size_t(inputs_); ++i) weights[i * N + j] = float(weights[i * N + j] * f);
    }
}

std::vector<std::int32_t> assign_labels(const std::vector<std::int64_t>& counts,
                                        const std::vector<std::int64_t>& samples_per_class, std::int32_t classes) {
    const std::size_t C = std::size_t(classes), N = counts.size() / C;
    std::vector<std::int32_t> a(N, -1);
    for (std::size_t j = 0; j < N; ++j) {
        double best = 0;
        for (std::size_t c = 0; c < C; ++c) {
            if (samples_per_class[c] == 0) continue;
            const double mean = double(counts[j * C + c]) / double(samples_per_class[c]);
            if (mean > best) {
                best = mean;
                a[j] = std::int32_t(c);
            }
        }
    }
    return a;
}

std::int32_t classify(const std::vector<std::int32_t>& counts, const std::vector<std::int32_t>& assignments,
                      std::int32_t classes) {
    std::vector<double> sum(std::size_t(classes), 0.0);
    std::vector<std::int64_t> n(std::size_t(classes), 0);
    for (std::size_t j = 0; j < counts.size(); ++j)
        if (assignments[j] >= 0) {
            sum[std::size_t(assignments[j])] += counts[j];
            ++n[std::size_t(assignments[j])];
        }
    std::int32_t best = -1;
    double best_mean = 0;
    for (std::int32_t c = 0; c < classes; ++c) {
        if (n[std::size_t(c)] == 0) continue;
        const double mean = sum[std::size_t(c)] / double(n[std::size_t(c)]);
        if (mean > best_mean) {
            best_mean = mean;
            best = c;
        }
    }
    return best;
}

namespace {

std::int32_t class_count(const Dataset& d) {
    int m = -1;
    for (const int y : d.y) m = std::max(m, y);
    return m + 1;
}

// Presents a sample, brighter each time, until the layer spikes min_spikes
// times or the presentations run out (Diehl & Cook raise the input rate by
// 32 Hz, half the base rate, each time).
std::vector<std::int32_t> respond(CompetitiveLayer& layer, const float* x, std::uint64_t key, bool learning,
                                  const LearnOptions& o) {
    std::vector<std::int32_t> counts;
    for (std::int32_t rep = 0; rep < o.max_presentations; ++rep) {
        counts = layer.present(x, key * std::uint64_t(o.max_presentations) + std::uint64_t(rep), 1.0 + 0.5 * rep, learning);
        if (learning) layer.normalize();
        std::int64_t total = 0;
        for (const auto c : counts) total += c;
        if (total >= o.min_spikes) break;
    }
    return counts;
}

} // namespace

LearnResult learn(const Dataset& train, const LearnOptions& o, const std::function<void(std::int64_t)>& progress) {
    if (train.size() < 1) throw Error("the training data is empty");
    const std::int32_t classes = class_count(train);
    CompetitiveLayer layer(std::int32_t(train.shape.size()), o);
    layer.normalize();
    for (std::int64_t i = 0; i < train.size(); ++i) {
        respond(layer, train.sample(i), std::uint64_t(i), true, o);
        if (progress) progress(i + 1);
    }
    std::vector<std::int64_t> counts(std::size_t(o.neurons) * std::size_t(classes), 0), per_class(std::size_t(classes), 0);
    std::vector<std::vector<std::int32_t>> responses(std::size_t(train.size()));
    for (std::int64_t i = 0; i < train.size(); ++i) {
        responses[std::size_t(i)] = respond(layer, train.sample(i), respond_phase + std::uint64_t(i), false, o);
        const auto y = std::size_t(train.y[std::size_t(i)]);
        ++per_class[y];
        for (std::size_t j = 0; j < std::size_t(o.neurons); ++j)
            counts[j * std::size_t(classes) + y] += responses[std::size_t(i)][j];
    }
    LearnResult r;
    r.assignments = assign_labels(counts, per_class, classes);
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < train.size(); ++i)
        correct += classify(responses[std::size_t(i)], r.assignments, classes) == train.y[std::size_t(i)];
    r.train_accuracy = double(correct) / double(train.size());
    r.weights = layer.weights;
    r.theta = layer.theta;
    return r;
}

double evaluate(const LearnResult& learned, const Dataset& data, const LearnOptions& o) {
    if (data.size() < 1) throw Error("the evaluation data is empty");
    CompetitiveLayer layer(std::int32_t(data.shape.size()), o);
    if (learned.weights.size() != layer.weights.size())
        throw Error("the learned layer has " + std::to_string(learned.weights.size()) +
                    " weights; this data needs " + std::to_string(layer.weights.size()));
    layer.weights = learned.weights;
    layer.theta = learned.theta;
    std::int32_t classes = 0;
    for (const auto a : learned.assignments) classes = std::max(classes, a + 1);
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < data.size(); ++i) {
        const auto counts = respond(layer, data.sample(i), evaluate_phase + std::uint64_t(i), false, o);
        correct += classify(counts, learned.assignments, classes) == data.y[std::size_t(i)];
    }
    return double(correct) / double(data.size());
}

} // namespace snn
