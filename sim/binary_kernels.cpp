#include "sim/binary_kernels.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cassert>
#include <climits>

namespace snn {

// Bit-packed weights and spikes: 64 inputs per word, bit i of word w for input 64·w + i.
static_assert(sizeof(std::uint64_t) * CHAR_BIT == 64, "a word packs 64 inputs");

const char* to_string(PopcountIsa isa) {
    switch (isa) {
    case PopcountIsa::Scalar: return "scalar";
    case PopcountIsa::Avx2: return "avx2";
    case PopcountIsa::Avx512: return "avx512";
    }
    return "?";
}

PopcountIsa popcount_isa_from(const std::string& s) {
    for (auto isa : {PopcountIsa::Scalar, PopcountIsa::Avx2, PopcountIsa::Avx512})
        if (s == to_string(isa)) return isa;
    throw OptionError("popcount", s, "popcount '" + s + "': expected auto, scalar, avx2 or avx512");
}

bool popcount_isa_supported(PopcountIsa isa) {
#if defined(__x86_64__)
    switch (isa) {
    case PopcountIsa::Scalar: return true;
    case PopcountIsa::Avx2: return __builtin_cpu_supports("avx2");
    case PopcountIsa::Avx512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vpopcntdq");
    }
    return false;
#else
    return isa == PopcountIsa::Scalar;
#endif
}

PopcountIsa best_popcount_isa() {
    if (popcount_isa_supported(PopcountIsa::Avx512)) return PopcountIsa::Avx512;
    if (popcount_isa_supported(PopcountIsa::Avx2)) return PopcountIsa::Avx2;
    return PopcountIsa::Scalar;
}

namespace {

using Words = std::uint64_t;

// The one float expression every implementation ends with (−ffp-contract=off
// keeps it a separate multiply and add, as the vector versions do).
inline float binary_input(float alpha, std::int64_t count, std::int64_t n) {
    return alpha * float(2 * count - n);
}

// Word k of a row of n inputs split into `words` words: the bits that are inputs.
inline Words tail_mask(std::int64_t k, std::int64_t words, std::int64_t n) {
    return k + 1 < words || n % 64 == 0 ? ~Words(0) : (Words(1) << (n % 64)) - 1;
}

// ---------------------------------------------------------------- scalar

// Dense: counts of output j over the nonzero spike words (index, word).
// Dense weights are blocked: 32 outputs × all words per block, so that one
// block is one sequential stream: word k of output j at ((j/32)·words + k)·32 + j%32.
constexpr std::int64_t block = 32;
inline std::int64_t dense_index(std::int64_t words, std::int64_t k, std::int64_t j) {
    return ((j / block) * words + k) * block + j % block;
}

void dense_scalar(const Words* w, std::int64_t words, std::int64_t outputs, const Words* nz_index, const Words* s,
                  std::int64_t nz, std::int64_t n, const float* alpha, float* current) {
    for (std::int64_t j = 0; j < outputs; ++j) {
        std::int64_t c = 0;
        for (std::int64_t q = 0; q < nz; ++q) {
            const Words k = nz_index[q];
            c += std::popcount(s[k] & w[dense_index(words, std::int64_t(k), j)]);
        }
        current[j] += binary_input(alpha[j], c, n);
    }
}

// Conv2D, one output pixel: for channels [0, outputs), the sum over its
// (weight row, spike word) pairs of popcount(spike word ∧ row word), then
// the currents. `rows` are offsets into w of rows of out_pad channel words.
void conv_pixel_scalar(const Words* w, std::int64_t outputs, const std::int64_t* rows, const Words* sw,
                       std::int64_t pairs, std::int64_t n, const float* alpha, float* current) {
    for (std::int64_t co = 0; co < outputs; ++co) {
        std::int64_t c = 0;
        for (std::int64_t e = 0; e < pairs; ++e) c += std::popcount(sw[e] & w[rows[e] + co]);
        current[co] += binary_input(alpha[co], c, n);
    }
}

#if defined(__x86_64__)
// ---------------------------------------------------------------- AVX-512

#define SNN_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq")))

// current[j0 .. j0+8) += α·(2c − n) for the 8 counts in `c` (masked past `outputs`).
SNN_AVX512 inline void finish8_avx512(__m512i c, std::int64_t n, const float* alpha, float* current, std::int64_t j0,
                                      std::int64_t outputs) {
    const __m512i d = _mm512_sub_epi64(_mm512_add_epi64(c, c), _mm512_set1_epi64(n));
    const __m256 x = _mm512_cvtepi64_ps(d);
    const __m256 a = _mm256_load_ps(alpha + j0);
    const std::int64_t left = outputs - j0;
    const __mmask8 m = left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1);
    const __m256 cur = _mm256_maskz_loadu_ps(m, current + j0);
    _mm256_mask_storeu_ps(current + j0, m, _mm256_add_ps(cur, _mm256_mul_ps(a, x)));
}

SNN_AVX512 void dense_avx512(const Words* w, std::int64_t words, std::int64_t outputs, const Words* nz_index,
                             const Words* s, std::int64_t nz, std::int64_t n, const float* alpha, float* current) {
    for (std::int64_t j0 = 0; j0 < outputs; j0 += block) {
        const Words* wb = w + j0 * words; // this block's words, one sequential stream
        __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
        for (std::int64_t q = 0; q < nz; ++q) {
            const Words k = nz_index[q];
            const __m512i sv = _mm512_set1_epi64(std::int64_t(s[k]));
            const Words* row = wb + std::int64_t(k) * block;
            c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_and_si512(sv, _mm512_load_si512(row))));
            c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_and_si512(sv, _mm512_load_si512(row + 8))));
            c2 = _mm512_add_epi64(c2, _mm512_popcnt_epi64(_mm512_and_si512(sv, _mm512_load_si512(row + 16))));
            c3 = _mm512_add_epi64(c3, _mm512_popcnt_epi64(_mm512_and_si512(sv, _mm512_load_si512(row + 24))));
        }
        finish8_avx512(c0, n, alpha, current, j0, outputs);
        if (j0 + 8 < outputs) finish8_avx512(c1, n, alpha, current, j0 + 8, outputs);
        if (j0 + 16 < outputs) finish8_avx512(c2, n, alpha, current, j0 + 16, outputs);
        if (j0 + 24 < outputs) finish8_avx512(c3, n, alpha, current, j0 + 24, outputs);
    }
}

