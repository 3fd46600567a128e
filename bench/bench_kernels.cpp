// Micro-benchmarks of the engine's kernels (issue 3, part 5), next to the
// machine's memory bandwidth measured on the spot.
//
//   build/snn_bench_kernels [--json FILE] [--seconds S]
//
// A synaptic event is one weight added to one target current (what the
// kernels return and `snn run` counts as a synaptic operation). Each kernel is
// timed on one thread, repeating until --seconds (default 0.5) have passed,
// on random weights and random spike lists at fixed rates:
//   dense event    1024 → 1024 (4 MiB of weights), ProjectionKernel::scatter
//                  and the plain reference snn::scatter;
//   conv event     the MNIST CNN's conv2 (12×12×16 → 10×10×32, 3×3), scatter;
//   conv gather    the same layer from the spike bits (the dense path);
//   neuron update  the engine's whole step on a population fed only its bias
//                  (integrate, threshold, reset, spike list), 100 000 units.
// Memory bandwidth: one thread reading (sum) and copying 256 MiB arrays,
// best of 5.
#include "sim/engine.hpp"
#include "sim/kernels.hpp"
#include "snn/error.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <iostream>
#include <random>
#include <vector>

using namespace snn;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Calls f() until `budget` seconds passed; returns (calls, seconds).
template <class F>
std::pair<std::int64_t, double> repeat(double budget, F&& f) {
    f(); // warm caches and pages
    std::int64_t calls = 0;
    const auto t0 = Clock::now();
    double t = 0;
    do {
        f();
        ++calls;
        t = seconds_since(t0);
    } while (t < budget);
    return {calls, t};
}

volatile float sink_f;
volatile double sink_d;

nlohmann::json memory_bandwidth() {
    const std::size_t n = std::size_t(64) << 20; // 64 Mi floats = 256 MiB per array
    std::vector<float> a(n, 1.0f), b(n, 2.0f);
    double best_read = 0, best_copy = 0;
    for (int r = 0; r < 5; ++r) {
        auto t0 = Clock::now();
        double s = 0;
        for (std::size_t i = 0; i < n; i += 8) {
            float part = 0;
            for (std::size_t k = 0; k < 8; ++k) part += a[i + k];
            s += part;
        }
        sink_d = s;
        best_read = std::max(best_read, double(n * sizeof(float)) / seconds_since(t0) / 1e9);
        t0 = Clock::now();
        std::memcpy(b.data(), a.data(), n * sizeof(float));
        sink_f = b[n / 2];
        best_copy = std::max(best_copy, 2.0 * double(n * sizeof(float)) / seconds_since(t0) / 1e9);
    }
    return {{"read_gb_per_s", best_read}, {"copy_gb_per_s", best_copy}, {"array_mib", n * sizeof(float) >> 20}};
}

std::vector<std::int32_t> random_units(std::int64_t n, double rate, std::mt19937& rng) {
    std::bernoulli_distribution spike(rate);
    std::vector<std::int32_t> units;
    for (std::int32_t u = 0; u < n; ++u)
        if (spike(rng)) units.push_back(u);
    return units;
}

Projection random_projection(ProjectionKind kind, const Shape& src, const Shape& dst, Window w, std::mt19937& rng) {
    Projection p;
    p.source = 0;
    p.kind = kind;
    p.window = w;
    std::normal_distribution<float> normal(0.0f, 0.05f);
    const auto n = expected_weight_count(p, src, dst);
    p.weights.resize(std::size_t(n));
    for (float& x : p.weights) x = normal(rng);
    return p;
}

// Rows of `units` lists (one per step, 16 different draws) pushed through `kernel_call`.
template <class F>
nlohmann::json time_kernel(const std::string& name, double rate, std::int64_t n_src, std::int64_t n_dst, double budget,
                           std::mt19937& rng, F&& kernel_call) {
    std::vector<std::vector<std::int32_t>> lists;
    for (int k = 0; k < 16; ++k) lists.push_back(random_units(n_src, rate, rng));
    std::vector<float> current(std::size_t(n_dst), 0.0f);
    std::int64_t events = 0;
    std::size_t next = 0;
    const auto [calls, secs] = repeat(budget, [&] {
        events += kernel_call(lists[next], current.data());
        next = (next + 1) % lists.size();
    });
    sink_f = current[0];
    // The first (warm-up) call's events are not timed.
    const double per_call = double(events) / double(calls + 1);
    const double eps = per_call * double(calls) / secs;
    std::printf("%-34s rate %5.1f%%  %12.0f events/call  %8.1f M events/s  %8.2f GB/s of weights read\n", name.c_str(),
                100 * rate, per_call, eps / 1e6, eps * 4 / 1e9);
    return {{"kernel", name}, {"spike_rate", rate}, {"events_per_call", per_call}, {"events_per_second", eps},
            {"weight_gb_per_second", eps * 4 / 1e9}};
}

