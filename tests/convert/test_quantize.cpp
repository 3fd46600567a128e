// `snn convert --quantize` end to end: every scheme on small fixtures (dense,
// conv and depthwise layers) checked against the independent numpy quantizer
// and decoder tools/quant_reference.py, the bytes `snn inspect --json` counts,
// the binary alias, and the refusals (one line naming the entry, exit 1, no
// output file).
#include "convert/quantize.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path source_dir = SNN_SOURCE_DIR;

nlohmann::json inspect_json(const std::string& net) {
    const Outcome o = snn_cli("inspect " + quote(net) + " --json");
    REQUIRE(o.status == 0);
    return nlohmann::json::parse(o.out);
}

} // namespace

TEST_CASE("the --quantize spec parses schemes and layer entries, and refuses malformed ones naming them", "[quantize]") {
    auto e = parse_quantize({"qsq:8:levels=2", "conv1=int:4:l1", "dense=binary"});
    REQUIRE(e.size() == 3);
    CHECK(e[0].layer.empty());
    CHECK(e[0].spec.scheme == QuantScheme::Qsq);
    CHECK(e[0].spec.vector == 8);
    CHECK(e[0].spec.levels == 2);
    CHECK(e[1].layer == "conv1");
    CHECK(e[1].spec.scheme == QuantScheme::Int);
    CHECK(e[1].spec.bits == 4);
    CHECK(e[1].spec.l1);
    CHECK(e[2].binary);
    CHECK(parse_quantize({"qsq"})[0].spec.vector == 16);
    CHECK(parse_quantize({"int:8"})[0].spec.l1 == false);
    for (const char* bad : {"int:9", "int:1", "int", "int:4:mean", "qsq:8:levels=3", "qsq:-1", "fp16", "=int:4",
                            "ternary:2", "qsq:8:9"})
        CHECK_THROWS_WITH(parse_quantize({bad}), Contains(std::string("'") + bad + "'"));
    CHECK_THROWS_WITH(parse_quantize({"int:4", "ternary"}), Contains("more than one"));
    CHECK_THROWS_WITH(parse_quantize({"a=int:4", "a=ternary"}), Contains("'a' is given twice"));
}

TEST_CASE("every scheme quantizes as the independent numpy reference does, and inspect counts codes and scales",
          "[quantize][cli]") {
    TempDir dir("quantize");
    struct Case {
        const char* fixture;
        const char* scheme;
    };
    for (const Case c : {Case{"tiny_keras3_sequential.h5", "int:8"}, Case{"tiny_keras3_sequential.h5", "int:3:l1"},
                         Case{"tiny_keras3_sequential.h5", "ternary"}, Case{"tiny_keras3_sequential.h5", "qsq:4"},
                         Case{"tiny_keras2_mobilenet.h5", "qsq"}, Case{"tiny_keras2_mobilenet.h5", "qsq:0:levels=2"},
                         Case{"tiny_keras2_mobilenet.h5", "int:4"}, Case{"tiny_keras2_mobilenet.h5", "ternary"}}) {
        INFO(c.fixture << " " << c.scheme);
        const std::string model = (source_dir / "data" / "fixtures" / c.fixture).string();
        const std::string f = dir.file("f.snn.h5"), q = dir.file("q.snn.h5");
        REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(f)).status == 0);
        const Outcome conv = snn_cli("convert " + quote(model) + " -o " + quote(q) + " --quantize " + c.scheme);
        INFO(conv.err);
        REQUIRE(conv.status == 0);
        CHECK_THAT(conv.out, Contains("quantized"));
        const Outcome py = run_captured("/usr/bin/python3 " + quote((source_dir / "tools" / "quant_reference.py").string()) +
                                            " " + quote(f) + " " + quote(q) + " " + c.scheme,
                                        dir);
        INFO(py.out << py.err);
        CHECK(py.status == 0);
        // totals.bytes: the codes and scales the reference counted, plus float biases (and floats of other kinds).
        const auto jf = inspect_json(f), jq = inspect_json(q);
        const auto pos = py.out.find("stored code and scale bytes: ");
        REQUIRE(pos != std::string::npos);
        const std::int64_t stored = std::stoll(py.out.substr(pos + 29));
        std::int64_t other = 0, quantized_weights = 0;
        for (const auto& pop : jq["populations"])
            for (const auto& p : pop["projections"]) {
                if (p["quant"].is_null()) other += p["weight_bytes"].get<std::int64_t>();
                else quantized_weights += p["weights"].get<std::int64_t>();
            }
        std::int64_t biases = 0;
        for (const auto& pop : jf["populations"]) {
            std::int64_t w = 0;
            for (const auto& p : pop["projections"]) w += p["weight_bytes"].get<std::int64_t>();
            biases += pop["bytes"].get<std::int64_t>() - w;
        }
        CHECK(jq["totals"]["bytes"].get<std::int64_t>() == stored + other + biases);
        CHECK(jq["totals"]["float32_bytes"] == jf["totals"]["bytes"]);
        CHECK(quantized_weights > 0);
        // The text view says how much smaller.
        CHECK_THAT(snn_cli("inspect " + quote(q)).out, Contains("as float32") && Contains("% smaller") &&
                                                           Contains("quantized weights:"));
    }
}

