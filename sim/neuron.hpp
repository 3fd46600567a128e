#pragma once
// The neuron models, written once for every path that updates a membrane:
// the step-by-step engine (one unit at a time, or 16 lanes of AVX-512), layer
// by layer (sim/layerwise.cpp) and learned layers (per-unit thresholds,
// winner-take-all; sim/learn.cpp for the learning loop's own layer).
//
// One step of a unit, IF or LIF:
//   v ← v·decay + I          (rounded once: a fused multiply-add; decay is
//                             exp(−1/τ) for LIF and 1 for IF, where it is v + I)
//   fire when v ≥ v_th
//   reset: v ← v − v_th (subtraction) or v ← 0 (to zero)
// A membrane readout makes the output a non-spiking integrator: its v_th is
// the largest float (integrator_v_th), never reached by a finite v.
// Signed spikes: after the step, a unit whose membrane fell below 0 while its
// spike count is positive takes a spike back, v ← v + v_th (take_back).
// Every sample starts at v = v_init·v_th (initial_v).
//
// The rule is one template over a lane type (Lanes1: one float or double;
// Lanes16: 16 floats of AVX-512), so the scalar and the vector paths compute
// the same values bit for bit, as the tests check.
#include "snn/network.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace snn::neuron {

inline float decay_of(const NeuronParams& n) { return n.model == NeuronModel::LIF ? std::exp(-1.0f / n.tau_steps) : 1.0f; }
inline float initial_v(const NeuronParams& n) { return n.v_init * n.v_th; }
inline constexpr float integrator_v_th = std::numeric_limits<float>::max();

// One lane of type T (float or double).
template <class T> struct Lanes1 {
    using V = T;
    using Mask = bool;
#if defined(__FMA__)
    static V fma(V a, V b, V c) { return std::fma(a, b, c); }
#else
    // Without hardware FMA std::fma is a library call; IF's a·1 + c is exactly a + c.
    static V fma(V a, V b, V c) { return b == V(1) ? a + c : std::fma(a, b, c); }
#endif
    static Mask ge(V a, V b) { return a >= b; }
    static V sub(V a, V b) { return a - b; }
    static V zero() { return V(0); }
    static V blend(Mask m, V if_clear, V if_set) { return m ? if_set : if_clear; }
};

#if defined(__AVX512F__)
struct Lanes16 {
    using V = __m512;
    using Mask = __mmask16;
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static Mask ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V zero() { return _mm512_setzero_ps(); }
    static V blend(Mask m, V if_clear, V if_set) { return _mm512_mask_blend_ps(m, if_clear, if_set); }
};
#endif

// v ← v·decay + in, rounded once.
template <class L> inline typename L::V integrate(typename L::V v, typename L::V in, typename L::V decay) {
    return L::fma(v, decay, in);
}

// One step: integrate, fire, reset; returns who fired. (v − v_th is computed
// beside the comparison and blended in: one step shorter a chain from one
// step's membrane to the next than a masked subtraction, the same values.)
template <bool Subtract, class L>
inline typename L::Mask step(typename L::V& v, typename L::V in, typename L::V decay, typename L::V v_th) {
    const typename L::V vj = integrate<L>(v, in, decay);
    const typename L::Mask fire = L::ge(vj, v_th);
    v = L::blend(fire, vj, Subtract ? L::sub(vj, v_th) : L::zero());
    return fire;
}

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
