#include "convert/onnx.hpp"

#include "snn/error.hpp"

#if SNN_WITH_ONNX

#include "convert/concat.hpp"
#include "snn/memory.hpp"
#include "snn/window.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace snn {
namespace {

// A tensor known at import time: an initializer, a Constant node's value, or
// shape arithmetic on them. Floats for weights, integers for shapes and axes.
struct Constant {
    std::vector<std::int64_t> dims;
    bool integer = false;
    std::vector<float> f;
    std::vector<std::int64_t> i;
    std::int64_t numel() const { return integer ? std::int64_t(i.size()) : std::int64_t(f.size()); }
};

// What an activation tensor is on our side, as in the Keras importer: the
// output of a population (spiking, input or max-pool gate: values ≥ 0), or a
// pending linear expression (projections + bias) that becomes a population
// at a Relu, at the output, or where a layer needs spikes.
struct Value {
    Shape shape;   // as the next node sees it, channels-last; a flat tensor is (1,1,n)
    bool flat = false; // an ONNX (N, F) tensor; otherwise (N, C, H, W)
    // A flat tensor made by Flatten/Reshape of an NCHW tensor of this (h,w,c)
    // shape: its ONNX element order is (c, h, w), the engine's is (h, w, c).
    Shape chw;
    bool from_chw = false;
    int population = -1;
    std::vector<Projection> projections;
    std::vector<float> bias; // per channel of `shape`
    std::string name;
    std::vector<std::string> layers;
    bool nonnegative = false;
    bool pure_pool = false; // exactly an average pooling of a population, nothing added or scaled
    Shape pooled;           // average pooling: the pooled shape before any flattening
    // Zero padding (top, left, bottom, right) of a Pad node, not yet applied:
    // the Conv or pooling that reads it adds it to its own pads.
    std::vector<std::int64_t> pad;
    // A Concat of activations along the channel axis: no population of its
    // own, its parts in order (convert/concat.hpp); `shape` has all their channels.
    std::vector<ConcatPart> parts;
    bool is_concat() const { return !parts.empty(); }

    bool is_pending_avgpool() const {
        return population < 0 && pure_pool && projections.size() == 1 &&
               projections[0].kind == ProjectionKind::AvgPool;
    }
};

std::string dims_str(const std::vector<std::int64_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
    return s + ")";
}

// Double → float without the undefined behaviour of narrowing beyond float's range.
float to_float(double x) {
    if (std::isfinite(x) && std::fabs(x) > double(FLT_MAX)) return x > 0 ? INFINITY : -INFINITY;
    return float(x);
}

const char* const supported_ops =
    "Gemm, MatMul, Add, Conv, BatchNormalization, Relu, Clip(0, M), AveragePool, MaxPool, GlobalAveragePool, "
    "Flatten, Reshape, Pad (zeros), Softmax (output), Identity, Dropout, Constant, Shape, Gather, Unsqueeze, Concat (channel "
    "axis, or shapes)";

// What may read a Concat of activations: a layer that takes one projection per
// part, or passes the parts on.
const char* const concat_readers = "Conv (group 1), Relu, Clip(0, +inf), Concat, MaxPool, AveragePool, GlobalAveragePool, "
                                   "Flatten or Reshape then Gemm or MatMul, Identity, Dropout";

class OnnxImporter {
public:
    OnnxImporter(std::string path, const MemoryBudget& budget) : path_(std::move(path)), budget_(budget) {}
    Network run();

private:
    using Node = onnx::NodeProto;
    std::string path_;
    MemoryBudget budget_;
    onnx::ModelProto model_;
    Network net_;
    std::map<std::string, Constant> constants_;
    std::map<std::string, Value> values_;
    std::set<std::string> graph_outputs_;
    std::set<std::string> population_names_;
    int opset_ = 0;

    static std::string node_label(const Node& n) {
        return n.name().empty() ? (n.output_size() ? "output " + n.output(0) : std::string("?")) : n.name();
    }
    // Names come from the file: a control character in one would break the one-line message.
    static std::string one_line(std::string s) {
        for (char& c : s)
            if ((unsigned char)c < 0x20 || c == 0x7f) c = '?';
        return s;
    }
    [[noreturn]] void fail(const Node& n, const std::string& why) const {
        throw ModelError(path_, node_label(n),
                         one_line(path_ + ": node '" + node_label(n) + "' (" + n.op_type() + "): " + why));
    }
    [[noreturn]] void fail_file(const std::string& why) const { throw FileError(path_, one_line(path_ + ": " + why)); }

    void check_population_fits(const Shape& s, const std::string& layer) const {
        const double bytes = double(s.h) * double(s.w) * double(s.c) * double(sizeof(float));
        budget_.check(bytes >= 1.8e19 ? UINT64_MAX : std::uint64_t(bytes),
                             one_line(path_ + ": node '" + layer + "' of shape " + s.str()));
    }

    Constant tensor(const onnx::TensorProto& t, const std::string& what) const;
    void read_input(const onnx::ValueInfoProto& in);
    void import_node(const Node& n);

    // Attributes.
    const onnx::AttributeProto* attr(const Node& n, const std::string& name) const;
    std::int64_t attr_int(const Node& n, const std::string& name, std::int64_t fallback) const;
    float attr_float(const Node& n, const std::string& name, float fallback) const;
    std::vector<std::int64_t> attr_ints(const Node& n, const std::string& name) const;
    std::string attr_string(const Node& n, const std::string& name, const std::string& fallback) const;

    bool is_constant(const std::string& name) const { return constants_.count(name) > 0; }
    const Constant& constant_input(const Node& n, int k, const std::string& what) const;
    Value& value_input(const Node& n, int k);
    bool has_input(const Node& n, int k) const { return n.input_size() > k && !n.input(k).empty(); }

