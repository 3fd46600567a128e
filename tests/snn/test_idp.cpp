// Incomplete dot products (snn/idp.hpp): the profiles of 003 section II-B by
// hand, the setting's grammar, γ folded into the weights, the channels a
// network keeps at P % worked out by hand, and the profile in the file.
#include "convert/convert.hpp"
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "convert/normalize.hpp"
#include "convert/quantize.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/idp.hpp"
#include "snn/network_io.hpp"
#include "snn/quant.hpp"
#include "snn/sparse.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace snn;
using Catch::Matchers::Contains;

namespace {

// input (1,1,2) → h1 dense 4 → h2 dense 3 → out dense 2, all IF.
//   W1 = [[1,0,0,1],[0,1,1,0]]     (in, out)
//   W2 = all ones (4, 3), bias h2 = (0.5, 0.25, 9)
//   W3 = class 0 ones, class 1 twos (3, 2)
Network chain() {
    Network net;
    net.populations.push_back(test::input({1, 1, 2}));
    Population h1;
    h1.name = "h1";
    h1.shape = {1, 1, 4};
    h1.projections.push_back({0, ProjectionKind::Dense, {}, {1, 0, 0, 1, 0, 1, 1, 0}, "h1"});
    h1.bias = {0, 0, 0, 0};
    net.populations.push_back(h1);
    Population h2;
    h2.name = "h2";
    h2.shape = {1, 1, 3};
    h2.projections.push_back({1, ProjectionKind::Dense, {}, std::vector<float>(12, 1.0f), "h2"});
    h2.bias = {0.5f, 0.25f, 9.0f};
    net.populations.push_back(h2);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 2};
    out.projections.push_back({2, ProjectionKind::Dense, {}, {1, 2, 1, 2, 1, 2}, "out"});
    out.bias = {0, 0};
    net.populations.push_back(out);
    validate(net);
    return net;
}

} // namespace

TEST_CASE("IDP profiles are 003's formulas (section II-B), worked out by hand", "[idp]") {
    using Catch::Detail::Approx;
    const auto all_one = idp_coefficients(IdpProfile::AllOne, 4);
    CHECK(all_one == std::vector<float>{1, 1, 1, 1});
    // harmonic γ_i = 1/i
    const auto harmonic = idp_coefficients(IdpProfile::Harmonic, 4);
    CHECK(harmonic == std::vector<float>{1.0f, 0.5f, float(1.0 / 3), 0.25f});
    // linear γ_i = 1 − i/N: the last channel weighs 0
    CHECK(idp_coefficients(IdpProfile::Linear, 4) == std::vector<float>{0.75f, 0.5f, 0.25f, 0.0f});
    CHECK(idp_coefficients(IdpProfile::Linear, 1) == std::vector<float>{0.0f});
    // half-exp, N = 4: i < 2 → 1; else exp(2 − i − 1): e^−1, e^−2, e^−3
    const auto half4 = idp_coefficients(IdpProfile::HalfExp, 4);
    REQUIRE(half4.size() == 4);
    CHECK(half4[0] == 1.0f);
    CHECK(half4[1] == Approx(0.36787944));
    CHECK(half4[2] == Approx(0.13533528));
    CHECK(half4[3] == Approx(0.04978707));
    // N = 5: i < 2.5 → 1 for i = 1, 2; then exp(2.5 − i − 1) = e^−1.5, e^−2.5, e^−3.5
    const auto half5 = idp_coefficients(IdpProfile::HalfExp, 5);
    CHECK(half5[0] == 1.0f);
    CHECK(half5[1] == 1.0f);
    CHECK(half5[2] == Approx(0.22313016));
    CHECK(half5[3] == Approx(0.08208500));
    CHECK(half5[4] == Approx(0.03019738));
    for (auto p : {IdpProfile::AllOne, IdpProfile::Harmonic, IdpProfile::Linear, IdpProfile::HalfExp}) {
        CHECK(idp_profile_from(to_string(p)) == p);
        const auto g = idp_coefficients(p, 37);
        for (std::size_t i = 1; i < g.size(); ++i) CHECK(g[i] <= g[i - 1]); // non-increasing
    }
    CHECK_THROWS_WITH(idp_profile_from("cosine"), Contains("idp-profile 'cosine'") && Contains("all-one, harmonic, linear or half-exp"));
}

