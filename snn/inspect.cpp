#include "snn/inspect.hpp"

#include "snn/binary.hpp"
#include "snn/quant.hpp"
#include "snn/sparse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace snn {

namespace {

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

// The compressive-sensing stage (docs/compressive-sensing.md) for inspect --json.
nlohmann::json input_stage_json(const RademacherStage& st) {
    return {{"kind", "rademacher"},
            {"seed", st.seed},
            {"rd", st.rd},
            {"raw_shape", {st.raw.h, st.raw.w, st.raw.c}},
            {"adds_per_input", st.adds()}};
}

std::string source_name(const Network& net, int source) {
    if (source < 0 || std::size_t(source) >= net.populations.size()) return "?" + std::to_string(source);
    return net.populations[std::size_t(source)].name;
}

std::string neuron_str(const Population& pop) {
    if (pop.kind == PopulationKind::Input) return "-";
    std::string s = std::string(to_string(pop.neuron.model)) + " " + to_string(pop.neuron.reset) +
                    (pop.neuron.strict_threshold ? " v_th>" : " v_th=") + number(pop.neuron.v_th);
    if (pop.neuron.model == NeuronModel::LIF) s += " tau=" + number(pop.neuron.tau_steps);
    if (pop.neuron.tau_syn_steps > 0) s += " tau_syn=" + number(pop.neuron.tau_syn_steps);
    if (pop.neuron.v_init != 0) s += " v0=" + number(pop.neuron.v_init);
    if (pop.neuron.signed_spikes) s += " signed";
    if (pop.neuron.state_bits != 32) s += " state=" + std::to_string(pop.neuron.state_bits) + "bit";
    return s;
}

std::string quant_name(const Projection& p);

std::string projections_str(const Network& net, const Population& pop) {
    if (pop.projections.empty()) return "-";
    std::string s;
    for (const Projection& p : pop.projections) {
        if (!s.empty()) s += ", ";
        s += quant_name(p) + to_string(p.kind) + "←" + source_name(net, p.source);
    }
    return s;
}

// "binary ", "int4 ", "ternary ", "qsq " or "" (float).
std::string quant_name(const Projection& p) {
    if (p.binary) return "binary ";
    switch (p.quant.scheme) {
    case QuantScheme::Int: return "int" + std::to_string(p.quant.bits) + " ";
    case QuantScheme::Ternary: return "ternary ";
    case QuantScheme::Qsq: return "qsq ";
    case QuantScheme::None: break;
    }
    return "";
}

// The bits per stored weight of a population's projections: "32", "3", "1,32"; "-" without weights.
std::string bits_str(const Population& pop) {
    std::vector<int> bits;
    for (const Projection& p : pop.projections)
        if (!p.weights.empty()) bits.push_back(stored_weight_bits(p));
    std::sort(bits.begin(), bits.end());
    bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
    std::string s;
    for (const int b : bits) s += (s.empty() ? "" : ",") + std::to_string(b);
    return s.empty() ? "-" : s;
}

// The synapses a projection would have unpruned: a sparse projection's
// in·out, every other kind's weight count.
std::int64_t full_synapses(const Network& net, const Population& pop, const Projection& p) {
    if (p.kind != ProjectionKind::SparseDense) return std::int64_t(p.weights.size());
    return net.populations[std::size_t(p.source)].shape.size() * pop.shape.size();
}

// Synapses kept (snn::kept_synapses) and the unpruned count, over a population's projections.
struct Connectivity {
    std::int64_t kept = 0, full = 0;
    double fraction() const { return full > 0 ? double(kept) / double(full) : 1.0; }
};
Connectivity connectivity_of(const Network& net, const Population& pop) {
    Connectivity c;
    for (const Projection& p : pop.projections) {
        c.kept += kept_synapses(p);
        c.full += full_synapses(net, pop, p);
    }
    return c;
}

std::string percent(const Connectivity& c) {
    if (c.full == 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%%", 100.0 * c.fraction());
    return buf;
}

// Bytes of the population's parameters as dense float32 (what an unquantized,
// unpruned file holds).
std::int64_t float32_bytes(const Network& net, const Population& pop) {
    std::int64_t n = std::int64_t(pop.bias.size());
    for (const Projection& p : pop.projections) n += full_synapses(net, pop, p);
    return n * std::int64_t(sizeof(float));
}

// Columns are padded by what a terminal shows, not by bytes: "←" is three
// bytes of UTF-8 and one column.
std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char ch : s)
        if ((ch & 0xC0) != 0x80) ++n;
    return n;
}

} // namespace


