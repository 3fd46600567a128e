#pragma once
// The DNN baseline of a partitioned network run as a pipeline of devices
// (`snn run NET --partition … --dnn-pipeline`, across MPI ranks with
// `--distributed pipeline`; docs/distributed.md): the DNN reference pass of
// convert/dnn.hpp (ReLU units in place of spiking neurons, the pass that
// `dnn_accuracy` takes), device d computing its populations' activations and
// sending the activations that cross each cut on to the next device as int8.
//
// Int8 activations: a cut's source population sends its activation tensor
// a (one per input; ReLU, so a ≥ 0) as one float32 scale s = max(a) / 255 and
// one byte per unit, q = min(255, ⌊a / s + 1/2⌋) (a < 0, which a ReLU never
// gives, counts as 0); the receiving device reads q · s. An all-zero tensor
// sends s = 0 and zeros. Per tensor rather than a fixed range: converted
// activations are normalized to about [0, 1], but a percentile
// normalization leaves the largest above 1, and a fixed [0, 1] would clip
// them. Only populations on another device see the quantized copy; the
// device that computed a tensor keeps its float32 values.
//
// dnn_int8_predictions is the same network's pass in one piece, the cuts'
// activations quantized where they are read: the pipeline's predictions
// equal it (tested), as the SNN pipeline's equal the SNN run's.
// An exit on the edge is out of scope: the DNN pipeline runs every input to
// the output.
#include "sim/plan.hpp"
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace snn {

// The scale of a tensor's int8 code: max(a) / 255 (0 where max(a) ≤ 0).
float int8_scale(std::span<const float> a);
// q[u] = min(255, ⌊a[u] / scale + 1/2⌋), 0 where a[u] ≤ 0 or scale is 0.
void quantize_int8(std::span<const float> a, float scale, std::uint8_t* q);
// The tensor as the receiving device reads it: a[u] ← quantize(a[u]) · scale.
void round_trip_int8(std::vector<float>& a);

// The DNN pass over the whole network, each activation crossing a cut
// int8-coded as above where a population on another device reads it.
// Predictions per sample; the same on any number of threads.
std::vector<int> dnn_int8_predictions(const Network& net, const Dataset& data, int threads);

using DnnMessage = std::vector<std::uint8_t>;

// Bytes of one sample's message across cut `c`: the start time (float64,
// as in the SNN pipeline's envelope), the sample index (int64), then per
// source population in the cut's order its scale (float32) and one byte per
// unit; little endian.
std::size_t dnn_message_bytes(const Cut& c, const Network& net);

// What one device of the DNN pipeline measured, for every sample.
struct DnnDeviceRecords {
    std::vector<int> prediction;                    // per sample; −1 where this device did not decide it
    std::vector<double> latency;                    // per sample decided here: seconds from the first device starting it
    std::vector<double> bytes_sent, bytes_received; // per cut, summed over samples
    std::vector<double> payload_bytes;              // per cut: the int8 codes alone (one byte per activation)
};

class DnnPipelineDevice {
public:
    // Device `device` (an index into pipeline_devices(net)) of `net`.
    DnnPipelineDevice(const Network& net, std::size_t device);
    const std::string& name() const { return name_; }
    const std::vector<Cut>& cuts() const { return cuts_; }
    // The cuts into and out of this device (indices into cuts()), ascending.
    const std::vector<std::size_t>& cuts_in() const { return in_; }
    const std::vector<std::size_t>& cuts_out() const { return out_; }
    DnnDeviceRecords empty_records(std::int64_t samples) const;
    // Runs sample i given the messages of cuts_in() (in that order); returns
    // the messages of cuts_out() (in that order) and counts their bytes in `rec`.
    // Throws snn::Error naming the cut for a message of the wrong size or sample.
    std::vector<DnnMessage> run(const Dataset& data, std::int64_t i, std::span<const DnnMessage> in,
                                DnnDeviceRecords& rec) const;

private:
    const Network* net_;
    std::string name_;
    bool last_ = false;
    std::vector<Cut> cuts_;
    std::vector<std::size_t> in_, out_;
    std::vector<std::size_t> populations_; // this device's, in order
};

// The devices' records merged: predictions of the device that decided each
// sample, its latency, the bytes summed per cut.
struct DnnPipelineResult {
    std::vector<int> predictions;
    std::vector<double> latency;
    std::vector<double> bytes_sent, bytes_received, payload_bytes; // per cut, summed over samples
    std::vector<Cut> cuts;
    double seconds = 0;
};
DnnPipelineResult merge_dnn_devices(const Network& net, std::int64_t samples, const std::vector<DnnDeviceRecords>& devices);

// Every device in turn in this process, the messages handed on in memory.
DnnPipelineResult simulate_dnn_pipeline(const Network& net, const Dataset& data);

// The report of `snn run --dnn-pipeline` (docs/distributed.md): accuracy of
// `predictions` against the labels, per cut the int8 codes per input
// (message_payload_bytes) and, from a pipeline's result (`r`, may be null),
// the messages' bytes per input and `distributed` with the latencies.
struct DnnPipelineReportInfo {
    std::string network, data, mode; // mode: empty in one process, else "pipeline"
    int ranks = 1;
    double dnn_accuracy = -1;        // the float32 DNN's, where computed
    double seconds = 0;
};
nlohmann::json dnn_pipeline_report(const Network& net, const Dataset& data, const std::vector<int>& predictions,
                                   const DnnPipelineResult* r, const DnnPipelineReportInfo& info);
// The report as a short table for the terminal.
std::string dnn_pipeline_table(const nlohmann::json& report);

} // namespace snn