TEST_CASE("IDP settings: P, LAYER=P and the channels kept, ⌈P·N/100⌉", "[idp]") {
    CHECK(parse_idp("50").percent == 50);
    CHECK(parse_idp("50").layers.empty());
    const IdpSetting s = parse_idp("60,h2=50,out=12.5");
    CHECK(s.percent == 60);
    REQUIRE(s.layers.size() == 2);
    CHECK(s.layers[0] == std::pair<std::string, double>{"h2", 50});
    CHECK(s.layers[1] == std::pair<std::string, double>{"out", 12.5});
    CHECK(parse_idp(s.str()) == s);
    CHECK(parse_idp("h2=50").percent == 100);
    CHECK(parse_idp("h2=50").str() == "h2=50");
    for (const char* bad : {"", "0", "-5", "100.5", "150", "abc", "nan", "inf", "50,60", "=50", "h2=50,h2=60", "h2=", "50%", "50,"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_idp(bad), OptionError);
    }
    CHECK_THROWS_WITH(parse_idp("0"), Contains("idp '0'") && Contains("(0, 100]"));
    CHECK(idp_channels(50, 10) == 5);
    CHECK(idp_channels(60, 512) == 308); // 307.2 up
    CHECK(idp_channels(50, 3) == 2);     // 1.5 up
    CHECK(idp_channels(1, 10) == 1);
    CHECK(idp_channels(100, 7) == 7);
    CHECK(idp_channels(0.001, 4) == 1); // never none
}

TEST_CASE("attaching a profile folds γ into the input channels of every layer but the first", "[idp]") {
    Network net = chain();
    const auto layers = attach_idp_profile(net, IdpProfile::Linear, "test");
    CHECK(layers == std::vector<std::string>{"h2", "out"});
    CHECK(net.populations[1].projections[0].idp_gamma.empty()); // the first layer reads every pixel
    const Projection& p2 = net.populations[2].projections[0];
    CHECK(p2.idp_profile == "linear");
    CHECK(p2.idp_gamma == std::vector<float>{0.75f, 0.5f, 0.25f, 0.0f});
    // Row c of W2 (source unit c) times γ_c.
    CHECK(p2.weights == std::vector<float>{0.75f, 0.75f, 0.75f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0, 0, 0});
    const Projection& p3 = net.populations[3].projections[0];
    // γ over h2's 3 channels: 2/3, 1/3, 0.
    const std::vector<double> w3 = {2.0 / 3, 4.0 / 3, 1.0 / 3, 2.0 / 3, 0, 0};
    REQUIRE(p3.weights.size() == w3.size());
    for (std::size_t k = 0; k < w3.size(); ++k) CHECK(p3.weights[k] == Catch::Detail::Approx(w3[k]).margin(1e-7));
    CHECK_THROWS_WITH(attach_idp_profile(net, IdpProfile::Linear, "again"), Contains("already has the IDP profile linear"));

    // Conv2D: γ over the kernel's input channels (kh, kw, cin, cout).
    Network conv;
    conv.populations.push_back(test::input({3, 3, 1}));
    Population a;
    a.name = "a";
    a.shape = {3, 3, 2};
    a.projections.push_back({0, ProjectionKind::Conv2D, {1, 1, 1, 1, 0, 0}, {1, 1}, "a"});
    conv.populations.push_back(a);
    Population b;
    b.name = "b";
    b.shape = {3, 3, 2};
    b.projections.push_back({1, ProjectionKind::Conv2D, {1, 1, 1, 1, 0, 0}, {1, 2, 3, 4}, "b"});
    conv.populations.push_back(b);
    validate(conv);
    attach_idp_profile(conv, IdpProfile::Harmonic, "test");
    CHECK(conv.populations[2].projections[0].weights == std::vector<float>{1, 2, 1.5f, 2}); // cin 1 halved
}

