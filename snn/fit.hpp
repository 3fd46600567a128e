#pragma once
// Whether a network fits a neuromorphic chip (`snn fit NET --target NAME`):
// per layer the cores, neurons, synapse memory, fan-in and weight/state bits
// the chip needs against what it has, every violation with what to change,
// and whether the whole network fits. A chip is a data file (data/targets/
// NAME.json, docs/chips.md) so that a user adds one by writing a file.
//
// Two ways of mapping layers onto cores, chosen by the file:
//   layer_per_core  (Speck / DYNAP-CNN): each convolution or dense layer takes
//                   one core whole, with its kernel memory and neuron memory
//                   counted as sinabs counts them; an average pooling after it
//                   becomes that core's sum pooling; the layers are matched to
//                   cores of different sizes.
//   split_neurons   (Loihi, SpiNNaker): each spiking population is spread
//                   over as many cores as its neurons and stored synapses
//                   need; a neuron's fan-in must fit one core's input axons.
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct TargetCore {
    std::int64_t kernel_entries = 0, neuron_entries = 0, bias_entries = 0;
};

struct Target {
    enum class Mapping { LayerPerCore, SplitNeurons };
    std::string name, description, file;
    std::vector<std::string> sources;
    Mapping mapping = Mapping::SplitNeurons;
    int weight_bits = 8;               // the widest weight a synapse stores
    int state_bits = 16;               // membrane precision
    bool toolchain_quantizes = false;  // the chip's own tools turn float weights into weight_bits
    // layer_per_core
    std::vector<TargetCore> cores;
    int max_kernel = 0, max_channels = 0, max_input_side = 0, max_output_side = 0, max_padding = 0, max_fanout = 0;
    std::vector<int> strides, pools;
    // split_neurons
    std::int64_t cores_available = 0, neurons_per_core = 0, input_axons_per_core = 0; // 0: no limit
    std::int64_t synapse_bits_per_core = 0;  // 0: no limit
    int bits_per_synapse = 0;                // stored bits of one synapse; 0: the weight bits
};

// `name_or_file`: a file path (it contains '/' or ends in .json) or a name
// looked up as NAME.json in target_dir(). snn::FileError / OptionError name
// the file and the key for a missing file, bad JSON or a bad value.
Target load_target(const std::string& name_or_file);
// $SNN_TARGET_DIR, else the source tree's data/targets.
std::string target_dir();

struct FitViolation {
    std::string resource; // "cores", "kernel_memory", "neuron_memory", "bias_memory", "synapse_memory", "fan_in",
                          // "kernel_size", "channels", "input_size", "output_size", "stride", "padding", "pooling",
                          // "fanout", "weight_bits", "state_bits", "layer_kind"
    std::int64_t need = 0, have = 0;
    std::string what;     // one line: what is wrong
    std::string change;   // one line: what to change
};

struct FitLayer {
    std::string name;
    std::string kind;               // its projections' kinds, or "merged" for a pooling folded into a core
    std::int64_t neurons = 0, fan_in = 0, synapses = 0, cores = 0;
    int weight_bits = 32, state_bits = 32;
    std::int64_t kernel_entries = 0, neuron_entries = 0, bias_entries = 0; // layer_per_core
    std::int64_t synapse_bits = 0;                                          // split_neurons
    int core = -1;                  // layer_per_core: the core it was given, −1 if none
    std::string note;               // e.g. "merged into 'conv1' as 2x2 sum pooling"
    std::vector<FitViolation> violations;
};

struct FitReport {
    std::string target, network;
    bool fits = false;
    std::int64_t cores_needed = 0, cores_available = 0;
    std::vector<FitLayer> layers;
};

FitReport fit(const Network& net, const Target& target);
nlohmann::json to_json(const FitReport& report);
std::string describe(const FitReport& report);

} // namespace snn
