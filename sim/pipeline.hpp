#pragma once
// A partitioned network run as a pipeline of devices, each on its own: the
// devices in the order their populations come, device d running only its
// populations (RunOptions::device) and talking to the others by messages
// alone. sim/mpi/ carries the messages between MPI ranks
// (`snn run --distributed pipeline`); simulate_pipeline runs every device in
// one process, one after the other, and is what the tests compare with.
//
// Per sample, device d first takes one message from each cut into it. A
// message carries the sample's spikes of the cut's sources at every step, or
// says that the sample left at an exit upstream: then d runs nothing for it
// and tells the devices downstream the same. Otherwise d runs the sample and
// sends one message on each cut out of it: its sources' spikes, or that the
// sample left at d's own exit. The cut is metered where it arrives, as in a
// single process, and the steps travel coded as the meter prices them
// (sim/cut_codec.hpp): the payload bits sent are the meter's bits. Each device keeps the records of what it ran; the device
// that decided a sample (its exit, or the output) holds its prediction.
// Merged, the records are the single-process run's (tested): the engine's
// plan already runs a device's steps before the next device receives them.
#include "sim/engine.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace snn {

using Message = std::vector<std::uint8_t>;

// The partition's devices in pipeline order. Throws snn::Error where the
// network has no partition, a device's populations are not consecutive, or a
// device reads a later one.
std::vector<std::string> pipeline_devices(const Network& net);

// What one device ran, for every sample of the data set.
struct DeviceRecords {
    SampleRecords samples;                  // zero for samples that left upstream
    std::vector<std::uint8_t> decided;      // per sample: this device gave its prediction
    std::vector<double> bytes_sent, bytes_received; // per cut of the whole network, summed over samples
    std::vector<double> payload_bits;               // per cut: the steps' bits in the messages sent (the meter's `best`)
    // Per sample, where this device decided it: seconds from the first device
    // starting it to this one deciding it (the system clock of each; one
    // machine's, or clocks kept in step).
    std::vector<double> latency;
};

class PipelineDevice {
public:
    // Device `device` (an index into pipeline_devices(net)) of `net`, run with `options`.
    PipelineDevice(const Network& net, const RunOptions& options, std::size_t device);
    const Engine& engine() const { return engine_; }
    const std::string& name() const { return name_; }
    // The cuts into and out of this device (indices into engine().cuts()), ascending.
    const std::vector<std::size_t>& cuts_in() const { return in_; }
    const std::vector<std::size_t>& cuts_out() const { return out_; }
    // Records for samples [0, samples) of a run recording the first `record_samples`.
    DeviceRecords empty_records(std::int64_t samples, std::int64_t record_samples) const;
    // Runs sample i given the messages of cuts_in() (in that order) and returns
    // the messages of cuts_out() (in that order). Counts their bytes in `rec`.
    std::vector<Message> run(const Dataset& data, std::int64_t i, std::span<const Message> in, SampleState& s,
                             DeviceRecords& rec) const;

private:
    Engine engine_;
    std::string name_;
    bool last_ = false;
    std::vector<std::size_t> in_, out_;
};

// Merges the devices' records (in pipeline order) into the run's result;
// `whole` is an engine of the whole network with the run's options.
RunResult merge_devices(const Engine& whole, const Dataset& data, std::vector<DeviceRecords>&& devices,
                        const RunOptions& options);

// Every device in turn in this process, sample by sample, the messages handed
// on in memory: the pipeline's result, for tests and as a reference for runs
// across ranks.
RunResult simulate_pipeline(const Network& net, const Dataset& data, const RunOptions& options);

// The bytes sent per sample and cut: the sample's start time on the first
// device (float64, seconds of its system clock: what the latencies are
// measured from), then the message of sim/cut_codec.hpp (its header, then
// every step coded as the meter prices it, or the exit the sample left at).
constexpr std::size_t envelope_bytes = 8;

} // namespace snn
