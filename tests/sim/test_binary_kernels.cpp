// Binary kernels (sim/binary_kernels.hpp): every popcount implementation the
// CPU has against the scalar one bit for bit, and all of them against the
// closed form α·(2·#(spikes on +α weights) − #spikes) counted here from the
// float weights, on random shapes with tails (inputs and outputs that are
// not multiples of 64 or 8). Then the engine: a binary network gives the
// same spikes with every implementation and every kernel path.
#include "convert/dnn.hpp"
#include "sim/binary_kernels.hpp"
#include "sim/engine.hpp"
#include "snn/binary.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using namespace snn;
using namespace snn::test;

namespace {

std::vector<PopcountIsa> supported_isas() { return test::popcount_isas(); }

std::vector<std::int32_t> random_spikes(std::int64_t n, double rate, std::mt19937& rng) {
    std::bernoulli_distribution spike(rate);
    std::vector<std::int32_t> units;
    for (std::int64_t u = 0; u < n; ++u)
        if (spike(rng)) units.push_back(std::int32_t(u));
    return units;
}

// The closed form, counted from the float weights one connection at a time.
std::vector<float> closed_form(const Projection& p, const Shape& src, const Shape& dst, const std::vector<std::int32_t>& units) {
    std::vector<std::uint8_t> s(std::size_t(src.size()), 0);
    for (auto u : units) s[std::size_t(u)] = 1;
    std::vector<float> out(std::size_t(dst.size()), 0.0f);
    if (p.kind == ProjectionKind::Dense) {
        for (std::int64_t j = 0; j < dst.size(); ++j) {
            std::int64_t plus = 0, n = 0;
            for (std::int64_t i = 0; i < src.size(); ++i)
                if (s[std::size_t(i)]) {
                    ++n;
                    plus += p.weights[std::size_t(i * dst.size() + j)] > 0;
                }
            out[std::size_t(j)] = p.bin.alpha[std::size_t(j)] * float(2 * plus - n);
        }
        return out;
    }
    const Window& w = p.window;
    for (int oy = 0; oy < dst.h; ++oy)
        for (int ox = 0; ox < dst.w; ++ox)
            for (int co = 0; co < dst.c; ++co) {
                std::int64_t plus = 0, n = 0;
                for (int ky = 0; ky < w.kh; ++ky)
                    for (int kx = 0; kx < w.kw; ++kx) {
                        const int y = oy * w.sh - w.pad_top + ky, x = ox * w.sw - w.pad_left + kx;
                        if (y < 0 || x < 0 || y >= src.h || x >= src.w) continue;
                        for (int ci = 0; ci < src.c; ++ci) {
                            if (!s[std::size_t((y * src.w + x) * src.c + ci)]) continue;
                            ++n;
                            plus += p.weights[std::size_t(((ky * w.kw + kx) * src.c + ci) * dst.c + co)] > 0;
                        }
                    }
                if (n) out[std::size_t((oy * dst.w + ox) * dst.c + co)] = p.bin.alpha[std::size_t(co)] * float(2 * plus - n);
            }
    return out;
}

void check_kernel(const Geometry& g, double rate, std::mt19937& rng) {
    Projection p = random_projection(g, rng);
    binarize(p, g.src, g.dst, "test");
    const BinaryKernel k(p, g.src, g.dst);
    const auto units = random_spikes(g.src.size(), rate, rng);
    const auto want = closed_form(p, g.src, g.dst, units);
    std::vector<float> dense_ref(std::size_t(g.dst.size()), 0.0f);
    {
        std::vector<float> in(std::size_t(g.src.size()), 0.0f);
        for (auto u : units) in[std::size_t(u)] = 1.0f;
        accumulate_dense(p, g.src, g.dst, in.data(), dense_ref.data());
    }
    for (PopcountIsa isa : supported_isas()) {
        INFO("isa " << to_string(isa) << ", " << to_string(g.kind) << " " << g.src.str() << " → " << g.dst.str()
                    << ", rate " << rate);
        std::vector<std::uint64_t> scratch(k.scratch_words(), 0);
        std::vector<float> cur(std::size_t(g.dst.size()), 0.0f);
        k.accumulate(units, scratch.data(), cur.data(), isa);
        CHECK(cur == want);
        CHECK(std::all_of(scratch.begin(), scratch.end(), [](std::uint64_t w) { return w == 0; }));
        // The float reference sums ±α one input at a time: equal up to rounding.
        for (std::size_t j = 0; j < cur.size(); ++j)
            CHECK(cur[j] == Approx(dense_ref[j]).margin(1e-4 * (1 + std::fabs(dense_ref[j]))));
    }
}

} // namespace

