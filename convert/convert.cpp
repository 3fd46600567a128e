#include "convert/convert.hpp"
#include "convert/layer_spec.hpp"

#include "convert/keras.hpp"
#include "convert/onnx.hpp"
#include "snn/binary.hpp"
#include "snn/error.hpp"
#include "snn/idp.hpp"

#include <algorithm>
#include <cstdio>

namespace snn {

Network convert_model(const std::string& model_path, const Dataset* calib, const ConvertOptions& options,
                      ConvertLog& log) {
    if (!options.prune.empty() && !options.binarize.empty())
        throw OptionError("prune", options.prune.front().text,
                          "--prune cannot be combined with --binarize (docs/pruning.md)");
    // Pruning then quantizing keeps the pruned weights exact zeros only for a
    // scheme that maps 0 to level 0 and whose scale the zeros do not move:
    // int:K, whose step is max|w| / Q (zeros never the max) or the least-squares
    // Σ w·q / Σ q² (a zero weight has q = 0 and adds nothing to either sum).
    // Ternary's and qsq's scales and thresholds count the zeros, binary has no 0.
    if (!options.prune.empty())
        for (const QuantizeEntry& e : options.quantize)
            if (e.binary || e.spec.scheme != QuantScheme::Int)
                throw OptionError("quantize", e.text,
                                  "--prune combines only with int:K quantization (pruned weights stay code 0); '" + e.text +
                                      "' is not int:K (docs/pruning.md)");
    const bool onnx = model_path.size() >= 5 && model_path.compare(model_path.size() - 5, 5, ".onnx") == 0;
    Network net = onnx ? import_onnx(model_path, log.lines, options.memory) : import_keras(model_path, log.lines, options.memory);
    if (!net.idp_variants.empty()) {
        // The profiles' own layers are float Dense weights; nothing below rewrites them.
        const char* what = !options.quantize.empty() ? "quantize" : !options.prune.empty() ? "prune"
                           : !options.binarize.empty()     ? "binarize"
                                                           : nullptr;
        if (what)
            throw OptionError(what, "", std::string("--") + what + ": '" + model_path + "' has " +
                                            std::to_string(net.idp_ranges.size()) +
                                            " IDP profiles (snn_idp_ranges), whose own layers cannot be " +
                                            (std::string(what) == "prune" ? "pruned" : std::string(what) + "d") + " yet");
    }
    if (options.idp_profile) {
        const std::string name = to_string(*options.idp_profile);
        if (has_idp(net)) {
            for (const Population& pop : net.populations)
                for (const Projection& p : pop.projections)
                    if (!p.idp_gamma.empty() && p.idp_profile != name)
                        throw OptionError("idp-profile", name,
                                          "idp-profile " + name + ": '" + model_path + "' was trained with the profile " +
                                              p.idp_profile + " (attribute snn_idp_profile)");
        } else {
            const std::vector<std::string> layers = attach_idp_profile(net, *options.idp_profile, "--idp-profile " + name);
            if (layers.empty())
                throw OptionError("idp-profile", name,
                                  "idp-profile " + name + ": '" + model_path + "' has no dense or conv2d layer after the first");
            std::string list;
            for (const auto& l : layers) list += (list.empty() ? "" : ", ") + l;
            log.lines.push_back("IDP profile " + name + " on " + list + " (coefficients folded into the weights)");
        }
    }
    std::vector<std::string> binary_layers = options.binarize;
    for (const std::string& name : quantize_binary_layers(net, options.quantize, model_path))
        if (std::find(binary_layers.begin(), binary_layers.end(), name) == binary_layers.end()) binary_layers.push_back(name);
    for (const std::string& name : binary_layers) {
        bool found = false;
        for (Population& pop : net.populations)
            for (Projection& p : pop.projections) {
                if (p.layer != name || (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::Conv2D)) continue;
                binarize(p, net.populations[std::size_t(p.source)].shape, pop.shape, "--binarize " + name);
                found = true;
            }
        if (!found) {
            std::string names;
            for (const Population& pop : net.populations)
                for (const Projection& p : pop.projections)
                    if (p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::Conv2D)
                        names += (names.empty() ? "" : ", ") + p.layer;
            throw OptionError("binarize", name,
                              "binarize " + name + ": '" + model_path +
                                  "' has no dense or conv2d layer of that name (it has: " + names + ")");
        }
        log.lines.push_back("binarized " + name + " (sign of the weights, alpha = mean |w| per output channel)");
    }
    if (options.no_binary) {
        if (!binary_layers.empty())
            throw OptionError("no-binary", "", "no-binary and --binarize contradict each other");
        for (Population& pop : net.populations)
            for (Projection& p : pop.projections) {
                p.binary = false;
                p.bin = {};
            }
    }
    bool binary = false;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections) binary |= p.binary;
    // Calibration data from an HDF5 file is in the model's own layout; raw
    // images for a compressive-sensing stage are projected to its measurements.
    Dataset matched;
    if (calib && (net.input_stage.present() ||
                  (net.input_layout != InputLayout::ChannelsLast && !calib->stored_dims.empty()))) {
        matched = *calib;
        match_input_layout(matched, net);
        calib = &matched;
    }
    ConvertOptions opt = options;
    if (binary && opt.channel_wise) {
        // One λ per source channel would give a binary layer's inputs different
        // weights: the layer would no longer be ±α per output.
        if (opt.channel_wise_explicit)
            throw OptionError("norm-granularity", "channel",
                              "norm-granularity channel cannot be used with binary layers (their weights must stay "
                              "±alpha per output); use --norm-granularity layer");
        opt.channel_wise = false;
        log.lines.push_back("binary layers: one scale per layer (channel-wise scales would make them non-binary)");
    }
    net = normalize_model(std::move(net), model_path, calib, opt, log);
    // Pruning ranks and removes the normalized weights; quantization comes
    // after it. A pruned Dense layer that is quantized stays dense, its pruned
    // weights 0 and so code 0: a sparse layer of codes is not built.
    if (!options.prune.empty()) {
        const auto quantized = [&](const Projection& p) {
            const QuantizeEntry* e = entry_for(options.quantize, p.layer);
            return e && !e->binary && !p.binary;
        };
        apply_prune(net, options.prune, options.prune_seed, model_path, log.lines, quantized);
        validate(net);
    }
    apply_quantize(net, options.quantize, model_path, log.lines);
    return net;
}

