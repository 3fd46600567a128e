// Quantized weights (snn/quant.hpp): the codes of the quality-scalable
// paper's Table II, K-bit symmetric levels, the ternary threshold of its
// eq. 4, packing round trips and bit positions, each quantizer on hand-worked
// weight vectors, the .snn.h5 round trip, and corrupt files.
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"
#include "snn/quant.hpp"
#include "snn/binary.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

Network one_dense(int in, int out, std::vector<float> w) {
    Network net;
    net.populations.push_back(input({1, 1, in}));
    Population pop;
    pop.name = "dense";
    pop.shape = {1, 1, out};
    pop.bias.assign(std::size_t(out), 0.0f);
    pop.projections.push_back(projection(0, ProjectionKind::Dense, {}, std::move(w), "dense"));
    net.populations.push_back(std::move(pop));
    return net;
}

QuantSpec spec(QuantScheme s, int bits = 8, int vector = 16, int levels = 4, bool l1 = false) {
    QuantSpec q;
    q.scheme = s;
    q.bits = bits;
    q.vector = vector;
    q.levels = levels;
    q.l1 = l1;
    return q;
}

} // namespace

TEST_CASE("qsq codes stand for the levels of Table II; 111 stands for none", "[quant]") {
    const int table[7] = {0, 1, 2, 4, -1, -2, -4}; // 000 001 010 011 100 101 110
    for (std::uint32_t c = 0; c < 7; ++c) {
        CHECK(quant_level(QuantScheme::Qsq, 3, c) == table[c]);
        CHECK(quant_code(QuantScheme::Qsq, 3, table[c]) == c);
    }
    CHECK_THROWS_WITH(quant_level(QuantScheme::Qsq, 3, 7), Contains("111"));
}

TEST_CASE("int:K codes are K-bit two's complement in -(2^(K-1)-1) .. 2^(K-1)-1", "[quant]") {
    CHECK(quant_level(QuantScheme::Int, 4, 0b0111) == 7);
    CHECK(quant_level(QuantScheme::Int, 4, 0b1001) == -7);
    CHECK(quant_level(QuantScheme::Int, 4, 0b1111) == -1);
    CHECK_THROWS(quant_level(QuantScheme::Int, 4, 0b1000)); // -8: outside the symmetric range
    CHECK(quant_level(QuantScheme::Ternary, 2, 0b11) == -1);
    CHECK(quant_level(QuantScheme::Ternary, 2, 0b01) == 1);
    CHECK_THROWS(quant_level(QuantScheme::Ternary, 2, 0b10));
    CHECK_THROWS(quant_level(QuantScheme::Int, 9, 0)); // K = 2 … 8
    for (int k = 2; k <= 8; ++k) {
        const int q = (1 << (k - 1)) - 1;
        for (int l = -q; l <= q; ++l) CHECK(quant_level(QuantScheme::Int, k, quant_code(QuantScheme::Int, k, l)) == l);
    }
}

TEST_CASE("codes pack little-endian into words, across word boundaries, and unpack back", "[quant]") {
    // Codes 1, 2, 3 of 3 bits: 1 | 2 << 3 | 3 << 6 = 209.
    const std::vector<std::uint32_t> three = {1, 2, 3};
    CHECK(pack_codes(three, 3) == std::vector<std::uint64_t>{209});
    // 22 codes of 3 bits take 66 bits: code 21 starts at bit 63 and straddles the two words.
    std::vector<std::uint32_t> c(22, 0);
    c[21] = 0b101;
    const auto w = pack_codes(c, 3);
    REQUIRE(w.size() == 2);
    CHECK(w[0] == std::uint64_t(1) << 63);
    CHECK(w[1] == 0b10);
    CHECK(unpack_codes(w, 3, 22) == c);
    std::mt19937 rng(11);
    for (int bits = 2; bits <= 8; ++bits)
        for (const int n : {1, 7, 31, 32, 33, 64, 1000}) {
            std::vector<std::uint32_t> codes(static_cast<std::size_t>(n));
            for (auto& x : codes) x = std::uint32_t(rng()) & ((1u << bits) - 1);
            const auto words = pack_codes(codes, bits);
            CHECK(std::int64_t(words.size()) == (std::int64_t(n) * bits + 63) / 64);
            CHECK(unpack_codes(words, bits, n) == codes);
        }
    CHECK_THROWS(unpack_codes(std::vector<std::uint64_t>{0}, 8, 9)); // 72 bits in a 64-bit word
}

