// The engine against hand-worked cases and closed forms.
#include "convert/dnn.hpp"
#include "sim/engine.hpp"
#include "sim/kernels.hpp"
#include "snn/error.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <set>

using namespace snn;
using snn::test::input;

namespace {

// input (1,1,n_in) → dense → one population of n_out neurons.
Network one_layer(int n_in, std::vector<float> weights, std::vector<float> bias, NeuronParams neuron = {}) {
    Network net;
    net.populations.push_back(input({1, 1, n_in}));
    Population out;
    out.name = "out";
    out.shape = {1, 1, int(bias.size())};
    out.projections.push_back({0, ProjectionKind::Dense, {}, std::move(weights), "out"});
    out.bias = std::move(bias);
    out.neuron = neuron;
    net.populations.push_back(out);
    return net;
}

struct Sim {
    Engine engine;
    SampleState state;
    Sim(const Network& net, RunOptions opt) : engine(net, opt) { engine.init(state); }
    const std::vector<std::int32_t>& run(const std::vector<float>& x, std::int64_t sample = 0) {
        engine.run_sample(x.data(), sample, state, nullptr);
        return state.counts.back();
    }
};

RunOptions steps(int t) {
    RunOptions o;
    o.steps = t;
    return o;
}

} // namespace

TEST_CASE("an IF neuron with constant input I spikes floor(T*I) times (reset by subtraction)", "[sim]") {
    // Dyadic inputs keep every float sum exact, so the closed form holds to the spike.
    for (float I : {0.0f, 0.125f, 0.375f, 0.5f, 0.6875f, 1.0f}) {
        for (int T : {1, 7, 64, 100}) {
            Sim sim(one_layer(1, {1.0f}, {0.0f}), steps(T));
            const auto& counts = sim.run({I});
            INFO("I = " << I << ", T = " << T);
            CHECK(counts[0] == int(std::floor(T * I)));
            // What is left on the membrane is the part of T·I not yet spent on spikes.
            CHECK(sim.state.v.back()[0] == Approx(T * I - std::floor(T * I)).margin(1e-6));
        }
    }
}

TEST_CASE("an IF neuron spikes at most once per step; a stronger input piles up on the membrane", "[sim]") {
    Sim sim(one_layer(1, {1.0f}, {0.0f}), steps(100));
    CHECK(sim.run({1.5f})[0] == 100);
    CHECK(sim.state.v.back()[0] == Approx(50.0f)); // 1.5·100 − 100
}

TEST_CASE("a membrane that starts at half the threshold rounds instead of flooring", "[sim]") {
    // v₀ = 0.5: after T steps the neuron has spiked floor(T·I + 0.5) times.
    NeuronParams half;
    half.v_init = 0.5f;
    for (float I : {0.125f, 0.375f, 0.6875f}) {
        Sim sim(one_layer(1, {1.0f}, {0.0f}, half), steps(7));
        INFO("I = " << I);
        CHECK(sim.run({I})[0] == int(std::floor(7 * I + 0.5)));
        // Between samples the state is reset to v₀ again.
        CHECK(sim.run({I})[0] == int(std::floor(7 * I + 0.5)));
    }
}

TEST_CASE("the bias is a constant current like the input", "[sim]") {
    Sim sim(one_layer(1, {1.0f}, {0.25f}), steps(64));
    CHECK(sim.run({0.125f})[0] == 24); // (0.125 + 0.25)·64
}

TEST_CASE("reset to zero throws away the overshoot", "[sim]") {
    NeuronParams zero;
    zero.reset = ResetMode::Zero;
    // v: 0.75, 1.5 → spike → 0, 0.75, 1.5 → spike ...: one spike every 2 steps,
    // where reset by subtraction gives floor(0.75·T).
    Sim z(one_layer(1, {1.0f}, {0.0f}, zero), steps(64));
    CHECK(z.run({0.75f})[0] == 32);
    Sim s(one_layer(1, {1.0f}, {0.0f}), steps(64));
    CHECK(s.run({0.75f})[0] == 48);
}

