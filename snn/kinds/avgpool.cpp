// AvgPool: each channel's window averaged; one weight per channel (1/taps,
// times the normalization's rescaling).
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, avgpool) {
    using namespace snn;
    register_kind({
        ProjectionKind::AvgPool, "avgpool", true,
        [](const Projection&, const Shape&, const Shape& dst) { return std::int64_t(dst.c); },
        [](const Projection&, const Shape&, const Shape& dst) { return std::vector<std::uint64_t>{std::uint64_t(dst.c)}; },
        [](const Population& pop, const Projection& p, const Shape& src) {
            if (src.c != pop.shape.c) throw ModelError("", pop.name, "population '" + pop.name + "': pooling changes the channel count");
            check_window_fits(pop, p, src);
        },
        [](const Projection& p, const Shape& src, const Shape& dst) { return window_taps(p, src, dst) * dst.c; },
        1,
        [](const Projection& p, const Shape&) { return std::int64_t(p.window.kh) * p.window.kw; },
    });
}