TEST_CASE("int:K with the max rule: one step max|w|/Q per output, levels rounded", "[quant]") {
    // Dense 3 inputs × 2 outputs, weights (in, out): output 0 reads 0.7, -1.2, 0.1; output 1 reads 2.0, 0.9, -0.3.
    Network net = one_dense(3, 2, {0.7f, 2.0f, -1.2f, 0.9f, 0.1f, -0.3f});
    Projection& p = net.populations[1].projections[0];
    quantize(p, {1, 1, 2}, spec(QuantScheme::Int, 3), "t");
    // Q = 3: steps 0.4 and 2/3. Output 0: 1.75 → 2, -3, 0.25 → 0; output 1: 3, 1.35 → 1, -0.45 → 0.
    REQUIRE(p.quant.scale.size() == 2);
    CHECK(p.quant.scale[0] == Approx(0.4f));
    CHECK(p.quant.scale[1] == Approx(2.0f / 3));
    const std::vector<float> want = {2 * p.quant.scale[0], 3 * p.quant.scale[1], -3 * p.quant.scale[0],
                                     1 * p.quant.scale[1], 0.0f, 0.0f};
    CHECK(p.weights == want);
    CHECK(p.quant.bits == 3);
    CHECK(p.quant.codes.size() == 1); // 18 bits
}

TEST_CASE("int:K with the l1 rule refits the step to its codes (least squares)", "[quant]") {
    // One output, weights 4, 4, 4, 6 at 2 bits (Q = 1). The max rule: step 6, levels 1 1 1 1 (4/6 → 1).
    // The fit: (4+4+4+6)/4 = 4.5 (Σw·l/Σl²), levels stay 1 1 1 1: step 4.5, squared
    // error 3·0.25 + 2.25 = 3 against 3·4 = 12 of the max rule.
    Network net = one_dense(4, 1, {4.0f, 4.0f, 4.0f, 6.0f});
    Projection& p = net.populations[1].projections[0];
    Projection m = p;
    quantize(m, {1, 1, 1}, spec(QuantScheme::Int, 2), "t");
    CHECK(m.quant.scale[0] == Approx(6.0f));
    quantize(p, {1, 1, 1}, spec(QuantScheme::Int, 2, 16, 4, true), "t");
    CHECK(p.quant.scale[0] == Approx(4.5f));
    CHECK(p.weights == std::vector<float>(4, p.quant.scale[0]));
}

TEST_CASE("the ternary threshold maximizes (sum of kept |w|)^2 / kept (eq. 4)", "[quant]") {
    // |w| = 4, 3, 1, 0.5: k = 1: 16, k = 2: 49/2 = 24.5, k = 3: 64/3 ≈ 21.3, k = 4: 72.25/4 ≈ 18.1.
    TernaryCut c = ternary_cut({1.0f, 4.0f, 0.5f, 3.0f});
    CHECK(c.kept == 2);
    CHECK(c.alpha == Approx(3.5f));
    // Ties cannot be split by a threshold: |w| = 2, 2, 1: k = 2: 16/2 = 8, k = 3: 25/3 ≈ 8.3.
    c = ternary_cut({2.0f, 2.0f, 1.0f});
    CHECK(c.kept == 3);
    CHECK(c.alpha == Approx(5.0f / 3));
    // Zeros are never kept (Δ > 0).
    c = ternary_cut({0.0f, 0.0f, 1.0f});
    CHECK(c.kept == 1);
    Network net = one_dense(4, 1, {4.0f, -3.0f, 1.0f, -0.5f});
    Projection& p = net.populations[1].projections[0];
    quantize(p, {1, 1, 1}, spec(QuantScheme::Ternary), "t");
    CHECK(p.weights == std::vector<float>{3.5f, -3.5f, 0.0f, 0.0f});
    CHECK(p.quant.bits == 2);
}

