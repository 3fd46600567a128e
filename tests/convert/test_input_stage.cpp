// The compressive-sensing input stage end to end (docs/compressive-sensing.md):
// a Keras model trained on Rademacher measurements keeps its stage through
// `snn convert` and the .snn.h5 round trip, its DNN pass on raw inputs equals
// the numpy reference (Φ from tools/rademacher_reference.py, then the MLP),
// `snn run` counts the stage's rd·n adds and rd multiplies in the report and
// both energies, and bad stages, data and encodings are refused in one line.
#include "convert/dnn.hpp"
#include "convert/keras.hpp"
#include "snn/dataset.hpp"
#include "snn/h5.hpp"
#include "snn/inspect.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

const fs::path fixtures = fs::path(SNN_SOURCE_DIR) / "data" / "fixtures";
const std::string cs_model = (fixtures / "tiny_cs_mlp.h5").string();


// Raw 4×4×1 samples for the tiny CS model, labels 0, 1, 2, 0, …
void write_raw_data(const std::string& path, int n, Shape shape = {4, 4, 1}) {
    std::vector<float> x(std::size_t(n) * std::size_t(shape.size()));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7) % 11) / 10.0f;
    std::vector<std::int64_t> y(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    write_data(path, x, {std::uint64_t(n), std::uint64_t(shape.h), std::uint64_t(shape.w), std::uint64_t(shape.c)}, y);
}

void run_ok(const std::string& args) {
    const Outcome o = snn_cli(args);
    INFO("snn " << args << "\nstdout: " << o.out << "\nstderr: " << o.err);
    REQUIRE(o.status == 0);
}

// The one-line error of a command that must fail with exit status 1.
std::string refused(const std::string& args) {
    const Outcome o = snn_cli(args);
    INFO("snn " << args << "\nstdout: " << o.out << "\nstderr: " << o.err);
    CHECK(o.status == 1);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    return o.err;
}

} // namespace

TEST_CASE("input stage: the converted CS model's DNN pass on raw inputs equals numpy's Φ then MLP", "[input_stage]") {
    const Network net = import_keras(cs_model);
    REQUIRE(net.input_stage.present());
    CHECK(net.input_stage.seed == 77);
    CHECK(net.input_stage.rd == 6);
    CHECK(net.input_stage.raw == Shape{4, 4, 1});
    CHECK(net.input().shape.size() == 6);

    // tiny_cs_mlp.ref.h5: x raw (8, 4, 4, 1), y_dnn the numpy reference's logits (tools/make_fixtures.py).
    h5::Node ref = h5::open_file((fixtures / "tiny_cs_mlp.ref.h5").string());
    std::vector<std::uint64_t> x_dims, y_dims;
    Dataset data;
    data.name = "tiny_cs_mlp.ref.h5";
    data.x = h5::read_floats(ref, "x", &x_dims);
    const std::vector<float> want = h5::read_floats(ref, "y_dnn", &y_dims);
    REQUIRE(x_dims == std::vector<std::uint64_t>{8, 4, 4, 1});
    data.shape = {4, 4, 1};
    data.y.assign(8, 0);
    match_input_layout(data, net); // the one place raw inputs become measurements
    REQUIRE(data.shape == Shape{1, 1, 6});
    for (std::int64_t s = 0; s < 8; ++s) {
        INFO("sample " << s);
        const std::vector<float> out = forward(net, data.sample(s)).back();
        const std::vector<float> w(want.begin() + s * 3, want.begin() + s * 3 + 3);
        for (std::size_t j = 0; j < 3; ++j) CHECK(out[j] == Approx(w[j]).epsilon(1e-4).margin(1e-6));
        CHECK(argmax(out) == argmax(w));
    }
}

TEST_CASE("input stage: kept by the network file (version 11) and shown by inspect", "[input_stage]") {
    TempDir work("cs-file");
    const std::string path = work.file("cs.snn.h5");
    run_ok("convert " + quote(cs_model) + " -o " + quote(path));
    const Network net = load(path);
    CHECK(net.input_stage == RademacherStage{77, 6, {4, 4, 1}});
    CHECK(h5::read_int_attr(h5::open_file(path), "format_version") == 11);
    CHECK_THAT(describe(net), Contains("input stage:   rademacher, seed 77, (4,4,1) = 16 pixels -> rd 6"));
    CHECK_THAT(describe(net), Contains("96 adds/input"));

    // A plain network stays below version 11.
    Network plain = net;
    plain.input_stage = {};
    save(plain, work.file("plain.snn.h5"));
    CHECK(h5::read_int_attr(h5::open_file(work.file("plain.snn.h5")), "format_version") < 11);
    // rd larger than the raw input, in a network file: refused naming the file.
    Network grown = net;
    grown.input_stage.raw = {2, 2, 1};
    save(grown, work.file("grown.snn.h5"));
    CHECK_THROWS_WITH(load(work.file("grown.snn.h5")),
                      Contains("grown.snn.h5") && Contains("rd 6 is larger than the input's 4 pixels"));
}

