#include "snn/network.hpp"

#include "snn/kind.hpp"

#include "snn/binary.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace snn {

std::string Shape::str() const {
    return "(" + std::to_string(h) + "," + std::to_string(w) + "," + std::to_string(c) + ")";
}

int Network::find(const std::string& name) const {
    for (std::size_t i = 0; i < populations.size(); ++i)
        if (populations[i].name == name) return int(i);
    return -1;
}

void check_state_bits(int bits) {
    if (!valid_state_bits(bits))
        throw OptionError("state-bits", std::to_string(bits),
                          "state-bits " + std::to_string(bits) + ": expected 16 (fixed-point membranes) or 32 (float)");
}

void set_state_bits(Network& net, int bits) {
    check_state_bits(bits);
    for (Population& pop : net.populations)
        if (pop.kind == PopulationKind::Spiking) pop.neuron.state_bits = bits;
}

const char* to_string(NeuronModel m) {
    switch (m) {
    case NeuronModel::IF: return "if";
    case NeuronModel::LIF: return "lif";
    case NeuronModel::Threshold: return "threshold";
    }
    return "?";
}
const char* to_string(ResetMode r) { return r == ResetMode::Subtract ? "subtract" : "zero"; }

const char* to_string(ProjectionKind k) { return kind_traits(k).name; }

const char* to_string(PopulationKind k) {
    switch (k) {
    case PopulationKind::Input: return "input";
    case PopulationKind::Spiking: return "spiking";
    case PopulationKind::MaxPool: return "maxpool";
    }
    throw InternalError("unknown population kind");
}

const char* to_string(Readout r) {
    switch (r) {
    case Readout::Spikes: return "spikes";
    case Readout::Membrane: return "membrane";
    case Readout::Assignment: return "assignment";
    }
    throw InternalError("unknown readout");
}

Readout readout_from(const std::string& s) {
    if (s == "spikes") return Readout::Spikes;
    if (s == "membrane") return Readout::Membrane;
    if (s == "assignment") return Readout::Assignment;
    throw OptionError("readout", s, "unknown readout '" + s + "' (expected spikes, membrane or assignment)");
}

const char* to_string(Inhibition i) { return i == Inhibition::None ? "none" : "winner-take-all"; }

Inhibition inhibition_from(const std::string& s) {
    if (s == "none") return Inhibition::None;
    if (s == "winner-take-all") return Inhibition::WinnerTakeAll;
    throw OptionError("inhibition", s, "unknown inhibition '" + s + "' (expected none or winner-take-all)");
}

const char* to_string(InputLayout l) { return l == InputLayout::ChannelsLast ? "channels_last" : "channels_first"; }

InputLayout input_layout_from(const std::string& s) {
    if (s == "channels_last") return InputLayout::ChannelsLast;
    if (s == "channels_first") return InputLayout::ChannelsFirst;
    throw OptionError("input_layout", s, "unknown input layout '" + s + "' (expected channels_last or channels_first)");
}

int label_classes(const std::vector<std::int32_t>& labels) {
    std::int32_t m = -1;
    for (const std::int32_t c : labels) m = std::max(m, c);
    return m + 1;
}

int assigned_class(const std::int32_t* counts, const std::vector<std::int32_t>& labels, int classes) {
    // Means, not sums: a class with more units would otherwise win for having them.
    std::vector<double> sum(std::size_t(classes), 0.0);
    std::vector<std::int64_t> n(std::size_t(classes), 0);
    for (std::size_t j = 0; j < labels.size(); ++j)
        if (labels[j] >= 0) {
            sum[std::size_t(labels[j])] += counts[j];
            ++n[std::size_t(labels[j])];
        }
    int best = -1;
    double best_mean = 0;
    for (int c = 0; c < classes; ++c) {
        if (n[std::size_t(c)] == 0) continue;
        const double mean = sum[std::size_t(c)] / double(n[std::size_t(c)]);
        if (mean > best_mean) {
            best_mean = mean;
            best = c;
        }
    }
    return best;
}

const char* to_string(ExitRule r) { return r == ExitRule::Entropy ? "entropy" : "max-prob"; }

ExitRule exit_rule_from(const std::string& s) {
    if (s == "entropy") return ExitRule::Entropy;
    if (s == "max-prob") return ExitRule::MaxProb;
    throw OptionError("rule", s, "exit rule '" + s + "': expected entropy or max-prob");
}

