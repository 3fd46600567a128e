// 16-bit membranes (NeuronParams::state_bits, sim/neuron.hpp): v = k·q with
// q = v_th/256 and k a signed 16-bit code, rounded to the nearest code (ties
// to even) after every update and saturated at k = −32768 and 32767. Every
// expected value here is worked out by hand in codes (multiples of q); the
// engine must give them on every path (step by step, layer by layer, each
// float ISA), and the CLI sets, stores, shows and checks the width.
#include "sim/engine.hpp"
#include "sim/neuron.hpp"
#include "snn/fit.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;
using L = neuron::Lanes1<float>;

namespace {

constexpr float q = 1.0f / 256.0f; // the step of a membrane with v_th = 1

NeuronParams sixteen_bit(float v_th = 1.0f) {
    NeuronParams n;
    n.v_th = v_th;
    n.state_bits = 16;
    return n;
}

neuron::Grid<L> grid(const NeuronParams& n) { return neuron::grid_lanes<L>(*neuron::state_grid(n)); }

float snap(float x, const NeuronParams& n = sixteen_bit()) { return neuron::snap<L>(x, grid(n)); }

} // namespace

TEST_CASE("16-bit membranes: values round to the nearest step of v_th/256, ties to even, and saturate", "[sim][state_bits]") {
    CHECK_FALSE(neuron::state_grid(NeuronParams{})); // 32 bits: no grid
    const StateGrid g = *neuron::state_grid(sixteen_bit());
    CHECK(g.step == q);
    CHECK(g.per_step == 256.0f);
    CHECK(g.lowest == -32768.0f);
    CHECK(g.highest == 32767.0f);

    // Between grid points: 0.3 = 76.8 steps → 77; 0.3 + 0.4 steps → 0.3's 77 steps.
    CHECK(snap(0.3f) == 77 * q);
    CHECK(snap(1.0f + 0.4f * q) == 1.0f);
    CHECK(snap(1.0f + 0.6f * q) == 1.0f + q);
    // Halfway: to the even code, up or down.
    CHECK(snap(2.5f * q) == 2 * q);
    CHECK(snap(3.5f * q) == 4 * q);
    CHECK(snap(-2.5f * q) == -2 * q);
    CHECK(snap(-3.5f * q) == -4 * q);
    // On the grid: unchanged.
    CHECK(snap(-77 * q) == -77 * q);
    // The ends: 32767 steps = 128 − q above, −32768 steps = −128 below.
    CHECK(snap(127.0f) == 127.0f);
    CHECK(snap(128.0f) == 32767 * q);
    CHECK(snap(1e30f) == 32767 * q);
    CHECK(snap(std::numeric_limits<float>::infinity()) == 32767 * q);
    CHECK(snap(-128.0f) == -128.0f);
    CHECK(snap(-128.0f - 0.4f * q) == -128.0f);
    CHECK(snap(-1e30f) == -128.0f);
    CHECK(snap(std::numeric_limits<float>::quiet_NaN()) == -128.0f);
    // Another threshold: the step scales with it (v_th = 3: q = 3/256).
    const NeuronParams three = sixteen_bit(3.0f);
    CHECK(snap(0.05f, three) == 4 * (3.0f / 256)); // 0.05·256/3 = 4.27 steps
    CHECK(snap(1000.0f, three) == 32767 * (3.0f / 256));
    // The initial membrane is on the grid: v_init 0.3 of v_th 1 starts at 77 steps.
    NeuronParams start = sixteen_bit();
    start.v_init = 0.3f;
    CHECK(neuron::initial_v(start) == 77 * q);
    start.state_bits = 32;
    CHECK(neuron::initial_v(start) == 0.3f);
}