TEST_CASE("a LIF neuron follows its closed form", "[sim]") {
    // v_t = a·v_{t−1} + I with a = exp(−1/τ): v_t = I·(1 − aᵗ)/(1 − a) until the first spike.
    NeuronParams lif;
    lif.model = NeuronModel::LIF;
    lif.tau_steps = 10.0f;
    const double a = std::exp(-1.0 / 10.0), I = 0.15;
    int first_spike = 0;
    for (int t = 1; t < 100 && !first_spike; ++t)
        if (I * (1 - std::pow(a, t)) / (1 - a) >= 1.0) first_spike = t;
    REQUIRE(first_spike == 11); // I/(1−a) = 1.5763: v₁₀ = 0.9964, v₁₁ = 1.0516
    for (int T = 1; T < first_spike; ++T) {
        Sim sim(one_layer(1, {1.0f}, {0.0f}, lif), steps(T));
        CHECK(sim.run({float(I)})[0] == 0);
        CHECK(sim.state.v.back()[0] == Approx(I * (1 - std::pow(a, T)) / (1 - a)).epsilon(1e-5));
    }
    Sim sim(one_layer(1, {1.0f}, {0.0f}, lif), steps(first_spike));
    CHECK(sim.run({float(I)})[0] == 1);
    // A LIF neuron whose steady state I/(1 − a) = 0.09/0.0952 < 1 never fires.
    Sim quiet(one_layer(1, {1.0f}, {0.0f}, lif), steps(500));
    CHECK(quiet.run({0.09f})[0] == 0);
}

TEST_CASE("a two-layer network with hand-set weights gives hand-computed spike counts", "[sim]") {
    // input (2) → hidden (2) → out (2), all IF, threshold 1, reset by subtraction.
    // hidden current per step: h0 = 0.5·x0 + 0.25·x1, h1 = 1.0·x1 − 0.5·x0
    // with x = (1, 0.5): h0 = 0.625/step, h1 = 0/step → h0 fires in 5 of 8 steps
    // (v: .625, 1.25→.25 S, .875, 1.5→.5 S, 1.125→.125 S, .75, 1.375→.375 S, 1.0→0 S).
    // out0 gets 0.75 per h0 spike, out1 gets 1.0 per h0 spike and a bias of −0.25 per step.
    Network net = one_layer(2, {0.5f, -0.5f, 0.25f, 1.0f}, {0.0f, 0.0f});
    Population out;
    out.name = "out2";
    out.shape = {1, 1, 2};
    out.projections.push_back({1, ProjectionKind::Dense, {}, {0.75f, 1.0f, 0.0f, 0.0f}, "out2"});
    out.bias = {0.0f, -0.25f};
    net.populations.push_back(out);
    Sim sim(net, steps(8));
    sim.run({1.0f, 0.5f});
    CHECK(sim.state.counts[1] == std::vector<std::int32_t>{5, 0});
    // h0 spikes at steps 2,4,5,7,8 (1-based). out0: 0.75 per spike → total 3.75 → 3 spikes.
    // out1: +1 at each h0 spike, −0.25 every step: cumulative input 5 − 2 = 3, and it is
    // never above threshold before the input arrives in the same step, so 3 spikes.
    CHECK(sim.state.counts[2] == std::vector<std::int32_t>{3, 3});
    CHECK(sim.state.v[2][0] == Approx(0.75f));
    CHECK(sim.state.v[2][1] == Approx(0.0f).margin(1e-6));
    // Synaptic operations: each h0 spike adds one row of 2 weights into out2.
    CHECK(sim.state.synaptic_ops[2] == 5 * 2);
}

TEST_CASE("the readout breaks ties in spike count by membrane potential", "[sim]") {
    // Both outputs spike 4 times in 8 steps; out1 keeps the larger remainder.
    Sim sim(one_layer(1, {0.5f, 0.5625f}, {0.0f, 0.0f}), steps(8));
    sim.run({1.0f});
    REQUIRE(sim.state.counts[1][0] == sim.state.counts[1][1]);
    CHECK(sim.engine.readout(sim.state) == 1);
}

