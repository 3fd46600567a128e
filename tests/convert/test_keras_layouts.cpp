// Keras files as they are found: channels_first models, the Theano backend's
// flipped kernels, weight names without ":0", no InputLayer entry, bounded
// ReLUs. Checked against the numpy reference of tools/keras_h5.py (fixtures
// written by tools/make_layout_fixtures.py, and the real files of
// ../shared/data/keras-real run through the reference at test time), against
// Keras's own recorded activations (the DL4J pair files), and by hand.
#include "convert/convert.hpp"
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "sim/engine.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;
const fs::path fixtures = source_dir / "data" / "fixtures";
const fs::path keras_real = source_dir / ".." / "shared" / "data" / "keras-real";

bool have_keras_real() {
    if (fs::exists(keras_real / "snntb_lenet5_cf_99.14.h5")) return true;
    WARN("skipped: " << keras_real.string() << " is absent (the real Keras models live in shared/ beside the repo)");
    return false;
}

bool has_note(const std::vector<std::string>& notes, const std::string& text) {
    return std::any_of(notes.begin(), notes.end(), [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

// The network's DNN output on every sample of `data_path` (x in the model's
// own layout, read and matched as `snn run --data` does) against y_dnn, the
// numpy reference's pre-softmax outputs for the same x.
void check_matches_reference(const Network& net, const std::string& data_path, double rel = 1e-4) {
    Dataset data = load_dataset(data_path);
    match_input_layout(data, net);
    REQUIRE(data.shape == net.input().shape);
    std::vector<std::uint64_t> dims;
    const std::vector<float> y = h5::read_floats(h5::open_file(data_path), "y_dnn", &dims);
    REQUIRE(dims.size() == 2);
    REQUIRE(dims[0] == std::uint64_t(data.size()));
    const std::size_t classes = std::size_t(dims[1]);
    REQUIRE(std::int64_t(classes) == net.output().shape.size());
    for (std::int64_t s = 0; s < data.size(); ++s) {
        INFO("sample " << s);
        const std::vector<float> out = forward(net, data.sample(s)).back();
        const std::vector<float> want(y.begin() + std::ptrdiff_t(std::size_t(s) * classes),
                                      y.begin() + std::ptrdiff_t(std::size_t(s + 1) * classes));
        float scale = 0;
        for (float v : want) scale = std::max(scale, std::fabs(v));
        for (std::size_t j = 0; j < classes; ++j) {
            INFO("output " << j);
            CHECK(out[j] == Approx(want[j]).epsilon(rel).margin(rel * double(scale)));
        }
        CHECK(argmax(out) == argmax(want));
    }
}

} // namespace

TEST_CASE("a Keras 2.0 Theano channels_first file matches the numpy reference", "[convert][keras]") {
    // Sequential config as a bare list, no InputLayer, weight names without
    // ":0", backend theano, BatchNormalization axis 1, relu6, a Flatten that
    // flattens (C, H, W) as stored.
    std::vector<std::string> notes;
    const Network net = import_keras((fixtures / "tiny_cf_theano.h5").string(), notes);
    CHECK(net.input_layout == InputLayout::ChannelsFirst);
    CHECK(net.input().shape == Shape{7, 7, 2});
    REQUIRE(net.populations.size() == 4); // input, c1 (+bn, act), mp, d
    CHECK(net.populations[1].layers == std::vector<std::string>{"c1", "bn", "act"});
    CHECK(net.populations[1].clip == std::vector<float>(4, 6.0f));
    CHECK(has_note(notes, "backend theano: flipped the kernels of 1 Conv2D"));
    CHECK(has_note(notes, "channels_first"));
    CHECK(has_note(notes, "bounded ReLU"));
    check_matches_reference(net, (fixtures / "tiny_cf_theano.ref.h5").string());
}

TEST_CASE("a Keras 2.2 channels_first Functional file matches the numpy reference", "[convert][keras]") {
    // InputLayer (3,6,6), ReLU(max_value=1) before average pooling, Flatten
    // data_format=channels_first (Keras permutes to (H, W, C) first).
    std::vector<std::string> notes;
    const Network net = import_keras((fixtures / "tiny_cf_keras22.h5").string(), notes);
    CHECK(net.input_layout == InputLayout::ChannelsFirst);
    CHECK(net.input().shape == Shape{6, 6, 3});
    CHECK(net.populations[1].clip == std::vector<float>(4, 1.0f));
    CHECK_FALSE(has_note(notes, "theano"));
    check_matches_reference(net, (fixtures / "tiny_cf_keras22.ref.h5").string());
}

TEST_CASE("ZeroPadding2D becomes the padding of the convolution after it and matches the numpy reference",
          "[convert][keras]") {
    // input (7,7,2) → zp1 ((1,2),(0,1)) → c1 3x3 valid (8,6,4) → zp2 1 → dw 3x3 stride 2 valid (4,3,4) → d.
    std::vector<std::string> notes;
    const Network net = import_keras((fixtures / "tiny_zeropad.h5").string(), notes);
    REQUIRE(net.populations.size() == 4);
    CHECK(net.input().shape == Shape{7, 7, 2});
    const Projection& c1 = net.populations[1].projections[0];
    CHECK(net.populations[1].shape == Shape{8, 6, 4});
    CHECK(c1.window.pad_top == 1);
    CHECK(c1.window.pad_left == 0);
    const Projection& dw = net.populations[2].projections[0];
    CHECK(dw.kind == ProjectionKind::DepthwiseConv2D);
    CHECK(net.populations[2].shape == Shape{4, 3, 4});
    CHECK(dw.window.pad_top == 1);
    CHECK(dw.window.pad_left == 1);
    check_matches_reference(net, (fixtures / "tiny_zeropad.ref.h5").string());

}

TEST_CASE("Concatenate along the channel axis becomes one projection per part and matches the numpy reference",
          "[convert][keras]") {
    // input (6,6,2) → c1 3x3 same (6,6,3), c2 1x1 (6,6,2) → cat1 [c1, input] (6,6,5) → c3 3x3 same (6,6,4)
    // → cat2 axis 3 [c3, c2] (6,6,6) → mp 2x2 (3,3,6) → fl (54) → d (3).
    const Network net = import_keras((fixtures / "tiny_concat.h5").string());
    REQUIRE(net.populations.size() == 7); // input, c1, c2, c3, mp of c3, mp of c2, d
    const Population& c3 = net.populations[3];
    CHECK(c3.name == "c3");
    REQUIRE(c3.projections.size() == 2);
    CHECK(net.populations[std::size_t(c3.projections[0].source)].name == "c1");
    CHECK(net.populations[std::size_t(c3.projections[1].source)].name == "input_1");
    CHECK(c3.projections[0].weights.size() == 3 * 3 * 3 * 4); // the kernel's input channels 0..2
    CHECK(c3.projections[1].weights.size() == 3 * 3 * 2 * 4); // and 3..4
    CHECK(net.populations[4].name == "mp.c3");
    CHECK(net.populations[4].kind == PopulationKind::MaxPool);
    CHECK(net.populations[4].shape == Shape{3, 3, 4});
    CHECK(net.populations[5].name == "mp.c2");
    CHECK(net.populations[5].shape == Shape{3, 3, 2});
    const Population& d = net.output();
    REQUIRE(d.projections.size() == 2);
    CHECK(d.projections[0].weights.size() == 3 * 3 * 4 * 3);
    CHECK(d.projections[1].weights.size() == 3 * 3 * 2 * 3);
    check_matches_reference(net, (fixtures / "tiny_concat.ref.h5").string());
}

TEST_CASE("SeparableConv2D, average pooling and global average pooling over a Concatenate match the numpy reference",
          "[convert][keras]") {
    // input (4,4,2) → c1 1x1 (4,4,2), c2 3x3 same (4,4,3) → cat1 [c1, c2] → sc separable 3x3 same (4,4,4)
    // → cat2 [sc, c1] (4,4,6) → ap 2x2 (2,2,6) → gap (6) → d (3).
    const Network net = import_keras((fixtures / "tiny_concat_pool.h5").string());
    // input, c1, c2, sc, ap.sc, ap.c1 (IF neurons), gap.ap.sc, gap.ap.c1 (IF neurons), d
    REQUIRE(net.populations.size() == 9);
    CHECK(net.populations[3].projections.size() == 2); // sc from c1 and c2, the kernels multiplied out
    CHECK(net.populations[4].name == "ap.sc");
    CHECK(net.populations[4].shape == Shape{2, 2, 4});
    CHECK(net.populations[5].name == "ap.c1");
    CHECK(net.populations[7].name == "gap.ap.c1");
    CHECK(net.populations[7].shape == Shape{1, 1, 2});
    CHECK(net.output().projections.size() == 2);
    check_matches_reference(net, (fixtures / "tiny_concat_pool.ref.h5").string());
}

TEST_CASE("a channels_first Concatenate on axis 1 before a (C, H, W) Flatten matches the numpy reference",
          "[convert][keras]") {
    // input (2,5,5) → c1 3x3 same (3,5,5), c2 1x1 (2,5,5) → cat axis 1 (5,5,5) → fl as stored (125) → d (3):
    // Keras's row c·25 + y·5 + x, with c in the concatenation's channels, is the part's unit (y·5 + x)·C_p + c − off.
    const Network net = import_keras((fixtures / "tiny_concat_cf.h5").string());
    CHECK(net.input_layout == InputLayout::ChannelsFirst);
    REQUIRE(net.populations.size() == 4);
    REQUIRE(net.output().projections.size() == 2);
    check_matches_reference(net, (fixtures / "tiny_concat_cf.ref.h5").string());
}

TEST_CASE("Conv1D and 1-D pooling run as 2-D layers of height 1 and match the numpy reference", "[convert][keras]") {
    // (16,3) → c1 Conv1D k3 same (16,4) → mp MaxPooling1D 2 (8,4) → c2 Conv1D k3 causal (8,5)
    // → c3 Conv1D k2 stride 2 valid (4,4) → ap AveragePooling1D 2 stride 1 (3,4) → gap → d (3).
    const Network net = import_keras((fixtures / "tiny_conv1d.h5").string());
    CHECK(net.input().shape == Shape{1, 16, 3});
    REQUIRE(net.populations.size() == 7); // input, c1, mp, c2, c3, ap; the global pooling folds into d
    CHECK(net.populations[1].shape == Shape{1, 16, 4});
    CHECK(net.populations[2].shape == Shape{1, 8, 4});
    const Population& c2 = net.populations[3];
    CHECK(c2.shape == Shape{1, 8, 5});
    const Window& w = c2.projections.at(0).window;
    CHECK((w.kh == 1 && w.kw == 3 && w.pad_top == 0 && w.pad_left == 2)); // causal: k − 1 zeros before the first step
    CHECK(net.populations[4].shape == Shape{1, 4, 4});
    CHECK(net.populations[5].shape == Shape{1, 3, 4});
    check_matches_reference(net, (fixtures / "tiny_conv1d.ref.h5").string());
}

TEST_CASE("UpSampling2D becomes a relay population and matches the numpy reference", "[convert][keras]") {
    // input (4,4,2) → c1 3x3 stride 2 same (2,2,3) → up1 ×(2,2) (4,4,3); c0 1x1 (4,4,2) → cat [up1, c0]
    // → up2 ×(1,2): one relay per part, (4,8,3) and (4,8,2) → c2 3x3 same (4,8,4) → mp (2,4,4) → fl → d (3).
    const Network net = import_keras((fixtures / "tiny_upsample.h5").string());
    // input, c1, up1, c0, up2.up1, up2.c0, c2, mp, d
    REQUIRE(net.populations.size() == 9);
    const Population& up1 = net.populations[2];
    CHECK(up1.name == "up1");
    CHECK(up1.kind == PopulationKind::Spiking);
    CHECK(up1.shape == Shape{4, 4, 3});
    REQUIRE(up1.projections.size() == 1);
    CHECK(up1.projections[0].kind == ProjectionKind::Upsample2D);
    CHECK(up1.projections[0].weights == std::vector<float>(3, 1.0f));
    CHECK(net.populations[4].name == "up2.up1");
    CHECK(net.populations[4].shape == Shape{4, 8, 3});
    CHECK(net.populations[5].name == "up2.c0");
    CHECK(net.populations[5].shape == Shape{4, 8, 2});
    const Population& c2 = net.populations[6];
    REQUIRE(c2.projections.size() == 2); // the Concatenate's parts, each with its slice of the kernel
    CHECK(c2.shape == Shape{4, 8, 4});
    check_matches_reference(net, (fixtures / "tiny_upsample.ref.h5").string());

    // channels_first, Sequential: the input itself upsampled (the relay reads the input population).
    const Network cf = import_keras((fixtures / "tiny_upsample_cf.h5").string());
    CHECK(cf.input_layout == InputLayout::ChannelsFirst);
    REQUIRE(cf.populations.size() == 5); // input, up0, c1, up1, d
    CHECK(cf.populations[1].shape == Shape{6, 6, 2});
    CHECK(cf.populations[3].shape == Shape{8, 4, 3}); // size (2, 1): rows doubled, columns kept
    check_matches_reference(cf, (fixtures / "tiny_upsample_cf.ref.h5").string());
}

TEST_CASE("A relay keeps its source's lambda and fires exactly the spikes of the unit it copies", "[convert][keras]") {
    for (const auto& [name, channel_wise] : {std::pair{"tiny_upsample", true}, std::pair{"tiny_upsample", false},
                                             std::pair{"tiny_upsample_cf", true}}) {
        INFO(name << ", channel-wise " << channel_wise);
        const std::string model = (fixtures / (std::string(name) + ".h5")).string();
        const std::string ref = (fixtures / (std::string(name) + ".ref.h5")).string();
        Dataset calib = load_dataset(ref);
        ConvertOptions opt;
        opt.channel_wise = channel_wise;
        opt.neuron.v_init = 0.5f;
        ConvertLog log;
        const Network net = convert_model(model, &calib, opt, log);
        match_input_layout(calib, net);
        RunOptions o;
        o.steps = 40;
        o.threads = 1;
        const Engine engine(net, o);
        for (std::int64_t i = 0; i < calib.size(); ++i) {
            SampleState s;
            engine.init(s);
            engine.run_sample(calib, i, s, nullptr);
            for (std::size_t l = 0; l < net.populations.size(); ++l) {
                const Population& relay = net.populations[l];
                if (relay.projections.empty() || relay.projections[0].kind != ProjectionKind::Upsample2D) continue;
                INFO(relay.name << ", sample " << i);
                CHECK(relay.projections[0].weights == std::vector<float>(std::size_t(relay.shape.c), 1.0f));
                const std::size_t src = std::size_t(relay.projections[0].source);
                // A relay of the input (current encoding) integrates pixel values: no spikes to compare.
                if (net.populations[src].kind == PopulationKind::Input) continue;
                const Shape a = net.populations[src].shape, b = relay.shape;
                const int fy = b.h / a.h, fx = b.w / a.w;
                int spikes = 0;
                for (int y = 0; y < b.h; ++y)
                    for (int x = 0; x < b.w; ++x)
                        for (int c = 0; c < b.c; ++c) {
                            const auto copied = s.counts[l][std::size_t((y * b.w + x) * b.c + c)];
                            CHECK(copied == s.counts[src][std::size_t(((y / fy) * a.w + x / fx) * a.c + c)]);
                            spikes += copied;
                        }
                CHECK(spikes > 0); // not an empty check
            }
        }
    }
}

TEST_CASE("HDF5 data is read in the model's own layout and transposed for the engine", "[convert][keras]") {
    // A hand-worked case: C=3, H=1, W=2 stored (c, h, w); the engine's order is (h, w, c).
    Network cf;
    cf.populations.push_back(input(Shape{1, 2, 3}));
    cf.input_layout = InputLayout::ChannelsFirst;
    cf.source = "model.h5";
    Dataset d;
    d.name = "data.h5";
    d.shape = Shape{3, 1, 2}; // what load_dataset makes of (N, 3, 1, 2)
    d.stored_dims = {3, 1, 2};
    d.x = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60}; // two samples: channel 0 = (1, 2), 1 = (3, 4), 2 = (5, 6)
    d.y = {0, 1};
    Dataset cl = d;
    match_input_layout(d, cf);
    CHECK(d.shape == Shape{1, 2, 3});
    CHECK(d.x == std::vector<float>{1, 3, 5, 2, 4, 6, 10, 30, 50, 20, 40, 60});
    CHECK(d.stored_dims.empty());
    match_input_layout(d, cf); // matched once only
    CHECK(d.x == std::vector<float>{1, 3, 5, 2, 4, 6, 10, 30, 50, 20, 40, 60});

    // A channels-last network reads the data as it is.
    Network last = cf;
    last.input_layout = InputLayout::ChannelsLast;
    Dataset same = cl;
    match_input_layout(same, last);
    CHECK(same.x == cl.x);

    // Data built in the engine's layout (MNIST) feeds a channels-first model as it is.
    Dataset idx = cl;
    idx.stored_dims.clear();
    idx.shape = Shape{1, 2, 3};
    match_input_layout(idx, cf);
    CHECK(idx.x == cl.x);

    // Stored in the wrong shape: one line naming the data, the model and both shapes.
    Dataset wrong = cl;
    wrong.stored_dims = {1, 2, 3};
    wrong.shape = Shape{1, 2, 3};
    REQUIRE_THROWS_AS(match_input_layout(wrong, cf), DataError);
    REQUIRE_THROWS_WITH(match_input_layout(wrong, cf), Contains("data.h5") && Contains("model.h5") &&
                                                           Contains("(1,2,3)") && Contains("(3,1,2)"));
}

TEST_CASE("a channels-first network keeps its layout and caps through normalization, save and load",
          "[convert][keras]") {
    const TempDir dir("keras-layouts");
    const std::string ref = (fixtures / "tiny_cf_theano.ref.h5").string();
    const Dataset calib = load_dataset(ref); // (N, C, H, W): convert_model matches it to the model
    ConvertOptions opt;
    opt.norm.kind = NormSpec::Kind::Max;
    ConvertLog log;
    const Network net = convert_model((fixtures / "tiny_cf_theano.h5").string(), &calib, opt, log);
    const Population& c1 = net.populations[1];
    // λ = the largest capped activation on the data: at most the cap; the cap is M/λ after scaling.
    CHECK(c1.scale <= 6.0f);
    CHECK(c1.clip == std::vector<float>(4, 6.0f / c1.scale));
    CHECK(has_note(log.lines, "(bounded ReLU: cap 6, lambda <= cap)"));
    // Normalization keeps the DNN function up to the output scale: the reference's classes.
    Dataset data = load_dataset(ref);
    match_input_layout(data, net);
    for (std::int64_t s = 0; s < data.size(); ++s) CHECK(argmax(forward(net, data.sample(s)).back()) == data.y[std::size_t(s)]);

    const std::string path = dir.file("cf.snn.h5");
    save(net, path);
    CHECK(h5::read_int_attr(h5::open_file(path), "format_version") == 5);
    CHECK(h5::read_string_attr(h5::open_file(path), "input_layout") == "channels_first");
    const Network back = load(path);
    CHECK(back == net);

    // Model-based normalization: λ = min(bound, cap).
    ConvertLog log2;
    const Network model_based = convert_model((fixtures / "tiny_cf_theano.h5").string(), nullptr, ConvertOptions{}, log2);
    CHECK(model_based.populations[1].scale <= 6.0f);

    // A channels-last network without caps is written as before (version 1, no layout attribute).
    ConvertLog log3;
    const Network plain = convert_model((fixtures / "tiny_keras3_sequential.h5").string(), nullptr, ConvertOptions{}, log3);
    save(plain, dir.file("plain.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(dir.file("plain.snn.h5")), "format_version") == 1);
    CHECK_FALSE(h5::has_attr(h5::open_file(dir.file("plain.snn.h5")), "input_layout"));
    CHECK(load(dir.file("plain.snn.h5")).input_layout == InputLayout::ChannelsLast);
}

TEST_CASE("snn convert and run read a channels_first model's HDF5 data in its own layout", "[convert][keras][cli]") {
    const TempDir dir("keras-layouts-cli");
    const std::string model = (fixtures / "tiny_cf_keras22.h5").string(), ref = (fixtures / "tiny_cf_keras22.ref.h5").string();
    const std::string net = dir.file("net.snn.h5"), report = dir.file("report.json");
    const Outcome c = snn_cli("convert " + quote(model) + " -o " + quote(net) + " --calib " + quote(ref) + " --norm max");
    INFO(c.out << c.err);
    REQUIRE(c.status == 0);
    CHECK_THAT(c.out, Contains("channels_first"));
    CHECK_THAT(c.out, Contains("bounded ReLU"));
    const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(ref) + " --steps 64 --quiet --report " + quote(report));
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    // y holds the reference's own classes: the DNN pass on the transposed data gets them all.
    CHECK(read_report(report)["dnn_accuracy"].get<double>() == 1.0);

    // Data in the engine's layout is not the model's: refused, naming both shapes.
    std::vector<float> x(2 * 6 * 6 * 3, 0.5f);
    write_data(dir.file("hwc.h5"), x, {2, 6, 6, 3}, {0, 1});
    const Outcome bad = snn_cli("run " + quote(net) + " --data " + quote(dir.file("hwc.h5")) + " --steps 4 --quiet");
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Contains("(6,6,3)") && Contains("(3,6,6)") && Contains("channels_first"));
}

TEST_CASE("snn convert and run take a Concatenate model and a Conv1D model with (N, steps, C) data",
          "[convert][keras][cli]") {
    const TempDir dir("keras-new-layers-cli");
    for (const char* name : {"tiny_concat", "tiny_conv1d", "tiny_upsample", "tiny_upsample_cf"}) {
        INFO(name);
        const std::string model = (fixtures / (std::string(name) + ".h5")).string();
        const std::string ref = (fixtures / (std::string(name) + ".ref.h5")).string();
        const std::string net = dir.file(std::string(name) + ".snn.h5"), report = dir.file(std::string(name) + ".json");
        const Outcome c = snn_cli("convert " + quote(model) + " -o " + quote(net) + " --calib " + quote(ref) + " --norm max");
        INFO(c.out << c.err);
        REQUIRE(c.status == 0);
        const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(ref) + " --steps 64 --quiet --report " + quote(report));
        INFO(r.out << r.err);
        REQUIRE(r.status == 0);
        // y holds the reference's own classes: the DNN pass on the data as
        // stored ((N, 16, 3) for the 1-D model) gets them all.
        CHECK(read_report(report)["dnn_accuracy"].get<double>() == 1.0);
    }
}

