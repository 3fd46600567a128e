// The DNN baseline as a pipeline of devices with int8 activations across the
// cuts (sim/dnn_pipeline.hpp): the quantizer on a hand-worked tensor, the
// quantization seen where a hand-made network's answer turns on it, and the
// devices apart giving the pass in one piece. (tools/dnn_int8_reference.py
// checks the int8 pass against numpy on the shipped MLP, where the codes
// change some answers; tools/check_distributed.sh runs it.)
#include "convert/dnn.hpp"
#include "sim/dnn_pipeline.hpp"
#include "sim/engine.hpp"
#include "sim/place.hpp"
#include "snn/error.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace snn;
using snn::test::input;
using snn::test::projection;

namespace {

Population relu(const std::string& name, Shape shape, Projection p) {
    Population pop;
    pop.name = name;
    pop.shape = shape;
    pop.projections = {std::move(p)};
    return pop;
}

std::vector<float> uniform(std::size_t n, float lo, float hi, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> w(n);
    for (float& x : w) x = u(rng);
    return w;
}

} // namespace

TEST_CASE("int8 activations: a float32 scale max/255 per tensor, codes rounded half up", "[dnn_pipeline]") {
    // max 2 → scale 2/255; 0.3 / scale = 38.25 → 38; 1.2 / scale = 153; 2 → 255; below 0 → 0.
    const std::vector<float> a = {0.0f, 0.3f, 1.2f, 2.0f, -0.25f};
    const float scale = int8_scale(a);
    CHECK(scale == 2.0f / 255.0f);
    std::vector<std::uint8_t> q(a.size());
    quantize_int8(a, scale, q.data());
    CHECK(q == std::vector<std::uint8_t>{0, 38, 153, 255, 0});
    std::vector<float> back = a;
    round_trip_int8(back);
    CHECK(back == std::vector<float>{0.0f, 38 * scale, 153 * scale, 255 * scale, 0.0f});
    std::vector<float> zeros(4, 0.0f);
    CHECK(int8_scale(zeros) == 0.0f);
    round_trip_int8(zeros);
    CHECK(zeros == std::vector<float>(4, 0.0f));
}

TEST_CASE("the int8 DNN reads a cut's activations as their codes, the float DNN as they are", "[dnn_pipeline]") {
    // input (2) → h (2, identity) on device a; out (2) on device b: out0 = h1, out1 = 0.299 (bias).
    // x = (2, 0.3): h = (2, 0.3). Float: out0 = 0.3 > 0.299, class 0. Int8 across the cut:
    // h1 arrives as 38 · 2/255 = 0.29804 < 0.299, class 1.
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    net.populations.push_back(relu("h", {1, 1, 2}, projection(0, ProjectionKind::Dense, {}, {1, 0, 0, 1}, "h")));
    Population out = relu("out", {1, 1, 2}, projection(1, ProjectionKind::Dense, {}, {0, 0, 1, 0}, "out"));
    out.bias = {0.0f, 0.299f};
    net.populations.push_back(out);
    net.devices = parse_partition(net, "a:h,b:out");
    validate(net);
    Dataset data;
    data.name = "hand";
    data.shape = {1, 1, 2};
    data.x = {2.0f, 0.3f};
    data.y = {1};
    std::vector<int> float_pred;
    CHECK(dnn_accuracy(net, data, 1, &float_pred) == 0.0);
    CHECK(float_pred == std::vector<int>{0});
    CHECK(dnn_int8_predictions(net, data, 1) == std::vector<int>{1});
    const DnnPipelineResult piped = simulate_dnn_pipeline(net, data);
    CHECK(piped.predictions == std::vector<int>{1});
    // One message: start time 8 + sample 8 + scale 4 + two codes.
    REQUIRE(piped.bytes_sent.size() == 1);
    CHECK(piped.bytes_sent[0] == 22.0);
    CHECK(piped.bytes_received[0] == 22.0);
    CHECK(piped.payload_bytes[0] == 2.0);
}

TEST_CASE("the DNN's devices apart give the int8 pass in one piece", "[dnn_pipeline]") {
    // input (6,6,1) → conv → c1 (4,4,4) → max pool → p1 (2,2,4) → d1 (8) → out (3), on three devices.
    std::mt19937 rng(3);
    Network net;
    net.populations.push_back(input({6, 6, 1}));
    net.populations.push_back(relu("c1", {4, 4, 4}, projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 0, 0}, uniform(36, -0.2f, 0.5f, rng), "c1")));
    Population gate = relu("p1", {2, 2, 4}, projection(1, ProjectionKind::MaxPool, {2, 2, 2, 2, 0, 0}, {}, "p1"));
    gate.kind = PopulationKind::MaxPool;
    net.populations.push_back(gate);
    net.populations.push_back(relu("d1", {1, 1, 8}, projection(2, ProjectionKind::Dense, {}, uniform(16 * 8, -0.3f, 0.6f, rng), "d1")));
    net.populations.push_back(relu("out", {1, 1, 3}, projection(3, ProjectionKind::Dense, {}, uniform(8 * 3, -0.5f, 0.8f, rng), "out")));
    net.devices = parse_partition(net, "a:c1-p1,b:d1,c:out");
    validate(net);
    Dataset data;
    data.name = "random";
    data.shape = {6, 6, 1};
    const int n = 200;
    data.x = uniform(std::size_t(n) * 36, 0.0f, 1.0f, rng);
    for (int i = 0; i < n; ++i) data.y.push_back(int(rng() % 3u));
    const std::vector<int> one = dnn_int8_predictions(net, data, 1);
    CHECK(dnn_int8_predictions(net, data, 3) == one);
    const DnnPipelineResult piped = simulate_dnn_pipeline(net, data);
    CHECK(piped.predictions == one);
    // Cuts a→b (p1, 16 units) and b→c (d1, 8 units): per message 16 bytes + 4 + units.
    REQUIRE(piped.cuts.size() == 2);
    CHECK(piped.bytes_sent == std::vector<double>{n * (16.0 + 4 + 16), n * (16.0 + 4 + 8)});
    CHECK(piped.bytes_received == piped.bytes_sent);
    CHECK(piped.payload_bytes == std::vector<double>{n * 16.0, n * 8.0});
}

TEST_CASE("a DNN device refuses a message of the wrong size or of another sample", "[dnn_pipeline]") {
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    net.populations.push_back(relu("h", {1, 1, 2}, projection(0, ProjectionKind::Dense, {}, {1, 0, 0, 1}, "h")));
    net.populations.push_back(relu("out", {1, 1, 2}, projection(1, ProjectionKind::Dense, {}, {1, 0, 0, 1}, "out")));
    net.devices = parse_partition(net, "a:h,b:out");
    Dataset data;
    data.name = "hand";
    data.shape = {1, 1, 2};
    data.x = {1, 2, 3, 4};
    data.y = {0, 1};
    const DnnPipelineDevice a(net, 0), b(net, 1);
    DnnDeviceRecords ra = a.empty_records(2), rb = b.empty_records(2);
    std::vector<DnnMessage> sent = a.run(data, 1, {}, ra);
    REQUIRE(sent.size() == 1);
    CHECK_THROWS_WITH(b.run(data, 0, sent, rb), Catch::Matchers::Contains("is sample 1's"));
    sent[0].pop_back();
    CHECK_THROWS_WITH(b.run(data, 1, sent, rb), Catch::Matchers::Contains("has 21 bytes, expected 22"));
    // A network without a partition has no pipeline.
    net.devices.clear();
    CHECK_THROWS_AS(dnn_int8_predictions(net, data, 1), Error);
}
