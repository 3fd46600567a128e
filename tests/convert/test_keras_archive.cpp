// Keras 3 `.keras` archives (convert/keras_archive.cpp): the layer keys of
// model.weights.h5 against Keras's own to_snake_case (the answers are what
// Python's re gives for keras/src/utils/naming.py), and the shipped models and
// the Keras fixtures, written as .keras by tools/export_keras3.py (h5py and
// zipfile, not our reader), converting to exactly the network of their .h5.
#include "convert/keras.hpp"
#include "convert/keras_archive.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;

// `model` (a Keras .h5) written as DIR/<stem>.keras by tools/export_keras3.py.
std::string export_keras3(const fs::path& model, const TempDir& dir) {
    const std::string out = dir.file(model.stem().string() + ".keras");
    const Outcome o = run_captured("/usr/bin/python3 " + quote((source_dir / "tools" / "export_keras3.py").string()) +
                                       " " + quote(model.string()) + " " + quote(out),
                                   dir);
    INFO("export_keras3.py " << model << ": " << o.out << o.err);
    REQUIRE(o.status == 0);
    return out;
}

void check_same_projection(const Projection& a, const Projection& b) {
    CHECK(a.source == b.source);
    CHECK(a.kind == b.kind);
    CHECK(a.window.kh == b.window.kh);
    CHECK(a.window.kw == b.window.kw);
    CHECK(a.window.sh == b.window.sh);
    CHECK(a.window.sw == b.window.sw);
    CHECK(a.window.pad_top == b.window.pad_top);
    CHECK(a.window.pad_left == b.window.pad_left);
    CHECK(a.layer == b.layer);
    CHECK(a.binary == b.binary);
    CHECK(a.weights == b.weights); // bit for bit: the same float32 values, folded the same way
    CHECK(a.bin.alpha == b.bin.alpha);
}

// Everything the importer decides, compared exactly; only `source` (the file) differs.
void check_same_network(const Network& a, const Network& b) {
    CHECK(a.input_layout == b.input_layout);
    REQUIRE(a.populations.size() == b.populations.size());
    for (std::size_t i = 0; i < a.populations.size(); ++i) {
        const Population &p = a.populations[i], &q = b.populations[i];
        INFO("population " << i << " " << p.name);
        CHECK(p.name == q.name);
        CHECK(p.kind == q.kind);
        CHECK(p.shape == q.shape);
        CHECK(p.layers == q.layers);
        CHECK(p.bias == q.bias);
        CHECK(p.clip == q.clip);
        REQUIRE(p.projections.size() == q.projections.size());
        for (std::size_t k = 0; k < p.projections.size(); ++k) check_same_projection(p.projections[k], q.projections[k]);
    }
    REQUIRE(a.exits.size() == b.exits.size());
    for (std::size_t i = 0; i < a.exits.size(); ++i) {
        CHECK(a.exits[i].name == b.exits[i].name);
        CHECK(a.exits[i].at == b.exits[i].at);
        CHECK(a.exits[i].weights == b.exits[i].weights);
        CHECK(a.exits[i].bias == b.exits[i].bias);
    }
}

std::vector<std::string> attribute_names(const h5::Node& n) {
    std::vector<std::string> names;
    H5Aiterate2(
        n.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->emplace_back(name);
            return 0;
        },
        &names);
    return names;
}

