// Conditional exits, partitions, the traffic across a cut and the energy of
// each device, against hand-worked cases.
#include "sim/engine.hpp"
#include "sim/exits.hpp"
#include "sim/place.hpp"
#include "sim/report.hpp"
#include "sim/traffic.hpp"
#include "snn/binary.hpp"
#include "snn/quant.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

using namespace snn;
using snn::test::input;
using snn::test::projection;
using snn::test::TempDir;
using Catch::Matchers::Contains;

namespace {

Population spiking(const std::string& name, Shape shape, std::vector<Projection> projections, float scale = 1.0f) {
    Population p;
    p.name = name;
    p.shape = shape;
    p.projections = std::move(projections);
    p.scale = scale;
    return p;
}

std::vector<float> random_weights(std::size_t n, float lo, float hi, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> w(n);
    for (float& x : w) x = u(rng);
    return w;
}

// input (6,6,1) → conv 3×3 → c1 (4,4,4) → max-pool gate 2×2 → p1 (2,2,4) → dense → d1 (8) → dense → out (3).
Network conv_pool_net(std::mt19937& rng) {
    Network net;
    net.populations.push_back(input({6, 6, 1}));
    net.populations.push_back(spiking("c1", {4, 4, 4},
                                      {projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 0, 0},
                                                  random_weights(36, -0.2f, 0.5f, rng), "c1")}));
    Population gate = spiking("p1", {2, 2, 4}, {projection(1, ProjectionKind::MaxPool, {2, 2, 2, 2, 0, 0}, {}, "p1")});
    gate.kind = PopulationKind::MaxPool;
    net.populations.push_back(gate);
    net.populations.push_back(
        spiking("d1", {1, 1, 8}, {projection(2, ProjectionKind::Dense, {}, random_weights(16 * 8, -0.3f, 0.6f, rng), "d1")}));
    net.populations.push_back(spiking(
        "out", {1, 1, 3}, {projection(3, ProjectionKind::Dense, {}, random_weights(8 * 3, -0.5f, 0.8f, rng), "out")}, 4.0f));
    validate(net);
    return net;
}

Dataset noisy_images(Shape shape, int n, int classes, std::mt19937& rng) {
    Dataset d;
    d.name = "random";
    d.shape = shape;
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (std::int64_t i = 0; i < n * shape.size(); ++i) d.x.push_back(u(rng) < 0.3f ? 0.0f : u(rng));
    for (int i = 0; i < n; ++i) d.y.push_back(int(rng() % unsigned(classes)));
    return d;
}

Exit classifier_exit(const Network& net, const std::string& at, std::mt19937& rng) {
    Exit e;
    e.name = "exit_" + at;
    e.at = at;
    const std::size_t n = std::size_t(net.populations[std::size_t(net.find(at))].shape.size());
    e.weights = random_weights(n * 3, -1.0f, 1.0f, rng);
    e.bias = random_weights(3, -0.5f, 0.5f, rng);
    return e;
}

} // namespace

TEST_CASE("entropy and confidence rules on hand-made vectors", "[exits]") {
    const std::vector<double> uniform{0.0, 0.0, 0.0, 0.0};
    CHECK(entropy(softmax(uniform)) == Approx(std::log(4.0)));
    // logits (10, 0): p = (1, e^−10)/(1 + e^−10), H = ln(1 + e^−10) + 10·e^−10/(1 + e^−10).
    const std::vector<double> sure{10.0, 0.0};
    const double q = std::exp(-10.0);
    CHECK(entropy(softmax(sure)) == Approx(std::log1p(q) + 10 * q / (1 + q)).epsilon(1e-12));
    CHECK(softmax(sure)[0] == Approx(1 / (1 + q)));
    // Huge logits do not overflow: the softmax is shifted by its maximum.
    const std::vector<double> huge{1000.0, 999.0};
    CHECK(softmax(huge)[0] == Approx(1 / (1 + std::exp(-1.0))));
    CHECK(entropy(std::vector<double>{1.0, 0.0}) == 0.0);

    Exit e;
    e.rule = ExitRule::Entropy;
    e.threshold = 0.01f;
    CHECK(exit_confident(e, sure));          // H ≈ 0.000499
    CHECK_FALSE(exit_confident(e, uniform)); // H = ln 4
    e.threshold = 0.0f;                      // nothing has entropy below 0
    CHECK_FALSE(exit_confident(e, sure));
    e.rule = ExitRule::MaxProb;
    e.threshold = 0.99f;
    CHECK(exit_confident(e, sure));
    CHECK_FALSE(exit_confident(e, huge)); // p = 0.731
    e.threshold = 1.0f;                   // no probability is above 1
    CHECK_FALSE(exit_confident(e, sure));
}

