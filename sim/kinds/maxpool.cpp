#include "sim/sim_kind.hpp"

// A max-pooling gate passes spikes (Engine::step_population); it adds no current.
SNN_KIND_REGISTRATION(sim, maxpool) { snn::register_sim_kind({snn::ProjectionKind::MaxPool, nullptr}); }
