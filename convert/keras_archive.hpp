#pragma once
// Keras 3's native `.keras` file (keras.saving.save_model): a zip archive of
// config.json (the model, serialized as by keras.saving.serialize_keras_object),
// metadata.json (keras_version, date_saved) and model.weights.h5 (the
// variables). Read here without extracting anything to disk: the weights file
// is opened from memory with HDF5's core driver. The layer graph in config.json
// is converted by the same code as a legacy `.h5` file's model_config
// (convert/keras.cpp); only where the weights are found differs.
//
// The layout of model.weights.h5, from keras/src/saving/saving_lib.py
// (_save_state, _save_container_state, H5IOStore, H5Entry) and
// keras/src/layers/layer.py (Layer.save_own_variables):
//   vars/                                 the model's own (none)
//   layers/<key>/vars/0, 1, ...           each layer of model.layers, in order
// where <key> is not the layer's name but its class name in snake case
// (keras/src/utils/naming.py: to_snake_case), numbered from the second layer
// of the same class on: dense, dense_1, dense_2, conv2d, ... A layer's
// variables are numbered in the order save_own_variables stores them:
// Dense and Conv2D kernel, bias; DepthwiseConv2D kernel, bias;
// SeparableConv2D depthwise kernel, pointwise kernel, bias;
// BatchNormalization gamma, beta, moving_mean, moving_variance (gamma without
// scale=False, beta without center=False). That is the order of the legacy
// format's weight_names, so both feed the same layer code.
#include "snn/h5.hpp"

#include <string>

namespace snn {

struct KerasArchive {
    std::string config;   // config.json, as stored
    std::string metadata; // metadata.json, as stored ("" if the archive has none)
    h5::Node weights;     // the root group of model.weights.h5, opened in memory
};

// snn::FileError naming `path` and what is wrong: not a zip archive, a damaged
// one, config.json or model.weights.h5 missing, a weights file that is not HDF5.
KerasArchive open_keras_archive(const std::string& path, const MemoryBudget& budget = {});

// A path ending in ".keras": what `snn convert` reads as an archive.
bool is_keras_archive_path(const std::string& path);

// The name Keras 3 gives a layer's group in model.weights.h5 before numbering:
// its class name in snake case ("Conv2D" → "conv2d", "BatchNormalization" →
// "batch_normalization", "ReLU" → "re_lu").
std::string keras_snake_case(const std::string& class_name);

} // namespace snn
