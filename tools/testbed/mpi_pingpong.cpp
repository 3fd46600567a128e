// MPI ping-pong between rank 0 and rank 1: round-trip latency and
// throughput of the link between them (tools/testbed.sh builds and runs it).
//
//   mpi_pingpong [--reps R] [--bytes B] [--rounds K]
//
// Latency: R round trips of an 8-byte message, after one to open the
// connection; prints the median, min and max. Throughput: K times, rank 0
// sends B bytes and rank 1 answers with 8 bytes once they are all in; the
// median time of one such exchange, less the median small round trip (the
// latency it contains), gives the rate. Each rank also names the network
// namespace it runs in (the name under /run/netns, as `ip netns identify`).
#include <mpi.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

std::string netns_name() {
    struct stat self {};
    if (stat("/proc/self/ns/net", &self) != 0) return "?";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
        struct stat s {};
        if (stat(e.path().c_str(), &s) == 0 && s.st_ino == self.st_ino && s.st_dev == self.st_dev)
            return e.path().filename().string();
    }
    return "(none)";
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One exchange: rank 0 sends `bytes`, rank 1 answers with 8. Returns the
// seconds it took on rank 0.
double exchange(int rank, std::vector<char>& buf, int bytes) {
    char ack[8] = {};
    const double t0 = MPI_Wtime();
    if (rank == 0) {
        MPI_Send(buf.data(), bytes, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(ack, 8, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
        MPI_Recv(buf.data(), bytes, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(ack, 8, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
    }
    return MPI_Wtime() - t0;
}

} // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = 20, bytes = 262144, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const int v = std::atoi(argv[i + 1]);
        if (a == "--reps") reps = v;
        else if (a == "--bytes") bytes = v;
        else if (a == "--rounds") rounds = v;
        else {
            if (rank == 0) std::fprintf(stderr, "mpi_pingpong: unknown option %s\n", a.c_str());
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (size < 2 || reps < 1 || bytes < 8 || rounds < 1) {
        if (rank == 0) std::fprintf(stderr, "mpi_pingpong: needs 2 ranks, --reps ≥ 1, --bytes ≥ 8, --rounds ≥ 1\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    // Where each rank runs, printed by rank 0 in rank order.
    char ns[64] = {};
    std::snprintf(ns, sizeof ns, "%s", netns_name().c_str());
    std::vector<char> all(std::size_t(size) * sizeof ns);
    MPI_Gather(ns, sizeof ns, MPI_CHAR, all.data(), sizeof ns, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0)
        for (int r = 0; r < size; ++r) std::printf("rank %d in network namespace %s\n", r, &all[std::size_t(r) * sizeof ns]);

    std::vector<char> buf(std::size_t(bytes), 'x');
    exchange(rank, buf, 8); // opens the TCP connection
    std::vector<double> rtt, big;
    for (int i = 0; i < reps; ++i) rtt.push_back(exchange(rank, buf, 8));
    exchange(rank, buf, bytes); // past TCP's slow start
    for (int i = 0; i < rounds; ++i) big.push_back(exchange(rank, buf, bytes));
    if (rank == 0) {
        const double rtt_s = median(rtt), big_s = median(big);
        std::printf("round trip (8 bytes): median %.3f ms, min %.3f ms, max %.3f ms over %d\n", 1e3 * rtt_s,
                    1e3 * *std::min_element(rtt.begin(), rtt.end()), 1e3 * *std::max_element(rtt.begin(), rtt.end()), reps);
        std::printf("throughput rank 0 -> 1: %.3f Mbit/s (%d bytes in a median %.3f s, less one round trip; %d rounds)\n",
                    8e-6 * bytes / std::max(big_s - rtt_s, 1e-9), bytes, big_s, rounds);
    }
    MPI_Finalize();
}
