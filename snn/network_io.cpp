#include "snn/network_io.hpp"
#include "snn/rademacher.hpp"

#include "snn/kind.hpp"

#include "snn/binary.hpp"
#include "snn/quant.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace snn {

namespace {

// Populations and projections are groups named by their index, zero-padded
// so that a plain listing (h5ls, h5py) shows them in network order.
std::string index_name(std::size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%03zu", i);
    return buf;
}

// The on-disk shape of a projection's weights; the flat in-memory vector is
// that array in row-major order.
std::vector<std::uint64_t> weight_dims(const Projection& p, const Shape& src, const Shape& dst) {
    return kind_traits(p.kind).weight_dims(p, src, dst);
}

std::string dims_str(const std::vector<std::uint64_t>& dims) {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
    return s + ")";
}

// Saturates instead of wrapping, so a corrupt file with absurd dimensions
// reads as "too large" rather than as a small size.
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
    return a * b;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

std::uint64_t element_count(const std::vector<std::uint64_t>& dims) {
    std::uint64_t n = 1;
    for (auto d : dims) n = saturating_mul(n, d);
    return n;
}

// ---------------------------------------------------------------- writing

constexpr std::size_t compress_min_weights = std::size_t(1) << 16;

std::vector<std::int64_t> window_attr(const Window& w) {
    return {w.kh, w.kw, w.sh, w.sw, w.pad_top, w.pad_left};
}

// The compressive-sensing stage as root attributes (version 11): the seed
// (an int64 holding the seed's 64 bits), rd and the raw input's shape.
void write_input_stage(const h5::Node& file, const RademacherStage& st) {
    h5::write_attr(file, "input_stage", std::string("rademacher"));
    h5::write_attr(file, "input_stage_seed", std::int64_t(st.seed));
    h5::write_attr(file, "input_stage_rd", st.rd);
    h5::write_attr(file, "input_stage_raw_shape", std::vector<std::int64_t>{st.raw.h, st.raw.w, st.raw.c});
}

void write_network(const Network& net, const std::string& file_path) {
    h5::Node file = h5::create_file(file_path);
    h5::write_attr(file, "format", std::string(network_format_name));
    bool learned = !net.labels.empty() || net.readout == Readout::Assignment || net.steps > 0 || net.max_rate > 0;
    for (const Population& pop : net.populations) learned |= !pop.theta.empty() || pop.inhibition != Inhibition::None;
    const bool v2 = !net.exits.empty() || !net.devices.empty() || learned;
    bool binary = false;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) binary |= p.binary;
    std::int64_t version = binary ? 3 : v2 ? 2 : 1;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) version = std::max(version, kind_traits(p.kind).format_version);
    // Version 5: a channels-first input layout or a bounded ReLU, which a
    // reader that ignored them would get silently wrong (data read in the
    // wrong order; a DNN pass without the cap).
    bool clipped = false;
    for (const Population& pop : net.populations) clipped |= !pop.clip.empty();
    if (clipped || net.input_layout != InputLayout::ChannelsLast) version = std::max<std::int64_t>(version, 5);
    // Version 6: a strict threshold (v > v_th, NIR's rule), which an older
    // reader would silently run as v ≥ v_th.
    bool strict = false;
    for (const Population& pop : net.populations) strict |= pop.neuron.strict_threshold;
    if (strict) version = std::max<std::int64_t>(version, 6);
    // Version 7: quantized weights (codes and scales, no float weights).
    bool quantized = false;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) quantized |= p.quant.scheme != QuantScheme::None;
    if (quantized) version = std::max<std::int64_t>(version, 7);
    // Version 9: 16-bit membranes, which an older reader would silently run as floats.
    bool fixed_state = false;
    for (const Population& pop : net.populations) fixed_state |= pop.neuron.state_bits != 32;
    if (fixed_state) version = std::max<std::int64_t>(version, 9);
    // Version 11: a compressive-sensing input stage, which an older reader
    // would silently run on raw images as if they were measurements.
    if (net.input_stage.present()) version = std::max<std::int64_t>(version, 11);
    // Version 12: IDP profiles, whose channel order an older reader would ignore.
    bool idp = false;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) idp |= !p.idp_gamma.empty();
    if (idp) version = std::max<std::int64_t>(version, 12);
    // Version 13: several IDP profiles, whose own weights an older reader would ignore.
    if (!net.idp_ranges.empty()) version = std::max<std::int64_t>(version, 13);
    // Version 14: a bias correction or a synaptic current, which an older
    // reader would silently drop, or a threshold neuron.
    bool corrected = false;
    for (const Population& pop : net.populations)
        corrected |= !pop.bias_correction.empty() || pop.neuron.tau_syn_steps != 0 ||
                     pop.neuron.model == NeuronModel::Threshold;
    if (corrected) version = std::max<std::int64_t>(version, 14);
    h5::write_attr(file, "format_version", version);
    if (net.input_layout != InputLayout::ChannelsLast)
        h5::write_attr(file, "input_layout", std::string(to_string(net.input_layout)));
    if (!net.devices.empty()) h5::write_attr(file, "devices", net.devices);
    h5::write_attr(file, "source", net.source);
    h5::write_attr(file, "normalization", net.normalization);
    h5::write_attr(file, "readout", std::string(to_string(net.readout)));
    // Optional (version 2), written only when used, so other files stay byte-for-byte as before.
    if (net.steps > 0) h5::write_attr(file, "steps", std::int64_t(net.steps));
    if (net.max_rate > 0) h5::write_attr(file, "max_rate", double(net.max_rate));
    if (net.input_stage.present()) write_input_stage(file, net.input_stage);
    if (!net.labels.empty()) {
        const std::vector<std::int64_t> labels(net.labels.begin(), net.labels.end());
        h5::write_ints(file, "labels", labels, {labels.size()});
    }

    h5::Node pops = h5::create_group(file, "populations");
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        h5::Node g = h5::create_group(pops, index_name(i));
        h5::write_attr(g, "name", pop.name);
        h5::write_attr(g, "kind", std::string(to_string(pop.kind)));
        h5::write_attr(g, "shape", std::vector<std::int64_t>{pop.shape.h, pop.shape.w, pop.shape.c});
        h5::write_attr(g, "neuron_model", std::string(to_string(pop.neuron.model)));
        h5::write_attr(g, "reset", std::string(to_string(pop.neuron.reset)));
        // float → double → float is exact, so these round-trip bit for bit.
        h5::write_attr(g, "v_th", double(pop.neuron.v_th));
        h5::write_attr(g, "tau_steps", double(pop.neuron.tau_steps));
        h5::write_attr(g, "v_init", double(pop.neuron.v_init));
        h5::write_attr(g, "signed_spikes", std::int64_t(pop.neuron.signed_spikes));
        if (pop.neuron.strict_threshold) h5::write_attr(g, "strict_threshold", std::int64_t(1));
        if (pop.neuron.state_bits != 32) h5::write_attr(g, "state_bits", std::int64_t(pop.neuron.state_bits));
        if (pop.neuron.tau_syn_steps != 0) h5::write_attr(g, "tau_syn_steps", double(pop.neuron.tau_syn_steps));
        h5::write_attr(g, "scale", double(pop.scale));
        h5::write_attr(g, "layers", pop.layers);
        h5::write_floats(g, "bias", pop.bias, {pop.bias.size()});
        if (!pop.theta.empty()) h5::write_floats(g, "theta", pop.theta, {pop.theta.size()});
        if (!pop.clip.empty()) h5::write_floats(g, "clip", pop.clip, {pop.clip.size()});
        if (!pop.bias_correction.empty())
            h5::write_floats(g, "bias_correction", pop.bias_correction, {pop.bias_correction.size()});
        if (pop.inhibition != Inhibition::None) h5::write_attr(g, "inhibition", std::string(to_string(pop.inhibition)));

        h5::Node projs = h5::create_group(g, "projections");
        for (std::size_t j = 0; j < pop.projections.size(); ++j) {
            const Projection& p = pop.projections[j];
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            h5::Node pg = h5::create_group(projs, index_name(j));
            h5::write_attr(pg, "source", std::int64_t(p.source));
            h5::write_attr(pg, "kind", std::string(to_string(p.kind)));
            h5::write_attr(pg, "layer", p.layer);
            h5::write_attr(pg, "window", window_attr(p.window));
            if (!p.idp_gamma.empty()) {
                // Version 12: the profile's name and γ per source channel (already folded into the weights).
                h5::write_attr(pg, "idp_profile", p.idp_profile);
                h5::write_floats(pg, "idp_gamma", p.idp_gamma, {p.idp_gamma.size()});
            }
            // Chunking costs a few KiB per dataset, more than deflate saves on
            // small float arrays (which compress poorly anyway).
            if (p.binary) {
                // Version 3: the bits and the scales only; the float weights follow from them.
                h5::write_attr(pg, "binary", std::int64_t(1));
                h5::write_uint64s(pg, "bits", p.bin.bits, {std::uint64_t(p.bin.rows), std::uint64_t(p.bin.row_words)},
                                  p.bin.bits.size() >= compress_min_weights / 2);
                h5::write_floats(pg, "alpha", p.bin.alpha, {p.bin.alpha.size()});
                continue;
            }
            if (p.quant.scheme != QuantScheme::None) {
                // Version 7: the packed codes and the scales; the float weights follow from them,
                // so weights changed after quantization (learning) cannot be saved as codes.
                if (dequantize(p, src, pop.shape) != p.weights)
                    throw ModelError(file_path, p.layer, file_path + ": population '" + pop.name + "': the weights of layer '" +
                                                             p.layer + "' no longer match their quantized codes");
                h5::write_attr(pg, "quant_scheme", std::string(to_string(p.quant.scheme)));
                h5::write_attr(pg, "quant_bits", std::int64_t(p.quant.bits));
                h5::write_attr(pg, "quant_vector", std::int64_t(p.quant.vector));
                h5::write_uint64s(pg, "codes", p.quant.codes, {p.quant.codes.size()},
                                  p.quant.codes.size() >= compress_min_weights / 2);
                h5::write_floats(pg, "scale", p.quant.scale, {p.quant.scale.size()},
                                 p.quant.scale.size() >= compress_min_weights);
                continue;
            }
            const bool compress = p.weights.size() >= compress_min_weights;
            h5::write_floats(pg, "weights", p.weights, weight_dims(p, src, pop.shape), compress);
            if (p.kind == ProjectionKind::SparseDense) {
                // Version 8: the compressed sparse rows beside the synapses' values (docs/format.md).
                h5::write_ints(pg, "row_begin", p.sparse.row_begin, {p.sparse.row_begin.size()});
                h5::write_ints32(pg, "target", p.sparse.target, {p.sparse.target.size()});
            }
        }
    }
    if (!net.idp_ranges.empty()) {
        h5::write_doubles(file, "idp_ranges", net.idp_ranges, {net.idp_ranges.size()});
        h5::Node variants = h5::create_group(file, "idp_variants");
        for (std::size_t k = 0; k < net.idp_variants.size(); ++k) {
            const IdpVariant& v = net.idp_variants[k];
            h5::Node g = h5::create_group(variants, index_name(k));
            h5::write_attr(g, "profile", std::int64_t(v.profile));
            h5::write_attr(g, "population", v.population);
            h5::write_floats(g, "weights", v.weights, {v.weights.size()}, v.weights.size() >= compress_min_weights);
            h5::write_floats(g, "bias", v.bias, {v.bias.size()});
        }
    }
    if (!net.exits.empty()) {
        h5::Node exits = h5::create_group(file, "exits");
        for (std::size_t k = 0; k < net.exits.size(); ++k) {
            const Exit& e = net.exits[k];
            h5::Node g = h5::create_group(exits, index_name(k));
            h5::write_attr(g, "name", e.name);
            h5::write_attr(g, "at", e.at);
            h5::write_attr(g, "rule", std::string(to_string(e.rule)));
            h5::write_attr(g, "threshold", double(e.threshold));
            h5::write_attr(g, "check_every", std::int64_t(e.check_every));
            const std::uint64_t classes = e.bias.size();
            h5::write_floats(g, "weights", e.weights,
                             {classes ? e.weights.size() / classes : 0, classes}, e.weights.size() >= compress_min_weights);
            h5::write_floats(g, "bias", e.bias, {classes});
        }
    }
    // Closing a file does not report a failed write of cached data; a flush does.
    if (H5Fflush(file.id(), H5F_SCOPE_GLOBAL) < 0)
        throw FileError(file_path, file_path + ": cannot write (disk full?)");
}

