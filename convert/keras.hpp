#pragma once
// Keras legacy HDF5 importer (Keras 2.x `model.save("x.h5")`, and the Keras 3
// legacy `.h5` variant). Produces a Network with the model's own weights
// (not yet normalized): BatchNormalization folded into the layer before it,
// Dropout dropped, Flatten turned into a view, residual Add layers turned into
// populations with one projection per branch, softmax on the output dropped
// (the argmax is kept). Hidden populations stand for ReLU units; the last
// population is the linear output layer.
#include "snn/network.hpp"

#include <string>

namespace snn {

Network import_keras(const std::string& path);

} // namespace snn
