// Layer by layer (sim/layerwise.hpp): each population runs all steps before
// the next. The reference is the step-by-step engine on the plain reference
// kernel (KernelPath::Reference), which never runs layer by layer: every
// spike count, membrane, operation count and checkpoint prediction must be
// its bit for bit.
#include "sim/engine.hpp"
#include "snn/binary.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>

using namespace snn;
using snn::test::input;

namespace {

struct Layer {
    test::Geometry g;
    float mean, sd; // of the normal weights
    NeuronParams neuron{};
    bool binary = false; // ±α weights, added by AND + popcount
};

test::Geometry conv(Shape s, int k, int stride, bool same, int cout) {
    Window w{k, k, stride, stride, window_pad_before(s.h, k, stride, same), window_pad_before(s.w, k, stride, same)};
    return {ProjectionKind::Conv2D, s, {window_out_size(s.h, k, stride, same), window_out_size(s.w, k, stride, same), cout}, w};
}

test::Geometry pool(Shape s, int k, int stride, bool same) {
    Window w{k, k, stride, stride, window_pad_before(s.h, k, stride, same), window_pad_before(s.w, k, stride, same)};
    return {ProjectionKind::AvgPool, s, {window_out_size(s.h, k, stride, same), window_out_size(s.w, k, stride, same), s.c}, w};
}

test::Geometry maxpool(Shape s, int k, int stride, bool same) {
    test::Geometry g = pool(s, k, stride, same);
    g.kind = ProjectionKind::MaxPool;
    return g;
}

test::Geometry dense(Shape s, int n) { return {ProjectionKind::Dense, s, {1, 1, n}, {}}; }

Network chain(std::mt19937& rng, Shape in, const std::vector<Layer>& layers) {
    Network net;
    net.populations.push_back(input(in));
    for (const Layer& l : layers) {
        std::normal_distribution<float> normal(l.mean, l.sd);
        Projection p;
        p.source = int(net.populations.size()) - 1;
        p.kind = l.g.kind;
        p.window = l.g.w;
        p.layer = "layer" + std::to_string(net.populations.size());
        const auto n = expected_weight_count(p, l.g.src, l.g.dst);
        for (std::int64_t i = 0; i < n; ++i) p.weights.push_back(normal(rng));
        if (l.binary) binarize(p, l.g.src, l.g.dst, p.layer);
        Population pop;
        pop.name = p.layer;
        pop.shape = l.g.dst;
        pop.projections.push_back(p);
        if (p.kind == ProjectionKind::MaxPool) {
            pop.kind = PopulationKind::MaxPool; // a gate: no weights, no bias
        } else {
            pop.bias.assign(std::size_t(l.g.dst.c), 0.01f);
            pop.neuron = l.neuron;
        }
        net.populations.push_back(pop);
    }
    return net;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

NeuronParams lif_zero() {
    NeuronParams n;
    n.model = NeuronModel::LIF;
    n.tau_steps = 6.0f;
    n.reset = ResetMode::Zero;
    n.v_th = 0.8f;
    return n;
}

NeuronParams starting_at(float v_init) {
    NeuronParams n;
    n.v_init = v_init;
    return n;
}

// Runs `samples` through both engines and compares everything a sample leaves behind.
void check_against_reference(const Network& net, int steps, std::optional<Readout> readout,
                             const std::vector<std::vector<float>>& samples, Encoding encode = Encoding::Current,
                             float max_rate = 1.0f) {
    RunOptions base;
    base.steps = steps;
    base.readout = readout;
    base.encode = encode;
    base.max_rate = max_rate;
    base.seed = 11;
    base.kernels = KernelPath::Reference;
    base.float_isa = FloatIsa::Portable; // the reference: step by step, the portable copy
    Engine reference(net, base);
    REQUIRE_FALSE(reference.layer_by_layer());
    bool lif = false;
    for (const auto& pop : net.populations) lif |= pop.neuron.model == NeuronModel::LIF;
    for (const FloatIsa isa : test::float_isas()) {
    INFO("float ISA " << to_string(isa));
    RunOptions fast = base;
    fast.kernels = KernelPath::Auto;
    fast.float_isa = isa;
    Engine engine(net, fast);
#if defined(__AVX512F__)
    REQUIRE(engine.layer_by_layer());
#else
    // The portable copy runs IF only layer by layer (see update() in sim/layerwise_body.inc).
    REQUIRE(engine.layer_by_layer() == (isa != FloatIsa::Portable || !lif));
#endif
    SampleState ref_state, state;
    reference.init(ref_state);
    engine.init(state);
    for (std::size_t k = 0; k < samples.size(); ++k) {
        reference.run_sample(samples[k].data(), std::int64_t(k), ref_state, nullptr);
        engine.run_sample(samples[k].data(), std::int64_t(k), state, nullptr);
        INFO("sample " << k);
        // With Poisson encoding the input spikes too: drawn for every step first.
        CHECK(state.counts[0] == ref_state.counts[0]);
        CHECK(state.last_spike[0] == ref_state.last_spike[0]);
        CHECK(state.spike_total[0] == ref_state.spike_total[0]);
        if (encode == Encoding::Poisson) REQUIRE(ref_state.spike_total[0] > 0);
        for (std::size_t i = 1; i < net.populations.size(); ++i) {
            INFO(net.populations[i].name);
            // The case is only a test if every layer that can spike does.
            if (i + 1 < net.populations.size() || readout != Readout::Membrane) REQUIRE(ref_state.spike_total[i] > 0);
            CHECK(state.counts[i] == ref_state.counts[i]);
            CHECK(same_bits(state.v[i], ref_state.v[i]));
            CHECK(state.synaptic_ops[i] == ref_state.synaptic_ops[i]);
            CHECK(state.input_macs[i] == ref_state.input_macs[i]);
            CHECK(state.neuron_updates[i] == ref_state.neuron_updates[i]);
            CHECK(state.spike_total[i] == ref_state.spike_total[i]);
        }
        CHECK(state.prediction_at == ref_state.prediction_at);
        CHECK(state.prediction == ref_state.prediction);
        // A partition's cuts: spikes and bits that cross each, step by step.
        REQUIRE(state.cut_spikes.size() == ref_state.cut_spikes.size());
        for (std::size_t c = 0; c < state.cut_spikes.size(); ++c) {
            INFO("cut " << c);
            CHECK(ref_state.cut_spikes[c] > 0);
            CHECK(state.cut_spikes[c] == ref_state.cut_spikes[c]);
            CHECK(state.cut_used[c] == ref_state.cut_used[c]);
            CHECK(state.cut_bits[c].aer == ref_state.cut_bits[c].aer);
            CHECK(state.cut_bits[c].bitmap == ref_state.cut_bits[c].bitmap);
            CHECK(state.cut_bits[c].delta == ref_state.cut_bits[c].delta);
            CHECK(state.cut_bits[c].best == ref_state.cut_bits[c].best);
        }
        CHECK(state.exit_taken == -1);
        CHECK(state.exit_step == steps);
    }
    }
}

std::vector<std::vector<float>> random_samples(std::mt19937& rng, std::int64_t n, int count) {
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<std::vector<float>> samples(std::size_t(count), std::vector<float>(static_cast<std::size_t>(n)));
    for (auto& x : samples)
        for (float& v : x) v = pixel(rng) < 0.3f ? 0.0f : pixel(rng);
    return samples;
}

} // namespace

TEST_CASE("layer by layer gives the step-by-step engine's spikes, membranes and counts bit for bit", "[sim][layerwise]") {
    std::mt19937 rng(5);
    // Steps not a multiple of the 4 steps summed side by side; checkpoints 1, 2, 4, 8, 16, 23.
    const int steps = GENERATE(23, 64);
    const auto readout = GENERATE(as<std::optional<Readout>>{}, Readout::Spikes, Readout::Membrane);
    INFO("steps " << steps << ", readout " << (readout ? int(*readout) : -1));

    SECTION("conv → pool → conv → dense, as the MNIST CNN") {
        const Shape in{10, 10, 3};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto p1 = pool(c1.dst, 2, 2, false);
        const auto c2 = conv(p1.dst, 3, 1, false, 32);
        const Network net = chain(rng, in, {{c1, 0.06f, 0.1f, starting_at(0.5f)}, {p1, 0.3f, 0.05f, starting_at(0.5f)},
                                            {c2, 0.02f, 0.1f, starting_at(0.5f)}, {dense(c2.dst, 10), 0.0f, 0.2f}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("overlapping pooling with padding, a strided conv of 80 channels (blocks of 64 and 16), LIF with reset to zero") {
        const Shape in{9, 9, 2};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto p1 = pool(c1.dst, 3, 2, true);
        const auto c2 = conv(p1.dst, 3, 2, true, 80);
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f}, {p1, 0.25f, 0.05f, lif_zero()},
                                            {c2, 0.03f, 0.1f, lif_zero()}, {dense(c2.dst, 7), 0.0f, 0.2f}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("12 channels (not a multiple of 16): pooling over them generic, a conv from them in runs of units; binary conv and dense generic") {
        const Shape in{9, 9, 1};
        const auto c1 = conv(in, 3, 1, true, 12);
        const auto p1 = pool(c1.dst, 2, 2, true);
        const auto c2 = conv(p1.dst, 3, 1, true, 16);
        const auto c3 = conv(c2.dst, 3, 1, false, 20);
        const auto d1 = dense(c3.dst, 40);
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f}, {p1, 0.3f, 0.05f, lif_zero()}, {c2, 0.05f, 0.1f},
                                            {c3, 0.0f, 0.1f, starting_at(0.5f), true}, {d1, 0.0f, 0.1f, {}, true},
                                            {dense(d1.dst, 10), 0.0f, 0.3f}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("depthwise convolutions (multiplier 2, stride 2, same; multiplier 1, valid) on the generic path") {
        const Shape in{9, 9, 3};
        const auto c1 = conv(in, 3, 1, true, 16);
        test::Geometry d1 = conv(c1.dst, 3, 2, true, 32);
        d1.kind = ProjectionKind::DepthwiseConv2D;
        test::Geometry d2 = conv(d1.dst, 2, 1, false, 32);
        d2.kind = ProjectionKind::DepthwiseConv2D;
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f, starting_at(0.5f)}, {d1, 0.3f, 0.2f}, {d2, 0.2f, 0.2f, lif_zero()},
                                            {dense(d2.dst, 10), 0.0f, 0.2f}});
        validate(net);
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("max-pooling gates: 2x2/2 as in the MNIST CNN, 3x3/2 overlapping with padding, 3x3/1 over 32 channels") {
        // Ties between a window's inputs are common here (counts of a few
        // spikes), so the first-of-equals rule is exercised.
        const Shape in{12, 12, 2};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto m1 = maxpool(c1.dst, 2, 2, false);
        const auto c2 = conv(m1.dst, 3, 1, true, 32);
        const auto m2 = maxpool(c2.dst, 3, 2, true);
        const auto m3 = maxpool(m2.dst, 3, 1, true);
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f, starting_at(0.5f)}, {m1, 0, 0}, {c2, 0.02f, 0.1f, lif_zero()},
                                            {m2, 0, 0}, {m3, 0, 0}, {dense(m3.dst, 10), 0.0f, 0.2f}});
        validate(net);
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("a partition across three devices: the cuts metered from the masks") {
        const Shape in{10, 10, 3};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto m1 = maxpool(c1.dst, 2, 2, false);
        const auto c2 = conv(m1.dst, 3, 1, false, 32);
        Network net = chain(rng, in, {{c1, 0.06f, 0.1f, starting_at(0.5f)}, {m1, 0, 0}, {c2, 0.02f, 0.1f, starting_at(0.5f)},
                                      {dense(c2.dst, 10), 0.0f, 0.2f}});
        net.devices = parse_partition(net, "edge:layer1-layer2,fog:layer3,cloud:layer4");
        validate(net);
        REQUIRE(find_cuts(net).size() == 2);
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("a cut with two sources: the output reads the first layer, past a side branch") {
        const Shape in{8, 8, 2};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto c2 = conv(c1.dst, 3, 1, false, 16);
        Network net = chain(rng, in, {{c1, 0.1f, 0.1f, starting_at(0.5f)}, {c2, 0.02f, 0.1f}, {dense(c2.dst, 20), 0.0f, 0.2f},
                                      {dense(c1.dst, 10), 0.0f, 0.1f}});
        net.populations[4].projections[0].source = 1;
        net.devices = parse_partition(net, "edge:layer1-layer2,cloud:layer3-layer4");
        validate(net);
        REQUIRE(find_cuts(net).size() == 1);
        REQUIRE(find_cuts(net)[0].sources.size() == 2);
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("Poisson input: a max-pooling gate on it, a conv over 1 channel (runs of units), dense, a cut that carries it") {
        // Each network's first layer reads the input's spikes of every step,
        // drawn before it runs, where step by step they are drawn step by step.
        const Shape in16{8, 8, 16};
        const auto m0 = maxpool(in16, 2, 2, false);
        const auto c1 = conv(m0.dst, 3, 1, true, 16);
        Network gated = chain(rng, in16, {{m0, 0, 0}, {c1, 0.02f, 0.05f, starting_at(0.5f)}, {dense(c1.dst, 10), 0.0f, 0.2f}});
        validate(gated);
        check_against_reference(gated, steps, readout, random_samples(rng, in16.size(), 3), Encoding::Poisson, 0.5f);

        const Shape in1{9, 9, 1};
        const auto g1 = conv(in1, 3, 1, true, 16);
        const auto p1 = pool(g1.dst, 2, 2, false);
        check_against_reference(chain(rng, in1, {{g1, 0.2f, 0.2f}, {p1, 0.3f, 0.05f, lif_zero()}, {dense(p1.dst, 10), 0.0f, 0.2f}}),
                                steps, readout, random_samples(rng, in1.size(), 3), Encoding::Poisson);

        // An MLP on two devices, its output reading the input again across the cut.
        const Shape in{1, 1, 48};
        const auto d1 = dense(in, 40);
        Network mlp = chain(rng, in, {{d1, 0.1f, 0.1f, starting_at(0.25f)}, {dense(d1.dst, 30), 0.02f, 0.1f},
                                      {dense(in, 10), 0.0f, 0.2f}});
        mlp.populations[3].projections[0].source = 0;
        mlp.devices = parse_partition(mlp, "edge:layer1-layer2,cloud:layer3");
        validate(mlp);
        REQUIRE(find_cuts(mlp).size() == 1);
        check_against_reference(mlp, steps, readout, random_samples(rng, in.size(), 3), Encoding::Poisson, 0.8f);
    }
    SECTION("dense layers of 100 (blocks of 64 and 36) and 37 units, a tail in each") {
        const Shape in{1, 1, 50};
        const auto d1 = dense(in, 100);
        const auto d2 = dense(d1.dst, 37);
        const Network net = chain(rng, in, {{d1, 0.04f, 0.1f, starting_at(0.25f)}, {d2, 0.02f, 0.1f, lif_zero()},
                                            {dense(d2.dst, 10), 0.0f, 0.3f}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 4));
    }
}

TEST_CASE("16-bit membranes: layer by layer gives the step-by-step engine's spikes, membranes and counts bit for bit", "[sim][layerwise][state_bits]") {
    // Every kind of layer-by-layer kernel with the fixed-point rule (sim/neuron.hpp):
    // the constant, pooling, aligned and unaligned conv, dense with tails, generic (binary) and max-pooling gates.
    std::mt19937 rng(7);
    const int steps = 23;
    const auto readout = GENERATE(as<std::optional<Readout>>{}, Readout::Spikes, Readout::Membrane);
    INFO("readout " << (readout ? int(*readout) : -1));
    const auto sixteen = [](NeuronParams n) {
        n.state_bits = 16;
        return n;
    };
    SECTION("conv → pool → conv → dense, as the MNIST CNN, starting at v_th/2") {
        const Shape in{10, 10, 3};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto p1 = pool(c1.dst, 2, 2, false);
        const auto c2 = conv(p1.dst, 3, 1, false, 32);
        const Network net = chain(rng, in, {{c1, 0.06f, 0.1f, sixteen(starting_at(0.5f))}, {p1, 0.3f, 0.05f, sixteen(starting_at(0.5f))},
                                            {c2, 0.02f, 0.1f, sixteen(starting_at(0.5f))}, {dense(c2.dst, 10), 0.0f, 0.2f, sixteen({})}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("12 channels: generic pooling, a conv in runs of units, binary conv and dense; LIF with reset to zero") {
        const Shape in{9, 9, 1};
        const auto c1 = conv(in, 3, 1, true, 12);
        const auto p1 = pool(c1.dst, 2, 2, true);
        const auto c2 = conv(p1.dst, 3, 1, true, 16);
        const auto c3 = conv(c2.dst, 3, 1, false, 20);
        const auto d1 = dense(c3.dst, 40);
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f, sixteen({})}, {p1, 0.3f, 0.05f, sixteen(lif_zero())}, {c2, 0.05f, 0.1f, sixteen({})},
                                            {c3, 0.0f, 0.1f, sixteen(starting_at(0.5f)), true}, {d1, 0.0f, 0.1f, sixteen({}), true},
                                            {dense(d1.dst, 10), 0.0f, 0.3f, sixteen({})}});
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
    SECTION("max-pooling gates; dense layers of 100 and 37 units, with a strong drive that saturates") {
        const Shape in{12, 12, 2};
        const auto c1 = conv(in, 3, 1, true, 16);
        const auto m1 = maxpool(c1.dst, 2, 2, false);
        const auto d1 = dense(m1.dst, 100);
        const auto d2 = dense(d1.dst, 37);
        // Weights of sd 40 drive units past ±128·v_th within a few steps.
        const Network net = chain(rng, in, {{c1, 0.1f, 0.1f, sixteen(starting_at(0.5f))}, {m1, 0, 0}, {d1, 0.0f, 40.0f, sixteen({})},
                                            {d2, 0.02f, 0.1f, sixteen(lif_zero())}, {dense(d2.dst, 10), 0.0f, 0.2f, sixteen({})}});
        validate(net);
        check_against_reference(net, steps, readout, random_samples(rng, in.size(), 3));
    }
}

TEST_CASE("networks and runs that layer by layer does not cover run step by step", "[sim][layerwise]") {
    std::mt19937 rng(6);
    const Shape in{8, 8, 1};
    const auto c1 = conv(in, 3, 1, true, 16);
    const auto p1 = pool(c1.dst, 2, 2, false);
    Network net = chain(rng, in, {{c1, 0.1f, 0.1f}, {p1, 0.3f, 0.05f}, {dense(p1.dst, 10), 0.0f, 0.2f}});
    RunOptions o;
    o.steps = 16;
    CHECK(Engine(net, o).layer_by_layer());
    RunOptions step_by_step = o;
    step_by_step.step_batches = false;
    step_by_step.layer_by_layer = false;
    CHECK_FALSE(Engine(net, step_by_step).layer_by_layer());
    RunOptions poisson = o;
    poisson.encode = Encoding::Poisson;
    CHECK(Engine(net, poisson).layer_by_layer());
    RunOptions event = o;
    event.kernels = KernelPath::Event;
    CHECK_FALSE(Engine(net, event).layer_by_layer());

    SECTION("a max-pooling gate as the output, or over 12 channels") {
        const auto c = conv(in, 3, 1, true, 16);
        test::Geometry gate = pool(c.dst, 2, 2, false);
        gate.kind = ProjectionKind::MaxPool;
        Network pooled = chain(rng, in, {{c, 0.1f, 0.1f}});
        Population mp;
        mp.name = "maxpool";
        mp.kind = PopulationKind::MaxPool;
        mp.shape = gate.dst;
        Projection p;
        p.source = 1;
        p.kind = ProjectionKind::MaxPool;
        p.window = gate.w;
        p.layer = "maxpool";
        mp.projections.push_back(p);
        pooled.populations.push_back(mp);
        validate(pooled);
        CHECK_FALSE(Engine(pooled, o).layer_by_layer());
        const auto c12 = conv(in, 3, 1, true, 12);
        const auto m12 = maxpool(c12.dst, 2, 2, false);
        const Network narrow = chain(rng, in, {{c12, 0.1f, 0.1f}, {m12, 0, 0}, {dense(m12.dst, 10), 0.0f, 0.2f}});
        validate(narrow);
        CHECK_FALSE(Engine(narrow, o).layer_by_layer());
    }
    SECTION("an exit") {
        Exit e;
        e.name = "exit";
        e.at = net.populations[2].name;
        e.weights.assign(std::size_t(net.populations[2].shape.size()) * 10, 0.01f);
        e.bias.assign(10, 0.0f);
        net.exits.push_back(e);
        CHECK_FALSE(Engine(net, o).layer_by_layer());
    }
    SECTION("signed spikes") {
        net.populations[1].neuron.signed_spikes = true;
        CHECK_FALSE(Engine(net, o).layer_by_layer());
    }
    SECTION("recorded spikes: step by step, with the same results") {
        Engine engine(net, o);
        SampleState a, b;
        engine.init(a);
        engine.init(b);
        const auto x = random_samples(rng, in.size(), 1)[0];
        std::vector<Spike> recorded;
        engine.run_sample(x.data(), 0, a, nullptr);
        engine.run_sample(x.data(), 0, b, &recorded);
        std::int64_t total = 0;
        for (std::size_t i = 1; i < net.populations.size(); ++i) {
            CHECK(a.counts[i] == b.counts[i]);
            CHECK(same_bits(a.v[i], b.v[i]));
            total += b.spike_total[i];
        }
        REQUIRE(total > 0);
        CHECK(std::int64_t(recorded.size()) == total);
    }
}
