#include "convert/concat.hpp"

#include <algorithm>

namespace snn {

std::vector<float> channel_slice(const std::vector<float>& k, std::size_t taps, std::size_t C, std::size_t off,
                                 std::size_t n, std::size_t O) {
    std::vector<float> out(taps * n * O);
    for (std::size_t t = 0; t < taps; ++t) std::copy_n(k.data() + (t * C + off) * O, n * O, out.data() + t * n * O);
    return out;
}

void add_conv_parts(std::vector<Projection>& out, const std::vector<ConcatPart>& parts, ProjectionKind kind,
                    const Window& win, const std::vector<float>& kernel, std::size_t taps, std::size_t O,
                    const std::string& layer, bool binary) {
    std::size_t C = 0;
    for (const auto& part : parts) C += std::size_t(part.channels);
    std::size_t off = 0;
    for (const auto& part : parts) {
        const std::size_t n = std::size_t(part.channels);
        out.push_back({part.population, kind, win, channel_slice(kernel, taps, C, off, n, O), layer});
        out.back().binary = binary;
        off += n;
    }
}

void add_dense_parts(std::vector<Projection>& out, const std::vector<ConcatPart>& parts, std::size_t hw, bool chw,
                     const std::vector<float>& kernel, std::size_t U, const std::string& layer, bool binary) {
    std::size_t C = 0;
    for (const auto& part : parts) C += std::size_t(part.channels);
    std::size_t off = 0;
    for (const auto& part : parts) {
        const std::size_t cp = std::size_t(part.channels);
        std::vector<float> rows(hw * cp * U);
        for (std::size_t u = 0; u < hw * cp; ++u) {
            const std::size_t yx = u / cp, cg = off + u % cp;
            const std::size_t r = chw ? cg * hw + yx : yx * C + cg;
            std::copy_n(kernel.data() + r * U, U, rows.data() + u * U);
        }
        out.push_back({part.population, ProjectionKind::Dense, {}, std::move(rows), layer});
        out.back().binary = binary;
        off += cp;
    }
}

} // namespace snn