TEST_CASE("quantize binary is --binarize, and LAYER=SCHEME quantizes that layer only", "[quantize][cli]") {
    TempDir dir("quantize-binary");
    const std::string model = (source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string();
    const auto layers = inspect_json([&] {
        REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(dir.file("f.snn.h5"))).status == 0);
        return dir.file("f.snn.h5");
    }());
    std::string first;
    for (const auto& pop : layers["populations"])
        for (const auto& p : pop["projections"])
            if (first.empty()) first = p["layer"].get<std::string>();
    REQUIRE(!first.empty());
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(dir.file("a.snn.h5")) + " --quantize " + first + "=binary")
                .status == 0);
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(dir.file("b.snn.h5")) + " --binarize " + first).status == 0);
    CHECK(load(dir.file("a.snn.h5")) == load(dir.file("b.snn.h5")));
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(dir.file("c.snn.h5")) + " --quantize " + first + "=int:4")
                .status == 0);
    const Network c = load(dir.file("c.snn.h5"));
    int quantized = 0, plain = 0;
    for (const auto& pop : c.populations)
        for (const auto& p : pop.projections) {
            if (p.quant.scheme == QuantScheme::Int) {
                CHECK(p.layer == first);
                ++quantized;
            } else if (!p.weights.empty()) {
                ++plain;
            }
        }
    CHECK(quantized == 1);
    CHECK(plain > 0);
}

TEST_CASE("bad --quantize input gets one line naming it, exit 1, and no output file", "[quantize][cli]") {
    TempDir dir("quantize-bad");
    const std::string model = (source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string();
    const std::string out = dir.file("x.snn.h5");
    struct Bad {
        std::string args, says;
    };
    for (const Bad& b : {Bad{"--quantize int:12", "int:12"}, Bad{"--quantize nosuch=int:4", "no dense or convolution layer 'nosuch'"},
                         Bad{"--quantize qsq:8:levels=3", "levels must be 1, 2 or 4"},
                         Bad{"--quantize int:4 --calibrate-steps 8 --calib mnist:train", "--calibrate-steps cannot be combined"}}) {
        INFO(b.args);
        const Outcome o = snn_cli("convert " + quote(model) + " -o " + quote(out) + " " + b.args);
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(b.says));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(out));
    }
}

TEST_CASE("convert --target applies the chip's weight bits as int:K, unless its toolchain quantizes", "[quantize][cli][fit]") {
    TempDir dir("quantize-target");
    const std::string model = (source_dir / "data" / "fixtures" / "tiny_keras2_mobilenet.h5").string();
    const std::string net = dir.file("t.snn.h5");
    // Speck stores 8-bit weights (data/targets/speck.json): every layer becomes int:8.
    const Outcome c = snn_cli("convert " + quote(model) + " -o " + quote(net) + " --target speck");
    INFO(c.err);
    REQUIRE(c.status == 0);
    CHECK_THAT(c.out, Contains("target speck: weights quantized to int:8"));
    int quantized = 0;
    const auto speck = inspect_json(net);
    for (const auto& pop : speck["populations"])
        for (const auto& p : pop["projections"])
            if (p["weights"].get<std::int64_t>() > 0 && p["kind"] != "avgpool" && p["kind"] != "identity") {
                CHECK(p["bits"] == 8);
                ++quantized;
            }
    CHECK(quantized > 0);
    const Outcome fit = snn_cli("fit " + quote(net) + " --target speck --json");
    REQUIRE(fit.status == 0);
    const auto fit_json = nlohmann::json::parse(fit.out);
    for (const auto& l : fit_json["layers"])
        for (const auto& v : l["violations"]) CHECK(v["resource"] != "weight_bits");
    // A named layer's own scheme stays; SpiNNaker's toolchain quantizes, so its weights stay float.
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(net) + " --target spinnaker").status == 0);
    const auto spinnaker = inspect_json(net);
    for (const auto& pop : spinnaker["populations"])
        for (const auto& p : pop["projections"]) CHECK(p["quant"].is_null());
    const Outcome bad = snn_cli("convert " + quote(model) + " -o " + quote(dir.file("x.snn.h5")) + " --target nosuchchip");
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Contains("nosuchchip"));
    CHECK_FALSE(std::filesystem::exists(dir.file("x.snn.h5")));
}