    static std::string module_name(const Node& n); // "/features/0/Conv" → "features.0"
    std::string layer_name(const Node& n);          // module_name, made unique among the populations
    int materialize(Value& v, const Node& consumer);
    Value dense(const Node& n, Value& in, const std::vector<float>& weights_in_out, std::int64_t units,
                std::vector<float> bias);
    Value gemm(const Node& n);
    Value matmul(const Node& n);
    Value conv(const Node& n);
    Value pooling(const Node& n, Value& in, bool max, bool global);
    // Pooling works per channel: pooling a Concat is the Concat of its parts pooled.
    Value pool_parts(const Node& n, const Value& in, bool max, bool global);
    Value concat(const Node& n);
    void batchnorm(const Node& n, Value& v);
    Value add(const Node& n);
    Value flatten(const Node& n, Value in);
    Window window(const Node& n, const Shape& s, int kh, int kw, const std::vector<std::int64_t>& extra, Shape& out);
    Value pad(const Node& n);
    void shape_op(const Node& n);
    void bounded_relu(const Node& n, const Value& v, float cap);

public:
    std::vector<std::string> notes;
};

// Clip(0, M): the population's units are capped at M in the DNN pass, and its λ
// is at most M, so the rate code's one spike per step is the cap (as the Keras
// importer does for ReLU(max_value=M)).
void OnnxImporter::bounded_relu(const Node& n, const Value& v, float cap) {
    Population& p = net_.populations[std::size_t(v.population)];
    if (p.kind != PopulationKind::Spiking)
        fail(n, "caps the output of '" + p.name + "' (" + to_string(p.kind) +
                    "), which has no neurons of its own; put the Clip right after a Conv/Gemm/Add");
    if (p.clip.empty()) p.clip.assign(std::size_t(p.shape.c), cap);
    for (float& c : p.clip) c = std::min(c, cap);
    p.layers.push_back(module_name(n));
    std::ostringstream note;
    note << p.name << ": bounded ReLU (Clip max " << cap << ", node '" << node_label(n) << "'): lambda <= " << cap
         << ", so the rate code's one spike per step is the cap";
    notes.push_back(note.str());
}

const onnx::AttributeProto* OnnxImporter::attr(const Node& n, const std::string& name) const {
    for (const auto& a : n.attribute())
        if (a.name() == name) return &a;
    return nullptr;
}

std::int64_t OnnxImporter::attr_int(const Node& n, const std::string& name, std::int64_t fallback) const {
    const auto* a = attr(n, name);
    if (!a) return fallback;
    if (a->type() != onnx::AttributeProto::INT) fail(n, "attribute '" + name + "' is not an integer");
    return a->i();
}

float OnnxImporter::attr_float(const Node& n, const std::string& name, float fallback) const {
    const auto* a = attr(n, name);
    if (!a) return fallback;
    if (a->type() != onnx::AttributeProto::FLOAT) fail(n, "attribute '" + name + "' is not a float");
    return a->f();
}

std::vector<std::int64_t> OnnxImporter::attr_ints(const Node& n, const std::string& name) const {
    const auto* a = attr(n, name);
    if (!a) return {};
    if (a->type() != onnx::AttributeProto::INTS) fail(n, "attribute '" + name + "' is not a list of integers");
    return {a->ints().begin(), a->ints().end()};
}

std::string OnnxImporter::attr_string(const Node& n, const std::string& name, const std::string& fallback) const {
    const auto* a = attr(n, name);
    if (!a) return fallback;
    if (a->type() != onnx::AttributeProto::STRING) fail(n, "attribute '" + name + "' is not a string");
    return a->s();
}

// An initializer or Constant value: float (FLOAT, DOUBLE) or integer (INT64,
// INT32), from raw_data (little-endian) or the typed fields.
Constant OnnxImporter::tensor(const onnx::TensorProto& t, const std::string& what) const {
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
        fail_file(what + " is stored in an external file, which is not supported (save the model with its weights inside)");
    Constant c;
    std::int64_t n = 1;
    for (std::int64_t d : t.dims()) {
        if (d < 0 || (d > 0 && n > INT64_MAX / d)) fail_file(what + " has an invalid shape " + dims_str({t.dims().begin(), t.dims().end()}));
        n *= d;
        c.dims.push_back(d);
    }
    const std::string& raw = t.raw_data();
    auto count_check = [&](std::int64_t got) {
        if (got != n)
            fail_file(what + " holds " + std::to_string(got) + " values but its shape " + dims_str(c.dims) + " needs " +
                      std::to_string(n));
    };
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
        if (t.has_raw_data()) {
            count_check(std::int64_t(raw.size() / 4));
            if (raw.size() % 4) fail_file(what + ": raw_data is not a whole number of floats");
            c.f.resize(std::size_t(n));
            std::memcpy(c.f.data(), raw.data(), raw.size()); // little-endian, as on every target we build for
        } else {
            count_check(t.float_data_size());
            c.f.assign(t.float_data().begin(), t.float_data().end());
        }
        break;
    case onnx::TensorProto::DOUBLE:
        if (t.has_raw_data()) {
            count_check(std::int64_t(raw.size() / 8));
            std::vector<double> d(static_cast<std::size_t>(n));
            std::memcpy(d.data(), raw.data(), std::size_t(n) * 8);
            for (double x : d) c.f.push_back(to_float(x));
        } else {
            count_check(t.double_data_size());
            for (double x : t.double_data()) c.f.push_back(to_float(x));
        }
        break;
    case onnx::TensorProto::INT64:
        c.integer = true;
        if (t.has_raw_data()) {
            count_check(std::int64_t(raw.size() / 8));
            c.i.resize(std::size_t(n));
            std::memcpy(c.i.data(), raw.data(), std::size_t(n) * 8);
        } else {
            count_check(t.int64_data_size());
            c.i.assign(t.int64_data().begin(), t.int64_data().end());
        }
        break;
    case onnx::TensorProto::INT32:
        c.integer = true;
        if (t.has_raw_data()) {
            count_check(std::int64_t(raw.size() / 4));
            std::vector<std::int32_t> d(static_cast<std::size_t>(n));
            std::memcpy(d.data(), raw.data(), std::size_t(n) * 4);
            c.i.assign(d.begin(), d.end());
        } else {
            count_check(t.int32_data_size());
            c.i.assign(t.int32_data().begin(), t.int32_data().end());
        }
        break;
    default:
        fail_file(what + " has data type " + std::to_string(t.data_type()) +
                  "; only float, double, int64 and int32 tensors are supported");
    }
    for (float x : c.f)
        if (!std::isfinite(x)) fail_file(what + " contains NaN or Inf");
    return c;
}

void OnnxImporter::read_input(const onnx::ValueInfoProto& in) {
    const std::string what = "input '" + in.name() + "'";
    if (!in.type().has_tensor_type() || in.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT)
        fail_file(what + " is not a float tensor");
    const auto& shape = in.type().tensor_type().shape();
    std::vector<int> d;
    for (int k = 1; k < shape.dim_size(); ++k) {
        const auto& dim = shape.dim(k);
        if (!dim.has_dim_value() || dim.dim_value() < 1 || dim.dim_value() > INT_MAX)
            fail_file(what + ": dimension " + std::to_string(k) + " is not a fixed positive size (" +
                      (dim.has_dim_param() ? dim.dim_param() : std::to_string(dim.dim_value())) + ")");
        d.push_back(int(dim.dim_value()));
    }
    Population p;
    p.name = in.name();
    p.kind = PopulationKind::Input;
    Value v;
    if (d.size() == 1) {
        p.shape = {1, 1, d[0]};
        v.flat = true;
    } else if (d.size() == 3) {
        p.shape = {d[1], d[2], d[0]}; // (C, H, W) → (H, W, C)
        // Data stored for the model is (N, C, H, W); with one channel that is the
        // engine's order too, and the network stays channels-last.
        if (d[0] > 1) {
            net_.input_layout = InputLayout::ChannelsFirst;
            notes.push_back("input '" + in.name() + "' is NCHW (" + std::to_string(d[0]) + "," + std::to_string(d[1]) +
                            "," + std::to_string(d[2]) + "): the network is channels-last, HDF5 data is read as (N, C, H, W)");
        }
    } else {
        fail_file(what + " has rank " + std::to_string(shape.dim_size()) +
                  "; expected (N, features) or (N, C, H, W)");
    }
    check_population_fits(p.shape, p.name);
    p.layers = {in.name()};
    population_names_.insert(p.name);
    net_.populations.push_back(std::move(p));
    v.shape = net_.populations.back().shape;
    v.population = int(net_.populations.size()) - 1;
    v.name = in.name();
    values_[in.name()] = v;
}

const Constant& OnnxImporter::constant_input(const Node& n, int k, const std::string& what) const {
    if (!has_input(n, k)) fail(n, "has no " + what + " (input " + std::to_string(k) + ")");
    auto it = constants_.find(n.input(k));
    if (it == constants_.end()) {
        if (values_.count(n.input(k)))
            fail(n, what + " '" + n.input(k) + "' is computed from the input; it must be an initializer or a Constant");
        fail(n, what + " '" + n.input(k) + "' is not produced by any earlier node or initializer");
    }
    return it->second;
}

