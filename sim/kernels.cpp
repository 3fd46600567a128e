#include "sim/kernels.hpp"

#include "sim/sim_kind.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstdint>
#include <tuple>

namespace snn::kernels_avx512 {
// What the pixel-grouped conv scatter reads (ProjectionKernel's tables).
struct ConvCover {
    const std::int32_t *pixel_of, *cover_begin, *cover_out, *cover_tap;
    const float* weights;
    int cin, cout;
};
std::int64_t conv_scatter(const ConvCover& g, std::span<const std::int32_t> units, float* current);
std::int64_t conv_rows(const ConvCover& g, std::span<const std::int32_t> units, const float* values, float* current);
std::int64_t dense_rows(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, const float* values,
                        float* current);
std::int64_t dense_scatter(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current);
std::int64_t pool_masks(const std::int32_t* pool_target, std::size_t pixels, int C, const float* weights,
                        const std::uint16_t* masks, float* current);
} // namespace snn::kernels_avx512

namespace snn::kernels_avx2 {
using kernels_avx512::ConvCover;
std::int64_t conv_scatter(const ConvCover& g, std::span<const std::int32_t> units, float* current);
std::int64_t conv_rows(const ConvCover& g, std::span<const std::int32_t> units, const float* values, float* current);
std::int64_t dense_rows(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, const float* values,
                        float* current);
std::int64_t dense_scatter(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current);
std::int64_t pool_masks(const std::int32_t* pool_target, std::size_t pixels, int C, const float* weights,
                        const std::uint16_t* masks, float* current);
} // namespace snn::kernels_avx2

namespace snn {
std::int64_t scatter(const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units,
                     const float* values, float* current) {
    assert(std::is_sorted(units.begin(), units.end())); // the fast paths' order of additions is the listed order
    const SimKind& k = sim_kind(p.kind);
    if (!k.scatter) throw InternalError("scatter: max pooling is a gate, not a projection");
    return k.scatter(p, src, dst, units, values, current);
}

} // namespace snn

