#pragma once
// Labelled samples for a run: MNIST and Fashion-MNIST from their IDX files
// (plain or gzip), or the user's own data from an HDF5 file.
#include "snn/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

// Samples and labels held in memory, as load_dataset() returns them.
struct Dataset {
    std::string name;     // the spec it was loaded from
    Shape shape;          // of one sample, channels-last: (28,28,1) for MNIST; (1,1,F) for flat HDF5 data
    std::vector<float> x; // size() × shape.size(), row-major
    std::vector<int> y;   // labels
    // The dimensions of one sample as an HDF5 file stored them (x's dims
    // without N), until match_input_layout() has brought them into a
    // network's layout; empty for MNIST / Fashion-MNIST, which are built in
    // the engine's layout and feed either.
    std::vector<std::uint64_t> stored_dims;
    std::int64_t size() const { return std::int64_t(y.size()); }
    const float* sample(std::int64_t i) const { return x.data() + i * shape.size(); }
};

// spec: "mnist:train", "mnist:test", "fashion-mnist:train", "fashion-mnist:test",
// or a path to an HDF5 file with datasets x (N,H,W,C) / (N,H,W) / (N,features) and
// y (N) (or (N,1)).
//
// IDX pixels (uint8) are scaled to [0,1] by /255. HDF5 x is converted to float as
// stored, with no scaling: the user's data must already be in the range the
// network was trained on. y must be non-negative integers; x must be finite.
//
// limit < 0 reads every sample; limit > 0 reads only the first `limit` (and only
// those are read from disk); limit == 0 is an error.
// data_dir: where mnist/ and fashion-mnist/ live; empty = $SNN_DATA_DIR if set,
// else the build's SNN_DEFAULT_DATA_DIR (data/datasets in the source tree).
Dataset load_dataset(const std::string& spec, std::int64_t limit = -1, const std::string& data_dir = "");

// Reads data stored in the model's own layout in the engine's: for a network
// converted from a channels-first model (Network::input_layout), an HDF5 x of
// shape (N, C, H, W) is transposed to (N, H, W, C) (with one channel, any x
// of the right size is the same in both orders). A channels-last network, or
// data already matched or built in the engine's layout, is left as it is.
// Data whose stored shape is not the model's input is a DataError naming both.
void match_input_layout(Dataset& ds, const Network& net);

} // namespace snn
