#include "sim/report.hpp"

#include "snn/error.hpp"
#include "snn/h5.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace snn {

nlohmann::json report_json(const Network& net, const RunResult& r, const RunInfo& info) {
    using json = nlohmann::json;
    const double n = double(std::max<std::int64_t>(r.samples, 1));
    const int steps = info.options.steps;
    json j;
    j["network"] = info.network;
    j["data"] = info.data;
    j["samples"] = r.samples;
    j["steps"] = steps;
    j["encode"] = to_string(info.options.encode);
    j["readout"] = to_string(r.readout);
    if (info.options.encode == Encoding::Poisson) j["max_rate"] = info.options.max_rate;
    j["seed"] = info.options.seed;
    j["threads"] = info.options.threads;
    j["accuracy"] = r.samples ? double(r.correct_at.back()) / n : 0.0;
    j["dnn_accuracy"] = info.dnn_accuracy >= 0 ? json(info.dnn_accuracy) : json(nullptr);
    if (!info.dnn_predictions.empty() && info.dnn_predictions.size() == r.predictions.size()) {
        // Fraction of samples on which the SNN's answer equals the DNN's, right or wrong.
        std::int64_t same = 0;
        for (std::size_t i = 0; i < r.predictions.size(); ++i) same += r.predictions[i] == info.dnn_predictions[i];
        j["dnn_agreement"] = double(same) / n;
    } else {
        j["dnn_agreement"] = nullptr;
    }
    json by_step = json::array();
    for (std::size_t c = 0; c < r.checkpoints.size(); ++c)
        by_step.push_back({{"step", r.checkpoints[c]}, {"accuracy", double(r.correct_at[c]) / n}});
    j["accuracy_by_step"] = by_step;
    json layers = json::array();
    double total_ops = 0, total_spikes = 0;
    for (std::size_t l = 0; l < net.populations.size(); ++l) {
        const Population& pop = net.populations[l];
        if (pop.kind == PopulationKind::Input && info.options.encode == Encoding::Current) continue;
        const double neurons = double(pop.shape.size());
        json e;
        e["name"] = pop.name;
        e["kind"] = to_string(pop.kind);
        e["neurons"] = pop.shape.size();
        e["spikes_per_sample"] = r.spikes[l] / n;
        e["spike_rate"] = r.spikes[l] / n / (neurons * steps);
        e["synaptic_ops_per_sample"] = r.synaptic_ops[l] / n;
        layers.push_back(e);
        total_ops += r.synaptic_ops[l] / n;
        if (pop.kind != PopulationKind::Input) total_spikes += r.spikes[l] / n;
    }
    j["layers"] = layers;
    j["spikes_per_sample"] = total_spikes;
    j["synaptic_ops_per_sample"] = total_ops;
    j["seconds"] = r.seconds;
    j["samples_per_second"] = r.seconds > 0 ? double(r.samples) / r.seconds : 0.0;
    return j;
}

std::string report_table(const nlohmann::json& j) {
    std::ostringstream o;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-22s %10s %14s %10s %16s\n", "layer", "neurons", "spikes/sample", "rate",
                  "synops/sample");
    o << buf;
    for (const auto& l : j["layers"]) {
        std::snprintf(buf, sizeof buf, "%-22s %10lld %14.1f %10.4f %16.0f\n", l["name"].get<std::string>().c_str(),
                      (long long)l["neurons"].get<std::int64_t>(), l["spikes_per_sample"].get<double>(),
                      l["spike_rate"].get<double>(), l["synaptic_ops_per_sample"].get<double>());
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "%-22s %10s %14.1f %10s %16.0f\n", "total", "", j["spikes_per_sample"].get<double>(),
                  "", j["synaptic_ops_per_sample"].get<double>());
    o << buf << "\naccuracy by step:";
    for (const auto& a : j["accuracy_by_step"]) {
        std::snprintf(buf, sizeof buf, "  %d: %.2f%%", a["step"].get<int>(), 100 * a["accuracy"].get<double>());
        o << buf;
    }
    o << "\n";
    std::snprintf(buf, sizeof buf, "SNN accuracy %.2f%% after %d steps (%s encoding), %lld samples\n",
                  100 * j["accuracy"].get<double>(), j["steps"].get<int>(), j["encode"].get<std::string>().c_str(),
                  (long long)j["samples"].get<std::int64_t>());
    o << buf;
    if (!j["dnn_accuracy"].is_null()) {
        std::snprintf(buf, sizeof buf, "DNN accuracy %.2f%% (same network, ReLU instead of spikes)\n",
                      100 * j["dnn_accuracy"].get<double>());
        o << buf;
    }
    if (!j["dnn_agreement"].is_null()) {
        std::snprintf(buf, sizeof buf, "SNN and DNN agree on %.2f%% of samples\n", 100 * j["dnn_agreement"].get<double>());
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "%.1f samples/s on %d thread(s)\n", j["samples_per_second"].get<double>(),
                  j["threads"].get<int>());
    o << buf;
    return o.str();
}

void write_text_atomically(const std::string& path, const std::string& text) {
    AtomicOutput out(path);
    {
        std::ofstream f(out.temp_path(), std::ios::binary);
        if (!f) throw Error(path + ": cannot write");
        f << text;
        f.flush();
        if (!f) throw Error(path + ": write failed");
    }
    out.commit();
}

void write_spike_record(const std::string& path, const Network& net, const RunResult& r, int steps,
                        std::int64_t samples) {
    AtomicOutput out(path);
    {
        h5::Node f = h5::create_file(out.temp_path());
        h5::write_attr(f, "steps", std::int64_t(steps));
        h5::write_attr(f, "samples", samples);
        const std::size_t P = net.populations.size();
        std::vector<std::vector<std::int32_t>> sample(P), neuron(P), step(P), sign(P);
        for (const Spike& s : r.recorded) {
            sample[std::size_t(s.population)].push_back(s.sample);
            neuron[std::size_t(s.population)].push_back(s.neuron);
            step[std::size_t(s.population)].push_back(s.step);
            sign[std::size_t(s.population)].push_back(s.sign);
        }
        for (std::size_t l = 0; l < P; ++l) {
            const Population& pop = net.populations[l];
            if (h5::exists(f, pop.name)) continue;
            h5::Node g = h5::create_group(f, pop.name);
            h5::write_attr(g, "neurons", pop.shape.size());
            h5::write_attr(g, "shape", std::vector<std::int64_t>{pop.shape.h, pop.shape.w, pop.shape.c});
            const std::vector<std::uint64_t> dims{sample[l].size()};
            h5::write_ints32(g, "sample", sample[l], dims);
            h5::write_ints32(g, "neuron", neuron[l], dims);
            h5::write_ints32(g, "step", step[l], dims);
            h5::write_ints32(g, "sign", sign[l], dims);
        }
    }
    out.commit();
}

} // namespace snn
