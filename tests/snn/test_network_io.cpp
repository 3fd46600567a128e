#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/inspect.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;

namespace {

// Values that a lossy path (text, double attributes, conversion) would change:
// thirds, a denormal, the largest float, a negative zero.
std::vector<float> awkward(std::size_t n, float salt) {
    const float specials[] = {1.f / 3.f, std::numeric_limits<float>::denorm_min(), -0.f,
                              std::numeric_limits<float>::max(), -1e-30f, 0.1f};
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = specials[i % 6] * (i % 6 == 3 ? 1.f : salt + float(i));
    return v;
}

// input (4,4,1) → conv1 3x3 same, 2 ch (4,4,2) → pool 2x2 avg (2,2,2) → dense 3 (1,1,3)
Network conv_pool_dense() {
    Network net;
    net.source = "models/tiny.h5";
    net.normalization = "data-based, 99.9th percentile";
    net.populations.push_back(input({4, 4, 1}));

    Population conv;
    conv.name = "conv1";
    conv.shape = {4, 4, 2};
    conv.projections.push_back(projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, awkward(18, 0.5f), "conv1"));
    conv.bias = {1.f / 7.f, -0.5f};
    conv.scale = 2.f / 3.f;
    conv.neuron.v_th = 1.f / 3.f;
    conv.layers = {"conv1", "batch_normalization", "relu"};
    net.populations.push_back(conv);

    Population pool;
    pool.name = "pool";
    pool.shape = {2, 2, 2};
    pool.projections.push_back(projection(1, ProjectionKind::AvgPool, {2, 2, 2, 2, 0, 0}, {0.25f, 0.5f}, "pool"));
    net.populations.push_back(pool);

    Population dense;
    dense.name = "dense";
    dense.shape = {1, 1, 3};
    dense.projections.push_back(projection(2, ProjectionKind::Dense, {}, awkward(24, -1.25f), "dense"));
    dense.bias = {0.f, 1.f, 2.f};
    dense.layers = {"flatten", "dense"};
    net.populations.push_back(dense);
    return net;
}

// input (4,4,1) → a (4,4,2) → b = conv(a) + a (4,4,2) → out dense 3
Network residual() {
    Network net;
    net.populations.push_back(input({4, 4, 1}));
    Population a;
    a.name = "a";
    a.shape = {4, 4, 2};
    a.projections.push_back(projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, awkward(18, 1.f), "a"));
    a.bias = {0.f, 0.f};
    net.populations.push_back(a);
    Population b;
    b.name = "b";
    b.shape = {4, 4, 2};
    b.projections.push_back(projection(1, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, awkward(36, 2.f), "b"));
    b.projections.push_back(projection(1, ProjectionKind::Identity, {}, {0.8f, -1.f / 3.f}, "add"));
    b.neuron.signed_spikes = true;
    net.populations.push_back(b);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 3};
    out.projections.push_back(projection(2, ProjectionKind::Dense, {}, awkward(96, 3.f), "out"));
    net.populations.push_back(out);
    return net;
}

// input (4,4,1) → LIF conv (4,4,2) → max-pooling gate 2x2 (2,2,2) → dense 3
Network lif_maxpool() {
    Network net;
    net.populations.push_back(input({4, 4, 1}));
    Population conv;
    conv.name = "conv";
    conv.shape = {4, 4, 2};
    conv.neuron = {NeuronModel::LIF, ResetMode::Zero, 0.75f, 20.f / 3.f, 0.5f};
    conv.projections.push_back(projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, awkward(18, 4.f), "conv"));
    net.populations.push_back(conv);
    Population gate;
    gate.name = "max_pooling2d";
    gate.kind = PopulationKind::MaxPool;
    gate.shape = {2, 2, 2};
    gate.projections.push_back(projection(1, ProjectionKind::MaxPool, {2, 2, 2, 2, 0, 0}, {}, "max_pooling2d"));
    net.populations.push_back(gate);
    Population dense;
    dense.name = "dense";
    dense.shape = {1, 1, 3};
    dense.neuron.reset = ResetMode::Zero;
    dense.projections.push_back(projection(2, ProjectionKind::Dense, {}, awkward(24, 5.f), "dense"));
    dense.bias = {1e-3f, 2e-3f, 3e-3f};
    net.populations.push_back(dense);
    net.readout = Readout::Membrane;
    return net;
}

