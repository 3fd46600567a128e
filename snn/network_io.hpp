#pragma once
// Our own network file, `.snn.h5`: a converted, normalized network that the
// simulator loads without the source model. The layout is versioned and
// documented field by field in docs/format.md.
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <string>

namespace snn {

inline constexpr const char* network_format_name = "snn-network";
// Version 2 adds exits, a partition and a learned layer (per-unit
// thresholds, winner-take-all inhibition, the assignment readout's labels,
// the steps and Poisson rate it was made for); a file without any is written as
// version 1, so that older readers still load it, and a file with them is
// refused by a reader that would silently drop them. Version 3 adds binary
// projections (bit-packed weights and scales, no float weights); only a file
// that has one is written as version 3. Version 4 adds depthwise projections;
// version 5 a channels-first input layout and bounded ReLUs (per-channel clip);
// version 6 a strict threshold (v > v_th, NIR's rule); version 7 quantized
// projections (bit-packed codes and scales, no float weights); version 8
// sparse (pruned) dense projections (compressed sparse rows); version 9
// 16-bit membranes (state_bits); version 10 nearest-upsampling projections;
// version 11 a compressive-sensing input stage (root attributes input_stage*);
// version 12 IDP profiles (idp_profile, idp_gamma per projection); version 13
// several IDP profiles (idp_ranges, idp_variants: 003 section III); version
// 14 a bias correction per population (bias_correction, SNN only) and
// synaptic currents (tau_syn_steps, NIR's CubaLIF).
inline constexpr std::int64_t network_format_version = 14;

// Validates `net`, then writes it through a temporary file renamed over
// `path`, so a failed save never leaves a partial file. Throws snn::Error.
void save(const Network& net, const std::string& path);

// Reads a network written by save() (this or an older format version) and
// validates it. Every failure (missing file, not HDF5, not ours, newer
// version, corrupt data, above `budget`) is an snn::Error naming `path`.
Network load(const std::string& path, const MemoryBudget& budget = {});

} // namespace snn
