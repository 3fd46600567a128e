#pragma once
// Binary weights: packing a projection's ±α weights into bits (BinaryWeights,
// snn/network.hpp) and back.
//
// A projection is binary when every weight feeding output unit j (Dense) or
// output channel j (Conv2D) is +α_j or −α_j. Import marks such layers (Larq's
// QuantDense / QuantConv2D, or `snn convert --binarize`), conversion keeps the
// float weights ±α_j through BatchNorm folding and normalization (both scale
// whole output channels), and pack_binary() derives the bits from them.
#include "snn/network.hpp"

#include <cstdint>

namespace snn {

// Words of 64 bits needed for n inputs.
constexpr std::int64_t words_for(std::int64_t n) { return (n + 63) / 64; }

// The packed shape of a Dense or Conv2D projection between src and dst:
// rows, bits per row, words per row, scales (alpha values).
struct BinaryLayout {
    std::int64_t rows = 0, row_bits = 0, row_words = 0, outputs = 0;
};
BinaryLayout binary_layout(const Projection& p, const Shape& src, const Shape& dst);

// Sets p.bin from p.weights. Every weight feeding output j must be ±α_j for
// one α_j ≥ 0 (+0 and −0 both count as 0 when α_j = 0). Throws snn::Error
// naming `where` and the first output that is not binary.
void pack_binary(Projection& p, const Shape& src, const Shape& dst, const std::string& where);
// pack_binary() for every binary projection of the network.
void pack_binary(Network& net);

// The float weights (in the projection's usual layout) that p.bin stands for;
// throws snn::Error if p.bin's shape does not fit the layer.
std::vector<float> unpack_binary(const Projection& p, const Shape& src, const Shape& dst);

// XNOR-Net binarization (Rastegari et al. 2016) of a float Dense or Conv2D
// projection: each output's weights become sign(w)·α_j, α_j = mean |w| over
// the weights feeding output j, sign(0) = +1; then packs them and marks the
// projection binary.
void binarize(Projection& p, const Shape& src, const Shape& dst, const std::string& where);

// Bytes the file stores for a projection's weights: bits and α for a binary
// one, 4 per float weight otherwise.
std::int64_t weight_bytes(const Projection& p);

} // namespace snn