// operator== says −0 == +0; the file must keep the bits.
void require_same_bits(const Network& a, const Network& b) {
    REQUIRE(a == b);
    for (std::size_t i = 0; i < a.populations.size(); ++i) {
        const Population &pa = a.populations[i], &pb = b.populations[i];
        for (std::size_t k = 0; k < pa.bias.size(); ++k)
            REQUIRE(std::bit_cast<std::uint32_t>(pa.bias[k]) == std::bit_cast<std::uint32_t>(pb.bias[k]));
        REQUIRE(std::bit_cast<std::uint32_t>(pa.neuron.v_th) == std::bit_cast<std::uint32_t>(pb.neuron.v_th));
        REQUIRE(std::bit_cast<std::uint32_t>(pa.neuron.tau_steps) == std::bit_cast<std::uint32_t>(pb.neuron.tau_steps));
        REQUIRE(pa.neuron.v_init == pb.neuron.v_init);
        REQUIRE(std::bit_cast<std::uint32_t>(pa.scale) == std::bit_cast<std::uint32_t>(pb.scale));
        for (std::size_t j = 0; j < pa.projections.size(); ++j)
            for (std::size_t k = 0; k < pa.projections[j].weights.size(); ++k)
                REQUIRE(std::bit_cast<std::uint32_t>(pa.projections[j].weights[k]) ==
                        std::bit_cast<std::uint32_t>(pb.projections[j].weights[k]));
    }
}

// Opens a saved file for editing, to corrupt it on purpose.
h5::Node open_rw(const std::string& path) {
    h5::silence_errors();
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    return h5::Node{h5::Handle(f, H5Fclose), path, "/"};
}

void replace_floats(const std::string& path, const std::string& group, const std::string& name,
                    const std::vector<float>& data, const std::vector<std::uint64_t>& dims) {
    const h5::Node file = open_rw(path);
    const h5::Node g = h5::open_group(file, group);
    REQUIRE(H5Ldelete(g.id(), name.c_str(), H5P_DEFAULT) >= 0);
    h5::write_floats(g, name, data, dims);
}

} // namespace

TEST_CASE("save → load round-trips networks bit for bit", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    for (const Network& net : {conv_pool_dense(), residual(), lif_maxpool()}) {
        REQUIRE_NOTHROW(validate(net));
        save(net, path);
        const Network back = load(path);
        require_same_bits(net, back);
    }
}

TEST_CASE("the file follows the documented layout", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    save(conv_pool_dense(), path);
    const h5::Node file = h5::open_file(path);
    CHECK(h5::read_string_attr(file, "format") == "snn-network");
    CHECK(h5::read_int_attr(file, "format_version") == 1);
    CHECK(h5::read_string_attr(file, "source") == "models/tiny.h5");
    CHECK(h5::read_string_attr(file, "readout") == "spikes");
    const h5::Node pops = h5::open_group(file, "populations");
    CHECK(h5::child_names(pops) == std::vector<std::string>{"000", "001", "002", "003"});
    const h5::Node conv = h5::open_group(pops, "001");
    CHECK(h5::read_string_attr(conv, "kind") == "spiking");
    CHECK(h5::read_int_list_attr(conv, "shape") == std::vector<std::int64_t>{4, 4, 2});
    CHECK(h5::read_string_list_attr(conv, "layers") == std::vector<std::string>{"conv1", "batch_normalization", "relu"});
    CHECK(h5::dataset_dims(conv, "projections/000/weights") == std::vector<std::uint64_t>{3, 3, 1, 2});
    CHECK(h5::read_int_list_attr(h5::open_group(conv, "projections/000"), "window") ==
          std::vector<std::int64_t>{3, 3, 1, 1, 1, 1});
    CHECK(h5::dataset_dims(pops, "000/bias") == std::vector<std::uint64_t>{0});
    CHECK(h5::read_string_list_attr(h5::open_group(pops, "000"), "layers").empty());
    CHECK(h5::dataset_dims(pops, "002/projections/000/weights") == std::vector<std::uint64_t>{2});
    CHECK(h5::dataset_dims(pops, "003/projections/000/weights") == std::vector<std::uint64_t>{8, 3});
    CHECK(h5::read_int_attr(h5::open_group(pops, "003/projections/000"), "source") == 2);
}

