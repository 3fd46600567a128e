// DepthwiseConv2D: a spike of source channel c adds, in every window covering
// its pixel, the M kernel values of target channels c·M … c·M + M − 1.
#include "sim/sim_kind.hpp"
#include "snn/window.hpp"

SNN_KIND_REGISTRATION(sim, depthwise_conv2d) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::DepthwiseConv2D,
        [](const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const int cin = src.c, cout = dst.c, M = dst.c / src.c, kw = p.window.kw;
            std::int64_t ops = 0;
            for (std::size_t k = 0; k < units.size(); ++k) {
                const int u = units[k];
                const int ci = u % cin, x = (u / cin) % src.w, y = u / (cin * src.w);
                const float a = values ? values[k] : 1.0f;
                for_each_covering_window(p.window, dst, y, x, [&](int oy, int ox, int ky, int kx) {
                    const float* kr = p.weights.data() + (std::int64_t(ky) * kw + kx) * cout + std::int64_t(ci) * M;
                    float* o = current + (std::int64_t(oy) * dst.w + ox) * cout + std::int64_t(ci) * M;
                    for (int m = 0; m < M; ++m) o[m] += a * kr[m];
                    ops += M;
                });
            }
            return ops;
        },
    });
}
