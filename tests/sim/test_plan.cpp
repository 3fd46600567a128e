// The execution plan (sim/plan.hpp) as a value, for hand-built networks: which
// schedule, which stages, what each stage replays, meters and batches, and
// why. The expected plans are worked out by hand from the rules in plan.hpp.
#include "sim/engine.hpp"
#include "sim/report.hpp"
#include "snn/binary.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace snn;
using snn::test::input;

namespace {

// input (1,1,in) → dense h1 → dense h2 → dense out, IF neurons, biases 0.05;
// `binary_last`: the output layer's weights binarized (±α, AND + popcount).
Network mlp(std::mt19937& rng, int in, std::vector<int> sizes, bool binary_last = false) {
    Network net;
    net.populations.push_back(input({1, 1, in}));
    std::normal_distribution<float> normal(0.05f, 0.3f);
    for (std::size_t l = 0; l < sizes.size(); ++l) {
        const Shape src = net.populations.back().shape, dst{1, 1, sizes[l]};
        Projection p;
        p.source = int(net.populations.size()) - 1;
        p.kind = ProjectionKind::Dense;
        p.layer = "dense" + std::to_string(l + 1);
        for (std::int64_t k = 0; k < src.size() * dst.size(); ++k) p.weights.push_back(normal(rng));
        if (binary_last && l + 1 == sizes.size()) binarize(p, src, dst, p.layer);
        Population pop;
        pop.name = p.layer;
        pop.shape = dst;
        pop.bias.assign(std::size_t(dst.c), 0.05f);
        pop.projections.push_back(p);
        net.populations.push_back(pop);
    }
    return net;
}

std::vector<std::size_t> span_of(const Stage& s) { return {s.first, s.last}; }

} // namespace

TEST_CASE("a feed-forward network without exits runs layer by layer; watched samples run in one lock-step stage",
          "[sim][plan]") {
    std::mt19937 rng(1);
    const Network net = mlp(rng, 12, {8, 6, 4});
    RunOptions o;
    o.steps = 20;
    const ExecutionPlan none = plan_execution(net, o, Watch::None);
    CHECK(none.schedule == Schedule::LayerByLayer);
    CHECK(none.block_steps == std::vector<int>{1, 20, 20, 20}); // the input does not advance
    CHECK(none.kernel_steps == std::vector<int>{1, 1, 1, 1});
    CHECK(none.stages.empty());
    for (Watch w : {Watch::Record, Watch::Observe}) {
        INFO(to_string(w));
        const ExecutionPlan p = plan_execution(net, o, w);
        CHECK(p.schedule == Schedule::Stages);
        REQUIRE(p.stages.size() == 1);
        CHECK(span_of(p.stages[0]) == std::vector<std::size_t>{0, 3});
        CHECK(p.stages[0].exit == -1);
        CHECK(p.stages[0].replay.empty());
        CHECK(p.stages[0].why == "the output");
        CHECK(p.block_steps == std::vector<int>{1, 1, 1, 1});
        CHECK(p.keep_history == std::vector<std::uint8_t>{0, 0, 0, 0});
        CHECK(p.why.find(w == Watch::Record ? "recorded" : "observer") != std::string::npos);
    }
    RunOptions off = o;
    off.layer_by_layer = false;
    const ExecutionPlan p = plan_execution(net, off, Watch::None);
    CHECK(p.schedule == Schedule::Stages);
    CHECK(p.why == "lock step within stages: layer by layer is turned off");
    RunOptions reference = o;
    reference.kernels = KernelPath::Reference;
    CHECK(plan_execution(net, reference, Watch::None).schedule == Schedule::Stages);
}

TEST_CASE("an exit ends a stage; the next stage replays what it reads", "[sim][plan]") {
    std::mt19937 rng(2);
    Network net = mlp(rng, 12, {8, 6, 4});
    Exit e;
    e.name = "early";
    e.at = "dense1";
    e.weights.assign(8 * 4, 0.1f);
    e.bias.assign(4, 0.0f);
    e.threshold = 0.5f;
    e.check_every = 4;
    net.exits.push_back(e);
    RunOptions o;
    o.steps = 16;
    for (Watch w : {Watch::None, Watch::Record, Watch::Observe}) {
        INFO(to_string(w));
        const ExecutionPlan p = plan_execution(net, o, w);
        CHECK(p.schedule == Schedule::Stages);
        REQUIRE(p.stages.size() == 2);
        CHECK(span_of(p.stages[0]) == std::vector<std::size_t>{0, 1});
        CHECK(p.stages[0].exit == 0);
        CHECK(p.stages[0].why == "exit 'early' decides here");
        CHECK(span_of(p.stages[1]) == std::vector<std::size_t>{2, 3});
        CHECK(p.stages[1].exit == -1);
        CHECK(p.stages[1].replay == std::vector<std::size_t>{1});
        CHECK(p.stage_of == std::vector<int>{0, 0, 1, 1});
        CHECK(p.keep_history == std::vector<std::uint8_t>{0, 1, 0, 0});
        if (w == Watch::None) CHECK(p.why == "lock step within stages: the network has exits");
    }
    // The report states it: blocks of one step, the exit's check period.
    RunResult r;
    r.plan = plan_execution(net, o, Watch::None);
    const auto j = plan_json(net, r.plan);
    CHECK(j["schedule"] == "stages");
    REQUIRE(j["blocks"].size() == 2);
    CHECK(j["blocks"][0]["populations"] == nlohmann::json{"input", "dense1"});
    CHECK(j["blocks"][0]["exit"] == "early");
    CHECK(j["blocks"][0]["check_every"] == 4);
    CHECK(j["blocks"][1]["replays"] == nlohmann::json{"dense1"});
    CHECK(j["blocks"][1]["steps_per_block"] == 1);
}

