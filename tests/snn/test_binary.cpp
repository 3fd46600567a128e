// Binary weights (snn/binary.hpp): packing checked bit by bit against hand-
// worked layouts, XNOR-Net binarization against a hand computation, the
// .snn.h5 round trip and the corrupt files the loader must refuse.
#include "snn/binary.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <filesystem>
#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

// 64 inputs per word; a row of n inputs needs ⌈n/64⌉ words.
static_assert(words_for(1) == 1 && words_for(64) == 1 && words_for(65) == 2 && words_for(128) == 2 && words_for(0) == 0);

namespace {

// input (h×w×c) → one spiking population fed by `p`.
Network one_layer(Shape in, Shape out, Projection p) {
    Network net;
    net.populations.push_back(input(in));
    Population pop;
    pop.name = "layer";
    pop.shape = out;
    pop.bias.assign(std::size_t(out.c), 0.0f);
    p.source = 0;
    pop.projections.push_back(std::move(p));
    net.populations.push_back(std::move(pop));
    return net;
}

// A random binary projection: ±α_j with α_j in [0.1, 2), packed.
Projection random_binary(const Geometry& g, std::mt19937& rng) {
    Projection p = random_projection(g, rng);
    binarize(p, g.src, g.dst, "test");
    return p;
}

} // namespace

TEST_CASE("a dense layer packs one row of bits per output unit, 1 for +alpha", "[binary]") {
    // W (in 3, out 2): output 0 gets +a, −a, +a from inputs 0, 1, 2; output 1 gets −b, +b, +b.
    const float a = 0.75f, b = 1.5f;
    Projection p = projection(0, ProjectionKind::Dense, {}, {a, -b, -a, b, a, b}, "d");
    pack_binary(p, {1, 1, 3}, {1, 1, 2}, "d");
    REQUIRE(p.binary);
    CHECK(p.bin.rows == 2);
    CHECK(p.bin.row_bits == 3);
    CHECK(p.bin.row_words == 1);
    CHECK(p.bin.bits == std::vector<std::uint64_t>{0b101, 0b110});
    CHECK(p.bin.alpha == std::vector<float>{a, b});
    CHECK(unpack_binary(p, {1, 1, 3}, {1, 1, 2}) == p.weights);
}

TEST_CASE("a conv layer packs one row per output channel and kernel offset, over the input channels", "[binary]") {
    // Kernel (kh 1, kw 2, cin 2, cout 2) = w[tap][ci][co]; row = co·2 + tap, bit = ci.
    Projection p = projection(0, ProjectionKind::Conv2D, {1, 2, 1, 1, 0, 0},
                              {/*tap0 ci0*/ 1, -2, /*tap0 ci1*/ -1, 2, /*tap1 ci0*/ -1, -2, /*tap1 ci1*/ 1, 2}, "c");
    pack_binary(p, {1, 3, 2}, {1, 2, 2}, "c");
    CHECK(p.bin.rows == 4);
    CHECK(p.bin.row_bits == 2);
    // co 0: tap 0 → ci0 + (0b01), tap 1 → ci1 + (0b10); co 1: tap 0 → ci1 (0b10), tap 1 → ci1 (0b10).
    CHECK(p.bin.bits == std::vector<std::uint64_t>{0b01, 0b10, 0b10, 0b10});
    CHECK(p.bin.alpha == std::vector<float>{1, 2});
}

TEST_CASE("bits past a row's inputs are zero, whatever the weights", "[binary]") {
    std::mt19937 rng(7);
    for (int n_in : {1, 63, 64, 65, 100, 130}) {
        const Geometry g{ProjectionKind::Dense, {1, 1, n_in}, {1, 1, 5}, {}};
        Projection p = random_projection(g, rng);
        for (float& w : p.weights) w = std::fabs(w) > 0 ? 1.0f : 1.0f; // every weight +1: every used bit set
        pack_binary(p, g.src, g.dst, "d");
        for (std::int64_t r = 0; r < p.bin.rows; ++r) {
            int set = 0;
            for (std::int64_t k = 0; k < p.bin.row_words; ++k) set += std::popcount(p.bin.bits[std::size_t(r * p.bin.row_words + k)]);
            CHECK(set == n_in);
        }
    }
}

TEST_CASE("packing refuses weights that are not ±alpha per output, naming the output", "[binary]") {
    Projection p = projection(0, ProjectionKind::Dense, {}, {1, 2, -1, 2, 1, -2.5f}, "d");
    CHECK_THROWS_WITH(pack_binary(p, {1, 1, 3}, {1, 1, 2}, "layer d"), Contains("layer d") && Contains("output 1"));
    Projection pool = projection(0, ProjectionKind::AvgPool, {2, 2, 2, 2, 0, 0}, {0.25f}, "pool");
    CHECK_THROWS_WITH(pack_binary(pool, {2, 2, 1}, {1, 1, 1}, "pool"), Contains("cannot be binary"));
}

