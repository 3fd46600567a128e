// Regression tests for what fuzzing the Keras importer found (docs/reliability.md):
// configs that used to reach undefined behaviour (a missing key read through
// const operator[], a float or zero where an integer size belongs, a double
// beyond float's range narrowed to float) are now refused with an snn::Error
// naming the file and the layer.
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

struct Weight {
    std::string layer, name;
    std::vector<std::uint64_t> dims;
    std::vector<float> values;
};

// A Keras 2 layout: model_config on the root, weights under model_weights/<layer>/<layer>/<name>:0.
void write_model(const std::string& path, const std::string& config, const std::vector<Weight>& weights) {
    h5::Node f = h5::create_file(path);
    h5::write_attr(f, "model_config", config);
    h5::Node mw = h5::create_group(f, "model_weights");
    std::vector<std::string> layers;
    for (const auto& w : weights)
        if (layers.empty() || layers.back() != w.layer) layers.push_back(w.layer);
    h5::write_attr(mw, "layer_names", layers);
    for (const auto& layer : layers) {
        h5::Node g = h5::create_group(mw, layer);
        h5::Node inner = h5::create_group(g, layer);
        std::vector<std::string> names;
        for (const auto& w : weights)
            if (w.layer == layer) {
                names.push_back(layer + "/" + w.name + ":0");
                h5::write_floats(inner, w.name + ":0", w.values, w.dims);
            }
        h5::write_attr(g, "weight_names", names);
    }
}

std::string sequential(const std::string& layers) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 1]}}, )" +
           layers + "]}}";
}

const std::string flatten_dense = R"({"class_name": "Flatten", "config": {"name": "f"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 2}})";

// A Keras 2 Functional model: each layer "class:name:config-json-object-body:input,input".
std::string functional(const std::vector<std::array<std::string, 4>>& layers, const std::string& output) {
    std::string out = R"({"class_name": "Functional", "config": {"name": "m", "output_layers": [[")" + output +
                      R"(", 0, 0]], "layers": [)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& [cls, name, cfg, inputs] = layers[i];
        std::string inbound;
        std::size_t start = 0;
        while (start < inputs.size()) {
            const std::size_t end = std::min(inputs.find(',', start), inputs.size());
            inbound += std::string(inbound.empty() ? "" : ", ") + "[\"" + inputs.substr(start, end - start) + "\", 0, 0, {}]";
            start = end + 1;
        }
        out += std::string(i ? ", " : "") + R"({"class_name": ")" + cls + R"(", "name": ")" + name +
               R"(", "config": {"name": ")" + name + "\"" + (cfg.empty() ? "" : ", " + cfg) + "}, " +
               R"("inbound_nodes": )" + (inbound.empty() ? "[]" : "[[" + inbound + "]]") + "}";
    }
    return out + "]}}";
}

} // namespace