// The AVX-512 copies (sim/float_isa.hpp): every header is included above.
#if defined(SNN_FLOAT_AVX512)
SNN_BEGIN_AVX512
namespace snn::kernels_avx512 {
namespace {

// Conv scatter with the spikes grouped by source pixel (units ascend, so a
// pixel's channels are adjacent): each covering output row is loaded into
// registers once, its channels' kernel rows are added in unit order (the order
// snn::scatter adds them, so the sums are the same), and it is stored once.
// Consecutive spikes of one pixel no longer wait on each other's stores. The
// row width is a template argument so that the accumulators stay in registers:
// with a run-time width GCC kept them in a stack array, copied with a memcpy
// call per output row (perf: a third of a CNN run).
template <int Chunks>
std::int64_t conv_scatter_pixels(const ConvCover& cover, std::span<const std::int32_t> units, float* current) {
    const int cin = cover.cin, cout = cover.cout;
    std::int64_t ops = 0;
    for (std::size_t k = 0; k < units.size();) {
        const std::int32_t pix = cover.pixel_of[std::size_t(units[k])];
        std::size_t end = k + 1;
        while (end < units.size() && cover.pixel_of[std::size_t(units[end])] == pix) ++end;
        const std::int64_t base = std::int64_t(pix) * cin;
        const std::int32_t b = cover.cover_begin[std::size_t(pix)], e = cover.cover_begin[std::size_t(pix) + 1];
        // Ways covering outputs at once: more independent additions in flight.
        const auto add_rows = [&]<int Ways>(std::int32_t q) {
            const float* kb[Ways];
            float* o[Ways];
            __m512 acc[Ways][Chunks];
            for (int w = 0; w < Ways; ++w) {
                kb[w] = cover.weights + std::int64_t(cover.cover_tap[std::size_t(q + w)]) * cin * cout;
                o[w] = current + std::int64_t(cover.cover_out[std::size_t(q + w)]) * cout;
                for (int c = 0; c < Chunks; ++c) acc[w][c] = _mm512_loadu_ps(o[w] + 16 * c);
            }
            for (std::size_t g = k; g < end; ++g) {
                const std::int64_t r = (units[g] - base) * cout;
                for (int w = 0; w < Ways; ++w)
                    for (int c = 0; c < Chunks; ++c) acc[w][c] = _mm512_add_ps(acc[w][c], _mm512_loadu_ps(kb[w] + r + 16 * c));
            }
            for (int w = 0; w < Ways; ++w)
                for (int c = 0; c < Chunks; ++c) _mm512_storeu_ps(o[w] + 16 * c, acc[w][c]);
        };
        std::int32_t q = b;
        for (; q + 1 < e; q += 2) add_rows.template operator()<2>(q); // two at a time: +9 % on the MNIST CNN
        if (q < e) add_rows.template operator()<1>(q);
        ops += std::int64_t(e - b) * cout * std::int64_t(end - k);
        k = end;
    }
    return ops;
}

// Dense, at most 64 outputs: the currents are loaded once into Chunks
// registers (the last one masked), every spiking unit's row is added in unit
// order (as snn::scatter adds them), and they are stored once.
template <int Chunks>
std::int64_t dense_scatter_narrow(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current) {
    const int tail = int(n_out - 16 * (Chunks - 1));
    const __mmask16 last = __mmask16((1u << tail) - 1u);
    const auto mask = [&](int c) { return c == Chunks - 1 ? last : __mmask16(0xFFFF); };
    __m512 acc[Chunks];
    for (int c = 0; c < Chunks; ++c) acc[c] = _mm512_maskz_loadu_ps(mask(c), current + 16 * c);
    for (std::int32_t u : units) {
        const float* row = weights + std::int64_t(u) * n_out;
        for (int c = 0; c < Chunks; ++c) acc[c] = _mm512_add_ps(acc[c], _mm512_maskz_loadu_ps(mask(c), row + 16 * c));
    }
    for (int c = 0; c < Chunks; ++c) _mm512_mask_storeu_ps(current + 16 * c, mask(c), acc[c]);
    return std::int64_t(units.size()) * n_out;
}

// out[j] += a·row[j] (Scaled) or out[j] += row[j], j < n: the reference
// kernels' expression, a product rounded and then a sum (this file is
// compiled with -ffp-contract=off), 16 lanes at a time.
template <bool Scaled>
inline void add_row(float* __restrict out, const float* __restrict row, float a, std::int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    std::int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 r = _mm512_loadu_ps(row + j);
        if constexpr (Scaled) r = _mm512_mul_ps(va, r);
        _mm512_storeu_ps(out + j, _mm512_add_ps(_mm512_loadu_ps(out + j), r));
    }
    if (j < n) {
        const __mmask16 m = __mmask16((1u << (n - j)) - 1u);
        __m512 r = _mm512_maskz_loadu_ps(m, row + j);
        if constexpr (Scaled) r = _mm512_mul_ps(va, r);
        _mm512_mask_storeu_ps(out + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + j), r));
    }
}

} // namespace

// Dense, row by row as the reference kernel (sim/kinds/dense.cpp): each
// listed unit's row, times its value if any, added to the currents.
std::int64_t dense_rows(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, const float* values,
                        float* current) {
    for (std::size_t k = 0; k < units.size(); ++k) {
        const float* row = weights + std::int64_t(units[k]) * n_out;
        if (values) add_row<true>(current, row, values[k], n_out);
        else add_row<false>(current, row, 1.0f, n_out);
    }
    return std::int64_t(units.size()) * n_out;
}

// Conv2D, spike by spike as ProjectionKernel's portable scatter: each listed
// unit adds its kernel row (times its value) to every covering output pixel.
std::int64_t conv_rows(const ConvCover& g, std::span<const std::int32_t> units, const float* values, float* current) {
    std::int64_t ops = 0;
    for (std::size_t k = 0; k < units.size(); ++k) {
        const std::int32_t u = units[k], pix = g.pixel_of[std::size_t(u)];
        const std::int64_t ci = u - std::int64_t(pix) * g.cin;
        const std::int32_t b = g.cover_begin[std::size_t(pix)], e = g.cover_begin[std::size_t(pix) + 1];
        for (std::int32_t q = b; q < e; ++q) {
            const float* kr = g.weights + (std::int64_t(g.cover_tap[std::size_t(q)]) * g.cin + ci) * g.cout;
            float* o = current + std::int64_t(g.cover_out[std::size_t(q)]) * g.cout;
            if (values) add_row<true>(o, kr, values[k], g.cout);
            else add_row<false>(o, kr, 1.0f, g.cout);
        }
        ops += std::int64_t(e - b) * g.cout;
    }
    return ops;
}

