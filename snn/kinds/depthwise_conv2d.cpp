// DepthwiseConv2D (Keras): each source channel c convolved on its own with
// depth_multiplier M kernels; target channel c·M + m. Weights (kh, kw, in, M),
// which read flat are (kh, kw, out): weight (tap, o) joins source channel o / M
// to target channel o.
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, depthwise_conv2d) {
    using namespace snn;
    register_kind({
        ProjectionKind::DepthwiseConv2D, "depthwise_conv2d", true,
        [](const Projection& p, const Shape& src, const Shape& dst) {
            (void)src; // check_shapes: dst.c is a whole multiple of src.c
            return std::int64_t(p.window.kh) * p.window.kw * dst.c;
        },
        [](const Projection& p, const Shape& src, const Shape& dst) {
            return std::vector<std::uint64_t>{std::uint64_t(p.window.kh), std::uint64_t(p.window.kw), std::uint64_t(src.c),
                                              std::uint64_t(dst.c / src.c)};
        },
        [](const Population& pop, const Projection& p, const Shape& src) {
            if (pop.shape.c % src.c != 0)
                throw ModelError("", pop.name,
                                 "population '" + pop.name + "': a depthwise convolution of " + std::to_string(src.c) +
                                     " channels cannot give " + std::to_string(pop.shape.c) +
                                     " (a whole depth multiplier per channel)");
            check_window_fits(pop, p, src);
        },
        [](const Projection& p, const Shape& src, const Shape& dst) { return window_taps(p, src, dst) * dst.c; },
        4,
        [](const Projection& p, const Shape&) { return std::int64_t(p.window.kh) * p.window.kw; },
    });
}
