#pragma once
// A partitioned network run as a pipeline of devices, each on its own: the
// devices in the order their populations come, device d running only its
// populations (RunOptions::device) and talking to the others by messages
// alone. sim/mpi/ carries the messages between MPI ranks
// (`snn run --distributed pipeline`); simulate_pipeline runs every device in
// one process, one after the other, and is what the tests compare with.
//
// A sample goes through the devices in windows of W steps
// (RunOptions::window; 0: the whole run). For each window [t0, t0 + W),
// device d takes one message from each cut into it, runs its stages over
// those steps (the neurons' state carries over from window to window), and
// sends one message on each cut out of it: its sources' spikes at those
// steps, coded as the meter prices them (sim/cut_codec.hpp). So the next
// device starts on a sample after W steps of it, not after all of them.
//
// Exits: an exit that fires stops the sample on its device, which tells the
// devices downstream in a message with no steps (the sample left at an exit);
// they drop what they ran of it and stop, and go on reading the messages of
// the sample that still come on their other cuts. The device whose exit
// fired keeps running its stages before the exit's to the end (an exit
// further up may fire later and take the sample; it decides only when none
// can). The cut is metered where it arrives, as in a single process. Each
// device keeps the records of what it ran; the device that decided a sample
// (its exit, or the output) holds its prediction. Merged, the records are
// the single-process run's for every W (tested): the work a device dropped
// is work the single-process run never does. The messages themselves are
// what was sent: with an exit upstream and W below the run, the windows sent
// before the sample left add payload the meter (which prices the run in one
// piece) does not count.
#include "sim/engine.hpp"

#include <cstdint>
#include <optional>
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

// Where one sample stands on one device, between its windows.
struct DeviceSample {
    std::int64_t sample = -1;
    int t0 = 0, steps = 0;                       // the next window starts at t0; the run has `steps`
    std::vector<std::uint8_t> in_open, out_open; // per cut in / out: messages of this sample still to come / to send
    bool left_upstream = false;                  // it left at an exit upstream: this device drops what it ran
    bool decided = false;                        // this device gave its prediction
    double started = 0;                          // when the first device started it (that device's clock)
    // Nothing more to run, receive or send for this sample.
    bool done() const;
};

class PipelineDevice {
public:
    // Device `device` (an index into pipeline_devices(net)) of `net`, run with `options`.
    PipelineDevice(const Network& net, const RunOptions& options, std::size_t device);
    const Engine& engine() const { return engine_; }
    const std::string& name() const { return name_; }
    // The steps per window: RunOptions::window, or the whole run.
    int window() const { return window_; }
    // The cuts into and out of this device (indices into engine().cuts()), ascending.
    const std::vector<std::size_t>& cuts_in() const { return in_; }
    const std::vector<std::size_t>& cuts_out() const { return out_; }
    // Records for samples [0, samples) of a run recording the first `record_samples`.
    DeviceRecords empty_records(std::int64_t samples, std::int64_t record_samples) const;
    // Starts sample i (from rest).
    DeviceSample begin(const Dataset& data, std::int64_t i, SampleState& s) const;
    // Runs the sample's next window given one message for each cut into this
    // device (cuts_in() order) that is still open, null for those that are
    // not, and returns one for each cut out of it still open when the window
    // started (none for the others). Counts their bytes in `rec`, and stores
    // the sample's records there once it is done.
    std::vector<std::optional<Message>> next(std::span<const Message* const> in, DeviceSample& d, SampleState& s,
                                             DeviceRecords& rec) const;

private:
    Engine engine_;
    std::string name_;
    bool last_ = false;
    int window_ = 0;
    int first_exit_population_ = -1; // the earliest population an exit reads (−1: no exit)
    std::vector<std::size_t> in_, out_;
};

// Merges the devices' records (in pipeline order) into the run's result;
// `whole` is an engine of the whole network with the run's options.
RunResult merge_devices(const Engine& whole, const Dataset& data, std::vector<DeviceRecords>&& devices,
                        const RunOptions& options);

// Every device in turn in this process, sample by sample and window by window,
// the messages handed on in memory: the pipeline's result, for tests and as a reference for runs
// across ranks.
RunResult simulate_pipeline(const Network& net, const Dataset& data, const RunOptions& options);

// The bytes sent per sample and cut: the sample's start time on the first
// device (float64, seconds of its system clock: what the latencies are
// measured from), then the message of sim/cut_codec.hpp (its header, then
// every step coded as the meter prices it, or the exit the sample left at).
constexpr std::size_t envelope_bytes = 8;

} // namespace snn