// The entries ProjectionKernel calls when its float ISA is AVX-512.
std::int64_t conv_scatter(const ConvCover& g, std::span<const std::int32_t> units, float* current) {
    switch (g.cout / 16) {
    case 1: return conv_scatter_pixels<1>(g, units, current);
    case 2: return conv_scatter_pixels<2>(g, units, current);
    case 3: return conv_scatter_pixels<3>(g, units, current);
    default: return conv_scatter_pixels<4>(g, units, current);
    }
}
std::int64_t dense_scatter(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current) {
    switch ((n_out + 15) / 16) {
    case 1: return dense_scatter_narrow<1>(weights, n_out, units, current);
    case 2: return dense_scatter_narrow<2>(weights, n_out, units, current);
    case 3: return dense_scatter_narrow<3>(weights, n_out, units, current);
    default: return dense_scatter_narrow<4>(weights, n_out, units, current);
    }
}

// Average pooling over windows that do not overlap, from the spikes as
// 16-unit masks (bit k of masks[b]: unit 16·b + k spiked), channels a
// multiple of 16: every source pixel's channels are whole masks, and the output
// pixel it falls in adds the channel weights under them (masked lanes only,
// so the other currents keep their bits). Pixels are visited in ascending
// order, so every output adds its inputs' weights in unit order: the currents
// are snn::scatter's bit for bit. The per-spike work of the scatter (a load,
// an add and a store, with branches to find a pixel's spikes) becomes one
// masked add per 16 channels of every pixel.
std::int64_t pool_masks(const std::int32_t* pool_target, std::size_t pixels, int C, const float* weights,
                        const std::uint16_t* masks, float* current) {
    const int chunks = C / 16;
    std::int64_t ops = 0;
    for (std::size_t pix = 0; pix < pixels; ++pix) {
        const std::int32_t o = pool_target[pix * std::size_t(C)]; // the output pixel's channel 0
        if (o < 0) continue;
        for (int c = 0; c < chunks; ++c) {
            const __mmask16 m = masks[pix * std::size_t(chunks) + std::size_t(c)];
            float* row = current + o + 16 * c;
            const __m512 r = _mm512_loadu_ps(row);
            _mm512_storeu_ps(row, _mm512_mask_add_ps(r, m, r, _mm512_loadu_ps(weights + 16 * c)));
            ops += std::popcount(unsigned(m));
        }
    }
    return ops;
}

} // namespace snn::kernels_avx512
SNN_END_AVX512
#endif

