#include "sim/sim_kind.hpp"

SNN_KIND_REGISTRATION(sim, identity) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::Identity,
        [](const Projection& p, const Shape&, const Shape& dst, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const int C = dst.c;
            for (std::size_t k = 0; k < units.size(); ++k)
                current[units[k]] += (values ? values[k] : 1.0f) * p.weights[std::size_t(units[k] % C)];
            return std::int64_t(units.size());
        },
    });
}