SNN_AVX512 void conv_pixel_avx512(const Words* w, std::int64_t out_pad, std::int64_t outputs, const std::int64_t* rows,
                                  const Words* sw, std::int64_t pairs, std::int64_t n, const float* alpha, float* current) {
    // Blocks of up to 64 channels kept in 8 registers across all pairs.
    for (std::int64_t c0 = 0; c0 < out_pad; c0 += 64) {
        const int chunks = int(std::min<std::int64_t>(8, (out_pad - c0) / 8));
        __m512i acc[8];
        for (int k = 0; k < 8; ++k) acc[k] = _mm512_setzero_si512();
        for (std::int64_t e = 0; e < pairs; ++e) {
            const __m512i sv = _mm512_set1_epi64(std::int64_t(sw[e]));
            const Words* row = w + rows[e] + c0;
            for (int k = 0; k < chunks; ++k)
                acc[k] = _mm512_add_epi64(acc[k], _mm512_popcnt_epi64(_mm512_and_si512(sv, _mm512_load_si512(row + 8 * k))));
        }
        for (int k = 0; k < chunks; ++k) finish8_avx512(acc[k], n, alpha + c0, current + c0, 8 * k, outputs - c0);
    }
}

// B spike vectors against each weight word loaded once: 16 outputs × B
// accumulators in registers, so each loaded word feeds B AND + popcounts.
template <int B>
SNN_AVX512 void dense_batch_avx512(const Words* w, std::int64_t words, std::int64_t outputs, const Words* nz_index,
                                   std::int64_t nz, const Words* const* s, const std::int64_t* n, const float* alpha,
                                   float* const* current) {
    for (std::int64_t j0 = 0; j0 < outputs; j0 += 16) {
        const Words* wb = w + (j0 / block) * words * block + j0 % block;
        __m512i lo[B], hi[B];
        for (int b = 0; b < B; ++b) lo[b] = hi[b] = _mm512_setzero_si512();
        for (std::int64_t q = 0; q < nz; ++q) {
            const Words k = nz_index[q];
            const __m512i w0 = _mm512_load_si512(wb + std::int64_t(k) * block);
            const __m512i w1 = _mm512_load_si512(wb + std::int64_t(k) * block + 8);
            for (int b = 0; b < B; ++b) {
                const __m512i sv = _mm512_set1_epi64(std::int64_t(s[b][k]));
                lo[b] = _mm512_add_epi64(lo[b], _mm512_popcnt_epi64(_mm512_and_si512(sv, w0)));
                hi[b] = _mm512_add_epi64(hi[b], _mm512_popcnt_epi64(_mm512_and_si512(sv, w1)));
            }
        }
        for (int b = 0; b < B; ++b) {
            if (n[b] == 0) continue; // no spike: nothing added, as accumulate() adds nothing
            if (j0 + 16 <= outputs) {
                // 16 whole outputs: one conversion, multiply and add for both halves (the same
                // operations per lane as finish8_avx512).
                const __m512i nv = _mm512_set1_epi64(n[b]);
                const __m256 xl = _mm512_cvtepi64_ps(_mm512_sub_epi64(_mm512_add_epi64(lo[b], lo[b]), nv));
                const __m256 xh = _mm512_cvtepi64_ps(_mm512_sub_epi64(_mm512_add_epi64(hi[b], hi[b]), nv));
                const __m512 x = _mm512_insertf32x8(_mm512_castps256_ps512(xl), xh, 1);
                float* cur = current[b] + j0;
                _mm512_storeu_ps(cur, _mm512_add_ps(_mm512_loadu_ps(cur), _mm512_mul_ps(_mm512_load_ps(alpha + j0), x)));
                continue;
            }
            finish8_avx512(lo[b], n[b], alpha, current[b], j0, outputs);
            if (j0 + 8 < outputs) finish8_avx512(hi[b], n[b], alpha, current[b], j0 + 8, outputs);
        }
    }
}