TEST_CASE("exits that are never confident and a partition change nothing in the run", "[exits]") {
    std::mt19937 rng(7);
    const Network plain = conv_pool_net(rng);
    const Dataset data = noisy_images({6, 6, 1}, 40, 3, rng);
    Network split = plain;
    split.devices = parse_partition(split, "edge:c1-p1,cloud:d1-out");
    // Exits at c1 and at d1 cut the network into three segments; later
    // segments replay the spikes of earlier ones (the gate reads the counts of
    // c1, so the replay must rebuild them too).
    for (const char* at : {"c1", "d1"}) {
        Exit e = classifier_exit(split, at, rng);
        e.threshold = 0.0f; // entropy is never below 0
        e.check_every = 2;
        split.exits.push_back(e);
    }
    Exit out;
    out.name = "exit_output";
    out.at = "out";
    out.rule = ExitRule::MaxProb;
    out.threshold = 1.0f; // no probability is above 1
    out.check_every = 1;
    split.exits.push_back(out);
    for (Encoding enc : {Encoding::Current, Encoding::Poisson}) {
        RunOptions opt;
        opt.steps = 24;
        opt.encode = enc;
        opt.threads = 2;
        const RunResult a = simulate(plain, data, opt), b = simulate(split, data, opt);
        INFO(to_string(enc));
        REQUIRE(a.spikes[2] > 0); // the gate passed spikes, so the test has something to replay
        REQUIRE(a.spikes[4] > 0);
        CHECK(a.correct_at == b.correct_at);
        CHECK(a.predictions == b.predictions);
        CHECK(a.spikes == b.spikes);
        CHECK(a.synaptic_ops == b.synaptic_ops);
        CHECK(a.neuron_updates == b.neuron_updates);
        CHECK(b.steps_sum == 24.0 * 40);
        CHECK(b.exit_taken == std::vector<std::int64_t>{0, 0, 0, 40});
        // The cut carries the gate's spikes, every one of them, for every input.
        REQUIRE(b.cuts.size() == 1);
        CHECK(b.cuts[0].sources == std::vector<int>{2});
        CHECK(b.cut_spikes[0] == a.spikes[2]);
        CHECK(b.cut_used[0] == 40);
    }
}

