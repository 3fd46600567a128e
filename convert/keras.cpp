#include "convert/keras.hpp"
#include "snn/idp.hpp"

#include "convert/concat.hpp"
#include "convert/keras_archive.hpp"
#include "snn/binary.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/memory.hpp"
#include "snn/rademacher.hpp"
#include "snn/window.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cfloat>
#include <climits>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace snn {
namespace {

using json = nlohmann::json;

// What a Keras tensor is on our side: either the output of a population
// (spiking, input or max-pool gate: values ≥ 0), or a pending linear
// expression (projections + bias) that becomes a population once a ReLU, the
// end of the model, or a layer that needs spikes is reached.
struct Value {
    Shape shape;          // as the next layer sees it (Flatten makes it (1,1,n))
    int population = -1;  // ≥ 0: a materialized population
    std::vector<Projection> projections;
    std::vector<float> bias; // per channel of `shape`
    std::string name;        // the layer that created the expression
    std::vector<std::string> layers;
    bool nonnegative = false; // a pending expression known to be ≥ 0 (pooling of spikes)
    Shape pooled;             // average pooling: the pooled shape before any flattening
    // Flattened from a channels-first tensor in Keras's (c, h, w) order (a
    // Flatten without data_format=channels_first): the (h, w, c) shape it had,
    // so that the Dense reading it can reorder its kernel rows to (h, w, c).
    bool flat_chw = false;
    Shape flat_from;
    // ZeroPadding2D: zeros around the population (top, bottom, left, right),
    // taken by the convolution that reads it as part of its window's padding.
    int pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;
    bool padded() const { return pad_t || pad_b || pad_l || pad_r; }
    // The Keras tensor's rank with the batch axis: 4 (N, H, W, C), 3 (N, steps,
    // C), held as (1, steps, C), or 2 (N, F), held as (1, 1, F). It tells the
    // channel axis of a Concatenate.
    int rank = 4;
    // Concatenate along the channel axis: no population of its own, but the
    // populations whose channels follow one another, in order. Every part has
    // the spatial size of `shape` (before any Flatten: `flat_from`); a part
    // whose population was flattened counts as (1, 1, its units). The layer
    // reading it takes one projection per part, each with its slice of the
    // kernel, so the sum of a population's inputs does the concatenation.
    using Part = ConcatPart;
    std::vector<Part> parts;
    bool is_concat() const { return !parts.empty(); }

    // Average pooling of a population, not yet made a population of its own.
    bool is_pending_avgpool() const {
        return population < 0 && projections.size() == 1 && projections[0].kind == ProjectionKind::AvgPool;
    }
};

struct LayerRef {
    std::string class_name;
    std::string name;
    json config;
    std::vector<std::string> inputs; // names of the layers feeding it
};

// The output shape and window of a convolution over population shape `s`
// with Keras padding `same` or `valid`, on top of any zeros a ZeroPadding2D
// put around it (`in`'s pads): the window's padding is both.
std::pair<Shape, Window> padded_window(const Shape& s, const Value& in, const std::vector<int>& k, const std::vector<int>& st,
                                       bool same, int channels) {
    const int H = s.h + in.pad_t + in.pad_b, W = s.w + in.pad_l + in.pad_r;
    const Shape out{window_out_size(H, k[0], st[0], same), window_out_size(W, k[1], st[1], same), channels};
    const Window win{k[0], k[1], st[0], st[1], in.pad_t + window_pad_before(H, k[0], st[0], same),
                     in.pad_l + window_pad_before(W, k[1], st[1], same)};
    return {out, win};
}

class KerasImporter {
public:
    KerasImporter(std::string path, const MemoryBudget& budget) : path_(std::move(path)), budget_(budget) {
        if (is_keras_archive_path(path_)) {
            KerasArchive a = open_keras_archive(path_, budget_);
            archive_config_ = std::move(a.config);
            file_ = std::move(a.weights);
        } else {
            file_ = h5::open_file(path_, budget_);
        }
    }

    Network run();
    std::vector<std::string> notes; // what the import did that the user should know, for the conversion log

private:
    std::string path_;
    MemoryBudget budget_;
    h5::Node file_; // the .h5 file, or a .keras archive's model.weights.h5
    std::optional<h5::Node> weights_root_;
    // A Keras 3 .keras archive: its config.json, and per layer name the group
    // of model.weights.h5 that holds its variables (convert/keras_archive.hpp).
    std::optional<std::string> archive_config_;
    std::map<std::string, std::string> archive_vars_;
    Network net_;
    std::map<std::string, Value> values_;
    std::set<std::string> layer_names_; // every layer of the model, to tell a cycle from a dangling input
    // data_format channels_first: every 4-D tensor of the model is (N, C, H, W);
    // the engine holds it as (H, W, C).
    bool channels_first_ = false;
    // backend theano: Conv2D kernels are stored for a true convolution (flipped).
    bool theano_ = false;
    int flipped_ = 0;

    [[noreturn]] void fail(const LayerRef& l, const std::string& why) const {
        throw ModelError(path_, l.name, path_ + ": layer '" + l.name + "' (" + l.class_name + "): " + why);
    }

    // Every population costs at least one float per unit in the DNN pass and
    // the simulator; a shape that needs more than --max-memory is refused here,
    // before anything of its size is allocated. Computed in double: h·w·c of
    // three ints can overflow int64 (Shape::size()).
    void check_population_fits(const Shape& s, const std::string& layer) const {
        const double bytes = double(s.h) * double(s.w) * double(s.c) * double(sizeof(float));
        budget_.check(bytes >= 1.8e19 ? UINT64_MAX : std::uint64_t(bytes),
                             path_ + ": layer '" + layer + "' of shape " + s.str());
    }

    std::vector<LayerRef> read_layers(const json& model_config, std::vector<std::string>& outputs);
    std::vector<std::vector<float>> read_weights(const LayerRef& l, std::vector<std::vector<std::uint64_t>>& dims);
    json read_model_config();
    RademacherStage read_input_stage();
    void read_idp_profiles();
    std::string config_name() const { return archive_config_ ? "config.json" : "model_config"; }
    // Where a .keras archive keeps each layer's variables: layers/<class in
    // snake case>[_n]/vars, numbered per class in the order of model.layers.
    void locate_archive_vars(const std::vector<LayerRef>& layers);
    void import_layer(const LayerRef& l);

    Value& input_value(const LayerRef& l, std::size_t k = 0);
    int materialize(Value& v, const LayerRef& consumer);
    void apply_activation(Value& v, const std::string& act, const LayerRef& l, bool is_output);
    // A ReLU capped at `cap` (ReLU(max_value), relu6): the population gets a clip.
    void bounded_relu(Value& v, double cap, const LayerRef& l);
    void flatten(const LayerRef& l, Value& v);
    void check_layouts(const std::vector<LayerRef>& layers);
    Value dense(const LayerRef& l, Value& in);
    Value conv2d(const LayerRef& l, Value& in);
    // ZeroPadding2D's `padding`: an int, (rows, cols) or ((top, bottom), (left, right)).
    std::array<int, 4> zero_padding(const LayerRef& l);
    // DepthwiseConv2D: a projection of its own kind. SeparableConv2D (a
    // depthwise then a 1x1 pointwise convolution, nothing between them) is one
    // linear map: a Conv2D whose kernel is the two kernels multiplied out.
    Value depthwise(const LayerRef& l, Value& in, bool separable);
    // Larq's QuantDense / QuantConv2D: binarizes the latent kernel in place the
    // way the layer's kernel_quantizer does at inference; returns false for a
    // layer without one (a float layer).
    bool quantize_kernel(const LayerRef& l, std::vector<float>& kernel, std::int64_t outputs) const;
    Value pooling(const LayerRef& l, Value& in, bool max, bool global);
    // Pooling works per channel: pooling a Concatenate is the Concatenate of its parts pooled.
    Value pool_parts(const LayerRef& l, const Value& in, bool max, bool global);
    Value concatenate(const LayerRef& l);
    // UpSampling2D (nearest): a relay population whose units each read the
    // unit they copy with weight 1 (the upsample2d kind); of a Concatenate,
    // one relay per part, as pooling does.
    Value upsample(const LayerRef& l, Value& in);
    // The shape a Concatenate has before any Flatten: its parts' spatial size, all their channels.
    Shape concat_shape(const Value& in) const;
    // Conv1D, MaxPooling1D, AveragePooling1D: the layer as its 2-D twin over
    // (1, steps, channels): every size, stride and dilation (k) becomes (1, k).
    LayerRef as_2d(const LayerRef& l, const Value& in) const;
    bool has_1d_ = false; // the model has 1-D layers: an (N, steps, C) input is held as (1, steps, C)
    void batchnorm(const LayerRef& l, Value& v);

    // Exit heads (BranchyNet): the layers that lead only to an extra output,
    // and, per extra output, the main-network layer it branches from.
    std::set<std::string> head_layers_;
    struct Head {
        std::string output, branch;
        std::vector<const LayerRef*> layers; // from the branch to the output, in order
    };
    std::vector<Head> heads_;
    void find_heads(const std::vector<LayerRef>& layers, const std::vector<std::string>& outputs);
    Exit import_head(const Head& h);

    std::string output_name_;
};

std::string attr_or(const h5::Node& n, const std::string& name) {
    return h5::has_attr(n, name) ? h5::read_string_attr(n, name) : std::string();
}

// A config value the importer cannot use; run() adds the file and the layer.
struct BadConfig : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An integer in [min, INT_MAX] from a layer config. nlohmann's get<int>() on a
// float or an out-of-range integer is undefined behaviour, and a zero or
// negative size or stride would divide by zero or allocate without end later.
int config_int(const json& v, const std::string& key, int min) {
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT_MAX)) ||
        v.get<std::int64_t>() < min || v.get<std::int64_t>() > INT_MAX)
        throw BadConfig("'" + key + "' is " + v.dump() + ", expected an integer >= " + std::to_string(min));
    return int(v.get<std::int64_t>());
}

int config_int(const json& cfg, const std::string& key, int fallback, int min) {
    if (!cfg.contains(key) || cfg.at(key).is_null()) return fallback;
    return config_int(cfg.at(key), key, min);
}

// A pair of positive integers (kernel size, strides, pool size, dilation), or one for both.
std::vector<int> int_pair(const json& cfg, const char* key, int fallback) {
    if (!cfg.contains(key) || cfg.at(key).is_null()) return {fallback, fallback};
    const json& v = cfg.at(key);
    if (v.is_array() && v.size() == 2) return {config_int(v[0], key, 1), config_int(v[1], key, 1)};
    if (v.is_number_integer()) return {config_int(v, key, 1), config_int(v, key, 1)};
    throw BadConfig(std::string("'") + key + "' is " + v.dump() + ", expected one or two positive integers");
}

