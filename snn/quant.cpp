#include "snn/quant.hpp"

#include "snn/error.hpp"
#include "snn/kind.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

namespace snn {

const char* to_string(QuantScheme s) {
    switch (s) {
    case QuantScheme::None: return "none";
    case QuantScheme::Int: return "int";
    case QuantScheme::Ternary: return "ternary";
    case QuantScheme::Qsq: return "qsq";
    }
    return "?";
}

namespace {

// Table II of the quality-scalable paper: code → level; 7 has none.
constexpr std::array<int, 7> qsq_levels = {0, 1, 2, 4, -1, -2, -4};

int signed_bits(std::uint32_t code, int bits) {
    const std::uint32_t sign = 1u << (bits - 1);
    return int(code & (sign - 1)) - int(code & sign);
}

bool valid_bits(QuantScheme scheme, int bits) {
    switch (scheme) {
    case QuantScheme::Int: return bits >= 2 && bits <= 8;
    case QuantScheme::Ternary: return bits == 2;
    case QuantScheme::Qsq: return bits == 3;
    case QuantScheme::None: return false;
    }
    return false;
}

} // namespace

int quant_level(QuantScheme scheme, int bits, std::uint32_t code) {
    if (!valid_bits(scheme, bits))
        throw Error(std::string("quantized weights: ") + to_string(scheme) + " codes of " + std::to_string(bits) +
                    " bits do not exist");
    if (code >> bits) throw Error("quantized weights: code " + std::to_string(code) + " has more than " + std::to_string(bits) + " bits");
    if (scheme == QuantScheme::Qsq) {
        if (code >= qsq_levels.size()) throw Error("quantized weights: qsq code 111 stands for no level");
        return qsq_levels[code];
    }
    const int level = signed_bits(code, bits);
    if (level == -(1 << (bits - 1)))
        throw Error("quantized weights: code " + std::to_string(code) + " (" + std::to_string(level) +
                    ") is outside the symmetric range of " + std::to_string(bits) + "-bit codes");
    return level;
}

std::uint32_t quant_code(QuantScheme scheme, int bits, int level) {
    if (scheme == QuantScheme::Qsq) {
        for (std::uint32_t c = 0; c < qsq_levels.size(); ++c)
            if (qsq_levels[c] == level) return c;
        throw InternalError("quant_code: qsq has no level " + std::to_string(level));
    }
    const int q = (1 << (bits - 1)) - 1;
    if (level < -q || level > q) throw InternalError("quant_code: level " + std::to_string(level) + " out of range");
    return std::uint32_t(level) & ((1u << bits) - 1);
}

std::vector<std::uint64_t> pack_codes(std::span<const std::uint32_t> codes, int bits) {
    std::vector<std::uint64_t> words(std::size_t((std::int64_t(codes.size()) * bits + 63) / 64), 0);
    for (std::size_t k = 0; k < codes.size(); ++k) {
        const std::uint64_t bit = std::uint64_t(k) * std::uint64_t(bits), code = codes[k];
        words[bit / 64] |= code << (bit % 64);
        if (bit % 64 + std::uint64_t(bits) > 64) words[bit / 64 + 1] |= code >> (64 - bit % 64);
    }
    return words;
}

std::vector<std::uint32_t> unpack_codes(std::span<const std::uint64_t> words, int bits, std::int64_t count) {
    if (std::int64_t(words.size()) * 64 < count * bits)
        throw Error("quantized weights: " + std::to_string(words.size()) + " words hold fewer than " +
                    std::to_string(count) + " codes of " + std::to_string(bits) + " bits");
    std::vector<std::uint32_t> codes(static_cast<std::size_t>(count));
    const std::uint64_t mask = (std::uint64_t(1) << bits) - 1;
    for (std::int64_t k = 0; k < count; ++k) {
        const std::uint64_t bit = std::uint64_t(k) * std::uint64_t(bits);
        std::uint64_t v = words[bit / 64] >> (bit % 64);
        if (bit % 64 + std::uint64_t(bits) > 64) v |= words[bit / 64 + 1] << (64 - bit % 64);
        codes[std::size_t(k)] = std::uint32_t(v & mask);
    }
    return codes;
}

std::int64_t quant_outputs(const Projection& p, const Shape& dst) {
    return p.kind == ProjectionKind::Dense ? dst.size() : dst.c;
}

std::int64_t quant_groups(std::int64_t weights, std::int64_t outputs, int vector) {
    if (outputs <= 0) return 0;
    if (vector <= 0) return outputs;
    const std::int64_t fan_in = weights / outputs;
    return outputs * ((fan_in + vector - 1) / vector);
}

std::int64_t quant_group(std::int64_t k, std::int64_t outputs, int vector, std::int64_t fan_in) {
    const std::int64_t o = k % outputs;
    if (vector <= 0) return o;
    return o * ((fan_in + vector - 1) / vector) + (k / outputs) / vector;
}

TernaryCut ternary_cut(std::vector<float> m) {
    std::sort(m.begin(), m.end(), std::greater<float>());
    TernaryCut best;
    double best_score = -1, sum = 0;
    for (std::size_t k = 1; k <= m.size(); ++k) {
        sum += double(m[k - 1]);
        // The sets eq. 4 chooses among are {|w| > Δ} for Δ > 0: the k largest
        // where the k-th is above 0 and above the (k+1)-th.
        if (!(m[k - 1] > 0.0f) || (k < m.size() && m[k] == m[k - 1])) continue;
        const double score = sum * sum / double(k);
        if (score > best_score) {
            best_score = score;
            best.kept = std::int64_t(k);
            best.alpha = float(sum / double(k));
        }
    }
    return best;
}

namespace {

// The weights of one group, by index into the projection's weights.
using Members = std::vector<std::int64_t>;

std::vector<Members> groups_of(std::int64_t n, std::int64_t outputs, int vector) {
    const std::int64_t fan_in = n / outputs;
    std::vector<Members> g(std::size_t(quant_groups(n, outputs, vector)));
    for (std::int64_t k = 0; k < n; ++k) g[std::size_t(quant_group(k, outputs, vector, fan_in))].push_back(k);
    return g;
}

// The nearest of `levels` to x (levels ascending in magnitude; ties to the smaller).
int nearest(double x, std::span<const int> levels) {
    int best = 0;
    double err = std::fabs(x);
    for (const int l : levels) {
        for (const int s : {l, -l}) {
            const double e = std::fabs(x - double(s));
            if (e < err) {
                err = e;
                best = s;
            }
        }
    }
    return best;
}

// Least-squares scale of fixed levels: Σ w·l / Σ l².
double fit_scale(const std::vector<float>& w, const Members& m, const std::vector<int>& level, double fallback) {
    double wl = 0, ll = 0;
    for (const std::int64_t k : m) {
        wl += double(w[std::size_t(k)]) * level[std::size_t(k)];
        ll += double(level[std::size_t(k)]) * level[std::size_t(k)];
    }
    return ll > 0 ? wl / ll : fallback;
}

// Levels by rounding to a step: the nearest of −q … q.
void round_to_step(const std::vector<float>& w, const Members& m, double step, int q, std::vector<int>& level) {
    for (const std::int64_t k : m) {
        const double x = step > 0 ? double(w[std::size_t(k)]) / step : 0.0;
        level[std::size_t(k)] = int(std::clamp(std::nearbyint(x), double(-q), double(q)));
    }
}

constexpr int refine_rounds = 20;

} // namespace

std::vector<float> dequantize_n(const Projection& p, const Shape& dst, std::int64_t n);

void quantize(Projection& p, const Shape& dst, const QuantSpec& spec, const std::string& where) {
    if (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::Conv2D && p.kind != ProjectionKind::DepthwiseConv2D)
        throw Error(where + ": a " + to_string(p.kind) + " projection has no weights to quantize");
    if (p.binary) throw Error(where + ": the layer is binary already");
    if (!valid_bits(spec.scheme, spec.scheme == QuantScheme::Ternary ? 2 : spec.scheme == QuantScheme::Qsq ? 3 : spec.bits))
        throw Error(where + ": " + to_string(spec.scheme) + " with " + std::to_string(spec.bits) + " bits is not a scheme");
    const std::vector<float>& w = p.weights;
    for (const float x : w)
        if (!std::isfinite(x)) throw Error(where + ": a weight is not finite (" + std::to_string(x) + ")");
    const std::int64_t n = std::int64_t(w.size()), outputs = quant_outputs(p, dst);
    if (outputs <= 0 || n % outputs != 0) throw InternalError(where + ": weights do not divide into outputs");

    QuantWeights qw;
    qw.scheme = spec.scheme;
    qw.bits = spec.scheme == QuantScheme::Int ? spec.bits : spec.scheme == QuantScheme::Ternary ? 2 : 3;
    qw.vector = spec.scheme == QuantScheme::Qsq ? spec.vector : 0;
    const std::vector<Members> groups = groups_of(n, outputs, qw.vector);
    std::vector<int> level(std::size_t(n), 0);
    qw.scale.assign(groups.size(), 0.0f);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const Members& m = groups[g];
        double largest = 0, l1 = 0;
        for (const std::int64_t k : m) {
            largest = std::max(largest, double(std::fabs(w[std::size_t(k)])));
            l1 += double(std::fabs(w[std::size_t(k)]));
        }
        double scale = 0;
        if (largest == 0) {
            // All zero: codes 0 and a scale of 0.
        } else if (spec.scheme == QuantScheme::Int) {
            const int q = (1 << (spec.bits - 1)) - 1;
            scale = largest / q;
            round_to_step(w, m, scale, q, level);
            if (spec.l1)
                for (int r = 0; r < refine_rounds; ++r) {
                    scale = fit_scale(w, m, level, scale);
                    round_to_step(w, m, scale, q, level);
                }
        } else if (spec.scheme == QuantScheme::Ternary) {
            std::vector<float> mags;
            mags.reserve(m.size());
            for (const std::int64_t k : m) mags.push_back(std::fabs(w[std::size_t(k)]));
            const TernaryCut cut = ternary_cut(mags);
            std::vector<float> sorted = mags;
            std::sort(sorted.begin(), sorted.end(), std::greater<float>());
            const float smallest_kept = sorted[std::size_t(cut.kept - 1)];
            for (const std::int64_t k : m) {
                const float x = w[std::size_t(k)];
                level[std::size_t(k)] = std::fabs(x) >= smallest_kept ? (x > 0 ? 1 : -1) : 0;
            }
            scale = cut.alpha;
        } else {
            // Eq. 9's α = Σ|w| / (Ø·N), then eq. 5's ‖w − α·β‖² lowered by
            // alternating the nearest levels and their least-squares α.
            static constexpr int all[] = {1, 2, 4};
            const std::span<const int> allowed(all, spec.levels == 1 ? 1 : spec.levels == 2 ? 2 : 3);
            scale = l1 / (double(spec.levels) * double(m.size()));
            for (int r = 0; r <= refine_rounds; ++r) {
                for (const std::int64_t k : m) level[std::size_t(k)] = nearest(double(w[std::size_t(k)]) / scale, allowed);
                if (r < refine_rounds) scale = fit_scale(w, m, level, scale);
            }
        }
        if (!(scale > 0) || !std::isfinite(float(scale))) {
            scale = 0;
            for (const std::int64_t k : m) level[std::size_t(k)] = 0;
        }
        qw.scale[g] = float(scale);
    }
    std::vector<std::uint32_t> codes(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) codes[std::size_t(k)] = quant_code(qw.scheme, qw.bits, level[std::size_t(k)]);
    qw.codes = pack_codes(codes, qw.bits);
    p.quant = std::move(qw);
    p.weights = dequantize_n(p, dst, n);
}

