// The `snn` program as a user runs it: bad input gives exit code 1, one line
// on stderr that says what is wrong, and no output file (nor a temporary)
// left behind; a convert → inspect → run round trip writes the report it
// documents (every report read through test::read_report, which checks it
// against docs/report.schema.json); results do not depend on --threads.
#include "convert/convert.hpp"
#include "snn/dataset.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;
const fs::path fixtures = source_dir / "data" / "fixtures";

// Exit code 1, exactly one line on stderr holding `fact`, none of `outputs`
// written and no temporary left in `work`.
void check_refused(const Outcome& o, const std::string& fact, const TempDir& work,
                   const std::vector<std::string>& outputs) {
    INFO("stderr: " << o.err);
    INFO("stdout: " << o.out);
    CHECK(o.status == 1);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK((!o.err.empty() && o.err.back() == '\n'));
    CHECK_THAT(o.err, Contains(fact));
    for (const auto& p : outputs) {
        INFO(p);
        CHECK_FALSE(fs::exists(p));
    }
    CHECK(work.temporaries().empty());
}

// A model the MNIST data fits: the shipped MLP, else the real one from shared/.
std::string mnist_model() {
    for (const fs::path& p : {source_dir / "data" / "models" / "mnist_mlp.h5",
                              source_dir / ".." / "shared" / "data" / "keras-real" / "mnist_dnn_model.h5"})
        if (fs::exists(p)) return p.string();
    return {};
}

} // namespace

TEST_CASE("snn convert refuses bad input with one line and writes nothing", "[cli]") {
    TempDir work("convert");
    const std::string out = work.file("net.snn.h5");
    const std::string tiny = (fixtures / "tiny_keras3_sequential.h5").string();

    SECTION("a missing model file") {
        const std::string model = work.file("missing_model.h5");
        check_refused(snn_cli("convert " + quote(model) + " -o " + quote(out)), model + ": no such file", work, {out});
    }
    SECTION("a model that is not HDF5") {
        const std::string model = work.file("model.h5");
        std::ofstream(model) << "just text\n";
        check_refused(snn_cli("convert " + quote(model) + " -o " + quote(out)), "not an HDF5 file", work, {out});
    }
    SECTION("an HDF5 file that is not a Keras model") {
        const std::string model = work.file("data.h5");
        write_data(model, {0.5f, 0.5f}, {2, 1}, {0, 1});
        check_refused(snn_cli("convert " + quote(model) + " -o " + quote(out)), "not a Keras model", work, {out});
    }
    SECTION("a model with an unsupported layer") {
        const Outcome o = snn_cli("convert " + quote((fixtures / "tiny_unsupported.h5").string()) + " -o " + quote(out));
        check_refused(o, "'leaky'", work, {out});
        CHECK_THAT(o.err, Contains("LeakyReLU"));
    }
    SECTION("an unknown calibration data set") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calib foo:test"),
                      "unknown data set 'foo:test'", work, {out});
    }
    SECTION("calibration data of the wrong shape") {
        std::string model = mnist_model();
        if (model.empty()) model = tiny;
        const std::string data = work.file("calib.h5");
        write_data(data, std::vector<float>(50, 0.5f), {10, 5}, std::vector<std::int64_t>(10, 1));
        const Outcome o = snn_cli("convert " + quote(model) + " -o " + quote(out) + " --calib " + quote(data));
        check_refused(o, "shape (1,1,5)", work, {out});
        CHECK_THAT(o.err, Contains(data));
    }
    SECTION("an unknown flag") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --bogus"), "--bogus", work, {out});
    }
    SECTION("channel-wise normalization without calibration data") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --norm-granularity channel"),
                      "--norm-granularity channel needs data-based normalization", work, {out});
    }
    SECTION("an unknown normalization granularity") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --norm-granularity pixel"),
                      "--norm-granularity 'pixel'", work, {out});
    }
    SECTION("an initial membrane outside [0, 1)") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --v-init 1.5"), "--v-init", work, {out});
    }
    SECTION("an unknown readout") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --readout votes"), "'votes'", work,
                      {out});
    }
    SECTION("step calibration without calibration data") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calibrate-steps 8"),
                      "--calibrate-steps needs calibration data", work, {out});
    }
    SECTION("step calibration on a test split") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calib mnist:test --calibrate-steps 8"),
                      "'mnist:test', a test split", work, {out});
    }
    SECTION("bias calibration without calibration data") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calibrate-bias 8"),
                      "--calibrate-bias needs calibration data", work, {out});
    }
    SECTION("bias calibration on a test split") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calib mnist:test --calibrate-bias 8"),
                      "'mnist:test', a test split", work, {out});
    }
    SECTION("bias calibration for a negative number of steps") {
        check_refused(snn_cli("convert " + quote(tiny) + " -o " + quote(out) + " --calibrate-bias -2"),
                      "--calibrate-bias must be positive", work, {out});
    }
}

