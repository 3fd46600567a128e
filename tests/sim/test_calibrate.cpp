// The per-layer scale search of --calibrate-steps, on a case worked by hand.
#include "convert/normalize.hpp"
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
