#pragma once
// The network model: populations of neurons joined by projections.
//
// A converted DNN becomes a list of populations in topological order. Each
// population is a tensor of units (channels-last H×W×C, DESIGN.md) and
// receives current through projections from earlier populations:
//
//   Dense     weights (in, out), row i = the fan-out of input unit i
//   Conv2D    kernel (kh, kw, cin, cout), stride, padding
//   AvgPool   one weight per channel, shared by the window (1/(kh·kw), scaled)
//   Identity  one weight per channel, unit i feeds unit i (a residual branch)
//   MaxPool   no weights: a max-pooling gate (only in MaxPool populations)
//   SparseDense  a pruned Dense projection: only its surviving synapses, as
//             compressed sparse rows of the (in, out) matrix (SparseRows)
//
// Flatten is not a population: channels-last flattening keeps the linear
// index of every unit, so a Dense projection reads the source as a vector.
#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct Shape {
    int h = 1, w = 1, c = 1;
    std::int64_t size() const { return std::int64_t(h) * w * c; }
    bool operator==(const Shape&) const = default;
    std::string str() const;
};

// IF: the membrane keeps its value between steps; LIF: it decays by
// exp(−1/tau_steps) each step; Threshold: it keeps nothing (NIR's Threshold
// node: each step's input alone is compared with the threshold).
enum class NeuronModel { IF, LIF, Threshold };
enum class ResetMode { Subtract, Zero };

struct NeuronParams {
    NeuronModel model = NeuronModel::IF;
    ResetMode reset = ResetMode::Subtract;
    float v_th = 1.0f;
    float tau_steps = 0.0f; // LIF only: v ← v·exp(−1/tau_steps) before integrating
    float v_init = 0.0f;    // membrane at the start of a sample, as a fraction of v_th (0 ≤ v_init < 1)
    // Signed spikes: a neuron that has fired more than it now should (its membrane
    // fell below 0 while its spike count is positive) takes a spike back with a
    // negative spike, v ← v + v_th, which subtracts its weights downstream. The
    // count then tracks max(0, ⌊input so far / v_th⌋) instead of keeping the
    // spikes of an early transient. Reset by subtraction only.
    bool signed_spikes = false;
    // Fire when v > v_th instead of v ≥ v_th: NIR's rule (docs/nir.md), set on
    // import. The neuron rule takes it as v ≥ the float just above v_th
    // (sim/neuron.hpp, fire_threshold); a reset by subtraction subtracts v_th.
    bool strict_threshold = false;
    // The membrane's precision: 32, a float (rounded once per step by the
    // fused multiply-add), or 16, a signed 16-bit fixed-point code k with
    // v = k·v_th/2^8, rounded to the nearest code after every update and
    // saturated at k = −2^15 and 2^15 − 1 (sim/neuron.hpp, StateGrid).
    int state_bits = 32;
    // A current-based synapse (NIR's CubaLIF), or 0: none. With τ_syn > 0 the
    // input of a step first enters a synaptic current, I ← I·exp(−1/τ_syn) +
    // input (I = 0 at the start of a sample), and the membrane integrates I
    // instead of the input (sim/neuron.hpp).
    float tau_syn_steps = 0.0f;
    bool operator==(const NeuronParams&) const = default;
};

// The grid of a 16-bit membrane in the float arithmetic the neuron rule does
// it in (sim/neuron.hpp, state_grid): code = v·per_step, v = code·step, with
// per_step = 2^8/v_th, step = v_th/2^8 (exact: v_th times a power of two),
// and lowest, highest the codes' ends, −2^15 and 2^15 − 1.
struct StateGrid {
    float per_step = 0, step = 0, lowest = 0, highest = 0;
};

// Sliding-window geometry shared by Conv2D, AvgPool and MaxPool. Padding at
// the bottom/right follows from the input and output shapes.
struct Window {
    int kh = 1, kw = 1;
    int sh = 1, sw = 1;
    int pad_top = 0, pad_left = 0;
    bool operator==(const Window&) const = default;
};

// Each kind is declared in one file per folder (snn/kind.hpp).
enum class ProjectionKind { Dense, Conv2D, AvgPool, Identity, MaxPool, DepthwiseConv2D, SparseDense, Upsample2D };

