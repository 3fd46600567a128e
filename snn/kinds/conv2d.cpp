// Conv2D: a window of kh × kw source pixels, every source channel to every
// target channel; weights (kh, kw, in, out).
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, conv2d) {
    using namespace snn;
    register_kind({
        ProjectionKind::Conv2D, "conv2d", true,
        [](const Projection& p, const Shape& src, const Shape& dst) {
            return std::int64_t(p.window.kh) * p.window.kw * src.c * dst.c;
        },
        [](const Projection& p, const Shape& src, const Shape& dst) {
            return std::vector<std::uint64_t>{std::uint64_t(p.window.kh), std::uint64_t(p.window.kw), std::uint64_t(src.c),
                                              std::uint64_t(dst.c)};
        },
        [](const Population& pop, const Projection& p, const Shape& src) { check_window_fits(pop, p, src); },
        [](const Projection& p, const Shape& src, const Shape& dst) { return window_taps(p, src, dst) * src.c * dst.c; },
        1,
        [](const Projection& p, const Shape& src) { return std::int64_t(p.window.kh) * p.window.kw * src.c; },
    });
}
