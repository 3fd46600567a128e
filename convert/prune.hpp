#pragma once
// `snn convert --prune SPEC`: connectivity pruning after normalization
// (docs/pruning.md; paper 002's CP). SPEC is a list of entries, each a method
// for every Dense / Conv2D / DepthwiseConv2D layer, or LAYER=METHOD for one
// layer by its source-model name (which wins over the bare method):
//   random:R      round(R·n) of the layer's n weights removed, chosen
//                 uniformly without replacement by a stream keyed by
//                 (seed, population, projection)
//   magnitude:R   the round(R·n) weights of smallest |w| removed (ties: the
//                 lower index goes first)
// with 0 ≤ R < 1 (R = 0 leaves the layer as it is). A pruned Dense layer
// becomes a SparseDense projection (compressed sparse rows, snn/sparse.hpp);
// a pruned convolution keeps its kernel with zeros in it, and so does a pruned
// Dense layer that is quantized next (convert.cpp: a sparse layer of codes is
// not built).
#include "snn/network.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace snn {

enum class PruneMethod { Random, Magnitude };

struct PruneEntry {
    std::string layer; // empty: every layer not named by another entry
    PruneMethod method = PruneMethod::Random;
    double ratio = 0;  // the fraction of the layer's weights removed, 0 ≤ ratio < 1
    std::string text;  // as the user wrote it
    bool operator==(const PruneEntry&) const = default;
};

// Parses the entries of --prune; throws snn::OptionError naming the entry.
std::vector<PruneEntry> parse_prune(const std::vector<std::string>& entries);

// The weights pruning removes from n: ⌊ratio·n + 0.5⌋.
std::int64_t pruned_count(std::int64_t n, double ratio);

// Which of `weights` survive (1) a method at `ratio`; `stream` keys the random
// draws (prune_stream), unused by magnitude pruning.
std::vector<std::uint8_t> prune_mask(const std::vector<float>& weights, PruneMethod method, double ratio,
                                     std::uint64_t stream);
// The random stream of projection `projection` of population `population`.
std::uint64_t prune_stream(std::uint64_t seed, std::size_t population, std::size_t projection);

// Prunes the layers of the (normalized) network the entries name, appending
// what it did to `log`; throws OptionError for a named layer the network
// lacks or that cannot be pruned (binary or quantized). A pruned Dense
// projection for which `stays_dense` holds keeps its dense weights with the
// pruned ones 0 instead of becoming sparse rows.
void apply_prune(Network& net, const std::vector<PruneEntry>& entries, std::uint64_t seed, const std::string& model_path,
                 std::vector<std::string>& log, const std::function<bool(const Projection&)>& stays_dense = {});

} // namespace snn
