#include "snn/fit.hpp"

#include "snn/error.hpp"
#include "snn/kind.hpp"
#include "snn/quant.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#ifndef SNN_DEFAULT_TARGET_DIR
#error "SNN_DEFAULT_TARGET_DIR must be set on the snn_core target (see CMakeLists.txt)"
#endif

namespace snn {

namespace fs = std::filesystem;

std::string target_dir() {
    if (const char* env = std::getenv("SNN_TARGET_DIR"); env && *env) return env;
    return SNN_DEFAULT_TARGET_DIR;
}

namespace {

const char* to_string(Target::Mapping m) { return m == Target::Mapping::LayerPerCore ? "layer_per_core" : "split_neurons"; }

// The keys a target file may hold, by mapping (a typo is refused, not ignored).
const std::set<std::string> common_keys = {"name", "description", "sources", "mapping", "weight_bits", "state_bits",
                                           "toolchain_quantizes"};
const std::set<std::string> per_core_keys = {"cores",    "max_kernel",      "max_channels", "max_input_side",
                                             "max_output_side", "max_padding", "max_fanout",   "strides", "pools"};
const std::set<std::string> split_keys = {"cores_available", "neurons_per_core", "input_axons_per_core",
                                          "synapse_bits_per_core", "bits_per_synapse"};

struct Reader {
    const std::string& file;
    const nlohmann::json& j;