TEST_CASE("binarize takes the sign (0 as +1) and alpha = mean |w| per output channel (XNOR-Net)", "[binary]") {
    // Dense (3, 2): column 0 = 0.5, −1, 0 → α = 0.5, signs + − +; column 1 = 2, 0.25, −0.75 → α = 1.
    Projection p = projection(0, ProjectionKind::Dense, {}, {0.5f, 2.0f, -1.0f, 0.25f, 0.0f, -0.75f}, "d");
    binarize(p, {1, 1, 3}, {1, 1, 2}, "d");
    CHECK(p.bin.alpha == std::vector<float>{0.5f, 1.0f});
    CHECK(p.weights == std::vector<float>{0.5f, 1.0f, -0.5f, 1.0f, 0.5f, -1.0f});
    // Conv: α over (kh, kw, cin) for each output channel.
    Projection c = projection(0, ProjectionKind::Conv2D, {1, 2, 1, 1, 0, 0}, {1, -4, -3, 0, 2, 4, 2, 4}, "c");
    binarize(c, {1, 3, 2}, {1, 2, 2}, "c");
    CHECK(c.bin.alpha == std::vector<float>{2.0f, 3.0f});
}

TEST_CASE("a binary network saves its bits, not its floats, and loads back equal", "[binary][io]") {
    TempDir dir("binary-io");
    std::mt19937 rng(3);
    const Geometry dense{ProjectionKind::Dense, {2, 3, 5}, {1, 1, 70}, {}};
    Network net = one_layer(dense.src, dense.dst, random_binary(dense, rng));
    // A binary conv layer after it would need a spatial source; a second network covers conv.
    const Geometry conv{ProjectionKind::Conv2D, {6, 5, 3}, {4, 3, 9}, {3, 3, 1, 1, 0, 0}};
    Network cnet = one_layer(conv.src, conv.dst, random_binary(conv, rng));
    for (Network* n : {&net, &cnet}) {
        const std::string path = dir.file("b.snn.h5");
        save(*n, path);
        const Network back = load(path);
        CHECK(back == *n);
        h5::Node f = h5::open_file(path);
        CHECK(h5::read_int_attr(f, "format_version") == 3);
        const h5::Node pg = h5::open_group(f, "populations/001/projections/000");
        CHECK(h5::exists(pg, "bits"));
        CHECK_FALSE(h5::exists(pg, "weights"));
        const Projection& p = n->populations[1].projections[0];
        CHECK(h5::dataset_dims(pg, "bits") == std::vector<std::uint64_t>{std::uint64_t(p.bin.rows), std::uint64_t(p.bin.row_words)});
    }
    // A network without binary layers keeps its old version.
    Projection f = random_projection(dense, rng);
    save(one_layer(dense.src, dense.dst, f), dir.file("f.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(dir.file("f.snn.h5")), "format_version") == 1);
}

TEST_CASE("the loader refuses corrupt binary weights with a message naming the file", "[binary][io]") {
    TempDir dir("binary-bad");
    std::mt19937 rng(5);
    const Geometry g{ProjectionKind::Dense, {1, 1, 70}, {1, 1, 4}, {}};
    const Network net = one_layer(g.src, g.dst, random_binary(g, rng));
    const auto rewrite = [&](const std::string& name, auto&& edit) {
        const std::string path = dir.file(name);
        save(net, path);
        // Reopen read-write through the C API to change one dataset.
        const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(fid >= 0);
        const hid_t gid = H5Gopen2(fid, "populations/001/projections/000", H5P_DEFAULT);
        edit(gid);
        H5Gclose(gid);
        H5Fclose(fid);
        return path;
    };
    // A padding bit set in row 0 (inputs 64..69 use bits 0..5 of word 1; bit 6 is padding).
    const std::string padded = rewrite("padded.snn.h5", [&](hid_t gid) {
        std::vector<std::uint64_t> bits = net.populations[1].projections[0].bin.bits;
        bits[1] |= std::uint64_t(1) << 6;
        const hid_t d = H5Dopen2(gid, "bits", H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
        H5Dclose(d);
    });
    CHECK_THROWS_WITH(load(padded), Contains(padded) && Contains("past its 70 inputs"));
    const std::string short_alpha = rewrite("alpha.snn.h5", [&](hid_t gid) {
        H5Ldelete(gid, "alpha", H5P_DEFAULT);
        const hsize_t dims[1] = {3};
        const hid_t space = H5Screate_simple(1, dims, nullptr);
        const hid_t d = H5Dcreate2(gid, "alpha", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const float a[3] = {1, 1, 1};
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a);
        H5Dclose(d);
        H5Sclose(space);
    });
    CHECK_THROWS_WITH(load(short_alpha), Contains(short_alpha) && Contains("do not match the layer") && Contains("3 scales"));
    const std::string negative = rewrite("negative.snn.h5", [&](hid_t gid) {
        const float a[4] = {1, -1, 1, 1};
        const hid_t d = H5Dopen2(gid, "alpha", H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a);
        H5Dclose(d);
    });
    CHECK_THROWS_WITH(load(negative), Contains(negative) && Contains("alpha"));
}

TEST_CASE("a binary layer's file holds about 32x fewer weight bytes than its float version", "[binary]") {
    std::mt19937 rng(9);
    const Geometry g{ProjectionKind::Dense, {1, 1, 1024}, {1, 1, 1024}, {}};
    Projection f = random_projection(g, rng);
    Projection b = f;
    binarize(b, g.src, g.dst, "d");
    CHECK(weight_bytes(f) == 1024 * 1024 * 4);
    CHECK(weight_bytes(b) == 1024 * 16 * 8 + 1024 * 4); // bits + one α per output
}