// The AVX2 copies: the AVX-512 ones above on 8-lane registers, the same
// additions in the same order (bit-identical currents, tested).
#if defined(SNN_FLOAT_AVX2)
SNN_BEGIN_AVX2
namespace snn::kernels_avx2 {
namespace {
#include "sim/lanes_avx2.inc"

// Conv scatter with the spikes grouped by source pixel (conv_scatter_pixels
// of the AVX-512 copy): Lanes = cout / 8 accumulators per covering output.
template <int Lanes>
std::int64_t conv_scatter_pixels(const ConvCover& cover, std::span<const std::int32_t> units, float* current) {
    const int cin = cover.cin, cout = cover.cout;
    std::int64_t ops = 0;
    for (std::size_t k = 0; k < units.size();) {
        const std::int32_t pix = cover.pixel_of[std::size_t(units[k])];
        std::size_t end = k + 1;
        while (end < units.size() && cover.pixel_of[std::size_t(units[end])] == pix) ++end;
        const std::int64_t base = std::int64_t(pix) * cin;
        const std::int32_t b = cover.cover_begin[std::size_t(pix)], e = cover.cover_begin[std::size_t(pix) + 1];
        const auto add_rows = [&]<int Ways>(std::int32_t q) {
            const float* kb[Ways];
            float* o[Ways];
            __m256 acc[Ways][Lanes];
            for (int w = 0; w < Ways; ++w) {
                kb[w] = cover.weights + std::int64_t(cover.cover_tap[std::size_t(q + w)]) * cin * cout;
                o[w] = current + std::int64_t(cover.cover_out[std::size_t(q + w)]) * cout;
                for (int c = 0; c < Lanes; ++c) acc[w][c] = _mm256_loadu_ps(o[w] + 8 * c);
            }
            for (std::size_t g = k; g < end; ++g) {
                const std::int64_t r = (units[g] - base) * cout;
                for (int w = 0; w < Ways; ++w)
                    for (int c = 0; c < Lanes; ++c) acc[w][c] = _mm256_add_ps(acc[w][c], _mm256_loadu_ps(kb[w] + r + 8 * c));
            }
            for (int w = 0; w < Ways; ++w)
                for (int c = 0; c < Lanes; ++c) _mm256_storeu_ps(o[w] + 8 * c, acc[w][c]);
        };
        std::int32_t q = b;
        // Two outputs at a time up to 32 channels; past that their accumulators would not fit the 16 registers.
        if constexpr (Lanes <= 4)
            for (; q + 1 < e; q += 2) add_rows.template operator()<2>(q);
        for (; q < e; ++q) add_rows.template operator()<1>(q);
        ops += std::int64_t(e - b) * cout * std::int64_t(end - k);
        k = end;
    }
    return ops;
}

// Dense, at most 64 outputs, in Lanes registers (the last one masked).
template <int Lanes>
std::int64_t dense_scatter_narrow(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current) {
    const __m256i last = first8(int(n_out - 8 * (Lanes - 1)));
    const __m256i all = _mm256_set1_epi32(-1);
    const auto mask = [&](int c) { return c == Lanes - 1 ? last : all; };
    __m256 acc[Lanes];
    for (int c = 0; c < Lanes; ++c) acc[c] = _mm256_maskload_ps(current + 8 * c, mask(c));
    for (std::int32_t u : units) {
        const float* row = weights + std::int64_t(u) * n_out;
        for (int c = 0; c < Lanes; ++c) acc[c] = _mm256_add_ps(acc[c], _mm256_maskload_ps(row + 8 * c, mask(c)));
    }
    for (int c = 0; c < Lanes; ++c) _mm256_maskstore_ps(current + 8 * c, mask(c), acc[c]);
    return std::int64_t(units.size()) * n_out;
}

// out[j] += a·row[j] (Scaled) or out[j] += row[j], j < n: a product rounded and then a sum.
template <bool Scaled>
inline void add_row(float* __restrict out, const float* __restrict row, float a, std::int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    std::int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 r = _mm256_loadu_ps(row + j);
        if constexpr (Scaled) r = _mm256_mul_ps(va, r);
        _mm256_storeu_ps(out + j, _mm256_add_ps(_mm256_loadu_ps(out + j), r));
    }
    if (j < n) {
        const __m256i m = first8(int(n - j));
        __m256 r = _mm256_maskload_ps(row + j, m);
        if constexpr (Scaled) r = _mm256_mul_ps(va, r);
        _mm256_maskstore_ps(out + j, m, _mm256_add_ps(_mm256_maskload_ps(out + j, m), r));
    }
}

} // namespace

std::int64_t dense_rows(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, const float* values,
                        float* current) {
    for (std::size_t k = 0; k < units.size(); ++k) {
        const float* row = weights + std::int64_t(units[k]) * n_out;
        if (values) add_row<true>(current, row, values[k], n_out);
        else add_row<false>(current, row, 1.0f, n_out);
    }
    return std::int64_t(units.size()) * n_out;
}

std::int64_t conv_rows(const ConvCover& g, std::span<const std::int32_t> units, const float* values, float* current) {
    std::int64_t ops = 0;
    for (std::size_t k = 0; k < units.size(); ++k) {
        const std::int32_t u = units[k], pix = g.pixel_of[std::size_t(u)];
        const std::int64_t ci = u - std::int64_t(pix) * g.cin;
        const std::int32_t b = g.cover_begin[std::size_t(pix)], e = g.cover_begin[std::size_t(pix) + 1];
        for (std::int32_t q = b; q < e; ++q) {
            const float* kr = g.weights + (std::int64_t(g.cover_tap[std::size_t(q)]) * g.cin + ci) * g.cout;
            float* o = current + std::int64_t(g.cover_out[std::size_t(q)]) * g.cout;
            if (values) add_row<true>(o, kr, values[k], g.cout);
            else add_row<false>(o, kr, 1.0f, g.cout);
        }
        ops += std::int64_t(e - b) * g.cout;
    }
    return ops;
}

