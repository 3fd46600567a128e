// NIR import and export: small graphs written with h5py from the format's
// layout by an independent script (tools/make_nir_fixtures.py,
// data/fixtures/nir/), whose spike counts per layer, computed by an
// independent numpy simulation (tools/nir_reference.py), the engine must
// reproduce; the NIR paper's CNN (../shared/data/nir/scnn_mnist.nir) against
// values read from it with h5py; export then import giving the same network;
// and the graphs `snn convert` must refuse with one line and exit code 1.
#include "convert/nir.hpp"
#include "sim/engine.hpp"
#include "sim/neuron.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;
const fs::path fixtures = source_dir / "data" / "fixtures" / "nir";
const fs::path shared_nir = source_dir / ".." / "shared" / "data" / "nir";

nlohmann::json read_json(const fs::path& p) {
    std::ifstream f(p);
    REQUIRE(f);
    return nlohmann::json::parse(f);
}

Network import(const fs::path& p, NirImportOptions o = {}) {
    std::vector<std::string> notes;
    return import_nir(p.string(), o, notes);
}

// The expected file's constant inputs, (N, C, H, W) or (N, F) as NIR lays
// them out, brought into the engine's channels-last order.
Dataset dataset_of(const nlohmann::json& e, const Network& net) {
    const auto dims = e.at("x_shape").get<std::vector<std::int64_t>>();
    const auto x = e.at("x").get<std::vector<float>>();
    Dataset d;
    d.name = "nir-fixture";
    d.shape = net.input().shape;
    const std::int64_t n = dims[0];
    const Shape s = d.shape;
    d.x.resize(std::size_t(n * s.size()));
    for (std::int64_t i = 0; i < n; ++i)
        for (int c = 0; c < s.c; ++c)
            for (int y = 0; y < s.h; ++y)
                for (int w = 0; w < s.w; ++w)
                    d.x[std::size_t(i * s.size() + (y * s.w + w) * s.c + c)] =
                        x[std::size_t(i * s.size() + (c * s.h + y) * s.w + w)];
    d.y.assign(std::size_t(n), 0);
    return d;
}

// Spikes per population over all samples, step by step and layer by layer
// (every float copy this CPU has): the counts must not depend on the path.
void check_counts(const Network& net, const nlohmann::json& e) {
    const Dataset d = dataset_of(e, net);
    for (FloatIsa isa : float_isas())
        for (bool layer_by_layer : {false, true}) {
            INFO("float isa " << to_string(isa) << ", layer by layer " << layer_by_layer);
            RunOptions o;
            o.steps = e.at("steps").get<int>();
            o.threads = 1;
            o.float_isa = isa;
            o.readout = Readout::Spikes;
            o.step_batches = layer_by_layer;
            o.layer_by_layer = layer_by_layer;
            const RunResult r = simulate(net, d, o);
            for (const auto& [node, count] : e.at("counts").items()) {
                INFO("node " << node);
                const int i = net.find(node);
                REQUIRE(i > 0);
                CHECK(r.spikes[std::size_t(i)] == double(count.get<std::int64_t>()));
            }
        }
}

} // namespace

TEST_CASE("nir: a small CNN converts and spikes as the numpy reference does, under either reset", "[nir]") {
    const Network net = import(fixtures / "tiny_cnn.nir");
    // input, if0, if1 (the sum pooling folded into conv1), if2
    REQUIRE(net.populations.size() == 4);
    CHECK(net.input().shape == Shape{6, 6, 2});
    CHECK(net.input_layout == InputLayout::ChannelsFirst);
    CHECK(net.populations[1].shape == Shape{6, 6, 3});
    CHECK(net.populations[2].shape == Shape{3, 3, 4});
    CHECK(net.populations[2].projections[0].kind == ProjectionKind::Conv2D);
    // 2×2 pooling of stride 2, then a 3×3 conv with padding 1 = a 6×6 conv of stride 2, padding 2.
    CHECK(net.populations[2].projections[0].window == Window{6, 6, 2, 2, 2, 2});
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        CHECK(net.populations[i].neuron.strict_threshold);
        CHECK(net.populations[i].neuron.reset == ResetMode::Subtract); // version 0.2.0
    }
    check_counts(net, read_json(fixtures / "tiny_cnn.expected.json"));

    NirImportOptions value;
    value.reset = NirReset::Value;
    const Network zero = import(fixtures / "tiny_cnn.nir", value);
    CHECK(zero.populations[1].neuron.reset == ResetMode::Zero);
    check_counts(zero, read_json(fixtures / "tiny_cnn.value.json"));
}

