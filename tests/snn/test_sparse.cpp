// Sparse (pruned) dense projections (snn/sparse.hpp): compressed sparse rows
// built from a keep mask and expanded back, the .snn.h5 round trip (format
// version 8), inspect's connectivity and bytes, and corrupt sparse fields
// refused by the loader with one line naming the file, layer and value.
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/inspect.hpp"
#include "snn/network_io.hpp"
#include "snn/sparse.hpp"
#include "snn/binary.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

// input (in) → dense (out), weights w (in, out); then keep[k] decides synapse k.
Network pruned_dense(int in, int out, const std::vector<float>& w, const std::vector<std::uint8_t>& keep) {
    Network net;
    net.populations.push_back(input({1, 1, in}));
    Population pop;
    pop.name = "dense";
    pop.shape = {1, 1, out};
    pop.bias.assign(std::size_t(out), 0.25f);
    pop.projections.push_back(sparsify(projection(0, ProjectionKind::Dense, {}, w, "dense"), {1, 1, in}, {1, 1, out}, keep));
    net.populations.push_back(std::move(pop));
    return net;
}

} // namespace

TEST_CASE("sparsify keeps the marked synapses as rows per source unit, densify puts zeros back", "[sparse]") {
    // (in 3, out 4); keep marks by hand:
    //   unit 0: 1 . . 4      unit 1: . . . .      unit 2: . 10 11 .
    const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const std::vector<std::uint8_t> keep = {1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0};
    const Network net = pruned_dense(3, 4, w, keep);
    const Projection& p = net.populations[1].projections[0];
    CHECK(p.kind == ProjectionKind::SparseDense);
    CHECK(p.sparse.row_begin == std::vector<std::int64_t>{0, 2, 2, 4});
    CHECK(p.sparse.target == std::vector<std::int32_t>{0, 3, 1, 2});
    CHECK(p.weights == std::vector<float>{1, 4, 10, 11});
    CHECK_NOTHROW(validate(net));
    const Projection d = densify(p, {1, 1, 3}, {1, 1, 4});
    CHECK(d.kind == ProjectionKind::Dense);
    CHECK(d.weights == std::vector<float>{1, 0, 0, 4, 0, 0, 0, 0, 0, 10, 11, 0});
    CHECK(kept_synapses(p) == 4);
    CHECK(connectivity(p, {1, 1, 3}, {1, 1, 4}) == Approx(4.0 / 12.0));
    // 4 values and 4 targets of 4 bytes, 4 row pointers of 8.
    CHECK(sparse_bytes(p) == 4 * 4 + 4 * 4 + 4 * 8);
    CHECK(weight_bytes(p) == sparse_bytes(p));
    CHECK(expected_weight_count(p, {1, 1, 3}, {1, 1, 4}) == 4);
}

TEST_CASE("a sparse network saves its rows as format version 8 and loads back equal", "[sparse][io]") {
    TempDir dir("sparse-io");
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 0.3f);
    std::bernoulli_distribution b(0.3);
    std::vector<float> w(50 * 7);
    std::vector<std::uint8_t> keep(w.size());
    for (auto& x : w) x = d(rng);
    for (auto& k : keep) k = b(rng);
    const Network net = pruned_dense(50, 7, w, keep);
    const std::string path = dir.file("s.snn.h5");
    save(net, path);
    const Network back = load(path);
    CHECK(back == net);
    const h5::Node f = h5::open_file(path);
    CHECK(h5::read_int_attr(f, "format_version") == 8);
    const h5::Node pg = h5::open_group(f, "populations/001/projections/000");
    CHECK(h5::read_string_attr(pg, "kind") == "sparse_dense");
    CHECK(h5::dataset_dims(pg, "row_begin") == std::vector<std::uint64_t>{51});
    const auto kept = std::uint64_t(std::count(keep.begin(), keep.end(), 1));
    CHECK(h5::dataset_dims(pg, "target") == std::vector<std::uint64_t>{kept});
    CHECK(h5::dataset_dims(pg, "weights") == std::vector<std::uint64_t>{kept});
}

