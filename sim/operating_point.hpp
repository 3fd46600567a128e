#pragma once
// The operating point of a run (`snn run`, the report's "operating_point"):
// the first checkpoint step at which the SNN is within a tolerance of the
// DNN's accuracy, and what an input costs up to that step.
//
// The costs are counted, not scaled from the full run: the samples run again
// for exactly `step` steps (the same random streams, so the same spikes as
// the first `step` steps of the full run), and the operating point takes
// that run's synaptic operations, energy and cut bytes per input. Where the
// point is the run's last step, the run's own figures are taken.
#include "sim/report.hpp"
#include "snn/dataset.hpp"

#include <nlohmann/json.hpp>

namespace snn {

// null where the DNN's accuracy is unknown (info.dnn_accuracy < 0) or no
// checkpoint comes within `tolerance_points` percentage points of it.
// `report` is report_json(net, r, info) of the full run.
nlohmann::json operating_point(const Network& net, const Dataset& data, const RunResult& r, const RunInfo& info,
                               const nlohmann::json& report, double tolerance_points);

} // namespace snn