TEST_CASE("Keras configs that once reached undefined behaviour are refused by name", "[convert][fuzz]") {
    TempDir dir("keras-hardening");
    const std::string path = dir.file("model.h5");

    SECTION("a model_config without 'config' (was a read through a missing key: heap use after free)") {
        write_model(path, R"({"class_name": "Sequential", "confi:g": {"layers": []}})", {});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path) && Contains("not a Keras model description"));
    }
    SECTION("an inbound tensor whose keras_history is empty (was a read past the end of an array)") {
        write_model(path, R"({"class_name": "Functional", "config": {"output_layers": [["out", 0, 0]], "layers": [
            {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, 3]}, "inbound_nodes": []},
            {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": []}}]}]}]}})",
                    {{"out", "kernel", {3, 2}, std::vector<float>(6, 0.5f)}, {"out", "bias", {2}, {0, 0}}});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains(path));
    }
    SECTION("max pooling with strides 0 (was a division by zero)") {
        write_model(path,
                    sequential(R"({"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2], "strides": [0, 0]}}, )" +
                               flatten_dense),
                    {{"out", "kernel", {4, 2}, std::vector<float>(8, 0.5f)}, {"out", "bias", {2}, {0, 0}}});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path),
                            Contains("layer 'pool' (MaxPooling2D): 'strides' is 0, expected an integer >= 1"));
    }
    SECTION("a float where the number of units belongs (was a float-to-int conversion out of range)") {
        write_model(path, sequential(R"({"class_name": "Flatten", "config": {"name": "f"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1e30}})"),
                    {{"out", "kernel", {16, 2}, std::vector<float>(32, 0.5f)}, {"out", "bias", {2}, {0, 0}}});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("layer 'out' (Dense): 'units' is 1e+30, expected an integer >= 1"));
    }
    SECTION("a negative input dimension") {
        write_model(path, R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, -4]}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}})",
                    {{"out", "kernel", {4, 2}, std::vector<float>(8, 0.5f)}, {"out", "bias", {2}, {0, 0}}});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("layer 'in' (InputLayer): 'input shape' is -4"));
    }
    SECTION("a BatchNormalization whose scale overflows float (was a double narrowed beyond float's range)") {
        // s = γ/√(σ² + ε) = 1/√(1e-300) = 1e150: the folded kernel is 0.5·1e150, not a float.
        write_model(path, sequential(R"({"class_name": "Flatten", "config": {"name": "f"}},
            {"class_name": "Dense", "config": {"name": "d", "units": 2}},
            {"class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": 1e-300}},
            {"class_name": "Activation", "config": {"name": "r", "activation": "relu"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2}})"),
                    {{"d", "kernel", {16, 2}, std::vector<float>(32, 0.5f)},
                     {"d", "bias", {2}, {0, 0}},
                     {"bn", "gamma", {2}, {1, 1}},
                     {"bn", "beta", {2}, {0, 0}},
                     {"bn", "moving_mean", {2}, {0, 0}},
                     {"bn", "moving_variance", {2}, {0, 0}},
                     {"out", "kernel", {2, 2}, std::vector<float>(4, 0.5f)},
                     {"out", "bias", {2}, {0, 0}}});
        REQUIRE_THROWS_AS(import_keras(path), Error);
        REQUIRE_THROWS_WITH(import_keras(path), Contains("not finite"));
    }
}

TEST_CASE("ZeroPadding2D: only a convolution may read the zeros; its padding spec is checked", "[convert][keras]") {
    const TempDir dir("zeropad");
    const std::vector<Weight> dense{{"out", "kernel", {9, 2}, std::vector<float>(18, 0.1f)}, {"out", "bias", {2}, {0.0f, 0.0f}}};
    const auto refused = [&](const std::string& layers, const std::string& what) {
        const std::string path = dir.file("m.h5");
        write_model(path, sequential(layers), dense);
        std::vector<std::string> notes;
        CHECK_THROWS_WITH(import_keras(path, notes), Catch::Contains(what));
    };
    refused(R"({"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": 1}},
               {"class_name": "MaxPooling2D", "config": {"name": "mp", "pool_size": [2, 2], "strides": [2, 2]}}, )" +
                flatten_dense,
            "layer 'mp' (MaxPooling2D): reads the zero padding of 'zp'");
    refused(R"({"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [1, 2, 3]}}, )" + flatten_dense,
            "layer 'zp' (ZeroPadding2D): padding [1,2,3]");
    refused(R"({"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [[1, -1], [0, 0]]}}, )" + flatten_dense,
            "expected non-negative integers");
}

TEST_CASE("Concatenate of flat tensors feeds a Dense: worked by hand", "[convert][keras]") {
    // x = (1, 2); a = relu(x·(1, 1)ᵀ) = 3; b = relu(x·I) = (1, 2); [a, b] = (3, 1, 2);
    // out = 1·3 + 10·1 + 100·2 = 213.
    const TempDir dir("concat-flat");
    const std::string path = dir.file("m.h5");
    write_model(path,
                functional({{"InputLayer", "in", R"("batch_input_shape": [null, 2])", ""},
                            {"Dense", "a", R"("units": 1, "activation": "relu")", "in"},
                            {"Dense", "b", R"("units": 2, "activation": "relu")", "in"},
                            {"Concatenate", "cat", R"("axis": 1)", "a,b"},
                            {"Dense", "out", R"("units": 1)", "cat"}},
                           "out"),
                {{"a", "kernel", {2, 1}, {1, 1}},
                 {"a", "bias", {1}, {0}},
                 {"b", "kernel", {2, 2}, {1, 0, 0, 1}},
                 {"b", "bias", {2}, {0, 0}},
                 {"out", "kernel", {3, 1}, {1, 10, 100}},
                 {"out", "bias", {1}, {0}}});
    const Network net = import_keras(path);
    REQUIRE(net.populations.size() == 4);
    REQUIRE(net.output().projections.size() == 2);
    const std::vector<float> x{1, 2};
    CHECK(forward(net, x.data()).back() == std::vector<float>{213});
}

