// A partitioned network run device by device, talking by messages alone
// (sim/pipeline.hpp): the same result as the whole network in one piece.
#include "sim/cut_codec.hpp"
#include "sim/cut_loss.hpp"
#include "sim/engine.hpp"
#include "sim/pipeline.hpp"
#include "sim/place.hpp"
#include "snn/error.hpp"
#include "tests/sim/same_run.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace snn;
using snn::test::check_same_run;
using snn::test::input;
using snn::test::projection;
using Catch::Matchers::Contains;

namespace {

std::vector<float> uniform(std::size_t n, float lo, float hi, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> w(n);
    for (float& x : w) x = u(rng);
    return w;
}

Population spiking(const std::string& name, Shape shape, Projection p, float scale = 1.0f) {
    Population pop;
    pop.name = name;
    pop.shape = shape;
    pop.projections = {std::move(p)};
    pop.scale = scale;
    return pop;
}

// input (6,6,1) → conv 3×3 → c1 (4,4,4) → max-pool gate → p1 (2,2,4) → d1 (8) → out (3),
// on three devices a (c1, p1), b (d1), c (out), with exits at c1 and d1.
Network three_devices(std::mt19937& rng, float c1_threshold, float d1_threshold) {
    Network net;
    net.populations.push_back(input({6, 6, 1}));
    net.populations.push_back(spiking("c1", {4, 4, 4}, projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 0, 0}, uniform(36, -0.2f, 0.5f, rng), "c1")));
    Population gate = spiking("p1", {2, 2, 4}, projection(1, ProjectionKind::MaxPool, {2, 2, 2, 2, 0, 0}, {}, "p1"));
    gate.kind = PopulationKind::MaxPool;
    net.populations.push_back(gate);
    net.populations.push_back(spiking("d1", {1, 1, 8}, projection(2, ProjectionKind::Dense, {}, uniform(16 * 8, -0.3f, 0.6f, rng), "d1")));
    net.populations.push_back(spiking("out", {1, 1, 3}, projection(3, ProjectionKind::Dense, {}, uniform(8 * 3, -0.5f, 0.8f, rng), "out"), 4.0f));
    net.devices = parse_partition(net, "a:c1-p1,b:d1,c:out");
    for (const char* at : {"c1", "d1"}) {
        Exit e;
        e.name = std::string("exit_") + at;
        e.at = at;
        e.weights = uniform(std::size_t(net.populations[std::size_t(net.find(at))].shape.size()) * 3, -1.0f, 1.0f, rng);
        e.bias = uniform(3, -0.5f, 0.5f, rng);
        e.threshold = std::string(at) == "c1" ? c1_threshold : d1_threshold;
        e.check_every = 3;
        net.exits.push_back(e);
    }
    validate(net);
    return net;
}

Dataset images(int n, std::mt19937& rng) {
    Dataset d;
    d.name = "random";
    d.shape = {6, 6, 1};
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int i = 0; i < n * 36; ++i) d.x.push_back(u(rng) < 0.3f ? 0.0f : u(rng));
    for (int i = 0; i < n; ++i) d.y.push_back(int(rng() % 3u));
    return d;
}


} // namespace

// The steps per message: the whole run (0), lock step (1), a window that does
// not divide the run (5 of 18) and the whole run given as a number (18).
constexpr int windows[] = {0, 1, 5, 18};

TEST_CASE("devices run apart and talking by messages give the whole network's result", "[pipeline][exits][cut_loss]") {
    std::mt19937 rng(11);
    const Network net = three_devices(rng, 0.6f, 1.0f);
    const Dataset data = images(30, rng);
    for (const char* loss : {"none", "0.1", "burst:0.3:3"})
        for (Encoding enc : {Encoding::Current, Encoding::Poisson}) {
            RunOptions opt;
            opt.steps = 18;
            opt.encode = enc;
            opt.cut_loss = cut_loss_from(loss);
            opt.record_samples = 5;
            const RunResult whole = simulate(net, data, opt);
            // Some samples leave at each exit and some reach the output, so every kind of message is sent.
            REQUIRE(whole.exit_taken.size() == 3);
            INFO("exits taken " << whole.exit_taken[0] << " " << whole.exit_taken[1] << " " << whole.exit_taken[2]);
            CHECK(whole.exit_taken[0] > 0);
            CHECK(whole.exit_taken[1] > 0);
            CHECK(whole.exit_taken[2] > 0);
            for (int window : windows) {
                INFO("loss " << loss << ", encoding " << to_string(enc) << ", window " << window);
                opt.window = window;
                const RunResult piped = simulate_pipeline(net, data, opt);
                check_same_run(whole, piped);
                // Both sides count the same bytes. The coded steps are the meter's bits when a
                // message carries the whole run; in windows, those sent before a sample left
                // at an exit upstream come on top.
                REQUIRE(piped.cut_bytes_sent.size() == 2);
                CHECK(piped.cut_bytes_sent == piped.cut_bytes_received);
                for (std::size_t c = 0; c < 2; ++c) {
                    if (window == 0 || window == 18) CHECK(piped.cut_payload_bits[c] == double(whole.cut_bits[c].best));
                    // Exits fire at multiples of 3 steps: in lock step a sample that left sent two windows first.
                    else if (window == 1) CHECK(piped.cut_payload_bits[c] > double(whole.cut_bits[c].best));
                    else CHECK(piped.cut_payload_bits[c] >= double(whole.cut_bits[c].best));
                }
            }
        }
}

