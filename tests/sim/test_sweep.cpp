// `snn sweep` (sim/cli/cmd_sweep.cpp, docs/sweep.md): every row equals what
// separate `snn convert` + `snn inspect --json` + `snn run` invocations report
// for the same settings, the rows are the cartesian product in --levers order
// (the last lever fastest), a combination the converter refuses is a row with
// its message, bytes moved are the partition's cut bytes, every report follows
// docs/sweep-report.schema.json, and bad levers or files get one line, exit 1
// and no output file.
#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace snn;
using namespace snn::test;
using Catch::Matchers::Contains;

namespace {

const std::string fixture = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";

// A sweep report, parsed once tools/validate_report.py finds that it follows
// docs/sweep-report.schema.json (a missing validator fails the test too).
nlohmann::json read_sweep(const std::string& path) {
    static const TempDir capture("validate-sweep");
    const std::string schema = std::string(SNN_SOURCE_DIR) + "/docs/sweep-report.schema.json";
    const Outcome v = run_captured("/usr/bin/python3 " + quote(std::string(SNN_SOURCE_DIR) + "/tools/validate_report.py") + " " +
                                       quote(schema) + " " + quote(path),
                                   capture);
    INFO(v.out << v.err);
    REQUIRE(v.status == 0);
    std::ifstream f(path);
    return nlohmann::json::parse(f);
}

// What the separate commands report for one combination: `snn convert` with
// `convert_flags`, then `snn inspect --json` and `snn run` with `run_flags`.
struct Separate {
    nlohmann::json report;
    double model_bytes = 0;
};

Separate convert_and_run(const TempDir& dir, const std::string& data, const std::string& convert_flags,
                         const std::string& run_flags) {
    const std::string net = dir.file("separate.snn.h5"), report = dir.file("separate.json");
    const Outcome c = snn_cli("convert " + quote(fixture) + " -o " + quote(net) + " --calib " + quote(data) + " " + convert_flags);
    INFO(c.err);
    REQUIRE(c.status == 0);
    const Outcome i = snn_cli("inspect " + quote(net) + " --json");
    REQUIRE(i.status == 0);
    const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(data) + " --threads 1 --quiet --report " +
                              quote(report) + " " + run_flags);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return {read_report(report), nlohmann::json::parse(i.out)["totals"]["bytes"].get<double>()};
}

} // namespace

TEST_CASE("snn sweep's rows equal separate snn convert + snn run reports, in cartesian order, refusals as rows",
          "[sweep][cli]") {
    TempDir dir("sweep");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    const Outcome s = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --threads 2 --levers 'quantize=none,int:4,ternary;prune=none,random:0.5;steps=8,16' -o " + quote(out));
    INFO(s.err);
    REQUIRE(s.status == 0);
    const nlohmann::json j = read_sweep(out);
    REQUIRE(j["combinations"] == 12);
    const nlohmann::json& rows = j["rows"];
    REQUIRE(rows.size() == 12);
    // The last lever varies fastest: row k is (quantize k/4, prune (k/2)%2, steps k%2).
    const std::vector<std::string> quantize{"none", "int:4", "ternary"}, prune{"none", "random:0.5"}, steps{"8", "16"};
    int refused = 0, compared = 0;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const nlohmann::json& row = rows[k];
        const std::string q = quantize[k / 4], p = prune[(k / 2) % 2], t = steps[k % 2];
        INFO("row " << k << ": " << row.dump());
        CHECK(row["levers"]["quantize"] == q);
        CHECK(row["levers"]["prune"] == p);
        CHECK(row["levers"]["steps"] == t);
        if (q == "ternary" && p != "none") {
            // The converter refuses pruning with ternary quantization (int:K only): the row says so, the sweep goes on.
            CHECK_THAT(row["refused"].get<std::string>(), Contains("--prune combines only with int:K quantization"));
            CHECK_FALSE(row.contains("accuracy"));
            ++refused;
            continue;
        }
        const Separate sep = convert_and_run(dir, data, (q == "none" ? "" : "--quantize " + q) + (p == "none" ? "" : " --prune " + p),
                                             "--steps " + t);
        CHECK(row["accuracy"].get<double>() == sep.report["accuracy"].get<double>());
        CHECK(row["dnn_accuracy"].get<double>() == sep.report["dnn_accuracy"].get<double>());
        CHECK(row["synaptic_ops_per_input"].get<double>() == sep.report["synaptic_ops_per_sample"].get<double>());
        CHECK(row["energy_pj_per_input"].get<double>() == sep.report["energy_pj_per_sample"].get<double>());
        CHECK(row["model_bytes"].get<double>() == sep.model_bytes);
        CHECK(row["bytes_moved_per_input"].get<double>() == 0); // no partition
        CHECK(row["samples"] == 20);
        CHECK(row["steps"] == std::stoi(t));
        ++compared;
    }
    CHECK(refused == 2);
    CHECK(compared == 10);
    // The table on stdout: a header, a line per row, the line naming the file.
    CHECK_THAT(s.out, Contains("accuracy %") && Contains("refused: --prune combines only with int:K"));
    CHECK(std::count(s.out.begin(), s.out.end(), '\n') == 14);

    // The same figures with one thread.
    const std::string one = dir.file("one.json");
    REQUIRE(snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                    " --threads 1 --levers 'quantize=none,int:4,ternary;prune=none,random:0.5;steps=8,16' -o " + quote(one))
                .status == 0);
    const nlohmann::json rows1 = read_sweep(one)["rows"];
    for (std::size_t k = 0; k < rows.size(); ++k)
        for (const char* key : {"accuracy", "dnn_accuracy", "synaptic_ops_per_input", "energy_pj_per_input", "model_bytes", "refused"})
            CHECK(rows[k].value(key, nlohmann::json()) == rows1[k].value(key, nlohmann::json()));
}