std::int64_t conv_scatter(const ConvCover& g, std::span<const std::int32_t> units, float* current) {
    switch (g.cout / 16) {
    case 1: return conv_scatter_pixels<2>(g, units, current);
    case 2: return conv_scatter_pixels<4>(g, units, current);
    case 3: return conv_scatter_pixels<6>(g, units, current);
    default: return conv_scatter_pixels<8>(g, units, current);
    }
}
std::int64_t dense_scatter(const float* weights, std::int64_t n_out, std::span<const std::int32_t> units, float* current) {
    switch ((n_out + 7) / 8) {
    case 1: return dense_scatter_narrow<1>(weights, n_out, units, current);
    case 2: return dense_scatter_narrow<2>(weights, n_out, units, current);
    case 3: return dense_scatter_narrow<3>(weights, n_out, units, current);
    case 4: return dense_scatter_narrow<4>(weights, n_out, units, current);
    case 5: return dense_scatter_narrow<5>(weights, n_out, units, current);
    case 6: return dense_scatter_narrow<6>(weights, n_out, units, current);
    case 7: return dense_scatter_narrow<7>(weights, n_out, units, current);
    default: return dense_scatter_narrow<8>(weights, n_out, units, current);
    }
}

// Average pooling from 16-unit spike masks (pool_masks of the AVX-512 copy):
// the sum where a mask bit is set, the current's own bits elsewhere.
std::int64_t pool_masks(const std::int32_t* pool_target, std::size_t pixels, int C, const float* weights,
                        const std::uint16_t* masks, float* current) {
    const int chunks = C / 16;
    std::int64_t ops = 0;
    for (std::size_t pix = 0; pix < pixels; ++pix) {
        const std::int32_t o = pool_target[pix * std::size_t(C)];
        if (o < 0) continue;
        for (int c = 0; c < chunks; ++c) {
            const std::uint16_t m = masks[pix * std::size_t(chunks) + std::size_t(c)];
            float* row = current + o + 16 * c;
            const __m256 lo = _mm256_loadu_ps(row), hi = _mm256_loadu_ps(row + 8);
            const __m256 wlo = _mm256_loadu_ps(weights + 16 * c), whi = _mm256_loadu_ps(weights + 16 * c + 8);
            _mm256_storeu_ps(row, _mm256_blendv_ps(lo, _mm256_add_ps(lo, wlo), _mm256_castsi256_ps(lanes_of(m & 0xFFu))));
            _mm256_storeu_ps(row + 8, _mm256_blendv_ps(hi, _mm256_add_ps(hi, whi), _mm256_castsi256_ps(lanes_of(unsigned(m) >> 8))));
            ops += std::popcount(unsigned(m));
        }
    }
    return ops;
}

} // namespace snn::kernels_avx2
SNN_END_AVX2
#endif