// Double → float without the undefined behaviour of narrowing a finite double
// beyond float's range: such a value becomes ±infinity, which validate() refuses.
float to_float(double x) {
    if (std::isfinite(x) && std::fabs(x) > double(FLT_MAX)) return x > 0 ? INFINITY : -INFINITY;
    return float(x);
}

Shape shape_from_batch_shape(const json& s) {
    // [null, H, W, C] or [null, F]
    if (!s.is_array() || s.size() < 2) throw ModelError("", "", "input shape is not a list");
    std::vector<int> d;
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (s[i].is_null()) throw ModelError("", "", "input shape has an unknown dimension (None)");
        d.push_back(config_int(s[i], "input shape", 1));
    }
    if (d.size() == 1) return {1, 1, d[0]};
    if (d.size() == 2) return {d[0], d[1], 1};
    if (d.size() == 3) return {d[0], d[1], d[2]};
    throw ModelError("", "", "input of rank " + std::to_string(d.size()) +
                             " is not supported (expected (F) or (H,W,C))");
}

// Keras 3 writes inbound nodes as {"args": [...keras tensors...], "kwargs": {}};
// every tensor carries "keras_history": [layer, node, tensor].
void collect_history(const json& j, std::vector<std::string>& out) {
    if (j.is_object()) {
        if (j.contains("keras_history") && j["keras_history"].is_array()) {
            out.push_back(j.at("keras_history").at(0).get<std::string>());
            return;
        }
        if (j.contains("config")) collect_history(j["config"], out);
        if (j.contains("args")) collect_history(j["args"], out);
        return;
    }
    if (j.is_array())
        for (const auto& e : j) collect_history(e, out);
}

std::vector<std::string> inbound_of(const json& layer) {
    std::vector<std::string> names;
    if (!layer.contains("inbound_nodes")) return names;
    const json& nodes = layer.at("inbound_nodes");
    if (!nodes.is_array() || nodes.empty()) return names;
    if (nodes.size() > 1) {
        const std::string name = layer.at("config").value("name", std::string("?"));
        throw ModelError("", name, "layer '" + name + "' is called more than once (shared layers are not supported)");
    }
    const json& node = nodes[0];
    if (node.is_array()) {
        // Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        for (const auto& t : node)
            if (t.is_array() && !t.empty() && t[0].is_string()) names.push_back(t[0].get<std::string>());
    } else {
        collect_history(node, names);
    }
    return names;
}

std::vector<LayerRef> KerasImporter::read_layers(const json& mc, std::vector<std::string>& outputs) {
    if (!mc.is_object() || !mc.contains("class_name"))
        throw FileError(path_, path_ + ": " + config_name() + " has no class_name");
    // at(), not operator[]: on a const json, [] of a missing key is undefined behaviour.
    const std::string cls = mc.at("class_name").get<std::string>();
    const json& cfg = mc.at("config");
    const json& layers = cfg.is_array() ? cfg : cfg.at("layers");
    std::vector<LayerRef> out;
    if (cls == "Sequential") {
        std::string prev;
        for (const auto& l : layers) {
            LayerRef r{l.at("class_name").get<std::string>(), l.at("config").value("name", std::string()),
                       l.at("config"), {}};
            if (r.class_name != "InputLayer" && prev.empty()) {
                // No InputLayer entry: the first layer carries the input shape.
                json bs = r.config.contains("batch_input_shape") ? r.config["batch_input_shape"]
                          : r.config.contains("batch_shape")     ? r.config["batch_shape"]
                                                                 : json();
                if (bs.is_null()) throw ModelError(path_, "", path_ + ": the model has no input shape");
                out.push_back({"InputLayer", "input", json{{"name", "input"}, {"batch_input_shape", bs}}, {}});
                prev = "input";
            }
            if (!prev.empty()) r.inputs = {prev};
            prev = r.name;
            out.push_back(std::move(r));
        }
        if (!prev.empty()) outputs = {prev};
    } else if (cls == "Functional" || cls == "Model") {
        for (const auto& l : layers) {
            LayerRef r{l.at("class_name").get<std::string>(), l.at("config").value("name", std::string()),
                       l.at("config"), {}};
            if (l.contains("name") && l["name"].is_string()) r.name = l["name"].get<std::string>();
            r.inputs = inbound_of(l);
            out.push_back(std::move(r));
        }
        std::vector<std::string> outs;
        const json ol = cfg.value("output_layers", json::array());
        if (ol.is_array() && !ol.empty() && ol[0].is_string()) {
            outs.push_back(ol[0].get<std::string>()); // a single ["name", 0, 0]
        } else if (ol.is_array()) {
            for (const auto& o : ol)
                if (o.is_array() && !o.empty() && o[0].is_string()) outs.push_back(o[0].get<std::string>());
        }
        outputs = outs;
    } else {
        throw ModelError(path_, "", path_ + ": model class '" + cls +
                                    "' is not supported (expected Sequential or Functional)");
    }
    return out;
}

void KerasImporter::locate_archive_vars(const std::vector<LayerRef>& layers) {
    std::map<std::string, int> seen; // per snake-case class name, the layers of that class so far
    for (const auto& l : layers) {
        const std::string key = keras_snake_case(l.class_name);
        const auto [it, first] = seen.emplace(key, 0);
        if (!first) ++it->second;
        archive_vars_[l.name] = "layers/" + (first ? key : key + "_" + std::to_string(it->second)) + "/vars";
    }
}

