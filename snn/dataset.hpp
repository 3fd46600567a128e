#pragma once
// Labelled samples for a run: MNIST and Fashion-MNIST from their IDX files
// (plain or gzip), or the user's own data from an HDF5 file.
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

// One sample's per-step input (--encode frames), sparse: at step t the
// input units unit[at[t]] … unit[at[t+1] − 1] (ascending, each once) receive
// value[at[t]] … ; every other unit receives 0. `at` has steps + 1 entries,
// offsets into the data set's whole unit/value arrays.
struct FrameSteps {
    int steps = 0;
    const std::int64_t* at = nullptr;
    const std::int32_t* unit = nullptr;
    const float* value = nullptr;
};

// Samples and labels held in memory, as load_dataset() and load_frames() return them.
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
    // Frames (load_frames): the steps of input each sample holds, 0 for
    // static samples. Sample i's step t is entries frame_at[i·frames + t] …
    // frame_at[i·frames + t + 1] − 1 of frame_unit / frame_value; x then holds
    // each sample's mean frame over those steps (the rate its frames deliver),
    // which the DNN pass, calibration and the static encoders read.
    int frames = 0;
    std::vector<std::int64_t> frame_at;
    std::vector<std::int32_t> frame_unit;
    std::vector<float> frame_value;
    std::int64_t size() const { return std::int64_t(y.size()); }
    const float* sample(std::int64_t i) const { return x.data() + i * shape.size(); }
    FrameSteps frames_of(std::int64_t i) const {
        return {frames, frame_at.data() + i * frames, frame_unit.data(), frame_value.data()};
    }
};

// spec: "mnist:train", "mnist:test", "fashion-mnist:train", "fashion-mnist:test",
// or a path to an HDF5 file with datasets x (N,H,W,C) / (N,H,W) / (N,features) and
// y (N) (or (N,1)). Any of them may end in a range "[a:b]" that keeps samples
// a … b−1 ("mnist:train[55000:60000]", a validation split; "[a:]" to the end,
// "[:b]" the first b); --limit then counts from a.
//
// IDX pixels (uint8) are scaled to [0,1] by /255. HDF5 x is converted to float as
// stored, with no scaling: the user's data must already be in the range the
// network was trained on. y must be non-negative integers; x must be finite.
//
// limit < 0 reads every sample; limit > 0 reads only the first `limit` (and only
// those are read from disk); limit == 0 is an error.
// data_dir: where mnist/ and fashion-mnist/ live; empty = $SNN_DATA_DIR if set,
// else the build's SNN_DEFAULT_DATA_DIR (data/datasets in the source tree).
// budget: the memory the samples may take (snn/memory.hpp).
Dataset load_dataset(const std::string& spec, std::int64_t limit = -1, const std::string& data_dir = "",
                     const MemoryBudget& budget = {});

// Frames and event lists (--encode frames; docs/events.md).
//
// Frames: an HDF5 file with x of shape (N, T, H, W, C) (layout nhwc) or
// (N, T, C, H, W) (layout nchw, NIR's order), or (N, T, H, W) / (N, T, F),
// and y (N): T steps of input per sample, spike counts or analog values,
// read into the engine's channels-last order. max_steps > 0 keeps only the
// first max_steps frames; a larger max_steps than T is refused (the file
// holds no input for those steps).
//
// Event lists: an HDF5 file with `events` of shape (M, 5), columns
// sample, t, x, y, p (any numeric type, integral values; t >= 0), y (N), and
// root attributes `height` and `width` (the sensor's size) and optionally
// `polarities` (default 2). p is 0 (OFF) or 1 (ON); −1 is read as OFF. Event
// (s, t, x, y, p) adds 1 to unit (y·W + x)·P + p of sample s at step
// floor(t / bin), so a frame is (H, W, P) channels-last. The steps are
// max_steps if given (events at later steps are left out), else up to the
// file's last event.
enum class FrameLayout { ChannelsLast, ChannelsFirst };
FrameLayout frame_layout_from(const std::string&); // "nhwc" or "nchw"
struct FrameOptions {
    FrameLayout layout = FrameLayout::ChannelsLast;
    double bin = 1;    // event lists: units of the t column per step
    int max_steps = 0; // 0: every frame the file holds
    MemoryBudget memory; // what the frames may take
};
Dataset load_frames(const std::string& spec, std::int64_t limit = -1, const FrameOptions& options = {});
// A DataError unless ds holds frames of exactly the shape `input` (naming
// both, and --layout nchw where the other order would fit).
void check_frames_fit(const Dataset& ds, const Shape& input);
// Whether spec is an HDF5 file holding frames (x with 5 dimensions) or an event list (events).
bool holds_frames(const std::string& spec);

// Reads data stored in the model's own layout in the engine's: for a network
// converted from a channels-first model (Network::input_layout), an HDF5 x of
// shape (N, C, H, W) is transposed to (N, H, W, C) (with one channel, any x
// of the right size is the same in both orders). A channels-last network, or
// data already matched or built in the engine's layout, is left as it is.
// Data whose stored shape is not the model's input is a DataError naming both.
void match_input_layout(Dataset& ds, const Network& net);

} // namespace snn