// The weights of a binary projection (Dense or Conv2D) as bits, 64 inputs
// per word along the input axis: bit i of a row (word i/64, bit i%64) is 1 for
// a weight of +α and 0 for −α. Row r is output unit r of a Dense projection,
// (output channel co, kernel offset ky·kw + kx) = co·kh·kw + ky·kw + kx of a
// Conv2D one; a Dense row covers all source units, a Conv2D row the source's
// channels. Bits past the row's inputs are 0. One scale α per output unit
// (Dense) or channel (Conv2D): weight = α·(2·bit − 1). snn/binary.hpp packs
// and unpacks.
struct BinaryWeights {
    std::int64_t rows = 0;
    std::int64_t row_bits = 0;  // inputs per row
    std::int64_t row_words = 0; // ⌈row_bits / 64⌉
    std::vector<std::uint64_t> bits; // rows × row_words
    std::vector<float> alpha;        // one per output unit (Dense) or channel (Conv2D)
    bool operator==(const BinaryWeights&) const = default;
};

// The weights of a quantized projection (Dense, Conv2D or DepthwiseConv2D;
// snn/quant.hpp, docs/quantization.md): one code of `bits` bits per weight,
// in the order of Projection::weights, packed little-endian into 64-bit words
// (code k occupies bits [k·bits, (k+1)·bits) of the stream), and one float
// scale per group. Weight k = scale[group of k] · level(code k). A group is
// an output unit (Dense) or output channel (Conv2D, DepthwiseConv2D) when
// `vector` is 0, else a run of `vector` consecutive weights of one output's
// fan-in (its inputs in stored order; the last run may be shorter).
enum class QuantScheme { None, Int, Ternary, Qsq };
struct QuantWeights {
    QuantScheme scheme = QuantScheme::None;
    int bits = 0;   // per code: K for Int, 2 for Ternary, 3 for Qsq
    int vector = 0; // weights per scale along the fan-in, 0: one scale per output
    std::vector<std::uint64_t> codes;
    std::vector<float> scale;
    bool operator==(const QuantWeights&) const = default;
};
// The connectivity of a SparseDense projection (docs/pruning.md): compressed
// sparse rows of its (in, out) weight matrix, a row per source unit, so that
// a spiking source finds its surviving synapses in one run. Synapse
// q ∈ [row_begin[u], row_begin[u+1]) joins source unit u to target unit
// target[q] with weight Projection::weights[q]; the targets of a row ascend.
struct SparseRows {
    std::vector<std::int64_t> row_begin; // source units + 1, from 0 to the synapse count
    std::vector<std::int32_t> target;    // one per synapse
    bool operator==(const SparseRows&) const = default;
};

struct Projection {
    int source = -1; // index of the source population (earlier in the list)
    ProjectionKind kind = ProjectionKind::Dense;
    Window window;
    // Float weights. For a binary projection they are the expanded ±α values,
    // kept for the dense reference paths (the DNN forward pass, calibration);
    // the file and the binary kernels hold `bin`, which must agree with them.
    std::vector<float> weights;
    std::string layer; // the source-model layer it came from
    bool binary = false;
    BinaryWeights bin; // when binary
    // Quantized weights (scheme ≠ None): the file holds `quant`, and `weights`
    // are the values it stands for (the dequantized float reference).
    QuantWeights quant;
    // SparseDense only: which synapses survive; `weights` holds their values,
    // in the same order.
    SparseRows sparse;
    // Incomplete dot products (snn/idp.hpp, docs/dynamic-cost.md): the
    // profile's name ("all-one", "harmonic", "linear", "half-exp") and its
    // coefficients γ, one per source channel, or both empty. γ is already
    // folded into `weights` (weight of source channel c = γ_c · trained
    // weight); at run time it only orders the channels.
    std::string idp_profile;
    std::vector<float> idp_gamma;
    bool operator==(const Projection&) const = default;
};

enum class PopulationKind { Input, Spiking, MaxPool };

// Lateral inhibition inside a population. WinnerTakeAll: in a step, of the
// units at or above their threshold only the one furthest above it spikes
// (ties: the lowest index), and the inhibition it triggers sets every unit of
// the population to 0 (reset to zero only). It stands for the strong, fast
// inhibitory population of a layer learned with STDP (sim/learn.hpp).
enum class Inhibition { None, WinnerTakeAll };

