#include "convert/nir.hpp"

#include "snn/atomic_output.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/sparse.hpp"
#include "snn/window.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace snn {

NirReset nir_reset_from(const std::string& s) {
    if (s == "subtract") return NirReset::Subtract;
    if (s == "value") return NirReset::Value;
    if (s == "sinabs") return NirReset::Sinabs;
    throw OptionError("nir-reset", s, "nir-reset '" + s + "': expected subtract, value or sinabs");
}

namespace {

std::string dims_str(const std::vector<std::uint64_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + (d.size() == 1 ? ",)" : ")");
}

std::string num(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", x);
    return b;
}

// ---- reading HDF5 objects the h5 layer has no reader for: string datasets ----

bool is_group(const h5::Node& parent, const std::string& name) {
    h5::Handle o(H5Oopen(parent.id(), name.c_str(), H5P_DEFAULT), H5Oclose);
    return o.valid() && H5Iget_type(o.id()) == H5I_GROUP;
}

bool is_string_dataset(const h5::Node& parent, const std::string& name) {
    h5::Handle d(H5Dopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) return false;
    h5::Handle t(H5Dget_type(d.id()), H5Tclose);
    return t.valid() && H5Tget_class(t.id()) == H5T_STRING;
}

// Every string of a string dataset (scalar or any shape), variable or fixed length.
std::vector<std::string> read_strings(const h5::Node& parent, const std::string& name, std::vector<std::uint64_t>* dims) {
    const std::string where = parent.file + ": " + parent.path + "/" + name;
    h5::Handle d(H5Dopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) throw FileError(parent.file, where + " cannot be read");
    h5::Handle t(H5Dget_type(d.id()), H5Tclose);
    h5::Handle sp(H5Dget_space(d.id()), H5Sclose);
    if (!t.valid() || !sp.valid() || H5Tget_class(t.id()) != H5T_STRING)
        throw FileError(parent.file, where + " is not a string");
    const int rank = H5Sget_simple_extent_ndims(sp.id());
    std::vector<hsize_t> hd(std::size_t(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(sp.id(), hd.data(), nullptr);
    const hssize_t n = H5Sget_simple_extent_npoints(sp.id());
    if (n < 0 || n > (1 << 20)) throw FileError(parent.file, where + " has an unreadable size");
    if (dims) dims->assign(hd.begin(), hd.end());
    std::vector<std::string> out;
    if (n == 0) return out;
    if (H5Tis_variable_str(t.id()) > 0) {
        h5::Handle mt(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mt.id(), H5T_VARIABLE);
        H5Tset_cset(mt.id(), H5Tget_cset(t.id()));
        std::vector<char*> buf(std::size_t(n), nullptr);
        if (H5Dread(d.id(), mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
            throw FileError(parent.file, where + " cannot be read");
        for (char* p : buf) {
            out.emplace_back(p ? p : "");
            if (p) H5free_memory(p);
        }
    } else {
        const std::size_t size = H5Tget_size(t.id());
        if (size == 0 || size > (1 << 16)) throw FileError(parent.file, where + " has an unreadable string size");
        std::vector<char> buf(size * std::size_t(n));
        h5::Handle mt(H5Tcopy(t.id()), H5Tclose);
        if (H5Dread(d.id(), mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
            throw FileError(parent.file, where + " cannot be read");
        for (hssize_t i = 0; i < n; ++i) {
            std::string s(buf.data() + std::size_t(i) * size, size);
            s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
            while (!s.empty() && s.back() == ' ') s.pop_back();
            out.push_back(s);
        }
    }
    return out;
}

std::string read_string(const h5::Node& parent, const std::string& name) {
    std::vector<std::uint64_t> dims;
    auto v = read_strings(parent, name, &dims);
    if (v.size() != 1) throw FileError(parent.file, parent.file + ": " + parent.path + "/" + name + " is not one string");
    return v[0];
}

// ---- the graph, flattened ----

struct RawNode {
    std::string name; // flattened: "G.B" for node B of subgraph G
    std::string type;
    h5::Node group;
    bool port = false;        // the Input or Output of a subgraph: an identity
    std::vector<int> preds;   // in edge order
    std::vector<int> succs;
};

struct Subgraph {
    int input = -1, output = -1;
};

// (C, H, W) → our (H, W, C); (C, L) → (1, L, C), as a Keras 1-D tensor is
// held; (N) → (1, 1, N).
struct Signal {
    std::vector<std::int64_t> nir; // the shape NIR gives the signal (unbatched)
    bool spatial() const { return nir.size() == 3; }
    bool steps() const { return nir.size() == 2; } // (C, L): channels along a line (Conv1d)
    Shape ours() const {
        if (nir.size() == 3) return {int(nir[1]), int(nir[2]), int(nir[0])};
        if (nir.size() == 2) return {1, int(nir[1]), int(nir[0])};
        return {1, 1, int(nir.empty() ? 1 : nir[0])};
    }
};

// What a node outputs, on our side: the spikes of a population (or a flat
// view of them), or a linear map from populations not yet given neurons.
struct Value {
    Signal sig;
    int pop = -1;                  // spikes of this population, or −1: pending
    bool flattened = false;        // a flat view of a (C, H, W) tensor (NIR's flatten order)
    Shape chw_shape;               // our shape of that tensor before the flatten
    std::vector<Projection> projs; // pending: into a population of shape sig
    std::vector<float> bias;       // pending: one per channel (unit, when flat); empty = 0
    std::vector<std::string> layers;
    bool pool_only() const { return pop < 0 && projs.size() == 1 && projs[0].kind == ProjectionKind::AvgPool && bias.empty(); }
};

class NirImporter {
public:
    NirImporter(std::string path, const NirImportOptions& o, std::vector<std::string>& notes)
        : path_(std::move(path)), opt_(o), notes_(notes) {}
    Network run();

private:
    [[noreturn]] void fail_file(const std::string& what) const { throw FileError(path_, path_ + ": " + what); }
    [[noreturn]] void fail(const RawNode& n, const std::string& what) const {
        throw ModelError(path_, n.name, path_ + ": node '" + n.name + "' (" + n.type + "): " + what);
    }
    int add_graph(const h5::Node& graph, const std::string& prefix, Subgraph* ports);
    int resolve(const std::string& full, bool as_target, const std::string& edge) const;
    std::vector<int> topological_order();
    bool has(const RawNode& n, const std::string& f) const { return h5::exists(n.group, f); }
    std::vector<double> nums(const RawNode& n, const std::string& f, std::vector<std::uint64_t>* dims = nullptr) const;
    double scalar(const RawNode& n, const std::string& f) const;
    std::pair<int, int> pair_field(const RawNode& n, const std::string& f, int fallback) const;
    double uniform(const RawNode& n, const std::string& f, std::int64_t units) const;
    const Value& single_input(const RawNode& n) const;
    Value input_node(const RawNode& n);
    Value flatten(const RawNode& n);
    Value affine(const RawNode& n, bool with_bias);
    Value conv2d(const RawNode& n);
    // Conv1d over (C, L): a Conv2D of height 1 over the (1, L, C) population.
    Value conv1d(const RawNode& n);
    Value pool(const RawNode& n, bool average);
    Value scale(const RawNode& n);
    // IF, LIF, or LI: a leaky integrator that never fires, the membrane readout.
    enum class Model { IF, LIF, LI, CubaLIF, CubaLI, I, Threshold };
    Value neuron(const RawNode& n, Model model);
    void apply_metadata(const h5::Node& top);

    std::string path_;
    NirImportOptions opt_;
    std::vector<std::string>& notes_;
    h5::Node file_;
    std::vector<RawNode> nodes_;
    std::map<std::string, int> index_;
    std::map<std::string, Subgraph> subgraphs_;
    std::vector<std::pair<std::string, std::string>> edges_; // resolved later, full names
    std::vector<std::pair<std::string, std::string>> edge_text_;
    std::vector<Value> values_;
    Network net_;
    ResetMode reset_ = ResetMode::Subtract;
    bool from_snn_ = false; // metadata written by snn export
};

std::vector<double> NirImporter::nums(const RawNode& n, const std::string& f, std::vector<std::uint64_t>* dims) const {
    if (!has(n, f)) fail(n, "field '" + f + "' is missing");
    if (is_group(n.group, f) || is_string_dataset(n.group, f)) fail(n, "field '" + f + "' is not numeric");
    std::vector<std::uint64_t> d;
    std::vector<double> v = h5::read_doubles(n.group, f, &d);
    for (double x : v)
        if (!std::isfinite(x)) fail(n, "field '" + f + "' holds " + num(x));
    if (dims) *dims = d;
    return v;
}

double NirImporter::scalar(const RawNode& n, const std::string& f) const {
    const auto v = nums(n, f);
    if (v.size() != 1) fail(n, "field '" + f + "' has " + std::to_string(v.size()) + " values, expected one");
    return v[0];
}

// An int or a pair (stride, padding, dilation, kernel_size).
std::pair<int, int> NirImporter::pair_field(const RawNode& n, const std::string& f, int fallback) const {
    if (!has(n, f)) return {fallback, fallback};
    const auto v = nums(n, f);
    if (v.size() != 1 && v.size() != 2) fail(n, "field '" + f + "' has " + std::to_string(v.size()) + " values, expected 1 or 2");
    for (double x : v)
        if (x < 0 || x > 65536 || x != std::floor(x)) fail(n, "field '" + f + "' holds " + num(x));
    return {int(v[0]), int(v.back())};
}

// A neuron parameter: a scalar or one value per neuron, all equal (snn's
// neuron parameters are per population).
double NirImporter::uniform(const RawNode& n, const std::string& f, std::int64_t units) const {
    const auto v = nums(n, f);
    if (v.empty()) fail(n, "field '" + f + "' is empty");
    if (v.size() != 1 && std::int64_t(v.size()) != units)
        fail(n, "field '" + f + "' has " + std::to_string(v.size()) + " values for " + std::to_string(units) + " neurons");
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    if (*lo != *hi)
        fail(n, "field '" + f + "' varies across neurons (" + num(*lo) + " to " + num(*hi) +
                    "); snn neurons share one value per population");
    return *lo;
}

int NirImporter::add_graph(const h5::Node& graph, const std::string& prefix, Subgraph* ports) {
    if (!h5::exists(graph, "nodes") || !is_group(graph, "nodes"))
        fail_file("graph '" + (prefix.empty() ? std::string("node") : prefix) + "' has no 'nodes' group");
    h5::Node nodes = h5::open_group(graph, "nodes");
    for (const std::string& child : h5::child_names(nodes)) {
        const std::string full = prefix + child;
        if (!is_group(nodes, child)) fail_file("node '" + full + "' is not a group");
        h5::Node g = h5::open_group(nodes, child);
        if (!h5::exists(g, "type") || !is_string_dataset(g, "type")) fail_file("node '" + full + "' has no type");
        const std::string type = read_string(g, "type");
        if (type == "NIRGraph") {
            if (subgraphs_.count(full) || index_.count(full)) fail_file("two nodes are named '" + full + "'");
            Subgraph sub;
            add_graph(g, full + ".", &sub);
            if (sub.input < 0 || sub.output < 0)
                fail_file("subgraph '" + full + "' needs one Input and one Output node");
            subgraphs_[full] = sub;
            continue;
        }
        if (index_.count(full) || subgraphs_.count(full)) fail_file("two nodes are named '" + full + "' (after flattening subgraphs)");
        RawNode r;
        r.name = full;
        r.type = type;
        r.group = std::move(g);
        r.port = ports != nullptr && (type == "Input" || type == "Output");
        if (ports && type == "Input") {
            if (ports->input >= 0) fail_file("subgraph '" + prefix.substr(0, prefix.size() - 1) + "' has two Input nodes");
            ports->input = int(nodes_.size());
        }
        if (ports && type == "Output") {
            if (ports->output >= 0) fail_file("subgraph '" + prefix.substr(0, prefix.size() - 1) + "' has two Output nodes");
            ports->output = int(nodes_.size());
        }
        index_[full] = int(nodes_.size());
        nodes_.push_back(std::move(r));
    }
    if (!h5::exists(graph, "edges")) fail_file("graph '" + (prefix.empty() ? std::string("node") : prefix) + "' has no 'edges'");
    if (is_string_dataset(graph, "edges")) {
        std::vector<std::uint64_t> dims;
        const auto e = read_strings(graph, "edges", &dims);
        if (dims.size() != 2 || dims[1] != 2) fail_file("edges have shape " + dims_str(dims) + ", expected (E, 2)");
        for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
            edges_.emplace_back(prefix + e[i], prefix + e[i + 1]);
            edge_text_.emplace_back(e[i], e[i + 1]);
        }
    } else {
        // An empty edge list is written as a float64 dataset of shape (0,).
        std::vector<std::uint64_t> dims = h5::dataset_dims(graph, "edges");
        std::uint64_t count = 1;
        for (auto d : dims) count *= d;
        if (count != 0) fail_file("edges are not strings");
    }
    return 0;
}

// The node an edge end names: the exact (flattened) name first; a subgraph's
// name means its Input (as a target) or its Output (as a source).
int NirImporter::resolve(const std::string& full, bool as_target, const std::string& edge) const {
    if (auto it = index_.find(full); it != index_.end()) return it->second;
    if (auto it = subgraphs_.find(full); it != subgraphs_.end()) return as_target ? it->second.input : it->second.output;
    throw ModelError(path_, full, path_ + ": edge " + edge + " leads to nowhere: there is no node '" + full + "'");
}

std::vector<int> NirImporter::topological_order() {
    for (std::size_t i = 0; i < edges_.size(); ++i) {
        const std::string text = "'" + edge_text_[i].first + "' -> '" + edge_text_[i].second + "'";
        const int s = resolve(edges_[i].first, false, text), t = resolve(edges_[i].second, true, text);
        nodes_[std::size_t(s)].succs.push_back(t);
        nodes_[std::size_t(t)].preds.push_back(s);
    }
    // Kahn's algorithm; ready nodes are taken by name so the order is the same
    // whatever the file's member and edge order.
    std::vector<int> indeg(nodes_.size());
    std::set<std::pair<std::string, int>> ready;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        indeg[i] = int(nodes_[i].preds.size());
        if (indeg[i] == 0) ready.insert({nodes_[i].name, int(i)});
    }
    std::vector<int> order;
    while (!ready.empty()) {
        const int i = ready.begin()->second;
        ready.erase(ready.begin());
        order.push_back(i);
        for (int t : nodes_[std::size_t(i)].succs)
            if (--indeg[std::size_t(t)] == 0) ready.insert({nodes_[std::size_t(t)].name, t});
    }
    if (order.size() != nodes_.size()) {
        // A node left over lies on a cycle or after one; walk back along
        // unfinished predecessors until a node repeats: that closes a cycle.
        int at = -1;
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            if (indeg[i] > 0) {
                at = int(i);
                break;
            }
        std::vector<int> seen(nodes_.size(), -1);
        int step = 0;
        while (seen[std::size_t(at)] < 0) {
            seen[std::size_t(at)] = step++;
            for (int p : nodes_[std::size_t(at)].preds)
                if (indeg[std::size_t(p)] > 0) {
                    at = p;
                    break;
                }
        }
        int from = at;
        for (int p : nodes_[std::size_t(at)].preds)
            if (indeg[std::size_t(p)] > 0) from = p;
        throw ModelError(path_, nodes_[std::size_t(at)].name,
                         path_ + ": the graph has a cycle through node '" + nodes_[std::size_t(at)].name + "' (edge '" +
                             nodes_[std::size_t(from)].name + "' -> '" + nodes_[std::size_t(at)].name +
                             "'): recurrent networks are not supported");
    }
    return order;
}

const Value& NirImporter::single_input(const RawNode& n) const {
    if (n.preds.size() != 1)
        fail(n, "has " + std::to_string(n.preds.size()) + " incoming edges; only neuron nodes may sum several inputs");
    return values_[std::size_t(n.preds[0])];
}

Value NirImporter::input_node(const RawNode& n) {
    std::vector<std::uint64_t> dims;
    const auto s = nums(n, "shape", &dims);
    Value v;
    for (double x : s) {
        if (x < 1 || x > INT_MAX || x != std::floor(x)) fail(n, "shape holds " + num(x));
        v.sig.nir.push_back(std::int64_t(x));
    }
    // A leading 1 is a batch of one (some exporters write it).
    if (v.sig.nir.size() == 4 && v.sig.nir[0] == 1) v.sig.nir.erase(v.sig.nir.begin());
    if (v.sig.nir.size() == 2 && v.sig.nir[0] == 1) v.sig.nir.erase(v.sig.nir.begin());
    if (v.sig.nir.size() > 3)
        fail(n, "shape " + dims_str(std::vector<std::uint64_t>(v.sig.nir.begin(), v.sig.nir.end())) +
                    ": only (N), (C, L) and (C, H, W) inputs are supported");
    Population pop;
    pop.name = n.name;
    pop.kind = PopulationKind::Input;
    pop.shape = v.sig.ours();
    pop.layers = {n.name};
    if (pop.shape.size() > (std::int64_t(1) << 28)) fail(n, "shape is too large");
    v.pop = int(net_.populations.size());
    net_.populations.push_back(std::move(pop));
    if (v.sig.spatial() || v.sig.steps()) net_.input_layout = InputLayout::ChannelsFirst;
    return v;
}

// Merges dims start..end of the unbatched shape; only a merge to one
// dimension (or of a tensor that is already flat) has a meaning here.
Value NirImporter::flatten(const RawNode& n) {
    Value v = single_input(n);
    const auto rank = std::int64_t(v.sig.nir.size());
    std::int64_t start = has(n, "start_dim") ? std::int64_t(scalar(n, "start_dim")) : 1;
    std::int64_t end = has(n, "end_dim") ? std::int64_t(scalar(n, "end_dim")) : -1;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    if (rank == 1) return v;
    if (!(start == 0 && end == rank - 1))
        fail(n, "start_dim " + std::to_string(start) + " end_dim " + std::to_string(end) + " of a rank-" +
                    std::to_string(rank) + " (unbatched) input does not flatten it to one dimension (start_dim 0, end_dim -1 does)");
    if (v.pop < 0 && !v.pool_only()) fail(n, "flattens the output of a linear node; put neurons before it");
    if (v.flattened) return v;
    v.chw_shape = v.sig.ours();
    v.flattened = true;
    v.sig.nir = {v.sig.ours().size()};
    v.layers.push_back(n.name);
    return v;
}

Value NirImporter::affine(const RawNode& n, bool with_bias) {
    const Value& in = single_input(n);
    std::vector<std::uint64_t> wd;
    const auto W = nums(n, "weight", &wd);
    if (wd.size() != 2) fail(n, "weight has shape " + dims_str(wd) + ", expected (N_out, N_in)");
    const std::int64_t out = std::int64_t(wd[0]), inn = std::int64_t(wd[1]);
    const std::int64_t have = in.flattened ? in.chw_shape.size() : in.sig.ours().size();
    if ((in.sig.spatial() || in.sig.steps()) && !in.flattened) fail(n, "its input is not flat; put a Flatten before it");
    if (inn != have)
        fail(n, "weight has shape " + dims_str(wd) + " but its input has " + std::to_string(have) +
                    " values (expected (N_out, " + std::to_string(have) + "))");
    if (in.pop < 0 && !in.pool_only()) fail(n, "follows another linear node with no neurons between them");
    if (out < 1 || out > INT_MAX) fail(n, "weight has shape " + dims_str(wd));
    const auto U = std::size_t(out);
    // NIR (N_out, N_in) → ours (in, out), rows in (h, w, c) order when the
    // input was flattened from (C, H, W): our unit (y, x, c) is NIR's c·H·W + y·W + x.
    std::vector<float> w(std::size_t(inn) * U);
    const Shape s = in.flattened ? in.chw_shape : Shape{1, 1, int(inn)};
    for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x)
            for (int c = 0; c < s.c; ++c) {
                const auto ours = std::size_t((y * s.w + x) * s.c + c);
                const auto theirs = std::size_t(c) * std::size_t(s.h * s.w) + std::size_t(y * s.w + x);
                for (std::size_t o = 0; o < U; ++o) w[ours * U + o] = float(W[o * std::size_t(inn) + theirs]);
            }
    Value v;
    v.sig.nir = {out};
    v.layers = in.layers;
    v.layers.push_back(n.name);
    if (in.pool_only()) {
        // Affine after a pooling is one linear map: source unit u feeds pooled
        // unit o with weight a (its channel's), so its row is Σ_o a·W[o].
        const Projection& pool = in.projs[0];
        const Shape src = net_.populations[std::size_t(pool.source)].shape, p = s;
        std::vector<float> folded(std::size_t(src.size()) * U, 0.0f);
        for (int oy = 0; oy < p.h; ++oy)
            for (int ox = 0; ox < p.w; ++ox)
                for_each_tap(pool.window, src, oy, ox, [&](int y, int x, int, int) {
                    for (int c = 0; c < p.c; ++c) {
                        const float* row = w.data() + std::size_t((oy * p.w + ox) * p.c + c) * U;
                        float* dst = folded.data() + std::size_t((y * src.w + x) * src.c + c) * U;
                        const float a = pool.weights[std::size_t(c)];
                        for (std::size_t j = 0; j < U; ++j) dst[j] += a * row[j];
                    }
                });
        v.projs.push_back({pool.source, ProjectionKind::Dense, {}, std::move(folded), n.name});
    } else {
        v.projs.push_back({in.pop, ProjectionKind::Dense, {}, std::move(w), n.name});
    }
    if (with_bias) {
        std::vector<std::uint64_t> bd;
        const auto b = nums(n, "bias", &bd);
        if (std::int64_t(b.size()) != out) fail(n, "bias has shape " + dims_str(bd) + ", expected (" + std::to_string(out) + ",)");
        v.bias.assign(b.begin(), b.end());
    }
    return v;
}

Value NirImporter::conv2d(const RawNode& n) {
    const Value& in = single_input(n);
    if (!in.sig.spatial() || in.flattened) fail(n, "its input is not a (C, H, W) tensor");
    if (in.pop < 0 && !in.pool_only()) fail(n, "follows another linear node with no neurons between them");
    std::vector<std::uint64_t> wd;
    const auto W = nums(n, "weight", &wd);
    if (wd.size() != 4) fail(n, "weight has shape " + dims_str(wd) + ", expected (C_out, C_in, kH, kW)");
    const Shape s = in.sig.ours();
    const std::int64_t groups = has(n, "groups") ? std::int64_t(scalar(n, "groups")) : 1;
    const auto O = std::size_t(wd[0]), CI = std::size_t(wd[1]);
    const int kh = int(wd[2]), kw = int(wd[3]);
    if (O < 1 || O > (1u << 20) || kh < 1 || kw < 1 || kh > 4096 || kw > 4096) fail(n, "weight has shape " + dims_str(wd));
    const bool depthwise = groups != 1;
    if (depthwise && (groups != s.c || CI != 1 || O % std::size_t(groups) != 0))
        fail(n, "groups " + std::to_string(groups) + " with weight " + dims_str(wd) + " on " + std::to_string(s.c) +
                    " channels: only groups = 1 and depthwise (groups = input channels) convolutions are supported");
    if (!depthwise && CI != std::size_t(s.c))
        fail(n, "weight " + dims_str(wd) + " expects " + std::to_string(CI) + " input channels, its input has " + std::to_string(s.c));
    if (has(n, "input_shape")) {
        const auto is = nums(n, "input_shape");
        if (is.size() != 2 || int(is[0]) != s.h || int(is[1]) != s.w)
            fail(n, "input_shape disagrees with its input (" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")");
    }
    const auto [dh, dw] = pair_field(n, "dilation", 1);
    if (dh != 1 || dw != 1) fail(n, "dilation " + std::to_string(dh) + "x" + std::to_string(dw) + " is not supported (only 1)");
    const auto [sh, sw] = pair_field(n, "stride", 1);
    if (sh < 1 || sw < 1) fail(n, "stride must be at least 1");
    int ph = 0, pw = 0;
    if (has(n, "padding") && is_string_dataset(n.group, "padding")) {
        const std::string p = read_string(n.group, "padding");
        if (p == "same") {
            if (sh != 1 || sw != 1) fail(n, "padding 'same' with a stride other than 1");
            // PyTorch: total k − 1, the odd pixel at the bottom/right (TensorFlow's rule too).
            ph = (kh - 1) / 2;
            pw = (kw - 1) / 2;
        } else if (p != "valid") {
            fail(n, "padding '" + p + "': expected a number, a pair, 'same' or 'valid'");
        }
    } else {
        std::tie(ph, pw) = pair_field(n, "padding", 0);
    }
    if (ph > 4096 || pw > 4096) fail(n, "padding " + std::to_string(ph) + "x" + std::to_string(pw) + " is larger than any kernel here");
    Shape out;
    const bool same = has(n, "padding") && is_string_dataset(n.group, "padding") && read_string(n.group, "padding") == "same";
    out.h = same ? s.h : (s.h + 2 * ph - kh) / sh + 1;
    out.w = same ? s.w : (s.w + 2 * pw - kw) / sw + 1;
    out.c = int(O);
    if (s.h + 2 * ph < kh || s.w + 2 * pw < kw || out.h < 1 || out.w < 1)
        fail(n, "kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " does not fit its input " + s.str());
    const std::size_t taps = std::size_t(kh) * std::size_t(kw), C = std::size_t(s.c);
    Value v;
    v.sig.nir = {out.c, out.h, out.w};
    v.layers = in.layers;
    v.layers.push_back(n.name);
    Window win{kh, kw, sh, sw, ph, pw};
    std::vector<float> kernel;
    if (depthwise) {
        if (in.pool_only()) fail(n, "a depthwise convolution right after a pooling is not supported; put neurons between them");
        // NIR (C·mult, 1, kH, kW): output o reads channel o / mult, as the
        // engine's depthwise layout (kH, kW, C·mult) numbers its outputs.
        kernel.resize(taps * O);
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t t = 0; t < taps; ++t) kernel[t * O + o] = float(W[o * taps + t]);
        v.projs.push_back({in.pop, ProjectionKind::DepthwiseConv2D, win, std::move(kernel), n.name});
    } else if (!in.pool_only()) {
        // NIR (C_out, C_in, kH, kW) → the engine's (kH, kW, C_in, C_out).
        kernel.resize(taps * C * O);
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t t = 0; t < taps; ++t) kernel[(t * C + c) * O + o] = float(W[(o * C + c) * taps + t]);
        v.projs.push_back({in.pop, ProjectionKind::Conv2D, win, std::move(kernel), n.name});
    } else {
        // A convolution after a pooling of non-overlapping windows (k ≤ s) is
        // one convolution of the pooling's input: pooled row j reads input
        // rows s_p·j − p_p + a (a < k_p), so conv tap ky at output oy reads
        // s_p·s·oy − (s_p·p + p_p) + (s_p·ky + a): kernel s_p·(kh − 1) + k_p,
        // stride s_p·s, padding s_p·p + p_p. The conv's padding rows beyond
        // the pooled map must fall outside the input too: s_p·H_p − p_p ≥ H.
        const Projection& pool = in.projs[0];
        const Window& pw_ = pool.window;
        const Shape src = net_.populations[std::size_t(pool.source)].shape;
        if (pw_.kh > pw_.sh || pw_.kw > pw_.sw || pw_.sh * s.h - pw_.pad_top < src.h || pw_.sw * s.w - pw_.pad_left < src.w)
            fail(n, "follows a pooling with overlapping windows or uncovered edge pixels, which cannot be folded into it; "
                    "put neurons between them");
        Window f{pw_.sh * (kh - 1) + pw_.kh, pw_.sw * (kw - 1) + pw_.kw, pw_.sh * sh, pw_.sw * sw,
                 pw_.sh * ph + pw_.pad_top, pw_.sw * pw + pw_.pad_left};
        const std::size_t ftaps = std::size_t(f.kh) * std::size_t(f.kw);
        if (double(ftaps) * double(C) * double(O) > double(1 << 28))
            fail(n, "folding the pooling before it would make a kernel of " + std::to_string(f.kh) + "x" + std::to_string(f.kw) +
                        "x" + std::to_string(C) + "x" + std::to_string(O) + " weights");
        kernel.assign(ftaps * C * O, 0.0f);
        for (int ky = 0; ky < kh; ++ky)
            for (int ay = 0; ay < pw_.kh; ++ay)
                for (int kx = 0; kx < kw; ++kx)
                    for (int ax = 0; ax < pw_.kw; ++ax) {
                        const std::size_t u = std::size_t(pw_.sh * ky + ay) * std::size_t(f.kw) + std::size_t(pw_.sw * kx + ax);
                        const std::size_t t = std::size_t(ky * kw + kx);
                        for (std::size_t c = 0; c < C; ++c)
                            for (std::size_t o = 0; o < O; ++o)
                                kernel[(u * C + c) * O + o] = pool.weights[c] * float(W[(o * C + c) * taps + t]);
                    }
        v.projs.push_back({pool.source, ProjectionKind::Conv2D, f, std::move(kernel), n.name});
    }
    if (has(n, "bias")) {
        std::vector<std::uint64_t> bd;
        const auto b = nums(n, "bias", &bd);
        if (b.size() != O) fail(n, "bias has shape " + dims_str(bd) + ", expected (" + std::to_string(O) + ",)");
        v.bias.assign(b.begin(), b.end());
    }
    return v;
}

Value NirImporter::conv1d(const RawNode& n) {
    const Value& in = single_input(n);
    if (!in.sig.steps() || in.flattened) fail(n, "its input is not a (C, L) tensor");
    if (in.pop < 0) fail(n, "follows a linear node with no neurons between them");
    std::vector<std::uint64_t> wd;
    const auto W = nums(n, "weight", &wd);
    if (wd.size() != 3) fail(n, "weight has shape " + dims_str(wd) + ", expected (C_out, C_in, K)");
    const Shape s = in.sig.ours(); // (1, L, C)
    const auto O = std::size_t(wd[0]), C = std::size_t(wd[1]);
    const int K = int(std::min<std::uint64_t>(wd[2], 1u << 20));
    if (O < 1 || O > (1u << 20) || K < 1 || K > 4096) fail(n, "weight has shape " + dims_str(wd));
    // Every parameter that cannot be converted, named in one line.
    std::vector<std::string> bad;
    const std::int64_t groups = has(n, "groups") ? std::int64_t(scalar(n, "groups")) : 1;
    if (groups != 1) bad.push_back("groups " + std::to_string(groups) + " (only 1)");
    const int dilation = pair_field(n, "dilation", 1).first;
    if (dilation != 1) bad.push_back("dilation " + std::to_string(dilation) + " (only 1)");
    const int stride = pair_field(n, "stride", 1).first;
    if (stride < 1) bad.push_back("stride 0 (at least 1)");
    int pad = 0;
    bool same = false;
    if (has(n, "padding") && is_string_dataset(n.group, "padding")) {
        const std::string p = read_string(n.group, "padding");
        same = p == "same";
        if (same && stride != 1) bad.push_back("padding 'same' with stride " + std::to_string(stride) + " (only 1)");
        if (!same && p != "valid") bad.push_back("padding '" + p + "' (a number, 'same' or 'valid')");
        pad = same ? (K - 1) / 2 : 0; // PyTorch: total K − 1, the odd step at the end
    } else {
        pad = pair_field(n, "padding", 0).first;
    }
    if (!bad.empty()) {
        std::string msg = "cannot be converted: ";
        for (std::size_t i = 0; i < bad.size(); ++i) msg += (i ? ", " : "") + bad[i];
        fail(n, msg);
    }
    if (C != std::size_t(s.c))
        fail(n, "weight " + dims_str(wd) + " expects " + std::to_string(C) + " input channels, its input has " + std::to_string(s.c));
    if (has(n, "input_shape") && (nums(n, "input_shape").size() != 1 || int(nums(n, "input_shape")[0]) != s.w))
        fail(n, "input_shape disagrees with its input's length " + std::to_string(s.w));
    if (pad > 4096) fail(n, "padding " + std::to_string(pad) + " is larger than any kernel here");
    if (s.w + 2 * pad < K) fail(n, "kernel " + std::to_string(K) + " does not fit its input of length " + std::to_string(s.w));
    const int L = same ? s.w : (s.w + 2 * pad - K) / stride + 1;
    Value v;
    v.sig.nir = {std::int64_t(O), L};
    v.layers = in.layers;
    v.layers.push_back(n.name);
    // NIR (C_out, C_in, K) → the engine's (1, K, C_in, C_out).
    std::vector<float> kernel(std::size_t(K) * C * O);
    for (std::size_t o = 0; o < O; ++o)
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t k = 0; k < std::size_t(K); ++k) kernel[(k * C + c) * O + o] = float(W[(o * C + c) * std::size_t(K) + k]);
    v.projs.push_back({in.pop, ProjectionKind::Conv2D, Window{1, K, 1, stride, 0, pad}, std::move(kernel), n.name});
    if (has(n, "bias")) {
        std::vector<std::uint64_t> bd;
        const auto b = nums(n, "bias", &bd);
        if (b.size() != O) fail(n, "bias has shape " + dims_str(bd) + ", expected (" + std::to_string(O) + ",)");
        v.bias.assign(b.begin(), b.end());
    }
    return v;
}

Value NirImporter::pool(const RawNode& n, bool average) {
    const Value& in = single_input(n);
    if (in.pop < 0) fail(n, "follows a linear node with no neurons between them");
    if (!in.sig.spatial() || in.flattened) fail(n, "its input is not a (C, H, W) tensor");
    const Shape s = in.sig.ours();
    const auto [kh, kw] = pair_field(n, "kernel_size", -1);
    if (kh < 1 || kw < 1) fail(n, "kernel_size is missing or not positive");
    auto [sh, sw] = pair_field(n, "stride", -1);
    if (sh < 0) std::tie(sh, sw) = std::pair{kh, kw};
    if (sh < 1 || sw < 1) fail(n, "stride must be at least 1");
    const auto [ph, pw] = pair_field(n, "padding", 0);
    if (s.h + 2 * ph < kh || s.w + 2 * pw < kw) fail(n, "kernel does not fit its input " + s.str());
    Value v;
    const Shape out{(s.h + 2 * ph - kh) / sh + 1, (s.w + 2 * pw - kw) / sw + 1, s.c};
    v.sig.nir = {out.c, out.h, out.w};
    v.layers = in.layers;
    v.layers.push_back(n.name);
    // AvgPool2d is SumPool2d then a scale by 1/(kH·kW), padding included (NIR primitives.md).
    const float a = average ? float(1.0 / (double(kh) * double(kw))) : 1.0f;
    v.projs.push_back({in.pop, ProjectionKind::AvgPool, Window{kh, kw, sh, sw, ph, pw}, std::vector<float>(std::size_t(s.c), a), n.name});
    return v;
}

// y = s ⊙ x after a linear node: folded into its weights and bias, one factor
// per output channel (a factor that varies inside a channel is refused).
Value NirImporter::scale(const RawNode& n) {
    Value v = single_input(n);
    if (v.pop >= 0 && v.flattened) fail(n, "scales a flattened population; put the Scale before the Flatten");
    std::vector<std::uint64_t> d;
    const auto s = nums(n, "scale", &d);
    const Shape sh = v.sig.ours();
    const auto C = std::size_t(sh.c);
    std::vector<float> f(C);
    if (s.size() == 1) {
        std::fill(f.begin(), f.end(), float(s[0]));
    } else if (std::int64_t(s.size()) == sh.size()) {
        // NIR order: (C, H, W) or (N).
        const std::size_t hw = std::size_t(sh.h) * std::size_t(sh.w);
        for (std::size_t c = 0; c < C; ++c) {
            f[c] = float(s[c * hw]);
            for (std::size_t k = 1; k < hw; ++k)
                if (s[c * hw + k] != s[c * hw]) fail(n, "scale varies inside channel " + std::to_string(c));
        }
    } else if (s.size() == C) {
        for (std::size_t c = 0; c < C; ++c) f[c] = float(s[c]);
    } else {
        fail(n, "scale has shape " + dims_str(d) + " for a signal of " + std::to_string(sh.size()) + " values");
    }
    if (v.pop >= 0) {
        // Spikes scaled channel by channel: an identity projection with those weights.
        v.projs.push_back({v.pop, ProjectionKind::Identity, {}, f, n.name});
        v.pop = -1;
        v.layers.push_back(n.name);
        return v;
    }
    for (Projection& p : v.projs) {
        // Per-channel weights (pooling, identity), or the output channel last (Dense, Conv2D, depthwise).
        if (p.kind == ProjectionKind::AvgPool || p.kind == ProjectionKind::Identity) {
            for (std::size_t c = 0; c < C; ++c) p.weights[c] *= f[c];
        } else {
            for (std::size_t k = 0; k < p.weights.size(); ++k) p.weights[k] *= f[k % C];
        }
    }
    for (std::size_t c = 0; c < v.bias.size(); ++c) v.bias[c] *= f[c];
    v.layers.push_back(n.name);
    return v;
}

Value NirImporter::neuron(const RawNode& n, Model model) {
    const bool lif = model == Model::LIF || model == Model::LI || model == Model::CubaLIF || model == Model::CubaLI;
    const bool threshold = model == Model::Threshold;
    if (n.preds.empty()) fail(n, "has no incoming edge");
    const Signal sig = values_[std::size_t(n.preds[0])].sig;
    const Shape shape = sig.ours();
    Population pop;
    pop.name = n.name;
    pop.kind = PopulationKind::Spiking;
    pop.shape = shape;
    for (int p : n.preds) {
        const Value& in = values_[std::size_t(p)];
        if (in.sig.nir != sig.nir) fail(n, "its inputs have different shapes");
        if (in.pop >= 0) {
            if (in.flattened) fail(n, "reads a flattened population directly; put an Affine between them");
            // An identity edge from spikes: one weight of 1 per channel.
            pop.projections.push_back({in.pop, ProjectionKind::Identity, {}, std::vector<float>(std::size_t(shape.c), 1.0f), n.name});
        } else {
            for (const Projection& pr : in.projs) pop.projections.push_back(pr);
            if (!in.bias.empty()) {
                if (pop.bias.empty()) pop.bias.assign(std::size_t(shape.c), 0.0f);
                for (std::size_t c = 0; c < in.bias.size(); ++c) pop.bias[c] += in.bias[c];
            }
        }
        for (const std::string& l : in.layers)
            if (std::find(pop.layers.begin(), pop.layers.end(), l) == pop.layers.end() && l != net_.populations[0].name) pop.layers.push_back(l);
    }
    // Layers named by an earlier population are its own, not this one's.
    std::vector<std::string> own;
    for (const std::string& l : pop.layers) {
        bool earlier = false;
        for (const Population& q : net_.populations)
            earlier |= q.name == l || std::find(q.layers.begin(), q.layers.end(), l) != q.layers.end();
        if (!earlier) own.push_back(l);
    }
    pop.layers = own;
    pop.layers.push_back(n.name);
    const std::int64_t units = shape.size();
    // A Threshold node has no r: its input is compared as it comes.
    const double r = threshold ? 1.0 : uniform(n, "r", units);
    // An LI has no threshold: it never fires, whatever readout a run asks
    // for, and is read by its membrane (the network's readout).
    const bool integrator = model == Model::LI || model == Model::CubaLI || model == Model::I;
    const bool cuba = model == Model::CubaLIF || model == Model::CubaLI;
    const double v_th = integrator ? double(FLT_MAX) : uniform(n, threshold ? "threshold" : "v_threshold", units);
    if (!(v_th > 0) || v_th > double(FLT_MAX))
        fail(n, std::string(threshold ? "threshold " : "v_threshold ") + num(v_th) + " is not positive (snn thresholds are)");
    double factor = r; // IF: v̇ = R·I, integrated over one step: v += R·I
    pop.neuron.model = lif ? NeuronModel::LIF : threshold ? NeuronModel::Threshold : NeuronModel::IF;
    pop.neuron.v_th = float(v_th);
    pop.neuron.strict_threshold = true; // NIR: z = v > v_threshold
    if (lif) {
        const double tau = uniform(n, cuba ? "tau_mem" : "tau", units);
        if (!(tau > 0)) fail(n, "tau " + num(tau) + " is not positive");
        const double v_leak = has(n, "v_leak") ? uniform(n, "v_leak", units) : 0.0;
        if (v_leak != 0)
            fail(n, "v_leak " + num(v_leak) + " is not representable: snn LIF neurons leak towards 0");
        // τ v̇ = −v + R·I with I held over the step: v ← v·e^(−dt/τ) + R·(1 − e^(−dt/τ))·I.
        const double tau_steps = tau / opt_.dt;
        if (!(tau_steps > 0) || tau_steps > 1e30) fail(n, "tau / dt = " + num(tau_steps) + " steps is out of range");
        pop.neuron.tau_steps = float(tau_steps);
        factor = r * (1.0 - std::exp(-1.0 / tau_steps));
        if (cuba) {
            // τ_syn İ = −I + w_in·S with S held over the step: I ← I·e^(−dt/τ_syn) +
            // (1 − e^(−dt/τ_syn))·w_in·S, and the membrane integrates the new I as
            // an LIF its input. I scales linearly, so the factors of both fold
            // into the weights: snn's current I ← I·e^(−1/τ_syn) + input.
            const double tau_syn = uniform(n, "tau_syn", units);
            if (!(tau_syn > 0)) fail(n, "tau_syn " + num(tau_syn) + " is not positive");
            const double syn_steps = tau_syn / opt_.dt;
            if (!(syn_steps > 0) || syn_steps > 1e30) fail(n, "tau_syn / dt = " + num(syn_steps) + " steps is out of range");
            const double w_in = has(n, "w_in") ? uniform(n, "w_in", units) : 1.0; // absent: 1 (NIR's reader)
            pop.neuron.tau_syn_steps = float(syn_steps);
            factor *= (1.0 - std::exp(-1.0 / syn_steps)) * w_in;
        }
        // The r snn export writes makes the factor 1 up to rounding: take it as 1.
        if (from_snn_ && std::fabs(factor - 1.0) < 1e-6) factor = 1.0;
    }
    pop.neuron.reset = reset_;
    if (!integrator && reset_ == ResetMode::Zero && has(n, "v_reset")) {
        const double v_reset = uniform(n, "v_reset", units);
        if (v_reset != 0)
            fail(n, "v_reset " + num(v_reset) + " is not representable: snn resets to 0 (or subtracts the threshold: --nir-reset subtract)");
    }
    if (factor != 1.0) {
        const auto ff = float(factor);
        for (Projection& p : pop.projections)
            for (float& w : p.weights) w *= ff;
        for (float& b : pop.bias) b *= ff;
    }
    Value v;
    v.sig = sig;
    v.pop = int(net_.populations.size());
    net_.populations.push_back(std::move(pop));
    return v;
}

// Metadata written by `snn export`: what NIR cannot say, restored so that
// export then convert gives the same network.
void NirImporter::apply_metadata(const h5::Node& top) {
    if (!from_snn_) return;
    const h5::Node meta = h5::open_group(top, "metadata");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_string(meta, "snn"));
        const auto& pops = j.at("populations");
        if (pops.size() != net_.populations.size()) fail_file("metadata 'snn' describes " + std::to_string(pops.size()) +
                                                              " populations, the graph has " + std::to_string(net_.populations.size()));
        for (std::size_t i = 0; i < pops.size(); ++i) {
            Population& pop = net_.populations[i];
            const auto& m = pops[i];
            if (m.at("node").get<std::string>() != pop.name) fail_file("metadata 'snn' does not match node '" + pop.name + "'");
            pop.name = m.at("name").get<std::string>();
            pop.layers = m.at("layers").get<std::vector<std::string>>();
            pop.scale = m.at("scale").get<float>();
            const auto layers = m.at("projection_layers").get<std::vector<std::string>>();
            if (layers.size() == pop.projections.size())
                for (std::size_t k = 0; k < layers.size(); ++k) pop.projections[k].layer = layers[k];
            if (!m.at("bias").get<bool>()) pop.bias.clear();
            else if (pop.bias.empty() && pop.kind == PopulationKind::Spiking) pop.bias.assign(std::size_t(pop.shape.c), 0.0f);
            if (pop.kind != PopulationKind::Spiking) continue;
            pop.neuron.reset = reset_mode_from(m.at("reset").get<std::string>());
            pop.neuron.v_init = m.at("v_init").get<float>();
            pop.neuron.signed_spikes = m.at("signed_spikes").get<bool>();
            pop.neuron.strict_threshold = m.at("strict_threshold").get<bool>();
            if (m.contains("clip")) pop.clip = m.at("clip").get<std::vector<float>>();
        }
        net_.readout = readout_from(j.at("readout").get<std::string>());
        net_.normalization = j.at("normalization").get<std::string>();
        net_.input_layout = input_layout_from(j.at("input_layout").get<std::string>());
        const std::string part = j.at("partition").get<std::string>();
        if (!part.empty()) net_.devices = parse_partition(net_, part);
    } catch (const nlohmann::json::exception& e) {
        fail_file(std::string("metadata 'snn' is not what snn export writes (") + e.what() + ")");
    }
    notes_.push_back("metadata written by snn export: restored names, scales, v_init, resets, readout and partition");
}

