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

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace snn::neuron {

inline float decay_of(const NeuronParams& n) { return n.model == NeuronModel::LIF ? std::exp(-1.0f / n.tau_steps) : 1.0f; }
inline float initial_v(const NeuronParams& n) { return n.v_init * n.v_th; }
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

// Signed spikes: whether a unit takes a spike back after its step (and v ← v + v_th if so).
template <class T> inline bool take_back(T& v, std::int32_t count, T v_th) {
    if (!(v < T(0) && count > 0)) return false;
    v += v_th;
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