struct Population {
    std::string name; // the source model's layer name
    PopulationKind kind = PopulationKind::Spiking;
    Shape shape;
    std::vector<Projection> projections;
    std::vector<float> bias; // one per channel (Spiking only; may be empty = 0)
    // What the SNN adds to the bias and the DNN does not (one per channel, or
    // empty): the correction bias calibration found for the rate error of
    // this layer (sim/calibrate.hpp, calibrate_biases). The DNN pass, and so
    // the report's DNN figures, see the model's own bias alone.
    std::vector<float> bias_correction;
    NeuronParams neuron;
    float scale = 1.0f;              // λ used by normalization (activation that maps to rate 1)
    // Per-unit threshold offsets, or empty: unit j fires at v_th + theta[j]
    // (a learned layer's adaptive thresholds, frozen after learning).
    std::vector<float> theta;
    Inhibition inhibition = Inhibition::None;
    std::vector<std::string> layers; // every source layer folded into it
    // A bounded ReLU (Keras ReLU(max_value=M), relu6): the activation cap of
    // each channel in the population's own units (M/λ after normalization),
    // or empty: unbounded. Only the DNN pass applies it; a spiking unit is
    // bounded by one spike per step, which is the cap when λ = M
    // (docs/conversion.md).
    std::vector<float> clip;
    bool operator==(const Population&) const = default;
};

// How the class is read from the output population: its spike counts (ties
// broken by membrane potential), or its membrane potential as a non-spiking
// integrator (the output neurons never fire; v sums every input they got).
// Assignment: each output unit carries a class label (Network::labels, from
// unsupervised learning); the class is the one whose labelled units have the
// highest mean spike count (ties: the lower class; −1, always wrong, if none
// of them spiked).
enum class Readout { Spikes, Membrane, Assignment };

// When an exit is confident enough to stop: the entropy of its softmax (in
// nats) below the threshold (Algorithm 1 of the hybrid-network paper), or its
// largest softmax probability above it.
enum class ExitRule { Entropy, MaxProb };

// A conditional exit: a linear classifier on the firing rates of one
// population (spike count so far / steps so far), checked after every
// `check_every`-th step (0: after the last step only). An input whose exit is
// confident stops there: the populations after it are never simulated for it
// (an exit in depth), and its own population stops simulating (an exit in
// time). With no weights, an exit at the output population reads the
// network's own output (rate × λ as logits): a temporal exit on the final layer.
struct Exit {
    std::string name;
    std::string at;              // the population whose rates it reads
    std::vector<float> weights;  // (neurons of `at`, classes), row-major; empty: the output's own readout
    std::vector<float> bias;     // (classes); empty with empty weights
    ExitRule rule = ExitRule::Entropy;
    float threshold = 0.0f;
    int check_every = 0;
    bool operator==(const Exit&) const = default;
};

// How the source model laid out its input tensor. The engine is always
// channels-last; a channels-first model (Keras data_format channels_first) is
// converted to it on import, and data stored in the model's own layout (an
// HDF5 x of shape (N, C, H, W)) is transposed when it is read for it.
enum class InputLayout { ChannelsLast, ChannelsFirst };

// A compressive-sensing input stage (snn/rademacher.hpp, docs/compressive-sensing.md):
// raw inputs of shape `raw` are projected by a seeded Rademacher matrix to
// `rd` measurements, which are the input population's values. Only the
// seed and the sizes are stored; the matrix is drawn again from the seed.
struct RademacherStage {
    std::uint64_t seed = 0;
    std::int64_t rd = 0; // measurements; 0: no stage
    Shape raw;           // the raw input's shape (h, w, c); the matrix has raw.size() columns
    bool present() const { return rd > 0; }
    std::int64_t pixels() const { return raw.size(); }
    // The stage's cost per input: rd·n additions or subtractions (its ±1
    // entries need no multiply; the 1/√rd scale is one multiply per measurement).
    std::int64_t adds() const { return rd * pixels(); }
    bool operator==(const RademacherStage&) const = default;
};

// 003 section III's multiple IDP profiles (snn/idp.hpp): a profile other than
// the last brings its own weights for some populations (its separate first
// and last layer), laid out as the population's one Dense projection's, and
// its own bias.
struct IdpVariant {
    int profile = 0;        // index into Network::idp_ranges, never the last
    std::string population; // whose projection and bias it replaces
    std::vector<float> weights;
    std::vector<float> bias;
    bool operator==(const IdpVariant&) const = default;
};

