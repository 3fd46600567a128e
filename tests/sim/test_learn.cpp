// The pieces of unsupervised learning (sim/learn.hpp), with answers worked
// out by hand: weight normalization, adaptive thresholds, winner-take-all,
// label assignment and the assignment readout; then a small end-to-end case
// whose two input patterns the layer must learn to tell apart.
#include "sim/engine.hpp"
#include "sim/learn.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include <string>
#include <vector>

using namespace snn;

namespace {

LearnOptions frozen_weights(std::int32_t neurons) {
    LearnOptions o;
    o.neurons = neurons;
    o.rule.a_plus = 0; // the pair rule with zero amplitudes: weights stay as set
    o.rule.a_minus = 0;
    o.tau_mem = 1e12;  // no leak within the few steps of these cases
    o.tau_theta = 1e12;
    o.max_rate = 1.0;  // a pixel at 1.0 spikes every step
    return o;
}

} // namespace

TEST_CASE("normalization scales each neuron's input weights to the target sum", "[learn]") {
    LearnOptions o = frozen_weights(2);
    o.weight_sum = 6;
    CompetitiveLayer layer(3, o);
    layer.weights = {1, 0, 2, 0, 3, 0}; // (inputs 3, neurons 2): neuron 0 gets 1, 2, 3; neuron 1 gets nothing
    layer.normalize();
    CHECK(layer.weights[0] == Approx(1.0));
    CHECK(layer.weights[2] == Approx(2.0));
    CHECK(layer.weights[4] == Approx(3.0));
    layer.weights = {1, 0, 1, 0, 2, 0};
    layer.normalize();
    CHECK(layer.weights[0] == Approx(1.5));
    CHECK(layer.weights[2] == Approx(1.5));
    CHECK(layer.weights[4] == Approx(3.0));
    CHECK(layer.weights[1] == 0); // all-zero weights stay 0
}

TEST_CASE("adaptive threshold: θ grows by θ+ per spike while learning, frozen otherwise", "[learn]") {
    LearnOptions o = frozen_weights(1);
    o.v_th = 0.5;
    o.theta_plus = 0.3;
    o.steps = 6;
    CompetitiveLayer layer(1, o);
    layer.weights = {1.0f};
    const float x = 1.0f;
    // v gains 1 a step; threshold 0.5 + θ. t0: v 1 ≥ 0.5 spike (θ 0.3); t1: 1 ≥ 0.8
    // spike (θ 0.6); t2: 1 < 1.1; t3: 2 ≥ 1.1 spike (θ 0.9); t4: 1 < 1.4; t5: 2 ≥ 1.4 spike (θ 1.2).
    const auto counts = layer.present(&x, 0, 1.0, true);
    CHECK(counts == std::vector<std::int32_t>{4});
    CHECK(layer.theta[0] == Approx(1.2));
    // Frozen: threshold 0.5 + 1.2 = 1.7; v reaches 2 every second step: spikes at t1, t3, t5.
    CHECK(layer.present(&x, 1, 1.0, false) == std::vector<std::int32_t>{3});
    CHECK(layer.theta[0] == Approx(1.2));
}

TEST_CASE("winner-take-all: only the unit furthest above threshold spikes", "[learn]") {
    LearnOptions o = frozen_weights(3);
    o.v_th = 0.5;
    o.theta_plus = 0;
    o.steps = 10;
    CompetitiveLayer layer(1, o);
    layer.weights = {0.6f, 0.9f, 0.7f};
    const float x = 1.0f;
    CHECK(layer.present(&x, 0, 1.0, false) == std::vector<std::int32_t>{0, 10, 0});
}

TEST_CASE("label assignment and the assignment readout, by hand", "[learn]") {
    // 3 neurons, 2 classes; counts (neurons, classes) summed over samples;
    // class 0 seen 2 times, class 1 seen 4 times.
    const std::vector<std::int64_t> counts = {4, 4,  // means 2 and 1: class 0
                                              1, 8,  // means 0.5 and 2: class 1
                                              0, 0}; // never spiked: no class
    const auto a = assign_labels(counts, {2, 4}, 2);
    CHECK(a == std::vector<std::int32_t>{0, 1, -1});
    CHECK(classify({3, 1, 9}, a, 2) == 0);  // the unassigned neuron does not vote
    CHECK(classify({1, 2, 0}, a, 2) == 1);
    CHECK(classify({0, 0, 5}, a, 2) == -1); // no assigned neuron spiked
    // Means, not sums, over the neurons of a class: class 0 has (4 + 0)/2 = 2 < 3.
    CHECK(classify({4, 0, 3}, {0, 0, 1}, 2) == 1);
}