TEST_CASE("a partition is metered after a layer-by-layer run, or by the stage that reads the cut", "[sim][plan]") {
    std::mt19937 rng(3);
    Network net = mlp(rng, 12, {8, 6, 4});
    net.devices = {"edge", "edge", "cloud", "cloud"};
    RunOptions o;
    o.steps = 8;
    CHECK(plan_execution(net, o, Watch::None).schedule == Schedule::LayerByLayer);
    const std::vector<Cut> cuts = find_cuts(net);
    REQUIRE(cuts.size() == 1);
    CHECK(cuts[0].sources == std::vector<int>{1});
    CHECK(cuts[0].first_target == 2);
    CHECK(cuts[0].neurons == 8);
    // A device runs its steps before the next receives them: a stage per device,
    // the cut metered by the stage that reads it (no step batches with a partition).
    const ExecutionPlan rec = plan_execution(net, o, Watch::Record);
    REQUIRE(rec.stages.size() == 2);
    CHECK(rec.stages[0].last == 1);
    CHECK(rec.stages[0].why == "device 'edge' ends here");
    CHECK(rec.stages[0].cuts.empty());
    CHECK(rec.stages[1].cuts == std::vector<std::size_t>{0});
    CHECK(rec.stages[1].replay == std::vector<std::size_t>{1});
}

TEST_CASE("step batches end a stage before a binary dense layer, and never when a sample is observed", "[sim][plan]") {
    std::mt19937 rng(4);
    const Network net = mlp(rng, 12, {70, 10}, true);
    RunOptions o;
    o.steps = 16;
    o.layer_by_layer = false;
    RunOptions scalar = o;
    scalar.popcount = PopcountIsa::Scalar;
    const ExecutionPlan one = plan_execution(net, scalar, Watch::None);
    REQUIRE(one.stages.size() == 1);
    CHECK(one.kernel_steps == std::vector<int>{1, 1, 1});
    CHECK(one.batch_slots == 0);
    if (!popcount_isa_supported(PopcountIsa::Avx512)) {
        WARN("NOT RUN: step batches need AVX-512 VPOPCNTDQ, which this CPU lacks; only their absence was checked");
        CHECK(plan_execution(net, o, Watch::None).stages.size() == 1);
        return;
    }
    RunOptions avx = o;
    avx.popcount = PopcountIsa::Avx512;
    for (Watch w : {Watch::None, Watch::Record}) {
        INFO(to_string(w));
        const ExecutionPlan p = plan_execution(net, avx, w);
        REQUIRE(p.stages.size() == 2);
        CHECK(span_of(p.stages[0]) == std::vector<std::size_t>{0, 1});
        CHECK(p.stages[0].why.find("step batches") == 0);
        CHECK(span_of(p.stages[1]) == std::vector<std::size_t>{2, 2});
        CHECK(p.stages[1].replay == std::vector<std::size_t>{1});
        REQUIRE(p.stages[1].batched.size() == 1);
        CHECK(p.stages[1].batched[0] == std::pair<std::size_t, std::size_t>{2, 0});
        CHECK(p.batch_slot[2] == std::vector<int>{0});
        CHECK(p.kernel_steps == std::vector<int>{1, 1, BinaryKernel::max_batch});
    }
    const ExecutionPlan observed = plan_execution(net, avx, Watch::Observe);
    CHECK(observed.stages.size() == 1);
    CHECK(observed.batch_slots == 0);
    // Layer by layer, the binary dense layer still takes 8 steps per pass over its bits.
    RunOptions lbl = avx;
    lbl.layer_by_layer = true;
    const ExecutionPlan layers = plan_execution(net, lbl, Watch::None);
    CHECK(layers.schedule == Schedule::LayerByLayer);
    CHECK(layers.kernel_steps == std::vector<int>{1, 1, BinaryKernel::max_batch});
}

TEST_CASE("a population layer by layer cannot run is named in the plan's why", "[sim][plan]") {
    std::mt19937 rng(5);
    Network net = mlp(rng, 12, {8, 6});
    net.populations[2].neuron.signed_spikes = true;
    RunOptions o;
    o.steps = 8;
    const ExecutionPlan p = plan_execution(net, o, Watch::None);
    CHECK(p.schedule == Schedule::Stages);
    CHECK(p.why == "lock step within stages: population 'dense2' has signed spikes");
}

TEST_CASE("an observed sample of a layer-by-layer network runs in lock step, with the same result", "[sim][plan]") {
    std::mt19937 rng(6);
    const Network net = mlp(rng, 12, {8, 6, 4});
    RunOptions o;
    o.steps = 12;
    const Engine engine(net, o);
    REQUIRE(engine.layer_by_layer());
    std::vector<float> x(12);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : x) v = u(rng);
    SampleState fast, watched;
    engine.init(fast);
    engine.init(watched);
    engine.run_sample(x.data(), 0, fast, nullptr);
    std::vector<int> seen;
    const Engine::StepObserver on_step = [&](int done, const SampleState&) { seen.push_back(done); };
    engine.run_sample(x.data(), 0, watched, nullptr, &on_step);
    CHECK(seen == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        INFO(net.populations[i].name);
        CHECK(watched.counts[i] == fast.counts[i]);
        CHECK(watched.synaptic_ops[i] == fast.synaptic_ops[i]);
    }
    CHECK(watched.spike_total[3] > 0);
    CHECK(watched.prediction_at == fast.prediction_at);
}
