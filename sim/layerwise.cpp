#include "sim/layerwise.hpp"

#include "sim/neuron.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <climits>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace snn {
// Steps summed side by side by the conv and dense kernels (Ways in sim/layerwise_body.inc).
constexpr int layerwise_ways = 4;
} // namespace snn

// The kernel bodies, once per instruction set (sim/float_isa.hpp): every
// header they use is included above, so nothing shared is compiled for
// AVX2 or AVX-512 below.
namespace snn::layerwise_portable {
namespace {
namespace neuron {
#if defined(__AVX512F__)
#define SNN_LANES16 1
#endif
#include "sim/neuron_rule.inc"
} // namespace neuron
#include "sim/layerwise_body.inc"
#undef SNN_LANES16
} // namespace
} // namespace snn::layerwise_portable

#if defined(SNN_FLOAT_AVX2)
SNN_BEGIN_AVX2
namespace snn::layerwise_avx2 {
namespace {
#define SNN_LANES8X2 1
namespace neuron {
#include "sim/neuron_rule.inc"
} // namespace neuron
#include "sim/layerwise_body.inc"
#undef SNN_LANES8X2
} // namespace
} // namespace snn::layerwise_avx2
SNN_END_AVX2
#endif

#if defined(SNN_FLOAT_AVX512)
SNN_BEGIN_AVX512
namespace snn::layerwise_avx512 {
namespace {
#define SNN_LANES16 1
namespace neuron {
#include "sim/neuron_rule.inc"
} // namespace neuron
#include "sim/layerwise_body.inc"
#undef SNN_LANES16
} // namespace
} // namespace snn::layerwise_avx512
SNN_END_AVX512
#endif

