#pragma once
// Quantized weights (QuantWeights, snn/network.hpp): the quantizers, the
// packing of codes into words, and the float weights the codes stand for.
//
// Schemes (docs/quantization.md):
//   Int      K-bit symmetric uniform codes q ∈ {−Q … Q}, Q = 2^(K−1) − 1,
//            weight = Δ·q, one step Δ per output (hybrid-network paper, eq. 1–3)
//   Ternary  codes {−1, 0, +1}, weight = α·q, threshold Δ* of the
//            quality-scalable paper's eq. 4 and α the mean |w| above it
//   Qsq      3-bit codes of the quality-scalable paper's Table II, levels
//            {0, ±1, ±2, ±4}·α, one α per vector of N weights (eq. 5–10)
#include "snn/network.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace snn {

const char* to_string(QuantScheme);

// How one scheme quantizes: the parameters of `--quantize` (convert/quantize.hpp parses them).
struct QuantSpec {
    QuantScheme scheme = QuantScheme::None;
    int bits = 8;          // Int: K, 2 … 8
    bool l1 = false;       // Int: the step of least squared error (eq. 2's rule), else max |w| / Q
    int vector = 16;       // Qsq: weights per α (0: one α per output)
    int levels = 4;        // Qsq: Ø, the largest level used: 1, 2 or 4
    bool operator==(const QuantSpec&) const = default;
};

// The level a code stands for (Int: the signed K-bit value; Ternary: the
// signed 2-bit value; Qsq: Table II, 000 → 0, 001 → 1, 010 → 2, 011 → 4,
// 100 → −1, 101 → −2, 110 → −4). Throws snn::Error for a code with no level
// (Qsq 111, the table's "no operation"; Int −2^(K−1); Ternary −2).
int quant_level(QuantScheme scheme, int bits, std::uint32_t code);
// The code of a level (the inverse of quant_level).
std::uint32_t quant_code(QuantScheme scheme, int bits, int level);

// Codes of `bits` bits packed little-endian into 64-bit words, and back.
std::vector<std::uint64_t> pack_codes(std::span<const std::uint32_t> codes, int bits);
std::vector<std::uint32_t> unpack_codes(std::span<const std::uint64_t> words, int bits, std::int64_t count);

// The number of outputs of a projection (Dense: target units; Conv2D and
// DepthwiseConv2D: target channels): weight k feeds output k mod outputs.
std::int64_t quant_outputs(const Projection& p, const Shape& dst);
// Scales a quantized projection holds: one per output, or per vector of its fan-in.
std::int64_t quant_groups(std::int64_t weights, std::int64_t outputs, int vector);
// The group of weight k.
std::int64_t quant_group(std::int64_t k, std::int64_t outputs, int vector, std::int64_t fan_in);

// Quantizes p.weights (Dense, Conv2D or DepthwiseConv2D, not binary) by
// `spec`: sets p.quant and replaces p.weights by the values the codes stand
// for. Throws snn::Error naming `where` for a kind that cannot be quantized.
void quantize(Projection& p, const Shape& dst, const QuantSpec& spec, const std::string& where);
// The float weights p.quant stands for; throws snn::Error when its codes or
// scales do not fit the layer, or a code has no level.
std::vector<float> dequantize(const Projection& p, const Shape& src, const Shape& dst);

// Bits per weight as stored: 1 binary, K / 2 / 3 quantized, 32 float.
int stored_weight_bits(const Projection& p);
// The bit width of a population whose weighted projections are all quantized
// (the widest), else 0 (float or binary weights among them, or none).
int quantized_bits(const Population& pop);

// The ternary threshold of the quality-scalable paper's eq. 4 for a set of
// magnitudes: the Δ > 0 maximizing (Σ_{|w|>Δ} |w|)² / |{|w|>Δ}|. Returned as
// the number k of largest magnitudes kept (the set |w| > Δ) and their mean α.
struct TernaryCut {
    std::int64_t kept = 0;
    float alpha = 0.0f;
};
TernaryCut ternary_cut(std::vector<float> magnitudes);

} // namespace snn