TEST_CASE("UpSampling2D of the input feeds a Dense: worked by hand", "[convert][keras]") {
    // x (1,2,1) = (1, 2); UpSampling2D size (2, 2) gives rows (1, 1, 2, 2) and (1, 1, 2, 2);
    // flattened against the kernel 1..8: 1+2+6+8 + 5+6+14+16 = 58.
    const TempDir dir("upsample-hand");
    const std::string path = dir.file("m.h5");
    write_model(path,
                functional({{"InputLayer", "in", R"("batch_input_shape": [null, 1, 2, 1])", ""},
                            {"UpSampling2D", "up", R"("size": [2, 2], "interpolation": "nearest")", "in"},
                            {"Flatten", "f", "", "up"},
                            {"Dense", "out", R"("units": 1)", "f"}},
                           "out"),
                {{"out", "kernel", {8, 1}, {1, 2, 3, 4, 5, 6, 7, 8}}, {"out", "bias", {1}, {0}}});
    const Network net = import_keras(path);
    REQUIRE(net.populations.size() == 3);
    CHECK(net.populations[1].shape == Shape{2, 4, 1});
    const std::vector<float> x{1, 2};
    CHECK(forward(net, x.data()).back() == std::vector<float>{58});
}

TEST_CASE("UpSampling2D refuses what it cannot convert, naming the layer and the parameter", "[convert][keras]") {
    const TempDir dir("upsample-refused");
    const std::string path = dir.file("m.h5");
    const auto refused = [&](const std::string& layers, const std::vector<Weight>& weights, const std::string& what) {
        write_model(path, sequential(layers), weights);
        try {
            import_keras(path);
            FAIL("converted, expected a refusal");
        } catch (const ModelError& e) {
            const std::string msg = e.what();
            CHECK(msg.find('\n') == std::string::npos);
            CHECK_THAT(msg, Contains(what));
        }
    };
    const std::vector<Weight> dense{{"out", "kernel", {64, 2}, std::vector<float>(128, 0.1f)}, {"out", "bias", {2}, {0, 0}}};
    refused(R"({"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 2], "interpolation": "bilinear"}}, )" +
                flatten_dense,
            dense, "layer 'up' (UpSampling2D): interpolation \"bilinear\" cannot be converted");
    refused(R"({"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 0]}}, )" + flatten_dense, dense,
            "layer 'up' (UpSampling2D): 'size' is 0, expected an integer >= 1");
    refused(R"({"class_name": "Flatten", "config": {"name": "f0"}},
               {"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 2]}}, )" + flatten_dense,
            dense, "layer 'up' (UpSampling2D): input of shape (1,1,16) is not an image");
    // A convolution without a ReLU is linear: its upsampled copies would need negative spikes.
    refused(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 1, "kernel_size": [1, 1]}},
               {"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 2]}}, )" + flatten_dense,
            {{"c", "kernel", {1, 1, 1, 1}, {1}}, {"c", "bias", {1}, {0}}, dense[0], dense[1]},
            "layer 'up' (UpSampling2D): its input 'c' is linear");
}

TEST_CASE("A Concatenate of a Concatenate with itself, pooled over steps: worked by hand", "[convert][keras]") {
    // x = (1, 3) over 2 steps, 1 channel; k = relu(2·x) = (2, 6); cat = [k, x] = ((2, 1), (6, 3));
    // twice = [cat, cat] = ((2, 1, 2, 1), (6, 3, 6, 3)); g = the mean over steps = (4, 2, 4, 2);
    // out = 1·4 + 10·2 + 100·4 + 1000·2 = 2424. Each population concatenated twice is pooled once.
    const TempDir dir("concat-twice");
    const std::string path = dir.file("m.h5");
    write_model(path,
                functional({{"InputLayer", "in", R"("batch_input_shape": [null, 2, 1])", ""},
                            {"Conv1D", "k", R"("filters": 1, "kernel_size": [1], "activation": "relu")", "in"},
                            {"Concatenate", "cat", R"("axis": -1)", "k,in"},
                            {"Concatenate", "twice", R"("axis": 2)", "cat,cat"},
                            {"GlobalAveragePooling1D", "g", "", "twice"},
                            {"Dense", "out", R"("units": 1)", "g"}},
                           "out"),
                {{"k", "kernel", {1, 1, 1}, {2}},
                 {"k", "bias", {1}, {0}},
                 {"out", "kernel", {4, 1}, {1, 10, 100, 1000}},
                 {"out", "bias", {1}, {0}}});
    const Network net = import_keras(path);
    REQUIRE(net.populations.size() == 5); // in, k, g.k, g.in, out
    CHECK(net.input().shape == Shape{1, 2, 1});
    CHECK(net.populations[2].name == "g.k");
    CHECK(net.populations[3].name == "g.in");
    CHECK(net.output().projections.size() == 4);
    const std::vector<float> x{1, 3};
    CHECK(forward(net, x.data()).back() == std::vector<float>{2424});
}