struct Network {
    std::vector<Population> populations; // topological order; [0] is the input
    std::string source;                   // file it was converted from
    std::string normalization;            // how it was normalized, in words
    Readout readout = Readout::Spikes;    // the readout `snn run` uses unless told otherwise
    std::vector<Exit> exits;              // at most one per population, any order
    // The device each population runs on (same length as populations, the
    // input on the first device), or empty: everything on one device. Devices
    // hold contiguous runs of populations in network order.
    std::vector<std::string> devices;
    // The class of each output unit for Readout::Assignment (−1: none), else empty.
    std::vector<std::int32_t> labels;
    // What the network was made for, 0 if not stated: time steps per sample
    // and the Poisson spike probability per step of an input at 1.0 (a
    // learned layer's). `snn run` uses them unless --steps / --max-rate say otherwise.
    int steps = 0;
    float max_rate = 0.0f;
    InputLayout input_layout = InputLayout::ChannelsLast;
    RademacherStage input_stage; // absent unless rd > 0
    // Multiple IDP profiles, or both empty (one profile): profile k serves IDP
    // percentages up to idp_ranges[k] (ascending, the last 100). The
    // populations hold the last profile's weights; idp_variants the others'.
    std::vector<double> idp_ranges;
    std::vector<IdpVariant> idp_variants;
    bool operator==(const Network&) const = default;

    const Population& input() const { return populations.front(); }
    const Population& output() const { return populations.back(); }
    int find(const std::string& name) const; // −1 if absent
};

const char* to_string(NeuronModel);
const char* to_string(ResetMode);
const char* to_string(ProjectionKind);
const char* to_string(PopulationKind);
const char* to_string(Readout);
NeuronModel neuron_model_from(const std::string&);
ResetMode reset_mode_from(const std::string&);
ProjectionKind projection_kind_from(const std::string&);
PopulationKind population_kind_from(const std::string&);
Readout readout_from(const std::string&); // "spikes", "membrane" or "assignment"
const char* to_string(InputLayout);
InputLayout input_layout_from(const std::string&); // "channels_last" or "channels_first"
const char* to_string(Inhibition);
Inhibition inhibition_from(const std::string&); // "none" or "winner-take-all"

// The assignment readout of `counts` (one per output unit): see Readout::Assignment.
int assigned_class(const std::int32_t* counts, const std::vector<std::int32_t>& labels, int classes);
int label_classes(const std::vector<std::int32_t>& labels); // the largest label + 1
const char* to_string(ExitRule);
ExitRule exit_rule_from(const std::string&); // "entropy" or "max-prob"

// Parses "edge:conv1-pool1,cloud:conv2-out" (device:first-last, populations
// named as in the network; a single name for a one-population range) into
// one device name per population. Every non-input population must be
// covered exactly once, the ranges in network order; the input goes with the
// first device. Throws snn::Error naming the offending part.
std::vector<std::string> parse_partition(const Network&, const std::string& spec);
std::string partition_spec(const Network&); // the inverse, "" without a partition

// Output size of a sliding window along one axis (Keras/TensorFlow rules):
// valid: ⌊(in − k)/s⌋ + 1; same: ⌈in/s⌉ with the padding split top/left = ⌊total/2⌋.
int window_out_size(int in, int k, int s, bool same);
int window_pad_before(int in, int k, int s, bool same);

// Number of weights a projection must hold given its source and target.
std::int64_t expected_weight_count(const Projection&, const Shape& source, const Shape& target);
// The bias the SNN runs with, one per channel: the model's plus its bias
// correction (empty: none). The DNN pass uses Population::bias alone.
std::vector<float> snn_bias(const Population&);
std::int64_t parameter_count(const Population&);
std::int64_t parameter_bytes(const Population&);

// Checks every shape and weight count; throws snn::Error naming the population.
void validate(const Network&);

// The membrane widths the neuron rule simulates: 16 (fixed point) or 32 (float).
inline bool valid_state_bits(int bits) { return bits == 16 || bits == 32; }
void check_state_bits(int bits); // throws OptionError (state-bits) unless valid
// Sets every spiking population's membranes to `bits` (checked).
void set_state_bits(Network&, int bits);

} // namespace snn
