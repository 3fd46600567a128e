// `snn convert --prune … --quantize int:K` together (docs/pruning.md,
// "Pruning and quantization together"): pruning first, the pruned weights
// exact zeros, then int:K on the layer kept dense, so that every pruned
// weight is level 0 and every kept one is what int:K gives when the scale is
// computed from the surviving weights alone. A hand-worked layer, random
// layers against a small survivors-only quantizer written here, a fixture
// against the numpy reference tools/quant_reference.py --prune, and the
// refusals of the schemes the combination does not take.
#include "convert/convert.hpp"
#include "convert/keras.hpp"
#include "convert/prune.hpp"
#include "convert/quantize.hpp"
#include "snn/error.hpp"
#include "snn/quant.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path source_dir = SNN_SOURCE_DIR;

// input (1×1×n_in) → fc (Dense, n_in → n_out), weights (in, out) row-major.
Network one_dense(int n_in, int n_out, std::vector<float> w) {
    Network net;
    net.populations.push_back(input({1, 1, n_in}));
    Population fc;
    fc.name = "fc";
    fc.shape = {1, 1, n_out};
    fc.bias.assign(std::size_t(n_out), 0.0f);
    fc.projections.push_back(projection(0, ProjectionKind::Dense, {}, std::move(w), "fc"));
    net.populations.push_back(fc);
    return net;
}

// What convert_model does: prune with quantized Dense layers kept dense, then quantize.
void prune_then_quantize(Network& net, const std::string& prune, const std::string& scheme, std::uint64_t seed) {
    std::vector<std::string> log;
    apply_prune(net, parse_prune({prune}), seed, "model.h5", log, [](const Projection&) { return true; });
    apply_quantize(net, parse_quantize({scheme}), "model.h5", log);
}

std::vector<int> levels_of(const Projection& p) {
    const auto codes = unpack_codes(p.quant.codes, p.quant.bits, std::int64_t(p.weights.size()));
    std::vector<int> lv;
    for (const std::uint32_t c : codes) lv.push_back(quant_level(p.quant.scheme, p.quant.bits, c));
    return lv;
}

// int:K on the survivors of one output only, written from the rule in
// docs/quantization.md: Δ = max|w| / Q, q = clamp(round(w / Δ)); with l1, 20
// rounds of Δ = Σ w·q / Σ q² and q again. Returns Δ and the levels.
std::pair<double, std::vector<int>> quantize_survivors(const std::vector<float>& w, int bits, bool l1) {
    const int q_max = (1 << (bits - 1)) - 1;
    double largest = 0;
    for (const float x : w) largest = std::max(largest, double(std::fabs(x)));
    std::vector<int> q(w.size(), 0);
    if (largest == 0) return {0.0, q};
    double step = largest / q_max;
    auto round_all = [&] {
        for (std::size_t k = 0; k < w.size(); ++k)
            q[k] = int(std::clamp(std::nearbyint(double(w[k]) / step), double(-q_max), double(q_max)));
    };
    round_all();
    for (int r = 0; l1 && r < 20; ++r) {
        double wq = 0, qq = 0;
        for (std::size_t k = 0; k < w.size(); ++k) {
            wq += double(w[k]) * q[k];
            qq += double(q[k]) * q[k];
        }
        if (qq > 0) step = wq / qq;
        round_all();
    }
    return {step, q};
}

nlohmann::json inspect_json(const std::string& net) {
    const Outcome o = snn_cli("inspect " + quote(net) + " --json");
    REQUIRE(o.status == 0);
    return nlohmann::json::parse(o.out);
}

} // namespace

