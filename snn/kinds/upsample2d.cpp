// Upsample2D: nearest-neighbour upsampling by whole factors (Keras
// UpSampling2D), target unit (y, x, c) reading source unit (y / fy, x / fx, c)
// with one weight per channel. The factors are the ratio of the shapes, so the
// projection stores nothing else. A population fed by it alone relays its
// source's spikes (its λ is its source's: convert/normalize.hpp).
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, upsample2d) {
    using namespace snn;
    register_kind({
        ProjectionKind::Upsample2D, "upsample2d", false,
        [](const Projection&, const Shape&, const Shape& dst) { return std::int64_t(dst.c); },
        [](const Projection&, const Shape&, const Shape& dst) { return std::vector<std::uint64_t>{std::uint64_t(dst.c)}; },
        [](const Population& pop, const Projection&, const Shape& src) {
            if (src.c != pop.shape.c || pop.shape.h % src.h != 0 || pop.shape.w % src.w != 0)
                throw ModelError("", pop.name,
                                 "population '" + pop.name + "': upsampling " + src.str() + " cannot give " +
                                     pop.shape.str() + " (the same channels, whole factors of height and width)");
        },
        [](const Projection&, const Shape&, const Shape& dst) { return dst.size(); },
        10,
        [](const Projection&, const Shape&) { return std::int64_t(1); },
    });
}
