#include "sim/learn.hpp"

#include "sim/engine.hpp"
#include "sim/neuron.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

namespace snn {

namespace {

// Stream layers: 0 the Poisson input, 1 the excitatory layer (its rule draws
// from plasticity_stream(1)), and one of its own for the initial weights.
constexpr std::uint64_t input_stream = 0, layer_index = 1, init_stream = std::uint64_t(1) << 30;
// Sample keys of the frozen pass over the training data, apart from the
// learning presentations' (sample·max_presentations + repetition, epoch by
// epoch). The test pass uses the sample index, as `snn run` does.
constexpr std::uint64_t respond_phase = std::uint64_t(1) << 40;

} // namespace

void validate(const LearnOptions& o) {
    validate(o.rule);
    if (o.neurons < 1) throw OptionError("neurons", "", "neurons must be at least 1 (got " + std::to_string(o.neurons) + ")");
    if (o.steps < 1) throw OptionError("steps", "", "steps must be at least 1");
    if (!(o.max_rate > 0 && o.max_rate <= 1)) throw OptionError("max-rate", "", "max-rate must be in (0, 1]");
    if (!(o.tau_mem > 0) || !(o.tau_theta > 0)) throw Error("time constants must be positive");
    if (!(o.v_th > 0)) throw OptionError("v-th", "", "v-th must be positive");
    if (!(o.theta_plus >= 0)) throw OptionError("theta-plus", "", "theta-plus must be at least 0");
    if (!(o.weight_sum > 0)) throw OptionError("weight-sum", "", "weight-sum must be positive");
    if (!(o.w_init_max > 0)) throw OptionError("w-init-max", "", "w-init-max must be positive");
    if (o.max_presentations < 1) throw OptionError("max-presentations", "", "max-presentations must be at least 1");
    if (o.epochs < 1) throw OptionError("epochs", "", "epochs must be at least 1");
    if (o.threads < 1) throw OptionError("threads", "", "threads must be at least 1");
    if (o.binary()) {
        if (o.rule.levels != BinaryLevels::Unipolar)
            throw Error("snn learn takes binary weights in {0,1} only (--binary unipolar): with {-1,+1} every silent "
                        "input would count against a unit as much as a spiking one for it");
        if (!(o.p_init > 0 && o.p_init <= 1)) throw OptionError("p-init", "", "p-init must be in (0, 1]");
    }
}

namespace {

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

} // namespace

CompetitiveLayer::CompetitiveLayer(std::int32_t inputs, const LearnOptions& options)
    : inputs_(inputs), opt_(options), rule_(make_rule(options.rule)) {
    validate(opt_);
    if (inputs < 1) throw Error("a learning layer needs at least one input");
    mem_decay_ = std::exp(-1.0 / opt_.tau_mem);
    theta_decay_ = std::exp(-1.0 / opt_.tau_theta);
    weights.resize(std::size_t(inputs) * std::size_t(opt_.neurons));
    for (std::size_t k = 0; k < weights.size(); ++k) {
        const float u = uniform_draw(opt_.seed, 0, init_stream, 0, k);
        weights[k] = opt_.binary() ? float(u < opt_.p_init) : float(opt_.w_init_max) * u;
    }
    if (opt_.binary()) gain.assign(std::size_t(opt_.neurons), 0.0);
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
    std::vector<std::int32_t> lit; // the pixels that can spike
    for (std::int32_t p = 0; p < inputs_; ++p)
        if (x[p] > 0) lit.push_back(p);
    for (std::int32_t t = 0; t < opt_.steps; ++t) {
        in_spikes_.clear();
        poisson_step(opt_.seed, key, input_stream, t, lit, [&](std::size_t k) { return x[lit[k]] * rate; },
                     [&](std::int32_t p) { in_spikes_.push_back(p); });
        for (double& v : v_) v *= mem_decay_;
        if (gain.empty())
            for (const std::int32_t i : in_spikes_) {
                const float* row = weights.data() + std::size_t(i) * N;
                for (std::size_t j = 0; j < N; ++j) v_[j] += row[j];
            }
        else
            for (const std::int32_t i : in_spikes_) {
                const float* row = weights.data() + std::size_t(i) * N;
                for (std::size_t j = 0; j < N; ++j) v_[j] += row[j] * gain[j];
            }
        // Winner-take-all: the unit furthest above its threshold spikes, and
        // the inhibition it triggers resets every unit.
        const std::size_t w = neuron::winner(v_.data(), N, [&](std::size_t j) { return opt_.v_th + theta[j]; });
        const std::int64_t best = w < N ? std::int64_t(w) : -1;
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
    if (!gain.empty()) {
        // Binary: Σ w = the number of weights at 1, so gain·Σ w = weight_sum.
        for (std::size_t j = 0; j < N; ++j) gain[j] = sum[j] > 0 ? opt_.weight_sum / sum[j] : 0.0;
        return;
    }
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
    return assigned_class(counts.data(), assignments, classes);
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

std::string LearnOptions::fingerprint() const {
    // %.17g prints a double exactly, so two runs compare equal only if every
    // option that changes what is learned is bit for bit the same. Threads do not.
    std::string f = "neurons " + std::to_string(neurons) + " steps " + std::to_string(steps) + " max_rate " +
                    num(max_rate) + " tau_mem " + num(tau_mem) + " v_th " + num(v_th) + " theta_plus " +
                    num(theta_plus) + " tau_theta " + num(tau_theta) + " weight_sum " + num(weight_sum) +
                    " w_init_max " + num(w_init_max) + " min_spikes " + std::to_string(min_spikes) +
                    " max_presentations " + std::to_string(max_presentations) + " epochs " + std::to_string(epochs) +
                    " seed " + std::to_string(seed) + " rule " + rule.describe();
    if (binary()) f += " p_init " + num(p_init) + " gamma_plus " + num(rule.gamma_plus) + " gamma_minus " +
                       num(rule.gamma_minus) + " window " + std::to_string(rule.window_steps());
    return f;
}

std::string learn_fingerprint(const Dataset& train, const LearnOptions& o) {
    return o.fingerprint() + " data " + train.name + " samples " + std::to_string(train.size()) + " sample_size " +
           std::to_string(train.shape.size());
}

// ---------------------------------------------------------------- checkpoints

namespace {
constexpr const char* checkpoint_format = "snn-learn-checkpoint";
constexpr std::int64_t checkpoint_version = 1;
} // namespace

void save_checkpoint(const LearnState& st, const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw Error(path + ": cannot write the checkpoint: directory '" + dir.string() + "' does not exist");
    AtomicOutput out(path);
    {
        h5::Node f = h5::create_file(out.temp_path());
        h5::write_attr(f, "format", std::string(checkpoint_format));
        h5::write_attr(f, "format_version", checkpoint_version);
        h5::write_attr(f, "fingerprint", st.fingerprint);
        h5::write_attr(f, "epoch", std::int64_t(st.epoch));
        h5::write_attr(f, "next_sample", st.next_sample);
        h5::write_floats(f, "weights", st.weights, {st.weights.size()}, st.weights.size() >= (1u << 16));
        // θ decays by e^(−1/τ_θ) ≈ 1 − 1e-7 per step: float32 could not even hold that factor, so θ stays float64.
        h5::write_doubles(f, "theta", st.theta, {st.theta.size()});
        if (H5Fflush(f.id(), H5F_SCOPE_GLOBAL) < 0) throw Error(path + ": cannot write the checkpoint (disk full?)");
    } // closed before the rename
    out.commit();
}

LearnState load_checkpoint(const std::string& path, const MemoryBudget& budget) {
    const h5::Node f = h5::open_file(path, budget);
    if (!h5::has_attr(f, "format") || h5::read_string_attr(f, "format") != checkpoint_format)
        throw Error(path + ": not an snn learn checkpoint (written by `snn learn --checkpoint`)");
    if (h5::read_int_attr(f, "format_version") != checkpoint_version)
        throw Error(path + ": checkpoint format_version " + std::to_string(h5::read_int_attr(f, "format_version")) +
                    ", this build reads " + std::to_string(checkpoint_version));
    LearnState st;
    st.fingerprint = h5::read_string_attr(f, "fingerprint");
    const std::int64_t epoch = h5::read_int_attr(f, "epoch");
    st.next_sample = h5::read_int_attr(f, "next_sample");
    if (epoch < 0 || epoch > (1 << 30) || st.next_sample < 0)
        throw Error(path + ": checkpoint position (epoch " + std::to_string(epoch) + ", sample " +
                    std::to_string(st.next_sample) + ") is out of range");
    st.epoch = std::int32_t(epoch);
    st.weights = h5::read_floats(f, "weights");
    st.theta = h5::read_doubles(f, "theta");
    return st;
}

// ---------------------------------------------------------------- learning

namespace {

// How a learned network runs: what `snn run` does with it by default.
RunOptions frozen_run_options(const Network& net, const LearnOptions& o) {
    RunOptions ro;
    ro.steps = net.steps;
    ro.encode = Encoding::Poisson;
    ro.max_rate = net.max_rate;
    ro.seed = o.seed;
    ro.threads = o.threads;
    return ro;
}

// The frozen layer's spike counts for every sample of `data` (samples ×
// neurons), from the engine; sample i is keyed key_base + i.
std::vector<std::int32_t> frozen_responses(const Network& net, const Dataset& data, const LearnOptions& o,
                                           std::uint64_t key_base) {
    const Engine engine(net, frozen_run_options(net, o));
    const std::size_t N = std::size_t(net.output().shape.size()), out = net.populations.size() - 1;
    std::vector<std::int32_t> counts(std::size_t(data.size()) * N);
    tbb::enumerable_thread_specific<SampleState> states([&] {
        SampleState s;
        engine.init(s);
        return s;
    });
    tbb::task_arena arena(o.threads);
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, data.size(), 16), [&](const auto& r) {
            SampleState& s = states.local();
            for (std::int64_t i = r.begin(); i < r.end(); ++i) {
                engine.run_sample(data.sample(i), std::int64_t(key_base) + i, s, nullptr);
                std::copy(s.counts[out].begin(), s.counts[out].end(), counts.begin() + std::ptrdiff_t(std::size_t(i) * N));
            }
        });
    });
    return counts;
}

} // namespace

