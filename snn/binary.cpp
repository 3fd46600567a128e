#include "snn/binary.hpp"
#include "snn/sparse.hpp"

#include "snn/error.hpp"

#include <algorithm>
#include <cmath>

namespace snn {

namespace {

// Calls f(row, bit, output, weight index) for every weight of a binary-capable projection.
template <class F>
void for_each_weight(const Projection& p, const Shape& src, const Shape& dst, F&& f) {
    if (p.kind == ProjectionKind::Dense) {
        const std::int64_t n_in = src.size(), n_out = dst.size();
        for (std::int64_t i = 0; i < n_in; ++i)
            for (std::int64_t j = 0; j < n_out; ++j) f(j, i, j, i * n_out + j);
        return;
    }
    // Conv2D kernel (kh, kw, cin, cout), row-major; row = co·kh·kw + tap.
    const std::int64_t taps = std::int64_t(p.window.kh) * p.window.kw, cin = src.c, cout = dst.c;
    for (std::int64_t t = 0; t < taps; ++t)
        for (std::int64_t ci = 0; ci < cin; ++ci)
            for (std::int64_t co = 0; co < cout; ++co) f(co * taps + t, ci, co, (t * cin + ci) * cout + co);
}

} // namespace

BinaryLayout binary_layout(const Projection& p, const Shape& src, const Shape& dst) {
    if (src.h < 1 || src.w < 1 || src.c < 1 || dst.h < 1 || dst.w < 1 || dst.c < 1 || p.window.kh < 1 || p.window.kw < 1)
        throw ModelError("", p.layer, "binary layer '" + p.layer + "' has an empty shape or window");
    BinaryLayout l;
    switch (p.kind) {
    case ProjectionKind::Dense:
        l.rows = dst.size();
        l.row_bits = src.size();
        l.outputs = dst.size();
        break;
    case ProjectionKind::Conv2D:
        l.rows = std::int64_t(dst.c) * p.window.kh * p.window.kw;
        l.row_bits = src.c;
        l.outputs = dst.c;
        break;
    default:
        throw ModelError("", p.layer, std::string("a ") + to_string(p.kind) +
                                      " projection cannot be binary (only dense and conv2d)");
    }
    l.row_words = words_for(l.row_bits);
    return l;
}

void pack_binary(Projection& p, const Shape& src, const Shape& dst, const std::string& where) {
    const BinaryLayout l = binary_layout(p, src, dst);
    if (std::int64_t(p.weights.size()) != expected_weight_count(p, src, dst))
        throw InternalError("pack_binary: " + where + ": weight count does not match the shapes");
    std::vector<float> alpha(std::size_t(l.outputs), -1.0f);
    for_each_weight(p, src, dst, [&](std::int64_t, std::int64_t, std::int64_t o, std::int64_t k) {
        const float a = std::fabs(p.weights[std::size_t(k)]);
        float& al = alpha[std::size_t(o)];
        if (al < 0) al = a;
        else if (a != al)
            throw ModelError("", p.layer, where + ": output " + std::to_string(o) + " has weights of magnitudes " +
                                          std::to_string(al) + " and " + std::to_string(a) +
                                          "; a binary layer needs ±alpha for every weight of an output");
    });
    BinaryWeights b;
    b.rows = l.rows;
    b.row_bits = l.row_bits;
    b.row_words = l.row_words;
    b.bits.assign(std::size_t(l.rows * l.row_words), 0);
    for (float& a : alpha) a = std::max(a, 0.0f); // an output with no inputs: α = 0
    b.alpha = std::move(alpha);
    for_each_weight(p, src, dst, [&](std::int64_t r, std::int64_t i, std::int64_t, std::int64_t k) {
        if (!std::signbit(p.weights[std::size_t(k)]))
            b.bits[std::size_t(r * l.row_words + i / 64)] |= std::uint64_t(1) << (i % 64);
    });
    p.bin = std::move(b);
    p.binary = true;
    // The weights become exactly what the bits say (−0 for a weight of −α = −0).
    p.weights = unpack_binary(p, src, dst);
}

void pack_binary(Network& net) {
    for (Population& pop : net.populations)
        for (Projection& p : pop.projections)
            if (p.binary)
                pack_binary(p, net.populations[std::size_t(p.source)].shape, pop.shape,
                            "population '" + pop.name + "', layer '" + p.layer + "'");
}

std::vector<float> unpack_binary(const Projection& p, const Shape& src, const Shape& dst) {
    const BinaryLayout l = binary_layout(p, src, dst);
    const BinaryWeights& b = p.bin;
    if (b.rows != l.rows || b.row_bits != l.row_bits || b.row_words != l.row_words ||
        std::int64_t(b.bits.size()) != l.rows * l.row_words || std::int64_t(b.alpha.size()) != l.outputs)
        throw ModelError("", p.layer, "binary weights of layer '" + p.layer + "' do not match the layer: " +
                                      std::to_string(b.rows) + " rows of " + std::to_string(b.row_words) +
                                      " words and " + std::to_string(b.alpha.size()) + " scales, where it needs " +
                                      std::to_string(l.rows) + " rows of " + std::to_string(l.row_words) +
                                      " words and " + std::to_string(l.outputs));
    std::vector<float> w(std::size_t(expected_weight_count(p, src, dst)));
    for_each_weight(p, src, dst, [&](std::int64_t r, std::int64_t i, std::int64_t o, std::int64_t k) {
        const bool plus = (b.bits[std::size_t(r * l.row_words + i / 64)] >> (i % 64)) & 1;
        const float a = b.alpha[std::size_t(o)];
        w[std::size_t(k)] = plus ? a : -a;
    });
    return w;
}

void binarize(Projection& p, const Shape& src, const Shape& dst, const std::string& where) {
    const BinaryLayout l = binary_layout(p, src, dst);
    std::vector<double> sum(std::size_t(l.outputs), 0.0);
    std::vector<std::int64_t> n(std::size_t(l.outputs), 0);
    for_each_weight(p, src, dst, [&](std::int64_t, std::int64_t, std::int64_t o, std::int64_t k) {
        sum[std::size_t(o)] += std::fabs(double(p.weights[std::size_t(k)]));
        ++n[std::size_t(o)];
    });
    for_each_weight(p, src, dst, [&](std::int64_t, std::int64_t, std::int64_t o, std::int64_t k) {
        const float a = float(sum[std::size_t(o)] / double(n[std::size_t(o)]));
        float& w = p.weights[std::size_t(k)];
        w = w >= 0 ? a : -a;
    });
    pack_binary(p, src, dst, where);
}

std::int64_t weight_bytes(const Projection& p) {
    if (p.binary)
        return std::int64_t(p.bin.bits.size() * sizeof(std::uint64_t) + p.bin.alpha.size() * sizeof(float));
    if (p.quant.scheme != QuantScheme::None)
        return std::int64_t(p.quant.codes.size() * sizeof(std::uint64_t) + p.quant.scale.size() * sizeof(float));
    if (p.kind == ProjectionKind::SparseDense) return sparse_bytes(p);
    return std::int64_t(p.weights.size() * sizeof(float));
}

} // namespace snn