TEST_CASE("16-bit membranes: a unit driven past the top stays at the top, a negative drive floors at the bottom", "[sim][state_bits]") {
    const auto g = grid(sixteen_bit());
    SECTION("reset by subtraction: v = 100 fires and keeps 99; 99 + 100 saturates at 32767 steps, fires, keeps 32767 − 256") {
        float v = 0;
        CHECK(neuron::step<true, L>(v, 100.0f, 1.0f, 1.0f, 1.0f, g));
        CHECK(v == 99.0f);
        for (int t = 0; t < 3; ++t) {
            CHECK(neuron::step<true, L>(v, 100.0f, 1.0f, 1.0f, 1.0f, g));
            CHECK(v == 32511 * q);
        }
    }
    SECTION("reset to zero") {
        float v = 0;
        CHECK(neuron::step<false, L>(v, 300.0f, 1.0f, 1.0f, 1.0f, g));
        CHECK(v == 0.0f);
    }
    SECTION("an integrator (never fires): pinned at the top, then brought down by a negative input") {
        const float never = neuron::integrator_v_th;
        float v = 0;
        for (int t = 0; t < 4; ++t) CHECK_FALSE(neuron::step<true, L>(v, 50.0f, 1.0f, never, never, g));
        CHECK(v == 32767 * q); // 50, 100, 150 → the top, 200 → the top
        CHECK_FALSE(neuron::step<true, L>(v, -0.5f, 1.0f, never, never, g));
        CHECK(v == 32639 * q); // 32767 − 128 steps
    }
    SECTION("a negative drive: −50, −100, then the bottom, −128, and it stays there") {
        float v = 0;
        const float expected[] = {-50.0f, -100.0f, -128.0f, -128.0f};
        for (float e : expected) {
            CHECK_FALSE(neuron::step<true, L>(v, -50.0f, 1.0f, 1.0f, 1.0f, g));
            CHECK(v == e);
        }
        // Back up from the floor by what the input adds, not from −150.
        CHECK_FALSE(neuron::step<true, L>(v, 30.0f, 1.0f, 1.0f, 1.0f, g));
        CHECK(v == -98.0f);
    }
    SECTION("the threshold compares the rounded membrane: 1 − 0.4 steps rounds up to v_th and fires") {
        float v = 0;
        CHECK(neuron::step<true, L>(v, 1.0f - 0.4f * q, 1.0f, 1.0f, 1.0f, g));
        CHECK(v == 0.0f);
        float f = 0; // the float membrane stays below v_th
        CHECK_FALSE(neuron::step<true, L>(f, 1.0f - 0.4f * q, 1.0f, 1.0f, 1.0f));
    }
    SECTION("LIF: v·decay + I, rounded once, then snapped") {
        float v = 77 * q;
        CHECK_FALSE(neuron::step<true, L>(v, 0.0f, 0.5f, 1.0f, 1.0f, g));
        CHECK(v == 38 * q); // 38.5 steps → 38 (even)
    }
    SECTION("a spike taken back lands on the grid") {
        float v = -300 * q;
        CHECK(neuron::take_back(v, 1, 1.0f, *neuron::state_grid(sixteen_bit())));
        CHECK(v == -44 * q);
    }
}

namespace {

// input (one pixel) → dense → 5 units, current encoding, v_th 1, 16-bit
// membranes. With the pixel at 1 the units get a constant current per step
// of their weight: 0.3 (76.8 steps), 100, −50, 2.5 steps and 1.5 steps.
Network five_units() {
    Network net;
    net.populations.push_back(input({1, 1, 1}));
    Population out;
    out.name = "out";
    out.shape = {1, 1, 5};
    out.projections.push_back(projection(0, ProjectionKind::Dense, {}, {0.3f, 100.0f, -50.0f, 2.5f * q, 1.5f * q}, "out"));
    out.neuron = sixteen_bit();
    net.populations.push_back(out);
    validate(net);
    return net;
}

struct Expected {
    std::vector<int> codes;   // the membranes in steps of q after T steps
    std::vector<int> spikes;  // the spike counts
};

// By hand, steps t = 1 … 5 (codes; fire at 256, then subtract 256):
//   0.3:  77, 154, 231, 308 → fires → 52, 129           (76.8 rounds up every step)
//   100:  25600 fires → 25344; + 25600 saturates at 32767, fires → 32511, and so on
//   −50:  −12800, −25600, −32768 (saturated), −32768, −32768
//   2.5:  2, 4, 6, 8, 10  (2.5 → 2, 4.5 → 4, …: ties to even, down)
//   1.5:  2, 4, 6, 8, 10  (1.5 → 2, 3.5 → 4, …: ties to even, up)
Expected by_hand(int T) {
    const int a[] = {77, 154, 231, 52, 129};
    return {{a[T - 1], T == 1 ? 25344 : 32511, -std::min(12800 * T, 32768), 2 * T, 2 * T},
            {T >= 4 ? 1 : 0, T, 0, 0, 0}};
}

// The same with a membrane readout: the output never fires and integrates.
Expected by_hand_integrating(int T) {
    return {{std::min(77 * T, 385), std::min(25600 * T, 32767), -std::min(12800 * T, 32768), 2 * T, 2 * T}, {0, 0, 0, 0, 0}};
}

} // namespace