TEST_CASE("IDP at 50 % keeps the channels worked out by hand and computes the truncated sums", "[idp]") {
    using Catch::Detail::Approx;
    Network net = chain();
    attach_idp_profile(net, IdpProfile::Linear, "test");
    const float x[2] = {1, 2};
    // Full network: h1 = (1, 2, 2, 1); h2_j = 0.75·1 + 0.5·2 + 0.25·2 + 0·1 + bias = 2.25 + (0.5, 0.25, 9);
    // out = (2/3·2.75 + 1/3·2.5 + 0·11.25)·(1, 2) = (2.6667, 5.3333).
    const auto full = forward(net, x);
    CHECK(full[2] == std::vector<float>{2.75f, 2.5f, 11.25f});
    CHECK(full[3][0] == Approx(2.0 / 3 * 2.75 + 1.0 / 3 * 2.5));
    CHECK(full[3][1] == Approx(2 * (2.0 / 3 * 2.75 + 1.0 / 3 * 2.5)));

    // 50 %: h2 reads ⌈0.5·4⌉ = 2 channels of h1, so h1 computes 2; out reads
    // ⌈0.5·3⌉ = 2 of h2, so h2 computes 2; out produces both classes.
    const Network half = apply_idp(net, parse_idp("50"));
    CHECK(half.populations[0].shape.c == 2);
    CHECK(half.populations[1].shape.c == 2);
    CHECK(half.populations[2].shape.c == 2);
    CHECK(half.populations[3].shape.c == 2);
    CHECK(half.populations[1].projections[0].weights == std::vector<float>{1, 0, 0, 1}); // W1[:, :2]
    CHECK(half.populations[2].projections[0].weights == std::vector<float>{0.75f, 0.75f, 0.5f, 0.5f});
    CHECK(half.populations[2].bias == std::vector<float>{0.5f, 0.25f});
    CHECK(half.populations[2].projections[0].idp_gamma == std::vector<float>{0.75f, 0.5f});
    // h1 = (1, 2); h2 = 0.75·1 + 0.5·2 + (0.5, 0.25) = (2.25, 2); out = (2/3·2.25 + 1/3·2)·(1, 2).
    const auto a = forward(half, x);
    CHECK(a[1] == std::vector<float>{1, 2});
    CHECK(a[2] == std::vector<float>{2.25f, 2.0f});
    CHECK(a[3][0] == Approx(2.0 / 3 * 2.25 + 1.0 / 3 * 2.0));
    CHECK(a[3][1] == Approx(2 * (2.0 / 3 * 2.25 + 1.0 / 3 * 2.0)));

    // Per layer: h2 at 25 % reads 1 channel of h1; out at 100 % reads all 3 of h2.
    const Network mixed = apply_idp(net, parse_idp("h2=25"));
    CHECK(mixed.populations[1].shape.c == 1);
    CHECK(mixed.populations[2].shape.c == 3);
    CHECK(mixed.populations[2].projections[0].weights == std::vector<float>{0.75f, 0.75f, 0.75f});
    // 100 % is the network itself.
    CHECK(apply_idp(net, parse_idp("100")) == net);
}

TEST_CASE("IDP through a flatten keeps whole channels of the source", "[idp]") {
    // input (2,2,1) → a conv 1×1, 4 channels → d dense 2, reading a flattened 2×2×4.
    Network net;
    net.populations.push_back(test::input({2, 2, 1}));
    Population a;
    a.name = "a";
    a.shape = {2, 2, 4};
    a.projections.push_back({0, ProjectionKind::Conv2D, {1, 1, 1, 1, 0, 0}, {1, 2, 3, 4}, "a"});
    a.bias = {0, 0, 0, 0};
    net.populations.push_back(a);
    Population d;
    d.name = "d";
    d.shape = {1, 1, 2};
    // (in = 2·2·4 = 16, out = 2): weight of unit u to class j = u + 16·j.
    std::vector<float> w(32);
    for (int u = 0; u < 16; ++u)
        for (int j = 0; j < 2; ++j) w[std::size_t(u * 2 + j)] = float(u + 16 * j);
    d.projections.push_back({1, ProjectionKind::Dense, {}, w, "d"});
    net.populations.push_back(d);
    validate(net);
    attach_idp_profile(net, IdpProfile::AllOne, "test");
    CHECK(net.populations[2].projections[0].idp_gamma.size() == 4); // the conv's channels, not its 16 units
    const Network half = apply_idp(net, parse_idp("50"));
    CHECK(half.populations[1].shape == Shape{2, 2, 2});
    CHECK(half.populations[1].projections[0].weights == std::vector<float>{1, 2});
    CHECK(half.populations[1].bias == std::vector<float>{0, 0});
    // Units (y, x, c) with c < 2 of the flattened 2×2×4: u = 0,1, 4,5, 8,9, 12,13.
    std::vector<float> want;
    for (int u : {0, 1, 4, 5, 8, 9, 12, 13})
        for (int j = 0; j < 2; ++j) want.push_back(float(u + 16 * j));
    CHECK(half.populations[2].projections[0].weights == want);
}

