// SparseDense: a pruned Dense projection holding only its surviving synapses
// as compressed sparse rows, one row per source unit (snn/sparse.hpp); its
// weights are the synapses' values in row order.
#include "snn/kind.hpp"
#include "snn/sparse.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(snn, sparse_dense) {
    using namespace snn;
    register_kind({
        ProjectionKind::SparseDense, "sparse_dense", false,
        [](const Projection& p, const Shape&, const Shape&) { return std::int64_t(p.sparse.target.size()); },
        [](const Projection& p, const Shape&, const Shape&) {
            return std::vector<std::uint64_t>{std::uint64_t(p.sparse.target.size())};
        },
        [](const Population& pop, const Projection& p, const Shape& src) { check_sparse_rows(pop, p, src); },
        // A pruned DNN multiplies only the weights it kept.
        [](const Projection& p, const Shape&, const Shape&) { return std::int64_t(p.sparse.target.size()); },
        8,
        // The most synapses a target unit receives.
        [](const Projection& p, const Shape&) {
            std::vector<std::int64_t> in;
            for (const std::int32_t t : p.sparse.target) {
                if (std::size_t(t) >= in.size()) in.resize(std::size_t(t) + 1, 0);
                ++in[std::size_t(t)];
            }
            return in.empty() ? std::int64_t(0) : *std::max_element(in.begin(), in.end());
        },
    });
}
