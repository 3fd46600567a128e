// The JSON reports against their schemas (docs/report.schema.json and the
// learn and exits-place ones, checked by tools/validate_report.py): runs that
// between them write every optional part of a run report pass, and the
// validator refuses an unknown key, a wrong type or a value out of range,
// naming the key, so that passing means something.
#include "sim/engine.hpp"
#include "sim/report.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;

void run_ok(const std::string& args) {
    const Outcome o = snn_cli(args);
    INFO("snn " << args << "\nstdout: " << o.out << "\nstderr: " << o.err);
    REQUIRE(o.status == 0);
}

} // namespace

TEST_CASE("reports with every optional part follow their schemas", "[report][cli]") {
    TempDir work("report-all");
    // The tiny Keras model (4×4×1 → conv2d → dense, 3 classes), its dense layer binary.
    const std::string net = work.file("tiny.snn.h5"), data = work.file("data.h5");
    run_ok("convert " + quote((source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string()) + " -o " +
           quote(net) + " --binarize dense");
    std::vector<float> x(20 * 16);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7) % 11) / 10.0f;
    std::vector<std::int64_t> y(20);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    write_data(data, x, {20, 4, 4, 1}, y);

    SECTION("layer by layer, current encoding, no exits or partition") {
        const std::string report = work.file("plain.json");
        run_ok("run " + quote(net) + " --data " + quote(data) + " --steps 8 -q --report " + quote(report));
        const json j = read_report(report);
        CHECK(j.at("schema_version") == 1);
        CHECK(j.at("execution").at("schedule") == "layer_by_layer");
        CHECK_FALSE(j.contains("max_rate"));
        CHECK_FALSE(j.contains("partition"));
        CHECK(j.at("exits").empty());
        CHECK(j.at("cuts").empty());
        CHECK(j.at("layers").back().at("binary") == true);
    }
    SECTION("exits, a partition with its cut, a cost table, Poisson input and a recording") {
        const std::string parted = work.file("parted.snn.h5"), costs = work.file("costs.json");
        run_ok("partition " + quote(net) + " edge:conv2d,cloud:dense -o " + quote(parted));
        run_ok("exits train " + quote(parted) + " --at conv2d --data " + quote(data) +
               " --steps 8 --threshold 0.5 --check-every 2 --iterations 20");
        run_ok("exits add " + quote(parted) + " --rule max-prob --threshold 0.9 --check-every 4");
        std::ofstream(costs) << R"({"add_pj": 1, "mac_pj": 2, "binary_op_pj": 0.1, "memory_bit_pj": 0.5, "weight_bits": 8})";
        const std::string report = work.file("all.json");
        run_ok("run " + quote(parted) + " --data " + quote(data) + " --steps 8 -q --encode poisson --max-rate 0.5 --costs " +
               quote(costs) + " --record " + quote(work.file("spikes.h5")) + " --record-samples 2 --report " +
               quote(report));
        const json j = read_report(report);
        CHECK(j.at("max_rate") == 0.5);
        CHECK(j.at("layers").front().at("kind") == "input");
        CHECK(j.at("layers").back().contains("xnor_dnn"));
        REQUIRE(j.at("exits").size() == 3);
        CHECK(j.at("exits")[1].at("rule") == "max-prob");
        CHECK_FALSE(j.at("exits")[2].contains("rule"));
        CHECK(j.at("cuts").size() == 1);
        CHECK(j.at("partitions").size() == 2);
        CHECK(j.at("partition") == "edge:conv2d,cloud:dense");
        CHECK(j.at("costs").at("weight_bits") == 8.0);
        CHECK(j.at("execution").at("schedule") == "stages");
        CHECK(j.at("execution").contains("recorded_samples"));

        // The exits placement's Pareto front, on the float network.
        const std::string flt = work.file("float.snn.h5"), place = work.file("place.json");
        run_ok("convert " + quote((source_dir / "data" / "fixtures" / "tiny_keras3_sequential.h5").string()) + " -o " +
               quote(flt));
        run_ok("exits place " + quote(flt) + " --data " + quote(data) +
               " --train-samples 10 --val-samples 10 --steps 8 --iterations 20 --check-every 0,4 --json " + quote(place));
        const json p = read_report(place, ReportKind::ExitsPlace);
        CHECK(p.at("schema_version") == 1);
        CHECK_FALSE(p.at("front").empty());
    }
    SECTION("a learned layer: the learn report, and the run report of its assignment readout") {
        // Three classes, each lighting one third of 30 inputs.
        std::vector<float> lx;
        std::vector<std::int64_t> ly;
        for (int k = 0; k < 30; ++k) {
            for (int p = 0; p < 30; ++p) lx.push_back(p / 10 == k % 3 ? 0.9f : 0.1f);
            ly.push_back(k % 3);
        }
        const std::string ldata = work.file("learn-data.h5"), learned = work.file("l.snn.h5");
        write_data(ldata, lx, {30, 1, 1, 30}, ly);
        const std::string learn_report = work.file("learn.json"), report = work.file("learned-run.json");
        run_ok("learn --data " + quote(ldata) + " --test-data " + quote(ldata) +
               " --neurons 6 --steps 30 --max-rate 0.2 --v-th 4 --theta-plus 0.2 --weight-sum 10 --threads 1 -q -o " +
               quote(learned) + " --report " + quote(learn_report));
        const json l = read_report(learn_report, ReportKind::Learn);
        CHECK(l.at("schema_version") == 1);
        run_ok("run " + quote(learned) + " --data " + quote(ldata) + " --encode poisson -q --report " + quote(report));
        const json j = read_report(report);
        CHECK(j.at("readout") == "assignment");
        CHECK(j.at("dnn_accuracy").is_null());
        CHECK(j.at("dnn_agreement").is_null());
    }
}