Value& OnnxImporter::value_input(const Node& n, int k) {
    if (!has_input(n, k)) fail(n, "has no input " + std::to_string(k));
    auto it = values_.find(n.input(k));
    if (it == values_.end()) {
        if (constants_.count(n.input(k)))
            fail(n, "input '" + n.input(k) + "' is a constant; only activations are supported there");
        fail(n, "input '" + n.input(k) + "' is not produced by any earlier node (the graph is not in topological order, or the tensor does not exist)");
    }
    const std::string& op = n.op_type();
    if (!it->second.pad.empty() && op != "Conv" && op != "AveragePool" && op != "MaxPool")
        fail(n, "reads the output of a Pad; padding converts only right before a Conv, AveragePool or MaxPool");
    static const std::set<std::string> reads_concat = {"Conv", "Relu", "Clip", "Concat", "MaxPool", "AveragePool",
                                                       "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul",
                                                       "Identity", "Dropout", "Shape"};
    if (it->second.is_concat() && !reads_concat.count(op))
        fail(n, "reads the Concat '" + it->second.name + "', which has no population of its own; after a Concat only " +
                    concat_readers + " are supported");
    return it->second;
}

// PyTorch names a node after the module that made it: "/features/0/Conv" is
// module features.0. The population takes the module's name; any other
// exporter's node name is kept as it is. Names stay unique.
std::string OnnxImporter::module_name(const Node& n) {
    std::string name = node_label(n);
    if (name.size() > 1 && name[0] == '/') {
        const std::size_t last = name.rfind('/');
        std::string module = last > 0 ? name.substr(1, last - 1) : std::string();
        std::replace(module.begin(), module.end(), '/', '.');
        if (!module.empty()) name = module;
    }
    return name;
}

std::string OnnxImporter::layer_name(const Node& n) {
    std::string name = module_name(n);
    if (population_names_.count(name)) name = node_label(n);
    for (int k = 2; population_names_.count(name); ++k) name = node_label(n) + "_" + std::to_string(k);
    return name;
}

int OnnxImporter::materialize(Value& v, const Node& consumer) {
    if (v.population >= 0) return v.population;
    if (v.is_concat())
        fail(consumer, "reads the Concat '" + v.name + "', which has no population of its own; after a Concat only " +
                           concat_readers + " are supported");
    if (!v.nonnegative)
        fail(consumer, "its input '" + v.name +
                           "' is linear (no Relu between it and this node); such a chain cannot be converted to spikes");
    Population p;
    p.name = v.name;
    p.kind = PopulationKind::Spiking;
    p.shape = v.is_pending_avgpool() ? v.pooled : (v.from_chw ? v.chw : v.shape);
    check_population_fits(p.shape, v.name);
    p.projections = v.projections;
    p.bias = v.bias;
    if (v.from_chw && p.bias.size() != std::size_t(p.shape.c)) {
        // A bias per flat unit cannot be one per channel: only a zero bias survives a flatten.
        for (float b : v.bias)
            if (b != 0.0f) fail(consumer, "its input '" + v.name + "' adds a bias after a flatten");
        p.bias.assign(std::size_t(p.shape.c), 0.0f);
    }
    p.layers = v.layers;
    population_names_.insert(p.name);
    net_.populations.push_back(std::move(p));
    v.population = int(net_.populations.size()) - 1;
    v.projections.clear();
    return v.population;
}

// A Dense projection from `in` with kernel (in, out) in ONNX's flat order of
// the input; rows are permuted to the engine's (h, w, c) order where the input
// was flattened from NCHW.
Value OnnxImporter::dense(const Node& n, Value& in, const std::vector<float>& w_onnx, std::int64_t units,
                          std::vector<float> bias) {
    if (!in.flat) fail(n, "input of shape " + in.shape.str() + " is not flat (add a Flatten)");
    const auto U = std::size_t(units);
    if (in.is_concat()) {
        // One projection per part; ONNX's rows are in (C, H, W) order after a
        // flatten, as Keras's after a channels_first Flatten.
        Value v;
        v.flat = true;
        v.shape = {1, 1, int(units)};
        v.name = layer_name(n);
        v.layers = {v.name};
        const Shape f = in.from_chw ? in.chw : in.shape;
        add_dense_parts(v.projections, in.parts, std::size_t(f.h) * std::size_t(f.w), in.from_chw, w_onnx, U, v.name);
        v.bias = std::move(bias);
        return v;
    }
    // ONNX flat index of unit (y, x, c) of a (C, H, W) tensor: c·H·W + y·W + x.
    std::vector<float> w(w_onnx.size());
    if (in.from_chw) {
        const Shape s = in.chw;
        for (int y = 0; y < s.h; ++y)
            for (int x = 0; x < s.w; ++x)
                for (int c = 0; c < s.c; ++c) {
                    const std::size_t ours = std::size_t((y * s.w + x) * s.c + c);
                    const std::size_t theirs = std::size_t(c) * std::size_t(s.h * s.w) + std::size_t(y * s.w + x);
                    std::copy_n(w_onnx.data() + theirs * U, U, w.data() + ours * U);
                }
    } else {
        w = w_onnx;
    }
    const bool fold_pool = in.is_pending_avgpool();
    const int src = fold_pool ? in.projections[0].source : materialize(in, n);
    Value v;
    v.flat = true;
    v.shape = {1, 1, int(units)};
    v.name = layer_name(n);
    if (fold_pool) {
        // Dense after average pooling is one linear map: fold the pooling into
        // the kernel (source unit u feeds pooled unit o with weight a, so its
        // row is Σ_o a·W[o]), in the same order as the Keras importer does.
        const Projection& pool = in.projections[0];
        const Shape s = net_.populations[std::size_t(src)].shape, p = in.pooled;
        const Window& win = pool.window;
        std::vector<float> folded(std::size_t(s.size()) * U, 0.0f);
        for (int oy = 0; oy < p.h; ++oy)
            for (int ox = 0; ox < p.w; ++ox)
                for_each_tap(win, s, oy, ox, [&](int y, int x, int, int) {
                    for (int c = 0; c < p.c; ++c) {
                        const float* row = w.data() + std::size_t((oy * p.w + ox) * p.c + c) * U;
                        float* dst = folded.data() + std::size_t((y * s.w + x) * s.c + c) * U;
                        const float a = pool.weights[std::size_t(c)];
                        for (std::size_t j = 0; j < U; ++j) dst[j] += a * row[j];
                    }
                });
        v.projections.push_back({src, ProjectionKind::Dense, {}, std::move(folded), v.name});
        v.layers = in.layers;
        v.layers.push_back(v.name);
    } else {
        v.projections.push_back({src, ProjectionKind::Dense, {}, std::move(w), v.name});
        v.layers = {v.name};
    }
    v.bias = std::move(bias);
    return v;
}

// Y = α·A·B' + β·C with B' = B or Bᵀ; A is the activation (transA = 0).
Value OnnxImporter::gemm(const Node& n) {
    if (attr_int(n, "transA", 0) != 0) fail(n, "transA = 1 is not supported (the activation must be the first operand)");
    const bool transB = attr_int(n, "transB", 0) != 0;
    const float alpha = attr_float(n, "alpha", 1.0f), beta = attr_float(n, "beta", 1.0f);
    Value& in = value_input(n, 0);
    const Constant& B = constant_input(n, 1, "weight");
    if (B.integer || B.dims.size() != 2) fail(n, "weight has shape " + dims_str(B.dims) + ", expected a 2-D float matrix");
    const std::int64_t K = transB ? B.dims[1] : B.dims[0], N = transB ? B.dims[0] : B.dims[1];
    if (K != in.shape.size())
        fail(n, "weight " + dims_str(B.dims) + (transB ? " (transposed)" : "") + " expects " + std::to_string(K) +
                    " inputs but its input has " + std::to_string(in.shape.size()));
    if (N < 1 || N > INT_MAX) fail(n, "has " + std::to_string(N) + " outputs");
    std::vector<float> w(std::size_t(K * N));
    for (std::int64_t i = 0; i < K; ++i)
        for (std::int64_t j = 0; j < N; ++j)
            w[std::size_t(i * N + j)] = alpha * (transB ? B.f[std::size_t(j * K + i)] : B.f[std::size_t(i * N + j)]);
    std::vector<float> bias(std::size_t(N), 0.0f);
    if (has_input(n, 2)) {
        const Constant& C = constant_input(n, 2, "bias");
        if (C.integer || (C.numel() != N && C.numel() != 1) || (C.dims.size() == 2 && C.dims[0] != 1))
            fail(n, "bias has shape " + dims_str(C.dims) + ", expected (" + std::to_string(N) + ")");
        for (std::int64_t j = 0; j < N; ++j) bias[std::size_t(j)] = beta * C.f[C.numel() == 1 ? 0 : std::size_t(j)];
    }
    return dense(n, in, w, N, std::move(bias));
}

