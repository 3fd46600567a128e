#pragma once
// A network described for people (`snn inspect`): one row per population with
// its shape, neuron model, incoming projections and parameter count, then
// totals. describe_json() gives the same facts to scripts.
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace snn {

// `file`, if given, is where the network was loaded from; its size on disk is
// added to the totals.
std::string describe(const Network& net, const std::string& file = "");
nlohmann::json describe_json(const Network& net);

} // namespace snn