TEST_CASE("binary dense kernels equal the closed form bit for bit on every implementation", "[binary][kernels]") {
    std::mt19937 rng(11);
    for (int n_in : {1, 5, 63, 64, 65, 130, 1024})
        for (int n_out : {1, 7, 8, 9, 33, 100})
            for (double rate : {0.0, 0.05, 0.3, 1.0})
                check_kernel({ProjectionKind::Dense, {1, 1, n_in}, {1, 1, n_out}, {}}, rate, rng);
}

TEST_CASE("binary conv kernels equal the closed form bit for bit on every implementation", "[binary][kernels]") {
    std::mt19937 rng(12);
    struct Case { Shape src; int cout; Window w; };
    const std::vector<Case> cases = {
        {{6, 6, 1}, 8, {3, 3, 1, 1, 0, 0}},   {{7, 5, 3}, 5, {3, 3, 1, 1, 1, 1}},
        {{8, 8, 16}, 64, {3, 3, 1, 1, 0, 0}}, {{5, 6, 64}, 13, {2, 2, 2, 2, 0, 0}},
        {{6, 6, 70}, 72, {3, 3, 2, 2, 1, 1}}, {{4, 4, 130}, 9, {1, 1, 1, 1, 0, 0}},
    };
    for (const auto& c : cases)
        for (double rate : {0.0, 0.1, 0.5, 1.0}) {
            const Window& w = c.w;
            const bool same = w.pad_top > 0;
            const Shape dst{window_out_size(c.src.h, w.kh, w.sh, same), window_out_size(c.src.w, w.kw, w.sw, same), c.cout};
            Window win = w;
            win.pad_top = window_pad_before(c.src.h, w.kh, w.sh, same);
            win.pad_left = window_pad_before(c.src.w, w.kw, w.sw, same);
            check_kernel({ProjectionKind::Conv2D, c.src, dst, win}, rate, rng);
        }
}

TEST_CASE("the XNOR baseline equals the ±1 dot product on every implementation", "[binary][kernels]") {
    std::mt19937 rng(13);
    for (int n_in : {1, 63, 64, 65, 200})
        for (int n_out : {1, 8, 13}) {
            const Geometry g{ProjectionKind::Dense, {1, 1, n_in}, {1, 1, n_out}, {}};
            Projection p = random_projection(g, rng);
            binarize(p, g.src, g.dst, "x");
            const BinaryKernel k(p, g.src, g.dst);
            std::bernoulli_distribution coin(0.5);
            std::vector<std::uint64_t> bits(std::size_t(words_for(n_in)), 0);
            std::vector<int> a(static_cast<std::size_t>(n_in));
            for (int i = 0; i < n_in; ++i) {
                a[std::size_t(i)] = coin(rng) ? 1 : -1;
                if (a[std::size_t(i)] > 0) bits[std::size_t(i / 64)] |= std::uint64_t(1) << (i % 64);
            }
            if (n_in % 64) bits.back() |= ~std::uint64_t(0) << (n_in % 64); // garbage past n: ignored
            std::vector<float> want(static_cast<std::size_t>(n_out));
            for (int j = 0; j < n_out; ++j) {
                std::int64_t dot = 0; // Σ a_i · sign(w_ij), an exact integer
                for (int i = 0; i < n_in; ++i) dot += a[std::size_t(i)] * (p.weights[std::size_t(i * n_out + j)] > 0 ? 1 : -1);
                want[std::size_t(j)] = p.bin.alpha[std::size_t(j)] * float(dot);
            }
            for (PopcountIsa isa : supported_isas()) {
                std::vector<float> out(static_cast<std::size_t>(n_out), -7.0f);
                CHECK(k.xnor(bits.data(), out.data(), isa) == std::int64_t(n_in) * n_out);
                CHECK(out == want);
            }
        }
}