// Version "1.0.7", "0.1.dev247+g…", "1.0.7.dev8+g…": whether it is at least 1.0.6.
bool at_least_1_0_6(const std::string& v) {
    int part[3] = {0, 0, 0};
    std::size_t at = 0;
    for (int k = 0; k < 3 && at < v.size(); ++k) {
        std::size_t end = at;
        while (end < v.size() && std::isdigit(static_cast<unsigned char>(v[end]))) ++end;
        if (end == at) break;
        part[k] = std::atoi(v.substr(at, std::min<std::size_t>(end - at, 6)).c_str());
        if (end >= v.size() || v[end] != '.') break;
        at = end + 1;
    }
    return std::make_tuple(part[0], part[1], part[2]) >= std::make_tuple(1, 0, 6);
}

Network NirImporter::run() {
    file_ = h5::open_file(path_, opt_.memory);
    if (!h5::exists(file_, "node") || !is_group(file_, "node")) {
        if (h5::exists(file_, "nodes")) fail_file("a NIR file of the pre-0.0.6 layout (root 'nodes'), which is not supported");
        fail_file("not a NIR graph (no group 'node')");
    }
    h5::Node top = h5::open_group(file_, "node");
    if (!h5::exists(top, "type") || !is_string_dataset(top, "type") || read_string(top, "type") != "NIRGraph")
        fail_file("not a NIR graph ('node' is not of type NIRGraph)");
    const std::string version =
        h5::exists(file_, "version") && is_string_dataset(file_, "version") ? read_string(file_, "version") : "";
    from_snn_ = h5::exists(top, "metadata") && is_group(top, "metadata") &&
                h5::exists(h5::open_group(top, "metadata"), "snn");
    add_graph(top, "", nullptr);
    const std::vector<int> order = topological_order();

    const std::string v_text = version.empty() ? "no version" : "version " + version;
    switch (opt_.reset) {
    case NirReset::Sinabs:
        fail_file("--nir-reset sinabs is not representable: sinabs' IAF emits several spikes per step (floor(v/θ)) and "
                  "floors v at -θ, while snn neurons emit at most one spike per step");
    case NirReset::Subtract:
        reset_ = ResetMode::Subtract;
        notes_.push_back("reset: v <- v - v_threshold (--nir-reset subtract; the file has " + v_text + ")");
        break;
    case NirReset::Value:
        reset_ = ResetMode::Zero;
        notes_.push_back("reset: v <- v_reset = 0 (--nir-reset value; the file has " + v_text + ")");
        break;
    case NirReset::FromVersion:
        if (from_snn_) {
            notes_.push_back("reset: as snn export wrote it in the metadata (--nir-reset overrides)");
            reset_ = ResetMode::Subtract;
        } else if (!version.empty() && at_least_1_0_6(version)) {
            reset_ = ResetMode::Zero;
            notes_.push_back("reset: v <- v_reset = 0 (the file has " + v_text +
                             ", written after NIR 1.0.6 added v_reset; --nir-reset subtract overrides)");
        } else {
            reset_ = ResetMode::Subtract;
            notes_.push_back("reset: v <- v - v_threshold (the file has " + v_text +
                             ", written before NIR 1.0.6, when the spec reset by subtraction; --nir-reset value overrides)");
        }
        break;
    }

    values_.resize(nodes_.size());
    int input = -1, output_pop = -1;
    std::vector<int> lis; // LI nodes: each must be the output
    for (int i : order) {
        const RawNode& n = nodes_[std::size_t(i)];
        Value v;
        if (n.port) {
            if (n.preds.empty()) fail(n, "the subgraph's port has no incoming edge");
            v = single_input(n);
        } else if (n.type == "Input") {
            if (input >= 0) fail(n, "a second Input node (node '" + nodes_[std::size_t(input)].name + "' is the first)");
            if (!n.preds.empty()) fail(n, "an Input node with incoming edges");
            input = i;
            v = input_node(n);
        } else if (n.preds.empty()) {
            fail(n, "has no incoming edge");
        } else if (n.type == "Output") {
            const Value& in = single_input(n);
            if (output_pop >= 0) fail(n, "a second Output node");
            if (in.pop < 0) fail(n, "is fed by a linear node: the output must be a population of neurons (IF or LIF)");
            if (in.pop == 0) fail(n, "is fed by the input: the graph has no neurons");
            output_pop = in.pop;
            v = in;
        } else if (n.type == "Flatten") {
            v = flatten(n);
        } else if (n.type == "Affine" || n.type == "Linear") {
            v = affine(n, n.type == "Affine");
        } else if (n.type == "Conv2d") {
            v = conv2d(n);
        } else if (n.type == "Conv1d") {
            v = conv1d(n);
        } else if (n.type == "SumPool2d" || n.type == "AvgPool2d") {
            v = pool(n, n.type == "AvgPool2d");
        } else if (n.type == "Scale") {
            v = scale(n);
        } else if (n.type == "IF" || n.type == "LIF") {
            v = neuron(n, n.type == "LIF" ? Model::LIF : Model::IF);
        } else if (n.type == "LI" || n.type == "CubaLI" || n.type == "I") {
            v = neuron(n, n.type == "LI" ? Model::LI : n.type == "I" ? Model::I : Model::CubaLI);
            lis.push_back(i);
        } else if (n.type == "Threshold") {
            v = neuron(n, Model::Threshold);
        } else if (n.type == "CubaLIF") {
            v = neuron(n, Model::CubaLIF);
        } else if (n.type == "Delay") {
            fail(n, "Delay is not supported (snn layers have no synaptic delay)");
        } else {
            fail(n, "unknown node type '" + n.type + "' (supported: Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, "
                    "SumPool2d, AvgPool2d, Flatten, IF, LIF, CubaLIF, Threshold, LI, CubaLI and I as the output, NIRGraph)");
        }
        values_[std::size_t(i)] = std::move(v);
    }
    if (input < 0) fail_file("the graph has no Input node");
    if (output_pop < 0) fail_file("the graph has no Output node");
    if (std::size_t(output_pop) + 1 != net_.populations.size())
        fail_file("population '" + net_.populations.back().name + "' is not read by the Output: every neuron node must lead to it");
    for (int li : lis)
        if (values_[std::size_t(li)].pop != output_pop)
            fail(nodes_[std::size_t(li)], "an " + nodes_[std::size_t(li)].type +
                                              " node that the Output does not read: a leaky integrator never fires, so "
                                              "snn takes it only as the membrane readout of the output");
    net_.source = path_;
    net_.normalization = "none (NIR: the file's weights)";
    net_.readout = lis.empty() ? Readout::Spikes : Readout::Membrane;
    apply_metadata(top);
    try {
        validate(net_);
    } catch (const Error& e) {
        throw ModelError(path_, e.context.layer, path_ + ": " + e.what());
    }
    return std::move(net_);
}

