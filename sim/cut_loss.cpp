#include "sim/cut_loss.hpp"

#include "convert/dnn.hpp"
#include "sim/encode.hpp"
#include "sim/plan.hpp"
#include "snn/error.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace snn {

namespace {

// A number that is all of s, or NaN.
double number(const std::string& s) {
    if (s.empty()) return std::nan("");
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() ? x : std::nan("");
}

std::string shortest(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    for (int digits = 1; digits <= 17; ++digits) {
        char b[32];
        std::snprintf(b, sizeof b, "%.*g", digits, x);
        if (std::strtod(b, nullptr) == x) return b;
    }
    return buf;
}

} // namespace

std::string CutLoss::str() const {
    switch (kind) {
    case Kind::None: return "none";
    case Kind::Spikes: return shortest(p);
    case Kind::Burst: return "burst:" + shortest(p) + ":" + shortest(burst);
    }
    return "?";
}

CutLoss cut_loss_from(const std::string& s) {
    const auto fail = [&](const std::string& why) -> CutLoss {
        throw OptionError("cut-loss", s, "cut-loss '" + s + "': " + why);
    };
    CutLoss loss;
    if (s == "none") return loss;
    if (s.rfind("burst:", 0) == 0) {
        const std::string rest = s.substr(6);
        const std::size_t colon = rest.find(':');
        if (colon == std::string::npos) return fail("expected burst:P:L (P the share of steps lost, L the mean burst length)");
        loss.kind = CutLoss::Kind::Burst;
        loss.p = number(rest.substr(0, colon));
        loss.burst = number(rest.substr(colon + 1));
        if (!(loss.p >= 0 && loss.p < 1)) return fail("P must be a number in [0, 1)");
        if (!(loss.burst >= 1 && std::isfinite(loss.burst))) return fail("L must be a number of steps, at least 1");
        if (loss.p > loss.burst / (loss.burst + 1))
            return fail("P must be at most L / (L + 1): bursts of mean length L cannot take more of the steps");
        return loss;
    }
    loss.kind = CutLoss::Kind::Spikes;
    loss.p = number(s);
    if (!(loss.p >= 0 && loss.p < 1)) return fail("expected none, a probability P in [0, 1) or burst:P:L");
    return loss;
}

void lost_messages(const CutLoss& loss, std::uint64_t seed, std::uint64_t sample, std::uint64_t cut, int steps,
                   std::vector<std::uint8_t>& lost) {
    lost.assign(std::size_t(steps), 0);
    if (loss.kind != CutLoss::Kind::Burst || loss.p <= 0) return;
    // Leave the lossy state with probability 1/L, enter it with q: in the
    // long run it holds q / (q + 1/L) = p of the steps.
    const double leave = 1.0 / loss.burst, enter = loss.p / (loss.burst * (1.0 - loss.p));
    const std::uint64_t stream = cut_loss_stream(cut);
    bool bad = uniform_draw(seed, sample, stream, 0, 0) < loss.p;
    for (int t = 0; t < steps; ++t) {
        if (t > 0) {
            const double u = uniform_draw(seed, sample, stream, std::uint64_t(t), 0);
            bad = bad ? !(u < leave) : u < enter;
        }
        lost[std::size_t(t)] = bad;
    }
}

double dnn_accuracy_under_loss(const Network& net, const Dataset& data, const CutLoss& loss, std::uint64_t seed, int threads,
                               std::vector<int>* predictions) {
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() + " but the network's input is " +
                    net.input().shape.str());
    const std::vector<Cut> cuts = find_cuts(net);
    const std::size_t P = net.populations.size();
    const std::int64_t n = data.size();
    std::vector<int> pred(static_cast<std::size_t>(n));
    tbb::task_arena arena(std::max(threads, 1));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& range) {
            std::vector<std::vector<float>> act(P), lossy;
            for (std::int64_t sample = range.begin(); sample < range.end(); ++sample) {
                act[0].assign(data.sample(sample), data.sample(sample) + net.input().shape.size());
                for (std::size_t i = 1; i < P; ++i) {
                    // The sources across a cut, as the receiving device got them.
                    std::vector<std::pair<std::size_t, std::vector<float>>> swapped;
                    for (std::size_t c = 0; c < cuts.size() && loss.active(); ++c) {
                        const Cut& cut = cuts[c];
                        if (cut.to != net.devices[i]) continue;
                        const StepDraws draw(seed, std::uint64_t(sample), dnn_loss_stream(c), 0);
                        const bool message_lost = loss.kind == CutLoss::Kind::Burst && draw(0) < float(loss.p);
                        for (std::size_t k = 0; k < cut.sources.size(); ++k) {
                            const auto src = std::size_t(cut.sources[k]);
                            bool read = false;
                            for (const Projection& p : net.populations[i].projections) read |= std::size_t(p.source) == src;
                            if (!read) continue;
                            std::vector<float> got = act[src];
                            for (std::size_t u = 0; u < got.size(); ++u)
                                if (message_lost ||
                                    (loss.kind == CutLoss::Kind::Spikes && draw(std::uint64_t(cut.base[k]) + u) < float(loss.p)))
                                    got[u] = 0.0f;
                            std::swap(act[src], got);
                            swapped.emplace_back(src, std::move(got));
                        }
                    }
                    forward_population(net, i, act);
                    for (auto& [src, kept] : swapped) std::swap(act[src], kept);
                }
                pred[std::size_t(sample)] = argmax(act.back());
            }
        });
    });
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; ++i) correct += pred[std::size_t(i)] == data.y[std::size_t(i)];
    if (predictions) *predictions = std::move(pred);
    return n > 0 ? double(correct) / double(n) : 0.0;
}

} // namespace snn