TEST_CASE("save leaves no temporary file and replaces an existing one", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    save(conv_pool_dense(), path);
    save(residual(), path);
    CHECK(dir.listing() == std::vector<std::string>{"net.snn.h5"});
    CHECK(load(path) == residual());
}

TEST_CASE("a failed save leaves nothing behind", "[network_io]") {
    SECTION("missing directory") {
        REQUIRE_THROWS_WITH(save(conv_pool_dense(), "/nonexistent-dir/x.snn.h5"),
                            Catch::Contains("/nonexistent-dir/x.snn.h5"));
        CHECK_FALSE(fs::exists("/nonexistent-dir"));
    }
    SECTION("the target is a directory") {
        TempDir dir;
        fs::create_directory(dir.path / "taken");
        REQUIRE_THROWS_AS(save(conv_pool_dense(), dir.file("taken")), Error);
        CHECK(dir.listing() == std::vector<std::string>{"taken"});
    }
    SECTION("an invalid network is refused before anything is written") {
        TempDir dir;
        Network net = conv_pool_dense();
        net.populations[3].projections[0].weights.pop_back();
        REQUIRE_THROWS_WITH(save(net, dir.file("bad.snn.h5")), Catch::Contains("'dense'"));
        CHECK(dir.listing().empty());
    }
}

TEST_CASE("load refuses files that are not snn networks, naming the file", "[network_io]") {
    TempDir dir;
    SECTION("missing file") {
        const std::string path = dir.file("missing.snn.h5");
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("no such file"));
    }
    SECTION("not HDF5") {
        const std::string path = dir.file("text.snn.h5");
        std::ofstream(path) << "this is not an HDF5 file\n";
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("not an HDF5 file"));
    }
    SECTION("HDF5 without our format attribute (e.g. a Keras model)") {
        const std::string path = dir.file("keras.h5");
        {
            const h5::Node f = h5::create_file(path);
            h5::write_attr(f, "keras_version", std::string("2.15.0"));
            h5::create_group(f, "model_weights");
        }
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("not an snn network file") &&
                                            Catch::Contains("snn convert"));
    }
    SECTION("another format name") {
        const std::string path = dir.file("other.h5");
        {
            const h5::Node f = h5::create_file(path);
            h5::write_attr(f, "format", std::string("something-else"));
        }
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("not an snn network file"));
    }
    SECTION("a newer format version") {
        const std::string path = dir.file("future.snn.h5");
        save(conv_pool_dense(), path);
        h5::write_attr(open_rw(path), "format_version", network_format_version + 1);
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("newer"));
    }
}

