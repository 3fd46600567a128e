// Identity: unit j of the source to unit j of the target (a residual
// connection), one weight per channel.
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, identity) {
    using namespace snn;
    register_kind({
        ProjectionKind::Identity, "identity", false,
        [](const Projection&, const Shape&, const Shape& dst) { return std::int64_t(dst.c); },
        [](const Projection&, const Shape&, const Shape& dst) { return std::vector<std::uint64_t>{std::uint64_t(dst.c)}; },
        [](const Population& pop, const Projection&, const Shape& src) {
            if (!(src == pop.shape))
                throw ModelError("", pop.name,
                                 "population '" + pop.name + "': residual input " + src.str() + " does not match " + pop.shape.str());
        },
        [](const Projection&, const Shape&, const Shape& dst) { return dst.size(); },
        1,
        [](const Projection&, const Shape&) { return std::int64_t(1); },
    });
}