    [[noreturn]] void fail(const std::string& key, const std::string& why) const {
        throw FileError(file, "target file " + file + ": '" + key + "' " + why);
    }
    std::int64_t integer(const std::string& key, std::int64_t lo, bool required = true, std::int64_t dflt = 0) const {
        if (!j.contains(key)) {
            if (required) fail(key, "is missing");
            return dflt;
        }
        const auto& v = j.at(key);
        if (!v.is_number_integer()) fail(key, "must be an integer, not " + v.dump());
        const auto x = v.get<std::int64_t>();
        if (x < lo) fail(key, "must be at least " + std::to_string(lo) + ", not " + std::to_string(x));
        return x;
    }
    std::vector<int> ints(const std::string& key) const {
        if (!j.contains(key)) fail(key, "is missing");
        const auto& v = j.at(key);
        if (!v.is_array() || v.empty()) fail(key, "must be a non-empty list of integers");
        std::vector<int> out;
        for (const auto& x : v) {
            if (!x.is_number_integer() || x.get<std::int64_t>() < 1 || x.get<std::int64_t>() > 1 << 20)
                fail(key, "holds " + x.dump() + ", not a positive integer");
            out.push_back(x.get<int>());
        }
        return out;
    }
    std::string text(const std::string& key, bool required) const {
        if (!j.contains(key)) {
            if (required) fail(key, "is missing");
            return {};
        }
        if (!j.at(key).is_string()) fail(key, "must be a string");
        return j.at(key).get<std::string>();
    }
};

} // namespace

Target load_target(const std::string& name_or_file) {
    const bool is_path = name_or_file.find('/') != std::string::npos ||
                         (name_or_file.size() > 5 && name_or_file.substr(name_or_file.size() - 5) == ".json");
    const std::string file = is_path ? name_or_file : (fs::path(target_dir()) / (name_or_file + ".json")).string();
    if (!is_path && !fs::exists(file)) {
        std::string known;
        if (std::error_code ec; fs::is_directory(target_dir(), ec))
            for (const auto& e : fs::directory_iterator(target_dir()))
                if (e.path().extension() == ".json") known += (known.empty() ? "" : ", ") + e.path().stem().string();
        throw OptionError("target", name_or_file,
                          "target '" + name_or_file + "': no file " + file + (known.empty() ? "" : " (known: " + known + ")"));
    }
    std::ifstream in(file);
    if (!in) throw FileError(file, "target file " + file + ": cannot be read");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw FileError(file, "target file " + file + ": not JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object()) throw FileError(file, "target file " + file + ": not a JSON object");
    const Reader r{file, j};
    Target t;
    t.file = file;
    t.name = r.text("name", true);
    t.description = r.text("description", false);
    if (j.contains("sources")) {
        if (!j["sources"].is_array()) r.fail("sources", "must be a list of strings");
        for (const auto& s : j["sources"]) {
            if (!s.is_string()) r.fail("sources", "must be a list of strings");
            t.sources.push_back(s.get<std::string>());
        }
    }
    const std::string mapping = r.text("mapping", true);
    if (mapping == "layer_per_core") t.mapping = Target::Mapping::LayerPerCore;
    else if (mapping == "split_neurons") t.mapping = Target::Mapping::SplitNeurons;
    else r.fail("mapping", "must be layer_per_core or split_neurons, not '" + mapping + "'");
    t.weight_bits = int(r.integer("weight_bits", 1));
    t.state_bits = int(r.integer("state_bits", 1));
    if (t.weight_bits > 64 || t.state_bits > 64) r.fail(t.weight_bits > 64 ? "weight_bits" : "state_bits", "must be at most 64");
    if (j.contains("toolchain_quantizes")) {
        if (!j["toolchain_quantizes"].is_boolean()) r.fail("toolchain_quantizes", "must be true or false");
        t.toolchain_quantizes = j["toolchain_quantizes"].get<bool>();
    }
    const auto& own = t.mapping == Target::Mapping::LayerPerCore ? per_core_keys : split_keys;
    for (const auto& [key, value] : j.items())
        if (!common_keys.count(key) && !own.count(key))
            r.fail(key, std::string("is not a key of a ") + to_string(t.mapping) + " target");
    if (t.mapping == Target::Mapping::LayerPerCore) {
        if (!j.contains("cores") || !j["cores"].is_array() || j["cores"].empty())
            r.fail("cores", "must be a non-empty list of {kernel_entries, neuron_entries, bias_entries}");
        for (const auto& c : j["cores"]) {
            if (!c.is_object()) r.fail("cores", "must hold objects, not " + c.dump());
            const Reader cr{file, c};
            for (const auto& [key, value] : c.items())
                if (key != "kernel_entries" && key != "neuron_entries" && key != "bias_entries")
                    r.fail("cores", "holds an unknown key '" + key + "'");
            t.cores.push_back({cr.integer("kernel_entries", 1), cr.integer("neuron_entries", 1), cr.integer("bias_entries", 0)});
        }
        t.max_kernel = int(r.integer("max_kernel", 1));
        t.max_channels = int(r.integer("max_channels", 1));
        t.max_input_side = int(r.integer("max_input_side", 1));
        t.max_output_side = int(r.integer("max_output_side", 1));
        t.max_padding = int(r.integer("max_padding", 0));
        t.max_fanout = int(r.integer("max_fanout", 1));
        t.strides = r.ints("strides");
        t.pools = r.ints("pools");
    } else {
        t.cores_available = r.integer("cores_available", 1);
        t.neurons_per_core = r.integer("neurons_per_core", 1);
        t.input_axons_per_core = r.integer("input_axons_per_core", 0, false);
        t.synapse_bits_per_core = r.integer("synapse_bits_per_core", 0, false);
        t.bits_per_synapse = int(r.integer("bits_per_synapse", 0, false));
    }
    return t;
}

namespace {

// ⌈log2 x⌉ for x ≥ 1.
int ceil_log2(std::int64_t x) {
    int b = 0;
    while ((std::int64_t(1) << b) < x) ++b;
    return b;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

int weight_bits_of(const Projection& p) { return stored_weight_bits(p); }

std::string kinds_of(const Population& pop) {
    std::string s;
    for (const Projection& p : pop.projections) s += (s.empty() ? "" : "+") + std::string(p.binary ? "binary " : "") + kind_traits(p.kind).name;
    return s;
}

// Every connection of projection p into population i (a convolution's shared weights once per connection).
std::int64_t synapses_of(const Network& net, std::size_t i, const Projection& p) {
    return kind_traits(p.kind).dnn_macs(p, net.populations[std::size_t(p.source)].shape, net.populations[i].shape);
}

// Population i's name, kinds, neurons, fan-in and synapses.
FitLayer measure(const Network& net, std::size_t i) {
    const Population& pop = net.populations[i];
    FitLayer L;
    L.name = pop.name;
    L.kind = kinds_of(pop);
    L.neurons = pop.shape.size();
    for (const Projection& p : pop.projections) {
        L.fan_in += kind_traits(p.kind).fan_in(p, net.populations[std::size_t(p.source)].shape);
        L.synapses += synapses_of(net, i, p);
    }
    return L;
}

void check_precision(const Population& pop, const Target& t, FitLayer& L) {
    L.weight_bits = 0;
    for (const Projection& p : pop.projections) L.weight_bits = std::max(L.weight_bits, weight_bits_of(p));
    L.state_bits = pop.neuron.state_bits;
    if (L.weight_bits > t.weight_bits && !t.toolchain_quantizes)
        L.violations.push_back({"weight_bits", L.weight_bits, t.weight_bits,
                                "weights are " + std::to_string(L.weight_bits) + (L.weight_bits == 32 ? "-bit floats; " : "-bit codes; ") +
                                    t.name + " stores " + std::to_string(t.weight_bits) + "-bit weights",
                                "quantize the weights to " + std::to_string(t.weight_bits) + " bits (snn convert --quantize int:" +
                                    std::to_string(std::clamp(t.weight_bits, 2, 8)) + ")"});
    if (L.state_bits > t.state_bits)
        L.violations.push_back({"state_bits", L.state_bits, t.state_bits,
                                std::string(L.state_bits == 32 ? "membranes are 32-bit floats; " : "membranes are 16-bit fixed point; ") +
                                    t.name + " holds " + std::to_string(t.state_bits) + "-bit states",
                                t.state_bits >= 16 ? "hold the membranes in 16 bits (snn convert --state-bits 16)"
                                                   : "hold the membranes in " + std::to_string(t.state_bits) +
                                                         " bits (the chip rounds them; snn simulates 16 or 32 bits)"});
}

// Consumers of population i: the populations with a projection from it.
std::vector<std::size_t> consumers(const Network& net, std::size_t i) {
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < net.populations.size(); ++k)
        for (const Projection& p : net.populations[k].projections)
            if (std::size_t(p.source) == i) {
                out.push_back(k);
                break;
            }
    return out;
}

void fit_layer_per_core(const Network& net, const Target& t, FitReport& rep) {
    const std::size_t P = net.populations.size();
    std::vector<int> layer_of(P, -1);       // population → its FitLayer
    std::vector<std::size_t> core_layers;   // FitLayer indices that need a core
    std::vector<std::size_t> fanout_from(P); // the population whose consumers count for a core (a merged pool's)
    for (std::size_t i = 1; i < P; ++i) {
        const Population& pop = net.populations[i];
        FitLayer L = measure(net, i);
        layer_of[i] = int(rep.layers.size());
        const auto refuse = [&](const std::string& what, const std::string& change) {
            L.violations.push_back({"layer_kind", 0, 0, what, change});
        };
        if (pop.projections.size() != 1) {
            refuse("several inputs summed (a residual join): " + t.name + " cores take one convolution each",
                   "a network without residual joins");
            rep.layers.push_back(std::move(L));
            continue;
        }
        const Projection& p = pop.projections[0];
        const std::size_t s = std::size_t(p.source);
        const Shape& src = net.populations[s].shape;
        if (p.kind == ProjectionKind::AvgPool) {
            // Sum pooling at the output of the core before it (the next
            // layer's weights take the 1/k² of an average).
            const int k = p.window.kh;
            const bool square = p.window.kh == p.window.kw && p.window.sh == k && p.window.sw == k &&
                                p.window.pad_top == 0 && p.window.pad_left == 0;
            const bool size_ok = std::find(t.pools.begin(), t.pools.end(), k) != t.pools.end();
            const int before = layer_of[s];
            const bool after_core = s > 0 && before >= 0 && rep.layers[std::size_t(before)].kind != "merged" &&
                                    consumers(net, s).size() == 1;
            if (square && size_ok && after_core) {
                L.kind = "merged";
                L.note = "merged into '" + net.populations[s].name + "' as " + std::to_string(k) + "x" + std::to_string(k) +
                         " sum pooling";
                fanout_from[s] = i;
                rep.layers.push_back(std::move(L));
                continue;
            }
            std::string pools;
            for (int q : t.pools) pools += (pools.empty() ? "" : ", ") + std::to_string(q);
            L.violations.push_back(
                {"pooling", k, 0,
                 !after_core ? "average pooling that does not follow a convolution core alone: " + t.name +
                                   " pools only at a core's output"
                             : "pooling window " + std::to_string(p.window.kh) + "x" + std::to_string(p.window.kw) + " stride " +
                                   std::to_string(p.window.sh) + "x" + std::to_string(p.window.sw) + ": " + t.name +
                                   " sum-pools square windows of " + pools + " with the same stride",
                 "pool right after a convolution with a square window of " + pools});
            rep.layers.push_back(std::move(L));
            continue;
        }
        if (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::SparseDense && p.kind != ProjectionKind::Conv2D &&
            p.kind != ProjectionKind::DepthwiseConv2D) {
            refuse(std::string(kind_traits(p.kind).name) + " layer: not a " + t.name + " layer",
                   p.kind == ProjectionKind::MaxPool ? "average (sum) pooling instead of max pooling" : "a convolution or dense layer");
            rep.layers.push_back(std::move(L));
            continue;
        }
        // The layer as the chip's convolution: a dense layer is a convolution
        // whose kernel covers its whole input (a pruned one still holds its
        // zeros there: the cores' kernel memory is dense).
        const bool dense = p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::SparseDense;
        const std::int64_t c = src.c, f = dense ? pop.shape.size() : pop.shape.c;
        const int kx = dense ? src.w : p.window.kw, ky = dense ? src.h : p.window.kh;
        const int fx = dense ? 1 : pop.shape.w, fy = dense ? 1 : pop.shape.h;
        L.kernel_entries = c * (std::int64_t(1) << (ceil_log2(std::int64_t(kx) * ky) + ceil_log2(f)));
        L.neuron_entries = f * (std::int64_t(1) << (ceil_log2(fy) + ceil_log2(fx)));
        L.bias_entries = pop.bias.empty() ? 0 : f;
        if (p.kind == ProjectionKind::DepthwiseConv2D)
            refuse("depthwise convolution: " + t.name + "'s cores convolve every input channel; held as a full convolution it "
                   "needs the memory shown",
                   "a full Conv2D in its place (or a model without depthwise layers)");
        const std::string size = std::to_string(kx) + "x" + std::to_string(ky);
        if (std::max(kx, ky) > t.max_kernel)
            L.violations.push_back({"kernel_size", std::max(kx, ky), t.max_kernel,
                                    "kernel " + size + (dense ? " (a dense layer's kernel is its whole input)" : "") +
                                        " > " + std::to_string(t.max_kernel) + "x" + std::to_string(t.max_kernel),
                                    dense ? "pool the input of the dense layer to at most " + std::to_string(t.max_kernel) + "x" +
                                                std::to_string(t.max_kernel)
                                          : "kernels of at most " + std::to_string(t.max_kernel) + "x" + std::to_string(t.max_kernel)});
        else if (kx != ky)
            L.violations.push_back({"kernel_size", std::max(kx, ky), std::min(kx, ky), "kernel " + size + " is not square",
                                    "a square kernel"});
        if (!dense)
            for (int stride : {p.window.sh, p.window.sw})
                if (std::find(t.strides.begin(), t.strides.end(), stride) == t.strides.end()) {
                    L.violations.push_back({"stride", stride, 0, "stride " + std::to_string(stride) + " is not one of the chip's",
                                            "a stride the chip has (see the target file's strides)"});
                    break;
                }
        if (!dense && std::max(p.window.pad_top, p.window.pad_left) > t.max_padding)
            L.violations.push_back({"padding", std::max(p.window.pad_top, p.window.pad_left), t.max_padding,
                                    "padding " + std::to_string(std::max(p.window.pad_top, p.window.pad_left)) + " > " +
                                        std::to_string(t.max_padding),
                                    "less padding"});
        if (std::max(c, f) > t.max_channels)
            L.violations.push_back({"channels", std::max(c, f), t.max_channels,
                                    std::to_string(std::max(c, f)) + " channels > " + std::to_string(t.max_channels), "fewer channels"});
        if (std::max(src.h, src.w) > t.max_input_side)
            L.violations.push_back({"input_size", std::max(src.h, src.w), t.max_input_side,
                                    "input " + std::to_string(src.h) + "x" + std::to_string(src.w) + " > " +
                                        std::to_string(t.max_input_side) + "x" + std::to_string(t.max_input_side),
                                    "a smaller input (pool or crop first)"});
        if (std::max(fx, fy) > t.max_output_side)
            L.violations.push_back({"output_size", std::max(fx, fy), t.max_output_side,
                                    "output map " + std::to_string(fy) + "x" + std::to_string(fx) + " > " +
                                        std::to_string(t.max_output_side) + "x" + std::to_string(t.max_output_side),
                                    "a larger stride or a smaller input"});
        check_precision(pop, t, L);
        fanout_from[i] = i;
        core_layers.push_back(rep.layers.size());
        rep.layers.push_back(std::move(L));
    }
    // Fan-out of each core: the layers its spikes (after any merged pooling) go to.
    for (std::size_t i = 1; i < P; ++i) {
        FitLayer& L = rep.layers[std::size_t(layer_of[i])];
        if (L.kernel_entries == 0) continue;
        const std::int64_t out = std::int64_t(consumers(net, fanout_from[i]).size());
        if (out > t.max_fanout)
            L.violations.push_back({"fanout", out, t.max_fanout,
                                    "its spikes go to " + std::to_string(out) + " layers; a core sends to at most " +
                                        std::to_string(t.max_fanout),
                                    "fewer layers reading it"});
    }
    // Cores: each layer needs one whose memories hold it; the layers are
    // matched to the cores (augmenting paths, layers in network order).
    const std::size_t C = t.cores.size();
    const auto holds = [&](const FitLayer& L, const TargetCore& k) {
        return L.kernel_entries <= k.kernel_entries && L.neuron_entries <= k.neuron_entries && L.bias_entries <= k.bias_entries;
    };
    std::vector<int> owner(C, -1);
    const std::function<bool(std::size_t, std::vector<char>&)> place = [&](std::size_t l, std::vector<char>& seen) {
        for (std::size_t k = 0; k < C; ++k) // a free core first, so that earlier layers keep the lower cores
            if (owner[k] < 0 && holds(rep.layers[core_layers[l]], t.cores[k])) {
                owner[k] = int(l);
                return true;
            }
        for (std::size_t k = 0; k < C; ++k) {
            if (seen[k] || !holds(rep.layers[core_layers[l]], t.cores[k])) continue;
            seen[k] = 1;
            if (owner[k] < 0 || place(std::size_t(owner[k]), seen)) {
                owner[k] = int(l);
                return true;
            }
        }
        return false;
    };
    for (std::size_t l = 0; l < core_layers.size(); ++l) {
        std::vector<char> seen(C, 0);
        place(l, seen);
    }
    for (std::size_t k = 0; k < C; ++k)
        if (owner[k] >= 0) rep.layers[core_layers[std::size_t(owner[k])]].core = int(k);
    std::int64_t max_kernel = 0, max_neuron = 0, max_bias = 0;
    for (const TargetCore& k : t.cores) {
        max_kernel = std::max(max_kernel, k.kernel_entries);
        max_neuron = std::max(max_neuron, k.neuron_entries);
        max_bias = std::max(max_bias, k.bias_entries);
    }
    for (std::size_t l : core_layers) {
        FitLayer& L = rep.layers[l];
        L.cores = 1;
        if (L.core >= 0) continue;
        if (L.kernel_entries > max_kernel)
            L.violations.push_back({"kernel_memory", L.kernel_entries, max_kernel,
                                    "kernel memory " + std::to_string(L.kernel_entries) + " entries > the largest core's " +
                                        std::to_string(max_kernel),
                                    "fewer input or output channels, or a smaller kernel"});
        if (L.neuron_entries > max_neuron)
            L.violations.push_back({"neuron_memory", L.neuron_entries, max_neuron,
                                    "neuron memory " + std::to_string(L.neuron_entries) + " entries > the largest core's " +
                                        std::to_string(max_neuron),
                                    "a smaller output map (stride or pool earlier) or fewer channels"});
        if (L.bias_entries > max_bias)
            L.violations.push_back({"bias_memory", L.bias_entries, max_bias,
                                    "bias memory " + std::to_string(L.bias_entries) + " entries > " + std::to_string(max_bias),
                                    "fewer output channels, or no bias"});
        if (L.kernel_entries <= max_kernel && L.neuron_entries <= max_neuron && L.bias_entries <= max_bias) {
            std::int64_t able = 0;
            for (const TargetCore& k : t.cores) able += holds(L, k);
            L.violations.push_back({"cores", std::int64_t(core_layers.size()), std::int64_t(C),
                                    "no core left: " + std::to_string(core_layers.size()) + " layers need a core each; " +
                                        std::to_string(able) + " of the " + std::to_string(C) +
                                        " cores could hold this one and the layers before it took them",
                                    "split the network across chips (snn partition) or use fewer layers"});
        }
    }
    rep.cores_needed = std::int64_t(core_layers.size());
    rep.cores_available = std::int64_t(C);
}

void fit_split_neurons(const Network& net, const Target& t, FitReport& rep) {
    std::int64_t total = 0;
    bool over = false;
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        FitLayer L = measure(net, i);
        for (const Projection& p : pop.projections) {
            const int bits = t.bits_per_synapse > 0 ? t.bits_per_synapse : std::min(weight_bits_of(p), t.weight_bits);
            L.synapse_bits += synapses_of(net, i, p) * bits;
        }
        L.cores = std::max<std::int64_t>(1, ceil_div(L.neurons, t.neurons_per_core));
        if (t.synapse_bits_per_core > 0) L.cores = std::max(L.cores, ceil_div(L.synapse_bits, t.synapse_bits_per_core));
        if (t.input_axons_per_core > 0 && L.fan_in > t.input_axons_per_core)
            L.violations.push_back({"fan_in", L.fan_in, t.input_axons_per_core,
                                    "a neuron reads " + std::to_string(L.fan_in) + " inputs; a core has " +
                                        std::to_string(t.input_axons_per_core) + " input axons (no split helps)",
                                    "fewer inputs per neuron: pool or narrow the layer before it"});
        check_precision(pop, t, L);
        total += L.cores;
        if (total > t.cores_available && !over) {
            over = true;
            L.violations.push_back({"cores", total, t.cores_available,
                                    "the layers up to this one need " + std::to_string(total) + " cores; the chip has " +
                                        std::to_string(t.cores_available),
                                    "split the network across chips (snn partition) or use fewer neurons"});
        }
        rep.layers.push_back(std::move(L));
    }
    rep.cores_needed = total;
    rep.cores_available = t.cores_available;
}

} // namespace

FitReport fit(const Network& net, const Target& target) {
    FitReport rep;
    rep.target = target.name;
    rep.network = net.source;
    if (target.mapping == Target::Mapping::LayerPerCore) fit_layer_per_core(net, target, rep);
    else fit_split_neurons(net, target, rep);
    rep.fits = rep.cores_needed <= rep.cores_available &&
               std::none_of(rep.layers.begin(), rep.layers.end(), [](const FitLayer& L) { return !L.violations.empty(); });
    return rep;
}

nlohmann::json to_json(const FitReport& r) {
    nlohmann::json j;
    j["target"] = r.target;
    j["fits"] = r.fits;
    j["cores_needed"] = r.cores_needed;
    j["cores_available"] = r.cores_available;
    j["layers"] = nlohmann::json::array();
    for (const FitLayer& L : r.layers) {
        nlohmann::json l{{"name", L.name},       {"kind", L.kind},       {"neurons", L.neurons},
                         {"fan_in", L.fan_in},   {"synapses", L.synapses}, {"cores", L.cores},
                         {"weight_bits", L.weight_bits}, {"state_bits", L.state_bits}};
        if (L.kernel_entries || L.neuron_entries) {
            l["kernel_entries"] = L.kernel_entries;
            l["neuron_entries"] = L.neuron_entries;
            l["bias_entries"] = L.bias_entries;
            l["core"] = L.core >= 0 ? nlohmann::json(L.core) : nlohmann::json(nullptr);
        }
        if (L.synapse_bits) l["synapse_bits"] = L.synapse_bits;
        if (!L.note.empty()) l["note"] = L.note;
        l["violations"] = nlohmann::json::array();
        for (const FitViolation& v : L.violations)
            l["violations"].push_back({{"resource", v.resource}, {"need", v.need}, {"have", v.have}, {"what", v.what}, {"change", v.change}});
        j["layers"].push_back(std::move(l));
    }
    return j;
}

std::string describe(const FitReport& r) {
    std::ostringstream o;
    o << "target:  " << r.target << "\n";
    o << "fits:    " << (r.fits ? "yes" : "no") << " (" << r.cores_needed << " of " << r.cores_available << " cores)\n\n";
    o << "layer                 neurons    fan-in     synapses  cores  w/state bits  violations\n";
    for (const FitLayer& L : r.layers) {
        char line[256];
        std::snprintf(line, sizeof line, "%-20s %8lld %9lld %12lld %6lld  %5d/%-6d  %zu\n", L.name.c_str(),
                      static_cast<long long>(L.neurons), static_cast<long long>(L.fan_in), static_cast<long long>(L.synapses),
                      static_cast<long long>(L.cores), L.weight_bits, L.state_bits, L.violations.size());
        o << line;
        if (!L.note.empty()) o << "    " << L.note << "\n";
        if (L.kernel_entries || L.neuron_entries)
            o << "    kernel memory " << L.kernel_entries << ", neuron memory " << L.neuron_entries << ", bias " << L.bias_entries
              << " entries; core " << (L.core >= 0 ? std::to_string(L.core) : std::string("none")) << "\n";
        for (const FitViolation& v : L.violations) o << "    ✗ " << v.resource << ": " << v.what << " → " << v.change << "\n";
    }
    return o.str();
}

} // namespace snn