namespace snn {

// The layouts the kernels assume: spikes as 16-unit masks, one mask per 16
// floats of a register (AVX-512) or of the portable Vec, bit k for unit k.
static_assert(sizeof(std::uint16_t) * CHAR_BIT == 16, "a spike mask word covers 16 units");
#if defined(__x86_64__)
static_assert(sizeof(__mmask16) == sizeof(std::uint16_t) && sizeof(__m512) == 16 * sizeof(float),
              "a 16-bit mask selects the 16 float lanes of a register");
#endif

bool LayerKernel::applies(const Projection& p, const Shape& src, bool constant, float decay, FloatIsa isa) {
    if (p.kind == ProjectionKind::MaxPool) return !constant && src.c % 16 == 0 && p.window.kh * p.window.kw <= 16;
    // The portable copy runs IF only (see update() in sim/layerwise_body.inc),
    // unless the build's own target has AVX-512.
#if !defined(__AVX512F__)
    if (isa == FloatIsa::Portable && decay != 1.0f) return false;
#else
    (void)decay;
    (void)isa;
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

LayerKernel::LayerKernel(const Projection& p, const Shape& src, const Shape& dst, bool constant, FloatIsa isa)
    : LayerKernel(p, src, dst, constant, isa, false) {}

LayerKernel::LayerKernel(const Projection& p, const Shape& src, const Shape& dst, bool constant, FloatIsa isa, bool values)
    : isa_(isa) {
    if (!float_isa_supported(isa))
        throw InternalError(std::string("LayerKernel: this CPU or build cannot run the float ISA ") + to_string(isa));
    t_.src = src;
    t_.dst = dst;
    if (constant) return;
    if (values || !specialized(p, src, dst)) {
        t_.kind = LayerTables::Kind::Generic;
        t_.scratch = std::size_t(src.size()) + 16;
        make_offsets(1);
        return;
    }
    const Window& w = p.window;
    if (p.kind == ProjectionKind::AvgPool || p.kind == ProjectionKind::Conv2D)
        for (int y = 0; y < src.h; ++y)
            for (int x = 0; x < src.w; ++x) {
                std::int32_t k = 0;
                for_each_covering_window(w, dst, y, x, [&](int, int, int, int) { ++k; });
                t_.covers.push_back(k);
            }
    switch (p.kind) {
    case ProjectionKind::MaxPool:
    case ProjectionKind::AvgPool: {
        // Per output word (pixel, 16 channels) the source words of its window
        // (for_each_tap's order: ascending source pixel, as snn::scatter adds
        // them and the step-by-step gate compares them).
        t_.kind = p.kind == ProjectionKind::MaxPool ? LayerTables::Kind::MaxPool : LayerTables::Kind::Pool;
        t_.taps = w.kh * w.kw;
        if (t_.kind == LayerTables::Kind::MaxPool) t_.taps = t_.taps <= 4 ? 4 : t_.taps <= 9 ? 9 : 16;
        const int chunks = dst.c / 16;
        const auto zero = std::int32_t(mask_words(src.size()));
        std::vector<std::int32_t> pixels;
        for (int oy = 0; oy < dst.h; ++oy)
            for (int ox = 0; ox < dst.w; ++ox) {
                pixels.clear();
                for_each_tap(w, src, oy, ox, [&](int y, int x, int, int) { pixels.push_back(y * src.w + x); });
                for (int cc = 0; cc < chunks; ++cc)
                    for (int j = 0; j < t_.taps; ++j)
                        t_.tap_src.push_back(std::size_t(j) < pixels.size() ? pixels[std::size_t(j)] * chunks + cc : zero);
            }
        t_.weights.assign(p.weights.begin(), p.weights.end());
        return;
    }
    case ProjectionKind::Conv2D: {
        t_.kind = LayerTables::Kind::Conv;
        t_.aligned = src.c % 16 == 0;
        t_.begin.assign(std::size_t(dst.h) * std::size_t(dst.w) + 1, 0);
        for (int oy = 0; oy < dst.h; ++oy)
            for (int ox = 0; ox < dst.w; ++ox) {
                if (t_.aligned) {
                    for_each_tap(w, src, oy, ox, [&](int y, int x, int ky, int kx) {
                        for (int sc = 0; sc < src.c / 16; ++sc) {
                            t_.tap_src.push_back((y * src.w + x) * (src.c / 16) + sc);
                            t_.tap_k.push_back(((ky * w.kw + kx) * src.c + 16 * sc) * dst.c);
                        }
                    });
                } else {
                    // Runs of consecutive source units read by consecutive
                    // kernel rows (a window row's taps, channels ascending),
                    // up to 16 long.
                    std::int32_t first = 0, row = 0, len = 0;
                    const auto close = [&] {
                        if (len == 0) return;
                        t_.tap_src.push_back(first / 16);
                        t_.tap_shift.push_back(first % 16);
                        t_.tap_keep.push_back(std::int32_t((1u << len) - 1u));
                        t_.tap_k.push_back(row * dst.c);
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
                t_.begin[std::size_t(oy * dst.w + ox) + 1] = std::int32_t(t_.tap_src.size());
            }
        const std::int64_t rows = std::int64_t(w.kh) * w.kw * src.c;
        t_.weights.assign(p.weights.begin(), p.weights.end());
        t_.weights.resize(std::size_t(rows + 1) * std::size_t(dst.c), -0.0f);
        t_.zero_row = std::int32_t(rows);
        t_.scratch = 2 * layerwise_ways * std::size_t(rows + 32);
        std::int32_t most_entries = 0;
        for (std::size_t o = 0; o + 1 < t_.begin.size(); ++o) most_entries = std::max(most_entries, t_.begin[o + 1] - t_.begin[o]);
        // After the lists: which source units spike at some step, and an output pixel's entries that read them.
        t_.extra = mask_stride(src.size()) + std::size_t(most_entries);
        t_.silent.assign(mask_stride(src.size()), 0);
        make_offsets(dst.c);
        return;
    }
    case ProjectionKind::Dense: {
        t_.kind = LayerTables::Kind::Dense;
        const std::int64_t ns = src.size(), no = dst.size();
        t_.stride = (no + 15) / 16 * 16;
        t_.weights.assign(std::size_t((ns + 1) * t_.stride), 0.0f);
        for (std::int64_t u = 0; u < ns; ++u)
            std::copy(p.weights.begin() + u * no, p.weights.begin() + (u + 1) * no, t_.weights.begin() + u * t_.stride);
        std::fill(t_.weights.begin() + ns * t_.stride, t_.weights.end(), -0.0f);
        t_.zero_row = std::int32_t(ns);
        t_.scratch = 2 * layerwise_ways * std::size_t(ns + 32);
        t_.silent.assign(mask_stride(ns), 0);
        make_offsets(std::int32_t(t_.stride));
        return;
    }
    default: throw InternalError("LayerKernel: this projection does not run layer by layer");
    }
}

void LayerKernel::make_offsets(std::int32_t scale) {
    t_.offsets.resize(16);
    for (int k = 0; k < 16; ++k) t_.offsets[std::size_t(k)] = k * scale;
}

std::size_t LayerKernel::scratch_entries(int batch) const {
    return t_.kind == LayerTables::Kind::Generic ? std::size_t(std::max(batch, 1)) * t_.scratch : t_.scratch + t_.extra;
}


std::int64_t LayerKernel::run(const LayerRun& r) const {
    // Debug builds check what every path below relies on.
    assert(r.steps > 0 && r.masks && r.counts);
    assert(t_.kind == LayerTables::Kind::Constant || r.source);
    assert(t_.kind == LayerTables::Kind::MaxPool || (r.v && r.constant));
    assert(float_isa_supported(isa_));
    if (t_.kind == LayerTables::Kind::Generic) {
        std::int64_t ops = 0;
        switch (isa_) {
#if defined(SNN_FLOAT_AVX512)
        case FloatIsa::Avx512: ops = layerwise_avx512::run_generic_kind(t_, r); break;
#endif
#if defined(SNN_FLOAT_AVX2)
        case FloatIsa::Avx2: ops = layerwise_avx2::run_generic_kind(t_, r); break;
#endif
        default: ops = layerwise_portable::run_generic_kind(t_, r);
        }
        const std::int64_t n = t_.dst.size();
        for (int t = 0; t < r.steps; ++t) r.masks[std::size_t(t) * mask_stride(n) + mask_words(n)] = 0;
        return ops;
    }
    switch (isa_) {
#if defined(SNN_FLOAT_AVX512)
    case FloatIsa::Avx512: layerwise_avx512::run_specialized(t_, r); break;
#endif
#if defined(SNN_FLOAT_AVX2)
    case FloatIsa::Avx2: layerwise_avx2::run_specialized(t_, r); break;
#endif
    default: layerwise_portable::run_specialized(t_, r);
    }
    const std::int64_t n = t_.dst.size();
    for (int t = 0; t < r.steps; ++t) r.masks[std::size_t(t) * mask_stride(n) + mask_words(n)] = 0;
    // The events' synaptic operations, from the source's spike counts: each
    // spike reaches every output unit its pixel is in the window of.
    std::int64_t ops = 0;
    switch (t_.kind) {
    case LayerTables::Kind::Constant:
    case LayerTables::Kind::MaxPool:
    case LayerTables::Kind::Generic: break;
    case LayerTables::Kind::Pool:
    case LayerTables::Kind::Conv: {
        const std::int64_t per_output = t_.kind == LayerTables::Kind::Conv ? t_.dst.c : 1;
        const std::int32_t* counts = r.source_counts;
        for (std::int32_t cover : t_.covers) {
            std::int64_t spikes = 0;
            for (int c = 0; c < t_.src.c; ++c) spikes += counts[c];
            ops += spikes * cover;
            counts += t_.src.c;
        }
        ops *= per_output;
        break;
    }
    case LayerTables::Kind::Dense:
        for (std::int64_t u = 0; u < t_.src.size(); ++u) ops += r.source_counts[u];
        ops *= t_.dst.size();
        break;
    }
    return ops;
}

} // namespace snn

