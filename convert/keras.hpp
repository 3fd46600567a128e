#pragma once
// Keras legacy HDF5 importer (Keras 2.x `model.save("x.h5")`, and the Keras 3
// legacy `.h5` variant). Produces a Network with the model's own weights
// (not yet normalized): BatchNormalization folded into the layer before it,
// Dropout dropped, Flatten turned into a view, residual Add layers turned into
// populations with one projection per branch, softmax on the output dropped
// (the argmax is kept). Hidden populations stand for ReLU units; the last
// population is the linear output layer.
//
// Files as they are found: data_format channels_first models are converted to
// channels-last (Network::input_layout remembers the model's own layout);
// backend theano Conv2D kernels are flipped as Keras flips them on load;
// ReLU(max_value=M) and relu6 become populations with a clip of M.
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <string>
#include <vector>

namespace snn {

Network import_keras(const std::string& path, const MemoryBudget& budget = {});
// The same, adding to `notes` what the conversion log should tell the user
// (a layout converted, kernels flipped, a bounded ReLU).
Network import_keras(const std::string& path, std::vector<std::string>& notes, const MemoryBudget& budget = {});

} // namespace snn