TEST_CASE("load refuses corrupt networks with an snn::Error, never a crash", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    save(conv_pool_dense(), path);

    SECTION("a NaN weight") {
        auto w = awkward(18, 0.5f);
        w[7] = std::numeric_limits<float>::quiet_NaN();
        replace_floats(path, "populations/001/projections/000", "weights", w, {3, 3, 1, 2});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'conv1'") &&
                                            Catch::Contains("not finite"));
    }
    SECTION("a wrong weight count") {
        replace_floats(path, "populations/003/projections/000", "weights", std::vector<float>(23, 1.f), {23});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'dense'") &&
                                            Catch::Contains("expected 24"));
    }
    SECTION("the right count in the wrong shape (a transposed matrix)") {
        replace_floats(path, "populations/003/projections/000", "weights", std::vector<float>(24, 1.f), {3, 8});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'dense'") &&
                                            Catch::Contains("(8,3)"));
    }
    SECTION("a shape that does not fit the projection") {
        h5::write_attr(h5::open_group(open_rw(path), "populations/002"), "shape", std::vector<std::int64_t>{2, 2, 5});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'pool'"));
    }
    SECTION("a shape with the wrong rank") {
        h5::write_attr(h5::open_group(open_rw(path), "populations/002"), "shape", std::vector<std::int64_t>{2, 2});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("/populations/002"));
    }
    SECTION("a missing attribute") {
        REQUIRE(H5Adelete(h5::open_group(open_rw(path), "populations/001").id(), "v_th") >= 0);
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("v_th"));
    }
    SECTION("an unknown neuron model") {
        h5::write_attr(h5::open_group(open_rw(path), "populations/001"), "neuron_model", std::string("hh"));
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'hh'"));
    }
    SECTION("an unknown readout") {
        h5::write_attr(open_rw(path), "readout", std::string("votes"));
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'votes'"));
    }
    SECTION("a file without a readout reads as spike counts") {
        REQUIRE(H5Adelete(open_rw(path).id(), "readout") >= 0);
        CHECK(load(path).readout == Readout::Spikes);
    }
    SECTION("a gap in the population numbering") {
        REQUIRE(H5Lmove(open_rw(path).id(), "populations/002", H5L_SAME_LOC, "populations/005", H5P_DEFAULT,
                        H5P_DEFAULT) >= 0);
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'005'"));
    }
    SECTION("an array too large for memory is refused before it is allocated") {
        // 2^40 floats (4 TiB), chunked and never written, so the file stays tiny.
        {
            const h5::Node file = open_rw(path);
            const h5::Node g = h5::open_group(file, "populations/001");
            REQUIRE(H5Ldelete(g.id(), "bias", H5P_DEFAULT) >= 0);
            const hsize_t dims = hsize_t(1) << 40, chunk = 1024;
            h5::Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
            h5::Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
            H5Pset_chunk(plist.id(), 1, &chunk);
            h5::Handle ds(H5Dcreate2(g.id(), "bias", H5T_IEEE_F32LE, space.id(), H5P_DEFAULT, plist.id(), H5P_DEFAULT),
                          H5Dclose);
            REQUIRE(ds.valid());
        }
        REQUIRE(fs::file_size(path) < (1u << 20));
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("memory"));
    }
}

TEST_CASE("describe of a loaded network reports the file size", "[network_io][inspect]") {
    TempDir dir;
    const std::string path = dir.file("net.snn.h5");
    save(lif_maxpool(), path);
    const std::string text = describe(load(path), path);
    CHECK_THAT(text, Catch::Contains(path));
    CHECK_THAT(text, Catch::Contains("file size"));
    CHECK_THAT(text, Catch::Contains("max_pooling2d"));
    CHECK_THAT(text, Catch::Contains("maxpool←conv"));
    CHECK_THAT(text, Catch::Contains("lif zero v_th=0.75 tau=6.66667 v0=0.5"));
    // conv: 3·3·1·2 = 18 weights, no bias; gate: none; dense: 8·3 = 24 weights + 3 biases
    CHECK_THAT(text, Catch::Contains("45 parameters"));
}

namespace {

// A layer learned with STDP (sim/learn.hpp): per-unit thresholds, winner-take-all
// inhibition, the assignment readout's labels, the steps and rate it was made for.
Network learned_layer() {
    Network net;
    net.source = "mnist:train";
    net.populations.push_back(input({2, 2, 1}));
    Population ex;
    ex.name = "excitatory";
    ex.shape = {1, 1, 3};
    ex.neuron.model = NeuronModel::LIF;
    ex.neuron.reset = ResetMode::Zero;
    ex.neuron.v_th = 5.f;
    ex.neuron.tau_steps = 100.f;
    ex.theta = {1.f / 3.f, 0.f, 7.25f};
    ex.inhibition = Inhibition::WinnerTakeAll;
    ex.projections.push_back(projection(0, ProjectionKind::Dense, {}, awkward(12, 0.25f), "stdp"));
    net.populations.push_back(ex);
    net.readout = Readout::Assignment;
    net.labels = {2, -1, 0};
    net.steps = 350;
    net.max_rate = 0.06375f;
    return net;
}

} // namespace