// ---------------------------------------------------------------- reading

int to_int(std::int64_t v, const h5::Node& node, const std::string& attr) {
    if (v < INT_MIN || v > INT_MAX)
        throw FileError(node.file, node.file + ": " + node.path + ": attribute '" + attr + "' value " +
                                   std::to_string(v) + " is out of range");
    return int(v);
}

float read_float_attr(const h5::Node& node, const std::string& attr) {
    const double v = h5::read_double_attr(node, attr);
    // Converting a finite double beyond float's range is undefined behaviour.
    if (std::isfinite(v) && std::fabs(v) > double(FLT_MAX))
        throw FileError(node.file, node.file + ": " + node.path + ": attribute '" + attr + "' value " +
                                   std::to_string(v) + " does not fit a float");
    return float(v);
}

std::vector<std::int64_t> read_int_list(const h5::Node& node, const std::string& attr, std::size_t n,
                                        const char* meaning) {
    auto v = h5::read_int_list_attr(node, attr);
    if (v.size() != n)
        throw FileError(node.file, node.file + ": " + node.path + ": attribute '" + attr + "' has " +
                                   std::to_string(v.size()) + " values, expected " + std::to_string(n) + " " + meaning);
    return v;
}

// A value this build does not know (an unknown kind, model or rule) is a
// network it does not support: a ModelError naming `layer`.
template <class F>
auto parse_enum(const h5::Node& node, const std::string& attr, F from, const std::string& layer) {
    const std::string s = h5::read_string_attr(node, attr);
    try {
        return from(s);
    } catch (const Error& e) {
        throw ModelError(node.file, layer, node.file + ": " + node.path + ": " + e.what());
    }
}