TEST_CASE("spikes across a cut of a hand-wired two-device network, counted by hand", "[exits][traffic]") {
    // input (3) → A (3 units, identity weights) on the edge → B (2) in the cloud.
    // With x = (1, 0.5, 0) A's unit 0 fires every step, unit 1 every second step.
    Network net;
    net.populations.push_back(input({1, 1, 3}));
    net.populations.push_back(spiking("A", {1, 1, 3}, {projection(0, ProjectionKind::Dense, {}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, "A")}));
    net.populations.push_back(spiking("B", {1, 1, 2}, {projection(1, ProjectionKind::Dense, {}, {1, 0, 0, 1, 0, 0}, "B")}));
    net.devices = parse_partition(net, "edge:A,cloud:B");
    Dataset d;
    d.name = "hand";
    d.shape = {1, 1, 3};
    d.x = {1.0f, 0.5f, 0.0f};
    d.y = {0};
    RunOptions opt;
    opt.steps = 4;
    const RunResult r = simulate(net, d, opt);
    // Steps: {0}, {0,1}, {0}, {0,1}: 6 spikes of N = 3 neurons.
    REQUIRE(r.cuts.size() == 1);
    CHECK(r.cut_spikes[0] == 6);
    // Address events: ⌈log₂ 4⌉ = 2 bits, (n + 1) per step: 4 + 6 + 4 + 6.
    CHECK(r.cut_bits[0].aer == 20);
    // Bitmap: 3 bits per step.
    CHECK(r.cut_bits[0].bitmap == 12);
    // Delta: γ(n+1) + γ(gaps+1); step {0}: γ(2) + γ(1) = 3 + 1; step {0,1}: γ(3) + γ(1) + γ(1) = 3 + 1 + 1.
    CHECK(r.cut_bits[0].delta == 18);
    // Best: the bitmap (3 bits) every step, plus 2 bits saying so.
    CHECK(r.cut_bits[0].best == 20);

    const nlohmann::json j = test::checked_report(report_json(net, r, RunInfo{"hand", "hand", opt, -1, {}, {}}));
    REQUIRE(j["cuts"].size() == 1);
    CHECK(j["cuts"][0]["from"] == "edge");
    CHECK(j["cuts"][0]["to"] == "cloud");
    CHECK(j["cuts"][0]["bytes_aer"].get<double>() == 2.5);
    CHECK(j["cuts"][0]["dnn_bytes_fp32"].get<double>() == 12.0);
    CHECK(j["cuts"][0]["dnn_bytes_int8"].get<double>() == 3.0);
}

TEST_CASE("elias-gamma and address widths", "[traffic]") {
    CHECK(elias_gamma_bits(1) == 1);
    CHECK(elias_gamma_bits(2) == 3);
    CHECK(elias_gamma_bits(3) == 3);
    CHECK(elias_gamma_bits(4) == 5);
    CHECK(elias_gamma_bits(1000) == 19); // ⌊log₂ 1000⌋ = 9
    CHECK(address_bits(1) == 1);         // one neuron and the end-of-step marker
    CHECK(address_bits(3) == 2);
    CHECK(address_bits(4) == 3);
    CHECK(address_bits(2304) == 12);
    // An empty step: the marker alone, a bitmap of zeros, γ(1) for "no spikes".
    const CutBits b = step_bits({}, 100);
    CHECK(b.aer == 7);
    CHECK(b.bitmap == 100);
    CHECK(b.delta == 1);
    CHECK(b.best == 3);
    // Addresses 0, 2 and 47 of 48 neurons, as a list and as 16-unit masks:
    // AER 4 × 6 bits; Elias-gamma γ(4) + γ(1) + γ(2) + γ(45) = 5 + 1 + 3 + 11.
    const std::vector<std::int32_t> list{0, 2, 47};
    const std::vector<std::uint16_t> masks{0b101, 0, 0x8000};
    for (const CutBits& c : {step_bits(list, 48), step_bits_of_masks(masks, 48)}) {
        CHECK(c.aer == 24);
        CHECK(c.bitmap == 48);
        CHECK(c.delta == 20);
        CHECK(c.best == 22);
    }
}

