// The ONNX importer: small models written with onnx.helper by an independent
// script (tools/make_onnx_fixtures.py, data/fixtures/onnx/) whose numpy
// outputs our DNN pass must reproduce; the shipped reference models exported
// from PyTorch (tools/export_onnx.py) against their own .h5; and the inputs
// `snn convert` must refuse with one line and exit code 1.
#include "convert/convert.hpp"
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "convert/onnx.hpp"
#include "sim/engine.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#if SNN_WITH_ONNX

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;
const fs::path onnx_fixtures = source_dir / "data" / "fixtures" / "onnx";

// x is (N, C, H, W) or (N, F) as the ONNX model reads it; y the numpy output.
struct Reference {
    std::vector<float> x, y;
    std::vector<std::uint64_t> x_dims, y_dims;
};

Reference read_reference(const std::string& name) {
    Reference r;
    h5::Node f = h5::open_file((onnx_fixtures / (name + ".ref.h5")).string());
    r.x = h5::read_floats(f, "x", &r.x_dims);
    r.y = h5::read_floats(f, "y", &r.y_dims);
    return r;
}

// One sample of an NCHW batch in the engine's (h, w, c) order.
std::vector<float> channels_last(const Reference& r, std::size_t n) {
    if (r.x_dims.size() == 2) {
        const std::size_t f = r.x_dims[1];
        return {r.x.begin() + std::ptrdiff_t(n * f), r.x.begin() + std::ptrdiff_t((n + 1) * f)};
    }
    const std::size_t C = r.x_dims[1], H = r.x_dims[2], W = r.x_dims[3];
    std::vector<float> out(C * H * W);
    for (std::size_t c = 0; c < C; ++c)
        for (std::size_t y = 0; y < H; ++y)
            for (std::size_t x = 0; x < W; ++x) out[(y * W + x) * C + c] = r.x[((n * C + c) * H + y) * W + x];
    return out;
}

void check_against_reference(const std::string& name) {
    const Network net = import_onnx((onnx_fixtures / (name + ".onnx")).string());
    const Reference ref = read_reference(name);
    REQUIRE(ref.y_dims.size() == 2);
    REQUIRE(std::int64_t(ref.y_dims[1]) == net.output().shape.size());
    for (std::size_t n = 0; n < ref.x_dims[0]; ++n) {
        const std::vector<float> x = channels_last(ref, n);
        REQUIRE(std::int64_t(x.size()) == net.input().shape.size());
        const std::vector<float> out = forward(net, x.data()).back();
        for (std::size_t j = 0; j < out.size(); ++j) {
            INFO(name << " sample " << n << " output " << j);
            CHECK(out[j] == Approx(ref.y[n * ref.y_dims[1] + j]).epsilon(1e-4).margin(1e-5));
        }
    }
}

std::vector<std::string> names(const Network& net) {
    std::vector<std::string> v;
    for (const Population& p : net.populations) v.push_back(p.name);
    return v;
}

} // namespace

TEST_CASE("onnx: the DNN pass of each fixture equals its numpy reference", "[onnx]") {
    for (const char* name : {"cnn_opset17", "mlp_opset9", "residual_opset11", "gap_opset13"}) {
        SECTION(name) { check_against_reference(name); }
    }
}

TEST_CASE("onnx: NCHW becomes channels-last, PyTorch's scope names name the populations", "[onnx]") {
    const Network net = import_onnx((onnx_fixtures / "cnn_opset17.onnx").string());
    // Conv + BatchNormalization + Relu is one population; the shape arithmetic adds none.
    CHECK(names(net) == std::vector<std::string>{"input", "conv1", "pool1", "dw", "fc"});
    CHECK(net.input().shape == Shape{6, 6, 2});
    CHECK(net.input_layout == InputLayout::ChannelsFirst); // two channels: HDF5 data is (N, C, H, W)
    CHECK(net.populations[1].shape == Shape{6, 6, 4});
    CHECK(net.populations[2].kind == PopulationKind::MaxPool);
    CHECK(net.populations[2].shape == Shape{3, 3, 4});
    // SAME_UPPER, stride 2 over 3×3: output 2×2, the padding split 1 before, 1 after.
    const Projection& dw = net.populations[3].projections.at(0);
    CHECK(dw.kind == ProjectionKind::DepthwiseConv2D);
    CHECK(dw.window == Window{3, 3, 2, 2, 1, 1});
    CHECK(net.populations[3].shape == Shape{2, 2, 4});
    CHECK(net.output().shape == Shape{1, 1, 3});
}

