#pragma once
// Event kernels: only the source units that spiked do work. For each listed
// unit the kernel adds its outgoing synapses to the target's input current
// and returns the number of synaptic operations (additions) it performed.
// The dense reference they are tested against is snn::accumulate_dense.
//
// `scatter` is the plain reference event kernel. `ProjectionKernel` is the
// one the engine runs: the same additions in the same order for every target
// unit (the source units that spiked, ascending), so its currents are
// bit-for-bit those of `scatter`; it only changes how the work is laid out.
#include "sim/float_isa.hpp"
#include "snn/network.hpp"

#include <oneapi/tbb/cache_aligned_allocator.h>

#include <cstdint>
#include <span>
#include <vector>

namespace snn {

// `values` may be null (every listed unit carries a spike of 1) or hold one
// value per listed unit (used once per sample to inject analog input current).
// `units` ascend.
std::int64_t scatter(const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units,
                     const float* values, float* current);

// Spikes of one step as a bitset over source units (bit u of word u/64), the
// form the gather path reads.
inline void set_spike_bits(std::span<const std::int32_t> units, std::uint64_t* bits) {
    for (std::int32_t u : units) bits[u >> 6] |= std::uint64_t(1) << (u & 63);
}
inline void clear_spike_bits(std::span<const std::int32_t> units, std::uint64_t* bits) {
    for (std::int32_t u : units) bits[u >> 6] = 0;
}

// One projection made ready for the step loop: windowed geometry is
// precomputed once (no division per spike), and a Conv2D projection has two
// paths that give identical currents:
//   scatter (event): per spike, each covering output adds its kernel row;
//   gather  (dense): per output pixel, the kernel rows of the spiking inputs in
//                    its window are summed in registers and stored once.
// Gather visits every output pixel and every window tap whatever the spikes,
// so it pays off only when the source is active; `prefer_gather` decides per
// step from the spike count.
class ProjectionKernel {
public:
    // Holds the geometry (and, for Conv2D, an aligned copy of the weights, read
    // in place of p.weights); every call gets the projection it was built from.
    // `isa`: the float kernels' instruction set (supported: float_isa_supported).
    ProjectionKernel(const Projection& p, const Shape& src, const Shape& dst, FloatIsa isa = best_float_isa());
    // Same contract as snn::scatter (units ascend).
    std::int64_t scatter(const Projection& p, std::span<const std::int32_t> units, const float* values,
                         float* current) const;
    bool has_gather() const { return kind_ == ProjectionKind::Conv2D; }
    bool prefer_gather(std::size_t spikes) const;
    // `bits`: the spikes of this step (set_spike_bits over the source). Conv2D only.
    std::int64_t gather(const Projection& p, const std::uint64_t* bits, float* current) const;
    // AvgPool whose windows do not overlap, over a multiple of 16 channels,
    // can take the spikes as 16-unit masks (bit k of masks[b]: unit 16·b + k
    // spiked) instead of a list, giving scatter's currents. The engine uses it
    // when its AVX-512 neuron update has written the masks.
    bool takes_masks() const;
    std::int64_t pool_masks(const Projection& p, const std::uint16_t* masks, float* current) const;

private:
    // Conv2D scattered by source pixel in registers (AVX-512, cout a multiple of 16 up to 64).
    bool pixel_scatter() const;
    ProjectionKind kind_;
    FloatIsa isa_;
    Shape src_, dst_;
    // Windowed kinds: per source unit its pixel (y·w + x); per source pixel the
    // outputs whose window covers it, as CSR (begin[pixel] … begin[pixel+1])
    // of (output pixel, kernel tap ky·kw + kx), ascending output pixel.
    std::vector<std::int32_t> pixel_of_;
    std::vector<std::int32_t> cover_begin_, cover_out_, cover_tap_;
    // AvgPool whose windows do not overlap: per source unit its one output
    // unit (−1: in no window), or empty.
    std::vector<std::int32_t> pool_target_;
    // Conv2D gather: per output pixel its taps inside the source, as CSR of
    // (source pixel, kernel tap), ascending source pixel (= ascending unit).
    std::vector<std::int32_t> tap_begin_, tap_src_, tap_k_;
    std::int64_t taps_total_ = 0;
    // Conv2D: a copy of the kernel starting on a cache line, so that each
    // (tap, input channel) row of cout floats does too when cout is a multiple of 16.
    std::vector<float, tbb::cache_aligned_allocator<float>> weights_;
};

} // namespace snn