std::vector<std::vector<float>> KerasImporter::read_weights(const LayerRef& l,
                                                            std::vector<std::vector<std::uint64_t>>& dims) {
    std::vector<std::vector<float>> w;
    dims.clear();
    std::vector<std::string> names;
    std::optional<h5::Node> group;
    if (archive_config_) {
        // Keras 3 numbers the variables 0, 1, ...: as many as the group holds, every number present.
        const auto it = archive_vars_.find(l.name);
        if (it == archive_vars_.end()) fail(l, "no weights stored for this layer");
        std::string at = it->second;
        if (!h5::exists(file_, at) && h5::exists(file_, "_layer_checkpoint_dependencies")) {
            // Keras 2.13's .keras: what Keras 3's H5Entry falls back to, every "layers" in the path replaced.
            std::string old = at;
            at.clear();
            for (std::size_t k = 0; k < old.size();)
                if (old.compare(k, 6, "layers") == 0) {
                    at += "_layer_checkpoint_dependencies";
                    k += 6;
                } else {
                    at += old[k++];
                }
        }
        if (!h5::exists(file_, at)) fail(l, "no weights stored for this layer (model.weights.h5 has no " + at + ")");
        group = h5::open_group(file_, at);
        const std::size_t n = h5::child_names(*group).size();
        for (std::size_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
        for (const auto& name : names)
            if (!h5::exists(*group, name))
                fail(l, at + " holds " + std::to_string(n) + " entries but no variable '" + name +
                            "' (expected variables numbered 0 to " + std::to_string(n - 1) + ")");
    } else {
        if (!weights_root_ || !h5::exists(*weights_root_, l.name)) fail(l, "no weights stored for this layer");
        group = h5::open_group(*weights_root_, l.name);
        if (h5::has_attr(*group, "weight_names")) names = h5::read_string_list_attr(*group, "weight_names");
    }
    const h5::Node& g = *group;
    for (const auto& n : names) {
        std::vector<std::uint64_t> d;
        if (!h5::exists(g, n)) fail(l, "weight '" + n + "' listed in weight_names is missing");
        w.push_back(h5::read_floats(g, n, &d));
        for (float v : w.back())
            if (!std::isfinite(v))
                fail(l, "weight '" + (archive_config_ ? g.path.substr(1) + "/" : std::string()) + n + "' contains NaN or Inf");
        dims.push_back(std::move(d));
    }
    return w;
}

std::string dims_str(const std::vector<std::uint64_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
    return s + ")";
}

Value& KerasImporter::input_value(const LayerRef& l, std::size_t k) {
    if (k >= l.inputs.size()) fail(l, "has no input");
    auto it = values_.find(l.inputs[k]);
    if (it == values_.end()) {
        // Keras writes layers in topological order, so an input not seen yet
        // either comes later (a cycle, or a file not written by Keras) or does not exist.
        if (layer_names_.count(l.inputs[k]))
            fail(l, "input '" + l.inputs[k] + "' comes after it: the layer graph has a cycle or is out of order");
        fail(l, "input '" + l.inputs[k] + "' is not a layer of this model (a dangling input)");
    }
    return it->second;
}

int KerasImporter::materialize(Value& v, const LayerRef& consumer) {
    if (v.population >= 0) return v.population;
    if (v.is_concat())
        fail(consumer, "reads the Concatenate '" + v.name +
                           "', which has no population of its own; after a Concatenate only Conv2D, QuantConv2D, SeparableConv2D, "
                           "Conv1D, Dense, QuantDense, Flatten, pooling, Concatenate, ZeroPadding2D, UpSampling2D, Dropout and ReLU are supported");
    if (!v.nonnegative)
        fail(consumer, "its input '" + v.name +
                           "' is linear (no ReLU between it and this layer); such a chain cannot be converted to spikes");
    Population p;
    p.name = v.name;
    p.kind = PopulationKind::Spiking;
    p.shape = v.is_pending_avgpool() ? v.pooled : v.shape; // a flattened pooling keeps its (h,w,c)
    check_population_fits(p.shape, v.name);
    p.projections = v.projections;
    p.bias = v.bias;
    p.layers = v.layers;
    net_.populations.push_back(std::move(p));
    v.population = int(net_.populations.size()) - 1;
    v.projections.clear();
    return v.population;
}

void KerasImporter::apply_activation(Value& v, const std::string& act, const LayerRef& l, bool is_output) {
    if (act == "linear" || act.empty()) return;
    if (act == "relu") {
        if (v.population >= 0 || v.is_concat()) return; // spikes are already ≥ 0
        v.nonnegative = true;
        LayerRef self = l;
        materialize(v, self);
        return;
    }
    if (act == "relu6") {
        bounded_relu(v, 6.0, l);
        return;
    }
    if (act == "softmax") {
        if (!is_output) fail(l, "softmax is only supported on the output layer");
        return; // argmax is kept, the softmax itself is dropped
    }
    fail(l, "activation '" + act + "' cannot be converted to IF/LIF neurons (supported: relu, relu6, linear, softmax on the output)");
}

void KerasImporter::bounded_relu(Value& v, double cap, const LayerRef& l) {
    if (!(cap > 0) || !std::isfinite(cap)) fail(l, "max_value " + std::to_string(cap) + " is not a positive number");
    if (v.population < 0) {
        v.nonnegative = true;
        materialize(v, l);
    }
    Population& p = net_.populations[std::size_t(v.population)];
    if (p.kind != PopulationKind::Spiking)
        fail(l, "caps the output of '" + p.name + "' (" + to_string(p.kind) +
                    "), which has no neurons of its own; put the bounded ReLU right after a Conv2D/Dense/Add");
    const float m = to_float(cap);
    if (p.clip.empty()) p.clip.assign(std::size_t(p.shape.c), m);
    for (float& c : p.clip) c = std::min(c, m);
    p.layers.push_back(l.name);
    std::ostringstream note;
    note << p.name << ": bounded ReLU (max_value " << cap << ", layer '" << l.name
         << "'): lambda <= " << cap << ", so the rate code's one spike per step is the cap";
    notes.push_back(note.str());
}

// Keras flattens a channels-first tensor in (c, h, w) order unless the layer
// says data_format=channels_first (Keras ≥ 2.1 then permutes to (h, w, c)
// first); the engine's order is (h, w, c).
void KerasImporter::flatten(const LayerRef& l, Value& v) {
    const Shape s = v.is_pending_avgpool() ? v.pooled : v.shape;
    const bool chw = channels_first_ && l.config.value("data_format", std::string()) != "channels_first" && s.c > 1 &&
                     s.size() > s.c; // with one channel, or 1x1, both orders are the same
    if (s.size() > INT_MAX) fail(l, "flattens " + s.str() + ", more than " + std::to_string(INT_MAX) + " units");
    v.flat_chw = chw;
    v.flat_from = s;
    v.shape = {1, 1, int(v.shape.size())};
    v.rank = 2;
}

// One layout for the whole model: a channels-first model is converted to
// channels-last as a whole, so a layer that disagrees is refused.
void KerasImporter::check_layouts(const std::vector<LayerRef>& layers) {
    const LayerRef* first = nullptr;
    for (const auto& l : layers)
        if (l.config.is_object() && l.config.contains("data_format") && l.config["data_format"].is_string() &&
            l.config["data_format"].get<std::string>() == "channels_first") {
            first = &l;
            break;
        }
    if (!first) return;
    for (const auto& l : layers) {
        if (l.class_name == "Flatten" || !l.config.is_object() || !l.config.contains("data_format")) continue;
        const json& f = l.config["data_format"];
        if (!f.is_string() || (f.get<std::string>() != "channels_first" && f.get<std::string>() != "channels_last"))
            fail(l, "data_format " + f.dump() + " is not channels_first or channels_last");
        if (f.get<std::string>() == "channels_last")
            fail(l, "data_format channels_last in a model whose layer '" + first->name +
                        "' is channels_first; a model must use one layout");
    }
    channels_first_ = true;
}

namespace {
// A Larq quantizer as written in a layer config: null, a name ("ste_sign"),
// or a serialized object ({"class_name": "SteSign", "config": {...}}).
std::string quantizer_name(const json& c, const char* key) {
    if (!c.contains(key) || c[key].is_null()) return "";
    const json& q = c[key];
    if (q.is_string()) return q.get<std::string>();
    if (q.is_object() && q.contains("class_name") && q["class_name"].is_string()) return q["class_name"].get<std::string>();
    throw BadConfig(std::string(key) + " is neither a name nor a serialized quantizer");
}
} // namespace

bool KerasImporter::quantize_kernel(const LayerRef& l, std::vector<float>& kernel, std::int64_t outputs) const {
    if (l.class_name != "QuantDense" && l.class_name != "QuantConv2D") return false;
    const std::string in_q = quantizer_name(l.config, "input_quantizer");
    if (!in_q.empty())
        fail(l, "input_quantizer '" + in_q + "' binarizes the activations (a fully binary DNN); snn converts "
                "binary-weight layers whose inputs are ReLU activations, which become spikes. Train without an input quantizer");
    const std::string q = quantizer_name(l.config, "kernel_quantizer");
    if (q.empty()) return false; // no kernel quantizer: an ordinary float layer
    // Every sign quantizer of Larq computes sign(w) with sign(0) = +1 in the
    // forward pass (they differ only in their gradients); MagnitudeAwareSign
    // (Bi-Real Net) multiplies it by the mean |w| of each output channel.
    const bool plain = q == "ste_sign" || q == "SteSign" || q == "approx_sign" || q == "ApproxSign" ||
                       q == "swish_sign" || q == "SwishSign";
    const bool magnitude = q == "magnitude_aware_sign" || q == "MagnitudeAwareSign";
    if (!plain && !magnitude)
        fail(l, "kernel_quantizer '" + q + "' is not supported (supported: ste_sign, approx_sign, swish_sign, "
                "magnitude_aware_sign: weights in {-1,+1}, or scaled per output channel)");
    const auto n = std::size_t(outputs);
    std::vector<double> mean(n, 1.0);
    if (magnitude) {
        std::fill(mean.begin(), mean.end(), 0.0);
        for (std::size_t k = 0; k < kernel.size(); ++k) mean[k % n] += std::fabs(double(kernel[k]));
        for (double& m : mean) m /= double(kernel.size() / n);
    }
    for (std::size_t k = 0; k < kernel.size(); ++k) {
        const float a = float(mean[k % n]);
        kernel[k] = kernel[k] >= 0 ? a : -a;
    }
    return true;
}

Value KerasImporter::dense(const LayerRef& l, Value& in) {
    if (!(in.shape.h == 1 && in.shape.w == 1))
        fail(l, "input of shape " + in.shape.str() + " is not flat (add a Flatten layer)");
    // A binary layer keeps the pooling as a layer of its own: folding the pool
    // into it would multiply its fan-in (and its bits) by the pool's area.
    const bool quantized = l.class_name == "QuantDense" && !quantizer_name(l.config, "kernel_quantizer").empty();
    const bool fold_pool = in.is_pending_avgpool() && !quantized;
    const int src = fold_pool || in.is_concat() ? (fold_pool ? in.projections[0].source : -1) : materialize(in, l);
    const int units = config_int(l.config.at("units"), "units", 1);
    const bool use_bias = l.config.value("use_bias", true);
    std::vector<std::vector<std::uint64_t>> dims;
    auto w = read_weights(l, dims);
    if (w.size() != (use_bias ? 2u : 1u)) fail(l, "expected " + std::to_string(use_bias ? 2 : 1) + " weight arrays, found " + std::to_string(w.size()));
    const std::uint64_t n_in = std::uint64_t(in.shape.size());
    if (dims[0] != std::vector<std::uint64_t>{n_in, std::uint64_t(units)})
        fail(l, "kernel shape " + dims_str(dims[0]) + " disagrees with the layer (" + std::to_string(n_in) + "," +
                    std::to_string(units) + ")");
    if (use_bias && dims[1] != std::vector<std::uint64_t>{std::uint64_t(units)})
        fail(l, "bias shape " + dims_str(dims[1]) + " disagrees with units " + std::to_string(units));
    if (in.flat_chw && !in.is_concat()) {
        // Keras's row c·H·W + y·W + x is the engine's row (y·W + x)·C + c.
        const Shape f = in.flat_from;
        const std::size_t U = std::size_t(units), HW = std::size_t(f.h) * std::size_t(f.w), C = std::size_t(f.c);
        std::vector<float> rows(w[0].size());
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t yx = 0; yx < HW; ++yx)
                std::copy_n(w[0].data() + (c * HW + yx) * U, U, rows.data() + (yx * C + c) * U);
        w[0] = std::move(rows);
    }
    const bool binary = quantize_kernel(l, w[0], units);
    Value v;
    v.shape = {1, 1, units};
    v.rank = 2;
    if (in.is_concat()) {
        // One projection per part (convert/concat.hpp); Keras's kernel rows are
        // channels-last, or (C, H, W) after a channels_first Flatten.
        const Shape f = concat_shape(in);
        add_dense_parts(v.projections, in.parts, std::size_t(f.h) * std::size_t(f.w), in.flat_chw, w[0],
                        std::size_t(units), l.name, binary);
        v.layers = {l.name};
    } else if (fold_pool) {
        // Dense after average pooling is one linear map: fold the pooling into the
        // kernel instead of adding a layer of IF neurons (each one more rounding of
        // the rate code). Source unit u feeds pooled unit o with weight a, so its
        // kernel row is Σ_o a·W[o]. The DNN computes exactly the same function.
        const Projection& pool = in.projections[0];
        const Shape s = net_.populations[std::size_t(src)].shape, p = in.pooled;
        const Window& win = pool.window;
        std::vector<float> folded(std::size_t(s.size()) * std::size_t(units), 0.0f);
        const auto n_units = std::size_t(units);
        for (int oy = 0; oy < p.h; ++oy)
            for (int ox = 0; ox < p.w; ++ox)
                for_each_tap(win, s, oy, ox, [&](int y, int x, int, int) {
                    for (int c = 0; c < p.c; ++c) {
                        const float* row = w[0].data() + std::size_t((oy * p.w + ox) * p.c + c) * n_units;
                        float* dst = folded.data() + std::size_t((y * s.w + x) * s.c + c) * n_units;
                        const float a = pool.weights[std::size_t(c)];
                        for (std::size_t j = 0; j < n_units; ++j) dst[j] += a * row[j];
                    }
                });
        v.projections.push_back({src, ProjectionKind::Dense, {}, std::move(folded), l.name});
        v.layers = in.layers;
        v.layers.push_back(l.name);
    } else {
        v.projections.push_back({src, ProjectionKind::Dense, {}, std::move(w[0]), l.name});
        v.projections.back().binary = binary;
        v.layers = {l.name};
    }
    v.bias = use_bias ? std::move(w[1]) : std::vector<float>(std::size_t(units), 0.0f);
    v.name = l.name;
    return v;
}

std::array<int, 4> KerasImporter::zero_padding(const LayerRef& l) {
    const json p = l.config.contains("padding") ? l.config["padding"] : json(1);
    const auto amount = [&](const json& x) {
        if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() > 1 << 16)
            fail(l, "padding " + p.dump() + ": expected non-negative integers");
        return int(x.get<std::int64_t>());
    };
    if (p.is_number()) {
        const int a = amount(p);
        return {a, a, a, a};
    }
    if (!p.is_array() || p.size() != 2) fail(l, "padding " + p.dump() + ": expected an int, (rows, cols) or ((top, bottom), (left, right))");
    std::array<int, 4> out{};
    for (std::size_t d = 0; d < 2; ++d) {
        const json& q = p[d];
        if (q.is_array()) {
            if (q.size() != 2) fail(l, "padding " + p.dump() + ": expected pairs (before, after)");
            out[2 * d] = amount(q[0]);
            out[2 * d + 1] = amount(q[1]);
        } else {
            out[2 * d] = out[2 * d + 1] = amount(q);
        }
    }
    return out;
}