TEST_CASE("the SNNs of the Concatenate and Conv1D fixtures agree with the DNN wherever its margin is clear",
          "[convert][keras]") {
    for (const char* name : {"tiny_concat", "tiny_concat_pool", "tiny_conv1d", "tiny_upsample"}) {
        INFO(name);
        const std::string model = (fixtures / (std::string(name) + ".h5")).string();
        const std::string ref = (fixtures / (std::string(name) + ".ref.h5")).string();
        const Dataset calib = load_dataset(ref);
        ConvertOptions opt;
        opt.norm.kind = NormSpec::Kind::Max;
        ConvertLog log;
        const Network net = convert_model(model, &calib, opt, log);
        Dataset data = load_dataset(ref);
        match_input_layout(data, net);
        std::vector<std::uint64_t> dims;
        const std::vector<float> y = h5::read_floats(h5::open_file(ref), "y_dnn", &dims);
        const std::size_t classes = std::size_t(dims.at(1));
        RunOptions o;
        o.steps = 1024;
        o.threads = 1;
        const RunResult r = simulate(net, data, o);
        o.threads = 2;
        CHECK(simulate(net, data, o).predictions == r.predictions); // whatever the thread count
        float scale = 0; // the largest |logit| on the data
        for (float v : y) scale = std::max(scale, std::fabs(v));
        int clear = 0;
        for (std::int64_t s = 0; s < data.size(); ++s) {
            // Near-ties of the DNN (top-2 margin below 12 % of the largest
            // |logit|; random small weights make several, down to 1 %) need
            // not survive the rate code and the max-pooling gates' approximation.
            std::vector<float> sorted(y.begin() + std::ptrdiff_t(std::size_t(s) * classes),
                                      y.begin() + std::ptrdiff_t(std::size_t(s + 1) * classes));
            std::sort(sorted.rbegin(), sorted.rend());
            if (sorted[0] - sorted[1] < 0.12f * scale) continue;
            INFO("sample " << s);
            CHECK(r.predictions.at(std::size_t(s)) == data.y[std::size_t(s)]);
            ++clear;
        }
        CHECK(clear >= 3); // of the 8: the check is not empty
    }
}

