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

} // namespace snn