TEST_CASE("nir: LIF with --dt, Linear, Affine and Scale folded, reset to v_reset in a 1.0.7 file", "[nir]") {
    NirImportOptions o;
    o.dt = 0.001;
    const Network net = import(fixtures / "tiny_lif.nir", o);
    REQUIRE(net.populations.size() == 3);
    const Population& lif = net.populations[1];
    CHECK(lif.neuron.model == NeuronModel::LIF);
    CHECK(lif.neuron.tau_steps == Approx(2.0));
    CHECK(lif.neuron.reset == ResetMode::Zero);
    check_counts(net, read_json(fixtures / "tiny_lif.expected.json"));
}

TEST_CASE("nir: subgraphs are flattened; a dotted edge name addresses a node inside, an exact name first", "[nir]") {
    const Network net = import(fixtures / "tiny_subgraph.nir");
    REQUIRE(net.populations.size() == 3);
    CHECK(net.populations[1].name == "G.lif");
    CHECK(net.populations[2].name == "out");
    CHECK(net.populations[2].projections[0].layer == "head.fc");
    check_counts(net, read_json(fixtures / "tiny_subgraph.expected.json"));
}

TEST_CASE("nir: padding 'same' and an average pooling folded into the Linear after a Flatten", "[nir]") {
    const Network net = import(fixtures / "tiny_avgpool.nir");
    REQUIRE(net.populations.size() == 3);
    CHECK(net.populations[1].projections[0].window == Window{3, 3, 1, 1, 1, 1});
    CHECK(net.populations[2].projections[0].kind == ProjectionKind::Dense);
    CHECK(net.populations[2].projections[0].weights.size() == 4 * 4 * 2 * 3);
    check_counts(net, read_json(fixtures / "tiny_avgpool.expected.json"));
}

TEST_CASE("nir: Conv1d on a (C, L) input and an LI output spike and classify as the numpy reference does", "[nir]") {
    // input (2, 12) → Conv1d (4, 2, 3) stride 2 padding 1 → IF (4, 6) → Flatten → Affine (3, 24) → LI (3).
    const Network net = import(fixtures / "tiny_conv1d_li.nir");
    REQUIRE(net.populations.size() == 3);
    CHECK(net.input().shape == Shape{1, 12, 2}); // (C, L) held as (1, L, C)
    CHECK(net.input_layout == InputLayout::ChannelsFirst);
    CHECK(net.populations[1].shape == Shape{1, 6, 4});
    CHECK(net.populations[1].projections.at(0).window == Window{1, 3, 1, 2, 0, 1});
    CHECK(net.readout == Readout::Membrane); // the LI is read by its membrane
    CHECK(net.output().neuron.model == NeuronModel::LIF);
    CHECK(net.output().neuron.tau_steps == 4.0f);
    const nlohmann::json e = read_json(fixtures / "tiny_conv1d_li.expected.json");
    check_counts(net, e);
    RunOptions o;
    o.steps = e.at("steps").get<int>();
    o.threads = 1;
    o.readout = Readout::Membrane;
    const RunResult r = simulate(net, dataset_of(e, net), o);
    CHECK(r.predictions == e.at("predictions").get<std::vector<int>>());
    // Even when a run asks for spikes, the LI never fires: ties go to the membrane, the same classes.
    o.readout = Readout::Spikes;
    CHECK(simulate(net, dataset_of(e, net), o).predictions == e.at("predictions").get<std::vector<int>>());

    // snn run reads an HDF5 x of (N, C, L), NIR's own layout, and transposes it.
    TempDir dir("nir-conv1d");
    const std::string net_path = dir.file("c1.snn.h5"), data = dir.file("x.h5"), report = dir.file("r.json");
    save(net, net_path);
    const auto preds = e.at("predictions").get<std::vector<int>>();
    write_data(data, e.at("x").get<std::vector<float>>(), {6, 2, 12}, std::vector<std::int64_t>(preds.begin(), preds.end()));
    const Outcome run = snn_cli("run " + quote(net_path) + " --data " + quote(data) + " --steps 16 --quiet --report " + quote(report));
    INFO(run.out << run.err);
    REQUIRE(run.status == 0);
    CHECK(read_report(report)["accuracy"].get<double>() == 1.0);
}

