#include "convert/prune.hpp"
#include "convert/layer_spec.hpp"

#include "snn/error.hpp"
#include "snn/sparse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace snn {

namespace {

bool prunable(const Projection& p) {
    return p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::Conv2D || p.kind == ProjectionKind::DepthwiseConv2D;
}

const char* usage = "expected random:R or magnitude:R with 0 <= R < 1, optionally as LAYER=METHOD:R";

PruneEntry parse_entry(const std::string& text) {
    PruneEntry e;
    e.text = text;
    std::string spec = text;
    if (const auto eq = text.find('='); eq != std::string::npos) {
        e.layer = text.substr(0, eq);
        spec = text.substr(eq + 1);
        if (e.layer.empty()) throw OptionError("prune", text, "prune '" + text + "': the layer name is empty");
    }
    const auto colon = spec.find(':');
    const std::string method = spec.substr(0, colon);
    if (method == "random") e.method = PruneMethod::Random;
    else if (method == "magnitude") e.method = PruneMethod::Magnitude;
    else throw OptionError("prune", text, "prune '" + text + "': " + usage);
    if (colon == std::string::npos) throw OptionError("prune", text, "prune '" + text + "': the ratio is missing; " + usage);
    const std::string r = spec.substr(colon + 1);
    const auto [end, ec] = std::from_chars(r.data(), r.data() + r.size(), e.ratio);
    if (r.empty() || ec != std::errc() || end != r.data() + r.size())
        throw OptionError("prune", text, "prune '" + text + "': the ratio '" + r + "' is not a number; " + usage);
    if (!(e.ratio >= 0 && e.ratio < 1))
        throw OptionError("prune", text, "prune '" + text + "': the ratio " + r +
                                             " is outside [0, 1) (the fraction of each layer's connections removed)");
    return e;
}

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective mix
// of a 64-bit counter, so a stream is mix(key + n·γ), n = 0, 1, … and needs
// no state but its key and position.
std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ull;

// A uniform draw from [0, range) without bias: draws at or above the largest
// multiple of `range` that fits in 2^64 are rejected, so every residue is
// equally likely.
template <class Next> std::uint64_t below(std::uint64_t range, Next& next) {
    const std::uint64_t rejected = (0 - range) % range; // 2^64 mod range
    for (;;) {
        const std::uint64_t x = next();
        if (x <= ~std::uint64_t(0) - rejected) return x % range;
    }
}

} // namespace

std::vector<PruneEntry> parse_prune(const std::vector<std::string>& texts) {
    std::vector<PruneEntry> entries;
    bool bare = false;
    for (const std::string& t : texts) {
        PruneEntry e = parse_entry(t);
        for (const PruneEntry& other : entries)
            if (other.layer == e.layer && !e.layer.empty())
                throw OptionError("prune", t, "prune: layer '" + e.layer + "' is given twice");
        if (e.layer.empty()) {
            if (bare) throw OptionError("prune", t, "prune: more than one method for every layer ('" + t + "')");
            bare = true;
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

std::int64_t pruned_count(std::int64_t n, double ratio) { return std::int64_t(std::floor(ratio * double(n) + 0.5)); }

std::uint64_t prune_stream(std::uint64_t seed, std::size_t population, std::size_t projection) {
    return mix(mix(seed) ^ mix((std::uint64_t(population) << 32) + std::uint64_t(projection) + golden_gamma));
}

std::vector<std::uint8_t> prune_mask(const std::vector<float>& weights, PruneMethod method, double ratio,
                                     std::uint64_t stream) {
    const std::size_t n = weights.size();
    const auto k = std::size_t(pruned_count(std::int64_t(n), ratio));
    std::vector<std::uint8_t> keep(n, 1);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    if (method == PruneMethod::Random) {
        // The first k steps of a Fisher–Yates shuffle: order[0 … k) is a
        // uniformly chosen k-subset of the weights.
        std::uint64_t counter = 0;
        auto next = [&] { return mix(stream + ++counter * golden_gamma); };
        for (std::size_t i = 0; i < k; ++i) std::swap(order[i], order[i + std::size_t(below(n - i, next))]);
    } else {
        std::nth_element(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(), [&](std::size_t a, std::size_t b) {
            const float wa = std::fabs(weights[a]), wb = std::fabs(weights[b]);
            return wa < wb || (wa == wb && a < b);
        });
    }
    for (std::size_t i = 0; i < k; ++i) keep[order[i]] = 0;
    return keep;
}

void apply_prune(Network& net, const std::vector<PruneEntry>& entries, std::uint64_t seed, const std::string& model_path,
                 std::vector<std::string>& log, const std::function<bool(const Projection&)>& stays_dense) {
    for (const PruneEntry& e : entries) {
        if (e.layer.empty()) continue;
        bool found = false;
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections) {
                if (!prunable(p) || p.layer != e.layer) continue;
                found = true;
                if (p.binary || p.quant.scheme != QuantScheme::None)
                    throw OptionError("prune", e.text, "prune " + e.text + ": layer '" + e.layer +
                                                           "' is binary or quantized; only float layers can be pruned");
            }
        if (!found)
            throw OptionError("prune", e.text, "prune " + e.text + ": '" + model_path + "' has no dense or convolution layer '" +
                                                   e.layer + "' (it has: " + layer_names(net, prunable) + ")");
    }
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        Population& pop = net.populations[i];
        for (std::size_t j = 0; j < pop.projections.size(); ++j) {
            Projection& p = pop.projections[j];
            if (!prunable(p)) continue;
            const PruneEntry* e = entry_for(entries, p.layer);
            if (!e || e->ratio == 0) continue;
            if (p.binary || p.quant.scheme != QuantScheme::None) {
                log.push_back("not pruned " + p.layer + ": a binary or quantized layer");
                continue;
            }
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            const std::vector<std::uint8_t> keep =
                prune_mask(p.weights, e->method, e->ratio, prune_stream(seed, i, j));
            const auto n = std::int64_t(p.weights.size());
            const std::int64_t removed = pruned_count(n, e->ratio);
            const std::string method = e->method == PruneMethod::Random ? "random, seed " + std::to_string(seed) : "magnitude";
            char line[256];
            if (p.kind == ProjectionKind::Dense && !(stays_dense && stays_dense(p))) {
                p = sparsify(p, src, pop.shape, keep);
                std::snprintf(line, sizeof line,
                              "pruned %s (%s): %lld of %lld synapses removed, %.4g%% kept, stored as compressed sparse rows",
                              p.layer.c_str(), method.c_str(), static_cast<long long>(removed), static_cast<long long>(n),
                              100.0 * double(n - removed) / double(n));
            } else {
                for (std::size_t k = 0; k < keep.size(); ++k)
                    if (!keep[k]) p.weights[k] = 0.0f;
                if (p.kind == ProjectionKind::Dense)
                    std::snprintf(line, sizeof line,
                                  "pruned %s (%s): %lld of %lld synapses set to 0, %.4g%% kept (kept dense with zeros: it is "
                                  "quantized next)",
                                  p.layer.c_str(), method.c_str(), static_cast<long long>(removed),
                                  static_cast<long long>(n), 100.0 * double(n - removed) / double(n));
                else
                    std::snprintf(line, sizeof line,
                                  "pruned %s (%s): %lld of %lld kernel weights set to 0, %.4g%% kept (the %s keeps its dense "
                                  "kernel)",
                                  p.layer.c_str(), method.c_str(), static_cast<long long>(removed),
                                  static_cast<long long>(n), 100.0 * double(n - removed) / double(n), to_string(p.kind));
            }
            log.push_back(line);
        }
    }
}

} // namespace snn
