#include "sim/mpi/distributed.hpp"

#include "sim/mpi/stop_notice.hpp"
#include "sim/mpi/poll.hpp"
#include "sim/pipeline.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <deque>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

namespace snn::mpi {

namespace {

int rank_of(MPI_Comm comm) {
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}
int size_of(MPI_Comm comm) {
    int n = 0;
    MPI_Comm_size(comm, &n);
    return n;
}

// Every rank's `local` entries on rank 0, one vector per rank (empty elsewhere).
template <class T> std::vector<std::vector<T>> gather(const std::vector<T>& local, MPI_Comm comm) {
    static_assert(std::is_trivially_copyable_v<T>);
    const int rank = rank_of(comm), ranks = size_of(comm);
    long long bytes = static_cast<long long>(local.size() * sizeof(T));
    std::vector<long long> sizes(rank == 0 ? std::size_t(ranks) : 0);
    MPI_Gather(&bytes, 1, MPI_LONG_LONG, sizes.data(), 1, MPI_LONG_LONG, 0, comm);
    std::vector<int> counts, offsets;
    std::vector<T> flat;
    if (rank == 0) {
        long long total = 0;
        for (long long b : sizes) {
            counts.push_back(int(b));
            offsets.push_back(int(total));
            total += b;
        }
        // MPI counts are ints: a gather of 2 GiB or more would need splitting.
        if (total > INT_MAX) throw Error("the ranks' records (" + std::to_string(total) + " bytes) exceed one MPI message of 2 GiB");
        flat.resize(std::size_t(total) / sizeof(T));
    }
    MPI_Gatherv(local.data(), int(bytes), MPI_BYTE, flat.data(), counts.data(), offsets.data(), MPI_BYTE, 0, comm);
    std::vector<std::vector<T>> parts;
    if (rank == 0)
        for (int r = 0; r < ranks; ++r) {
            const auto first = flat.begin() + offsets[std::size_t(r)] / std::ptrdiff_t(sizeof(T));
            parts.emplace_back(first, first + counts[std::size_t(r)] / std::ptrdiff_t(sizeof(T)));
        }
    return parts;
}

// Every rank's records on rank 0, in rank order (empty elsewhere).
std::vector<SampleRecords> gather_records(const SampleRecords& own, MPI_Comm comm) {
    std::vector<SampleRecords> parts(rank_of(comm) == 0 ? std::size_t(size_of(comm)) : 0);
    const auto field = [&](auto member) {
        auto gathered = gather(own.*member, comm);
        for (std::size_t r = 0; r < parts.size(); ++r) parts[r].*member = std::move(gathered[r]);
    };
    field(&SampleRecords::predictions_at);
    field(&SampleRecords::spikes);
    field(&SampleRecords::ops);
    field(&SampleRecords::updates);
    field(&SampleRecords::in_macs);
    field(&SampleRecords::bin_ops);
    field(&SampleRecords::exit_taken);
    field(&SampleRecords::exit_step);
    field(&SampleRecords::prediction);
    field(&SampleRecords::exit_adds);
    field(&SampleRecords::exit_macs);
    field(&SampleRecords::cut_bits);
    field(&SampleRecords::cut_spikes);
    field(&SampleRecords::cut_lost);
    field(&SampleRecords::cut_used);
    const auto range = gather(std::vector<std::int64_t>{own.begin, own.end}, comm);
    const auto seconds = gather(std::vector<double>{own.seconds}, comm);
    // Recorded spikes: how many each recorded sample has, then all of them.
    std::vector<std::int64_t> sizes;
    std::vector<Spike> flat;
    for (const auto& spikes : own.recorded) {
        sizes.push_back(std::int64_t(spikes.size()));
        flat.insert(flat.end(), spikes.begin(), spikes.end());
    }
    const auto all_sizes = gather(sizes, comm);
    const auto all_flat = gather(flat, comm);
    for (std::size_t r = 0; r < parts.size(); ++r) {
        parts[r].begin = range[r][0];
        parts[r].end = range[r][1];
        parts[r].seconds = seconds[r][0];
        std::size_t at = 0;
        for (std::int64_t k : all_sizes[r]) {
            const auto first = all_flat[r].begin() + std::ptrdiff_t(at);
            parts[r].recorded.emplace_back(first, first + std::ptrdiff_t(k));
            at += std::size_t(k);
        }
    }
    return parts;
}

// `to`: the ranks and devices the messages go to.
std::string sent_what(const std::string& device, std::int64_t sample, const std::string& to) {
    return "device '" + device + "': its messages up to sample " + std::to_string(sample) + " were not taken by " + to;
}

} // namespace

SampleShare share_of(std::int64_t samples, int rank, int ranks) {
    return {samples * rank / ranks, samples * (rank + 1) / ranks};
}

std::optional<RunResult> simulate_data_parallel(const Network& net, const Dataset& data, const RunOptions& opt,
                                                MPI_Comm comm) {
    const auto start = std::chrono::steady_clock::now();
    const Engine engine(net, opt);
    const SampleShare share = share_of(data.size(), rank_of(comm), size_of(comm));
    std::vector<SampleRecords> parts = gather_records(run_samples(engine, data, share.first, share.last, opt), comm);
    if (parts.empty()) return std::nullopt; // not rank 0
    // The records in rank order are the records in sample order.
    SampleRecords all = std::move(parts[0]);
    for (std::size_t r = 1; r < parts.size(); ++r) append(all, std::move(parts[r]));
    all.seconds = seconds_since(start);
    return merge(engine, data, all, opt);
}

std::optional<RunResult> simulate_pipeline(const Network& net, const Dataset& data, const RunOptions& opt, MPI_Comm comm,
                                           double timeout) {
    const auto start = std::chrono::steady_clock::now();
    const int rank = rank_of(comm), ranks = size_of(comm);
    const std::vector<std::string> devices = pipeline_devices(net);
    if (std::size_t(ranks) != devices.size())
        throw Error("--distributed pipeline runs one rank per device: the partition has " + std::to_string(devices.size()) +
                    " devices but mpirun started " + std::to_string(ranks) + " ranks");
    const auto rank_of_device = [&](const std::string& d) {
        return int(std::find(devices.begin(), devices.end(), d) - devices.begin());
    };
    check_run(net, data, opt);
    const PipelineDevice device(net, opt, std::size_t(rank));
    const auto& cuts = device.engine().cuts();
    std::vector<std::string> neighbours;
    for (const auto& c : cuts) neighbours.push_back(c.from == device.name() ? c.to : c.to == device.name() ? c.from : "");
    const StopNotice notice(rank, running_text(devices, device.name(), neighbours));
    DeviceRecords rec = device.empty_records(data.size(), opt.record_samples);
    SampleState s;
    device.engine().init(s);
    // Messages in flight: a device goes on with the next samples while the
    // next device takes the earlier ones, at most `ahead` samples' messages ahead.
    struct Sent {
        MPI_Request request;
        Message bytes;
    };
    std::deque<Sent> in_flight;
    const int T = opt.steps, windows = (T + device.window() - 1) / device.window();
    const std::size_t ahead = 4 * std::max<std::size_t>(device.cuts_out().size(), 1) * std::size_t(windows);
    std::string receivers;
    for (std::size_t c : device.cuts_out())
        receivers += (receivers.empty() ? "rank " : " or rank ") + std::to_string(rank_of_device(cuts[c].to)) + " (device '" +
                     cuts[c].to + "')";
    for (std::int64_t i = 0; i < data.size(); ++i) {
        DeviceSample at = device.begin(data, i, s);
        while (!at.done()) {
            std::vector<Message> taken(device.cuts_in().size());
            std::vector<const Message*> in(taken.size(), nullptr);
            for (std::size_t k = 0; k < taken.size(); ++k) {
                if (!at.in_open[k]) continue;
                const std::size_t c = device.cuts_in()[k];
                // One message per window, sample and cut, in that order (MPI keeps the order of one sender's messages of one tag).
                const int from = rank_of_device(cuts[c].from);
                const MPI_Status status = wait_for_message(from, int(c), comm, timeout, [&] {
                    return "device '" + device.name() + "' got no message from rank " + std::to_string(from) + " (device '" +
                           cuts[c].from + "') about sample " + std::to_string(i);
                });
                int count = 0;
                MPI_Get_count(&status, MPI_BYTE, &count);
                Message& m = taken[k];
                m.resize(static_cast<std::size_t>(count));
                // A large message arrives only as its sender goes on: receive it polling too.
                MPI_Request request;
                MPI_Irecv(m.data(), count, MPI_BYTE, status.MPI_SOURCE, int(c), comm, &request);
                wait_until_done(request, timeout, [&] {
                    return "device '" + device.name() + "' got only part of a message from rank " + std::to_string(from) +
                           " (device '" + cuts[c].from + "') about sample " + std::to_string(i);
                });
                in[k] = &m;
            }
            std::vector<std::optional<Message>> out = device.next(in, at, s, rec);
            for (std::size_t k = 0; k < out.size(); ++k) {
                if (!out[k]) continue;
                const std::size_t c = device.cuts_out()[k];
                in_flight.push_back({MPI_REQUEST_NULL, std::move(*out[k])});
                Sent& m = in_flight.back();
                MPI_Isend(m.bytes.data(), int(m.bytes.size()), MPI_BYTE, rank_of_device(cuts[c].to), int(c), comm, &m.request);
            }
            while (in_flight.size() > ahead) {
                wait_until_done(in_flight.front().request, timeout, [&] { return sent_what(device.name(), i, receivers); });
                in_flight.pop_front();
            }
        }
        if (opt.progress) opt.progress(i + 1, data.size(), seconds_since(start)); // rank 0 alone is given one
    }
    for (Sent& m : in_flight)
        wait_until_done(m.request, timeout, [&] { return sent_what(device.name(), data.size(), receivers); });
    rec.samples.seconds = seconds_since(start);

    // Rank 0 gathers every device's records.
    std::vector<SampleRecords> samples = gather_records(rec.samples, comm);
    const auto decided = gather(rec.decided, comm);
    const auto sent = gather(rec.bytes_sent, comm), received = gather(rec.bytes_received, comm);
    const auto latency = gather(rec.latency, comm), payload = gather(rec.payload_bits, comm);
    if (rank != 0) return std::nullopt;
    std::vector<DeviceRecords> all(devices.size());
    for (std::size_t d = 0; d < all.size(); ++d) {
        all[d].samples = std::move(samples[d]);
        all[d].decided = decided[d];
        all[d].bytes_sent = sent[d];
        all[d].bytes_received = received[d];
        all[d].latency = latency[d];
        all[d].payload_bits = payload[d];
    }
    RunResult r = merge_devices(device.engine(), data, std::move(all), opt);
    r.seconds = seconds_since(start);
    return r;
}

Session::Session() {
    int provided = 0;
    // One thread calls MPI (the main one); the engine's threads never do.
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw Error("MPI could not start (MPI_Init_thread failed)");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks_);
}

Session::~Session() { MPI_Finalize(); }

int lowest_failing_rank(bool failed, MPI_Comm comm) {
    int mine = failed ? rank_of(comm) : INT_MAX, lowest = INT_MAX;
    MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm);
    return lowest == INT_MAX ? -1 : lowest;
}

} // namespace snn::mpi