Value KerasImporter::conv2d(const LayerRef& l, Value& in) {
    const json& c = l.config;
    if (int_pair(c, "dilation_rate", 1) != std::vector<int>{1, 1}) fail(l, "dilated convolutions are not supported");
    if (config_int(c, "groups", 1, 1) != 1) fail(l, "grouped convolutions are not supported");
    if ((in.is_concat() && in.rank == 2) || (in.shape.h == 1 && in.shape.w == 1 && in.population >= 0 &&
                         !(net_.populations[std::size_t(in.population)].shape == in.shape)))
        fail(l, "input was flattened");
    const int src = in.is_concat() ? -1 : materialize(in, l);
    const Shape s = in.is_concat() ? concat_shape(in) : net_.populations[std::size_t(src)].shape;
    const int filters = config_int(c.at("filters"), "filters", 1);
    const auto k = int_pair(c, "kernel_size", 1);
    const auto st = int_pair(c, "strides", 1);
    const std::string padding = c.value("padding", std::string("valid"));
    if (padding != "valid" && padding != "same") fail(l, "padding '" + padding + "' is not supported");
    const bool same = padding == "same";
    // Larq's QuantConv2D may pad with another value than 0 (pad_values); padding
    // units carry no spikes, so only 0 converts.
    if (c.contains("pad_values") && !c["pad_values"].is_null()) {
        if (!c["pad_values"].is_number()) fail(l, "pad_values is not a number");
        const double pv = c["pad_values"].get<double>();
        if (same && pv != 0.0)
            fail(l, "pad_values " + std::to_string(pv) + ": padding with a value other than 0 cannot be converted (spiking inputs in the padding do not exist)");
    }
    const bool use_bias = c.value("use_bias", true);
    std::vector<std::vector<std::uint64_t>> dims;
    auto w = read_weights(l, dims);
    if (w.size() != (use_bias ? 2u : 1u)) fail(l, "expected " + std::to_string(use_bias ? 2 : 1) + " weight arrays, found " + std::to_string(w.size()));
    // Conv1D's kernel is (k, in, out): the same values as (1, k, in, out).
    const std::vector<std::uint64_t> want =
        l.class_name == "Conv1D"
            ? std::vector<std::uint64_t>{std::uint64_t(k[1]), std::uint64_t(s.c), std::uint64_t(filters)}
            : std::vector<std::uint64_t>{std::uint64_t(k[0]), std::uint64_t(k[1]), std::uint64_t(s.c), std::uint64_t(filters)};
    if (dims[0] != want) fail(l, "kernel shape " + dims_str(dims[0]) + " disagrees with the layer " + dims_str(want));
    if (use_bias && dims[1] != std::vector<std::uint64_t>{std::uint64_t(filters)})
        fail(l, "bias shape " + dims_str(dims[1]) + " disagrees with filters " + std::to_string(filters));
    if (theano_ && l.class_name == "Conv2D") {
        // Theano convolves (the kernel flipped), TensorFlow and snn correlate:
        // Keras's loader flips the stored kernel, k[::-1, ::-1], for Conv2D.
        const std::size_t kh = std::size_t(k[0]), kw = std::size_t(k[1]), io = std::size_t(s.c) * std::size_t(filters);
        std::vector<float> flipped(w[0].size());
        for (std::size_t y = 0; y < kh; ++y)
            for (std::size_t x = 0; x < kw; ++x)
                std::copy_n(w[0].data() + (y * kw + x) * io, io, flipped.data() + ((kh - 1 - y) * kw + (kw - 1 - x)) * io);
        w[0] = std::move(flipped);
        ++flipped_;
    }
    Value v;
    const auto [out, win] = padded_window(s, in, k, st, same, filters);
    v.shape = out;
    if (v.shape.h < 1 || v.shape.w < 1) fail(l, "kernel larger than its input " + in.shape.str());
    const bool binary = quantize_kernel(l, w[0], filters);
    if (in.is_concat()) {
        add_conv_parts(v.projections, in.parts, ProjectionKind::Conv2D, win, w[0], std::size_t(k[0]) * std::size_t(k[1]),
                       std::size_t(filters), l.name, binary);
    } else {
        v.projections.push_back({src, ProjectionKind::Conv2D, win, std::move(w[0]), l.name});
        v.projections.back().binary = binary;
    }
    v.bias = use_bias ? std::move(w[1]) : std::vector<float>(std::size_t(filters), 0.0f);
    v.name = l.name;
    v.layers = {l.name};
    return v;
}

Value KerasImporter::depthwise(const LayerRef& l, Value& in, bool separable) {
    const json& c = l.config;
    if (int_pair(c, "dilation_rate", 1) != std::vector<int>{1, 1}) fail(l, "dilated convolutions are not supported");
    if ((in.is_concat() && in.rank == 2) || (in.shape.h == 1 && in.shape.w == 1 && in.population >= 0 &&
                         !(net_.populations[std::size_t(in.population)].shape == in.shape)))
        fail(l, "input was flattened");
    // A depthwise convolution of a Concatenate would need the output channels
    // of each part at an offset, which no projection kind has.
    if (in.is_concat() && !separable)
        fail(l, "reads the Concatenate '" + in.name + "'; a DepthwiseConv2D after a Concatenate is not supported "
                "(a SeparableConv2D or Conv2D is)");
    const int src = in.is_concat() ? -1 : materialize(in, l);
    const Shape s = in.is_concat() ? concat_shape(in) : net_.populations[std::size_t(src)].shape;
    const int M = config_int(c, "depth_multiplier", 1, 1);
    const auto k = int_pair(c, "kernel_size", 1);
    const auto st = int_pair(c, "strides", 1);
    const std::string padding = c.value("padding", std::string("valid"));
    if (padding != "valid" && padding != "same") fail(l, "padding '" + padding + "' is not supported");
    const bool same = padding == "same";
    const bool use_bias = c.value("use_bias", true);
    const int out_c = separable ? config_int(c.at("filters"), "filters", 1) : s.c * M;
    std::vector<std::vector<std::uint64_t>> dims;
    auto w = read_weights(l, dims);
    const std::size_t arrays = (separable ? 2u : 1u) + (use_bias ? 1u : 0u);
    if (w.size() != arrays) fail(l, "expected " + std::to_string(arrays) + " weight arrays, found " + std::to_string(w.size()));
    const auto u = [](int x) { return std::uint64_t(x); };
    const std::vector<std::uint64_t> want{u(k[0]), u(k[1]), u(s.c), u(M)};
    if (dims[0] != want) fail(l, "depthwise kernel shape " + dims_str(dims[0]) + " disagrees with the layer " + dims_str(want));
    if (separable && dims[1] != std::vector<std::uint64_t>{1, 1, u(s.c * M), u(out_c)})
        fail(l, "pointwise kernel shape " + dims_str(dims[1]) + " disagrees with the layer " +
                    dims_str({1, 1, u(s.c * M), u(out_c)}));
    if (use_bias && dims.back() != std::vector<std::uint64_t>{u(out_c)})
        fail(l, "bias shape " + dims_str(dims.back()) + " disagrees with " + std::to_string(out_c) + " output channels");
    Value v;
    const auto [out, win] = padded_window(s, in, k, st, same, out_c);
    v.shape = out;
    if (v.shape.h < 1 || v.shape.w < 1) fail(l, "kernel larger than its input " + in.shape.str());
    if (!separable) {
        // (kh, kw, in, M) read flat is (kh, kw, in·M): the depthwise kind's own layout.
        v.projections.push_back({src, ProjectionKind::DepthwiseConv2D, win, std::move(w[0]), l.name});
    } else {
        // K[tap, c, o] = Σ_m D[tap, c, m] · P[c·M + m, o], summed in double.
        const std::size_t taps = std::size_t(k[0]) * std::size_t(k[1]), C = std::size_t(s.c), O = std::size_t(out_c);
        std::vector<float> kernel(taps * C * O);
        std::vector<double> acc(O);
        for (std::size_t t = 0; t < taps; ++t)
            for (std::size_t ci = 0; ci < C; ++ci) {
                std::fill(acc.begin(), acc.end(), 0.0);
                for (std::size_t m = 0; m < std::size_t(M); ++m) {
                    const double d = w[0][(t * C + ci) * std::size_t(M) + m];
                    const float* row = w[1].data() + (ci * std::size_t(M) + m) * O;
                    for (std::size_t o = 0; o < O; ++o) acc[o] += d * row[o];
                }
                for (std::size_t o = 0; o < O; ++o) kernel[(t * C + ci) * O + o] = to_float(acc[o]);
            }
        if (in.is_concat()) {
            add_conv_parts(v.projections, in.parts, ProjectionKind::Conv2D, win, kernel, taps, O, l.name);
        } else {
            v.projections.push_back({src, ProjectionKind::Conv2D, win, std::move(kernel), l.name});
        }
    }
    v.bias = use_bias ? std::move(w.back()) : std::vector<float>(std::size_t(out_c), 0.0f);
    v.name = l.name;
    v.layers = {l.name};
    return v;
}

Value KerasImporter::pooling(const LayerRef& l, Value& in, bool max, bool global) {
    const json& c = l.config;
    if (in.is_concat()) return pool_parts(l, in, max, global);
    if (in.population < 0 && !in.nonnegative)
        fail(l, "pooling is applied before the activation; put the ReLU before the pooling layer");
    const int src = materialize(in, l);
    const Shape s = net_.populations[std::size_t(src)].shape;
    if (in.shape.h == 1 && in.shape.w == 1 && !(s == in.shape)) fail(l, "input was flattened");
    std::vector<int> k{s.h, s.w}, st{s.h, s.w};
    bool same = false;
    if (!global) {
        k = int_pair(c, "pool_size", 2);
        st = c.contains("strides") && !c["strides"].is_null() ? int_pair(c, "strides", k[0]) : k;
        const std::string padding = c.value("padding", std::string("valid"));
        if (padding != "valid" && padding != "same") fail(l, "padding '" + padding + "' is not supported");
        same = padding == "same";
    }
    Value v;
    v.shape = {window_out_size(s.h, k[0], st[0], same), window_out_size(s.w, k[1], st[1], same), s.c};
    if (v.shape.h < 1 || v.shape.w < 1) fail(l, "pool larger than its input " + s.str());
    Window win{k[0], k[1], st[0], st[1], window_pad_before(s.h, k[0], st[0], same), window_pad_before(s.w, k[1], st[1], same)};
    v.name = l.name;
    v.layers = {l.name};
    if (max) {
        Population p;
        p.name = l.name;
        p.kind = PopulationKind::MaxPool;
        p.shape = v.shape;
        check_population_fits(p.shape, l.name);
        p.projections.push_back({src, ProjectionKind::MaxPool, win, {}, l.name});
        p.layers = {l.name};
        net_.populations.push_back(std::move(p));
        v.population = int(net_.populations.size()) - 1;
    } else {
        if (win.pad_top || win.pad_left || (v.shape.h - 1) * st[0] + k[0] != s.h || (v.shape.w - 1) * st[1] + k[1] != s.w) {
            if (same) fail(l, "average pooling with 'same' padding that pads the input is not supported");
        }
        v.projections.push_back(
            {src, ProjectionKind::AvgPool, win, std::vector<float>(std::size_t(s.c), 1.0f / float(k[0] * k[1])), l.name});
        v.bias.assign(std::size_t(s.c), 0.0f);
        v.nonnegative = true;
        v.pooled = v.shape;
    }
    v.rank = in.rank;
    if (global) {
        v.shape = {1, 1, s.c};
        v.rank = 2;
    }
    return v;
}