TEST_CASE("the cut meter offsets each source by its base, from spike lists or masks alike", "[exits][traffic]") {
    // Two sources on a cut of 36 neurons, the second from address 20:
    // units {1, 5} of the first and {0, 3} of the second are addresses
    // 1, 5, 20, 23. AER 5 × 6 bits = 30; Elias-gamma γ(5) + γ(2) + γ(4) +
    // γ(15) + γ(3) = 5 + 3 + 5 + 7 + 3 = 23; best 23 + 2.
    const std::vector<std::int64_t> base{0, 20};
    const std::vector<std::int32_t> first{1, 5}, second{0, 3};
    const std::vector<std::uint16_t> first_masks{0b100010, 0}, second_masks{0b1001}; // 20 units: two mask words
    std::vector<std::int32_t> scratch;
    for (int form = 0; form < 4; ++form) {
        INFO("form " << form);
        const SourceStep a = form & 1 ? SourceStep{{}, first_masks.data(), 20} : SourceStep{first};
        const SourceStep b = form & 2 ? SourceStep{{}, second_masks.data(), 16} : SourceStep{second};
        const std::vector<SourceStep> sources{a, b};
        const CutStep step = meter_step(base, 36, sources, scratch);
        CHECK(step.spikes == 4);
        CHECK(step.bits.aer == 30);
        CHECK(step.bits.bitmap == 36);
        CHECK(step.bits.delta == 23);
        CHECK(step.bits.best == 25);
    }
    // One source at address 0, as masks (the meter reads them in place) and as a list.
    for (const SourceStep& only : {SourceStep{{}, first_masks.data(), 20}, SourceStep{first}}) {
        const CutStep step = meter_step(std::vector<std::int64_t>{0}, 20, std::vector<SourceStep>{only}, scratch);
        // Addresses 1 and 5 of 20: AER 3 × 5 bits; γ(3) + γ(2) + γ(4) = 3 + 3 + 5.
        CHECK(step.spikes == 2);
        CHECK(step.bits.aer == 15);
        CHECK(step.bits.delta == 11);
        CHECK(step.bits.best == 13);
    }
}

TEST_CASE("an exit in depth that is always confident stops every input at its first check", "[exits]") {
    std::mt19937 rng(11);
    Network net = conv_pool_net(rng);
    net.devices = parse_partition(net, "edge:c1-d1,cloud:out");
    Exit e = classifier_exit(net, "d1", rng);
    // Class 2 wins by a bias no rate can overcome (|W|·rate ≤ 8 per class).
    e.bias = {0.0f, 0.0f, 100.0f};
    e.rule = ExitRule::MaxProb;
    e.threshold = 0.5f;
    e.check_every = 3;
    net.exits.push_back(e);
    const Dataset data = noisy_images({6, 6, 1}, 10, 3, rng);
    RunOptions opt;
    opt.steps = 12;
    const RunResult r = simulate(net, data, opt);
    CHECK(r.exit_taken == std::vector<std::int64_t>{10, 0});
    CHECK(r.exit_step_sum[0] == 30);
    CHECK(r.steps_sum == 30);
    for (int p : r.predictions) CHECK(p == 2);
    CHECK(r.synaptic_ops[4] == 0);   // the output never ran
    CHECK(r.neuron_updates[4] == 0);
    CHECK(r.neuron_updates[1] == 10 * 3 * 64); // c1: 64 neurons × 3 steps × 10 inputs
    CHECK(r.cut_used[0] == 0);                // nothing crossed to the cloud
    CHECK(r.cut_spikes[0] == 0);
    // One row of 3 class weights per spike of d1, 3 multiply-adds at the one check.
    CHECK(r.exit_adds[0] == 3 * r.spikes[3]);
    CHECK(r.exit_macs[0] == 3 * 10);
}

TEST_CASE("an exit in time on the output stops once its readout is confident", "[exits]") {
    // Output unit 0 gets current 1 per step, unit 1 nothing; λ = 10, so the
    // logits are (10, 0) at every step and the entropy is ≈ 0.0005 < 0.01.
    Network net;
    net.populations.push_back(input({1, 1, 1}));
    net.populations.push_back(spiking("out", {1, 1, 2}, {projection(0, ProjectionKind::Dense, {}, {1, 0}, "out")}, 10.0f));
    Exit e;
    e.name = "exit_output";
    e.at = "out";
    e.threshold = 0.01f;
    e.check_every = 4;
    net.exits.push_back(e);
    Dataset d;
    d.name = "hand";
    d.shape = {1, 1, 1};
    d.x = {1.0f, 1.0f};
    d.y = {0, 1};
    RunOptions opt;
    opt.steps = 16;
    const RunResult r = simulate(net, d, opt);
    CHECK(r.exit_taken == std::vector<std::int64_t>{2, 0});
    CHECK(r.exit_correct[0] == 1);
    CHECK(r.steps_sum == 8);
    CHECK(r.neuron_updates[1] == 2 * 4 * 2);
    CHECK(r.predictions == std::vector<int>{0, 0});
    // Raised above what the readout reaches, the exit never fires and the run is the plain one.
    net.exits[0].threshold = 0.0001f;
    const RunResult full = simulate(net, d, opt);
    CHECK(full.exit_taken == std::vector<std::int64_t>{0, 2});
    CHECK(full.steps_sum == 32);
}