TEST_CASE("a membrane readout turns the output layer into a non-spiking integrator", "[sim]") {
    // out0 gets 0.75/step, out1 gets 0.625/step + a bias of 0.25 = 0.875/step:
    // after 16 steps the potentials are exactly 12 and 14, no output spike.
    RunOptions o = steps(16);
    o.readout = Readout::Membrane;
    Sim sim(one_layer(1, {0.75f, 0.625f}, {0.0f, 0.25f}), o);
    sim.run({1.0f});
    CHECK(sim.state.counts[1] == std::vector<std::int32_t>{0, 0});
    CHECK(sim.state.v[1] == std::vector<float>{12.0f, 14.0f});
    CHECK(sim.engine.readout(sim.state) == 1);
    // Negative totals stay as they are (no threshold, no reset).
    Sim neg(one_layer(1, {-0.5f, -0.25f}, {0.0f, 0.0f}), o);
    neg.run({1.0f});
    CHECK(neg.state.v[1] == std::vector<float>{-8.0f, -4.0f});
    CHECK(neg.engine.readout(neg.state) == 1);
}

namespace {

using test::Geometry;
using test::random_projection;

} // namespace

TEST_CASE("event kernels equal the dense reference kernel on random inputs", "[sim]") {
    std::mt19937 rng(42);
    auto conv = [](Shape s, int k, int st, bool same, int cout) {
        Window w{k, k, st, st, window_pad_before(s.h, k, st, same), window_pad_before(s.w, k, st, same)};
        return Geometry{ProjectionKind::Conv2D, s,
                        {window_out_size(s.h, k, st, same), window_out_size(s.w, k, st, same), cout}, w};
    };
    const std::vector<Geometry> cases = {
        {ProjectionKind::Dense, {1, 1, 37}, {1, 1, 13}, {}},
        {ProjectionKind::Dense, {3, 4, 5}, {1, 1, 7}, {}},
        conv({8, 8, 3}, 3, 1, true, 5),
        conv({9, 7, 2}, 3, 2, true, 4),
        conv({9, 9, 2}, 5, 1, false, 3),
        conv({10, 10, 1}, 3, 2, false, 6),
        conv({6, 6, 4}, 1, 2, true, 8),
        {ProjectionKind::AvgPool, {8, 8, 3}, {4, 4, 3}, {2, 2, 2, 2, 0, 0}},
        {ProjectionKind::AvgPool, {9, 9, 2}, {3, 3, 2}, {3, 3, 3, 3, 0, 0}},
        {ProjectionKind::AvgPool, {8, 8, 4}, {1, 1, 4}, {8, 8, 8, 8, 0, 0}},
        {ProjectionKind::Identity, {4, 4, 3}, {4, 4, 3}, {}},
    };
    for (const Geometry& g : cases) {
        const Projection p = random_projection(g, rng);
        for (double density : {0.0, 0.05, 0.5, 1.0}) {
            std::bernoulli_distribution spike(density);
            std::uniform_real_distribution<float> value(0.1f, 2.0f);
            std::vector<float> dense_in(std::size_t(g.src.size()), 0.0f), analog_in = dense_in;
            std::vector<std::int32_t> units;
            std::vector<float> values;
            for (std::int32_t i = 0; i < std::int32_t(g.src.size()); ++i)
                if (spike(rng)) {
                    units.push_back(i);
                    dense_in[std::size_t(i)] = 1.0f;
                    values.push_back(value(rng));
                    analog_in[std::size_t(i)] = values.back();
                }
            std::vector<float> ref(std::size_t(g.dst.size()), 0.0f), got = ref, ref_a = ref, got_a = ref;
            accumulate_dense(p, g.src, g.dst, dense_in.data(), ref.data());
            const auto ops = scatter(p, g.src, g.dst, units, nullptr, got.data());
            accumulate_dense(p, g.src, g.dst, analog_in.data(), ref_a.data());
            scatter(p, g.src, g.dst, units, values.data(), got_a.data());
            INFO(to_string(g.kind) << " " << g.src.str() << " -> " << g.dst.str() << " density " << density);
            for (std::size_t j = 0; j < ref.size(); ++j) {
                REQUIRE(got[j] == Approx(ref[j]).margin(1e-4));
                REQUIRE(got_a[j] == Approx(ref_a[j]).margin(1e-4));
            }
            // Every addition is counted once: with all weights = 1, the sum of the
            // target currents would equal the number of operations.
            Projection ones = p;
            std::fill(ones.weights.begin(), ones.weights.end(), 1.0f);
            std::vector<float> count(std::size_t(g.dst.size()), 0.0f);
            scatter(ones, g.src, g.dst, units, nullptr, count.data());
            double total = 0;
            for (float c : count) total += c;
            CHECK(double(ops) == Approx(total));
        }
    }
}

