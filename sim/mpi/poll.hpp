#pragma once
// Waiting on MPI without blocking for ever: the pipelines (sim/mpi/distributed.cpp,
// sim/mpi/dnn_pipeline.cpp) poll instead of blocking in MPI_Probe or MPI_Wait,
// which would wait for ever on a rank that is gone or a link that stays down.
// After `timeout` seconds without progress a wait throws a TimeoutError saying
// what it waited for; short sleeps between polls leave the cores to the ranks
// that compute. What a rank waits for is also the line it prints if mpirun
// stops it meanwhile (sim/mpi/stop_notice.hpp).
#include "sim/mpi/distributed.hpp" // TimeoutError
#include "sim/mpi/stop_notice.hpp"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace snn::mpi {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Calls `poll` until it returns true; `what()` says what is awaited.
template <class Poll, class What> void poll_until(Poll poll, double timeout, What what) {
    const auto start = std::chrono::steady_clock::now();
    StopNotice::waiting(what());
    for (int tries = 0; !poll(); ++tries) {
        if (seconds_since(start) > timeout) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " for %g s (--timeout)", timeout);
            throw TimeoutError(what() + buf);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(tries < 100 ? 20 : 500));
    }
    StopNotice::done();
}

// Waits for a message from `source` with `tag` (MPI_Iprobe); returns its status.
template <class What> MPI_Status wait_for_message(int source, int tag, MPI_Comm comm, double timeout, What what) {
    MPI_Status status;
    poll_until(
        [&] {
            int flag = 0;
            MPI_Iprobe(source, tag, comm, &flag, &status);
            return flag != 0;
        },
        timeout, what);
    return status;
}

// Waits for a non-blocking send, receive or collective to complete (MPI_Test).
template <class What> void wait_until_done(MPI_Request& request, double timeout, What what) {
    poll_until(
        [&] {
            int flag = 0;
            MPI_Test(&request, &flag, MPI_STATUS_IGNORE);
            return flag != 0;
        },
        timeout, what);
}

} // namespace snn::mpi
