#include "snn/idp.hpp"

#include "snn/error.hpp"
#include "snn/quant.hpp"
#include "snn/sparse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace snn {

IdpProfile idp_profile_from(const std::string& name, const std::string& option) {
    if (name == "all-one") return IdpProfile::AllOne;
    if (name == "harmonic") return IdpProfile::Harmonic;
    if (name == "linear") return IdpProfile::Linear;
    if (name == "half-exp") return IdpProfile::HalfExp;
    throw OptionError(option, name, option + " '" + name + "': expected all-one, harmonic, linear or half-exp");
}

const char* to_string(IdpProfile p) {
    switch (p) {
    case IdpProfile::AllOne: return "all-one";
    case IdpProfile::Harmonic: return "harmonic";
    case IdpProfile::Linear: return "linear";
    case IdpProfile::HalfExp: return "half-exp";
    }
    throw InternalError("unknown IDP profile");
}

std::vector<float> idp_coefficients(IdpProfile profile, int n) {
    std::vector<float> g(std::size_t(std::max(n, 0)));
    for (int i = 1; i <= n; ++i) {
        double v = 1;
        switch (profile) {
        case IdpProfile::AllOne: v = 1; break;
        case IdpProfile::Harmonic: v = 1.0 / i; break;
        case IdpProfile::Linear: v = 1.0 - double(i) / n; break;
        case IdpProfile::HalfExp: v = i < n / 2.0 ? 1.0 : std::exp(n / 2.0 - i - 1); break;
        }
        g[std::size_t(i - 1)] = float(v);
    }
    return g;
}

bool idp_eligible(const Projection& p) {
    return p.source > 0 && (p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::Conv2D);
}

bool has_idp(const Network& net) {
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections)
            if (!p.idp_gamma.empty()) return true;
    return false;
}

std::vector<std::string> idp_layers(const Network& net) {
    std::vector<std::string> names;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections)
            if (!p.idp_gamma.empty()) names.push_back(p.layer);
    return names;
}

namespace {

std::string join(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? "none" : s;
}

std::string num(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return b;
}

// Calls f(source unit, target unit, weight index) for every weight of a
// Dense or Conv2D projection, in stored order, with the units' channels.
// Dense: (in, out), in = source units; Conv2D: (kh, kw, cin, cout).
template <class F> void for_each_weight_channel(const Projection& p, const Shape& src, const Shape& dst, F&& f) {
    if (p.kind == ProjectionKind::Dense) {
        const std::int64_t in = src.size(), out = dst.size();
        for (std::int64_t u = 0; u < in; ++u)
            for (std::int64_t j = 0; j < out; ++j) f(int(u % src.c), int(j % dst.c), u * out + j);
    } else {
        std::int64_t k = 0;
        for (int t = 0; t < p.window.kh * p.window.kw; ++t)
            for (int ci = 0; ci < src.c; ++ci)
                for (int co = 0; co < dst.c; ++co) f(ci, co, k++);
    }
}

} // namespace

int idp_profile_for(const Network& net, double percent) {
    for (std::size_t k = 0; k < net.idp_ranges.size(); ++k)
        if (percent <= net.idp_ranges[k] + 1e-9) return int(k);
    return net.idp_ranges.empty() ? 0 : int(net.idp_ranges.size()) - 1;
}

std::vector<double> idp_profile_range(const Network& net, double percent) {
    if (net.idp_ranges.empty()) return {};
    const int k = idp_profile_for(net, percent);
    return {k == 0 ? 0.0 : net.idp_ranges[std::size_t(k) - 1], net.idp_ranges[std::size_t(k)]};
}

Network with_idp_profile(const Network& net, int profile) {
    Network out = net;
    out.idp_ranges.clear();
    out.idp_variants.clear();
    for (const IdpVariant& v : net.idp_variants) {
        if (v.profile != profile) continue;
        const int i = net.find(v.population);
        if (i < 0) throw InternalError("IDP variant of unknown population '" + v.population + "'");
        Population& pop = out.populations[std::size_t(i)];
        pop.projections.at(0).weights = v.weights;
        pop.bias = v.bias;
    }
    return out;
}

void take_idp_variants(Network& net, const Network& profiled, int profile) {
    for (IdpVariant& v : net.idp_variants) {
        if (v.profile != profile) continue;
        const Population& pop = profiled.populations.at(std::size_t(profiled.find(v.population)));
        v.weights = pop.projections.at(0).weights;
        v.bias = pop.bias;
    }
}