TEST_CASE("snn convert --calibrate-bias: corrections the SNN runs with and the DNN does not see", "[cli][calibrate]") {
    TempDir work("bias");
    const std::string model = (fixtures / "tiny_keras3_sequential.h5").string();
    const std::string plain = work.file("plain.snn.h5"), cal = work.file("cal.snn.h5"), data = work.file("data.h5");
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> x(40 * 16);
    for (float& v : x) v = pixel(rng);
    std::vector<std::int64_t> y(40);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    write_data(data, x, {40, 4, 4, 1}, y);
    const std::string calib = " --calib " + quote(data) + " --calib-samples 20";
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(plain) + calib).status == 0);
    const Outcome conv = snn_cli("convert " + quote(model) + " -o " + quote(cal) + calib + " --calibrate-bias 4");
    INFO("convert stdout: " << conv.out << "\nstderr: " << conv.err);
    REQUIRE(conv.status == 0);
    CHECK_THAT(conv.out, Contains("calibrating biases for 4 steps on 20 samples"));
    CHECK_THAT(conv.out, Contains("conv2d") && Contains("mean |channel error|"));

    const Outcome insp = snn_cli("inspect " + quote(cal) + " --json");
    REQUIRE(insp.status == 0);
    const json pops = json::parse(insp.out).at("populations");
    int corrected = 0;
    for (const auto& p : pops)
        if (!p.at("bias_correction").is_null()) {
            ++corrected;
            CHECK(p.at("bias_correction").size() == p.at("shape")[2]);
        }
    CHECK(corrected == int(pops.size()) - 1); // every population after the input
    CHECK_THAT(snn_cli("inspect " + quote(cal)).out, Contains("bias corrections (SNN only"));

    // The DNN figures come from the model's own biases: the same as the plain
    // conversion's; the SNN's spikes differ.
    const std::string r_plain = work.file("plain.json"), r_cal = work.file("cal.json");
    const std::string run = " --data " + quote(data) + " --steps 4 -q --report ";
    REQUIRE(snn_cli("run " + quote(plain) + run + quote(r_plain)).status == 0);
    REQUIRE(snn_cli("run " + quote(cal) + run + quote(r_cal)).status == 0);
    const json a = read_report(r_plain), b = read_report(r_cal);
    CHECK(a.at("dnn_accuracy") == b.at("dnn_accuracy"));
    CHECK(a.at("spikes_per_sample") != b.at("spikes_per_sample"));

    // With a compressive-sensing input stage, both calibrations read the raw
    // images through it (the data are projected once, for the first of them).
    const Outcome cs = snn_cli("convert " + quote((fixtures / "tiny_cs_mlp.h5").string()) + " -o " +
                               quote(work.file("cs.snn.h5")) + calib + " --calibrate-steps 2 --calibrate-bias 2");
    INFO("cs stdout: " << cs.out << "\nstderr: " << cs.err);
    CHECK(cs.status == 0);
    CHECK_THAT(cs.out, Contains("biases calibrated for 2 steps"));

    // NIR holds one bias: the correction goes into it, and export says so.
    const Outcome ex = snn_cli("export " + quote(cal) + " -o " + quote(work.file("cal.nir")));
    INFO("export stderr: " << ex.err);
    REQUIRE(ex.status == 0);
    CHECK_THAT(ex.out + ex.err, Contains("bias corrections (--calibrate-bias) are added into the biases"));
}