TEST_CASE("16-bit membranes: a tiny network worked by hand, step by step and layer by layer, on every float ISA", "[sim][state_bits][kernels][layerwise]") {
    const Network net = five_units();
    const auto readout = GENERATE(Readout::Spikes, Readout::Membrane);
    const float pixel = 1.0f;
    for (int T = 1; T <= 5; ++T)
        for (KernelPath path : {KernelPath::Reference, KernelPath::Event, KernelPath::Auto})
            for (bool layer_by_layer : {false, true})
                for (const FloatIsa isa : test::float_isas()) {
                    RunOptions o;
                    o.steps = T;
                    o.readout = readout;
                    o.kernels = path;
                    o.float_isa = isa;
                    o.layer_by_layer = layer_by_layer;
                    Engine engine(net, o);
                    // Only the automatic path runs layer by layer (the others are the step-by-step kernels).
                    REQUIRE(engine.layer_by_layer() == (path == KernelPath::Auto && layer_by_layer));
                    INFO("T " << T << " path " << int(path) << " layer by layer " << engine.layer_by_layer() << " ISA "
                              << to_string(isa) << " readout " << to_string(readout));
                    SampleState s;
                    engine.init(s);
                    engine.run_sample(&pixel, 0, s, nullptr);
                    const Expected e = readout == Readout::Spikes ? by_hand(T) : by_hand_integrating(T);
                    for (std::size_t j = 0; j < 5; ++j) {
                        INFO("unit " << j);
                        CHECK(s.v[1][j] == float(e.codes[j]) * q);
                        CHECK(s.counts[1][j] == e.spikes[j]);
                    }
                }
}

namespace {

// State after T steps of one sample, the pixel at 1.
SampleState run_steps(const Network& net, int T) {
    RunOptions o;
    o.steps = T;
    Engine engine(net, o);
    SampleState s;
    engine.init(s);
    const float pixel = 1.0f;
    engine.run_sample(&pixel, 0, s, nullptr);
    return s;
}

} // namespace

TEST_CASE("16-bit membranes in learned layers: per-unit thresholds and winner-take-all, by hand", "[sim][state_bits]") {
    Network net = five_units();
    Population& out = net.populations[1];
    out.shape = {1, 1, 2};
    out.theta = {0.0f, 0.5f}; // unit 1 fires at 1.5 = 384 steps
    SECTION("thresholds 1 and 1.5, reset by subtraction, both fed 0.3 (76.8 steps, rounded up to 77 every step)") {
        out.projections[0].weights = {0.3f, 0.3f};
        validate(net);
        // Unit 0: 77, 154, 231, 308 fires → 52. Unit 1: …, 308, 385 fires at t = 5 → 385 − 384 = 1.
        SampleState s = run_steps(net, 4);
        CHECK(s.v[1] == std::vector<float>{52 * q, 308 * q});
        CHECK(s.counts[1] == std::vector<std::int32_t>{1, 0});
        s = run_steps(net, 5);
        CHECK(s.v[1] == std::vector<float>{129 * q, 1 * q});
        CHECK(s.counts[1] == std::vector<std::int32_t>{1, 1});
    }
    SECTION("winner-take-all, reset to zero: the bottom holds until the winner's spike resets every unit") {
        out.projections[0].weights = {0.3f, -50.0f};
        out.neuron.reset = ResetMode::Zero;
        out.inhibition = Inhibition::WinnerTakeAll;
        validate(net);
        // Unit 1: −12800, −25600, −32768 (the bottom); unit 0 wins at t = 4 (308 ≥ 256) and both drop to 0.
        SampleState s = run_steps(net, 3);
        CHECK(s.v[1] == std::vector<float>{231 * q, -128.0f});
        s = run_steps(net, 4);
        CHECK(s.v[1] == std::vector<float>{0.0f, 0.0f});
        CHECK(s.counts[1] == std::vector<std::int32_t>{1, 0});
        s = run_steps(net, 5);
        CHECK(s.v[1] == std::vector<float>{77 * q, -50.0f});
    }
}

TEST_CASE("16-bit membranes round-trip through the file as format version 9; 32-bit files do not change", "[network_io][state_bits]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    Network net = five_units();
    save(net, path);
    CHECK(load(path) == net);
    CHECK(load(path).populations[1].neuron.state_bits == 16);
    {
        const h5::Node file = h5::open_file(path);
        CHECK(h5::read_int_attr(file, "format_version") == 9);
        CHECK(h5::read_int_attr(h5::open_group(file, "populations/001"), "state_bits") == 16);
    }
    set_state_bits(net, 32);
    save(net, path);
    CHECK(load(path).populations[1].neuron.state_bits == 32);
    const h5::Node file = h5::open_file(path);
    CHECK(h5::read_int_attr(file, "format_version") == 1);
    CHECK_FALSE(h5::has_attr(h5::open_group(file, "populations/001"), "state_bits"));
}

