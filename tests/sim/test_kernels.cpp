// The engine's fast kernels (sim/kernels.hpp: ProjectionKernel's scatter and
// gather) against the plain reference kernel snn::scatter, bit for bit: they
// add the same weights in the same order for every target unit, so currents,
// spikes and membranes must be equal, not merely close.
#include "sim/engine.hpp"
#include "sim/kernels.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include <cstring>
#include <random>

using namespace snn;
using snn::test::input;

namespace {

using Case = test::Geometry;
using test::random_projection;

Case conv(Shape s, int k, int stride, bool same, int cout) {
    Window w{k, k, stride, stride, window_pad_before(s.h, k, stride, same), window_pad_before(s.w, k, stride, same)};
    return {ProjectionKind::Conv2D, s, {window_out_size(s.h, k, stride, same), window_out_size(s.w, k, stride, same), cout}, w};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("ProjectionKernel's scatter and gather give the reference kernel's currents bit for bit", "[sim][kernels]") {
    std::mt19937 rng(7);
    const std::vector<Case> cases = {
        {ProjectionKind::Dense, {1, 1, 37}, {1, 1, 13}, {}},     // rows shorter than a vector
        {ProjectionKind::Dense, {3, 4, 5}, {1, 1, 150}, {}},     // rows of 9 vectors and a tail
        conv({8, 8, 3}, 3, 1, true, 5),                           // runtime-width tail only
        conv({9, 7, 2}, 3, 2, true, 40),                          // 32 + 8
        conv({9, 9, 70}, 3, 1, false, 20),                        // channels across 64-bit words; 16 + tail 4
        conv({12, 12, 16}, 3, 1, false, 32),                      // the MNIST CNN's conv2
        conv({10, 10, 1}, 5, 2, false, 64),                       // one channel per pixel
        conv({7, 7, 5}, 3, 1, false, 16),                         // pixel-grouped scatter: one vector (AVX-512), two (AVX2)
        conv({7, 6, 3}, 2, 1, true, 48),                          // three vectors (AVX-512), six (AVX2)
        conv({6, 6, 4}, 1, 2, true, 8),
        {ProjectionKind::AvgPool, {8, 8, 3}, {4, 4, 3}, {2, 2, 2, 2, 0, 0}},
        {ProjectionKind::AvgPool, {9, 9, 2}, {3, 3, 2}, {3, 3, 3, 3, 0, 0}},
        {ProjectionKind::AvgPool, {7, 7, 2}, {4, 4, 2}, {3, 3, 2, 2, 1, 1}}, // overlapping, padded
        {ProjectionKind::AvgPool, {8, 8, 16}, {4, 4, 16}, {2, 2, 2, 2, 0, 0}}, // whole vectors of channels: masks
        {ProjectionKind::AvgPool, {9, 9, 32}, {4, 4, 32}, {2, 2, 2, 2, 0, 0}}, // the last row and column in no window
        {ProjectionKind::Dense, {1, 1, 50}, {1, 1, 10}, {}},    // the MNIST CNN's classifier width: in registers
        {ProjectionKind::Dense, {2, 2, 9}, {1, 1, 64}, {}},     // four whole vectors, in registers
        {ProjectionKind::Dense, {1, 1, 20}, {1, 1, 65}, {}},    // one past: streamed rows
        {ProjectionKind::Identity, {4, 4, 3}, {4, 4, 3}, {}},
    };
    for (const Case& g : cases)
    for (const FloatIsa isa : test::float_isas()) {
        const Projection p = random_projection(g, rng);
        const ProjectionKernel kernel(p, g.src, g.dst, isa);
        for (double density : {0.0, 0.02, 0.3, 1.0}) {
            std::bernoulli_distribution spike(density);
            std::uniform_real_distribution<float> value(0.1f, 2.0f);
            std::vector<std::int32_t> units;
            std::vector<float> values;
            for (std::int32_t i = 0; i < std::int32_t(g.src.size()); ++i)
                if (spike(rng)) {
                    units.push_back(i);
                    values.push_back(value(rng));
                }
            // A non-zero start, as the engine's currents start from the bias.
            std::vector<float> start(std::size_t(g.dst.size()));
            for (float& x : start) x = value(rng);
            INFO(to_string(g.kind) << " " << g.src.str() << " -> " << g.dst.str() << " density " << density << " float ISA "
                                   << to_string(isa));

            std::vector<float> ref = start, got = start;
            const auto ref_ops = scatter(p, g.src, g.dst, units, nullptr, ref.data());
            CHECK(kernel.scatter(p, units, nullptr, got.data()) == ref_ops);
            CHECK(same_bits(got, ref));

            std::vector<float> ref_a = start, got_a = start;
            const auto ref_ops_a = scatter(p, g.src, g.dst, units, values.data(), ref_a.data());
            CHECK(kernel.scatter(p, units, values.data(), got_a.data()) == ref_ops_a);
            CHECK(same_bits(got_a, ref_a));

            if (kernel.takes_masks()) {
                // The spikes as 16-unit masks, as the engine's neuron update writes them.
                std::vector<std::uint16_t> masks(std::size_t(g.src.size() + 15) / 16, 0);
                for (std::int32_t u : units) masks[std::size_t(u / 16)] |= std::uint16_t(1u << (u % 16));
                std::vector<float> pooled = start;
                CHECK(kernel.pool_masks(p, masks.data(), pooled.data()) == ref_ops);
                CHECK(same_bits(pooled, ref));
            }
            if (kernel.has_gather()) {
                std::vector<std::uint64_t> bits(std::size_t(g.src.size() + 63) / 64, 0);
                set_spike_bits(units, bits.data());
                std::vector<float> gathered = start;
                CHECK(kernel.gather(p, bits.data(), gathered.data()) == ref_ops);
                CHECK(same_bits(gathered, ref));
                clear_spike_bits(units, bits.data());
                for (std::uint64_t word : bits) REQUIRE(word == 0);
            }
        }
    }
}

namespace {

// input → conv (same, c1 channels) → avgpool 2×2 → conv (valid, c2 channels) → dense 10.
// 40 and 20: chunk widths 32 + 8 and 16 + a runtime tail of 4 on the gather
// path, and the portable scatter. 16 and 32: the AVX-512 paths (pooling from
// spike masks, pixel-grouped conv scatter, a classifier in registers).
Network conv_network(std::mt19937& rng, int c1 = 40, int c2 = 20) {
    Network net;
    net.populations.push_back(input({10, 10, 3}));
    auto add = [&](std::string name, Shape shape, Case g, int source, float mean, float sd) {
        std::normal_distribution<float> normal(mean, sd);
        Projection p;
        p.source = source;
        p.kind = g.kind;
        p.window = g.w;
        p.layer = name;
        const auto n = expected_weight_count(p, g.src, g.dst);
        for (std::int64_t i = 0; i < n; ++i) p.weights.push_back(normal(rng));
        Population pop;
        pop.name = name;
        pop.shape = shape;
        pop.projections.push_back(p);
        pop.bias.assign(std::size_t(shape.c), 0.01f);
        pop.neuron.v_init = 0.5f;
        net.populations.push_back(pop);
    };
    const Case conv1 = conv({10, 10, 3}, 3, 1, true, c1);
    add("conv1", conv1.dst, conv1, 0, 0.06f, 0.1f);
    const Case pool{ProjectionKind::AvgPool, conv1.dst, {5, 5, c1}, {2, 2, 2, 2, 0, 0}};
    add("pool1", pool.dst, pool, 1, 0.3f, 0.05f);
    const Case conv2 = conv(pool.dst, 3, 1, false, c2);
    add("conv2", conv2.dst, conv2, 2, 0.02f, 0.1f);
    const Case d{ProjectionKind::Dense, conv2.dst, {1, 1, 10}, {}};
    add("dense", d.dst, d, 3, 0.0f, 0.2f);
    return net;
}

} // namespace

TEST_CASE("every kernel path gives the reference engine's spikes and membranes bit for bit", "[sim][kernels]") {
    std::mt19937 rng(11);
    const int variant = GENERATE(0, 1, 2);
    // 16-bit membranes (sim/neuron.hpp): the fixed-point rule in every copy too.
    const int state_bits = GENERATE(32, 16);
    Network net = variant == 0 ? conv_network(rng) : conv_network(rng, 16, 32);
    set_state_bits(net, state_bits);
    if (variant == 2) {
        // An exit at conv1 that is never taken splits the run in two
        // segments: pool1 reads conv1's spikes back from the history, where
        // no spike masks of the neuron update exist.
        Exit e;
        e.name = "exit_conv1";
        e.at = "conv1";
        e.weights.assign(std::size_t(net.populations[1].shape.size()) * 10, 0.01f);
        e.bias.assign(10, 0.0f);
        e.threshold = 0.0f; // entropy is never below 0
        e.check_every = 4;
        net.exits.push_back(e);
    }
    INFO("network: conv1 " << net.populations[1].shape.c << " channels, " << net.exits.size() << " exits, "
                           << state_bits << "-bit membranes");
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<std::vector<float>> samples(4, std::vector<float>(300));
    for (auto& x : samples)
        for (float& v : x) v = pixel(rng) < 0.3f ? 0.0f : pixel(rng);
    for (Encoding encode : {Encoding::Current, Encoding::Poisson}) {
        RunOptions base;
        base.steps = 24;
        base.encode = encode;
        base.kernels = KernelPath::Reference;
        base.float_isa = FloatIsa::Portable;
        Engine reference(net, base);
        SampleState ref_state;
        reference.init(ref_state);
        for (KernelPath path : {KernelPath::Event, KernelPath::Gather, KernelPath::Auto})
        for (const FloatIsa isa : test::float_isas()) {
            RunOptions o = base;
            o.kernels = path;
            o.float_isa = isa;
            Engine engine(net, o);
            SampleState state;
            engine.init(state);
            for (std::size_t k = 0; k < samples.size(); ++k) {
                reference.run_sample(samples[k].data(), std::int64_t(k), ref_state, nullptr);
                engine.run_sample(samples[k].data(), std::int64_t(k), state, nullptr);
                INFO("encode " << to_string(encode) << " path " << int(path) << " float ISA " << to_string(isa) << " sample " << k);
                for (std::size_t i = 1; i < net.populations.size(); ++i) {
                    INFO(net.populations[i].name);
                    // The case is only a test if every layer spikes.
                    REQUIRE(ref_state.spike_total[i] > 0);
                    CHECK(state.counts[i] == ref_state.counts[i]);
                    CHECK(same_bits(state.v[i], ref_state.v[i]));
                    CHECK(state.synaptic_ops[i] == ref_state.synaptic_ops[i]);
                    CHECK(state.spike_total[i] == ref_state.spike_total[i]);
                    // 16 bits: every membrane a whole number of steps v_th/256 (v_th is 1), within the codes' range.
                    if (state_bits == 16)
                        for (float v : state.v[i]) {
                            CHECK(v * 256.0f == std::nearbyint(v * 256.0f));
                            CHECK((v * 256.0f >= -32768.0f && v * 256.0f <= 32767.0f));
                        }
                }
                CHECK(state.prediction == ref_state.prediction);
            }
        }
    }
}
