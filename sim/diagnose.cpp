#include "sim/diagnose.hpp"

#include "convert/dnn.hpp"
#include "sim/engine.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cmath>

namespace snn {

namespace {

// Running sums for Pearson's correlation and the errors of y against x.
struct Pairs {
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, err = 0, abs_err = 0, abs_x = 0;
    void add(double x, double y) {
        n += 1;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
        err += y - x;
        abs_err += std::abs(y - x);
        abs_x += std::abs(x);
    }
    // null where either side is constant (no correlation is defined)
    nlohmann::json correlation() const {
        const double vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
        if (!(vx > 0) || !(vy > 0)) return nullptr;
        return std::clamp((n * sxy - sx * sy) / std::sqrt(vx * vy), -1.0, 1.0);
    }
    double mean_error() const { return n > 0 ? err / n : 0.0; }
    double mean_abs_error() const { return n > 0 ? abs_err / n : 0.0; }
    // Σ|y − x| / Σ|x|; 0 where both are all zero
    double relative_error() const { return abs_x > 0 ? abs_err / abs_x : (abs_err > 0 ? 1.0 : 0.0); }
};

constexpr std::size_t max_points = 256; // per population, for the scatter plot

} // namespace

nlohmann::json diagnose(const Network& original, const Dataset& data, const RunOptions& options, std::int64_t samples,
                        const std::vector<int>& predictions) {
    using json = nlohmann::json;
    if (samples < 1) throw OptionError("diagnose", std::to_string(samples), "diagnose must be at least 1 (samples)");
    Network net = original;
    net.exits.clear(); // every sample runs to the last step
    RunOptions opt = options;
    opt.record_samples = 0;
    opt.progress = nullptr;
    opt.step_batches = false; // one stage: every population's counts are at step t when the observer sees them
    opt.layer_by_layer = false;
    const Engine engine(net, opt);
    if (engine.readout_kind() == Readout::Assignment)
        throw OptionError("diagnose", std::to_string(samples),
                          "diagnose compares a network with its DNN; a network read by assignment (learned by STDP) "
                          "has none");
    if (engine.plan(Watch::Observe).stages.size() != 1)
        throw InternalError("diagnose: the observed plan has more than one stage");
    const int T = opt.steps;
    const std::vector<int>& checkpoints = engine.checkpoints();
    const std::size_t P = net.populations.size(), C = checkpoints.size();
    const std::size_t out = P - 1;
    const bool membrane = engine.readout_kind() == Readout::Membrane;
    const std::int64_t K = std::min(samples, data.size());

    std::vector<Pairs> global(P), local(P);
    std::vector<std::vector<Pairs>> by_step(P, std::vector<Pairs>(C));
    std::vector<double> saturated(P, 0), pairs(P, 0);
    std::vector<std::vector<std::uint8_t>> ever_fired(P);
    std::vector<json> points(P, json::array());
    for (std::size_t i = 0; i < P; ++i) ever_fired[i].assign(std::size_t(net.populations[i].shape.size()), 0);

    SampleState s;
    engine.init(s);
    std::vector<std::vector<float>> rates(P); // the SNN's values at the step observed, in rate units
    for (std::int64_t k = 0; k < K; ++k) {
        const float* x = data.sample(k);
        const std::vector<std::vector<float>> dnn = forward(net, x);
        std::size_t c = 0;
        // The SNN's value of population i after t steps, in rate units (λ = 1).
        const auto value = [&](const SampleState& st, std::size_t i, std::size_t j, int t) {
            if (i == out && membrane) {
                const NeuronParams& np = net.populations[i].neuron;
                return (double(st.v[i][j]) - double(np.v_init) * double(np.v_th)) / t;
            }
            return double(st.counts[i][j]) / t;
        };
        const Engine::StepObserver observe = [&](int t, const SampleState& st) {
            if (c >= C || checkpoints[c] != t) return;
            for (std::size_t i = 1; i < P; ++i) {
                const double lambda = net.populations[i].scale;
                for (std::size_t j = 0; j < dnn[i].size(); ++j)
                    by_step[i][c].add(lambda * dnn[i][j], lambda * value(st, i, j, t));
            }
            ++c;
            if (t != T) return;
            for (std::size_t i = 1; i < P; ++i) {
                rates[i].resize(dnn[i].size());
                for (std::size_t j = 0; j < dnn[i].size(); ++j) rates[i][j] = float(value(st, i, j, t));
            }
            for (std::size_t i = 1; i < P; ++i)
                for (std::size_t j = 0; j < dnn[i].size(); ++j) {
                    if (st.counts[i][j] != 0) ever_fired[i][j] = 1;
                    saturated[i] += st.counts[i][j] >= T;
                    pairs[i] += 1;
                }
        };
        engine.run_sample(x, k, s, nullptr, &observe);
        // The input's rates are the DNN's input (pixels) with either encoding.
        rates[0] = dnn[0];
        // The DNN's activation of each population from the SNN's own input
        // rates: act holds the rates, but for the population being computed.
        std::vector<std::vector<float>> act = rates;
        for (std::size_t i = 1; i < P; ++i) {
            const double lambda = net.populations[i].scale;
            const std::size_t n = dnn[i].size();
            // Evenly spaced units of every sample, up to max_points in all.
            const std::size_t per_sample = std::max<std::size_t>(1, max_points / std::size_t(K));
            const std::size_t stride = std::max<std::size_t>(1, n / per_sample);
            for (std::size_t j = 0; j < n; ++j) {
                global[i].add(lambda * dnn[i][j], lambda * rates[i][j]);
                if (j % stride == 0 && points[i].size() < max_points)
                    points[i].push_back({lambda * dnn[i][j], lambda * rates[i][j]});
            }
            forward_population(net, i, act);
            for (std::size_t j = 0; j < n; ++j) local[i].add(lambda * act[i][j], lambda * rates[i][j]);
            act[i] = rates[i]; // what the populations reading it take
        }
    }

    json layers = json::array();
    std::string worst;
    double worst_error = -1;
    for (std::size_t i = 1; i < P; ++i) {
        const Population& pop = net.populations[i];
        json steps = json::array();
        for (std::size_t c = 0; c < C; ++c)
            steps.push_back({{"step", checkpoints[c]}, {"mean_abs_error", by_step[i][c].mean_abs_error()}});
        const double fired = double(std::count(ever_fired[i].begin(), ever_fired[i].end(), 1));
        const bool read_as_membrane = i == out && membrane;
        layers.push_back({{"name", pop.name},
                          {"kind", to_string(pop.kind)},
                          {"lambda", pop.scale},
                          {"value", read_as_membrane ? "membrane" : "rate"},
                          {"correlation", global[i].correlation()},
                          {"mean_error", global[i].mean_error()},
                          {"mean_abs_error", global[i].mean_abs_error()},
                          {"error_by_step", steps},
                          {"saturated_fraction", read_as_membrane ? 0.0 : saturated[i] / std::max(pairs[i], 1.0)},
                          {"silent_fraction", read_as_membrane ? 0.0 : 1.0 - fired / double(ever_fired[i].size())},
                          {"local_correlation", local[i].correlation()},
                          {"local_relative_error", local[i].relative_error()},
                          {"points", points[i]}});
        if (local[i].relative_error() > worst_error) {
            worst_error = local[i].relative_error();
            worst = pop.name;
        }
    }
    json j{{"samples", K}, {"steps", T}, {"layers", layers}, {"worst_layer", worst}};
    if (!predictions.empty()) {
        int classes = int(net.output().shape.size());
        for (int y : data.y) classes = std::max(classes, y + 1);
        std::vector<std::vector<std::int64_t>> m(std::size_t(classes), std::vector<std::int64_t>(std::size_t(classes), 0));
        const std::size_t n = std::min(predictions.size(), data.y.size());
        for (std::size_t k = 0; k < n; ++k)
            if (predictions[k] >= 0 && predictions[k] < classes) ++m[std::size_t(data.y[k])][std::size_t(predictions[k])];
        j["confusion"] = m; // rows: the label, columns: the prediction, over every sample of the run
    }
    return j;
}

} // namespace snn
