// The per-layer scale search of --calibrate-steps, on a case worked by hand.
#include "convert/dnn.hpp"
#include "convert/normalize.hpp"
#include "sim/engine.hpp"
#include "sim/calibrate.hpp"
#include "snn/error.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace snn;
using snn::test::input;

namespace {

// x → hidden h = relu(x) → out = (h − 0.5, 0.5 − h), read from the membrane:
// class 0 iff h > 0.5. At T = 1 an IF hidden neuron starting at 0 spikes only
// if its input reaches 1, so with λ = 1 the input 0.65 is read as h = 0.
Network threshold_net() {
    Network net;
    net.populations.push_back(input({1, 1, 1}));
    Population h;
    h.name = "hidden";
    h.shape = {1, 1, 1};
    h.projections.push_back({0, ProjectionKind::Dense, {}, {1.0f}, "hidden"});
    net.populations.push_back(h);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 2};
    out.projections.push_back({1, ProjectionKind::Dense, {}, {1.0f, -1.0f}, "out"});
    out.bias = {-0.5f, 0.5f};
    net.populations.push_back(out);
    net.readout = Readout::Membrane;
    validate(net);
    return net;
}

Dataset samples(std::vector<float> x, std::vector<int> y) {
    Dataset d;
    d.name = "hand";
    d.shape = {1, 1, 1};
    d.x = std::move(x);
    d.y = std::move(y);
    return d;
}

} // namespace

TEST_CASE("calibrating for one step lowers the hidden λ just enough, found by hand", "[sim][calibrate]") {
    // Samples: x = 0.65 (class 0) and x = 0.2 (class 1). With the hidden λ
    // multiplied by m, the hidden input is x/m and a spike carries m downstream,
    // so the output logits (λ_out = 1) are (c·m − 0.5, 0.5 − c·m) with c the hidden
    // spike (0 or 1). Loss of a sample = log(1 + e^(z_other − z_label)).
    //   x = 0.2: 0.2/m < 1 for every m ≥ 0.4: logits (−0.5, 0.5), loss log(1 + e^−1).
    //   x = 0.65, m ≥ 0.7: no spike, logits (−0.5, 0.5): loss log(1 + e^1), wrong.
    //             m = 0.6: spike, logits (0.1, −0.1): loss log(1 + e^−0.2), right.
    //             m = 0.5: logits (0, 0): loss log 2 (a tie, read as class 0).
    //             m = 0.4: logits (−0.1, 0.1): loss log(1 + e^0.2), wrong.
    // The output is a membrane readout: its λ is not searched.
    Network net = threshold_net();
    const Dataset d = samples({0.65f, 0.2f}, {0, 1});
    CalibrateOptions opt;
    opt.steps = 1;
    const CalibrateResult r = calibrate_steps(net, d, opt);
    const double loss_02 = std::log(1 + std::exp(-1.0));
    CHECK(r.before.correct == 1);
    CHECK(r.before.loss == Approx((std::log(1 + std::exp(1.0)) + loss_02) / 2));
    CHECK(r.after.correct == 2);
    CHECK(r.after.loss == Approx((std::log(1 + std::exp(-0.2)) + loss_02) / 2));
    REQUIRE(r.factors.size() == 3);
    CHECK(r.factors[1] == 0.6);
    CHECK(r.factors[2] == 1.0);
    CHECK(net.populations[1].scale == Approx(0.6));
    CHECK(net.populations[1].projections[0].weights[0] == Approx(1 / 0.6));
    CHECK(net.populations[2].projections[0].weights == std::vector<float>{0.6f, -0.6f});
    // The rescaled network scores what the search said it would.
    const CalibrateScore again = calibration_score(net, d, 1, 2);
    CHECK(again.correct == 2);
    CHECK(again.loss == Approx(r.after.loss));
}

TEST_CASE("calibration keeps the network when no factor does better", "[sim][calibrate]") {
    // One sample, x = 1 (class 0), 64 steps. With λ unchanged the hidden neuron fires every
    // step: h = 1, logits (0.5, −0.5). A smaller λ cannot fire more (one spike a step) and a
    // spike then carries m < 1: h = m. A larger one fires ⌊64/m⌋ times: h = ⌊64/m⌋·m/64,
    // 0.997 for m = 1.1, 0.996 for 1.25, 0.984 for 1.5. Every change shrinks the margin.
    Network net = threshold_net();
    const Network before = net;
    const Dataset d = samples({1.0f}, {0});
    CalibrateOptions opt;
    opt.steps = 64;
    const CalibrateResult r = calibrate_steps(net, d, opt);
    CHECK(r.after.correct == 1);
    CHECK(r.after.loss == Approx(std::log(1 + std::exp(-1.0))));
    CHECK(r.factors == std::vector<double>{1.0, 1.0, 1.0});
    CHECK(net == before);
}