TEST_CASE("every real Keras file converts and matches the numpy reference, or is refused naming what cannot be converted",
          "[convert][keras]") {
    if (!have_keras_real()) return;
    const TempDir dir("keras-real");
    struct Refused {
        const char* file;
        std::vector<std::string> named; // the layer and every parameter that cannot be converted
    };
    const std::vector<Refused> refused = {
        {"k2circom_best_practice_lambda.h5", {"'lambda'", "Lambda"}},
        {"dl4j_ReLU_2_thresh_model.h5", {"'re_lu_1'", "negative_slope=0.2", "threshold=0.2"}},
        {"dl4j_ReLU_3_negslope_model.h5", {"'re_lu_1'", "negative_slope=0.5"}},
    };
    int converted = 0;
    for (const auto& entry : fs::directory_iterator(keras_real)) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() != ".h5" || name.find("_inputs_and_outputs") != std::string::npos) continue;
        INFO(name);
        const auto r = std::find_if(refused.begin(), refused.end(), [&](const Refused& x) { return name == x.file; });
        if (r != refused.end()) {
            try {
                import_keras(entry.path().string());
                FAIL("converted, expected a refusal");
            } catch (const ModelError& e) {
                const std::string what = e.what();
                CHECK(what.find('\n') == std::string::npos);
                for (const auto& n : r->named) CHECK_THAT(what, Contains(n));
            }
            continue;
        }
        const Network net = import_keras(entry.path().string());
        const std::string data = dir.file(name + ".ref.h5");
        const Outcome py = run_captured("/usr/bin/python3 " + quote((source_dir / "tools" / "keras_h5.py").string()) + " " +
                                            quote(entry.path().string()) + " " + quote(data) + " --n 3",
                                        dir);
        INFO(py.err);
        REQUIRE(py.status == 0);
        check_matches_reference(net, data, 1e-3);
        ++converted;
    }
    CHECK(converted >= 12);
}

