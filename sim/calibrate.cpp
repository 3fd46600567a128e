#include "sim/calibrate.hpp"

#include "convert/dnn.hpp"
#include "convert/normalize.hpp"
#include "sim/engine.hpp"
#include "sim/readout.hpp"
#include "snn/error.hpp"

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

CalibrateScore score(const Network& net, const Dataset& data, int steps, int threads) {
    RunOptions opt;
    opt.steps = steps;
    opt.threads = threads;
    const Engine engine(net, opt);
    const std::size_t out = net.populations.size() - 1;
    const std::int64_t n = data.size();
    std::vector<int> right(std::size_t(n), 0);
    std::vector<double> loss(std::size_t(n), 0.0);
    tbb::enumerable_thread_specific<SampleState> states([&] {
        SampleState s;
        engine.init(s);
        return s;
    });
    tbb::task_arena arena(threads);
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 8), [&](const auto& r) {
            SampleState& s = states.local();
            std::vector<double> logit;
            for (std::int64_t i = r.begin(); i < r.end(); ++i) {
                engine.run_sample(data.sample(i), i, s, nullptr);
                const int label = data.y[std::size_t(i)];
                right[std::size_t(i)] = engine.readout(s) == label;
                // The DNN logits the output's rates stand for.
                rate_logits(net.output(), s.counts[out].data(), s.v[out].data(), steps, logit);
                const std::size_t classes = logit.size();
                double top = -std::numeric_limits<double>::infinity();
                for (double z : logit) top = std::max(top, z);
                double sum = 0;
                for (double z : logit) sum += std::exp(z - top);
                const double wanted = label >= 0 && std::size_t(label) < classes ? logit[std::size_t(label)] : top;
                loss[std::size_t(i)] = top + std::log(sum) - wanted;
            }
        });
    });
    CalibrateScore sc;
    for (std::int64_t i = 0; i < n; ++i) {
        sc.correct += right[std::size_t(i)];
        sc.loss += loss[std::size_t(i)];
    }
    sc.loss /= double(std::max<std::int64_t>(n, 1));
    return sc;
}

std::string describe(const CalibrateScore& s, std::int64_t n) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "loss %.4f, %.2f %% correct", s.loss, 100.0 * double(s.correct) / double(n));
    return buf;
}

} // namespace

CalibrateScore calibration_score(const Network& net, const Dataset& data, int steps, int threads) {
    return score(net, data, steps, threads);
}

CalibrateResult calibrate_steps(Network& net, const Dataset& data, const CalibrateOptions& options) {
    if (options.steps < 1)
        throw OptionError("calibrate-steps", std::to_string(options.steps), "calibrate-steps must be at least 1");
    if (data.size() == 0) throw DataError(data.name, "calibration data '" + data.name + "' is empty");
    if (data.shape.size() != net.input().shape.size())
        throw DataError(data.name, "calibration data '" + data.name + "' has samples of shape " + data.shape.str() +
                                       " but the network's input is " + net.input().shape.str());
    const int threads = std::max(options.threads, 1);
    CalibrateResult result;
    result.factors.assign(net.populations.size(), 1.0);
    result.before = score(net, data, options.steps, threads);
    CalibrateScore best = result.before;
    // Candidates nearest 1 first, so that a tie keeps the smaller change.
    std::vector<double> grid = options.factors;
    std::sort(grid.begin(), grid.end(),
              [](double a, double b) { return std::abs(std::log(a)) < std::abs(std::log(b)); });
    const std::size_t last = net.populations.size() - 1;
    for (std::size_t l = 1; l < net.populations.size(); ++l) {
        if (net.populations[l].kind != PopulationKind::Spiking) continue;
        if (is_relay(net.populations[l]) && l != last) continue; // its λ follows its source's
        // A non-spiking integrator's λ only scales every output alike.
        if (l == last && net.readout == Readout::Membrane) continue;
        double chosen = 1.0;
        for (double m : grid) {
            if (!(m > 0) || m == 1.0) continue;
            Network trial = net;
            rescale_population(trial, l, m);
            const CalibrateScore s = score(trial, data, options.steps, threads);
            if (s.better_than(best)) {
                best = s;
                chosen = m;
            }
        }
        if (chosen != 1.0) rescale_population(net, l, chosen);
        result.factors[l] = chosen;
        char buf[200];
        std::snprintf(buf, sizeof buf, "%-24s lambda x %.2f -> %s", net.populations[l].name.c_str(), chosen,
                      describe(best, data.size()).c_str());
        result.log.push_back(buf);
    }
    result.after = best;
    return result;
}

namespace {

// Whether calibrate_biases corrects population i: a spiking layer, but not
// a relay (its spikes are copies of its source's, which is corrected).
bool bias_calibrated(const Network& net, std::size_t i) {
    const Population& pop = net.populations[i];
    return i > 0 && pop.kind == PopulationKind::Spiking && !pop.projections.empty() && !is_relay(pop);
}

} // namespace