std::vector<std::string> parse_partition(const Network& net, const std::string& spec) {
    const std::size_t P = net.populations.size();
    std::vector<std::string> device(P);
    std::vector<std::string> seen_devices;
    std::size_t next = 1; // the first population not yet assigned
    std::size_t start = 0;
    // Not an OptionError: the CLI would print a message that starts with the key
    // "partition" as the flag --partition, and the spec is also the positional
    // argument of `snn exits partition`.
    const auto bad = [&](const std::string& why) {
        return Error("partition '" + spec + "': " + why, ErrorContext{{}, {}, {}, spec});
    };
    if (spec.empty()) throw bad("empty; expected device:first-last,device:first-last,...");
    while (start <= spec.size()) {
        std::size_t end = spec.find(',', start);
        if (end == std::string::npos) end = spec.size();
        const std::string part = spec.substr(start, end - start);
        const std::size_t colon = part.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == part.size())
            throw bad("'" + part + "' is not device:first-last");
        const std::string dev = part.substr(0, colon), range = part.substr(colon + 1);
        if (std::find(seen_devices.begin(), seen_devices.end(), dev) != seen_devices.end())
            throw bad("device '" + dev + "' appears twice");
        seen_devices.push_back(dev);
        // Population names may contain '-' (Keras does not, but users' files may): try every split.
        int first = -1, last = -1;
        if (net.find(range) >= 0) first = last = net.find(range);
        for (std::size_t d = range.find('-'); first < 0 && d != std::string::npos; d = range.find('-', d + 1)) {
            const int a = net.find(range.substr(0, d)), b = net.find(range.substr(d + 1));
            if (a >= 0 && b >= 0) first = a, last = b;
        }
        if (first < 0) throw bad("'" + range + "' does not name a population or a range first-last of populations");
        if (first == 0) throw bad("the input '" + net.populations[0].name + "' goes with the first device; start at the next population");
        if (last < first) throw bad("range '" + range + "' runs backwards");
        if (std::size_t(first) != next)
            throw bad("device '" + dev + "' starts at '" + net.populations[std::size_t(first)].name + "' but the next unassigned population is '" +
                      (next < P ? net.populations[next].name : std::string("(none)")) + "' (ranges must cover the network in order)");
        for (int i = first; i <= last; ++i) device[std::size_t(i)] = dev;
        next = std::size_t(last) + 1;
        start = end + 1;
    }
    if (next != P) throw bad("population '" + net.populations[next].name + "' is not assigned to a device");
    device[0] = device[1];
    return device;
}

std::string partition_spec(const Network& net) {
    if (net.devices.empty()) return "";
    std::string spec;
    for (std::size_t i = 1; i < net.populations.size(); ++i) {
        if (i > 1 && net.devices[i] == net.devices[i - 1]) continue;
        std::size_t j = i;
        while (j + 1 < net.populations.size() && net.devices[j + 1] == net.devices[i]) ++j;
        spec += (spec.empty() ? "" : ",") + net.devices[i] + ":" + net.populations[i].name +
                (j > i ? "-" + net.populations[j].name : "");
    }
    return spec;
}

NeuronModel neuron_model_from(const std::string& s) {
    if (s == "if") return NeuronModel::IF;
    if (s == "lif") return NeuronModel::LIF;
    if (s == "threshold") return NeuronModel::Threshold;
    throw OptionError("neuron", s, "unknown neuron model '" + s + "' (expected if, lif or threshold)");
}

ResetMode reset_mode_from(const std::string& s) {
    if (s == "subtract") return ResetMode::Subtract;
    if (s == "zero") return ResetMode::Zero;
    throw OptionError("reset", s, "unknown reset mode '" + s + "' (expected subtract or zero)");
}

ProjectionKind projection_kind_from(const std::string& s) {
    for (auto k : registered_kinds())
        if (s == to_string(k)) return k;
    throw ModelError("", "", "unknown projection kind '" + s + "'");
}

PopulationKind population_kind_from(const std::string& s) {
    for (auto k : {PopulationKind::Input, PopulationKind::Spiking, PopulationKind::MaxPool})
        if (s == to_string(k)) return k;
    throw ModelError("", "", "unknown population kind '" + s + "'");
}

int window_out_size(int in, int k, int s, bool same) {
    if (same) return (in + s - 1) / s;
    return in >= k ? (in - k) / s + 1 : 0;
}

