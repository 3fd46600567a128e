// MaxPool: the projection of a max-pooling gate (PopulationKind::MaxPool),
// which passes, per window, the spike of the input unit with the highest
// count so far. No weights; no DNN multiply-accumulates.
#include "snn/kind.hpp"

SNN_KIND_REGISTRATION(snn, maxpool) {
    using namespace snn;
    register_kind({
        ProjectionKind::MaxPool, "maxpool", true,
        [](const Projection&, const Shape&, const Shape&) { return std::int64_t(0); },
        [](const Projection&, const Shape&, const Shape&) { return std::vector<std::uint64_t>{0}; },
        [](const Population& pop, const Projection& p, const Shape& src) {
            if (src.c != pop.shape.c) throw ModelError("", pop.name, "population '" + pop.name + "': pooling changes the channel count");
            check_window_fits(pop, p, src);
        },
        [](const Projection&, const Shape&, const Shape&) { return std::int64_t(0); },
        1,
        [](const Projection& p, const Shape&) { return std::int64_t(p.window.kh) * p.window.kw; },
    });
}
