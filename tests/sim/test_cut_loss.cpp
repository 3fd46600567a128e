// Lossy links across a partition's cuts (sim/cut_loss.hpp, `snn run --cut-loss`).
#include "sim/cut_loss.hpp"
#include "sim/encode.hpp"
#include "sim/engine.hpp"
#include "sim/place.hpp"
#include "sim/report.hpp"
#include "snn/error.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

using namespace snn;
using snn::test::input;
using snn::test::projection;
using Catch::Matchers::Contains;

namespace {

Population spiking(const std::string& name, Shape shape, std::vector<Projection> projections) {
    Population p;
    p.name = name;
    p.shape = shape;
    p.projections = std::move(projections);
    return p;
}

std::vector<float> identity(int n) {
    std::vector<float> w(std::size_t(n) * std::size_t(n), 0.0f);
    for (int j = 0; j < n; ++j) w[std::size_t(j) * std::size_t(n) + std::size_t(j)] = 1.0f;
    return w;
}

// input (8) → A (8, identity) on the edge → B (8, identity) in the cloud. B's
// unit j starts at 0 and gains exactly v_th = 1 from each of A_j's spikes
// that arrive, so it fires at step t exactly when A_j's spike of step t
// crossed the cut, and its membrane is back at 0 afterwards.
Network relay() {
    constexpr int n = 8;
    Network net;
    net.populations.push_back(input({1, 1, n}));
    net.populations.push_back(spiking("A", {1, 1, n}, {projection(0, ProjectionKind::Dense, {}, identity(n), "A")}));
    net.populations.push_back(spiking("B", {1, 1, n}, {projection(1, ProjectionKind::Dense, {}, identity(n), "B")}));
    net.devices = parse_partition(net, "edge:A,cloud:B");
    return net;
}

Dataset relay_data(int samples) {
    Dataset d;
    d.name = "relay";
    d.shape = {1, 1, 8};
    const std::vector<float> rates = {1.0f, 0.5f, 0.75f, 0.3f, 0.9f, 0.6f, 0.2f, 0.45f};
    for (int s = 0; s < samples; ++s) {
        for (int j = 0; j < 8; ++j) d.x.push_back(rates[std::size_t((j + s) % 8)]);
        d.y.push_back(0);
    }
    return d;
}

using Key = std::tuple<int, int, int>; // sample, neuron, step

// The recorded spikes of population `pop`, by (sample, neuron, step).
std::set<Key> spikes_of(const RunResult& r, int pop) {
    std::set<Key> out;
    for (const Spike& s : r.recorded)
        if (s.population == pop) out.insert({s.sample, s.neuron, s.step});
    return out;
}

} // namespace

TEST_CASE("cut-loss values: a probability, burst:P:L or none, and one line naming a bad one", "[cut_loss]") {
    CHECK_FALSE(cut_loss_from("none").active());
    const CutLoss a = cut_loss_from("0.25");
    CHECK(a.kind == CutLoss::Kind::Spikes);
    CHECK(a.p == 0.25);
    CHECK(a.str() == "0.25");
    const CutLoss b = cut_loss_from("burst:0.3:4");
    CHECK(b.kind == CutLoss::Kind::Burst);
    CHECK(b.p == 0.3);
    CHECK(b.burst == 4.0);
    CHECK(b.str() == "burst:0.3:4");
    CHECK_FALSE(cut_loss_from("0").active());
    for (const std::string bad : {"1", "-0.1", "lots", "0.1x", "", "burst:0.2", "burst:0.2:0.5", "burst:0.9:1", "nan"}) {
        INFO(bad);
        CHECK_THROWS_WITH(cut_loss_from(bad), Contains("cut-loss '" + bad + "'"));
        CHECK_THROWS_AS(cut_loss_from(bad), OptionError);
    }
}

