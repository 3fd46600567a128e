// `snn fit`: the arithmetic of each shipped target (data/targets/*.json) on
// small networks worked by hand, the sinabs documentation's own example, and
// target files that are wrong.
#include "snn/error.hpp"
#include "snn/fit.hpp"
#include "snn/kind.hpp"
#include "snn/network_io.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

using namespace snn;
using namespace snn::test;

namespace {

// A spiking population fed by one projection whose weights have the count its kind asks for.
Population layer(const Network& net, const std::string& name, Shape shape, int source, ProjectionKind kind, Window w = {},
                 bool bias = true) {
    Population pop;
    pop.name = name;
    pop.shape = shape;
    Projection p = projection(source, kind, w, {}, name);
    p.weights.assign(std::size_t(kind_traits(kind).weight_count(p, net.populations[std::size_t(source)].shape, shape)), 0.1f);
    pop.projections.push_back(std::move(p));
    if (bias) pop.bias.assign(std::size_t(shape.c), 0.0f);
    return pop;
}

// input 12x12x2 → conv 3x3 valid, 8 channels (10x10x8) → average pool 2x2 (5x5x8) → dense 10.
Network small() {
    Network net;
    net.populations.push_back(input({12, 12, 2}));
    net.populations.push_back(layer(net, "conv", {10, 10, 8}, 0, ProjectionKind::Conv2D, {3, 3, 1, 1, 0, 0}));
    net.populations.push_back(layer(net, "pool", {5, 5, 8}, 1, ProjectionKind::AvgPool, {2, 2, 2, 2, 0, 0}, false));
    net.populations.push_back(layer(net, "out", {1, 1, 10}, 2, ProjectionKind::Dense));
    return net;
}

bool has(const FitLayer& L, const std::string& resource) {
    for (const auto& v : L.violations)
        if (v.resource == resource) return true;
    return false;
}

std::string write_target(const TempDir& dir, const std::string& name, const std::string& body) {
    const std::string path = dir.file(name);
    std::ofstream(path) << body;
    return path;
}

} // namespace

TEST_CASE("speck: kernel and neuron memory as sinabs counts them, pooling merged, layers matched to cores", "[fit]") {
    const Target speck = load_target("speck");
    REQUIRE(speck.cores.size() == 9);
    const FitReport r = fit(small(), speck);
    REQUIRE(r.layers.size() == 3);
    // conv: c = 2, f = 8, 3x3 kernel → 2·2^(⌈log2 9⌉ + ⌈log2 8⌉) = 2·2^(4+3) = 256;
    // output 10x10 → 8·2^(⌈log2 10⌉ + ⌈log2 10⌉) = 8·2^8 = 2048; bias 8.
    CHECK(r.layers[0].kernel_entries == 256);
    CHECK(r.layers[0].neuron_entries == 2048);
    CHECK(r.layers[0].bias_entries == 8);
    CHECK(r.layers[0].core == 0);
    // pool: folded into conv's core as sum pooling.
    CHECK(r.layers[1].kind == "merged");
    CHECK(r.layers[1].cores == 0);
    CHECK(r.layers[1].violations.empty());
    // dense from 5x5x8: a 5x5 kernel over 8 channels, f = 10 → 8·2^(5+4) = 4096; neurons 10·2^0 = 10.
    CHECK(r.layers[2].kernel_entries == 4096);
    CHECK(r.layers[2].neuron_entries == 10);
    CHECK(r.layers[2].core == 1);
    CHECK(r.cores_needed == 2);
    CHECK(r.cores_available == 9);
    // Float weights and membranes are wider than speck's 8 and 16 bits.
    CHECK(has(r.layers[0], "weight_bits"));
    CHECK(has(r.layers[0], "state_bits"));
    CHECK_FALSE(r.fits);
}

