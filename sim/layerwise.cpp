#include "sim/layerwise.hpp"

#include "sim/neuron.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cassert>
#include <climits>
#include <array>
#include <bit>
#include <limits>

namespace snn {

// The layouts the kernels assume: spikes as 16-unit masks, one mask per 16
// floats of a register (AVX-512) or of the portable Vec, bit k for unit k.
static_assert(sizeof(std::uint16_t) * CHAR_BIT == 16, "a spike mask word covers 16 units");
#if defined(__AVX512F__)
static_assert(sizeof(__mmask16) == sizeof(std::uint16_t) && sizeof(__m512) == 16 * sizeof(float),
              "a 16-bit mask selects the 16 float lanes of a register");
#endif

namespace {

// 16 lanes: AVX-512 registers, or a plain array where the build lacks them
// (the sanitizer build), with the step-by-step engine's arithmetic in each.
#if defined(__AVX512F__)
using Vec = __m512;
inline __mmask16 first(int n) { return __mmask16((1u << n) - 1u); }
inline Vec splat(float x) { return _mm512_set1_ps(x); }
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec load_first(const float* p, int n) { return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(first(n), p); }
inline void store(float* p, Vec x) { _mm512_storeu_ps(p, x); }
inline void store_first(float* p, int n, Vec x) {
    if (n >= 16) _mm512_storeu_ps(p, x);
    else _mm512_mask_storeu_ps(p, first(n), x);
}
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec add_where(Vec a, std::uint16_t m, Vec b) { return _mm512_mask_add_ps(a, __mmask16(m), a, b); }
// The neuron rule (sim/neuron.hpp) on 16 lanes.
template <bool Subtract>
inline std::uint16_t update(Vec& v, Vec in, Vec decay, Vec v_th) {
    return neuron::step<Subtract, neuron::Lanes16>(v, in, decay, v_th);
}
// base + k·scale for every set bit k of m, ascending, written at out (16
// entries are written: compressed in a register and stored whole, as the
// memory form of vpcompressd is microcoded on AMD Zen 4); returns how many
// are set. `table` holds k·scale in entry k (LayerKernel::offsets_). (Looking the offsets up per byte in a 256-entry table instead was
// no faster: 2094-2225 against 1864-2384 images/s, alternating runs.)
struct Offsets {
    __m512i lanes; // base + k·scale in lane k
};
inline Offsets offsets(const std::int32_t* table, std::int32_t base) {
    return {_mm512_add_epi32(_mm512_load_si512(table), _mm512_set1_epi32(base))};
}
inline int list_bits(std::int32_t* out, std::uint16_t m, const Offsets& o) {
    _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(m, o.lanes));
    return std::popcount(unsigned(m));
}
inline void fill16(std::int32_t* out, std::int32_t x) { _mm512_storeu_si512(out, _mm512_set1_epi32(x)); }
// Spike counts, 16 units.
using Counts = __m512i;
inline Counts no_counts() { return _mm512_setzero_si512(); }
inline void count(Counts& c, std::uint16_t m) { c = _mm512_mask_add_epi32(c, __mmask16(m), c, _mm512_set1_epi32(1)); }
inline void store_first(std::int32_t* p, int n, Counts c) {
    if (n >= 16) _mm512_storeu_si512(p, c);
    else _mm512_mask_storeu_epi32(p, first(n), c);
}
inline Counts load_first(const std::int32_t* p, int n) {
    return n >= 16 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(first(n), p);
}
// The lanes where a > b, and b with a taken in the lanes of m.
inline std::uint16_t greater(Counts a, Counts b) { return _mm512_cmpgt_epi32_mask(a, b); }
inline Counts take(Counts b, std::uint16_t m, Counts a) { return _mm512_mask_mov_epi32(b, __mmask16(m), a); }
#else
struct Vec {
    float x[16];
};
inline Vec splat(float a) {
    Vec r;
    std::fill(r.x, r.x + 16, a);
    return r;
}
inline Vec load_first(const float* p, int n) {
    Vec r{};
    std::copy(p, p + std::min(n, 16), r.x);
    return r;
}
inline Vec load(const float* p) { return load_first(p, 16); }
inline void store_first(float* p, int n, Vec a) { std::copy(a.x, a.x + std::min(n, 16), p); }
inline void store(float* p, Vec a) { store_first(p, 16, a); }
inline Vec add(Vec a, Vec b) {
    for (int j = 0; j < 16; ++j) a.x[j] += b.x[j];
    return a;
}
inline Vec add_where(Vec a, std::uint16_t m, Vec b) {
    for (int j = 0; j < 16; ++j)
        if (m >> j & 1u) a.x[j] += b.x[j];
    return a;
}
// The neuron rule (sim/neuron.hpp), lane by lane. Only IF (decay 1) runs
// layer by layer in such a build (LayerKernel::applies): a build without
// hardware FMA computes LIF's fused multiply-add in software, which the
// step-by-step engine does too, but slowly.
template <bool Subtract>
inline std::uint16_t update(Vec& v, Vec in, Vec decay, Vec v_th) {
    std::uint16_t mask = 0;
    for (int j = 0; j < 16; ++j)
        mask = std::uint16_t(mask | unsigned(neuron::step<Subtract, neuron::Lanes1<float>>(v.x[j], in.x[j], decay.x[j], v_th.x[j])) << j);
    return mask;
}
struct Offsets {
    const std::int32_t* table;
    std::int32_t base;
};
inline Offsets offsets(const std::int32_t* table, std::int32_t base) { return {table, base}; }
inline int list_bits(std::int32_t* out, std::uint16_t m, const Offsets& o) {
    int k = 0;
    for (unsigned b = m; b; b &= b - 1) out[k++] = o.base + o.table[std::countr_zero(b)];
    return k;
}
inline void fill16(std::int32_t* out, std::int32_t x) { std::fill(out, out + 16, x); }
struct Counts {
    std::int32_t x[16];
};
inline Counts no_counts() { return Counts{}; }
inline void count(Counts& c, std::uint16_t m) {
    for (int j = 0; j < 16; ++j) c.x[j] += std::int32_t(m >> j & 1u);
}
inline void store_first(std::int32_t* p, int n, Counts c) { std::copy(c.x, c.x + std::min(n, 16), p); }
inline Counts load_first(const std::int32_t* p, int n) {
    Counts c{};
    std::copy(p, p + std::min(n, 16), c.x);
    return c;
}
inline std::uint16_t greater(Counts a, Counts b) {
    std::uint16_t m = 0;
    for (int j = 0; j < 16; ++j) m = std::uint16_t(m | (a.x[j] > b.x[j]) << j);
    return m;
}
inline Counts take(Counts b, std::uint16_t m, Counts a) {
    for (int j = 0; j < 16; ++j)
        if (m >> j & 1u) b.x[j] = a.x[j];
    return b;
}
#endif

// The per-unit state of a run of Chunks blocks of 16 units: membranes and
// spike counts in registers from the first step to the last, the constant,
// and the copies asked for at snapshot steps.
template <int Chunks>
struct Units {
    const LayerRun& r;
    std::int64_t u0; // the first unit of block 0; block c starts at u0 + 16·c
    std::int64_t n;  // units in the population
    Vec v[Chunks], k[Chunks];
    Counts counts[Chunks];
    int live[Chunks];
    std::size_t next = 0; // the next snapshot
    Units(const LayerRun& run, std::int64_t first, std::int64_t units) : r(run), u0(first), n(units) {
        for (int c = 0; c < Chunks; ++c) {
            live[c] = int(std::clamp<std::int64_t>(n - unit(c), 0, 16));
            v[c] = load_first(r.v + unit(c), live[c]);
            k[c] = load_first(r.constant + unit(c), live[c]);
            counts[c] = no_counts();
        }
    }
    std::int64_t unit(int c) const { return u0 + 16 * c; }
    // Step t of block c with input `in`: integrate, fire (its mask is returned), reset, count.
    template <bool Subtract>
    std::uint16_t step(int c, Vec in, Vec decay, Vec v_th) {
        // Lanes past the last unit load v = 0 and a constant of 0 (and Dense pads
        // its rows with 0), so they stay at 0 < v_th and never fire.
        const std::uint16_t fired = update<Subtract>(v[c], in, decay, v_th);
        count(counts[c], fired);
        return fired;
    }
    // After step t of every block: the snapshot, if t + 1 is the next step asked for.
    void stepped(int t) {
        if (next >= r.snapshot_steps.size() || r.snapshot_steps[next] != t + 1) return;
        for (int c = 0; c < Chunks; ++c) {
            store_first(r.snapshot_v + next * std::size_t(n) + std::size_t(unit(c)), live[c], v[c]);
            store_first(r.snapshot_counts + next * std::size_t(n) + std::size_t(unit(c)), live[c], counts[c]);
        }
        ++next;
    }
    void finish() {
        for (int c = 0; c < Chunks; ++c) {
            store_first(r.v + unit(c), live[c], v[c]);
            store_first(r.counts + unit(c), live[c], counts[c]);
        }
    }
};

// Steps done side by side in the conv and dense kernels: their inputs do not
// depend on each other, so their sums are independent chains of additions.
constexpr int Ways = 4;

} // namespace