TEST_CASE("IDP refuses what it cannot do, naming the setting and the layer", "[idp]") {
    Network plain = chain();
    CHECK_THROWS_WITH(apply_idp(plain, parse_idp("50")), Contains("idp 50") && Contains("no IDP layer"));
    Network net = chain();
    attach_idp_profile(net, IdpProfile::Linear, "test");
    CHECK_THROWS_WITH(apply_idp(net, parse_idp("dense_9=50")),
                      Contains("'dense_9' is not an IDP layer") && Contains("IDP layers: h2, out"));
    CHECK_THROWS_WITH(apply_idp(net, parse_idp("h1=50")), Contains("'h1' is not an IDP layer"));
    // Two readers of h1 that would keep different channels.
    Network two = net;
    Population extra;
    extra.name = "extra";
    extra.shape = {1, 1, 2};
    extra.projections.push_back({1, ProjectionKind::Dense, {}, std::vector<float>(8, 1.0f), "extra"});
    two.populations.insert(two.populations.end() - 1, extra);
    two.populations.back().projections[0].source = 2; // out still reads h2
    validate(two);
    CHECK_THROWS_WITH(apply_idp(two, parse_idp("50")), Contains("population 'h1' is read by"));
}

TEST_CASE("an IDP profile is stored in the network file (format 12) and other files keep their version", "[idp][io]") {
    test::TempDir dir("idp");
    Network net = chain();
    save(net, dir.file("plain.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(dir.file("plain.snn.h5")), "format_version") < 12);
    attach_idp_profile(net, IdpProfile::HalfExp, "test");
    save(net, dir.file("idp.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(dir.file("idp.snn.h5")), "format_version") == 12);
    const Network back = load(dir.file("idp.snn.h5"));
    CHECK(back == net);
    CHECK(back.populations[2].projections[0].idp_profile == "half-exp");
    CHECK(idp_layers(back) == std::vector<std::string>{"h2", "out"});
}

TEST_CASE("several IDP profiles: the percentage picks the profile, whose own first and last layer compute the "
          "hand-worked sums; stored as format 13",
          "[idp][io]") {
    using Catch::Detail::Approx;
    // chain() with two profiles: up to 50 % and up to 100 %. Profile 0 brings its own h1 and out:
    //   W1' = [[2,0,0,0],[0,1,0,0]] (in, out), bias h1' = (1, 0, 0, 0)
    //   W3' = (3, 2) of ones, bias out' = (0, 10)
    Network net = chain();
    net.idp_ranges = {50, 100};
    net.idp_variants.push_back({0, "h1", {2, 0, 0, 0, 0, 1, 0, 0}, {1, 0, 0, 0}});
    net.idp_variants.push_back({0, "out", std::vector<float>(6, 1.0f), {0, 10}});
    validate(net);
    attach_idp_profile(net, IdpProfile::Linear, "test");
    // γ of out's 3 inputs (1 − i/3) is folded into profile 0's own out too: rows × (2/3, 1/3, 0).
    CHECK(net.idp_variants[1].weights == std::vector<float>{2.0f / 3, 2.0f / 3, 1.0f / 3, 1.0f / 3, 0, 0});
    CHECK(net.idp_variants[0].weights == std::vector<float>{2, 0, 0, 0, 0, 1, 0, 0}); // h1 reads the input: no γ

    CHECK(idp_profile_for(net, 10) == 0);
    CHECK(idp_profile_for(net, 50) == 0);
    CHECK(idp_profile_for(net, 50.5) == 1);
    CHECK(idp_profile_for(net, 100) == 1);
    CHECK(idp_profile_range(net, 30) == std::vector<double>{0, 50});
    CHECK(idp_profile_range(net, 80) == std::vector<double>{50, 100});

    const float x[2] = {1, 2};
    // 50 %, profile 0: h1 keeps 2 channels of its own W1': (2·1 + 1, 1·2 + 0) = (3, 2);
    // h2 = 0.75·3 + 0.5·2 + (0.5, 0.25) = (3.75, 3.5); out' reads 2 of h2 with γ (2/3, 1/3):
    // 2/3·3.75 + 1/3·3.5 + (0, 10).
    const Network half = apply_idp(net, parse_idp("50"));
    CHECK(half.idp_ranges.empty());
    CHECK(half.idp_variants.empty());
    const auto a = forward(half, x);
    CHECK(a[1] == std::vector<float>{3, 2});
    CHECK(a[2] == std::vector<float>{3.75f, 3.5f});
    CHECK(a[3][0] == Approx(2.0 / 3 * 3.75 + 1.0 / 3 * 3.5));
    CHECK(a[3][1] == Approx(2.0 / 3 * 3.75 + 1.0 / 3 * 3.5 + 10));
    // 75 %, profile 1: the network's own weights, as the single-profile test worked them out at 100 %
    // for h1 = (1, 2, 2, 1), of which h2 reads ⌈0.75·4⌉ = 3.
    const Network most = apply_idp(net, parse_idp("75"));
    const auto b = forward(most, x);
    CHECK(b[1] == std::vector<float>{1, 2, 2});
    CHECK(b[2] == std::vector<float>{2.75f, 2.5f, 11.25f}); // 0.75·1 + 0.5·2 + 0.25·2 + bias
    CHECK(b[3][0] == Approx(2.0 / 3 * 2.75 + 1.0 / 3 * 2.5));

    // The file: format 13, read back equal.
    test::TempDir dir("idp-profiles");
    save(net, dir.file("p.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(dir.file("p.snn.h5")), "format_version") == 13);
    CHECK(load(dir.file("p.snn.h5")) == net);

    // What validate() refuses, naming the population.
    Network bad = net;
    bad.idp_variants[0].weights.pop_back();
    CHECK_THROWS_WITH(validate(bad), Contains("'h1'") && Contains("7 weights"));
    bad = net;
    bad.idp_variants[0].profile = 1;
    CHECK_THROWS_WITH(validate(bad), Contains("no such profile"));
    bad = net;
    bad.idp_ranges = {60, 50};
    CHECK_THROWS_WITH(validate(bad), Contains("ascend"));
    bad = net;
    bad.idp_ranges = {50, 90};
    CHECK_THROWS_WITH(validate(bad), Contains("reach 100"));
}

TEST_CASE("a Keras model with two IDP profiles computes the numpy reference at every percentage, and its λ cover "
          "every profile",
          "[idp][convert]") {
    using Catch::Detail::Approx;
    // tiny_idp_profiles: dense (own in profile 0) → dense_1 → dense_2 (own in profile 0), ranges 40 / 100.
    const std::string path = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_idp_profiles.h5";
    const Network net = import_keras(path);
    REQUIRE(net.idp_ranges == std::vector<double>{40, 100});
    REQUIRE(net.idp_variants.size() == 2);
    const h5::Node ref = h5::open_file(std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_idp_profiles.ref.h5");
    const std::vector<float> x = h5::read_floats(ref, "x");
    for (const int pct : {25, 40, 60, 100}) {
        const std::vector<float> want = h5::read_floats(ref, "y_idp" + std::to_string(pct));
        const Network at = apply_idp(net, parse_idp(std::to_string(pct)));
        for (std::size_t s = 0; s < 8; ++s) {
            const auto act = forward(at, x.data() + s * 5);
            for (std::size_t c = 0; c < 3; ++c) {
                INFO("IDP " << pct << " %, sample " << s << ", class " << c);
                CHECK(act.back()[c] == Approx(want[s * 3 + c]).epsilon(1e-5).margin(1e-6));
            }
        }
    }

    // Normalized with --norm max on the same inputs, no profile's activations exceed 1 (one spike
    // per step) at the top of its range: each λ is the largest any profile needs.
    Dataset calib;
    calib.name = "ref";
    calib.shape = {1, 1, 5};
    calib.x = x;
    calib.y.assign(8, 0);
    ConvertOptions opt;
    opt.norm = parse_norm("max");
    opt.channel_wise = true;
    ConvertLog log;
    const Network normalized = convert_model(path, &calib, opt, log);
    float largest[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
        const Network at = apply_idp(normalized, parse_idp(k == 0 ? "40" : "100"));
        for (std::size_t s = 0; s < 8; ++s) {
            const auto act = forward(at, x.data() + s * 5);
            for (std::size_t i = 1; i + 1 < act.size(); ++i)
                for (float a : act[i]) largest[k] = std::max(largest[k], a);
        }
    }
    CHECK(largest[0] <= 1.0f + 1e-5f);
    CHECK(largest[1] <= 1.0f + 1e-5f);
    // ... and each profile reaches 1 somewhere unless the other needed more: at least one does.
    CHECK(std::max(largest[0], largest[1]) == Approx(1.0f).epsilon(1e-5));

    // Quantizing or pruning such a model is refused in one line.
    ConvertOptions q = opt;
    q.quantize = parse_quantize({"int:8"});
    CHECK_THROWS_WITH(convert_model(path, &calib, q, log), Contains("IDP profiles") && Contains("quantized"));
}

TEST_CASE("IDP drops the channels of quantized and pruned layers: codes, scales and rows sliced, worked by hand",
          "[idp][quant][sparse]") {
    // chain() with the linear profile: h2's (in, out) weights are γ_u = (0.75, 0.5, 0.25, 0) in
    // every column. At 50 % h2 reads 2 of h1's 4 channels and makes 2 of its 3 (out reads 2).
    Network net = chain();
    attach_idp_profile(net, IdpProfile::Linear, "test");
    const Shape h1 = net.populations[1].shape, h2 = net.populations[2].shape;

    SECTION("int:4, one step per output: Δ = 0.75/7, codes (7, 5, 2, 0) down every column") {
        QuantSpec spec;
        spec.scheme = QuantScheme::Int;
        spec.bits = 4;
        quantize(net.populations[2].projections[0], h2, spec, "h2");
        validate(net);
        const Network half = apply_idp(net, parse_idp("50"));
        const Projection& p = half.populations[2].projections[0];
        REQUIRE(p.quant.scheme == QuantScheme::Int);
        const auto codes = unpack_codes(p.quant.codes, p.quant.bits, 4);
        std::vector<int> levels;
        for (std::uint32_t c : codes) levels.push_back(quant_level(QuantScheme::Int, 4, c));
        CHECK(levels == std::vector<int>{7, 7, 5, 5}); // (in, out) = (2, 2)
        REQUIRE(p.quant.scale.size() == 2);
        CHECK(p.quant.scale[0] == Approx(0.75 / 7));
        CHECK(p.quant.scale[1] == Approx(0.75 / 7));
        // The codes stand for the weights the layer keeps.
        Shape src = h1, dst = h2;
        src.c = 2;
        dst.c = 2;
        CHECK(dequantize(p, src, dst) == p.weights);
        CHECK(p.weights[2] == Approx(5 * 0.75 / 7));
    }
    SECTION("pruned: the kept synapses of the kept rows and columns, compressed again") {
        // Keep the synapses with u + j even: (0,0) (0,2) (1,1) (2,0) (2,2) (3,1).
        std::vector<std::uint8_t> keep(12);
        for (int u = 0; u < 4; ++u)
            for (int j = 0; j < 3; ++j) keep[std::size_t(u * 3 + j)] = (u + j) % 2 == 0;
        Projection& p2 = net.populations[2].projections[0];
        const Projection sparse = sparsify(p2, h1, h2, keep);
        // Pruning keeps the layer's profile (it used to drop it), and so does its dense reference.
        CHECK(sparse.idp_profile == "linear");
        CHECK(sparse.idp_gamma == p2.idp_gamma);
        CHECK(densify(sparse, h1, h2).idp_gamma == p2.idp_gamma);
        p2 = sparse;
        validate(net);
        const Network half = apply_idp(net, parse_idp("50"));
        const Projection& p = half.populations[2].projections[0];
        REQUIRE(p.kind == ProjectionKind::SparseDense);
        // Rows u = 0, 1 and columns j = 0, 1: (0,0) = 0.75 and (1,1) = 0.5 survive.
        CHECK(p.sparse.row_begin == std::vector<std::int64_t>{0, 1, 2});
        CHECK(p.sparse.target == std::vector<std::int32_t>{0, 1});
        CHECK(p.weights == std::vector<float>{0.75f, 0.5f});
        CHECK(p.idp_gamma.size() == 2);
        // The DNN pass reads them as the dense layer with the same zeros.
        const float x[2] = {1, 2};
        const auto a = forward(half, x);
        REQUIRE(a[2].size() == 2);
        CHECK(a[2][0] == Approx(0.75 * a[1][0] + 0.5));
        CHECK(a[2][1] == Approx(0.5 * a[1][1] + 0.25));
    }
}