TEST_CASE("nir: CubaLIF and a CubaLI output spike and classify as the numpy reference does", "[nir]") {
    // input (5) → Affine (6, 5) → CubaLIF (τ_syn 2 ms, τ_mem 4 ms, r 2, w_in 1.5) → Linear (3, 6)
    // → CubaLI (τ_syn 3 ms, τ_mem 5 ms, no w_in) read by its membrane; dt = 1 ms.
    NirImportOptions o;
    o.dt = 0.001;
    const Network net = import(fixtures / "tiny_cubalif.nir", o);
    REQUIRE(net.populations.size() == 3);
    const NeuronParams& cuba = net.populations[1].neuron;
    CHECK(cuba.model == NeuronModel::LIF);
    CHECK(cuba.tau_steps == Approx(4.0));
    CHECK(cuba.tau_syn_steps == Approx(2.0));
    CHECK(cuba.v_th == 0.25f);
    CHECK(cuba.reset == ResetMode::Zero); // a 1.0.7 file resets to v_reset
    CHECK(net.output().neuron.tau_syn_steps == Approx(3.0));
    CHECK(net.readout == Readout::Membrane);
    // The input's factor r·(1 − e^(−1/4))·(1 − e^(−1/2))·w_in folded into the weights.
    const double factor = 2.0 * (1 - std::exp(-1.0 / 4)) * (1 - std::exp(-1.0 / 2)) * 1.5;
    const nlohmann::json e = read_json(fixtures / "tiny_cubalif.expected.json");
    check_counts(net, e);
    RunOptions ro;
    ro.steps = e.at("steps").get<int>();
    ro.threads = 1;
    CHECK(simulate(net, dataset_of(e, net), ro).predictions == e.at("predictions").get<std::vector<int>>());
    // A synaptic current runs step by step: the plan says why it cannot run layer by layer.
    const Engine engine(net, ro);
    CHECK_THAT(engine.plan(Watch::None).why, Contains("synaptic current (CubaLIF)"));
    const std::vector<float> w = h5::read_floats(h5::open_file((fixtures / "tiny_cubalif.nir").string()), "node/nodes/fc/weight");
    REQUIRE(w.size() == 30);
    const std::vector<float>& got = net.populations[1].projections.at(0).weights; // (in, out)
    REQUIRE(got.size() == 30);
    for (std::size_t u = 0; u < 6; ++u)
        for (std::size_t i = 0; i < 5; ++i) CHECK(got[i * 6 + u] == Approx(w[u * 5 + i] * factor));
}

TEST_CASE("nir: a Threshold node and an I output spike and classify as the numpy reference does", "[nir]") {
    // input (4) → Affine (5, 4) → Threshold (0.375: no membrane) → Linear (3, 5) → I (r 0.5), read by its membrane.
    const Network net = import(fixtures / "tiny_threshold.nir");
    REQUIRE(net.populations.size() == 3);
    CHECK(net.populations[1].neuron.model == NeuronModel::Threshold);
    CHECK(net.populations[1].neuron.v_th == 0.375f);
    CHECK(net.populations[1].neuron.strict_threshold);
    CHECK(net.output().neuron.model == NeuronModel::IF);
    CHECK(net.readout == Readout::Membrane);
    const nlohmann::json e = read_json(fixtures / "tiny_threshold.expected.json");
    check_counts(net, e);
    RunOptions ro;
    ro.steps = e.at("steps").get<int>();
    ro.threads = 1;
    CHECK(simulate(net, dataset_of(e, net), ro).predictions == e.at("predictions").get<std::vector<int>>());
}