Value KerasImporter::pool_parts(const LayerRef& l, const Value& in, bool max, bool global) {
    if (in.rank == 2) fail(l, "input was flattened");
    Value v;
    v.name = l.name;
    v.layers = {l.name};
    v.nonnegative = true;
    v.shape.c = 0;
    std::map<int, int> pooled_of; // a population concatenated twice is pooled once
    for (const auto& part : in.parts) {
        if (auto it = pooled_of.find(part.population); it != pooled_of.end()) {
            v.parts.push_back({it->second, part.channels});
            v.shape.c += part.channels;
            continue;
        }
        // Copies: pooling adds populations, which may move the one read here.
        const std::string from = net_.populations[std::size_t(part.population)].name;
        Value pv;
        pv.population = part.population;
        pv.shape = net_.populations[std::size_t(part.population)].shape;
        pv.rank = in.rank;
        Value pooled = pooling(l, pv, max, global);
        const std::string name = l.name + "." + from; // one population per part, named for both (no "/": NIR node names are HDF5 groups)
        if (!max) {
            pooled.name = name;
            materialize(pooled, l); // an average of spikes: IF neurons, as before any layer that is not a Dense
        }
        net_.populations[std::size_t(pooled.population)].name = name;
        pooled_of[part.population] = pooled.population;
        v.parts.push_back({pooled.population, pooled.shape.c});
        v.shape = {pooled.shape.h, pooled.shape.w, v.shape.c + pooled.shape.c};
        v.rank = pooled.rank;
    }
    return v;
}

Value KerasImporter::upsample(const LayerRef& l, Value& in) {
    const json& c = l.config;
    const json interp = c.contains("interpolation") ? c["interpolation"] : json("nearest");
    if (!interp.is_string() || interp.get<std::string>() != "nearest")
        fail(l, "interpolation " + interp.dump() + " cannot be converted (only \"nearest\", where each unit copies one "
                "spiking unit; an interpolated unit would need a projection of interpolation weights, which snn does not have)");
    const auto f = int_pair(c, "size", 2);
    if (in.rank != 4 || (in.population >= 0 && !(net_.populations[std::size_t(in.population)].shape == in.shape)))
        fail(l, "input of shape " + in.shape.str() + " is not an image (height, width, channels)");
    const auto relay = [&](int src, const std::string& name) {
        const Shape s = net_.populations[std::size_t(src)].shape;
        const double h = double(s.h) * f[0], w = double(s.w) * f[1];
        if (h > INT_MAX || w > INT_MAX) fail(l, "size " + c.value("size", json(2)).dump() + " makes the image too large");
        Population p;
        p.name = name;
        p.kind = PopulationKind::Spiking;
        p.shape = {int(h), int(w), s.c};
        check_population_fits(p.shape, name);
        p.projections.push_back({src, ProjectionKind::Upsample2D, {}, std::vector<float>(std::size_t(s.c), 1.0f), l.name});
        p.bias.assign(std::size_t(s.c), 0.0f);
        p.layers = {l.name};
        net_.populations.push_back(std::move(p));
        return int(net_.populations.size()) - 1;
    };
    Value v;
    v.name = l.name;
    v.layers = {l.name};
    v.rank = 4;
    if (!in.is_concat()) {
        v.population = relay(materialize(in, l), l.name);
        v.shape = net_.populations[std::size_t(v.population)].shape;
        return v;
    }
    // Nearest upsampling works per channel: of a Concatenate, the Concatenate of its parts upsampled.
    std::map<int, int> relayed; // a population concatenated twice is upsampled once
    v.nonnegative = true;
    for (const auto& part : in.parts) {
        auto it = relayed.find(part.population);
        if (it == relayed.end())
            it = relayed.emplace(part.population, relay(part.population, l.name + "." + net_.populations[std::size_t(part.population)].name)).first;
        v.parts.push_back({it->second, part.channels});
    }
    const Shape s = net_.populations[std::size_t(v.parts[0].population)].shape;
    v.shape = {s.h, s.w, in.shape.c};
    return v;
}

Shape KerasImporter::concat_shape(const Value& in) const {
    const Shape& first = net_.populations[std::size_t(in.parts.at(0).population)].shape;
    int c = 0;
    for (const auto& part : in.parts) c += part.channels;
    // A part that is a flattened population counts as (1, 1, its units).
    if (in.parts.at(0).channels != first.c) return {1, 1, c};
    return {first.h, first.w, c};
}

Value KerasImporter::concatenate(const LayerRef& l) {
    if (l.inputs.size() < 2) fail(l, "needs at least two inputs");
    const json& c = l.config;
    const int ax = config_int(c.contains("axis") ? c.at("axis") : json(-1), "axis", INT_MIN);
    Value v;
    v.name = l.name;
    v.layers = {l.name};
    v.nonnegative = true;
    for (std::size_t k = 0; k < l.inputs.size(); ++k) {
        Value& in = input_value(l, k);
        const std::string& from = l.inputs[k];
        if (k == 0) v.rank = in.rank;
        else if (in.rank != v.rank) fail(l, "inputs have different ranks (" + std::to_string(v.rank) + " and " + std::to_string(in.rank) + ")");
        const int channel_axis = channels_first_ && in.rank == 4 ? 1 : in.rank - 1;
        if ((ax < 0 ? ax + in.rank : ax) != channel_axis)
            fail(l, "axis " + std::to_string(ax) + " is not the channel axis (" + std::to_string(channel_axis) +
                        (channels_first_ && in.rank == 4 ? "" : " or -1") +
                        "); concatenation along height, width or steps is not supported");
        if (in.flat_chw) fail(l, "input '" + from + "' was flattened in channels_first (c, h, w) order; not supported");
        if (in.rank == 3 && in.shape.h != 1)
            fail(l, "input '" + from + "' is (steps, channels) in a model without 1-D layers; not supported");
        std::vector<Value::Part> parts;
        if (in.is_concat()) {
            if (in.rank == 2 && !(concat_shape(in).h == 1 && concat_shape(in).w == 1))
                fail(l, "input '" + from + "' is a flattened Concatenate; not supported");
            parts = in.parts;
        } else {
            const int pop = materialize(in, l);
            if (in.rank != 2 && !(net_.populations[std::size_t(pop)].shape == in.shape))
                fail(l, "input '" + from + "' of shape " + in.shape.str() + " is not a population of its own");
            parts = {{pop, in.shape.c}};
        }
        if (k == 0) v.shape = {in.shape.h, in.shape.w, 0};
        else if (in.shape.h != v.shape.h || in.shape.w != v.shape.w)
            fail(l, "inputs have different sizes " + v.shape.str() + " and " + in.shape.str() +
                        " outside the channel axis");
        for (const auto& part : parts) {
            v.parts.push_back(part);
            v.shape.c += part.channels;
        }
    }
    return v;
}

LayerRef KerasImporter::as_2d(const LayerRef& l, const Value& in) const {
    const json& c = l.config;
    if (c.contains("data_format") && c["data_format"].is_string() && c["data_format"].get<std::string>() != "channels_last")
        fail(l, "data_format " + c["data_format"].dump() + ": 1-D layers are supported channels_last (steps, channels) only");
    if (in.rank != 3 || in.shape.h != 1) fail(l, "input of shape " + in.shape.str() + " is not (steps, channels)");
    LayerRef r = l;
    for (const char* key : {"kernel_size", "strides", "dilation_rate", "pool_size"}) {
        if (!c.contains(key) || c[key].is_null()) continue;
        const json& x = c[key];
        if (x.is_array() && x.size() == 1) r.config[key] = json::array({1, x[0]});
        else if (x.is_number_integer()) r.config[key] = json::array({1, x});
        else throw BadConfig(std::string("'") + key + "' is " + x.dump() + ", expected one positive integer");
    }
    // Keras's 1-D pooling default is pool_size 2 (its strides default to the pool size, as in 2-D).
    if (l.class_name.find("Pool") != std::string::npos && (!c.contains("pool_size") || c["pool_size"].is_null()))
        r.config["pool_size"] = json::array({1, 2});
    return r;
}

void KerasImporter::batchnorm(const LayerRef& l, Value& v) {
    if (v.population >= 0)
        fail(l, "follows an activation or the input; only a BatchNormalization right after Conv2D/Dense/Add can be folded");
    const json& c = l.config;
    json axis = c.value("axis", json(-1));
    if (axis.is_array()) {
        if (axis.size() != 1) fail(l, "normalizes over several axes");
        axis = axis[0];
    }
    const int ax = config_int(axis, "axis", INT_MIN);
    const bool flat = v.shape.h == 1 && v.shape.w == 1;
    // Channels-last (N, H, W, C): axis -1 or 3; channels-first (N, C, H, W): axis 1; flat (N, F): 1 or -1.
    const bool channel_axis = flat ? (ax == -1 || ax == 1) : channels_first_ ? ax == 1 : (ax == -1 || ax == 3);
    if (!channel_axis)
        fail(l, "axis " + std::to_string(ax) + " is not the channel axis (" +
                    (flat ? "1 or -1" : channels_first_ ? "1 for channels_first" : "3 or -1") + ")");
    if (v.flat_chw) fail(l, "normalizes a tensor flattened in channels_first (c, h, w) order; not supported");
    const bool center = c.value("center", true), scale = c.value("scale", true);
    const double eps = c.value("epsilon", 1e-3);
    std::vector<std::vector<std::uint64_t>> dims;
    auto w = read_weights(l, dims);
    const std::size_t want = std::size_t(center) + std::size_t(scale) + 2;
    if (w.size() != want) fail(l, "expected " + std::to_string(want) + " weight arrays, found " + std::to_string(w.size()));
    const std::size_t C = std::size_t(v.shape.c);
    for (std::size_t i = 0; i < w.size(); ++i)
        if (w[i].size() != C) fail(l, "weight " + std::to_string(i) + " has " + std::to_string(w[i].size()) + " values, expected " + std::to_string(C));
    std::size_t k = 0;
    std::vector<float> gamma = scale ? w[k++] : std::vector<float>(C, 1.0f);
    std::vector<float> beta = center ? w[k++] : std::vector<float>(C, 0.0f);
    const std::vector<float>& mean = w[k++];
    const std::vector<float>& var = w[k++];
    // y = γ·(x − μ)/√(σ² + ε) + β = s·x + (β − s·μ), with s = γ/√(σ² + ε):
    // scale every weight feeding channel j by s_j, and b_j ← s_j·b_j + β_j − s_j·μ_j.
    std::vector<double> s(C);
    for (std::size_t j = 0; j < C; ++j) {
        if (var[j] < 0) fail(l, "moving_variance is negative");
        s[j] = double(gamma[j]) / std::sqrt(double(var[j]) + eps);
    }
    // Every kind stores its weights with the target channel last (snn/kind.hpp): weight i feeds channel i mod C.
    for (auto& p : v.projections) {
        if (p.kind == ProjectionKind::MaxPool) throw InternalError("batchnorm: max pooling in a linear expression");
        for (std::size_t i = 0; i < p.weights.size(); ++i) p.weights[i] = to_float(p.weights[i] * s[i % C]);
    }
    for (std::size_t j = 0; j < C; ++j) v.bias[j] = to_float(s[j] * v.bias[j] + beta[j] - s[j] * mean[j]);
    v.layers.push_back(l.name);
}

