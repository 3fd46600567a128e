// Incomplete dot products in the engine and on the command line: synaptic
// operations at P % against the count worked out by hand, P changed between
// samples against fresh engines, and `snn convert --idp-profile` / `snn run
// --idp` as a user runs them.
#include "sim/engine.hpp"
#include "sim/report.hpp"
#include "snn/error.hpp"
#include "snn/idp.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

// input (1,1,2) → h1 dense → h2 dense → out dense 2, every weight 1, all-one
// profiles on h2 and out. With both inputs at 1, every unit gets a current of
// at least 1 per step from whatever it reads, so with v_th 1 every unit
// spikes at every step (never more than once), at any IDP setting.
Network every_step_chain(int width = 4) {
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    const auto layer = [&](const char* name, int source, int in, int out) {
        Population p;
        p.name = name;
        p.shape = {1, 1, out};
        p.projections.push_back({source, ProjectionKind::Dense, {}, std::vector<float>(std::size_t(in * out), 1.0f), name});
        p.bias.assign(std::size_t(out), 0.0f);
        net.populations.push_back(p);
    };
    layer("h1", 0, 2, width);
    layer("h2", 1, width, width);
    layer("out", 2, width, 2);
    attach_idp_profile(net, IdpProfile::AllOne, "test");
    return net;
}

std::vector<float> random_inputs(int n, int count, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> x(std::size_t(n * count));
    for (float& v : x) v = u(rng);
    return x;
}

// A random chain input (1,1,6) → 12 → 10 → 3 with a linear profile.
Network random_chain() {
    Network net;
    net.populations.push_back(input({1, 1, 6}));
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0.1f, 0.4f);
    int prev = 6;
    int i = 0;
    for (int width : {12, 10, 3}) {
        Population p;
        p.name = "l" + std::to_string(i);
        p.shape = {1, 1, width};
        std::vector<float> w(std::size_t(prev * width));
        for (float& v : w) v = g(rng);
        p.projections.push_back({i, ProjectionKind::Dense, {}, w, p.name});
        p.bias.assign(std::size_t(width), 0.05f);
        net.populations.push_back(p);
        prev = width;
        ++i;
    }
    attach_idp_profile(net, IdpProfile::Linear, "test");
    return net;
}

} // namespace

TEST_CASE("synaptic operations at P % are the hand-worked count", "[idp][sim]") {
    // T steps, inputs (1, 1). Full: the input's 2 values × 4 targets once per
    // sample (current encoding), then every step 4 spikes × 4 targets into h2
    // and 4 × 2 into out: 8 + 24·T.
    // P %: k = ⌈P·4/100⌉ units of h1 and h2: 2·k + k·k·T + k·2·T.
    const int T = 10;
    const Network net = every_step_chain();
    const std::vector<float> x = {1, 1};
    for (double P : {100.0, 75.0, 50.0, 25.0}) {
        RunOptions opt;
        opt.steps = T;
        opt.idp = parse_idp(std::to_string(P));
        Engine e(net, opt);
        SampleState s;
        e.init(s);
        e.run_sample(x.data(), 0, s, nullptr);
        const std::int64_t k = idp_channels(P, 4);
        INFO("P = " << P << ", k = " << k);
        CHECK(s.synaptic_ops[1] == 2 * k);
        CHECK(s.synaptic_ops[2] == k * k * T);
        CHECK(s.synaptic_ops[3] == k * 2 * T);
        CHECK(s.spike_total[1] == k * T);
        CHECK(s.spike_total[3] == 2 * T); // the output produces every class
        CHECK(s.counts.back() == std::vector<std::int32_t>{T, T});
    }
    // A wider middle: ops of h1 → h2 fall as (P/100)² exactly where P·N/100 is whole.
    const Network wide = every_step_chain(20);
    RunOptions opt;
    opt.steps = T;
    Engine full(wide, opt);
    opt.idp = parse_idp("50");
    Engine half(wide, opt);
    SampleState a, b;
    full.init(a);
    half.init(b);
    full.run_sample(x.data(), 0, a, nullptr);
    half.run_sample(x.data(), 0, b, nullptr);
    CHECK(a.synaptic_ops[2] == 20 * 20 * T);
    CHECK(b.synaptic_ops[2] * 4 == a.synaptic_ops[2]);
}

