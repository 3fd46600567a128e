#pragma once
// Sparse (pruned) dense projections, kind SparseDense (docs/pruning.md): the
// surviving synapses of a Dense projection as compressed sparse rows of its
// (in, out) weight matrix, one row per source unit (snn::SparseRows).
#include "snn/network.hpp"

#include <cstdint>
#include <vector>

namespace snn {

// A Dense projection with only the synapses `keep` marks (one flag per weight,
// in the (in, out) order of p.weights) as a SparseDense projection.
Projection sparsify(const Projection& dense, const Shape& src, const Shape& dst, const std::vector<std::uint8_t>& keep);

// The Dense projection a SparseDense one stands for: every weight of the
// (in, out) matrix, 0 where a synapse was pruned (the dense reference).
Projection densify(const Projection& sparse, const Shape& src, const Shape& dst);

// The CSR fields agree with the shapes: one row per source unit plus one,
// starting at 0, never decreasing, ending at the synapse count; every target
// inside the destination, ascending within a row. Throws snn::ModelError
// naming the population, the layer and the offending value.
void check_sparse_rows(const Population& pop, const Projection& p, const Shape& src);

// Synapses a projection holds and the fraction of its full connectivity that
// is kept: a SparseDense projection's stored synapses over in·out; for every
// other weighted kind its nonzero weights over its weights (a pruned kernel
// keeps its zeros). 1 for a projection without weights.
std::int64_t kept_synapses(const Projection& p);
double connectivity(const Projection& p, const Shape& src, const Shape& dst);

// Bytes of the compressed sparse rows as stored: float32 values, int32 target
// indices and int64 row pointers.
std::int64_t sparse_bytes(const Projection& p);

} // namespace snn