TEST_CASE("snn sweep over idp with a partition: rows equal snn run --idp --partition, bytes moved are the cuts' bytes",
          "[sweep][cli][idp]") {
    TempDir dir("sweep-idp");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    const std::string partition = "edge:conv2d,cloud:dense";
    const Outcome s = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --idp-profile linear --partition " + partition + " --steps 12 --levers 'idp=100,50' -o " +
                              quote(out));
    INFO(s.err);
    REQUIRE(s.status == 0);
    const nlohmann::json rows = read_sweep(out)["rows"];
    REQUIRE(rows.size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
        const std::string idp = k == 0 ? "100" : "50";
        INFO("idp " << idp << ": " << rows[k].dump());
        CHECK(rows[k]["levers"]["idp"] == idp);
        const Separate sep = convert_and_run(dir, data, "--idp-profile linear",
                                             "--steps 12 --idp " + idp + " --partition " + partition);
        double cut_bytes = 0;
        REQUIRE(sep.report["cuts"].size() == 1);
        for (const auto& c : sep.report["cuts"]) cut_bytes += c["bytes"].get<double>();
        CHECK(rows[k]["bytes_moved_per_input"].get<double>() == cut_bytes);
        CHECK(rows[k]["accuracy"].get<double>() == sep.report["accuracy"].get<double>());
        CHECK(rows[k]["dnn_accuracy"].get<double>() == sep.report["dnn_accuracy"].get<double>());
        CHECK(rows[k]["synaptic_ops_per_input"].get<double>() == sep.report["synaptic_ops_per_sample"].get<double>());
        CHECK(rows[k]["energy_pj_per_input"].get<double>() == sep.report["energy_pj_per_sample"].get<double>());
        CHECK(rows[k]["model_bytes"].get<double>() == sep.model_bytes);
        REQUIRE(sep.report["partitions"].size() == 2);
        for (const auto& d : sep.report["partitions"])
            CHECK(rows[k]["energy_pj_per_input_by_device"][d["device"].get<std::string>()].get<double>() ==
                  d["energy_pj"].get<double>());
    }
    // IDP at 50 % reads half of the dense layer's inputs: fewer operations than at 100 %.
    CHECK(rows[1]["synaptic_ops_per_input"].get<double>() < rows[0]["synaptic_ops_per_input"].get<double>());

    // Without --idp-profile the network has no IDP layer: each idp row is a refusal, not a failed sweep.
    const Outcome plain = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                                  " --steps 4 --levers 'idp=none,50' -o " + quote(out));
    REQUIRE(plain.status == 0);
    const nlohmann::json prow = read_sweep(out)["rows"];
    REQUIRE(prow.size() == 2);
    CHECK(prow[0].contains("accuracy"));
    CHECK_THAT(prow[1]["refused"].get<std::string>(), Contains("no IDP layer"));
}

