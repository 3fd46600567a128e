// `snn convert --prune` (convert/prune.hpp, docs/pruning.md): the spec, the
// exact pruned count, random pruning reproducible by seed and different
// across seeds and layers, magnitude pruning on a hand-worked case, pruned
// Dense layers stored as sparse rows and convolutions as zeros, the
// independent numpy check tools/prune_reference.py, the refusals (one line,
// exit 1, no output file), and a whole `snn run` of a pruned MLP against
// the same network with its zeros stored densely.
#include "convert/prune.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"
#include "snn/sparse.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path source_dir = SNN_SOURCE_DIR;

std::vector<float> normal_weights(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 0.5f);
    std::vector<float> w(n);
    for (float& x : w) x = d(rng);
    return w;
}

std::int64_t removed(const std::vector<std::uint8_t>& keep) { return std::int64_t(std::count(keep.begin(), keep.end(), 0)); }

// input (2×2×2) → conv (3×3 kernel, same, 3 channels) → dense (12 → 5).
Network conv_dense() {
    Network net;
    net.populations.push_back(input({2, 2, 2}));
    Population conv;
    conv.name = "conv";
    conv.shape = {2, 2, 3};
    conv.bias.assign(3, 0.0f);
    conv.projections.push_back(projection(0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}, normal_weights(3 * 3 * 2 * 3, 1), "conv"));
    net.populations.push_back(conv);
    Population dense;
    dense.name = "fc";
    dense.shape = {1, 1, 5};
    dense.bias.assign(5, 0.0f);
    dense.projections.push_back(projection(1, ProjectionKind::Dense, {}, normal_weights(12 * 5, 2), "fc"));
    net.populations.push_back(dense);
    return net;
}

nlohmann::json inspect_json(const std::string& net) {
    const Outcome o = snn_cli("inspect " + quote(net) + " --json");
    REQUIRE(o.status == 0);
    return nlohmann::json::parse(o.out);
}

} // namespace

TEST_CASE("the --prune spec parses methods and layer entries, and refuses malformed ones naming them", "[prune]") {
    const auto e = parse_prune({"random:0.5", "fc=magnitude:0.9", "conv=random:0"});
    REQUIRE(e.size() == 3);
    CHECK(e[0].layer.empty());
    CHECK(e[0].method == PruneMethod::Random);
    CHECK(e[0].ratio == 0.5);
    CHECK(e[1].layer == "fc");
    CHECK(e[1].method == PruneMethod::Magnitude);
    CHECK(e[1].ratio == 0.9);
    CHECK(e[2].ratio == 0.0);
    for (const char* bad : {"random:1", "random:-0.1", "random", "random:", "random:0.5x", "magnitude:nan", "l1:0.5",
                            "=random:0.5"})
        CHECK_THROWS_WITH(parse_prune({bad}), Contains(std::string("'") + bad + "'"));
    CHECK_THROWS_WITH(parse_prune({"random:0.5", "magnitude:0.5"}), Contains("more than one"));
    CHECK_THROWS_WITH(parse_prune({"a=random:0.1", "a=random:0.2"}), Contains("'a' is given twice"));
}

TEST_CASE("pruning removes exactly round(R·n) weights", "[prune]") {
    // ⌊R·n + 0.5⌋ by hand.
    CHECK(pruned_count(10, 0.25) == 3);
    CHECK(pruned_count(3, 0.5) == 2);
    CHECK(pruned_count(401408, 0.9) == 361267);
    CHECK(pruned_count(7, 0.0) == 0);
    for (const std::size_t n : {1u, 2u, 17u, 1000u, 4096u})
        for (const double r : {0.0, 0.1, 0.5, 0.8, 0.9, 0.999}) {
            INFO("n " << n << " R " << r);
            const auto w = normal_weights(n, 5);
            const auto want = std::int64_t(std::floor(r * double(n) + 0.5));
            CHECK(removed(prune_mask(w, PruneMethod::Random, r, prune_stream(1, 1, 0))) == want);
            CHECK(removed(prune_mask(w, PruneMethod::Magnitude, r, 0)) == want);
        }
}