int window_pad_before(int in, int k, int s, bool same) {
    if (!same) return 0;
    const int out = window_out_size(in, k, s, true);
    const int total = std::max((out - 1) * s + k - in, 0);
    return total / 2; // TensorFlow puts the odd pixel at the bottom/right
}

std::int64_t expected_weight_count(const Projection& p, const Shape& src, const Shape& dst) {
    return kind_traits(p.kind).weight_count(p, src, dst);
}

std::vector<float> snn_bias(const Population& pop) {
    std::vector<float> b = pop.bias;
    if (pop.bias_correction.empty()) return b;
    b.resize(pop.bias_correction.size(), 0.0f);
    for (std::size_t c = 0; c < b.size(); ++c) b[c] += pop.bias_correction[c];
    return b;
}

// A bias correction adds into the bias the SNN holds: one bias per channel either way.
std::int64_t parameter_count(const Population& pop) {
    std::int64_t n = std::int64_t(std::max(pop.bias.size(), pop.bias_correction.size()));
    for (const auto& p : pop.projections) n += std::int64_t(p.weights.size());
    return n;
}

std::int64_t parameter_bytes(const Population& pop) {
    std::int64_t n = std::int64_t(std::max(pop.bias.size(), pop.bias_correction.size()) * sizeof(float));
    for (const auto& p : pop.projections) n += weight_bytes(p);
    return n;
}