SNN_AVX512 void xnor_avx512(const Words* w, std::int64_t outputs, std::int64_t words, std::int64_t n_in,
                            const Words* a, const float* alpha, float* out) {
    for (std::int64_t j0 = 0; j0 < outputs; j0 += 8) {
        const Words* wb = w + (j0 / block) * words * block + j0 % block;
        __m512i c = _mm512_setzero_si512();
        for (std::int64_t k = 0; k < words; ++k) {
            const Words mask = tail_mask(k, words, n_in);
            const __m512i av = _mm512_set1_epi64(std::int64_t(a[k] & mask));
            const __m512i mv = _mm512_set1_epi64(std::int64_t(mask));
            const __m512i x = _mm512_and_si512(_mm512_xor_si512(av, _mm512_load_si512(wb + k * block)), mv);
            c = _mm512_add_epi64(c, _mm512_popcnt_epi64(x));
        }
        // out = α·(n − 2c)
        const __m512i d = _mm512_sub_epi64(_mm512_set1_epi64(n_in), _mm512_add_epi64(c, c));
        const __m256 r = _mm256_mul_ps(_mm256_load_ps(alpha + j0), _mm512_cvtepi64_ps(d));
        const std::int64_t left = outputs - j0;
        _mm256_mask_storeu_ps(out + j0, left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1), r);
    }
}

// ---------------------------------------------------------------- AVX2

#define SNN_AVX2 __attribute__((target("avx2")))

// Popcount of each 64-bit lane: nibble table lookups, summed per lane by vpsadbw.
SNN_AVX2 inline __m256i popcnt64_avx2(__m256i v) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                           2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
    return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

SNN_AVX2 inline void finish4_avx2(__m256i c, std::int64_t n, const float* alpha, float* current, std::int64_t j0,
                                  std::int64_t outputs) {
    alignas(32) std::int64_t counts[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(counts), c);
    for (std::int64_t k = 0; k < 4 && j0 + k < outputs; ++k)
        current[j0 + k] += binary_input(alpha[j0 + k], counts[k], n);
}