std::vector<float> dequantize(const Projection& p, const Shape& src, const Shape& dst) {
    return dequantize_n(p, dst, kind_traits(p.kind).weight_count(p, src, dst));
}

std::vector<float> dequantize_n(const Projection& p, const Shape& dst, std::int64_t n) {
    const QuantWeights& q = p.quant;
    if (!valid_bits(q.scheme, q.bits))
        throw Error(std::string("quantized weights: ") + to_string(q.scheme) + " codes of " + std::to_string(q.bits) +
                    " bits do not exist");
    if (q.vector < 0) throw Error("quantized weights: vector length " + std::to_string(q.vector) + " is negative");
    if (q.scheme != QuantScheme::Qsq && q.vector != 0)
        throw Error(std::string("quantized weights: ") + to_string(q.scheme) + " has one scale per output, not per vector");
    if (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::Conv2D && p.kind != ProjectionKind::DepthwiseConv2D)
        throw Error(std::string("quantized weights on a ") + to_string(p.kind) + " projection, which has none");
    const std::int64_t outputs = quant_outputs(p, dst);
    if (outputs <= 0 || n % outputs != 0) throw Error("quantized weights: the layer's weights do not divide into outputs");
    const std::int64_t words = (n * q.bits + 63) / 64, groups = quant_groups(n, outputs, q.vector);
    if (std::int64_t(q.codes.size()) != words || std::int64_t(q.scale.size()) != groups)
        throw Error("quantized weights: " + std::to_string(q.codes.size()) + " code words and " +
                    std::to_string(q.scale.size()) + " scales, expected " + std::to_string(words) + " and " +
                    std::to_string(groups) + " for " + std::to_string(n) + " weights");
    for (const float s : q.scale)
        if (!std::isfinite(s)) throw Error("quantized weights: a scale is not finite (" + std::to_string(s) + ")");
    const std::vector<std::uint32_t> codes = unpack_codes(q.codes, q.bits, n);
    std::vector<float> w(static_cast<std::size_t>(n));
    const std::int64_t fan_in = n / outputs;
    for (std::int64_t k = 0; k < n; ++k)
        w[std::size_t(k)] = q.scale[std::size_t(quant_group(k, outputs, q.vector, fan_in))] *
                            float(quant_level(q.scheme, q.bits, codes[std::size_t(k)]));
    return w;
}

int quantized_bits(const Population& pop) {
    int bits = 0;
    for (const Projection& p : pop.projections) {
        if (p.weights.empty()) continue;
        if (p.binary || p.quant.scheme == QuantScheme::None) return 0;
        bits = std::max(bits, p.quant.bits);
    }
    return bits;
}

int stored_weight_bits(const Projection& p) {
    if (p.binary) return 1;
    if (p.quant.scheme != QuantScheme::None) return p.quant.bits;
    return 32;
}

} // namespace snn
