#pragma once
// The neuron models, written once for every path that updates a membrane:
// the step-by-step engine (one unit at a time, or 16 lanes of AVX-512), layer
// by layer (sim/layerwise.cpp) and learned layers (per-unit thresholds,
// winner-take-all; sim/learn.cpp for the learning loop's own layer).
//
// One step of a unit, IF or LIF:
//   v ← v·decay + I          (rounded once: a fused multiply-add; decay is
//                             exp(−1/τ) for LIF and 1 for IF, where it is v + I)
//   fire when v ≥ v_th (v > v_th with a strict threshold: fire_threshold)
//   reset: v ← v − v_th (subtraction) or v ← 0 (to zero)
// A membrane readout makes the output a non-spiking integrator: its v_th is
// the largest float (integrator_v_th), never reached by a finite v.
// Signed spikes: after the step, a unit whose membrane fell below 0 while its
// spike count is positive takes a spike back, v ← v + v_th (take_back).
// Every sample starts at v = v_init·v_th (initial_v).
//
// 16-bit membranes (NeuronParams::state_bits 16, as Speck holds them): v is
// a signed 16-bit code k on a grid of step q = v_th/2^8 (StateGrid), so
// v = k·q with k ∈ [−2^15, 2^15 − 1]: v ∈ [−128·v_th, 128·v_th − q]. Eight
// fraction bits resolve a threshold into 256 steps (finer than an 8-bit
// weight); the range holds a membrane 127 thresholds above v_th, far more
// than one step's input to a normalized layer, and an inhibited unit down to
// −128·v_th. Every value the rule stores is snapped to the grid: the
// integrated v (before the threshold compares it), v after a reset by
// subtraction, after a spike taken back, and the initial v. Snapping
// saturates first (a code past either end stays at that end: it never wraps)
// and then rounds to the nearest code, ties to even. The grid is the
// population's: a learned layer's per-unit offsets θ move where a unit
// fires, not its grid. The integration itself (v·decay + I) is still one
// float FMA, then snapped: the rounding of a chip that adds the input into a
// wider accumulator and stores 16 bits.
//
// The rule is one template over a lane type (Lanes1: one float or double;
// Lanes16: 16 floats of AVX-512), so the scalar and the vector paths compute
// the same values bit for bit, as the tests check. It is written in
// sim/neuron_rule.inc, which the float kernels include again for each
// instruction set they are compiled for (sim/float_isa.hpp).
#include "snn/network.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace snn::neuron {

inline constexpr int state16_fraction_bits = 8;

inline float decay_of(const NeuronParams& n) {
    switch (n.model) {
    case NeuronModel::LIF: return std::exp(-1.0f / n.tau_steps);
    case NeuronModel::Threshold: return 0.0f; // v ← v·0 + I = I (v finite)
    case NeuronModel::IF: break;
    }
    return 1.0f;
}

// A current-based synapse (NeuronParams::tau_syn_steps > 0, NIR's CubaLIF):
// before the membrane's step, the step's input enters the synaptic current,
//   I ← I·exp(−1/τ_syn) + input          (rounded once: a fused multiply-add)
// and the membrane integrates I in its place. I starts every sample at 0.
inline bool has_synapse(const NeuronParams& n) { return n.tau_syn_steps > 0; }
inline float synapse_decay_of(const NeuronParams& n) { return has_synapse(n) ? std::exp(-1.0f / n.tau_syn_steps) : 0.0f; }
// The synaptic current after this step's input `in`: what the membrane integrates.
inline void synapse_step(float& current, float in, float decay) { current = std::fma(current, decay, in); }
inline constexpr float integrator_v_th = std::numeric_limits<float>::max();
// The value a unit fires at (v ≥ it): v_th, or for a strict threshold (NIR's
// v > v_th) the float just above v_th, since over floats v > v_th is exactly
// v ≥ nextafter(v_th, +∞). An integrator's v_th stays out of reach either way.
inline float fire_threshold(const NeuronParams& n, float v_th) {
    return n.strict_threshold && v_th < integrator_v_th ? std::nextafter(v_th, std::numeric_limits<float>::infinity()) : v_th;
}

#if defined(__AVX512F__)
#define SNN_LANES16 1
#endif
#include "sim/neuron_rule.inc"
#undef SNN_LANES16

// The grid of a population's membranes, or none for 32-bit float ones.
inline std::optional<StateGrid> state_grid(const NeuronParams& n) {
    if (n.state_bits != 16) return std::nullopt;
    return StateGrid{std::ldexp(1.0f, state16_fraction_bits) / n.v_th, std::ldexp(n.v_th, -state16_fraction_bits),
                     -32768.0f, 32767.0f};
}

inline float initial_v(const NeuronParams& n) {
    const float v = n.v_init * n.v_th;
    const auto g = state_grid(n);
    return g ? snap<Lanes1<float>>(v, grid_lanes<Lanes1<float>>(*g)) : v;
}

// Signed spikes: whether a unit takes a spike back after its step (and v ← v + v_th if so).
template <class T> inline bool take_back(T& v, std::int32_t count, T v_th) {
    if (!(v < T(0) && count > 0)) return false;
    v += v_th;
    return true;
}
// The same on a 16-bit membrane: v + v_th snapped to the grid.
inline bool take_back(float& v, std::int32_t count, float v_th, const StateGrid& g) {
    if (!take_back(v, count, v_th)) return false;
    v = snap<Lanes1<float>>(v, grid_lanes<Lanes1<float>>(g));
    return true;
}

// Winner-take-all over units [0, n) whose membranes are already updated: of
// the units at or above their threshold (threshold(j)), the one furthest above
// it (ties: the lowest index); n if none. The caller resets every unit to 0
// when there is a winner (the inhibition it triggers).
template <class T, class Threshold> inline std::size_t winner(const T* v, std::size_t n, Threshold&& threshold) {
    std::size_t best = n;
    T margin = 0;
    for (std::size_t j = 0; j < n; ++j) {
        const T m = v[j] - threshold(j);
        if (m >= 0 && (best == n || m > margin)) {
            best = j;
            margin = m;
        }
    }
    return best;
}

} // namespace snn::neuron
