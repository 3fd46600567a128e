#include "sim/place.hpp"

#include "sim/engine.hpp"
#include "sim/readout.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace snn {

namespace {

Network without_exits(const Network& net) {
    Network n = net;
    n.exits.clear();
    return n;
}

template <class F>
void for_each_sample(const Engine& engine, const Dataset& data, int threads, F&& f) {
    tbb::enumerable_thread_specific<SampleState> states([&] {
        SampleState s;
        engine.init(s);
        return s;
    });
    tbb::task_arena arena(std::max(threads, 1));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, data.size(), 8), [&](const auto& r) {
            SampleState& s = states.local();
            for (std::int64_t i = r.begin(); i < r.end(); ++i) f(i, s);
        });
    });
}

// `name` is the value of `option` (its key: "at", "candidates").
int population_index(const Network& net, const std::string& name, const char* what, const char* option) {
    const int i = net.find(name);
    if (i < 0)
        throw OptionError(option, name, std::string(what) + " '" + name + "' is not a population of the network");
    if (i == 0)
        throw OptionError(option, name, std::string(what) + " '" + name +
                                        "' is the input, which has no spikes to classify");
    return i;
}

} // namespace

std::vector<std::vector<float>> collect_rates(const Network& net, const std::vector<int>& at, const Dataset& data,
                                              int steps, int threads, const MemoryBudget& budget) {
    RunOptions opt;
    opt.steps = steps;
    opt.threads = threads;
    const Engine engine(without_exits(net), opt);
    std::vector<std::vector<float>> rates(at.size());
    for (std::size_t k = 0; k < at.size(); ++k) {
        const std::uint64_t bytes = std::uint64_t(data.size()) * std::uint64_t(net.populations[std::size_t(at[k])].shape.size()) * sizeof(float);
        budget.check(bytes, "rates of '" + net.populations[std::size_t(at[k])].name + "'");
        rates[k].resize(bytes / sizeof(float));
    }
    for_each_sample(engine, data, threads, [&](std::int64_t i, SampleState& s) {
        engine.run_sample(data.sample(i), i, s, nullptr);
        for (std::size_t k = 0; k < at.size(); ++k) {
            const auto& c = s.counts[std::size_t(at[k])];
            float* row = rates[k].data() + std::size_t(i) * c.size();
            for (std::size_t j = 0; j < c.size(); ++j) row[j] = float(c[j]) / float(steps);
        }
    });
    return rates;
}

Exit train_exit(const Network& net, const std::string& at, const Dataset& data, const ExitTrainOptions& o) {
    if (o.steps < 1) throw OptionError("steps", std::to_string(o.steps), "steps must be at least 1");
    const int i = population_index(net, at, "exit position", "at");
    const auto rates = collect_rates(net, {i}, data, o.steps, o.threads, o.memory);
    Exit e;
    e.name = "exit_" + at;
    e.at = at;
    e.weights = fit_softmax_regression(rates[0], data.y, net.populations[std::size_t(i)].shape.size(),
                                       int(net.output().shape.size()), e.bias, o.fit);
    return e;
}

std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& pts) {
    std::vector<std::size_t> order(pts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Cheapest first; at equal cost the most accurate first, then the first given.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (pts[a].first != pts[b].first) return pts[a].first < pts[b].first;
        return pts[a].second > pts[b].second;
    });
    std::vector<std::size_t> front;
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t i : order)
        if (pts[i].second > best) { // strictly more accurate than everything at most as cheap
            front.push_back(i);
            best = pts[i].second;
        }
    return front;
}