namespace {

// The other IDP profiles' own weights and biases (003 section III), float32:
// their parameter count, and a line naming them.
std::int64_t idp_variant_parameters(const Network& net) {
    std::int64_t n = 0;
    for (const IdpVariant& v : net.idp_variants) n += std::int64_t(v.weights.size() + v.bias.size());
    return n;
}

std::string idp_profiles_text(const Network& net) {
    std::string s;
    double from = 0;
    for (std::size_t k = 0; k < net.idp_ranges.size(); ++k) {
        char range[64];
        std::snprintf(range, sizeof range, "%g-%g %%", from, net.idp_ranges[k]);
        std::string own;
        for (const IdpVariant& v : net.idp_variants)
            if (v.profile == int(k)) own += (own.empty() ? "" : ", ") + v.population;
        s += (s.empty() ? "" : "; ") + std::string(range) +
             (k + 1 == net.idp_ranges.size() ? " the network's own weights" : " own " + own);
        from = net.idp_ranges[k];
    }
    return s;
}

} // namespace

std::string describe(const Network& net, const std::string& file) {
    const std::vector<std::string> header = {"#", "name", "kind", "shape", "neurons", "neuron", "projections",
                                             "params", "kept", "bits/w", "bytes", "f32 bytes"};
    const std::vector<bool> right = {true, false, false, false, true, false, false, true, true, true, true, true};
    std::vector<std::vector<std::string>> rows;
    std::int64_t neurons = 0, params = 0, bytes = 0, f32 = 0;
    Connectivity synapses;
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        neurons += pop.shape.size();
        params += parameter_count(pop);
        bytes += parameter_bytes(pop);
        f32 += float32_bytes(net, pop);
        const Connectivity c = connectivity_of(net, pop);
        synapses.kept += c.kept;
        synapses.full += c.full;
        if (i + 1 == net.populations.size()) { // the other profiles' own layers count once, in the totals
            params += idp_variant_parameters(net);
            bytes += 4 * idp_variant_parameters(net);
            f32 += 4 * idp_variant_parameters(net);
        }
        rows.push_back({std::to_string(i), pop.name, to_string(pop.kind), pop.shape.str(),
                        std::to_string(pop.shape.size()), neuron_str(pop), projections_str(net, pop),
                        std::to_string(parameter_count(pop)), percent(c), bits_str(pop), std::to_string(parameter_bytes(pop)),
                        std::to_string(float32_bytes(net, pop))});
    }

    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
        width[c] = display_width(header[c]);
        for (const auto& r : rows) width[c] = std::max(width[c], display_width(r[c]));
    }
    std::ostringstream out;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const std::string pad(width[c] - display_width(cells[c]), ' ');
            s += c ? "  " : "";
            s += right[c] ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : "");
        }
        out << s << '\n';
    };

    if (!file.empty()) out << "network:       " << file << '\n';
    if (!net.source.empty()) out << "source:        " << net.source << '\n';
    if (!net.normalization.empty()) out << "normalization: " << net.normalization << '\n';
    out << "readout:       " << to_string(net.readout) << '\n';
    if (net.input_layout != InputLayout::ChannelsLast)
        out << "input layout:  " << to_string(net.input_layout)
            << " (the source model's; the network runs channels-last, and an HDF5 x of shape (N, C, H, W) is "
               "transposed when read)\n";
    if (const RademacherStage& st = net.input_stage; st.present())
        out << "input stage:   rademacher, seed " << st.seed << ", " << st.raw.str() << " = " << st.pixels()
            << " pixels -> rd " << st.rd << " measurements, " << st.adds() << " adds/input\n";
    out << '\n';
    line(header);
    for (const auto& r : rows) line(r);
    out << '\n'
        << "total: " << net.populations.size() << " populations, " << neurons << " neurons, " << params
        << " parameters, " << bytes << " bytes (" << human_bytes(std::uint64_t(bytes)) << ")";
    if (bytes != f32 && f32 > 0) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "; %lld bytes as float32, %.1f%% %s", static_cast<long long>(f32),
                      100.0 * std::abs(double(f32 - bytes)) / double(f32), bytes < f32 ? "smaller" : "larger");
        out << buf;
    }
    out << '\n';
    if (synapses.kept < synapses.full) {
        // Kept counts nonzero weights of dense kinds: a pruned convolution's zeros, or weights that were 0 anyway.
        std::int64_t sparse_count = 0, sparse_total = 0, sparse_full = 0;
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections)
                if (p.kind == ProjectionKind::SparseDense) {
                    sparse_count += std::int64_t(p.sparse.target.size());
                    sparse_total += sparse_bytes(p);
                    sparse_full += full_synapses(net, pop, p);
                }
        out << "synapses: " << synapses.kept << " of " << synapses.full << " kept (" << percent(synapses) << ")";
        if (sparse_full > 0)
            out << "; sparse layers: " << sparse_count << " synapses in " << sparse_total
                << " bytes (float32 values + int32 targets + int64 row pointers; " << sparse_full * 4
                << " bytes as dense float32)";
        out << '\n';
    }
    {
        std::int64_t binary_weights = 0, binary_bytes = 0, float_weights = 0, quant_weights = 0, quant_bytes = 0;
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections) {
                if (p.binary) {
                    binary_weights += std::int64_t(p.weights.size());
                    binary_bytes += weight_bytes(p);
                } else if (p.quant.scheme != QuantScheme::None) {
                    quant_weights += std::int64_t(p.weights.size());
                    quant_bytes += weight_bytes(p);
                } else {
                    float_weights += std::int64_t(p.weights.size());
                }
            }
        if (binary_weights > 0)
            out << "binary weights: " << binary_weights << " in " << binary_bytes << " bytes (bits + one float alpha per output; "
                << binary_weights * 4 << " bytes as float32); float weights: " << float_weights << " in "
                << float_weights * 4 << " bytes\n";
        if (quant_weights > 0)
            out << "quantized weights: " << quant_weights << " in " << quant_bytes
                << " bytes (packed codes + float scales; " << quant_weights * 4 << " bytes as float32); float weights: "
                << float_weights << " in " << float_weights * 4 << " bytes\n";
    }
    if (!net.devices.empty()) out << "partition: " << partition_spec(net) << '\n';
    for (const Population& pop : net.populations)
        if (!pop.clip.empty()) {
            // A bounded ReLU's cap M/λ per channel: 1 where λ = M, a rate the spiking unit cannot pass.
            const auto [lo, hi] = std::minmax_element(pop.clip.begin(), pop.clip.end());
            char caps[64], buf[200];
            if (*lo == *hi) std::snprintf(caps, sizeof caps, "%.4g", double(*lo));
            else std::snprintf(caps, sizeof caps, "%.4g–%.4g", double(*lo), double(*hi));
            std::snprintf(buf, sizeof buf, "bounded ReLU %s: cap %s in rate units (M/λ per channel; the DNN pass "
                                           "clips there, a spiking unit at 1)\n",
                          pop.name.c_str(), caps);
            out << buf;
        }
    {
        int corrected = 0;
        double largest = 0;
        for (const Population& pop : net.populations) {
            corrected += !pop.bias_correction.empty();
            for (float b : pop.bias_correction) largest = std::max(largest, double(std::abs(b)));
        }
        if (corrected > 0) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "bias corrections (SNN only, --calibrate-bias): %d populations, largest |correction| "
                                           "%.4g in threshold units per step\n", corrected, largest);
            out << buf;
        }
    }
    if (!net.idp_ranges.empty())
        out << "IDP profiles: " << idp_profiles_text(net) << " (" << idp_variant_parameters(net)
            << " parameters of their own, in the total)\n";
    for (const Exit& e : net.exits)
        out << "exit " << e.name << " at " << e.at << ": "
            << (e.weights.empty() ? std::string("the output's own readout")
                                  : "linear classifier, " + std::to_string(e.weights.size() + e.bias.size()) + " parameters")
            << ", " << to_string(e.rule) << (e.rule == ExitRule::Entropy ? " < " : " > ") << e.threshold << ", checked "
            << (e.check_every ? "every " + std::to_string(e.check_every) + " steps" : std::string("after the last step"))
            << '\n';
    if (!file.empty()) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(file, ec);
        out << "file size: " << (ec ? "unknown (" + ec.message() + ")" : human_bytes(size) + " on disk") << '\n';
    }
    return out.str();
}