TEST_CASE("ZeroPadding2D around a Concatenate becomes the padding of every part's projection: worked by hand",
          "[convert][keras]") {
    // x = 1 at one pixel; c1 = relu(2·x) = 2; cat = [c1, x] = (2, 1); padded by 1 to 3x3;
    // a 3x3 valid conv whose centre taps are (10, 100) and every other tap 1000 reads zeros
    // there: 10·2 + 100·1 = 120.
    const TempDir dir("concat-zeropad");
    const std::string path = dir.file("m.h5");
    std::vector<float> kernel(3 * 3 * 2, 1000.0f);
    kernel[(1 * 3 + 1) * 2 + 0] = 10.0f;
    kernel[(1 * 3 + 1) * 2 + 1] = 100.0f;
    write_model(path,
                functional({{"InputLayer", "in", R"("batch_input_shape": [null, 1, 1, 1])", ""},
                            {"Conv2D", "c1", R"("filters": 1, "kernel_size": [1, 1], "activation": "relu")", "in"},
                            {"Concatenate", "cat", R"("axis": 3)", "c1,in"},
                            {"ZeroPadding2D", "zp", R"("padding": 1)", "cat"},
                            {"Conv2D", "out", R"("filters": 1, "kernel_size": [3, 3])", "zp"}},
                           "out"),
                {{"c1", "kernel", {1, 1, 1, 1}, {2}},
                 {"c1", "bias", {1}, {0}},
                 {"out", "kernel", {3, 3, 2, 1}, kernel},
                 {"out", "bias", {1}, {0}}});
    const Network net = import_keras(path);
    REQUIRE(net.populations.size() == 3);
    REQUIRE(net.output().projections.size() == 2);
    for (const Projection& p : net.output().projections) CHECK((p.window.pad_top == 1 && p.window.pad_left == 1));
    const std::vector<float> x{1};
    CHECK(forward(net, x.data()).back() == std::vector<float>{120});
}

