#pragma once
// Binary kernels: a binary projection (snn/binary.hpp) fed by the spikes of
// one step, held as bits. With s the spike bits in output j's receptive
// field and w_j its weight bits (1 = +α_j, 0 = −α_j),
//
//   I_j += α_j · (2·popcount(s ∧ w_j) − popcount(s))
//
// since each spike adds +α_j where its weight bit is 1 and −α_j where it is 0.
// Only the spikes' words are read (a word of 64 inputs with no spike is
// skipped), so a step with no input spike costs nothing.
//
// Three implementations behind one signature, chosen at run time:
//   Scalar   std::popcount on 64-bit words (the compiler's popcnt with -mpopcnt)
//   Avx2     4 words per register, popcount by nibble table (vpshufb + vpsadbw)
//   Avx512   8 words per register, VPOPCNTDQ
// The counts are exact integers and every output adds α·(2c − n) once, in
// the same float operations, so all three give identical currents (tested).
//
// BinaryKernel::xnor is the binary-DNN baseline (XNOR-Net): ±1 activations as
// bits, XNOR + popcount over every input, whatever the activity.
#include "snn/network.hpp"

#include <oneapi/tbb/cache_aligned_allocator.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace snn {

enum class PopcountIsa { Scalar, Avx2, Avx512 };
const char* to_string(PopcountIsa);
PopcountIsa popcount_isa_from(const std::string&); // "scalar", "avx2" or "avx512"
bool popcount_isa_supported(PopcountIsa);          // by this CPU
PopcountIsa best_popcount_isa();                   // the fastest supported one

class BinaryKernel {
public:
    // p must be binary (Dense or Conv2D); the kernel keeps its own copy of the
    // bits, laid out input-word-major with the outputs contiguous:
    //   Dense:  [output / 32][word][output % 32]
    //   Conv2D: [ky][word][output channel], a word covering 64 of the kw·cin
    //           inputs of a window row (kx, then channel), so a row of the
    //           window is ANDed a word at a time whatever cin is.
    // (p.bin holds one row per output; this is its transpose, so that one
    // spike word is ANDed with the words of 8 outputs at once.)
    BinaryKernel(const Projection& p, const Shape& src, const Shape& dst);

    // Scratch (in words) that accumulate() needs: all zero on entry, left all zero.
    std::size_t scratch_words() const { return scratch_words_; }

    // Adds the input current of the listed spiking source units (ascending) to
    // `current` (one float per target unit); returns the synaptic events
    // (Σ over spikes of their fan-out, what the float event kernel would add).
    std::int64_t accumulate(std::span<const std::int32_t> units, std::uint64_t* scratch, float* current,
                            PopcountIsa isa) const;

    // The same for several spike lists at once (time steps or samples, each
    // with its own `current`): a Dense layer on AVX-512 loads each weight word
    // once for up to max_batch lists, so the weights are read from cache once
    // per batch instead of once per list. Identical currents to calling
    // accumulate() on each list; other layers and implementations do exactly that.
    static constexpr int max_batch = 8;
    std::int64_t accumulate_batch(std::span<const std::span<const std::int32_t>> units, std::uint64_t* scratch,
                                  float* const* current, PopcountIsa isa) const;

    // Dense only: out[j] = α_j·(n − 2·popcount((a ⊕ w_j))) over all n inputs,
    // a = ±1 activations as bits (1 = +1, bits past n ignored). Returns the
    // binary operations done (n × outputs).
    std::int64_t xnor(const std::uint64_t* activation_bits, float* out, PopcountIsa isa) const;

    ProjectionKind kind() const { return kind_; }
    std::int64_t words() const { return words_; } // words per input row: Dense all inputs, Conv2D one window row

private:
    ProjectionKind kind_;
    Shape src_, dst_;
    std::int64_t outputs_ = 0;  // Dense: target units; Conv2D: output channels
    std::int64_t out_pad_ = 0;  // outputs rounded up to a multiple of 8
    std::int64_t words_ = 0;
    std::size_t scratch_words_ = 0;
    std::vector<std::uint64_t, tbb::cache_aligned_allocator<std::uint64_t>> w_;
    std::vector<float, tbb::cache_aligned_allocator<float>> alpha_; // out_pad_, zero past outputs_
    // Conv2D: the window; per output column the valid bits of a window row;
    // the scratch layout (guard words before the spike bitset, its length with
    // the guard words after it, the written-word list, the pair buffers).
    Window window_;
    std::vector<std::uint64_t> row_mask_;
    std::int64_t guard_ = 0, bits_words_ = 0, list_words_ = 0, pair_capacity_ = 0;
};

} // namespace snn