TEST_CASE("a pruned then int:K-quantized layer, worked by hand", "[prune][quantize]") {
    // 3 inputs → 2 outputs; weight k = input·2 + output feeds output k mod 2.
    //   output 0: w0 = 0.9, w2 = −0.5, w4 = 0.2      output 1: w1 = 0.1, w3 = 0.8, w5 = −0.35
    // magnitude:0.5 removes ⌊0.5·6 + 0.5⌋ = 3 of the smallest |w|: w1, w4, w5.
    // int:3 (Q = 3), step = max|kept| / 3:
    //   output 0: Δ = 0.9/3 = 0.3; 0.9 → 3, −0.5/0.3 = −1.67 → −2, w4 (pruned, 0) → 0
    //   output 1: Δ = 0.8/3;       0.8 → 3, w1 and w5 (pruned, 0) → 0
    // Quantized alone, w4 = 0.2 would be level 1 (0.67 rounds up) and w5 = −0.35
    // level −1 (−1.31 at Δ = 0.8/3): pruning first is what makes them 0.
    Network net = one_dense(3, 2, {0.9f, 0.1f, -0.5f, 0.8f, 0.2f, -0.35f});
    prune_then_quantize(net, "magnitude:0.5", "int:3", 1);
    const Projection& p = net.populations[1].projections[0];
    REQUIRE(p.kind == ProjectionKind::Dense);
    REQUIRE(p.quant.scheme == QuantScheme::Int);
    CHECK(p.quant.bits == 3);
    CHECK(levels_of(p) == std::vector<int>{3, 0, -2, 3, 0, 0});
    REQUIRE(p.quant.scale.size() == 2);
    CHECK(p.quant.scale[0] == Approx(0.3).epsilon(1e-6));
    CHECK(p.quant.scale[1] == Approx(0.8 / 3).epsilon(1e-6));
    CHECK(p.weights[0] == Approx(0.9f));
    CHECK(p.weights[2] == Approx(-0.6f));
    CHECK(p.weights[3] == Approx(0.8f));
    for (const std::size_t k : {1u, 4u, 5u}) CHECK(p.weights[k] == 0.0f);

    // The same layer quantized without pruning: the small weights are not 0.
    Network alone = one_dense(3, 2, {0.9f, 0.1f, -0.5f, 0.8f, 0.2f, -0.35f});
    std::vector<std::string> log;
    apply_quantize(alone, parse_quantize({"int:3"}), "model.h5", log);
    CHECK(levels_of(alone.populations[1].projections[0]) == std::vector<int>{3, 0, -2, 3, 1, -1});
}

TEST_CASE("pruned weights are level 0 and kept ones are int:K of the survivors alone, random layers",
          "[prune][quantize]") {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    struct Shape2 {
        int in, out;
    };
    for (const Shape2 s : {Shape2{37, 13}, Shape2{64, 10}, Shape2{5, 3}, Shape2{200, 1}})
        for (const char* prune : {"random:0.5", "random:0.9", "magnitude:0.5"})
            for (const char* scheme : {"int:5", "int:2", "int:4:l1", "int:8:l1"}) {
                INFO(s.in << "x" << s.out << " " << prune << " " << scheme);
                std::vector<float> w(std::size_t(s.in * s.out));
                for (float& x : w) x = normal(rng);
                Network net = one_dense(s.in, s.out, w);
                prune_then_quantize(net, prune, scheme, 11);
                const Projection& p = net.populations[1].projections[0];
                REQUIRE(p.kind == ProjectionKind::Dense);
                const PruneEntry e = parse_prune({prune}).front();
                const auto keep = prune_mask(w, e.method, e.ratio, prune_stream(11, 1, 0));
                const QuantSpec spec = parse_quantize({scheme}).front().spec;
                const std::vector<int> lv = levels_of(p);
                for (int o = 0; o < s.out; ++o) {
                    std::vector<float> kept;
                    std::vector<std::size_t> at;
                    for (int i = 0; i < s.in; ++i) {
                        const std::size_t k = std::size_t(i * s.out + o);
                        if (keep[k]) {
                            kept.push_back(w[k]);
                            at.push_back(k);
                        } else {
                            CHECK(lv[k] == 0);
                            CHECK(p.weights[k] == 0.0f);
                        }
                    }
                    const auto [step, q] = quantize_survivors(kept, spec.bits, spec.l1);
                    CHECK(double(p.quant.scale[std::size_t(o)]) == Approx(step).epsilon(1e-6));
                    for (std::size_t j = 0; j < at.size(); ++j) CHECK(lv[at[j]] == q[j]);
                }
            }
}

