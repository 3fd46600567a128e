#include "sim/quant_kernels.hpp"

#include "snn/error.hpp"
#include "snn/quant.hpp"

#include <algorithm>
#include <cstring>

// One copy of the loops per instruction set (sim/float_isa.hpp), every header included above.
namespace snn::quant_portable {
#include "sim/quant_rows.inc"
} // namespace snn::quant_portable
#if defined(SNN_FLOAT_AVX2)
SNN_BEGIN_AVX2
namespace snn::quant_avx2 {
#include "sim/quant_rows.inc"
} // namespace snn::quant_avx2
SNN_END_AVX2
#endif
#if defined(SNN_FLOAT_AVX512)
SNN_BEGIN_AVX512
namespace snn::quant_avx512 {
#include "sim/quant_rows.inc"
} // namespace snn::quant_avx512
SNN_END_AVX512
#endif

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

QuantDenseKernel::Loops loops_for(FloatIsa isa) {
    if (!float_isa_supported(isa))
        throw InternalError(std::string("QuantDenseKernel: instruction set ") + to_string(isa) + " is not supported here");
    switch (isa) {
#if defined(SNN_FLOAT_AVX512)
    case FloatIsa::Avx512: return quant_avx512::loops();
#endif
#if defined(SNN_FLOAT_AVX2)
    case FloatIsa::Avx2: return quant_avx2::loops();
#endif
    default: return quant_portable::loops();
    }
}

} // namespace

QuantDenseKernel::QuantDenseKernel(const Projection& p, const Shape& src, const Shape& dst, float gain, FloatIsa isa)
    : loops_(loops_for(isa)) {
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

std::int64_t QuantDenseKernel::groups_of(std::span<const std::int32_t> units, std::vector<std::int32_t>& touched) const {
    // The scale groups the spikes fall in (units ascend, so each appears once, in order).
    touched.clear();
    for (const std::int32_t u : units) {
        const std::int32_t g = vector_ > 0 ? std::int32_t(u / vector_) : 0;
        if (touched.empty() || touched.back() != g) touched.push_back(g);
    }
    return std::int64_t(units.size()) * n_out_;
}

std::int64_t QuantDenseKernel::accumulate(std::span<const std::int32_t> units, int sign, QuantScratch& scratch,
                                          float* current) const {
    if (units.empty()) return 0;
    const std::int64_t adds = groups_of(units, scratch.touched);
    if (std::int64_t(scratch.sums.size()) < n_out_) scratch.sums.resize(std::size_t(n_out_));
    const QuantLoop q{codes_.data(), scale_.data(), n_out_, vector_, shifts_};
    // Only the accumulators of the touched groups are cleared, filled and scaled.
    const auto run = [&](auto* acc, auto add, auto scale) {
        for (const std::int32_t g : scratch.touched) std::fill(acc + g * n_out_, acc + (g + 1) * n_out_, 0);
        add(q, units, acc);
        scale(q, scratch.touched, acc, sign, scratch.sums.data(), current);
    };
    if (wide_) {
        if (std::int64_t(scratch.wide.size()) < accumulators()) scratch.wide.resize(std::size_t(accumulators()));
        run(scratch.wide.data(), loops_.add_rows32, loops_.scale_into32);
    } else {
        if (std::int64_t(scratch.narrow.size()) < accumulators()) scratch.narrow.resize(std::size_t(accumulators()));
        run(scratch.narrow.data(), loops_.add_rows16, loops_.scale_into16);
    }
    return adds;
}

} // namespace snn
