#pragma once
// Random streams and the input encoders' one rule each.
//
// Every random draw comes from a counter-based stream keyed by (seed, sample,
// layer or stream, step): results do not depend on threads or on the order
// in which samples, layers or steps run.
//
// Poisson encoding: at step t, input unit j with spike probability p_j
// (its value times the maximum rate) spikes when its draw from stream
// (seed, sample, stream, t) is below p_j. `current` encoding has no rule of
// its own: the input is the constant current of the first layers
// (Engine::set_constant).
//
// Frames encoding: at step t the input units that frame t lists (its
// non-zero entries, ascending) are the input's events, each carrying its
// value (a spike count or an analog value) into the first layers as
// value × weight. A sample whose every entry is 1 carries plain spikes (its
// events cost additions, and binary layers take them as bits). Engine::input_step
// is the one place that turns an encoding into the input's events of a step.
#include "snn/dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace snn {

// Uniform draw in [0,1) for unit `unit` of stream (seed, sample, layer, step).
float uniform_draw(std::uint64_t seed, std::uint64_t sample, std::uint64_t layer, std::uint64_t step,
                   std::uint64_t unit);

// The draws of one stream (seed, sample, layer, step), its key mixed once:
// StepDraws(seed, sample, layer, step)(unit) == uniform_draw(seed, sample, layer, step, unit).
class StepDraws {
public:
    StepDraws(std::uint64_t seed, std::uint64_t sample, std::uint64_t layer, std::uint64_t step);
    float operator()(std::uint64_t unit) const { return float(mix(key_ ^ unit) >> 40) * (1.0f / 16777216.0f); } // 24 bits
    static std::uint64_t mix(std::uint64_t x) { // splitmix64's finalizer
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }

private:
    std::uint64_t key_;
};

// The Poisson rule for one step: calls on_spike(unit) for each units[k]
// whose draw is below probability(k), in the order of `units`.
template <class Probability, class OnSpike>
inline void poisson_step(std::uint64_t seed, std::uint64_t sample, std::uint64_t stream, int t,
                         std::span<const std::int32_t> units, Probability&& probability, OnSpike&& on_spike) {
    const StepDraws draw(seed, sample, stream, std::uint64_t(t));
    for (std::size_t k = 0; k < units.size(); ++k)
        if (draw(std::uint64_t(units[k])) < probability(k)) on_spike(units[k]);
}

// Frames: the input units of step t of one sample's frames, and their values.
inline std::span<const std::int32_t> frame_units(const FrameSteps& f, int t) {
    return {f.unit + f.at[t], std::size_t(f.at[t + 1] - f.at[t])};
}
inline const float* frame_values(const FrameSteps& f, int t) { return f.value + f.at[t]; }
// Whether every entry of the first `steps` steps is 1: plain spikes.
inline bool frames_are_spikes(const FrameSteps& f, int steps) {
    for (std::int64_t e = f.at[0]; e < f.at[steps]; ++e)
        if (f.value[e] != 1.0f) return false;
    return true;
}

} // namespace snn
