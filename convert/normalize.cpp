#include "convert/normalize.hpp"

#include "convert/dnn_kind.hpp"

#include "snn/binary.hpp"

#include "convert/dnn.hpp"
#include "snn/error.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace snn {

std::string NormSpec::str() const {
    switch (kind) {
    case Kind::Max: return "max";
    case Kind::Model: return "model";
    case Kind::Percentile: {
        std::ostringstream s;
        s << "percentile:" << percentile;
        return s.str();
    }
    }
    return "?";
}

NormSpec parse_norm(const std::string& s) {
    NormSpec n;
    if (s == "max") {
        n.kind = NormSpec::Kind::Max;
        return n;
    }
    if (s == "model") {
        n.kind = NormSpec::Kind::Model;
        return n;
    }
    const std::string prefix = "percentile:";
    if (s.rfind(prefix, 0) == 0) {
        try {
            std::size_t used = 0;
            n.percentile = std::stod(s.substr(prefix.size()), &used);
            if (used != s.size() - prefix.size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            throw OptionError("norm", s, "norm '" + s + "': the percentile is not a number");
        }
        if (!(n.percentile > 0 && n.percentile <= 100))
            throw OptionError("norm", s, "norm '" + s + "': the percentile must be in (0, 100]");
        return n;
    }
    throw OptionError("norm", s, "norm '" + s + "': expected max, percentile:P or model");
}

double percentile(std::vector<float>& v, double p) {
    if (v.empty()) return 0.0;
    const double rank = p / 100.0 * double(v.size() - 1);
    const std::size_t lo = std::size_t(std::floor(rank));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(lo), v.end());
    const double a = v[lo];
    if (lo + 1 >= v.size()) return a;
    const double b = *std::min_element(v.begin() + std::ptrdiff_t(lo) + 1, v.end());
    return a + (rank - double(lo)) * (b - a);
}

bool is_relay(const Population& pop) {
    const bool zero_bias = std::all_of(pop.bias.begin(), pop.bias.end(), [](float b) { return b == 0.0f; });
    return pop.kind == PopulationKind::Spiking && pop.projections.size() == 1 &&
           pop.projections[0].kind == ProjectionKind::Upsample2D && zero_bias && pop.clip.empty();
}

namespace {

// λ per (population, channel), or per population when `per_channel` is false
// (then every channel of a population holds the same λ).
ChannelScales calibrate(const Network& net, const float* x, std::int64_t n, const NormSpec& spec, int threads,
                        bool per_channel) {
    const std::size_t P = net.populations.size();
    const std::int64_t in_size = net.input().shape.size();
    auto groups = [&](std::size_t l) {
        return per_channel && l + 1 < P ? std::size_t(net.populations[l].shape.c) : std::size_t(1);
    };
    std::vector<std::vector<std::vector<float>>> nonzero(P);
    std::vector<std::vector<float>> maxima(P);
    for (std::size_t l = 0; l < P; ++l) {
        nonzero[l].resize(groups(l));
        maxima[l].assign(groups(l), 0.0f);
    }
    // Forward passes in chunks, in parallel; the non-zero activations are
    // gathered in sample order, so the result does not depend on threads.
    const std::int64_t chunk = 256;
    tbb::task_arena arena(std::max(threads, 1));
    for (std::int64_t start = 0; start < n; start += chunk) {
        const std::int64_t end = std::min(n, start + chunk);
        std::vector<std::vector<std::vector<float>>> acts(static_cast<std::size_t>(end - start));
        arena.execute([&] {
            tbb::parallel_for(tbb::blocked_range<std::int64_t>(start, end), [&](const auto& r) {
                for (std::int64_t i = r.begin(); i < r.end(); ++i)
                    acts[std::size_t(i - start)] = forward(net, x + i * in_size);
            });
        });
        for (const auto& a : acts)
            for (std::size_t l = 0; l < P; ++l) {
                if (net.populations[l].kind != PopulationKind::Spiking) continue;
                const std::size_t G = groups(l);
                for (std::size_t j = 0; j < a[l].size(); ++j) {
                    const float v = a[l][j];
                    if (!(v > 0)) continue;
                    const std::size_t g = G == 1 ? 0 : j % G;
                    maxima[l][g] = std::max(maxima[l][g], v);
                    if (spec.kind == NormSpec::Kind::Percentile) nonzero[l][g].push_back(v);
                }
            }
    }
    ChannelScales scales(P);
    for (std::size_t l = 0; l < P; ++l) {
        const Population& pop = net.populations[l];
        const std::size_t C = std::size_t(pop.shape.c);
        if (pop.kind == PopulationKind::MaxPool || (is_relay(pop) && l + 1 < P)) {
            scales[l] = scales[std::size_t(pop.projections[0].source)];
            continue;
        }
        scales[l].assign(C, 1.0f);
        if (pop.kind != PopulationKind::Spiking) continue;
        for (std::size_t g = 0; g < groups(l); ++g) {
            double lambda = spec.kind == NormSpec::Kind::Percentile ? percentile(nonzero[l][g], spec.percentile)
                                                                    : maxima[l][g];
            if (!(lambda > 0)) lambda = 1.0; // a population (or channel) that never fires on the calibration data
            if (groups(l) == 1) std::fill(scales[l].begin(), scales[l].end(), float(lambda));
            else scales[l][g] = float(lambda);
        }
    }
    return scales;
}

} // namespace

std::vector<float> data_based_scales(const Network& net, const float* x, std::int64_t n, const NormSpec& spec,
                                     int threads) {
    const ChannelScales s = calibrate(net, x, n, spec, threads, false);
    std::vector<float> out;
    for (const auto& c : s) out.push_back(c.empty() ? 1.0f : c[0]);
    return out;
}

