#include "sim/operating_point.hpp"

#include "snn/error.hpp"

#include <cmath>

namespace snn {

nlohmann::json operating_point(const Network& net, const Dataset& data, const RunResult& r, const RunInfo& info,
                               const nlohmann::json& report, double tolerance_points) {
    using json = nlohmann::json;
    if (!(tolerance_points >= 0) || !std::isfinite(tolerance_points))
        throw OptionError("tolerance", std::to_string(tolerance_points),
                          "tolerance must be a finite number of percentage points, at least 0");
    if (info.dnn_accuracy < 0 || r.samples == 0) return nullptr;
    const double n = double(r.samples);
    std::size_t c = 0;
    while (c < r.checkpoints.size() && double(r.correct_at[c]) / n < info.dnn_accuracy - tolerance_points / 100)
        ++c;
    if (c == r.checkpoints.size()) return nullptr;
    const int step = r.checkpoints[c];
    json at = report;
    if (step != info.options.steps) {
        RunInfo short_info = info;
        short_info.options.steps = step;
        short_info.options.progress = nullptr;
        short_info.options.record_samples = 0;
        const RunResult shorter = simulate(net, data, short_info.options);
        at = report_json(net, shorter, short_info);
    }
    json p{{"step", step},
           {"tolerance_points", tolerance_points},
           {"accuracy", at.at("accuracy")},
           {"dnn_accuracy", info.dnn_accuracy},
           {"spikes_per_sample", at.at("spikes_per_sample")},
           {"synaptic_ops_per_sample", at.at("synaptic_ops_per_sample")},
           {"energy_pj_per_sample", at.at("energy_pj_per_sample")},
           {"dnn_energy_pj_per_sample", at.at("dnn_energy_pj_per_sample")},
           {"counted_by", step == info.options.steps ? "this run" : "a run of the same samples for `step` steps"}};
    if (!net.devices.empty()) {
        double bytes = 0;
        for (const json& cut : at.at("cuts")) bytes += cut.at("bytes").get<double>();
        p["cut_bytes_per_sample"] = bytes;
    }
    return p;
}

} // namespace snn