Network normalize_model(Network net, const std::string& model_path, const Dataset* calib, const ConvertOptions& options,
                        ConvertLog& log) {
    std::vector<float> scales;
    ChannelScales per_channel;
    std::vector<float> caps(net.populations.size(), 0.0f); // bounded ReLUs, in the model's units
    for (std::size_t i = 0; i < caps.size(); ++i)
        if (!net.populations[i].clip.empty())
            caps[i] = *std::max_element(net.populations[i].clip.begin(), net.populations[i].clip.end());
    if (options.channel_wise && (!calib || options.norm.kind == NormSpec::Kind::Model))
        throw OptionError("norm-granularity", "channel",
                          "norm-granularity channel needs data-based normalization (--calib with --norm max or "
                          "percentile:P)");
    if (calib) {
        if (calib->shape.size() != net.input().shape.size())
            throw DataError(calib->name, "calibration data '" + calib->name + "' has samples of shape " +
                                             calib->shape.str() + " but the model '" + model_path + "' expects " +
                                             net.input().shape.str());
        if (calib->size() == 0) throw DataError(calib->name, "calibration data '" + calib->name + "' is empty");
        if (options.norm.kind == NormSpec::Kind::Model) {
            scales = model_based_scales(net);
            net.normalization = "model-based (Diehl et al. 2015)";
        } else if (options.channel_wise) {
            per_channel = channel_scales(net, calib->x.data(), calib->size(), options.norm, options.threads);
            net.normalization = "data-based channel-wise " + options.norm.str() + " on " +
                                std::to_string(calib->size()) + " samples of " + calib->name +
                                " (Rueckauer et al. 2017, Kim et al. 2020)";
        } else {
            scales = data_based_scales(net, calib->x.data(), calib->size(), options.norm, options.threads);
            net.normalization = "data-based " + options.norm.str() + " on " + std::to_string(calib->size()) +
                                " samples of " + calib->name + " (Rueckauer et al. 2017)";
        }
    } else {
        scales = model_based_scales(net);
        net.normalization = "model-based (Diehl et al. 2015), no calibration data";
        log.lines.push_back("no --calib data: using model-based normalization (the largest input each layer can "
                            "receive); data-based normalization with --calib is usually far more accurate");
    }
    // Several IDP profiles: each profile's own layers change what the populations after them
    // see, so every λ is the largest any profile needs, each measured at the top of its range
    // (the last profile's at 100 %, above), channel by channel for the channels it computes there.
    for (std::size_t k = 0; k + 1 < net.idp_ranges.size(); ++k) {
        IdpSetting top;
        top.percent = net.idp_ranges[k];
        const Network at = apply_idp(net, top);
        if (!per_channel.empty()) {
            const ChannelScales other = channel_scales(at, calib->x.data(), calib->size(), options.norm, options.threads);
            for (std::size_t i = 0; i < other.size(); ++i)
                for (std::size_t c = 0; c < other[i].size() && c < per_channel[i].size(); ++c)
                    per_channel[i][c] = std::max(per_channel[i][c], other[i][c]);
        } else {
            const std::vector<float> other = calib && options.norm.kind != NormSpec::Kind::Model
                                                 ? data_based_scales(at, calib->x.data(), calib->size(), options.norm,
                                                                     options.threads)
                                                 : model_based_scales(at);
            for (std::size_t i = 0; i < other.size(); ++i) scales[i] = std::max(scales[i], other[i]);
        }
    }
    const auto scale = [&](Network& n) {
        if (per_channel.empty()) apply_scales(n, scales);
        else apply_scales(n, per_channel);
    };
    // Several IDP profiles share the λ found on the network's own (last) profile at 100 %:
    // the other profiles' own weights and biases are scaled with them.
    for (std::size_t k = 0; k + 1 < net.idp_ranges.size(); ++k) {
        Network other = with_idp_profile(net, int(k));
        scale(other);
        take_idp_variants(net, other, int(k));
    }
    scale(net);
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        Population& pop = net.populations[i];
        if (pop.kind != PopulationKind::Spiking) continue;
        pop.neuron = options.neuron;
        char buf[160];
        std::snprintf(buf, sizeof buf, per_channel.empty() ? "%-24s lambda = %.6g" : "%-24s lambda ≤ %.6g",
                      pop.name.c_str(), double(pop.scale));
        std::string line = buf;
        if (caps[i] > 0) {
            std::snprintf(buf, sizeof buf, " (bounded ReLU: cap %.6g, lambda <= cap)", double(caps[i]));
            line += buf;
        }
        log.lines.push_back(line);
    }
    validate(net);
    return net;
}

} // namespace snn