TEST_CASE("burst loss: the share of steps lost and the mean burst length are those asked for", "[cut_loss]") {
    // Gilbert's two-state chain in the long run: the lossy state holds P of
    // the steps and is left with probability 1/L, so its runs last L steps on
    // average. 3000 samples of 100 steps: about 22,500 bursts, whose mean has
    // a standard error near 0.02 steps.
    const double P = 0.3, L = 4.0;
    const CutLoss loss = cut_loss_from("burst:0.3:4");
    std::int64_t lost = 0, steps = 0, runs = 0, run_steps = 0;
    std::vector<std::uint8_t> seq;
    for (int sample = 0; sample < 3000; ++sample) {
        lost_messages(loss, 9, std::uint64_t(sample), 2, 100, seq);
        REQUIRE(seq.size() == 100);
        for (std::size_t t = 0; t < seq.size(); ++t) {
            lost += seq[t];
            ++steps;
        }
        // Runs wholly inside the sequence (a run cut by its ends would be short).
        for (std::size_t t = 1; t < seq.size(); ++t) {
            if (!(seq[t] && !seq[t - 1])) continue;
            std::size_t e = t;
            while (e < seq.size() && seq[e]) ++e;
            if (e == seq.size()) break;
            ++runs;
            run_steps += std::int64_t(e - t);
            t = e;
        }
    }
    CHECK(double(lost) / double(steps) == Approx(P).margin(0.01));
    REQUIRE(runs > 10000);
    CHECK(double(run_steps) / double(runs) == Approx(L).margin(0.2));
    // Spike loss has no lost messages.
    lost_messages(cut_loss_from("0.5"), 9, 0, 2, 10, seq);
    CHECK(seq == std::vector<std::uint8_t>(10, 0));
}

TEST_CASE("a spike crossing a lossy cut arrives unless its keyed draw is below P, for 1 and 2 threads", "[cut_loss][exits]") {
    const Network net = relay();
    const Dataset data = relay_data(12);
    RunOptions opt;
    opt.steps = 40;
    opt.seed = 5;
    opt.readout = Readout::Spikes;
    opt.record_samples = 12;
    const RunResult whole = simulate(net, data, opt);
    const std::set<Key> sent = spikes_of(whole, 1);
    REQUIRE(sent.size() > 800);
    // Without loss B relays A exactly.
    CHECK(spikes_of(whole, 2) == sent);

    SECTION("each spike on its own") {
        const double P = 0.3;
        opt.cut_loss = cut_loss_from("0.3");
        // Expected from the rule's definition: the draw of stream
        // (seed, sample, cut 0's stream, step) at the spike's address on the cut.
        std::set<Key> arrived;
        for (const auto& [sample, j, t] : sent)
            if (!(uniform_draw(5, std::uint64_t(sample), cut_loss_stream(0), std::uint64_t(t), std::uint64_t(j)) < float(P)))
                arrived.insert({sample, j, t});
        const double lost = double(sent.size() - arrived.size());
        CHECK(lost / double(sent.size()) == Approx(P).margin(0.06));
        for (int threads : {1, 2}) {
            INFO(threads << " threads");
            opt.threads = threads;
            const RunResult r = simulate(net, data, opt);
            CHECK(spikes_of(r, 1) == sent); // the edge is not affected
            CHECK(spikes_of(r, 2) == arrived);
            REQUIRE(r.cut_lost.size() == 1);
            CHECK(r.cut_lost[0] == lost);
            CHECK(r.cut_spikes[0] == double(sent.size())); // the meter counts what was sent
            const nlohmann::json j = test::checked_report(report_json(net, r, RunInfo{"relay", "relay", opt, -1, {}, {}}));
            CHECK(j["cut_loss"] == "0.3");
            CHECK(j["cuts"][0]["spikes_lost"].get<double>() == Approx(lost / 12));
        }
    }
    SECTION("whole messages in bursts") {
        opt.cut_loss = cut_loss_from("burst:0.4:3");
        std::set<Key> arrived;
        std::map<int, std::vector<std::uint8_t>> lost_at;
        for (int sample = 0; sample < 12; ++sample)
            lost_messages(opt.cut_loss, 5, std::uint64_t(sample), 0, opt.steps, lost_at[sample]);
        for (const auto& [sample, j, t] : sent)
            if (!lost_at[sample][std::size_t(t)]) arrived.insert({sample, j, t});
        REQUIRE(arrived.size() < sent.size());
        REQUIRE(!arrived.empty());
        for (int threads : {1, 2}) {
            INFO(threads << " threads");
            opt.threads = threads;
            const RunResult r = simulate(net, data, opt);
            CHECK(spikes_of(r, 2) == arrived);
            CHECK(r.cut_lost[0] == double(sent.size() - arrived.size()));
        }
    }
}