bool LayerKernel::applies(const Projection& p, const Shape& src, bool constant, float decay) {
    if (p.kind == ProjectionKind::MaxPool) return !constant && src.c % 16 == 0 && p.window.kh * p.window.kw <= 16;
#if !defined(__AVX512F__)
    if (decay != 1.0f) return false; // see the portable update
#else
    (void)decay;
#endif
    return true;
}

namespace {
// The kinds with their own kernels: the rest is Generic. Their lists hold
// float offsets into the weights as int32, so the weights must fit that.
bool specialized(const Projection& p, const Shape& src, const Shape& dst) {
    constexpr std::int64_t most = std::numeric_limits<std::int32_t>::max();
    if (p.binary) return false;
    switch (p.kind) {
    case ProjectionKind::Dense: return (src.size() + 1) * ((dst.size() + 15) / 16 * 16) < most;
    case ProjectionKind::Conv2D:
        return dst.c % 16 == 0 && (std::int64_t(p.window.kh) * p.window.kw * src.c + 1) * dst.c < most;
    case ProjectionKind::AvgPool: return src.c % 16 == 0;
    case ProjectionKind::MaxPool: return true; // applies() asked for the rest
    default: return false;
    }
}
} // namespace

LayerKernel::LayerKernel(const Projection& p, const Shape& src, const Shape& dst, bool constant)
    : kind_(Kind::Constant), src_(src), dst_(dst) {
    if (constant) return;
    if (!specialized(p, src, dst)) {
        kind_ = Kind::Generic;
        scratch_ = std::size_t(src.size()) + 16;
        make_offsets(1);
        return;
    }
    const Window& w = p.window;
    if (p.kind == ProjectionKind::AvgPool || p.kind == ProjectionKind::Conv2D)
        for (int y = 0; y < src.h; ++y)
            for (int x = 0; x < src.w; ++x) {
                std::int32_t k = 0;
                for_each_covering_window(w, dst, y, x, [&](int, int, int, int) { ++k; });
                covers_.push_back(k);
            }
    switch (p.kind) {
    case ProjectionKind::MaxPool:
    case ProjectionKind::AvgPool: {
        // Per output word (pixel, 16 channels) the source words of its window
        // (for_each_tap's order: ascending source pixel, as snn::scatter adds
        // them and the step-by-step gate compares them).
        kind_ = p.kind == ProjectionKind::MaxPool ? Kind::MaxPool : Kind::Pool;
        taps_ = w.kh * w.kw;
        if (kind_ == Kind::MaxPool) taps_ = taps_ <= 4 ? 4 : taps_ <= 9 ? 9 : 16;
        const int chunks = dst.c / 16;
        const auto zero = std::int32_t(mask_words(src.size()));
        std::vector<std::int32_t> pixels;
        for (int oy = 0; oy < dst.h; ++oy)
            for (int ox = 0; ox < dst.w; ++ox) {
                pixels.clear();
                for_each_tap(w, src, oy, ox, [&](int y, int x, int, int) { pixels.push_back(y * src.w + x); });
                for (int cc = 0; cc < chunks; ++cc)
                    for (int j = 0; j < taps_; ++j)
                        tap_src_.push_back(std::size_t(j) < pixels.size() ? pixels[std::size_t(j)] * chunks + cc : zero);
            }
        weights_.assign(p.weights.begin(), p.weights.end());
        return;
    }
    case ProjectionKind::Conv2D: {
        kind_ = Kind::Conv;
        aligned_ = src.c % 16 == 0;
        begin_.assign(std::size_t(dst.h) * std::size_t(dst.w) + 1, 0);
        for (int oy = 0; oy < dst.h; ++oy)
            for (int ox = 0; ox < dst.w; ++ox) {
                if (aligned_) {
                    for_each_tap(w, src, oy, ox, [&](int y, int x, int ky, int kx) {
                        for (int sc = 0; sc < src.c / 16; ++sc) {
                            tap_src_.push_back((y * src.w + x) * (src.c / 16) + sc);
                            tap_k_.push_back(((ky * w.kw + kx) * src.c + 16 * sc) * dst.c);
                        }
                    });
                } else {
                    // Runs of consecutive source units read by consecutive
                    // kernel rows (a window row's taps, channels ascending),
                    // up to 16 long.
                    std::int32_t first = 0, row = 0, len = 0;
                    const auto close = [&] {
                        if (len == 0) return;
                        tap_src_.push_back(first / 16);
                        tap_shift_.push_back(first % 16);
                        tap_keep_.push_back(std::int32_t((1u << len) - 1u));
                        tap_k_.push_back(row * dst.c);
                        len = 0;
                    };
                    for_each_tap(w, src, oy, ox, [&](int y, int x, int ky, int kx) {
                        for (int c = 0; c < src.c; ++c) {
                            const std::int32_t u = (y * src.w + x) * src.c + c, k = (ky * w.kw + kx) * src.c + c;
                            if (len > 0 && len < 16 && u == first + len && k == row + len) {
                                ++len;
                                continue;
                            }
                            close();
                            first = u;
                            row = k;
                            len = 1;
                        }
                    });
                    close();
                }
                begin_[std::size_t(oy * dst.w + ox) + 1] = std::int32_t(tap_src_.size());
            }
        const std::int64_t rows = std::int64_t(w.kh) * w.kw * src.c;
        weights_.assign(p.weights.begin(), p.weights.end());
        weights_.resize(std::size_t(rows + 1) * std::size_t(dst.c), -0.0f);
        zero_row_ = std::int32_t(rows);
        scratch_ = 2 * Ways * std::size_t(rows + 32);
        std::int32_t most_entries = 0;
        for (std::size_t o = 0; o + 1 < begin_.size(); ++o) most_entries = std::max(most_entries, begin_[o + 1] - begin_[o]);
        // After the lists: which source units spike at some step, and an output pixel's entries that read them.
        extra_ = mask_stride(src.size()) + std::size_t(most_entries);
        silent_.assign(mask_stride(src.size()), 0);
        make_offsets(dst.c);
        return;
    }
    case ProjectionKind::Dense: {
        kind_ = Kind::Dense;
        const std::int64_t ns = src.size(), no = dst.size();
        stride_ = (no + 15) / 16 * 16;
        weights_.assign(std::size_t((ns + 1) * stride_), 0.0f);
        for (std::int64_t u = 0; u < ns; ++u)
            std::copy(p.weights.begin() + u * no, p.weights.begin() + (u + 1) * no, weights_.begin() + u * stride_);
        std::fill(weights_.begin() + ns * stride_, weights_.end(), -0.0f);
        zero_row_ = std::int32_t(ns);
        scratch_ = 2 * Ways * std::size_t(ns + 32);
        silent_.assign(mask_stride(ns), 0);
        make_offsets(std::int32_t(stride_));
        return;
    }
    default: throw InternalError("LayerKernel: this projection does not run layer by layer");
    }
}

