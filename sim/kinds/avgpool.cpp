#include "sim/sim_kind.hpp"
#include "snn/window.hpp"

SNN_KIND_REGISTRATION(sim, avgpool) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::AvgPool,
        [](const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const int C = src.c;
            std::int64_t ops = 0;
            for (std::size_t k = 0; k < units.size(); ++k) {
                const int u = units[k];
                const int c = u % C, x = (u / C) % src.w, y = u / (C * src.w);
                const float a = (values ? values[k] : 1.0f) * p.weights[std::size_t(c)];
                for_each_covering_window(p.window, dst, y, x, [&](int oy, int ox, int, int) {
                    current[(std::int64_t(oy) * dst.w + ox) * C + c] += a;
                    ++ops;
                });
            }
            return ops;
        },
    });
}