namespace {
LearnOptions small_options() {
    LearnOptions o;
    o.neurons = 6;
    o.steps = 60;
    o.max_rate = 0.2;
    o.tau_mem = 20;
    o.v_th = 4;
    o.theta_plus = 0.05;
    o.weight_sum = 10;
    o.w_init_max = 1.0;
    o.rule.a_plus = 0.02;
    o.rule.a_minus = 0.005;
    return o;
}
} // namespace

TEST_CASE("learning tells two input patterns apart", "[learn]") {
    // 20 inputs; class 0 lights inputs 0..9, class 1 inputs 10..19.
    Dataset train, test;
    for (Dataset* d : {&train, &test}) {
        d->shape = Shape{1, 1, 20};
        for (int k = 0; k < (d == &train ? 60 : 20); ++k) {
            const int c = k % 2;
            for (int p = 0; p < 20; ++p) d->x.push_back(p / 10 == c ? 1.0f : 0.0f);
            d->y.push_back(c);
        }
    }
    LearnOptions o = small_options(); // depression weaker than potentiation: the inputs that drive a winner grow
    o.neurons = 4;
    const LearnResult r = learn(train, o);
    INFO("assignments " << r.assignments[0] << " " << r.assignments[1] << " " << r.assignments[2] << " " << r.assignments[3]);
    for (std::size_t j = 0; j < 4; ++j) {
        std::string ws;
        for (std::size_t p = 0; p < 20; ++p) ws += std::to_string(r.weights[p * 4 + j]).substr(0, 4) + " ";
        UNSCOPED_INFO("neuron " << j << " theta " << r.theta[j] << ": " << ws);
    }
    CHECK(r.train_accuracy == 1.0);
    CHECK(evaluate(r, test, o) == 1.0);
    // The weights a neuron assigned to class c learned favour c's inputs.
    for (std::size_t j = 0; j < 4; ++j) {
        if (r.assignments[j] < 0) continue;
        double own = 0, other = 0;
        for (std::size_t p = 0; p < 20; ++p)
            (int(p / 10) == r.assignments[j] ? own : other) += r.weights[p * 4 + j];
        CHECK(own > 2 * other);
    }
    // The same seed learns the same weights.
    CHECK(learn(train, o).weights == r.weights);
}

TEST_CASE("learning refuses bad options", "[learn]") {
    LearnOptions o;
    o.neurons = 0;
    CHECK_THROWS_AS(CompetitiveLayer(4, o), Error);
    o = LearnOptions{};
    o.max_rate = 2;
    CHECK_THROWS_AS(CompetitiveLayer(4, o), Error);
    o = LearnOptions{};
    o.rule.tau_plus = -1;
    CHECK_THROWS_AS(CompetitiveLayer(4, o), Error);
}

