// SparseDense: a spike of source unit u adds only u's surviving synapses, the
// run [row_begin[u], row_begin[u+1]) of (target, weight), so a pruned layer
// costs the synapses it kept. Each target gets the same additions, in the
// same (ascending source) order, as the Dense kernel over the weights with
// the pruned ones zeroed, less the additions of zeros: the currents agree
// bit for bit up to the sign of a zero current (tests/sim/test_sparse.cpp).
#include "sim/sim_kind.hpp"

SNN_KIND_REGISTRATION(sim, sparse_dense) {
    using namespace snn;
    register_sim_kind({
        ProjectionKind::SparseDense,
        [](const Projection& p, const Shape&, const Shape&, std::span<const std::int32_t> units, const float* values,
           float* current) {
            const std::int64_t* row_begin = p.sparse.row_begin.data();
            const std::int32_t* __restrict target = p.sparse.target.data();
            const float* __restrict w = p.weights.data();
            std::int64_t ops = 0;
            for (std::size_t k = 0; k < units.size(); ++k) {
                const std::int64_t b = row_begin[units[k]], e = row_begin[units[k] + 1];
                if (values) {
                    const float a = values[k];
                    for (std::int64_t q = b; q < e; ++q) current[target[q]] += a * w[q];
                } else {
                    for (std::int64_t q = b; q < e; ++q) current[target[q]] += w[q];
                }
                ops += e - b;
            }
            return ops;
        },
    });
}