SNN_AVX2 void dense_avx2(const Words* w, std::int64_t words, std::int64_t outputs, const Words* nz_index,
                         const Words* s, std::int64_t nz, std::int64_t n, const float* alpha, float* current) {
    for (std::int64_t j0 = 0; j0 < outputs; j0 += 8) {
        const Words* wb = w + (j0 / block) * words * block + j0 % block;
        __m256i c0 = _mm256_setzero_si256(), c1 = c0;
        for (std::int64_t q = 0; q < nz; ++q) {
            const Words k = nz_index[q];
            const __m256i sv = _mm256_set1_epi64x(std::int64_t(s[k]));
            const Words* row = wb + std::int64_t(k) * block;
            c0 = _mm256_add_epi64(c0, popcnt64_avx2(_mm256_and_si256(sv, _mm256_load_si256(reinterpret_cast<const __m256i*>(row)))));
            c1 = _mm256_add_epi64(c1, popcnt64_avx2(_mm256_and_si256(sv, _mm256_load_si256(reinterpret_cast<const __m256i*>(row + 4)))));
        }
        finish4_avx2(c0, n, alpha, current, j0, outputs);
        finish4_avx2(c1, n, alpha, current, j0 + 4, outputs);
    }
}

SNN_AVX2 void conv_pixel_avx2(const Words* w, std::int64_t out_pad, std::int64_t outputs, const std::int64_t* rows,
                              const Words* sw, std::int64_t pairs, std::int64_t n, const float* alpha, float* current) {
    for (std::int64_t c0 = 0; c0 < out_pad; c0 += 32) {
        const int chunks = int(std::min<std::int64_t>(8, (out_pad - c0) / 4));
        __m256i acc[8];
        for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_si256();
        for (std::int64_t e = 0; e < pairs; ++e) {
            const __m256i sv = _mm256_set1_epi64x(std::int64_t(sw[e]));
            const Words* row = w + rows[e] + c0;
            for (int k = 0; k < chunks; ++k)
                acc[k] = _mm256_add_epi64(
                    acc[k], popcnt64_avx2(_mm256_and_si256(sv, _mm256_load_si256(reinterpret_cast<const __m256i*>(row + 4 * k)))));
        }
        for (int k = 0; k < chunks; ++k) finish4_avx2(acc[k], n, alpha + c0, current + c0, 4 * k, outputs - c0);
    }
}

SNN_AVX2 void xnor_avx2(const Words* w, std::int64_t outputs, std::int64_t words, std::int64_t n_in, const Words* a,
                        const float* alpha, float* out) {
    for (std::int64_t j0 = 0; j0 < outputs; j0 += 4) {
        const Words* wb = w + (j0 / block) * words * block + j0 % block;
        __m256i c = _mm256_setzero_si256();
        for (std::int64_t k = 0; k < words; ++k) {
            const Words mask = tail_mask(k, words, n_in);
            const __m256i av = _mm256_set1_epi64x(std::int64_t(a[k] & mask));
            const __m256i x = _mm256_and_si256(
                _mm256_xor_si256(av, _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + k * block))),
                _mm256_set1_epi64x(std::int64_t(mask)));
            c = _mm256_add_epi64(c, popcnt64_avx2(x));
        }
        alignas(32) std::int64_t counts[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(counts), c);
        for (std::int64_t k = 0; k < 4 && j0 + k < outputs; ++k) out[j0 + k] = alpha[j0 + k] * float(n_in - 2 * counts[k]);
    }
}
#endif

void xnor_scalar(const Words* w, std::int64_t outputs, std::int64_t words, std::int64_t n_in, const Words* a,
                 const float* alpha, float* out) {
    for (std::int64_t j = 0; j < outputs; ++j) {
        std::int64_t c = 0;
        for (std::int64_t k = 0; k < words; ++k) {
            c += std::popcount((a[k] ^ w[dense_index(words, k, j)]) & tail_mask(k, words, n_in));
        }
        out[j] = alpha[j] * float(n_in - 2 * c);
    }
}

// Sets the bits of `units` (ascending) in the all-zero `bits`; lists the
// words it wrote in `words_written` if given; returns their number. Branch-
// free: the word being filled is kept in a register and stored after every
// spike (the last store to a word holds all its bits), so a spike neither
// waits on the previous spike's store nor mispredicts where a new word starts.
std::int64_t set_bits(std::span<const std::int32_t> units, Words* bits, Words* words_written) {
    if (units.empty()) return 0;
    std::int64_t current = units[0] >> 6, n = 1;
    Words word = 0;
    for (std::int32_t u : units) {
        const std::int64_t w = u >> 6;
        const bool same = w == current;
        word = (same ? word : 0) | Words(1) << (u & 63);
        bits[w] = word;
        n += !same;
        if (words_written) words_written[n - 1] = Words(w); // the test does not change within a call
        current = w;
    }
    return n;
}

} // namespace

