#include "sim/cli/cmd_sweep.hpp"

#include "convert/convert.hpp"
#include "sim/cli/cmd_exits.hpp"
#include "sim/engine.hpp"
#include "sim/place.hpp"
#include "sim/report.hpp"
#include "sim/traffic.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/idp.hpp"
#include "snn/inspect.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <tuple>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace snn {

namespace {

using json = nlohmann::json;

const std::vector<std::string> lever_names{"quantize", "prune", "idp", "steps", "edge", "exit"};
const char* const lever_list_text = "quantize, prune, idp, steps, edge, exit";

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) parts.push_back(trim(part));
    if (!s.empty() && s.back() == sep) parts.push_back("");
    return parts;
}

// A value's entries as its flag takes them: '+' joins what ',' joins there.
std::vector<std::string> entries(const std::string& value) { return split(value, '+'); }
std::string comma_joined(const std::string& value) {
    std::string s = value;
    std::replace(s.begin(), s.end(), '+', ',');
    return s;
}

// A whole number ≥ 1: the steps lever's steps, the edge lever's weight layers.
int parse_count(const std::string& lever, const std::string& v, const char* what) {
    std::size_t used = 0;
    int n = 0;
    try {
        n = std::stoi(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || n < 1)
        throw OptionError("levers", v, "--levers " + lever + "=" + v + ": expected a whole number of " + what + ", at least 1");
    return n;
}
int parse_steps(const std::string& v) { return parse_count("steps", v, "steps"); }
int parse_edge(const std::string& v) { return parse_count("edge", v, "weight layers"); }

// The exit lever's confidence threshold (as `snn exits add --threshold`): finite, ≥ 0.
float parse_threshold(const std::string& v) {
    std::size_t used = 0;
    double h = -1;
    try {
        h = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || !std::isfinite(h) || h < 0)
        throw OptionError("levers", v, "--levers exit=" + v + ": expected none or a confidence threshold ≥ 0");
    return float(h);
}

// Checks one value with its flag's parser (the same one `snn convert` and `snn run` use).
void check_value(const std::string& lever, const std::string& v) {
    if (lever == "steps") {
        parse_steps(v);
        return;
    }
    if (lever == "edge") {
        parse_edge(v);
        return;
    }
    if (v == "none") return;
    if (lever == "exit") {
        parse_threshold(v);
        return;
    }
    try {
        if (lever == "quantize") parse_quantize(entries(v));
        else if (lever == "prune") parse_prune(entries(v));
        else parse_idp(comma_joined(v));
    } catch (const OptionError& e) {
        throw OptionError("levers", v, "--levers " + lever + "=" + v + ": " + e.what());
    }
}

// The converted network of one (quantize, prune) pair, or the converter's refusal.
struct Conversion {
    std::optional<Network> net;
    std::string refused;
    double seconds = 0;
    double model_bytes = 0;
};

std::string lever_value(const std::vector<Lever>& levers, const std::vector<std::size_t>& pick, const std::string& name,
                        const std::string& otherwise) {
    for (std::size_t i = 0; i < levers.size(); ++i)
        if (levers[i].name == name) return levers[i].values[pick[i]];
    return otherwise;
}

// The first M weight layers of a network and the pooling after them, the edge
// of 001's hybrid split; the rest is the cloud.
struct EdgeSplit {
    std::vector<std::string> populations; // the edge's, in network order
    std::vector<std::string> layers;      // the source-model layers of its weight projections
    std::string partition;                // as --partition takes it: edge:FIRST-LAST,cloud:NEXT-OUTPUT
    std::string refused;                  // why M cannot be split off, or empty
    const std::string& last() const { return populations.back(); }
};

bool weight_kind(ProjectionKind k) {
    return k == ProjectionKind::Dense || k == ProjectionKind::Conv2D || k == ProjectionKind::DepthwiseConv2D ||
           k == ProjectionKind::SparseDense;
}

bool has_weights(const Population& p) {
    return std::any_of(p.projections.begin(), p.projections.end(), [](const Projection& q) { return weight_kind(q.kind); });
}

EdgeSplit edge_split(const Network& net, int m) {
    EdgeSplit s;
    const int n = int(net.populations.size());
    int total = 0;
    for (int i = 1; i < n; ++i) total += has_weights(net.populations[i]) ? 1 : 0;
    if (m >= total) {
        s.refused = "edge " + std::to_string(m) + ": the network has " + std::to_string(total) + " weight layers; at most " +
                    std::to_string(total - 1) + " go to the edge, the cloud needs one";
        return s;
    }
    int seen = 0, last = 0;
    for (int i = 1; i < n; ++i) {
        const Population& p = net.populations[i];
        if (has_weights(p) && seen++ == m) break; // the (M+1)-th weight layer opens the cloud
        last = i;
        s.populations.push_back(p.name);
        for (const Projection& q : p.projections)
            if (weight_kind(q.kind) && !q.layer.empty() &&
                std::find(s.layers.begin(), s.layers.end(), q.layer) == s.layers.end())
                s.layers.push_back(q.layer);
    }
    s.partition = "edge:" + net.populations[1].name + "-" + net.populations[last].name + ",cloud:" +
                  net.populations[last + 1].name + "-" + net.output().name;
    return s;
}

// The quantize lever's value for an edge: a plain scheme (no LAYER=) applies
// to the edge's weight layers only, the cloud staying float32 (001's hybrid
// precision); named layers are taken as written.
std::string edge_quantize(const std::string& quantize, const EdgeSplit& split) {
    if (quantize == "none") return quantize;
    const std::vector<std::string> es = entries(quantize);
    for (const std::string& e : es)
        if (e.find('=') != std::string::npos) return quantize;
    std::string out;
    for (const std::string& layer : split.layers) out += (out.empty() ? "" : "+") + layer + "=" + es.front();
    return out;
}

// What `snn convert MODEL --calib D [--quantize Q] [--prune P] [--prune-seed S]
// [--idp-profile N]` does with every other flag at its default (cmd_convert
// in main.cpp): data-based normalization, one scale per channel, IF neurons
// reset by subtraction, v_init 0.5, membrane readout.
Conversion convert_one(const SweepArgs& a, const Dataset& calib, const std::string& quantize, const std::string& prune,
                       const std::string& partition) {
    ConvertOptions opt;
    opt.memory = a.memory;
    opt.norm = parse_norm(a.norm);
    opt.channel_wise = opt.norm.kind != NormSpec::Kind::Model; // --calib is always given
    if (quantize != "none") opt.quantize = parse_quantize(entries(quantize));
    if (prune != "none") opt.prune = parse_prune(entries(prune));
    opt.prune_seed = std::uint64_t(a.prune_seed);
    if (!a.idp_profile.empty()) opt.idp_profile = idp_profile_from(a.idp_profile);
    opt.neuron.reset = ResetMode::Subtract;
    opt.neuron.model = NeuronModel::IF;
    opt.neuron.v_th = 1.0f;
    opt.neuron.tau_steps = 0.0f;
    opt.neuron.v_init = 0.5f;
    opt.neuron.signed_spikes = false;
    opt.threads = a.threads;
    Conversion c;
    const auto start = std::chrono::steady_clock::now();
    ConvertLog log;
    try {
        Network net = convert_model(a.model, &calib, opt, log);
        net.readout = Readout::Membrane;
        c.net = std::move(net);
    } catch (const OptionError& e) {
        // The converter refuses this combination (e.g. --prune with --quantize): a row, not a failed sweep.
        c.refused = e.what();
        return c;
    }
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // As `snn inspect --json` counts it: stored codes and scales, sparse rows, biases.
    c.model_bytes = describe_json(*c.net)["totals"]["bytes"].get<double>();
    if (!partition.empty()) c.net->devices = parse_partition(*c.net, partition);
    return c;
}

std::string fixed(double x, int digits) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, x);
    return b;
}

