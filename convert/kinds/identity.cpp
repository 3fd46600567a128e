#include "convert/dnn_kind.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, identity) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::Identity,
        [](const Projection& p, const Shape&, const Shape& dst, const float* in, float* out) {
            for (std::int64_t i = 0; i < dst.size(); ++i) out[i] += p.weights[std::size_t(i % dst.c)] * in[i];
        },
        [](const Projection& p, const Shape&, const Shape&, double ls, std::vector<double>& channel, std::vector<double>&) {
            for (std::size_t c = 0; c < channel.size(); ++c) channel[c] += std::max(0.0f, p.weights[c]) * ls;
            return false;
        },
        [](Projection& p, const Shape&, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            for (std::size_t c = 0; c < p.weights.size(); ++c) p.weights[c] = float(double(p.weights[c]) * ls[c] / lt[c]);
        },
    });
}
