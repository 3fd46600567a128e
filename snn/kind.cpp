#include "snn/kind.hpp"

#include "snn/registry.hpp"
#include "snn/window.hpp"

void snn_register_snn_kinds(); // generated from snn/kinds/*.cpp

namespace snn {

namespace {
using Registry = KindRegistry<KindTraits, snn_register_snn_kinds>;
}

void register_kind(const KindTraits& traits) { Registry::add(traits); }
const KindTraits& kind_traits(ProjectionKind kind) { return Registry::get(kind, "kind_traits"); }
std::vector<ProjectionKind> registered_kinds() { return Registry::kinds(); }

void check_window_fits(const Population& pop, const Projection& p, const Shape& src) {
    const Window& w = p.window;
    if (w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1 || w.pad_top < 0 || w.pad_left < 0)
        throw ModelError("", pop.name, "population '" + pop.name + "': invalid window in projection from layer '" + p.layer + "'");
    // The last output's window must start inside the padded input.
    const int last_y = (pop.shape.h - 1) * w.sh - w.pad_top;
    const int last_x = (pop.shape.w - 1) * w.sw - w.pad_left;
    if (last_y >= src.h || last_x >= src.w || last_y + w.kh <= 0 || last_x + w.kw <= 0)
        throw ModelError("", pop.name,
                         "population '" + pop.name + "': output shape " + pop.shape.str() + " does not fit a " +
                             std::to_string(w.kh) + "x" + std::to_string(w.kw) + " window over input " + src.str());
}

std::int64_t window_taps(const Projection& p, const Shape& src, const Shape& dst) {
    std::int64_t taps = 0;
    for (int oy = 0; oy < dst.h; ++oy)
        for (int ox = 0; ox < dst.w; ++ox) for_each_tap(p.window, src, oy, ox, [&](int, int, int, int) { ++taps; });
    return taps;
}

} // namespace snn
