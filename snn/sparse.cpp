#include "snn/sparse.hpp"

#include "snn/error.hpp"
#include "snn/kind.hpp"

#include <algorithm>
#include <limits>

namespace snn {

Projection sparsify(const Projection& dense, const Shape& src, const Shape& dst, const std::vector<std::uint8_t>& keep) {
    if (dense.kind != ProjectionKind::Dense || dense.binary || dense.quant.scheme != QuantScheme::None)
        throw InternalError("sparsify: layer '" + dense.layer + "' is not a float dense projection");
    const std::int64_t n_in = src.size(), n_out = dst.size();
    if (std::int64_t(dense.weights.size()) != n_in * n_out || keep.size() != dense.weights.size())
        throw InternalError("sparsify: layer '" + dense.layer + "': weights, mask and shapes disagree");
    if (n_out > std::numeric_limits<std::int32_t>::max())
        throw ModelError("", dense.layer, "layer '" + dense.layer + "' has " + std::to_string(n_out) +
                                              " outputs, more than a sparse projection indexes (2^31 - 1)");
    Projection s;
    s.source = dense.source;
    s.kind = ProjectionKind::SparseDense;
    s.layer = dense.layer;
    s.idp_profile = dense.idp_profile; // γ is folded into the weights already; run-time IDP slices the rows
    s.idp_gamma = dense.idp_gamma;
    s.sparse.row_begin.reserve(std::size_t(n_in) + 1);
    s.sparse.row_begin.push_back(0);
    for (std::int64_t i = 0; i < n_in; ++i) {
        for (std::int64_t j = 0; j < n_out; ++j) {
            const std::size_t k = std::size_t(i * n_out + j);
            if (!keep[k]) continue;
            s.sparse.target.push_back(std::int32_t(j));
            s.weights.push_back(dense.weights[k]);
        }
        s.sparse.row_begin.push_back(std::int64_t(s.weights.size()));
    }
    return s;
}

Projection densify(const Projection& sparse, const Shape& src, const Shape& dst) {
    if (sparse.kind != ProjectionKind::SparseDense) throw InternalError("densify: layer '" + sparse.layer + "' is not sparse");
    const std::int64_t n_in = src.size(), n_out = dst.size();
    Projection d;
    d.source = sparse.source;
    d.kind = ProjectionKind::Dense;
    d.layer = sparse.layer;
    d.idp_profile = sparse.idp_profile;
    d.idp_gamma = sparse.idp_gamma;
    d.weights.assign(std::size_t(n_in * n_out), 0.0f);
    for (std::int64_t i = 0; i < n_in; ++i)
        for (std::int64_t q = sparse.sparse.row_begin[std::size_t(i)]; q < sparse.sparse.row_begin[std::size_t(i) + 1]; ++q)
            d.weights[std::size_t(i * n_out + sparse.sparse.target[std::size_t(q)])] = sparse.weights[std::size_t(q)];
    return d;
}

void check_sparse_rows(const Population& pop, const Projection& p, const Shape& src) {
    const auto bad = [&](const std::string& what) {
        return ModelError("", p.layer, "population '" + pop.name + "': sparse layer '" + p.layer + "': " + what);
    };
    const SparseRows& s = p.sparse;
    const std::int64_t n_in = src.size(), n_out = pop.shape.size();
    if (std::int64_t(s.row_begin.size()) != n_in + 1)
        throw bad("row_begin has " + std::to_string(s.row_begin.size()) + " entries, expected " + std::to_string(n_in + 1) +
                  " (source units + 1)");
    if (s.row_begin.front() != 0) throw bad("row_begin[0] is " + std::to_string(s.row_begin.front()) + ", expected 0");
    for (std::int64_t i = 0; i < n_in; ++i)
        if (s.row_begin[std::size_t(i) + 1] < s.row_begin[std::size_t(i)])
            throw bad("row_begin decreases at source unit " + std::to_string(i) + " (" +
                      std::to_string(s.row_begin[std::size_t(i)]) + " then " + std::to_string(s.row_begin[std::size_t(i) + 1]) +
                      ")");
    if (s.row_begin.back() != std::int64_t(s.target.size()))
        throw bad("row_begin ends at " + std::to_string(s.row_begin.back()) + " but there are " +
                  std::to_string(s.target.size()) + " synapses");
    for (std::int64_t i = 0; i < n_in; ++i)
        for (std::int64_t q = s.row_begin[std::size_t(i)]; q < s.row_begin[std::size_t(i) + 1]; ++q) {
            const std::int32_t t = s.target[std::size_t(q)];
            if (t < 0 || t >= n_out)
                throw bad("synapse " + std::to_string(q) + " of source unit " + std::to_string(i) + " targets unit " +
                          std::to_string(t) + ", outside the " + std::to_string(n_out) + " units of the population");
            if (q > s.row_begin[std::size_t(i)] && t <= s.target[std::size_t(q) - 1])
                throw bad("the targets of source unit " + std::to_string(i) + " do not ascend (" +
                          std::to_string(s.target[std::size_t(q) - 1]) + " then " + std::to_string(t) + ")");
        }
}

std::int64_t kept_synapses(const Projection& p) {
    if (p.kind == ProjectionKind::SparseDense) return std::int64_t(p.sparse.target.size());
    return std::int64_t(std::count_if(p.weights.begin(), p.weights.end(), [](float w) { return w != 0.0f; }));
}

double connectivity(const Projection& p, const Shape& src, const Shape& dst) {
    if (p.kind == ProjectionKind::SparseDense) {
        const std::int64_t full = src.size() * dst.size();
        return full > 0 ? double(p.sparse.target.size()) / double(full) : 1.0;
    }
    if (p.weights.empty()) return 1.0;
    return double(kept_synapses(p)) / double(p.weights.size());
}

std::int64_t sparse_bytes(const Projection& p) {
    return std::int64_t(p.weights.size() * sizeof(float) + p.sparse.target.size() * sizeof(std::int32_t) +
                        p.sparse.row_begin.size() * sizeof(std::int64_t));
}

} // namespace snn
