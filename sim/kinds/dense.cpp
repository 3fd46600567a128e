#include "sim/sim_kind.hpp"

SNN_KIND_REGISTRATION(sim, dense) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::Dense,
        [](const Projection& p, const Shape&, const Shape& dst, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const std::int64_t n_out = dst.size();
            for (std::size_t k = 0; k < units.size(); ++k) {
                const float* row = p.weights.data() + std::int64_t(units[k]) * n_out;
                const float a = values ? values[k] : 1.0f;
                if (values)
                    for (std::int64_t j = 0; j < n_out; ++j) current[j] += a * row[j];
                else
                    for (std::int64_t j = 0; j < n_out; ++j) current[j] += row[j];
            }
            return std::int64_t(units.size()) * n_out;
        },
    });
}