std::vector<std::string> attach_idp_profile(Network& net, IdpProfile profile, const std::string& what) {
    if (!net.idp_variants.empty()) {
        // Every profile's weights take γ: fold the others' on a copy that holds them, then keep them.
        const Network before = net;
        net.idp_variants.clear();
        std::vector<std::string> names = attach_idp_profile(net, profile, what);
        net.idp_variants = before.idp_variants;
        for (std::size_t k = 0; k + 1 < before.idp_ranges.size(); ++k) {
            Network other = with_idp_profile(before, int(k));
            attach_idp_profile(other, profile, what);
            take_idp_variants(net, other, int(k));
        }
        return names;
    }
    std::vector<std::string> names;
    for (Population& pop : net.populations)
        for (Projection& p : pop.projections) {
            if (!idp_eligible(p)) continue;
            if (!p.idp_gamma.empty())
                throw ModelError("", p.layer, what + ": layer '" + p.layer + "' already has the IDP profile " + p.idp_profile);
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            std::vector<float> g = idp_coefficients(profile, src.c);
            if (profile != IdpProfile::AllOne) {
                if (p.binary || p.quant.scheme != QuantScheme::None || p.kind == ProjectionKind::SparseDense)
                    throw ModelError("", p.layer, what + ": layer '" + p.layer +
                                                      "' has binary or quantized weights, which cannot take the profile's coefficients");
                for_each_weight_channel(p, src, pop.shape, [&](int ci, int, std::int64_t k) { p.weights[std::size_t(k)] *= g[std::size_t(ci)]; });
            }
            p.idp_profile = to_string(profile);
            p.idp_gamma = std::move(g);
            names.push_back(p.layer);
        }
    return names;
}

std::string IdpSetting::str() const {
    std::string s;
    if (layers.empty() || percent != 100) s = num(percent);
    for (const auto& [name, p] : layers) s += (s.empty() ? "" : ",") + name + "=" + num(p);
    return s;
}

namespace {

double parse_percent(const std::string& text, const std::string& spec) {
    char* end = nullptr;
    const double p = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(p) || !(p > 0 && p <= 100))
        throw OptionError("idp", spec,
                          "idp '" + spec + "': '" + text + "' is not a percentage in (0, 100] (expected P or LAYER=P,...)");
    return p;
}

} // namespace