TEST_CASE("a max-pooling gate passes the spikes of the most active input in its window", "[sim]") {
    // input (1,2,1) → relay (1,2,1) identity (weight 1) → maxpool 1x2 → out (1,1,1) identity.
    // Relay neurons fire with the input currents 0.5 and 0.25 per step: unit 0 spikes at
    // steps 2,4,6,8 and unit 1 at steps 4, 8; unit 0 always has the highest count, so
    // the gate passes exactly unit 0's 4 spikes.
    Network net;
    net.populations.push_back(input({1, 2, 1}));
    Population relay;
    relay.name = "relay";
    relay.shape = {1, 2, 1};
    relay.projections.push_back({0, ProjectionKind::Identity, {}, {1.0f}, "relay"}); // one channel
    net.populations.push_back(relay);
    Population pool;
    pool.name = "pool";
    pool.kind = PopulationKind::MaxPool;
    pool.shape = {1, 1, 1};
    pool.projections.push_back({1, ProjectionKind::MaxPool, {1, 2, 1, 2, 0, 0}, {}, "pool"});
    net.populations.push_back(pool);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({2, ProjectionKind::Identity, {}, {1.0f}, "out"});
    net.populations.push_back(out);
    Sim sim(net, steps(8));
    sim.run({0.5f, 0.25f});
    CHECK(sim.state.counts[1] == std::vector<std::int32_t>{4, 2});
    CHECK(sim.state.counts[2] == std::vector<std::int32_t>{4});
    CHECK(sim.state.counts[3] == std::vector<std::int32_t>{4});
    // Swap the inputs: now unit 1 is the most active and the gate follows it.
    sim.run({0.25f, 0.5f});
    CHECK(sim.state.counts[2] == std::vector<std::int32_t>{4});
}

