#include "convert/dnn_kind.hpp"

#include "snn/registry.hpp"

void snn_register_convert_kinds(); // generated from convert/kinds/*.cpp

namespace snn {

namespace {
using Registry = KindRegistry<DnnKind, snn_register_convert_kinds>;
}

void register_dnn_kind(const DnnKind& entry) { Registry::add(entry); }
const DnnKind& dnn_kind(ProjectionKind kind) { return Registry::get(kind, "dnn_kind"); }

} // namespace snn
