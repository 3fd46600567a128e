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
//   sparse event   the same layer pruned to 50, 20 and 10 % of its synapses
//                  at random, as sparse rows (sim/kinds/sparse_dense.cpp);
//   conv event     the MNIST CNN's conv2 (12×12×16 → 10×10×32, 3×3), scatter;
//   conv gather    the same layer from the spike bits (the dense path);
//   neuron update  the engine's whole step on a population fed only its bias
//                  (integrate, threshold, reset, spike list), 100 000 units.
// Memory bandwidth: one thread reading (sum) and copying 256 MiB arrays,
// best of 5.
//
// Binary layers (issue 4): the same 1024 → 1024 dense layer made binary
// (snn::binarize) through BinaryKernel::accumulate with each popcount
// implementation the CPU has, at the same spike rates as the float event
// kernel, which is timed again beside it; a binary conv layer; the XNOR-Net
// baseline (every input, every call). A binary kernel does work per 64-bit
// word (AND + popcount), so it is also reported in words per second, against
// the popcount ceiling of one core: a tight loop that only popcounts and sums
// a 16 KiB buffer held in L1 (four independent accumulators, so the loop is
// bound by popcount throughput, not by the latency of one add chain), with
// the same instructions the kernel uses (VPOPCNTDQ on 8 words, the AVX2
// nibble table on 4, or the scalar popcnt).
#include "sim/binary_kernels.hpp"
#include "sim/engine.hpp"
#include "sim/kernels.hpp"
#include "snn/binary.hpp"
#include "snn/error.hpp"
#include "snn/sparse.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <span>
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
    // A synaptic event reads one weight: 4 bytes as a float, 1 bit in a binary layer.
    const double bytes = name.find("binary") != std::string::npos ? 1.0 / 8 : 4.0;
    const double us_per_call = secs / double(calls) * 1e6;
    std::printf("%-34s rate %5.1f%%  %12.0f events/call  %8.1f M events/s  %8.2f GB/s of weights read  %9.2f us/call\n",
                name.c_str(), 100 * rate, per_call, eps / 1e6, eps * bytes / 1e9, us_per_call);
    return {{"kernel", name}, {"spike_rate", rate}, {"events_per_call", per_call}, {"events_per_second", eps},
            {"weight_gb_per_second", eps * bytes / 1e9}, {"microseconds_per_call", us_per_call}};
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

// Popcount ceiling: words per second that one core popcounts and sums from L1.
// Not vectorized: with -march=native GCC would turn this loop into VPOPCNTDQ.
__attribute__((optimize("no-tree-vectorize"))) std::uint64_t popcount_scalar_loop(const std::uint64_t* w, std::size_t n,
                                                                                  int reps) {
    std::uint64_t a = 0, b = 0, c = 0, d = 0;
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < n; i += 4) {
            a += std::uint64_t(std::popcount(w[i]));
            b += std::uint64_t(std::popcount(w[i + 1]));
            c += std::uint64_t(std::popcount(w[i + 2]));
            d += std::uint64_t(std::popcount(w[i + 3]));
        }
    return a + b + c + d;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vpopcntdq"))) std::uint64_t popcount_avx512_loop(const std::uint64_t* w,
                                                                                        std::size_t n, int reps) {
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < n; i += 32) {
            a = _mm512_add_epi64(a, _mm512_popcnt_epi64(_mm512_load_si512(w + i)));
            b = _mm512_add_epi64(b, _mm512_popcnt_epi64(_mm512_load_si512(w + i + 8)));
            c = _mm512_add_epi64(c, _mm512_popcnt_epi64(_mm512_load_si512(w + i + 16)));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_load_si512(w + i + 24)));
        }
    return std::uint64_t(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d))));
}

__attribute__((target("avx2"))) inline __m256i popcount_avx2_lanes(__m256i v) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                           2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_and_si256(v, low)),
                                          _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
    return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

__attribute__((target("avx2"))) std::uint64_t popcount_avx2_loop(const std::uint64_t* w, std::size_t n, int reps) {
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < n; i += 16) {
            a = _mm256_add_epi64(a, popcount_avx2_lanes(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + i))));
            b = _mm256_add_epi64(b, popcount_avx2_lanes(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + i + 4))));
            c = _mm256_add_epi64(c, popcount_avx2_lanes(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + i + 8))));
            d = _mm256_add_epi64(d, popcount_avx2_lanes(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + i + 12))));
        }
    alignas(32) std::uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

volatile std::uint64_t sink_u;

double popcount_ceiling(PopcountIsa isa, double budget) {
    const std::size_t n = 2048; // 16 KiB: in L1
    std::vector<std::uint64_t, tbb::cache_aligned_allocator<std::uint64_t>> buf(n);
    std::mt19937_64 rng(5);
    for (auto& x : buf) x = rng();
    const int reps = 64;
    const auto [calls, secs] = repeat(budget, [&] {
        switch (isa) {
#if defined(__x86_64__)
        case PopcountIsa::Avx512: sink_u = popcount_avx512_loop(buf.data(), n, reps); break;
        case PopcountIsa::Avx2: sink_u = popcount_avx2_loop(buf.data(), n, reps); break;
#endif
        default: sink_u = popcount_scalar_loop(buf.data(), n, reps); break;
        }
    });
    return double(n) * reps * double(calls) / secs;
}