TEST_CASE("a threshold neuron keeps no membrane: each step's input alone decides, worked by hand", "[nir][kernels]") {
    // Threshold 0.375, strict, 4 steps. Input 0.25: an IF neuron (subtraction) has v = 0.25,
    // 0.5 → 0.125, 0.375 (not above), 0.625 → 0.25: 2 spikes; a threshold neuron sees
    // 0.25 each step: none. Input 0.375: IF 0.375, 0.75 → 0.375, 0.75, 0.75: 3; threshold:
    // 0.375 is not above 0.375: none. Input 0.5: 4 for both.
    Network net;
    net.populations.push_back(input({1, 1, 1}));
    Population p;
    p.name = "th";
    p.shape = {1, 1, 1};
    p.projections.push_back({0, ProjectionKind::Dense, {}, {1.0f}, "th"});
    p.neuron.model = NeuronModel::Threshold;
    p.neuron.v_th = 0.375f;
    p.neuron.strict_threshold = true;
    net.populations.push_back(p);
    Network integrate = net;
    integrate.populations[1].neuron.model = NeuronModel::IF;
    for (const FloatIsa isa : snn::test::float_isas()) {
        INFO("float ISA " << to_string(isa));
        RunOptions ro;
        ro.steps = 4;
        ro.float_isa = isa;
        ro.threads = 1;
        for (const auto& [x, fired, fired_if] : {std::tuple{0.25f, 0, 2}, std::tuple{0.375f, 0, 3}, std::tuple{0.5f, 4, 4}}) {
            INFO("x = " << x);
            Dataset d;
            d.name = "hand";
            d.shape = {1, 1, 1};
            d.x = {x};
            d.y = {0};
            CHECK(simulate(net, d, ro).spikes.at(1) == fired);
            CHECK(simulate(integrate, d, ro).spikes.at(1) == fired_if);
        }
    }
}

TEST_CASE("nir: a strict threshold fires above v_th, not at it, on every float copy", "[nir][kernels]") {
    NeuronParams n;
    n.v_th = 1.0f;
    CHECK(neuron::fire_threshold(n, 1.0f) == 1.0f);
    n.strict_threshold = true;
    const float at = neuron::fire_threshold(n, 1.0f);
    CHECK(at > 1.0f);
    CHECK(std::nextafter(1.0f, 0.0f) < 1.0f);
    CHECK(neuron::fire_threshold(n, neuron::integrator_v_th) == neuron::integrator_v_th);
    // One unit fed exactly 0.5 per step: it reaches 1.0 at step 2 and fires
    // there with v ≥ v_th, at step 3 (v = 1.5) with v > v_th.
    float v = 0.0f;
    using L = neuron::Lanes1<float>;
    CHECK(!neuron::step<true, L>(v, 0.5f, 1.0f, 1.0f, at));
    CHECK(!neuron::step<true, L>(v, 0.5f, 1.0f, 1.0f, at));
    CHECK(v == 1.0f);
    CHECK(neuron::step<true, L>(v, 0.5f, 1.0f, 1.0f, at));
    CHECK(v == 0.5f); // reset by subtraction subtracts v_th, not the float above it
}

