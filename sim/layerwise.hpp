#pragma once
// Layer by layer: in a feed-forward network without synaptic delay, a
// population's spikes at step t depend only on its sources' spikes up to
// step t. So when no one watches the network step by step (no exits, no
// partitions, no recorded spikes) each population can run all T steps before
// the next one starts, reading its source's spikes of every step from a
// buffer. That lets a block of 16 neurons keep its membranes in registers
// for all T steps, where the step-by-step engine loads and stores them, and
// its current, at every step.
//
// The spikes of every step are kept as 16-unit masks: bit k of word b of
// step t says that unit 16·b + k spiked at step t. Each step's row has one
// more word than the units need, always zero, which a window that reads
// fewer source words than the others points at.
//
// Each kind adds the same synaptic weights in the same order as the
// step-by-step kernels (the source units that spiked, ascending) and updates
// the neurons with the same instructions, so spikes, membranes and
// synaptic-op counts are theirs bit for bit (tests/sim/test_kernels.cpp).
#include "sim/float_isa.hpp"
#include "snn/network.hpp"

#include <oneapi/tbb/cache_aligned_allocator.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace snn {

// Words of 16 units per step for a population of n units, and the row stride
// (one more word, always zero).
inline std::size_t mask_words(std::int64_t n) { return std::size_t((n + 15) / 16); }
inline std::size_t mask_stride(std::int64_t n) { return mask_words(n) + 1; }

struct LayerRun {
    int steps = 0;
    const std::uint16_t* source = nullptr;      // the source's masks, steps × mask_stride(source units); unused for Constant
    const std::int32_t* source_counts = nullptr; // the source's spikes per unit over all steps; unused for Constant
    const float* constant = nullptr;            // per unit: bias (+ the projected input with current encoding)
    float* v = nullptr;                         // per unit: the membrane, from its initial value to the last step's
    std::uint16_t* masks = nullptr;             // written: steps × mask_stride(units)
    std::int32_t* counts = nullptr;             // written: per unit, its spikes over all steps
    float decay = 1, v_th = 1;
    float fire_at = 1; // units fire at v ≥ fire_at (sim/neuron.hpp, fire_threshold of v_th)
    bool subtract = true;
    std::optional<StateGrid> grid; // 16-bit membranes' grid (sim/neuron.hpp), or none: float membranes
    // After each of these steps (1-based, ascending) v and the counts so far
    // are copied into snapshot_v + k·units and snapshot_counts + k·units (for
    // the readout at checkpoints).
    std::span<const int> snapshot_steps;
    float* snapshot_v = nullptr;
    std::int32_t* snapshot_counts = nullptr;
    std::int32_t* scratch = nullptr; // LayerKernel::scratch_entries()
    // Generic only: adds the projection of the listed source units (ascending)
    // at step t (0-based) to `current` as the step-by-step engine does,
    // returning its synaptic operations; `current` has a float per unit.
    std::function<std::int64_t(int t, std::span<const std::int32_t>, float*)> project;
    // Generic, batch > 1 (a binary dense layer): the same for `batch` steps at
    // once, each list with its own current (BinaryKernel::accumulate_batch).
    int batch = 1;
    std::function<std::int64_t(std::span<const std::span<const std::int32_t>>, float* const*)> project_batch;
    float* current = nullptr; // batch × units
};

// What a LayerKernel's bodies read: built once by its constructor, then
// read by the copy of the bodies for the chosen instruction set
// (sim/layerwise_body.inc, sim/float_isa.hpp).
struct LayerTables {
    // Generic: any other projection (binary layers, pooling over channels
    // that are not a multiple of 16, conv into them, Identity): every step,
    // the source's spikes as a list go through the step-by-step engine's own
    // kernel into a current array, and the neurons update from it, their
    // state in memory.
    enum class Kind { Constant, Pool, MaxPool, Conv, Dense, Generic };
    Kind kind = Kind::Constant;
    Shape src, dst;
    // Pool and MaxPool: per output word, taps source words, ascending source
    // pixel (the zero word where a window has fewer; MaxPool rounds taps up
    // to 4, 9 or 16).
    // Conv: per output pixel, begin[o] … begin[o+1] its taps inside the
    // source, ascending source pixel, one entry per source word (16 input
    // channels): in tap_src the mask word, in tap_k the offset of its first
    // kernel row ((tap·cin + 16·word of the pixel)·cout floats). Where cin
    // is not a multiple of 16 (aligned false), an entry is a run of up to 16
    // consecutive source units that consecutive kernel rows read: bits
    // tap_keep of mask words tap_src and tap_src + 1 shifted down by
    // tap_shift, and in tap_k its first row's offset.
    int taps = 0;
    bool aligned = true;
    std::vector<std::int32_t> begin, tap_src, tap_k, tap_shift, tap_keep;
    // Pool and Conv: per source pixel, the output pixels whose window holds it.
    std::vector<std::int32_t> covers;
    // Pool: the channel weights. Conv: (tap, input channel) rows of cout floats.
    // Dense: rows of stride floats (n_out rounded up to 16, zero-padded).
    // Conv and Dense end with a row of −0: x + (−0) = x for every x, so the
    // lists of spikes summed side by side are padded to one length with it.
    std::vector<float, tbb::cache_aligned_allocator<float>> weights;
    std::vector<std::uint16_t> silent; // Conv and Dense: a source row without spikes, for steps past the last
    std::int64_t stride = 0;
    // Conv and Dense: k·(row floats) for k < 16, the offset of a mask's bit k.
    std::vector<std::int32_t, tbb::cache_aligned_allocator<std::int32_t>> offsets;
    std::int32_t zero_row = 0;
    std::size_t scratch = 0, extra = 0; // scratch entries: the lists', and Conv's after them
};

class LayerKernel {
public:
    // Whether a population whose one projection is p, from a population of
    // shape src, can run layer by layer with the float ISA isa. `constant`: p
    // reads the input with current encoding, so its whole input is the
    // constant current. A max-pooling gate (p of kind MaxPool) can when its
    // source spikes and has a multiple of 16 channels, and its window at most
    // 16 taps.
    static bool applies(const Projection& p, const Shape& src, bool constant, float decay, FloatIsa isa);
    // `isa` must be supported (float_isa_supported).
    LayerKernel(const Projection& p, const Shape& src, const Shape& dst, bool constant, FloatIsa isa);
    // `values`: p reads the input with frames encoding, whose units carry
    // values, not spikes: the kind is Generic (the engine's own projection).
    LayerKernel(const Projection& p, const Shape& src, const Shape& dst, bool constant, FloatIsa isa, bool values);
    // Scratch run() needs with up to `batch` steps at once, in int32 entries.
    std::size_t scratch_entries(int batch = 1) const;
    // Runs every step; returns the synaptic operations of the events (the
    // constant's are counted where it is computed). A max-pooling gate reads
    // only source, masks and counts: it has no membranes and adds nothing.
    std::int64_t run(const LayerRun& r) const;

private:
    void make_offsets(std::int32_t scale);
    LayerTables t_;
    FloatIsa isa_;
};

} // namespace snn