TEST_CASE("energy per device from a hand-made operation count", "[exits][energy]") {
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    net.populations.push_back(spiking("A", {1, 1, 3}, {projection(0, ProjectionKind::Dense, {}, std::vector<float>(6, 0.5f), "A")}));
    net.populations.push_back(spiking("B", {1, 1, 2}, {projection(1, ProjectionKind::Dense, {}, std::vector<float>(6, 0.5f), "B")}));
    net.devices = parse_partition(net, "edge:A,cloud:B");
    RunResult r;
    r.samples = 2;
    r.checkpoints = {1};
    r.correct_at = {1};
    r.predictions = {0, 1};
    r.spikes = {0, 10, 4};
    r.synaptic_ops = {0, 100, 40}; // summed over the 2 samples
    r.input_macs = {0, 20, 0};
    r.neuron_updates = {0, 30, 10};
    r.binary_ops = {0, 0, 0};
    r.exit_taken = {2};
    r.exit_correct = {1};
    r.exit_step_sum = {2};
    r.steps_sum = 2;
    r.cuts = find_cuts(net);
    r.cut_bits.assign(1, CutBits{});
    r.cut_spikes = {10};
    r.cut_used = {2};
    RunOptions opt;
    opt.steps = 1;
    RunInfo info{"hand", "hand", opt, -1, {}, {}};
    nlohmann::json j = test::checked_report(report_json(net, r, info));
    REQUIRE(j["partitions"].size() == 2);
    const auto& edge = j["partitions"][0];
    CHECK(edge["device"] == "edge");
    // Per input: 40 adds, 10 input MACs, 15 neuron updates; memory: 50 weights of 32 bits.
    CHECK(edge["synaptic_adds"].get<double>() == 40);
    CHECK(edge["compute_pj"].get<double>() == Approx((40 + 15) * 0.9 + 10 * 4.6));
    CHECK(edge["memory_pj"].get<double>() == Approx(50 * 32 * 2.5));
    CHECK(edge["dnn_macs"].get<double>() == 6);
    CHECK(edge["dnn_energy_pj"].get<double>() == Approx(6 * (4.6 + 32 * 2.5)));
    const auto& cloud = j["partitions"][1];
    CHECK(cloud["energy_pj"].get<double>() == Approx((20 + 5) * 0.9 + 20 * 32 * 2.5));
    CHECK(j["energy_pj_per_sample"].get<double>() ==
          Approx((40 + 15) * 0.9 + 10 * 4.6 + 50 * 32 * 2.5 + (20 + 5) * 0.9 + 20 * 32 * 2.5));

    // A user's cost table replaces the default.
    TempDir dir("costs");
    std::ofstream(dir.file("costs.json")) << R"({"add_pj": 1, "mac_pj": 2, "memory_bit_pj": 0.5, "weight_bits": 8})";
    info.costs = load_cost_table(dir.file("costs.json"));
    j = test::checked_report(report_json(net, r, info));
    CHECK(j["partitions"][0]["energy_pj"].get<double>() == Approx(55 * 1 + 10 * 2 + 50 * 8 * 0.5));

    // B made binary: its 20 events per input become binary operations reading 1-bit weights,
    // and the DNN's 6 connections into B add or subtract a 1-bit weight instead of a 32-bit MAC.
    pack_binary(net.populations[2].projections[0], net.populations[1].shape, net.populations[2].shape, "B");
    r.binary_ops = {0, 0, 40};
    info.costs = CostTable{};
    j = test::checked_report(report_json(net, r, info));
    const auto& binary_cloud = j["partitions"][1];
    CHECK(binary_cloud["binary_ops"].get<double>() == 20);
    CHECK(binary_cloud["synaptic_adds"].get<double>() == 0);
    CHECK(binary_cloud["energy_pj"].get<double>() == Approx(5 * 0.9 + 20 * 0.2 + 20 * 1 * 2.5));
    CHECK(binary_cloud["dnn_energy_pj"].get<double>() == Approx(6 * (0.9 + 2.5)));
    CHECK(j["layers"][1]["binary"].get<bool>());
    CHECK(j["layers"][1]["xnor_dnn"]["binary_ops"].get<double>() == 6);
    CHECK(j["layers"][1]["xnor_dnn"]["input_bits"].get<double>() == 3);

    // A quantized to int:4: its 40 adds and 10 input MACs per input are 4-bit ones reading
    // 4-bit weights, priced by Table I ·4/32 (0.1125 and 0.575 pJ); its DNN's 6 MACs likewise.
    net.populations[2].projections[0].binary = false;
    net.populations[2].projections[0].bin = {};
    QuantSpec q4;
    q4.scheme = QuantScheme::Int;
    q4.bits = 4;
    quantize(net.populations[1].projections[0], net.populations[1].shape, q4, "A");
    r.binary_ops = {0, 0, 0};
    j = test::checked_report(report_json(net, r, info));
    const auto& q_edge = j["partitions"][0];
    CHECK(q_edge["compute_pj"].get<double>() == Approx(40 * 0.9 * 4 / 32 + 15 * 0.9 + 10 * 4.6 * 4 / 32));
    CHECK(q_edge["memory_pj"].get<double>() == Approx(50 * 4 * 2.5));
    CHECK(q_edge["dnn_energy_pj"].get<double>() == Approx(6 * (4.6 * 4 / 32 + 4 * 2.5)));
    CHECK(j["partitions"][1]["energy_pj"].get<double>() == Approx((20 + 5) * 0.9 + 20 * 32 * 2.5)); // B stays float
    // A table's own entry for 4 bits replaces the linear scaling.
    std::ofstream(dir.file("bits.json")) << R"({"add_pj_by_bits": {"4": 0.05}, "mac_pj_by_bits": {"4": 0.3}})";
    info.costs = load_cost_table(dir.file("bits.json"));
    j = test::checked_report(report_json(net, r, info));
    CHECK(j["partitions"][0]["compute_pj"].get<double>() == Approx(40 * 0.05 + 15 * 0.9 + 10 * 0.3));
    CHECK(j["partitions"][0]["dnn_energy_pj"].get<double>() == Approx(6 * (0.3 + 4 * 2.5)));
    CHECK(j["costs"]["add_pj_by_bits"]["4"].get<double>() == 0.05);
}

