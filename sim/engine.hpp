#pragma once
// The time-stepped sparse event engine.
//
// Each step, populations are visited in order. A spiking population starts
// from its constant current (bias, plus with `current` encoding the analog
// input projected once per sample), adds the synapses of every source unit
// that spiked in this same step (no synaptic delay), then its neurons
// integrate, fire and reset:
// Every sample starts with v = v_init·v_th (0 by default).
//   IF:  v ← v + I;             if v ≥ v_th: spike, v ← v − v_th (or 0)
//   LIF: v ← v·exp(−1/τ) + I;   same threshold and reset
// A max-pooling gate passes, for each window, the spike of the input unit
// with the highest spike count so far (counts include this step; ties go to
// the first unit in the window).
//
// Samples run in parallel, each with its own state; every random draw comes
// from a counter-based stream keyed by (seed, sample, layer, step), so results
// do not depend on the number of threads.
#include "sim/binary_kernels.hpp"
#include "sim/encode.hpp"
#include "sim/kernels.hpp"
#include "sim/quant_kernels.hpp"
#include "sim/layerwise.hpp"
#include "sim/options.hpp"
#include "sim/plan.hpp"
#include "sim/traffic.hpp"
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <oneapi/tbb/cache_aligned_allocator.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace snn {

// Checkpoint steps: the powers of two below `steps`, and `steps`.
std::vector<int> checkpoint_steps(int steps);

// One recorded spike: which sample, population, unit and step (0-based).
struct Spike {
    std::int32_t sample, population, neuron, step;
    std::int32_t sign; // +1, or −1 for a negative spike
};

// Float arrays that start on a cache line: the kernels add 16-float rows into
// `current`, and a row that straddles two lines costs two accesses.
using AlignedFloats = std::vector<float, tbb::cache_aligned_allocator<float>>;

// The per-sample state of every population, reused from sample to sample.
struct SampleState {
    std::vector<std::vector<float>> v;
    std::vector<AlignedFloats> current, constant;
    std::vector<std::vector<std::int32_t>> counts, spikes;
    std::vector<std::vector<std::int32_t>> last_spike; // per population: step of each unit's last spike (−1: none);
                                                       // kept only for the sources of max-pooling gates
    std::vector<std::vector<std::int32_t>> fired;
    std::vector<std::vector<std::int32_t>> fired_units;    // per population: scratch for the spike list (n + 16 entries)
    std::vector<std::vector<std::uint64_t>> spike_bits;    // per population: this step's spikes as bits, kept all zero between uses
    std::vector<std::vector<std::uint16_t>> fire_masks;    // per population: this step's spikes as 16-unit masks
    std::vector<std::uint8_t> masks_valid;                 // per population: 1 if the AVX-512 neuron update wrote them this step
    std::vector<std::vector<std::int32_t>> negative; // per population: units that took a spike back this step
    std::vector<std::vector<float>> synapse;         // per population with a synaptic current: I per unit (else empty)
    std::vector<float> minus_ones;                   // scatter values of negative spikes
    std::vector<std::int32_t> input_units;
    std::vector<float> input_values;
    FrameSteps frames;           // this sample's frames (frames encoding)
    bool frame_spikes = false;   // every entry of them is 1: plain spikes
    std::vector<std::int64_t> spike_total, synaptic_ops; // per population, this sample
    std::vector<std::int64_t> binary_ops;                // per population: the part of synaptic_ops on binary projections
    QuantScratch quant_scratch;                          // for QuantDenseKernel::accumulate
    std::vector<std::uint64_t> binary_scratch;           // for BinaryKernel::accumulate, kept all zero between uses
    std::vector<AlignedFloats> binary_steps;             // per batched projection: its input at every step (steps × units)
    std::vector<int> prediction_at;                      // per checkpoint
    // Exits and segments (see Engine::run_sample).
    std::vector<std::vector<std::int32_t>> history, history_negative; // per population: spikes of every step
    std::vector<std::vector<std::int32_t>> history_at, history_negative_at; // per population: T+1 offsets
    std::vector<std::vector<float>> exit_score;        // per exit: Σ classifier rows of the spikes so far
    std::vector<double> logits;                        // scratch
    std::vector<std::int32_t> addresses;               // scratch for the cut meter
    std::vector<SourceStep> source_steps;              // scratch for the cut meter: one per source of a cut
    std::vector<std::int64_t> neuron_updates;          // per population, this sample
    std::vector<std::int64_t> input_macs;              // per population: analog input × weight (current encoding)
    std::vector<std::int64_t> exit_adds, exit_macs;    // per exit, this sample
    std::vector<CutBits> cut_bits;                     // per cut, this sample
    std::vector<std::int64_t> cut_spikes;              // per cut, this sample
    std::vector<std::uint8_t> cut_used;                // per cut: did this sample's spikes cross it
    std::vector<std::int64_t> cut_lost;                // per cut, this sample: spikes lost on the way (--cut-loss)
    std::vector<std::vector<std::uint8_t>> cut_lost_steps; // per cut: 1 at the steps whose message is lost (burst loss)
    std::vector<std::int32_t> delivered;               // scratch: a source's spikes that crossed a lossy cut
    // Layer by layer (sim/layerwise.hpp): per population its spikes at every
    // step as masks; the kernels' scratch; the output's membranes and counts
    // at every checkpoint.
    std::vector<std::vector<std::uint16_t>> step_masks;
    std::vector<std::int32_t> layer_scratch;
    AlignedFloats layer_current; // generic layers' currents (a batch of steps × units)
    std::vector<float> snapshot_v;
    std::vector<std::int32_t> snapshot_counts;
    int exit_taken = -1;                               // exit index, or −1: the output at the last step
    int exit_step = 0;                                 // step (1-based) at which the sample stopped
    int prediction = 0;                                // the class returned
};


// A network made ready for the engine: with Poisson input, projections from
// the input carry 1/max_rate so the expected input current equals the pixel.
class Engine {
public:
    Engine(const Network& net, const RunOptions& options);
    // The network as it runs: with RunOptions::idp, apply_idp's smaller one.
    const Network& network() const { return net_; }
    // Runs the network at another IDP setting (or none) from the next sample
    // on, without reading it again: the engine keeps the network it was made
    // from and rebuilds its kernels from it. A SampleState made before must be
    // made again (init) when populations change size. Not while samples run.
    void set_idp(const std::optional<IdpSetting>& idp);
    const RunOptions& options() const { return opt_; }
    const std::vector<int>& checkpoints() const { return checkpoints_; }
    Readout readout_kind() const { return readout_; }
    void init(SampleState& s) const;
    // Simulates one sample from rest; `recorded` (may be null) receives its spikes.
    // `on_step` (may be null) is called after every step of the last segment
    // with the number of steps done, e.g. to watch candidate exits.
    using StepObserver = std::function<void(int steps_done, const SampleState&)>;
    void run_sample(const float* x, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded,
                    const StepObserver* on_step = nullptr) const;
    // Sample i of `data`, with its frames where it has them (which frames
    // encoding needs; the other encodings read its static x).
    void run_sample(const Dataset& data, std::int64_t i, SampleState& s, std::vector<Spike>* recorded,
                    const StepObserver* on_step = nullptr) const;
    // One device of a pipeline (RunOptions::device), window by window:
    // begin_device_sample resets the state for sample i; run_device_window
    // then runs this device's stages over steps [t0, t1), the windows given in
    // order and covering [0, T). Before each window the caller puts in the
    // spikes of the sources this device reads on other devices for those
    // steps (SampleState::history and history_at, and the negative lists, of
    // each). The neurons' state carries over from window to window.
    //
    // The result equals a run of the whole sample (whatever the windows):
    // an exit that fires stops its stage; the stages after it on this device
    // drop what they ran in earlier windows (the single-process run never
    // starts them), and the cuts its stage meters go on counting the spikes
    // that still arrive, as they do when an exit fires in a whole run. An exit
    // further up that fires in a later window replaces it (exit_taken).
    void begin_device_sample(const Dataset& data, std::int64_t i, SampleState& s) const;
    void run_device_window(std::int64_t i, SampleState& s, std::vector<Spike>* recorded, int t0, int t1) const;
    // The population exit e reads.
    int exit_population(std::size_t e) const { return exit_population_[e]; }
    int readout(const SampleState& s) const; // the predicted class, by RunOptions::readout
    // Whether run_sample runs this network layer by layer (when it records no spikes and has no observer).
    bool layer_by_layer() const { return plan(Watch::None).schedule == Schedule::LayerByLayer; }
    // The plan a sample runs by, given who watches it (run_sample: an observer, else a recorder, else none).
    const ExecutionPlan& plan(Watch w) const { return plans_[std::size_t(w)]; }
    const std::vector<Cut>& cuts() const { return cuts_; }
    // The logits of exit `e` after `steps` steps: classifier(rates) + bias, or for
    // an exit on the output's own readout, its rate × λ.
    void exit_logits(const SampleState& s, std::size_t e, int steps, std::vector<double>& logits) const;

private:
    void step_population(const ExecutionPlan& plan, std::size_t i, int t, std::int64_t sample, SampleState& s,
                         std::vector<Spike>* recorded) const;
    void meter_cut(std::size_t c, std::int64_t sample, SampleState& s, int t, bool from_history) const;
    // Population i's constant current: bias, and with `current` encoding the projected input.
    void set_constant(std::size_t i, SampleState& s) const;
    // The rest of run_sample, layer by layer.
    void run_layers(std::int64_t sample, SampleState& s) const;
    void run(const float* x, const FrameSteps* frames, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded,
             const StepObserver* on_step) const;
    // Puts sample `sample` at rest: every population, exit, cut record and history.
    void reset(const float* x, const FrameSteps* frames, std::int64_t sample, SampleState& s) const;
    // The plan's stages over steps [t0, t1) (a whole run: [0, T)).
    void run_stages(const ExecutionPlan& plan, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded,
                    const StepObserver* on_step, int t0, int t1) const;
    // A window run: zeroes what the stages after stage g on this device ran.
    void drop_stages_after(const ExecutionPlan& plan, std::size_t g, SampleState& s, std::vector<Spike>* recorded) const;
    // The input's events at step t (s.spikes[0]) by the encoding (Poisson or
    // frames): the one place they are made, for every schedule. Counts them
    // and records them.
    void input_step(std::int64_t sample, int t, SampleState& s, std::vector<Spike>* recorded) const;
    // The values the input's events of step t carry (parallel to s.spikes[0]), or null for spikes.
    const float* input_values(int t, const SampleState& s) const;
    // Projection k of population i for its source's events `units` of step t (the input's with their values).
    std::int64_t project_step(std::size_t i, std::size_t k, int t, std::span<const std::int32_t> units, SampleState& s,
                              float* current) const;
    // Poisson or frames encoding: the input's spikes at every step, as run_sample makes them step by step.
    void draw_input(std::int64_t sample, SampleState& s) const;
    int readout_of(const std::int32_t* counts, const float* v) const;
    // Adds projection k of population i for the listed source units (values: as in snn::scatter).
    // `listed`: the units are not all the source's spikes of this step (some were lost), so its masks do not apply.
    std::int64_t project(std::size_t i, std::size_t k, std::span<const std::int32_t> units, const float* values,
                         SampleState& s, float* current, bool listed = false) const;
    // The spikes of `units` (source k of cut c at step t; taken back: `sign` 1) that cross the lossy cut.
    std::span<const std::int32_t> delivered(std::size_t c, std::size_t k, int sign, int t, std::int64_t sample,
                                            std::span<const std::int32_t> units, SampleState& s) const;
    // Integrates and fires a population with per-unit thresholds or
    // winner-take-all inhibition (a learned layer); sets `fired` to 0/1.
    void fire_learned(std::size_t i, bool can_fire, float* v, const float* current, std::int32_t* fired) const;

    Network net_;
    RunOptions opt_;
    std::shared_ptr<const Network> whole_; // the network before IDP, where it has IDP layers (set_idp)
    std::vector<int> checkpoints_;
    std::vector<float> decay_; // per population: exp(−1/τ) for LIF, 1 for IF
    std::vector<float> synapse_decay_; // per population: exp(−1/τ_syn) with a synaptic current, else 0
    // Per population: the bias the SNN runs with, one per channel (the
    // model's plus a bias correction), or empty: none.
    std::vector<std::vector<float>> bias_;
    std::vector<std::optional<StateGrid>> grids_; // per population: its 16-bit membranes' grid, or none (float)
    Readout readout_;
    std::vector<int> exit_population_; // per exit
    std::vector<std::uint8_t> gated_;        // per population: read by a max-pooling gate (keeps last_spike)
    // A max-pooling gate's geometry (empty for other populations): per input
    // unit the outputs whose window holds it, per output unit its inputs in
    // window order, each as CSR.
    struct Gate {
        std::vector<std::int32_t> cover_begin, cover_out, tap_begin, taps;
    };
    std::vector<Gate> gates_;
    std::vector<Cut> cuts_;
    // Per population, per projection: the cut it reads across and the source's position in it, where spikes are lost on the way.
    std::vector<std::vector<std::pair<int, int>>> lossy_;
    std::vector<std::vector<ProjectionKernel>> kernels_; // per population, per projection
    std::vector<std::vector<std::shared_ptr<const BinaryKernel>>> binary_kernels_; // per population, per projection (null: not binary)
    PopcountIsa popcount_ = PopcountIsa::Scalar;
    // Per population, per projection: the integer kernel of a quantized Dense
    // projection when the run takes it (null: the float kernels).
    std::vector<std::vector<std::shared_ptr<const QuantDenseKernel>>> quant_kernels_;
    bool uses_quant_kernel(const Projection& p) const;
    FloatIsa float_isa_ = FloatIsa::Portable;
    std::vector<std::vector<float>> thresholds_; // per population: v_th + theta per unit, or empty (one v_th)
    int classes_ = 0;                            // the assignment readout's classes
    std::array<ExecutionPlan, 3> plans_;   // by Watch
    std::vector<LayerKernel> layers_; // per population after the input, when plan(Watch::None) is layer by layer
};

// What simulate() measured: predictions and correct counts at every
// checkpoint, and the spikes and operations the report prices. The
// accuracy is correct_at.back() / samples.
struct RunResult {
    std::int64_t samples = 0;
    Readout readout = Readout::Spikes;              // the one used
    std::vector<int> checkpoints;
    std::vector<std::int64_t> correct_at;           // per checkpoint
    std::vector<int> predictions;                   // per sample, at the last step
    std::vector<double> spikes, synaptic_ops;       // per population, summed over samples
    std::vector<double> binary_ops;                 // per population, summed over samples (part of synaptic_ops)
    std::vector<double> neuron_updates;             // per population, summed over samples
    std::vector<double> input_macs;                 // per population, summed over samples (part of synaptic_ops)
    // Per exit (and one more entry, the last: samples that ran to the output at the last step).
    std::vector<std::int64_t> exit_taken, exit_correct;
    std::vector<double> exit_step_sum;
    std::vector<double> exit_adds, exit_macs;       // per exit, summed over samples
    std::vector<Cut> cuts;
    std::vector<CutBits> cut_bits;                  // per cut, summed over samples
    std::vector<double> cut_spikes;                 // per cut, summed over samples
    std::vector<double> cut_lost;                   // per cut: spikes lost on the way (--cut-loss), summed over samples
    std::vector<std::int64_t> cut_used;             // per cut: samples whose spikes crossed it
    // A pipeline's messages (sim/pipeline.hpp), per cut, summed over samples, as
    // each side counted them; empty for a run in one piece.
    std::vector<double> cut_bytes_sent, cut_bytes_received;
    std::vector<double> cut_payload_bits; // per cut: the coded steps in those messages, summed over samples
    std::vector<double> latency; // a pipeline's per-sample latency, seconds (sim/pipeline.hpp); empty otherwise
    double steps_sum = 0;                           // Σ over samples of the step at which each stopped
    std::vector<Spike> recorded;                    // sorted by sample
    ExecutionPlan plan;                             // how the samples ran
    std::optional<ExecutionPlan> record_plan;       // how the recorded samples ran, if any were
    double seconds = 0;
};

// Runs every sample of `data` through `net` from rest, in parallel on
// options.threads threads (same results on any number). Throws snn::Error
// when the samples do not fit the network's input or an option is out of range.
RunResult simulate(const Network& net, const Dataset& data, const RunOptions& options);

// Throws snn::Error where the samples do not fit the network's input or an
// option is out of range (what simulate checks before it runs).
void check_run(const Network& net, const Dataset& data, const RunOptions& options);

// What each sample of a run measured, kept per sample so that the sums are
// taken in sample order however the samples were shared out (between
// threads, or between processes: sim/mpi/). Arrays are sample-major: entry
// (i, l) of a per-population array is at (i − begin)·P + l.
struct SampleRecords {
    std::int64_t begin = 0, end = 0;                                 // samples [begin, end)
    std::vector<int> predictions_at;                                 // per sample, per checkpoint
    std::vector<std::int64_t> spikes, ops, updates, in_macs, bin_ops; // per sample, per population
    std::vector<int> exit_taken, exit_step, prediction;              // per sample
    std::vector<std::int64_t> exit_adds, exit_macs;                  // per sample, per exit
    std::vector<CutBits> cut_bits;                                   // per sample, per cut
    std::vector<std::int64_t> cut_spikes, cut_lost;                  // per sample, per cut
    std::vector<std::uint8_t> cut_used;                              // per sample, per cut
    std::vector<std::vector<Spike>> recorded; // per sample below options.record_samples, in step order
    double seconds = 0;                       // wall time of run_samples
};
// Runs samples [begin, end) of `data` (each keyed by its index in `data`, so
// its random draws are those of a whole run) on options.threads threads.
// Checks the data against the network as simulate does.
SampleRecords run_samples(const Engine& engine, const Dataset& data, std::int64_t begin, std::int64_t end,
                          const RunOptions& options);
// Records of samples [begin, end), all zero; with room for the spikes of
// those below `record_samples`.
SampleRecords empty_records(const Engine& engine, std::int64_t begin, std::int64_t end, std::int64_t record_samples);
// Stores what sample i measured (`s` after its run) into rec.
void store(const Engine& engine, const SampleState& s, std::int64_t i, SampleRecords& rec);
// A sample's recorded spikes step by step, population by population (stable:
// the order within a population's step is kept), whatever order its stages ran in.
void sort_recorded(std::vector<Spike>& spikes);
// Joins records of consecutive samples (b.begin == a.end) into a.
void append(SampleRecords& a, SampleRecords&& b);
// The run's result from the records of every sample of `data` ([0, data.size())).
RunResult merge(const Engine& engine, const Dataset& data, const SampleRecords& records, const RunOptions& options);

// DNN accuracy of the same network on the same samples (ReLU in place of spikes).
double dnn_accuracy(const Network& net, const Dataset& data, int threads, std::vector<int>* predictions = nullptr);

} // namespace snn