// An attribute's values: its strings, or its numbers as doubles (exact for
// float32 and for the small integers a network file holds).
std::vector<std::string> attribute_values(const h5::Node& n, const std::string& name) {
    h5::Handle attr(H5Aopen(n.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
    h5::Handle type(H5Aget_type(attr.id()), H5Tclose);
    if (H5Tget_class(type.id()) == H5T_STRING) return h5::read_string_list_attr(n, name);
    h5::Handle space(H5Aget_space(attr.id()), H5Sclose);
    std::vector<double> v(std::size_t(H5Sget_simple_extent_npoints(space.id())));
    REQUIRE(H5Aread(attr.id(), H5T_NATIVE_DOUBLE, v.data()) >= 0);
    std::vector<std::string> out;
    for (double x : v) out.push_back(std::to_string(x) + "/" + std::to_string(std::bit_cast<std::uint64_t>(x)));
    return out;
}

// Every attribute, group and dataset of two HDF5 files, values compared
// exactly; at the root, the attribute `skip` only has to exist in both.
void check_same_h5(const h5::Node& a, const h5::Node& b, const std::string& skip) {
    const auto attrs = attribute_names(a);
    REQUIRE(attrs == attribute_names(b));
    for (const auto& n : attrs) {
        INFO(a.path << " attribute " << n);
        if (a.path == "/" && n == skip) continue;
        CHECK(attribute_values(a, n) == attribute_values(b, n));
    }
    const auto names = h5::child_names(a);
    REQUIRE(names == h5::child_names(b));
    for (const auto& n : names) {
        INFO(a.path << "/" << n);
        h5::Handle object(H5Oopen(a.id(), n.c_str(), H5P_DEFAULT), H5Oclose);
        REQUIRE(object.valid());
        if (H5Iget_type(object.id()) == H5I_GROUP) {
            check_same_h5(h5::open_group(a, n), h5::open_group(b, n), "");
        } else {
            std::vector<std::uint64_t> da, db;
            h5::Handle ds(H5Dopen2(a.id(), n.c_str(), H5P_DEFAULT), H5Dclose);
            h5::Handle type(H5Dget_type(ds.id()), H5Tclose);
            if (H5Tget_class(type.id()) == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_NONE) {
                CHECK(h5::read_uint64s(a, n, &da) == h5::read_uint64s(b, n, &db)); // packed binary weights
            } else if (H5Tget_class(type.id()) == H5T_INTEGER) {
                CHECK(h5::read_ints(a, n, &da) == h5::read_ints(b, n, &db));
            } else {
                CHECK(h5::read_doubles(a, n, &da) == h5::read_doubles(b, n, &db));
            }
            CHECK(da == db);
        }
    }
}

} // namespace

TEST_CASE("the layer keys of model.weights.h5 are Keras's to_snake_case of the class name", "[convert][keras3]") {
    // Left: a class name; right: what keras/src/utils/naming.py's to_snake_case
    // returns for it (run with Python's re).
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"Dense", "dense"},
        {"Conv2D", "conv2d"},
        {"DepthwiseConv2D", "depthwise_conv2d"},
        {"SeparableConv2D", "separable_conv2d"},
        {"BatchNormalization", "batch_normalization"},
        {"MaxPooling2D", "max_pooling2d"},
        {"GlobalAveragePooling2D", "global_average_pooling2d"},
        {"ZeroPadding2D", "zero_padding2d"},
        {"InputLayer", "input_layer"},
        {"QuantConv2D", "quant_conv2d"},
        {"ReLU", "re_lu"},
        {"PReLU", "p_re_lu"},
        {"HTTPServerX", "http_server_x"},
        {"My_Layer", "my__layer"},
        {"aB", "a_b"},
        {"A", "a"},
    };
    for (const auto& [cls, key] : cases) {
        INFO(cls);
        CHECK(keras_snake_case(cls) == key);
    }
}

TEST_CASE("Keras models written as .keras import to exactly the network of their .h5", "[convert][keras3]") {
    TempDir dir("keras3");
    const fs::path models = source_dir / "data" / "models", fixtures = source_dir / "data" / "fixtures";
    // Sequential and Functional, Add, BatchNormalization folded, depthwise and
    // pointwise convolutions, max and average pooling, zero padding, exit heads.
    for (const fs::path& h5 : {models / "mnist_mlp.h5", models / "mnist_cnn.h5", models / "mnist_cnn_bn_maxpool.h5",
                               models / "mnist_mobilenet.h5", fixtures / "tiny_keras3_sequential.h5",
                               fixtures / "tiny_keras2_functional_add.h5", fixtures / "tiny_keras2_branchy.h5",
                               fixtures / "tiny_keras2_mobilenet.h5", fixtures / "tiny_zeropad.h5"}) {
        INFO(h5);
        const std::string keras = export_keras3(h5, dir);
        const Network from_h5 = import_keras(h5.string());
        const Network from_keras = import_keras(keras);
        CHECK(from_keras.source == keras);
        check_same_network(from_h5, from_keras);
    }
}

// Rewrites the model.weights.h5 of archive SRC into archive DST, copying each
// group `from` of the pairs in argv[3:] (from=to) to `to`.
const char* const regroup_script = R"(import io, sys, zipfile, h5py
src, dst = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(src)
f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
buf = io.BytesIO()
with h5py.File(buf, "w") as g:
    g.create_group("vars")
    for pair in sys.argv[3:]:
        a, b = pair.split("=")
        f.copy(a, g, b)
with zipfile.ZipFile(dst, "w") as out:
    for n in ("metadata.json", "config.json"):
        out.writestr(n, z.read(n))
    out.writestr("model.weights.h5", buf.getvalue())
)";

std::string regroup(const std::string& src, const std::string& dst, const std::string& pairs, const TempDir& dir) {
    const std::string script = dir.file("regroup.py");
    std::ofstream(script) << regroup_script;
    const Outcome o = run_captured("/usr/bin/python3 " + quote(script) + " " + quote(src) + " " + quote(dst) + " " + pairs, dir);
    INFO(o.err);
    REQUIRE(o.status == 0);
    return dst;
}