TEST_CASE("max-pooling gates with many channels and overlapping windows match a brute-force gate", "[sim]") {
    // input (7,9,3) → relay (identity, weight 1: relay unit u integrates pixel u)
    // → maxpool 3×3 stride 2 padding 1 → out (identity). The gate is recomputed
    // from the relay's recorded spikes by the definition: at step t an output
    // fires if the first input of its window (rows, then columns) with the most
    // spikes so far spiked at t.
    const Shape in{7, 9, 3}, pooled{4, 5, 3};
    const Window w{3, 3, 2, 2, 1, 1};
    Network net;
    net.populations.push_back(input(in));
    Population relay;
    relay.name = "relay";
    relay.shape = in;
    relay.projections.push_back({0, ProjectionKind::Identity, {}, {1.0f, 1.0f, 1.0f}, "relay"});
    net.populations.push_back(relay);
    Population pool;
    pool.name = "pool";
    pool.kind = PopulationKind::MaxPool;
    pool.shape = pooled;
    pool.projections.push_back({1, ProjectionKind::MaxPool, w, {}, "pool"});
    net.populations.push_back(pool);
    Population out;
    out.name = "out";
    out.shape = pooled;
    out.projections.push_back({2, ProjectionKind::Identity, {}, {1.0f, 1.0f, 1.0f}, "out"});
    net.populations.push_back(out);

    std::mt19937 rng(5);
    std::uniform_real_distribution<float> pixel(0.0f, 0.9f);
    Dataset data;
    data.name = "random";
    data.shape = in;
    for (int i = 0; i < 6; ++i) {
        // Rates from a few levels, so that windows hold ties.
        for (std::int64_t j = 0; j < in.size(); ++j) data.x.push_back(std::round(pixel(rng) * 4.0f) / 8.0f);
        data.y.push_back(0);
    }
    RunOptions o;
    o.steps = 30;
    o.record_samples = 6;
    o.threads = 2;
    const RunResult r = simulate(net, data, o);
    std::int64_t passed = 0;
    for (int sample = 0; sample < 6; ++sample) {
        std::vector<std::vector<char>> relay_spiked(30, std::vector<char>(std::size_t(in.size()), 0));
        std::set<std::pair<int, int>> pool_got; // (step, unit)
        for (const Spike& sp : r.recorded) {
            if (sp.sample != sample) continue;
            if (sp.population == 1) relay_spiked[std::size_t(sp.step)][std::size_t(sp.neuron)] = 1;
            if (sp.population == 2) pool_got.insert({sp.step, sp.neuron});
        }
        std::set<std::pair<int, int>> expected;
        std::vector<int> count(std::size_t(in.size()), 0);
        for (int t = 0; t < 30; ++t) {
            for (std::size_t u = 0; u < count.size(); ++u) count[u] += relay_spiked[std::size_t(t)][u];
            for (int oy = 0; oy < pooled.h; ++oy)
                for (int ox = 0; ox < pooled.w; ++ox)
                    for (int c = 0; c < in.c; ++c) {
                        int best = -1, best_count = -1;
                        for (int y = oy * 2 - 1; y <= oy * 2 + 1; ++y)
                            for (int x = ox * 2 - 1; x <= ox * 2 + 1; ++x) {
                                if (y < 0 || y >= in.h || x < 0 || x >= in.w) continue;
                                const int u = (y * in.w + x) * in.c + c;
                                if (count[std::size_t(u)] > best_count) {
                                    best_count = count[std::size_t(u)];
                                    best = u;
                                }
                            }
                        if (relay_spiked[std::size_t(t)][std::size_t(best)])
                            expected.insert({t, (oy * pooled.w + ox) * in.c + c});
                    }
        }
        INFO("sample " << sample);
        CHECK(pool_got == expected);
        passed += std::int64_t(expected.size());
    }
    REQUIRE(passed > 100); // the gate passed enough spikes for the comparison to mean something
}

TEST_CASE("results do not depend on the number of threads", "[sim]") {
    // A random 2-layer network on random inputs, Poisson and current encoding.
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> w1(64 * 32), w2(32 * 10);
    for (auto& w : w1) w = normal(rng);
    for (auto& w : w2) w = normal(rng);
    Network net = one_layer(64, w1, std::vector<float>(32, 0.01f));
    Population out;
    out.name = "out2";
    out.shape = {1, 1, 10};
    out.projections.push_back({1, ProjectionKind::Dense, {}, w2, "out2"});
    net.populations.push_back(out);
    Dataset data;
    data.name = "random";
    data.shape = {8, 8, 1};
    for (int i = 0; i < 97; ++i) {
        for (int j = 0; j < 64; ++j) data.x.push_back(pixel(rng) < 0.4f ? pixel(rng) : 0.0f);
        data.y.push_back(i % 10);
    }
    for (Encoding e : {Encoding::Current, Encoding::Poisson}) {
        RunOptions o;
        o.steps = 20;
        o.encode = e;
        o.max_rate = 0.5f;
        o.seed = 3;
        o.record_samples = 5;
        o.threads = 1;
        const RunResult a = simulate(net, data, o);
        o.threads = 2;
        const RunResult b = simulate(net, data, o);
        CHECK(a.predictions == b.predictions);
        CHECK(a.correct_at == b.correct_at);
        CHECK(a.spikes == b.spikes);
        CHECK(a.synaptic_ops == b.synaptic_ops);
        REQUIRE(a.recorded.size() == b.recorded.size());
        for (std::size_t i = 0; i < a.recorded.size(); ++i) {
            CHECK(a.recorded[i].sample == b.recorded[i].sample);
            CHECK(a.recorded[i].neuron == b.recorded[i].neuron);
            CHECK(a.recorded[i].step == b.recorded[i].step);
        }
        if (e == Encoding::Poisson) {
            // A different seed gives different input spikes.
            o.seed = 4;
            CHECK(simulate(net, data, o).spikes != a.spikes);
        }
    }
}

