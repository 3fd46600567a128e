#include "convert/quantize.hpp"
#include "convert/layer_spec.hpp"

#include "snn/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace snn {

namespace {

bool quantizable(const Projection& p) {
    return p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::Conv2D || p.kind == ProjectionKind::DepthwiseConv2D;
}

int parse_int(const std::string& s, const std::string& entry, const char* what) {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
        throw OptionError("quantize", entry, "quantize '" + entry + "': " + what + " '" + s + "' is not a whole number");
    return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

const char* usage = "expected int:K[:max|l1] (K = 2 to 8), ternary, qsq[:N][:levels=1|2|4] or binary, optionally as LAYER=SCHEME";

QuantizeEntry parse_entry(const std::string& text) {
    QuantizeEntry e;
    e.text = text;
    std::string scheme = text;
    if (const auto eq = text.find('='); eq != std::string::npos && text.compare(0, 4, "qsq:") != 0) {
        e.layer = text.substr(0, eq);
        scheme = text.substr(eq + 1);
        if (e.layer.empty()) throw OptionError("quantize", text, "quantize '" + text + "': the layer name is empty");
    }
    const std::vector<std::string> part = split(scheme, ':');
    if (part[0] == "binary" && part.size() == 1) {
        e.binary = true;
    } else if (part[0] == "int" && (part.size() == 2 || part.size() == 3)) {
        e.spec.scheme = QuantScheme::Int;
        e.spec.bits = parse_int(part[1], text, "the bit width");
        if (e.spec.bits < 2 || e.spec.bits > 8)
            throw OptionError("quantize", text, "quantize '" + text + "': int:K takes K from 2 to 8 (binary is 1 bit)");
        if (part.size() == 3) {
            if (part[2] != "max" && part[2] != "l1")
                throw OptionError("quantize", text, "quantize '" + text + "': the scale rule '" + part[2] + "' is not max or l1");
            e.spec.l1 = part[2] == "l1";
        }
    } else if (part[0] == "ternary" && part.size() == 1) {
        e.spec.scheme = QuantScheme::Ternary;
    } else if (part[0] == "qsq" && part.size() <= 3) {
        e.spec.scheme = QuantScheme::Qsq;
        for (std::size_t i = 1; i < part.size(); ++i) {
            if (part[i].rfind("levels=", 0) == 0) {
                e.spec.levels = parse_int(part[i].substr(7), text, "the level count");
                if (e.spec.levels != 1 && e.spec.levels != 2 && e.spec.levels != 4)
                    throw OptionError("quantize", text, "quantize '" + text + "': levels must be 1, 2 or 4 (the largest code)");
            } else if (i == 1) {
                e.spec.vector = parse_int(part[i], text, "the vector length");
                if (e.spec.vector < 0)
                    throw OptionError("quantize", text, "quantize '" + text + "': the vector length must be 0 (per output) or positive");
            } else {
                throw OptionError("quantize", text, "quantize '" + text + "': '" + part[i] + "' is not levels=L");
            }
        }
    } else {
        throw OptionError("quantize", text, "quantize '" + text + "': " + usage);
    }
    return e;
}

void check_named(const Network& net, const std::vector<QuantizeEntry>& entries, const std::string& model_path) {
    for (const QuantizeEntry& e : entries) {
        if (e.layer.empty()) continue;
        bool found = false;
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections) found |= quantizable(p) && p.layer == e.layer;
        if (!found)
            throw OptionError("quantize", e.text,
                              "quantize " + e.text + ": '" + model_path + "' has no dense or convolution layer '" + e.layer +
                                  "' (it has: " + layer_names(net, quantizable) + ")");
    }
}

} // namespace

std::vector<QuantizeEntry> parse_quantize(const std::vector<std::string>& texts) {
    std::vector<QuantizeEntry> entries;
    bool bare = false;
    for (const std::string& t : texts) {
        QuantizeEntry e = parse_entry(t);
        for (const QuantizeEntry& other : entries)
            if (other.layer == e.layer && !e.layer.empty())
                throw OptionError("quantize", t, "quantize: layer '" + e.layer + "' is given twice");
        if (e.layer.empty()) {
            if (bare) throw OptionError("quantize", t, "quantize: more than one scheme for every layer ('" + t + "')");
            bare = true;
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

std::vector<std::string> quantize_binary_layers(const Network& net, const std::vector<QuantizeEntry>& entries,
                                                const std::string& model_path) {
    check_named(net, entries, model_path);
    std::vector<std::string> layers;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) {
            if (p.binary || (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::Conv2D)) continue;
            const QuantizeEntry* e = entry_for(entries, p.layer);
            if (e && e->binary && std::find(layers.begin(), layers.end(), p.layer) == layers.end()) layers.push_back(p.layer);
        }
    for (const QuantizeEntry& e : entries)
        if (e.binary && !e.layer.empty() && std::find(layers.begin(), layers.end(), e.layer) == layers.end())
            throw OptionError("quantize", e.text, "quantize " + e.text + ": binary applies to dense and conv2d layers only");
    return layers;
}

void apply_quantize(Network& net, const std::vector<QuantizeEntry>& entries, const std::string& model_path,
                    std::vector<std::string>& log) {
    check_named(net, entries, model_path);
    for (Population& pop : net.populations)
        for (Projection& p : pop.projections) {
            if (!quantizable(p) || p.binary) continue;
            const QuantizeEntry* e = entry_for(entries, p.layer);
            if (!e || e->binary) continue;
            try {
                quantize(p, pop.shape, e->spec, "quantize " + e->text);
            } catch (const OptionError&) {
                throw;
            } catch (const Error& err) {
                throw OptionError("quantize", e->text, std::string(err.what()) + " (layer '" + p.layer + "')");
            }
            char line[200];
            const std::int64_t n = std::int64_t(p.weights.size());
            std::snprintf(line, sizeof line, "quantized %s: %s, %d bits per weight, %zu scales (%lld weights)",
                          p.layer.c_str(), e->text.substr(e->layer.empty() ? 0 : e->layer.size() + 1).c_str(),
                          p.quant.bits, p.quant.scale.size(), static_cast<long long>(n));
            log.push_back(line);
        }
}

} // namespace snn