TEST_CASE("onnx: GlobalAveragePool, Reshape (0, -1), Gemm fold into one Dense projection", "[onnx]") {
    const Network net = import_onnx((onnx_fixtures / "gap_opset13.onnx").string());
    CHECK(names(net) == std::vector<std::string>{"input", "conv", "fc"});
    const Projection& conv = net.populations[1].projections.at(0);
    REQUIRE(conv.kind == ProjectionKind::Conv2D);
    CHECK(net.populations[1].shape == Shape{2, 2, 5});
    CHECK(conv.weights.size() == std::size_t(3 * 3 * 2 * 5));
    // The pooling is linear: the Dense reads the conv population with 1/4 of each weight per unit.
    const Projection& fc = net.populations[2].projections.at(0);
    CHECK(fc.kind == ProjectionKind::Dense);
    CHECK(fc.source == 1);
    CHECK(fc.weights.size() == std::size_t(2 * 2 * 5 * 3));
}

TEST_CASE("onnx: Clip(0, 6) is a bounded ReLU, Clip(min 0) a ReLU", "[onnx]") {
    const Network res = import_onnx((onnx_fixtures / "residual_opset11.onnx").string());
    // The residual Add (Conv + BN folded, plus an Identity from the stem's Relu) carries the cap.
    const int block = res.find("block");
    REQUIRE(block >= 0);
    const Population& p = res.populations[std::size_t(block)];
    CHECK(p.clip == std::vector<float>(4, 6.0f));
    REQUIRE(p.projections.size() == 2);
    CHECK(p.projections[0].kind == ProjectionKind::Conv2D);
    CHECK(p.projections[1].kind == ProjectionKind::Identity);
    const Network mlp = import_onnx((onnx_fixtures / "mlp_opset9.onnx").string());
    CHECK(mlp.input_layout == InputLayout::ChannelsLast); // a flat input has no layout to convert
    for (const Population& q : mlp.populations) CHECK(q.clip.empty());
}

TEST_CASE("onnx: an unsupported op, a Concat along height or a Concat read by BatchNormalization is refused by name",
          "[onnx]") {
    const std::string unsupported = (onnx_fixtures / "unsupported_op.onnx").string();
    CHECK_THROWS_AS(import_onnx(unsupported), ModelError);
    CHECK_THROWS_WITH(import_onnx(unsupported), Contains("'head/act'") && Contains("Sigmoid"));
    const std::string concat = (onnx_fixtures / "concat_op.onnx").string();
    CHECK_THROWS_WITH(import_onnx(concat), Contains("node 'merge' (Concat): axis 2 is not the channel axis (1)"));
    const std::string bn = (onnx_fixtures / "concat_bn.onnx").string();
    CHECK_THROWS_WITH(import_onnx(bn), Contains("node '/bn/BatchNormalization' (BatchNormalization): reads the Concat 'merge'"));
}

TEST_CASE("onnx: a Concat of activations (torch.cat) becomes one projection per part and matches PyTorch", "[onnx]") {
    // a = conv_a (6,6,3), b = conv_b (6,6,2) → cat → conv_c (6,6,4) = d → cat [d, b] → MaxPool, one gate per part
    // → flatten → fc1 (4), fc2 (3) → cat → out (3).
    const Network net = import_onnx((onnx_fixtures / "concat_torch.onnx").string());
    REQUIRE(net.populations.size() == 9); // input, conv_a, conv_b, conv_c, two gates, fc1, fc2, out
    const Population& c = net.populations[3];
    CHECK(c.name == "conv_c");
    REQUIRE(c.projections.size() == 2);
    CHECK(net.populations[std::size_t(c.projections[0].source)].name == "conv_a");
    CHECK(net.populations[std::size_t(c.projections[1].source)].name == "conv_b");
    CHECK(c.projections[0].weights.size() == 3 * 3 * 3 * 4); // the kernel's input channels 0..2
    CHECK(c.projections[1].weights.size() == 3 * 3 * 2 * 4); // and 3..4
    CHECK(net.populations[4].kind == PopulationKind::MaxPool);
    CHECK(net.populations[4].shape == Shape{3, 3, 4});
    CHECK(net.populations[5].shape == Shape{3, 3, 2});
    CHECK(net.populations[6].projections.size() == 2); // fc1 from both gates, its rows in (c, h, w) order per part
    CHECK(net.output().projections.size() == 2);       // out from fc1 and fc2 (a concatenation of flat tensors)
    check_against_reference("concat_torch");
}

