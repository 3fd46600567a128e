#pragma once
// What conversion needs of each projection kind (snn/kind.hpp): the DNN
// forward pass and the model-based normalization's bound and rescaling.
// Each kind registers its entry in convert/kinds/NAME.cpp with
// SNN_KIND_REGISTRATION(convert, NAME) { register_dnn_kind({...}); }.
#include "snn/kind.hpp"

#include <vector>

namespace snn {

struct DnnKind {
    ProjectionKind kind;
    // out += the projection of `in` (the DNN reference pass, ReLU applied by
    // the caller). Null for a max-pooling gate, which the pass runs itself.
    void (*forward)(const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) = nullptr;
    // Model-based normalization: adds the largest input a target unit can get
    // from this projection, every source unit at its bound `ls` and only
    // positive weights counted, per target channel to `channel`, or per target
    // unit to `unit` (returning true when it used `unit`).
    bool (*bound)(const Projection& p, const Shape& src, const Shape& dst, double ls, std::vector<double>& channel,
                  std::vector<double>& unit) = nullptr;
    // w ← w·λ_source / λ_target, each weight by its source and target channel
    // (ls: one scale per source channel, lt: per target channel).
    void (*rescale)(Projection& p, const Shape& src, const Shape& dst, const std::vector<float>& ls,
                    const std::vector<float>& lt) = nullptr;
};

void register_dnn_kind(const DnnKind& entry);
const DnnKind& dnn_kind(ProjectionKind kind);

} // namespace snn
