#include "sim/engine.hpp"

#include "convert/dnn.hpp"
#include "sim/kernels.hpp"
#include "snn/error.hpp"
#include "snn/window.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>

namespace snn {

Encoding encoding_from(const std::string& s) {
    if (s == "current") return Encoding::Current;
    if (s == "poisson") return Encoding::Poisson;
    throw Error("--encode '" + s + "': expected current or poisson");
}

const char* to_string(Encoding e) { return e == Encoding::Current ? "current" : "poisson"; }

std::vector<int> checkpoint_steps(int steps) {
    std::vector<int> c;
    for (int t = 1; t < steps; t *= 2) c.push_back(t);
    c.push_back(steps);
    return c;
}

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

} // namespace

float uniform_draw(std::uint64_t seed, std::uint64_t sample, std::uint64_t layer, std::uint64_t step,
                   std::uint64_t unit) {
    std::uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ sample);
    h = splitmix64(h ^ (layer << 32 | (step & 0xffffffffULL)));
    h = splitmix64(h ^ unit);
    return float(h >> 40) * (1.0f / 16777216.0f); // 24 random bits → [0,1)
}

Engine::Engine(const Network& net, const RunOptions& options)
    : net_(net), opt_(options), readout_(options.readout.value_or(net.readout)) {
    validate(net_);
    if (opt_.steps < 1) throw Error("--steps must be at least 1");
    if (opt_.encode == Encoding::Poisson) {
        if (!(opt_.max_rate > 0 && opt_.max_rate <= 1)) throw Error("--max-rate must be in (0, 1]");
        for (auto& pop : net_.populations)
            for (auto& p : pop.projections)
                if (p.source == 0)
                    for (float& w : p.weights) w /= opt_.max_rate;
    }
    for (const auto& pop : net_.populations)
        if (pop.kind == PopulationKind::MaxPool &&
            net_.populations[std::size_t(pop.projections[0].source)].neuron.signed_spikes)
            throw Error("population '" + pop.name + "': a max-pooling gate cannot pass signed spikes; convert without --signed-spikes");
    if (opt_.encode == Encoding::Current)
        for (const auto& pop : net_.populations)
            if (pop.kind == PopulationKind::MaxPool && pop.projections[0].source == 0)
                throw Error("population '" + pop.name +
                            "' max-pools the input itself, which has no spikes with --encode current; use --encode poisson");
    checkpoints_ = checkpoint_steps(opt_.steps);
    for (const auto& pop : net_.populations)
        decay_.push_back(pop.neuron.model == NeuronModel::LIF ? std::exp(-1.0f / pop.neuron.tau_steps) : 1.0f);
}

void Engine::init(SampleState& s) const {
    const std::size_t P = net_.populations.size();
    s.v.resize(P);
    s.current.resize(P);
    s.constant.resize(P);
    s.counts.resize(P);
    s.spikes.resize(P);
    s.last_spike.resize(P);
    s.touched.resize(P);
    s.fired.resize(P);
    s.negative.resize(P);
    for (std::size_t i = 0; i < P; ++i) {
        const auto n = std::size_t(net_.populations[i].shape.size());
        s.v[i].assign(n, 0.0f);
        s.current[i].assign(n, 0.0f);
        s.constant[i].assign(n, 0.0f);
        s.counts[i].assign(n, 0);
        s.last_spike[i].assign(n, -1);
        s.touched[i].assign(net_.populations[i].kind == PopulationKind::MaxPool ? n : 0, 0);
        s.fired[i].assign((n + 3) / 4 * 4, 0);
        s.spikes[i].reserve(n);
    }
    std::size_t largest = 0;
    for (const auto& pop : net_.populations) largest = std::max(largest, std::size_t(pop.shape.size()));
    s.minus_ones.assign(largest, -1.0f);
    s.spike_total.assign(P, 0);
    s.synaptic_ops.assign(P, 0);
    s.prediction_at.assign(checkpoints_.size(), 0);
}

int Engine::readout(const SampleState& s) const {
    const std::size_t out = net_.populations.size() - 1;
    const auto& c = s.counts[out];
    const auto& v = s.v[out];
    std::size_t best = 0;
    for (std::size_t j = 1; j < c.size(); ++j)
        if (c[j] > c[best] || (c[j] == c[best] && v[j] > v[best])) best = j; // counts are all 0 for Membrane

    return int(best);
}

