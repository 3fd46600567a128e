#include "sim/kernels.hpp"

#include "snn/error.hpp"
#include "snn/window.hpp"

namespace snn {
std::int64_t scatter(const Projection& p, const Shape& src, const Shape& dst, std::span<const std::int32_t> units,
                     const float* values, float* current) {
    std::int64_t ops = 0;
    switch (p.kind) {
    case ProjectionKind::Dense: {
        const std::int64_t n_out = dst.size();
        for (std::size_t k = 0; k < units.size(); ++k) {
            const float* row = p.weights.data() + std::int64_t(units[k]) * n_out;
            const float a = values ? values[k] : 1.0f;
            if (values)
                for (std::int64_t j = 0; j < n_out; ++j) current[j] += a * row[j];
            else
                for (std::int64_t j = 0; j < n_out; ++j) current[j] += row[j];
        }
        return ops + std::int64_t(units.size()) * n_out;
    }
    case ProjectionKind::Conv2D: {
        const int cin = src.c, cout = dst.c, kw = p.window.kw;
        for (std::size_t k = 0; k < units.size(); ++k) {
            const int u = units[k];
            const int ci = u % cin, x = (u / cin) % src.w, y = u / (cin * src.w);
            const float a = values ? values[k] : 1.0f;
            for_each_covering_window(p.window, dst, y, x, [&](int oy, int ox, int ky, int kx) {
                const float* kr = p.weights.data() + ((std::int64_t(ky) * kw + kx) * cin + ci) * cout;
                float* o = current + (std::int64_t(oy) * dst.w + ox) * cout;
                for (int co = 0; co < cout; ++co) o[co] += a * kr[co];
                ops += cout;
            });
        }
        return ops;
    }
    case ProjectionKind::AvgPool: {
        const int C = src.c;
        for (std::size_t k = 0; k < units.size(); ++k) {
            const int u = units[k];
            const int c = u % C, x = (u / C) % src.w, y = u / (C * src.w);
            const float a = (values ? values[k] : 1.0f) * p.weights[std::size_t(c)];
            for_each_covering_window(p.window, dst, y, x, [&](int oy, int ox, int, int) {
                current[(std::int64_t(oy) * dst.w + ox) * C + c] += a;
                ++ops;
            });
        }
        return ops;
    }
    case ProjectionKind::Identity: {
        const int C = dst.c;
        for (std::size_t k = 0; k < units.size(); ++k)
            current[units[k]] += (values ? values[k] : 1.0f) * p.weights[std::size_t(units[k] % C)];
        return std::int64_t(units.size());
    }
    case ProjectionKind::MaxPool: break;
    }
    throw InternalError("scatter: max pooling is a gate, not a projection");
}

} // namespace snn