nlohmann::json describe_json(const Network& net) {
    using nlohmann::json;
    json pops = json::array();
    std::int64_t neurons = 0, params = 0, bytes = 0, f32 = 0, kept = 0, full = 0;
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        f32 += float32_bytes(net, pop);
        const Connectivity c = connectivity_of(net, pop);
        kept += c.kept;
        full += c.full;
        json projs = json::array();
        for (const Projection& p : pop.projections) {
            const Window& w = p.window;
            const Connectivity pc{kept_synapses(p), full_synapses(net, pop, p)};
            projs.push_back({{"kind", to_string(p.kind)},
                             {"source", p.source},
                             {"source_name", source_name(net, p.source)},
                             {"layer", p.layer},
                             {"window",
                              {{"kh", w.kh}, {"kw", w.kw}, {"sh", w.sh}, {"sw", w.sw},
                               {"pad_top", w.pad_top}, {"pad_left", w.pad_left}}},
                             {"weights", p.weights.size()},
                             {"binary", p.binary},
                             {"bits", stored_weight_bits(p)},
                             {"quant", p.quant.scheme == QuantScheme::None
                                           ? json(nullptr)
                                           : json{{"scheme", to_string(p.quant.scheme)},
                                                  {"bits", p.quant.bits},
                                                  {"vector", p.quant.vector},
                                                  {"scales", p.quant.scale.size()}}},
                             {"synapses", pc.kept},
                             {"full_synapses", pc.full},
                             {"connectivity", pc.fraction()},
                             {"sparse", p.kind == ProjectionKind::SparseDense
                                            ? json{{"format", "csr"},
                                                   {"rows", p.sparse.row_begin.empty() ? 0 : p.sparse.row_begin.size() - 1},
                                                   {"bytes", sparse_bytes(p)}}
                                            : json(nullptr)},
                             {"weight_bytes", weight_bytes(p)}});
        }
        json neuron = nullptr;
        if (pop.kind != PopulationKind::Input) {
            neuron = {{"model", to_string(pop.neuron.model)},
                      {"reset", to_string(pop.neuron.reset)},
                      {"v_th", pop.neuron.v_th},
                      {"v_init", pop.neuron.v_init},
                      {"signed_spikes", pop.neuron.signed_spikes},
                      {"strict_threshold", pop.neuron.strict_threshold},
                      {"state_bits", pop.neuron.state_bits}};
            if (pop.neuron.model == NeuronModel::LIF) neuron["tau_steps"] = pop.neuron.tau_steps;
            if (pop.neuron.tau_syn_steps > 0) neuron["tau_syn_steps"] = pop.neuron.tau_syn_steps;
        }
        pops.push_back({{"index", i},
                        {"name", pop.name},
                        {"kind", to_string(pop.kind)},
                        {"shape", {pop.shape.h, pop.shape.w, pop.shape.c}},
                        {"neurons", pop.shape.size()},
                        {"neuron", neuron},
                        {"scale", pop.scale},
                        {"layers", pop.layers},
                        {"projections", projs},
                        {"parameters", parameter_count(pop)},
                        {"bytes", parameter_bytes(pop)},
                        {"synapses", c.kept},
                        {"full_synapses", c.full},
                        {"connectivity", c.fraction()},
                        {"float32_bytes", float32_bytes(net, pop)},
                        {"clip", pop.clip.empty() ? nlohmann::json(nullptr) : nlohmann::json(pop.clip)},
                        {"bias_correction", pop.bias_correction.empty() ? nlohmann::json(nullptr)
                                                                        : nlohmann::json(pop.bias_correction)}});
        neurons += pop.shape.size();
        params += parameter_count(pop);
        bytes += parameter_bytes(pop);
    }
    params += idp_variant_parameters(net);
    bytes += 4 * idp_variant_parameters(net);
    f32 += 4 * idp_variant_parameters(net);
    json idp_profiles = nullptr;
    if (!net.idp_ranges.empty()) {
        idp_profiles = json::array();
        for (std::size_t k = 0; k < net.idp_ranges.size(); ++k) {
            json own = json::array();
            std::int64_t n = 0;
            for (const IdpVariant& v : net.idp_variants)
                if (v.profile == int(k)) {
                    own.push_back(v.population);
                    n += std::int64_t(v.weights.size() + v.bias.size());
                }
            idp_profiles.push_back({{"from", k == 0 ? 0.0 : net.idp_ranges[k - 1]}, {"to", net.idp_ranges[k]},
                                    {"own_layers", own}, {"own_parameters", n}});
        }
    }
    json exits = json::array();
    for (const Exit& e : net.exits)
        exits.push_back({{"name", e.name},
                         {"at", e.at},
                         {"rule", to_string(e.rule)},
                         {"threshold", e.threshold},
                         {"check_every", e.check_every},
                         {"parameters", e.weights.size() + e.bias.size()}});
    return {{"source", net.source},
            {"normalization", net.normalization},
            {"readout", to_string(net.readout)},
            {"input_stage", net.input_stage.present() ? input_stage_json(net.input_stage) : json(nullptr)},
            {"partition", net.devices.empty() ? json(nullptr) : json(partition_spec(net))},
            {"exits", exits},
            {"idp_profiles", idp_profiles},
            {"input_layout", to_string(net.input_layout)},
            {"populations", pops},
            {"totals",
             {{"populations", net.populations.size()}, {"neurons", neurons}, {"parameters", params}, {"bytes", bytes},
              {"synapses", kept}, {"full_synapses", full},
              {"connectivity", full > 0 ? double(kept) / double(full) : 1.0}, {"float32_bytes", f32}}}};
}

} // namespace snn