BinaryKernel::BinaryKernel(const Projection& p, const Shape& src, const Shape& dst) : kind_(p.kind), src_(src), dst_(dst) {
    if (!p.binary) throw InternalError("BinaryKernel: the projection from layer '" + p.layer + "' is not binary");
    const BinaryWeights& b = p.bin;
    outputs_ = std::int64_t(b.alpha.size());
    // Dense: whole blocks of 32 outputs; Conv2D: output channels rounded up to 8.
    out_pad_ = kind_ == ProjectionKind::Dense ? (outputs_ + block - 1) / block * block : (outputs_ + 7) / 8 * 8;
    words_ = b.row_words;
    alpha_.assign(std::size_t(out_pad_), 0.0f);
    std::copy(b.alpha.begin(), b.alpha.end(), alpha_.begin());
    if (kind_ == ProjectionKind::Dense) {
        // Row j of p.bin goes to block j/32, word k, lane j%32.
        w_.assign(std::size_t(words_ * out_pad_), 0);
        for (std::int64_t o = 0; o < outputs_; ++o)
            for (std::int64_t k = 0; k < words_; ++k)
                w_[std::size_t(dense_index(words_, k, o))] = b.bits[std::size_t(o * words_ + k)];
        // The spike bits (max_batch bitsets for accumulate_batch), then the indices of their nonzero words.
        scratch_words_ = std::size_t((max_batch + 1) * words_);
        return;
    }
    const std::int64_t taps = std::int64_t(p.window.kh) * p.window.kw;
    // Conv2D: a window row (ky fixed, kx = 0 … kw−1, every input channel) is
    // kw·cin consecutive bits of the channels-last spike bitset, so the kernel
    // ANDs whole window rows: words_ = ⌈kw·cin / 64⌉ words per (ky, output
    // channel) instead of ⌈cin / 64⌉ per tap. Layout [ky][word][channel].
    const Window& win = p.window;
    window_ = win;
    const std::int64_t cin = src.c, row_bits = std::int64_t(win.kw) * cin;
    words_ = (row_bits + 63) / 64;
    w_.assign(std::size_t(std::int64_t(win.kh) * words_ * out_pad_), 0);
    for (std::int64_t o = 0; o < outputs_; ++o)
        for (std::int64_t ky = 0; ky < win.kh; ++ky)
            for (std::int64_t kx = 0; kx < win.kw; ++kx)
                for (std::int64_t ci = 0; ci < cin; ++ci) {
                    const std::int64_t tap = ky * win.kw + kx;
                    if (!((b.bits[std::size_t((o * taps + tap) * b.row_words + ci / 64)] >> (ci % 64)) & 1)) continue;
                    const std::int64_t bit = kx * cin + ci;
                    w_[std::size_t((ky * words_ + bit / 64) * out_pad_ + o)] |= Words(1) << (bit % 64);
                }
    // Per output column, the bits of a window row inside the source (the rest
    // are padding, or the neighbouring image row in the bitset).
    row_mask_.assign(std::size_t(dst.w * words_), 0);
    for (int ox = 0; ox < dst.w; ++ox)
        for (int kx = 0; kx < win.kw; ++kx) {
            const int x = ox * win.sw - win.pad_left + kx;
            if (x < 0 || x >= src.w) continue;
            for (std::int64_t ci = 0; ci < cin; ++ci) {
                const std::int64_t bit = kx * cin + ci;
                row_mask_[std::size_t(ox * words_ + bit / 64)] |= Words(1) << (bit % 64);
            }
        }
    // Scratch: guard words, the spike bitset, guard words (a window row that
    // starts in the left padding, or ends past the last unit, reads zeros or
    // masked bits there); the list of bitset words written; the pairs of one
    // output pixel.
    guard_ = (std::int64_t(win.pad_left) * cin + 63) / 64 + 1;
    const std::int64_t src_words = (src.size() + 63) / 64;
    bits_words_ = guard_ + src_words + words_ + 2;
    list_words_ = src_words;
    pair_capacity_ = std::int64_t(win.kh) * words_;
    scratch_words_ = std::size_t(bits_words_ + list_words_ + 2 * pair_capacity_);
}

