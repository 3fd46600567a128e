// DepthwiseConv2D: weights (kh, kw, in, M) read flat as (kh, kw, out), target
// channel o reading source channel o / M (snn/kinds/depthwise_conv2d.cpp).
#include "convert/dnn_kind.hpp"
#include "snn/window.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, depthwise_conv2d) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::DepthwiseConv2D,
        [](const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
            const int C = dst.c, M = dst.c / src.c;
            for (int oy = 0; oy < dst.h; ++oy)
                for (int ox = 0; ox < dst.w; ++ox) {
                    float* o = out + (std::int64_t(oy) * dst.w + ox) * C;
                    for_each_tap(p.window, src, oy, ox, [&](int y, int x, int ky, int kx) {
                        const float* a = in + (std::int64_t(y) * src.w + x) * src.c;
                        const float* k = p.weights.data() + (std::int64_t(ky) * p.window.kw + kx) * C;
                        for (int co = 0; co < C; ++co) o[co] += a[co / M] * k[co];
                    });
                }
        },
        [](const Projection& p, const Shape&, const Shape& dst, double ls, std::vector<double>& channel, std::vector<double>&) {
            const std::size_t C = std::size_t(dst.c);
            for (std::size_t k = 0; k < p.weights.size(); ++k) channel[k % C] += std::max(0.0f, p.weights[k]) * ls;
            return false;
        },
        [](Projection& p, const Shape&, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            const std::size_t Ct = lt.size(), M = lt.size() / ls.size();
            auto& w = p.weights;
            for (std::size_t k = 0; k < w.size(); ++k) w[k] = float(double(w[k]) * ls[(k % Ct) / M] / lt[k % Ct]);
        },
    });
}
