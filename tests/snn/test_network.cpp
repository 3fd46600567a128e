#include "snn/error.hpp"
#include "snn/inspect.hpp"
#include "snn/network.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace snn;
using namespace snn::test;

namespace {

// input (4,4,1) → conv1 3x3 same, 2 channels (4,4,2) → pool 2x2 avg (2,2,2) → dense 3 (1,1,3)
Network conv_pool_dense() {
    Network net;
    net.populations.push_back(input({4, 4, 1}));

    Population conv;
    conv.name = "conv1";
    conv.shape = {4, 4, 2};
    conv.projections.push_back(
        projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, std::vector<float>(3 * 3 * 1 * 2, 0.1f), "conv1"));
    conv.bias = {0.5f, -0.5f};
    net.populations.push_back(conv);

    Population pool;
    pool.name = "pool";
    pool.shape = {2, 2, 2};
    pool.projections.push_back(projection(1, ProjectionKind::AvgPool, {2, 2, 2, 2, 0, 0}, {0.25f, 0.25f}, "pool"));
    net.populations.push_back(pool);

    Population dense;
    dense.name = "dense";
    dense.shape = {1, 1, 3};
    dense.projections.push_back(
        projection(2, ProjectionKind::Dense, {}, std::vector<float>(2 * 2 * 2 * 3, -0.2f), "dense"));
    dense.bias = {0.f, 1.f, 2.f};
    net.populations.push_back(dense);
    return net;
}

} // namespace

TEST_CASE("window_out_size and window_pad_before follow Keras", "[network]") {
    // valid: ⌊(28 − 5)/1⌋ + 1 = 24, no padding
    CHECK(window_out_size(28, 5, 1, false) == 24);
    CHECK(window_pad_before(28, 5, 1, false) == 0);
    // same, stride 1: output = input, total pad 2 split 1/1
    CHECK(window_out_size(28, 3, 1, true) == 28);
    CHECK(window_pad_before(28, 3, 1, true) == 1);
    // same: ⌈28/2⌉ = 14; total pad (14−1)·2 + 3 − 28 = 1, all of it bottom/right
    CHECK(window_out_size(28, 3, 2, true) == 14);
    CHECK(window_pad_before(28, 3, 2, true) == 0);
    // ⌈32/2⌉ = 16; total (16−1)·2 + 3 − 32 = 1 → 0 before
    CHECK(window_out_size(32, 3, 2, true) == 16);
    CHECK(window_pad_before(32, 3, 2, true) == 0);
    // ⌈7/2⌉ = 4; total (4−1)·2 + 3 − 7 = 2 → 1 before, 1 after
    CHECK(window_out_size(7, 3, 2, true) == 4);
    CHECK(window_pad_before(7, 3, 2, true) == 1);
    // ⌈6/2⌉ = 3; total (3−1)·2 + 2 − 6 = 0
    CHECK(window_out_size(6, 2, 2, true) == 3);
    CHECK(window_pad_before(6, 2, 2, true) == 0);
    // valid pooling 2x2 stride 2 over 7: ⌊5/2⌋ + 1 = 3 (last row dropped)
    CHECK(window_out_size(7, 2, 2, false) == 3);
}

TEST_CASE("expected_weight_count per projection kind", "[network]") {
    const Shape src{4, 4, 2}, dst{1, 1, 3};
    CHECK(expected_weight_count(projection(0, ProjectionKind::Dense, {}, {}, ""), src, dst) == 32 * 3);
    CHECK(expected_weight_count(projection(0, ProjectionKind::Conv2D, {3, 5, 1, 1, 0, 0}, {}, ""), src, dst) ==
          3 * 5 * 2 * 3);
    // Pooling and identity carry one weight per channel of the target.
    CHECK(expected_weight_count(projection(0, ProjectionKind::AvgPool, {}, {}, ""), src, dst) == 3);
    CHECK(expected_weight_count(projection(0, ProjectionKind::Identity, {}, {}, ""), src, dst) == 3);
    CHECK(expected_weight_count(projection(0, ProjectionKind::MaxPool, {}, {}, ""), src, dst) == 0);
}

TEST_CASE("validate accepts a well-formed network", "[network]") {
    REQUIRE_NOTHROW(validate(conv_pool_dense()));
}

