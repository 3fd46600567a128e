// The integer kernels of quantized Dense projections (sim/quant_kernels.hpp)
// against their references: the exact dequantized sum rounded once (equal
// bit for bit) and the float kernel on the dequantized weights (within the
// float summation bound), on random shapes with tails, every scheme, both signs,
// with every instruction set's copy of the loops this CPU runs (tests/main.cpp
// says which it cannot).
#include "sim/quant_kernels.hpp"
#include "sim/sim_kind.hpp"
#include "snn/quant.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace snn;

namespace {

std::vector<QuantSpec> every_scheme() {
    std::vector<QuantSpec> specs;
    for (int k = 2; k <= 8; ++k) specs.push_back({QuantScheme::Int, k, false, 16, 4});
    specs.push_back({QuantScheme::Int, 4, true, 16, 4});
    specs.push_back({QuantScheme::Ternary, 8, false, 16, 4});
    specs.push_back({QuantScheme::Qsq, 8, false, 16, 4}); // one α per 16 weights of the fan-in
    specs.push_back({QuantScheme::Qsq, 8, false, 5, 2});  // vectors with a tail
    specs.push_back({QuantScheme::Qsq, 8, false, 0, 4});  // one α per output
    return specs;
}

// Current + sign · Σ_u scale·level, the products exact in double, summed over
// the fan-in's scale groups in double in group order, rounded once: the codes
// decoded here by snn::unpack_codes and snn::quant_level, not by the kernel.
std::vector<float> exact_reference(const Projection& p, std::int64_t n_in, std::int64_t n_out,
                                   const std::vector<std::int32_t>& units, int sign, std::vector<float> current) {
    const QuantWeights& q = p.quant;
    const std::vector<std::uint32_t> codes = unpack_codes(q.codes, q.bits, n_in * n_out);
    const std::int64_t groups = q.vector > 0 ? (n_in + q.vector - 1) / q.vector : 1;
    for (std::int64_t j = 0; j < n_out; ++j) {
        std::vector<std::int64_t> sum(std::size_t(groups), 0);
        for (const std::int32_t u : units) {
            const std::int64_t k = std::int64_t(u) * n_out + j;
            sum[std::size_t(q.vector > 0 ? u / q.vector : 0)] += quant_level(q.scheme, q.bits, codes[std::size_t(k)]);
        }
        double t = 0;
        for (std::int64_t g = 0; g < groups; ++g)
            t += double(q.scale[std::size_t(quant_group(g * std::max(q.vector, 1) * n_out + j, n_out, q.vector, n_in))]) *
                 double(sum[std::size_t(g)]);
        current[std::size_t(j)] += float(double(sign) * t);
    }
    return current;
}

} // namespace

TEST_CASE("integer kernels of quantized Dense layers equal the exact dequantized sum", "[quant_kernels]") {
    std::mt19937 rng(21);
    std::normal_distribution<float> weight(0.0f, 0.3f), initial(0.0f, 2.0f);
    std::bernoulli_distribution spikes(0.3);
    const std::int64_t ins[] = {1, 7, 17, 33, 100, 301};
    const std::int64_t outs[] = {1, 5, 19, 40};
    for (const QuantSpec& spec : every_scheme())
        for (const std::int64_t n_in : ins)
            for (const std::int64_t n_out : outs) {
                const Shape src{1, 1, int(n_in)}, dst{1, 1, int(n_out)};
                std::vector<float> w(std::size_t(n_in * n_out));
                for (float& x : w) x = weight(rng);
                Projection p = test::projection(0, ProjectionKind::Dense, {}, w, "d");
                quantize(p, dst, spec, "d");
                REQUIRE(quant_kernel_applies(p));
                std::vector<std::int32_t> units;
                for (std::int32_t u = 0; u < n_in; ++u)
                    if (spikes(rng)) units.push_back(u);
                std::vector<float> start(static_cast<std::size_t>(n_out));
                for (float& c : start) c = initial(rng);
                const std::vector<float> minus_ones(units.size(), -1.0f);
                for (const FloatIsa isa : test::float_isas()) {
                    const QuantDenseKernel kernel(p, src, dst, 1.0f, isa);
                    CHECK(kernel.shifts() == (spec.scheme == QuantScheme::Qsq));
                    QuantScratch scratch;
                    for (const int sign : {1, -1}) {
                        INFO(to_string(spec.scheme) << " bits " << spec.bits << " vector " << spec.vector << ", " << n_in
                                                    << " → " << n_out << ", sign " << sign << ", " << to_string(isa));
                        std::vector<float> got = start, flt = start;
                        const std::int64_t ops = kernel.accumulate(units, sign, scratch, got.data());
                        CHECK(got == exact_reference(p, n_in, n_out, units, sign, start));
                        // The float kernel on the dequantized weights: the same additions
                        // counted; each of its n additions and each weight's fl(scale·level)
                        // rounds once (relative 2^-24), the integer path twice: apart by at most
                        // (n + 3)·2^-24·(|current| + Σ|w|) to first order; (n + 4) bounds the rest.
                        CHECK(sim_kind(ProjectionKind::Dense)
                                  .scatter(p, src, dst, units, sign < 0 ? minus_ones.data() : nullptr, flt.data()) == ops);
                        for (std::int64_t j = 0; j < n_out; ++j) {
                            double mass = std::fabs(start[std::size_t(j)]);
                            for (const std::int32_t u : units) mass += std::fabs(p.weights[std::size_t(u * n_out + j)]);
                            const double bound = double(units.size() + 4) * std::ldexp(1.0, -24) * mass;
                            CHECK(std::fabs(double(got[std::size_t(j)]) - double(flt[std::size_t(j)])) <= bound);
                        }
                    }
                }
            }
}