TEST_CASE("a learned layer round-trips as format version 2 with its optional fields", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("learned.snn.h5");
    const Network net = learned_layer();
    save(net, path);
    const Network back = load(path);
    require_same_bits(net, back);
    for (std::size_t j = 0; j < 3; ++j)
        CHECK(std::bit_cast<std::uint32_t>(back.populations[1].theta[j]) ==
              std::bit_cast<std::uint32_t>(net.populations[1].theta[j]));
    CHECK(back.max_rate == 0.06375f);
    {
        const h5::Node file = h5::open_file(path);
        CHECK(h5::read_int_attr(file, "format_version") == 2);
        CHECK(h5::read_string_attr(file, "readout") == "assignment");
        CHECK(h5::read_int_attr(file, "steps") == 350);
        CHECK(h5::read_ints(file, "labels") == std::vector<std::int64_t>{2, -1, 0});
        CHECK(h5::read_string_attr(h5::open_group(file, "populations/001"), "inhibition") == "winner-take-all");
        CHECK(h5::dataset_dims(file, "populations/001/theta") == std::vector<std::uint64_t>{3});
    }
    // Written only when used: a converted network has none of them and stays version 1.
    save(conv_pool_dense(), path);
    const h5::Node file = h5::open_file(path);
    CHECK(h5::read_int_attr(file, "format_version") == 1);
    CHECK_FALSE(h5::has_attr(file, "steps"));
    CHECK_FALSE(h5::exists(file, "labels"));
    CHECK_FALSE(h5::exists(file, "populations/001/theta"));
    CHECK_FALSE(h5::has_attr(h5::open_group(file, "populations/001"), "inhibition"));
}

TEST_CASE("a learned layer that does not fit together is refused", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("learned.snn.h5");
    Network net = learned_layer();
    SECTION("labels for another number of output units") {
        net.labels = {0, 1};
        REQUIRE_THROWS_WITH(save(net, path), Catch::Contains("labels has 2 values"));
    }
    SECTION("the assignment readout without labels") {
        net.labels.clear();
        REQUIRE_THROWS_WITH(save(net, path), Catch::Contains("needs a class label"));
    }
    SECTION("winner-take-all with reset by subtraction") {
        net.populations[1].neuron.reset = ResetMode::Subtract;
        REQUIRE_THROWS_WITH(save(net, path), Catch::Contains("reset zero"));
    }
    SECTION("a threshold v_th + theta that is not positive") {
        net.populations[1].theta[1] = -5.f;
        REQUIRE_THROWS_WITH(save(net, path), Catch::Contains("not a positive finite number"));
    }
    SECTION("theta with the wrong count, in a file") {
        save(net, path);
        replace_floats(path, "populations/001", "theta", {1.f, 2.f}, {2});
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("theta has 2 values"));
    }
    SECTION("an unknown inhibition, in a file") {
        save(net, path);
        h5::write_attr(h5::open_group(open_rw(path), "populations/001"), "inhibition", std::string("soft"));
        REQUIRE_THROWS_WITH(load(path), Catch::Contains(path) && Catch::Contains("'soft'"));
    }
    CHECK(dir.temporaries().empty());
}

TEST_CASE("a bias correction round-trips as format version 14, and only a file with one is written so", "[network_io]") {
    TempDir dir;
    const std::string path = dir.file("corrected.snn.h5");
    Network net = conv_pool_dense();
    net.populations[1].bias_correction = {0.125f, -0.0078125f};
    REQUIRE_NOTHROW(validate(net));
    save(net, path);
    const Network back = load(path);
    CHECK(back.populations[1].bias_correction == net.populations[1].bias_correction);
    CHECK(back.populations[2].bias_correction.empty());
    CHECK(back == net);
    {
        const h5::Node file = h5::open_file(path);
        CHECK(h5::read_int_attr(file, "format_version") == 14);
        CHECK(h5::dataset_dims(file, "populations/001/bias_correction") == std::vector<std::uint64_t>{2});
        CHECK_FALSE(h5::exists(file, "populations/002/bias_correction"));
    }
    // One value per channel, or the file is refused naming the population.
    replace_floats(path, "populations/001", "bias_correction", {0.5f, 0.5f, 0.5f}, {3});
    CHECK_THROWS_WITH(load(path), Catch::Contains("bias_correction has 3 values"));
}