void Engine::run_sample(const float* x, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded) const {
    const std::size_t P = net_.populations.size();
    const Shape& in_shape = net_.input().shape;
    const std::int64_t n_in = in_shape.size();
    for (std::size_t i = 0; i < P; ++i) {
        const NeuronParams& n = net_.populations[i].neuron;
        std::fill(s.v[i].begin(), s.v[i].end(), n.v_init * n.v_th);
        std::fill(s.counts[i].begin(), s.counts[i].end(), 0);
        std::fill(s.last_spike[i].begin(), s.last_spike[i].end(), -1);
        s.spikes[i].clear();
        s.negative[i].clear();
        s.spike_total[i] = 0;
        s.synaptic_ops[i] = 0;
    }
    // Non-zero input units, kept once per sample.
    s.input_units.clear();
    s.input_values.clear();
    for (std::int64_t j = 0; j < n_in; ++j)
        if (x[j] != 0.0f) {
            s.input_units.push_back(std::int32_t(j));
            s.input_values.push_back(x[j]);
        }
    // Constant current: bias, and with `current` encoding the projected input.
    for (std::size_t i = 1; i < P; ++i) {
        const Population& pop = net_.populations[i];
        auto& k = s.constant[i];
        if (pop.bias.empty()) std::fill(k.begin(), k.end(), 0.0f);
        else
            for (std::size_t j = 0; j < k.size(); ++j) k[j] = pop.bias[j % pop.bias.size()];
        if (opt_.encode != Encoding::Current || pop.kind != PopulationKind::Spiking) continue;
        for (const Projection& p : pop.projections)
            if (p.source == 0)
                s.synaptic_ops[i] += scatter(p, in_shape, pop.shape, s.input_units, s.input_values.data(), k.data());
    }

    std::size_t next_checkpoint = 0;
    for (int t = 0; t < opt_.steps; ++t) {
        if (opt_.encode == Encoding::Poisson) {
            auto& sp = s.spikes[0];
            sp.clear();
            for (std::size_t k = 0; k < s.input_units.size(); ++k) {
                const std::int32_t j = s.input_units[k];
                if (uniform_draw(opt_.seed, std::uint64_t(sample), 0, std::uint64_t(t), std::uint64_t(j)) <
                    s.input_values[k] * opt_.max_rate)
                    sp.push_back(j);
            }
            s.spike_total[0] += std::int64_t(sp.size());
            // Input spike counts, for a max-pooling gate right on the input.
            for (std::int32_t j : sp) {
                ++s.counts[0][std::size_t(j)];
                s.last_spike[0][std::size_t(j)] = t;
            }
            if (recorded)
                for (auto j : sp) recorded->push_back({std::int32_t(sample), 0, j, t, 1});
        }
        for (std::size_t i = 1; i < P; ++i) {
            const Population& pop = net_.populations[i];
            auto& out = s.spikes[i];
            out.clear();
            if (pop.kind == PopulationKind::MaxPool) {
                const Projection& p = pop.projections[0];
                const std::size_t src = std::size_t(p.source);
                const Shape& ss = net_.populations[src].shape;
                const auto& cnt = s.counts[src];
                const auto& last = s.last_spike[src];
                auto& touched = s.touched[i];
                const Window& w = p.window;
                // Windows that hold an input spike of this step are the only ones that can pass one.
                for (std::int32_t u : s.spikes[src]) {
                    const int C = ss.c, c = u % C, xx = (u / C) % ss.w, y = u / (C * ss.w);
                    for_each_covering_window(w, pop.shape, y, xx, [&](int oy, int ox, int, int) {
                        const std::int32_t o = std::int32_t((oy * pop.shape.w + ox) * C + c);
                        if (!touched[std::size_t(o)]) {
                            touched[std::size_t(o)] = 1;
                            out.push_back(o);
                        }
                    });
                }
                std::size_t kept = 0;
                for (std::int32_t o : out) {
                    touched[std::size_t(o)] = 0;
                    const int C = pop.shape.c, c = o % C, ox = (o / C) % pop.shape.w, oy = o / (C * pop.shape.w);
                    std::int32_t best = -1, best_count = -1;
                    for_each_tap(w, ss, oy, ox, [&](int y, int xx, int, int) {
                        const std::int32_t u = std::int32_t((y * ss.w + xx) * C + c);
                        if (cnt[std::size_t(u)] > best_count) {
                            best_count = cnt[std::size_t(u)];
                            best = u;
                        }
                    });
                    if (best >= 0 && last[std::size_t(best)] == t) out[kept++] = o;
                }
                out.resize(kept);
                std::sort(out.begin(), out.end());
            } else {
                auto& cur = s.current[i];
                std::copy(s.constant[i].begin(), s.constant[i].end(), cur.begin());
                for (const Projection& p : pop.projections) {
                    if (p.source == 0 && opt_.encode == Encoding::Current) continue;
                    const auto& src_spikes = s.spikes[std::size_t(p.source)];
                    if (src_spikes.empty()) continue;
                    s.synaptic_ops[i] += scatter(p, net_.populations[std::size_t(p.source)].shape, pop.shape,
                                                 src_spikes, nullptr, cur.data());
                }
                for (const Projection& p : pop.projections) {
                    const auto& taken_back = s.negative[std::size_t(p.source)];
                    if (taken_back.empty()) continue;
                    s.synaptic_ops[i] += scatter(p, net_.populations[std::size_t(p.source)].shape, pop.shape,
                                                 taken_back, s.minus_ones.data(), cur.data());
                }
                auto& v = s.v[i];
                const float decay = decay_[i];
                // A membrane readout makes the output layer a non-spiking integrator.
                // (The largest float, not infinity: the reset below multiplies it by 0.)
                const float v_th = readout_ == Readout::Membrane && i == P - 1
                                       ? std::numeric_limits<float>::max()
                                       : pop.neuron.v_th;
                const bool subtract = pop.neuron.reset == ResetMode::Subtract;
                const std::size_t n = v.size();
                // Two passes: a branch-free update the compiler vectorizes, recording
                // who fired as 0/1 words (the same width as a float, so GCC vectorizes the
                // compare); then a scan that skips 4 silent neurons at a time.
                std::int32_t* __restrict fired = s.fired[i].data();
                float* __restrict vp = v.data();
                const float* __restrict cp = cur.data();
                if (subtract)
                    for (std::size_t j = 0; j < n; ++j) {
                        const float vj = vp[j] * decay + cp[j];
                        const std::int32_t fire = vj >= v_th;
                        fired[j] = fire;
                        vp[j] = vj - v_th * float(fire);
                    }
                else
                    for (std::size_t j = 0; j < n; ++j) {
                        const float vj = vp[j] * decay + cp[j];
                        const std::int32_t fire = vj >= v_th;
                        fired[j] = fire;
                        vp[j] = vj * float(1 - fire);
                    }
                // A neuron that has just fired sits at v ≥ 0, so no unit spikes both ways in one step.
                auto& negative = s.negative[i];
                negative.clear();
                if (pop.neuron.signed_spikes && v_th == pop.neuron.v_th) {
                    const auto& cnt = s.counts[i];
                    for (std::size_t j = 0; j < n; ++j)
                        if (vp[j] < 0.0f && cnt[j] > 0) {
                            vp[j] += v_th;
                            negative.push_back(std::int32_t(j));
                        }
                }
                for (std::size_t j = 0; j < n; j += 4) {
                    std::uint64_t lo, hi; // fired has n rounded up to 4 words, the tail zero
                    std::memcpy(&lo, fired + j, 8);
                    std::memcpy(&hi, fired + j + 2, 8);
                    if (!(lo | hi)) continue;
                    for (std::size_t k = j; k < j + 4; ++k)
                        if (fired[k]) out.push_back(std::int32_t(k));
                }
            }
            auto& cnt = s.counts[i];
            auto& last = s.last_spike[i];
            for (std::int32_t j : out) {
                ++cnt[std::size_t(j)];
                last[std::size_t(j)] = t;
            }
            for (std::int32_t j : s.negative[i]) --cnt[std::size_t(j)];
            s.spike_total[i] += std::int64_t(out.size() + s.negative[i].size());
            if (recorded) {
                for (auto j : out) recorded->push_back({std::int32_t(sample), std::int32_t(i), j, t, 1});
                for (auto j : s.negative[i]) recorded->push_back({std::int32_t(sample), std::int32_t(i), j, t, -1});
            }
        }
        while (next_checkpoint < checkpoints_.size() && checkpoints_[next_checkpoint] == t + 1)
            s.prediction_at[next_checkpoint++] = readout(s);
    }
}

