// DepthwiseConv2D as a projection kind (snn/kinds, convert/kinds, sim/kinds):
// its reference event kernel and its DNN pass against the closed form
//   out[oy, ox, c·M + m] = Σ_{ky,kx} w[ky, kx, c, m] · in[oy·s + ky − pad, ox·s + kx − pad, c]
// written out here with explicit loops, on random shapes with tails (channel
// counts that are not multiples of 16, odd sizes, strides 1 and 2, same and
// valid padding, depth multipliers 1 to 3); and the engine's kernel path
// against the reference kernel bit for bit.
#include "convert/dnn.hpp"
#include "convert/dnn_kind.hpp"
#include "convert/keras.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"
#include "sim/kernels.hpp"
#include "sim/sim_kind.hpp"
#include "snn/window.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

using namespace snn;

namespace {

struct Case {
    Shape src, dst;
    Projection p;
};

Case depthwise(std::mt19937& rng, Shape src, int k, int stride, bool same, int M) {
    Case c;
    c.src = src;
    c.dst = {window_out_size(src.h, k, stride, same), window_out_size(src.w, k, stride, same), src.c * M};
    c.p.kind = ProjectionKind::DepthwiseConv2D;
    c.p.window = {k, k, stride, stride, window_pad_before(src.h, k, stride, same), window_pad_before(src.w, k, stride, same)};
    std::normal_distribution<float> normal;
    for (int i = 0; i < k * k * c.dst.c; ++i) c.p.weights.push_back(normal(rng));
    return c;
}

// The closed form, in double.
std::vector<double> closed_form(const Case& c, const std::vector<float>& in) {
    const Window& w = c.p.window;
    const int C = c.src.c, M = c.dst.c / C;
    std::vector<double> out(std::size_t(c.dst.size()), 0.0);
    for (int oy = 0; oy < c.dst.h; ++oy)
        for (int ox = 0; ox < c.dst.w; ++ox)
            for (int ch = 0; ch < C; ++ch)
                for (int m = 0; m < M; ++m) {
                    double sum = 0;
                    for (int ky = 0; ky < w.kh; ++ky)
                        for (int kx = 0; kx < w.kw; ++kx) {
                            const int y = oy * w.sh + ky - w.pad_top, x = ox * w.sw + kx - w.pad_left;
                            if (y < 0 || y >= c.src.h || x < 0 || x >= c.src.w) continue;
                            sum += double(c.p.weights[std::size_t(((ky * w.kw + kx) * C + ch) * M + m)]) *
                                   in[std::size_t((y * c.src.w + x) * C + ch)];
                        }
                    out[std::size_t((oy * c.dst.w + ox) * c.dst.c + ch * M + m)] = sum;
                }
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("the depthwise kind's event kernel and DNN pass equal the closed form", "[sim][kinds][depthwise]") {
    std::mt19937 rng(41);
    const Shape src = GENERATE(Shape{7, 9, 3}, Shape{8, 8, 17}, Shape{5, 6, 1});
    const int k = GENERATE(2, 3), stride = GENERATE(1, 2), M = GENERATE(1, 3);
    const bool same = GENERATE(true, false);
    const Case c = depthwise(rng, src, k, stride, same, M);
    INFO(src.str() << " k " << k << " stride " << stride << " M " << M << (same ? " same" : " valid") << " → " << c.dst.str());
    REQUIRE(c.dst.size() > 0);
    std::bernoulli_distribution spike(0.3);
    std::uniform_real_distribution<float> value(0.0f, 1.0f);
    std::vector<float> in(std::size_t(src.size()), 0.0f), values;
    std::vector<std::int32_t> units;
    for (std::int64_t u = 0; u < src.size(); ++u)
        if (spike(rng)) {
            units.push_back(std::int32_t(u));
            values.push_back(value(rng));
            in[std::size_t(u)] = values.back();
        }
    REQUIRE_FALSE(units.empty());
    const std::vector<double> want = closed_form(c, in);

    std::vector<float> got(std::size_t(c.dst.size()), 0.0f);
    const std::int64_t ops = scatter(c.p, c.src, c.dst, units, values.data(), got.data());
    std::vector<float> dnn(std::size_t(c.dst.size()), 0.0f);
    dnn_kind(c.p.kind).forward(c.p, c.src, c.dst, in.data(), dnn.data());
    for (std::size_t j = 0; j < want.size(); ++j) {
        INFO("unit " << j);
        CHECK(got[j] == Approx(want[j]).margin(1e-5));
        CHECK(dnn[j] == Approx(want[j]).margin(1e-5));
    }
    // One addition per (spike, covering window, multiplier).
    std::int64_t covering = 0;
    for (std::int32_t u : units) {
        const int x = (u / src.c) % src.w, y = u / (src.c * src.w);
        for_each_covering_window(c.p.window, c.dst, y, x, [&](int, int, int, int) { ++covering; });
    }
    CHECK(ops == covering * M);
    CHECK(kind_traits(c.p.kind).dnn_macs(c.p, c.src, c.dst) == window_taps(c.p, c.src, c.dst) * c.dst.c);

    // The engine's kernel gives the reference kernel's currents bit for bit, spikes and values.
    const ProjectionKernel kernel(c.p, c.src, c.dst);
    std::vector<float> fast(got.size(), 0.0f), ref(got.size(), 0.0f);
    kernel.scatter(c.p, units, nullptr, fast.data());
    scatter(c.p, c.src, c.dst, units, nullptr, ref.data());
    CHECK(same_bits(fast, ref));
    std::fill(fast.begin(), fast.end(), 0.0f);
    kernel.scatter(c.p, units, values.data(), fast.data());
    CHECK(same_bits(fast, got));
}

TEST_CASE("a depthwise projection that does not fit its shapes is refused naming the population", "[sim][kinds][depthwise]") {
    Population pop;
    pop.name = "dw";
    pop.shape = {4, 4, 5};
    Projection p;
    p.kind = ProjectionKind::DepthwiseConv2D;
    p.window = {3, 3, 1, 1, 1, 1};
    try {
        kind_traits(p.kind).check_shapes(pop, p, Shape{4, 4, 2});
        FAIL("5 target channels from 2 sources was accepted");
    } catch (const ModelError& e) {
        CHECK(e.context.layer == "dw");
        CHECK(std::string(e.what()).find("depth multiplier") != std::string::npos);
    }
}

// The Keras fixture written by tools/make_fixtures.py (DepthwiseConv2D with a
// depth multiplier of 2, stride 2, `same`, BatchNorm folded; SeparableConv2D;
// DepthwiseConv2D with a bias): the imported network's DNN pass against the
// logits of the independent numpy pass (tools/keras_h5.py forward), and its
// spiking run against its own DNN pass.
TEST_CASE("the Keras MobileNet fixture imports and matches the numpy reference", "[convert][kinds][depthwise]") {
    const std::string dir = std::string(SNN_SOURCE_DIR) + "/data/fixtures/";
    Network net = import_keras(dir + "tiny_keras2_mobilenet.h5");
    REQUIRE(net.populations.size() == 5); // input, dw1 (+bn1, relu1), sep, dw2, d (gap folded into d)
    CHECK(net.populations[1].name == "dw1");
    CHECK(net.populations[1].projections[0].kind == ProjectionKind::DepthwiseConv2D);
    CHECK(net.populations[1].shape == Shape{5, 5, 6});
    CHECK(net.populations[2].name == "sep");
    CHECK(net.populations[2].projections[0].kind == ProjectionKind::Conv2D); // the two kernels multiplied out
    CHECK(net.populations[3].projections[0].kind == ProjectionKind::DepthwiseConv2D);
    h5::Node f = h5::open_file(dir + "tiny_keras2_mobilenet.ref.h5");
    std::vector<std::uint64_t> x_dims, y_dims;
    const std::vector<float> x = h5::read_floats(f, "x", &x_dims), y = h5::read_floats(f, "y_dnn", &y_dims);
    REQUIRE(x_dims == std::vector<std::uint64_t>{8, 9, 9, 3});
    REQUIRE(y_dims == std::vector<std::uint64_t>{8, 3});
    for (std::size_t s = 0; s < 8; ++s) {
        INFO("sample " << s);
        const auto act = forward(net, x.data() + s * 243);
        for (std::size_t j = 0; j < 3; ++j) CHECK(act.back()[j] == Approx(y[s * 3 + j]).epsilon(1e-4).margin(1e-6));
    }
    // Saved and loaded, the depthwise projections keep their kind, window and weights.
    test::TempDir tmp("dw");
    save(net, tmp.file("mobilenet.snn.h5"));
    // A depthwise projection needs format_version 4 (older readers refuse the file by its version).
    CHECK(h5::read_int_attr(h5::open_file(tmp.file("mobilenet.snn.h5")), "format_version") == 4);
    const Network back = load(tmp.file("mobilenet.snn.h5"));
    REQUIRE(back.populations.size() == net.populations.size());
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        CHECK(back.populations[i].projections[0].kind == net.populations[i].projections[0].kind);
        CHECK(back.populations[i].projections[0].window == net.populations[i].projections[0].window);
        CHECK(back.populations[i].projections[0].weights == net.populations[i].projections[0].weights);
    }
}