TEST_CASE("the DNN under the same loss: activations crossing the cut zeroed by their own draws", "[cut_loss]") {
    // In the relay the DNN's output is B = A = x (identity weights, ReLU of
    // positive inputs), so its class is the largest x_j that arrived.
    const Network net = relay();
    const Dataset data = relay_data(40);
    for (const std::string spec : {"0.4", "burst:0.5:2"}) {
        INFO(spec);
        const CutLoss loss = cut_loss_from(spec);
        std::vector<int> got;
        const double acc = dnn_accuracy_under_loss(net, data, loss, 7, 2, &got);
        REQUIRE(got.size() == 40);
        std::int64_t correct = 0, changed = 0;
        for (int sample = 0; sample < 40; ++sample) {
            const StepDraws draw(7, std::uint64_t(sample), dnn_loss_stream(0), 0);
            std::vector<float> out(data.sample(sample), data.sample(sample) + 8);
            const bool all = loss.kind == CutLoss::Kind::Burst && draw(0) < 0.5f;
            for (std::size_t j = 0; j < 8; ++j)
                if (all || (loss.kind == CutLoss::Kind::Spikes && draw(j) < 0.4f)) out[j] = 0.0f;
            const int want = int(std::max_element(out.begin(), out.end()) - out.begin());
            CHECK(got[std::size_t(sample)] == want);
            correct += want == 0;
            changed += want != int(std::max_element(data.sample(sample), data.sample(sample) + 8) - data.sample(sample));
        }
        CHECK(changed > 0); // the loss changed some answers, so the comparison means something
        CHECK(acc == double(correct) / 40);
    }
    // No loss: the plain DNN pass.
    std::vector<int> plain;
    dnn_accuracy(net, data, 1, &plain);
    std::vector<int> none;
    dnn_accuracy_under_loss(net, data, CutLoss{}, 7, 1, &none);
    CHECK(none == plain);
}

TEST_CASE("snn run --cut-loss: a partitioned run reports the loss; a bad value or no partition is one line", "[cut_loss][cli]") {
    const test::TempDir dir("cutloss");
    const std::string net = dir.file("tiny.snn.h5"), data = dir.file("data.h5"), report = dir.file("r.json");
    test::tiny_network_and_data(net, data);
    const std::string base = "run " + test::quote(net) + " --data " + test::quote(data) + " --steps 16 --no-dnn";
    const test::Outcome ok =
        test::snn_cli(base + " --partition edge:conv2d,cloud:dense --cut-loss 0.2 --report " + test::quote(report));
    REQUIRE(ok.status == 0);
    CHECK_THAT(ok.out, Contains("lost on the link (--cut-loss 0.2)"));
    const nlohmann::json j = test::read_report(report);
    CHECK(j["cut_loss"] == "0.2");
    CHECK(j["cuts"][0].contains("spikes_lost"));
    CHECK_FALSE(j.contains("dnn_accuracy_under_loss")); // --no-dnn
    CHECK(j["execution"]["why"].get<std::string>().find("cut loss") != std::string::npos);

    const test::Outcome none = test::snn_cli(base + " --cut-loss 0.2");
    CHECK(none.status != 0);
    CHECK_THAT(none.err, Contains("--cut-loss 0.2: the network has no partition"));
    const test::Outcome bad = test::snn_cli(base + " --partition edge:conv2d,cloud:dense --cut-loss 1.5");
    CHECK(bad.status != 0);
    CHECK_THAT(bad.err, Contains("cut-loss '1.5'"));
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
}
