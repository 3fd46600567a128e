// snn_bench_samples: the time of one sample through the engine, for comparing
// two builds of it on a machine whose speed drifts.
//
//   build/snn_bench_samples NET [--data mnist:test] [--images 100] [--repeats 5] [--steps 64]
//                               [--encode current|poisson] [--no-step-batches]
//
// On a shared 2-core VM the images/s of whole `snn run`s moved by ±25 % from
// one run to the next, more than most engine changes are worth. Here every
// image runs `--repeats` times in a row on one thread and the fastest of its
// runs counts (a delay from outside only ever adds time); the sum over the
// images, per image, is printed. Run two builds alternately, several rounds,
// and compare their best rounds: repeats of the same build agreed within
// about 2 % where whole runs differed by 25 %.
//
// It measures the engine alone, on the images it has just seen (caches
// warm): a figure for A/B comparisons, not the benchmark's images/s
// (tools/bench/bench.py runs `snn run` on the whole test set for that).
#include "sim/engine.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

int main(int argc, char** argv) {
    CLI::App app{"Fastest of several runs of each image through the engine, per image (for A/B comparisons of builds)"};
    std::string network, data = "mnist:test";
    std::int64_t images = 100;
    int repeats = 5, steps = 64;
    std::string encode = "current";
    bool step_by_step = false;
    app.add_option("network", network, "Network (.snn.h5)")->required();
    app.add_option("--data", data, "Data set (as snn run --data)");
    app.add_option("--images", images, "Images, from the first")->check(CLI::PositiveNumber);
    app.add_option("--repeats", repeats, "Runs of each image; the fastest counts")->check(CLI::PositiveNumber);
    app.add_option("--steps", steps, "Time steps")->check(CLI::PositiveNumber);
    app.add_option("--encode", encode, "Input encoding (as snn run --encode)");
    app.add_flag("--no-step-batches", step_by_step, "Run step by step (as snn run --no-step-batches)");
    CLI11_PARSE(app, argc, argv);
    try {
        const snn::Network net = snn::load(network);
        const snn::Dataset set = snn::load_dataset(data, images);
        snn::RunOptions opt;
        opt.steps = steps;
        opt.threads = 1;
        opt.encode = snn::encoding_from(encode);
        opt.step_batches = !step_by_step;
        opt.layer_by_layer = !step_by_step;
        const snn::Engine engine(net, opt);
        snn::SampleState state;
        engine.init(state);
        double total = 0;
        for (std::int64_t i = 0; i < set.size(); ++i) {
            double best = std::numeric_limits<double>::infinity();
            for (int r = 0; r < repeats; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                engine.run_sample(set.sample(i), i, state, nullptr);
                best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
            total += best;
        }
        std::printf("%.2f us per image (fastest of %d runs each, %lld images, %d steps, %s) = %.1f images/s\n",
                    total / double(set.size()) * 1e6, repeats, static_cast<long long>(set.size()), steps,
                    engine.layer_by_layer() ? "layer by layer" : "step by step", double(set.size()) / total);
    } catch (const snn::Error& e) {
        std::fprintf(stderr, "snn_bench_samples: %s\n", e.what());
        return 1;
    }
    return 0;
}
