// The kinds of snn::Error (snn/error.hpp) and the context they carry: a caller
// learns which file, layer, option or data set was wrong without reading the
// message. Each case below knows the culprit from its own inputs and checks
// that the error names it; the CLI case checks that the program still prints
// an option the library names by its key as the flag.
#include "convert/keras.hpp"
#include "convert/normalize.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/memory.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <typeinfo>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Contains;
using Catch::StartsWith;

namespace {

const fs::path fixtures = fs::path(SNN_SOURCE_DIR) / "data" / "fixtures";

// The E that f() throws; fails the test if it throws another kind of error or nothing.
template <class E, class F>
E thrown(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e;
    } catch (const Error& e) {
        FAIL("expected " << typeid(E).name() << ", got another snn::Error: " << e.what());
    }
    FAIL("expected " << typeid(E).name() << ", nothing was thrown");
    throw std::logic_error("unreachable");
}

// input (1,1,4) → dense (1,1,3)
Network small_net() {
    Network net;
    net.populations.push_back(input({1, 1, 4}));
    Population dense;
    dense.name = "dense";
    dense.shape = {1, 1, 3};
    dense.projections.push_back(projection(0, ProjectionKind::Dense, {}, std::vector<float>(12, 0.25f), "dense"));
    dense.bias = {0.f, 0.f, 0.f};
    net.populations.push_back(dense);
    return net;
}

h5::Node open_rw(const std::string& path) {
    h5::silence_errors();
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    return h5::Node{h5::Handle(f, H5Fclose), path, "/"};
}

} // namespace

TEST_CASE("a network file that is missing, not HDF5 or not a network is a FileError naming it", "[errors]") {
    TempDir dir;
    SECTION("missing") {
        const std::string path = dir.file("missing.snn.h5");
        const FileError e = thrown<FileError>([&] { load(path); });
        CHECK(e.context.file == path);
        CHECK(e.context.layer.empty());
        CHECK(e.context.option.empty());
        CHECK_THAT(e.what(), StartsWith(path + ": ") && Contains("no such file"));
    }
    SECTION("a text file") {
        const std::string path = dir.file("text.snn.h5");
        std::ofstream(path) << "this is not an HDF5 file\n";
        const FileError e = thrown<FileError>([&] { load(path); });
        CHECK(e.context.file == path);
        CHECK_THAT(e.what(), Contains("not an HDF5 file"));
    }
    SECTION("a Keras model given where a network belongs") {
        const std::string path = (fixtures / "tiny_keras3_sequential.h5").string();
        const FileError e = thrown<FileError>([&] { load(path); });
        CHECK(e.context.file == path);
        CHECK_THAT(e.what(), Contains("not an snn network file"));
    }
}

TEST_CASE("a network that does not fit together is a ModelError naming the file and the layer", "[errors]") {
    SECTION("validate() knows the layer, not the file") {
        Network net = small_net();
        net.populations[1].projections[0].weights[5] = std::numeric_limits<float>::quiet_NaN();
        const ModelError e = thrown<ModelError>([&] { validate(net); });
        CHECK(e.context.file.empty());
        CHECK(e.context.layer == "dense");
        CHECK_THAT(e.what(), Contains("not finite"));
    }
    SECTION("load() adds the file") {
        TempDir dir;
        const std::string path = dir.file("net.snn.h5");
        save(small_net(), path);
        {
            const h5::Node g = h5::open_group(open_rw(path), "populations/001/projections/000");
            REQUIRE(H5Ldelete(g.id(), "weights", H5P_DEFAULT) >= 0);
            std::vector<float> w(12, 0.25f);
            w[5] = std::numeric_limits<float>::quiet_NaN();
            h5::write_floats(g, "weights", w, {4, 3});
        }
        const ModelError e = thrown<ModelError>([&] { load(path); });
        CHECK(e.context.file == path);
        CHECK(e.context.layer == "dense");
        CHECK_THAT(e.what(), StartsWith(path + ": ") && Contains("'dense'") && Contains("not finite"));
    }
    SECTION("save() refuses it, naming the file it was asked to write") {
        TempDir dir;
        const std::string path = dir.file("bad.snn.h5");
        Network net = small_net();
        net.populations[1].bias = {0.f, 0.f}; // one per channel: 3
        const ModelError e = thrown<ModelError>([&] { save(net, path); });
        CHECK(e.context.file == path);
        CHECK(e.context.layer == "dense");
        CHECK(dir.listing().empty());
    }
}