void LayerKernel::make_offsets(std::int32_t scale) {
    offsets_.resize(16);
    for (int k = 0; k < 16; ++k) offsets_[std::size_t(k)] = k * scale;
}

// The whole input is the constant: 8 blocks of 16 neurons side by side, for
// independent chains of updates.
template <bool Subtract>
void LayerKernel::run_constant(const LayerRun& r) const {
    const std::int64_t n = dst_.size();
    const std::size_t words = mask_words(n), stride = mask_stride(n);
    const Vec decay = splat(r.decay), v_th = splat(r.v_th);
    const auto blocks = [&]<int W>(std::size_t b0) {
        Units<W> units(r, 16 * std::int64_t(b0), n);
        for (int t = 0; t < r.steps; ++t) {
            std::uint16_t* row = r.masks + std::size_t(t) * stride + b0;
#pragma GCC unroll 8
            for (int w = 0; w < W; ++w) row[w] = units.template step<Subtract>(w, units.k[w], decay, v_th);
            units.stepped(t);
        }
        units.finish();
    };
    std::size_t b = 0;
    for (; b + 8 <= words; b += 8) blocks.template operator()<8>(b);
    for (; b < words; ++b) blocks.template operator()<1>(b);
}

// Pooling: every output word adds the channel weights under the masks of its
// window's source words, in ascending order; 4 output words side by side.
template <bool Subtract>
void LayerKernel::run_pool(const LayerRun& r) const {
    const std::int64_t n = dst_.size();
    const std::size_t words = mask_words(n), stride = mask_stride(n), sstride = mask_stride(src_.size());
    const std::size_t chunks = std::size_t(dst_.c / 16), taps = std::size_t(taps_);
    const Vec decay = splat(r.decay), v_th = splat(r.v_th);
    const auto blocks = [&]<int W>(std::size_t b0) {
        Units<W> units(r, 16 * std::int64_t(b0), n);
        Vec weight[W];
        const std::int32_t* window[W];
        for (int w = 0; w < W; ++w) {
            const std::size_t b = b0 + std::size_t(w);
            weight[w] = load(weights_.data() + 16 * (b % chunks));
            window[w] = tap_src_.data() + b * taps;
        }
        for (int t = 0; t < r.steps; ++t) {
            const std::uint16_t* source = r.source + std::size_t(t) * sstride;
            std::uint16_t* row = r.masks + std::size_t(t) * stride + b0;
            // Unrolled, so that the blocks' state stays in registers (GCC
            // kept it on the stack otherwise: perf).
            Vec in[W];
#pragma GCC unroll 8
            for (int w = 0; w < W; ++w) in[w] = units.k[w];
            for (std::size_t j = 0; j < taps; ++j)
#pragma GCC unroll 8
                for (int w = 0; w < W; ++w) in[w] = add_where(in[w], source[window[w][j]], weight[w]);
#pragma GCC unroll 8
            for (int w = 0; w < W; ++w) row[w] = units.template step<Subtract>(w, in[w], decay, v_th);
            units.stepped(t);
        }
        units.finish();
    };
    std::size_t b = 0;
    for (; b + 4 <= words; b += 4) blocks.template operator()<4>(b);
    for (; b < words; ++b) blocks.template operator()<1>(b);
}

