// SparseDense: the DNN pass and normalization over the surviving synapses
// only (snn/sparse.hpp), the same sums as the Dense pass with the pruned
// weights zeroed.
#include "convert/dnn_kind.hpp"

#include <algorithm>

SNN_KIND_REGISTRATION(convert, sparse_dense) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::SparseDense,
        [](const Projection& p, const Shape& src, const Shape&, const float* in, float* out) {
            const SparseRows& s = p.sparse;
            for (std::int64_t i = 0; i < src.size(); ++i) {
                const float a = in[i];
                if (a == 0.0f) continue;
                for (std::int64_t q = s.row_begin[std::size_t(i)]; q < s.row_begin[std::size_t(i) + 1]; ++q)
                    out[s.target[std::size_t(q)]] += a * p.weights[std::size_t(q)];
            }
        },
        [](const Projection& p, const Shape&, const Shape&, double ls, std::vector<double>&, std::vector<double>& unit) {
            for (std::size_t q = 0; q < p.weights.size(); ++q)
                unit[std::size_t(p.sparse.target[q])] += std::max(0.0f, p.weights[q]) * ls;
            return true;
        },
        [](Projection& p, const Shape& src, const Shape&, const std::vector<float>& ls, const std::vector<float>& lt) {
            // Source unit i is channel i mod Cs; target unit j is channel j mod Ct (as Dense).
            const std::size_t Cs = ls.size(), Ct = lt.size();
            const SparseRows& s = p.sparse;
            for (std::int64_t i = 0; i < src.size(); ++i)
                for (std::int64_t q = s.row_begin[std::size_t(i)]; q < s.row_begin[std::size_t(i) + 1]; ++q) {
                    float& w = p.weights[std::size_t(q)];
                    w = float(double(w) * ls[std::size_t(i) % Cs] / lt[std::size_t(s.target[std::size_t(q)]) % Ct]);
                }
        },
    });
}