LearnResult learn(const Dataset& train, const LearnOptions& o, const LearnProgress& progress, const Checkpointing& ck) {
    if (train.size() < 1) throw Error("the training data is empty");
    const std::int32_t classes = class_count(train);
    CompetitiveLayer layer(std::int32_t(train.shape.size()), o);
    const std::string fingerprint = learn_fingerprint(train, o);
    std::int32_t first_epoch = 0;
    std::int64_t first_sample = 0;
    if (ck.resume) {
        const LearnState& st = *ck.resume;
        if (st.fingerprint != fingerprint)
            throw Error("the checkpoint is of another run (" + st.fingerprint + "); this one is " + fingerprint);
        if (st.weights.size() != layer.weights.size() || st.theta.size() != layer.theta.size() ||
            st.epoch > o.epochs || st.next_sample > train.size())
            throw Error("the checkpoint's weights, thresholds or position do not fit this run");
        layer.weights = st.weights;
        layer.theta = st.theta;
        first_epoch = st.epoch;
        first_sample = st.next_sample;
    }
    // After the initial normalization (or the last presentation of the
    // checkpoint's run), weights are normalized: normalizing again would
    // change their last bits, so a resumed run only recomputes binary gains.
    if (!ck.resume || !layer.gain.empty()) layer.normalize();
    const auto checkpoint = [&](std::int32_t epoch, std::int64_t next) {
        if (ck.path.empty()) return;
        LearnState st{layer.weights, layer.theta, epoch, next, fingerprint};
        save_checkpoint(st, ck.path);
    };
    // Running accuracy, as Diehl & Cook watched it: labels assigned from the
    // learning responses of one block of samples classify the next block's.
    const std::size_t N = std::size_t(o.neurons), C = std::size_t(classes);
    constexpr std::int64_t block = 1000;
    std::vector<std::int64_t> block_counts(N * C, 0), block_per_class(C, 0);
    std::vector<std::int32_t> running_labels;
    std::int64_t running_correct = 0, running_seen = 0, in_block = 0;
    for (std::int32_t e = first_epoch; e < o.epochs; ++e) {
        const std::int64_t n = train.size();
        for (std::int64_t i = e == first_epoch ? first_sample : 0; i < n; ++i) {
            const auto response =
                respond(layer, train.sample(i), std::uint64_t(e) * std::uint64_t(n) + std::uint64_t(i), true, o);
            const auto y = std::size_t(train.y[std::size_t(i)]);
            if (!running_labels.empty()) {
                ++running_seen;
                running_correct += assigned_class(response.data(), running_labels, classes) == int(y);
            }
            ++block_per_class[y];
            for (std::size_t j = 0; j < N; ++j) block_counts[j * C + y] += response[j];
            if (++in_block == block) {
                running_labels = assign_labels(block_counts, block_per_class, classes);
                std::fill(block_counts.begin(), block_counts.end(), 0);
                std::fill(block_per_class.begin(), block_per_class.end(), 0);
                in_block = running_correct = running_seen = 0;
            }
            if (progress) progress(e, i + 1, running_seen ? double(running_correct) / double(running_seen) : -1.0);
            const std::int64_t done = std::int64_t(e) * n + i + 1;
            if (ck.every > 0 && done % ck.every == 0 && !(e == o.epochs - 1 && i == n - 1))
                i + 1 == n ? checkpoint(e + 1, 0) : checkpoint(e, i + 1);
        }
    }
    checkpoint(o.epochs, 0); // learning done: a resumed run goes straight to the labels

    LearnResult r;
    r.weights = layer.weights;
    r.theta = layer.theta;
    r.gain = layer.gain;
    // Labels: the engine's responses of the frozen layer to the training samples.
    r.assignments.assign(std::size_t(o.neurons), -1);
    const Network net = learned_network(r, o, train.shape, train.name);
    const std::vector<std::int32_t> responses = frozen_responses(net, train, o, respond_phase);
    std::vector<std::int64_t> counts(N * C, 0), per_class(C, 0);
    for (std::int64_t i = 0; i < train.size(); ++i) {
        const auto y = std::size_t(train.y[std::size_t(i)]);
        ++per_class[y];
        for (std::size_t j = 0; j < N; ++j) counts[j * C + y] += responses[std::size_t(i) * N + j];
    }
    r.assignments = assign_labels(counts, per_class, classes);
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < train.size(); ++i)
        correct += assigned_class(responses.data() + std::size_t(i) * N, r.assignments, classes) == train.y[std::size_t(i)];
    r.train_accuracy = double(correct) / double(train.size());
    return r;
}

