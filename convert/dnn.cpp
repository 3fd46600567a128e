#include "convert/dnn.hpp"

#include "convert/dnn_kind.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <limits>

namespace snn {

void accumulate_dense(const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
    const DnnKind& k = dnn_kind(p.kind);
    if (!k.forward) throw InternalError("accumulate_dense: max pooling is not linear");
    k.forward(p, src, dst, in, out);
}

namespace {

void max_pool(const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
    const Window& w = p.window;
    for (int oy = 0; oy < dst.h; ++oy)
        for (int ox = 0; ox < dst.w; ++ox)
            for (int c = 0; c < dst.c; ++c) {
                float m = -std::numeric_limits<float>::infinity();
                for_each_tap(w, src, oy, ox, [&](int y, int x, int, int) {
                    m = std::max(m, in[(std::int64_t(y) * src.w + x) * src.c + c]);
                });
                out[(std::int64_t(oy) * dst.w + ox) * dst.c + c] = m;
            }
}

} // namespace

void forward_population(const Network& net, std::size_t i, std::vector<std::vector<float>>& act) {
    const Population& pop = net.populations[i];
    auto& a = act[i];
    a.assign(std::size_t(pop.shape.size()), 0.0f);
    if (pop.kind == PopulationKind::MaxPool) {
        const Projection& p = pop.projections[0];
        max_pool(p, net.populations[std::size_t(p.source)].shape, pop.shape, act[std::size_t(p.source)].data(), a.data());
        return;
    }
    if (!pop.bias.empty())
        for (std::size_t j = 0; j < a.size(); ++j) a[j] = pop.bias[j % pop.bias.size()];
    for (const Projection& p : pop.projections)
        accumulate_dense(p, net.populations[std::size_t(p.source)].shape, pop.shape, act[std::size_t(p.source)].data(),
                         a.data());
    // The output stays linear (its argmax is read), unless it is a bounded ReLU,
    // computed as Keras does: min(max(v, 0), M).
    if (i != net.populations.size() - 1 || !pop.clip.empty())
        for (float& v : a) v = std::max(v, 0.0f);
    if (!pop.clip.empty())
        for (std::size_t j = 0; j < a.size(); ++j) a[j] = std::min(a[j], pop.clip[j % pop.clip.size()]);
}

std::vector<std::vector<float>> forward(const Network& net, const float* x) {
    std::vector<std::vector<float>> act(net.populations.size());
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        if (pop.kind == PopulationKind::Input) act[i].assign(x, x + pop.shape.size());
        else forward_population(net, i, act);
    }
    return act;
}

int argmax(const std::vector<float>& v) {
    return int(std::max_element(v.begin(), v.end()) - v.begin());
}

} // namespace snn