TEST_CASE("qsq: eq. 9's alpha, then nearest levels and least-squares alpha (eq. 5) per vector", "[quant]") {
    // One vector of 4: w = 1.0, -0.5, 2.1, 0.05, Ø = 4. Eq. 9: α = 3.65 / 16 = 0.228125;
    // nearest levels 4, -2, 4, 0; α = (4 + 1 + 8.4) / 36 = 0.3722…; levels 2, -1, 4, 0;
    // α = (2 + 0.5 + 8.4) / 21 = 0.519…; levels 2, -1, 4, 0 again: the fixed point.
    Network net = one_dense(4, 1, {1.0f, -0.5f, 2.1f, 0.05f});
    Projection& p = net.populations[1].projections[0];
    quantize(p, {1, 1, 1}, spec(QuantScheme::Qsq, 8, 4), "t");
    REQUIRE(p.quant.scale.size() == 1);
    const float a = p.quant.scale[0];
    CHECK(a == Approx(10.9 / 21).epsilon(1e-6));
    CHECK(p.weights == std::vector<float>{2 * a, -1 * a, 4 * a, 0.0f});
    // Codes: 010 (2), 100 (-1), 011 (4), 000 (0).
    CHECK(unpack_codes(p.quant.codes, 3, 4) == std::vector<std::uint32_t>{2, 4, 3, 0});
    // Ø = 1: levels {0, ±1} only. Eq. 9: α = 3.65 / 4 = 0.9125: levels 1, -1, 1, 0; α = 3.6 / 3 = 1.2:
    // levels 1, 0, 1, 0 (-0.5 / 1.2 is nearer 0); α = 3.1 / 2 = 1.55: the same levels, the fixed point
    // (squared error 0.8575, against 1.3425 at α = 1.2).
    Projection q = net.populations[1].projections[0];
    q.weights = {1.0f, -0.5f, 2.1f, 0.05f};
    q.quant = {};
    quantize(q, {1, 1, 1}, spec(QuantScheme::Qsq, 8, 4, 1), "t");
    CHECK(q.quant.scale[0] == Approx(1.55f));
    CHECK(q.weights == std::vector<float>{q.quant.scale[0], 0.0f, q.quant.scale[0], 0.0f});
}

TEST_CASE("qsq vectors run along one output's fan-in; the last may be shorter", "[quant]") {
    // Conv2D 3×3 over 2 channels into 3: fan-in 18, vectors of 8: 8, 8, 2 → 3 per output, 9 scales.
    const Shape src{5, 5, 2}, dst{3, 3, 3};
    std::mt19937 rng(4);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> w(3 * 3 * 2 * 3);
    for (auto& x : w) x = d(rng);
    Projection p = projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 0, 0}, w, "c");
    quantize(p, dst, spec(QuantScheme::Qsq, 8, 8), "t");
    CHECK(p.quant.scale.size() == 9);
    CHECK(quant_groups(54, 3, 8) == 9);
    // Weight k feeds output k % 3 and is input k / 3 of its fan-in.
    CHECK(quant_group(0, 3, 8, 18) == 0);
    CHECK(quant_group(3 * 8, 3, 8, 18) == 1);       // input 8 of output 0
    CHECK(quant_group(3 * 17 + 2, 3, 8, 18) == 8);  // input 17 of output 2: its third vector
    // Every weight is its vector's α times a level of Table II.
    for (std::size_t k = 0; k < w.size(); ++k) {
        const float a = p.quant.scale[std::size_t(quant_group(std::int64_t(k), 3, 8, 18))];
        const float l = a > 0 ? p.weights[k] / a : 0.0f;
        CHECK((l == 0 || l == 1 || l == 2 || l == 4 || l == -1 || l == -2 || l == -4));
    }
    CHECK(dequantize(p, src, dst) == p.weights);
}