TEST_CASE("integer kernels take int16 accumulators exactly where the worst case fits", "[quant_kernels]") {
    std::mt19937 rng(5);
    std::normal_distribution<float> weight(0.0f, 0.3f);
    // Worst case of one accumulator per step: max |level| · (units of its scale group).
    const auto wide = [&](const QuantSpec& spec, std::int64_t n_in) {
        const Shape src{1, 1, int(n_in)}, dst{1, 1, 3};
        std::vector<float> w(std::size_t(n_in * 3));
        for (float& x : w) x = weight(rng);
        w[0] = 10.0f; // the largest level is used: 127 for int:8, 4 for qsq, 1 for ternary
        Projection p = test::projection(0, ProjectionKind::Dense, {}, w, "d");
        quantize(p, dst, spec, "d");
        return QuantDenseKernel(p, src, dst).wide();
    };
    const QuantSpec int8{QuantScheme::Int, 8, false, 16, 4}, ternary{QuantScheme::Ternary, 8, false, 16, 4},
        qsq_row{QuantScheme::Qsq, 8, false, 0, 4}, qsq16{QuantScheme::Qsq, 8, false, 16, 4};
    CHECK_FALSE(wide(int8, 258)); // 127 · 258 = 32766
    CHECK(wide(int8, 259));       // 127 · 259 = 32893
    CHECK_FALSE(wide(qsq_row, 8191)); // 4 · 8191 = 32764
    CHECK(wide(qsq_row, 8192));
    CHECK_FALSE(wide(qsq16, 20000)); // groups of 16: 4 · 16
    CHECK_FALSE(wide(ternary, 20000));
}

TEST_CASE("snn run --quant-kernels chooses the quantized layers' kernels and the report says which",
          "[quant_kernels][cli]") {
    const test::TempDir dir("quantkern");
    const std::string plain = dir.file("tiny.snn.h5"), net = dir.file("q.snn.h5"), data = dir.file("data.h5"),
                      report = dir.file("r.json");
    test::tiny_network_and_data(plain, data);
    const std::string fixture = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    REQUIRE(test::snn_cli("convert " + test::quote(fixture) + " -o " + test::quote(net) + " --quantize qsq").status == 0);
    const std::string base = "run " + test::quote(net) + " --data " + test::quote(data) + " --steps 16 --no-dnn --report " +
                             test::quote(report);
    const auto kernels = [&](const std::string& flags) {
        const test::Outcome o = test::snn_cli(base + flags);
        REQUIRE(o.status == 0);
        return test::read_report(report)["execution"]["quant_kernels"].get<std::string>();
    };
    CHECK(kernels("") == "float");
    CHECK(kernels(" --quant-kernels integer") == "integer");
    CHECK(kernels(" --quant-kernels float") == "float");
    CHECK(kernels(" --kernels reference") == "float");
    CHECK(kernels(" --quant-kernels integer --no-layer-by-layer") == "integer");
    CHECK(kernels(" --quant-kernels integer --kernels reference") == "float");
    // The float network has no quantized layer.
    REQUIRE(test::snn_cli("run " + test::quote(plain) + " --data " + test::quote(data) + " --steps 4 --no-dnn --report " +
                          test::quote(report))
                .status == 0);
    CHECK(test::read_report(report)["execution"]["quant_kernels"] == "none");
    const test::Outcome bad = test::snn_cli(base + " --quant-kernels fixed");
    CHECK(bad.status != 0);
    CHECK_THAT(bad.err, Catch::Contains("quant-kernels 'fixed': expected integer or float"));
}