TEST_CASE("snn convert: the defaults, the plain conversion with --v-init 0, and the stored readout", "[cli]") {
    TempDir work("defaults");
    const std::string tiny = (fixtures / "tiny_keras3_sequential.h5").string();
    const std::string data = work.file("calib.h5");
    write_random_data(data, {30, 4, 4, 1}, 3, 11);
    const std::string calib = " --calib " + quote(data) + " --calib-samples 30";

    // Plain conversion through the C++ API: layer-wise percentile, v_init 0, spike counts.
    ConvertLog log;
    const Dataset calib_data = load_dataset(data, 30);
    Network plain = convert_model(tiny, &calib_data, ConvertOptions{}, log);
    for (const auto& pop : plain.populations) CHECK(pop.neuron.v_init == 0.0f);
    CHECK(plain.readout == Readout::Spikes);

    const std::string zero = work.file("zero.snn.h5");
    const Outcome z = snn_cli("convert " + quote(tiny) + " -o " + quote(zero) + calib +
                              " --v-init 0 --norm-granularity layer --readout spikes");
    INFO(z.err);
    REQUIRE(z.status == 0);
    Network back = load(zero);
    back.source = plain.source;
    CHECK(back == plain); // every weight, bias, λ and neuron parameter

    const std::string dflt = work.file("default.snn.h5");
    const Outcome d = snn_cli("convert " + quote(tiny) + " -o " + quote(dflt) + calib);
    INFO(d.err);
    REQUIRE(d.status == 0);
    const Network def = load(dflt);
    CHECK(def.readout == Readout::Membrane);
    CHECK_THAT(def.normalization, Contains("channel-wise"));
    for (std::size_t i = 1; i < def.populations.size(); ++i) CHECK(def.populations[i].neuron.v_init == 0.5f);
    CHECK_THAT(snn_cli("inspect " + quote(dflt)).out, Contains("readout:       membrane"));

    // The stored readout is used unless --readout overrides it; the report says which.
    const std::string report = work.file("r.json");
    const std::string run = "run " + quote(dflt) + " --data " + quote(data) + " --steps 4 -q --report " + quote(report);
    REQUIRE(snn_cli(run).status == 0);
    CHECK(read_report(report).at("readout") == "membrane");
    REQUIRE(snn_cli(run + " --readout spikes").status == 0);
    CHECK(read_report(report).at("readout") == "spikes");

    // Without calibration data the default falls back to one model-based scale per layer.
    const Outcome m = snn_cli("convert " + quote(tiny) + " -o " + quote(work.file("model.snn.h5")));
    INFO(m.err);
    REQUIRE(m.status == 0);
    CHECK_THAT(load(work.file("model.snn.h5")).normalization, Contains("model-based"));
}