IdpSetting parse_idp(const std::string& spec) {
    IdpSetting s;
    if (spec.empty()) throw OptionError("idp", spec, "idp: expected P (0 < P ≤ 100) or LAYER=P,...");
    bool bare = false;
    std::size_t at = 0;
    while (true) {
        const std::size_t comma = spec.find(',', at);
        const std::string part = spec.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        const std::size_t eq = part.find('=');
        if (eq == std::string::npos) {
            if (bare) throw OptionError("idp", spec, "idp '" + spec + "': more than one percentage for every layer");
            s.percent = parse_percent(part, spec);
            bare = true;
        } else {
            const std::string name = part.substr(0, eq);
            if (name.empty()) throw OptionError("idp", spec, "idp '" + spec + "': '" + part + "' names no layer");
            for (const auto& l : s.layers)
                if (l.first == name) throw OptionError("idp", spec, "idp '" + spec + "': layer '" + name + "' given twice");
            s.layers.emplace_back(name, parse_percent(part.substr(eq + 1), spec));
        }
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return s;
}

int idp_channels(double percent, int n) {
    // P·n is exact for whole P and n below 2^53; /100 of a multiple of 100 is exact too.
    return std::clamp(int(std::ceil(percent * n / 100.0)), 1, std::max(n, 1));
}

double idp_percent(const IdpSetting& s, const Population& pop, const Projection& p) {
    for (const auto& [name, percent] : s.layers)
        if (name == p.layer || name == pop.name) return percent;
    return s.percent;
}

Network apply_idp(const Network& with_profiles, const IdpSetting& setting) {
    // Several profiles: the one the setting's percentage selects brings its own weights.
    std::optional<Network> selected;
    if (!with_profiles.idp_ranges.empty())
        selected = with_idp_profile(with_profiles, idp_profile_for(with_profiles, setting.percent));
    const Network& net = selected ? *selected : with_profiles;
    const std::vector<std::string> idp = idp_layers(net);
    if (idp.empty())
        throw OptionError("idp", setting.str(),
                          "idp " + setting.str() + ": the network has no IDP layer (convert it with --idp-profile NAME)");
    for (const auto& [name, percent] : setting.layers) {
        bool found = false;
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections)
                found |= !p.idp_gamma.empty() && (p.layer == name || pop.name == name);
        if (!found)
            throw OptionError("idp", setting.str(),
                              "idp " + setting.str() + ": '" + name + "' is not an IDP layer of the network (IDP layers: " +
                                  join(idp) + ")");
    }
    const std::size_t n = net.populations.size();
    // Channels each population keeps, decided from its readers, which all come
    // after it: walking the list backwards decides every reader first.
    std::vector<int> keep(n, -1), need(n, -1);
    std::vector<std::string> needed_by(n);
    std::vector<std::uint8_t> has_exit(n, 0);
    for (const Exit& e : net.exits)
        if (const int i = net.find(e.at); i >= 0) has_exit[std::size_t(i)] = 1;
    for (std::size_t i = n; i-- > 1;) {
        const Population& pop = net.populations[i];
        const int full = pop.shape.c;
        // The output produces every class; an exit reads every unit of its population.
        if (need[i] >= 0 && need[i] != full && (i + 1 == n || has_exit[i]))
            throw OptionError("idp", setting.str(),
                              "idp " + setting.str() + ": '" + needed_by[i] + "' would read only " +
                                  std::to_string(need[i]) + " channels of '" + pop.name +
                                  "', which is the output or has an exit and keeps all " + std::to_string(full));
        keep[i] = need[i] < 0 ? full : need[i];
        for (const Projection& p : pop.projections) {
            const std::size_t s = std::size_t(p.source);
            const int cs = net.populations[s].shape.c;
            int want = cs;
            if (!p.idp_gamma.empty()) {
                want = idp_channels(idp_percent(setting, pop, p), cs);
            } else if (p.kind == ProjectionKind::AvgPool || p.kind == ProjectionKind::MaxPool ||
                       p.kind == ProjectionKind::Identity || p.kind == ProjectionKind::Upsample2D ||
                       (p.kind == ProjectionKind::DepthwiseConv2D && pop.shape.c == cs)) {
                want = keep[i]; // channel c of the source for channel c
            }
            if (s == 0) {
                // The input is read whole: the first layer reads every pixel.
                if (want != cs && p.idp_gamma.empty())
                    throw OptionError("idp", setting.str(),
                                      "idp " + setting.str() + ": population '" + pop.name +
                                          "' pools the input channel by channel; IDP cannot drop its channels");
                continue;
            }
            if (need[s] >= 0 && need[s] != want)
                throw OptionError("idp", setting.str(),
                                  "idp " + setting.str() + ": population '" + net.populations[s].name + "' is read by '" +
                                      needed_by[s] + "' (" + std::to_string(need[s]) + " channels) and by '" + p.layer +
                                      "' (" + std::to_string(want) + "); every reader of a population must keep the same channels");
            need[s] = want;
            needed_by[s] = p.layer;
        }
    }
    keep[0] = net.populations[0].shape.c;

    Network out = net;
    for (std::size_t i = 1; i < n; ++i) {
        const Population& old = net.populations[i];
        Population& pop = out.populations[i];
        const int k = keep[i], c = old.shape.c;
        pop.shape.c = k;
        if (k != c) {
            const auto by_channel = [&](const std::vector<float>& v, int per) {
                // v holds `per` values per channel (units: per = 1 per unit, in unit order).
                std::vector<float> r;
                for (std::size_t u = 0; u < v.size(); ++u)
                    if (int((u / std::size_t(per)) % std::size_t(c)) < k) r.push_back(v[u]);
                return r;
            };
            if (!pop.bias.empty()) pop.bias = by_channel(old.bias, 1);
            if (!pop.bias_correction.empty()) pop.bias_correction = by_channel(old.bias_correction, 1);
            if (!pop.clip.empty()) pop.clip = by_channel(old.clip, 1);
            if (!pop.theta.empty()) pop.theta = by_channel(old.theta, 1);
        }
        for (std::size_t j = 0; j < old.projections.size(); ++j) {
            const Projection& po = old.projections[j];
            Projection& p = pop.projections[j];
            const Shape& src = net.populations[std::size_t(po.source)].shape;
            const int ks = keep[std::size_t(po.source)];
            // An IDP projection from the input reads all of it, so it keeps every γ.
            if (ks == src.c && k == c) continue;
            if (po.binary)
                throw OptionError("idp", setting.str(),
                                  "idp " + setting.str() + ": layer '" + po.layer +
                                      "' has binary weights; IDP cannot drop their channels yet");
            if (po.quant.scheme != QuantScheme::None && po.quant.vector != 0 && ks != src.c)
                throw OptionError("idp", setting.str(),
                                  "idp " + setting.str() + ": layer '" + po.layer + "' has one scale per " +
                                      std::to_string(po.quant.vector) +
                                      " weights of its fan-in, which dropping input channels would misalign");
            if (po.kind == ProjectionKind::SparseDense) {
                // The kept rows and columns of the (in, out) matrix, compressed again:
                // the same synapses as the dense reference with the same zeros.
                const Projection dense = densify(po, src, old.shape);
                Projection marks = po;
                std::fill(marks.weights.begin(), marks.weights.end(), 1.0f);
                const Projection stored = densify(marks, src, old.shape);
                Projection sliced = dense;
                sliced.weights.clear();
                std::vector<std::uint8_t> kept;
                for_each_weight_channel(dense, src, old.shape, [&](int ci, int co, std::int64_t q) {
                    if (ci >= ks || co >= k) return;
                    sliced.weights.push_back(dense.weights[std::size_t(q)]);
                    kept.push_back(stored.weights[std::size_t(q)] != 0.0f);
                });
                Shape s2 = src, d2 = old.shape;
                s2.c = ks;
                d2.c = k;
                p = sparsify(sliced, s2, d2, kept);
                if (!p.idp_gamma.empty()) p.idp_gamma.resize(std::size_t(ks));
                continue;
            }
            // The weights kept, by their index in the stored order (a quantized
            // layer's codes are stored in the same order).
            std::vector<std::int64_t> picked;
            switch (po.kind) {
            case ProjectionKind::Dense:
            case ProjectionKind::Conv2D:
                for_each_weight_channel(po, src, old.shape, [&](int ci, int co, std::int64_t q) {
                    if (ci < ks && co < k) picked.push_back(q);
                });
                break;
            case ProjectionKind::DepthwiseConv2D: // (kh, kw, c), one kernel per channel here
                for (std::size_t q = 0; q < po.weights.size(); ++q)
                    if (int(q % std::size_t(c)) < k) picked.push_back(std::int64_t(q));
                break;
            default: break;
            }
            std::vector<float> w;
            switch (po.kind) {
            case ProjectionKind::Dense:
            case ProjectionKind::Conv2D:
            case ProjectionKind::DepthwiseConv2D:
                for (std::int64_t q : picked) w.push_back(po.weights[std::size_t(q)]);
                if (po.quant.scheme != QuantScheme::None) {
                    // Codes as the weights; one scale per output (vector 0) or per
                    // vector of a fan-in that keeps every input channel.
                    const std::vector<std::uint32_t> codes =
                        unpack_codes(po.quant.codes, po.quant.bits, std::int64_t(po.weights.size()));
                    std::vector<std::uint32_t> kept_codes;
                    for (std::int64_t q : picked) kept_codes.push_back(codes[std::size_t(q)]);
                    p.quant.codes = pack_codes(kept_codes, po.quant.bits);
                    const std::int64_t outputs = quant_outputs(po, old.shape);
                    const std::int64_t fan_in = std::int64_t(po.weights.size()) / std::max<std::int64_t>(outputs, 1);
                    std::vector<std::uint8_t> group_kept(po.quant.scale.size(), 0);
                    for (std::int64_t q : picked)
                        group_kept[std::size_t(quant_group(q, outputs, po.quant.vector, fan_in))] = 1;
                    p.quant.scale.clear();
                    for (std::size_t g = 0; g < group_kept.size(); ++g)
                        if (group_kept[g]) p.quant.scale.push_back(po.quant.scale[g]);
                }
                break;
            case ProjectionKind::AvgPool:
            case ProjectionKind::Identity:
            case ProjectionKind::Upsample2D: // one weight per channel
                w.assign(po.weights.begin(), po.weights.begin() + std::min<std::ptrdiff_t>(k, std::ptrdiff_t(po.weights.size())));
                break;
            case ProjectionKind::MaxPool: w = po.weights; break;
            default:
                throw OptionError("idp", setting.str(),
                                  "idp " + setting.str() + ": layer '" + po.layer + "' (" + to_string(po.kind) +
                                      ") cannot drop channels");
            }
            p.weights = std::move(w);
            if (!p.idp_gamma.empty()) p.idp_gamma.resize(std::size_t(ks));
        }
    }
    validate(out);
    return out;
}

} // namespace snn
