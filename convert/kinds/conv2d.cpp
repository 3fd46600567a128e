#include "convert/dnn_kind.hpp"
#include "snn/window.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, conv2d) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::Conv2D,
        [](const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
            const Window& w = p.window;
            for (int oy = 0; oy < dst.h; ++oy)
                for (int ox = 0; ox < dst.w; ++ox) {
                    float* o = out + (std::int64_t(oy) * dst.w + ox) * dst.c;
                    for_each_tap(w, src, oy, ox, [&](int y, int x, int ky, int kx) {
                        const float* a = in + (std::int64_t(y) * src.w + x) * src.c;
                        const float* k = p.weights.data() + (std::int64_t(ky) * w.kw + kx) * src.c * dst.c;
                        for (int ci = 0; ci < src.c; ++ci) {
                            const float av = a[ci];
                            if (av == 0.0f) continue;
                            const float* kr = k + std::int64_t(ci) * dst.c;
                            for (int co = 0; co < dst.c; ++co) o[co] += av * kr[co];
                        }
                    });
                }
        },
        [](const Projection& p, const Shape&, const Shape& dst, double ls, std::vector<double>& channel, std::vector<double>&) {
            const std::size_t C = std::size_t(dst.c);
            for (std::size_t k = 0; k < p.weights.size(); ++k) channel[k % C] += std::max(0.0f, p.weights[k]) * ls;
            return false;
        },
        [](Projection& p, const Shape&, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            // (kh, kw, cin, cout)
            const std::size_t Cs = ls.size(), Ct = lt.size();
            auto& w = p.weights;
            for (std::size_t k = 0; k < w.size(); ++k) w[k] = float(double(w[k]) * ls[(k / Ct) % Cs] / lt[k % Ct]);
        },
    });
}