TEST_CASE("Concatenate, Conv1D and 1-D pooling refuse what they cannot convert, naming the layer", "[convert][keras]") {
    const TempDir dir("concat-refused");
    const std::string path = dir.file("m.h5");
    const std::vector<Weight> convs{{"c1", "kernel", {1, 1, 1, 2}, {1, 1}}, {"c1", "bias", {2}, {0, 0}},
                                    {"c2", "kernel", {1, 1, 1, 2}, {1, 1}}, {"c2", "bias", {2}, {0, 0}}};
    const std::string conv = R"("filters": 2, "kernel_size": [1, 1], "activation": "relu")";
    const auto refused = [&](std::vector<std::array<std::string, 4>> tail, const std::string& output, std::vector<Weight> extra,
                             const std::vector<std::string>& what) {
        std::vector<std::array<std::string, 4>> layers{{"InputLayer", "in", R"("batch_input_shape": [null, 4, 4, 1])", ""},
                                                       {"Conv2D", "c1", conv, "in"},
                                                       {"Conv2D", "c2", conv, "in"}};
        layers.insert(layers.end(), tail.begin(), tail.end());
        std::vector<Weight> weights = convs;
        weights.insert(weights.end(), extra.begin(), extra.end());
        write_model(path, functional(layers, output), weights);
        try {
            import_keras(path);
            FAIL("converted, expected a refusal");
        } catch (const ModelError& e) {
            const std::string msg = e.what();
            CHECK(msg.find('\n') == std::string::npos);
            for (const auto& w : what) CHECK_THAT(msg, Contains(w));
        }
    };
    SECTION("along a spatial axis") {
        refused({{"Concatenate", "cat", R"("axis": 1)", "c1,c2"}}, "cat", {},
                {"layer 'cat' (Concatenate)", "axis 1 is not the channel axis (3 or -1)", "height, width or steps"});
    }
    SECTION("read by a BatchNormalization") {
        refused({{"Concatenate", "cat", R"("axis": -1)", "c1,c2"}, {"BatchNormalization", "bn", "", "cat"}}, "bn",
                {{"bn", "gamma", {4}, {1, 1, 1, 1}}},
                {"layer 'bn' (BatchNormalization)", "reads the Concatenate 'cat'"});
    }
    SECTION("read by a DepthwiseConv2D") {
        refused({{"Concatenate", "cat", R"("axis": -1)", "c1,c2"},
                 {"DepthwiseConv2D", "dw", R"("kernel_size": [1, 1], "activation": "relu")", "cat"}},
                "dw", {{"dw", "depthwise_kernel", {1, 1, 4, 1}, {1, 1, 1, 1}}, {"dw", "bias", {4}, {0, 0, 0, 0}}},
                {"layer 'dw' (DepthwiseConv2D)", "a DepthwiseConv2D after a Concatenate is not supported"});
    }
    SECTION("as the output") {
        refused({{"Concatenate", "cat", R"("axis": -1)", "c1,c2"}}, "cat", {}, {"layer 'cat'", "reads the Concatenate 'cat'"});
    }
    SECTION("inputs of different sizes") {
        refused({{"MaxPooling2D", "mp", R"("pool_size": [2, 2])", "c2"}, {"Concatenate", "cat", R"("axis": -1)", "c1,mp"}},
                "cat", {}, {"layer 'cat' (Concatenate)", "different sizes (4,4,2) and (2,2,2)"});
    }
    SECTION("Conv1D on an image") {
        refused({{"Conv1D", "k", R"("filters": 2, "kernel_size": [1])", "c1"}}, "k", {},
                {"layer 'k' (Conv1D)", "input of shape (4,4,2) is not (steps, channels)"});
    }
    SECTION("Conv1D: dilation, groups and padding, all named in one line") {
        write_model(path,
                    functional({{"InputLayer", "in", R"("batch_input_shape": [null, 8, 2])", ""},
                                {"Conv1D", "k", R"("filters": 2, "kernel_size": [3], "dilation_rate": [2], "groups": 2, "padding": "full")", "in"}},
                               "k"),
                    {});
        CHECK_THROWS_WITH(import_keras(path), Contains("layer 'k' (Conv1D): cannot be converted: dilation_rate [2] (only 1), "
                                                       "groups 2 (only 1), padding 'full'"));
    }
    SECTION("1-D layers channels_first") {
        write_model(path,
                    functional({{"InputLayer", "in", R"("batch_input_shape": [null, 8, 2])", ""},
                                {"MaxPooling1D", "mp", R"("pool_size": [2], "data_format": "channels_first")", "in"}},
                               "mp"),
                    {});
        CHECK_THROWS_WITH(import_keras(path), Contains("layer 'mp' (MaxPooling1D): data_format \"channels_first\": 1-D layers"));
    }
}

TEST_CASE("snn convert refuses a Concatenate along a spatial axis: one line, exit 1, no file", "[convert][keras][cli]") {
    const TempDir dir("concat-cli");
    const std::string path = dir.file("m.h5"), out = dir.file("net.snn.h5");
    write_model(path,
                functional({{"InputLayer", "in", R"("batch_input_shape": [null, 4, 4, 1])", ""},
                            {"Concatenate", "cat", R"("axis": 2)", "in,in"},
                            {"Flatten", "f", "", "cat"},
                            {"Dense", "out", R"("units": 2)", "f"}},
                           "out"),
                {{"out", "kernel", {32, 2}, std::vector<float>(64, 0.1f)}, {"out", "bias", {2}, {0, 0}}});
    const Outcome c = snn_cli("convert " + quote(path) + " -o " + quote(out));
    CHECK(c.status == 1);
    CHECK_THAT(c.err, Contains("layer 'cat' (Concatenate): axis 2 is not the channel axis"));
    CHECK(std::count(c.err.begin(), c.err.end(), '\n') <= 1);
    CHECK_FALSE(std::filesystem::exists(out));
}
