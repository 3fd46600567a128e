#pragma once
// Spike records in NIR's recording format (NIRGraphData, written by
// nir.write_data and read by nir.read_data; ../shared/data/nir/NIR_FORMAT.md
// section 4), so that other NIR tools read snn's spike trains:
//
//   /                                  attr __type__ = "NIRGraphData"
//   /nodes/<population>                attr __type__ = "NIRNodeData"
//   /nodes/<population>/observables/spikes
//                                      attr __type__ = "EventData" (or
//                                      "ValuedEventData" where some spike is
//                                      negative: dataset value ±1)
//     idx  (samples, E) int64   the neuron of each event, −1 past a sample's last
//     time (samples, E) float64 its step (0-based; times are in steps, dt = 1), +inf past the last
//     attrs n_neurons (int64), t_max (float64: the steps run)
//
// E is the largest number of events of one sample. Neurons are numbered in
// NIR's order, (C, H, W) flattened, for a network whose input is channels-first
// (a NIR graph, a channels-first Keras model), else in the engine's (H, W, C).
#include "sim/engine.hpp"

#include <cstdint>
#include <string>

namespace snn {

void write_nir_spike_record(const std::string& path, const Network& net, const RunResult& r, int steps,
                            std::int64_t samples);

} // namespace snn