Value OnnxImporter::matmul(const Node& n) {
    Value& in = value_input(n, 0);
    const Constant& B = constant_input(n, 1, "weight");
    if (B.integer || B.dims.size() != 2) fail(n, "weight has shape " + dims_str(B.dims) + ", expected a 2-D float matrix");
    if (B.dims[0] != in.shape.size())
        fail(n, "weight " + dims_str(B.dims) + " expects " + std::to_string(B.dims[0]) + " inputs but its input has " +
                    std::to_string(in.shape.size()));
    if (B.dims[1] < 1 || B.dims[1] > INT_MAX) fail(n, "has " + std::to_string(B.dims[1]) + " outputs");
    return dense(n, in, B.f, B.dims[1], std::vector<float>(std::size_t(B.dims[1]), 0.0f));
}

// The sliding window of Conv and the pools: strides, pads (or auto_pad),
// dilations 1. `out` gets the output shape (channels left as they were).
Window OnnxImporter::window(const Node& n, const Shape& s, int kh, int kw, const std::vector<std::int64_t>& extra,
                            Shape& out) {
    for (std::int64_t d : attr_ints(n, "dilations"))
        if (d != 1) fail(n, "dilations other than 1 are not supported");
    if (attr_int(n, "ceil_mode", 0) != 0) fail(n, "ceil_mode = 1 is not supported");
    auto st = attr_ints(n, "strides");
    if (st.empty()) st = {1, 1};
    if (st.size() != 2 || st[0] < 1 || st[1] < 1 || st[0] > INT_MAX || st[1] > INT_MAX)
        fail(n, "strides " + dims_str(st) + " are not two positive integers");
    const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
    std::vector<std::int64_t> pads(4, 0);
    if (auto_pad == "NOTSET") {
        const auto p = attr_ints(n, "pads");
        if (!p.empty()) pads = p;
        if (pads.size() != 4) fail(n, "pads " + dims_str(pads) + " are not (top, left, bottom, right)");
        for (std::int64_t p1 : pads)
            if (p1 < 0 || p1 > INT_MAX / 4) fail(n, "pads " + dims_str(pads) + " are not sizes");
        if (pads[0] >= kh || pads[2] >= kh || pads[1] >= kw || pads[3] >= kw)
            fail(n, "pads " + dims_str(pads) + " as large as the kernel are not supported");
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        // Output ⌈in/s⌉; the padding total (o − 1)·s + k − in, its odd unit at the end (UPPER) or the start (LOWER).
        const std::int64_t dim[2] = {s.h, s.w}, k[2] = {kh, kw};
        for (int a = 0; a < 2; ++a) {
            const std::int64_t o = (dim[a] + st[std::size_t(a)] - 1) / st[std::size_t(a)];
            const std::int64_t total = std::max<std::int64_t>((o - 1) * st[std::size_t(a)] + k[a] - dim[a], 0);
            const std::int64_t small = total / 2, large = total - small;
            pads[std::size_t(a)] = auto_pad == "SAME_UPPER" ? small : large;
            pads[std::size_t(a) + 2] = auto_pad == "SAME_UPPER" ? large : small;
        }
    } else if (auto_pad != "VALID") {
        fail(n, "auto_pad '" + auto_pad + "' is not supported");
    }
    if (!extra.empty()) {
        // A Pad node before it: zeros around the input are the engine's skipped taps.
        if (auto_pad != "NOTSET" && auto_pad != "VALID") fail(n, "follows a Pad and has auto_pad " + auto_pad);
        for (std::size_t k = 0; k < 4; ++k) pads[k] += extra[k];
        if (pads[0] >= kh || pads[2] >= kh || pads[1] >= kw || pads[3] >= kw)
            fail(n, "padding " + dims_str(pads) + " (with the Pad before it) as large as the kernel is not supported");
    }
    const std::int64_t oh = (std::int64_t(s.h) + pads[0] + pads[2] - kh) / st[0] + 1;
    const std::int64_t ow = (std::int64_t(s.w) + pads[1] + pads[3] - kw) / st[1] + 1;
    if (std::int64_t(s.h) + pads[0] + pads[2] < kh || std::int64_t(s.w) + pads[1] + pads[3] < kw)
        fail(n, "kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " larger than its input " + s.str());
    if (oh > INT_MAX || ow > INT_MAX) fail(n, "output of " + std::to_string(oh) + "x" + std::to_string(ow) + " units is too large");
    out = {int(oh), int(ow), s.c};
    return {kh, kw, int(st[0]), int(st[1]), int(pads[0]), int(pads[1])};
}

Value OnnxImporter::conv(const Node& n) {
    Value& in = value_input(n, 0);
    if (in.flat) fail(n, "input is flat; Conv needs an (N, C, H, W) tensor");
    const Constant& W = constant_input(n, 1, "weight");
    if (W.integer || W.dims.size() != 4)
        fail(n, "weight has shape " + dims_str(W.dims) + ", expected (M, C/group, kH, kW); only 2-D convolutions are supported");
    const int src = in.is_concat() ? -1 : materialize(in, n);
    const Shape s = in.is_concat() ? in.shape : net_.populations[std::size_t(src)].shape;
    const std::int64_t group = attr_int(n, "group", 1);
    const std::int64_t M = W.dims[0], kh = W.dims[2], kw = W.dims[3];
    const bool depthwise = group != 1;
    // A depthwise convolution of a Concat would need each part's output
    // channels at an offset, which no projection kind has (as in Keras).
    if (depthwise && in.is_concat())
        fail(n, "group " + std::to_string(group) + " reads the Concat '" + in.name +
                    "'; only group = 1 convolutions of a Concat are supported");
    if (depthwise && (group != s.c || W.dims[1] != 1 || M % group != 0))
        fail(n, "group " + std::to_string(group) + " with weight " + dims_str(W.dims) + " on " + std::to_string(s.c) +
                    " channels: only group = 1 and depthwise (group = input channels) convolutions are supported");
    if (!depthwise && W.dims[1] != s.c)
        fail(n, "weight " + dims_str(W.dims) + " expects " + std::to_string(W.dims[1]) + " input channels, its input has " +
                    std::to_string(s.c));
    if (M < 1 || M > INT_MAX || kh < 1 || kw < 1 || kh > INT_MAX || kw > INT_MAX)
        fail(n, "weight has shape " + dims_str(W.dims));
    const auto ks = attr_ints(n, "kernel_shape");
    if (!ks.empty() && ks != std::vector<std::int64_t>{kh, kw})
        fail(n, "kernel_shape " + dims_str(ks) + " disagrees with the weight " + dims_str(W.dims));
    Value v;
    Window win = window(n, s, int(kh), int(kw), in.pad, v.shape);
    v.shape.c = int(M);
    check_population_fits(v.shape, node_label(n));
    const std::size_t taps = std::size_t(kh * kw), C = std::size_t(s.c), O = std::size_t(M);
    std::vector<float> kernel;
    if (!depthwise) {
        // ONNX (M, C, kh, kw) → the engine's (kh, kw, C, M).
        kernel.resize(taps * C * O);
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t t = 0; t < taps; ++t) kernel[(t * C + c) * O + o] = W.f[(o * C + c) * taps + t];
    } else {
        // ONNX (C·mult, 1, kh, kw): output o = c·mult + m reads channel c, as the
        // engine's depthwise layout (kh, kw, C·mult) numbers its outputs.
        kernel.resize(taps * O);
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t t = 0; t < taps; ++t) kernel[t * O + o] = W.f[o * taps + t];
    }
    v.name = layer_name(n);
    v.layers = {v.name};
    if (in.is_concat())
        add_conv_parts(v.projections, in.parts, ProjectionKind::Conv2D, win, kernel, taps, O, v.name);
    else
        v.projections.push_back(
            {src, depthwise ? ProjectionKind::DepthwiseConv2D : ProjectionKind::Conv2D, win, std::move(kernel), v.name});
    v.bias.assign(O, 0.0f);
    if (has_input(n, 2)) {
        const Constant& B = constant_input(n, 2, "bias");
        if (B.integer || B.numel() != std::int64_t(M)) fail(n, "bias has shape " + dims_str(B.dims) + ", expected (" + std::to_string(M) + ")");
        v.bias = B.f;
    }
    return v;
}

