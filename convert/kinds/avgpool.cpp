#include "convert/dnn_kind.hpp"
#include "snn/window.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, avgpool) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::AvgPool,
        [](const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
            for (int oy = 0; oy < dst.h; ++oy)
                for (int ox = 0; ox < dst.w; ++ox) {
                    float* o = out + (std::int64_t(oy) * dst.w + ox) * dst.c;
                    for_each_tap(p.window, src, oy, ox, [&](int y, int x, int, int) {
                        const float* a = in + (std::int64_t(y) * src.w + x) * src.c;
                        for (int c = 0; c < dst.c; ++c) o[c] += p.weights[std::size_t(c)] * a[c];
                    });
                }
        },
        [](const Projection& p, const Shape&, const Shape&, double ls, std::vector<double>& channel, std::vector<double>&) {
            for (std::size_t c = 0; c < channel.size(); ++c)
                channel[c] += std::max(0.0f, p.weights[c]) * p.window.kh * p.window.kw * ls;
            return false;
        },
        [](Projection& p, const Shape&, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            for (std::size_t c = 0; c < p.weights.size(); ++c) p.weights[c] = float(double(p.weights[c]) * ls[c] / lt[c]);
        },
    });
}