TEST_CASE("changing P between samples gives what fresh engines give", "[idp][sim]") {
    const Network net = random_chain();
    const std::vector<float> x = random_inputs(6, 4, 5);
    RunOptions opt;
    opt.steps = 32;
    const std::vector<std::optional<IdpSetting>> settings = {std::nullopt, parse_idp("50"), parse_idp("l1=30"),
                                                             parse_idp("80"), std::nullopt};
    Engine changing(net, opt);
    SampleState s;
    for (std::size_t i = 0; i < settings.size(); ++i) {
        const std::int64_t sample = std::int64_t(i % 4);
        changing.set_idp(settings[i]);
        changing.init(s);
        changing.run_sample(x.data() + 6 * sample, sample, s, nullptr);
        RunOptions o = opt;
        o.idp = settings[i];
        Engine fresh(net, o);
        SampleState f;
        fresh.init(f);
        fresh.run_sample(x.data() + 6 * sample, sample, f, nullptr);
        INFO("setting " << (settings[i] ? settings[i]->str() : "none"));
        CHECK(s.counts == f.counts);
        CHECK(s.v == f.v);
        CHECK(s.synaptic_ops == f.synaptic_ops);
        CHECK(s.prediction == f.prediction);
        CHECK(changing.network() == fresh.network());
    }
    // Some setting made a difference (the test would prove nothing otherwise).
    RunOptions o = opt;
    Engine whole(net, o);
    o.idp = parse_idp("30");
    Engine small(net, o);
    CHECK(whole.network().populations[1].shape.c == 12);
    CHECK(small.network().populations[1].shape.c == 4); // l1 reads ⌈0.3·12⌉ of l0
    CHECK(small.network().populations[2].shape.c == 3); // l2 reads ⌈0.3·10⌉ of l1
}

TEST_CASE("simulate at P % gives the same result on 1 and 3 threads", "[idp][sim]") {
    const Network net = random_chain();
    Dataset data;
    data.shape = {1, 1, 6};
    data.x = random_inputs(6, 40, 9);
    data.y.assign(40, 0);
    for (std::size_t i = 0; i < 40; ++i) data.y[i] = std::int32_t(i % 3);
    RunOptions opt;
    opt.steps = 16;
    opt.idp = parse_idp("60");
    opt.threads = 1;
    const RunResult one = simulate(net, data, opt);
    opt.threads = 3;
    const RunResult three = simulate(net, data, opt);
    CHECK(one.predictions == three.predictions);
    CHECK(one.synaptic_ops == three.synaptic_ops);
    CHECK(one.spikes == three.spikes);
}

TEST_CASE("snn convert --idp-profile and snn run --idp: reports and refusals", "[idp][cli]") {
    TempDir work("idp-cli");
    const std::string tiny = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    const std::string net = work.file("idp.snn.h5"), plain = work.file("plain.snn.h5"), data = work.file("data.h5");
    tiny_network_and_data(plain, data);
    const Outcome c = snn_cli("convert " + quote(tiny) + " --idp-profile linear -o " + quote(net));
    INFO(c.out << c.err);
    REQUIRE(c.status == 0);
    CHECK_THAT(c.out, Contains("IDP profile linear on dense"));
    const Network n = load(net);
    CHECK(idp_layers(n) == std::vector<std::string>{"dense"}); // conv2d reads the input
    CHECK(n.populations[2].projections[0].idp_gamma == std::vector<float>{0.5f, 0.0f});

    const std::string full_report = work.file("full.json"), half_report = work.file("half.json");
    const Outcome full = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 16 -q --report " + quote(full_report));
    INFO(full.err);
    REQUIRE(full.status == 0);
    const Outcome half = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 16 --idp 50 --report " + quote(half_report));
    INFO(half.err);
    REQUIRE(half.status == 0);
    CHECK_THAT(half.out, Contains("IDP 50: dense 50% (linear, 1 input channels, 3 output)"));
    const auto jf = read_report(full_report), jh = read_report(half_report);
    CHECK(jf["idp"].is_null());
    CHECK(jh["idp"]["setting"] == "50");
    CHECK(jh["idp"]["layers"][0]["input_channels"] == 1);

    const auto refused = [&](const std::string& args, const std::string& fact) {
        const std::string report = work.file("refused.json");
        const Outcome o = snn_cli(args + " --report " + quote(report));
        INFO(args << "\nstderr: " << o.err);
        CHECK(o.status == 1);
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_THAT(o.err, Contains(fact));
        CHECK_FALSE(std::filesystem::exists(report));
    };
    const std::string run = "run " + quote(net) + " --data " + quote(data);
    refused(run + " --idp 0", "--idp '0': '0' is not a percentage in (0, 100]");
    refused(run + " --idp 101", "--idp '101'");
    refused(run + " --idp fifty", "--idp 'fifty'");
    refused(run + " --idp conv2d=50", "'conv2d' is not an IDP layer of the network (IDP layers: dense)");
    refused(run + " --idp nothing=50", "'nothing' is not an IDP layer");
    refused("run " + quote(plain) + " --data " + quote(data) + " --idp 50", "the network has no IDP layer");
    const Outcome bad = snn_cli("convert " + quote(tiny) + " --idp-profile cosine -o " + quote(work.file("x.snn.h5")));
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Contains("--idp-profile 'cosine'"));
    CHECK_FALSE(std::filesystem::exists(work.file("x.snn.h5")));
}