// Distinct 64-bit words that a spike list touches (what a dense binary kernel ANDs per output).
std::int64_t spike_words(const std::vector<std::int32_t>& units) {
    std::int64_t words = 0, last = -1;
    for (auto u : units)
        if ((u >> 6) != last) {
            last = u >> 6;
            ++words;
        }
    return words;
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
        // Pruned (docs/pruning.md): the same layer with a random fraction of
        // its synapses kept, as sparse rows (each event a kept synapse; time
        // per call against the dense event kernel above, which adds the zeros).
        for (double kept : {0.5, 0.2, 0.1}) {
            std::bernoulli_distribution keep_one(kept);
            std::vector<std::uint8_t> keep(dense.weights.size());
            for (auto& k : keep) k = keep_one(rng);
            const Projection sparse = sparsify(dense, d_src, d_dst, keep);
            const ProjectionKernel sk(sparse, d_src, d_dst);
            char name[64];
            std::snprintf(name, sizeof name, "sparse 1024→1024 kept %.0f%% event", 100 * kept);
            for (double rate : {0.01, 0.1, 0.3})
                kernels.push_back(time_kernel(name, rate, 1024, 1024, budget, rng, [&](const auto& units, float* cur) {
                    return sk.scatter(sparse, units, nullptr, cur);
                }));
        }
        const Shape c_src{12, 12, 16}, c_dst{10, 10, 32};
        const Window w{3, 3, 1, 1, 0, 0};
        const Projection conv = random_projection(ProjectionKind::Conv2D, c_src, c_dst, w, rng);
        const ProjectionKernel ck(conv, c_src, c_dst);
        std::vector<std::uint64_t> bits(std::size_t(c_src.size() + 63) / 64, 0);
        for (double rate : {0.05, 0.2, 0.5, 0.9}) {
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

        // ------------------------------------------------------------ binary
        nlohmann::json binary = nlohmann::json::array(), ceilings = nlohmann::json::object();
        std::vector<PopcountIsa> isas;
        for (auto isa : {PopcountIsa::Scalar, PopcountIsa::Avx2, PopcountIsa::Avx512})
            if (popcount_isa_supported(isa)) isas.push_back(isa);
        std::printf("\npopcount ceiling (one core, 16 KiB in L1, popcount + add only):\n");
        for (auto isa : isas) {
            const double wps = popcount_ceiling(isa, budget);
            ceilings[to_string(isa)] = wps;
            std::printf("  %-8s %10.1f M words/s (%.1f G bits/s)\n", to_string(isa), wps / 1e6, wps * 64 / 1e9);
        }
        out["popcount_ceiling_words_per_second"] = ceilings;
        Projection bdense = dense;
        binarize(bdense, d_src, d_dst, "bench");
        const BinaryKernel bk(bdense, d_src, d_dst);
        std::vector<std::uint64_t> scratch(bk.scratch_words(), 0);
        std::printf("\n");
        for (double rate : {0.1, 0.3}) {
            // The float event kernel on the same layer at the same rate, timed in this run.
            const auto f = time_kernel("dense 1024→1024 float event", rate, 1024, 1024, budget, rng,
                                       [&](const auto& units, float* cur) { return dk.scatter(dense, units, nullptr, cur); });
            const double float_eps = f["events_per_second"].get<double>();
            for (auto isa : isas) {
                double words = 0, events = 0; // over every call, the untimed first one included
                auto r = time_kernel(std::string("dense 1024→1024 binary ") + to_string(isa), rate, 1024, 1024, budget, rng,
                                     [&](const auto& units, float* cur) {
                                         const std::int64_t ev = bk.accumulate(units, scratch.data(), cur, isa);
                                         words += double(spike_words(units)) * 1024;
                                         events += double(ev);
                                         return ev;
                                     });
                const double eps = r["events_per_second"].get<double>();
                const double wps = eps * words / events; // AND + popcount words per second
                const double ceiling = ceilings[to_string(isa)].get<double>();
                r["isa"] = to_string(isa);
                r["words_per_second"] = wps;
                r["popcount_ceiling_words_per_second"] = ceiling;
                r["of_ceiling"] = wps / ceiling;
                r["float_event_per_second"] = float_eps;
                r["vs_float_event"] = eps / float_eps;
                binary.push_back(r);
                std::printf("    %.1fx the float event kernel's events/s; %.1f M words/s = %.0f%% of the %s popcount ceiling\n",
                            eps / float_eps, wps / 1e6, 100 * wps / ceiling, to_string(isa));
            }
            // Batches of 8 spike lists (8 time steps or 8 samples) per pass over the weights.
            if (popcount_isa_supported(PopcountIsa::Avx512)) {
                std::vector<std::vector<std::int32_t>> lists;
                for (int k = 0; k < 16; ++k) lists.push_back(random_units(1024, rate, rng));
                std::vector<std::vector<float>> currents(8, std::vector<float>(1024, 0.0f));
                std::vector<float*> ptrs;
                for (auto& c : currents) ptrs.push_back(c.data());
                // Two batches of 8 lists, and the words each ANDs (every word any list of the
                // batch spiked in, for each list of the batch, × 1024 outputs), prepared untimed.
                std::vector<std::vector<std::span<const std::int32_t>>> batches(2);
                double batch_words[2] = {0, 0};
                for (int b = 0; b < 2; ++b) {
                    std::vector<std::uint8_t> any(16, 0);
                    for (int k = 0; k < 8; ++k) {
                        batches[std::size_t(b)].emplace_back(lists[std::size_t(8 * b + k)]);
                        for (auto u : lists[std::size_t(8 * b + k)]) any[std::size_t(u >> 6)] = 1;
                    }
                    batch_words[b] = double(std::count(any.begin(), any.end(), 1)) * 8 * 1024;
                }
                double events = 0, words = 0;
                std::size_t next = 0;
                const auto [calls, secs] = repeat(budget, [&] {
                    events += double(bk.accumulate_batch(batches[next], scratch.data(), ptrs.data(), PopcountIsa::Avx512));
                    words += batch_words[next];
                    next ^= 1;
                });
                sink_f = currents[0][0];
                const double eps = events / double(calls + 1) * double(calls) / secs;
                const double wps = words / double(calls + 1) * double(calls) / secs;
                const double ceiling = ceilings["avx512"].get<double>();
                std::printf("%-34s rate %5.1f%%  %12.0f events/list  %8.1f M events/s\n", "dense 1024→1024 binary avx512 ×8",
                            100 * rate, events / double(calls + 1) / 8, eps / 1e6);
                std::printf("    %.1fx the float event kernel's events/s; %.1f M words/s = %.0f%% of the avx512 popcount ceiling\n",
                            eps / float_eps, wps / 1e6, 100 * wps / ceiling);
                binary.push_back({{"kernel", "dense 1024→1024 binary batch of 8"}, {"isa", "avx512"}, {"spike_rate", rate},
                                  {"events_per_second", eps}, {"words_per_second", wps},
                                  {"popcount_ceiling_words_per_second", ceiling}, {"of_ceiling", wps / ceiling},
                                  {"float_event_per_second", float_eps}, {"vs_float_event", eps / float_eps}});
            }
        }
        // A binary conv layer (the shipped binary CNN's conv2: 12x12x16 -> 10x10x64, 3x3) beside its float version.
        {
            const Shape bs{12, 12, 16}, bd{10, 10, 64};
            const Projection fconv = random_projection(ProjectionKind::Conv2D, bs, bd, w, rng);
            const ProjectionKernel fk(fconv, bs, bd);
            Projection bconv = fconv;
            binarize(bconv, bs, bd, "bench");
            const BinaryKernel cb(bconv, bs, bd);
            std::vector<std::uint64_t> cscratch(cb.scratch_words(), 0);
            for (double rate : {0.05, 0.2}) {
                const auto f = time_kernel("conv 12x12x16→10x10x64 float event", rate, bs.size(), bd.size(), budget, rng,
                                           [&](const auto& units, float* cur) { return fk.scatter(fconv, units, nullptr, cur); });
                for (auto isa : isas) {
                    auto r = time_kernel(std::string("conv 12x12x16→10x10x64 binary ") + to_string(isa), rate, bs.size(),
                                         bd.size(), budget, rng, [&](const auto& units, float* cur) {
                                             return cb.accumulate(units, cscratch.data(), cur, isa);
                                         });
                    r["isa"] = to_string(isa);
                    r["vs_float_event"] = r["events_per_second"].get<double>() / f["events_per_second"].get<double>();
                    std::printf("    %.1fx the float event kernel's events/s\n", r["vs_float_event"].get<double>());
                    binary.push_back(r);
                }
            }
        }
        // The XNOR-Net baseline on the dense layer: every input, every call.
        {
            std::vector<std::uint64_t> act(16);
            std::mt19937_64 bits_rng(9);
            for (auto& a : act) a = bits_rng();
            std::vector<float> o(1024);
            for (auto isa : isas) {
                const auto [calls, secs] = repeat(budget, [&] { bk.xnor(act.data(), o.data(), isa); });
                sink_f = o[0];
                const double ops = 1024.0 * 1024.0 * double(calls) / secs;
                std::printf("%-34s %8.1f G binary ops/s (%.1f M words/s)\n",
                            (std::string("xnor dense 1024→1024 ") + to_string(isa)).c_str(), ops / 1e9, ops / 64 / 1e6);
                binary.push_back({{"kernel", "xnor dense 1024→1024"}, {"isa", to_string(isa)}, {"binary_ops_per_second", ops},
                                  {"words_per_second", ops / 64}});
            }
        }
        out["binary"] = binary;
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