TEST_CASE("snn run refuses bad input with one line and writes nothing", "[cli]") {
    TempDir work("run");
    const std::string tiny = (fixtures / "tiny_keras3_sequential.h5").string();
    const std::string net = work.file("tiny.snn.h5");
    const Outcome conv = snn_cli("convert " + quote(tiny) + " -o " + quote(net));
    INFO(conv.err);
    REQUIRE(conv.status == 0);
    const std::string data = work.file("data.h5");
    write_data(data, std::vector<float>(20 * 16, 0.5f), {20, 4, 4, 1}, std::vector<std::int64_t>(20, 1));
    const std::string report = work.file("r.json"), record = work.file("spikes.h5");
    const std::string outputs = " --report " + quote(report) + " --record " + quote(record);

    SECTION("a Keras file instead of a network") {
        check_refused(snn_cli("run " + quote(tiny) + " --data " + quote(data) + outputs), "not an snn network file",
                      work, {report, record});
    }
    SECTION("a limit that is not positive") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --limit -5" + outputs),
                      "--limit must be at least 1", work, {report, record});
    }
    SECTION("an unknown split") {
        check_refused(snn_cli("run " + quote(net) + " --data mnist:validation" + outputs), "unknown split 'validation'",
                      work, {report, record});
    }
    SECTION("--steps 0") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 0" + outputs), "--steps", work,
                      {report, record});
    }
    SECTION("--encode foo") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --encode foo" + outputs),
                      "--encode 'foo'", work, {report, record});
    }
    SECTION("--kernels foo") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --kernels foo" + outputs),
                      "--kernels 'foo'", work, {report, record});
    }
    SECTION("an unknown flag") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --bogus" + outputs), "--bogus", work,
                      {report, record});
    }
    SECTION("a data set above --max-memory") {
        // 20 samples of 16 floats: 1280 bytes, above a limit of 1000.
        const Outcome o = snn_cli("run " + quote(net) + " --data " + quote(data) + " --max-memory 1000" + outputs);
        check_refused(o, "limit of 1000 B (--max-memory)", work, {report, record});
        CHECK_THAT(o.err, Contains(data) && Contains("needs 1.2 KiB"));
    }
    SECTION("a malformed --max-memory") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --max-memory lots" + outputs),
                      "--max-memory 'lots'", work, {report, record});
    }
    SECTION("--window 0") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --distributed pipeline --window 0" + outputs),
                      "--window must be at least 1", work, {report, record});
    }
    SECTION("--window without --distributed pipeline") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --window 4" + outputs),
                      "--window applies to --distributed pipeline only", work, {report, record});
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --distributed data --window 4" + outputs),
                      "--window applies to --distributed pipeline only", work, {report, record});
    }
}

TEST_CASE("snn convert, inspect and run: the round trip and its report", "[cli]") {
    TempDir work("ok");
    const std::string net = work.file("tiny.snn.h5");

    const Outcome conv = snn_cli("convert " + quote((fixtures / "tiny_keras3_sequential.h5").string()) + " -o " + quote(net));
    INFO("convert stdout: " << conv.out << "\nstderr: " << conv.err);
    REQUIRE(conv.status == 0);
    CHECK_THAT(conv.out + conv.err, Contains("model-based"));
    REQUIRE(fs::exists(net));

    const Outcome insp = snn_cli("inspect " + quote(net));
    INFO("inspect stdout: " << insp.out << "\nstderr: " << insp.err);
    REQUIRE(insp.status == 0);
    for (const char* name : {"input_layer", "conv2d", "dense"}) CHECK_THAT(insp.out, Contains(name));

    std::mt19937 rng(7);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> x(20 * 16);
    for (float& v : x) v = pixel(rng);
    std::vector<std::int64_t> y(20);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    const std::string data = work.file("data.h5"), report = work.file("r.json");
    write_data(data, x, {20, 4, 4, 1}, y);

    const Outcome run = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 8 --report " + quote(report));
    INFO("run stdout: " << run.out << "\nstderr: " << run.err);
    REQUIRE(run.status == 0);
    REQUIRE(fs::exists(report));
    CHECK(work.temporaries().empty());
    const json j = read_report(report);
    INFO(j.dump(2));
    CHECK(j.at("samples") == 20);
    CHECK(j.at("steps") == 8);
    CHECK(j.at("encode") == "current");
    CHECK(j.at("accuracy").is_number());
    CHECK(j.at("dnn_accuracy").is_number());
    CHECK(j.at("synaptic_ops_per_sample").is_number());
    CHECK(j.at("samples_per_second").is_number());
    CHECK(j.at("threads").is_number_integer());
    std::vector<int> steps;
    for (const auto& a : j.at("accuracy_by_step")) {
        steps.push_back(a.at("step").get<int>());
        CHECK(a.at("accuracy").get<double>() >= 0.0);
        CHECK(a.at("accuracy").get<double>() <= 1.0);
    }
    CHECK(steps == std::vector<int>{1, 2, 4, 8});
    CHECK(j.at("accuracy_by_step").back().at("accuracy") == j.at("accuracy"));
    REQUIRE(j.at("layers").is_array());
    REQUIRE_FALSE(j.at("layers").empty());
    for (const auto& l : j.at("layers")) {
        INFO(l.dump());
        CHECK(l.at("name").is_string());
        CHECK(l.at("neurons").is_number_integer());
        CHECK(l.at("spikes_per_sample").is_number());
        CHECK(l.at("spike_rate").is_number());
        CHECK(l.at("synaptic_ops_per_sample").is_number());
    }
    CHECK(j.at("layers").back().at("name") == "dense");
    CHECK(j.at("layers").back().at("neurons") == 3);
}

