// The pieces of unsupervised learning (sim/learn.hpp), with answers worked
// out by hand: weight normalization, adaptive thresholds, winner-take-all,
// label assignment and the assignment readout; then a small end-to-end case
// whose two input patterns the layer must learn to tell apart.
#include "sim/learn.hpp"
#include "snn/error.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

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
    LearnOptions o;
    o.neurons = 4;
    o.steps = 60;
    o.max_rate = 0.2;
    o.tau_mem = 20;
    o.v_th = 4;
    o.theta_plus = 0.2;
    o.weight_sum = 10;
    o.w_init_max = 1.0;
    o.rule.a_plus = 0.02;
    o.rule.a_minus = 0.005; // depression weaker than potentiation: the inputs that drive a winner grow
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
             {"--rule stochastic", "does not take --rule stochastic"},
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