Value OnnxImporter::pooling(const Node& n, Value& in, bool max, bool global) {
    if (in.flat) fail(n, "input is flat; pooling needs an (N, C, H, W) tensor");
    if (in.is_concat()) return pool_parts(n, in, max, global);
    if (in.population < 0 && !in.nonnegative) fail(n, "pools a linear tensor; put the Relu before the pooling");
    if (n.output_size() > 1 && !n.output(1).empty()) fail(n, "the Indices output of MaxPool is not supported");
    const int src = materialize(in, n);
    const Shape s = net_.populations[std::size_t(src)].shape;
    Value v;
    Window win{s.h, s.w, s.h, s.w, 0, 0};
    if (global && !in.pad.empty()) fail(n, "follows a Pad");
    // A MaxPool over explicit zeros of a Pad equals the max over the taps inside: spikes are ≥ 0.
    const bool padded_by_node = !in.pad.empty();
    const auto own_pads = attr_ints(n, "pads");
    const std::string own_auto_pad = attr_string(n, "auto_pad", "NOTSET");
    const bool own_pads_zero = std::all_of(own_pads.begin(), own_pads.end(), [](std::int64_t p) { return p == 0; }) &&
                               (own_auto_pad == "NOTSET" || own_auto_pad == "VALID");
    if (global) {
        v.shape = {1, 1, s.c};
    } else {
        const auto ks = attr_ints(n, "kernel_shape");
        if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > INT_MAX || ks[1] > INT_MAX)
            fail(n, "kernel_shape " + dims_str(ks) + " is not two positive sizes");
        win = window(n, s, int(ks[0]), int(ks[1]), in.pad, v.shape);
        if (v.shape.h < 1 || v.shape.w < 1) fail(n, "pool larger than its input " + s.str());
    }
    check_population_fits(v.shape, node_label(n));
    v.name = layer_name(n);
    v.layers = {v.name};
    if (max) {
        if (attr_int(n, "storage_order", 0) != 0) fail(n, "storage_order = 1 is not supported");
        // MaxPool pads with −inf: the max of the taps inside, which the engine's window takes.
        Population p;
        p.name = v.name;
        p.kind = PopulationKind::MaxPool;
        p.shape = v.shape;
        p.projections.push_back({src, ProjectionKind::MaxPool, win, {}, v.name});
        p.layers = {v.name};
        population_names_.insert(p.name);
        net_.populations.push_back(std::move(p));
        v.population = int(net_.populations.size()) - 1;
        return v;
    }
    // The engine's average divides by kh·kw whatever falls in the padding: ONNX's
    // count_include_pad = 1, or zeros a Pad node put there. With count_include_pad = 0
    // the pool's own padding divides a window at the border by fewer.
    if ((win.pad_top || win.pad_left || (v.shape.h - 1) * win.sh + win.kh > s.h || (v.shape.w - 1) * win.sw + win.kw > s.w) &&
        attr_int(n, "count_include_pad", 0) == 0 && !(padded_by_node && own_pads_zero))
        fail(n, "average pooling over padding with count_include_pad = 0 is not supported");
    v.projections.push_back(
        {src, ProjectionKind::AvgPool, win, std::vector<float>(std::size_t(s.c), 1.0f / float(win.kh * win.kw)), v.name});
    v.bias.assign(std::size_t(s.c), 0.0f);
    v.nonnegative = true;
    v.pure_pool = true;
    v.pooled = v.shape;
    return v;
}

Value OnnxImporter::pool_parts(const Node& n, const Value& in, bool max, bool global) {
    Value v;
    v.name = layer_name(n);
    v.layers = {v.name};
    v.nonnegative = true;
    v.shape.c = 0;
    std::map<int, int> pooled_of; // a population concatenated twice is pooled once
    for (const auto& part : in.parts) {
        auto it = pooled_of.find(part.population);
        if (it == pooled_of.end()) {
            // Copies: pooling adds populations, which may move the one read here.
            const std::string name = v.name + "." + net_.populations[std::size_t(part.population)].name;
            Value pv;
            pv.population = part.population;
            pv.shape = net_.populations[std::size_t(part.population)].shape;
            Value pooled = pooling(n, pv, max, global);
            if (!max) {
                pooled.name = name;
                materialize(pooled, n); // an average of spikes: IF neurons, as the Keras importer does
            }
            net_.populations[std::size_t(pooled.population)].name = name;
            population_names_.insert(name);
            it = pooled_of.emplace(part.population, pooled.population).first;
        }
        const Shape& ps = net_.populations[std::size_t(it->second)].shape;
        v.parts.push_back({it->second, part.channels});
        v.shape = {ps.h, ps.w, v.shape.c + part.channels};
    }
    return v;
}

// Concat of activations along the channel axis (axis 1 of (N, C, H, W), or
// the features of (N, F)): the parts of a Keras Concatenate (convert/concat.hpp).
Value OnnxImporter::concat(const Node& n) {
    if (n.input_size() < 2) fail(n, "needs at least two inputs");
    const auto* axis_attr = attr(n, "axis");
    if (!axis_attr) fail(n, "has no axis attribute");
    Value v;
    v.name = layer_name(n);
    v.layers = {v.name};
    v.nonnegative = true;
    for (int k = 0; k < n.input_size(); ++k) {
        if (is_constant(n.input(k))) fail(n, "concatenates the constant '" + n.input(k) + "' with activations; not supported");
        Value& in = value_input(n, k);
        if (k == 0) v.flat = in.flat;
        else if (in.flat != v.flat) fail(n, "concatenates a flat tensor and an (N, C, H, W) one");
        const std::int64_t rank = in.flat ? 2 : 4, axis = attr_int(n, "axis", 1);
        if ((axis < 0 ? axis + rank : axis) != 1)
            fail(n, "axis " + std::to_string(axis) + " is not the channel axis (1); concatenation along " +
                        (in.flat ? "the batch" : "height or width") + " is not supported");
        if (in.from_chw)
            fail(n, "input '" + n.input(k) + "' is a flattened (N, C, H, W) tensor; concatenate before the Flatten");
        std::vector<ConcatPart> parts;
        if (in.is_concat()) {
            parts = in.parts;
        } else {
            const int pop = materialize(in, n);
            parts = {{pop, in.shape.c}};
        }
        if (k == 0) v.shape = {in.shape.h, in.shape.w, 0};
        else if (in.shape.h != v.shape.h || in.shape.w != v.shape.w)
            fail(n, "inputs have different sizes " + v.shape.str() + " and " + in.shape.str() + " outside the channel axis");
        for (const auto& part : parts) {
            v.parts.push_back(part);
            v.shape.c += part.channels;
        }
    }
    return v;
}