TEST_CASE("a file with state bits other than 16 or 32 is refused, naming the population", "[network_io][state_bits]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    save(five_units(), path);
    {
        h5::silence_errors();
        const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        const h5::Node file{h5::Handle(f, H5Fclose), path, "/"};
        h5::write_attr(h5::open_group(file, "populations/001"), "state_bits", std::int64_t(12));
    }
    REQUIRE_THROWS_WITH(load(path), Contains(path) && Contains("'out'") && Contains("state_bits 12"));
    Network net = five_units();
    CHECK_THROWS_WITH(set_state_bits(net, 24), Contains("24") && Contains("16") && Contains("32"));
}

TEST_CASE("snn fit counts the network's own state bits", "[fit][state_bits]") {
    const Target speck = load_target("speck");
    const auto state_violations = [&](const Network& net) {
        int n = 0;
        for (const FitLayer& l : fit(net, speck).layers)
            for (const FitViolation& v : l.violations) n += v.resource == "state_bits";
        return n;
    };
    Network net = five_units();
    CHECK(fit(net, speck).layers.at(0).state_bits == 16);
    CHECK(state_violations(net) == 0);
    set_state_bits(net, 32);
    CHECK(fit(net, speck).layers.at(0).state_bits == 32);
    CHECK(state_violations(net) == 1);
}

#if defined(SNN_BINARY) && defined(SNN_SOURCE_DIR)
TEST_CASE("snn convert --state-bits and --target set the membranes, inspect shows them, run overrides them", "[cli][state_bits]") {
    TempDir work("state-bits");
    const std::string model = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    const std::string net = work.file("net.snn.h5"), data = work.file("data.h5");
    tiny_network_and_data(work.file("plain.snn.h5"), data);

    const Outcome c = snn_cli("convert " + quote(model) + " -o " + quote(net) + " --state-bits 16");
    REQUIRE(c.status == 0);
    for (const Population& pop : load(net).populations)
        CHECK(pop.neuron.state_bits == (pop.kind == PopulationKind::Spiking ? 16 : 32));
    const Outcome shown = snn_cli("inspect " + quote(net));
    CHECK_THAT(shown.out, Contains("state=16bit"));
    const auto j = nlohmann::json::parse(snn_cli("inspect " + quote(net) + " --json").out);
    CHECK(j["populations"][1]["neuron"]["state_bits"] == 16);
    CHECK(snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 8 -q").status == 0);
    CHECK(snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 8 -q --state-bits 32").status == 0);

    // A chip with 16-bit states: the network gets them, and fits them.
    const std::string speck = work.file("speck.snn.h5");
    const Outcome t = snn_cli("convert " + quote(model) + " -o " + quote(speck) + " --target speck");
    REQUIRE(t.status == 0);
    CHECK_THAT(t.out, Contains("16-bit fixed point"));
    CHECK(load(speck).populations[1].neuron.state_bits == 16);
    const auto fitted = nlohmann::json::parse(snn_cli("fit " + quote(speck) + " --target speck --json").out);
    for (const auto& layer : fitted["layers"]) {
        if (layer["kind"] != "merged") CHECK(layer["state_bits"] == 16); // a pooling merged into a core has no neurons of its own
        for (const auto& v : layer["violations"]) CHECK(v["resource"] != "state_bits");
    }

    // Loihi's 24-bit states run as 16; SpiNNaker's 32-bit ones stay floats.
    const std::string loihi = work.file("loihi.snn.h5"), spinnaker = work.file("spinnaker.snn.h5");
    const Outcome l = snn_cli("convert " + quote(model) + " -o " + quote(loihi) + " --target loihi");
    REQUIRE(l.status == 0);
    CHECK_THAT(l.out, Contains("24-bit"));
    CHECK(load(loihi).populations[1].neuron.state_bits == 16);
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(spinnaker) + " --target spinnaker").status == 0);
    CHECK(load(spinnaker).populations[1].neuron.state_bits == 32);
    // --state-bits wins over the target's.
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(loihi) + " --target speck --state-bits 32").status == 0);
    CHECK(load(loihi).populations[1].neuron.state_bits == 32);

    SECTION("any other width is refused with one line, and nothing written") {
        const std::string out = work.file("bad.snn.h5");
        for (const std::string bits : {"12", "0", "24"}) {
            const Outcome o = snn_cli("convert " + quote(model) + " -o " + quote(out) + " --state-bits " + bits);
            INFO(o.err);
            CHECK(o.status == 1);
            CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
            CHECK_THAT(o.err, Contains("--state-bits " + bits) && Contains("16") && Contains("32"));
            CHECK_FALSE(std::filesystem::exists(out));
        }
        const std::string report = work.file("report.json");
        const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(data) + " --state-bits 12 --report " + quote(report));
        CHECK(r.status == 1);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_THAT(r.err, Contains("--state-bits 12"));
        CHECK_FALSE(std::filesystem::exists(report));
    }
}
#endif