// Terminal columns of UTF-8 text ("µJ" is three bytes, two columns): its bytes but continuation bytes.
std::size_t columns(const std::string& s) {
    return std::size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The table's cells: the levers, then the figures (a refusal's message in
// place of them); with an edge lever also the exit rate and each device's energy.
std::vector<std::vector<std::string>> table_cells(const std::vector<Lever>& levers, const json& rows, bool hybrid) {
    std::vector<std::string> head;
    for (const Lever& l : levers) head.push_back(l.name);
    for (const char* h : {"accuracy %", "DNN %", "synops/input", "bytes moved", "model bytes", "energy µJ", "front"})
        head.push_back(h);
    if (hybrid)
        for (const char* h : {"exit %", "edge µJ", "cloud µJ"}) head.push_back(h);
    head.push_back("seconds");
    std::vector<std::vector<std::string>> cells{head};
    for (const json& r : rows) {
        std::vector<std::string> line;
        for (const Lever& l : levers) line.push_back(r["levers"][l.name].get<std::string>());
        if (r.contains("refused")) {
            line.push_back("refused: " + r["refused"].get<std::string>());
        } else {
            line.push_back(fixed(100 * r["accuracy"].get<double>(), 2));
            line.push_back(r["dnn_accuracy"].is_null() ? "-" : fixed(100 * r["dnn_accuracy"].get<double>(), 2));
            line.push_back(fixed(r["synaptic_ops_per_input"].get<double>(), 0));
            line.push_back(fixed(r["bytes_moved_per_input"].get<double>(), 1));
            line.push_back(fixed(r["model_bytes"].get<double>(), 0));
            line.push_back(fixed(r["energy_pj_per_input"].get<double>() * 1e-6, 3));
            line.push_back(r["front"].get<bool>() ? "*" : "");
            if (hybrid) {
                line.push_back(fixed(100 * r["exit_rate"].get<double>(), 1));
                for (const char* d : {"edge", "cloud"})
                    line.push_back(fixed(r["energy_pj_per_input_by_device"][d].get<double>() * 1e-6, 3));
            }
            line.push_back(fixed(r["seconds"].get<double>(), 2));
        }
        cells.push_back(line);
    }
    return cells;
}

bool is_refusal(const std::string& cell) { return cell.rfind("refused: ", 0) == 0; }

std::string table(const std::vector<std::vector<std::string>>& cells) {
    // Column widths from every cell but a refusal's message, which runs on.
    std::vector<std::size_t> width(cells.front().size());
    for (const auto& line : cells)
        for (std::size_t i = 0; i < line.size(); ++i)
            if (!is_refusal(line[i])) width[i] = std::max(width[i], columns(line[i]));
    std::string o;
    for (const auto& line : cells) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            const bool last = i + 1 == line.size() || is_refusal(line[i]);
            o += line[i];
            if (last) break;
            o += std::string(width[i] + 2 - std::min(width[i] + 2, columns(line[i])), ' ');
        }
        o += "\n";
    }
    return o;
}