TEST_CASE("malformed cost tables, partitions and exits are refused by name", "[exits]") {
    TempDir dir("bad");
    const auto table = [&](const std::string& text) {
        std::ofstream(dir.file("t.json")) << text;
        return dir.file("t.json");
    };
    CHECK_THROWS_WITH(load_cost_table(table("{\"add_pj\": ")), Contains("not valid JSON") && Contains("t.json"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"adds\": 1}")), Contains("unknown cost 'adds'"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"add_pj\": \"cheap\"}")), Contains("'add_pj' is not a number"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"mac_pj\": -1}")), Contains("'mac_pj' must be a finite number"));
    CHECK_THROWS_WITH(load_cost_table(table("[1, 2]")), Contains("must be a JSON object"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"add_pj_by_bits\": {\"40\": 1}}")), Contains("'40' is not a bit width"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"mac_pj_by_bits\": 3}")), Contains("must be an object of bit widths"));
    CHECK_THROWS_WITH(load_cost_table(table("{\"add_pj_by_bits\": {\"8\": -1}}")), Contains("'add_pj_by_bits.8' must be a finite"));
    CHECK_THROWS_WITH(load_cost_table(dir.file("missing.json")), Contains("missing.json"));

    std::mt19937 rng(3);
    Network net = conv_pool_net(rng);
    CHECK_THROWS_WITH(parse_partition(net, "edge:c1-p1"), Contains("'d1' is not assigned"));
    CHECK_THROWS_WITH(parse_partition(net, "edge:c1-p1,cloud:out"), Contains("starts at 'out'"));
    CHECK_THROWS_WITH(parse_partition(net, "cloud:d1-out,edge:c1-p1"), Contains("starts at 'd1'"));
    CHECK_THROWS_WITH(parse_partition(net, "edge:c1-nope,cloud:d1-out"), Contains("'c1-nope' does not name"));
    CHECK_THROWS_WITH(parse_partition(net, "edge:p1-c1,cloud:d1-out"), Contains("runs backwards"));
    CHECK_THROWS_WITH(parse_partition(net, "edge:c1-p1,edge:d1-out"), Contains("appears twice"));
    CHECK_THROWS_WITH(parse_partition(net, "edge c1"), Contains("not device:first-last"));
    CHECK(partition_spec(Network{net.populations, "", "", Readout::Spikes, {}, parse_partition(net, "e:c1,f:p1-out")}) ==
          "e:c1,f:p1-out");

    Exit e = classifier_exit(net, "d1", rng);
    e.at = "nowhere";
    net.exits = {e};
    CHECK_THROWS_WITH(validate(net), Contains("exit 'exit_d1'") && Contains("'nowhere' does not exist"));
    e.at = "d1";
    e.weights.pop_back();
    net.exits = {e};
    CHECK_THROWS_WITH(validate(net), Contains("classifier has 23 weights, expected 24"));
    Exit own;
    own.name = "own";
    own.at = "p1";
    net.exits = {own};
    CHECK_THROWS_WITH(validate(net), Contains("only an exit at the output may read the output itself"));
    own.at = "out";
    own.rule = ExitRule::MaxProb;
    own.threshold = 1.5f;
    net.exits = {own};
    CHECK_THROWS_WITH(validate(net), Contains("not a probability"));
}

