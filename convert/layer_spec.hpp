#pragma once
// What --quantize and --prune share: entries that name a layer of the source
// model (LAYER=SPEC) or apply to every layer (a bare SPEC).
#include "snn/network.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace snn {

// The entry that applies to a layer: the one naming it, else the bare one, else null.
template <class Entry>
const Entry* entry_for(const std::vector<Entry>& entries, const std::string& layer) {
    const Entry* bare = nullptr;
    for (const Entry& e : entries) {
        if (e.layer == layer) return &e;
        if (e.layer.empty()) bare = &e;
    }
    return bare;
}

// The names of the layers whose projections `applies` accepts, once each, comma-separated.
template <class Applies>
std::string layer_names(const Network& net, Applies applies) {
    std::vector<std::string> seen;
    std::string names;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections)
            if (applies(p) && std::find(seen.begin(), seen.end(), p.layer) == seen.end()) {
                seen.push_back(p.layer);
                names += (names.size() ? ", " : "") + p.layer;
            }
    return names;
}

} // namespace snn