// A max-pooling gate, as the step-by-step engine's: at every step each output
// unit passes the spike of its window's most active input so far (the
// source's counts up to and including this step; the first of equals, in
// window order). Per output word the window's running counts stay in
// registers, one vector per tap; a tap past the window's end reads the zero
// word, so its count stays 0 and it never beats a real tap (it would have to
// be strictly greater). A gate has no membrane and adds no synaptic
// operations.
template <int Taps>
void LayerKernel::run_maxpool(const LayerRun& r) const {
    const std::int64_t n = dst_.size();
    const std::size_t words = mask_words(n), stride = mask_stride(n), sstride = mask_stride(src_.size());
    for (std::size_t b = 0; b < words; ++b) {
        const std::int32_t* window = tap_src_.data() + b * std::size_t(Taps);
        Counts seen[Taps];
        for (int j = 0; j < Taps; ++j) seen[j] = no_counts();
        Counts passed = no_counts();
        for (int t = 0; t < r.steps; ++t) {
            const std::uint16_t* source = r.source + std::size_t(t) * sstride;
            std::uint16_t m = source[window[0]];
            count(seen[0], m);
            Counts best = seen[0];
            std::uint16_t pass = m;
#pragma GCC unroll 16
            for (int j = 1; j < Taps; ++j) {
                m = source[window[j]];
                count(seen[j], m);
                const std::uint16_t more = greater(seen[j], best);
                best = take(best, more, seen[j]);
                pass = std::uint16_t((pass & ~more) | (m & more));
            }
            r.masks[std::size_t(t) * stride + b] = pass;
            count(passed, pass);
        }
        const int live = int(std::min<std::int64_t>(16, n - 16 * std::int64_t(b)));
        store_first(r.counts + 16 * std::int64_t(b), live, passed);
    }
}