// The same as a markdown table, a refusal's message in its first figure column.
std::string markdown(const std::vector<std::vector<std::string>>& cells, std::size_t lever_columns) {
    const std::size_t n = cells.front().size();
    const auto escape = [](std::string c) {
        for (std::size_t at = 0; (at = c.find('|', at)) != std::string::npos; at += 2) c.replace(at, 1, "\\|");
        return c;
    };
    std::string o;
    for (std::size_t r = 0; r < cells.size(); ++r) {
        o += "|";
        for (std::size_t i = 0; i < n; ++i) o += " " + (i < cells[r].size() ? escape(cells[r][i]) : std::string()) + " |";
        o += "\n";
        if (r == 0) {
            o += "|";
            for (std::size_t i = 0; i < n; ++i) o += i < lever_columns ? "---|" : "---:|";
            o += "\n";
        }
    }
    return o;
}

// tools/sweep_plot.py beside the program's build or install tree.
std::string plot_script() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "";
    for (const char* rel : {"../tools/sweep_plot.py", "../share/snn/tools/sweep_plot.py"}) {
        const std::filesystem::path p = exe.parent_path() / rel;
        if (std::filesystem::exists(p, ec)) return p.lexically_normal().string();
    }
    return "";
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

} // namespace

std::vector<Lever> parse_levers(const std::string& spec) {
    std::vector<Lever> levers;
    if (trim(spec).empty())
        throw OptionError("levers", spec, std::string("--levers is empty: expected NAME=V1,V2;... with names ") + lever_list_text);
    for (const std::string& part : split(spec, ';')) {
        if (part.empty()) continue; // a trailing ';'
        const auto eq = part.find('=');
        const std::string name = trim(part.substr(0, eq));
        if (std::find(lever_names.begin(), lever_names.end(), name) == lever_names.end())
            throw OptionError("levers", name,
                              "--levers: unknown lever '" + name + "' (levers: " + lever_list_text + ")");
        if (eq == std::string::npos)
            throw OptionError("levers", part, "--levers " + name + ": expected " + name + "=V1,V2,...");
        for (const Lever& l : levers)
            if (l.name == name) throw OptionError("levers", name, "--levers: lever '" + name + "' given twice");
        Lever lever{name, split(part.substr(eq + 1), ',')};
        for (std::size_t i = 0; i < lever.values.size(); ++i) {
            const std::string& v = lever.values[i];
            if (v.empty()) throw OptionError("levers", part, "--levers " + name + ": an empty value in '" + part + "'");
            for (std::size_t j = 0; j < i; ++j)
                if (lever.values[j] == v)
                    throw OptionError("levers", v, "--levers " + name + ": value '" + v + "' given twice");
            check_value(name, v);
        }
        levers.push_back(std::move(lever));
    }
    if (levers.empty())
        throw OptionError("levers", spec, std::string("--levers names no lever: expected NAME=V1,V2;... with names ") + lever_list_text);
    return levers;
}

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& a, int default_threads) {
    a.threads = default_threads;
    auto* c = app.add_subcommand("sweep", "Convert and run a model for every combination of levers (quantize, prune, idp, "
                                          "steps, edge, exit): accuracy, synaptic ops, bytes moved, model bytes and energy "
                                          "per input");
    a.command = c;
    c->add_option("model", a.model, "Keras model (.h5, .keras) or ONNX model (.onnx)")->required();
    c->add_option("--calib", a.calib, "Calibration data (as snn convert --calib): mnist:train, ... or an HDF5 file with x, y")
        ->required();
    c->add_option("--calib-samples", a.calib_samples, "Number of calibration samples (first N)")->capture_default_str();
    c->add_option("--norm", a.norm, "Normalization (as snn convert --norm): max or percentile:P")->capture_default_str();
    c->add_option("--data", a.data, "Data to run on (as snn run --data)")->required();
    a.limit_option = c->add_option("--limit", a.limit, "Use only the first N samples");
    a.steps_option = c->add_option("--steps", a.steps, "Time steps per input where the levers have no steps")->capture_default_str();
    c->add_option("--encode", a.encode, "Input encoding: current or poisson")->capture_default_str();
    c->add_option("--max-rate", a.max_rate, "Poisson: spike probability per step of a pixel at 1.0")->capture_default_str();
    c->add_option("--seed", a.seed, "Seed of the random streams of the runs")->capture_default_str();
    c->add_option("--levers", a.levers,
                  "The grid: NAME=V1,V2,...;NAME=... with quantize (none or a --quantize scheme), prune (none or a "
                  "--prune spec), idp (none or a --idp setting), steps, edge (the first M weight layers on an edge "
                  "device, a plain quantize scheme on them only) and exit (none or the confidence threshold of an exit at "
                  "the end of the edge); '+' joins a value's entries, e.g. "
                  "quantize=none,int:8,int:4;prune=none,random:0.5;idp=100,60;steps=32,64 (docs/sweep.md)")
        ->required();
    c->add_option("--partition", a.partition,
                  "Layers per device for every run (as snn run --partition); bytes moved are then its cuts' bytes");
    c->add_option("--prune-seed", a.prune_seed, "Seed of prune random's draws")->capture_default_str();
    c->add_option("--idp-profile", a.idp_profile, "Attach this IDP profile on conversion (as snn convert --idp-profile)");
    c->add_option("--costs", a.costs, "Energy cost table (JSON, as snn run --costs)");
    c->add_option("--threads", a.threads, "Worker threads (results do not depend on it)")->capture_default_str();
    c->add_option("-o,--output", a.output, "Sweep report to write (JSON)")->required();
    c->add_option("--plot", a.plot, "Also plot the rows to this PNG with tools/sweep_plot.py (needs /usr/bin/python3 with matplotlib)");
    c->add_option("--markdown", a.markdown, "Also write the rows as a markdown table to this file");
    c->add_option("--exit-data", a.exit_data,
                  "Training data to fit the edge's exit on where the model has no exit head there (as snn exits train "
                  "--data; never a test split)");
    c->add_option("--exit-samples", a.exit_samples, "Fit the exit on the first N samples of --exit-data")->capture_default_str();
    c->add_option("--exit-steps", a.exit_steps, "The fitted exit reads rates after this many steps")->capture_default_str();
    c->add_option("--exit-iterations", a.exit_iterations, "Full-batch Adam iterations of the exit's fit")->capture_default_str();
    c->add_option("--exit-rule", a.exit_rule, "The exit's confidence rule: entropy (below the threshold, nats) or max-prob")
        ->capture_default_str();
    return c;
}

