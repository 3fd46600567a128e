#pragma once
// `snn convert --quantize SPEC`: which layers are quantized, and how
// (docs/quantization.md). SPEC is a list of entries, each a scheme for every
// Dense / Conv2D / DepthwiseConv2D layer, or LAYER=SCHEME for one layer by its
// source-model name (which wins over the bare scheme). Schemes:
//   int:K[:max|l1]        K-bit symmetric codes, K = 2 … 8 (default max)
//   ternary               {−α, 0, +α}
//   qsq[:N][:levels=L]    3-bit power-of-two codes, α per N weights (default 16; 0: per output), Ø = L ∈ {1, 2, 4}
//   binary                ±α, the XNOR-Net binarization of --binarize
#include "snn/network.hpp"
#include "snn/quant.hpp"

#include <string>
#include <vector>

namespace snn {

struct QuantizeEntry {
    std::string layer; // empty: every layer not named by another entry
    bool binary = false;
    QuantSpec spec;     // when not binary
    std::string text;   // as the user wrote it
    bool operator==(const QuantizeEntry&) const = default;
};

// Parses the entries of --quantize; throws snn::OptionError naming the entry.
std::vector<QuantizeEntry> parse_quantize(const std::vector<std::string>& entries);

// The layers each entry binarizes (before normalization): their names, from
// the imported network; throws OptionError for a named layer it lacks.
std::vector<std::string> quantize_binary_layers(const Network& net, const std::vector<QuantizeEntry>& entries,
                                                const std::string& model_path);

// Quantizes the layers of the (normalized) network the non-binary entries
// name, appending what it did to `log`; throws OptionError for a named layer
// the network lacks or that cannot be quantized.
void apply_quantize(Network& net, const std::vector<QuantizeEntry>& entries, const std::string& model_path,
                    std::vector<std::string>& log);

} // namespace snn
