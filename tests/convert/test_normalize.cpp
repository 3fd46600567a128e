// Normalization: numpy's percentile, the --norm parser, and data- and
// model-based scales of a two-layer net worked out by hand.
#include "convert/dnn.hpp"
#include "convert/normalize.hpp"
#include "snn/error.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace snn;
using snn::test::input;
using Catch::Matchers::Contains;

namespace {

double pct(std::vector<float> v, double p) { return percentile(v, p); }

// input (1,1,2) → hidden Dense 2 (ReLU) → out Dense 1 (linear)
//   h0 = relu(1·x0 + 0.5·x1),  h1 = relu(−1·x0 + 2·x1 + 0.25),  o = 2·h0 − 1·h1 + 0.5
Network two_layer_net() {
    Network net;
    net.populations.push_back(input({1, 1, 2}));

    Population hidden;
    hidden.name = "hidden";
    hidden.shape = {1, 1, 2};
    Projection p1;
    p1.source = 0;
    p1.kind = ProjectionKind::Dense;
    p1.weights = {1.0f, -1.0f, 0.5f, 2.0f}; // (in, out): row i = fan-out of x_i
    p1.layer = "hidden";
    hidden.projections.push_back(p1);
    hidden.bias = {0.0f, 0.25f};
    net.populations.push_back(hidden);

    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    Projection p2;
    p2.source = 1;
    p2.kind = ProjectionKind::Dense;
    p2.weights = {2.0f, -1.0f};
    p2.layer = "out";
    out.projections.push_back(p2);
    out.bias = {0.5f};
    net.populations.push_back(out);
    validate(net);
    return net;
}

// Calibration inputs and what they give (worked by hand):
//   x       h0    h1     o
//   (1,0)   1     0      2.5
//   (0,1)   0.5   2.25  −0.75
//   (1,1)   1.5   1.25   2.25
//   (0,0)   0     0.25   0.25
const std::vector<float> calib = {1, 0, 0, 1, 1, 1, 0, 0};

} // namespace