TEST_CASE("onnx: the SNN of the torch.cat model gives PyTorch's class wherever its margin is clear", "[onnx]") {
    const std::string model = (onnx_fixtures / "concat_torch.onnx").string();
    const Reference ref = read_reference("concat_torch");
    const std::size_t classes = ref.y_dims[1];
    Dataset d; // the fixture's x in the engine's layout, labelled with PyTorch's classes
    d.name = "concat_torch";
    d.shape = Shape{int(ref.x_dims[2]), int(ref.x_dims[3]), int(ref.x_dims[1])};
    for (std::size_t n = 0; n < ref.x_dims[0]; ++n) {
        const std::vector<float> x = channels_last(ref, n);
        d.x.insert(d.x.end(), x.begin(), x.end());
        const float* y = ref.y.data() + n * classes;
        d.y.push_back(int(std::max_element(y, y + classes) - y));
    }
    ConvertOptions opt;
    opt.norm.kind = NormSpec::Kind::Max;
    ConvertLog log;
    const Network net = convert_model(model, &d, opt, log);
    RunOptions o;
    o.steps = 1024;
    o.threads = 1;
    const RunResult r = simulate(net, d, o);
    float scale = 0; // the largest |logit|
    for (float v : ref.y) scale = std::max(scale, std::fabs(v));
    int clear = 0;
    for (std::int64_t s = 0; s < d.size(); ++s) {
        // Near-ties (top-2 margin below 12 % of the largest |logit|) need not
        // survive the rate code and the max-pooling gates' approximation.
        std::vector<float> sorted(ref.y.begin() + std::ptrdiff_t(std::size_t(s) * classes),
                                  ref.y.begin() + std::ptrdiff_t(std::size_t(s + 1) * classes));
        std::sort(sorted.rbegin(), sorted.rend());
        if (sorted[0] - sorted[1] < 0.12f * scale) continue;
        INFO("sample " << s);
        CHECK(r.predictions.at(std::size_t(s)) == d.y[std::size_t(s)]);
        ++clear;
    }
    CHECK(clear >= 3); // of the 8: the check is not empty
}

TEST_CASE("onnx: snn convert refuses bad files with one line and exit code 1, writing nothing", "[onnx]") {
    TempDir dir("onnx-bad");
    // Truncated: the first half of a valid model.
    const std::string valid = slurp((onnx_fixtures / "cnn_opset17.onnx").string());
    std::ofstream(dir.file("truncated.onnx"), std::ios::binary) << valid.substr(0, valid.size() / 2);
    std::ofstream(dir.file("text.onnx")) << "this is not a protobuf model\n";
    std::ofstream(dir.file("empty.onnx"));
    struct Case {
        std::string model, says;
    };
    const std::vector<Case> cases = {
        {dir.file("truncated.onnx"), "not an ONNX model"},
        {dir.file("text.onnx"), "not an ONNX model"},
        {dir.file("empty.onnx"), "not an ONNX model"},
        {(onnx_fixtures / "unsupported_op.onnx").string(), "node 'head/act' (Sigmoid): op 'Sigmoid' is not supported"},
        {(onnx_fixtures / "concat_op.onnx").string(), "node 'merge' (Concat): axis 2 is not the channel axis"},
        {(onnx_fixtures / "concat_bn.onnx").string(), "node '/bn/BatchNormalization' (BatchNormalization): reads the Concat"},
    };
    for (const Case& c : cases) {
        INFO(c.model);
        const std::string out = dir.file("out.snn.h5");
        const Outcome o = snn_cli("convert " + quote(c.model) + " -o " + quote(out));
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(c.says) && Contains(c.model));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK(!fs::exists(out));
        CHECK(dir.temporaries().empty());
    }
}