TEST_CASE("a quantized network saves codes and scales, not floats, and loads back equal", "[quant][io]") {
    TempDir dir("quant-io");
    std::mt19937 rng(6);
    std::normal_distribution<float> d(0.0f, 0.3f);
    for (const QuantSpec& s : {spec(QuantScheme::Int, 4), spec(QuantScheme::Ternary), spec(QuantScheme::Qsq, 8, 16),
                               spec(QuantScheme::Qsq, 8, 0, 2), spec(QuantScheme::Int, 8, 16, 4, true)}) {
        std::vector<float> w(70 * 5);
        for (auto& x : w) x = d(rng);
        Network net = one_dense(70, 5, w);
        quantize(net.populations[1].projections[0], {1, 1, 5}, s, "dense");
        const std::string path = dir.file("q.snn.h5");
        save(net, path);
        const Network back = load(path);
        CHECK(back == net);
        h5::Node f = h5::open_file(path);
        CHECK(h5::read_int_attr(f, "format_version") == 7);
        const h5::Node pg = h5::open_group(f, "populations/001/projections/000");
        CHECK(h5::exists(pg, "codes"));
        CHECK_FALSE(h5::exists(pg, "weights"));
        // Bytes: ⌈350·bits/64⌉ words and one float per scale.
        const Projection& p = net.populations[1].projections[0];
        const std::int64_t words = (350 * p.quant.bits + 63) / 64;
        const std::int64_t scales = s.scheme == QuantScheme::Qsq && s.vector > 0 ? 5 * 5 /* ⌈70/16⌉ per output */ : 5;
        CHECK(std::int64_t(p.quant.scale.size()) == scales);
        CHECK(weight_bytes(p) == words * 8 + scales * 4);
    }
}

TEST_CASE("the loader refuses corrupt quantized weights naming the file and layer", "[quant][io]") {
    TempDir dir("quant-bad");
    Network net = one_dense(4, 1, {1.0f, -0.5f, 2.1f, 0.05f});
    quantize(net.populations[1].projections[0], {1, 1, 1}, spec(QuantScheme::Qsq, 8, 4), "dense");
    const auto rewrite = [&](const std::string& name, auto&& edit) {
        const std::string path = dir.file(name);
        save(net, path);
        const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(fid >= 0);
        const hid_t gid = H5Gopen2(fid, "populations/001/projections/000", H5P_DEFAULT);
        edit(gid);
        H5Gclose(gid);
        H5Fclose(fid);
        return path;
    };
    // Code 111 (no level) in the first weight.
    const std::string seven = rewrite("seven.snn.h5", [&](hid_t gid) {
        std::vector<std::uint64_t> codes = net.populations[1].projections[0].quant.codes;
        codes[0] |= 0b111;
        const hid_t d = H5Dopen2(gid, "codes", H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, codes.data());
        H5Dclose(d);
    });
    CHECK_THROWS_WITH(load(seven), Contains(seven) && Contains("dense") && Contains("111"));
    // A bit width the scheme does not have.
    const std::string bits = rewrite("bits.snn.h5", [&](hid_t gid) {
        const std::int64_t v = 5;
        const hid_t a = H5Aopen(gid, "quant_bits", H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT64, &v);
        H5Aclose(a);
    });
    CHECK_THROWS_WITH(load(bits), Contains(bits) && Contains("5 bits"));
    // Fewer scales than vectors.
    const std::string scales = rewrite("scales.snn.h5", [&](hid_t gid) {
        H5Ldelete(gid, "scale", H5P_DEFAULT);
        const hsize_t two = 2;
        const float v[2] = {1.0f, 1.0f};
        const hid_t space = H5Screate_simple(1, &two, nullptr);
        const hid_t d = H5Dcreate2(gid, "scale", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
        H5Sclose(space);
    });
    CHECK_THROWS_WITH(load(scales), Contains(scales) && Contains("2 scales") && Contains("expected 1 and 1"));
}
