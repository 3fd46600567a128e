// `snn run --diagnose K` and the report's operating point, on the shipped
// MNIST CNN. The diagnosis must find a layer whose λ was deliberately made
// wrong by 10× (both ways), and its figures must agree with closed forms:
// a membrane read out over T steps integrates exactly T times the DNN's
// input current, a rate's error falls with the steps, the confusion matrix
// holds the run's accuracy on its diagonal. The operating point's costs must
// equal those of a run stopped at its step.
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const fs::path models = fs::path(SNN_SOURCE_DIR) / "data" / "models";

// Population `name` with its λ multiplied by f: its rates are divided by f
// and the populations reading it take its spikes f times as strongly, so the
// DNN computes the same function, but the SNN's rates of that population are
// f times too small (f > 1: coarser) or f times too large (f < 1: cut at one
// spike per step).
Network with_scale(Network net, const std::string& name, float f) {
    const int l = net.find(name);
    REQUIRE(l >= 0);
    Population& pop = net.populations[std::size_t(l)];
    pop.scale *= f;
    for (Projection& p : pop.projections)
        for (float& w : p.weights) w /= f;
    for (float& b : pop.bias) b /= f;
    for (Population& reader : net.populations)
        for (Projection& p : reader.projections)
            if (p.source == l)
                for (float& w : p.weights) w *= f;
    return net;
}

const json* layer(const json& diagnosis, const std::string& name) {
    for (const json& l : diagnosis.at("layers"))
        if (l.at("name") == name) return &l;
    return nullptr;
}

} // namespace

TEST_CASE("snn run --diagnose names the layer whose scale is wrong", "[cli][diagnose]") {
    const fs::path model = models / "mnist_cnn.h5";
    REQUIRE(fs::exists(model));
    TempDir work("diagnose");
    const std::string good = work.file("cnn.snn.h5");
    const Outcome c = snn_cli("convert " + quote(model.string()) + " -o " + quote(good) +
                              " --calib mnist:train --calib-samples 300");
    INFO(c.err);
    REQUIRE(c.status == 0);
    const std::string run = " --data mnist:test --limit 40 --steps 32 --diagnose 40 -q --report ";

    const std::string good_report = work.file("good.json");
    REQUIRE(snn_cli("run " + quote(good) + run + quote(good_report)).status == 0);
    const json g = read_report(good_report);
    const json& d = g.at("diagnosis");
    CHECK(d.at("samples") == 40);
    CHECK(d.at("steps") == 32);
    for (const json& l : d.at("layers")) {
        INFO(l.at("name"));
        CHECK(l.at("correlation").get<double>() > 0.99); // a sound conversion
        // The rate's error falls with the steps (roughly as 1/t).
        const json& by_step = l.at("error_by_step");
        CHECK(by_step.back().at("mean_abs_error").get<double>() < by_step.front().at("mean_abs_error").get<double>());
    }
    // The output read as a membrane: v_T − v_0 = T·(W·r + b) exactly, so its local error is rounding only.
    const json& out = d.at("layers").back();
    CHECK(out.at("value") == "membrane");
    CHECK(out.at("local_relative_error").get<double>() < 1e-5);
    // Rows: labels; columns: predictions. The diagonal holds the correct answers.
    double total = 0, diagonal = 0;
    const json& m = d.at("confusion");
    for (std::size_t r = 0; r < m.size(); ++r)
        for (std::size_t k = 0; k < m[r].size(); ++k) {
            total += m[r][k].get<double>();
            if (r == k) diagonal += m[r][k].get<double>();
        }
    CHECK(total == 40);
    CHECK(diagonal / total == Approx(g.at("accuracy").get<double>()));

    const Network net = load(good);
    for (const auto& [name, f] : {std::pair<std::string, float>{"pool1", 0.1f}, {"conv1", 10.0f}}) {
        INFO(name << " with λ × " << f);
        const std::string bad = work.file(name + ".snn.h5"), report = work.file(name + ".json");
        save(with_scale(net, name, f), bad);
        REQUIRE(snn_cli("run " + quote(bad) + run + quote(report)).status == 0);
        const json b = read_report(report);
        CHECK(b.at("diagnosis").at("worst_layer") == name);
        CHECK(g.at("diagnosis").at("worst_layer") != name); // not already the worst before
        if (f < 1) { // rates cut at one spike per step
            CHECK(layer(b.at("diagnosis"), name)->at("saturated_fraction").get<double>() >
                  10 * layer(d, name)->at("saturated_fraction").get<double>());
        }
    }
}

TEST_CASE("the operating point costs what a run stopped at its step costs", "[cli][diagnose]") {
    const fs::path model = models / "mnist_cnn.h5";
    REQUIRE(fs::exists(model));
    TempDir work("operating");
    const std::string net = work.file("cnn.snn.h5");
    REQUIRE(snn_cli("convert " + quote(model.string()) + " -o " + quote(net) +
                    " --calib mnist:train --calib-samples 300")
                .status == 0);
    const std::string args = "run " + quote(net) + " --data mnist:test --limit 100 -q --partition edge:conv1-pool1,cloud:conv2-dense";
    const std::string full = work.file("full.json");
    REQUIRE(snn_cli(args + " --steps 32 --report " + quote(full)).status == 0);
    const json f = read_report(full);
    const json& p = f.at("operating_point");
    REQUIRE(p.is_object());
    const int step = p.at("step");
    // The first checkpoint within the tolerance (0.3 points) of the DNN.
    const double dnn = f.at("dnn_accuracy");
    for (const json& a : f.at("accuracy_by_step")) {
        if (a.at("step").get<int>() == step) CHECK(a.at("accuracy").get<double>() >= dnn - 0.003);
        if (a.at("step").get<int>() < step) CHECK(a.at("accuracy").get<double>() < dnn - 0.003);
    }
    CHECK(step < 32);

    const std::string at_step = work.file("short.json");
    REQUIRE(snn_cli(args + " --steps " + std::to_string(step) + " --report " + quote(at_step)).status == 0);
    const json s = read_report(at_step);
    CHECK(p.at("accuracy") == s.at("accuracy"));
    CHECK(p.at("synaptic_ops_per_sample") == s.at("synaptic_ops_per_sample"));
    CHECK(p.at("spikes_per_sample") == s.at("spikes_per_sample"));
    CHECK(p.at("energy_pj_per_sample") == s.at("energy_pj_per_sample"));
    CHECK(p.at("dnn_energy_pj_per_sample") == s.at("dnn_energy_pj_per_sample"));
    double bytes = 0;
    for (const json& cut : s.at("cuts")) bytes += cut.at("bytes").get<double>();
    CHECK(p.at("cut_bytes_per_sample").get<double>() == Approx(bytes));
    // Fewer steps, less work than the full run.
    CHECK(p.at("synaptic_ops_per_sample").get<double>() < f.at("synaptic_ops_per_sample").get<double>());

    // Without the DNN there is no operating point.
    REQUIRE(snn_cli(args + " --steps 32 --no-dnn --report " + quote(full)).status == 0);
    CHECK(read_report(full).at("operating_point").is_null());
}