// Ways steps' lists of kernel-row offsets (in floats), summed side by side:
// the lists are padded to one length with the −0 row, and each step's sum
// starts from the constant.
struct Lists {
    std::int32_t* list[2][Ways]; // two sets: one is filled while the other is summed
    int len[2][Ways];
    int longest[2];
    std::int32_t cap;
    Lists(std::int32_t* scratch, std::size_t entries) : cap(std::int32_t(entries)) {
        for (int slot = 0; slot < 2; ++slot)
            for (int w = 0; w < Ways; ++w) list[slot][w] = scratch + (std::size_t(slot) * Ways + std::size_t(w)) * entries;
    }
    // The lists of one set while they are built, in locals (the lists' stores
    // might alias Lists' own members).
    struct Appender {
        const std::uint16_t* row[Ways]; // the source's masks at each step
        std::int32_t* lists;            // the set's first list; step w's starts at lists + w·cap
        std::int32_t pos[Ways];         // where step w's next entry goes, from `lists`
        // Appends to each step's list the offsets of the spikes in its mask word `word`.
        void add(std::size_t word, const Offsets& o) {
#pragma GCC unroll 8
            for (int w = 0; w < Ways; ++w) pos[w] += list_bits(lists + pos[w], row[w][word], o);
        }
        // The same for the bits `keep` of mask words `word` and `word` + 1
        // (the second one's bits above the first's) shifted down by `shift`.
        void add(std::size_t word, int shift, unsigned keep, const Offsets& o) {
#pragma GCC unroll 8
            for (int w = 0; w < Ways; ++w) {
                const unsigned bits = (unsigned(row[w][word]) | unsigned(row[w][word + 1]) << 16) >> shift & keep;
                pos[w] += list_bits(lists + pos[w], std::uint16_t(bits), o);
            }
        }
    };
    // Builds set `slot` for steps t0 … t0 + Ways − 1 (a silent row past the
    // last step): fill(appender) appends every spiking input's offsets.
    template <class Fill>
    void build(int slot, int t0, const LayerRun& r, std::size_t sstride, const std::uint16_t* silent, std::int32_t zero,
               Fill&& fill) {
        Appender a;
        a.lists = list[slot][0];
        for (int w = 0; w < Ways; ++w) {
            a.row[w] = t0 + w < r.steps ? r.source + std::size_t(t0 + w) * sstride : silent;
            a.pos[w] = w * cap;
        }
        fill(a);
        longest[slot] = 0;
        for (int w = 0; w < Ways; ++w) {
            len[slot][w] = a.pos[w] - w * cap;
            longest[slot] = std::max(longest[slot], len[slot][w]);
        }
        for (int w = 0; w < Ways; ++w)
            for (int q = len[slot][w]; q < longest[slot]; q += 16) fill16(list[slot][w] + q, zero);
    }
    template <int Chunks>
    void sum(int slot, const float* rows, const Vec* k, Vec (&acc)[Ways][Chunks]) const {
        for (int w = 0; w < Ways; ++w)
            for (int c = 0; c < Chunks; ++c) acc[w][c] = k[c];
        for (int q = 0; q < longest[slot]; ++q)
            for (int w = 0; w < Ways; ++w) {
                const float* row = rows + list[slot][w][q];
                for (int c = 0; c < Chunks; ++c) acc[w][c] = add(acc[w][c], load(row + 16 * c));
            }
    }
};