TEST_CASE("exits and a partition survive a save and load bit for bit", "[exits][io]") {
    std::mt19937 rng(5);
    Network net = conv_pool_net(rng);
    net.devices = parse_partition(net, "edge:c1-p1,cloud:d1-out");
    Exit e = classifier_exit(net, "p1", rng);
    e.rule = ExitRule::MaxProb;
    e.threshold = 0.9f;
    e.check_every = 4;
    net.exits.push_back(e);
    Exit own;
    own.name = "exit_output";
    own.at = "out";
    own.threshold = 0.05f;
    own.check_every = 2;
    net.exits.push_back(own);
    TempDir dir("io");
    save(net, dir.file("n.snn.h5"));
    CHECK(load(dir.file("n.snn.h5")) == net);
}

TEST_CASE("the Pareto front keeps only points that nothing else dominates", "[exits][place]") {
    // (cost, accuracy)
    const std::vector<std::pair<double, double>> pts{
        {10, 0.90}, // 0: front
        {12, 0.89}, // 1: dominated by 0
        {15, 0.95}, // 2: front
        {15, 0.93}, // 3: dominated by 2 (same cost, less accurate)
        {20, 0.95}, // 4: dominated by 2 (costlier, as accurate)
        {30, 0.99}, // 5: front
        {5, 0.50},  // 6: front (cheapest)
        {10, 0.90}, // 7: a tie with 0: the first is kept
    };
    CHECK(pareto_front(pts) == std::vector<std::size_t>{6, 0, 2, 5});
}