// The children of `group` must be exactly index_name(0 … n−1); returns n.
std::size_t indexed_children(const h5::Node& group, const char* what) {
    const auto names = h5::child_names(group);
    std::vector<bool> seen(names.size(), false);
    for (const auto& name : names) {
        std::size_t i = 0;
        bool digits = !name.empty();
        for (char ch : name) {
            if (ch < '0' || ch > '9' || i > names.size()) {
                digits = false;
                break;
            }
            i = i * 10 + std::size_t(ch - '0');
        }
        if (!digits || i >= names.size() || index_name(i) != name || seen[i])
            throw FileError(group.file, group.file + ": " + group.path + ": unexpected member '" + name + "' (" + what +
                                        " are numbered 000, 001, … without gaps)");
        seen[i] = true;
    }
    return names.size();
}

// What pass 1 learns about a population before any array is read.
struct Layout {
    std::vector<std::uint64_t> bias_dims;
    std::vector<std::vector<std::uint64_t>> weight_dims;
};

RademacherStage read_input_stage(const h5::Node& file, const Shape& input) {
    const std::string& path = file.file;
    const std::string kind = h5::read_string_attr(file, "input_stage");
    if (kind != "rademacher")
        throw FileError(path, path + ": attribute 'input_stage' is '" + kind + "'; the one stage is 'rademacher'");
    for (const char* attr : {"input_stage_seed", "input_stage_rd", "input_stage_raw_shape"})
        if (!h5::has_attr(file, attr))
            throw FileError(path, path + ": the rademacher input stage has no attribute '" + attr + "'");
    RademacherStage st;
    st.seed = std::uint64_t(h5::read_int_attr(file, "input_stage_seed"));
    st.rd = h5::read_int_attr(file, "input_stage_rd");
    const auto raw = read_int_list(file, "input_stage_raw_shape", 3, "");
    for (std::int64_t d : raw)
        if (d < 1 || d > INT_MAX)
            throw FileError(path, path + ": attribute 'input_stage_raw_shape' has a dimension " + std::to_string(d));
    st.raw = {int(raw[0]), int(raw[1]), int(raw[2])};
    check_rademacher(st.rd, st.pixels(), path);
    if (st.rd != input.size())
        throw FileError(path, path + ": input_stage_rd " + std::to_string(st.rd) + " but the input population has " +
                                  std::to_string(input.size()) + " units");
    return st;
}

