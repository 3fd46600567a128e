// The Keras HDF5 importer: fixtures checked against an independent numpy
// forward pass, BatchNorm folding checked against a hand computation, the
// real Keras files that must import, and the inputs it must refuse.
#include "convert/convert.hpp"
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;
const fs::path fixtures = source_dir / "data" / "fixtures";
// Beside the repository in CI; absent in some checkouts (those tests skip).
const fs::path keras_real = source_dir / ".." / "shared" / "data" / "keras-real";

struct Weight {
    std::string name; // "kernel", "bias", "gamma", ...
    std::vector<std::uint64_t> dims;
    std::vector<float> values;
};
using LayerWeights = std::vector<std::pair<std::string, std::vector<Weight>>>; // in model order

// Writes a Keras 2 `model.save("x.h5")` file: root attribute model_config,
// group model_weights (attribute layer_names), one group per layer with
// attribute weight_names ("<layer>/<w>:0") and the datasets at
// model_weights/<layer>/<layer>/<w>:0.
void write_keras_h5(const std::string& path, const std::string& model_config, const LayerWeights& layers) {
    h5::Node f = h5::create_file(path);
    h5::write_attr(f, "keras_version", std::string("2.14.0"));
    h5::write_attr(f, "backend", std::string("tensorflow"));
    h5::write_attr(f, "model_config", model_config);
    h5::Node mw = h5::create_group(f, "model_weights");
    std::vector<std::string> names;
    for (const auto& [layer, weights] : layers) names.push_back(layer);
    h5::write_attr(mw, "layer_names", names);
    for (const auto& [layer, weights] : layers) {
        h5::Node g = h5::create_group(mw, layer);
        std::vector<std::string> wnames;
        for (const auto& w : weights) wnames.push_back(layer + "/" + w.name + ":0");
        h5::write_attr(g, "weight_names", wnames);
        if (weights.empty()) continue;
        h5::Node inner = h5::create_group(g, layer);
        for (const auto& w : weights) h5::write_floats(inner, w.name + ":0", w.values, w.dims);
    }
}

// input (3) → Dense d 2 linear → BatchNormalization bn → relu → Dense out 2 softmax
struct DenseBnModel {
    std::vector<float> W = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f}; // (3,2): W[i*2+j] from x_i to unit j
    std::vector<float> b = {0.1f, -0.2f};
    std::vector<float> gamma = {1.5f, 0.5f}, beta = {0.2f, -0.1f}, mean = {0.3f, -0.4f}, var = {0.8f, 2.0f};
    double eps = 0.001;
    std::vector<float> W2 = {1.0f, -2.0f, 0.5f, 3.0f}; // (2,2)
    std::vector<float> b2 = {0.05f, -0.05f};
    std::string bn_axis = "-1";
    std::string d_activation = "linear";
    std::string relu_layer = R"({"class_name": "Activation", "config": {"name": "act", "activation": "relu"}})";

    std::string config() const {
        return R"({"class_name": "Sequential", "config": {"name": "sequential", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "input_1"}},
            {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": ")" +
               d_activation + R"(", "use_bias": true}},
            {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": )" +
               bn_axis + R"(, "epsilon": 0.001, "center": true, "scale": true}},
            )" + relu_layer + R"(,
            {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax", "use_bias": true}}]}})";
    }
    LayerWeights weights() const {
        return {{"d", {{"kernel", {3, 2}, W}, {"bias", {2}, b}}},
                {"bn", {{"gamma", {2}, gamma}, {"beta", {2}, beta}, {"moving_mean", {2}, mean}, {"moving_variance", {2}, var}}},
                {"act", {}},
                {"out", {{"kernel", {2, 2}, W2}, {"bias", {2}, b2}}}};
    }
    void write(const std::string& path) const { write_keras_h5(path, config(), weights()); }

    // Keras' own order: Dense, then BatchNormalization, then ReLU, then the output Dense (logits).
    std::vector<double> expected(const std::vector<float>& x) const {
        std::vector<double> h(2);
        for (int j = 0; j < 2; ++j) {
            double z = b[j];
            for (int i = 0; i < 3; ++i) z += double(W[i * 2 + j]) * x[i];
            const double y = gamma[j] * (z - mean[j]) / std::sqrt(double(var[j]) + eps) + beta[j];
            h[j] = std::max(y, 0.0);
        }
        std::vector<double> o(2);
        for (int j = 0; j < 2; ++j) o[j] = b2[j] + h[0] * W2[0 * 2 + j] + h[1] * W2[1 * 2 + j];
        return o;
    }
};