TEST_CASE("snn run gives the same report on 1 and 2 threads, and records spikes", "[cli]") {
    const std::string model = mnist_model();
    if (model.empty()) {
        WARN("skipped: no MNIST model (data/models/mnist_mlp.h5 or shared/data/keras-real/mnist_dnn_model.h5)");
        return;
    }
    TempDir work("threads");
    const std::string net = work.file("mnist.snn.h5");
    const Outcome conv =
        snn_cli("convert " + quote(model) + " -o " + quote(net) + " --calib mnist:train --calib-samples 200");
    INFO("convert stdout: " << conv.out << "\nstderr: " << conv.err);
    REQUIRE(conv.status == 0);

    for (const char* encode : {"current", "poisson"}) {
        INFO("--encode " << encode);
        json reports[2];
        for (int threads : {1, 2}) {
            const std::string report = work.file(std::string(encode) + "-" + std::to_string(threads) + ".json");
            const Outcome o = snn_cli("run " + quote(net) + " --data mnist:test --limit 200 --steps 32 -q --encode " +
                                      encode + " --threads " + std::to_string(threads) + " --report " + quote(report));
            INFO("stderr: " << o.err);
            REQUIRE(o.status == 0);
            json j = read_report(report);
            CHECK(j.at("threads") == threads);
            CHECK(j.at("samples") == 200);
            for (const char* k : {"seconds", "samples_per_second", "threads"}) j.erase(k);
            reports[threads - 1] = j;
        }
        CHECK(reports[0] == reports[1]);
        CHECK(reports[0].at("accuracy").get<double>() > 0.5);
    }

    const std::string record = work.file("spikes.h5");
    const Outcome o = snn_cli("run " + quote(net) + " --data mnist:test --limit 5 --steps 16 -q --record " +
                              quote(record) + " --record-samples 2");
    INFO("stderr: " << o.err);
    REQUIRE(o.status == 0);
    REQUIRE(fs::exists(record));
    CHECK(work.temporaries().empty());
    const h5::Node f = h5::open_file(record);
    std::vector<std::int64_t> seen;
    for (const std::string& pop : h5::child_names(f)) {
        INFO("population " << pop);
        const h5::Node g = h5::open_group(f, pop);
        const std::vector<std::int64_t> samples = h5::read_ints(g, "sample");
        for (std::int64_t s : samples) {
            CHECK((s == 0 || s == 1));
            if (std::find(seen.begin(), seen.end(), s) == seen.end()) seen.push_back(s);
        }
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::int64_t>{0, 1});
}

