#pragma once
// Runs across MPI ranks (`mpirun -np K snn run … --distributed data|pipeline`; built
// with -DSNN_WITH_MPI=ON, docs/distributed.md).
//
// Data parallel: the ranks share the samples out in contiguous ranges of
// nearly equal size (rank r gets [n·r/K, n·(r+1)/K)), each runs its own on
// its threads, and rank 0 gathers every sample's records and merges them in
// sample order. Each sample keeps its index in the whole data set, so its
// random draws are those of a single-process run, and the sums are taken in
// the same order: rank 0's result equals simulate()'s on the same data.
#include "sim/engine.hpp"
#include "snn/error.hpp"

#include <mpi.h>

#include <optional>
#include <string>

namespace snn::mpi {

// The samples rank `rank` of `ranks` runs: [first, last).
struct SampleShare {
    std::int64_t first = 0, last = 0;
};
SampleShare share_of(std::int64_t samples, int rank, int ranks);

// The run's result on rank 0 of `comm`; nothing on the other ranks. Every
// rank must hold the same network, data and options.
std::optional<RunResult> simulate_data_parallel(const Network& net, const Dataset& data, const RunOptions& options,
                                                MPI_Comm comm);

// Pipeline: rank r runs device r of the partition (sim/pipeline.hpp), one
// rank per device, sample after sample and window after window
// (RunOptions::window): it receives a window's messages from the devices
// upstream, runs the window, and sends its own on without waiting for them to
// be taken (a few samples ahead at most), so the devices work on different
// samples, or different windows of one, at once. Rank 0 gathers the devices' records and merges
// them; its result equals simulate()'s, with the bytes each cut's messages
// took as counted by the sender and by the receiver.
// A rank that waits `timeout` seconds for a message (or for its own to be
// taken) throws TimeoutError: the rank upstream is gone or the link is down.
std::optional<RunResult> simulate_pipeline(const Network& net, const Dataset& data, const RunOptions& options,
                                           MPI_Comm comm, double timeout);

// A pipeline rank waited longer than its timeout.
struct TimeoutError : Error {
    using Error::Error;
};

// MPI from MPI_Init to MPI_Finalize, for one command. MPI is started only
// for a distributed run, so a plain `snn run` never needs mpirun.
class Session {
public:
    Session();
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    int rank() const { return rank_; }
    int ranks() const { return ranks_; }

private:
    int rank_ = 0, ranks_ = 1;
};

// At a point every rank of `comm` reaches: the lowest rank that failed
// (`failed`), or −1 when none did. Lets the ranks stop together, with one
// message, instead of leaving the others waiting for one that gave up.
int lowest_failing_rank(bool failed, MPI_Comm comm);

} // namespace snn::mpi