struct Reference {
    std::vector<float> x, y;
    std::vector<std::uint64_t> x_dims, y_dims;
};

Reference read_reference(const fs::path& path) {
    Reference r;
    h5::Node f = h5::open_file(path.string());
    r.x = h5::read_floats(f, "x", &r.x_dims);
    r.y = h5::read_floats(f, "y_dnn", &r.y_dims);
    return r;
}

// The imported network's DNN output must equal the numpy reference's logits.
void check_against_reference(const std::string& name, const std::vector<std::uint64_t>& want_x_dims) {
    const Network net = import_keras((fixtures / (name + ".h5")).string());
    const Reference ref = read_reference(fixtures / (name + ".ref.h5"));
    REQUIRE(ref.x_dims == want_x_dims);
    REQUIRE(ref.y_dims == std::vector<std::uint64_t>{8, 3});
    const Shape in = net.input().shape;
    REQUIRE(in == Shape{int(want_x_dims[1]), int(want_x_dims[2]), int(want_x_dims[3])});
    REQUIRE(net.output().shape.size() == 3);
    for (std::size_t s = 0; s < 8; ++s) {
        INFO(name << " sample " << s);
        const auto act = forward(net, ref.x.data() + s * std::size_t(in.size()));
        const std::vector<float>& out = act.back();
        const std::vector<float> want(ref.y.begin() + std::ptrdiff_t(s * 3), ref.y.begin() + std::ptrdiff_t(s * 3 + 3));
        for (std::size_t j = 0; j < 3; ++j) {
            INFO("output " << j);
            CHECK(out[j] == Approx(want[j]).epsilon(1e-4).margin(1e-6));
        }
        CHECK(argmax(out) == argmax(want));
    }
}

double mnist_accuracy(const Network& net, const Dataset& data) {
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < data.size(); ++i)
        correct += argmax(forward(net, data.sample(i)).back()) == data.y[std::size_t(i)];
    return double(correct) / double(data.size());
}

bool have_keras_real() {
    if (fs::exists(keras_real / "mnist_cnn_model.h5")) return true;
    WARN("skipped: " << keras_real.string() << " is absent (the real Keras models live in shared/ beside the repo)");
    return false;
}

} // namespace

TEST_CASE("the Keras 2 functional fixture (Add, BatchNorm, average pooling, Flatten) matches the numpy reference",
          "[convert]") {
    check_against_reference("tiny_keras2_functional_add", {8, 6, 6, 2});
    const Network net = import_keras((fixtures / "tiny_keras2_functional_add.h5").string());
    // BatchNorm folded into c2, which feeds the Add through no population of its own.
    CHECK(net.find("bn") < 0);
    CHECK(net.find("c2") < 0);
    const int add = net.find("add");
    REQUIRE(add >= 0);
    CHECK(net.populations[std::size_t(add)].projections.size() == 2);
}