Network learned_network(const LearnResult& r, const LearnOptions& o, const Shape& input_shape, const std::string& source) {
    const std::size_t N = std::size_t(o.neurons), I = std::size_t(input_shape.size());
    if (r.weights.size() != I * N || r.theta.size() != N || r.assignments.size() != N ||
        (!r.gain.empty() && r.gain.size() != N))
        throw Error("the learned layer has " + std::to_string(r.weights.size()) + " weights and " +
                    std::to_string(r.theta.size()) + " thresholds; " + std::to_string(I) + " inputs × " +
                    std::to_string(N) + " neurons need " + std::to_string(I * N) + " and " + std::to_string(N));
    Network net;
    net.source = source;
    net.normalization = "learned with " + o.rule.describe() +
                        (r.gain.empty() ? "; input weights normalized to sum " + num(o.weight_sum)
                                        : "; binary weights times a per-neuron gain weight_sum/(weights at 1), weight_sum " +
                                              num(o.weight_sum)) +
                        "; stored as weight·max_rate";
    net.readout = Readout::Assignment;
    net.labels = r.assignments;
    net.steps = o.steps;
    net.max_rate = float(o.max_rate);
    Population in;
    in.name = "input";
    in.kind = PopulationKind::Input;
    in.shape = input_shape;
    net.populations.push_back(in);
    Population ex;
    ex.name = "excitatory";
    ex.kind = PopulationKind::Spiking;
    ex.shape = Shape{1, 1, int(N)};
    ex.neuron.model = NeuronModel::LIF;
    ex.neuron.reset = ResetMode::Zero;
    ex.neuron.v_th = float(o.v_th);
    ex.neuron.tau_steps = float(o.tau_mem);
    ex.inhibition = Inhibition::WinnerTakeAll;
    ex.theta.assign(r.theta.begin(), r.theta.end());
    ex.layers = {"stdp"};
    Projection p;
    p.source = 0;
    p.kind = ProjectionKind::Dense;
    p.layer = "stdp";
    // The engine's Poisson input carries 1/max_rate per spike (so that the
    // expected current is the pixel value); a learned weight is what one
    // spike adds, so it is stored times max_rate.
    const double rate = double(net.max_rate);
    p.weights.resize(I * N);
    for (std::size_t i = 0; i < I; ++i)
        for (std::size_t j = 0; j < N; ++j) {
            const double w = r.gain.empty() ? double(r.weights[i * N + j]) : r.weights[i * N + j] * r.gain[j];
            p.weights[i * N + j] = float(w * rate);
        }
    ex.projections.push_back(std::move(p));
    net.populations.push_back(std::move(ex));
    return net;
}

double evaluate(const LearnResult& learned, const Dataset& data, const LearnOptions& o) {
    if (data.size() < 1) throw Error("the evaluation data is empty");
    const Network net = learned_network(learned, o, data.shape, data.name);
    const RunResult rr = simulate(net, data, frozen_run_options(net, o));
    return double(rr.correct_at.back()) / double(rr.samples);
}

} // namespace snn