// Steps in sets of Ways: the lists of the next set are built before this one
// is summed, so that the sums do not wait on the stores that have just
// written their lists; then the neurons take the sums step by step.
template <bool Subtract, int Chunks, class Fill>
void run_listed(const LayerRun& r, Units<Chunks>& units, Lists& lists, const float* rows, std::int32_t zero,
                std::uint16_t* masks, std::size_t stride, std::size_t sstride, const std::uint16_t* silent, Fill&& fill) {
    const Vec decay = splat(r.decay), v_th = splat(r.v_th);
    lists.build(0, 0, r, sstride, silent, zero, fill);
    for (int t0 = 0, slot = 0; t0 < r.steps; t0 += Ways, slot ^= 1) {
        if (t0 + Ways < r.steps) lists.build(slot ^ 1, t0 + Ways, r, sstride, silent, zero, fill);
        Vec acc[Ways][Chunks];
        lists.sum<Chunks>(slot, rows, units.k, acc);
        // Unrolled, so that the sums stay in registers (GCC stored them on the stack otherwise: perf).
#pragma GCC unroll 8
        for (int w = 0; w < Ways; ++w) {
            if (t0 + w >= r.steps) break;
            std::uint16_t* out = masks + std::size_t(t0 + w) * stride;
#pragma GCC unroll 4
            for (int c = 0; c < Chunks; ++c) out[c] = units.template step<Subtract>(c, acc[w][c], decay, v_th);
            units.stepped(t0 + w);
        }
    }
    units.finish();
}

// Convolution, channels [64·block, 64·block + 16·Chunks) of every output
// pixel: per step, the kernel rows of the window's spiking inputs are listed
// (taps ascending, channels ascending within a tap: ascending source unit)
// and summed in registers onto the constant. Aligned: the source's channels
// are a multiple of 16, and its mask words are read whole.
template <bool Subtract, int Chunks, bool Aligned>
void LayerKernel::run_conv(const LayerRun& r, int block) const {
    const int cout = dst_.c;
    const std::int64_t n = dst_.size(), pixels = std::int64_t(dst_.h) * dst_.w;
    const std::size_t stride = mask_stride(n), sstride = mask_stride(src_.size());
    Lists lists(r.scratch, scratch_ / (2 * Ways));
    // Local copies: the lists' stores might alias the vectors' own pointers.
    const std::int32_t *tap_word = tap_src_.data(), *tap_base = tap_k_.data(), *table = offsets_.data();
    const std::int32_t *tap_shift = tap_shift_.data(), *tap_keep = tap_keep_.data();
    // The source's units that spike at some step (the input's pixels at 0
    // never do, nor much of a feature map's border): an entry of a window
    // that has none of them adds nothing at any step, and is left out.
    const std::size_t swords = mask_words(src_.size());
    std::int32_t* ever = r.scratch + scratch_;
    std::int32_t* live = ever + sstride;
    std::fill(ever, ever + sstride, 0);
    for (int t = 0; t < r.steps; ++t)
        for (std::size_t q = 0; q < swords; ++q) ever[q] |= r.source[std::size_t(t) * sstride + q];
    for (std::int64_t op = 0; op < pixels; ++op) {
        Units<Chunks> units(r, op * cout + 64 * block, n);
        std::int32_t lives = 0;
        for (std::int32_t e = begin_[std::size_t(op)]; e < begin_[std::size_t(op) + 1]; ++e) {
            const std::int32_t q = tap_word[e];
            const bool spikes = Aligned ? ever[q] != 0 : ((ever[q] | ever[q + 1] << 16) >> tap_shift[e] & tap_keep[e]) != 0;
            live[lives] = e;
            lives += spikes;
        }
        // Tap by tap (and source word by word), the Ways steps' masks of its source pixel.
        const auto fill = [&](Lists::Appender& a) {
            for (std::int32_t i = 0; i < lives; ++i) {
                const std::int32_t e = live[i];
                if constexpr (Aligned) a.add(std::size_t(tap_word[e]), offsets(table, tap_base[e]));
                else a.add(std::size_t(tap_word[e]), tap_shift[e], unsigned(tap_keep[e]), offsets(table, tap_base[e]));
            }
        };
        run_listed<Subtract>(r, units, lists, weights_.data() + 64 * block, zero_row_ * cout, r.masks + std::size_t(units.u0 / 16),
                             stride, sstride, silent_.data(), fill);
    }
}

