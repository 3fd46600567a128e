// Config files (sim/cli/config.hpp) as a user writes them: `--dump-config`
// prints a file that `--config` reads back into the same run; keys are the
// flags' names, sections name commands, the command line wins; a bad key or
// value gets one line naming the file, the line and the key.

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
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

const fs::path fixtures = fs::path(SNN_SOURCE_DIR) / "data" / "fixtures";

// The tiny network and its data (tests/support.hpp), and config files beside them.
struct Setup {
    TempDir work{"config"};
    std::string net = work.file("tiny.snn.h5"), data = work.file("data.h5");
    Setup() { tiny_network_and_data(net, data); }
    std::string write(const std::string& name, const std::string& text) {
        const std::string p = work.file(name);
        std::ofstream(p) << text;
        return p;
    }
};

// The report without what differs from run to run (wall-clock time).
json timeless(json j) {
    j.erase("seconds");
    j.erase("samples_per_second");
    return j;
}

// Exit code 1 and exactly one line on stderr holding every fact.
void check_one_line(const Outcome& o, const std::vector<std::string>& facts) {
    INFO("stderr: " << o.err);
    CHECK(o.status == 1);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    for (const auto& f : facts) CHECK_THAT(o.err, Contains(f));
}

} // namespace

TEST_CASE("snn run --dump-config prints a file that --config reads back into the same run", "[cli][config]") {
    Setup s;
    const std::string args = "run " + quote(s.net) + " --data " + quote(s.data) +
                             " --steps 8 --encode poisson --max-rate 0.8 --seed 5 --limit 15 --threads 1 -q";
    const std::string direct = s.work.file("direct.json"), unused = s.work.file("unused.json");
    REQUIRE(snn_cli(args + " --report " + quote(direct)).status == 0);

    const Outcome dump = snn_cli(args + " --report " + quote(unused) + " --dump-config");
    INFO(dump.err);
    REQUIRE(dump.status == 0);
    CHECK_FALSE(fs::exists(unused)); // it ran nothing
    CHECK_THAT(dump.out, Contains("steps = 8\n"));
    CHECK_THAT(dump.out, Contains("encode = \"poisson\"\n"));
    CHECK_THAT(dump.out, Contains("network = \"" + s.net + "\"\n"));
    CHECK_THAT(dump.out, Contains("quiet = true\n"));
    CHECK_THAT(dump.out, Contains("# readout (no default)\n")); // not set: a comment
    CHECK_THAT(dump.out, Contains("# kernels = \"auto\"\n"));

    const std::string config = s.write("run.toml", dump.out);
    const std::string via_config = s.work.file("via_config.json");
    const Outcome again = snn_cli("run --config " + quote(config) + " --report " + quote(via_config));
    INFO(again.err);
    REQUIRE(again.status == 0);
    CHECK(timeless(read_report(via_config)) == timeless(read_report(direct)));
}

TEST_CASE("config files: sections name commands, INI or TOML, the command line wins", "[cli][config]") {
    Setup s;
    const std::string report = s.work.file("r.json");
    const std::string toml = s.write("both.toml", "# options of two commands\n"
                                                  "network = \"" + s.net + "\"\n"
                                                  "data = '" + s.data + "'   # the samples\n"
                                                  "\n[convert]\n"
                                                  "calib-samples = 30\n"
                                                  "[run]\n"
                                                  "steps = 4\n"
                                                  "limit = 10\n"
                                                  "no-dnn = true\n"
                                                  "quiet = true\n");
    REQUIRE(snn_cli("run --config " + quote(toml) + " --report " + quote(report)).status == 0);
    json j = read_report(report);
    CHECK(j.at("steps") == 4);
    CHECK(j.at("samples") == 10);
    CHECK(j.at("dnn_accuracy").is_null());

    REQUIRE(snn_cli("run --config " + quote(toml) + " --steps 2 --report " + quote(report)).status == 0);
    CHECK(read_report(report).at("steps") == 2);

    const std::string ini = s.write("run.ini", "; an INI file\n[run]\nnetwork=" + s.net + "\ndata=" + s.data +
                                                   "\nsteps=3\nlimit=5\nquiet\n");
    REQUIRE(snn_cli("run --config " + quote(ini) + " --report " + quote(report)).status == 0);
    j = read_report(report);
    CHECK(j.at("steps") == 3);
    CHECK(j.at("samples") == 5);

    // Another command reads the same kind of file: snn convert with its output from the file.
    const std::string out = s.work.file("from_config.snn.h5");
    const std::string conv = s.write("convert.toml", "[convert]\nmodel = \"" +
                                                         (fixtures / "tiny_keras3_sequential.h5").string() +
                                                         "\"\noutput = \"" + out + "\"\nv-th = 2.0\n");
    const Outcome c = snn_cli("convert --config " + quote(conv));
    INFO(c.err);
    REQUIRE(c.status == 0);
    CHECK(fs::exists(out));
    CHECK_THAT(snn_cli("inspect " + quote(out)).out, Contains("v_th=2"));
}

TEST_CASE("a bad key or value in a config file gets one line naming the file, the line and the key", "[cli][config]") {
    Setup s;
    const std::string report = s.work.file("r.json");
    const std::string head = "network = \"" + s.net + "\"\ndata = \"" + s.data + "\"\n";
    const auto run = [&](const std::string& config) {
        return snn_cli("run --config " + quote(config) + " -q --report " + quote(report));
    };
    SECTION("an unknown key") {
        const std::string f = s.write("typo.toml", head + "stepz = 8\n");
        check_one_line(run(f), {f + ":3:", "'stepz'", "snn run"});
    }
    SECTION("a value that is not a number") {
        const std::string f = s.write("word.toml", head + "\nsteps = \"many\"\n");
        check_one_line(run(f), {f + ":4:", "'steps'", "many"});
    }
    SECTION("a value out of range") {
        const std::string f = s.write("zero.toml", head + "steps = 0\n");
        check_one_line(run(f), {f + ":3: key 'steps'", "--steps must be at least 1"});
    }
    SECTION("a value the command does not know") {
        const std::string f = s.write("enc.toml", "# comment\n" + head + "encode = \"morse\"\n");
        check_one_line(run(f), {f + ":4: key 'encode'", "morse"});
    }
    SECTION("a section that is no command") {
        const std::string f = s.write("section.toml", head + "[rnu]\nsteps = 8\n");
        check_one_line(run(f), {f + ":3:", "[rnu]"});
    }
    SECTION("a missing file") {
        const std::string f = s.work.file("missing.toml");
        check_one_line(run(f), {f, "cannot read"});
    }
    CHECK_FALSE(fs::exists(report));
}
