#include "convert/dnn_kind.hpp"

// A max-pooling gate: the DNN pass takes each window's maximum itself; it
// adds no bound and has no weights to rescale (its scale is its source's).
SNN_KIND_REGISTRATION(convert, maxpool) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::MaxPool,
        nullptr,
        [](const Projection&, const Shape&, const Shape&, double, std::vector<double>&, std::vector<double>&) { return false; },
        [](Projection&, const Shape&, const Shape&, const std::vector<float>&, const std::vector<float>&) {},
    });
}