TEST_CASE("a sample split into windows: the same result, the meter's payload, a header per window", "[pipeline]") {
    std::mt19937 rng(17);
    Network net = three_devices(rng, 0.6f, 1.0f);
    net.exits.clear(); // every sample crosses both cuts at every step
    const Dataset data = images(12, rng);
    RunOptions opt;
    opt.steps = 18;
    opt.record_samples = 3;
    const RunResult whole = simulate(net, data, opt);
    std::vector<double> sent_before(2, 0.0);
    for (int window : {18, 5, 1}) {
        INFO("window " << window);
        opt.window = window;
        const RunResult piped = simulate_pipeline(net, data, opt);
        check_same_run(whole, piped);
        // A message per window, sample and cut: its envelope and header, then the
        // window's coded steps padded to a byte (under a byte of padding each).
        const double messages = double(data.size()) * double((18 + window - 1) / window);
        const double per_message = double(envelope_bytes + cut_header_bytes);
        for (std::size_t c = 0; c < 2; ++c) {
            const double payload_bytes = double(whole.cut_bits[c].best) / 8;
            CHECK(piped.cut_payload_bits[c] == double(whole.cut_bits[c].best));
            CHECK(piped.cut_bytes_sent[c] >= messages * per_message + payload_bytes);
            CHECK(piped.cut_bytes_sent[c] < messages * (per_message + 1) + payload_bytes);
            CHECK(piped.cut_bytes_sent[c] > sent_before[c]); // more windows, more headers
            sent_before[c] = piped.cut_bytes_sent[c];
        }
    }
}

TEST_CASE("a device refuses a message of another sample, another window, a short one or a corrupt one", "[pipeline]") {
    std::mt19937 rng(5);
    Network net = three_devices(rng, 0.6f, 1.0f);
    net.exits.clear(); // every window's message carries spikes
    const Dataset data = images(3, rng);
    RunOptions opt;
    opt.steps = 6;
    opt.window = 4; // windows [0, 4) and [4, 6)
    const PipelineDevice a(net, opt, 0), b(net, opt, 1);
    REQUIRE(a.cuts_out().size() == 1);
    REQUIRE(b.cuts_in() == a.cuts_out());
    DeviceRecords ra = a.empty_records(3, 0), rb = b.empty_records(3, 0);
    SampleState sa, sb;
    a.engine().init(sa);
    b.engine().init(sb);
    DeviceSample at_a = a.begin(data, 1, sa);
    const auto sent = a.next({}, at_a, sa, ra);
    REQUIRE(sent.size() == 1);
    REQUIRE(sent[0]);
    const Message& m = *sent[0];
    const auto give = [&](std::int64_t i, const Message& message) {
        DeviceSample at_b = b.begin(data, i, sb);
        const Message* in[] = {&message};
        return b.next(in, at_b, sb, rb);
    };
    CHECK_THROWS_WITH(give(2, m), Contains("the message of sample 2 from device 'a' to 'b' is sample 1's"));
    CHECK_THROWS_WITH(give(1, Message(m.begin(), m.begin() + 5)), Contains("5 bytes"));
    CHECK_THROWS_WITH(give(1, Message(m.begin(), m.end() - 1)), Contains("cut message"));
    CHECK_NOTHROW(give(1, m));
    CHECK(rb.bytes_received[b.cuts_in()[0]] == double(m.size()));
    // The second window's message where the first is due.
    REQUIRE_FALSE(at_a.done());
    const auto second = a.next({}, at_a, sa, ra);
    REQUIRE(second[0]);
    CHECK(at_a.done());
    CHECK_THROWS_WITH(give(1, *second[0]), Contains("holds steps [4, 6), not the window [0, 4)"));
    CHECK_THROWS_WITH(PipelineDevice(net, [] { RunOptions o; o.window = -1; return o; }(), 0), Contains("--window -1"));
}

TEST_CASE("a pipeline needs a partition whose devices hold consecutive populations", "[pipeline]") {
    std::mt19937 rng(3);
    Network net = three_devices(rng, 0.5f, 0.5f);
    CHECK(pipeline_devices(net) == std::vector<std::string>{"a", "b", "c"});
    net.devices = {"a", "a", "b", "a", "c"};
    CHECK_THROWS_WITH(pipeline_devices(net), Contains("device 'a' holds populations on both sides of device 'b'"));
    net.devices.clear();
    CHECK_THROWS_WITH(pipeline_devices(net), Contains("needs a partition"));
}
