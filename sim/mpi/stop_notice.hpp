#pragma once
// The one line a pipeline rank prints when mpirun stops it.
//
// When a rank dies, OpenMPI's mpirun (4.1) ends the whole job at once: it
// sends every other rank SIGTERM within about a second of the death, long
// before a --timeout could expire. (`mpirun --enable-recovery`
// lets the others run on to their --timeout, but mpirun then exits 0 whatever
// the ranks return, so a script could not tell the run failed: measured,
// docs/distributed.md.) So a pipeline rank answers SIGTERM with one line on
// stderr saying what it was doing, naming the rank it waited for or talks
// with, and exits 1 at once, writing nothing more: e.g.
//   snn: error: rank 1: stopped by mpirun while it waited: device 'cloud' got no message from rank 0 (device 'edge') about sample 12
// With `mpirun -q` that line is all the job prints; mpirun exits non-zero.
//
// The handler may run on any thread at any moment, so it only writes a line
// composed beforehand (two buffers, the one in use named by an atomic index)
// and calls _exit: a signal handler's state is necessarily the process's, and
// one pipeline runs per process.
#include <string>
#include <vector>

namespace snn::mpi {

class StopNotice {
public:
    // Installs the SIGTERM handler; `running` is the line's text while the rank computes.
    StopNotice(int rank, const std::string& running);
    ~StopNotice(); // restores the handler that was there before
    StopNotice(const StopNotice&) = delete;
    StopNotice& operator=(const StopNotice&) = delete;
    // From now on the line says the rank waited for `what` (until done()).
    static void waiting(const std::string& what);
    // Back to the running text.
    static void done();
};

// The running text for the rank of device `device` (of `devices`, one rank each
// in that order), naming the ranks of the devices it exchanges messages with.
std::string running_text(const std::vector<std::string>& devices, const std::string& device,
                         const std::vector<std::string>& neighbours);

} // namespace snn::mpi
