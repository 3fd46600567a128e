// Upsample2D: a spike of source unit (y, x, c) reaches the fy × fx target
// units (y·fy + dy, x·fx + dx, c) that copy it.
#include "sim/sim_kind.hpp"

SNN_KIND_REGISTRATION(sim, upsample2d) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::Upsample2D,
        [](const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const int fy = dst.h / src.h, fx = dst.w / src.w, C = dst.c;
            for (std::size_t k = 0; k < units.size(); ++k) {
                const int u = units[k];
                const int c = u % C, x = (u / C) % src.w, y = u / (C * src.w);
                const float a = (values ? values[k] : 1.0f) * p.weights[std::size_t(c)];
                for (int dy = 0; dy < fy; ++dy)
                    for (int dx = 0; dx < fx; ++dx)
                        current[(std::int64_t(y * fy + dy) * dst.w + x * fx + dx) * C + c] += a;
            }
            return std::int64_t(units.size()) * fy * fx;
        },
    });
}