TEST_CASE("random pruning is reproducible by seed, differs across seeds and layers, and is uniform", "[prune]") {
    const auto w = normal_weights(1000, 9);
    const auto a = prune_mask(w, PruneMethod::Random, 0.5, prune_stream(7, 1, 0));
    CHECK(a == prune_mask(w, PruneMethod::Random, 0.5, prune_stream(7, 1, 0)));
    CHECK(a != prune_mask(w, PruneMethod::Random, 0.5, prune_stream(8, 1, 0)));
    CHECK(a != prune_mask(w, PruneMethod::Random, 0.5, prune_stream(7, 2, 0)));
    CHECK(a != prune_mask(w, PruneMethod::Random, 0.5, prune_stream(7, 1, 1)));
    // Chosen without regard to the values: the mask of other weights is the same.
    CHECK(a == prune_mask(normal_weights(1000, 10), PruneMethod::Random, 0.5, prune_stream(7, 1, 0)));
    // Every position is removed with probability R: over 4000 seeds, 3 of 10
    // removed, each count is Binomial(4000, 0.3) = 1200 ± 29 (one standard deviation).
    std::vector<int> count(10, 0);
    const std::vector<float> ten(10, 1.0f);
    for (std::uint64_t seed = 0; seed < 4000; ++seed) {
        const auto m = prune_mask(ten, PruneMethod::Random, 0.3, prune_stream(seed, 1, 0));
        for (std::size_t k = 0; k < 10; ++k) count[k] += m[k] == 0;
    }
    for (std::size_t k = 0; k < 10; ++k) {
        INFO("position " << k);
        CHECK(std::abs(count[k] - 1200) < 6 * 29);
    }
}

TEST_CASE("magnitude pruning removes the smallest |w|, the lower index first on ties", "[prune]") {
    //            0     1     2     3     4    5
    const std::vector<float> w = {0.3f, -0.1f, 0.2f, -0.4f, 0.1f, 0.0f};
    // Sorted by (|w|, index): 5 (0.0), 1 (0.1), 4 (0.1), 2 (0.2), 0 (0.3), 3 (0.4).
    CHECK(prune_mask(w, PruneMethod::Magnitude, 0.5, 0) == std::vector<std::uint8_t>{1, 0, 1, 1, 0, 0});  // 3 removed
    CHECK(prune_mask(w, PruneMethod::Magnitude, 0.34, 0) == std::vector<std::uint8_t>{1, 0, 1, 1, 1, 0}); // 2: index 1 before 4
    CHECK(prune_mask(w, PruneMethod::Magnitude, 0.75, 0) == std::vector<std::uint8_t>{0, 0, 0, 1, 0, 0}); // 0.75·6 = 4.5 → 5
}

TEST_CASE("apply_prune makes a pruned dense layer sparse rows and zeroes a convolution's kernel", "[prune]") {
    const Network net = conv_dense();
    std::vector<std::string> log;
    Network pruned = net;
    apply_prune(pruned, parse_prune({"random:0.5"}), 3, "model.h5", log);
    CHECK_NOTHROW(validate(pruned));
    REQUIRE(log.size() == 2);
    CHECK_THAT(log[0], Contains("conv") && Contains("27 of 54 kernel weights set to 0"));
    CHECK_THAT(log[1], Contains("fc") && Contains("30 of 60 synapses removed") && Contains("compressed sparse rows"));
    const Projection& conv = pruned.populations[1].projections[0];
    CHECK(conv.kind == ProjectionKind::Conv2D);
    const auto conv_keep = prune_mask(net.populations[1].projections[0].weights, PruneMethod::Random, 0.5, prune_stream(3, 1, 0));
    for (std::size_t k = 0; k < conv.weights.size(); ++k)
        CHECK(conv.weights[k] == (conv_keep[k] ? net.populations[1].projections[0].weights[k] : 0.0f));
    const Projection& fc = pruned.populations[2].projections[0];
    REQUIRE(fc.kind == ProjectionKind::SparseDense);
    CHECK(fc.sparse.target.size() == 30);
    const auto fc_keep = prune_mask(net.populations[2].projections[0].weights, PruneMethod::Random, 0.5, prune_stream(3, 2, 0));
    std::vector<float> want = net.populations[2].projections[0].weights;
    for (std::size_t k = 0; k < want.size(); ++k)
        if (!fc_keep[k]) want[k] = 0.0f;
    CHECK(densify(fc, {2, 2, 3}, {1, 1, 5}).weights == want);

    // LAYER=METHOD wins over the bare entry; R = 0 leaves a layer as it is.
    Network only_fc = net;
    log.clear();
    apply_prune(only_fc, parse_prune({"magnitude:0.8", "conv=random:0"}), 1, "model.h5", log);
    CHECK(only_fc.populations[1].projections[0] == net.populations[1].projections[0]);
    CHECK(only_fc.populations[2].projections[0].sparse.target.size() == 12);
    CHECK(log.size() == 1);

    Network copy = net;
    CHECK_THROWS_WITH(apply_prune(copy, parse_prune({"nosuch=random:0.5"}), 1, "model.h5", log),
                      Contains("'model.h5' has no dense or convolution layer 'nosuch' (it has: conv, fc)"));
}