TEST_CASE("a .keras archive's weights are found where Keras puts them, and refused out of place", "[convert][keras3]") {
    TempDir dir("keras3-groups");
    const std::string keras = export_keras3(source_dir / "data" / "models" / "mnist_mlp.h5", dir);
    const Network reference = import_keras(keras);

    // mnist_mlp's Dense layers "dense" and "dense_1" are layers/dense and
    // layers/dense_1 by class; swapping the groups gives each layer the
    // other's kernel, which the shape check catches.
    const std::string swapped = regroup(keras, dir.file("swapped.keras"),
                                        "layers/dense=layers/dense_1 layers/dense_1=layers/dense", dir);
    REQUIRE_THROWS_WITH(import_keras(swapped),
                        Contains(swapped) &&
                            Contains("layer 'dense' (Dense): kernel shape (512,10) disagrees with the layer (784,512)"));
    REQUIRE_THROWS_AS(import_keras(swapped), ModelError);

    // Keras 2.13's layout, _layer_checkpoint_dependencies/<key>/vars: the same network.
    const std::string old = regroup(keras, dir.file("keras213.keras"),
                                    "layers/dense=_layer_checkpoint_dependencies/dense "
                                    "layers/dense_1=_layer_checkpoint_dependencies/dense_1",
                                    dir);
    const Network from_old = import_keras(old);
    REQUIRE(from_old.populations.size() == reference.populations.size());
    for (std::size_t i = 1; i < reference.populations.size(); ++i) {
        CHECK(from_old.populations[i].projections.at(0).weights == reference.populations[i].projections.at(0).weights);
        CHECK(from_old.populations[i].bias == reference.populations[i].bias);
    }

    // A directory and a missing file, by name.
    REQUIRE_THROWS_WITH(import_keras(dir.file("none.keras")), Contains("none.keras: no such file"));
    fs::create_directory(dir.file("d.keras"));
    REQUIRE_THROWS_WITH(import_keras(dir.file("d.keras")), Contains("d.keras: is a directory"));
}

TEST_CASE("snn convert of the shipped MLP and CNN as .keras gives the .h5's network file, inspection and run report",
          "[convert][keras3][cli]") {
    TempDir dir("keras3-cli");
    for (const char* name : {"mnist_mlp", "mnist_cnn"}) {
        INFO(name);
        const fs::path h5 = source_dir / "data" / "models" / (std::string(name) + ".h5");
        const std::string keras = export_keras3(h5, dir);
        const std::string net_h5 = dir.file(std::string(name) + "-h5.snn.h5");
        const std::string net_keras = dir.file(std::string(name) + "-keras.snn.h5");
        const Outcome a = snn_cli("convert " + quote(h5.string()) + " -o " + quote(net_h5));
        const Outcome b = snn_cli("convert " + quote(keras) + " -o " + quote(net_keras));
        INFO(a.err << b.err);
        REQUIRE(a.status == 0);
        REQUIRE(b.status == 0);
        // Every dataset and group of the two network files (weights, biases, scales, shapes).
        check_same_h5(h5::open_file(net_h5), h5::open_file(net_keras), "source");

        // snn inspect --json: the same, but for the model file each names.
        const Outcome ia = snn_cli("inspect " + quote(net_h5) + " --json");
        const Outcome ib = snn_cli("inspect " + quote(net_keras) + " --json");
        REQUIRE(ia.status == 0);
        REQUIRE(ib.status == 0);
        nlohmann::json ja = nlohmann::json::parse(ia.out), jb = nlohmann::json::parse(ib.out);
        CHECK(ja.value("source", "") == h5.string());
        CHECK(jb.value("source", "") == keras);
        ja.erase("source");
        jb.erase("source");
        CHECK(ja == jb);

        // snn run on 300 MNIST test images: the same report but for timings and the file names.
        const std::string ra = dir.file(std::string(name) + "-h5.json"), rb = dir.file(std::string(name) + "-keras.json");
        for (const auto& [net, report] : {std::pair{net_h5, ra}, std::pair{net_keras, rb}}) {
            const Outcome r = snn_cli("run " + quote(net) + " --data mnist:test --limit 300 --steps 32 --quiet --report " +
                                      quote(report));
            INFO(r.err);
            REQUIRE(r.status == 0);
        }
        nlohmann::json pa = read_report(ra), pb = read_report(rb);
        REQUIRE(pa.at("samples") == 300);
        CHECK(pa.at("network") == net_h5);
        CHECK(pb.at("network") == net_keras);
        for (nlohmann::json* p : {&pa, &pb})
            for (const char* key : {"network", "samples_per_second", "seconds"}) REQUIRE(p->erase(key) == 1);
        CHECK(pa == pb); // accuracy, spikes, synaptic operations, energy, per layer and per step
    }
}