TEST_CASE("nir: the NIR paper's CNN (scnn_mnist.nir) converts with the shapes and weights h5py reads", "[nir]") {
    const fs::path path = shared_nir / "scnn_mnist.nir";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is missing");
        return;
    }
    const auto facts = read_json(fixtures / "scnn_mnist.facts.json");
    const Network net = import(path);
    REQUIRE(net.populations.size() == 6);
    const auto in = facts.at("input_shape").get<std::vector<int>>(); // (C, H, W)
    CHECK(net.input().shape == Shape{in[1], in[2], in[0]});
    const std::vector<std::string> ifs = {"1", "3", "6", "10", "12"};
    for (std::size_t k = 0; k < ifs.size(); ++k) {
        const auto s = facts.at("if_shapes").at(ifs[k]).get<std::vector<int>>();
        const Population& pop = net.populations[k + 1];
        CHECK(pop.name == ifs[k]);
        CHECK(pop.shape == (s.size() == 3 ? Shape{s[1], s[2], s[0]} : Shape{1, 1, s[0]}));
        CHECK(pop.neuron.reset == ResetMode::Subtract); // "0.2.0": before NIR 1.0.6
    }
    // Conv "0": NIR (C_out, C_in, kH, kW) at our (kH, kW, C_in, C_out).
    const auto w0s = facts.at("w0_shape").get<std::vector<std::size_t>>();
    const std::vector<float>& w0 = net.populations[1].projections[0].weights;
    for (const auto& f : facts.at("w0")) {
        const auto i = f[0].get<std::vector<std::size_t>>();
        CHECK(w0[((i[2] * w0s[3] + i[3]) * w0s[1] + i[1]) * w0s[0] + i[0]] == f[1].get<float>());
    }
    // Conv "5" after the sum pooling "4": tap (ky, kx) at (2·ky + a, 2·kx + b) of the folded 6×6 kernel.
    const Projection& p5 = net.populations[3].projections[0];
    CHECK(p5.window == Window{6, 6, 2, 2, 2, 2});
    const auto w5s = facts.at("w5_shape").get<std::vector<std::size_t>>();
    for (const auto& f : facts.at("w5")) {
        const auto i = f[0].get<std::vector<std::size_t>>();
        for (std::size_t a = 0; a < 2; ++a)
            for (std::size_t b = 0; b < 2; ++b) {
                const std::size_t u = (2 * i[2] + a) * 6 + (2 * i[3] + b);
                CHECK(p5.weights[(u * w5s[1] + i[1]) * w5s[0] + i[0]] == f[1].get<float>());
            }
    }
    // Affine "9" after the pooling "7" and the Flatten: NIR input c·16 + y·4 + x
    // is pooled unit (y, x, c), which sums source units (2y + a, 2x + b, c).
    const Projection& p9 = net.populations[4].projections[0];
    CHECK(p9.kind == ProjectionKind::Dense);
    for (const auto& f : facts.at("w9")) {
        const auto i = f[0].get<std::vector<std::size_t>>();
        const std::size_t o = i[0], c = i[1] / 16, y = i[1] % 16 / 4, x = i[1] % 4;
        CHECK(p9.weights[((2 * y) * 8 + 2 * x) * 8 * 256 + c * 256 + o] == f[1].get<float>());
    }
}

TEST_CASE("nir: scnn_mnist.nir spikes per layer as the numpy reference of the file does", "[nir]") {
    const fs::path path = shared_nir / "scnn_mnist.nir";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is missing");
        return;
    }
    check_counts(import(path), read_json(fixtures / "scnn_mnist.expected.json"));
}

// The frames: tools/make_saccade_frames.py --count 4 --steps 12 --layout nchw
// (four MNIST test digits moved along saccades, ON/OFF events per 10 ms);
// the counts: tools/nir_reference.py scnn_mnist.nir --steps 12 --data
// saccade_frames.h5 --frames, the numpy simulation of the file.
TEST_CASE("nir: scnn_mnist.nir on event frames spikes per layer as the numpy reference does", "[nir][frames]") {
    const fs::path path = shared_nir / "scnn_mnist.nir";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is missing");
        return;
    }
    const TempDir dir;
    const std::string net = dir.file("scnn.snn.h5"), report = dir.file("r.json");
    REQUIRE(snn_cli("convert " + quote(path.string()) + " -o " + quote(net)).status == 0);
    const auto want = read_json(fixtures / "saccade_frames_spikes.json");
    for (const char* how : {"", " --threads 2", " --no-layer-by-layer"}) {
        INFO("snn run" << how);
        const Outcome o = snn_cli("run " + quote(net) + " --data " + quote((fixtures / "saccade_frames.h5").string()) +
                                  " --encode frames --steps 12 --no-dnn --quiet --report " + quote(report) + how);
        REQUIRE(o.status == 0);
        const auto r = read_json(report);
        REQUIRE(r.at("samples") == 4);
        for (const auto& [node, count] : want.items()) {
            INFO("node " << node);
            bool found = false;
            for (const auto& l : r.at("layers"))
                if (l.at("name") == node) {
                    found = true;
                    CHECK(l.at("spikes_per_sample").get<double>() * 4 == double(count.get<std::int64_t>()));
                }
            CHECK(found);
        }
    }
}