TEST_CASE("Poisson input spikes with the probability of the pixel times the max rate", "[sim]") {
    // 1000 steps of one pixel at 0.3 with max rate 0.5: 150 expected spikes, sd ≈ 11.
    Sim sim(one_layer(1, {1.0f}, {0.0f}), [] {
        RunOptions o;
        o.steps = 1000;
        o.encode = Encoding::Poisson;
        o.max_rate = 0.5f;
        return o;
    }());
    sim.run({0.3f});
    CHECK(sim.state.spike_total[0] > 150 - 50);
    CHECK(sim.state.spike_total[0] < 150 + 50);
    // Each input spike carries 1/max_rate, so the output integrates ≈ 0.3 per step.
    CHECK(sim.state.counts[1][0] == Approx(300).margin(100));
}

TEST_CASE("uniform draws are keyed by seed, sample, layer and step", "[sim]") {
    const float a = uniform_draw(1, 2, 3, 4, 5);
    CHECK(a == uniform_draw(1, 2, 3, 4, 5));
    CHECK(a != uniform_draw(2, 2, 3, 4, 5));
    CHECK(a != uniform_draw(1, 3, 3, 4, 5));
    CHECK(a != uniform_draw(1, 2, 4, 4, 5));
    CHECK(a != uniform_draw(1, 2, 3, 5, 5));
    CHECK(a != uniform_draw(1, 2, 3, 4, 6));
    double sum = 0;
    for (int i = 0; i < 100000; ++i) {
        const float u = uniform_draw(9, 0, 0, 0, std::uint64_t(i));
        REQUIRE(u >= 0.0f);
        REQUIRE(u < 1.0f);
        sum += u;
    }
    CHECK(sum / 100000 == Approx(0.5).margin(0.005));
}

TEST_CASE("checkpoints are the powers of two and the last step", "[sim]") {
    CHECK(checkpoint_steps(1) == std::vector<int>{1});
    CHECK(checkpoint_steps(8) == std::vector<int>{1, 2, 4, 8});
    CHECK(checkpoint_steps(100) == std::vector<int>{1, 2, 4, 8, 16, 32, 64, 100});
}

TEST_CASE("the engine refuses bad options and mismatched data", "[sim]") {
    Network net = one_layer(4, std::vector<float>(8, 0.1f), {0.0f, 0.0f});
    RunOptions o;
    o.steps = 0;
    CHECK_THROWS_AS(Engine(net, o), Error);
    o.steps = 4;
    o.encode = Encoding::Poisson;
    o.max_rate = 1.5f;
    // The library names the option by its key (the CLI writes it as --max-rate).
    try {
        Engine bad(net, o);
        FAIL("max_rate 1.5 was accepted");
    } catch (const OptionError& e) {
        CHECK(e.context.option == "max-rate");
        CHECK(std::string(e.what()) == "max-rate must be in (0, 1]");
    }
    Dataset data;
    data.name = "wrong";
    data.shape = {1, 1, 5};
    data.x.assign(5, 0.5f);
    data.y = {0};
    CHECK_THROWS_WITH(simulate(net, data, RunOptions{}), Catch::Contains("(1,1,5)") && Catch::Contains("(1,1,4)"));
}

