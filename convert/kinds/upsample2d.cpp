// Upsample2D: target unit (y, x, c) reads source unit (y / fy, x / fx, c),
// fy = dst.h / src.h, fx = dst.w / src.w (snn/kinds/upsample2d.cpp).
#include "convert/dnn_kind.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, upsample2d) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::Upsample2D,
        [](const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
            const int fy = dst.h / src.h, fx = dst.w / src.w, C = dst.c;
            for (int y = 0; y < dst.h; ++y)
                for (int x = 0; x < dst.w; ++x) {
                    const float* a = in + (std::int64_t(y / fy) * src.w + x / fx) * C;
                    float* o = out + (std::int64_t(y) * dst.w + x) * C;
                    for (int c = 0; c < C; ++c) o[c] += p.weights[std::size_t(c)] * a[c];
                }
        },
        [](const Projection& p, const Shape&, const Shape&, double ls, std::vector<double>& channel, std::vector<double>&) {
            for (std::size_t c = 0; c < channel.size(); ++c) channel[c] += std::max(0.0f, p.weights[c]) * ls;
            return false;
        },
        [](Projection& p, const Shape&, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            for (std::size_t c = 0; c < p.weights.size(); ++c) p.weights[c] = float(double(p.weights[c]) * ls[c] / lt[c]);
        },
    });
}
