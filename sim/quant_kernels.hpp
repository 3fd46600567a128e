#pragma once
// Integer kernels for quantized Dense projections (snn/quant.hpp,
// docs/quantization.md "Kernels"). Weight (u, j) is scale[g]·level(u, j); the
// kernel adds the integer levels of the spiking source units into one integer
// accumulator per (output, scale group) and, once per call (one step's
// spikes of one sign), adds scale · accumulator to the float current:
//   Int, Ternary  acc += level            (int8 levels)
//   Qsq           acc += ±(1 << e)        (levels {0, ±1, ±2, ±4}: shifts and adds)
// The accumulators are int16 when the worst case max|level| · fan-in of a
// group fits 16 bits (32767), else int32 (AccWidth below).
//
// Exactness: integer sums are exact, and scale · acc is formed in double,
// exactly (a 24-bit scale times |acc| < 2^29), then rounded once to float and
// added to the current. So with one scale per output the kernel's current is exactly
//   current + fl(scale · Σ level),
// the exact dequantized sum rounded once (with Qsq's scale per vector of the
// fan-in, the groups' exact products are summed in double first); the float kernel (sim/kinds/dense.cpp
// on the dequantized weights) rounds every weight and every addition, and
// differs from it by at most the summation bound tests/sim/test_quant_kernels.cpp states.
#include "sim/float_isa.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace snn {

// Whether the integer kernel can carry p's spikes: a quantized Dense projection.
bool quant_kernel_applies(const Projection& p);

// A thread's accumulators (grown to the largest kernel's on first use).
struct QuantScratch {
    std::vector<std::int16_t> narrow;
    std::vector<std::int32_t> wide;
    std::vector<std::int32_t> touched; // the scale groups of one call's spikes
    std::vector<double> sums;          // per output: the call's sum over its groups
};

// What the kernel's loops read (sim/quant_rows.inc).
struct QuantLoop {
    const std::int8_t* codes; // per source unit, n_out codes
    const double* scale;      // per (group, output)
    std::int64_t n_out, vector;
    bool shifts;
};

class QuantDenseKernel {
public:
    // `gain` multiplies every scale (the engine's 1 / max_rate on the input's
    // projections with Poisson encoding, as it does to the float weights).
    // `isa`: the instruction set its loops run with (every one gives the same
    // currents bit for bit; supported: float_isa_supported).
    QuantDenseKernel(const Projection& p, const Shape& src, const Shape& dst, float gain = 1.0f,
                     FloatIsa isa = best_float_isa());
    // Adds sign · (row of each listed unit) to `current` (sign +1 or −1);
    // Returns the additions made
    // (listed units × outputs, as the float kernel counts them).
    std::int64_t accumulate(std::span<const std::int32_t> units, int sign, QuantScratch& scratch, float* current) const;
    std::int64_t accumulators() const { return groups_ * n_out_; }
    bool shifts() const { return shifts_; }          // Qsq: shift-and-add codes
    bool wide() const { return wide_; }              // int32 accumulators (else int16)

    // One instruction set's copy of the loops.
    struct Loops {
        void (*add_rows16)(const QuantLoop&, std::span<const std::int32_t>, std::int16_t*);
        void (*add_rows32)(const QuantLoop&, std::span<const std::int32_t>, std::int32_t*);
        void (*scale_into16)(const QuantLoop&, std::span<const std::int32_t>, const std::int16_t*, int, double*, float*);
        void (*scale_into32)(const QuantLoop&, std::span<const std::int32_t>, const std::int32_t*, int, double*, float*);
    };

private:
    // Lists the scale groups of `units` in `touched`; returns the additions (units × outputs).
    std::int64_t groups_of(std::span<const std::int32_t> units, std::vector<std::int32_t>& touched) const;
    Loops loops_;
    std::int64_t n_in_ = 0, n_out_ = 0;
    std::int64_t vector_ = 0, groups_ = 1; // scale groups along the fan-in (vector_ 0: one)
    bool shifts_ = false, wide_ = true;
    // Per source unit, n_out codes: the level (Int, Ternary) or, for Qsq,
    // (negative << 2) | (e + 1) with 0 for a zero level.
    std::vector<std::int8_t> codes_;
    std::vector<double> scale_; // per (group, output): groups_ rows of n_out_
};

} // namespace snn