TEST_CASE("nir: export then convert gives the same network", "[nir]") {
    TempDir dir("nir");
    for (const char* name : {"tiny_cnn.nir", "tiny_lif.nir", "tiny_avgpool.nir", "tiny_subgraph.nir", "tiny_cubalif.nir",
                             "tiny_threshold.nir"}) {
        INFO(name);
        NirImportOptions o;
        if (std::string(name) == "tiny_lif.nir" || std::string(name) == "tiny_cubalif.nir") o.dt = 0.001;
        const Network net = import(fixtures / name, o);
        const std::string out = dir.file("round.nir");
        std::vector<std::string> warnings;
        export_nir(net, out, warnings);
        Network back = import(out);
        CHECK(back.source == out);
        back.source = net.source;
        CHECK(back == net);
    }
    // Converted Keras networks (LIF with signed spikes; a residual Add, whose
    // identity branch is written as a Scale): reset by subtraction, v_init, a
    // membrane readout and v ≥ v_th, none of which NIR says, survive through
    // the metadata.
    for (const char* model : {"tiny_keras3_sequential.h5", "tiny_keras2_functional_add.h5"}) {
        INFO(model);
        const std::string keras = dir.file("keras.snn.h5");
        const Outcome c = snn_cli("convert " + quote((source_dir / "data" / "fixtures" / model).string()) + " -o " + quote(keras));
        REQUIRE(c.status == 0);
        const Network net = load(keras);
        const std::string out = dir.file("keras.nir");
        const Outcome e = snn_cli("export " + quote(keras) + " -o " + quote(out));
        REQUIRE(e.status == 0);
        CHECK_THAT(e.err, Contains("reset by subtraction") && Contains("v >= v_threshold") && Contains("v_init"));
        // Once per thing, not once per population.
        CHECK(std::count(e.err.begin(), e.err.end(), '\n') <= 6);
        const std::string again = dir.file("again.snn.h5");
        const Outcome b = snn_cli("convert " + quote(out) + " -o " + quote(again));
        REQUIRE(b.status == 0);
        Network back = load(again);
        back.source = net.source;
        CHECK(back == net);
    }
}

TEST_CASE("nir: graphs that cannot be converted are refused in one line, exit 1, no output", "[nir]") {
    TempDir dir("nir-bad");
    struct Case {
        std::string file, says;
    };
    const std::vector<Case> cases = {
        {(fixtures / "bad_cycle.nir").string(), "cycle through node"},
        {(fixtures / "bad_edge_to_nowhere.nir").string(), "there is no node 'ghost'"},
        {(fixtures / "bad_unsupported.nir").string(), "node 'd' (Delay)"},
        {(fixtures / "bad_varying_threshold.nir").string(), "node 'b' (IF): field 'v_threshold' varies across neurons"},
        {(fixtures / "bad_no_output.nir").string(), "no Output node"},
        {(fixtures / "bad_conv1d.nir").string(), "node 'conv' (Conv1d): cannot be converted: groups 2 (only 1), dilation 2 (only 1)"},
        {(fixtures / "bad_li_hidden.nir").string(), "node 'li2' (LI): an LI node that the Output does not read"},
        {(fixtures / "bad_cubalif_tau_syn.nir").string(), "node 'cuba' (CubaLIF): tau_syn 0 is not positive"},
        {(shared_nir / "nir4s_conv1.nir").string(), "node 'output' (Output): is fed by a linear node"},
        {(shared_nir / "braille_v2.nir").string(), "recurrent networks are not supported"},
        {(shared_nir / "two_lif_neurons.nir").string(), "node 'lif1' (LIF): v_leak 1.2"},
        {(shared_nir / "spyx_shd.nir").string(), "node 'linear' (Linear): weight has shape (128, 64)"},
    };
    for (const Case& c : cases) {
        INFO(c.file);
        if (!fs::exists(c.file)) { // a shared file missing: nothing to refuse, and the output says so
            WARN("skipped: " << c.file << " is missing");
            continue;
        }
        const std::string out = dir.file("out.snn.h5");
        const Outcome o = snn_cli("convert " + quote(c.file) + " -o " + quote(out));
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(c.says) && Contains(c.file));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK(!fs::exists(out));
    }
    // sinabs' reset cannot be represented: refused, saying why.
    const std::string out = dir.file("out.snn.h5");
    const Outcome o = snn_cli("convert " + quote((fixtures / "tiny_cnn.nir").string()) + " --nir-reset sinabs -o " + quote(out));
    CHECK(o.status == 1);
    CHECK_THAT(o.err, Contains("sinabs") && Contains("not representable"));
    CHECK(!fs::exists(out));
}