TEST_CASE("a lever value joins entries with '+' as its flag joins them with ','", "[sweep][cli]") {
    TempDir dir("sweep-plus");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    const Outcome s = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --steps 10 --levers 'quantize=conv2d=int:8+dense=int:3' -o " + quote(out));
    INFO(s.err);
    REQUIRE(s.status == 0);
    const nlohmann::json row = read_sweep(out)["rows"][0];
    CHECK(row["levers"]["quantize"] == "conv2d=int:8+dense=int:3");
    const Separate sep = convert_and_run(dir, data, "--quantize conv2d=int:8,dense=int:3", "--steps 10");
    CHECK(row["accuracy"].get<double>() == sep.report["accuracy"].get<double>());
    CHECK(row["synaptic_ops_per_input"].get<double>() == sep.report["synaptic_ops_per_sample"].get<double>());
    CHECK(row["energy_pj_per_input"].get<double>() == sep.report["energy_pj_per_sample"].get<double>());
    CHECK(row["model_bytes"].get<double>() == sep.model_bytes);
}

TEST_CASE("bad snn sweep input gets one line naming it, exit 1, and no output file", "[sweep][cli]") {
    TempDir dir("sweep-bad");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    struct Bad {
        std::string args, says;
    };
    const std::string base = " --calib " + quote(data) + " --data " + quote(data) + " -o " + quote(out) + " ";
    for (const Bad& b : {Bad{quote(fixture) + base + "--levers 'bits=4,8'", "unknown lever 'bits'"},
                         Bad{quote(fixture) + base + "--levers 'quantize=none,int:99'", "quantize=int:99"},
                         Bad{quote(fixture) + base + "--levers 'prune=random:1.5'", "prune=random:1.5"},
                         Bad{quote(fixture) + base + "--levers 'idp=0'", "idp=0"},
                         Bad{quote(fixture) + base + "--levers 'steps=8,x'", "steps=x"},
                         Bad{quote(fixture) + base + "--levers 'steps=0'", "steps=0"},
                         Bad{quote(fixture) + base + "--levers 'steps=8;steps=16'", "lever 'steps' given twice"},
                         Bad{quote(fixture) + base + "--levers 'quantize=int:8,int:8'", "value 'int:8' given twice"},
                         Bad{quote(fixture) + base + "--levers 'quantize'", "expected quantize=V1,V2"},
                         Bad{quote(fixture) + base + "--levers ';'", "names no lever"},
                         Bad{quote(fixture) + base + "--levers 'steps=8' --steps 16", "--steps and the steps lever"},
                         Bad{quote(dir.file("nosuch.h5")) + base + "--levers 'steps=8'", "nosuch.h5"},
                         Bad{quote(fixture) + " --calib " + quote(data) + " --data " + quote(dir.file("nodata.h5")) + " -o " +
                                 quote(out) + " --levers 'steps=8'",
                             "nodata.h5"},
                         Bad{quote(fixture) + base + "--levers 'steps=8' --partition edge:nosuch,cloud:dense", "nosuch"}}) {
        INFO(b.args);
        const Outcome o = snn_cli("sweep " + b.args);
        CHECK(o.status == 1);
        CHECK_THAT(o.err, Contains(b.says));
        CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(out));
    }
}

TEST_CASE("snn sweep --plot writes a PNG with tools/sweep_plot.py", "[sweep][cli][plot]") {
    if (!std::filesystem::exists("/usr/bin/python3")) {
        WARN("skipped: no /usr/bin/python3");
        return;
    }
    TempDir dir("sweep-plot");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json"), png = dir.file("sweep.png");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    const Outcome s = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --levers 'quantize=none,int:4;prune=none,random:0.5;steps=4' -o " + quote(out) +
                              " --plot " + quote(png));
    INFO(s.out << s.err);
    REQUIRE(s.status == 0);
    CHECK(slurp(png).substr(0, 4) == "\x89PNG");
}
