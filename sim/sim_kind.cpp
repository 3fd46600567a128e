#include "sim/sim_kind.hpp"

#include "snn/registry.hpp"

void snn_register_sim_kinds(); // generated from sim/kinds/*.cpp

namespace snn {

namespace {
using Registry = KindRegistry<SimKind, snn_register_sim_kinds>;
}

void register_sim_kind(const SimKind& entry) { Registry::add(entry); }
const SimKind& sim_kind(ProjectionKind kind) { return Registry::get(kind, "sim_kind"); }

} // namespace snn
