#include "sim/traffic.hpp"

#include "snn/kind.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <fstream>

namespace snn {

namespace {
// The pricing of one step (sim/traffic.hpp): n spikes whose gaps' Elias-γ
// codes take gap_bits.
CutBits priced(std::uint64_t n, std::uint64_t gap_bits, std::int64_t neurons) {
    CutBits b;
    b.aer = (n + 1) * std::uint64_t(address_bits(neurons));
    b.bitmap = std::uint64_t(neurons);
    b.delta = std::uint64_t(elias_gamma_bits(n + 1)) + gap_bits;
    b.best = std::min({b.aer, b.bitmap, b.delta}) + 2;
    return b;
}
} // namespace

CutBits step_bits(std::span<const std::int32_t> addresses, std::int64_t neurons) {
    std::uint64_t gaps = 0;
    std::int64_t prev = -1;
    for (std::int32_t a : addresses) {
        gaps += std::uint64_t(elias_gamma_bits(std::uint64_t(a - prev))); // gap + 1 = a − prev
        prev = a;
    }
    return priced(addresses.size(), gaps, neurons);
}

CutBits step_bits_of_masks(std::span<const std::uint16_t> masks, std::int64_t neurons) {
    // Four mask words at a time, as one 64-bit word: a quarter of the loop
    // exits (which mispredict) of a word at a time.
    std::uint64_t n = 0, gaps = 0;
    std::int64_t prev = -1;
    for (std::size_t w = 0; w < masks.size(); w += 4) {
        std::uint64_t m = 0;
        for (std::size_t j = 0; j < 4 && w + j < masks.size(); ++j) m |= std::uint64_t(masks[w + j]) << (16 * j);
        n += std::uint64_t(std::popcount(m));
        for (; m; m &= m - 1) {
            const std::int64_t a = 16 * std::int64_t(w) + std::countr_zero(m);
            gaps += std::uint64_t(elias_gamma_bits(std::uint64_t(a - prev)));
            prev = a;
        }
    }
    return priced(n, gaps, neurons);
}

CutStep meter_step(std::span<const std::int64_t> base, std::int64_t neurons, std::span<const SourceStep> sources,
                   std::vector<std::int32_t>& scratch) {
    CutStep step;
    if (sources.size() == 1 && base[0] == 0 && sources[0].masks) {
        // The masks are the cut's own addresses.
        const std::span<const std::uint16_t> row(sources[0].masks, (std::size_t(sources[0].n) + 15) / 16);
        for (std::uint16_t m : row) step.spikes += std::popcount(unsigned(m));
        step.bits = step_bits_of_masks(row, neurons);
        return step;
    }
    scratch.clear();
    for (std::size_t k = 0; k < sources.size(); ++k) {
        const SourceStep& src = sources[k];
        if (src.masks) {
            for (std::size_t w = 0; w < (std::size_t(src.n) + 15) / 16; ++w)
                for (unsigned m = src.masks[w]; m; m &= m - 1)
                    scratch.push_back(std::int32_t(base[k] + 16 * std::int64_t(w) + std::countr_zero(m)));
        } else {
            for (std::int32_t u : src.units) scratch.push_back(std::int32_t(base[k] + u));
        }
    }
    step.spikes = std::int64_t(scratch.size());
    step.bits = step_bits(scratch, neurons);
    return step;
}

CostTable load_cost_table(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw FileError(path, path + ": cannot open the cost table");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw FileError(path, path + ": the cost table is not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object())
        throw FileError(path, path + ": the cost table must be a JSON object such as {\"add_pj\": 0.9}");
    CostTable t;
    const auto number = [&](const std::string& key, const nlohmann::json& value) {
        if (!value.is_number()) throw FileError(path, path + ": cost '" + key + "' is not a number");
        const double v = value.get<double>();
        if (!std::isfinite(v) || v < 0)
            throw FileError(path, path + ": cost '" + key + "' must be a finite number ≥ 0");
        return v;
    };
    for (const auto& [key, value] : j.items()) {
        if (key == "add_pj_by_bits" || key == "mac_pj_by_bits") {
            if (!value.is_object())
                throw FileError(path, path + ": cost '" + key + "' must be an object of bit widths, such as {\"8\": 0.25}");
            auto& table = key == "add_pj_by_bits" ? t.add_pj_by_bits : t.mac_pj_by_bits;
            for (const auto& [bits, v] : value.items()) {
                int k = 0;
                const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), k);
                if (ec != std::errc() || end != bits.data() + bits.size() || k < 2 || k > 31)
                    throw FileError(path, path + ": cost '" + key + "': '" + bits + "' is not a bit width from 2 to 31");
                table[k] = number(key + "." + bits, v);
            }
            continue;
        }
        double* field = key == "add_pj"          ? &t.add_pj
                        : key == "mac_pj"        ? &t.mac_pj
                        : key == "binary_op_pj"  ? &t.binary_op_pj
                        : key == "memory_bit_pj" ? &t.memory_bit_pj
                        : key == "weight_bits"   ? &t.weight_bits
                                                 : nullptr;
        if (!field)
            throw FileError(path, path + ": unknown cost '" + key +
                                      "' (known: add_pj, mac_pj, binary_op_pj, memory_bit_pj, weight_bits, "
                                      "add_pj_by_bits, mac_pj_by_bits)");
        *field = number(key, value);
    }
    return t;
}

namespace {
double at_bits(const std::map<int, double>& table, double full, int bits) {
    if (bits >= 32) return full;
    const auto it = table.find(bits);
    return it != table.end() ? it->second : full * double(bits) / 32.0;
}
} // namespace

double add_pj_at(const CostTable& t, int bits) { return at_bits(t.add_pj_by_bits, t.add_pj, bits); }
double mac_pj_at(const CostTable& t, int bits) { return at_bits(t.mac_pj_by_bits, t.mac_pj, bits); }

nlohmann::json to_json(const CostTable& t) {
    nlohmann::json j = {{"add_pj", t.add_pj},
                        {"mac_pj", t.mac_pj},
                        {"binary_op_pj", t.binary_op_pj},
                        {"memory_bit_pj", t.memory_bit_pj},
                        {"weight_bits", t.weight_bits}};
    const auto bits = [](const std::map<int, double>& m) {
        nlohmann::json o = nlohmann::json::object();
        for (const auto& [k, v] : m) o[std::to_string(k)] = v;
        return o;
    };
    if (!t.add_pj_by_bits.empty()) j["add_pj_by_bits"] = bits(t.add_pj_by_bits);
    if (!t.mac_pj_by_bits.empty()) j["mac_pj_by_bits"] = bits(t.mac_pj_by_bits);
    return j;
}

std::int64_t dnn_macs(const Network& net, std::size_t i) {
    const Population& pop = net.populations[i];
    std::int64_t macs = 0;
    for (const Projection& p : pop.projections) {
        const Shape& src = net.populations[std::size_t(p.source)].shape;
        macs += kind_traits(p.kind).dnn_macs(p, src, pop.shape);
    }
    return macs;
}

} // namespace snn
