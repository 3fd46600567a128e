// Frames and event lists as input (--encode frames): a hand-worked run, the
// current encoder as an independent reference, hand-binned event lists, both
// layouts, every schedule and thread count alike, and bad files refused.
#include "sim/engine.hpp"
#include "sim/nir_record.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace snn;
using snn::test::input;
using Catch::Matchers::Contains;

namespace {

// input (h,w,c) → dense → populations of the given sizes; weights from rng.
Network dense_net(Shape in, std::vector<int> sizes, std::mt19937& rng, float scale) {
    Network net;
    net.populations.push_back(input(in));
    std::uniform_real_distribution<float> w(-0.5f * scale, scale);
    std::int64_t n_in = in.size();
    for (std::size_t k = 0; k < sizes.size(); ++k) {
        Population p;
        p.name = "dense" + std::to_string(k);
        p.shape = {1, 1, sizes[k]};
        std::vector<float> weights(std::size_t(n_in) * std::size_t(sizes[k]));
        for (float& v : weights) v = w(rng);
        p.projections.push_back({int(k), ProjectionKind::Dense, {}, std::move(weights), p.name});
        p.bias.assign(std::size_t(sizes[k]), 0.01f);
        net.populations.push_back(std::move(p));
        n_in = sizes[k];
    }
    return net;
}

// Frames (N, T, H, W, C) written as a data file, x as float32.
void write_frames(const std::string& path, const std::vector<float>& x, const std::vector<std::uint64_t>& dims,
                  const std::vector<std::int64_t>& y) {
    test::write_data(path, x, dims, y);
}

struct Event {
    std::int64_t sample, t, x, y, p;
};

void write_events(const std::string& path, const std::vector<Event>& ev, std::int64_t n_samples, std::int64_t height,
                  std::int64_t width, bool with_size = true) {
    h5::Node f = h5::create_file(path);
    std::vector<std::int64_t> flat;
    for (const Event& e : ev) flat.insert(flat.end(), {e.sample, e.t, e.x, e.y, e.p});
    h5::write_ints(f, "events", flat, {ev.size(), 5});
    std::vector<std::int64_t> y(std::size_t(n_samples), 0);
    h5::write_ints(f, "y", y, {y.size()});
    if (with_size) {
        h5::write_attr(f, "height", height);
        h5::write_attr(f, "width", width);
    }
}

// The entries (unit, value) of step t of sample i.
std::vector<std::pair<int, float>> step_entries(const Dataset& ds, std::int64_t i, int t) {
    const FrameSteps f = ds.frames_of(i);
    std::vector<std::pair<int, float>> out;
    for (std::int64_t e = f.at[t]; e < f.at[t + 1]; ++e) out.push_back({f.unit[e], f.value[e]});
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("frames: a hand-worked dense neuron over three frames", "[sim][frames]") {
    // Input (1,1,2), one IF neuron (v_th 1, reset by subtraction), weights 0.5 and 1, no bias.
    //   step 0: x = (1, 0)    I = 0.5   v = 0.5          no spike
    //   step 1: x = (2, 0)    I = 1.0   v = 1.5 → 0.5    spike
    //   step 2: x = (0, 0.75) I = 0.75  v = 1.25 → 0.25  spike
    // Three non-zero entries, each one synaptic operation (one target), each a
    // multiply (values other than 1).
    test::TempDir dir("frames-hand");
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({0, ProjectionKind::Dense, {}, {0.5f, 1.0f}, "out"});
    out.bias = {0.0f};
    net.populations.push_back(out);
    write_frames(dir.file("f.h5"), {1, 0, 2, 0, 0, 0.75f}, {1, 3, 1, 1, 2}, {0});
    const Dataset ds = load_frames(dir.file("f.h5"));
    REQUIRE(ds.frames == 3);
    REQUIRE(ds.shape == Shape{1, 1, 2});
    // The mean frame: (1 + 2) / 3 and 0.75 / 3.
    CHECK(ds.x == std::vector<float>{1.0f, 0.25f});

    for (const bool layer_by_layer : {true, false}) {
        INFO("layer by layer " << layer_by_layer);
        RunOptions o;
        o.encode = Encoding::Frames;
        o.steps = 3;
        o.layer_by_layer = layer_by_layer;
        o.record_samples = layer_by_layer ? 0 : 1;
        const RunResult r = simulate(net, ds, o);
        CHECK(r.spikes == std::vector<double>{3, 2});
        CHECK(r.synaptic_ops[1] == 3);
        CHECK(r.input_macs[1] == 3);
        if (!layer_by_layer) {
            std::vector<int> out_steps;
            for (const Spike& s : r.recorded)
                if (s.population == 1) out_steps.push_back(s.step);
            CHECK(out_steps == std::vector<int>{1, 2});
        }
        Engine engine(net, o);
        SampleState s;
        engine.init(s);
        engine.run_sample(ds, 0, s, nullptr);
        CHECK(s.counts[1][0] == 2);
        CHECK(s.v[1][0] == 0.25f);
    }
    // --steps 2 runs the first two frames: one spike, v = 0.5.
    RunOptions two;
    two.encode = Encoding::Frames;
    two.steps = 2;
    FrameOptions fo;
    fo.max_steps = 2;
    const Dataset first_two = load_frames(dir.file("f.h5"), -1, fo);
    CHECK(first_two.frames == 2);
    CHECK(simulate(net, first_two, two).spikes[1] == 1);
}

TEST_CASE("frames: a spike frame of ones carries spikes (additions, not multiplies)", "[sim][frames]") {
    test::TempDir dir("frames-ones");
    std::mt19937 rng(1);
    const Network net = dense_net({1, 1, 3}, {2}, rng, 1.0f);
    write_frames(dir.file("f.h5"), {1, 0, 1, 0, 1, 0}, {1, 2, 1, 1, 3}, {0});
    RunOptions o;
    o.encode = Encoding::Frames;
    o.steps = 2;
    const RunResult r = simulate(net, load_frames(dir.file("f.h5")), o);
    CHECK(r.spikes[0] == 3);
    CHECK(r.synaptic_ops[1] == 6); // 3 events × 2 targets
    CHECK(r.input_macs[1] == 0);
}

TEST_CASE("frames: every frame the same image runs as the current encoder on that image", "[sim][frames]") {
    // An independent check through existing behaviour: with current encoding
    // the input is the constant W·x + b at every step; frames that repeat x
    // add the same W·x at every step.
    test::TempDir dir("frames-current");
    std::mt19937 rng(7);
    const Shape in{3, 4, 2};
    const Network net = dense_net(in, {20, 5}, rng, 0.6f);
    const int N = 12, T = 9;
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> images(std::size_t(N) * std::size_t(in.size()));
    for (float& v : images) v = pixel(rng) < 0.3f ? 0.0f : pixel(rng);
    std::vector<float> frames;
    for (int i = 0; i < N; ++i)
        for (int t = 0; t < T; ++t)
            frames.insert(frames.end(), images.begin() + i * in.size(), images.begin() + (i + 1) * in.size());
    std::vector<std::int64_t> y(N);
    for (int i = 0; i < N; ++i) y[std::size_t(i)] = i % 5;
    write_frames(dir.file("f.h5"), frames, {std::uint64_t(N), std::uint64_t(T), 3, 4, 2}, y);
    test::write_data(dir.file("s.h5"), images, {std::uint64_t(N), 3, 4, 2}, y);
    const Dataset fr = load_frames(dir.file("f.h5")), st = load_dataset(dir.file("s.h5"));
    for (const bool layer_by_layer : {true, false}) {
        INFO("layer by layer " << layer_by_layer);
        RunOptions of, oc;
        of.steps = oc.steps = T;
        of.encode = Encoding::Frames;
        of.layer_by_layer = oc.layer_by_layer = layer_by_layer;
        Engine ef(net, of), ec(net, oc);
        SampleState sf, sc;
        ef.init(sf);
        ec.init(sc);
        std::int64_t spikes = 0;
        for (int i = 0; i < N; ++i) {
            ef.run_sample(fr, i, sf, nullptr);
            ec.run_sample(st.sample(i), i, sc, nullptr);
            INFO("sample " << i);
            for (std::size_t p = 1; p < net.populations.size(); ++p) {
                CHECK(sf.counts[p] == sc.counts[p]);
                CHECK(same_bits(sf.v[p], sc.v[p]));
                spikes += sc.spike_total[p];
            }
            CHECK(sf.prediction_at == sc.prediction_at);
        }
        REQUIRE(spikes > 0);
    }
}

TEST_CASE("frames: an event list is binned by --bin into counts", "[sim][frames]") {
    // Sensor 2 high, 3 wide, 2 polarities: unit (y·3 + x)·2 + p. Bin 10.
    test::TempDir dir("frames-events");
    write_events(dir.file("e.h5"),
                 {
                     {0, 0, 0, 0, 1},  // sample 0, step 0, unit 1
                     {0, 10, 2, 1, 0}, // step 1, unit (3 + 2)·2 = 10
                     {1, 25, 1, 0, -1},// sample 1, step 2, OFF: unit 2
                     {0, 9, 0, 0, 1},  // step 0, unit 1 again: count 2
                     {0, 5, 2, 1, 1},  // step 0, unit 11 (out of order in the file)
                 },
                 2, 2, 3);
    FrameOptions o;
    o.bin = 10;
    const Dataset ds = load_frames(dir.file("e.h5"), -1, o);
    REQUIRE(ds.frames == 3); // the last event's step is floor(25 / 10) = 2
    REQUIRE(ds.shape == Shape{2, 3, 2});
    REQUIRE(ds.size() == 2);
    using E = std::vector<std::pair<int, float>>;
    CHECK(step_entries(ds, 0, 0) == E{{1, 2.0f}, {11, 1.0f}});
    CHECK(step_entries(ds, 0, 1) == E{{10, 1.0f}});
    CHECK(step_entries(ds, 0, 2).empty());
    CHECK(step_entries(ds, 1, 0).empty());
    CHECK(step_entries(ds, 1, 1).empty());
    CHECK(step_entries(ds, 1, 2) == E{{2, 1.0f}});
    // The mean frame of sample 0: unit 1 holds 2 events in 3 steps.
    CHECK(ds.x[1] == Approx(2.0 / 3));
    CHECK(ds.x[10] == Approx(1.0 / 3));
    // Fewer steps leave the later events out; --limit reads the first samples.
    o.max_steps = 2;
    const Dataset two = load_frames(dir.file("e.h5"), 1, o);
    CHECK(two.frames == 2);
    CHECK(two.size() == 1);
    CHECK(step_entries(two, 0, 1) == E{{10, 1.0f}});
    // Bin 1: t counts steps.
    const Dataset fine = load_frames(dir.file("e.h5"));
    CHECK(fine.frames == 26);
    CHECK(step_entries(fine, 0, 9) == E{{1, 1.0f}});
}

TEST_CASE("frames: (N,T,C,H,W) with layout nchw reads as (N,T,H,W,C) with nhwc", "[sim][frames]") {
    test::TempDir dir("frames-layout");
    const int N = 2, T = 3, H = 2, W = 3, C = 2;
    // A distinct value per (sample, step, y, x, c), written in both orders.
    const auto value = [](int i, int t, int y, int x, int c) { return float(1 + i * 1000 + t * 100 + y * 10 + x) + 0.5f * float(c); };
    std::vector<float> nhwc, nchw;
    for (int i = 0; i < N; ++i)
        for (int t = 0; t < T; ++t) {
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x)
                    for (int c = 0; c < C; ++c) nhwc.push_back(value(i, t, y, x, c));
            for (int c = 0; c < C; ++c)
                for (int y = 0; y < H; ++y)
                    for (int x = 0; x < W; ++x) nchw.push_back(value(i, t, y, x, c));
        }
    write_frames(dir.file("nhwc.h5"), nhwc, {N, T, H, W, C}, {0, 1});
    write_frames(dir.file("nchw.h5"), nchw, {N, T, C, H, W}, {0, 1});
    FrameOptions first;
    first.layout = FrameLayout::ChannelsFirst;
    const Dataset a = load_frames(dir.file("nhwc.h5")), b = load_frames(dir.file("nchw.h5"), -1, first);
    REQUIRE(a.shape == Shape{H, W, C});
    REQUIRE(b.shape == Shape{H, W, C});
    CHECK(a.frame_at == b.frame_at);
    CHECK(a.frame_unit == b.frame_unit);
    CHECK(a.frame_value == b.frame_value);
    // Unit (y·W + x)·C + c of step t holds value(i, t, y, x, c).
    CHECK(step_entries(b, 1, 2)[std::size_t((1 * W + 2) * C + 1)] == std::pair<int, float>{(1 * W + 2) * C + 1, value(1, 2, 1, 2, 1)});
    // Read in the wrong order, the frames do not fit a (2,3,2) network: the message says which flag reads them.
    std::mt19937 rng(3);
    const Network net = dense_net({H, W, C}, {4}, rng, 1.0f);
    RunOptions o;
    o.encode = Encoding::Frames;
    o.steps = T;
    CHECK_NOTHROW(simulate(net, b, o));
    const Network wide = dense_net({C, H, W}, {4}, rng, 1.0f); // the nchw file read as nhwc is (2,2,3)
    CHECK_THROWS_WITH(simulate(wide, b, o), Contains("frames of shape (2,3,2)") && Contains("(2,2,3)"));
    const Network cf = dense_net({H, W, C}, {4}, rng, 1.0f);
    CHECK_THROWS_WITH(simulate(cf, load_frames(dir.file("nchw.h5")), o), Contains("--layout nchw"));
    CHECK_THROWS_WITH(simulate(cf, load_frames(dir.file("nhwc.h5"), -1, first), o), Contains("--layout nhwc"));
}

TEST_CASE("frames: every schedule, kernel path and thread count gives the same run", "[sim][frames]") {
    test::TempDir dir("frames-paths");
    std::mt19937 rng(11);
    const Shape in{4, 4, 2};
    const int N = 16, T = 12;
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> frames(std::size_t(N) * T * std::size_t(in.size()));
    for (float& v : frames) v = u(rng) < 0.7f ? 0.0f : float(1 + int(u(rng) * 3)); // event counts 1..3
    std::vector<std::int64_t> y(N);
    for (int i = 0; i < N; ++i) y[std::size_t(i)] = i % 4;
    write_frames(dir.file("f.h5"), frames, {N, T, 4, 4, 2}, y);
    const Dataset ds = load_frames(dir.file("f.h5"));
    Network net = dense_net(in, {24, 16, 4}, rng, 0.5f);
    RunOptions base;
    base.encode = Encoding::Frames;
    base.steps = T;
    base.threads = 1;
    const RunResult ref = simulate(net, ds, base);
    REQUIRE(ref.plan.schedule == Schedule::LayerByLayer);
    for (double s : ref.spikes) REQUIRE(s > 0);
    const auto same = [&](const RunResult& r) {
        CHECK(r.predictions == ref.predictions);
        CHECK(r.correct_at == ref.correct_at);
        CHECK(r.spikes == ref.spikes);
        CHECK(r.synaptic_ops == ref.synaptic_ops);
        CHECK(r.input_macs == ref.input_macs);
    };
    SECTION("two threads") {
        RunOptions o = base;
        o.threads = 2;
        same(simulate(net, ds, o));
    }
    SECTION("step by step, reference kernels") {
        RunOptions o = base;
        o.layer_by_layer = false;
        o.kernels = KernelPath::Reference;
        const RunResult r = simulate(net, ds, o);
        CHECK(r.plan.schedule == Schedule::Stages);
        same(r);
    }
    SECTION("recorded: the input's events are the frames' entries") {
        RunOptions o = base;
        o.record_samples = 2;
        const RunResult r = simulate(net, ds, o);
        same(r);
        std::int64_t input_events = 0;
        for (const Spike& s : r.recorded)
            if (s.population == 0 && s.sample == 1) {
                ++input_events;
                CHECK(frames[(std::size_t(1) * T + std::size_t(s.step)) * std::size_t(in.size()) + std::size_t(s.neuron)] != 0.0f);
            }
        CHECK(input_events == ds.frame_at[std::size_t(2 * T)] - ds.frame_at[std::size_t(T)]);
    }
    SECTION("a partition after the first layer: stages and a cut") {
        Network split = net;
        split.devices = {"edge", "edge", "cloud", "cloud"};
        const RunResult r = simulate(split, ds, base);
        CHECK(r.plan.schedule == Schedule::LayerByLayer);
        same(r);
        RunOptions o = base;
        o.layer_by_layer = false;
        same(simulate(split, ds, o));
    }
}

TEST_CASE("frames: bad files are refused with the file and the value", "[sim][frames]") {
    test::TempDir dir("frames-bad");
    const std::string f = dir.file("bad.h5");
    SECTION("a NaN") {
        std::vector<float> x(2 * 3 * 4, 0.5f);
        x[13] = std::numeric_limits<float>::quiet_NaN(); // sample 1, frame 0
        write_frames(f, x, {2, 3, 2, 2, 1}, {0, 1});
        CHECK_THROWS_WITH(load_frames(f), Contains(f) && Contains("sample 1, frame 0") && Contains("NaN"));
    }
    SECTION("no frames (T = 0), too few frames, a static file") {
        write_frames(f, {}, {2, 0, 2, 2, 1}, {0, 1});
        CHECK_THROWS_WITH(load_frames(f), Contains(f) && Contains("no frames"));
        write_frames(f, std::vector<float>(2 * 3 * 4, 1.0f), {2, 3, 2, 2, 1}, {0, 1});
        FrameOptions o;
        o.max_steps = 5;
        CHECK_THROWS_WITH(load_frames(f, -1, o), Contains(f) && Contains("3 frames per sample") && Contains("5 steps"));
        test::write_data(f, std::vector<float>(2 * 4, 1.0f), {2, 2, 2, 1}, {0, 1});
        std::mt19937 rng(1);
        RunOptions ro;
        ro.encode = Encoding::Frames;
        CHECK_THROWS_WITH(simulate(dense_net({2, 2, 1}, {2}, rng, 1.0f), load_dataset(f), ro), Contains("static samples"));
    }
    SECTION("events out of range, negative times, no sensor size") {
        write_events(f, {{0, 0, 3, 0, 1}}, 1, 2, 3);
        CHECK_THROWS_WITH(load_frames(f), Contains(f) && Contains("event 0 has x = 3"));
        write_events(f, {{0, 1, 0, 0, 1}, {0, -4, 0, 0, 1}}, 1, 2, 3);
        CHECK_THROWS_WITH(load_frames(f), Contains("event 1 has t = -4"));
        write_events(f, {{0, 1, 0, 2, 1}}, 1, 2, 3);
        CHECK_THROWS_WITH(load_frames(f), Contains("y = 2"));
        write_events(f, {{0, 1, 0, 0, 2}}, 1, 2, 3);
        CHECK_THROWS_WITH(load_frames(f), Contains("p = 2"));
        write_events(f, {{1, 1, 0, 0, 1}}, 1, 2, 3);
        CHECK_THROWS_WITH(load_frames(f), Contains("sample = 1"));
        write_events(f, {{0, 1, 0, 0, 1}}, 1, 2, 3, false);
        CHECK_THROWS_WITH(load_frames(f), Contains(f) && Contains("height"));
        write_events(f, {{0, 1, 0, 0, 1}}, 1, 2, 3);
        FrameOptions o;
        o.bin = 0;
        CHECK_THROWS_AS(load_frames(f, -1, o), OptionError);
    }
}

TEST_CASE("frames: a max-pooling gate right on the input is refused", "[sim][frames]") {
    // Frames carry values, not spikes: the gate's rule (pass the spike of the
    // most active input) has nothing to compare.
    Network net;
    net.populations.push_back(input({1, 2, 1}));
    Population pool;
    pool.name = "pool";
    pool.kind = PopulationKind::MaxPool;
    pool.shape = {1, 1, 1};
    pool.projections.push_back({0, ProjectionKind::MaxPool, {1, 2, 1, 2, 0, 0}, {}, "pool"});
    net.populations.push_back(pool);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({1, ProjectionKind::Identity, {}, {1.0f}, "out"});
    net.populations.push_back(out);
    RunOptions o;
    o.encode = Encoding::Frames;
    CHECK_THROWS_WITH(Engine(net, o), Contains("population 'pool'") && Contains("--encode frames"));
    o.encode = Encoding::Poisson; // spikes: the gate applies
    CHECK_NOTHROW(Engine(net, o));
}

#ifdef SNN_BINARY
TEST_CASE("snn run --encode frames: steps from the file, a valid report, and wrong shapes exit 1 in one line", "[cli][frames]") {
    test::TempDir dir("frames-cli");
    const std::string net = dir.file("net.snn.h5"), data = dir.file("data.h5");
    test::tiny_network_and_data(net, data); // 4×4×1 input, 3 classes
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> frames(20 * 5 * 16);
    for (float& v : frames) v = u(rng) < 0.5f ? 0.0f : 1.0f;
    std::vector<std::int64_t> y(20);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    const std::string good = dir.file("frames.h5"), bad = dir.file("frames_3x3.h5");
    write_frames(good, frames, {20, 5, 4, 4, 1}, y);
    write_frames(bad, std::vector<float>(20 * 5 * 9, 1.0f), {20, 5, 3, 3, 1}, y);
    const std::string report = dir.file("r.json");
    const test::Outcome ok = test::snn_cli("run " + test::quote(net) + " --data " + test::quote(good) +
                                           " --encode frames --quiet --report " + test::quote(report));
    INFO(ok.err);
    REQUIRE(ok.status == 0);
    const auto j = test::read_report(report);
    CHECK(j["encode"] == "frames");
    CHECK(j["steps"] == 5);
    const test::Outcome fewer = test::snn_cli("run " + test::quote(net) + " --data " + test::quote(good) +
                                              " --encode frames --steps 3 --quiet --report " + test::quote(report));
    CHECK(fewer.status == 0);
    CHECK(test::read_report(report)["steps"] == 3);
    const test::Outcome more = test::snn_cli("run " + test::quote(net) + " --data " + test::quote(good) + " --encode frames --steps 8");
    CHECK(more.status == 1);
    CHECK_THAT(more.err, Contains("5 frames per sample"));
    const test::Outcome wrong = test::snn_cli("run " + test::quote(net) + " --data " + test::quote(bad) + " --encode frames");
    CHECK(wrong.status == 1);
    CHECK_THAT(wrong.err, Contains(bad) && Contains("(3,3,1)") && Contains("(4,4,1)"));
    CHECK(std::count(wrong.err.begin(), wrong.err.end(), '\n') == 1);
    const test::Outcome not_frames = test::snn_cli("run " + test::quote(net) + " --data " + test::quote(good));
    CHECK(not_frames.status == 1);
    CHECK_THAT(not_frames.err, Contains("--encode frames"));
}
#endif

TEST_CASE("spike records in NIR's format (--record-format nir): the hand-worked run as EventData", "[sim][frames]") {
    // The network and frames of the hand-worked case: input events at steps
    // 0 (unit 0), 1 (unit 0), 2 (unit 1); the output spikes at steps 1 and 2.
    test::TempDir dir("frames-nir-record");
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({0, ProjectionKind::Dense, {}, {0.5f, 1.0f}, "out"});
    out.bias = {0.0f};
    net.populations.push_back(out);
    write_frames(dir.file("f.h5"), {1, 0, 2, 0, 0, 0.75f, 0, 0, 0, 0, 0, 0}, {2, 3, 1, 1, 2}, {0, 0});
    RunOptions o;
    o.encode = Encoding::Frames;
    o.steps = 3;
    o.record_samples = 2;
    const RunResult r = simulate(net, load_frames(dir.file("f.h5")), o);
    write_nir_spike_record(dir.file("rec.h5"), net, r, 3, 2);
    const h5::Node f = h5::open_file(dir.file("rec.h5"));
    CHECK(h5::read_string_attr(f, "__type__") == "NIRGraphData");
    const h5::Node spikes = h5::open_group(f, "nodes/out/observables/spikes");
    CHECK(h5::read_string_attr(spikes, "__type__") == "EventData");
    CHECK(h5::read_int_attr(spikes, "n_neurons") == 1);
    CHECK(h5::read_double_attr(spikes, "t_max") == 3.0);
    std::vector<std::uint64_t> dims;
    // Two samples, at most two events each; the second sample is silent.
    CHECK(h5::read_ints(spikes, "idx", &dims) == std::vector<std::int64_t>{0, 0, -1, -1});
    CHECK(dims == std::vector<std::uint64_t>{2, 2});
    const std::vector<double> time = h5::read_doubles(spikes, "time");
    REQUIRE(time.size() == 4);
    CHECK(time[0] == 1.0);
    CHECK(time[1] == 2.0);
    CHECK(std::isinf(time[2]));
    const h5::Node in = h5::open_group(f, "nodes/input/observables/spikes");
    CHECK(h5::read_ints(in, "idx") == std::vector<std::int64_t>{0, 0, 1, -1, -1, -1});
}

#ifdef SNN_SOURCE_DIR
TEST_CASE("tools/make_saccade_frames.py: its event list binned by --bin is its frames", "[cli][frames]") {
    test::TempDir dir("frames-saccades");
    const std::string frames = dir.file("f.h5"), events = dir.file("e.h5");
    const test::Outcome gen = test::run_captured(
        "/usr/bin/python3 " + test::quote(std::string(SNN_SOURCE_DIR) + "/tools/make_saccade_frames.py") +
            " --count 4 --size 30 --steps 6 --step-us 500 --substeps 4 --layout nchw -o " + test::quote(frames) +
            " --events " + test::quote(events),
        dir);
    INFO(gen.out << gen.err);
    REQUIRE(gen.status == 0);
    FrameOptions nchw, binned;
    nchw.layout = FrameLayout::ChannelsFirst;
    binned.bin = 500;
    binned.max_steps = 6; // the last frames may hold no event
    const Dataset a = load_frames(frames, -1, nchw), b = load_frames(events, -1, binned);
    REQUIRE(a.shape == Shape{30, 30, 2});
    REQUIRE(b.shape == a.shape);
    REQUIRE(a.frames == 6);
    REQUIRE(b.frames == 6);
    CHECK(a.y == b.y);
    CHECK(a.frame_at == b.frame_at);
    CHECK(a.frame_unit == b.frame_unit);
    CHECK(a.frame_value == b.frame_value);
    CHECK(a.frame_unit.size() > 100); // the digits moved and the camera saw them
}
#endif