TEST_CASE("of several outputs the one with the most weight layers is the network's, wherever the file lists it",
          "[convert][exits]") {
    // mnist_cnn_joint_exit lists its head (exit1_flatten → exit1 on pool1) after the main output
    // dense, and the head's chain is the shorter in layers (input_1 → conv1 → pool1 → exit1_flatten →
    // exit1: 4, against 6 to dense), but the weight layers decide: dense depends on conv1, conv2,
    // dense (3), exit1 on conv1, exit1 (2).
    const std::string path = std::string(SNN_SOURCE_DIR) + "/data/models/mnist_cnn_joint_exit.h5";
    const Network net = import_keras(path);
    CHECK(net.output().name == "dense");
    CHECK(net.output().shape.size() == 10);
    REQUIRE(net.exits.size() == 1);
    CHECK(net.exits[0].name == "exit1");
    CHECK(net.exits[0].at == "pool1");
    CHECK(net.exits[0].weights.size() == 12 * 12 * 16 * 10);
}

TEST_CASE("exit heads of a multi-output model become exits whose logits match the numpy reference", "[convert][exits]") {
    // tiny_keras2_branchy: the output d, an exit e1 = GlobalAveragePooling2D → Dense
    // on c1, an exit e2_sm = Flatten → Dropout → Dense → Softmax on the pooling ap.
    const std::string path = (fixtures / "tiny_keras2_branchy.h5").string();
    check_against_reference("tiny_keras2_branchy", {8, 6, 6, 1});
    const Network net = import_keras(path);
    REQUIRE(net.exits.size() == 2);
    CHECK(net.exits[0].name == "e1");
    CHECK(net.exits[0].at == "c1");
    CHECK(net.exits[1].name == "e2_sm");
    CHECK(net.exits[1].at == "ap");
    h5::Node f = h5::open_file((fixtures / "tiny_keras2_branchy.ref.h5").string());
    const std::vector<float> x = h5::read_floats(f, "x");
    const std::vector<float> want[2] = {h5::read_floats(f, "y_e1"), h5::read_floats(f, "y_e2")};
    // Normalized on the same inputs, the classifier reads rates a/λ with rows
    // scaled by λ: the logits must not move.
    Dataset calib;
    calib.name = "ref";
    calib.shape = net.input().shape;
    calib.x = x;
    calib.y.assign(8, 0);
    ConvertOptions opt;
    opt.channel_wise = true;
    ConvertLog log;
    const Network normalized = convert_model(path, &calib, opt, log);
    REQUIRE(normalized.exits.size() == 2);
    for (const Network* n : {&net, &normalized})
        for (std::size_t s = 0; s < 8; ++s) {
            const auto act = forward(*n, x.data() + s * 36);
            for (std::size_t e = 0; e < 2; ++e) {
                const Exit& ex = n->exits[e];
                const auto& a = act[std::size_t(n->find(ex.at))];
                for (std::size_t c = 0; c < 3; ++c) {
                    double z = ex.bias[c];
                    for (std::size_t j = 0; j < a.size(); ++j) z += double(a[j]) * ex.weights[j * 3 + c];
                    INFO((n == &net ? "imported" : "normalized") << ", sample " << s << ", exit " << ex.name << ", class " << c);
                    CHECK(z == Approx(want[e][s * 3 + c]).epsilon(1e-4).margin(1e-5));
                }
            }
        }
    CHECK(normalized.exits[0].weights != net.exits[0].weights); // λ ≠ 1: the rows did move

    // A head that is not a linear classifier is refused by name.
    TempDir dir("branchy");
    const std::string bad = dir.file("bad.h5");
    fs::copy_file(path, bad);
    {
        h5::Node g = h5::open_file(bad);
        std::string cfg = h5::read_string_attr(g, "model_config");
        g = h5::Node{};
        const std::string from = "\"name\": \"e1\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 3, \"activation\": \"softmax\"";
        const auto at = cfg.find(from);
        REQUIRE(at != std::string::npos);
        cfg.replace(at, from.size(), "\"name\": \"e1\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 3, \"activation\": \"relu\"");
        const hid_t fid = H5Fopen(bad.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(fid >= 0);
        h5::Node rw{h5::Handle(fid, H5Fclose), bad, "/"};
        H5Adelete(fid, "model_config");
        h5::write_attr(rw, "model_config", cfg);
    }
    CHECK_THROWS_WITH(import_keras(bad), Contains(bad) && Contains("'e1' (Dense)") && Contains("linear or softmax, not relu"));
}

TEST_CASE("the Keras 3 sequential fixture matches the numpy reference", "[convert]") {
    check_against_reference("tiny_keras3_sequential", {8, 4, 4, 1});
}

TEST_CASE("a folded BatchNormalization equals BatchNormalization applied after the layer", "[convert]") {
    TempDir dir("keras");
    DenseBnModel m;
    SECTION("axis -1") {}
    SECTION("axis [1], as Keras 2 writes it after a Dense") { m.bn_axis = "[1]"; }
    SECTION("ReLU layer instead of Activation") {
        m.relu_layer = R"({"class_name": "ReLU", "config": {"name": "act", "max_value": null, "negative_slope": 0.0, "threshold": 0.0}})";
    }
    const std::string path = dir.file("dense_bn.h5");
    m.write(path);
    const Network net = import_keras(path);

    REQUIRE(net.populations.size() == 3);
    CHECK(net.populations[0].name == "input_1");
    CHECK(net.populations[1].name == "d");
    CHECK(net.populations[1].layers == std::vector<std::string>{"d", "bn"});
    CHECK(net.populations[2].name == "out");
    CHECK(net.find("bn") < 0);

    const std::vector<std::vector<float>> inputs = {
        {0.0f, 0.0f, 0.0f}, {1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 1.0f},
        {0.3f, 0.7f, 0.2f}, {1.0f, 1.0f, 1.0f}, {0.9f, 0.1f, 0.5f}, {-1.0f, 2.0f, -0.5f}};
    for (const auto& x : inputs) {
        INFO("x = (" << x[0] << ", " << x[1] << ", " << x[2] << ")");
        const std::vector<double> want = m.expected(x);
        const auto act = forward(net, x.data());
        REQUIRE(act.back().size() == 2);
        for (std::size_t j = 0; j < 2; ++j) CHECK(act.back()[j] == Approx(want[j]).epsilon(1e-5).margin(1e-6));
    }
}

TEST_CASE("the real Keras files import", "[convert]") {
    if (!have_keras_real()) return;
    for (const char* name : {"mnist_cnn_model.h5", "mnist_dnn_model.h5", "cifar10_resnet8_pretrainedResnet.h5",
                             "svhn_grayscale_mlp.h5"}) {
        INFO(name);
        CHECK_NOTHROW(import_keras((keras_real / name).string()));
    }

    const Network cnn = import_keras((keras_real / "mnist_cnn_model.h5").string());
    REQUIRE(cnn.populations.size() == 3);
    CHECK(cnn.input().shape == Shape{28, 28, 1});
    CHECK(cnn.populations[1].name == "conv2d");
    CHECK(cnn.populations[1].shape == Shape{26, 26, 16});
    CHECK(cnn.populations[2].name == "dense");
    CHECK(cnn.output().shape == Shape{1, 1, 10});

    const Network svhn = import_keras((keras_real / "svhn_grayscale_mlp.h5").string());
    CHECK(svhn.input().shape == Shape{1, 1, 1024});
    CHECK(svhn.output().shape == Shape{1, 1, 10});

    const Network resnet = import_keras((keras_real / "cifar10_resnet8_pretrainedResnet.h5").string());
    CHECK(resnet.input().shape == Shape{32, 32, 3});
    // input, conv2d, conv2d_1, add, conv2d_3, add_1, conv2d_6, add_2, dense: the 8x8
    // average pooling before the Dense is folded into the Dense's kernel.
    CHECK(resnet.populations.size() == 9);
    CHECK(resnet.find("average_pooling2d") == -1);
    CHECK(resnet.output().projections.size() == 1);
    CHECK(resnet.output().projections[0].source == resnet.find("add_2"));
    CHECK(resnet.output().layers == std::vector<std::string>{"average_pooling2d", "flatten", "dense"});
    CHECK(resnet.output().shape == Shape{1, 1, 10});
    bool folded_bn = false;
    for (const auto& pop : resnet.populations) {
        INFO(pop.name);
        CHECK(pop.name.rfind("batch_normalization", 0) == std::string::npos);
        for (const auto& l : pop.layers) folded_bn = folded_bn || l.rfind("batch_normalization", 0) == 0;
    }
    CHECK(folded_bn);
    for (const char* add : {"add", "add_1", "add_2"}) {
        INFO(add);
        const int i = resnet.find(add);
        REQUIRE(i >= 0);
        const Population& pop = resnet.populations[std::size_t(i)];
        REQUIRE(pop.projections.size() == 2);
        CHECK(pop.projections[0].source != pop.projections[1].source);
        for (const auto& p : pop.projections) {
            CHECK(p.source < i);
            CHECK((p.kind == ProjectionKind::Identity || p.kind == ProjectionKind::Conv2D));
        }
    }
}

TEST_CASE("the real MNIST models reach their own accuracy in the DNN forward pass", "[convert]") {
    if (!have_keras_real()) return;
    const Dataset test = load_dataset("mnist:test", 1000);
    REQUIRE(test.size() == 1000);
    for (const char* name : {"mnist_cnn_model.h5", "mnist_dnn_model.h5"}) {
        INFO(name);
        const Network net = import_keras((keras_real / name).string());
        REQUIRE(net.input().shape.size() == test.shape.size());
        CHECK(mnist_accuracy(net, test) >= 0.95);
    }
}

TEST_CASE("ReLU(max_value) and relu6 are capped in the DNN pass as Keras computes them", "[convert][keras]") {
    const TempDir dir("keras-bounded");
    for (const double cap : {0.3, 6.0}) {
        DenseBnModel m;
        INFO("max_value " << cap);
        if (cap == 6.0) {
            m.relu_layer = R"({"class_name": "Activation", "config": {"name": "act", "activation": "relu6"}})";
        } else {
            m.relu_layer = R"({"class_name": "ReLU", "config": {"name": "act", "max_value": 0.3, "negative_slope": 0.0, "threshold": 0.0}})";
        }
        // Large inputs so that the cap of 6 is reached too.
        const float big = cap == 6.0 ? 8.0f : 1.0f;
        const std::string path = dir.file("bounded.h5");
        m.write(path);
        const Network net = import_keras(path);
        REQUIRE(net.populations.size() == 3);
        CHECK(net.populations[1].clip == std::vector<float>(2, float(cap)));
        bool clipped = false;
        for (const std::vector<float>& x0 : {std::vector<float>{0.2f, 0.9f, 0.4f}, std::vector<float>{1.0f, 0.1f, 0.7f},
                                              std::vector<float>{0.6f, 0.6f, 0.0f}}) {
            std::vector<float> x = x0;
            for (float& v : x) v *= big;
            // Keras: h = min(max(BN(Dense(x)), 0), cap), then the output Dense.
            std::vector<double> h(2);
            for (int j = 0; j < 2; ++j) {
                double z = m.b[j];
                for (int i = 0; i < 3; ++i) z += double(m.W[i * 2 + j]) * x[i];
                const double y = m.gamma[j] * (z - m.mean[j]) / std::sqrt(double(m.var[j]) + m.eps) + m.beta[j];
                clipped = clipped || y > cap;
                h[j] = std::min(std::max(y, 0.0), cap);
            }
            const auto act = forward(net, x.data());
            for (int j = 0; j < 2; ++j) {
                CHECK(act[1][std::size_t(j)] == Approx(h[std::size_t(j)]).epsilon(1e-5).margin(1e-6));
                const double o = m.b2[j] + h[0] * m.W2[0 * 2 + j] + h[1] * m.W2[1 * 2 + j];
                CHECK(act[2][std::size_t(j)] == Approx(o).epsilon(1e-5).margin(1e-6));
            }
        }
        CHECK(clipped); // the cases reach the cap
    }
}

TEST_CASE("the importer refuses bad input with an snn::Error that says what is wrong", "[convert]") {
    TempDir dir("keras");

    SECTION("a missing file") {
        const std::string path = dir.file("no_such_model.h5");
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path));
    }
    SECTION("a text file") {
        const std::string path = dir.file("model.h5");
        std::ofstream(path) << "this is not an HDF5 file\n";
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path) && Contains("not an HDF5 file"));
    }
    SECTION("an HDF5 file without model_config") {
        const std::string path = dir.file("data.h5");
        {
            h5::Node f = h5::create_file(path);
            h5::write_floats(f, "x", {1.0f, 2.0f}, {2});
        }
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path) && Contains("not a Keras model"));
    }
    SECTION("an unsupported layer (LeakyReLU)") {
        const std::string path = (fixtures / "tiny_unsupported.h5").string();
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'leaky'") && Contains("LeakyReLU"));
    }
    SECTION("a Dense kernel whose shape disagrees with its config") {
        DenseBnModel m;
        LayerWeights w = m.weights();
        w[0].second[0] = {"kernel", {3, 3}, std::vector<float>(9, 0.1f)};
        const std::string path = dir.file("bad_kernel.h5");
        write_keras_h5(path, m.config(), w);
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'d'") && Contains("kernel shape") && Contains("(3,3)"));
    }
    SECTION("NaN in a weight") {
        DenseBnModel m;
        m.W2[3] = std::numeric_limits<float>::quiet_NaN();
        const std::string path = dir.file("nan.h5");
        m.write(path);
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'out'") && Contains("NaN"));
    }
    SECTION("a leaky, thresholded ReLU: one line naming every parameter that cannot be converted") {
        DenseBnModel m;
        m.relu_layer = R"({"class_name": "ReLU", "config": {"name": "lr", "max_value": 6.0, "negative_slope": 0.25, "threshold": 0.5}})";
        LayerWeights w = m.weights();
        w[2].first = "lr";
        const std::string path = dir.file("leaky_thresh.h5");
        write_keras_h5(path, m.config(), w);
        REQUIRE_THROWS_AS(import_keras(path), ModelError);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'lr'") && Contains("negative_slope=0.25") &&
                                                    Contains("threshold=0.5") && !Contains("max_value") &&
                                                    !Contains("\n"));
    }
    SECTION("a Lambda layer, by name") {
        DenseBnModel m;
        m.relu_layer = R"({"class_name": "Lambda", "config": {"name": "poly", "function": ["4wEAAAAA", null, null]}})";
        LayerWeights w = m.weights();
        w[2].first = "poly";
        const std::string path = dir.file("lambda.h5");
        write_keras_h5(path, m.config(), w);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'poly'") && Contains("Lambda"));
    }
    SECTION("a softmax in the middle of the model") {
        DenseBnModel m;
        m.d_activation = "softmax";
        const std::string path = dir.file("mid_softmax.h5");
        m.write(path);
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'d'") && Contains("softmax"));
    }
    SECTION("two layers with the same name") {
        DenseBnModel m;
        m.relu_layer = R"({"class_name": "Activation", "config": {"name": "d", "activation": "relu"}})";
        const std::string path = dir.file("duplicate.h5");
        m.write(path);
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("'d'") && Contains("unique"));
    }
    SECTION("invalid JSON in model_config") {
        const std::string path = dir.file("bad_json.h5");
        write_keras_h5(path, R"({"class_name": "Sequential", "config": {"layers": [)", {});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path) && Contains("model_config is not valid JSON"));
    }
}