TEST_CASE("a max-pooling gate right on the input passes the input's Poisson spikes", "[sim]") {
    // input (1,2,1) → maxpool 1x2 → out (1,1,1) identity. Pixel 0 at 1.0 spikes every
    // step with max rate 1, so it leads the window from the first step and the gate
    // passes all of its spikes: the output integrates 1 per step.
    Network net;
    net.populations.push_back(input({1, 2, 1}));
    Population pool;
    pool.name = "pool";
    pool.kind = PopulationKind::MaxPool;
    pool.shape = {1, 1, 1};
    pool.projections.push_back({0, ProjectionKind::MaxPool, {1, 2, 1, 2, 0, 0}, {}, "pool"});
    net.populations.push_back(pool);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({1, ProjectionKind::Identity, {}, {1.0f}, "out"});
    net.populations.push_back(out);
    RunOptions o = steps(20);
    o.encode = Encoding::Poisson;
    Sim sim(net, o);
    sim.run({1.0f, 0.0f});
    CHECK(sim.state.counts[1] == std::vector<std::int32_t>{20});
    CHECK(sim.state.counts[2] == std::vector<std::int32_t>{20});
    // With analog (current) input there are no input spikes to gate: refused, not silently zero.
    CHECK_THROWS_WITH(Engine(net, steps(20)), Catch::Contains("'pool'") && Catch::Contains("--encode poisson"));
    // A gate does not pass negative spikes: a signed source in front of it is refused.
    Network relayed = one_layer(2, {1.0f, 0.0f, 0.0f, 1.0f}, {0.0f, 0.0f});
    relayed.populations[1].shape = {1, 2, 1};
    relayed.populations[1].bias = {0.0f};
    relayed.populations[1].neuron.signed_spikes = true;
    Population gate = net.populations[1];
    gate.projections[0].source = 1;
    relayed.populations.push_back(gate);
    CHECK_THROWS_WITH(Engine(relayed, steps(4)), Catch::Contains("'pool'") && Catch::Contains("signed"));
}

TEST_CASE("a signed neuron takes back the spike of an early transient", "[sim]") {
    // input 1.0 → b (dense 0.25: spikes at steps 4 and 8) → h (bias 0.5/step, weight −4 from b)
    // → out (identity, membrane readout). By hand, h's membrane: 0.5, 1.0 → spike (v 0),
    // 0.5, then step 4: 0.5 + 0.5 − 4 = −3 < 0 with one spike counted → negative spike,
    // v = −2, count 0; then −1.5, −1, −0.5, −4. The total input is 8·0.5 − 2·4 = −4 = v.
    // Unsigned, h keeps its one spike and ends at v = −5; out integrates it.
    auto build = [](bool signed_spikes) {
        Network net = one_layer(1, {0.25f}, {0.0f});
        Population h;
        h.name = "h";
        h.shape = {1, 1, 1};
        h.projections.push_back({1, ProjectionKind::Dense, {}, {-4.0f}, "h"});
        h.bias = {0.5f};
        h.neuron.signed_spikes = signed_spikes;
        net.populations.push_back(h);
        Population out;
        out.name = "readout";
        out.shape = {1, 1, 1};
        out.projections.push_back({2, ProjectionKind::Identity, {}, {1.0f}, "readout"});
        net.populations.push_back(out);
        return net;
    };
    RunOptions o = steps(8);
    o.readout = Readout::Membrane;
    Sim with(build(true), o);
    with.run({1.0f});
    CHECK(with.state.counts[1] == std::vector<std::int32_t>{2});
    CHECK(with.state.counts[2] == std::vector<std::int32_t>{0});
    CHECK(with.state.spike_total[2] == 2); // one spike, one taken back
    CHECK(with.state.v[2][0] == Approx(-4.0f));
    CHECK(with.state.v[3][0] == Approx(0.0f).margin(1e-6));
    Sim without(build(false), o);
    without.run({1.0f});
    CHECK(without.state.counts[2] == std::vector<std::int32_t>{1});
    CHECK(without.state.v[2][0] == Approx(-5.0f));
    CHECK(without.state.v[3][0] == Approx(1.0f));
    // Signed spikes only make sense with reset by subtraction.
    Network zero = build(true);
    zero.populations[2].neuron.reset = ResetMode::Zero;
    CHECK_THROWS_WITH(validate(zero), Catch::Contains("'h'") && Catch::Contains("subtraction"));
}