TEST_CASE("calibration refuses empty or mismatched data", "[sim][calibrate]") {
    Network net = threshold_net();
    CalibrateOptions opt;
    REQUIRE_THROWS_AS(calibrate_steps(net, samples({}, {}), opt), Error);
    Dataset wrong = samples({1.0f, 2.0f}, {0});
    wrong.shape = {1, 1, 2};
    REQUIRE_THROWS_WITH(calibrate_steps(net, wrong, opt), Catch::Contains("hand"));
    opt.steps = 0;
    REQUIRE_THROWS_AS(calibrate_steps(net, samples({0.5f}, {0}), opt), Error);
}

namespace {

// x → hidden (2 IF units, v_init 0: h0 = x, h1 = 1.5·x) → out = 2·h0, read
// from the membrane. With current encoding a hidden unit's input is the same
// c at every step, so at T = 4 it fires ⌊4c⌋ times (once per step at most).
Network bias_net() {
    Network net;
    net.populations.push_back(input({1, 1, 1}));
    Population h;
    h.name = "hidden";
    h.shape = {1, 1, 2};
    h.projections.push_back({0, ProjectionKind::Dense, {}, {1.0f, 1.5f}, "hidden"});
    net.populations.push_back(h);
    Population out;
    out.name = "out";
    out.shape = {1, 1, 1};
    out.projections.push_back({1, ProjectionKind::Dense, {}, {2.0f, 0.0f}, "out"});
    net.populations.push_back(out);
    net.readout = Readout::Membrane;
    validate(net);
    return net;
}

} // namespace

TEST_CASE("bias calibration corrects each layer's mean rate error per channel, found by hand", "[sim][calibrate]") {
    // Samples x = 0.3 and 0.7, T = 4.
    //   hidden 0: DNN 0.3, 0.7; spikes ⌊1.2⌋ = 1, ⌊2.8⌋ = 2: rates 0.25, 0.5;
    //             errors 0.05, 0.2: correction 0.125.
    //   hidden 1: DNN 0.45, 1.05, capped at one spike per step: 0.45, 1; spikes
    //             ⌊1.8⌋ = 1 and 4: rates 0.25, 1; errors 0.2, 0: correction 0.1
    //             (0.125 without the cap).
    //   out, after hidden is corrected: hidden 0 gets 0.425 and 0.825 per step,
    //             ⌊1.7⌋ = 1 and ⌊3.3⌋ = 3 spikes; the membrane 2·1 and 2·3
    //             over 4 steps reads 0.5 and 1.5 against the DNN's 0.6 and 1.4
    //             (from the model's own biases, uncapped): correction 0.
    Network net = bias_net();
    const Network before = net;
    const Dataset d = samples({0.3f, 0.7f}, {0, 0});
    BiasCalibrationOptions opt;
    opt.steps = 4;
    const BiasCalibrationResult r = calibrate_biases(net, d, opt);
    REQUIRE(net.populations[1].bias_correction.size() == 2);
    CHECK(net.populations[1].bias_correction[0] == Approx(0.125).margin(1e-6));
    CHECK(net.populations[1].bias_correction[1] == Approx(0.1).margin(1e-6));
    REQUIRE(net.populations[2].bias_correction.size() == 1);
    CHECK(net.populations[2].bias_correction[0] == Approx(0.0).margin(1e-6));
    CHECK(r.log.size() == 2);
    CHECK(r.mean_error == Approx(((0.125 + 0.1) / 2 + 0.0) / 2).margin(1e-6));
    // The model's own biases and weights are untouched (the DNN pass sees them).
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        CHECK(net.populations[i].bias == before.populations[i].bias);
        CHECK(net.populations[i].projections.size() == before.populations[i].projections.size());
    }
    // The same on 1 and 2 threads.
    Network again = bias_net();
    opt.threads = 2;
    calibrate_biases(again, d, opt);
    CHECK(again.populations[1].bias_correction == net.populations[1].bias_correction);
    CHECK(again.populations[2].bias_correction == net.populations[2].bias_correction);
}

TEST_CASE("the SNN runs with the bias correction, the DNN pass without it", "[sim][calibrate]") {
    // hidden 0 with a correction 0.25 gets 0.55 per step for x = 0.3: ⌊2.2⌋ = 2
    // spikes in 4 steps where it had 1; the DNN's activation stays 0.3.
    Network net = bias_net();
    net.populations[1].bias_correction = {0.25f, 0.0f};
    validate(net);
    RunOptions opt;
    opt.steps = 4;
    const Engine engine(net, opt);
    SampleState s;
    engine.init(s);
    const float x = 0.3f;
    engine.run_sample(&x, 0, s, nullptr);
    CHECK(s.counts[1] == std::vector<std::int32_t>{2, 1});
    const auto a = forward(net, &x);
    CHECK(a[1][0] == Approx(0.3));
    CHECK(a[2][0] == Approx(0.6));
    // A correction of the wrong length or not finite is refused, naming the population.
    net.populations[1].bias_correction = {0.25f};
    CHECK_THROWS_WITH(validate(net), Catch::Contains("hidden") && Catch::Contains("bias_correction"));
    net.populations[1].bias_correction = {0.25f, NAN};
    CHECK_THROWS_WITH(validate(net), Catch::Contains("hidden") && Catch::Contains("not a finite"));
}