TEST_CASE("convert --prune with --quantize int:K agrees with the numpy reference; inspect counts the dense codes",
          "[prune][quantize][cli]") {
    TempDir dir("prune-quantize");
    for (const char* model_name : {"tiny_keras3_sequential.h5", "tiny_keras2_mobilenet.h5"})
        for (const char* prune : {"random:0.5", "magnitude:0.7"})
            for (const char* scheme : {"int:5", "int:3:l1"}) {
                INFO(model_name << " " << prune << " " << scheme);
                const std::string model = (source_dir / "data" / "fixtures" / model_name).string();
                const std::string f = dir.file("f.snn.h5"), pq = dir.file("pq.snn.h5");
                REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(f)).status == 0);
                const Outcome conv = snn_cli("convert " + quote(model) + " -o " + quote(pq) + " --prune " + prune +
                                             " --prune-seed 5 --quantize " + scheme);
                INFO(conv.out << conv.err);
                REQUIRE(conv.status == 0);
                CHECK_THAT(conv.out, Contains("pruned") && Contains("quantized"));
                const Outcome py = run_captured("/usr/bin/python3 " +
                                                    quote((source_dir / "tools" / "quant_reference.py").string()) + " " +
                                                    quote(f) + " " + quote(pq) + " " + scheme + " --prune " + prune +
                                                    " --seed 5",
                                                dir);
                INFO(py.out << py.err);
                CHECK(py.status == 0);
                CHECK_THAT(py.out, Contains("pruned, 0 of them not level 0"));
                // Every weighted projection is dense codes (no sparse rows), and the
                // kept column counts nonzero levels: at most the weights pruning kept.
                const auto j = inspect_json(pq);
                const PruneEntry e = parse_prune({prune}).front();
                for (const auto& pop : j["populations"])
                    for (const auto& pr : pop["projections"]) {
                        if (pr["quant"].is_null()) continue;
                        CHECK(pr["sparse"].is_null());
                        const auto full = pr["full_synapses"].get<std::int64_t>();
                        CHECK(pr["synapses"].get<std::int64_t>() <= full - pruned_count(full, e.ratio));
                    }
            }
}

TEST_CASE("snn convert --prune with a scheme other than int:K, or with --binarize, gets one line, exit 1, and no file",
          "[prune][quantize][cli]") {
    TempDir dir("prune-quantize-bad");
    const std::string model = (source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string();
    const std::string out = dir.file("x.snn.h5");
    struct Bad {
        std::string args, says;
    };
    for (const Bad& b : {Bad{"--prune random:0.5 --quantize ternary", "'ternary' is not int:K"},
                         Bad{"--prune random:0.5 --quantize qsq:4", "'qsq:4' is not int:K"},
                         Bad{"--prune random:0.5 --quantize binary", "'binary' is not int:K"},
                         Bad{"--prune magnitude:0.5 --quantize int:4,dense=ternary", "'dense=ternary' is not int:K"},
                         Bad{"--prune random:0.5 --binarize dense", "--prune cannot be combined with --binarize"}}) {
        INFO(b.args);
        const Outcome o = snn_cli("convert " + quote(model) + " -o " + quote(out) + " " + b.args);
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(b.says));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(out));
    }
}

TEST_CASE("the connectivity-trained rd = 196 model has 0 exactly where --prune random:0.5 seed 1 removes weights",
          "[prune]") {
    // data/models/mnist_cs196_cp50_mlp.h5 was trained (tools/train_reference.py
    // --cs-prune 0.5) with the selection drawn in Python; the converter's own
    // prune_mask must pick the same weights, or pruning it would remove trained ones.
    const Network net = import_keras((source_dir / "data" / "models" / "mnist_cs196_cp50_mlp.h5").string());
    int checked = 0;
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        if (pop.name != "dense" && pop.name != "dense_1") continue;
        INFO(pop.name << " is population " << i);
        REQUIRE(pop.projections.size() == 1);
        const std::vector<float>& w = pop.projections[0].weights;
        const auto keep = prune_mask(w, PruneMethod::Random, 0.5, prune_stream(1, i, 0));
        std::int64_t zeros_removed = 0, nonzero_kept = 0;
        for (std::size_t k = 0; k < w.size(); ++k) {
            if (!keep[k]) zeros_removed += w[k] == 0.0f;
            else nonzero_kept += w[k] != 0.0f;
        }
        const std::int64_t removed = pruned_count(std::int64_t(w.size()), 0.5);
        CHECK(zeros_removed == removed);
        CHECK(nonzero_kept == std::int64_t(w.size()) - removed);
        ++checked;
    }
    CHECK(checked == 2);
}
