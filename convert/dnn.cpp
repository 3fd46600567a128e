#include "convert/dnn.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <limits>

namespace snn {

void accumulate_dense(const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
    const Window& w = p.window;
    switch (p.kind) {
    case ProjectionKind::Dense: {
        // out += Wᵀ·in with W stored (in, out) row-major = an (out × in) column-major map.
        Eigen::Map<const Eigen::MatrixXf> W(p.weights.data(), dst.size(), src.size());
        Eigen::Map<const Eigen::VectorXf> x(in, src.size());
        Eigen::Map<Eigen::VectorXf> y(out, dst.size());
        y.noalias() += W * x;
        return;
    }
    case ProjectionKind::Conv2D:
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
        return;
    case ProjectionKind::AvgPool:
        for (int oy = 0; oy < dst.h; ++oy)
            for (int ox = 0; ox < dst.w; ++ox) {
                float* o = out + (std::int64_t(oy) * dst.w + ox) * dst.c;
                for_each_tap(w, src, oy, ox, [&](int y, int x, int, int) {
                    const float* a = in + (std::int64_t(y) * src.w + x) * src.c;
                    for (int c = 0; c < dst.c; ++c) o[c] += p.weights[std::size_t(c)] * a[c];
                });
            }
        return;
    case ProjectionKind::Identity:
        for (std::int64_t i = 0; i < dst.size(); ++i) out[i] += p.weights[std::size_t(i % dst.c)] * in[i];
        return;
    case ProjectionKind::MaxPool: break;
    }
    throw InternalError("accumulate_dense: max pooling is not linear");
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

std::vector<std::vector<float>> forward(const Network& net, const float* x) {
    std::vector<std::vector<float>> act(net.populations.size());
    const std::size_t last = net.populations.size() - 1;
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        auto& a = act[i];
        a.assign(std::size_t(pop.shape.size()), 0.0f);
        if (pop.kind == PopulationKind::Input) {
            std::copy(x, x + pop.shape.size(), a.begin());
            continue;
        }
        if (pop.kind == PopulationKind::MaxPool) {
            const Projection& p = pop.projections[0];
            max_pool(p, net.populations[std::size_t(p.source)].shape, pop.shape, act[std::size_t(p.source)].data(), a.data());
            continue;
        }
        if (!pop.bias.empty())
            for (std::size_t j = 0; j < a.size(); ++j) a[j] = pop.bias[j % pop.bias.size()];
        for (const Projection& p : pop.projections)
            accumulate_dense(p, net.populations[std::size_t(p.source)].shape, pop.shape,
                             act[std::size_t(p.source)].data(), a.data());
        if (i != last)
            for (float& v : a) v = std::max(v, 0.0f);
    }
    return act;
}

int argmax(const std::vector<float>& v) {
    return int(std::max_element(v.begin(), v.end()) - v.begin());
}

} // namespace snn