// ------------------------------------------------------------------ Larq

namespace {

// input (4) → QuantDense q 3 (no bias) → BatchNormalization bn → relu → Dense out 2 softmax,
// written as Larq writes it: the latent float kernel, the quantizer in the config.
struct LarqModel {
    std::vector<float> W = {0.3f, -0.2f, 0.0f, -0.7f, 0.1f, 0.9f, 0.5f, -0.4f, -0.6f, 0.2f, 0.8f, -0.1f}; // (4,3)
    std::vector<float> gamma = {1.5f, -0.5f, 2.0f}, beta = {0.2f, -0.1f, 0.05f}, mean = {0.3f, -0.4f, 0.1f},
                       var = {0.8f, 2.0f, 0.5f};
    std::vector<float> W2 = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f, 0.25f}; // (3,2)
    std::vector<float> b2 = {0.05f, -0.05f};
    std::string kernel_quantizer = R"({"class_name": "SteSign", "config": {"clip_value": 1.0}})";
    std::string input_quantizer = "null";

    std::string config() const {
        return R"({"class_name": "Sequential", "config": {"name": "sequential", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "input_1"}},
            {"class_name": "QuantDense", "config": {"name": "q", "units": 3, "activation": "linear", "use_bias": false,
               "input_quantizer": )" + input_quantizer + R"(, "kernel_quantizer": )" + kernel_quantizer + R"(,
               "kernel_constraint": {"class_name": "WeightClip", "config": {"clip_value": 1}}, "metrics": []}},
            {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "epsilon": 0.001, "center": true, "scale": true}},
            {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax", "use_bias": true}}]}})";
    }
    void write(const std::string& path) const {
        write_keras_h5(path, config(),
                       {{"q", {{"kernel", {4, 3}, W}}},
                        {"bn", {{"gamma", {3}, gamma}, {"beta", {3}, beta}, {"moving_mean", {3}, mean}, {"moving_variance", {3}, var}}},
                        {"act", {}},
                        {"out", {{"kernel", {3, 2}, W2}, {"bias", {2}, b2}}}});
    }
    // BN(sign(W)ᵀx·scale) by hand, with Larq's sign(0) = +1 and `scale` 1 (ste_sign)
    // or mean |w| of the output's column (magnitude_aware_sign).
    double s(int j) const { return gamma[j] / std::sqrt(double(var[j]) + 0.001); }
    double column_scale(int j, bool magnitude) const {
        if (!magnitude) return 1.0;
        double m = 0;
        for (int i = 0; i < 4; ++i) m += std::fabs(W[i * 3 + j]);
        return m / 4;
    }
};

} // namespace