BiasCalibrationResult calibrate_biases(Network& net, const Dataset& data, const BiasCalibrationOptions& options) {
    if (options.steps < 1)
        throw OptionError("calibrate-bias", std::to_string(options.steps), "calibrate-bias must be at least 1 (steps)");
    if (data.size() == 0) throw DataError(data.name, "calibration data '" + data.name + "' is empty");
    if (data.shape.size() != net.input().shape.size())
        throw DataError(data.name, "calibration data '" + data.name + "' has samples of shape " + data.shape.str() +
                                       " but the network's input is " + net.input().shape.str());
    if (net.readout == Readout::Assignment)
        throw OptionError("calibrate-bias", std::to_string(options.steps),
                          "a network read by assignment (learned by STDP) has no DNN to calibrate against");
    if (!net.idp_ranges.empty())
        throw OptionError("calibrate-bias", std::to_string(options.steps),
                          "a network with several IDP profiles runs other layers per profile; bias calibration "
                          "corrects one set of layers");
    const std::size_t P = net.populations.size(), out = P - 1;
    const int T = options.steps;
    const int threads = std::max(options.threads, 1);
    const std::int64_t n = data.size();
    const bool membrane = net.readout == Readout::Membrane;
    BiasCalibrationResult result;
    // The DNN's mean activation per channel, in rate units (capped at one
    // spike per step but for a membrane output), over every sample and unit.
    std::vector<std::size_t> offset(P, 0);
    std::size_t channels = 0;
    for (std::size_t i = 0; i < P; ++i) {
        offset[i] = channels;
        channels += std::size_t(net.populations[i].shape.c);
    }
    const auto per_sample = [&](auto&& body) {
        std::vector<std::vector<double>> sums(static_cast<std::size_t>(n));
        tbb::task_arena arena(threads);
        arena.execute([&] {
            tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4), [&](const auto& r) {
                for (std::int64_t k = r.begin(); k < r.end(); ++k) body(k, sums[std::size_t(k)]);
            });
        });
        // Added in sample order: the same sums whatever thread ran which sample.
        std::vector<double> total(sums.empty() ? 0 : sums[0].size(), 0.0);
        for (const auto& v : sums)
            for (std::size_t j = 0; j < v.size(); ++j) total[j] += v[j];
        return total;
    };
    const std::vector<double> target = per_sample([&](std::int64_t k, std::vector<double>& sum) {
        sum.assign(channels, 0.0);
        const std::vector<std::vector<float>> a = forward(net, data.sample(k));
        for (std::size_t i = 1; i < P; ++i) {
            const std::size_t C = std::size_t(net.populations[i].shape.c);
            const bool capped = !(i == out && membrane);
            for (std::size_t j = 0; j < a[i].size(); ++j)
                sum[offset[i] + j % C] += capped ? std::min(double(a[i][j]), 1.0) : double(a[i][j]);
        }
    });
    // Front to back: each layer's correction is measured with every layer
    // before it already corrected, on the network up to it.
    double total = 0;
    int layers = 0;
    for (std::size_t l = 1; l < P; ++l) {
        if (!bias_calibrated(net, l)) continue;
        Network prefix = net;
        prefix.populations.resize(l + 1);
        prefix.exits.clear();
        prefix.devices.clear();
        if (l != out) prefix.readout = Readout::Spikes; // the layer fires as it does inside the network
        RunOptions opt;
        opt.steps = T;
        opt.threads = threads;
        const Engine engine(prefix, opt);
        tbb::enumerable_thread_specific<SampleState> states([&] {
            SampleState s;
            engine.init(s);
            return s;
        });
        const Population& pop = net.populations[l];
        const std::size_t C = std::size_t(pop.shape.c);
        const std::vector<double> got = per_sample([&](std::int64_t k, std::vector<double>& sum) {
            SampleState& s = states.local();
            engine.run_sample(data.sample(k), k, s, nullptr);
            sum.assign(C, 0.0);
            for (std::size_t j = 0; j < s.counts[l].size(); ++j)
                sum[j % C] += l == out && membrane
                                  ? (double(s.v[l][j]) - double(pop.neuron.v_init) * double(pop.neuron.v_th)) / T
                                  : double(s.counts[l][j]) / T;
        });
        const double units = double(n) * double(pop.shape.size() / pop.shape.c);
        Population& mut = net.populations[l];
        if (mut.bias_correction.empty()) mut.bias_correction.assign(C, 0.0f);
        double layer_error = 0;
        for (std::size_t c = 0; c < C; ++c) {
            const double e = (target[offset[l] + c] - got[c]) / units;
            layer_error += std::abs(e);
            mut.bias_correction[c] = float(double(mut.bias_correction[c]) + double(mut.neuron.v_th) * e);
        }
        layer_error /= double(C);
        total += layer_error;
        ++layers;
        char buf[200];
        std::snprintf(buf, sizeof buf, "%-24s mean |channel error| %.5f (rate units)", pop.name.c_str(), layer_error);
        result.log.push_back(buf);
    }
    result.mean_error = layers > 0 ? total / layers : 0.0;
    return result;
}

} // namespace snn