TEST_CASE("snn exits and snn partition: bad input is refused by name, good input is stored", "[cli][exits]") {
    TempDir work("exits");
    const std::string tiny = (fixtures / "tiny_keras3_sequential.h5").string();
    const std::string net = work.file("tiny.snn.h5");
    REQUIRE(snn_cli("convert " + quote(tiny) + " -o " + quote(net)).status == 0);
    const std::string data = work.file("data.h5");
    std::vector<float> x(20 * 16);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7) % 11) / 10.0f;
    std::vector<std::int64_t> y(20);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 3);
    write_data(data, x, {20, 4, 4, 1}, y);
    const std::string out = work.file("out.snn.h5"), report = work.file("r.json");
    const std::string before = slurp(net);

    SECTION("an exit at a layer that does not exist") {
        check_refused(snn_cli("exits train " + quote(net) + " --at nowhere --data " + quote(data) + " -o " + quote(out)),
                      "'nowhere' is not a population", work, {out});
    }
    SECTION("an exit fitted on a test split") {
        check_refused(snn_cli("exits train " + quote(net) + " --at conv2d --data mnist:test -o " + quote(out)), "test split",
                      work, {out});
    }
    SECTION("a max-prob threshold that is not a probability") {
        check_refused(snn_cli("exits add " + quote(net) + " --rule max-prob --threshold 2 -o " + quote(out)),
                      "--threshold 2", work, {out});
    }
    SECTION("an unknown rule") {
        check_refused(snn_cli("exits add " + quote(net) + " --rule vibes -o " + quote(out)), "exit rule 'vibes'", work, {out});
    }
    SECTION("a partition that leaves a layer unassigned") {
        check_refused(snn_cli("partition " + quote(net) + " edge:conv2d -o " + quote(out)), "'dense' is not assigned", work,
                      {out});
    }
    SECTION("a partition out of order") {
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --partition cloud:dense,edge:conv2d --report " +
                              quote(report)),
                      "starts at 'dense'", work, {report});
    }
    SECTION("a malformed cost table") {
        const std::string costs = work.file("costs.json");
        std::ofstream(costs) << "{\"add_pj\": [1]}";
        check_refused(snn_cli("run " + quote(net) + " --data " + quote(data) + " --costs " + quote(costs) + " --report " +
                              quote(report)),
                      "'add_pj' is not a number", work, {report});
    }
    SECTION("exits and a partition are stored, run and reported") {
        REQUIRE(snn_cli("partition " + quote(net) + " edge:conv2d,cloud:dense -o " + quote(out)).status == 0);
        const Outcome trained = snn_cli("exits train " + quote(out) + " --at conv2d --data " + quote(data) +
                                        " --steps 8 --threshold 0.5 --check-every 2 --iterations 50");
        INFO(trained.err);
        REQUIRE(trained.status == 0);
        REQUIRE(snn_cli("exits add " + quote(out) + " --threshold 0.1 --check-every 4").status == 0);
        const Network n = load(out);
        REQUIRE(n.exits.size() == 2);
        CHECK(n.exits[0].at == "conv2d");
        CHECK(n.exits[0].check_every == 2);
        CHECK(n.exits[1].at == "dense");
        CHECK(n.exits[1].weights.empty());
        CHECK(partition_spec(n) == "edge:conv2d,cloud:dense");
        CHECK(slurp(net) == before); // -o left the source alone
        const Outcome ran = snn_cli("run " + quote(out) + " --data " + quote(data) + " --steps 8 -q --report " + quote(report));
        INFO(ran.err);
        REQUIRE(ran.status == 0);
        const json j = read_report(report);
        REQUIRE(j["exits"].size() == 3);
        double taken = 0;
        for (const auto& e : j["exits"]) taken += e["taken"].get<double>();
        CHECK(taken == Approx(1.0));
        REQUIRE(j["cuts"].size() == 1);
        CHECK(j["cuts"][0]["neurons"] == 8);
        CHECK(j["partitions"].size() == 2);
        REQUIRE(snn_cli("exits clear " + quote(out)).status == 0);
        CHECK(load(out).exits.empty());
    }
}