namespace snn {
namespace {

// f(bit − b0) for every set bit in [b0, b1), ascending.
template <class F>
inline void for_each_bit(const std::uint64_t* bits, std::int64_t b0, std::int64_t b1, F&& f) {
    std::int64_t w = b0 >> 6;
    const std::int64_t last = (b1 - 1) >> 6;
    std::uint64_t word = bits[w] & (~std::uint64_t(0) << (b0 & 63));
    for (;;) {
        if (w == last) word &= ~std::uint64_t(0) >> (63 - ((b1 - 1) & 63));
        while (word) {
            f(w * 64 + std::countr_zero(word) - b0);
            word &= word - 1;
        }
        if (++w > last) break;
        word = bits[w];
    }
}

// Channels [c0, c0 + CW) of every output pixel (CW = 0: the runtime width cout − c0).
template <int CW>
std::int64_t conv_gather_chunk(const float* weights, int cin, int cout, int c0, std::int64_t out_pixels,
                               const std::int32_t* tap_begin, const std::int32_t* tap_src, const std::int32_t* tap_k,
                               const std::uint64_t* bits, float* current) {
    constexpr int cap = CW > 0 ? CW : 16;
    const int width = CW > 0 ? CW : cout - c0;
    std::int64_t rows = 0;
    for (std::int64_t op = 0; op < out_pixels; ++op) {
        float acc[cap];
        float* o = current + op * cout + c0;
        for (int j = 0; j < (CW > 0 ? CW : width); ++j) acc[j] = o[j];
        for (std::int32_t e = tap_begin[op]; e < tap_begin[op + 1]; ++e) {
            const std::int64_t b0 = std::int64_t(tap_src[e]) * cin;
            const float* kbase = weights + std::int64_t(tap_k[e]) * cin * cout + c0;
            for_each_bit(bits, b0, b0 + cin, [&](std::int64_t ci) {
                const float* kr = kbase + ci * cout;
                for (int j = 0; j < (CW > 0 ? CW : width); ++j) acc[j] += kr[j];
                ++rows;
            });
        }
        for (int j = 0; j < (CW > 0 ? CW : width); ++j) o[j] = acc[j];
    }
    return rows * width;
}

} // namespace

ProjectionKernel::ProjectionKernel(const Projection& p, const Shape& src, const Shape& dst, FloatIsa isa)
    : kind_(p.kind), isa_(isa), src_(src), dst_(dst) {
    if (!float_isa_supported(isa))
        throw InternalError(std::string("ProjectionKernel: this CPU or build cannot run the float ISA ") + to_string(isa));
    if (p.kind != ProjectionKind::Conv2D && p.kind != ProjectionKind::AvgPool) return;
    const Window& w = p.window;
    const int cin = src.c;
    pixel_of_.resize(std::size_t(src.size()));
    for (std::int64_t u = 0; u < src.size(); ++u) pixel_of_[std::size_t(u)] = std::int32_t(u / cin);
    const std::int64_t src_pixels = std::int64_t(src.h) * src.w, out_pixels = std::int64_t(dst.h) * dst.w;
    cover_begin_.assign(std::size_t(src_pixels) + 1, 0);
    for (int y = 0; y < src.h; ++y)
        for (int x = 0; x < src.w; ++x) {
            for_each_covering_window(w, dst, y, x, [&](int oy, int ox, int ky, int kx) {
                cover_out_.push_back(oy * dst.w + ox);
                cover_tap_.push_back(ky * w.kw + kx);
            });
            cover_begin_[std::size_t(y * src.w + x) + 1] = std::int32_t(cover_out_.size());
        }
    if (p.kind == ProjectionKind::AvgPool) {
        // Windows that do not overlap (the usual 2x2 stride 2): each source unit
        // feeds at most one output unit, looked up directly.
        bool single = true;
        for (std::size_t q = 0; q + 1 < cover_begin_.size(); ++q) single &= cover_begin_[q + 1] - cover_begin_[q] <= 1;
        if (single) {
            pool_target_.assign(std::size_t(src.size()), -1);
            for (std::int64_t u = 0; u < src.size(); ++u) {
                const std::int32_t pix = pixel_of_[std::size_t(u)];
                if (cover_begin_[std::size_t(pix)] < cover_begin_[std::size_t(pix) + 1])
                    pool_target_[std::size_t(u)] =
                        cover_out_[std::size_t(cover_begin_[std::size_t(pix)])] * cin + std::int32_t(u - std::int64_t(pix) * cin);
            }
        }
        return;
    }
    if (p.kind != ProjectionKind::Conv2D) return;
    weights_.assign(p.weights.begin(), p.weights.end());
    tap_begin_.assign(std::size_t(out_pixels) + 1, 0);
    for (int oy = 0; oy < dst.h; ++oy)
        for (int ox = 0; ox < dst.w; ++ox) {
            for_each_tap(w, src, oy, ox, [&](int y, int x, int ky, int kx) {
                tap_src_.push_back(y * src.w + x);
                tap_k_.push_back(ky * w.kw + kx);
            });
            tap_begin_[std::size_t(oy * dst.w + ox) + 1] = std::int32_t(tap_src_.size());
        }
    taps_total_ = std::int64_t(tap_src_.size());
}

bool ProjectionKernel::pixel_scatter() const {
    return isa_ != FloatIsa::Portable && kind_ == ProjectionKind::Conv2D && dst_.c % 16 == 0 && dst_.c <= 64;
}

bool ProjectionKernel::takes_masks() const { return !pool_target_.empty() && src_.c % 16 == 0; }

bool ProjectionKernel::prefer_gather(std::size_t spikes) const {
    // Gather visits every (output pixel, tap) and reads its bit range whatever
    // the spikes; scatter pays a load and a store of cout currents per (spike,
    // tap). In isolation gather wins from a few percent of active inputs
    // (bench/bench_kernels.cpp), but inside the engine, on the MNIST CNN's
    // conv2 at about 11 % active inputs, always-scatter ran 1.4-1.9x faster than
    // choosing gather from 1 % (`snn run --kernels event|auto`), so gather is
    // kept for sources where a quarter or more of the units spiked.
    // The pixel-grouped scatter (conv_scatter_pixels, AVX-512) beats gather
    // at every rate measured, 5 % to 90 % active inputs (2.1-2.8x on
    // 12x12x16→10x10x32, build/snn_bench_kernels), so it is kept wherever it applies.
    if (pixel_scatter()) return false;
    return has_gather() && std::int64_t(spikes) * 4 >= src_.size();
}

// Average pooling from the spikes as 16-unit masks. The AVX-512 copy adds the
// channel weights under each mask in one masked addition; the portable one
// adds them one channel at a time, in the same order. (The engine only has
// spike masks from its AVX-512 neuron update; tests call this directly.)
std::int64_t ProjectionKernel::pool_masks(const Projection& p, const std::uint16_t* masks, float* current) const {
    const int C = src_.c, chunks = C / 16;
#if defined(SNN_FLOAT_AVX512)
    if (isa_ == FloatIsa::Avx512)
        return kernels_avx512::pool_masks(pool_target_.data(), pool_target_.size() / std::size_t(C), C, p.weights.data(), masks,
                                          current);
#endif
#if defined(SNN_FLOAT_AVX2)
    if (isa_ == FloatIsa::Avx2)
        return kernels_avx2::pool_masks(pool_target_.data(), pool_target_.size() / std::size_t(C), C, p.weights.data(), masks,
                                        current);
#endif
    std::int64_t ops = 0;
    for (std::size_t pix = 0; pix < pool_target_.size() / std::size_t(C); ++pix) {
        const std::int32_t o = pool_target_[pix * std::size_t(C)];
        if (o < 0) continue;
        for (int c = 0; c < C; ++c)
            if (masks[pix * std::size_t(chunks) + std::size_t(c / 16)] >> (c % 16) & 1u) {
                current[o + c] += p.weights[std::size_t(c)];
                ++ops;
            }
    }
    return ops;
}

std::int64_t ProjectionKernel::scatter(const Projection& p, std::span<const std::int32_t> units, const float* values,
                                       float* current) const {
    switch (p.kind) {
    case ProjectionKind::Dense:
#if defined(SNN_FLOAT_AVX512)
        // A narrow layer (a classifier) keeps its currents in registers across
        // the spikes: streaming rows through memory made each spike wait on
        // the previous one's store (perf, the MNIST CNN's 10-unit output).
        if (isa_ == FloatIsa::Avx512) {
            if (!values && dst_.size() <= 64) return kernels_avx512::dense_scatter(p.weights.data(), dst_.size(), units, current);
            return kernels_avx512::dense_rows(p.weights.data(), dst_.size(), units, values, current);
        }
#endif
#if defined(SNN_FLOAT_AVX2)
        if (isa_ == FloatIsa::Avx2) {
            if (!values && dst_.size() <= 64) return kernels_avx2::dense_scatter(p.weights.data(), dst_.size(), units, current);
            return kernels_avx2::dense_rows(p.weights.data(), dst_.size(), units, values, current);
        }
#endif
        // Row by row, as snn::scatter: each spiking unit streams its contiguous
        // row into the currents, which stay in L1. Measured faster than keeping
        // column chunks in registers across rows for 1024 outputs
        // (bench/bench_kernels.cpp).
        return snn::scatter(p, src_, dst_, units, values, current);
    case ProjectionKind::Conv2D: {
        const int cin = src_.c, cout = dst_.c;
        std::int64_t ops = 0;
#if defined(SNN_FLOAT_AVX512)
        if (isa_ == FloatIsa::Avx512) {
            const kernels_avx512::ConvCover g{pixel_of_.data(), cover_begin_.data(), cover_out_.data(), cover_tap_.data(),
                                              weights_.data(), cin, cout};
            if (!values && pixel_scatter()) return kernels_avx512::conv_scatter(g, units, current);
            return kernels_avx512::conv_rows(g, units, values, current);
        }
#endif
#if defined(SNN_FLOAT_AVX2)
        if (isa_ == FloatIsa::Avx2) {
            const kernels_avx512::ConvCover g{pixel_of_.data(), cover_begin_.data(), cover_out_.data(), cover_tap_.data(),
                                              weights_.data(), cin, cout};
            if (!values && pixel_scatter()) return kernels_avx2::conv_scatter(g, units, current);
            return kernels_avx2::conv_rows(g, units, values, current);
        }
#endif
        for (std::size_t k = 0; k < units.size(); ++k) {
            const std::int32_t u = units[k];
            const std::int32_t pix = pixel_of_[std::size_t(u)];
            const std::int64_t ci = u - std::int64_t(pix) * cin;
            const float a = values ? values[k] : 1.0f;
            const std::int32_t b = cover_begin_[std::size_t(pix)], e = cover_begin_[std::size_t(pix) + 1];
            for (std::int32_t q = b; q < e; ++q) {
                const float* __restrict kr = weights_.data() + (std::int64_t(cover_tap_[std::size_t(q)]) * cin + ci) * cout;
                float* __restrict o = current + std::int64_t(cover_out_[std::size_t(q)]) * cout;
                if (values)
                    for (int co = 0; co < cout; ++co) o[co] += a * kr[co];
                else
                    for (int co = 0; co < cout; ++co) o[co] += kr[co];
            }
            ops += std::int64_t(e - b) * cout;
        }
        return ops;
    }
    case ProjectionKind::AvgPool: {
        const int C = src_.c;
        std::int64_t ops = 0;
        if (!pool_target_.empty()) {
            for (std::size_t k = 0; k < units.size(); ++k) {
                const std::int32_t u = units[k], o = pool_target_[std::size_t(u)];
                if (o < 0) continue;
                // The channel from the pixel, not o % C: an integer division per
                // spike was most of this loop (perf).
                const std::int32_t c = u - pixel_of_[std::size_t(u)] * C;
                current[o] += (values ? values[k] : 1.0f) * p.weights[std::size_t(c)];
                ++ops;
            }
            return ops;
        }
        for (std::size_t k = 0; k < units.size(); ++k) {
            const std::int32_t u = units[k];
            const std::int32_t pix = pixel_of_[std::size_t(u)];
            const std::int32_t c = u - pix * C;
            const float a = (values ? values[k] : 1.0f) * p.weights[std::size_t(c)];
            const std::int32_t b = cover_begin_[std::size_t(pix)], e = cover_begin_[std::size_t(pix) + 1];
            for (std::int32_t q = b; q < e; ++q) current[std::int64_t(cover_out_[std::size_t(q)]) * C + c] += a;
            ops += e - b;
        }
        return ops;
    }
    default: break; // the kind's own reference kernel (sim/kinds/)
    }
    return snn::scatter(p, src_, dst_, units, values, current);
}

std::int64_t ProjectionKernel::gather(const Projection& p, const std::uint64_t* bits, float* current) const {
    if (!has_gather()) throw InternalError("gather: only Conv2D projections have a gather path");
    const int cin = src_.c, cout = dst_.c;
    const std::int64_t out_pixels = std::int64_t(dst_.h) * dst_.w;
    const float* w = weights_.data();
    std::int64_t ops = 0;
    int c0 = 0;
    const auto args = [&] { return std::tuple(w, cin, cout, c0, out_pixels, tap_begin_.data(), tap_src_.data(), tap_k_.data(), bits, current); };
    for (; c0 + 32 <= cout; c0 += 32) ops += std::apply(conv_gather_chunk<32>, args());
    for (; c0 + 16 <= cout; c0 += 16) ops += std::apply(conv_gather_chunk<16>, args());
    for (; c0 + 8 <= cout; c0 += 8) ops += std::apply(conv_gather_chunk<8>, args());
    // The runtime-width tail holds fewer than 8 channels.
    if (c0 < cout) ops += std::apply(conv_gather_chunk<0>, args());
    return ops;
}

} // namespace snn
