#pragma once
// The whole conversion: import a trained DNN, normalize it on calibration
// data (or from its weights), and set the neuron model of every population.
#include "convert/normalize.hpp"
#include "convert/prune.hpp"
#include "convert/quantize.hpp"
#include "snn/dataset.hpp"
#include "snn/idp.hpp"
#include "snn/network.hpp"

#include <optional>
#include <string>
#include <vector>

namespace snn {

// How to convert: normalization, neuron model, binary layers (the flags of `snn convert`).
struct ConvertOptions {
    NormSpec norm;         // ignored (model-based) when no calibration data is given
    bool channel_wise = false; // one λ per channel (data-based only)
    // channel_wise was asked for explicitly: refused for a network with binary
    // layers instead of falling back to one λ per layer.
    bool channel_wise_explicit = false;
    // Layers (Dense or Conv2D, by source-model name) made binary the XNOR-Net
    // way after import: sign of the weights, α = mean |w| per output channel.
    std::vector<std::string> binarize;
    // Binary layers of the model become float layers holding the same ±α
    // weights (the float network of the same shape and function, to compare).
    bool no_binary = false;
    // --quantize: binary entries join `binarize` (before normalization), the
    // others quantize the normalized weights (convert/quantize.hpp).
    std::vector<QuantizeEntry> quantize;
    // --prune: connectivity pruning of the normalized weights (convert/prune.hpp),
    // the random draws keyed by prune_seed. Combined with int:K quantization
    // only (a pruned Dense layer it quantizes stays dense, its pruned weights
    // code 0); other schemes and binary layers made here are refused with
    // OptionError.
    std::vector<PruneEntry> prune;
    std::uint64_t prune_seed = 1;
    // --idp-profile: the profile the model was trained with, attached to every
    // Dense and Conv2D projection but those from the input, γ folded into
    // their weights (snn/idp.hpp). A model that records its own (Keras root
    // attribute snn_idp_profile) must name the same one.
    std::optional<IdpProfile> idp_profile;
    NeuronParams neuron;   // applied to every spiking population
    int threads = 1;
    MemoryBudget memory;   // what the model's arrays may take
};

struct ConvertLog {
    std::vector<std::string> lines; // what was done, in words, for the user
};

// calib may be null: model-based normalization is used then, and the log says so.
Network convert_model(const std::string& model_path, const Dataset* calib, const ConvertOptions& options,
                      ConvertLog& log);
// The normalization half of convert_model, for a network already imported (and binarized).
Network normalize_model(Network net, const std::string& model_path, const Dataset* calib, const ConvertOptions& options,
                        ConvertLog& log);

} // namespace snn
