#include "sim/calibrate.hpp"

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

} // namespace snn
