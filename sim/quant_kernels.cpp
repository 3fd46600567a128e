#include "sim/quant_kernels.hpp"

#include "snn/error.hpp"
#include "snn/quant.hpp"

#include <algorithm>
#include <cstring>

namespace snn {

bool quant_kernel_applies(const Projection& p) {
    return p.kind == ProjectionKind::Dense && !p.binary && p.quant.scheme != QuantScheme::None;
}

namespace {

// Qsq's level ±2^e as a byte the shift-and-add loop reads: (negative << 2) | (e + 1), 0 for zero.
std::int8_t shift_code(int level) {
    if (level == 0) return 0;
    const int m = level < 0 ? -level : level;
    const int e = m == 1 ? 0 : m == 2 ? 1 : 2;
    return std::int8_t(((level < 0 ? 1 : 0) << 2) | (e + 1));
}

// The level of a shift code, by shifts: 1 shifted by e (0, 1 or 2; 0 for a
// zero level), negated by the two's-complement identity (x ^ m) − m with
// m = 0 or −1. The shift counts are constants selected by comparisons, not a
// variable shift, which SSE2 and AVX2 lack for small integers: the loop vectorizes.
inline int shift_level(std::int8_t c) {
    const int x = c & 3;
    const int mag = int(x == 1) | (int(x == 2) << 1) | (int(x == 3) << 2);
    const int m = -((c >> 2) & 1);
    return (mag ^ m) - m;
}

} // namespace

QuantDenseKernel::QuantDenseKernel(const Projection& p, const Shape& src, const Shape& dst, float gain) {
    if (!quant_kernel_applies(p))
        throw InternalError("QuantDenseKernel: the projection from layer '" + p.layer + "' is not a quantized Dense one");
    n_in_ = src.size();
    n_out_ = dst.size();
    const QuantWeights& q = p.quant;
    shifts_ = q.scheme == QuantScheme::Qsq;
    vector_ = q.vector;
    groups_ = vector_ > 0 ? (n_in_ + vector_ - 1) / vector_ : 1;
    const std::int64_t n = n_in_ * n_out_;
    const std::vector<std::uint32_t> codes = unpack_codes(q.codes, q.bits, n);
    if (std::int64_t(q.scale.size()) != groups_ * n_out_)
        throw InternalError("QuantDenseKernel: layer '" + p.layer + "' has the wrong number of scales");
    codes_.resize(std::size_t(n));
    int largest = 0;
    for (std::int64_t k = 0; k < n; ++k) {
        const int level = quant_level(q.scheme, q.bits, codes[std::size_t(k)]);
        largest = std::max(largest, level < 0 ? -level : level);
        codes_[std::size_t(k)] = shifts_ ? shift_code(level) : std::int8_t(level);
    }
    // Worst case of one accumulator in one call: every unit of its group
    // spikes with the largest level (one sign per call, units distinct).
    const std::int64_t fan_in = vector_ > 0 ? std::min(vector_, n_in_) : n_in_;
    wide_ = std::int64_t(largest) * fan_in > 32767;
    // Scales laid out (group, output) so that a row adds into consecutive accumulators.
    scale_.resize(std::size_t(groups_ * n_out_));
    for (std::int64_t j = 0; j < n_out_; ++j)
        for (std::int64_t g = 0; g < groups_; ++g)
            scale_[std::size_t(g * n_out_ + j)] = double(q.scale[std::size_t(j * groups_ + g)]) * double(gain);
}

template <class Acc>
std::int64_t QuantDenseKernel::run(std::span<const std::int32_t> units, int sign, Acc* acc, std::vector<std::int32_t>& touched,
                                   float* current) const {
    // The scale groups the spikes fall in (units ascend, so each appears once,
    // in order): only their accumulators are cleared, filled and scaled.
    touched.clear();
    for (const std::int32_t u : units) {
        const std::int32_t g = vector_ > 0 ? std::int32_t(u / vector_) : 0;
        if (touched.empty() || touched.back() != g) touched.push_back(g);
    }
    for (const std::int32_t g : touched) std::fill(acc + g * n_out_, acc + (g + 1) * n_out_, Acc(0));
    for (const std::int32_t u : units) {
        const std::int8_t* row = codes_.data() + std::int64_t(u) * n_out_;
        Acc* a = acc + (vector_ > 0 ? std::int64_t(u) / vector_ : 0) * n_out_;
        if (shifts_)
            for (std::int64_t j = 0; j < n_out_; ++j) a[j] = Acc(a[j] + shift_level(row[j]));
        else
            for (std::int64_t j = 0; j < n_out_; ++j) a[j] = Acc(a[j] + row[j]);
    }
    // Once per call: scale · acc, exact in double, summed over the groups in
    // double (ascending; the groups left out add zeros) and rounded once to float.
    for (std::int64_t j = 0; j < n_out_; ++j) {
        double t = 0;
        for (const std::int32_t g : touched)
            t += scale_[std::size_t(g * n_out_ + j)] * double(acc[std::int64_t(g) * n_out_ + j]);
        current[j] += float(double(sign) * t);
    }
    return std::int64_t(units.size()) * n_out_;
}

std::int64_t QuantDenseKernel::accumulate(std::span<const std::int32_t> units, int sign, QuantScratch& scratch,
                                          float* current) const {
    if (units.empty()) return 0;
    if (wide_) {
        if (std::int64_t(scratch.wide.size()) < accumulators()) scratch.wide.resize(std::size_t(accumulators()));
        return run(units, sign, scratch.wide.data(), scratch.touched, current);
    }
    if (std::int64_t(scratch.narrow.size()) < accumulators()) scratch.narrow.resize(std::size_t(accumulators()));
    return run(units, sign, scratch.narrow.data(), scratch.touched, current);
}

} // namespace snn