nlohmann::json neuron_update(double budget) {
    const int n = 100000, steps = 64;
    Network net;
    Population in;
    in.name = "input";
    in.kind = PopulationKind::Input;
    in.shape = Shape{1, 1, 1};
    net.populations.push_back(in);
    Population pop;
    pop.name = "units";
    pop.shape = Shape{1, 1, n};
    pop.bias.assign(std::size_t(n), 0.0f);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 0.2f); // about 10 % of the units spike per step
    for (float& b : pop.bias) b = u(rng);
    Projection p;
    p.source = 0;
    p.kind = ProjectionKind::Dense;
    p.weights.assign(std::size_t(n), 0.0f);
    pop.projections.push_back(p);
    net.populations.push_back(pop);
    RunOptions o;
    o.steps = steps;
    o.encode = Encoding::Current;
    const Engine engine(net, o);
    SampleState s;
    engine.init(s);
    const float x = 0.0f;
    std::int64_t sample = 0;
    const auto [calls, secs] = repeat(budget, [&] { engine.run_sample(&x, sample++, s, nullptr); });
    const double ups = double(n) * steps * double(calls) / secs;
    std::printf("%-34s %d units × %d steps          %8.1f M updates/s\n", "neuron update (engine step)", n, steps,
                ups / 1e6);
    return {{"kernel", "neuron update"}, {"units", n}, {"steps", steps}, {"updates_per_second", ups}};
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Micro-benchmarks of snn's kernels (one thread) and the memory bandwidth"};
    std::string json_path;
    double budget = 0.5;
    app.add_option("--json", json_path, "Also write the results as JSON");
    app.add_option("--seconds", budget, "Time per measurement")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (!(budget > 0)) {
        std::fprintf(stderr, "snn_bench_kernels: --seconds must be positive\n");
        return 1;
    }
    try {
        nlohmann::json out;
        std::mt19937 rng(1);
        std::printf("memory bandwidth (one thread): ");
        std::fflush(stdout);
        out["memory"] = memory_bandwidth();
        std::printf("read %.1f GB/s, copy %.1f GB/s\n", out["memory"]["read_gb_per_s"].get<double>(),
                    out["memory"]["copy_gb_per_s"].get<double>());
        nlohmann::json kernels = nlohmann::json::array();

        const Shape d_src{1, 1, 1024}, d_dst{1, 1, 1024};
        const Projection dense = random_projection(ProjectionKind::Dense, d_src, d_dst, {}, rng);
        const ProjectionKernel dk(dense, d_src, d_dst);
        for (double rate : {0.01, 0.1, 0.3}) {
            kernels.push_back(time_kernel("dense 1024→1024 event", rate, 1024, 1024, budget, rng,
                                          [&](const auto& units, float* cur) { return dk.scatter(dense, units, nullptr, cur); }));
            kernels.push_back(time_kernel("dense 1024→1024 reference scatter", rate, 1024, 1024, budget, rng,
                                          [&](const auto& units, float* cur) {
                                              return scatter(dense, d_src, d_dst, units, nullptr, cur);
                                          }));
        }
        const Shape c_src{12, 12, 16}, c_dst{10, 10, 32};
        const Window w{3, 3, 1, 1, 0, 0};
        const Projection conv = random_projection(ProjectionKind::Conv2D, c_src, c_dst, w, rng);
        const ProjectionKernel ck(conv, c_src, c_dst);
        std::vector<std::uint64_t> bits(std::size_t(c_src.size() + 63) / 64, 0);
        for (double rate : {0.05, 0.2, 0.5}) {
            kernels.push_back(time_kernel("conv 12x12x16→10x10x32 event", rate, c_src.size(), c_dst.size(), budget, rng,
                                          [&](const auto& units, float* cur) { return ck.scatter(conv, units, nullptr, cur); }));
            kernels.push_back(time_kernel("conv 12x12x16→10x10x32 gather", rate, c_src.size(), c_dst.size(), budget, rng,
                                          [&](const auto& units, float* cur) {
                                              set_spike_bits(units, bits.data());
                                              const auto ops = ck.gather(conv, bits.data(), cur);
                                              clear_spike_bits(units, bits.data());
                                              return ops;
                                          }));
        }
        kernels.push_back(neuron_update(budget));
        out["kernels"] = kernels;
        if (!json_path.empty()) {
            const std::string tmp = json_path + ".tmp";
            std::ofstream(tmp) << out.dump(2) << "\n";
            std::filesystem::rename(tmp, json_path);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "snn_bench_kernels: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
