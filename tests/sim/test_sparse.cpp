// The sparse event kernel (sim/kinds/sparse_dense.cpp) against the dense
// kernel over the same weights with the pruned ones zeroed (snn::densify):
// every target gets the same additions in the same order, less the additions
// of zeros, so from a nonzero start the currents are equal bit for bit; the
// operations counted are the surviving synapses of the listed units only.
#include "sim/kernels.hpp"
#include "snn/sparse.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

using namespace snn;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("the sparse kernel gives the dense kernel's currents with the same zeros, bit for bit", "[sim][kernels][sparse]") {
    std::mt19937 rng(23);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> value(0.1f, 2.0f);
    // Widths below, at and past a vector, rows of several vectors and a tail, a source with 2-D shape.
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{1, 1, 1}, {1, 1, 1}},   {{1, 1, 37}, {1, 1, 13}}, {{3, 4, 5}, {1, 1, 150}},
        {{1, 1, 50}, {1, 1, 10}}, {{2, 2, 9}, {1, 1, 64}},  {{1, 1, 20}, {1, 1, 65}},
    };
    for (const auto& [src, dst] : shapes)
        for (double kept : {0.0, 0.1, 0.5, 0.9, 1.0}) {
            Projection dense;
            dense.source = 0;
            dense.kind = ProjectionKind::Dense;
            dense.layer = "fc";
            std::bernoulli_distribution keep_one(kept);
            std::vector<std::uint8_t> keep;
            for (std::int64_t k = 0; k < src.size() * dst.size(); ++k) {
                dense.weights.push_back(normal(rng));
                keep.push_back(keep_one(rng));
            }
            const Projection sparse = sparsify(dense, src, dst, keep);
            const Projection zeros = densify(sparse, src, dst);
            // Synapses per source unit, counted from the mask.
            std::vector<std::int64_t> fan_out(std::size_t(src.size()), 0);
            for (std::size_t k = 0; k < keep.size(); ++k) fan_out[k / std::size_t(dst.size())] += keep[k];
            for (double density : {0.0, 0.05, 0.4, 1.0}) {
                std::bernoulli_distribution spike(density);
                std::vector<std::int32_t> units;
                std::vector<float> values;
                std::int64_t want_ops = 0;
                for (std::int32_t i = 0; i < std::int32_t(src.size()); ++i)
                    if (spike(rng)) {
                        units.push_back(i);
                        values.push_back(value(rng));
                        want_ops += fan_out[std::size_t(i)];
                    }
                std::vector<float> start(std::size_t(dst.size()));
                for (float& x : start) x = value(rng);
                INFO(src.str() << " -> " << dst.str() << " kept " << kept << " density " << density);
                for (const bool analog : {false, true}) {
                    INFO((analog ? "values" : "spikes"));
                    const float* v = analog ? values.data() : nullptr;
                    std::vector<float> got = start;
                    CHECK(scatter(sparse, src, dst, units, v, got.data()) == want_ops);
                    // The engine's kernel object dispatches a sparse projection to the same kernel.
                    std::vector<float> via_kernel = start;
                    CHECK(ProjectionKernel(sparse, src, dst).scatter(sparse, units, v, via_kernel.data()) == want_ops);
                    CHECK(same_bits(via_kernel, got));
                    for (const FloatIsa isa : test::float_isas()) {
                        INFO("dense float ISA " << to_string(isa));
                        std::vector<float> ref = start;
                        CHECK(ProjectionKernel(zeros, src, dst, isa).scatter(zeros, units, v, ref.data()) ==
                              std::int64_t(units.size()) * dst.size());
                        CHECK(same_bits(got, ref));
                    }
                }
            }
        }
}