TEST_CASE("snn learn refuses what it cannot do with exit code 1 and one line", "[learn][cli]") {
    for (const auto& [args, fact] : std::vector<std::pair<std::string, std::string>>{
             {"--rule stochastic --binary bipolar", "{0,1} only"},
             {"--checkpoint-every 5", "--checkpoint-every needs --checkpoint FILE"},
             {"--resume /nonexistent/ck.h5", "/nonexistent/ck.h5"},
             {"--rule hebb", "--rule 'hebb'"},
             {"--limit 0", "--limit and --test-limit must be at least 1"},
         }) {
        const test::TempDir dir("learn-cli");
        const std::string err = dir.file("stderr");
        const std::string cmd = std::string("'") + SNN_BINARY + "' learn " + args + " >/dev/null 2>'" + err + "'";
        const int raw = std::system(cmd.c_str());
        std::ifstream f(err);
        const std::string message((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        INFO(args << " -> " << message);
        REQUIRE(WIFEXITED(raw));
        CHECK(WEXITSTATUS(raw) == 1);
        CHECK(std::count(message.begin(), message.end(), '\n') == 1);
        CHECK(message.find(fact) != std::string::npos);
    }
}

namespace {

// Three classes of 30 inputs: class c lights inputs 10c … 10c+9 at 0.5–1.0
// over a background of 0–0.3 on the others, drawn from a fixed generator.
// Noisy enough that a briefly trained layer makes some mistakes, so that
// agreement between two accuracies means more than 100 % = 100 %.
Dataset three_patterns(int n, unsigned seed) {
    Dataset d;
    d.name = "three-patterns";
    d.shape = Shape{1, 1, 30};
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> on(0.5f, 1.0f), off(0.0f, 0.3f);
    for (int k = 0; k < n; ++k) {
        const int c = k % 3;
        for (int p = 0; p < 30; ++p) d.x.push_back(p / 10 == c ? on(g) : off(g));
        d.y.push_back(c);
    }
    return d;
}

void write_dataset(const Dataset& d, const std::string& path) {
    const h5::Node f = h5::create_file(path);
    h5::write_floats(f, "x", d.x, {std::uint64_t(d.size()), std::uint64_t(d.shape.size())});
    h5::write_ints(f, "y", std::vector<std::int64_t>(d.y.begin(), d.y.end()), {std::uint64_t(d.size())});
}


// One learned-layer population over `n_in` inputs with current encoding (the
// input current is the pixel times the weight, every step).
Network learned_by_hand(std::vector<float> weights, std::vector<float> theta, Inhibition inhibition) {
    Network net;
    net.populations.push_back(test::input({1, 1, 1}));
    Population ex;
    ex.name = "excitatory";
    ex.shape = {1, 1, int(theta.size())};
    ex.neuron.reset = ResetMode::Zero;
    ex.neuron.v_th = 1.0f;
    ex.theta = std::move(theta);
    ex.inhibition = inhibition;
    ex.projections.push_back(test::projection(0, ProjectionKind::Dense, {}, std::move(weights), "stdp"));
    net.populations.push_back(ex);
    return net;
}

std::vector<std::int32_t> counts_after(const Network& net, int steps) {
    RunOptions ro;
    ro.steps = steps;
    const Engine engine(net, ro);
    SampleState s;
    engine.init(s);
    const float x = 1.0f;
    engine.run_sample(&x, 0, s, nullptr);
    return s.counts.back();
}

} // namespace

TEST_CASE("the engine's per-unit thresholds and winner-take-all, by hand", "[learn][sim]") {
    // IF units (no leak), thresholds 1 + θ = 1, 1.5, 3; currents 0.6, 0.9, 1.0 per step.
    //   step 1: v = .6 .9 1  — nobody at threshold
    //   step 2: v = 1.2 1.8 2 — units 0 (margin .2) and 1 (margin .3) are above;
    //   without inhibition both fire and reset to 0; with winner-take-all only
    //   unit 1 fires and every unit drops to 0. Steps 3–4 repeat steps 1–2, except
    //   that without inhibition unit 2 keeps integrating: 3.0 at step 3 fires.
    const std::vector<float> w{0.6f, 0.9f, 1.0f}, theta{0.0f, 0.5f, 2.0f};
    CHECK(counts_after(learned_by_hand(w, theta, Inhibition::None), 4) == std::vector<std::int32_t>{2, 2, 1});
    CHECK(counts_after(learned_by_hand(w, theta, Inhibition::WinnerTakeAll), 4) == std::vector<std::int32_t>{0, 2, 0});
    // Equal margins (0 and 0 at step 2: 0.5+0.5 = 1, 0.75+0.75 = 1.5, exact in binary): the lower index wins.
    CHECK(counts_after(learned_by_hand({0.5f, 0.75f}, {0.0f, 0.5f}, Inhibition::WinnerTakeAll), 4) ==
          std::vector<std::int32_t>{2, 0});
}

TEST_CASE("the assignment readout of a network classifies by the labels of the units that spiked", "[learn][sim]") {
    // Unit 1 alone spikes (twice in 4 steps, above); labels decide the class.
    Network net = learned_by_hand({0.6f, 0.9f, 1.0f}, {0.0f, 0.5f, 2.0f}, Inhibition::WinnerTakeAll);
    net.readout = Readout::Assignment;
    Dataset d;
    d.shape = Shape{1, 1, 1};
    d.x = {1.0f};
    d.y = {0};
    RunOptions ro;
    ro.steps = 4;
    net.labels = {1, 0, 1}; // class 0: mean 2; class 1: mean 0
    CHECK(simulate(net, d, ro).predictions[0] == 0);
    net.labels = {0, 1, -1};
    CHECK(simulate(net, d, ro).predictions[0] == 1);
    net.labels = {0, -1, 1}; // no labelled unit spiked: no class, counted wrong
    CHECK(simulate(net, d, ro).predictions[0] == -1);
    CHECK(simulate(net, d, ro).correct_at.back() == 0);
    net.labels.clear();
    CHECK_THROWS_AS(simulate(net, d, ro), Error);
}

TEST_CASE("the learned network stores weight·max_rate, θ, the labels and what it was made for", "[learn]") {
    const Dataset train = three_patterns(30, 1);
    LearnOptions o = small_options();
    const LearnResult r = learn(train, o);
    const Network net = learned_network(r, o, train.shape, "three-patterns");
    REQUIRE(net.populations.size() == 2);
    const Population& ex = net.populations[1];
    CHECK(ex.inhibition == Inhibition::WinnerTakeAll);
    CHECK(ex.neuron.reset == ResetMode::Zero);
    CHECK(ex.neuron.model == NeuronModel::LIF);
    CHECK(ex.neuron.tau_steps == 20.0f);
    CHECK(ex.neuron.v_th == 4.0f);
    CHECK(net.readout == Readout::Assignment);
    CHECK(net.labels == r.assignments);
    CHECK(net.steps == 60);
    CHECK(net.max_rate == 0.2f);
    for (std::size_t j = 0; j < 6; ++j) CHECK(ex.theta[j] == float(r.theta[j]));
    for (std::size_t k = 0; k < r.weights.size(); ++k)
        CHECK(ex.projections[0].weights[k] == float(double(r.weights[k]) * double(0.2f)));
}

TEST_CASE("snn run on the file snn learn wrote reports the accuracy snn learn reported", "[learn][cli]") {
    test::TempDir dir("learn-run");
    write_dataset(three_patterns(90, 1), dir.file("train.h5"));
    write_dataset(three_patterns(60, 2), dir.file("test.h5"));
    const std::string common = "learn --data " + test::quote(dir.file("train.h5")) + " --test-data " +
                               test::quote(dir.file("test.h5")) +
                               " --neurons 6 --steps 60 --max-rate 0.2 --v-th 4 --theta-plus 0.2 --weight-sum 10 -q";
    const auto learn1 = test::snn_cli(common + " --threads 1 -o " + test::quote(dir.file("l.snn.h5")) + " --report " +
                                      test::quote(dir.file("learn.json")));
    REQUIRE(learn1.status == 0);
    const auto run = test::snn_cli("run " + test::quote(dir.file("l.snn.h5")) + " --data " + test::quote(dir.file("test.h5")) +
                                   " --encode poisson --threads 2 -q --report " + test::quote(dir.file("run.json")));
    INFO(run.err);
    REQUIRE(run.status == 0);
    const auto learned = test::read_report(dir.file("learn.json"), test::ReportKind::Learn);
    const auto ran = test::read_report(dir.file("run.json"));
    // The network's own steps and rate, without --steps or --max-rate.
    CHECK(ran["steps"] == 60);
    CHECK(ran["readout"] == "assignment");
    const double accuracy = learned["accuracy"];
    UNSCOPED_INFO("accuracy " << accuracy << ", train " << learned["train_accuracy"]);
    CHECK(accuracy > 1.0 / 3.0);
    CHECK(accuracy < 1.0); // some mistakes, so that the agreement below is not 100 % = 100 %
    CHECK(ran["accuracy"].get<double>() == accuracy);
    // The thread count of snn learn changes nothing either.
    const auto learn2 = test::snn_cli(common + " --threads 2 --report " + test::quote(dir.file("learn2.json")));
    REQUIRE(learn2.status == 0);
    const auto learned2 = test::read_report(dir.file("learn2.json"), test::ReportKind::Learn);
    CHECK(learned2["accuracy"].get<double>() == accuracy);
    CHECK(learned2["train_accuracy"].get<double>() == learned["train_accuracy"].get<double>());
}

TEST_CASE("a run resumed from a checkpoint ends bit for bit where an uninterrupted one ends", "[learn]") {
    const Dataset train = three_patterns(45, 3);
    LearnOptions o = small_options();
    o.epochs = 2;
    const LearnResult whole = learn(train, o);
    test::TempDir dir("learn-resume");
    const std::string ck = dir.file("ck.h5");
    // Interrupt after sample `stop` of the pass `stop_epoch`: checkpoints come every 10
    // samples, so the run resumes from the last multiple of 10 and repeats the rest.
    struct Stop {};
    for (const auto& [stop_epoch, stop] : std::vector<std::pair<int, int>>{{0, 27}, {1, 13}, {1, 44}}) {
        INFO("stopped in epoch " << stop_epoch << " after sample " << stop);
        std::filesystem::remove(ck);
        const LearnProgress interrupt = [&, e0 = stop_epoch, s0 = stop](std::int32_t e, std::int64_t done, double) {
            if (e == e0 && done == s0) throw Stop{};
        };
        CHECK_THROWS_AS(learn(train, o, interrupt, Checkpointing{ck, 10, nullptr}), Stop);
        const LearnState st = load_checkpoint(ck);
        const std::int64_t total = std::int64_t(st.epoch) * train.size() + st.next_sample;
        CHECK(total == (std::int64_t(stop_epoch) * 45 + stop) / 10 * 10);
        const LearnResult resumed = learn(train, o, {}, Checkpointing{ck, 10, &st});
        CHECK(resumed.weights == whole.weights);
        CHECK(resumed.theta == whole.theta); // doubles, compared exactly
        CHECK(resumed.assignments == whole.assignments);
        CHECK(resumed.train_accuracy == whole.train_accuracy);
    }
    CHECK(dir.temporaries().empty());
    // A checkpoint of another run (another seed) is refused.
    LearnState st = load_checkpoint(ck);
    o.seed = 2;
    CHECK_THROWS_WITH(learn(train, o, {}, Checkpointing{"", 0, &st}), Catch::Contains("another run"));
    // Something that is not a checkpoint is refused, naming the file.
    save(learned_network(whole, small_options(), train.shape, "x"), dir.file("net.snn.h5"));
    CHECK_THROWS_WITH(load_checkpoint(dir.file("net.snn.h5")),
                      Catch::Contains(dir.file("net.snn.h5")) && Catch::Contains("not an snn learn checkpoint"));
}

TEST_CASE("stochastic binary learning keeps weights in {0,1} and gives each neuron the gain weight_sum/ones", "[learn]") {
    const Dataset train = three_patterns(60, 4);
    LearnOptions o = small_options();
    o.rule.kind = RuleKind::Stochastic;
    o.rule.gamma_plus = 0.05;
    o.rule.gamma_minus = 0.02;
    o.rule.tau_plus = 5; // a window of 15 steps: an input that is off rarely spiked in it
    o.p_init = 0.3;
    const LearnResult r = learn(train, o);
    REQUIRE(r.gain.size() == 6);
    for (const float w : r.weights) REQUIRE((w == 0.0f || w == 1.0f));
    for (std::size_t j = 0; j < 6; ++j) {
        double ones = 0;
        for (std::size_t i = 0; i < 30; ++i) ones += r.weights[i * 6 + j];
        CHECK(r.gain[j] == (ones > 0 ? 10.0 / ones : 0.0));
    }
    // The learned network: one weight value per neuron, gain·max_rate, where its bit is 1.
    const Network net = learned_network(r, o, train.shape, "three-patterns");
    for (std::size_t i = 0; i < 30; ++i)
        for (std::size_t j = 0; j < 6; ++j)
            CHECK(net.populations[1].projections[0].weights[i * 6 + j] ==
                  (r.weights[i * 6 + j] == 1.0f ? float(r.gain[j] * double(0.2f)) : 0.0f));
    // Three well-separated patterns are learned with binary weights too.
    CHECK(evaluate(r, three_patterns(60, 5), o) > 0.9);
}
