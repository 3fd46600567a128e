#pragma once
// What the engine needs of each projection kind (snn/kind.hpp): its
// reference event kernel, the plain scatter every faster kernel of that kind
// (sim/kernels.hpp, sim/layerwise.hpp, sim/binary_kernels.hpp) is tested
// against bit for bit. A kind with no faster kernel runs on it. Each kind
// registers its entry in sim/kinds/NAME.cpp with
// SNN_KIND_REGISTRATION(sim, NAME) { register_sim_kind({...}); }.
#include "snn/kind.hpp"

#include <cstdint>
#include <span>

namespace snn {

struct SimKind {
    ProjectionKind kind;
    // Adds the synapses of the listed source units (ascending) to `current`
    // (the target's units) and returns the additions made. `values` null:
    // each unit carries a spike of 1; else one value per listed unit (the
    // analog input of `current` encoding). Null for a max-pooling gate.
    std::int64_t (*scatter)(const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units,
                            const float* values, float* current) = nullptr;
};

void register_sim_kind(const SimKind& entry);
const SimKind& sim_kind(ProjectionKind kind);

} // namespace snn