TEST_CASE("softmax regression reaches a stationary point of its loss", "[exits][place]") {
    // Two overlapping classes in 3 features: the optimum is finite, and there the
    // gradient of mean cross-entropy + l2/2·‖W‖² vanishes (computed here directly).
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 0.3f);
    const int n = 200, f = 3, classes = 2;
    std::vector<float> x;
    std::vector<int> y;
    for (int i = 0; i < n; ++i) {
        const int c = i % 2;
        x.push_back(0.5f + (c ? 0.2f : -0.2f) + g(rng));
        x.push_back(0.5f + g(rng));
        x.push_back(c ? 0.8f : 0.2f);
        y.push_back(c);
    }
    x[2] = 0.8f; // one sample of class 0 looks like class 1 in the last feature, so they do not separate
    SoftmaxFitOptions o;
    o.iterations = 3000;
    o.l2 = 1e-2;
    std::vector<float> bias;
    const std::vector<float> w = fit_softmax_regression(x, y, f, classes, bias, o);
    std::vector<double> gw(std::size_t(f * classes), 0.0), gb(classes, 0.0);
    int right = 0;
    for (int i = 0; i < n; ++i) {
        std::vector<double> z(classes);
        for (int c = 0; c < classes; ++c) {
            z[std::size_t(c)] = bias[std::size_t(c)];
            for (int k = 0; k < f; ++k) z[std::size_t(c)] += double(x[std::size_t(i * f + k)]) * w[std::size_t(k * classes + c)];
        }
        const auto p = softmax(z);
        right += (p[1] > p[0]) == (y[std::size_t(i)] == 1);
        for (int c = 0; c < classes; ++c) {
            const double d = (p[std::size_t(c)] - (y[std::size_t(i)] == c)) / n;
            gb[std::size_t(c)] += d;
            for (int k = 0; k < f; ++k) gw[std::size_t(k * classes + c)] += d * x[std::size_t(i * f + k)];
        }
    }
    for (int k = 0; k < f * classes; ++k) gw[std::size_t(k)] += o.l2 * w[std::size_t(k)];
    for (double v : gw) CHECK(std::abs(v) < 1e-3);
    for (double v : gb) CHECK(std::abs(v) < 1e-3);
    CHECK(right >= n - 5);
}

TEST_CASE("placement scores the configurations it watched, and reuses the network's own classifiers", "[exits][place]") {
    std::mt19937 rng(21);
    Network net = conv_pool_net(rng);
    const Exit own = classifier_exit(net, "d1", rng); // e.g. an exit head of the Keras model
    net.exits.push_back(own);
    const Dataset train = noisy_images({6, 6, 1}, 30, 3, rng), val = noisy_images({6, 6, 1}, 20, 3, rng);
    PlaceOptions o;
    o.steps = 8;
    o.candidates = {"c1", "d1"};
    o.check_every = {0, 4};
    o.fit.iterations = 20;
    const PlaceResult r = place_exits(net, train, val, o);
    REQUIRE(r.classifiers.size() == 2);
    CHECK(r.classifiers[0].at == "c1");
    CHECK(r.classifiers[0].weights.size() == 64 * 3); // fitted
    CHECK(r.classifiers[1].weights == own.weights);   // reused
    // The baseline is the network without exits, simulated for real.
    Network plain = net;
    plain.exits.clear();
    RunOptions opt;
    opt.steps = 8;
    const RunResult run = simulate(plain, val, opt);
    CHECK(r.baseline.accuracy == Approx(double(run.correct_at.back()) / 20));
    double ops = 0;
    for (double x : run.synaptic_ops) ops += x;
    CHECK(r.baseline.ops == Approx(ops / 20));
    // A point of the front, written into the network and simulated, gives what placement predicted.
    REQUIRE(!r.front.empty());
    for (const PlacePoint& p : r.front) {
        Network placed = plain;
        placed.exits = exits_of(p, r, placed, o.rule);
        const RunResult got = simulate(placed, val, opt);
        INFO(p.depth_at << " " << p.depth_threshold << " / " << p.output_threshold);
        CHECK(double(got.correct_at.back()) / 20 == Approx(p.accuracy));
        double got_ops = 0;
        for (double x : got.synaptic_ops) got_ops += x;
        for (std::size_t e = 0; e < placed.exits.size(); ++e) got_ops += got.exit_adds[e] + got.exit_macs[e];
        CHECK(got_ops / 20 == Approx(p.ops));
    }
}
