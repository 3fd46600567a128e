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

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

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
    // The front, by its definition: no other row at least as accurate for at most the energy, better in one.
    for (const auto& r : rows) {
        if (r.contains("refused")) continue;
        bool dominated = false;
        for (const auto& o : rows)
            if (!o.contains("refused")) {
                const double a = r["accuracy"], e = r["energy_pj_per_input"], oa = o["accuracy"], oe = o["energy_pj_per_input"];
                if (oa >= a && oe <= e && (oa > a || oe < e)) dominated = true;
            }
        CHECK(r["front"].get<bool>() == !dominated);
    }
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
                         Bad{quote(fixture) + base + "--levers 'steps=8' --partition edge:nosuch,cloud:dense", "nosuch"},
                         Bad{quote(fixture) + base + "--levers 'edge=0'", "edge=0"},
                         Bad{quote(fixture) + base + "--levers 'edge=1;exit=-1'", "exit=-1"},
                         Bad{quote(fixture) + base + "--levers 'exit=0.5'", "add an edge lever"},
                         Bad{quote(fixture) + base + "--levers 'edge=1' --partition edge:conv2d,cloud:dense",
                             "--partition and the edge lever"},
                         Bad{quote(fixture) + base + "--levers 'edge=1;exit=0.5' --exit-data mnist:test", "a test split"},
                         Bad{quote(fixture) + base + "--levers 'edge=1;exit=1.5' --exit-rule max-prob", "a probability"},
                         Bad{quote(fixture) + base + "--levers 'edge=1;exit=0.5' --exit-rule maybe", "--exit-rule maybe"}}) {
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

TEST_CASE("snn sweep's edge and exit levers equal snn convert --quantize on the edge, snn exits train + add and "
          "snn run --partition",
          "[sweep][cli][exits]") {
    TempDir dir("sweep-hybrid");
    const std::string data = dir.file("data.h5"), out = dir.file("sweep.json"), md = dir.file("sweep.md");
    tiny_network_and_data(dir.file("unused.snn.h5"), data);
    // The fixture's weight layers are conv2d and dense: edge=1 puts conv2d on the edge (its int:4 codes
    // there, dense float32 in the cloud); edge=2 would leave the cloud nothing.
    const Outcome s = snn_cli("sweep " + quote(fixture) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --exit-data " + quote(data) + " --exit-samples 15 --exit-steps 8 --steps 12 --threads 2" +
                              " --levers 'quantize=int:4;edge=1,2;exit=none,0.7,100' -o " + quote(out) + " --markdown " +
                              quote(md));
    INFO(s.err);
    REQUIRE(s.status == 0);
    const nlohmann::json rows = read_sweep(out)["rows"];
    REQUIRE(rows.size() == 6);
    for (std::size_t k = 3; k < 6; ++k)
        CHECK_THAT(rows[k]["refused"].get<std::string>(), Contains("2 weight layers; at most 1 go to the edge"));
    const std::vector<std::string> exits{"none", "0.7", "100"};
    for (std::size_t k = 0; k < 3; ++k) {
        const nlohmann::json& row = rows[k];
        INFO("exit " << exits[k] << ": " << row.dump());
        CHECK(row["levers"]["exit"] == exits[k]);
        CHECK(row["edge_populations"] == nlohmann::json::array({"conv2d"}));
        // The same by separate commands.
        const std::string net = dir.file("separate.snn.h5"), report = dir.file("separate.json");
        REQUIRE(snn_cli("convert " + quote(fixture) + " -o " + quote(net) + " --calib " + quote(data) +
                        " --quantize conv2d=int:4").status == 0);
        if (exits[k] != "none") {
            const Outcome t = snn_cli("exits train " + quote(net) + " --at conv2d --data " + quote(data) +
                                      " --limit 15 --steps 8");
            INFO(t.err);
            REQUIRE(t.status == 0);
            REQUIRE(snn_cli("exits add " + quote(net) + " --at conv2d --threshold " + exits[k] + " --check-every 0").status == 0);
        }
        const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 12 --threads 1 --quiet " +
                                  "--partition edge:conv2d,cloud:dense --report " + quote(report));
        INFO(r.err);
        REQUIRE(r.status == 0);
        const nlohmann::json sep = read_report(report);
        CHECK(row["accuracy"].get<double>() == sep["accuracy"].get<double>());
        CHECK(row["synaptic_ops_per_input"].get<double>() == sep["synaptic_ops_per_sample"].get<double>());
        CHECK(row["energy_pj_per_input"].get<double>() == sep["energy_pj_per_sample"].get<double>());
        double cut_bytes = 0;
        for (const auto& c : sep["cuts"]) cut_bytes += c["bytes"].get<double>();
        CHECK(row["bytes_moved_per_input"].get<double>() == cut_bytes);
        for (const auto& d : sep["partitions"])
            CHECK(row["energy_pj_per_input_by_device"][d["device"].get<std::string>()].get<double>() ==
                  d["energy_pj"].get<double>());
        // The report lists each exit, then the output (what the rest took).
        if (exits[k] == "none") {
            CHECK(sep["exits"].empty());
            CHECK(row["exit_rate"].get<double>() == 0);
            CHECK(row["exit_source"].is_null());
        } else {
            REQUIRE(sep["exits"].size() == 2);
            CHECK(sep["exits"][0]["at"] == "conv2d");
            CHECK(row["exit_rate"].get<double>() == sep["exits"][0]["taken"].get<double>());
            CHECK(row["exit_source"] == "fitted");
            CHECK(row["exit_at"] == "conv2d");
        }
    }
    // By hand: three classes give an entropy of at most ln 3 < 100 nats, so every input leaves at the
    // edge; the cloud then computes nothing and nothing crosses the cut.
    CHECK(rows[2]["exit_rate"].get<double>() == 1.0);
    CHECK(rows[2]["energy_pj_per_input_by_device"]["cloud"].get<double>() == 0.0);
    CHECK(rows[2]["bytes_moved_per_input"].get<double>() == 0.0);
    // The edge always runs all its steps and checks the exit after the last one: the same edge energy
    // at any threshold.
    CHECK(rows[1]["energy_pj_per_input_by_device"]["edge"].get<double>() ==
          rows[2]["energy_pj_per_input_by_device"]["edge"].get<double>());
    // The markdown table: a header, its rule, and one line per row.
    const std::string table = slurp(md);
    CHECK(std::count(table.begin(), table.end(), '\n') == 8);
    CHECK_THAT(table, Contains("| quantize | edge | exit | accuracy % |"));
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.2f", 100 * rows[2]["accuracy"].get<double>());
    CHECK_THAT(table, Contains("| int:4 | 1 | 100 | " + std::string(accuracy) + " |"));
}