TEST_CASE("percentile equals numpy's linear-interpolation percentile", "[convert]") {
    CHECK(pct({1, 2, 3, 4}, 50) == Approx(2.5));
    CHECK(pct({1, 2, 3, 4}, 100) == Approx(4.0));
    CHECK(pct({1, 2, 3, 4}, 0) == Approx(1.0));
    CHECK(pct({1, 2, 3, 4}, 25) == Approx(1.75));
    CHECK(pct({4, 1, 3, 2}, 50) == Approx(2.5)); // order does not matter
    CHECK(pct({5}, 50) == Approx(5.0));
    CHECK(pct({5}, 99.9) == Approx(5.0));
    CHECK(pct({5}, 100) == Approx(5.0));
    CHECK(pct({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99.9) == Approx(9.991)); // rank 0.999·9 = 8.991
    CHECK(pct({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 99.9) == Approx(9.991));
    CHECK(pct({3, 3, 1, 3}, 50) == Approx(3.0)); // ties
    CHECK(pct({0.5f, 0.25f, 2.25f, 1.0f, 1.5f, 1.25f}, 50) == Approx(1.125));
    CHECK(pct({}, 50) == 0.0);
}

TEST_CASE("parse_norm accepts max, percentile:P and model, and nothing else", "[convert]") {
    CHECK(parse_norm("max").kind == NormSpec::Kind::Max);
    CHECK(parse_norm("model").kind == NormSpec::Kind::Model);
    const NormSpec p = parse_norm("percentile:99.9");
    CHECK(p.kind == NormSpec::Kind::Percentile);
    CHECK(p.percentile == Approx(99.9));
    CHECK(parse_norm("percentile:100").percentile == Approx(100.0));
    CHECK(parse_norm("percentile:50").str() == "percentile:50");
    CHECK(parse_norm("max").str() == "max");

    for (const char* bad : {"percentile:0", "percentile:-5", "percentile:100.5", "percentile:abc", "percentile:",
                            "percentile:50x", "foo", "", "MAX", "percentile"}) {
        INFO(bad);
        REQUIRE_THROWS_AS(parse_norm(bad), Error);
        REQUIRE_THROWS_WITH(parse_norm(bad), Contains(std::string("'") + bad + "'"));
    }
}

TEST_CASE("max normalization of a hand-built net equals the hand computation", "[convert]") {
    Network net = two_layer_net();
    NormSpec spec;
    spec.kind = NormSpec::Kind::Max;
    const std::vector<float> scales = data_based_scales(net, calib.data(), 4, spec, 1);
    REQUIRE(scales.size() == 3);
    CHECK(scales[0] == 1.0f);
    CHECK(scales[1] == Approx(2.25)); // largest hidden activation, h1 at (0,1)
    CHECK(scales[2] == Approx(2.5));  // largest output, at (1,0)
    CHECK(data_based_scales(net, calib.data(), 4, spec, 2) == scales);

    const Network original = net;
    apply_scales(net, scales);
    CHECK(net.populations[1].scale == Approx(2.25));
    CHECK(net.populations[2].scale == Approx(2.5));
    // W ← W·λ_prev/λ, b ← b/λ
    const auto& w1 = net.populations[1].projections[0].weights;
    REQUIRE(w1.size() == 4);
    CHECK(w1[0] == Approx(1.0 / 2.25));
    CHECK(w1[1] == Approx(-1.0 / 2.25));
    CHECK(w1[2] == Approx(0.5 / 2.25));
    CHECK(w1[3] == Approx(2.0 / 2.25));
    CHECK(net.populations[1].bias[0] == Approx(0.0).margin(1e-7));
    CHECK(net.populations[1].bias[1] == Approx(0.25 / 2.25));
    const auto& w2 = net.populations[2].projections[0].weights;
    CHECK(w2[0] == Approx(2.0 * 2.25 / 2.5)); // 1.8
    CHECK(w2[1] == Approx(-1.0 * 2.25 / 2.5)); // −0.9
    CHECK(net.populations[2].bias[0] == Approx(0.5 / 2.5));

    // The normalized net computes every activation divided by its λ.
    for (int s = 0; s < 4; ++s) {
        INFO("calibration sample " << s);
        const auto a = forward(original, calib.data() + 2 * s);
        const auto b = forward(net, calib.data() + 2 * s);
        for (std::size_t l = 1; l < 3; ++l)
            for (std::size_t j = 0; j < a[l].size(); ++j)
                CHECK(b[l][j] == Approx(a[l][j] / scales[l]).margin(1e-6));
    }
}

TEST_CASE("percentile normalization takes the percentile of the non-zero activations", "[convert]") {
    const Network net = two_layer_net();
    const NormSpec spec = parse_norm("percentile:50");
    const std::vector<float> scales = data_based_scales(net, calib.data(), 4, spec, 1);
    REQUIRE(scales.size() == 3);
    // hidden non-zero: 1, 0.5, 2.25, 1.5, 1.25, 0.25 → median of 6 = (1 + 1.25)/2
    CHECK(scales[1] == Approx(1.125));
    // output positive: 2.5, 2.25, 0.25 → median 2.25
    CHECK(scales[2] == Approx(2.25));
    CHECK(data_based_scales(net, calib.data(), 4, spec, 2) == scales);
}

TEST_CASE("a population that never fires on the calibration data keeps λ = 1", "[convert]") {
    const Network net = two_layer_net();
    NormSpec spec;
    spec.kind = NormSpec::Kind::Max;
    // x = (0,0): h0 = 0, h1 = 0.25, o = 0.25; without the biases nothing fires at all.
    const std::vector<float> zeros = {0, 0};
    const std::vector<float> scales = data_based_scales(net, zeros.data(), 1, spec, 1);
    CHECK(scales[1] == Approx(0.25));
    CHECK(scales[2] == Approx(0.25)); // o = −0.25 + 0.5
    Network silent = two_layer_net();
    silent.populations[1].bias = {0.0f, 0.0f};
    silent.populations[2].bias = {0.0f};
    const std::vector<float> s2 = data_based_scales(silent, zeros.data(), 1, spec, 1);
    CHECK(s2[1] == 1.0f);
    CHECK(s2[2] == 1.0f);
}

TEST_CASE("model-based scales of a hand-built net equal the largest positive input by hand", "[convert]") {
    Network net = two_layer_net();
    const std::vector<float> scales = model_based_scales(net);
    REQUIRE(scales.size() == 3);
    CHECK(scales[0] == 1.0f);
    // h0 ≤ 1·1 + 0.5·1 = 1.5;  h1 ≤ 2·1 + 0.25 = 2.25 (the −1 weight never adds)  → λ_h = 2.25
    CHECK(scales[1] == Approx(2.25));
    // o ≤ 2·λ_h + 0.5 = 5 (the −1 weight never adds)
    CHECK(scales[2] == Approx(5.0));

    apply_scales(net, scales);
    CHECK(net.populations[2].projections[0].weights[0] == Approx(2.0 * 2.25 / 5.0));
    CHECK(net.populations[2].projections[0].weights[1] == Approx(-1.0 * 2.25 / 5.0));
    CHECK(net.populations[2].bias[0] == Approx(0.5 / 5.0));

    // With a bias large enough to dominate, it counts only when positive.
    Network neg = two_layer_net();
    neg.populations[2].bias = {-3.0f};
    CHECK(model_based_scales(neg)[2] == Approx(4.5));
}

TEST_CASE("channel-wise max normalization of the hand-built net equals the hand computation", "[convert]") {
    // Hidden channels separately: max h0 = 1.5 at (1,1), max h1 = 2.25 at (0,1);
    // the output keeps one λ for all its units: max o = 2.5.
    Network net = two_layer_net();
    NormSpec spec;
    spec.kind = NormSpec::Kind::Max;
    const ChannelScales scales = channel_scales(net, calib.data(), 4, spec, 1);
    REQUIRE(scales.size() == 3);
    CHECK(scales[0] == std::vector<float>{1.0f, 1.0f});
    REQUIRE(scales[1].size() == 2);
    CHECK(scales[1][0] == Approx(1.5));
    CHECK(scales[1][1] == Approx(2.25));
    CHECK(scales[2] == std::vector<float>{2.5f});
    CHECK(channel_scales(net, calib.data(), 4, spec, 2) == scales);

    const Network original = net;
    apply_scales(net, scales);
    CHECK(net.populations[1].scale == Approx(2.25)); // the largest channel λ
    // W(i→j) ← W·λ_in[i]/λ_h[j]: column j is divided by its own channel's λ.
    const auto& w1 = net.populations[1].projections[0].weights;
    CHECK(w1[0] == Approx(1.0 / 1.5));
    CHECK(w1[1] == Approx(-1.0 / 2.25));
    CHECK(w1[2] == Approx(0.5 / 1.5));
    CHECK(w1[3] == Approx(2.0 / 2.25));
    CHECK(net.populations[1].bias[1] == Approx(0.25 / 2.25));
    // W(h_i→o) ← W·λ_h[i]/λ_o: each hidden channel brings back its own λ.
    const auto& w2 = net.populations[2].projections[0].weights;
    CHECK(w2[0] == Approx(2.0 * 1.5 / 2.5));
    CHECK(w2[1] == Approx(-1.0 * 2.25 / 2.5));
    CHECK(net.populations[2].bias[0] == Approx(0.5 / 2.5));
    for (int s = 0; s < 4; ++s) {
        const auto a = forward(original, calib.data() + 2 * s);
        const auto b = forward(net, calib.data() + 2 * s);
        CHECK(b[1][0] == Approx(a[1][0] / 1.5).margin(1e-6));
        CHECK(b[1][1] == Approx(a[1][1] / 2.25).margin(1e-6));
        CHECK(b[2][0] == Approx(a[2][0] / 2.5).margin(1e-6));
    }
}

TEST_CASE("channel-wise scales reach pooling and residual weights per channel", "[convert]") {
    // input (1,1,2) → a (1,1,2) by identity → b (1,1,2) = avgpool 1x1 of a + identity of a → out dense 1.
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    Population a;
    a.name = "a";
    a.shape = {1, 1, 2};
    a.projections.push_back({0, ProjectionKind::Identity, {}, {1.0f, 3.0f}, "a"});
    net.populations.push_back(a);
    Population b;
    b.name = "b";
    b.shape = {1, 1, 2};
    b.projections.push_back({1, ProjectionKind::AvgPool, {1, 1, 1, 1, 0, 0}, {1.0f, 1.0f}, "b"});
    b.projections.push_back({1, ProjectionKind::Identity, {}, {1.0f, 1.0f}, "b"});
    net.populations.push_back(b);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({2, ProjectionKind::Dense, {}, {1.0f, 1.0f}, "out"});
    net.populations.push_back(out);
    validate(net);
    // x = (1, 1): a = (1, 3), b = (2, 6), out = 8.
    const std::vector<float> x = {1.0f, 1.0f};
    NormSpec spec;
    spec.kind = NormSpec::Kind::Max;
    const ChannelScales s = channel_scales(net, x.data(), 1, spec, 1);
    CHECK(s[1] == std::vector<float>{1.0f, 3.0f});
    CHECK(s[2] == std::vector<float>{2.0f, 6.0f});
    apply_scales(net, s);
    // Identity into a: w·λ_in/λ_a per channel = (1/1, 3/3); pooling and identity into b: λ_a/λ_b = (1/2, 3/6).
    CHECK(net.populations[1].projections[0].weights == std::vector<float>{1.0f, 1.0f});
    CHECK(net.populations[2].projections[0].weights == std::vector<float>{0.5f, 0.5f});
    CHECK(net.populations[2].projections[1].weights == std::vector<float>{0.5f, 0.5f});
    const auto act = forward(net, x.data());
    CHECK(act[2] == std::vector<float>{1.0f, 1.0f});
    CHECK(act[3][0] == Approx(1.0f)); // 8 / 8
}

TEST_CASE("rescaling a layer's λ divides its activations and leaves every other layer as it was", "[convert]") {
    // input (2,2,1) → conv 1x1 (2 channels) → max-pool gate 2x2 → dense 3, and a second
    // dense path straight from the conv, so that both a gate and a direct projection carry λ.
    Network net;
    net.populations.push_back(input({2, 2, 1}));
    Population conv;
    conv.name = "conv";
    conv.shape = {2, 2, 2};
    conv.projections.push_back({0, ProjectionKind::Conv2D, {1, 1, 1, 1, 0, 0}, {1.0f, -0.5f}, "conv"});
    conv.bias = {0.1f, 0.8f};
    net.populations.push_back(conv);
    Population gate;
    gate.name = "pool";
    gate.kind = PopulationKind::MaxPool;
    gate.shape = {1, 1, 2};
    gate.projections.push_back({1, ProjectionKind::MaxPool, {2, 2, 2, 2, 0, 0}, {}, "pool"});
    net.populations.push_back(gate);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 3};
    out.projections.push_back({2, ProjectionKind::Dense, {}, {1.0f, -2.0f, 0.5f, 0.25f, 1.5f, -1.0f}, "out"});
    out.projections.push_back({1, ProjectionKind::Dense, {}, std::vector<float>(24, 0.125f), "skip"});
    out.bias = {0.0f, 0.5f, -0.5f};
    net.populations.push_back(out);
    validate(net);

    Network scaled = net;
    rescale_population(scaled, 1, 0.5);
    CHECK(scaled.populations[1].scale == 0.5f);
    CHECK(scaled.populations[2].scale == 0.5f); // the gate's λ is its source's
    CHECK(scaled.populations[1].projections[0].weights == std::vector<float>{2.0f, -1.0f});
    CHECK(scaled.populations[1].bias == std::vector<float>{0.2f, 1.6f});
    CHECK(scaled.populations[3].projections[0].weights == std::vector<float>{0.5f, -1.0f, 0.25f, 0.125f, 0.75f, -0.5f});
    CHECK(scaled.populations[3].bias == net.populations[3].bias);
    const std::vector<float> x = {0.25f, 1.0f, 0.0f, 0.75f};
    const auto a = forward(net, x.data()), b = forward(scaled, x.data());
    for (std::size_t j = 0; j < a[1].size(); ++j) CHECK(b[1][j] == Approx(a[1][j] * 2).margin(1e-6));
    for (std::size_t j = 0; j < a[2].size(); ++j) CHECK(b[2][j] == Approx(a[2][j] * 2).margin(1e-6));
    for (std::size_t j = 0; j < a[3].size(); ++j) CHECK(b[3][j] == Approx(a[3][j]).margin(1e-6));
    REQUIRE_THROWS_AS(rescale_population(scaled, 2, 2.0), InternalError); // a gate has no λ of its own
}
