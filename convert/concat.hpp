#pragma once
// Concatenation along the channel axis, shared by the importers (Keras
// Concatenate, ONNX Concat). It has no population of its own: a population's
// input is the sum of its projections, so the layer that reads a
// concatenation takes one projection from each concatenated population (a
// part), carrying the slice of its kernel for that part's channels
// (docs/conversion.md, "How layers become populations").
#include "snn/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace snn {

struct ConcatPart {
    int population; // the part's population
    int channels;   // its channels in the concatenation (a flattened part: its units)
};

// The rows [off, off + n) of the middle axis of a (taps, C, O) kernel: the
// part of a convolution's kernel that reads channels [off, off + n).
std::vector<float> channel_slice(const std::vector<float>& kernel, std::size_t taps, std::size_t C, std::size_t off,
                                 std::size_t n, std::size_t O);

// A convolution with kernel (taps, C, O) over the concatenation: one
// projection of `kind` per part, the same window for all, each with the
// kernel rows of its channels. Appended to `out`.
void add_conv_parts(std::vector<Projection>& out, const std::vector<ConcatPart>& parts, ProjectionKind kind,
                    const Window& win, const std::vector<float>& kernel, std::size_t taps, std::size_t O,
                    const std::string& layer, bool binary = false);

// A Dense layer with kernel (rows, U) over the flattened concatenation of
// `hw` pixels: unit (yx, c) of a part is the concatenation's channel off + c
// at pixel yx, whose kernel row is yx·C + off + c after a channels-last
// flattening, or (off + c)·hw + yx after a (C, H, W) one (Keras
// channels_first without permutation, ONNX's NCHW). One Dense projection per
// part, appended to `out`.
void add_dense_parts(std::vector<Projection>& out, const std::vector<ConcatPart>& parts, std::size_t hw, bool chw,
                     const std::vector<float>& kernel, std::size_t U, const std::string& layer, bool binary = false);

} // namespace snn
