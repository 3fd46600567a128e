#pragma once
// The DNN reference forward pass: the network evaluated with ReLU units in
// place of spiking neurons (MaxPool populations take the max of their
// window, the output population stays linear; a population with a clip is
// a bounded ReLU, min(max(v, 0), clip), the output too). Used for calibration and for
// the `dnn_accuracy` figure, and as the dense reference that the event
// kernels are tested against.
#include "snn/network.hpp"

#include <vector>

namespace snn {

// Adds the projection of `in` (the source population's activations) to `out`
// (the target's input current). Dense reference loops; MaxPool is not linear
// and is not handled here.
void accumulate_dense(const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out);

// Activations of every population for one input sample (x has input().shape.size() values).
std::vector<std::vector<float>> forward(const Network& net, const float* x);

// Population i's activations (act[i]) from its sources' (act[source]): the
// step `forward` takes for each population after the input.
void forward_population(const Network& net, std::size_t i, std::vector<std::vector<float>>& act);

// Index of the largest output activation (first one on ties).
int argmax(const std::vector<float>& v);

} // namespace snn
