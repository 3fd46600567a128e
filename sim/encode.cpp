#include "sim/encode.hpp"

namespace snn {

StepDraws::StepDraws(std::uint64_t seed, std::uint64_t sample, std::uint64_t layer, std::uint64_t step)
    : key_(mix(mix(mix(seed) ^ sample) ^ (layer << 32 | (step & 0xffffffffULL)))) {}

float uniform_draw(std::uint64_t seed, std::uint64_t sample, std::uint64_t layer, std::uint64_t step,
                   std::uint64_t unit) {
    return StepDraws(seed, sample, layer, step)(unit);
}

} // namespace snn