void OnnxImporter::batchnorm(const Node& n, Value& v) {
    if (v.population >= 0)
        fail(n, "follows an activation or the input; only a BatchNormalization right after Conv/Gemm/MatMul/Add can be folded");
    if (v.flat && v.from_chw) fail(n, "normalizes a flattened tensor");
    if (attr_int(n, "training_mode", 0) != 0) fail(n, "training_mode = 1 is not supported");
    if (attr_int(n, "spatial", 1) != 1) fail(n, "spatial = 0 is not supported");
    for (int k = 1; k < n.output_size(); ++k)
        if (!n.output(k).empty()) fail(n, "running mean/variance outputs (training) are not supported");
    const double eps = attr_float(n, "epsilon", 1e-5f);
    const std::size_t C = std::size_t(v.shape.c);
    const char* names[4] = {"scale", "bias", "mean", "var"};
    std::vector<const Constant*> w;
    for (int k = 1; k <= 4; ++k) {
        const Constant& c = constant_input(n, k, names[k - 1]);
        if (c.integer || std::size_t(c.numel()) != C)
            fail(n, std::string(names[k - 1]) + " has shape " + dims_str(c.dims) + ", expected (" + std::to_string(C) + ")");
        w.push_back(&c);
    }
    const auto &gamma = w[0]->f, &beta = w[1]->f, &mean = w[2]->f, &var = w[3]->f;
    // y = γ·(x − μ)/√(σ² + ε) + β = s·x + (β − s·μ), with s = γ/√(σ² + ε):
    // every weight feeding channel j scales by s_j, and b_j ← s_j·b_j + β_j − s_j·μ_j.
    std::vector<double> s(C);
    for (std::size_t j = 0; j < C; ++j) {
        if (var[j] < 0) fail(n, "var is negative");
        s[j] = double(gamma[j]) / std::sqrt(double(var[j]) + eps);
    }
    // Every kind stores its weights with the target channel last (snn/kind.hpp): weight i feeds channel i mod C.
    for (auto& p : v.projections) {
        if (p.kind == ProjectionKind::MaxPool) throw InternalError("onnx batchnorm: max pooling in a linear expression");
        for (std::size_t i = 0; i < p.weights.size(); ++i) p.weights[i] = to_float(p.weights[i] * s[i % C]);
    }
    for (std::size_t j = 0; j < C; ++j) v.bias[j] = to_float(s[j] * v.bias[j] + beta[j] - s[j] * mean[j]);
    v.pure_pool = false;
    v.layers.push_back(module_name(n));
}

Value OnnxImporter::add(const Node& n) {
    if (n.input_size() != 2) fail(n, "expects two inputs");
    const bool c0 = is_constant(n.input(0)), c1 = is_constant(n.input(1));
    if (c0 && c1) fail(n, "adds two constants");
    if (c0 || c1) {
        // A bias: one value per channel, broadcast over (N, C, H, W) as (C,1,1) or
        // (1,C,1,1), over (N, F) as (F) or (1,F); or one value for all.
        Value v = value_input(n, c0 ? 1 : 0);
        const Constant& b = constant_input(n, c0 ? 0 : 1, "bias");
        if (v.population >= 0) fail(n, "adds a constant to an activation (not after Conv/Gemm/MatMul)");
        if (v.from_chw) fail(n, "adds a constant after a flatten");
        const std::size_t C = std::size_t(v.shape.c);
        std::int64_t non1 = 0, axis_from_end = -1;
        for (std::size_t k = 0; k < b.dims.size(); ++k)
            if (b.dims[k] != 1) {
                ++non1;
                axis_from_end = std::int64_t(b.dims.size() - 1 - k);
            }
        const bool scalar = b.numel() == 1;
        const bool per_channel = non1 == 1 && std::size_t(b.numel()) == C && axis_from_end == (v.flat ? 0 : 2);
        if (b.integer || (!scalar && !per_channel))
            fail(n, "bias has shape " + dims_str(b.dims) + ", which is not one value per channel of " + v.shape.str());
        for (std::size_t j = 0; j < C; ++j) v.bias[j] += b.f[scalar ? 0 : j];
        v.pure_pool = false;
        v.layers.push_back(module_name(n));
        return v;
    }
    // A residual sum: one population with a projection per branch (an Identity
    // projection from a population, the projections of a pending expression).
    Value v;
    v.name = layer_name(n);
    v.layers = {v.name};
    for (int k = 0; k < 2; ++k) {
        const Value& in = value_input(n, k);
        if (k == 0) {
            v.shape = in.shape;
            v.flat = in.flat;
            v.bias.assign(std::size_t(in.shape.c), 0.0f);
        } else if (!(in.shape == v.shape) || in.flat != v.flat) {
            fail(n, "inputs have different shapes " + v.shape.str() + " and " + in.shape.str());
        }
        if (in.from_chw) fail(n, "adds a flattened tensor");
        if (in.population >= 0) {
            if (!(net_.populations[std::size_t(in.population)].shape == in.shape)) fail(n, "adds a flattened tensor");
            v.projections.push_back({in.population, ProjectionKind::Identity, {},
                                     std::vector<float>(std::size_t(in.shape.c), 1.0f), v.name});
        } else {
            for (const auto& p : in.projections) v.projections.push_back(p);
            for (std::size_t j = 0; j < v.bias.size(); ++j) v.bias[j] += in.bias[j];
            for (const auto& l : in.layers) v.layers.push_back(l);
        }
    }
    return v;
}

// (N, C, H, W) → (N, C·H·W): a view, as in the Keras importer; a pending
// average pooling stays pending so that a Gemm after it can fold it.
Value OnnxImporter::flatten(const Node& n, Value in) {
    if (in.flat) return in;
    if (!in.is_pending_avgpool() && !in.is_concat()) materialize(in, n);
    Value v = in;
    v.chw = in.population >= 0 ? net_.populations[std::size_t(in.population)].shape : in.is_concat() ? in.shape : in.pooled;
    if (v.chw.size() > INT_MAX) fail(n, "flattens " + v.chw.str() + ", more than " + std::to_string(INT_MAX) + " units");
    v.from_chw = true;
    v.flat = true;
    v.shape = {1, 1, int(v.chw.size())};
    if (v.population < 0) v.layers.push_back(module_name(n));
    values_[n.input(0)] = in; // the materialized population, for other readers of the same tensor
    return v;
}

