#include "sim/mpi/dnn_pipeline.hpp"

#include "sim/mpi/distributed.hpp"
#include "sim/mpi/poll.hpp"
#include "sim/mpi/stop_notice.hpp"
#include "sim/pipeline.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace snn::mpi {

namespace {

// Sums `v` over the ranks onto rank 0, polling (every rank holds the same length).
template <class T> void sum_to_rank0(std::vector<T>& v, MPI_Datatype type, MPI_Comm comm, double timeout, int rank) {
    std::vector<T> total(rank == 0 ? v.size() : 0);
    MPI_Request request;
    MPI_Ireduce(v.data(), total.data(), int(v.size()), type, MPI_SUM, 0, comm, &request);
    wait_until_done(request, timeout, [&] { return "rank " + std::to_string(rank) + " waited for the other ranks to end the run"; });
    if (rank == 0) v = std::move(total);
}

} // namespace

std::optional<DnnPipelineResult> simulate_dnn_pipeline(const Network& net, const Dataset& data, MPI_Comm comm, double timeout) {
    const auto start = std::chrono::steady_clock::now();
    int rank = 0, ranks = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    const std::vector<std::string> devices = pipeline_devices(net);
    if (std::size_t(ranks) != devices.size())
        throw Error("--distributed pipeline runs one rank per device: the partition has " + std::to_string(devices.size()) +
                    " devices but mpirun started " + std::to_string(ranks) + " ranks");
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() + " but the network's input is " +
                    net.input().shape.str());
    const auto rank_of_device = [&](const std::string& d) {
        return int(std::find(devices.begin(), devices.end(), d) - devices.begin());
    };
    const DnnPipelineDevice device(net, std::size_t(rank));
    const auto& cuts = device.cuts();
    std::vector<std::string> neighbours;
    for (const auto& c : cuts) neighbours.push_back(c.from == device.name() ? c.to : c.to == device.name() ? c.from : "");
    const StopNotice notice(rank, running_text(devices, device.name(), neighbours));
    DnnDeviceRecords rec = device.empty_records(data.size());
    struct Sent {
        MPI_Request request;
        DnnMessage bytes;
        int to;
    };
    std::deque<Sent> in_flight;
    const std::size_t ahead = 4 * std::max<std::size_t>(device.cuts_out().size(), 1);
    const auto not_taken = [&](const Sent& m, std::int64_t i) {
        return [&, i, to = m.to] {
            return "rank " + std::to_string(rank) + " (device '" + device.name() + "'): its messages up to sample " +
                   std::to_string(i) + " were not taken by rank " + std::to_string(to) + " (device '" + devices[std::size_t(to)] + "')";
        };
    };
    for (std::int64_t i = 0; i < data.size(); ++i) {
        std::vector<DnnMessage> in;
        for (std::size_t c : device.cuts_in()) {
            // Tags: the cut's index (MPI keeps the order of one sender's messages of one tag).
            const int from = rank_of_device(cuts[c].from);
            const auto what = [&] {
                return "rank " + std::to_string(rank) + " (device '" + device.name() + "') got no message from rank " +
                       std::to_string(from) + " (device '" + cuts[c].from + "') about sample " + std::to_string(i);
            };
            MPI_Status status;
            poll_until(
                [&] {
                    int flag = 0;
                    MPI_Iprobe(from, int(c), comm, &flag, &status);
                    return flag != 0;
                },
                timeout, what);
            int count = 0;
            MPI_Get_count(&status, MPI_BYTE, &count);
            DnnMessage m(static_cast<std::size_t>(count));
            MPI_Request request;
            MPI_Irecv(m.data(), count, MPI_BYTE, from, int(c), comm, &request);
            wait_until_done(request, timeout, what);
            in.push_back(std::move(m));
        }
        std::vector<DnnMessage> out = device.run(data, i, in, rec);
        for (std::size_t k = 0; k < out.size(); ++k) {
            const std::size_t c = device.cuts_out()[k];
            in_flight.push_back({MPI_REQUEST_NULL, std::move(out[k]), rank_of_device(cuts[c].to)});
            Sent& m = in_flight.back();
            MPI_Isend(m.bytes.data(), int(m.bytes.size()), MPI_BYTE, m.to, int(c), comm, &m.request);
        }
        while (in_flight.size() > ahead) {
            wait_until_done(in_flight.front().request, timeout, not_taken(in_flight.front(), i));
            in_flight.pop_front();
        }
    }
    for (Sent& m : in_flight) wait_until_done(m.request, timeout, not_taken(m, data.size() - 1));

    // Rank 0 gathers: every sample is decided on the last device (−1 elsewhere,
    // so the sum of prediction + 1 is the decider's), its latency there (0 elsewhere).
    std::vector<int> decided(rec.prediction.size());
    std::transform(rec.prediction.begin(), rec.prediction.end(), decided.begin(), [](int p) { return p + 1; });
    sum_to_rank0(decided, MPI_INT, comm, timeout, rank);
    sum_to_rank0(rec.latency, MPI_DOUBLE, comm, timeout, rank);
    sum_to_rank0(rec.bytes_sent, MPI_DOUBLE, comm, timeout, rank);
    sum_to_rank0(rec.bytes_received, MPI_DOUBLE, comm, timeout, rank);
    sum_to_rank0(rec.payload_bytes, MPI_DOUBLE, comm, timeout, rank);
    if (rank != 0) return std::nullopt;
    std::transform(decided.begin(), decided.end(), rec.prediction.begin(), [](int p) { return p - 1; });
    DnnPipelineResult r = merge_dnn_devices(net, data.size(), {rec});
    r.seconds = seconds_since(start);
    return r;
}

} // namespace snn::mpi
