// Dense: every source unit to every target unit; weights (in, out).
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, dense) {
    using namespace snn;
    register_kind({
        ProjectionKind::Dense, "dense", false,
        [](const Projection&, const Shape& src, const Shape& dst) { return src.size() * dst.size(); },
        [](const Projection&, const Shape& src, const Shape& dst) {
            return std::vector<std::uint64_t>{std::uint64_t(src.size()), std::uint64_t(dst.size())};
        },
        [](const Population&, const Projection&, const Shape&) {},
        [](const Projection&, const Shape& src, const Shape& dst) { return src.size() * dst.size(); },
        1,
        [](const Projection&, const Shape& src) { return src.size(); },
    });
}