Population read_population_attrs(const h5::Node& g, Layout& layout, std::uint64_t& total_bytes) {
    Population pop;
    pop.name = h5::read_string_attr(g, "name");
    pop.kind = parse_enum(g, "kind", population_kind_from, pop.name);
    const auto shape = read_int_list(g, "shape", 3, "[h, w, c]");
    pop.shape = Shape{to_int(shape[0], g, "shape"), to_int(shape[1], g, "shape"), to_int(shape[2], g, "shape")};
    pop.neuron.model = parse_enum(g, "neuron_model", neuron_model_from, pop.name);
    pop.neuron.reset = parse_enum(g, "reset", reset_mode_from, pop.name);
    pop.neuron.v_th = read_float_attr(g, "v_th");
    pop.neuron.tau_steps = read_float_attr(g, "tau_steps");
    // Optional within format_version 1 (files written before it existed start at rest).
    pop.neuron.v_init = h5::has_attr(g, "v_init") ? read_float_attr(g, "v_init") : 0.0f;
    pop.neuron.signed_spikes = h5::has_attr(g, "signed_spikes") && h5::read_int_attr(g, "signed_spikes") != 0;
    // Optional (version 6): absent means v ≥ v_th.
    pop.neuron.strict_threshold = h5::has_attr(g, "strict_threshold") && h5::read_int_attr(g, "strict_threshold") != 0;
    // Optional (version 14): absent means no synaptic current.
    pop.neuron.tau_syn_steps = h5::has_attr(g, "tau_syn_steps") ? read_float_attr(g, "tau_syn_steps") : 0.0f;
    // Optional (version 9): absent means 32-bit float membranes; validate() refuses widths other than 16 and 32.
    if (h5::has_attr(g, "state_bits"))
        pop.neuron.state_bits = int(std::clamp<std::int64_t>(h5::read_int_attr(g, "state_bits"), -1, 1 << 20));
    pop.scale = read_float_attr(g, "scale");
    pop.layers = h5::read_string_list_attr(g, "layers");
    if (h5::has_attr(g, "inhibition")) pop.inhibition = parse_enum(g, "inhibition", inhibition_from, pop.name);
    if (h5::exists(g, "theta")) {
        const auto dims = h5::dataset_dims(g, "theta");
        if (dims.size() != 1)
            throw FileError(g.file, g.file + ": " + g.path + "/theta: expected a 1-D dataset, found shape " +
                                    dims_str(dims));
        total_bytes = saturating_add(total_bytes, saturating_mul(element_count(dims), sizeof(float)));
    }
    for (const char* name : {"clip", "bias_correction"}) {
        if (!h5::exists(g, name)) continue;
        const auto dims = h5::dataset_dims(g, name);
        if (dims.size() != 1)
            throw FileError(g.file, g.file + ": " + g.path + "/" + name + ": expected a 1-D dataset, found shape " +
                                    dims_str(dims));
        total_bytes = saturating_add(total_bytes, saturating_mul(element_count(dims), sizeof(float)));
    }

    layout.bias_dims = h5::dataset_dims(g, "bias");
    if (layout.bias_dims.size() != 1)
        throw FileError(g.file, g.file + ": " + g.path + "/bias: expected a 1-D dataset, found shape " +
                                dims_str(layout.bias_dims));
    total_bytes = saturating_add(total_bytes, saturating_mul(element_count(layout.bias_dims), sizeof(float)));

    const h5::Node projs = h5::open_group(g, "projections");
    const std::size_t n = indexed_children(projs, "projections");
    for (std::size_t j = 0; j < n; ++j) {
        const h5::Node pg = h5::open_group(projs, index_name(j));
        Projection p;
        p.source = to_int(h5::read_int_attr(pg, "source"), pg, "source");
        p.kind = parse_enum(pg, "kind", projection_kind_from, pop.name);
        p.layer = h5::read_string_attr(pg, "layer");
        const auto w = read_int_list(pg, "window", 6, "[kh, kw, sh, sw, pad_top, pad_left]");
        p.window = Window{to_int(w[0], pg, "window"), to_int(w[1], pg, "window"), to_int(w[2], pg, "window"),
                          to_int(w[3], pg, "window"), to_int(w[4], pg, "window"), to_int(w[5], pg, "window")};
        p.binary = h5::has_attr(pg, "binary") && h5::read_int_attr(pg, "binary") != 0;
        if (h5::has_attr(pg, "idp_profile")) {
            p.idp_profile = h5::read_string_attr(pg, "idp_profile");
            if (!h5::exists(pg, "idp_gamma") || h5::dataset_dims(pg, "idp_gamma").size() != 1)
                throw FileError(pg.file, pg.file + ": " + pg.path + ": an IDP profile needs a 1-D 'idp_gamma'");
        }
        if (p.binary) {
            const auto bits = h5::dataset_dims(pg, "bits"), alpha = h5::dataset_dims(pg, "alpha");
            if (bits.size() != 2 || alpha.size() != 1)
                throw FileError(pg.file, pg.file + ": " + pg.path +
                                         ": binary weights need a 2-D 'bits' (rows, words) and a 1-D 'alpha', found " +
                                         dims_str(bits) + " and " + dims_str(alpha));
            layout.weight_dims.push_back({});
            // The bits, and the float weights unpacked from them (at most 64 per word).
            const std::uint64_t words = element_count(bits);
            total_bytes = saturating_add(total_bytes, saturating_mul(words, 8 + 64 * sizeof(float)));
            total_bytes = saturating_add(total_bytes, saturating_mul(element_count(alpha), sizeof(float)));
        } else if (h5::has_attr(pg, "quant_scheme")) {
            const std::string scheme = h5::read_string_attr(pg, "quant_scheme");
            if (scheme == "int") p.quant.scheme = QuantScheme::Int;
            else if (scheme == "ternary") p.quant.scheme = QuantScheme::Ternary;
            else if (scheme == "qsq") p.quant.scheme = QuantScheme::Qsq;
            else
                throw ModelError(pg.file, pop.name, pg.file + ": " + pg.path + ": quantization scheme '" + scheme +
                                                         "' is not one this build knows (int, ternary, qsq)");
            p.quant.bits = to_int(h5::read_int_attr(pg, "quant_bits"), pg, "quant_bits");
            p.quant.vector = to_int(h5::read_int_attr(pg, "quant_vector"), pg, "quant_vector");
            const auto codes = h5::dataset_dims(pg, "codes"), scale = h5::dataset_dims(pg, "scale");
            if (codes.size() != 1 || scale.size() != 1)
                throw FileError(pg.file, pg.file + ": " + pg.path +
                                         ": quantized weights need a 1-D 'codes' and a 1-D 'scale', found " +
                                         dims_str(codes) + " and " + dims_str(scale));
            layout.weight_dims.push_back({});
            // The code words, and the float weights unpacked from them (at most 32 per word).
            total_bytes = saturating_add(total_bytes, saturating_mul(element_count(codes), 8 + 32 * sizeof(float)));
            total_bytes = saturating_add(total_bytes, saturating_mul(element_count(scale), sizeof(float)));
        } else {
            layout.weight_dims.push_back(h5::dataset_dims(pg, "weights"));
            total_bytes =
                saturating_add(total_bytes, saturating_mul(element_count(layout.weight_dims.back()), sizeof(float)));
            if (p.kind == ProjectionKind::SparseDense) {
                const auto rows = h5::dataset_dims(pg, "row_begin"), target = h5::dataset_dims(pg, "target");
                if (rows.size() != 1 || target.size() != 1)
                    throw FileError(pg.file, pg.file + ": " + pg.path +
                                             ": sparse weights need a 1-D 'row_begin' and a 1-D 'target', found " +
                                             dims_str(rows) + " and " + dims_str(target));
                // Read as int64, kept as int64 row pointers and int32 targets.
                total_bytes = saturating_add(total_bytes, saturating_mul(element_count(rows), 2 * sizeof(std::int64_t)));
                total_bytes = saturating_add(total_bytes, saturating_mul(element_count(target), 3 * sizeof(std::int32_t)));
            }
        }
        pop.projections.push_back(std::move(p));
    }
    return pop;
}

} // namespace