// Pad with zeros (mode constant, value 0) of the spatial axes only. PyTorch
// writes one, often of all zeros, before AvgPool2d and F.pad.
Value OnnxImporter::pad(const Node& n) {
    Value v = value_input(n, 0);
    if (v.flat) fail(n, "pads a flat tensor");
    if (attr_string(n, "mode", "constant") != "constant") fail(n, "mode '" + attr_string(n, "mode", "") + "' is not supported (only constant zeros)");
    std::vector<std::int64_t> p;
    float value = 0.0f;
    if (opset_ < 11) {
        p = attr_ints(n, "pads");
        value = attr_float(n, "value", 0.0f);
    } else {
        const Constant& c = constant_input(n, 1, "pads");
        if (!c.integer) fail(n, "pads are not integers");
        p = c.i;
        if (has_input(n, 2)) {
            const Constant& cv = constant_input(n, 2, "constant_value");
            if (cv.numel() != 1) fail(n, "constant_value is not a scalar");
            value = cv.integer ? float(cv.i[0]) : cv.f[0];
        }
        if (has_input(n, 3)) fail(n, "the axes input is not supported");
    }
    if (value != 0.0f) fail(n, "pads with " + std::to_string(value) + "; only zero padding converts (padding units never spike)");
    // (N, C, H, W) begins, then ends.
    if (p.size() != 8 || p[0] || p[1] || p[4] || p[5]) fail(n, "pads " + dims_str(p) + " pad more than the two spatial axes");
    for (std::int64_t x : p)
        if (x < 0 || x > INT_MAX / 4) fail(n, "pads " + dims_str(p) + " are not sizes (cropping is not supported)");
    if (!(p[2] || p[3] || p[6] || p[7])) return v; // a no-op
    if (v.population < 0) fail(n, "pads a linear tensor; put the Relu before the Pad");
    std::vector<std::int64_t> mine{p[2], p[3], p[6], p[7]};
    if (v.pad.empty()) v.pad = mine;
    else
        for (std::size_t k = 0; k < 4; ++k) v.pad[k] += mine[k];
    return v;
}

// Shape arithmetic on constants, as PyTorch writes `x.view(x.size(0), -1)`:
// Shape of an activation is (1, C, H, W) or (1, F) (a batch of one; Reshape
// accepts any batch size in the first place).
void OnnxImporter::shape_op(const Node& n) {
    const std::string& op = n.op_type();
    Constant out;
    out.integer = true;
    if (op == "Shape") {
        if (is_constant(n.input(0))) {
            out.i = constants_.at(n.input(0)).dims;
        } else {
            const Value& v = value_input(n, 0);
            out.i = v.flat ? std::vector<std::int64_t>{1, v.shape.c}
                           : std::vector<std::int64_t>{1, v.shape.c, v.shape.h, v.shape.w};
        }
        if (attr(n, "start") || attr(n, "end")) {
            const auto r = std::int64_t(out.i.size());
            auto clamp = [&](std::int64_t x) { return std::clamp(x < 0 ? x + r : x, std::int64_t(0), r); };
            const std::int64_t b = clamp(attr_int(n, "start", 0)), e = clamp(attr_int(n, "end", r));
            out.i = e > b ? std::vector<std::int64_t>(out.i.begin() + b, out.i.begin() + e) : std::vector<std::int64_t>{};
        }
        out.dims = {std::int64_t(out.i.size())};
    } else if (op == "Gather") {
        const Constant& data = constant_input(n, 0, "data");
        const Constant& idx = constant_input(n, 1, "indices");
        if (!data.integer || !idx.integer || data.dims.size() != 1 || attr_int(n, "axis", 0) != 0)
            fail(n, "only gathering from a 1-D integer constant (a shape) is supported");
        for (std::int64_t k : idx.i) {
            const std::int64_t j = k < 0 ? k + data.numel() : k;
            if (j < 0 || j >= data.numel()) fail(n, "index " + std::to_string(k) + " out of range");
            out.i.push_back(data.i[std::size_t(j)]);
        }
        out.dims = idx.dims;
    } else if (op == "Unsqueeze") {
        const Constant& data = constant_input(n, 0, "data");
        if (!data.integer || data.dims.size() > 1) fail(n, "only unsqueezing an integer scalar or vector (a shape) is supported");
        out.i = data.i;
        const auto axes = opset_ >= 13 ? constant_input(n, 1, "axes").i : attr_ints(n, "axes");
        out.dims = data.dims;
        for (std::int64_t a : axes) {
            const auto r = std::int64_t(out.dims.size()) + 1;
            const std::int64_t p = a < 0 ? a + r : a;
            if (p < 0 || p >= r) fail(n, "axis " + std::to_string(a) + " out of range");
            out.dims.insert(out.dims.begin() + p, 1);
        }
    } else if (op == "Concat") {
        for (int k = 0; k < n.input_size(); ++k) {
            const Constant& c = constant_input(n, k, "input");
            if (!c.integer || c.dims.size() != 1) fail(n, "only 1-D integer constants (shapes) can be concatenated");
            out.i.insert(out.i.end(), c.i.begin(), c.i.end());
        }
        out.dims = {std::int64_t(out.i.size())};
    }
    constants_[n.output(0)] = std::move(out);
}