TEST_CASE("a Larq QuantDense imports as a binary layer with BatchNorm folded into alpha and bias", "[convert][binary]") {
    TempDir dir("larq");
    for (bool magnitude : {false, true}) {
        LarqModel m;
        if (magnitude) m.kernel_quantizer = R"("magnitude_aware_sign")";
        const std::string path = dir.file("larq.h5");
        m.write(path);
        const Network net = import_keras(path);
        const Projection& p = net.populations[1].projections[0];
        REQUIRE(p.binary);
        for (int j = 0; j < 3; ++j) {
            INFO("output " << j << (magnitude ? ", magnitude-aware" : ", ste_sign"));
            // α = |s_j|·scale; a negative γ flips the output's signs.
            CHECK(p.bin.alpha[std::size_t(j)] == Approx(std::fabs(m.s(j)) * m.column_scale(j, magnitude)).epsilon(1e-6));
            for (int i = 0; i < 4; ++i) {
                const double sign = m.W[std::size_t(i * 3 + j)] >= 0 ? 1.0 : -1.0;
                CHECK(p.weights[std::size_t(i * 3 + j)] ==
                      Approx(sign * m.s(j) * m.column_scale(j, magnitude)).epsilon(1e-6));
            }
            CHECK(net.populations[1].bias[std::size_t(j)] == Approx(m.beta[j] - m.s(j) * m.mean[j]).epsilon(1e-6));
        }
        CHECK_FALSE(net.populations[2].projections[0].binary);
        // The DNN pass of the imported network equals Larq's inference by hand.
        const std::vector<float> x = {0.5f, 1.0f, 0.0f, 0.25f};
        const auto acts = forward(net, x.data());
        for (int k = 0; k < 2; ++k) {
            double o = m.b2[std::size_t(k)];
            for (int j = 0; j < 3; ++j) {
                double z = 0;
                for (int i = 0; i < 4; ++i)
                    z += (m.W[std::size_t(i * 3 + j)] >= 0 ? 1.0 : -1.0) * m.column_scale(j, magnitude) * x[std::size_t(i)];
                const double h = std::max(0.0, m.gamma[std::size_t(j)] * (z - m.mean[std::size_t(j)]) /
                                                    std::sqrt(double(m.var[std::size_t(j)]) + 0.001) + m.beta[std::size_t(j)]);
                o += h * m.W2[std::size_t(j * 2 + k)];
            }
            CHECK(acts.back()[std::size_t(k)] == Approx(o).epsilon(1e-5));
        }
    }
}