void KerasImporter::import_layer(const LayerRef& l) {
    const std::string& cls = l.class_name;
    const bool is_output = l.name == output_name_;
    if (cls == "InputLayer") {
        json bs = l.config.contains("batch_input_shape") ? l.config["batch_input_shape"]
                  : l.config.contains("batch_shape")     ? l.config["batch_shape"]
                                                         : json();
        if (bs.is_null()) fail(l, "no input shape");
        Population p;
        p.name = l.name;
        p.kind = PopulationKind::Input;
        try {
            p.shape = shape_from_batch_shape(bs);
        } catch (const std::runtime_error& e) { // Error or BadConfig
            fail(l, e.what());
        }
        if (channels_first_ && bs.size() == 4) {
            p.shape = {p.shape.w, p.shape.c, p.shape.h}; // (C, H, W) read as (h, w, c) → (H, W, C)
            net_.input_layout = InputLayout::ChannelsFirst;
        }
        // (N, steps, C) read by 1-D layers: a 2-D tensor of height 1. The data
        // file's (N, steps, C) holds the same values in the same order.
        if (has_1d_ && bs.size() == 3) p.shape = {1, p.shape.h, p.shape.w};
        check_population_fits(p.shape, l.name);
        p.layers = {l.name};
        net_.populations.push_back(std::move(p));
        Value v;
        v.shape = net_.populations.back().shape;
        v.population = int(net_.populations.size()) - 1;
        v.name = l.name;
        v.rank = int(bs.size());
        values_[l.name] = v;
        return;
    }
    if (l.inputs.size() != 1 && cls != "Add" && cls != "Concatenate")
        fail(l, "expects one input, has " + std::to_string(l.inputs.size()));
    // A Concatenate is read by a layer that takes one projection per part
    // (or passes the parts on); anything else is refused here, naming both.
    static const std::set<std::string> reads_concat = {
        "Conv2D", "QuantConv2D", "SeparableConv2D", "SeparableConvolution2D", "Conv1D", "Dense", "QuantDense", "Flatten",
        "DepthwiseConv2D", // refused by depthwise(), which says why
        "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "MaxPooling1D",
        "MaxPool1D", "AveragePooling1D", "AvgPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D", "Concatenate",
        "ZeroPadding2D", "UpSampling2D", "Dropout", "SpatialDropout2D", "GaussianDropout", "AlphaDropout", "Activation", "ReLU"};
    for (std::size_t k = 0; k < l.inputs.size(); ++k)
        if (input_value(l, k).is_concat() && !reads_concat.count(cls))
            fail(l, "reads the Concatenate '" + l.inputs[k] +
                        "', which has no population of its own; after a Concatenate only Conv2D, QuantConv2D, "
                        "SeparableConv2D, Conv1D, Dense, QuantDense, Flatten, pooling, Concatenate, ZeroPadding2D, "
                        "UpSampling2D, Dropout and ReLU are supported");
    // Zeros put around an input by ZeroPadding2D are read by the convolution
    // after it as its window's padding; nothing else reads them.
    static const std::set<std::string> reads_padding = {"Conv2D", "QuantConv2D", "DepthwiseConv2D", "SeparableConv2D",
                                                        "SeparableConvolution2D", "ZeroPadding2D", "Dropout",
                                                        "SpatialDropout2D", "GaussianDropout", "AlphaDropout"};
    for (std::size_t k = 0; k < l.inputs.size(); ++k)
        if (input_value(l, k).padded() && !reads_padding.count(cls))
            fail(l, "reads the zero padding of '" + l.inputs[k] +
                        "' (ZeroPadding2D): only a convolution after it is supported, which takes the zeros as its padding");
    Value v;
    if (cls == "Dense" || cls == "QuantDense") {
        v = dense(l, input_value(l));
        apply_activation(v, l.config.value("activation", std::string("linear")), l, is_output);
    } else if (cls == "Conv2D" || cls == "QuantConv2D") {
        v = conv2d(l, input_value(l));
        apply_activation(v, l.config.value("activation", std::string("linear")), l, is_output);
    } else if (cls == "DepthwiseConv2D" || cls == "SeparableConv2D" || cls == "SeparableConvolution2D") {
        v = depthwise(l, input_value(l), cls != "DepthwiseConv2D");
        apply_activation(v, l.config.value("activation", std::string("linear")), l, is_output);
    } else if (cls == "AveragePooling2D" || cls == "AvgPool2D") {
        v = pooling(l, input_value(l), false, false);
    } else if (cls == "GlobalAveragePooling2D") {
        if (l.config.value("keepdims", false)) fail(l, "keepdims=True is not supported");
        v = pooling(l, input_value(l), false, true);
    } else if (cls == "MaxPooling2D" || cls == "MaxPool2D") {
        v = pooling(l, input_value(l), true, false);
    } else if (cls == "Concatenate") {
        v = concatenate(l);
    } else if (cls == "UpSampling2D") {
        v = upsample(l, input_value(l));
    } else if (cls == "Conv1D") {
        Value& src = input_value(l);
        const LayerRef l2 = as_2d(l, src);
        if (!src.is_concat()) materialize(src, l);
        Value in = src; // a copy: causal padding is added to it, not to the layer it reads
        const json& c = l2.config;
        const std::string padding = c.value("padding", std::string("valid"));
        std::vector<std::string> bad;
        if (int_pair(c, "dilation_rate", 1)[1] != 1)
            bad.push_back("dilation_rate " + l.config.at("dilation_rate").dump() + " (only 1)");
        if (config_int(c, "groups", 1, 1) != 1) bad.push_back("groups " + l.config.at("groups").dump() + " (only 1)");
        if (padding != "valid" && padding != "same" && padding != "causal")
            bad.push_back("padding '" + padding + "' (valid, same or causal)");
        if (!bad.empty()) {
            std::string msg = "cannot be converted: ";
            for (std::size_t i = 0; i < bad.size(); ++i) msg += (i ? ", " : "") + bad[i];
            fail(l, msg);
        }
        LayerRef l3 = l2;
        if (padding == "causal") {
            // Keras pads a causal convolution with k − 1 zeros before the first
            // step and none after, then convolves 'valid': the window's padding.
            if (in.padded()) fail(l, "causal padding of a zero-padded input is not supported");
            in.pad_l = int_pair(c, "kernel_size", 1)[1] - 1;
            l3.config["padding"] = "valid";
        }
        v = conv2d(l3, in);
        v.rank = 3;
        apply_activation(v, l.config.value("activation", std::string("linear")), l, is_output);
    } else if (cls == "MaxPooling1D" || cls == "MaxPool1D" || cls == "AveragePooling1D" || cls == "AvgPool1D") {
        Value& in = input_value(l);
        v = pooling(as_2d(l, in), in, cls.rfind("Max", 0) == 0, false);
        v.rank = 3;
    } else if (cls == "GlobalAveragePooling1D" || cls == "GlobalAvgPool1D") {
        Value& in = input_value(l);
        if (l.config.value("keepdims", false)) fail(l, "keepdims=True is not supported");
        v = pooling(as_2d(l, in), in, false, true);
    } else if (cls == "ZeroPadding2D") {
        Value& src = input_value(l);
        if ((src.is_concat() && src.rank == 2) || (src.shape.h == 1 && src.shape.w == 1 && src.population >= 0 &&
            !(net_.populations[std::size_t(src.population)].shape == src.shape)))
            fail(l, "input was flattened");
        if (!src.is_concat()) materialize(src, l); // zeros around spikes: the population must exist
        v = src;
        const auto [t, b, left, right] = zero_padding(l);
        v.pad_t += t;
        v.pad_b += b;
        v.pad_l += left;
        v.pad_r += right;
        v.shape = {v.shape.h + t + b, v.shape.w + left + right, v.shape.c};
        check_population_fits(v.shape, l.name);
    } else if (cls == "Flatten") {
        Value& src = input_value(l);
        if (!src.is_pending_avgpool() && !src.is_concat()) materialize(src, l); // pooling stays pending: a Dense may fold it
        v = src;
        flatten(l, v);
        if (v.population < 0) v.layers.push_back(l.name);
        // The population keeps its (h,w,c) shape: channels-last flattening keeps every unit's index.
    } else if (cls == "Dropout" || cls == "SpatialDropout2D" || cls == "GaussianDropout" || cls == "AlphaDropout") {
        v = input_value(l);
    } else if (cls == "BatchNormalization") {
        v = input_value(l);
        batchnorm(l, v);
    } else if (cls == "Activation") {
        v = input_value(l);
        apply_activation(v, l.config.value("activation", std::string("linear")), l, is_output);
    } else if (cls == "ReLU" || cls == "ReLU6" || cls == "LeakyReLU") {
        // Every parameter that cannot be converted is named in one line.
        const json& c = l.config;
        auto num = [&](const char* k) -> std::optional<double> {
            if (!c.contains(k) || c[k].is_null()) return std::nullopt;
            if (!c[k].is_number()) throw BadConfig(std::string("'") + k + "' is " + c[k].dump() + ", expected a number");
            return c[k].get<double>();
        };
        std::vector<std::string> bad;
        auto shown = [](const char* k, double x) {
            std::ostringstream o;
            o << k << "=" << x;
            return o.str();
        };
        // Keras 2's LeakyReLU calls its slope alpha, Keras 3's negative_slope; both default to 0.3.
        const char* slope_key = cls == "LeakyReLU" && c.contains("alpha") ? "alpha" : "negative_slope";
        const double slope = num(slope_key).value_or(cls == "LeakyReLU" ? 0.3 : 0.0);
        if (slope != 0.0) bad.push_back(shown(slope_key, slope) + " (a leaky ReLU: spike rates are never negative)");
        if (auto x = num("threshold"); x && *x != 0.0)
            bad.push_back(shown("threshold", *x) + " (a thresholded ReLU: IF neurons integrate from 0)");
        std::optional<double> cap = cls == "ReLU6" ? std::optional<double>(6.0) : num("max_value");
        if (cap && !(*cap > 0)) bad.push_back(shown("max_value", *cap) + " (must be > 0)");
        if (!bad.empty()) {
            std::string msg = "cannot be converted: ";
            for (std::size_t i = 0; i < bad.size(); ++i) msg += (i ? ", " : "") + bad[i];
            fail(l, msg);
        }
        v = input_value(l);
        if (cap) bounded_relu(v, *cap, l);
        else apply_activation(v, "relu", l, is_output);
    } else if (cls == "Softmax") {
        if (!is_output) fail(l, "softmax is only supported on the output layer");
        v = input_value(l);
    } else if (cls == "Add") {
        if (l.inputs.size() < 2) fail(l, "needs at least two inputs");
        v.name = l.name;
        v.layers = {l.name};
        for (std::size_t k = 0; k < l.inputs.size(); ++k) {
            const Value& in = input_value(l, k);
            if (k == 0) {
                v.shape = in.shape;
                v.rank = in.rank;
                v.bias.assign(std::size_t(in.shape.c), 0.0f);
            } else if (!(in.shape == v.shape)) {
                fail(l, "inputs have different shapes " + v.shape.str() + " and " + in.shape.str());
            }
            if (in.population >= 0) {
                if (!(net_.populations[std::size_t(in.population)].shape == in.shape)) fail(l, "adds a flattened tensor");
                v.projections.push_back(
                    {in.population, ProjectionKind::Identity, {}, std::vector<float>(std::size_t(in.shape.c), 1.0f), l.name});
            } else {
                for (const auto& p : in.projections) v.projections.push_back(p);
                for (std::size_t j = 0; j < v.bias.size(); ++j) v.bias[j] += in.bias[j];
                for (const auto& n : in.layers) v.layers.push_back(n);
            }
        }
    } else if (cls == "Lambda") {
        fail(l, "Lambda layers hold Python code, which cannot be converted; rebuild the model with built-in layers");
    } else {
        fail(l, "this layer type is not supported (supported: InputLayer, Dense, Conv2D, Conv1D, DepthwiseConv2D, SeparableConv2D, QuantDense, "
                "QuantConv2D, AveragePooling2D, AveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling1D, MaxPooling2D, MaxPooling1D, "
                "ZeroPadding2D, UpSampling2D (nearest), Flatten, BatchNormalization, Activation, ReLU (max_value allowed), Dropout, Add, Concatenate (channel axis), "
                "Softmax)");
    }
    values_[l.name] = std::move(v);
}