namespace {
// The (weight row, spike word) pairs of one output pixel's window, appended
// at rows and sw (pairs: how many); returns the spikes in the window. Window
// row ky reads source row y0 + ky (if inside [0, h)), starting at bit
// start + (y0 + ky)·row_bits. Compiled twice, with and without the popcnt
// instruction, and chosen when the program loads (GCC's target_clones): the
// baseline x86-64 has none, and a library call per word cost a binary CNN
// about 4 % of its run (perf).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
std::int64_t window_pairs(const Words* bits, const Words* mask, std::int64_t words, std::int64_t out_pad, int kh,
                          std::int64_t y0, int h, std::int64_t start, std::int64_t row_bits, std::int64_t* rows, Words* sw,
                          std::int64_t& pairs) {
    std::int64_t n = 0;
    for (int ky = 0; ky < kh; ++ky) {
        const std::int64_t y = y0 + ky;
        if (y < 0 || y >= h) continue;
        const std::int64_t first = start + y * row_bits;
        for (std::int64_t q = 0; q < words; ++q) {
            const std::int64_t pos = first + 64 * q, k = pos >> 6, shift = pos & 63;
            const Words word = ((bits[k] >> shift) | (shift ? bits[k + 1] << (64 - shift) : 0)) & mask[q];
            if (!word) continue;
            n += std::popcount(word);
            rows[pairs] = (ky * words + q) * out_pad;
            sw[pairs] = word;
            ++pairs;
        }
    }
    return n;
}
} // namespace

std::int64_t BinaryKernel::accumulate(std::span<const std::int32_t> units, std::uint64_t* scratch, float* current,
                                      PopcountIsa isa) const {
    if (units.empty()) return 0;
    assert(std::is_sorted(units.begin(), units.end()) && units.front() >= 0); // the kernels read words in order
    const Words* w = w_.data();
    const float* alpha = alpha_.data();
    if (kind_ == ProjectionKind::Dense) {
        Words* s = scratch;
        Words* nz_index = scratch + words_;
        const std::int64_t nz = set_bits(units, s, nz_index);
        const std::int64_t n = std::int64_t(units.size());
        switch (isa) {
#if defined(__x86_64__)
        case PopcountIsa::Avx512: dense_avx512(w, words_, outputs_, nz_index, s, nz, n, alpha, current); break;
        case PopcountIsa::Avx2: dense_avx2(w, words_, outputs_, nz_index, s, nz, n, alpha, current); break;
#endif
        default: dense_scalar(w, words_, outputs_, nz_index, s, nz, n, alpha, current); break;
        }
        for (std::int64_t q = 0; q < nz; ++q) {
            s[nz_index[q]] = 0;
            nz_index[q] = 0;
        }
        return n * outputs_;
    }
    // Conv2D: the spikes as a bitset over source units, behind guard words.
    Words* bits = scratch;
    Words* list = scratch + bits_words_;
    auto* rows = reinterpret_cast<std::int64_t*>(list + list_words_);
    Words* sw = list + list_words_ + pair_capacity_;
    const std::int64_t written = set_bits(units, bits + guard_, list);
    const std::int64_t cin = src_.c, W = src_.w;
    const Window& win = window_;
    std::int64_t spikes_in_windows = 0;
    for (int oy = 0; oy < dst_.h; ++oy)
        for (int ox = 0; ox < dst_.w; ++ox) {
            // The (weight row, spike word) pairs of this output pixel's window.
            std::int64_t pairs = 0;
            const std::int64_t n = window_pairs(bits, row_mask_.data() + std::int64_t(ox) * words_, words_, out_pad_, win.kh,
                                                std::int64_t(oy) * win.sh - win.pad_top, src_.h,
                                                guard_ * 64 + (std::int64_t(ox) * win.sw - win.pad_left) * cin, W * cin, rows,
                                                sw, pairs);
            if (n == 0) continue; // nothing spiked in the window: nothing is added
            spikes_in_windows += n;
            float* cur = current + (std::int64_t(oy) * dst_.w + ox) * outputs_;
            switch (isa) {
#if defined(__x86_64__)
            case PopcountIsa::Avx512: conv_pixel_avx512(w, out_pad_, outputs_, rows, sw, pairs, n, alpha, cur); break;
            case PopcountIsa::Avx2: conv_pixel_avx2(w, out_pad_, outputs_, rows, sw, pairs, n, alpha, cur); break;
#endif
            default: conv_pixel_scalar(w, outputs_, rows, sw, pairs, n, alpha, cur); break;
            }
        }
    for (std::int64_t i = 0; i < written; ++i) {
        bits[guard_ + std::int64_t(list[i])] = 0;
        list[i] = 0;
    }
    std::fill(list + list_words_, list + list_words_ + 2 * pair_capacity_, Words(0)); // the pair buffers
    return spikes_in_windows * outputs_;
}