TEST_CASE("the report validator refuses what the schema does not allow, naming the key", "[report]") {
    // A report built in memory from a two-unit network run on two samples.
    Network net;
    net.populations.push_back(input({1, 1, 2}));
    Population dense;
    dense.name = "out";
    dense.shape = {1, 1, 2};
    dense.projections = {projection(0, ProjectionKind::Dense, {}, {1.0f, 0.0f, 0.0f, 1.0f}, "out")};
    net.populations.push_back(dense);
    validate(net);
    Dataset d;
    d.shape = {1, 1, 2};
    d.x = {0.9f, 0.1f, 0.2f, 0.8f};
    d.y = {0, 1};
    RunOptions opt;
    opt.steps = 4;
    const json valid = report_json(net, simulate(net, d, opt), RunInfo{"hand", "hand", opt, -1, {}, {}});

    TempDir work("report-bad");
    const std::string path = work.file("r.json");
    const auto check = [&](const json& j, ReportKind kind = ReportKind::Run) {
        std::ofstream(path) << j.dump(2);
        return validate_report(path, kind);
    };
    const Outcome ok = check(valid);
    INFO(ok.out << ok.err);
    REQUIRE(ok.status == 0);
    CHECK(ok.out.empty());

    // Each change, and the key path and words the validator's line must hold.
    struct Bad {
        const char* what;
        json report;
        std::string says;
    };
    std::vector<Bad> bad;
    json j = valid;
    j["bogus"] = 1;
    bad.push_back({"an unknown top-level key", j, "'bogus' was unexpected"});
    j = valid;
    j["layers"][0]["bogus"] = 1;
    bad.push_back({"an unknown key in a layer", j, "layers[0]: Additional properties"});
    j = valid;
    j["samples"] = "two";
    bad.push_back({"a wrong type", j, "samples: 'two' is not of type 'integer'"});
    j = valid;
    j["accuracy"] = 1.5;
    bad.push_back({"an accuracy above 1", j, "accuracy: 1.5 is greater than the maximum of 1"});
    j = valid;
    j["layers"][0]["spike_rate"] = -0.5;
    bad.push_back({"a negative rate", j, "layers[0].spike_rate: -0.5 is less than the minimum of 0"});
    j = valid;
    j.erase("schema_version");
    bad.push_back({"no schema_version", j, "'schema_version' is a required property"});
    j = valid;
    j["schema_version"] = 2;
    bad.push_back({"another schema_version", j, "schema_version: 1 was expected"});
    j = valid;
    j["layers"][0]["binary"] = true;
    bad.push_back({"a binary layer without its XNOR-DNN figures", j, "'xnor_dnn' is a required property"});
    j = valid;
    j["encode"] = "poisson";
    bad.push_back({"Poisson input without max_rate", j, "'max_rate' is a required property"});
    j = valid;
    j["execution"]["blocks"][0]["batched"] = json::array();
    bad.push_back({"a stage's key in a layer-by-layer block", j, "execution.blocks[0]: Additional properties"});
    for (const Bad& b : bad) {
        INFO(b.what);
        const Outcome o = check(b.report);
        INFO(o.out << o.err);
        CHECK(o.status == 1);
        CHECK_THAT(o.out, Contains(b.says));
        CHECK(o.err.empty());
    }
    // A run report is not a learn report.
    CHECK(check(valid, ReportKind::Learn).status == 1);

    // read_report throws with the validator's lines; so does a validator that
    // cannot check (python without its site packages: no jsonschema), never passing.
    std::ofstream(path) << bad[0].report.dump(2);
    CHECK_THROWS_WITH(read_report(path), Contains("'bogus' was unexpected") && Contains("report.schema.json"));
    std::ofstream(path) << valid.dump(2);
    const std::string out_path = work.file("stdout"), err_path = work.file("stderr");
    const std::string cmd = "/usr/bin/python3 -S " + quote((source_dir / "tools" / "validate_report.py").string()) + " " +
                            quote(report_schema(ReportKind::Run)) + " " + quote(path) + " >" + quote(out_path) + " 2>" +
                            quote(err_path);
    const int raw = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(raw));
    CHECK(WEXITSTATUS(raw) == 2);
    CHECK_THAT(slurp(err_path), Contains("python3-jsonschema is missing"));
}