TEST_CASE("convert --prune on a fixture agrees with the independent numpy check, and inspect counts the rows",
          "[prune][cli]") {
    TempDir dir("prune");
    for (const char* model_name : {"tiny_keras3_sequential.h5", "tiny_keras2_mobilenet.h5"})
        for (const char* spec : {"random:0.5", "magnitude:0.5", "random:0.9", "magnitude:0.25"})
            for (const char* seed : {"1", "12345"}) {
                INFO(model_name << " " << spec << " seed " << seed);
                const std::string model = (source_dir / "data" / "fixtures" / model_name).string();
                const std::string f = dir.file("f.snn.h5"), p = dir.file("p.snn.h5");
                REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(f)).status == 0);
                const Outcome conv =
                    snn_cli("convert " + quote(model) + " -o " + quote(p) + " --prune " + spec + " --prune-seed " + seed);
                INFO(conv.err);
                REQUIRE(conv.status == 0);
                CHECK_THAT(conv.out, Contains("pruned"));
                const Outcome py = run_captured("/usr/bin/python3 " +
                                                    quote((source_dir / "tools" / "prune_reference.py").string()) + " " +
                                                    quote(f) + " " + quote(p) + " " + spec + " --seed " + seed,
                                                dir);
                INFO(py.out << py.err);
                CHECK(py.status == 0);
                CHECK_THAT(py.out, Contains("ok: "));
                // inspect: the stored sparse bytes the reference counted, and the kept synapses.
                const auto j = inspect_json(p);
                const auto pos = py.out.find("stored sparse bytes: ");
                REQUIRE(pos != std::string::npos);
                std::int64_t sparse = 0, kept = 0, full = 0;
                for (const auto& pop : j["populations"])
                    for (const auto& pr : pop["projections"]) {
                        if (!pr["sparse"].is_null()) sparse += pr["sparse"]["bytes"].get<std::int64_t>();
                        kept += pr["synapses"].get<std::int64_t>();
                        full += pr["full_synapses"].get<std::int64_t>();
                    }
                CHECK(sparse == std::stoll(py.out.substr(pos + 21)));
                CHECK(j["totals"]["synapses"] == kept);
                CHECK(j["totals"]["full_synapses"] == full);
                CHECK(j["totals"]["float32_bytes"] == inspect_json(f)["totals"]["bytes"]);
                CHECK_THAT(snn_cli("inspect " + quote(p)).out, Contains("synapses: ") && Contains("kept"));
            }
}

