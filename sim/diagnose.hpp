#pragma once
// Where a converted network departs from its DNN (`snn run --diagnose K`).
//
// On the first K samples, every population's firing rates (spike count / t
// after t steps) times its λ (Population::scale) are set against the DNN's
// activations of the same population, in the DNN's own units:
//   correlation, mean error, mean |error|   at the last step, over samples × units
//   error_by_step                           mean |error| at every checkpoint step
//   saturated_fraction                      (sample, unit) pairs that spiked at every step
//   silent_fraction                         units that never spiked on any of the K samples
// Errors add up along the network, so these figures grow with depth after
// the first layer that goes wrong. The population at fault is found by a
// local comparison: the DNN's activation of the population computed from the
// SNN's own input rates (its sources' rates), against its rates;
// local_relative_error = Σ|rate − local| / Σ|local|. `worst_layer` is the
// population with the largest local relative error: where the SNN adds most
// of its departure from the DNN.
//
// The output population read as a membrane (a non-spiking integrator) is
// compared by (v − v_init·v_th) / t, the mean input current it integrated.
// Exits are left out: the diagnosis runs every sample to the last step.
#include "sim/options.hpp"
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace snn {

// The report's "diagnosis" (keys in docs/report.schema.json) for the first
// `samples` samples of `data` (all of them if fewer), at options.steps steps.
// `predictions`, if not empty, are the run's predictions per sample: the
// diagnosis adds their confusion matrix against the labels (all samples).
nlohmann::json diagnose(const Network& net, const Dataset& data, const RunOptions& options, std::int64_t samples,
                        const std::vector<int>& predictions = {});

} // namespace snn