// Dense, outputs [64·block, 64·block + 16·Chunks): per step the spiking
// source units are listed, ascending, and their rows summed in registers
// onto the constant.
template <bool Subtract, int Chunks>
void LayerKernel::run_dense(const LayerRun& r, int block) const {
    const std::int64_t n = dst_.size(), ns = src_.size();
    const std::size_t sstride = mask_stride(ns), swords = mask_words(ns);
    Lists lists(r.scratch, scratch_ / (2 * Ways));
    const auto row_floats = std::int32_t(stride_);
    const std::int32_t* table = offsets_.data();
    Units<Chunks> units(r, 64 * std::int64_t(block), n);
    const auto fill = [&](Lists::Appender& a) {
        for (std::size_t q = 0; q < swords; ++q) a.add(q, offsets(table, std::int32_t(16 * q) * row_floats));
    };
    run_listed<Subtract>(r, units, lists, weights_.data() + units.u0, zero_row_ * row_floats, r.masks + std::size_t(units.u0 / 16),
                         mask_stride(n), sstride, silent_.data(), fill);
}

std::size_t LayerKernel::scratch_entries(int batch) const {
    return kind_ == Kind::Generic ? std::size_t(std::max(batch, 1)) * scratch_ : scratch_ + extra_;
}

template <bool Subtract>
std::int64_t LayerKernel::run_generic(const LayerRun& r) const {
    const std::int64_t n = dst_.size(), ns = src_.size();
    const std::size_t words = mask_words(n), stride = mask_stride(n), swords = mask_words(ns), sstride = mask_stride(ns);
    const Vec decay = splat(r.decay), v_th = splat(r.v_th);
    const std::int32_t* table = offsets_.data();
    const int B = std::clamp(r.batch, 1, 8);
    std::array<std::span<const std::int32_t>, 8> lists;
    std::array<float*, 8> outs;
    std::int64_t ops = 0;
    std::size_t next = 0; // the next snapshot
    std::fill(r.counts, r.counts + n, 0);
    for (int t0 = 0; t0 < r.steps; t0 += B) {
        const int steps = std::min(B, r.steps - t0);
        // Each step's spikes as a list, and its current from the constant;
        // a step without spikes adds nothing (as step by step), so only the
        // others go to the kernel.
        int listed = 0;
        for (int b = 0; b < steps; ++b) {
            const std::uint16_t* source = r.source + std::size_t(t0 + b) * sstride;
            std::int32_t* list = r.scratch + std::size_t(b) * scratch_;
            int spikes = 0;
            for (std::size_t q = 0; q < swords; ++q) spikes += list_bits(list + spikes, source[q], offsets(table, std::int32_t(16 * q)));
            float* current = r.current + std::size_t(b) * std::size_t(n);
            std::copy(r.constant, r.constant + n, current);
            if (spikes == 0) continue;
            lists[std::size_t(listed)] = std::span<const std::int32_t>(list, std::size_t(spikes));
            outs[std::size_t(listed++)] = current;
        }
        if (B == 1) {
            if (listed) ops += r.project(lists[0], outs[0]);
        } else if (listed) {
            ops += r.project_batch(std::span(lists.data(), std::size_t(listed)), outs.data());
        }
        for (int b = 0; b < steps; ++b) {
            const int t = t0 + b;
            const float* current = r.current + std::size_t(b) * std::size_t(n);
            std::uint16_t* row = r.masks + std::size_t(t) * stride;
            const bool snap = next < r.snapshot_steps.size() && r.snapshot_steps[next] == t + 1;
            for (std::size_t w = 0; w < words; ++w) {
                const std::int64_t u = 16 * std::int64_t(w);
                const int live = int(std::min<std::int64_t>(16, n - u));
                Vec v = load_first(r.v + u, live);
                // Lanes past the last unit hold 0 and cannot fire (as in Units::step).
                const std::uint16_t fired = update<Subtract>(v, load_first(current + u, live), decay, v_th);
                store_first(r.v + u, live, v);
                row[w] = fired;
                Counts c = load_first(r.counts + u, live);
                count(c, fired);
                store_first(r.counts + u, live, c);
                if (snap) {
                    store_first(r.snapshot_v + next * std::size_t(n) + std::size_t(u), live, v);
                    std::copy(r.counts + u, r.counts + u + live, r.snapshot_counts + next * std::size_t(n) + std::size_t(u));
                }
            }
            next += snap;
        }
    }
    return ops;
}