TEST_CASE("speck: the sinabs documentation's layer that cannot be deployed", "[fit]") {
    // docs/speck/overview.md: Conv2d(16 → 32, 3x3, stride 1, padding 1) on 64x64:
    // kernel memory 16·4·4... = 8Ki entries, neuron memory 64·64·32 = 128Ki,
    // more than any core's neuron memory.
    Network net;
    net.populations.push_back(input({64, 64, 16}));
    net.populations.push_back(layer(net, "conv", {64, 64, 32}, 0, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}));
    const FitReport r = fit(net, load_target("speck"));
    CHECK(r.layers[0].kernel_entries == 8 * 1024);
    CHECK(r.layers[0].neuron_entries == 128 * 1024);
    CHECK(r.layers[0].core == -1);
    CHECK(has(r.layers[0], "neuron_memory"));
    CHECK_FALSE(has(r.layers[0], "kernel_memory"));
    CHECK_FALSE(r.fits);
}

TEST_CASE("speck: ten layers for nine cores, kernels past 16x16, max pooling", "[fit]") {
    Network net;
    net.populations.push_back(input({8, 8, 4}));
    for (int i = 0; i < 10; ++i)
        net.populations.push_back(layer(net, "c" + std::to_string(i), {8, 8, 4}, i, ProjectionKind::Conv2D, {3, 3, 1, 1, 1, 1}));
    const FitReport r = fit(net, load_target("speck"));
    CHECK(r.cores_needed == 10);
    for (int i = 0; i < 9; ++i) CHECK(r.layers[std::size_t(i)].core == i);
    CHECK(r.layers[9].core == -1);
    CHECK(has(r.layers[9], "cores"));

    Network big;
    big.populations.push_back(input({20, 20, 1}));
    big.populations.push_back(layer(big, "wide", {3, 3, 4}, 0, ProjectionKind::Conv2D, {18, 18, 1, 1, 0, 0}));
    big.populations.push_back(layer(big, "mp", {1, 1, 4}, 1, ProjectionKind::MaxPool, {3, 3, 3, 3, 0, 0}, false));
    const FitReport b = fit(big, load_target("speck"));
    CHECK(has(b.layers[0], "kernel_size"));
    CHECK(has(b.layers[1], "layer_kind"));
}

TEST_CASE("loihi: cores from neurons and synapse memory, fan-in against input axons", "[fit]") {
    const Target loihi = load_target("loihi");
    const FitReport r = fit(small(), loihi);
    REQUIRE(r.layers.size() == 3);
    // conv: 800 neurons → 1 core; 10·10 outputs × 9 taps × 2 × 8 = 14,400 synapses at 8 bits.
    CHECK(r.layers[0].synapses == 14400);
    CHECK(r.layers[0].synapse_bits == 14400 * 8);
    CHECK(r.layers[0].fan_in == 18);
    CHECK(r.layers[0].cores == 1);
    // pool: 200 neurons, 5·5·8 outputs × 4 taps = 800 synapses; out: 10 neurons, 200 × 10 synapses.
    CHECK(r.layers[1].synapses == 800);
    CHECK(r.layers[2].synapses == 2000);
    CHECK(r.layers[2].fan_in == 200);
    CHECK(r.cores_needed == 3);

    // 2,000 → 1,000 dense: 2,000,000 synapses × 8 bits = 16,000,000 bits over 1 Mbit cores → 16 cores
    // (the neurons alone would need 1); a 5,000-input dense layer exceeds 4,096 input axons.
    Network wide;
    wide.populations.push_back(input({1, 1, 2000}));
    wide.populations.push_back(layer(wide, "h", {1, 1, 1000}, 0, ProjectionKind::Dense));
    wide.populations.push_back(input({1, 1, 5000}));
    wide.populations.back().kind = PopulationKind::Spiking;
    wide.populations.back().name = "h2";
    wide.populations.back().projections.push_back(projection(1, ProjectionKind::Dense, {}, std::vector<float>(1000 * 5000, 0.1f), "h2"));
    wide.populations.push_back(layer(wide, "o", {1, 1, 10}, 2, ProjectionKind::Dense));
    const FitReport w = fit(wide, loihi);
    CHECK(w.layers[0].cores == 16);
    CHECK_FALSE(has(w.layers[0], "fan_in"));
    CHECK(w.layers[2].fan_in == 5000);
    CHECK(has(w.layers[2], "fan_in"));
}