TEST_CASE("a binary network gives the same spikes with every popcount implementation and kernel path",
          "[binary][engine]") {
    std::mt19937 rng(21);
    // input 10×10×2 → conv 3×3 → 8×8×16 (float) → conv 3×3 → 6×6×70 (binary) → dense 10 (binary)
    Network net;
    net.populations.push_back(input({10, 10, 2}));
    // A population fed by the last one through a random projection of geometry g (binary or scaled by `scale`).
    const auto add = [&](const std::string& name, const Geometry& g, float bias, bool binary, float scale) {
        Population pop;
        pop.name = name;
        pop.shape = g.dst;
        pop.bias.assign(std::size_t(g.dst.c), bias);
        Projection p = random_projection(g, rng);
        p.source = int(net.populations.size()) - 1;
        for (float& w : p.weights) w *= scale;
        if (binary) binarize(p, g.src, g.dst, name);
        pop.projections.push_back(std::move(p));
        net.populations.push_back(std::move(pop));
    };
    add("conv", {ProjectionKind::Conv2D, {10, 10, 2}, {8, 8, 16}, {3, 3, 1, 1, 0, 0}}, 0.05f, false, 0.3f);
    add("hidden", {ProjectionKind::Conv2D, {8, 8, 16}, {6, 6, 70}, {3, 3, 1, 1, 0, 0}}, 0.02f, true, 1.0f);
    add("out", {ProjectionKind::Dense, {6, 6, 70}, {1, 1, 10}, {}}, 0.0f, true, 1.0f);
    validate(net);

    Dataset data;
    data.name = "random";
    data.shape = {10, 10, 2};
    std::uniform_real_distribution<float> u(0, 1);
    for (int i = 0; i < 6; ++i) {
        for (int k = 0; k < 200; ++k) data.x.push_back(u(rng));
        data.y.push_back(i % 10);
    }
    RunOptions base;
    base.steps = 21; // not a multiple of the 8 steps a binary dense layer takes per pass
    base.record_samples = 6;
    base.popcount = PopcountIsa::Scalar;
    base.kernels = KernelPath::Reference;
    const RunResult ref = simulate(net, data, base);
    REQUIRE(ref.spikes[2] > 0);
    REQUIRE(ref.spikes[3] > 0);
    CHECK(ref.binary_ops[2] > 0);
    CHECK(ref.binary_ops[1] == 0);
    for (PopcountIsa isa : supported_isas())
        for (KernelPath path : {KernelPath::Auto, KernelPath::Event, KernelPath::Gather})
            for (int threads : {1, 2}) {
                RunOptions opt = base;
                opt.popcount = isa;
                opt.kernels = path;
                opt.threads = threads;
                const RunResult r = simulate(net, data, opt);
                INFO(to_string(isa) << " threads " << threads);
                CHECK(r.recorded.size() == ref.recorded.size());
                CHECK(std::equal(r.recorded.begin(), r.recorded.end(), ref.recorded.begin(), ref.recorded.end(),
                                 [](const Spike& a, const Spike& b) {
                                     return a.sample == b.sample && a.population == b.population && a.neuron == b.neuron &&
                                            a.step == b.step && a.sign == b.sign;
                                 }));
                CHECK(r.binary_ops == ref.binary_ops);
                CHECK(r.synaptic_ops == ref.synaptic_ops);
            }
    // Step batches off: the same again (with AVX-512 they are on above for `out`, a binary dense layer).
    RunOptions plain = base;
    plain.kernels = KernelPath::Auto;
    plain.popcount = std::nullopt;
    plain.step_batches = false;
    plain.layer_by_layer = false;
    plain.encode = Encoding::Poisson;
    RunOptions batched = plain;
    batched.step_batches = true;
    batched.layer_by_layer = true;
    const RunResult a = simulate(net, data, plain), b = simulate(net, data, batched);
    CHECK(a.predictions == b.predictions);
    CHECK(a.spikes == b.spikes);
    CHECK(a.synaptic_ops == b.synaptic_ops);
    CHECK(a.recorded.size() == b.recorded.size());
    CHECK(std::equal(a.recorded.begin(), a.recorded.end(), b.recorded.begin(), b.recorded.end(),
                     [](const Spike& x, const Spike& y) {
                         return x.sample == y.sample && x.population == y.population && x.neuron == y.neuron &&
                                x.step == y.step;
                     }));
}

