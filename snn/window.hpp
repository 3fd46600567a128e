#pragma once
// Walking a sliding window (Conv2D, AvgPool, MaxPool), in both directions.
// Output (oy, ox) reads source pixel (y, x) = (oy·sh − pad_top + ky, ox·sw − pad_left + kx);
// taps that fall in the padding are skipped.
#include "snn/network.hpp"

namespace snn {

// f(y, x, ky, kx) for every tap of output (oy, ox) that lies inside the source.
template <class F>
inline void for_each_tap(const Window& w, const Shape& src, int oy, int ox, F&& f) {
    for (int ky = 0; ky < w.kh; ++ky) {
        const int y = oy * w.sh - w.pad_top + ky;
        if (y < 0 || y >= src.h) continue;
        for (int kx = 0; kx < w.kw; ++kx) {
            const int x = ox * w.sw - w.pad_left + kx;
            if (x < 0 || x >= src.w) continue;
            f(y, x, ky, kx);
        }
    }
}

// f(oy, ox, ky, kx) for every output whose window covers source pixel (y, x):
// oy = (y + pad_top − ky)/sh when the division is exact and 0 ≤ oy < H_out.
template <class F>
inline void for_each_covering_window(const Window& w, const Shape& dst, int y, int x, F&& f) {
    for (int ky = 0; ky < w.kh; ++ky) {
        const int ty = y + w.pad_top - ky;
        if (ty < 0) break;
        if (ty % w.sh) continue;
        const int oy = ty / w.sh;
        if (oy >= dst.h) continue;
        for (int kx = 0; kx < w.kw; ++kx) {
            const int tx = x + w.pad_left - kx;
            if (tx < 0) break;
            if (tx % w.sw) continue;
            const int ox = tx / w.sw;
            if (ox >= dst.w) continue;
            f(oy, ox, ky, kx);
        }
    }
}

} // namespace snn