TEST_CASE("spinnaker: 255 neurons per core, the toolchain quantizes, the small network fits", "[fit]") {
    const FitReport r = fit(small(), load_target("spinnaker"));
    // ⌈800/255⌉ = 4, ⌈200/255⌉ = 1, ⌈10/255⌉ = 1.
    CHECK(r.layers[0].cores == 4);
    CHECK(r.layers[1].cores == 1);
    CHECK(r.layers[2].cores == 1);
    CHECK(r.layers[0].synapse_bits == 14400 * 32);
    CHECK(r.cores_needed == 6);
    CHECK(r.cores_available == 768);
    CHECK(r.fits);
    const auto j = to_json(r);
    CHECK(j["fits"] == true);
    CHECK(j["layers"].size() == 3);
    CHECK(j["layers"][0]["violations"].empty());
}

TEST_CASE("a target file of one's own; cores run out at the layer that needs them", "[fit]") {
    TempDir dir;
    const std::string path = write_target(dir, "tiny.json", R"({"name": "tiny", "mapping": "split_neurons",
        "weight_bits": 32, "state_bits": 32, "cores_available": 2, "neurons_per_core": 1000})");
    const Target t = load_target(path);
    CHECK(t.name == "tiny");
    const FitReport r = fit(small(), t);
    CHECK(r.cores_needed == 3);
    CHECK_FALSE(has(r.layers[1], "cores"));
    CHECK(has(r.layers[2], "cores"));
    CHECK_FALSE(r.fits);
}

TEST_CASE("bad target files are refused naming the file and the key", "[fit]") {
    TempDir dir;
    const auto refused = [&](const std::string& body, const std::string& key) {
        const std::string path = write_target(dir, "t.json", body);
        try {
            load_target(path);
            FAIL("accepted: " << body);
        } catch (const Error& e) {
            const std::string what = e.what();
            CHECK(what.find(path) != std::string::npos);
            CHECK(what.find("'" + key + "'") != std::string::npos);
        }
    };
    const std::string ok = R"("name": "x", "mapping": "split_neurons", "weight_bits": 8, "state_bits": 16, "cores_available": 4)";
    refused("{" + ok + "}", "neurons_per_core");
    refused("{" + ok + R"(, "neurons_per_core": 0})", "neurons_per_core");
    refused("{" + ok + R"(, "neurons_per_core": 10, "neuron_per_core": 3})", "neuron_per_core");
    refused("{" + ok + R"(, "neurons_per_core": "many"})", "neurons_per_core");
    refused(R"({"name": "x", "mapping": "grid", "weight_bits": 8, "state_bits": 16})", "mapping");
    refused(R"({"name": "x", "mapping": "layer_per_core", "weight_bits": 8, "state_bits": 16, "cores": []})", "cores");
    CHECK_THROWS_AS(load_target(write_target(dir, "t.json", "{ not json")), FileError);
    CHECK_THROWS_WITH(load_target("no-such-chip"), Catch::Contains("no-such-chip") && Catch::Contains("speck"));
}

TEST_CASE("snn fit: a table or JSON, exit 0 whether or not it fits, exit 1 for bad input", "[fit][cli]") {
    TempDir dir;
    const std::string net = dir.file("small.snn.h5");
    save(small(), net);
    const Outcome json = run_captured(quote(SNN_BINARY) + " fit " + quote(net) + " --target spinnaker --json", dir);
    CHECK(json.status == 0);
    const auto j = nlohmann::json::parse(json.out);
    CHECK(j["target"] == "spinnaker");
    CHECK(j["fits"] == true);
    CHECK(j["cores_needed"] == 6);
    const Outcome table = run_captured(quote(SNN_BINARY) + " fit " + quote(net) + " --target speck", dir);
    CHECK(table.status == 0); // it does not fit, which is an answer, not an error
    CHECK(table.out.find("fits:    no") != std::string::npos);
    CHECK(table.out.find("merged into 'conv' as 2x2 sum pooling") != std::string::npos);
    const Outcome bad = run_captured(quote(SNN_BINARY) + " fit " + quote(net) + " --target nowhere", dir);
    CHECK(bad.status == 1);
    CHECK(bad.err.find("target 'nowhere'") != std::string::npos);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
    const Outcome missing = run_captured(quote(SNN_BINARY) + " fit " + quote(dir.file("none.snn.h5")) + " --target loihi", dir);
    CHECK(missing.status == 1);
}
