// Loads a converted network, runs it on an HDF5 data file and prints its
// accuracy, with the options `snn run` takes by default:
//   example NET.snn.h5 DATA.h5
#include "sim/engine.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s NET.snn.h5 DATA.h5\n", argv[0]);
        return 2;
    }
    try {
        const snn::Network net = snn::load(argv[1]);
        const snn::Dataset data = snn::load_dataset(argv[2]);
        snn::RunOptions options;
        // A learned layer states the steps and Poisson rate it was made for.
        if (net.steps > 0) options.steps = net.steps;
        if (net.max_rate > 0) options.max_rate = net.max_rate;
        options.threads = int(std::max(1u, std::thread::hardware_concurrency()));
        const snn::RunResult r = snn::simulate(net, data, options);
        const long long correct = r.correct_at.back();
        std::printf("accuracy %.2f%% (%lld of %lld samples correct, %d steps)\n",
                    100.0 * double(correct) / double(r.samples), correct, (long long)r.samples, options.steps);
        return 0;
    } catch (const snn::Error& e) {
        std::fprintf(stderr, "example: error: %s\n", e.what());
        return 1;
    }
}