TEST_CASE("a synaptic current filters the input before the membrane, worked by hand", "[sim][synapse]") {
    // τ_syn = 1/ln 2: the current halves every step, I ← I/2 + input.
    NeuronParams cuba;
    cuba.v_th = 2.0f;
    cuba.tau_syn_steps = float(1.0 / std::log(2.0));
    for (const FloatIsa isa : snn::test::float_isas()) {
        INFO("float ISA " << to_string(isa));
        RunOptions o = steps(6);
        o.float_isa = isa;
        // A constant input 1: I = 1, 1.5, 1.75, 1.875, 1.9375, 1.96875; v (threshold 2,
        // subtraction) = 1, 2.5 → 0.5, 2.25 → 0.25, 2.125 → 0.125, 2.0625 → 0.0625,
        // 2.03125 → 0.03125: spikes at steps 2 to 6. Without the synapse: 3 spikes.
        Sim sim(one_layer(1, {1.0f}, {0.0f}, cuba), o);
        CHECK(sim.run({1.0f})[0] == 5);
        CHECK(sim.state.v.back()[0] == Approx(0.03125).margin(1e-5));
        CHECK(sim.state.synapse.back()[0] == Approx(1.96875).margin(1e-5));
        // The next sample starts with I = 0 again.
        CHECK(sim.run({1.0f})[0] == 5);
        NeuronParams plain = cuba;
        plain.tau_syn_steps = 0;
        Sim without(one_layer(1, {1.0f}, {0.0f}, plain), o);
        CHECK(without.run({1.0f})[0] == 3);
    }
}

TEST_CASE("a synaptic current takes spikes from a layer before it, worked by hand", "[sim][synapse]") {
    // hidden: IF, input 0.5, fires at steps 2, 4, 6, 8. out: IF, threshold 1, τ_syn = 1/ln 2,
    // weight 1: I = 0, 1, 0.5, 1.25, 0.625, 1.3125, 0.65625, 1.328125; v (subtraction) = 0,
    // 1 → 0, 0.5, 1.75 → 0.75, 1.375 → 0.375, 1.6875 → 0.6875, 1.34375 → 0.34375,
    // 1.671875 → 0.671875: spikes at steps 2, 4, 5, 6, 7, 8.
    Network net = one_layer(1, {1.0f}, {0.0f});
    net.populations[1].name = "hidden";
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({1, ProjectionKind::Dense, {}, {1.0f}, "out"});
    out.neuron.tau_syn_steps = float(1.0 / std::log(2.0));
    net.populations.push_back(out);
    validate(net);
    for (const FloatIsa isa : snn::test::float_isas()) {
        INFO("float ISA " << to_string(isa));
        RunOptions o = steps(8);
        o.float_isa = isa;
        Sim sim(net, o);
        CHECK(sim.run({0.5f})[0] == 6);
        CHECK(sim.state.counts[1][0] == 4);
        CHECK(sim.state.v.back()[0] == Approx(0.671875).margin(1e-5));
    }
}

TEST_CASE("a synaptic current that cannot run is refused by validate, naming the population", "[sim][synapse]") {
    Network net = one_layer(1, {1.0f}, {0.0f});
    net.populations[1].neuron.tau_syn_steps = -1.0f;
    CHECK_THROWS_WITH(validate(net), Catch::Contains("out") && Catch::Contains("tau_syn_steps must be 0"));
    net.populations[1].neuron.tau_syn_steps = 2.0f;
    net.populations[1].neuron.state_bits = 16;
    CHECK_THROWS_WITH(validate(net), Catch::Contains("out") && Catch::Contains("16-bit membranes"));
}