TEST_CASE("validate rejects shape and weight mismatches, naming the population", "[network]") {
    Network net = conv_pool_dense();

    SECTION("dense weight count does not match source × target") {
        net.populations[3].shape = {1, 1, 4}; // 8·4 = 32 weights needed, 24 given
        net.populations[3].bias = {0, 0, 0, 0};
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'dense'") && Catch::Contains("expected 32"));
    }
    SECTION("conv output shape does not fit the window over the input") {
        net.populations[1].shape = {6, 6, 2}; // 3x3 stride 1 pad 1 over 4x4 gives 4x4
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'conv1'") && Catch::Contains("does not fit"));
    }
    SECTION("pooling changes the channel count") {
        net.populations[2].shape = {2, 2, 3};
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'pool'") && Catch::Contains("channel"));
    }
    SECTION("residual input of another shape") {
        net.populations[2].projections.push_back(projection(0, ProjectionKind::Identity, {}, {1.f, 1.f}, "add"));
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'pool'") && Catch::Contains("residual"));
    }
    SECTION("bias not one per channel") {
        net.populations[1].bias = {1.f, 2.f, 3.f};
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'conv1'") && Catch::Contains("bias"));
    }
    SECTION("projection from a later population") {
        net.populations[2].projections[0].source = 3;
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'pool'") && Catch::Contains("earlier"));
    }
    SECTION("NaN weight") {
        net.populations[3].projections[0].weights[5] = std::numeric_limits<float>::quiet_NaN();
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'dense'") && Catch::Contains("not finite"));
    }
    SECTION("LIF without a time constant") {
        net.populations[1].neuron.model = NeuronModel::LIF;
        REQUIRE_THROWS_WITH(validate(net), Catch::Contains("'conv1'") && Catch::Contains("tau_steps"));
    }
    SECTION("empty shape") {
        net.populations[2].shape = {0, 2, 2};
        REQUIRE_THROWS_AS(validate(net), Error);
    }
}

TEST_CASE("describe lists every population and the hand-counted totals", "[network][inspect]") {
    const Network net = conv_pool_dense();
    const std::string text = describe(net);
    for (const auto& pop : net.populations) CHECK_THAT(text, Catch::Contains(pop.name));
    // conv1: 3·3·1·2 weights + 2 biases; pool: 1 weight per channel (2); dense: 8·3 weights + 3 biases
    const int params = (18 + 2) + 2 + (24 + 3);
    CHECK_THAT(text, Catch::Contains(std::to_string(params) + " parameters"));
    CHECK_THAT(text, Catch::Contains(std::to_string(params * 4) + " bytes"));
    // 16 + 32 + 8 + 3 neurons
    CHECK_THAT(text, Catch::Contains("59 neurons"));
    CHECK_THAT(text, Catch::Contains("conv2d←input"));
    CHECK_THAT(text, Catch::Contains("avgpool←conv1"));
    CHECK_THAT(text, Catch::Contains("dense←pool"));
    CHECK_THAT(text, Catch::Contains("(4,4,2)"));
    CHECK_THAT(text, Catch::Contains("readout:       spikes"));
}

TEST_CASE("describe_json carries the same facts", "[network][inspect]") {
    Network net = conv_pool_dense();
    net.populations[1].neuron = {NeuronModel::LIF, ResetMode::Zero, 0.75f, 20.f};
    net.readout = Readout::Membrane;
    const auto j = describe_json(net);
    CHECK(j["readout"] == "membrane");
    REQUIRE(j["populations"].size() == 4);
    CHECK(j["populations"][1]["name"] == "conv1");
    CHECK(j["populations"][1]["shape"] == nlohmann::json::array({4, 4, 2}));
    CHECK(j["populations"][1]["neuron"]["model"] == "lif");
    CHECK(j["populations"][1]["neuron"]["tau_steps"] == 20.0);
    CHECK(j["populations"][1]["parameters"] == 20);
    CHECK(j["populations"][1]["projections"][0]["source_name"] == "input");
    CHECK(j["populations"][0]["neuron"].is_null());
    CHECK(j["totals"]["parameters"] == 49); // (18 + 2) + 2 + (24 + 3), as above
    CHECK(j["totals"]["bytes"] == 196);
    CHECK(j["totals"]["neurons"] == 59);
}