TEST_CASE("bad --prune input gets one line naming it, exit 1, and no output file", "[prune][cli]") {
    TempDir dir("prune-bad");
    const std::string model = (source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string();
    const std::string out = dir.file("x.snn.h5");
    struct Bad {
        std::string args, says;
    };
    for (const Bad& b : {Bad{"--prune random:1.5", "the ratio 1.5 is outside [0, 1)"},
                         Bad{"--prune nosuch=random:0.5", "no dense or convolution layer 'nosuch'"},
                         Bad{"--prune topk:0.5", "expected random:R or magnitude:R"},
                         Bad{"--prune random:0.5 --quantize ternary", "--prune combines only with int:K"},
                         Bad{"--prune random:0.5 --prune-seed -3", "prune-seed"},
                         Bad{"--prune-seed 7", "--prune-seed applies only with --prune"}}) {
        INFO(b.args);
        const Outcome o = snn_cli("convert " + quote(model) + " -o " + quote(out) + " " + b.args);
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(b.says));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(out));
    }
}

TEST_CASE("snn run of a pruned MLP equals the same network with its zeros stored densely", "[prune][cli]") {
    const std::string model = (source_dir / "data" / "models" / "mnist_mlp.h5").string();
    if (!std::filesystem::exists(model)) {
        WARN("skipped: no data/models/mnist_mlp.h5");
        return;
    }
    TempDir dir("prune-run");
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> x(40 * 784);
    for (float& v : x) v = pixel(rng) < 0.8f ? 0.0f : pixel(rng); // sparse, like digits
    std::vector<std::int64_t> y(40);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 10);
    const std::string data = dir.file("data.h5");
    write_data(data, x, {40, 28, 28, 1}, y);
    for (const char* spec : {"random:0.5", "magnitude:0.8"}) {
        INFO(spec);
        const std::string sparse = dir.file("sparse.snn.h5"), dense = dir.file("dense.snn.h5");
        const Outcome conv = snn_cli("convert " + quote(model) + " -o " + quote(sparse) + " --calib " + quote(data) +
                                     " --prune " + spec);
        INFO(conv.err);
        REQUIRE(conv.status == 0);
        // The dense twin: every sparse projection expanded with zeros where synapses were pruned.
        Network net = load(sparse);
        int sparse_layers = 0;
        for (Population& pop : net.populations)
            for (Projection& p : pop.projections)
                if (p.kind == ProjectionKind::SparseDense) {
                    p = densify(p, net.populations[std::size_t(p.source)].shape, pop.shape);
                    ++sparse_layers;
                }
        REQUIRE(sparse_layers == 2);
        save(net, dense);
        for (const char* encode : {"current", "poisson"}) {
            INFO(encode);
            const std::string rs = dir.file("rs.json"), rd = dir.file("rd.json");
            const std::string common = " --data " + quote(data) + " --steps 24 --encode " + encode + " --report ";
            REQUIRE(snn_cli("run " + quote(sparse) + common + quote(rs)).status == 0);
            REQUIRE(snn_cli("run " + quote(dense) + common + quote(rd)).status == 0);
            const auto js = read_report(rs), jd = read_report(rd);
            CHECK(js["accuracy"] == jd["accuracy"]);
            CHECK(js["accuracy_by_step"] == jd["accuracy_by_step"]);
            CHECK(js["dnn_accuracy"] == jd["dnn_accuracy"]);
            REQUIRE(js["layers"].size() == jd["layers"].size());
            for (std::size_t l = 0; l < js["layers"].size(); ++l) {
                const auto &ls = js["layers"][l], &ld = jd["layers"][l];
                INFO(ls["name"]);
                CHECK(ls["spikes_per_sample"] == ld["spikes_per_sample"]);
                // The sparse kernel counts the kept synapses only: the dense
                // one adds every synapse of a spiking source, zeros included.
                const double so = ls["synaptic_ops_per_sample"].get<double>(), dO = ld["synaptic_ops_per_sample"].get<double>();
                // Random pruning keeps half of every source's synapses on average.
                if (dO > 0 && std::string(spec) == "random:0.5") CHECK(so / dO == Approx(0.5).margin(0.05));
                if (dO > 0) CHECK(so < dO);
            }
            CHECK(js["synaptic_ops_per_sample"].get<double>() < jd["synaptic_ops_per_sample"].get<double>());
        }
    }
}
