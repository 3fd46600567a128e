#include "snn/rademacher.hpp"

#include "snn/error.hpp"

#include <cmath>

namespace snn {

namespace {

constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective mix of
// a 64-bit counter, so a sign needs no state but its key.
std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr std::int64_t max_index = std::int64_t(1) << 32;

} // namespace

int rademacher_sign(std::uint64_t seed, std::uint64_t row, std::uint64_t column) {
    const std::uint64_t key = mix(mix(seed) ^ mix((row << 32) + column + golden_gamma));
    return (key >> 63) ? -1 : 1;
}

void check_rademacher(std::int64_t rd, std::int64_t pixels, const std::string& where) {
    const std::string at = where.empty() ? "" : where + ": ";
    if (pixels <= 0 || pixels >= max_index)
        throw Error(at + "compressive-sensing input of " + std::to_string(pixels) +
                    " pixels; it must have between 1 and 2^32 - 1");
    if (rd <= 0)
        throw Error(at + "compressive-sensing rd " + std::to_string(rd) + " must be at least 1");
    if (rd > pixels)
        throw Error(at + "compressive-sensing rd " + std::to_string(rd) + " is larger than the input's " +
                    std::to_string(pixels) + " pixels (a projection must not grow the input)");
}

std::vector<float> rademacher_project(const RademacherStage& stage, std::span<const float> x) {
    if (std::int64_t(x.size()) != stage.pixels())
        throw InternalError("rademacher_project: " + std::to_string(x.size()) + " values for " +
                            std::to_string(stage.pixels()) + " pixels");
    const double scale = 1.0 / std::sqrt(double(stage.rd));
    std::vector<float> y(std::size_t(stage.rd));
    for (std::int64_t r = 0; r < stage.rd; ++r) {
        double sum = 0; // ±1 entries: additions and subtractions only
        for (std::size_t c = 0; c < x.size(); ++c)
            sum = rademacher_sign(stage.seed, std::uint64_t(r), c) > 0 ? sum + x[c] : sum - x[c];
        y[std::size_t(r)] = float(sum * scale);
    }
    return y;
}

} // namespace snn