TEST_CASE("snn convert, inspect and run with binary layers", "[cli][binary]") {
    TempDir work("binary-cli");
    const std::string model = (source_dir / "data" / "models" / "mnist_bcnn.h5").string();
    REQUIRE(fs::exists(model));
    // 64 random 28×28 images as calibration and test data (the layers' shapes are what matters here).
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> x(64 * 784);
    for (float& v : x) v = pixel(rng) < 0.8f ? 0.0f : pixel(rng);
    std::vector<std::int64_t> y(64);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % 10);
    const std::string data = work.file("data.h5");
    write_data(data, x, {64, 28, 28, 1}, y);
    const std::string calib = " --calib " + quote(data) + " --calib-samples 64";

    const std::string bin = work.file("b.snn.h5"), flt = work.file("f.snn.h5");
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(bin) + calib).status == 0);
    REQUIRE(snn_cli("convert " + quote(model) + " -o " + quote(flt) + calib + " --no-binary").status == 0);
    const json bi = json::parse(snn_cli("inspect --json " + quote(bin)).out);
    const json fi = json::parse(snn_cli("inspect --json " + quote(flt)).out);
    // The two binary layers hold their 418,816 weights as bits; everything else is the same.
    int binary = 0;
    for (const auto& pop : bi["populations"])
        for (const auto& p : pop["projections"]) binary += p["binary"].get<bool>();
    CHECK(binary == 2);
    CHECK(bi["totals"]["parameters"] == fi["totals"]["parameters"]);
    CHECK(fi["totals"]["bytes"].get<std::int64_t>() == 4 * fi["totals"]["parameters"].get<std::int64_t>());
    CHECK(fi["totals"]["bytes"].get<double>() / bi["totals"]["bytes"].get<double>() >= 20.0);
    CHECK_THAT(snn_cli("inspect " + quote(bin)).out, Contains("binary dense←pool2") && Contains("binary weights: 418816"));

    // The report marks the binary layers and counts their events apart; every popcount implementation agrees.
    const std::string report = work.file("r.json");
    const Outcome r = snn_cli("run " + quote(bin) + " --data " + quote(data) + " --steps 16 --report " + quote(report));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Contains("binary layer") && Contains("XNOR-DNN"));
    const json j = read_report(report);
    for (const auto& l : j["layers"]) {
        const bool b = l["name"] == "conv2" || l["name"] == "fc1";
        CHECK(l["binary"].get<bool>() == b);
        if (b) {
            CHECK(l["binary_ops_per_sample"].get<double>() == l["synaptic_ops_per_sample"].get<double>());
            CHECK(l["xnor_dnn"]["binary_ops"].get<double>() == (l["name"] == "fc1" ? 1600.0 * 256 : 10 * 10 * 64 * 9 * 16.0));
        } else {
            CHECK(l["binary_ops_per_sample"].get<double>() == 0.0);
        }
    }
    const std::string scalar = work.file("s.json");
    REQUIRE(snn_cli("run " + quote(bin) + " --data " + quote(data) + " --steps 16 -q --popcount scalar --report " + quote(scalar)).status == 0);
    const json s = read_report(scalar);
    CHECK(s["accuracy_by_step"] == j["accuracy_by_step"]);
    CHECK(s["layers"] == j["layers"]);
    // And every copy of the float kernels (the float layers around the binary ones).
    for (const FloatIsa isa : test::float_isas()) {
        INFO("float ISA " << to_string(isa));
        const std::string f = work.file(std::string("f-") + to_string(isa) + ".json");
        REQUIRE(snn_cli("run " + quote(bin) + " --data " + quote(data) + " --steps 16 -q --float-isa " + to_string(isa) +
                        " --report " + quote(f)).status == 0);
        const json fj = read_report(f);
        CHECK(fj["execution"]["float_isa"] == to_string(isa));
        CHECK(fj["accuracy_by_step"] == j["accuracy_by_step"]);
        CHECK(fj["layers"] == j["layers"]);
    }

    // Refusals, one line each.
    check_refused(snn_cli("run " + quote(bin) + " --data " + quote(data) + " --popcount sse9"), "--popcount 'sse9'", work, {});
    check_refused(snn_cli("run " + quote(bin) + " --data " + quote(data) + " --float-isa sse9"), "--float-isa 'sse9'", work, {});
    check_refused(snn_cli("convert " + quote(model) + " -o " + quote(work.file("x.snn.h5")) + calib +
                          " --norm-granularity channel"),
                  "binary layers", work, {work.file("x.snn.h5")});
    check_refused(snn_cli("convert " + quote(model) + " -o " + quote(work.file("y.snn.h5")) + " --binarize nope"),
                  "--binarize nope", work, {work.file("y.snn.h5")});
}