TEST_CASE("an exit head of the Keras model is the edge's exit where it sits at the end of the edge", "[sweep][cli][exits]") {
    // tiny_keras2_branchy: c1 → ap (average pooling) → c2 → d, exit heads e1 on c1 and e2_sm on ap.
    // edge=1 is c1 and the pooling after it, so the edge ends at ap and e2_sm is its exit; e1 is dropped.
    TempDir dir("sweep-head");
    const std::string model = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras2_branchy.h5";
    const std::string out = dir.file("sweep.json"), data = dir.file("data.h5"), net = dir.file("b.snn.h5"),
                      report = dir.file("run.json");
    write_random_data(data, {24, 6, 6, 1}, 3, 5);
    // No --exit-data: the head needs no fitting.
    const Outcome s = snn_cli("sweep " + quote(model) + " --calib " + quote(data) + " --data " + quote(data) +
                              " --steps 10 --levers 'edge=1;exit=0.9' -o " + quote(out));
    INFO(s.err);
    REQUIRE(s.status == 0);
    const nlohmann::json row = read_sweep(out)["rows"][0];
    INFO(row.dump());
    CHECK(row["edge_populations"] == nlohmann::json::array({"c1", "ap"}));
    CHECK(row["exit_at"] == "ap");
    CHECK(row["exit_source"] == "model");
    // The same head, set by snn exits add, run on the same partition. The separate network still holds
    // e1, never confident at its threshold 0: it costs edge operations but changes no decision, so
    // accuracy, the exit's share and the cloud's energy agree.
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(net) + " --calib " + quote(data)).status == 0);
    REQUIRE(snn_cli("exits add " + quote(net) + " --at ap --threshold 0.9 --check-every 0").status == 0);
    const Outcome r = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 10 --quiet --threads 1 " +
                              "--partition edge:c1-ap,cloud:c2-d --report " + quote(report));
    INFO(r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json sep = read_report(report);
    CHECK(row["accuracy"].get<double>() == sep["accuracy"].get<double>());
    double taken = -1;
    for (const auto& e : sep["exits"])
        if (e["at"] == "ap") taken = e["taken"].get<double>();
    CHECK(row["exit_rate"].get<double>() == taken);
    for (const auto& d : sep["partitions"])
        if (d["device"] == "cloud") CHECK(row["energy_pj_per_input_by_device"]["cloud"].get<double>() == d["energy_pj"].get<double>());

    // The fixture's e1 sits at c1, which ends no edge here: with edge=1 and no head at the edge's end
    // (tiny_keras3_sequential), a sweep without --exit-data says what it needs, before writing anything.
    const std::string tiny_data = dir.file("tiny.h5");
    tiny_network_and_data(dir.file("unused.snn.h5"), tiny_data);
    const Outcome no_fit = snn_cli("sweep " + quote(fixture) + " --calib " + quote(tiny_data) + " --data " + quote(tiny_data) +
                                   " --steps 4 --levers 'edge=1;exit=0.5' -o " + quote(dir.file("none.json")));
    CHECK(no_fit.status == 1);
    CHECK_THAT(no_fit.err, Contains("--exit-data"));
    CHECK_THAT(no_fit.err, Contains("'conv2d'"));
    CHECK_FALSE(std::filesystem::exists(dir.file("none.json")));
}