// ---- export ----

void write_string(const h5::Node& parent, const std::string& name, const std::string& value) {
    h5::Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.id(), H5T_VARIABLE);
    H5Tset_cset(t.id(), H5T_CSET_UTF8);
    h5::Handle sp(H5Screate(H5S_SCALAR), H5Sclose);
    h5::Handle d(H5Dcreate2(parent.id(), name.c_str(), t.id(), sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    const char* p = value.c_str();
    if (!d.valid() || H5Dwrite(d.id(), t.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0)
        throw FileError(parent.file, parent.file + ": cannot write " + parent.path + "/" + name);
}

void write_edges(const h5::Node& parent, const std::vector<std::pair<std::string, std::string>>& edges) {
    h5::Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.id(), H5T_VARIABLE);
    H5Tset_cset(t.id(), H5T_CSET_UTF8);
    const hsize_t dims[2] = {hsize_t(edges.size()), 2};
    h5::Handle sp(H5Screate_simple(2, dims, nullptr), H5Sclose);
    h5::Handle d(H5Dcreate2(parent.id(), "edges", t.id(), sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    std::vector<const char*> p;
    for (const auto& [a, b] : edges) {
        p.push_back(a.c_str());
        p.push_back(b.c_str());
    }
    if (!d.valid() || H5Dwrite(d.id(), t.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
        throw FileError(parent.file, parent.file + ": cannot write the edges");
}

std::vector<std::uint64_t> nir_dims(const Shape& s) {
    if (s.h == 1 && s.w == 1) return {std::uint64_t(s.c)};
    return {std::uint64_t(s.c), std::uint64_t(s.h), std::uint64_t(s.w)};
}

std::vector<std::int64_t> nir_shape(const Shape& s) {
    const auto d = nir_dims(s);
    return {d.begin(), d.end()};
}

void write_ints(const h5::Node& g, const std::string& name, std::vector<std::int64_t> v) {
    h5::write_ints(g, name, v, {v.size()});
}

class NirExporter {
public:
    NirExporter(const Network& net, std::string path, std::vector<std::string>& warnings)
        : net_(net), path_(std::move(path)), warnings_(warnings) {}
    void write(const std::string& file_path);

private:
    [[noreturn]] void fail(const Population& p, const std::string& what) const {
        throw ModelError(path_, p.name, path_ + ": population '" + p.name + "': " + what);
    }
    void warn(const std::string& key, const std::string& what) {
        if (warned_.insert(key).second) warnings_.push_back(what);
    }
    std::string unique(const std::string& want) {
        std::string name = want.empty() ? "node" : want;
        for (int k = 1; used_.count(name); ++k) name = want + "_" + std::to_string(k);
        used_.insert(name);
        return name;
    }

    const Network& net_;
    std::string path_;
    std::vector<std::string>& warnings_;
    std::set<std::string> warned_, used_;
};

void NirExporter::write(const std::string& file_path) {
    h5::Node file = h5::create_file(file_path);
    write_string(file, "version", "1.0.7");
    h5::Node top = h5::create_group(file, "node");
    write_string(top, "type", "NIRGraph");
    h5::Node nodes = h5::create_group(top, "nodes");
    std::vector<std::pair<std::string, std::string>> edges;
    std::vector<std::string> node_of(net_.populations.size()); // the NIR node each population's spikes leave from
    nlohmann::json meta;
    meta["written_by"] = "snn export";
    meta["dt"] = "1 time step (LIF tau is in steps)";
    nlohmann::json pops = nlohmann::json::array();

    for (std::size_t i = 0; i < net_.populations.size(); ++i) {
        const Population& pop = net_.populations[i];
        const std::string name = unique(pop.name);
        nlohmann::json m;
        m["node"] = name;
        m["name"] = pop.name;
        m["layers"] = pop.layers;
        m["scale"] = pop.scale;
        m["bias"] = !pop.bias.empty();
        std::vector<std::string> proj_layers;
        for (const Projection& p : pop.projections) proj_layers.push_back(p.layer);
        m["projection_layers"] = proj_layers;
        m["reset"] = to_string(pop.neuron.reset);
        m["v_init"] = pop.neuron.v_init;
        m["signed_spikes"] = pop.neuron.signed_spikes;
        m["strict_threshold"] = pop.neuron.strict_threshold;
        if (!pop.clip.empty()) m["clip"] = pop.clip;
        if (pop.kind == PopulationKind::Input) {
            h5::Node g = h5::create_group(nodes, name);
            write_string(g, "type", "Input");
            write_ints(g, "shape", nir_shape(pop.shape));
            node_of[i] = name;
            pops.push_back(m);
            continue;
        }
        if (pop.kind == PopulationKind::MaxPool) fail(pop, "a max-pooling gate has no NIR node");
        if (!pop.theta.empty()) fail(pop, "per-unit threshold offsets (theta) cannot be written (NIR thresholds are per neuron but snn keeps them apart); not supported");
        if (pop.inhibition != Inhibition::None) fail(pop, "winner-take-all inhibition has no NIR node");
        const Shape t = pop.shape;
        const auto C = std::size_t(t.c);
        // An all-zero bias (pooling populations converted from Keras carry one) needs no node.
        bool bias_written = std::all_of(pop.bias.begin(), pop.bias.end(), [](float b) { return b == 0.0f; });
        std::vector<std::string> inputs; // nodes whose outputs sum into the neurons
        for (std::size_t k = 0; k < pop.projections.size(); ++k) {
            // NIR has no sparse layer: a pruned dense projection is written
            // as its dense matrix with the pruned weights 0.
            const Projection& stored = pop.projections[k];
            const Projection p = stored.kind == ProjectionKind::SparseDense
                                     ? densify(stored, net_.populations[std::size_t(stored.source)].shape, pop.shape)
                                     : stored;
            const Shape s = net_.populations[std::size_t(p.source)].shape;
            const std::string from = node_of[std::size_t(p.source)];
            if (p.binary) warn("binary", "binary weights are written as their float values (+-alpha); a NIR reader sees a float layer");
            const std::string lname = unique(p.layer.empty() ? pop.name + "_in" : p.layer);
            h5::Node g = h5::create_group(nodes, lname);
            std::vector<float> bias;
            if (!bias_written && (p.kind == ProjectionKind::Dense || p.kind == ProjectionKind::Conv2D ||
                                  p.kind == ProjectionKind::DepthwiseConv2D)) {
                bias = pop.bias;
                bias_written = true;
            }
            switch (p.kind) {
            case ProjectionKind::Dense: {
                const auto U = std::size_t(t.size()), N = std::size_t(s.size());
                std::string src = from;
                if (!(s.h == 1 && s.w == 1)) {
                    const std::string fl = unique(lname + "_flatten");
                    h5::Node f = h5::create_group(nodes, fl);
                    write_string(f, "type", "Flatten");
                    h5::write_ints(f, "start_dim", {0}, {});
                    h5::write_ints(f, "end_dim", {-1}, {});
                    write_ints(f, "input_type", nir_shape(s));
                    edges.emplace_back(from, fl);
                    src = fl;
                }
                // Ours (in, out) with rows in (h, w, c) order → NIR (out, in) in (c, h, w) order.
                std::vector<float> w(U * N);
                for (int y = 0; y < s.h; ++y)
                    for (int x = 0; x < s.w; ++x)
                        for (int c = 0; c < s.c; ++c) {
                            const auto ours = std::size_t((y * s.w + x) * s.c + c);
                            const auto theirs = std::size_t(c) * std::size_t(s.h * s.w) + std::size_t(y * s.w + x);
                            for (std::size_t o = 0; o < U; ++o) w[o * N + theirs] = p.weights[ours * U + o];
                        }
                write_string(g, "type", bias.empty() ? "Linear" : "Affine");
                h5::write_floats(g, "weight", w, {U, N});
                if (!bias.empty()) h5::write_floats(g, "bias", bias, {U});
                edges.emplace_back(src, lname);
                break;
            }
            case ProjectionKind::Conv2D:
            case ProjectionKind::DepthwiseConv2D: {
                const Window& win = p.window;
                // Symmetric padding only: the bottom/right padding the output implies must equal the top/left.
                const int pad_bottom = (t.h - 1) * win.sh + win.kh - s.h - win.pad_top;
                const int pad_right = (t.w - 1) * win.sw + win.kw - s.w - win.pad_left;
                const bool sym_h = pad_bottom == win.pad_top || (pad_bottom < win.pad_top && pad_bottom + win.sh > win.pad_top);
                const bool sym_w = pad_right == win.pad_left || (pad_right < win.pad_left && pad_right + win.sw > win.pad_left);
                if (!sym_h || !sym_w)
                    fail(pop, "padding top/left " + std::to_string(win.pad_top) + "/" + std::to_string(win.pad_left) +
                                  " with bottom/right " + std::to_string(pad_bottom) + "/" + std::to_string(pad_right) +
                                  " is asymmetric; NIR's Conv2d pads symmetrically");
                const bool dw = p.kind == ProjectionKind::DepthwiseConv2D;
                const std::size_t taps = std::size_t(win.kh * win.kw), CI = std::size_t(s.c);
                std::vector<float> w(taps * (dw ? 1 : CI) * C);
                if (dw) {
                    for (std::size_t o = 0; o < C; ++o)
                        for (std::size_t k2 = 0; k2 < taps; ++k2) w[o * taps + k2] = p.weights[k2 * C + o];
                } else {
                    for (std::size_t o = 0; o < C; ++o)
                        for (std::size_t c = 0; c < CI; ++c)
                            for (std::size_t k2 = 0; k2 < taps; ++k2) w[(o * CI + c) * taps + k2] = p.weights[(k2 * CI + c) * C + o];
                }
                write_string(g, "type", "Conv2d");
                h5::write_floats(g, "weight", w, {C, dw ? 1 : CI, std::uint64_t(win.kh), std::uint64_t(win.kw)});
                write_ints(g, "stride", {win.sh, win.sw});
                write_ints(g, "padding", {win.pad_top, win.pad_left});
                write_ints(g, "dilation", {1, 1});
                h5::write_ints(g, "groups", {dw ? std::int64_t(CI) : 1}, {});
                write_ints(g, "input_shape", {s.h, s.w});
                h5::write_floats(g, "bias", bias.empty() ? std::vector<float>(C, 0.0f) : bias, {C});
                edges.emplace_back(from, lname);
                break;
            }
            case ProjectionKind::AvgPool: {
                const Window& win = p.window;
                const float avg = float(1.0 / (double(win.kh) * double(win.kw)));
                const bool all_avg = std::all_of(p.weights.begin(), p.weights.end(), [&](float a) { return a == avg; });
                const bool all_one = std::all_of(p.weights.begin(), p.weights.end(), [](float a) { return a == 1.0f; });
                write_string(g, "type", all_avg ? "AvgPool2d" : "SumPool2d");
                write_ints(g, "kernel_size", {win.kh, win.kw});
                write_ints(g, "stride", {win.sh, win.sw});
                write_ints(g, "padding", {win.pad_top, win.pad_left});
                edges.emplace_back(from, lname);
                if (!all_avg && !all_one) {
                    const std::string sc = unique(lname + "_scale");
                    h5::Node f = h5::create_group(nodes, sc);
                    write_string(f, "type", "Scale");
                    std::vector<float> v(std::size_t(t.size()));
                    const std::size_t hw = std::size_t(t.h) * std::size_t(t.w);
                    for (std::size_t c = 0; c < C; ++c) std::fill_n(v.begin() + std::ptrdiff_t(c * hw), hw, p.weights[c]);
                    h5::write_floats(f, "scale", v, nir_dims(t));
                    edges.emplace_back(lname, sc);
                    inputs.push_back(sc);
                    continue;
                }
                break;
            }
            case ProjectionKind::Identity: {
                write_string(g, "type", "Scale");
                std::vector<float> v(std::size_t(t.size()));
                const std::size_t hw = std::size_t(t.h) * std::size_t(t.w);
                for (std::size_t c = 0; c < C; ++c) std::fill_n(v.begin() + std::ptrdiff_t(c * hw), hw, p.weights[c]);
                h5::write_floats(g, "scale", v, nir_dims(t));
                edges.emplace_back(from, lname);
                break;
            }
            case ProjectionKind::MaxPool:
                fail(pop, "a max-pooling projection has no NIR node");
                break;
            case ProjectionKind::Upsample2D:
                fail(pop, "a nearest-upsampling projection (Keras UpSampling2D) has no NIR node");
                break;
            case ProjectionKind::SparseDense:
                throw InternalError("nir export: a sparse projection left undensified");
            }
            inputs.push_back(lname);
        }
        if (!bias_written) fail(pop, "has a bias but only pooling or identity inputs, which have no bias in NIR");
        h5::Node g = h5::create_group(nodes, name);
        const auto dims = nir_dims(t);
        const std::size_t n = std::size_t(t.size());
        const auto full = [&](float x) { return std::vector<float>(n, x); };
        if (pop.neuron.tau_syn_steps > 0) {
            if (pop.neuron.model != NeuronModel::LIF)
                fail(pop, "an IF neuron with a synaptic current has no NIR node (CubaLIF's membrane leaks)");
            write_string(g, "type", "CubaLIF");
            // snn: I ← I·a_s + input, v ← v·a_m + I (a = e^(−1/τ)); NIR's CubaLIF read with
            // dt = 1 step (docs/nir.md) multiplies the input by r·(1 − a_m)·(1 − a_s)·w_in:
            // w_in = 1 and r = 1 / ((1 − a_m)(1 − a_s)).
            const double tau = pop.neuron.tau_steps, tau_syn = pop.neuron.tau_syn_steps;
            h5::write_floats(g, "tau_mem", full(float(tau)), dims);
            h5::write_floats(g, "tau_syn", full(float(tau_syn)), dims);
            h5::write_floats(g, "r", full(float(1.0 / ((1.0 - std::exp(-1.0 / tau)) * (1.0 - std::exp(-1.0 / tau_syn))))), dims);
            h5::write_floats(g, "w_in", full(1.0f), dims);
            h5::write_floats(g, "v_leak", full(0.0f), dims);
            warn("dt", "LIF time constants are written in time steps (dt = 1); a NIR reader must use dt = 1");
        } else if (pop.neuron.model == NeuronModel::Threshold) {
            write_string(g, "type", "Threshold");
            h5::write_floats(g, "threshold", full(pop.neuron.v_th), dims);
        } else if (pop.neuron.model == NeuronModel::LIF) {
            write_string(g, "type", "LIF");
            // snn: v ← v·e^(−1/τ) + I; NIR's LIF read with dt = 1 step and I held over the step
            // (docs/nir.md): v ← v·e^(−1/τ) + r·(1 − e^(−1/τ))·I, so r = 1 / (1 − e^(−1/τ)).
            const double tau = pop.neuron.tau_steps;
            h5::write_floats(g, "tau", full(float(tau)), dims);
            h5::write_floats(g, "r", full(float(1.0 / (1.0 - std::exp(-1.0 / tau)))), dims);
            h5::write_floats(g, "v_leak", full(0.0f), dims);
            warn("dt", "LIF time constants are written in time steps (dt = 1); a NIR reader must use dt = 1");
        } else {
            write_string(g, "type", "IF");
            h5::write_floats(g, "r", full(1.0f), dims);
        }
        // A threshold neuron keeps no membrane: no reset, no start value.
        const bool membrane = pop.neuron.model != NeuronModel::Threshold;
        if (membrane) {
            h5::write_floats(g, "v_threshold", full(pop.neuron.v_th), dims);
            h5::write_floats(g, "v_reset", full(0.0f), dims);
            if (pop.neuron.reset == ResetMode::Subtract)
                warn("reset", "reset by subtraction is written only into the metadata; a NIR reader (v1.0.6 on) resets to v_reset = 0");
            if (pop.neuron.v_init != 0) warn("v_init", "v_init (a membrane that starts above 0) is written only into the metadata");
        }
        if (!pop.neuron.strict_threshold)
            warn("threshold", "these neurons fire at v >= v_threshold, a NIR reader's at v > v_threshold (the metadata says so)");
        if (pop.neuron.signed_spikes) warn("signed", "signed spikes are written only into the metadata; a NIR reader ignores them");
        if (!pop.clip.empty()) warn("clip", "bounded ReLU caps (for the DNN pass) are written only into the metadata");
        if (pop.neuron.state_bits != 32)
            warn("state_bits", "16-bit membranes are not written (NIR has no membrane precision); a NIR reader, snn convert "
                               "included, simulates them as floats (snn convert --state-bits 16 restores them)");
        for (const std::string& in : inputs) edges.emplace_back(in, name);
        node_of[i] = name;
        pops.push_back(m);
    }
    const std::string out = unique("output");
    h5::Node og = h5::create_group(nodes, out);
    write_string(og, "type", "Output");
    write_ints(og, "shape", nir_shape(net_.output().shape));
    edges.emplace_back(node_of.back(), out);
    write_edges(top, edges);

    meta["populations"] = pops;
    meta["readout"] = to_string(net_.readout);
    meta["normalization"] = net_.normalization;
    meta["source"] = net_.source;
    meta["input_layout"] = to_string(net_.input_layout);
    meta["partition"] = partition_spec(net_);
    if (net_.readout != Readout::Spikes) warn("readout", std::string("the readout (") + to_string(net_.readout) + ") is written only into the metadata");
    if (!net_.devices.empty()) warn("partition", "the partition is written only into the metadata");
    if (!net_.exits.empty()) {
        nlohmann::json ex = nlohmann::json::array();
        for (const Exit& e : net_.exits)
            ex.push_back({{"name", e.name}, {"at", e.at}, {"rule", to_string(e.rule)}, {"threshold", e.threshold}, {"check_every", e.check_every}});
        meta["exits"] = ex;
        warn("exits", "exits are described in the metadata without their weights; NIR has no exits and snn convert does not restore them");
    }
    h5::Node mg = h5::create_group(top, "metadata");
    write_string(mg, "snn", meta.dump());
}

} // namespace

Network import_nir(const std::string& path, const NirImportOptions& options, std::vector<std::string>& notes) {
    if (!(options.dt > 0) || !std::isfinite(options.dt)) throw OptionError("dt", num(options.dt), "dt must be positive");
    return NirImporter(path, options, notes).run();
}

void export_nir(const Network& net, const std::string& path, std::vector<std::string>& warnings) {
    validate(net);
    if (net.idp_ranges.size() > 1) {
        char range[96];
        std::snprintf(range, sizeof range, "%g-100 %%", net.idp_ranges[net.idp_ranges.size() - 2]);
        warnings.push_back("NIR holds one set of weights: the IDP profile for " + std::string(range) +
                           " (the network's own) is exported, the other profiles' own layers are not");
    }
    // NIR has no DNN: a bias correction is part of the bias the SNN runs with.
    Network folded = net;
    bool corrected = false;
    for (Population& pop : folded.populations) {
        if (pop.bias_correction.empty()) continue;
        pop.bias = snn_bias(pop);
        pop.bias_correction.clear();
        corrected = true;
    }
    if (corrected)
        warnings.push_back("bias corrections (--calibrate-bias) are added into the biases: the NIR graph runs as this SNN "
                           "does, and a network converted back from it has them in its DNN's biases too");
    NirExporter exporter(folded, path, warnings);
    AtomicOutput out(path);
    try {
        exporter.write(out.temp_path());
    } catch (const ModelError&) {
        throw;
    } catch (const Error& e) {
        throw FileError(path, path + ": cannot write: " + e.what());
    }
    out.commit();
}

} // namespace snn