TEST_CASE("a Keras model with an unsupported layer is a ModelError naming the model and the layer", "[errors]") {
    // The fixture is Dense → LeakyReLU (named "leaky") → Dense.
    const std::string path = (fixtures / "tiny_unsupported.h5").string();
    const ModelError e = thrown<ModelError>([&] { import_keras(path); });
    CHECK(e.context.file == path);
    CHECK(e.context.layer == "leaky");
    CHECK(e.context.option.empty());
    CHECK_THAT(e.what(), Contains("LeakyReLU"));
}

TEST_CASE("a data set that does not exist or does not fit together is a DataError naming it", "[errors]") {
    SECTION("an unknown name") {
        const DataError e = thrown<DataError>([] { load_dataset("nosuch:thing"); });
        CHECK(e.context.file == "nosuch:thing");
        CHECK_THAT(e.what(), StartsWith("unknown data set 'nosuch:thing'"));
    }
    SECTION("a known set without its split") {
        const DataError e = thrown<DataError>([] { load_dataset("fashion-mnist"); });
        CHECK(e.context.file == "fashion-mnist");
    }
    SECTION("a known set whose files are not there") {
        TempDir empty;
        const DataError e = thrown<DataError>([&] { load_dataset("mnist:test", 5, empty.str()); });
        CHECK(e.context.file == "mnist:test");
        CHECK_THAT(e.what(), Contains(empty.str()) && Contains("not found"));
    }
    SECTION("an HDF5 file whose x and y disagree") {
        TempDir dir;
        const std::string path = dir.file("data.h5");
        {
            const h5::Node f = h5::create_file(path);
            h5::write_floats(f, "x", std::vector<float>(12, 0.5f), {3, 4});
            h5::write_ints(f, "y", {0, 1}, {2});
        }
        const DataError e = thrown<DataError>([&] { load_dataset(path); });
        CHECK(e.context.file == path);
        CHECK_THAT(e.what(), Contains("3 samples") && Contains("2 labels"));
    }
}

TEST_CASE("an option out of range is an OptionError with its key and value, naming no flag", "[errors]") {
    SECTION("a memory size") {
        const OptionError e = thrown<OptionError>([] { parse_memory_size("12Q"); });
        CHECK(e.context.option == "max-memory");
        CHECK(e.context.value == "12Q");
        CHECK(e.context.file.empty());
        CHECK_THAT(e.what(), StartsWith("max-memory '12Q': "));
    }
    SECTION("a normalization") {
        const OptionError e = thrown<OptionError>([] { parse_norm("percentile:200"); });
        CHECK(e.context.option == "norm");
        CHECK(e.context.value == "percentile:200");
        CHECK_THAT(e.what(), StartsWith("norm 'percentile:200': "));
    }
    SECTION("a sample limit") {
        const OptionError e = thrown<OptionError>([] { load_dataset("mnist:test", 0); });
        CHECK(e.context.option == "limit");
        CHECK(e.context.value == "0");
        CHECK_THAT(e.what(), StartsWith("limit "));
    }
    SECTION("a value not understood, in a message that does not start with the key") {
        const OptionError e = thrown<OptionError>([] { readout_from("votes"); });
        CHECK(e.context.option == "readout");
        CHECK(e.context.value == "votes");
        CHECK_THAT(e.what(), StartsWith("unknown readout 'votes'"));
    }
}

TEST_CASE("snn prints an option the library names by its key as the flag, exactly as before", "[errors][cli]") {
    SECTION("raised by the library with the key") {
        const Outcome o = snn_cli("inspect nothing.snn.h5 --max-memory 12Q");
        CHECK(o.status == 1);
        CHECK(o.err ==
              "snn: error: --max-memory '12Q': expected a size such as 512M, 4G or 1.5G (K, M, G, T: powers of 1024)\n");
        const Outcome s = snn_cli("stdp-curve --tau-plus -3");
        CHECK(s.status == 1);
        CHECK(s.err == "snn: error: --tau-plus must be a positive number of steps (got -3)\n");
    }
    SECTION("raised by the CLI with the flag: not prefixed twice") {
        const Outcome o = snn_cli("run nothing.snn.h5 --data mnist:test --steps 0");
        CHECK(o.status == 1);
        CHECK(o.err == "snn: error: --steps must be at least 1\n");
    }
    SECTION("an option's message that does not start with its key: as it is") {
        const Outcome o = snn_cli("run nothing.snn.h5 --data mnist:test --readout votes");
        CHECK(o.status == 1);
        CHECK(o.err == "snn: error: unknown readout 'votes' (expected spikes, membrane or assignment)\n");
    }
}