Network load(const std::string& path, const MemoryBudget& budget) {
    const h5::Node file = h5::open_file(path, budget);
    if (!h5::has_attr(file, "format"))
        throw FileError(path, path + ": not an snn network file (no 'format' attribute); convert a Keras model with "
                                     "`snn convert`");
    const std::string format = h5::read_string_attr(file, "format");
    if (format != network_format_name)
        throw FileError(path, path + ": not an snn network file (format '" + format + "', expected '" +
                              network_format_name + "'); convert a Keras model with `snn convert`");
    const std::int64_t version = h5::read_int_attr(file, "format_version");
    if (version > network_format_version)
        throw FileError(path, path + ": written by a newer snn (format_version " + std::to_string(version) +
                              "; this build reads up to " + std::to_string(network_format_version) + "); upgrade snn");
    if (version < 1) throw FileError(path, path + ": invalid format_version " + std::to_string(version));

    Network net;
    net.source = h5::read_string_attr(file, "source");
    net.normalization = h5::read_string_attr(file, "normalization");
    if (h5::has_attr(file, "input_layout")) {
        try {
            net.input_layout = input_layout_from(h5::read_string_attr(file, "input_layout"));
        } catch (const Error& e) {
            throw ModelError(path, "", path + ": attribute 'input_layout': " + e.what());
        }
    }
    if (h5::has_attr(file, "readout")) {
        try {
            net.readout = readout_from(h5::read_string_attr(file, "readout"));
        } catch (const Error& e) {
            throw ModelError(path, "", path + ": attribute 'readout': " + e.what());
        }
    }

    // Pass 1: every attribute and array shape, so that a file too large for
    // memory is refused before anything big is allocated.
    const h5::Node pops = h5::open_group(file, "populations");
    const std::size_t n = indexed_children(pops, "populations");
    std::vector<Layout> layouts(n);
    std::uint64_t total_bytes = 0;
    for (std::size_t i = 0; i < n; ++i)
        net.populations.push_back(read_population_attrs(h5::open_group(pops, index_name(i)), layouts[i], total_bytes));

    if (h5::has_attr(file, "devices")) net.devices = h5::read_string_list_attr(file, "devices");
    if (h5::has_attr(file, "steps")) {
        const std::int64_t steps = h5::read_int_attr(file, "steps");
        if (steps < 1 || steps > INT_MAX)
            throw FileError(path, path + ": attribute 'steps' value " + std::to_string(steps) + " is out of range");
        net.steps = int(steps);
    }
    if (h5::has_attr(file, "max_rate")) net.max_rate = read_float_attr(file, "max_rate");
    if (h5::has_attr(file, "input_stage")) net.input_stage = read_input_stage(file, net.input().shape);
    if (h5::exists(file, "labels")) {
        const auto dims = h5::dataset_dims(file, "labels");
        if (dims.size() != 1)
            throw FileError(path, path + ": labels: expected a 1-D dataset, found shape " + dims_str(dims));
        total_bytes = saturating_add(total_bytes, saturating_mul(element_count(dims), sizeof(std::int64_t)));
    }
    if (h5::exists(file, "exits")) {
        const h5::Node exits = h5::open_group(file, "exits");
        const std::size_t n_exits = indexed_children(exits, "exits");
        for (std::size_t k = 0; k < n_exits; ++k) {
            const h5::Node g = h5::open_group(exits, index_name(k));
            Exit e;
            e.name = h5::read_string_attr(g, "name");
            e.at = h5::read_string_attr(g, "at");
            e.rule = parse_enum(g, "rule", exit_rule_from, e.at);
            e.threshold = read_float_attr(g, "threshold");
            e.check_every = to_int(h5::read_int_attr(g, "check_every"), g, "check_every");
            const auto wd = h5::dataset_dims(g, "weights"), bd = h5::dataset_dims(g, "bias");
            if (wd.size() != 2 || bd.size() != 1 || wd[1] != bd[0])
                throw FileError(path, path + ": " + g.path + ": weights " + dims_str(wd) + " and bias " + dims_str(bd) +
                                      " are not (features, classes) and (classes)");
            total_bytes = saturating_add(total_bytes, saturating_mul(element_count(wd), sizeof(float)));
            net.exits.push_back(std::move(e));
        }
    }
    if (h5::exists(file, "idp_ranges")) {
        std::vector<std::uint64_t> rd;
        net.idp_ranges = h5::read_doubles(file, "idp_ranges", &rd);
        if (rd.size() != 1) throw FileError(path, path + ": idp_ranges must be 1-D");
        if (!h5::exists(file, "idp_variants")) throw FileError(path, path + ": idp_ranges without idp_variants");
        const h5::Node variants = h5::open_group(file, "idp_variants");
        const std::size_t n_variants = indexed_children(variants, "idp_variants");
        for (std::size_t k = 0; k < n_variants; ++k) {
            const h5::Node g = h5::open_group(variants, index_name(k));
            IdpVariant v;
            v.profile = to_int(h5::read_int_attr(g, "profile"), g, "profile");
            v.population = h5::read_string_attr(g, "population");
            const auto wd = h5::dataset_dims(g, "weights"), bd = h5::dataset_dims(g, "bias");
            if (wd.size() != 1 || bd.size() != 1)
                throw FileError(path, path + ": " + g.path + ": weights " + dims_str(wd) + " and bias " + dims_str(bd) +
                                      " must be 1-D");
            total_bytes = saturating_add(total_bytes, saturating_mul(element_count(wd) + bd[0], sizeof(float)));
            net.idp_variants.push_back(std::move(v));
        }
    }
    budget.check(total_bytes, path);
    for (std::size_t k = 0; k < net.idp_variants.size(); ++k) {
        const h5::Node g = h5::open_group(h5::open_group(file, "idp_variants"), index_name(k));
        net.idp_variants[k].weights = h5::read_floats(g, "weights");
        net.idp_variants[k].bias = h5::read_floats(g, "bias");
    }

    // Pass 2: the arrays.
    if (h5::exists(file, "labels")) {
        for (const std::int64_t c : h5::read_ints(file, "labels")) {
            if (c < -1 || c > INT_MAX)
                throw ModelError(path, "", path + ": label " + std::to_string(c) + " is not a class (0, 1, …) or -1");
            net.labels.push_back(std::int32_t(c));
        }
    }
    if (!net.exits.empty()) {
        const h5::Node exits = h5::open_group(file, "exits");
        for (std::size_t k = 0; k < net.exits.size(); ++k) {
            const h5::Node g = h5::open_group(exits, index_name(k));
            net.exits[k].weights = h5::read_floats(g, "weights");
            net.exits[k].bias = h5::read_floats(g, "bias");
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        Population& pop = net.populations[i];
        const h5::Node g = h5::open_group(pops, index_name(i));
        pop.bias = h5::read_floats(g, "bias");
        if (h5::exists(g, "theta")) pop.theta = h5::read_floats(g, "theta");
        if (h5::exists(g, "clip")) pop.clip = h5::read_floats(g, "clip");
        if (h5::exists(g, "bias_correction")) pop.bias_correction = h5::read_floats(g, "bias_correction");
        const h5::Node projs = h5::open_group(g, "projections");
        for (std::size_t j = 0; j < pop.projections.size(); ++j) {
            Projection& p = pop.projections[j];
            const h5::Node pg = h5::open_group(projs, index_name(j));
            if (!p.idp_profile.empty()) p.idp_gamma = h5::read_floats(pg, "idp_gamma");
            if (p.quant.scheme != QuantScheme::None) {
                p.quant.codes = h5::read_uint64s(pg, "codes", nullptr);
                p.quant.scale = h5::read_floats(pg, "scale");
                if (p.source < 0 || std::size_t(p.source) >= i)
                    throw ModelError(path, pop.name, path + ": population '" + pop.name + "': projection source " +
                                                     std::to_string(p.source) + " is not an earlier population");
                try {
                    p.weights = dequantize(p, net.populations[std::size_t(p.source)].shape, pop.shape);
                } catch (const Error& e) {
                    throw ModelError(path, p.layer, path + ": population '" + pop.name + "': layer '" + p.layer + "': " + e.what());
                }
                continue;
            }
            if (!p.binary) {
                p.weights = h5::read_floats(pg, "weights");
                if (p.kind == ProjectionKind::SparseDense) {
                    p.sparse.row_begin = h5::read_ints(pg, "row_begin");
                    for (const std::int64_t t : h5::read_ints(pg, "target")) {
                        if (t < 0 || t > INT_MAX)
                            throw ModelError(path, p.layer, path + ": population '" + pop.name + "': sparse layer '" +
                                                                p.layer + "': unit " + std::to_string(t) +
                                                                " is not a target unit index");
                        p.sparse.target.push_back(std::int32_t(t));
                    }
                }
                continue;
            }
            std::vector<std::uint64_t> dims;
            p.bin.bits = h5::read_uint64s(pg, "bits", &dims);
            p.bin.rows = std::int64_t(dims[0]);
            p.bin.row_words = std::int64_t(dims[1]);
            p.bin.alpha = h5::read_floats(pg, "alpha");
            if (p.source < 0 || std::size_t(p.source) >= i)
                throw ModelError(path, pop.name, path + ": population '" + pop.name + "': projection source " +
                                                 std::to_string(p.source) + " is not an earlier population");
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            try {
                p.bin.row_bits = binary_layout(p, src, pop.shape).row_bits;
                p.weights = unpack_binary(p, src, pop.shape);
            } catch (const Error& e) {
                throw ModelError(path, e.context.layer, path + ": population '" + pop.name + "': " + e.what());
            }
        }
    }

    try {
        validate(net);
    } catch (const Error& e) {
        throw ModelError(path, e.context.layer, path + ": " + e.what());
    }

    // validate() checked the weight counts; the stored shapes must match too,
    // or a transposed matrix of the right size would load silently.
    for (std::size_t i = 0; i < n; ++i) {
        const Population& pop = net.populations[i];
        for (std::size_t j = 0; j < pop.projections.size(); ++j) {
            const Projection& p = pop.projections[j];
            if (p.binary || p.quant.scheme != QuantScheme::None) continue; // unpacking checked the packed shape
            const auto want = weight_dims(p, net.populations[std::size_t(p.source)].shape, pop.shape);
            if (layouts[i].weight_dims[j] != want)
                throw ModelError(path, p.layer, path + ": population '" + pop.name +
                                                "': weights of projection from layer '" + p.layer + "' have shape " +
                                                dims_str(layouts[i].weight_dims[j]) + ", expected " + dims_str(want));
        }
    }
    return net;
}

void save(const Network& net, const std::string& path) {
    try {
        validate(net);
    } catch (const Error& e) {
        throw ModelError(path, e.context.layer, path + ": refusing to save an invalid network: " + e.what());
    }
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw FileError(path, path + ": cannot save: directory '" + dir.string() + "' does not exist");

    AtomicOutput out(path);
    try {
        write_network(net, out.temp_path()); // closes the file before the rename
    } catch (const Error& e) {
        throw FileError(path, path + ": cannot save: " + e.what());
    }
    out.commit();
}

} // namespace snn
