// Regression tests for what fuzzing the Keras importer found (docs/reliability.md):
// configs that used to reach undefined behaviour (a missing key read through
// const operator[], a float or zero where an integer size belongs, a double
// beyond float's range narrowed to float) are now refused with an snn::Error
// naming the file and the layer.
#include "convert/keras.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

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