json KerasImporter::read_model_config() {
    if (archive_config_) {
        try {
            return json::parse(*archive_config_);
        } catch (const json::exception& e) {
            throw FileError(path_, path_ + ": config.json is not valid JSON (" + std::string(e.what()) + ")");
        }
    }
    if (!h5::has_attr(file_, "model_config")) {
        if (h5::has_attr(file_, "layer_names"))
            throw FileError(path_, path_ + ": holds only weights (save_weights); the model architecture is missing — "
                                           "save the whole model");
        if (h5::has_attr(file_, "format") && attr_or(file_, "format") == "snn-network")
            throw FileError(path_, path_ + ": is already an snn network file; use it with `snn run` directly");
        throw FileError(path_, path_ + ": not a Keras model (no 'model_config' attribute)");
    }
    try {
        return json::parse(h5::read_string_attr(file_, "model_config"));
    } catch (const json::exception& e) {
        throw FileError(path_, path_ + ": model_config is not valid JSON (" + std::string(e.what()) + ")");
    }
}

Network KerasImporter::run() {
    const json mc = read_model_config();
    if (archive_config_) {
        // read_weights() looks in the groups locate_archive_vars() names.
    } else if (h5::exists(file_, "model_weights")) {
        weights_root_ = h5::open_group(file_, "model_weights");
    } else if (h5::has_attr(file_, "layer_names")) {
        weights_root_ = h5::open_group(file_, "/");
    }

    std::vector<std::string> outputs;
    std::vector<LayerRef> layers;
    try {
        layers = read_layers(mc, outputs);
    } catch (const ModelError& e) {
        throw ModelError(path_, e.context.layer, e.what()); // the same message, now naming the file
    } catch (const json::exception& e) {
        throw FileError(path_, path_ + ": " + config_name() + " is not a Keras model description (" + std::string(e.what()) +
                               ")");
    }
    if (outputs.empty()) throw ModelError(path_, "", path_ + ": the model has no output");
    if (archive_config_) locate_archive_vars(layers);
    net_.source = path_;
    theano_ = !archive_config_ && attr_or(file_, "backend") == "theano";
    try {
        check_layouts(layers);
    } catch (const json::exception& e) {
        throw FileError(path_, path_ + ": " + config_name() + " is not a Keras model description (" + std::string(e.what()) + ")");
    }
    for (const auto& l : layers) {
        layer_names_.insert(l.name);
        static const std::set<std::string> one_d = {"Conv1D", "MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D",
                                                    "GlobalAveragePooling1D", "GlobalAvgPool1D"};
        has_1d_ = has_1d_ || one_d.count(l.class_name) > 0;
    }
    std::set<std::string> seen;
    for (const auto& l : layers) {
        if (l.name.empty()) throw ModelError(path_, "", path_ + ": a layer of class " + l.class_name + " has no name");
        if (!seen.insert(l.name).second) fail(l, "a second layer has this name; layer names must be unique");
    }
    find_heads(layers, outputs);
    for (const auto& l : layers) {
        if (head_layers_.count(l.name)) continue; // imported as an exit once the main network is built
        try {
            import_layer(l);
        } catch (const json::exception& e) {
            fail(l, std::string("malformed layer config (") + e.what() + ")");
        } catch (const BadConfig& e) {
            fail(l, e.what());
        }
    }
    auto it = values_.find(output_name_);
    if (it == values_.end())
        throw ModelError(path_, output_name_, path_ + ": output layer '" + output_name_ + "' not found");
    Value& out = it->second;
    if (out.population < 0) {
        out.nonnegative = true; // the output is read by argmax, a linear layer is fine here
        materialize(out, LayerRef{"", output_name_, {}, {}});
    }
    if (out.population == 0) throw ModelError(path_, output_name_, path_ + ": the model has no layers after its input");
    if (std::size_t(out.population) + 1 != net_.populations.size())
        throw ModelError(path_, output_name_, path_ + ": layers after the output '" + output_name_ +
                                              "' are not supported");
    if (!(net_.output().shape.h == 1 && net_.output().shape.w == 1))
        throw ModelError(path_, output_name_, path_ + ": the output layer '" + output_name_ + "' is not flat " +
                                              net_.output().shape.str());
    for (const Head& h : heads_) {
        try {
            net_.exits.push_back(import_head(h));
        } catch (const json::exception& e) {
            throw ModelError(path_, h.output, path_ + ": exit head '" + h.output + "': malformed layer config (" +
                                              e.what() + ")");
        } catch (const BadConfig& e) {
            throw ModelError(path_, h.output, path_ + ": exit head '" + h.output + "': " + e.what());
        }
    }
    if (channels_first_)
        notes.push_back("data_format channels_first: converted to channels-last; an HDF5 data file for this network is read as (N, C, H, W)");
    if (theano_)
        notes.push_back("backend theano: flipped the kernels of " + std::to_string(flipped_) +
                        " Conv2D layer(s) spatially (k[::-1, ::-1]), as Keras does when it loads a Theano file");
    try {
        pack_binary(net_);
    } catch (const Error& e) {
        throw ModelError(path_, e.context.layer, path_ + ": " + e.what());
    }
    try {
        validate(net_);
    } catch (const ModelError& e) {
        throw ModelError(path_, e.context.layer, e.what()); // the same message, now naming the file
    }
    if (!archive_config_ && h5::has_attr(file_, "snn_input_stage")) net_.input_stage = read_input_stage();
    if (!archive_config_ && h5::has_attr(file_, "snn_idp_ranges")) read_idp_profiles();
    // An IDP profile recorded by tools/train_reference.py (docs/dynamic-cost.md):
    // root attribute snn_idp_profile names it; the kernels are the trained w,
    // and γ is folded into them here.
    if (!archive_config_ && h5::has_attr(file_, "snn_idp_profile")) {
        const std::string name = h5::read_string_attr(file_, "snn_idp_profile");
        std::vector<std::string> profiled;
        try {
            profiled = attach_idp_profile(net_, idp_profile_from(name, "snn_idp_profile"), path_ + ": snn_idp_profile");
        } catch (const Error& e) {
            throw ModelError(path_, e.context.layer, std::string(e.what()).rfind(path_, 0) == 0 ? e.what() : path_ + ": attribute " + e.what());
        }
        if (profiled.empty())
            throw ModelError(path_, "", path_ + ": attribute snn_idp_profile '" + name +
                                            "' but the model has no dense or conv2d layer after the first");
        std::string list;
        for (const auto& l : profiled) list += (list.empty() ? "" : ", ") + l;
        notes.push_back("IDP profile " + name + " (attribute snn_idp_profile), coefficients folded into " + list);
    }
    return std::move(net_);
}