PlaceResult place_exits(const Network& net_in, const Dataset& train, const Dataset& val, const PlaceOptions& o) {
    if (o.steps < 1) throw OptionError("steps", std::to_string(o.steps), "steps must be at least 1");
    if (val.size() == 0) throw DataError(val.name, "no validation samples");
    const Network net = without_exits(net_in);
    const std::size_t P = net.populations.size();
    const int classes = int(net.output().shape.size());
    PlaceResult res;

    std::vector<int> cand;
    if (o.depth && o.candidates.empty()) {
        for (std::size_t i = 1; i + 1 < P; ++i) cand.push_back(int(i));
    } else if (o.depth) {
        for (const auto& name : o.candidates) {
            const int i = population_index(net, name, "candidate", "candidates");
            if (std::size_t(i) == P - 1)
                throw OptionError("candidates", name,
                                  "candidate '" + name +
                                      "' is the output; the exit in time on the output is tried anyway");
            cand.push_back(i);
        }
        std::sort(cand.begin(), cand.end());
    }
    std::vector<double> thresholds = o.thresholds;
    if (thresholds.empty())
        thresholds = o.rule == ExitRule::Entropy ? std::vector<double>{0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0}
                                                 : std::vector<double>{0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999};
    std::vector<int> checks;
    for (int k : o.check_every) {
        if (k < 0)
            throw OptionError("check-every", std::to_string(k), "check steps must be ≥ 0 (0: at the last step only)");
        if (k < o.steps) checks.push_back(k);
    }
    if (checks.empty()) checks.push_back(0);
    // Observe at every multiple of the finest check, and at the last step.
    int finest = o.steps;
    for (int k : checks)
        if (k > 0) finest = std::min(finest, k);
    std::vector<int> obs_steps;
    for (int t = finest; t < o.steps; t += finest) obs_steps.push_back(t);
    obs_steps.push_back(o.steps);
    const std::size_t O = obs_steps.size(), C = cand.size();

    // 1. Classifiers: the network's own (e.g. exit heads of the Keras model), or
    //    fitted on the rates after `steps` steps of the training data.
    res.classifiers.resize(C);
    std::vector<int> to_fit;
    for (std::size_t k = 0; k < C; ++k) {
        const std::string& at = net.populations[std::size_t(cand[k])].name;
        const auto own = std::find_if(net_in.exits.begin(), net_in.exits.end(),
                                      [&](const Exit& e) { return e.at == at && !e.weights.empty(); });
        if (own != net_in.exits.end()) {
            res.classifiers[k] = *own;
            res.log.push_back("using the network's own exit classifier '" + own->name + "' at " + at);
        } else {
            to_fit.push_back(cand[k]);
        }
    }
    if (!to_fit.empty()) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "fitting %zu exit classifiers on %lld samples of %s", to_fit.size(),
                      (long long)train.size(), train.name.c_str());
        res.log.push_back(buf);
        const auto rates = collect_rates(net, to_fit, train, o.steps, o.threads, o.memory);
        for (std::size_t f = 0, k = 0; k < C; ++k) {
            if (!res.classifiers[k].weights.empty()) continue;
            Exit& e = res.classifiers[k];
            e.at = net.populations[std::size_t(cand[k])].name;
            e.name = "exit_" + e.at;
            e.weights = fit_softmax_regression(rates[f++], train.y, net.populations[std::size_t(cand[k])].shape.size(),
                                               classes, e.bias, o.fit);
        }
    }

    // 2. One pass over the validation data, watching every candidate at every observation step.
    struct Seen {
        int pred;
        float entropy, max_prob;
    };
    const std::int64_t N = val.size();
    const std::size_t W = C + 1; // candidates, then the output's own readout
    std::vector<Seen> watch(std::size_t(N) * O * W);
    std::vector<double> ops(std::size_t(N) * O * P);  // cumulative synaptic ops per population
    std::vector<double> spikes(std::size_t(N) * O * C); // cumulative spikes of each candidate
    std::vector<int> final_pred(static_cast<std::size_t>(N));
    RunOptions ro;
    ro.steps = o.steps;
    ro.threads = o.threads;
    const Engine engine(net, ro);
    for_each_sample(engine, val, o.threads, [&](std::int64_t i, SampleState& s) {
        std::vector<double> logits(static_cast<std::size_t>(classes));
        std::size_t oi = 0;
        const Engine::StepObserver on_step = [&](int done, const SampleState& st) {
            if (oi >= O || obs_steps[oi] != done) return;
            const std::size_t base = (std::size_t(i) * O + oi);
            for (std::size_t w = 0; w < W; ++w) {
                if (w < C) {
                    const Exit& e = res.classifiers[w];
                    std::fill(logits.begin(), logits.end(), 0.0);
                    const auto& cnt = st.counts[std::size_t(cand[w])];
                    for (std::size_t j = 0; j < cnt.size(); ++j)
                        if (cnt[j])
                            for (int c = 0; c < classes; ++c)
                                logits[std::size_t(c)] += double(cnt[j]) * e.weights[j * std::size_t(classes) + std::size_t(c)];
                    for (int c = 0; c < classes; ++c)
                        logits[std::size_t(c)] = logits[std::size_t(c)] / done + e.bias[std::size_t(c)];
                    spikes[base * C + w] = double(st.spike_total[std::size_t(cand[w])]);
                } else {
                    rate_logits(net.output(), st.counts[P - 1].data(), st.v[P - 1].data(), done, logits);
                }
                const auto p = softmax(logits);
                watch[base * W + w] = {int(std::max_element(logits.begin(), logits.end()) - logits.begin()),
                                       float(entropy(p)), float(*std::max_element(p.begin(), p.end()))};
            }
            for (std::size_t l = 0; l < P; ++l) ops[base * P + l] = double(st.synaptic_ops[l]);
            ++oi;
        };
        engine.run_sample(val.sample(i), i, s, nullptr, &on_step);
        final_pred[std::size_t(i)] = s.prediction;
    });

    // 3. Every configuration, scored from what was watched.
    const auto confident = [&](const Seen& w, double threshold) {
        return o.rule == ExitRule::Entropy ? double(w.entropy) < threshold : double(w.max_prob) > threshold;
    };
    const auto on_schedule = [&](std::size_t oi, int check) {
        return obs_steps[oi] == o.steps || (check > 0 && obs_steps[oi] % check == 0);
    };
    const auto score = [&](int ci, double th1, int k1, bool out_exit, double th2, int k2) {
        PlacePoint pt;
        if (ci >= 0) pt.depth_at = res.classifiers[std::size_t(ci)].at, pt.depth_threshold = th1, pt.depth_check = k1;
        pt.output_exit = out_exit, pt.output_threshold = th2, pt.output_check = k2;
        const std::size_t split = ci >= 0 ? std::size_t(cand[std::size_t(ci)]) : 0; // populations ≤ split: first segment
        double correct = 0, total_ops = 0, taken = 0, steps = 0;
        for (std::int64_t i = 0; i < N; ++i) {
            const std::size_t si = std::size_t(i);
            const auto prefix = [&](std::size_t oi, bool upto) {
                double sum = 0;
                for (std::size_t l = 0; l < P; ++l)
                    if ((l <= split) == upto) sum += ops[(si * O + oi) * P + l];
                return sum;
            };
            int pred = -1;
            if (ci >= 0) {
                double checks_made = 0;
                for (std::size_t oi = 0; oi < O && pred < 0; ++oi) {
                    if (!on_schedule(oi, k1)) continue;
                    ++checks_made;
                    const Seen& w = watch[(si * O + oi) * W + std::size_t(ci)];
                    if (confident(w, th1)) {
                        // Left here: the first segment ran to this step, the classifier added a
                        // row per spike and did `classes` multiply-adds per check.
                        pred = w.pred;
                        total_ops += prefix(oi, true) + spikes[(si * O + oi) * C + std::size_t(ci)] * classes +
                                     checks_made * classes;
                        taken += 1;
                        steps += obs_steps[oi];
                    }
                }
                if (pred < 0)
                    total_ops += prefix(O - 1, true) + spikes[(si * O + O - 1) * C + std::size_t(ci)] * classes +
                                 checks_made * classes;
            }
            if (pred < 0) {
                std::size_t stop = O - 1;
                if (out_exit)
                    for (std::size_t oi = 0; oi + 1 < O; ++oi) {
                        if (!on_schedule(oi, k2)) continue;
                        total_ops += classes;
                        if (confident(watch[(si * O + oi) * W + C], th2)) {
                            stop = oi;
                            break;
                        }
                    }
                pred = stop + 1 < O ? watch[(si * O + stop) * W + C].pred : final_pred[si];
                total_ops += prefix(stop, false);
                steps += obs_steps[stop];
            }
            correct += pred == val.y[si];
        }
        pt.accuracy = correct / double(N);
        pt.ops = total_ops / double(N);
        pt.taken_depth = taken / double(N);
        pt.mean_steps = steps / double(N);
        return pt;
    };
    res.baseline = score(-1, 0, 0, false, 0, 0);
    std::vector<PlacePoint> all{res.baseline};
    for (int ci = -1; ci < int(C); ++ci)
        for (double th1 : ci >= 0 ? thresholds : std::vector<double>{0})
            for (int k1 : ci >= 0 ? checks : std::vector<int>{0}) {
                if (ci >= 0) all.push_back(score(ci, th1, k1, false, 0, 0));
                if (o.temporal)
                    for (double th2 : thresholds)
                        for (int k2 : checks)
                            if (k2 > 0) all.push_back(score(ci, th1, k1, true, th2, k2));
            }
    std::vector<std::pair<double, double>> pts;
    for (const auto& p : all) pts.push_back({p.ops, p.accuracy});
    for (std::size_t i : pareto_front(pts)) res.front.push_back(all[i]);
    const double floor = res.baseline.accuracy - o.max_accuracy_drop / 100.0;
    for (std::size_t f = 0; f < res.front.size(); ++f)
        if (res.front[f].accuracy >= floor - 1e-12) {
            res.chosen = int(f);
            break;
        }
    char buf[200];
    std::snprintf(buf, sizeof buf, "scored %zu configurations on %lld validation samples of %s", all.size(), (long long)N,
                  val.name.c_str());
    res.log.push_back(buf);
    return res;
}

std::vector<Exit> exits_of(const PlacePoint& pt, const PlaceResult& res, const Network& net, ExitRule rule) {
    std::vector<Exit> exits;
    if (!pt.depth_at.empty()) {
        for (const Exit& e : res.classifiers)
            if (e.at == pt.depth_at) {
                Exit x = e;
                x.rule = rule;
                x.threshold = float(pt.depth_threshold);
                x.check_every = pt.depth_check;
                exits.push_back(std::move(x));
            }
    }
    if (pt.output_exit) {
        Exit x;
        x.name = "exit_output";
        x.at = net.output().name;
        x.rule = rule;
        x.threshold = float(pt.output_threshold);
        x.check_every = pt.output_check;
        exits.push_back(std::move(x));
    }
    return exits;
}

} // namespace snn
