#include "convert/dnn_kind.hpp"

#include <Eigen/Core>

#include <algorithm>

SNN_KIND_REGISTRATION(convert, dense) {
    using namespace snn;
    register_dnn_kind({
        ProjectionKind::Dense,
        [](const Projection& p, const Shape& src, const Shape& dst, const float* in, float* out) {
            // out += Wᵀ·in with W stored (in, out) row-major = an (out × in) column-major map.
            Eigen::Map<const Eigen::MatrixXf> W(p.weights.data(), dst.size(), src.size());
            Eigen::Map<const Eigen::VectorXf> x(in, src.size());
            Eigen::Map<Eigen::VectorXf> y(out, dst.size());
            y.noalias() += W * x;
        },
        [](const Projection& p, const Shape& src, const Shape& dst, double ls, std::vector<double>&, std::vector<double>& unit) {
            const std::int64_t out = dst.size();
            for (std::int64_t i = 0; i < src.size(); ++i)
                for (std::int64_t j = 0; j < out; ++j)
                    unit[std::size_t(j)] += std::max(0.0f, p.weights[std::size_t(i * out + j)]) * ls;
            return true;
        },
        [](Projection& p, const Shape&, const Shape& dst, const std::vector<float>& ls, const std::vector<float>& lt) {
            // (in, out): source unit i is channel i mod Cs; target unit j is channel j mod Ct.
            const std::size_t n_out = std::size_t(dst.size()), Cs = ls.size(), Ct = lt.size();
            auto& w = p.weights;
            for (std::size_t k = 0; k < w.size(); ++k) w[k] = float(double(w[k]) * ls[(k / n_out) % Cs] / lt[(k % n_out) % Ct]);
        },
    });
}