TEST_CASE("snn run --dnn-pipeline --idp runs the DNN at that setting: the cut carries the channels read", "[idp][cli]") {
    // every_step_chain(4) split after h1: h2 is an IDP layer of 4 input
    // channels, so at 50 % it reads ⌈50·4/100⌉ = 2 of h1's channels and h1
    // computes only those: the cut carries 2 activations per input, not 4.
    TempDir work("idp-dnn-pipeline");
    const std::string net = work.file("chain.snn.h5"), data = work.file("data.h5");
    save(every_step_chain(4), net);
    write_data(data, std::vector<float>(3 * 2, 1.0f), {3, 1, 1, 2}, {0, 0, 0});
    const auto activations = [&](const std::string& flags) {
        const std::string report = work.file("r.json");
        const Outcome o = snn_cli("run " + quote(net) + " --data " + quote(data) +
                                  " --steps 4 --partition a:h1,b:h2-out --dnn-pipeline -q --report " + quote(report) + flags);
        INFO(o.err);
        REQUIRE(o.status == 0);
        std::ifstream f(report);
        return nlohmann::json::parse(f)["cuts"][0]["activations"].get<int>();
    };
    CHECK(activations("") == 4);
    CHECK(activations(" --idp 50") == 2);
    CHECK(activations(" --idp 100") == 4);
}

TEST_CASE("snn convert inspect run and export of a model with two IDP profiles", "[idp][cli]") {
    TempDir work("idp-profiles-cli");
    const std::string model = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_idp_profiles.h5";
    const std::string net = work.file("p.snn.h5"), data = work.file("data.h5");
    std::vector<float> x(12 * 5);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7) % 11) / 10.0f;
    std::vector<std::int64_t> y(12);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    write_data(data, x, {12, 5}, y);
    const Outcome c = snn_cli("convert " + quote(model) + " --calib " + quote(data) + " -o " + quote(net));
    INFO(c.out << c.err);
    REQUIRE(c.status == 0);
    CHECK_THAT(c.out, Contains("IDP profiles: dense, dense_2 up to 40 %"));
    const Outcome i = snn_cli("inspect " + quote(net));
    CHECK_THAT(i.out, Contains("IDP profiles: 0-40 % own dense, dense_2; 40-100 % the network's own weights"));
    const auto j = nlohmann::json::parse(snn_cli("inspect " + quote(net) + " --json").out);
    REQUIRE(j["idp_profiles"].size() == 2);
    CHECK(j["idp_profiles"][0]["own_layers"] == nlohmann::json::array({"dense", "dense_2"}));
    CHECK(j["idp_profiles"][0]["own_parameters"] == 5 * 8 + 8 + 6 * 3 + 3); // both own layers' kernels and biases
    for (const auto& [pct, range] : {std::pair<std::string, std::vector<double>>{"25", {0, 40}}, {"75", {40, 100}}}) {
        const std::string report = work.file("run" + pct + ".json");
        const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 8 -q --idp " + pct +
                                  " --report " + quote(report));
        INFO(r.err);
        REQUIRE(r.status == 0);
        const auto rep = read_report(report);
        CHECK(rep["idp"]["profile_range"] == nlohmann::json(range));
        REQUIRE(validate_report(report).status == 0);
    }
    const Outcome e = snn_cli("export " + quote(net) + " -o " + quote(work.file("p.nir")));
    INFO(e.err);
    CHECK(e.status == 0);
    CHECK_THAT(e.out + e.err, Contains("the IDP profile for 40-100 % (the network's own) is exported"));
    const Outcome q = snn_cli("convert " + quote(model) + " --calib " + quote(data) + " --quantize int:8 -o " +
                              quote(work.file("q.snn.h5")));
    CHECK(q.status == 1);
    CHECK_THAT(q.err, Contains("IDP profiles"));
    CHECK_FALSE(std::filesystem::exists(work.file("q.snn.h5")));
}