TEST_CASE("input stage: snn run counts rd·n adds and rd multiplies in the report and both energies",
          "[input_stage][cli]") {
    TempDir work("cs-run");
    const std::string net = work.file("cs.snn.h5"), raw = work.file("raw.h5");
    run_ok("convert " + quote(cs_model) + " -o " + quote(net));
    write_raw_data(raw, 12);
    const std::string report = work.file("cs.json");
    run_ok("run " + quote(net) + " --data " + quote(raw) + " --steps 8 -q --report " + quote(report));
    const json j = read_report(report); // validated against docs/report.schema.json
    const json& st = j.at("input_stage");
    CHECK(st.at("rd") == 6);
    CHECK(st.at("adds_per_sample") == 6 * 16); // rd × pixels, by hand
    CHECK(st.at("multiplies_per_sample") == 6);
    const double add_pj = j.at("costs").at("add_pj"), mac_pj = j.at("costs").at("mac_pj");
    const double stage_pj = 96 * add_pj + 6 * mac_pj;
    CHECK(st.at("energy_pj_per_sample").get<double>() == Approx(stage_pj));

    // The same network without its stage, fed the measurements themselves:
    // the same spikes, and energies lower by exactly the stage's.
    Network plain = load(net);
    Dataset measured = load_dataset(raw);
    match_input_layout(measured, plain);
    plain.input_stage = {};
    save(plain, work.file("plain.snn.h5"));
    std::vector<std::int64_t> y(measured.y.begin(), measured.y.end());
    write_data(work.file("measured.h5"), measured.x, {12, 6}, y);
    const std::string plain_report = work.file("plain.json");
    run_ok("run " + quote(work.file("plain.snn.h5")) + " --data " + quote(work.file("measured.h5")) +
           " --steps 8 -q --report " + quote(plain_report));
    const json p = read_report(plain_report);
    CHECK(p.at("input_stage").is_null());
    CHECK(j.at("accuracy") == p.at("accuracy"));
    CHECK(j.at("synaptic_ops_per_sample") == p.at("synaptic_ops_per_sample"));
    CHECK(j.at("energy_pj_per_sample").get<double>() ==
          Approx(p.at("energy_pj_per_sample").get<double>() + stage_pj));
    CHECK(j.at("dnn_energy_pj_per_sample").get<double>() ==
          Approx(p.at("dnn_energy_pj_per_sample").get<double>() + stage_pj));
}

TEST_CASE("input stage: bad stages, data and encodings are refused in one line", "[input_stage][cli]") {
    TempDir work("cs-bad");
    const std::string net = work.file("cs.snn.h5");
    run_ok("convert " + quote(cs_model) + " -o " + quote(net));

    // Poisson: a negative measurement has no spike probability.
    write_raw_data(work.file("raw.h5"), 4);
    CHECK_THAT(refused("run " + quote(net) + " --data " + quote(work.file("raw.h5")) + " --steps 4 --encode poisson"),
               Contains("compressive-sensing") && Contains("--encode current"));
    // Data that are not the stage's raw inputs.
    write_raw_data(work.file("five.h5"), 4, {5, 5, 1});
    CHECK_THAT(refused("run " + quote(net) + " --data " + quote(work.file("five.h5")) + " --steps 4"),
               Contains("25 values") && Contains("(4,4,1) = 16"));

    // Keras files whose stage is wrong: rd 0, rd above the pixels, no seed.
    const auto edited = [&](const std::string& name, const std::string& python) {
        const std::string out = work.file(name);
        const std::string cmd = "/usr/bin/python3 -c " +
                                quote("import h5py, shutil, sys; shutil.copy(sys.argv[1], sys.argv[2]); "
                                      "f = h5py.File(sys.argv[2], \"a\"); " +
                                      python) +
                                " " + quote(cs_model) + " " + quote(out);
        REQUIRE(std::system(cmd.c_str()) == 0);
        return out;
    };
    const std::string rd0 = edited("rd0.h5", "f.attrs[\"snn_input_stage_rd\"] = 0");
    CHECK_THAT(refused("convert " + quote(rd0) + " -o " + quote(work.file("o.snn.h5"))),
               Contains("rd0.h5") && Contains("rd 0 must be at least 1"));
    const std::string rd17 = edited("rd17.h5", "f.attrs[\"snn_input_stage_rd\"] = 17");
    CHECK_THAT(refused("convert " + quote(rd17) + " -o " + quote(work.file("o.snn.h5"))),
               Contains("rd17.h5") && Contains("rd 17 is larger than the input's 16 pixels"));
    const std::string noseed = edited("noseed.h5", "del f.attrs[\"snn_input_stage_seed\"]");
    CHECK_THAT(refused("convert " + quote(noseed) + " -o " + quote(work.file("o.snn.h5"))),
               Contains("noseed.h5") && Contains("no attribute 'snn_input_stage_seed'"));
}