int run_sweep_command(const SweepArgs& a) {
    if (a.command == nullptr || !a.command->parsed()) return -1;
    // Everything the user can get wrong is checked before any work.
    const std::vector<Lever> levers = parse_levers(a.levers);
    const bool steps_lever = std::any_of(levers.begin(), levers.end(), [](const Lever& l) { return l.name == "steps"; });
    if (steps_lever && a.steps_option->count() > 0)
        throw OptionError("steps", std::to_string(a.steps), "--steps and the steps lever both give the steps; give one");
    if (a.steps < 1) throw OptionError("steps", std::to_string(a.steps), "--steps must be at least 1");
    if (a.limit_option->count() > 0 && a.limit < 1)
        throw OptionError("limit", std::to_string(a.limit), "--limit must be at least 1 (got " + std::to_string(a.limit) + ")");
    if (a.threads < 1) throw OptionError("threads", std::to_string(a.threads), "--threads must be at least 1");
    const auto has_lever = [&](const char* name) {
        return std::any_of(levers.begin(), levers.end(), [&](const Lever& l) { return l.name == name; });
    };
    const bool hybrid = has_lever("edge");
    if (has_lever("exit") && !hybrid)
        throw OptionError("levers", a.levers, "--levers exit=...: the exit sits at the end of the edge; add an edge lever (edge=M)");
    if (hybrid && !a.partition.empty())
        throw OptionError("partition", a.partition, "--partition and the edge lever both place the layers; give one");
    ExitRule rule = ExitRule::Entropy;
    try {
        rule = exit_rule_from(a.exit_rule);
    } catch (const OptionError&) {
        throw OptionError("exit-rule", a.exit_rule, "--exit-rule " + a.exit_rule + ": expected entropy or max-prob");
    }
    bool fits_exits = false; // an exit lever value other than none
    for (const Lever& l : levers)
        if (l.name == "exit")
            for (const std::string& v : l.values) {
                if (v == "none") continue;
                fits_exits = true;
                if (rule == ExitRule::MaxProb && parse_threshold(v) > 1)
                    throw OptionError("levers", v, "--levers exit=" + v + ": a max-prob threshold is a probability in [0, 1]");
            }
    if (a.exit_samples < 1)
        throw OptionError("exit-samples", std::to_string(a.exit_samples), "--exit-samples must be at least 1");
    if (a.exit_steps < 1) throw OptionError("exit-steps", std::to_string(a.exit_steps), "--exit-steps must be at least 1");
    if (a.exit_iterations < 1)
        throw OptionError("exit-iterations", std::to_string(a.exit_iterations), "--exit-iterations must be at least 1");
    if (!a.exit_data.empty()) refuse_test_split(a.exit_data, "snn sweep fits the edge's exit");
    if (a.calib_samples < 1)
        throw OptionError("calib-samples", std::to_string(a.calib_samples), "--calib-samples must be positive");
    if (a.prune_seed < 0) throw OptionError("prune-seed", std::to_string(a.prune_seed), "--prune-seed must be 0 or positive");
    const Encoding encode = encoding_from(a.encode);
    if (encode == Encoding::Frames)
        throw OptionError("encode", a.encode, "--encode frames: snn sweep runs static inputs only (current or poisson)");
    if (parse_norm(a.norm).kind == NormSpec::Kind::Model)
        throw OptionError("norm", a.norm, "--norm model: snn sweep normalizes on --calib (max or percentile:P)");
    if (!a.idp_profile.empty()) idp_profile_from(a.idp_profile);
    if (a.model.size() >= 4 && a.model.compare(a.model.size() - 4, 4, ".nir") == 0)
        throw OptionError("model", a.model, "snn sweep converts Keras or ONNX models; '" + a.model + "' is a NIR graph");
    if (!std::filesystem::exists(a.model)) throw FileError(a.model, "no such file: '" + a.model + "'");
    if (const auto dir = std::filesystem::path(a.output).parent_path(); !dir.empty() && !std::filesystem::is_directory(dir))
        throw OptionError("output", a.output, "--output " + a.output + ": no such directory '" + dir.string() + "'");
    if (const auto dir = std::filesystem::path(a.markdown).parent_path(); !dir.empty() && !std::filesystem::is_directory(dir))
        throw OptionError("markdown", a.markdown, "--markdown " + a.markdown + ": no such directory '" + dir.string() + "'");
    CostTable costs;
    if (!a.costs.empty()) costs = load_cost_table(a.costs);
    std::string plot_with;
    if (!a.plot.empty()) {
        plot_with = plot_script();
        if (access("/usr/bin/python3", X_OK) != 0)
            throw OptionError("plot", a.plot, "--plot needs /usr/bin/python3 with matplotlib, which this machine lacks; "
                                              "plot later with tools/sweep_plot.py OUT.json OUT.png");
        if (plot_with.empty())
            throw OptionError("plot", a.plot, "--plot: tools/sweep_plot.py is not beside this snn program; "
                                              "run it yourself: tools/sweep_plot.py OUT.json OUT.png");
    }

    const Dataset calib = load_dataset(a.calib, a.calib_samples, "", a.memory);
    const Dataset data = load_dataset(a.data, a.limit, "", a.memory);
    std::optional<Dataset> exit_data;
    if (fits_exits && !a.exit_data.empty()) exit_data = load_dataset(a.exit_data, a.exit_samples, "", a.memory);
    // Where the edge ends for each M: the layers as imported (no data needed for that).
    std::optional<Network> structure;
    if (hybrid) {
        ConvertOptions so;
        so.memory = a.memory;
        ConvertLog unused;
        structure = convert_model(a.model, nullptr, so, unused);
    }

    // The combinations in the order of --levers, the last lever varying fastest.
    std::size_t combinations = 1;
    for (const Lever& l : levers) combinations *= l.values.size();
    using Key = std::tuple<std::string, std::string, std::string>; // quantize as applied, prune, partition
    std::map<Key, Conversion> converted;
    std::map<Key, Exit> fitted; // the edge's exit of each conversion, where fitted
    json rows = json::array();
    for (std::size_t k = 0; k < combinations; ++k) {
        std::vector<std::size_t> pick(levers.size());
        for (std::size_t i = levers.size(), rest = k; i-- > 0;) {
            pick[i] = rest % levers[i].values.size();
            rest /= levers[i].values.size();
        }
        json row;
        row["levers"] = json::object();
        for (std::size_t i = 0; i < levers.size(); ++i) row["levers"][levers[i].name] = levers[i].values[pick[i]];
        const std::string quantize = lever_value(levers, pick, "quantize", "none"),
                          prune = lever_value(levers, pick, "prune", "none"), idp = lever_value(levers, pick, "idp", "none");
        const int steps = steps_lever ? parse_steps(lever_value(levers, pick, "steps", "")) : a.steps;
        std::optional<EdgeSplit> split;
        std::string applied_quantize = quantize, partition = a.partition;
        if (hybrid) {
            split = edge_split(*structure, parse_edge(lever_value(levers, pick, "edge", "")));
            if (!split->refused.empty()) {
                row["refused"] = split->refused;
                rows.push_back(row);
                continue;
            }
            applied_quantize = edge_quantize(quantize, *split);
            partition = split->partition;
        }
        // The steps, idp and exit levers run the same network: one conversion per (quantize, prune, edge).
        const Key key{applied_quantize, prune, partition};
        auto it = converted.find(key);
        if (it == converted.end()) it = converted.emplace(key, convert_one(a, calib, applied_quantize, prune, partition)).first;
        const Conversion& conv = it->second;
        if (!conv.net) {
            row["refused"] = conv.refused;
            rows.push_back(row);
            continue;
        }
        // The exit lever: this one exit at the end of the edge (the model's own head there, or one fitted
        // as `snn exits train` fits it), checked after the last step (an exit in depth), or none at all.
        std::optional<Network> with_exit;
        std::string exit_source;
        const std::string exit_value = lever_value(levers, pick, "exit", "");
        if (hybrid && !exit_value.empty()) {
            with_exit = *conv.net;
            with_exit->exits.clear();
            if (exit_value != "none") {
                const auto own = std::find_if(conv.net->exits.begin(), conv.net->exits.end(),
                                              [&](const Exit& x) { return x.at == split->last(); });
                Exit e;
                if (own != conv.net->exits.end()) {
                    e = *own;
                    exit_source = "model";
                } else {
                    auto f = fitted.find(key);
                    if (f == fitted.end()) {
                        if (!exit_data)
                            throw OptionError("exit-data", a.exit_data,
                                              "--exit-data: the model has no exit head at '" + split->last() +
                                                  "' (the end of the edge at edge=" + row["levers"]["edge"].get<std::string>() +
                                                  "); give --exit-data, a training split, to fit one as snn exits train does");
                        Dataset d = *exit_data;
                        match_input_layout(d, *conv.net);
                        ExitTrainOptions o;
                        o.memory = a.memory;
                        o.steps = a.exit_steps;
                        o.threads = a.threads;
                        o.fit.iterations = a.exit_iterations;
                        f = fitted.emplace(key, train_exit(*conv.net, split->last(), d, o)).first;
                    }
                    e = f->second;
                    exit_source = "fitted";
                }
                e.rule = rule;
                e.threshold = parse_threshold(exit_value);
                e.check_every = 0;
                with_exit->exits.push_back(e);
            }
        }
        const Network& network = with_exit ? *with_exit : *conv.net;
        // What `snn run NET --data D --steps T [--idp P] [--partition S]` does (prepare_run, finish_run in main.cpp).
        RunOptions opt;
        opt.steps = network.steps > 0 && !steps_lever && a.steps_option->count() == 0 ? network.steps : steps;
        opt.encode = encode;
        opt.max_rate = float(a.max_rate);
        opt.seed = a.seed;
        opt.threads = a.threads;
        std::optional<Network> idp_net;
        try {
            if (idp != "none") {
                opt.idp = parse_idp(comma_joined(idp));
                idp_net = apply_idp(network, *opt.idp);
            }
        } catch (const OptionError& e) {
            row["refused"] = e.what(); // e.g. an idp setting for a network without IDP layers
            rows.push_back(row);
            continue;
        }
        Dataset run_data = data;
        match_input_layout(run_data, network);
        const RunResult r = simulate(network, run_data, opt);
        const Network& ran = idp_net ? *idp_net : network;
        RunOptions report_opt = opt;
        report_opt.idp.reset();
        RunInfo info{a.model, a.data, report_opt, -1, {}, {}};
        info.idp = opt.idp;
        if (opt.idp) info.idp_profile_range = idp_profile_range(network, opt.idp->percent);
        info.costs = costs;
        if (ran.readout != Readout::Assignment) info.dnn_accuracy = dnn_accuracy(ran, run_data, a.threads, &info.dnn_predictions);
        const json report = report_json(ran, r, info);
        double bytes_moved = 0;
        for (const json& c : report["cuts"]) bytes_moved += c["bytes"].get<double>();
        row["steps"] = opt.steps;
        row["samples"] = report["samples"];
        row["accuracy"] = report["accuracy"];
        row["dnn_accuracy"] = report["dnn_accuracy"];
        row["synaptic_ops_per_input"] = report["synaptic_ops_per_sample"];
        row["spikes_per_input"] = report["spikes_per_sample"];
        row["bytes_moved_per_input"] = bytes_moved;
        row["model_bytes"] = conv.model_bytes;
        row["energy_pj_per_input"] = report["energy_pj_per_sample"];
        row["dnn_energy_pj_per_input"] = report["dnn_energy_pj_per_sample"];
        if (!partition.empty()) { // each device's share (001's edge and cloud energy apart)
            json by_device = json::object();
            for (const json& d : report["partitions"]) by_device[d["device"].get<std::string>()] = d["energy_pj"];
            row["energy_pj_per_input_by_device"] = by_device;
        }
        if (hybrid) {
            row["edge_populations"] = split->populations;
            json taken = 0.0, correct = nullptr, at = nullptr;
            for (const json& x : report["exits"])
                if (x["at"] == split->last()) taken = x["taken"], correct = x["accuracy"], at = x["at"];
            row["exit_at"] = at;
            row["exit_source"] = exit_source.empty() ? json(nullptr) : json(exit_source);
            row["exit_rate"] = taken;
            row["exit_accuracy"] = correct;
        }
        row["seconds"] = r.seconds;
        row["convert_seconds"] = conv.seconds;
        rows.push_back(row);
        if (isatty(STDERR_FILENO)) {
            std::fprintf(stderr, "\r%zu/%zu combinations   ", k + 1, combinations);
            if (k + 1 == combinations) std::fprintf(stderr, "\n");
            std::fflush(stderr);
        }
    }

    // The accuracy / energy front: a row is on it when no other row is at least as accurate for at most
    // its energy per input, and better in one of the two.
    for (json& r : rows) {
        if (r.contains("refused")) continue;
        const double acc = r["accuracy"].get<double>(), pj = r["energy_pj_per_input"].get<double>();
        bool dominated = false;
        for (const json& o : rows) {
            if (o.contains("refused")) continue;
            const double oa = o["accuracy"].get<double>(), op = o["energy_pj_per_input"].get<double>();
            dominated |= oa >= acc && op <= pj && (oa > acc || op < pj);
        }
        r["front"] = !dominated;
    }
    json settings{{"model", a.model},
                  {"calib", a.calib},
                  {"calib_samples", a.calib_samples},
                  {"norm", a.norm},
                  {"data", a.data},
                  {"samples", data.size()},
                  {"encode", to_string(encode)},
                  {"seed", a.seed},
                  {"prune_seed", a.prune_seed},
                  {"idp_profile", a.idp_profile.empty() ? json(nullptr) : json(a.idp_profile)},
                  {"partition", a.partition.empty() ? json(nullptr) : json(a.partition)},
                  {"threads", a.threads},
                  {"costs", to_json(costs)},
                  {"levers", a.levers},
                  {"bytes_moved", a.partition.empty() && !hybrid ? "0: no partition, nothing crosses between devices"
                                                      : "the partition's cut bytes per input, summed over its cuts "
                                                        "(snn run's cuts[].bytes, the cheapest encoding of each)"}};
    if (!steps_lever) settings["steps"] = a.steps;
    if (hybrid)
        settings["edge"] = "the first M weight layers (Dense, Conv2D, DepthwiseConv2D) and the pooling after them on "
                           "device edge, the rest on device cloud; a plain quantize scheme applies to the edge's layers only";
    settings["exit"] = has_lever("exit") ? json{{"rule", to_string(rule)},
                                                 {"check_every", 0},
                                                 {"data", a.exit_data.empty() ? json(nullptr) : json(a.exit_data)},
                                                 {"samples", exit_data ? json(exit_data->size()) : json(nullptr)},
                                                 {"steps", a.exit_steps},
                                                 {"iterations", a.exit_iterations}}
                                         : json(nullptr);
    json lever_list = json::array();
    for (const Lever& l : levers) lever_list.push_back({{"name", l.name}, {"values", l.values}});
    const json out{{"schema_version", 1}, {"command", "sweep"}, {"settings", settings}, {"lever_values", lever_list},
                   {"combinations", combinations}, {"rows", rows}};
    const auto cells = table_cells(levers, rows, hybrid);
    write_text_atomically(a.output, out.dump(2) + "\n");
    if (!a.markdown.empty()) write_text_atomically(a.markdown, markdown(cells, levers.size()));
    std::printf("%s", table(cells).c_str());
    std::printf("wrote %s: %zu combinations\n", a.output.c_str(), combinations);
    if (!a.markdown.empty()) std::printf("wrote %s\n", a.markdown.c_str());
    if (!plot_with.empty()) {
        const std::string cmd = "/usr/bin/python3 " + shell_quote(plot_with) + " " + shell_quote(a.output) + " " + shell_quote(a.plot);
        if (std::system(cmd.c_str()) != 0)
            throw OptionError("plot", a.plot, "--plot: tools/sweep_plot.py failed (" + a.output + " is written)");
        std::printf("wrote %s\n", a.plot.c_str());
    }
    return 0;
}

} // namespace snn