TEST_CASE("inspect shows the kept fraction and the sparse bytes", "[sparse][inspect]") {
    const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const Network net = pruned_dense(3, 4, w, {1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0});
    const std::string text = describe(net);
    CHECK_THAT(text, Contains("sparse_dense←input"));
    CHECK_THAT(text, Contains("33.33%"));
    // 4 kept of 12; 64 bytes of rows against 48 as dense float32.
    CHECK_THAT(text, Contains("synapses: 4 of 12 kept") && Contains("4 synapses in 64 bytes") && Contains("48 bytes as dense float32"));
    const auto j = describe_json(net);
    const auto& p = j["populations"][1]["projections"][0];
    CHECK(p["synapses"] == 4);
    CHECK(p["full_synapses"] == 12);
    CHECK(p["sparse"]["format"] == "csr");
    CHECK(p["sparse"]["rows"] == 3);
    CHECK(p["sparse"]["bytes"] == 64);
    CHECK(p["weight_bytes"] == 64);
    // Population bytes: the rows and 4 float biases; float32 bytes: the dense matrix and the biases.
    CHECK(j["populations"][1]["bytes"] == 64 + 16);
    CHECK(j["populations"][1]["float32_bytes"] == 48 + 16);
    CHECK(j["totals"]["synapses"] == 4);
    CHECK(j["totals"]["full_synapses"] == 12);
    CHECK(j["totals"]["connectivity"].get<double>() == Approx(1.0 / 3.0));
}

TEST_CASE("the loader refuses corrupt sparse rows with one line naming the file, layer and value", "[sparse][io]") {
    TempDir dir("sparse-bad");
    const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const Network net = pruned_dense(3, 4, w, {1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0});
    const auto rewrite = [&](const std::string& name, const char* dataset, std::vector<std::int64_t> values) {
        const std::string path = dir.file(name);
        save(net, path);
        const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(fid >= 0);
        const hid_t gid = H5Gopen2(fid, "populations/001/projections/000", H5P_DEFAULT);
        H5Ldelete(gid, dataset, H5P_DEFAULT);
        const hsize_t n = values.size();
        const hid_t space = H5Screate_simple(1, &n, nullptr);
        const hid_t d = H5Dcreate2(gid, dataset, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
        H5Dclose(d);
        H5Sclose(space);
        H5Gclose(gid);
        H5Fclose(fid);
        return path;
    };
    struct Bad {
        const char* name;
        const char* dataset;
        std::vector<std::int64_t> values;
        std::string says;
    };
    for (const Bad& b : {Bad{"range.snn.h5", "target", {0, 3, 1, 4}, "targets unit 4, outside the 4 units"},
                         Bad{"negative.snn.h5", "target", {0, 3, -1, 2}, "unit -1 is not a target unit index"},
                         Bad{"order.snn.h5", "target", {3, 0, 1, 2}, "the targets of source unit 0 do not ascend (3 then 0)"},
                         Bad{"monotone.snn.h5", "row_begin", {0, 3, 2, 4}, "row_begin decreases at source unit 1 (3 then 2)"},
                         Bad{"start.snn.h5", "row_begin", {1, 2, 2, 4}, "row_begin[0] is 1, expected 0"},
                         Bad{"end.snn.h5", "row_begin", {0, 2, 2, 3}, "row_begin ends at 3 but there are 4 synapses"},
                         Bad{"rows.snn.h5", "row_begin", {0, 2, 4}, "row_begin has 3 entries, expected 4"}}) {
        INFO(b.name);
        const std::string path = rewrite(b.name, b.dataset, b.values);
        CHECK_THROWS_AS(load(path), ModelError);
        CHECK_THROWS_WITH(load(path), Contains(path) && Contains("dense") && Contains(b.says));
        const Outcome o = snn_cli("inspect " + quote(path));
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(b.says));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    }
}

TEST_CASE("validate refuses sparse rows on a dense projection and a sparse one that is also quantized", "[sparse]") {
    const std::vector<float> w = {1, 2, 3, 4};
    Network net = pruned_dense(2, 2, w, {1, 1, 0, 1});
    Network stray = net;
    stray.populations[1].projections[0].kind = ProjectionKind::Dense;
    stray.populations[1].projections[0].weights = w;
    CHECK_THROWS_WITH(validate(stray), Contains("holds sparse rows but is a dense projection"));
    Network quant = net;
    quant.populations[1].projections[0].quant.scheme = QuantScheme::Int;
    CHECK_THROWS_WITH(validate(quant), Contains("cannot also be binary or quantized"));
}