// tools/export_onnx.py rebuilds a shipped model in PyTorch from its .h5 and
// exports it with torch.onnx.export into `dir`; false (with a warning) where
// /usr/bin/python3 lacks Debian's python3-torch or python3-onnx (tools/setup.sh
// installs them).
bool export_shipped(const TempDir& dir, const std::string& model, std::string& onnx) {
    const Outcome probe = run_captured("/usr/bin/python3 -c 'import torch, onnx'", dir);
    if (probe.status != 0) {
        WARN("skipped: /usr/bin/python3 has no torch or onnx (apt-get install python3-torch python3-onnx)");
        return false;
    }
    const std::string h5 = (source_dir / "data" / "models" / (model + ".h5")).string();
    onnx = dir.file(model + ".onnx");
    const Outcome e = run_captured("/usr/bin/python3 " + quote((source_dir / "tools" / "export_onnx.py").string()) + " " +
                                       quote(h5) + " -o " + quote(onnx),
                                   dir);
    INFO(e.out << e.err);
    REQUIRE(e.status == 0);
    return true;
}

TEST_CASE("onnx: the shipped MLP and CNN exported from PyTorch convert to the network of their .h5", "[onnx]") {
    TempDir dir("onnx-export");
    for (const std::string model : {"mnist_mlp", "mnist_cnn"}) {
        INFO(model);
        std::string onnx;
        if (!export_shipped(dir, model, onnx)) return;
        const Network from_onnx = import_onnx(onnx);
        const Network from_h5 = import_keras((source_dir / "data" / "models" / (model + ".h5")).string());
        // The same populations, shapes, projections and weights, bit for bit.
        REQUIRE(from_onnx.populations.size() == from_h5.populations.size());
        for (std::size_t i = 0; i < from_h5.populations.size(); ++i) {
            const Population &a = from_onnx.populations[i], &b = from_h5.populations[i];
            INFO("population " << i << " " << b.name);
            CHECK(a.name == b.name);
            CHECK(a.layers == b.layers);
            CHECK(a.kind == b.kind);
            CHECK(a.shape == b.shape);
            CHECK(a.bias == b.bias);
            REQUIRE(a.projections.size() == b.projections.size());
            for (std::size_t k = 0; k < b.projections.size(); ++k) {
                CHECK(a.projections[k].kind == b.projections[k].kind);
                CHECK(a.projections[k].source == b.projections[k].source);
                CHECK(a.projections[k].window == b.projections[k].window);
                CHECK(a.projections[k].weights == b.projections[k].weights);
            }
        }
        CHECK(from_onnx.input_layout == from_h5.input_layout);
    }
}

TEST_CASE("onnx: the shipped BatchNorm CNN and MobileNet exported from PyTorch compute what their .h5 computes",
          "[onnx]") {
    // PyTorch folds each BatchNorm into its Conv in float32 on export (we fold
    // in double), and TensorFlow's 'same' padding of the stride-2 layers
    // becomes asymmetric Conv pads: the same populations, the DNN outputs equal
    // to rounding.
    TempDir dir("onnx-export-bn");
    for (const std::string model : {"mnist_cnn_bn_maxpool", "mnist_mobilenet"}) {
        INFO(model);
        std::string onnx;
        if (!export_shipped(dir, model, onnx)) return;
        const Network a = import_onnx(onnx);
        const Network b = import_keras((source_dir / "data" / "models" / (model + ".h5")).string());
        CHECK(names(a) == names(b));
        REQUIRE(a.populations.size() == b.populations.size());
        for (std::size_t i = 0; i < a.populations.size(); ++i) {
            CHECK(a.populations[i].shape == b.populations[i].shape);
            CHECK(a.populations[i].kind == b.populations[i].kind);
        }
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
        std::vector<float> x(std::size_t(a.input().shape.size()));
        for (int s = 0; s < 10; ++s) {
            for (float& v : x) v = pixel(rng);
            const std::vector<float> ya = forward(a, x.data()).back(), yb = forward(b, x.data()).back();
            for (std::size_t j = 0; j < ya.size(); ++j) CHECK(ya[j] == Approx(yb[j]).epsilon(1e-4).margin(1e-4));
        }
    }
}

#endif // SNN_WITH_ONNX