TEST_CASE("a command starts by removing its outputs' stale temporaries, even when it then fails", "[cli][atomic]") {
    TempDir work("stale");
    const std::string report = work.file("r.json"), net = work.file("net.snn.h5");
    for (const char* name : {"r.json.tmp123456", "r.json.tmp7", "r.json.tmpx", "r.json.tmp1234567", "other.tmp123456"})
        std::ofstream(work.file(name)) << "left by a killed run\n";
    const Outcome o = snn_cli("run " + quote(net) + " --data " + quote(work.file("missing.h5")) + " --report " + quote(report));
    CHECK(o.status == 1); // the network does not exist
    CHECK_FALSE(fs::exists(work.file("r.json.tmp123456")));
    CHECK_FALSE(fs::exists(work.file("r.json.tmp7")));
    for (const char* kept : {"r.json.tmpx", "r.json.tmp1234567", "other.tmp123456"}) {
        INFO(kept);
        CHECK(fs::exists(work.file(kept)));
    }
}

TEST_CASE("snn inspect shows a channels-first model's input layout and each bounded ReLU's caps", "[cli][inspect]") {
    TempDir dir("inspect-layout");
    const std::string cf = dir.file("cf.snn.h5"), r6 = dir.file("r6.snn.h5");
    REQUIRE(snn_cli("convert " + quote(std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_cf_keras22.h5") + " -o " +
                    quote(cf)).status == 0);
    const Outcome t = snn_cli("inspect " + quote(cf));
    CHECK_THAT(t.out, Contains("input layout:  channels_first"));
    CHECK(json::parse(snn_cli("inspect " + quote(cf) + " --json").out)["input_layout"] == "channels_first");

    // Model-based normalization (no --calib) gives one λ per population, so every channel's cap is
    // ReLU6's 6 divided by that population's λ (its `scale`); unbounded populations have no caps.
    REQUIRE(snn_cli("convert " + quote(std::string(SNN_SOURCE_DIR) + "/data/models/mnist_mobilenet_relu6.h5") + " -o " +
                    quote(r6)).status == 0);
    const json j = json::parse(snn_cli("inspect " + quote(r6) + " --json").out);
    CHECK(j["input_layout"] == "channels_last");
    int capped = 0;
    for (const json& p : j["populations"]) {
        if (p["name"] == "input_1" || p["name"] == "out") {
            CHECK(p["clip"].is_null());
            continue;
        }
        INFO(p["name"]);
        REQUIRE(p["clip"].size() == p["shape"][2].get<std::size_t>());
        for (const json& c : p["clip"]) CHECK(c.get<double>() == Approx(6.0 / p["scale"].get<double>()).epsilon(1e-6));
        ++capped;
    }
    CHECK(capped == 7);
    CHECK_THAT(snn_cli("inspect " + quote(r6)).out, Contains("bounded ReLU conv_pw_3: cap "));
}