void OnnxImporter::import_node(const Node& n) {
    const std::string& op = n.op_type();
    if (!n.domain().empty() && n.domain() != "ai.onnx")
        fail(n, "op '" + op + "' of domain '" + n.domain() + "' is not supported (supported: " + supported_ops + ")");
    if (n.output_size() < 1 || n.output(0).empty()) fail(n, "has no output");
    const std::string& out = n.output(0);
    if (op == "Constant") {
        Constant c;
        if (const auto* a = attr(n, "value")) {
            c = tensor(a->t(), "node '" + node_label(n) + "' (Constant) value");
        } else if (const auto* f = attr(n, "value_float")) {
            c.f = {f->f()};
        } else if (const auto* fs = attr(n, "value_floats")) {
            c.f.assign(fs->floats().begin(), fs->floats().end());
            c.dims = {std::int64_t(c.f.size())};
        } else if (const auto* i = attr(n, "value_int")) {
            c.integer = true;
            c.i = {i->i()};
        } else if (const auto* is = attr(n, "value_ints")) {
            c.integer = true;
            c.i.assign(is->ints().begin(), is->ints().end());
            c.dims = {std::int64_t(c.i.size())};
        } else {
            fail(n, "has no value, value_float(s) or value_int(s) attribute");
        }
        constants_[out] = std::move(c);
        return;
    }
    // Every other op reads its first input (the checks below read input(0) directly).
    if (!has_input(n, 0)) fail(n, "has no input");
    bool activations = false; // a Concat of activations, not of shapes
    for (int k = 0; op == "Concat" && k < n.input_size(); ++k) activations |= values_.count(n.input(k)) > 0;
    if (op == "Shape" || op == "Gather" || op == "Unsqueeze" || (op == "Concat" && !activations)) {
        shape_op(n);
        return;
    }
    Value v;
    if (op == "Gemm") {
        v = gemm(n);
    } else if (op == "MatMul") {
        v = matmul(n);
    } else if (op == "Conv") {
        v = conv(n);
    } else if (op == "Add") {
        v = add(n);
    } else if (op == "BatchNormalization") {
        v = value_input(n, 0);
        batchnorm(n, v);
    } else if (op == "Relu" || op == "Clip") {
        if (op == "Clip") {
            // Clip(0, +inf) is a ReLU; Clip(0, M) a bounded ReLU (ReLU6 exports as Clip(0, 6)).
            float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
            if (opset_ < 11) {
                lo = attr_float(n, "min", lo);
                hi = attr_float(n, "max", hi);
            } else {
                auto bound = [&](int k, float fallback) {
                    if (!has_input(n, k)) return fallback;
                    const Constant& c = constant_input(n, k, k == 1 ? "min" : "max");
                    if (c.numel() != 1) fail(n, "bound '" + n.input(k) + "' is not a scalar");
                    return c.integer ? float(c.i[0]) : c.f[0];
                };
                lo = bound(1, lo);
                hi = bound(2, hi);
            }
            Value& in = value_input(n, 0);
            // Below 0 the clip is a ReLU's floor only where the input is already ≥ 0 (spikes).
            if (!(lo == 0.0f || (lo < 0.0f && in.population >= 0)) || !(hi > 0.0f)) {
                std::ostringstream s;
                s << "Clip(" << lo << ", " << hi << ") cannot be converted: only Clip(0, M) with M > 0 (a ReLU, "
                  << "bounded at M if M is finite) has a spiking equivalent";
                fail(n, s.str());
            }
            v = in;
            if (v.is_concat() && std::isfinite(hi))
                fail(n, "caps the Concat '" + v.name + "', which has no neurons of its own; put the Clip before the Concat");
            if (v.population < 0 && !v.is_concat()) {
                v.nonnegative = true;
                materialize(v, n);
            }
            if (std::isfinite(hi)) bounded_relu(n, v, hi);
        } else {
            v = value_input(n, 0);
            if (v.population < 0 && !v.is_concat()) { // a Concat's parts are spiking already
                v.nonnegative = true;
                materialize(v, n);
            }
        }
    } else if (op == "AveragePool") {
        v = pooling(n, value_input(n, 0), false, false);
    } else if (op == "MaxPool") {
        v = pooling(n, value_input(n, 0), true, false);
    } else if (op == "GlobalAveragePool") {
        v = pooling(n, value_input(n, 0), false, true);
    } else if (op == "Concat") {
        v = concat(n);
    } else if (op == "Flatten") {
        Value& in = value_input(n, 0);
        const std::int64_t rank = in.flat ? 2 : 4;
        std::int64_t axis = attr_int(n, "axis", 1);
        if (axis < 0) axis += rank;
        if (axis != 1) fail(n, "axis " + std::to_string(attr_int(n, "axis", 1)) + " is not supported (only axis 1, keeping the batch)");
        v = flatten(n, in);
    } else if (op == "Reshape") {
        Value& in = value_input(n, 0);
        const Constant& shape = constant_input(n, 1, "shape");
        const std::vector<std::int64_t> in_dims = in.flat ? std::vector<std::int64_t>{1, in.shape.c}
                                                          : std::vector<std::int64_t>{1, in.shape.c, in.shape.h, in.shape.w};
        // Resolve 0 (copy the input's dimension) and −1 (the rest) for a batch of one.
        std::vector<std::int64_t> d = shape.i;
        std::int64_t known = 1, unknown = -1;
        bool ok = shape.integer && shape.dims.size() == 1 && d.size() == 2;
        for (std::size_t k = 0; ok && k < d.size(); ++k) {
            if (d[k] == 0 && attr_int(n, "allowzero", 0) == 0 && k < in_dims.size()) d[k] = in_dims[k];
            if (d[k] == -1 && unknown < 0) unknown = std::int64_t(k);
            else if (d[k] > 0) ok = !__builtin_mul_overflow(known, d[k], &known);
            else ok = false;
        }
        const std::int64_t total = in.shape.size();
        if (ok && unknown >= 0) d[std::size_t(unknown)] = total % known == 0 ? total / known : -1;
        // The batch may be written as −1 with the features given.
        if (ok && d[0] != 1 && d[1] == total && unknown == 0) d[0] = 1;
        if (!ok || d[0] != 1 || d[1] != total)
            fail(n, "reshape to " + dims_str(shape.i) + " is not supported; only a reshape of " + dims_str(in_dims) +
                        " to (N, " + std::to_string(total) + ") (a flatten) converts");
        v = flatten(n, in);
    } else if (op == "Pad") {
        v = pad(n);
    } else if (op == "Softmax") {
        if (!graph_outputs_.count(out)) fail(n, "softmax is only supported on the output");
        v = value_input(n, 0);
    } else if (op == "Identity" || op == "Dropout") {
        if (op == "Dropout" && n.output_size() > 1 && !n.output(1).empty()) fail(n, "the mask output of Dropout is not supported");
        if (is_constant(n.input(0))) {
            constants_[out] = constants_.at(n.input(0));
            return;
        }
        v = value_input(n, 0);
    } else {
        fail(n, "op '" + op + "' is not supported (supported: " + std::string(supported_ops) + ")");
    }
    values_[out] = std::move(v);
}

Network OnnxImporter::run() {
    std::ifstream f(path_, std::ios::binary);
    if (!f) fail_file("cannot be opened");
    std::ostringstream buf;
    buf << f.rdbuf();
    const std::string bytes = buf.str();
    if (bytes.size() > std::size_t(INT_MAX)) fail_file("is larger than 2 GiB, which protobuf cannot parse");
    if (!model_.ParseFromString(bytes) || !model_.has_graph() || model_.ir_version() <= 0)
        fail_file("not an ONNX model (the file is not a complete ONNX protobuf ModelProto)");
    const onnx::GraphProto& g = model_.graph();
    for (const auto& o : model_.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = int(std::clamp<std::int64_t>(o.version(), 0, INT_MAX));
    if (opset_ < 9 || opset_ > 17)
        fail_file("opset " + std::to_string(opset_) + " is not supported (supported: 9 to 17; re-export with opset_version in that range)");
    if (g.node_size() == 0) fail_file("the graph has no nodes");
    for (const auto& t : g.initializer()) {
        if (t.name().empty()) fail_file("an initializer has no name");
        constants_[t.name()] = tensor(t, "initializer '" + t.name() + "'");
    }
    if (g.sparse_initializer_size()) fail_file("sparse initializers are not supported");
    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& in : g.input())
        if (!constants_.count(in.name())) inputs.push_back(&in); // IR < 4 lists the initializers as inputs too
    if (inputs.size() != 1) fail_file("the graph has " + std::to_string(inputs.size()) + " inputs; expected one");
    if (g.output_size() != 1) fail_file("the graph has " + std::to_string(g.output_size()) + " outputs; expected one");
    const std::string output = g.output(0).name();
    graph_outputs_.insert(output);
    net_.source = path_;
    read_input(*inputs[0]);
    for (const auto& n : g.node()) import_node(n);
    auto it = values_.find(output);
    if (it == values_.end()) {
        if (constants_.count(output)) fail_file("the output '" + output + "' does not depend on the input");
        fail_file("the output '" + output + "' is not produced by any node");
    }
    Value& out = it->second;
    if (out.population < 0) {
        out.nonnegative = true; // the output is read by argmax: a linear layer is fine here
        Node end;
        end.set_name(out.name);
        end.set_op_type("output");
        materialize(out, end);
    }
    if (out.population == 0) fail_file("the model has no layers after its input");
    if (std::size_t(out.population) + 1 != net_.populations.size())
        fail_file("nodes after the output's population feed nothing the output reads; the output '" + output +
                  "' must be the last layer computed");
    if (!(net_.output().shape.h == 1 && net_.output().shape.w == 1))
        fail_file("the output '" + output + "' is not flat " + net_.output().shape.str());
    try {
        validate(net_);
    } catch (const ModelError& e) {
        throw ModelError(path_, e.context.layer, one_line(path_ + ": " + e.what()));
    }
    return std::move(net_);
}

} // namespace

Network import_onnx(const std::string& path, std::vector<std::string>& notes, const MemoryBudget& budget) {
    OnnxImporter importer(path, budget);
    Network net = importer.run();
    notes.insert(notes.end(), importer.notes.begin(), importer.notes.end());
    return net;
}

Network import_onnx(const std::string& path, const MemoryBudget& budget) {
    std::vector<std::string> notes;
    return import_onnx(path, notes, budget);
}

} // namespace snn

#else // SNN_WITH_ONNX

namespace snn {

Network import_onnx(const std::string& path, std::vector<std::string>&, const MemoryBudget&) {
    throw ModelError(path, "", path + ": this snn was built without ONNX support (configure with -DSNN_WITH_ONNX=ON; "
                                      "tools/setup.sh installs libonnx-dev)");
}

Network import_onnx(const std::string& path, const MemoryBudget& budget) {
    std::vector<std::string> notes;
    return import_onnx(path, notes, budget);
}

} // namespace snn

#endif // SNN_WITH_ONNX