std::int64_t LayerKernel::run(const LayerRun& r) const {
    // Debug builds check what every path below relies on.
    assert(r.steps > 0 && r.masks && r.counts);
    assert(kind_ == Kind::Constant || r.source);
    assert(kind_ == Kind::MaxPool || (r.v && r.constant));
    const auto by_blocks = [&](int chunks, auto&& one) {
        for (int b = 0; 4 * b < chunks; ++b) one(b, std::min(4, chunks - 4 * b));
    };
    if (kind_ == Kind::Generic) {
        const std::int64_t ops = r.subtract ? run_generic<true>(r) : run_generic<false>(r);
        const std::int64_t n = dst_.size();
        for (int t = 0; t < r.steps; ++t) r.masks[std::size_t(t) * mask_stride(n) + mask_words(n)] = 0;
        return ops;
    }
    const auto go = [&]<bool Subtract>() {
        switch (kind_) {
        case Kind::Generic: return;
        case Kind::Constant: return run_constant<Subtract>(r);
        case Kind::Pool: return run_pool<Subtract>(r);
        case Kind::MaxPool:
            if (taps_ == 4) return run_maxpool<4>(r);
            if (taps_ == 9) return run_maxpool<9>(r);
            return run_maxpool<16>(r);
        case Kind::Conv:
            return by_blocks(dst_.c / 16, [&](int b, int chunks) {
                const auto blocks = [&]<bool Aligned>() {
                    switch (chunks) {
                    case 1: return run_conv<Subtract, 1, Aligned>(r, b);
                    case 2: return run_conv<Subtract, 2, Aligned>(r, b);
                    case 3: return run_conv<Subtract, 3, Aligned>(r, b);
                    default: return run_conv<Subtract, 4, Aligned>(r, b);
                    }
                };
                if (aligned_) blocks.template operator()<true>();
                else blocks.template operator()<false>();
            });
        case Kind::Dense:
            return by_blocks(int(stride_ / 16), [&](int b, int chunks) {
                switch (chunks) {
                case 1: return run_dense<Subtract, 1>(r, b);
                case 2: return run_dense<Subtract, 2>(r, b);
                case 3: return run_dense<Subtract, 3>(r, b);
                default: return run_dense<Subtract, 4>(r, b);
                }
            });
        }
    };
    if (r.subtract) go.template operator()<true>();
    else go.template operator()<false>();
    const std::int64_t n = dst_.size();
    for (int t = 0; t < r.steps; ++t) r.masks[std::size_t(t) * mask_stride(n) + mask_words(n)] = 0;
    // The events' synaptic operations, from the source's spike counts: each
    // spike reaches every output unit its pixel is in the window of.
    std::int64_t ops = 0;
    switch (kind_) {
    case Kind::Constant:
    case Kind::MaxPool:
    case Kind::Generic: break;
    case Kind::Pool:
    case Kind::Conv: {
        const std::int64_t per_output = kind_ == Kind::Conv ? dst_.c : 1;
        const std::int32_t* counts = r.source_counts;
        for (std::int32_t cover : covers_) {
            std::int64_t spikes = 0;
            for (int c = 0; c < src_.c; ++c) spikes += counts[c];
            ops += spikes * cover;
            counts += src_.c;
        }
        ops *= per_output;
        break;
    }
    case Kind::Dense:
        for (std::int64_t u = 0; u < src_.size(); ++u) ops += r.source_counts[u];
        ops *= dst_.size();
        break;
    }
    return ops;
}

} // namespace snn
