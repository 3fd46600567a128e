#pragma once
// ONNX importer (opsets 9–17, e.g. `torch.onnx.export`). Produces the same
// kind of Network as the Keras importer, with the model's own weights (not yet
// normalized): NCHW tensors become channels-last populations (Conv kernels
// (M, C, kh, kw) transposed to (kh, kw, C, M); the rows of a Gemm/MatMul after
// a Flatten or Reshape of an NCHW tensor permuted from (c, h, w) to (h, w, c)
// order, so the Dense weights read the population as the engine lays it out),
// BatchNormalization folded into the Conv/Gemm before it, residual Add turned
// into one projection per branch, Softmax on the output dropped.
//
// Ops: Gemm, MatMul (+ Add of a constant bias), Conv (group 1, or depthwise:
// group = input channels), BatchNormalization, Relu, Clip(0, M) (M = +inf: a ReLU;
// finite: a bounded ReLU, the population's clip), AveragePool, MaxPool,
// GlobalAveragePool, Pad (zeros, merged into the Conv or pooling after it),
// Flatten, Reshape to (N, features), Add, Softmax
// at the output, Identity and Dropout (inference: pass-through), Constant, and
// the shape arithmetic PyTorch writes for `x.view(x.size(0), -1)` (Shape,
// Gather, Unsqueeze, Concat of constants). A population is named after the
// module of the node that made it ("/conv1/Conv" → "conv1"). Anything else is
// refused with one line naming the op and the node. A Concat of activations
// is refused too: a population takes its channels from one tensor.
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <string>
#include <vector>

namespace snn {

// Throws FileError (not an ONNX model, unreadable) or ModelError (an op, an
// attribute or a shape that cannot be converted, naming the node).
Network import_onnx(const std::string& path, const MemoryBudget& budget = {});
// The same, adding to `notes` what the conversion log should tell the user
// (the input layout, a bounded ReLU).
Network import_onnx(const std::string& path, std::vector<std::string>& notes, const MemoryBudget& budget = {});

} // namespace snn