ChannelScales channel_scales(const Network& net, const float* x, std::int64_t n, const NormSpec& spec, int threads) {
    return calibrate(net, x, n, spec, threads, true);
}

std::vector<float> model_based_scales(const Network& net) {
    const std::size_t P = net.populations.size();
    std::vector<float> scales(P, 1.0f);
    for (std::size_t l = 1; l < P; ++l) {
        const Population& pop = net.populations[l];
        if (pop.kind == PopulationKind::MaxPool) {
            scales[l] = scales[std::size_t(pop.projections[0].source)];
            continue;
        }
        // Largest input of a unit in each channel: every source at its bound λ_s,
        // only the positive weights counted, plus a positive bias.
        std::vector<double> bound(std::size_t(pop.shape.c), 0.0);
        std::vector<double> per_unit(std::size_t(pop.shape.size()), 0.0);
        bool per_unit_used = false;
        for (const Projection& p : pop.projections) {
            const double ls = scales[std::size_t(p.source)];
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            per_unit_used |= dnn_kind(p.kind).bound(p, src, pop.shape, ls, bound, per_unit);
        }
        double lambda = 0;
        for (std::int64_t j = 0; j < pop.shape.size(); ++j) {
            const std::size_t c = std::size_t(j % pop.shape.c);
            double b = bound[c] + (pop.bias.empty() ? 0.0 : std::max(0.0f, pop.bias[c]));
            if (per_unit_used) b += per_unit[std::size_t(j)];
            lambda = std::max(lambda, b);
        }
        // A bounded ReLU never exceeds its cap: λ = min(bound, M).
        if (!pop.clip.empty()) lambda = std::min(lambda, double(*std::max_element(pop.clip.begin(), pop.clip.end())));
        scales[l] = lambda > 0 ? float(lambda) : 1.0f;
    }
    return scales;
}

void apply_scales(Network& net, const std::vector<float>& scales) {
    if (scales.size() != net.populations.size()) throw InternalError("apply_scales: one scale per population");
    ChannelScales per_channel(scales.size());
    for (std::size_t l = 0; l < scales.size(); ++l)
        per_channel[l].assign(std::size_t(net.populations[l].shape.c), scales[l]);
    apply_scales(net, per_channel);
}

void apply_scales(Network& net, const ChannelScales& scales) {
    if (scales.size() != net.populations.size()) throw InternalError("apply_scales: one scale per population");
    for (std::size_t l = 0; l < net.populations.size(); ++l) {
        Population& pop = net.populations[l];
        const auto& lt = scales[l];
        if (lt.size() != std::size_t(pop.shape.c)) throw InternalError("apply_scales: one scale per channel");
        pop.scale = *std::max_element(lt.begin(), lt.end());
        if (pop.kind != PopulationKind::Spiking) continue;
        for (Projection& p : pop.projections)
            dnn_kind(p.kind).rescale(p, net.populations[std::size_t(p.source)].shape, pop.shape, scales[std::size_t(p.source)], lt);
        for (std::size_t c = 0; c < pop.bias.size(); ++c) pop.bias[c] = float(pop.bias[c] / double(lt[c]));
        // The cap is an activation too: M/λ in the new units (≥ 1 when λ ≤ M).
        for (std::size_t c = 0; c < pop.clip.size(); ++c) pop.clip[c] = float(pop.clip[c] / double(lt[c]));
    }
    // An exit classifier reads activations a = rate·λ: logits = W^T·(rate·λ) + b,
    // so its rows take the λ of their unit's channel.
    for (Exit& e : net.exits) {
        if (e.weights.empty()) continue;
        const int at = net.find(e.at);
        const auto& la = scales[std::size_t(at)];
        const std::size_t classes = e.bias.size(), C = la.size();
        for (std::size_t k = 0; k < e.weights.size(); ++k)
            e.weights[k] = float(double(e.weights[k]) * la[(k / classes) % C]);
    }
    // Scaling whole output channels keeps a binary layer's weights ±α; the bits are derived again.
    pack_binary(net);
}

void rescale_population(Network& net, std::size_t l, double m) {
    if (l == 0 || l >= net.populations.size() || net.populations[l].kind != PopulationKind::Spiking)
        throw InternalError("rescale_population: not a spiking population");
    if (!(m > 0) || !std::isfinite(m)) throw InternalError("rescale_population: factor must be positive");
    Population& pop = net.populations[l];
    for (Projection& p : pop.projections)
        for (float& w : p.weights) w = float(double(w) / m);
    for (float& b : pop.bias) b = float(double(b) / m);
    for (float& b : pop.bias_correction) b = float(double(b) / m);
    for (float& c : pop.clip) c = float(double(c) / m);
    pop.scale = float(double(pop.scale) * m);
    // Sources whose λ moved: l, and every max-pooling gate or relay downstream of it.
    std::vector<bool> moved(net.populations.size(), false);
    moved[l] = true;
    for (std::size_t k = l + 1; k < net.populations.size(); ++k) {
        Population& target = net.populations[k];
        if (target.kind == PopulationKind::MaxPool || (is_relay(target) && k + 1 < net.populations.size())) {
            if (moved[std::size_t(target.projections[0].source)]) {
                moved[k] = true;
                target.scale = float(double(target.scale) * m);
            }
            continue;
        }
        for (Projection& p : target.projections)
            if (moved[std::size_t(p.source)])
                for (float& w : p.weights) w = float(double(w) * m);
    }
    // Exit classifiers on a moved population read rates that are 1/m of what they were.
    for (Exit& e : net.exits)
        if (!e.weights.empty() && moved[std::size_t(net.find(e.at))])
            for (float& w : e.weights) w = float(double(w) * m);
    pack_binary(net);
}

} // namespace snn