TEST_CASE("Larq layers that are not binary-weight layers with real inputs are refused by name", "[convert][binary]") {
    TempDir dir("larq-bad");
    const std::string path = dir.file("larq.h5");
    LarqModel m;
    m.input_quantizer = R"({"class_name": "SteSign", "config": {"clip_value": 1.0}})";
    m.write(path);
    CHECK_THROWS_WITH(import_keras(path), Contains(path) && Contains("'q'") && Contains("input_quantizer 'SteSign'"));
    LarqModel t;
    t.kernel_quantizer = R"("ste_tern")";
    t.write(path);
    CHECK_THROWS_WITH(import_keras(path), Contains("'q'") && Contains("kernel_quantizer 'ste_tern' is not supported"));
    // A QuantConv2D that pads with 1 (Larq's pad_values) under 'same' padding.
    const std::string conv_path = dir.file("larq_conv.h5");
    write_keras_h5(conv_path, R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4, 1], "name": "input_1"}},
            {"class_name": "QuantConv2D", "config": {"name": "qc", "filters": 2, "kernel_size": [3, 3], "strides": [1, 1],
               "padding": "same", "use_bias": false, "activation": "relu", "pad_values": 1.0, "input_quantizer": null,
               "kernel_quantizer": "ste_sign"}},
            {"class_name": "Flatten", "config": {"name": "f"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax", "use_bias": true}}]}})",
                   {{"qc", {{"kernel", {3, 3, 1, 2}, std::vector<float>(18, 0.5f)}}},
                    {"f", {}},
                    {"out", {{"kernel", {32, 2}, std::vector<float>(64, 0.1f)}, {"bias", {2}, {0.0f, 0.0f}}}}});
    CHECK_THROWS_WITH(import_keras(conv_path), Contains("'qc'") && Contains("pad_values"));
    LarqModel f;
    f.kernel_quantizer = "null"; // a QuantDense without a kernel quantizer is a float Dense
    f.write(path);
    CHECK_FALSE(import_keras(path).populations[1].projections[0].binary);
}

TEST_CASE("convert --binarize makes the named layers binary and refuses unknown names", "[convert][binary]") {
    ConvertLog log;
    ConvertOptions opt;
    opt.binarize = {"conv2"};
    const std::string model = (source_dir / "data" / "models" / "mnist_cnn.h5").string();
    const Network net = convert_model(model, nullptr, opt, log);
    int binary = 0;
    for (const auto& pop : net.populations)
        for (const auto& p : pop.projections) {
            binary += p.binary;
            if (p.binary) CHECK(p.layer == "conv2");
        }
    CHECK(binary == 1);
    opt.binarize = {"conv9"};
    CHECK_THROWS_WITH(convert_model(model, nullptr, opt, log), Contains("binarize conv9") && Contains("conv1"));
}
