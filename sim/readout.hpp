#pragma once
// The rate → logit readout, once for every caller (exits on the output's own
// readout, exit placement, scale calibration): after `steps` steps a spiking
// unit's rate is (spikes·v_th + what is left on its membrane − where it
// started) / (steps·v_th), and the DNN logit it stands for is that rate
// times the layer's scale λ.
#include "snn/network.hpp"

#include <cstdint>
#include <vector>

namespace snn {

inline void rate_logits(const Population& out, const std::int32_t* counts, const float* v, int steps,
                        std::vector<double>& logits) {
    const double v_th = out.neuron.v_th;
    const std::size_t n = std::size_t(out.shape.size());
    logits.resize(n);
    for (std::size_t j = 0; j < n; ++j)
        logits[j] = (double(counts[j]) * v_th + v[j] - double(out.neuron.v_init) * v_th) / (double(steps) * v_th) * out.scale;
}

} // namespace snn