RunResult simulate(const Network& net, const Dataset& data, const RunOptions& opt) {
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() +
                    " but the network's input is " + net.input().shape.str());
    if (opt.threads < 1) throw Error("--threads must be at least 1");
    Engine engine(net, opt);
    const std::int64_t n = data.size();
    const std::size_t P = net.populations.size();
    RunResult r;
    r.samples = n;
    r.readout = engine.readout_kind();
    r.checkpoints = engine.checkpoints();
    const std::size_t C = r.checkpoints.size();
    std::vector<int> predictions_at(static_cast<std::size_t>(n) * C);
    std::vector<std::int64_t> spikes(static_cast<std::size_t>(n) * P), ops(static_cast<std::size_t>(n) * P);
    const std::int64_t n_record = std::min(opt.record_samples, n);
    std::vector<std::vector<Spike>> recorded(std::size_t(std::max<std::int64_t>(n_record, 0)));

    tbb::enumerable_thread_specific<SampleState> states([&] {
        SampleState s;
        engine.init(s);
        return s;
    });
    std::atomic<std::int64_t> done{0};
    std::mutex print_mutex;
    const auto start = std::chrono::steady_clock::now();
    auto last_print = start;
    tbb::task_arena arena(opt.threads);
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4), [&](const auto& range) {
            SampleState& s = states.local();
            for (std::int64_t i = range.begin(); i < range.end(); ++i) {
                engine.run_sample(data.sample(i), i, s, i < n_record ? &recorded[std::size_t(i)] : nullptr);
                for (std::size_t c = 0; c < C; ++c) predictions_at[std::size_t(i) * C + c] = s.prediction_at[c];
                for (std::size_t l = 0; l < P; ++l) {
                    spikes[std::size_t(i) * P + l] = s.spike_total[l];
                    ops[std::size_t(i) * P + l] = s.synaptic_ops[l];
                }
                const std::int64_t d = ++done;
                if (opt.progress) {
                    std::unique_lock lock(print_mutex, std::try_to_lock);
                    const auto now = std::chrono::steady_clock::now();
                    if (lock.owns_lock() && (now - last_print > std::chrono::milliseconds(500) || d == n)) {
                        last_print = now;
                        const double secs = std::chrono::duration<double>(now - start).count();
                        std::fprintf(stderr, "\r%lld/%lld samples, %.1f samples/s   ", (long long)d, (long long)n,
                                     secs > 0 ? double(d) / secs : 0.0);
                        std::fflush(stderr);
                    }
                }
            }
        });
    });
    if (opt.progress) std::fprintf(stderr, "\n");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Merge in sample order: sums do not depend on how samples were split.
    r.correct_at.assign(C, 0);
    r.predictions.resize(std::size_t(n));
    r.spikes.assign(P, 0.0);
    r.synaptic_ops.assign(P, 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::size_t c = 0; c < C; ++c)
            r.correct_at[c] += predictions_at[std::size_t(i) * C + c] == data.y[std::size_t(i)];
        r.predictions[std::size_t(i)] = predictions_at[std::size_t(i) * C + C - 1];
        for (std::size_t l = 0; l < P; ++l) {
            r.spikes[l] += double(spikes[std::size_t(i) * P + l]);
            r.synaptic_ops[l] += double(ops[std::size_t(i) * P + l]);
        }
    }
    for (auto& rec : recorded) r.recorded.insert(r.recorded.end(), rec.begin(), rec.end());
    return r;
}

double dnn_accuracy(const Network& net, const Dataset& data, int threads, std::vector<int>* predictions) {
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() +
                    " but the network's input is " + net.input().shape.str());
    const std::int64_t n = data.size();
    std::vector<int> pred(static_cast<std::size_t>(n));
    tbb::task_arena arena(std::max(threads, 1));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& r) {
            for (std::int64_t i = r.begin(); i < r.end(); ++i)
                pred[std::size_t(i)] = argmax(forward(net, data.sample(i)).back());
        });
    });
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; ++i) correct += pred[std::size_t(i)] == data.y[std::size_t(i)];
    if (predictions) *predictions = std::move(pred);
    return n > 0 ? double(correct) / double(n) : 0.0;
}

} // namespace snn