TEST_CASE("a ReLU6 layer matches the activations Keras recorded (DL4J pair file)", "[convert][keras]") {
    if (!have_keras_real()) return;
    const Network net = import_keras((keras_real / "dl4j_ReLU_1_relu6_model.h5").string());
    REQUIRE(net.populations.size() == 2);
    CHECK(net.output().clip == std::vector<float>(32, 6.0f));
    const h5::Node io = h5::open_file((keras_real / "dl4j_ReLU_1_relu6_inputs_and_outputs.h5").string());
    std::vector<std::uint64_t> xd, yd;
    const std::vector<float> x = h5::read_floats(h5::open_group(io, "inputs"), "dense_input", &xd);
    const std::vector<float> y = h5::read_floats(h5::open_group(io, "activations"), "re_lu_1", &yd);
    REQUIRE(xd == std::vector<std::uint64_t>{2, 16});
    REQUIRE(yd == std::vector<std::uint64_t>{2, 32});
    bool capped = false;
    for (std::size_t s = 0; s < 2; ++s) {
        const std::vector<float> out = forward(net, x.data() + s * 16).back();
        for (std::size_t j = 0; j < 32; ++j) {
            INFO("sample " << s << " unit " << j);
            CHECK(out[j] == Approx(y[s * 32 + j]).epsilon(1e-5).margin(1e-6));
            capped = capped || y[s * 32 + j] == 6.0f;
        }
    }
    INFO("whether Keras's activations reach the cap: " << capped); // the cap itself is checked by hand elsewhere
}

TEST_CASE("the SNN Toolbox LeNets (channels_first, Theano) reach their accuracy on MNIST in either layout",
          "[convert][keras]") {
    if (!have_keras_real()) return;
    const Dataset test = load_dataset("mnist:test", 1000); // built channels-last: feeds either layout
    for (const char* name : {"snntb_lenet5_cf_99.14.h5", "snntb_lenet5_theano_98.96.h5"}) {
        INFO(name);
        const Network net = import_keras((keras_real / name).string());
        CHECK(net.input().shape == Shape{28, 28, 1});
        CHECK(net.input_layout == InputLayout::ChannelsFirst);
        std::int64_t correct = 0;
        for (std::int64_t i = 0; i < test.size(); ++i)
            correct += argmax(forward(net, test.sample(i)).back()) == test.y[std::size_t(i)];
        // Unflipped, the Theano kernels give about 32 %.
        CHECK(double(correct) / double(test.size()) >= 0.97);
    }
}