TEST_CASE("binary synaptic events count what the float event kernel would add", "[binary][kernels]") {
    std::mt19937 rng(31);
    for (const Geometry& g : {Geometry{ProjectionKind::Dense, {1, 1, 300}, {1, 1, 17}, {}},
                              Geometry{ProjectionKind::Conv2D, {7, 7, 5}, {5, 5, 9}, {3, 3, 1, 1, 0, 0}}}) {
        Projection p = random_projection(g, rng);
        binarize(p, g.src, g.dst, "t");
        const BinaryKernel k(p, g.src, g.dst);
        const auto units = random_spikes(g.src.size(), 0.2, rng);
        std::vector<std::uint64_t> scratch(k.scratch_words(), 0);
        std::vector<float> a(std::size_t(g.dst.size()), 0.0f), b = a;
        const std::int64_t events = k.accumulate(units, scratch.data(), a.data(), PopcountIsa::Scalar);
        CHECK(events == scatter(p, g.src, g.dst, units, nullptr, b.data()));
    }
}

TEST_CASE("a batch of spike lists gives the currents of one call per list", "[binary][kernels]") {
    std::mt19937 rng(41);
    for (int n_in : {5, 64, 130, 1024})
        for (int n_out : {3, 16, 33, 100})
            for (int batch : {1, 2, 5, 8, 11}) {
                const Geometry g{ProjectionKind::Dense, {1, 1, n_in}, {1, 1, n_out}, {}};
                Projection p = random_projection(g, rng);
                binarize(p, g.src, g.dst, "b");
                const BinaryKernel k(p, g.src, g.dst);
                std::vector<std::vector<std::int32_t>> lists;
                for (int b = 0; b < batch; ++b) lists.push_back(random_spikes(n_in, b % 3 == 2 ? 0.0 : 0.15, rng));
                std::vector<std::span<const std::int32_t>> spans(lists.begin(), lists.end());
                for (PopcountIsa isa : supported_isas()) {
                    INFO(to_string(isa) << " " << n_in << "→" << n_out << " batch " << batch);
                    std::vector<std::uint64_t> scratch(k.scratch_words(), 0);
                    std::vector<std::vector<float>> one(std::size_t(batch), std::vector<float>(std::size_t(n_out), 0.5f)),
                        many = one;
                    std::int64_t want = 0;
                    for (int b = 0; b < batch; ++b)
                        want += k.accumulate(spans[std::size_t(b)], scratch.data(), one[std::size_t(b)].data(), isa);
                    std::vector<float*> ptrs;
                    for (auto& m : many) ptrs.push_back(m.data());
                    CHECK(k.accumulate_batch(spans, scratch.data(), ptrs.data(), isa) == want);
                    CHECK(many == one);
                    CHECK(std::all_of(scratch.begin(), scratch.end(), [](std::uint64_t w) { return w == 0; }));
                }
            }
}