std::int64_t BinaryKernel::accumulate_batch(std::span<const std::span<const std::int32_t>> units,
                                            std::uint64_t* scratch, float* const* current, PopcountIsa isa) const {
    const auto count = std::int64_t(units.size());
    if (kind_ != ProjectionKind::Dense || isa != PopcountIsa::Avx512 || count < 2) {
        std::int64_t events = 0;
        for (std::int64_t b = 0; b < count; ++b) events += accumulate(units[std::size_t(b)], scratch, current[b], isa);
        return events;
    }
#if defined(__x86_64__)
    std::int64_t events = 0;
    for (std::int64_t b0 = 0; b0 < count; b0 += max_batch) {
        const int B = int(std::min<std::int64_t>(max_batch, count - b0));
        // Scratch: B spike bitsets, then the words where any of them has a spike.
        const Words* s[max_batch];
        std::int64_t n[max_batch];
        Words* nz_index = scratch + std::int64_t(max_batch) * words_;
        std::int64_t nz = 0;
        for (int b = 0; b < B; ++b) {
            Words* bits = scratch + std::int64_t(b) * words_;
            s[b] = bits;
            const auto& u = units[std::size_t(b0 + b)];
            n[b] = std::int64_t(u.size());
            events += n[b] * outputs_;
            set_bits(u, bits, nullptr);
        }
        for (std::int64_t k = 0; k < words_; ++k) {
            Words any = 0;
            for (int b = 0; b < B; ++b) any |= s[b][k];
            if (any) nz_index[nz++] = Words(k);
        }
        float* const* cur = current + b0;
        switch (B) {
        case 2: dense_batch_avx512<2>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 3: dense_batch_avx512<3>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 4: dense_batch_avx512<4>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 5: dense_batch_avx512<5>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 6: dense_batch_avx512<6>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 7: dense_batch_avx512<7>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        case 8: dense_batch_avx512<8>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        default: dense_batch_avx512<1>(w_.data(), words_, outputs_, nz_index, nz, s, n, alpha_.data(), cur); break;
        }
        // Every word a list wrote is in nz_index: clearing those costs B·nz stores, whatever the spike count.
        for (std::int64_t q = 0; q < nz; ++q) {
            for (int b = 0; b < B; ++b) scratch[std::int64_t(b) * words_ + std::int64_t(nz_index[q])] = 0;
            nz_index[q] = 0;
        }
    }
    return events;
#else
    return 0;
#endif
}

std::int64_t BinaryKernel::xnor(const std::uint64_t* activation_bits, float* out, PopcountIsa isa) const {
    if (kind_ != ProjectionKind::Dense) throw InternalError("BinaryKernel::xnor: dense projections only");
    const std::int64_t n_in = src_.size();
    switch (isa) {
#if defined(__x86_64__)
    case PopcountIsa::Avx512: xnor_avx512(w_.data(), outputs_, words_, n_in, activation_bits, alpha_.data(), out); break;
    case PopcountIsa::Avx2: xnor_avx2(w_.data(), outputs_, words_, n_in, activation_bits, alpha_.data(), out); break;
#endif
    default: xnor_scalar(w_.data(), outputs_, words_, n_in, activation_bits, alpha_.data(), out); break;
    }
    return n_in * outputs_;
}

} // namespace snn