// 003 section III's multiple IDP profiles, as tools/train_reference.py
// records them (docs/dynamic-cost.md): root attribute snn_idp_ranges, the
// whole-percent upper ends of the profiles' ranges (ascending, the last 100),
// and for each profile k but the last the groups snn_idp_variants/k/LAYER
// with datasets kernel and bias of a Dense layer, in that layer's Keras
// layout: the profile's own first and last layer. The model's own weights
// are the last profile's.
void KerasImporter::read_idp_profiles() {
    if (!h5::has_attr(file_, "snn_idp_profile"))
        throw ModelError(path_, "", path_ + ": attribute snn_idp_ranges without snn_idp_profile");
    std::vector<std::int64_t> ranges;
    try {
        ranges = h5::read_int_list_attr(file_, "snn_idp_ranges");
    } catch (const Error&) {
        throw ModelError(path_, "", path_ + ": attribute snn_idp_ranges must be whole percentages, e.g. [30, 100]");
    }
    for (const std::int64_t r : ranges) net_.idp_ranges.push_back(double(r));
    if (net_.input_layout != InputLayout::ChannelsLast)
        throw ModelError(path_, "", path_ + ": several IDP profiles are read for channels-last models only");
    std::string own;
    for (std::size_t k = 0; k + 1 < net_.idp_ranges.size(); ++k) {
        const std::string group = "snn_idp_variants/" + std::to_string(k);
        if (!h5::exists(file_, group))
            throw ModelError(path_, "", path_ + ": snn_idp_ranges names " + std::to_string(net_.idp_ranges.size()) +
                                            " profiles but there is no " + group);
        for (const std::string& layer : h5::child_names(h5::open_group(file_, group))) {
            const int i = net_.find(layer);
            // A plain Dense population: one projection from that layer, nothing folded into it.
            if (i < 0 || net_.populations[std::size_t(i)].projections.size() != 1 ||
                net_.populations[std::size_t(i)].projections[0].kind != ProjectionKind::Dense ||
                net_.populations[std::size_t(i)].projections[0].layer != layer ||
                net_.populations[std::size_t(i)].layers != std::vector<std::string>{layer})
                throw ModelError(path_, layer, path_ + ": " + group + "/" + layer +
                                                   ": a profile's own layer must be a Dense layer of the model with "
                                                   "nothing folded into it");
            IdpVariant v;
            v.profile = int(k);
            v.population = layer;
            std::vector<std::uint64_t> kd, bd;
            v.weights = h5::read_floats(file_, group + "/" + layer + "/kernel", &kd);
            v.bias = h5::read_floats(file_, group + "/" + layer + "/bias", &bd);
            const Population& pop = net_.populations[std::size_t(i)];
            const std::uint64_t in = std::uint64_t(net_.populations[std::size_t(pop.projections[0].source)].shape.size()),
                                out = std::uint64_t(pop.shape.c);
            if (kd != std::vector<std::uint64_t>{in, out} || bd != std::vector<std::uint64_t>{out})
                throw ModelError(path_, layer, path_ + ": " + group + "/" + layer + ": kernel " + dims_str(kd) + " and bias " +
                                                   dims_str(bd) + ", expected (" + std::to_string(in) + "," +
                                                   std::to_string(out) + ") and (" + std::to_string(out) + ")");
            own += (own.empty() ? "" : ", ") + layer;
            net_.idp_variants.push_back(std::move(v));
        }
        own += " up to " + std::to_string(int(net_.idp_ranges[k])) + " %; ";
    }
    try {
        validate(net_);
    } catch (const ModelError& e) {
        throw ModelError(path_, e.context.layer, path_ + ": snn_idp_ranges: " + e.what());
    }
    notes.push_back("IDP profiles: " + own + "the model's own weights up to 100 % (attributes snn_idp_ranges, "
                    "snn_idp_variants)");
}

// A compressive-sensing input stage recorded by tools/train_reference.py
// --cs-rd (docs/compressive-sensing.md): root attributes snn_input_stage =
// "rademacher", snn_input_stage_seed, snn_input_stage_rd and
// snn_input_stage_raw_shape; the model's input is the rd measurements.
RademacherStage KerasImporter::read_input_stage() {
    const std::string kind = h5::read_string_attr(file_, "snn_input_stage");
    if (kind != "rademacher")
        throw ModelError(path_, "", path_ + ": attribute 'snn_input_stage' is '" + kind + "'; the one stage is 'rademacher'");
    for (const char* attr : {"snn_input_stage_seed", "snn_input_stage_rd", "snn_input_stage_raw_shape"})
        if (!h5::has_attr(file_, attr))
            throw ModelError(path_, "", path_ + ": the rademacher input stage has no attribute '" + attr + "'");
    RademacherStage st;
    st.seed = std::uint64_t(h5::read_int_attr(file_, "snn_input_stage_seed"));
    st.rd = h5::read_int_attr(file_, "snn_input_stage_rd");
    const auto raw = h5::read_int_list_attr(file_, "snn_input_stage_raw_shape");
    if (raw.size() != 3 || std::any_of(raw.begin(), raw.end(), [](std::int64_t d) { return d < 1 || d > INT_MAX; }))
        throw ModelError(path_, "", path_ + ": attribute 'snn_input_stage_raw_shape' is not [h, w, c] of positive sizes");
    st.raw = {int(raw[0]), int(raw[1]), int(raw[2])};
    check_rademacher(st.rd, st.pixels(), path_);
    if (st.rd != net_.input().shape.size())
        throw ModelError(path_, "", path_ + ": snn_input_stage_rd " + std::to_string(st.rd) + " but the model's input has " +
                                        std::to_string(net_.input().shape.size()) + " values");
    notes.push_back("compressive-sensing input stage: rademacher, seed " + std::to_string(st.seed) + ", " +
                    std::to_string(st.pixels()) + " pixels -> rd " + std::to_string(st.rd));
    return st;
}

// With several outputs, the deepest (the one that depends on the most layers
// with weights; of equal ones, the last in the layer list) is the network's output; each other output is an exit head: the chain of layers that leads
// only to it, from the last layer it shares with the main network.
void KerasImporter::find_heads(const std::vector<LayerRef>& layers, const std::vector<std::string>& outputs) {
    std::map<std::string, const LayerRef*> by_name;
    std::map<std::string, std::size_t> order;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        by_name[layers[i].name] = &layers[i];
        order[layers[i].name] = i;
    }
    for (const auto& o : outputs)
        if (!by_name.count(o)) throw ModelError(path_, o, path_ + ": output layer '" + o + "' not found");
    // Every layer an output depends on (itself included).
    const auto ancestors = [&](const std::string& o) {
        std::set<std::string> seen;
        std::vector<std::string> todo{o};
        while (!todo.empty()) {
            const std::string n = todo.back();
            todo.pop_back();
            if (!seen.insert(n).second || !by_name.count(n)) continue;
            for (const auto& in : by_name[n]->inputs) todo.push_back(in);
        }
        return seen;
    };
    // Depth: the number of layers with weights (Dense, convolutions, Larq's) an output depends on.
    std::map<std::string, int> depth;
    for (const auto& o : outputs)
        for (const auto& n : ancestors(o)) {
            const std::string& cls = by_name.count(n) ? by_name[n]->class_name : std::string();
            depth[o] += cls == "Dense" || cls.find("Conv") != std::string::npos ? 1 : 0;
        }
    output_name_ = *std::max_element(outputs.begin(), outputs.end(), [&](const std::string& a, const std::string& b) {
        return std::pair(depth[a], order[a]) < std::pair(depth[b], order[b]);
    });
    const std::set<std::string> main = ancestors(output_name_);
    for (const auto& o : outputs) {
        if (o == output_name_) continue;
        if (main.count(o))
            throw ModelError(path_, o, path_ + ": output '" + o + "' feeds the main output '" + output_name_ + "'");
        Head h;
        h.output = o;
        for (std::string n = o; !main.count(n);) {
            const LayerRef* l = by_name.count(n) ? by_name[n] : nullptr;
            if (!l)
                throw ModelError(path_, o, path_ + ": exit head '" + o + "': input '" + n +
                                           "' is not a layer of this model");
            if (l->inputs.size() != 1)
                fail(*l, "an exit head must be a chain of single-input layers (exit '" + o + "')");
            if (head_layers_.count(n)) fail(*l, "is shared by two exit heads");
            h.layers.insert(h.layers.begin(), l);
            head_layers_.insert(n);
            n = l->inputs[0];
            h.branch = n;
        }
        heads_.push_back(std::move(h));
    }
}

// An exit head must be a linear classifier on the branch's activations:
// Flatten, GlobalAveragePooling2D and Dropout, then one Dense (softmax or
// linear), then optionally a Softmax. Its classifier is kept in DNN units
// (logits = W^T·a + b on the activations a of the population it reads);
// normalization turns it into one on firing rates.
Exit KerasImporter::import_head(const Head& h) {
    Value v = values_.at(h.branch); // a copy: the main network keeps its own
    if (v.is_concat())
        fail(*h.layers.front(), "the exit head '" + h.output + "' starts from the Concatenate '" + h.branch +
                                    "'; branch off after a layer with a population of its own");
    if (v.population < 0 && !v.is_pending_avgpool())
        fail(*h.layers.front(), "the exit head '" + h.output + "' starts from '" + h.branch +
                                    "', which is linear; branch off after a ReLU or a pooling layer");
    bool classified = false;
    Exit e;
    e.name = h.output;
    e.threshold = 0.0f; // never confident until set (snn exits place / add)
    for (const LayerRef* lp : h.layers) {
        const LayerRef& l = *lp;
        const std::string& cls = l.class_name;
        const std::string act = l.config.value("activation", std::string("linear"));
        if (classified) {
            if (cls == "Softmax" || (cls == "Activation" && act == "softmax")) continue;
            fail(l, "follows the exit head's classifier; only a softmax may (exit '" + h.output + "')");
        }
        if (cls == "Dropout") continue;
        if (cls == "Flatten") {
            flatten(l, v); // channels-last: every unit keeps its index
            continue;
        }
        if (cls == "GlobalAveragePooling2D") {
            if (v.population < 0) fail(l, "pools a pooling that has no population of its own (exit '" + h.output + "')");
            v = pooling(l, v, false, true);
            continue;
        }
        if (cls != "Dense")
            fail(l, "exit heads are linear classifiers: Flatten, GlobalAveragePooling2D, Dropout, one Dense, Softmax (exit '" +
                        h.output + "')");
        if (act != "softmax" && act != "linear") fail(l, "the exit head's Dense must be linear or softmax, not " + act);
        if (!(v.shape.h == 1 && v.shape.w == 1)) fail(l, "input of shape " + v.shape.str() + " is not flat (add a Flatten layer)");
        Value d = dense(l, v);
        if (d.shape.c != net_.output().shape.c)
            fail(l, "has " + std::to_string(d.shape.c) + " classes but the network's output '" + output_name_ + "' has " +
                        std::to_string(net_.output().shape.c));
        const Projection& p = d.projections.at(0);
        e.at = net_.populations[std::size_t(p.source)].name;
        e.weights = p.weights;
        e.bias = d.bias;
        classified = true;
    }
    if (!classified)
        throw ModelError(path_, h.output, path_ + ": exit head '" + h.output + "' has no Dense classifier");
    return e;
}

} // namespace

Network import_keras(const std::string& path, const MemoryBudget& budget) { return KerasImporter(path, budget).run(); }

Network import_keras(const std::string& path, std::vector<std::string>& notes, const MemoryBudget& budget) {
    KerasImporter importer(path, budget);
    Network net = importer.run();
    notes.insert(notes.end(), importer.notes.begin(), importer.notes.end());
    return net;
}

} // namespace snn
