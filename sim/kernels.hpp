#pragma once
// Event kernels: only the source units that spiked do work. For each listed
// unit the kernel adds its outgoing synapses to the target's input current
// and returns the number of synaptic operations (additions) it performed.
// The dense reference they are tested against is snn::accumulate_dense.
#include "snn/network.hpp"

#include <cstdint>
#include <span>

namespace snn {

// `values` may be null (every listed unit carries a spike of 1) or hold one
// value per listed unit (used once per sample to inject analog input current).
std::int64_t scatter(const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units,
                     const float* values, float* current);

} // namespace snn