void validate(const Network& net) {
    if (net.populations.empty() || net.populations[0].kind != PopulationKind::Input)
        throw ModelError("", net.populations.empty() ? std::string() : net.populations[0].name,
                         "network has no input population");
    for (std::size_t i = 0; i < net.populations.size(); ++i) {
        const Population& pop = net.populations[i];
        // A fault of this population, or of the layer of one of its projections.
        const auto bad = [&](const std::string& layer, const std::string& what) {
            return ModelError("", layer, "population '" + pop.name + "'" + what);
        };
        if (pop.shape.h < 1 || pop.shape.w < 1 || pop.shape.c < 1)
            throw bad(pop.name, " has an empty shape " + pop.shape.str());
        if (i > 0 && pop.kind == PopulationKind::Input)
            throw bad(pop.name, ": only the first population can be the input");
        if (i > 0 && pop.projections.empty())
            throw bad(pop.name, " has no incoming projection");
        if (!pop.bias.empty() && std::int64_t(pop.bias.size()) != pop.shape.c)
            throw bad(pop.name, ": bias has " + std::to_string(pop.bias.size()) +
                                " values, expected one per channel (" + std::to_string(pop.shape.c) + ")");
        for (float b : pop.bias)
            if (!std::isfinite(b)) throw bad(pop.name, ": bias is not finite");
        if (pop.neuron.v_th <= 0 || !std::isfinite(pop.neuron.v_th))
            throw bad(pop.name, ": threshold must be positive");
        if (pop.neuron.signed_spikes && pop.neuron.reset != ResetMode::Subtract)
            throw bad(pop.name, ": signed spikes need reset by subtraction");
        if (!(pop.neuron.v_init >= 0 && pop.neuron.v_init < 1))
            throw bad(pop.name, ": v_init must be in [0, 1)");
        if (pop.neuron.model == NeuronModel::Threshold && pop.neuron.signed_spikes)
            throw bad(pop.name, ": a threshold neuron keeps no membrane to take a spike back from (signed spikes)");
        if (pop.neuron.model == NeuronModel::LIF && !(pop.neuron.tau_steps > 0))
            throw bad(pop.name, ": LIF needs tau_steps > 0");
        if (!(pop.neuron.tau_syn_steps >= 0) || !std::isfinite(pop.neuron.tau_syn_steps))
            throw bad(pop.name, ": tau_syn_steps must be 0 (no synaptic current) or a positive finite number");
        if (pop.neuron.tau_syn_steps > 0 && pop.kind != PopulationKind::Spiking)
            throw bad(pop.name, ": only spiking populations have a synaptic current");
        if (pop.neuron.tau_syn_steps > 0 && pop.neuron.state_bits != 32)
            throw bad(pop.name, ": a synaptic current with 16-bit membranes is not supported");
        if (pop.neuron.tau_syn_steps > 0 && (!pop.theta.empty() || pop.inhibition != Inhibition::None))
            throw bad(pop.name, ": a synaptic current with per-unit thresholds or inhibition is not supported");
        if (!valid_state_bits(pop.neuron.state_bits))
            throw bad(pop.name, ": state_bits " + std::to_string(pop.neuron.state_bits) + " is not 16 or 32");
        if (!pop.theta.empty() || pop.inhibition != Inhibition::None) {
            if (pop.kind != PopulationKind::Spiking)
                throw bad(pop.name, ": only spiking populations have thresholds and inhibition");
            if (pop.neuron.signed_spikes)
                throw bad(pop.name, ": signed spikes with per-unit thresholds or inhibition are not supported");
        }
        if (!pop.theta.empty() && std::int64_t(pop.theta.size()) != pop.shape.size())
            throw bad(pop.name, ": theta has " + std::to_string(pop.theta.size()) +
                                " values, expected one per unit (" + std::to_string(pop.shape.size()) + ")");
        for (float th : pop.theta)
            if (!std::isfinite(th) || !(pop.neuron.v_th + th > 0))
                throw bad(pop.name, ": a threshold v_th + theta is not a positive finite number");
        if (!pop.clip.empty()) {
            if (pop.kind != PopulationKind::Spiking) throw bad(pop.name, ": only spiking populations have a clip");
            if (std::int64_t(pop.clip.size()) != pop.shape.c)
                throw bad(pop.name, ": clip has " + std::to_string(pop.clip.size()) +
                                    " values, expected one per channel (" + std::to_string(pop.shape.c) + ")");
            for (float m : pop.clip)
                if (!(m > 0) || !std::isfinite(m)) throw bad(pop.name, ": a clip (bounded ReLU) is not a positive finite number");
        }
        if (!pop.bias_correction.empty()) {
            if (pop.kind != PopulationKind::Spiking) throw bad(pop.name, ": only spiking populations have a bias correction");
            if (std::int64_t(pop.bias_correction.size()) != pop.shape.c)
                throw bad(pop.name, ": bias_correction has " + std::to_string(pop.bias_correction.size()) +
                                    " values, expected one per channel (" + std::to_string(pop.shape.c) + ")");
            for (float b : pop.bias_correction)
                if (!std::isfinite(b)) throw bad(pop.name, ": a bias correction is not a finite number");
        }
        if (pop.inhibition == Inhibition::WinnerTakeAll && pop.neuron.reset != ResetMode::Zero)
            throw bad(pop.name, ": winner-take-all inhibition resets every unit to 0; it needs reset zero");
        if (pop.kind == PopulationKind::MaxPool &&
            (pop.projections.size() != 1 || pop.projections[0].kind != ProjectionKind::MaxPool))
            throw bad(pop.name, ": a max-pooling gate takes exactly one maxpool projection");
        for (const Projection& p : pop.projections) {
            if (p.source < 0 || std::size_t(p.source) >= i)
                throw bad(pop.name, ": projection source " + std::to_string(p.source) +
                                    " is not an earlier population");
            if ((p.kind == ProjectionKind::MaxPool) != (pop.kind == PopulationKind::MaxPool))
                throw bad(pop.name, ": maxpool projections belong to max-pooling gates only");
            const Shape& src = net.populations[std::size_t(p.source)].shape;
            if (!p.idp_profile.empty() || !p.idp_gamma.empty()) {
                if (p.kind != ProjectionKind::Dense && p.kind != ProjectionKind::Conv2D && p.kind != ProjectionKind::SparseDense)
                    throw bad(p.layer, ": layer '" + p.layer + "' has an IDP profile but is not dense (pruned or not) or conv2d");
                if (p.idp_profile != "all-one" && p.idp_profile != "harmonic" && p.idp_profile != "linear" &&
                    p.idp_profile != "half-exp")
                    throw bad(p.layer, ": layer '" + p.layer + "' has the unknown IDP profile '" + p.idp_profile +
                                       "' (expected all-one, harmonic, linear or half-exp)");
                if (std::int64_t(p.idp_gamma.size()) != src.c)
                    throw bad(p.layer, ": layer '" + p.layer + "' has " + std::to_string(p.idp_gamma.size()) +
                                       " IDP coefficients for " + std::to_string(src.c) + " input channels");
                for (float g : p.idp_gamma)
                    if (!std::isfinite(g)) throw bad(p.layer, ": layer '" + p.layer + "' has an IDP coefficient that is not finite");
            }
            kind_traits(p.kind).check_shapes(pop, p, src);
            const std::int64_t want = expected_weight_count(p, src, pop.shape);
            if (std::int64_t(p.weights.size()) != want)
                throw bad(p.layer, ": projection from layer '" + p.layer + "' has " +
                                   std::to_string(p.weights.size()) + " weights, expected " + std::to_string(want));
            for (float w : p.weights)
                if (!std::isfinite(w))
                    throw bad(p.layer, ": layer '" + p.layer + "' has a weight that is not finite (NaN or Inf)");
            if (p.binary) {
                std::vector<float> expanded;
                try {
                    expanded = unpack_binary(p, src, pop.shape); // checks the kind and the packed shape
                } catch (const Error& e) {
                    throw bad(e.context.layer, std::string(": ") + e.what());
                }
                const BinaryWeights& b = p.bin;
                for (float a : b.alpha)
                    if (!std::isfinite(a) || a < 0)
                        throw bad(p.layer,
                                  ": layer '" + p.layer + "' has a binary scale alpha that is negative or not finite");
                // Bits past the end of a row are 0 by construction; a file that sets them is corrupt.
                if (b.row_bits % 64)
                    for (std::int64_t r = 0; r < b.rows; ++r)
                        if (b.bits[std::size_t(r * b.row_words + b.row_words - 1)] >> (b.row_bits % 64))
                            throw bad(p.layer, ": layer '" + p.layer + "': binary row " + std::to_string(r) +
                                                   " has bits set past its " + std::to_string(b.row_bits) + " inputs");
                if (expanded != p.weights)
                    throw bad(p.layer, ": layer '" + p.layer +
                                       "': the float weights disagree with the binary weights");
            } else if (!p.bin.bits.empty() || !p.bin.alpha.empty()) {
                throw bad(p.layer, ": layer '" + p.layer + "' holds binary weights but is not binary");
            }
            if (p.kind != ProjectionKind::SparseDense && (!p.sparse.row_begin.empty() || !p.sparse.target.empty()))
                throw bad(p.layer, ": layer '" + p.layer + "' holds sparse rows but is a " + to_string(p.kind) + " projection");
            if (p.kind == ProjectionKind::SparseDense && (p.binary || p.quant.scheme != QuantScheme::None))
                throw bad(p.layer, ": layer '" + p.layer + "' is sparse and cannot also be binary or quantized");
        }
    }
    const std::size_t P = net.populations.size();
    const std::string& output = net.output().name;
    if (net.readout == Readout::Assignment && net.labels.empty())
        throw ModelError("", output,
                         "readout 'assignment' needs a class label per output unit (a layer learned by snn learn)");
    if (!net.labels.empty()) {
        if (std::int64_t(net.labels.size()) != net.output().shape.size())
            throw ModelError("", output, "labels has " + std::to_string(net.labels.size()) +
                                             " values, expected one per output unit (" +
                                             std::to_string(net.output().shape.size()) + ")");
        for (const std::int32_t c : net.labels)
            if (c < -1 || c >= 1 << 20)
                throw ModelError("", output, "label " + std::to_string(c) + " is not a class (0, 1, …) or -1");
    }
    if (net.steps < 0) throw ModelError("", "", "steps must be at least 0 (0: not stated)");
    if (!(net.max_rate >= 0 && net.max_rate <= 1))
        throw ModelError("", "", "max_rate must be in [0, 1] (0: not stated)");
    const std::int64_t classes = net.output().shape.size();
    std::vector<std::string> exit_names, exit_at;
    for (const Exit& e : net.exits) {
        const std::string where = "exit '" + e.name + "'";
        const auto bad_exit = [&](const std::string& what) { return ModelError("", e.at, where + what); };
        if (e.name.empty()) throw ModelError("", e.at, "an exit has no name");
        if (std::find(exit_names.begin(), exit_names.end(), e.name) != exit_names.end())
            throw bad_exit(" is defined twice");
        exit_names.push_back(e.name);
        const int at = net.find(e.at);
        if (at < 0) throw bad_exit(": population '" + e.at + "' does not exist");
        if (at == 0) throw bad_exit(": the input population has no spikes to classify; place it after a spiking layer");
        if (std::find(exit_at.begin(), exit_at.end(), e.at) != exit_at.end())
            throw bad_exit(": population '" + e.at + "' already has an exit (one per population)");
        exit_at.push_back(e.at);
        if (e.weights.empty()) {
            if (std::size_t(at) != P - 1)
                throw bad_exit(" at '" + e.at +
                               "' has no classifier weights; only an exit at the output may read the output itself");
            if (!e.bias.empty()) throw bad_exit(": a bias without weights");
        } else {
            if (std::int64_t(e.bias.size()) != classes)
                throw bad_exit(": bias has " + std::to_string(e.bias.size()) + " values, expected one per class (" +
                               std::to_string(classes) + ")");
            const std::int64_t want = net.populations[std::size_t(at)].shape.size() * classes;
            if (std::int64_t(e.weights.size()) != want)
                throw bad_exit(": classifier has " + std::to_string(e.weights.size()) + " weights, expected " +
                               std::to_string(want) + " (neurons of '" + e.at + "' × classes)");
        }
        for (float w : e.weights)
            if (!std::isfinite(w)) throw bad_exit(": a classifier weight is not finite");
        for (float b : e.bias)
            if (!std::isfinite(b)) throw bad_exit(": a classifier bias is not finite");
        if (!std::isfinite(e.threshold) || e.threshold < 0 || (e.rule == ExitRule::MaxProb && e.threshold > 1))
            throw bad_exit(": threshold " + std::to_string(e.threshold) +
                           (e.rule == ExitRule::MaxProb ? " is not a probability in [0, 1]"
                                                        : " must be a finite entropy ≥ 0"));
        if (e.check_every < 0) throw bad_exit(": check_every must be ≥ 0");
    }
    if (!net.devices.empty()) {
        if (net.devices.size() != P)
            throw ModelError("", "", "partition names " + std::to_string(net.devices.size()) + " devices for " +
                                         std::to_string(P) + " populations");
        for (std::size_t i = 0; i < P; ++i)
            if (net.devices[i].empty())
                throw ModelError("", net.populations[i].name, "population '" + net.populations[i].name +
                                                              "' has no device");
        if (P > 1 && net.devices[0] != net.devices[1])
            throw ModelError("", net.populations[0].name, "the input must be on the first device");
        for (std::size_t i = 1; i < P; ++i)
            if (net.devices[i] != net.devices[i - 1])
                for (std::size_t j = 0; j + 1 < i; ++j)
                    if (net.devices[j] == net.devices[i])
                        throw ModelError("", net.populations[i].name, "device '" + net.devices[i] +
                                                                      "' holds populations that are not contiguous ('" +
                                                                      net.populations[j].name + "' and '" +
                                                                      net.populations[i].name + "')");
    }
    // Multiple IDP profiles (snn/idp.hpp): ascending ranges up to 100, each variant a profile's own
    // weights and bias for a population with one Dense projection, of the same sizes.
    if (!net.idp_ranges.empty() || !net.idp_variants.empty()) {
        const auto& r = net.idp_ranges;
        for (std::size_t k = 0; k < r.size(); ++k)
            if (!(r[k] > 0 && r[k] <= 100) || (k > 0 && !(r[k] > r[k - 1])))
                throw ModelError("", "", "IDP profile ranges must ascend within (0, 100]");
        if (r.empty() || r.back() != 100) throw ModelError("", "", "the last IDP profile must reach 100 %");
        for (const IdpVariant& v : net.idp_variants) {
            const int i = net.find(v.population);
            const auto bad = [&](const std::string& what) {
                return ModelError("", v.population, "IDP profile " + std::to_string(v.profile) + "'s weights for '" +
                                                        v.population + "'" + what);
            };
            if (v.profile < 0 || std::size_t(v.profile) + 1 >= r.size())
                throw bad(": no such profile (the last is the network's own weights)");
            if (i < 0) throw bad(": no such population");
            const Population& pop = net.populations[std::size_t(i)];
            if (pop.projections.size() != 1 || pop.projections[0].kind != ProjectionKind::Dense || pop.projections[0].binary ||
                pop.projections[0].quant.scheme != QuantScheme::None)
                throw bad(": a profile's own layer must be a population with one float Dense projection");
            if (v.weights.size() != pop.projections[0].weights.size() || v.bias.size() != std::size_t(pop.shape.c))
                throw bad(": " + std::to_string(v.weights.size()) + " weights and " + std::to_string(v.bias.size()) +
                          " biases, where the population has " + std::to_string(pop.projections[0].weights.size()) + " and " +
                          std::to_string(pop.shape.c));
            for (float w : v.weights)
                if (!std::isfinite(w)) throw bad(": a weight is not finite");
            for (float b : v.bias)
                if (!std::isfinite(b)) throw bad(": a bias is not finite");
        }
    }
}

} // namespace snn
