// Shares of the samples run apart and merged in sample order give the whole
// run's result (run_samples, append, merge in sim/engine.hpp): what a
// data-parallel run across MPI ranks (sim/mpi/) relies on.
#include "sim/cut_loss.hpp"
#include "sim/engine.hpp"
#include "sim/place.hpp"
#include "snn/error.hpp"
#include "tests/sim/same_run.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

using namespace snn;
using snn::test::check_same_run;
using snn::test::input;
using snn::test::projection;

namespace {

// input (6) → A (5) on the edge → B (3) in the cloud, dense, with weights of
// both signs so that some units fire often, some rarely and some never.
Network two_devices() {
    Network net;
    net.populations.push_back(input({1, 1, 6}));
    std::vector<float> wa, wb;
    for (int i = 0; i < 6 * 5; ++i) wa.push_back(0.15f * float((i * 7) % 11) - 0.5f);
    for (int i = 0; i < 5 * 3; ++i) wb.push_back(0.2f * float((i * 5) % 9) - 0.6f);
    for (auto [name, n, src, w] : {std::tuple{"A", 5, 0, wa}, std::tuple{"B", 3, 1, wb}}) {
        Population p;
        p.name = name;
        p.shape = {1, 1, n};
        p.projections = {projection(src, ProjectionKind::Dense, {}, w, name)};
        net.populations.push_back(std::move(p));
    }
    net.devices = parse_partition(net, "edge:A,cloud:B");
    return net;
}

Dataset samples(int n) {
    Dataset d;
    d.name = "split";
    d.shape = {1, 1, 6};
    for (int s = 0; s < n; ++s) {
        for (int j = 0; j < 6; ++j) d.x.push_back(float((s * 3 + j * 5) % 10) / 10.0f);
        d.y.push_back(s % 3);
    }
    return d;
}


} // namespace

TEST_CASE("samples run in shares and merged in sample order give the whole run's result", "[engine][distributed]") {
    const Network net = two_devices();
    const Dataset data = samples(13);
    for (const char* encode : {"current", "poisson"}) {
        RunOptions opt;
        opt.steps = 12;
        opt.encode = encoding_from(encode);
        opt.cut_loss = cut_loss_from("0.2"); // keyed draws: by each sample's index in the whole data set
        opt.record_samples = 6;              // a record that spans the first two shares
        const RunResult whole = simulate(net, data, opt);
        REQUIRE(whole.recorded.size() > 0);
        REQUIRE(whole.cut_lost.at(0) > 0);
        Engine engine(net, opt);
        SampleRecords all = run_samples(engine, data, 0, 4, opt);
        opt.threads = 2;
        append(all, run_samples(engine, data, 4, 9, opt));
        opt.threads = 1;
        append(all, run_samples(engine, data, 9, 13, opt));
        INFO("encode " << encode);
        check_same_run(whole, merge(engine, data, all, opt));
    }
}

TEST_CASE("records join only where one share ends and the next begins", "[engine][distributed]") {
    const Network net = two_devices();
    const Dataset data = samples(6);
    RunOptions opt;
    opt.steps = 4;
    Engine engine(net, opt);
    SampleRecords a = run_samples(engine, data, 0, 2, opt);
    CHECK_THROWS_AS(append(a, run_samples(engine, data, 3, 6, opt)), Error);
    CHECK_THROWS_AS(run_samples(engine, data, 4, 7, opt), Error); // past the data set
    CHECK_THROWS_AS(merge(engine, data, a, opt), Error);          // not every sample
}