TEST_CASE("nir: snn convert states the reset it chose; a strict threshold survives save and load", "[nir]") {
    TempDir dir("nir-cli");
    const std::string out = dir.file("cnn.snn.h5");
    const Outcome o = snn_cli("convert " + quote((fixtures / "tiny_cnn.nir").string()) + " -o " + quote(out));
    REQUIRE(o.status == 0);
    CHECK_THAT(o.err, Contains("reset: v <- v - v_threshold") && Contains("version 0.2.0"));
    const Network net = load(out);
    CHECK(net == import(fixtures / "tiny_cnn.nir"));
    CHECK(h5::read_int_attr(h5::open_file(out), "format_version") == 6);
    // snn inspect shows the rule: fires above v_th, not at it.
    CHECK_THAT(snn_cli("inspect " + quote(out)).out, Contains("v_th>1"));
    const auto j = nlohmann::json::parse(snn_cli("inspect --json " + quote(out)).out);
    CHECK(j["populations"][1]["neuron"]["strict_threshold"] == true);
    const Outcome v = snn_cli("convert " + quote((fixtures / "tiny_subgraph.nir").string()) + " -o " + quote(out));
    REQUIRE(v.status == 0);
    CHECK_THAT(v.err, Contains("reset: v <- v_reset = 0") && Contains("version 1.0.7"));
}

TEST_CASE("nir: the shipped CNN exported to NIR classifies MNIST as snn run does, simulated by the numpy reader", "[nir]") {
    TempDir dir("nir-cnn");
    const Outcome probe = run_captured("/usr/bin/python3 -c 'import h5py, numpy'", dir);
    if (probe.status != 0) {
        WARN("skipped: /usr/bin/python3 has no h5py or numpy (apt-get install python3-h5py python3-numpy)");
        return;
    }
    const std::string net_path = dir.file("cnn.snn.h5"), nir = dir.file("cnn.nir");
    REQUIRE(snn_cli("convert " + quote((source_dir / "data" / "models" / "mnist_cnn.h5").string()) + " -o " + quote(net_path))
                .status == 0);
    REQUIRE(snn_cli("export " + quote(net_path) + " -o " + quote(nir)).status == 0);
    const Network net = load(net_path);
    const Dataset data = load_dataset("mnist:test", 20);
    // (N, C, H, W) as NIR lays out the input; one channel, so the same values.
    const std::string x = dir.file("x.h5");
    write_data(x, data.x, {20, 1, 28, 28}, std::vector<std::int64_t>(data.y.begin(), data.y.end()));
    const int steps = 24;
    const std::string preds = dir.file("ref.txt");
    const Outcome ref = run_captured("/usr/bin/python3 " + quote((source_dir / "tools" / "nir_reference.py").string()) + " " +
                                         quote(nir) + " --snn-metadata --steps " + std::to_string(steps) + " --data " + quote(x) +
                                         " --predictions " + quote(preds),
                                     dir);
    INFO(ref.err);
    REQUIRE(ref.status == 0);
    RunOptions o;
    o.steps = steps;
    o.threads = 1;
    const RunResult r = simulate(net, data, o);
    std::ifstream f(preds);
    std::vector<int> theirs;
    for (int c; f >> c;) theirs.push_back(c);
    CHECK(theirs == r.predictions);
}
