// snn: the command-line program. One subcommand per task (DESIGN.md):
//   snn convert MODEL -o NET.snn.h5   import, calibrate, normalize, map to IF/LIF
//   snn inspect NET                   layers, shapes, neurons, parameters, bytes
//   snn fit NET --target NAME         whether it fits a neuromorphic chip, and why not
//   snn export NET -o net.nir         the network as a NIR graph
//   snn run NET --data D --steps T    simulate and report
//   snn exits train|add|place|clear   conditional exits stored in a network
//   snn partition NET SPEC            layers assigned to devices
//   snn stdp-curve --rule R           a plasticity rule's weight change against spike timing
//   snn learn --data D --neurons N    unsupervised STDP learning of one layer, label assignment
//   snn sweep MODEL --levers SPEC     convert and run every combination of levers, one row each
// Exit codes: 0 done, 1 the user's input is wrong (one line says what), 2 a bug.
#include "convert/convert.hpp"
#include "convert/nir.hpp"
#include "sim/calibrate.hpp"
#include "sim/cli/cmd_exits.hpp"
#include "sim/cli/cmd_export.hpp"
#include "sim/cli/cmd_learn.hpp"
#include "sim/cli/cmd_stdp.hpp"
#include "sim/cli/cmd_sweep.hpp"
#include "sim/cli/config.hpp"
#include "sim/diagnose.hpp"
#include "sim/dnn_pipeline.hpp"
#include "sim/engine.hpp"
#include "sim/nir_record.hpp"
#include "sim/operating_point.hpp"
#include "sim/pipeline.hpp"
#include "sim/report.hpp"
#include "snn/atomic_output.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/fit.hpp"
#include "snn/inspect.hpp"
#include "snn/memory.hpp"
#include "snn/network_io.hpp"
#if SNN_WITH_MPI
#include "sim/mpi/distributed.hpp"
#include "sim/mpi/dnn_pipeline.hpp"
#endif

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

namespace {

using namespace snn;

int default_threads() { return int(std::max(1u, std::thread::hardware_concurrency())); }

// An option's value for ErrorContext::value, as a number prints in a message.
std::string num(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return b;
}

// The line the user reads for an snn::Error. The library names an option by
// its key ("steps must be at least 1"); the user knows it as the flag
// (--steps). Messages of the CLI itself already start with the flag.
std::string user_message(const Error& e) {
    const std::string what = e.what();
    // A memory limit: the flag that sets it.
    if (const auto* m = dynamic_cast<const MemoryError*>(&e)) {
        if (m->limit_of == MemoryError::Limit::Set) return what + " (--max-memory)";
        if (m->limit_of == MemoryError::Limit::Default)
            return m->subject + ": needs " + format_bytes(m->needs) + ", above the memory limit of " +
                   format_bytes(m->limit) + " (3/4 of this machine's memory; raise it with --max-memory)";
        return what;
    }
    const std::string& key = e.context.option;
    if (!key.empty() && what.rfind("--", 0) != 0 && what.size() > key.size() && what.compare(0, key.size(), key) == 0 &&
        what[key.size()] == ' ')
        return "--" + what;
    return what;
}

// A command starts by removing the temporaries that killed runs left beside
// the outputs named on its command line (snn/atomic_output.hpp: only those no
// running snn holds). An output written in place (snn exits without -o) is
// cleaned when it is written.
void remove_stale_outputs(const CLI::App& app) {
    const CLI::App* cmd = &app;
    for (auto subs = cmd->get_subcommands(); !subs.empty(); subs = cmd->get_subcommands()) cmd = subs.front();
    for (const char* name : {"--output", "--report", "--predictions", "--record", "--checkpoint", "--json"}) {
        const CLI::Option* opt = cmd->get_option_no_throw(name);
        if (opt == nullptr || opt->count() == 0 || opt->get_expected_min() == 0) continue;
        const std::string path = opt->as<std::string>();
        if (!path.empty()) remove_stale_temporaries(path);
    }
}

struct ConvertArgs {
    MemoryBudget memory; // --max-memory
    std::string model, output, calib, norm = "percentile:99.9", granularity = "channel", reset = "subtract", neuron = "if",
                                      readout = "membrane";
    std::int64_t calib_samples = 1000;
    double tau_steps = 0, v_th = 1.0, v_init = 0.5;
    int threads = default_threads(), calibrate_steps = 0, calibrate_bias = 0;
    bool norm_given = false, granularity_given = false, signed_spikes = false;
    std::vector<std::string> binarize, quantize, prune;
    std::int64_t prune_seed = 1;
    std::string target; // --target: a chip whose weight and state precision to apply
    int state_bits = 32; // --state-bits, where given (else 32, or the target's)
    bool state_bits_given = false;
    bool no_binary = false;
    std::string nir_reset; // empty: by the file's version (NIR input only)
    double dt = 1.0;       // NIR input only
    bool dt_given = false;
    bool prune_seed_given = false;
    std::string idp_profile; // --idp-profile: all-one, harmonic, linear or half-exp; empty: the model's own, if any
};

// A calibration that tunes the network for `steps` steps on --calib (0: off):
// it needs the data, and not a test split.
void require_training_calib(const ConvertArgs& a, const std::string& flag, int steps) {
    if (steps < 0) throw OptionError(flag, std::to_string(steps), "--" + flag + " must be positive (0: off)");
    if (steps == 0) return;
    if (a.calib.empty()) throw OptionError(flag, std::to_string(steps), "--" + flag + " needs calibration data (--calib)");
    if (a.calib.size() >= 5 && a.calib.compare(a.calib.size() - 5, 5, ":test") == 0)
        throw DataError(a.calib, "--" + flag + " tunes the network on '" + a.calib +
                                     "', a test split; calibrate on a training split (e.g. mnist:train)");
}

bool is_nir(const std::string& path) { return path.size() >= 4 && path.compare(path.size() - 4, 4, ".nir") == 0; }

// A NIR graph is already a spiking network: imported as it is, no normalization.
int cmd_convert_nir(const ConvertArgs& a) {
    NirImportOptions opt;
    opt.memory = a.memory;
    if (!a.nir_reset.empty()) opt.reset = nir_reset_from(a.nir_reset);
    opt.dt = a.dt;
    if (!(a.dt > 0) || !std::isfinite(a.dt)) throw OptionError("dt", num(a.dt), "--dt must be positive");
    if (!a.calib.empty() || !a.binarize.empty() || a.calibrate_steps > 0 || a.calibrate_bias > 0 || !a.quantize.empty() || !a.target.empty() ||
        !a.prune.empty() || !a.idp_profile.empty())
        throw OptionError("calib", a.calib,
                          "--calib, --calibrate-steps, --calibrate-bias, --binarize, --quantize, --prune, --idp-profile and --target do not apply to a NIR graph (it is already spiking)");
    std::vector<std::string> notes;
    Network net = import_nir(a.model, opt, notes);
    if (a.state_bits_given) set_state_bits(net, a.state_bits);
    for (const auto& l : notes) std::fprintf(stderr, "snn: %s\n", l.c_str());
    save(net, a.output);
    std::printf("wrote %s: %zu populations from NIR graph %s\n", a.output.c_str(), net.populations.size(), a.model.c_str());
    return 0;
}

int cmd_convert(const ConvertArgs& a) {
    if (a.state_bits_given) check_state_bits(a.state_bits);
    if (is_nir(a.model)) return cmd_convert_nir(a);
    if (!a.nir_reset.empty() || a.dt_given)
        throw OptionError(a.nir_reset.empty() ? "dt" : "nir-reset", "", "--nir-reset and --dt apply to NIR graphs (.nir) only");
    ConvertOptions opt;
    opt.memory = a.memory;
    opt.norm = parse_norm(a.norm);
    if (a.granularity != "layer" && a.granularity != "channel")
        throw OptionError("norm-granularity", a.granularity,
                          "--norm-granularity '" + a.granularity + "': expected layer or channel");
    // Channel-wise scales need data-based normalization; the default falls back
    // to one scale per layer without it, an explicit request is refused below.
    const bool data_based = !a.calib.empty() && opt.norm.kind != NormSpec::Kind::Model;
    opt.channel_wise = a.granularity == "channel" && (data_based || a.granularity_given);
    opt.channel_wise_explicit = opt.channel_wise && a.granularity_given;
    opt.binarize = a.binarize;
    opt.quantize = parse_quantize(a.quantize);
    opt.prune = parse_prune(a.prune);
    if (a.prune_seed < 0)
        throw OptionError("prune-seed", std::to_string(a.prune_seed), "--prune-seed must be 0 or positive");
    if (a.prune_seed_given && opt.prune.empty())
        throw OptionError("prune-seed", std::to_string(a.prune_seed), "--prune-seed applies only with --prune");
    opt.prune_seed = std::uint64_t(a.prune_seed);
    if (!a.idp_profile.empty()) opt.idp_profile = idp_profile_from(a.idp_profile);
    std::vector<std::string> target_notes;
    if (!a.target.empty()) {
        // The chip's weight precision, for every layer --quantize leaves to a bare entry.
        const Target t = load_target(a.target);
        const bool bare = std::any_of(opt.quantize.begin(), opt.quantize.end(), [](const QuantizeEntry& e) { return e.layer.empty(); });
        const std::string scheme = t.weight_bits <= 1 ? "binary" : "int:" + std::to_string(std::min(t.weight_bits, 8));
        if (t.toolchain_quantizes || t.weight_bits >= 32)
            target_notes.push_back("target " + t.name + ": its toolchain quantizes weights itself; weights stay float32");
        else if (bare)
            target_notes.push_back("target " + t.name + ": --quantize's scheme for every layer replaces the target's " + scheme);
        else {
            opt.quantize.push_back(parse_quantize({scheme}).front());
            target_notes.push_back("target " + t.name + ": weights quantized to " + scheme + " (its " +
                                   std::to_string(t.weight_bits) + "-bit weights)");
        }
        // Its membranes: the widest snn simulates that the chip holds (Loihi's 24 bits run as 16).
        if (a.state_bits_given)
            target_notes.push_back("target " + t.name + ": --state-bits " + std::to_string(a.state_bits) +
                                   " replaces its " + std::to_string(t.state_bits) + "-bit membranes");
        else if (t.state_bits >= 16 && t.state_bits < 32) {
            opt.neuron.state_bits = 16;
            target_notes.push_back("target " + t.name + ": membranes held as 16-bit fixed point (its " +
                                   std::to_string(t.state_bits) + "-bit states" +
                                   (t.state_bits == 16 ? ")" : "; snn simulates 16 or 32 bits)"));
        } else if (t.state_bits < 16)
            target_notes.push_back("target " + t.name + ": holds " + std::to_string(t.state_bits) +
                                   "-bit membranes, narrower than snn simulates (16 or 32 bits); they stay 32-bit floats");
    }
    if (a.state_bits_given) opt.neuron.state_bits = a.state_bits;
    if (a.calibrate_steps > 0 && !opt.quantize.empty())
        throw OptionError("calibrate-steps", std::to_string(a.calibrate_steps),
                          "--calibrate-steps cannot be combined with --quantize or --target (it would rescale the quantized weights)");
    opt.no_binary = a.no_binary;
    opt.neuron.reset = reset_mode_from(a.reset);
    opt.neuron.model = neuron_model_from(a.neuron);
    if (opt.neuron.model == NeuronModel::Threshold)
        throw OptionError("neuron", a.neuron, "--neuron threshold is NIR's Threshold node (no membrane); a converted DNN needs if or lif");
    opt.neuron.v_th = float(a.v_th);
    opt.neuron.tau_steps = float(a.tau_steps);
    opt.neuron.v_init = float(a.v_init);
    opt.neuron.signed_spikes = a.signed_spikes;
    if (a.signed_spikes && opt.neuron.reset != ResetMode::Subtract)
        throw OptionError("reset", a.reset, "--signed-spikes needs --reset subtract");
    if (!(a.v_init >= 0 && a.v_init < 1)) throw OptionError("v-init", num(a.v_init), "--v-init must be in [0, 1)");
    opt.threads = a.threads;
    if (opt.neuron.model == NeuronModel::LIF && !(a.tau_steps > 0))
        throw OptionError("tau-steps", num(a.tau_steps),
                          "--neuron lif needs --tau-steps X (membrane time constant in steps, X > 0)");
    if (opt.neuron.model == NeuronModel::IF && a.tau_steps != 0)
        throw OptionError("tau-steps", num(a.tau_steps), "--tau-steps only applies to --neuron lif");
    if (!(a.v_th > 0)) throw OptionError("v-th", num(a.v_th), "--v-th must be positive");
    if (a.calib.empty() && a.norm_given && opt.norm.kind != NormSpec::Kind::Model)
        throw OptionError("norm", a.norm,
                          "--norm " + a.norm +
                              " is data-based and needs calibration data (--calib); without it use --norm model");
    require_training_calib(a, "calibrate-steps", a.calibrate_steps);
    require_training_calib(a, "calibrate-bias", a.calibrate_bias);
    const Readout readout = readout_from(a.readout);
    Dataset calib;
    if (!a.calib.empty()) {
        if (a.calib_samples < 1)
            throw OptionError("calib-samples", std::to_string(a.calib_samples), "--calib-samples must be positive");
        // Frames or an event list calibrate by their mean frames (the rates they deliver).
        FrameOptions fo;
        fo.memory = a.memory;
        calib = holds_frames(a.calib) ? load_frames(a.calib, a.calib_samples, fo)
                                      : load_dataset(a.calib, a.calib_samples, "", a.memory);
    }
    ConvertLog log;
    Network net = convert_model(a.model, a.calib.empty() ? nullptr : &calib, opt, log);
    net.readout = readout;
    for (const auto& l : target_notes) std::printf("  %s\n", l.c_str());
    for (const auto& l : log.lines) std::printf("  %s\n", l.c_str());
    // The calibration data in the network's own input layout (and through its
    // input stage), once for whichever calibration runs first.
    bool calib_matched = false;
    const auto matched_calib = [&]() -> const Dataset& {
        if (!calib_matched) match_input_layout(calib, net);
        calib_matched = true;
        return calib;
    };
    // Each calibration says what it does, line by line, and the network's normalization says it was done.
    const auto calibrated = [&](const char* what, int steps, const std::vector<std::string>& lines) {
        for (const auto& l : lines) std::printf("  %s\n", l.c_str());
        net.normalization += "; " + std::string(what) + " for " + std::to_string(steps) + " steps";
    };
    if (a.calibrate_steps > 0) {
        CalibrateOptions co;
        co.steps = a.calibrate_steps;
        co.threads = a.threads;
        std::printf("  calibrating scales for %d steps on %lld samples of %s\n", co.steps, (long long)calib.size(),
                    calib.name.c_str());
        calibrated("scales tuned", co.steps, calibrate_steps(net, matched_calib(), co).log);
    }
    if (a.calibrate_bias > 0) {
        BiasCalibrationOptions bo;
        bo.steps = a.calibrate_bias;
        bo.threads = a.threads;
        std::printf("  calibrating biases for %d steps on %lld samples of %s\n", bo.steps, (long long)calib.size(),
                    calib.name.c_str());
        calibrated("biases calibrated", bo.steps, calibrate_biases(net, matched_calib(), bo).log);
    }
    save(net, a.output);
    std::printf("wrote %s: %zu populations, normalization: %s\n", a.output.c_str(), net.populations.size(),
                net.normalization.c_str());
    return 0;
}

struct RunArgs {
    MemoryBudget memory; // --max-memory
    std::string network, data, encode = "current", readout, report, record, partition, costs, predictions,
        kernels = "auto", popcount = "auto", float_isa = "auto", cut_loss = "none", quant_kernels = "float";
    std::int64_t limit = -1, record_samples = 1, diagnose = 0;
    int steps = 64, threads = default_threads();
    double max_rate = 1.0, tolerance = 0.3;
    std::uint64_t seed = 1;
    bool no_dnn = false, quiet = false, no_step_batches = false, no_layer_by_layer = false;
    bool steps_given = false, max_rate_given = false; // else the network's own, where it states them
    std::string layout; // --encode frames: nhwc or nchw; empty: the network's input layout
    double bin = 1;     // --encode frames, event lists: units of t per step
    std::string record_format = "snn"; // --record: snn or nir (sim/nir_record.hpp)
    std::string distributed;           // --distributed: empty (one process), data or pipeline (sim/mpi/)
    double timeout = 60;               // --timeout: seconds a pipeline rank waits for a message
    int window = 0;                    // --window: a pipeline's steps per message (0: the whole run)
    bool window_given = false;
    bool dnn_pipeline = false;         // --dnn-pipeline: the DNN with int8 activations across the cuts (sim/dnn_pipeline.hpp)
    int state_bits = 32;               // --state-bits, where given (else the network's own)
    bool state_bits_given = false;
    bool bin_given = false;
    std::string idp; // --idp: P or LAYER=P,... (snn/idp.hpp); empty: none
};

// A run read and checked: the same on every rank of a distributed one.
struct PreparedRun {
    RunOptions opt;
    Network net;
    Dataset data;
    std::optional<Network> idp_net; // with --idp: the network as it runs (apply_idp), for the report and DNN pass
};

PreparedRun prepare_run(const RunArgs& a) {
    RunOptions opt;
    opt.steps = a.steps;
    opt.encode = encoding_from(a.encode);
    opt.kernels = kernel_path_from(a.kernels);
    opt.quant_kernels = quant_kernels_from(a.quant_kernels);
    if (a.popcount != "auto") opt.popcount = popcount_isa_from(a.popcount);
    if (a.float_isa != "auto") opt.float_isa = float_isa_from(a.float_isa);
    opt.step_batches = !a.no_step_batches;
    opt.layer_by_layer = !a.no_step_batches && !a.no_layer_by_layer;
    if (!a.readout.empty()) opt.readout = readout_from(a.readout);
    opt.max_rate = float(a.max_rate);
    opt.seed = a.seed;
    opt.threads = a.threads;
    if (a.threads < 1) throw OptionError("threads", std::to_string(a.threads), "--threads must be at least 1");
    if (a.steps < 1) throw OptionError("steps", std::to_string(a.steps), "--steps must be at least 1");
    if (a.diagnose < 0) throw OptionError("diagnose", std::to_string(a.diagnose), "--diagnose must be at least 1 (samples)");
    if (!(a.tolerance >= 0) || !std::isfinite(a.tolerance))
        throw OptionError("tolerance", num(a.tolerance), "--tolerance must be at least 0 (percentage points)");
    opt.record_samples = a.record.empty() ? 0 : a.record_samples;
    if (!a.record.empty() && a.record_samples < 1)
        throw OptionError("record-samples", std::to_string(a.record_samples), "--record-samples must be at least 1");
    if (a.record_format != "snn" && a.record_format != "nir")
        throw OptionError("record-format", a.record_format, "--record-format '" + a.record_format + "': expected snn or nir");
    if (!a.quiet && isatty(STDERR_FILENO))
        opt.progress = [](std::int64_t done, std::int64_t total, double seconds) {
            std::fprintf(stderr, "\r%lld/%lld samples, %.1f samples/s   ", (long long)done, (long long)total,
                         seconds > 0 ? double(done) / seconds : 0.0);
            if (done == total) std::fprintf(stderr, "\n");
            std::fflush(stderr);
        };
    if (a.state_bits_given) check_state_bits(a.state_bits);
    Network net = load(a.network, a.memory);
    if (a.state_bits_given) set_state_bits(net, a.state_bits);
    // A learned layer states the steps and Poisson rate it was made for.
    if (!a.steps_given && net.steps > 0) opt.steps = net.steps;
    if (!a.max_rate_given && net.max_rate > 0) opt.max_rate = net.max_rate;
    if (!a.partition.empty())
        net.devices = a.partition == "none" ? std::vector<std::string>{} : parse_partition(net, a.partition);
    // --idp: checked here, before any data is read (one line for a bad P or layer).
    std::optional<Network> idp_net;
    if (!a.idp.empty()) {
        opt.idp = parse_idp(a.idp);
        idp_net = apply_idp(net, *opt.idp);
    }
    opt.cut_loss = cut_loss_from(a.cut_loss);
    if (opt.cut_loss.active() && net.devices.empty())
        throw OptionError("cut-loss", a.cut_loss,
                          "--cut-loss " + a.cut_loss + ": the network has no partition (give one with --partition)");
    Dataset data;
    if (opt.encode == Encoding::Frames) {
        // The frames' steps are the run's (docs/events.md), unless --steps asks for fewer.
        FrameOptions fo;
        fo.layout = !a.layout.empty() ? frame_layout_from(a.layout)
                    : net.input_layout == InputLayout::ChannelsFirst ? FrameLayout::ChannelsFirst
                                                                      : FrameLayout::ChannelsLast;
        fo.bin = a.bin;
        fo.memory = a.memory;
        fo.max_steps = a.steps_given ? a.steps : 0;
        data = load_frames(a.data, a.limit, fo);
        check_frames_fit(data, net.input().shape);
        opt.steps = data.frames;
        if (a.diagnose > 0)
            throw OptionError("diagnose", std::to_string(a.diagnose), "--diagnose does not read frames (--encode frames)");
    } else {
        if (!a.layout.empty()) throw OptionError("layout", a.layout, "--layout applies to --encode frames only");
        if (a.bin_given) throw OptionError("bin", num(a.bin), "--bin applies to --encode frames only");
        data = load_dataset(a.data, a.limit, "", a.memory);
    }
    match_input_layout(data, net);
    return PreparedRun{std::move(opt), std::move(net), std::move(data), std::move(idp_net)};
}

// The DNN passes, the report and the files of a run, from its result.
int finish_run(const RunArgs& a, const PreparedRun& p, const RunResult& r, const RunInfo::Ranks& ranks = {}) {
    // With --idp the report, the DNN pass and any further runs see the
    // network as it ran, which is already at its IDP setting.
    const Network& net = p.idp_net ? *p.idp_net : p.net;
    RunOptions opt = p.opt;
    opt.idp.reset();
    const Dataset& data = p.data;
    RunInfo info{a.network, a.data, opt, -1, {}, {}};
    info.idp = p.opt.idp;
    if (p.opt.idp) info.idp_profile_range = idp_profile_range(p.net, p.opt.idp->percent);
    info.ranks = ranks;
    if (!a.costs.empty()) info.costs = load_cost_table(a.costs);
    // A DNN pass (ReLU units, argmax) means nothing for units read by their class labels.
    if (!a.no_dnn && opt.readout.value_or(net.readout) != Readout::Assignment) info.dnn_accuracy = dnn_accuracy(net, data, a.threads, &info.dnn_predictions);
    if (!a.no_dnn && opt.cut_loss.active() && opt.readout.value_or(net.readout) != Readout::Assignment)
        info.dnn_accuracy_under_loss = dnn_accuracy_under_loss(net, data, opt.cut_loss, opt.seed, a.threads);
    nlohmann::json j = report_json(net, r, info);
    j["operating_point"] = operating_point(net, data, r, info, j, a.tolerance);
    if (a.diagnose > 0) j["diagnosis"] = diagnose(net, data, opt, a.diagnose, r.predictions);
    if (!a.quiet) std::cout << report_table(j);
    // The report is written last: a failed --record leaves no report behind.
    if (!a.record.empty()) {
        if (a.record_format == "nir") write_nir_spike_record(a.record, net, r, opt.steps, std::min(a.record_samples, r.samples));
        else write_spike_record(a.record, net, r, opt.steps, std::min(a.record_samples, r.samples));
    }
    if (!a.report.empty()) write_text_atomically(a.report, j.dump(2) + "\n");
    if (!a.predictions.empty()) {
        // One class per line, in sample order: what peers (tools/bench/peers.py) compare against.
        std::string text;
        for (int c : r.predictions) text += std::to_string(c) + "\n";
        write_text_atomically(a.predictions, text);
    }
    return 0;
}

// snn run --dnn-pipeline: the DNN baseline with int8 activations across the
// partition's cuts (sim/dnn_pipeline.hpp), in one process (`r` null: the pass
// in one piece) or from a pipeline across ranks. Writes its own report.
// With --idp the DNN is the network as it runs at that setting (apply_idp).
const Network& dnn_network(const PreparedRun& p) { return p.idp_net ? *p.idp_net : p.net; }

void check_dnn_pipeline(const RunArgs& a, const PreparedRun& p) {
    const auto refuse = [](const char* flag, const std::string& value) {
        throw OptionError(flag + 2, value, std::string("--dnn-pipeline runs the DNN pass alone; ") + flag + " does not apply");
    };
    if (!a.record.empty()) refuse("--record", a.record);
    if (a.diagnose > 0) refuse("--diagnose", std::to_string(a.diagnose));
    if (p.opt.cut_loss.active()) refuse("--cut-loss", a.cut_loss);
    if (p.opt.encode == Encoding::Frames) refuse("--encode", a.encode);
    if (a.window_given) refuse("--window", std::to_string(a.window));
    if (p.opt.readout.value_or(p.net.readout) == Readout::Assignment)
        throw OptionError("dnn-pipeline", "", "--dnn-pipeline: the network's output is read by class labels (assignment); a DNN pass has no meaning there");
    pipeline_devices(p.net); // a partition with consecutive devices
}

int finish_dnn_pipeline(const RunArgs& a, const PreparedRun& p, const std::vector<int>& predictions, const DnnPipelineResult* r,
                        double seconds, int ranks) {
    DnnPipelineReportInfo info{a.network, a.data, r ? "pipeline" : "", ranks, -1, seconds};
    if (!a.no_dnn) info.dnn_accuracy = dnn_accuracy(dnn_network(p), p.data, a.threads);
    const nlohmann::json j = dnn_pipeline_report(dnn_network(p), p.data, predictions, r, info);
    if (!a.quiet) std::cout << dnn_pipeline_table(j);
    if (!a.report.empty()) write_text_atomically(a.report, j.dump(2) + "\n");
    if (!a.predictions.empty()) {
        std::string text;
        for (int c : predictions) text += std::to_string(c) + "\n";
        write_text_atomically(a.predictions, text);
    }
    return 0;
}

#if SNN_WITH_MPI
// mpirun -np K snn run … --distributed data|pipeline (sim/mpi/distributed.hpp):
// every rank reads the network and data and runs its share of the samples
// (data) or its device's populations (pipeline); rank 0 merges, prints and
// writes. A rank that cannot set up stops all of them, with
// one message (its own); a failure while running aborts the job.
int run_distributed(const RunArgs& a) {
    mpi::Session session;
    std::optional<PreparedRun> p;
    std::exception_ptr error;
    try {
        if (!(a.timeout > 0) || !std::isfinite(a.timeout))
            throw OptionError("timeout", num(a.timeout), "--timeout must be a positive number of seconds");
        if (a.distributed != "data" && a.distributed != "pipeline")
            throw OptionError("distributed", a.distributed, "--distributed '" + a.distributed + "': expected data or pipeline");
        p = prepare_run(a);
        p->opt.window = a.window;
        if (session.rank() != 0) p->opt.progress = nullptr; // one progress line, rank 0's
        if (a.dnn_pipeline) {
            if (a.distributed != "pipeline")
                throw OptionError("dnn-pipeline", a.distributed, "--dnn-pipeline runs with --distributed pipeline (or in one process), not --distributed " + a.distributed);
            check_dnn_pipeline(a, *p);
            // Here, where every rank meets it, so that one line says so.
            if (const std::size_t devices = pipeline_devices(p->net).size(); devices != std::size_t(session.ranks()))
                throw OptionError("distributed", a.distributed,
                                  "--distributed pipeline runs one rank per device: the partition has " + std::to_string(devices) +
                                      " devices but mpirun started " + std::to_string(session.ranks()) + " ranks");
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (const int failing = mpi::lowest_failing_rank(bool(error), MPI_COMM_WORLD); failing >= 0) {
        if (failing == session.rank()) std::rethrow_exception(error);
        return 1;
    }
    if (a.dnn_pipeline) {
        std::optional<DnnPipelineResult> d;
        try {
            d = mpi::simulate_dnn_pipeline(dnn_network(*p), p->data, MPI_COMM_WORLD, a.timeout);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "snn: error: rank %d: %s\n", session.rank(), e.what());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (session.rank() != 0) return 0;
        return finish_dnn_pipeline(a, *p, d->predictions, &*d, d->seconds, session.ranks());
    }
    std::optional<RunResult> r;
    try {
        r = a.distributed == "data" ? mpi::simulate_data_parallel(p->net, p->data, p->opt, MPI_COMM_WORLD)
                                    : mpi::simulate_pipeline(p->net, p->data, p->opt, MPI_COMM_WORLD, a.timeout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "snn: error: rank %d: %s\n", session.rank(), e.what());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (session.rank() != 0) return 0;
    RunInfo::Ranks ranks{a.distributed, session.ranks()};
    // The steps per message: the whole run unless --window gives fewer.
    if (a.distributed == "pipeline") ranks.window = a.window > 0 ? std::min(a.window, p->opt.steps) : p->opt.steps;
    return finish_run(a, *p, *r, ranks);
}
#endif

int cmd_run(const RunArgs& a) {
    if (a.window_given && a.window < 1)
        throw OptionError("window", std::to_string(a.window), "--window must be at least 1 (steps per message)");
    if (a.window_given && a.distributed != "pipeline")
        throw OptionError("window", std::to_string(a.window), "--window applies to --distributed pipeline only");
    if (!a.distributed.empty()) {
#if SNN_WITH_MPI
        return run_distributed(a);
#else
        throw OptionError("distributed", a.distributed,
                          "--distributed needs an snn built with MPI (cmake -DSNN_WITH_MPI=ON, Debian's libopenmpi-dev; "
                          "docs/distributed.md)");
#endif
    }
    const PreparedRun p = prepare_run(a);
    if (a.dnn_pipeline) {
        check_dnn_pipeline(a, p);
        const auto start = std::chrono::steady_clock::now();
        const std::vector<int> predictions = dnn_int8_predictions(dnn_network(p), p.data, a.threads);
        return finish_dnn_pipeline(a, p, predictions, nullptr,
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1);
    }
    return finish_run(a, p, simulate(p.net, p.data, p.opt));
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"snn: convert trained DNNs to spiking networks and simulate them event by event"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "snn 0.1.0");

    ConvertArgs ca;
    auto* conv = app.add_subcommand("convert", "Convert a Keras .h5 or .keras, ONNX .onnx or NIR .nir model into an IF/LIF spiking network (.snn.h5)");
    conv->add_option("model", ca.model, "Keras model (.h5, or Keras 3 .keras), ONNX model (.onnx) or NIR graph (.nir)")->required();
    conv->add_option("-o,--output", ca.output, "Network file to write (.snn.h5)")->required();
    conv->add_option("--calib", ca.calib, "Calibration data: mnist:train, fashion-mnist:train, ... or an HDF5 file with x, y");
    conv->add_option("--calib-samples", ca.calib_samples, "Number of calibration samples (first N)")->capture_default_str();
    auto* norm_opt = conv->add_option("--norm", ca.norm, "Normalization: max, percentile:P or model")->capture_default_str();
    auto* granularity_opt =
        conv->add_option("--norm-granularity", ca.granularity,
                         "One scale per layer or per channel (channel needs data-based normalization; the default "
                         "falls back to layer without it)")
            ->capture_default_str();
    conv->add_option("--reset", ca.reset, "Reset after a spike: subtract or zero")->capture_default_str();
    conv->add_option("--neuron", ca.neuron, "Neuron model: if or lif")->capture_default_str();
    conv->add_option("--tau-steps", ca.tau_steps, "LIF membrane time constant, in steps");
    conv->add_option("--v-th", ca.v_th, "Firing threshold")->capture_default_str();
    conv->add_flag("--signed-spikes", ca.signed_spikes,
                   "Let a neuron take back a spike (a negative spike) when its membrane falls below 0");
    conv->add_option("--v-init", ca.v_init, "Initial membrane potential, as a fraction of the threshold")->capture_default_str();
    conv->add_option("--readout", ca.readout, "Readout stored in the network: spikes or membrane (snn run --readout overrides)")
        ->capture_default_str();
    conv->add_option("--calibrate-steps", ca.calibrate_steps,
                     "Tune each layer's scale for accuracy at this many steps on the calibration data (0: off)")
        ->capture_default_str();
    conv->add_option("--calibrate-bias", ca.calibrate_bias,
                     "Correct each layer's bias by its mean rate error per channel against the DNN at this many steps "
                     "on the calibration data (0: off; docs/conversion.md#bias-calibration)")
        ->capture_default_str();
    conv->add_option("--threads", ca.threads, "Threads for calibration")->capture_default_str();
    conv->add_option("--binarize", ca.binarize,
                     "Make these Dense/Conv2D layers binary (sign of the weights, alpha = mean |w| per output "
                     "channel, XNOR-Net); comma-separated layer names")
        ->delimiter(',');
    conv->add_option("--quantize", ca.quantize,
                     "Quantize the Dense/Conv layers after normalization: int:K[:max|l1] (K = 2..8), ternary, "
                     "qsq[:N][:levels=1|2|4] or binary, for every layer or as LAYER=SCHEME; comma-separated "
                     "(docs/quantization.md)")
        ->delimiter(',');
    conv->add_option("--prune", ca.prune,
                     "Prune connections after normalization: random:R (a fraction R of each layer's weights removed "
                     "uniformly, seeded by --prune-seed) or magnitude:R (the R smallest |w|), 0 <= R < 1, for every "
                     "Dense/Conv layer or as LAYER=METHOD:R; pruned Dense layers are stored and run as compressed sparse "
                     "rows, pruned convolutions keep zeros in their kernel; with --quantize int:K a pruned layer is quantized "
                     "densely, its pruned weights code 0; comma-separated (docs/pruning.md)")
        ->delimiter(',');
    conv->add_option("--idp-profile", ca.idp_profile,
                     "The IDP profile the model was trained with (all-one, harmonic, linear or half-exp): attached to "
                     "every dense and conv2d layer but the first, its coefficients folded into the weights (docs/dynamic-cost.md)");
    auto* prune_seed_opt = conv->add_option("--prune-seed", ca.prune_seed, "Seed of --prune random's draws")->capture_default_str();
    conv->add_option("--target", ca.target,
                     "Apply a chip's weight and state precision (snn fit's targets: speck, loihi, spinnaker or a target "
                     "file): --quantize int:BITS for every layer --quantize leaves unset, and 16-bit membranes for a "
                     "chip that holds 16 to 31 bits");
    auto* conv_state_bits_opt = conv->add_option("--state-bits", ca.state_bits,
                     "Neuron membrane precision: 32 (float) or 16 (signed fixed point, v_th/256 per step, saturating; "
                     "docs/quantization.md)");
    conv->add_option("--nir-reset", ca.nir_reset,
                     "NIR graphs: reset after a spike, subtract, value (to v_reset = 0) or sinabs (refused: not "
                     "representable); default by the file's version (before 1.0.6: subtract)");
    auto* dt_opt = conv->add_option("--dt", ca.dt, "NIR graphs: one time step in the file's time unit (LIF tau / dt = tau in steps)")
                       ->capture_default_str();
    conv->add_flag("--no-binary", ca.no_binary,
                   "Keep binary (Larq) layers as float layers with the same +-alpha weights: the float network of the "
                   "same shape, for comparison");

    std::string inspect_file;
    bool inspect_json = false;
    auto* insp = app.add_subcommand("inspect", "Show the layers, shapes, neurons, parameters and bytes of a network");
    insp->add_option("network", inspect_file, "Network file (.snn.h5)")->required();
    insp->add_flag("--json", inspect_json, "Print JSON instead of a table");

    std::string fit_file, fit_target;
    bool fit_json = false;
    auto* fitc = app.add_subcommand("fit", "Whether a network fits a neuromorphic chip: cores, memory, fan-in and bits per layer");
    fitc->add_option("network", fit_file, "Network file (.snn.h5)")->required();
    fitc->add_option("--target", fit_target, "A chip named in data/targets (speck, loihi, spinnaker) or a target .json file")
        ->required();
    fitc->add_flag("--json", fit_json, "Print JSON instead of a table");

    RunArgs ra;
    auto* run = app.add_subcommand("run", "Simulate a network on a data set and report accuracy, spikes and operations");
    run->add_option("network", ra.network, "Network file (.snn.h5)")->required();
    run->add_option("--data", ra.data, "mnist:test, fashion-mnist:test, ... or an HDF5 file with x, y")->required();
    auto* limit_opt = run->add_option("--limit", ra.limit, "Use only the first N samples");
    auto* steps_opt = run->add_option("--steps", ra.steps, "Time steps per sample (default: the network's own if it states them, else 64)")
                          ->capture_default_str();
    run->add_option("--encode", ra.encode,
                    "Input encoding: current, poisson, or frames (the data's own input at each step: x of shape "
                    "(N,T,H,W,C), or an event list; docs/events.md)")
        ->capture_default_str();
    run->add_option("--layout", ra.layout,
                    "--encode frames: x is (N,T,H,W,C) (nhwc) or (N,T,C,H,W) (nchw, NIR's order); default: the "
                    "network's input layout");
    auto* bin_opt = run->add_option("--bin", ra.bin,
                                    "--encode frames, event lists: units of the events' t column per step (t in "
                                    "microseconds: --bin 1000 makes 1 ms steps)")
                        ->capture_default_str();
    run->add_option("--kernels", ra.kernels,
                    "Kernel path: auto (fastest), reference, event or gather; all give identical results")
        ->capture_default_str();
    run->add_option("--quant-kernels", ra.quant_kernels,
                    "Quantized Dense layers: integer (integer codes, shifts and adds for qsq, scaled once per step) or "
                    "float (float kernels on the dequantized weights); they differ by float rounding "
                    "(docs/quantization.md)")
        ->capture_default_str();
    run->add_option("--popcount", ra.popcount,
                    "Binary layers' AND + popcount: auto (the best this CPU has), scalar, avx2 or avx512; all give "
                    "identical results")
        ->capture_default_str();
    run->add_option("--float-isa", ra.float_isa,
                    "Float kernels and neuron updates: auto (the best this CPU has), portable, avx2 or avx512; all give "
                    "identical results")
        ->capture_default_str();
    run->add_flag("--no-step-batches", ra.no_step_batches,
                  "Run step by step: no population runs all its steps before the next (layer by layer), and binary "
                  "dense layers take their input one step at a time instead of 8 steps per pass over their bits "
                  "(same results; to measure the difference)");
    run->add_flag("--no-layer-by-layer", ra.no_layer_by_layer,
                  "Run in stages, populations in lock step, where layer by layer would apply; binary dense layers "
                  "still take 8 steps per pass (same results; to measure the difference)");
    run->add_option("--readout", ra.readout,
                    "Output read as spike counts (spikes) or as a non-spiking integrator (membrane); default: the network's own");
    auto* max_rate_opt =
        run->add_option("--max-rate", ra.max_rate, "Poisson: spike probability per step of a pixel at 1.0 (default: the network's own, else 1)")
            ->capture_default_str();
    run->add_option("--seed", ra.seed, "Seed of the random streams")->capture_default_str();
    run->add_option("--threads", ra.threads, "Worker threads (results do not depend on it)")->capture_default_str();
    run->add_option("--report", ra.report, "Write the report as JSON");
    run->add_option("--predictions", ra.predictions, "Write the predicted class of every sample, one per line");
    run->add_option("--record", ra.record, "Write the spike trains of the first samples to HDF5");
    run->add_option("--record-samples", ra.record_samples, "How many samples --record keeps")->capture_default_str();
    run->add_option("--record-format", ra.record_format,
                    "--record's format: snn (one group per population) or nir (NIR's NIRGraphData, EventData per node)")
        ->capture_default_str();
    run->add_option("--cut-loss", ra.cut_loss,
                    "Spikes lost on the links between devices: P (each spike crossing a cut lost with probability P), "
                    "burst:P:L (whole steps' messages lost, P of them in the long run, in bursts of L steps on average) "
                    "or none; seeded by --seed")
        ->capture_default_str();
    run->add_option("--distributed", ra.distributed,
                    "Under mpirun: data (the ranks share the samples out) or pipeline (rank r runs device r of the "
                    "partition, spikes sent between ranks); rank 0 writes the same report as one process. Needs an snn "
                    "built with -DSNN_WITH_MPI=ON (docs/distributed.md)");
    run->add_option("--timeout", ra.timeout,
                    "--distributed pipeline: seconds a rank waits for a message (or for its own to be taken) before it "
                    "stops the run, naming the rank it waited for")
        ->capture_default_str();
    auto* window_opt = run->add_option("--window", ra.window,
                                       "--distributed pipeline: steps per message between devices (a device runs W steps "
                                       "of a sample, then sends their spikes on; 1: lock step). Default: the whole run");
    run->add_flag("--dnn-pipeline", ra.dnn_pipeline,
                  "Run the DNN baseline instead of the SNN: the ReLU pass with each activation crossing a cut of "
                  "--partition sent as int8 (a float32 scale, max/255, per tensor); with --distributed pipeline each "
                  "rank runs its device's layers and sends the int8 activations on (docs/distributed.md)");
    run->add_option("--partition", ra.partition,
                    "Layers per device, e.g. edge:conv1-pool1,cloud:conv2-dense (overrides the stored one; none: no partition)");
    run->add_option("--costs", ra.costs, "Energy cost table (JSON: add_pj, mac_pj, binary_op_pj, memory_bit_pj, weight_bits)");
    run->add_option("--tolerance", ra.tolerance,
                    "Operating point: the first checkpoint step whose accuracy is within this many percentage points "
                    "of the DNN's")
        ->capture_default_str();
    run->add_option("--diagnose", ra.diagnose,
                    "Set every layer's rates against the DNN's activations on the first K samples (the report's "
                    "diagnosis; plots: tools/plot_report.py)");
    auto* run_state_bits_opt = run->add_option("--state-bits", ra.state_bits,
                    "Run with every spiking population's membranes in this precision: 32 (float) or 16 (fixed "
                    "point); default: the network's own");
    run->add_option("--idp", ra.idp,
                    "Incomplete dot products: P (percent, 0 < P <= 100) for every IDP layer, or LAYER=P,... "
                    "(docs/dynamic-cost.md)");
    run->add_flag("--no-dnn", ra.no_dnn, "Skip the DNN accuracy (ReLU forward pass) on the same samples");
    run->add_flag("-q,--quiet", ra.quiet, "Print nothing but errors");

    StdpCurveArgs sa;
    auto* stdp_curve = add_stdp_curve_command(app, sa);
    LearnArgs la;
    auto* learn_cmd = add_learn_command(app, la);

    ExitsArgs ea;
    auto* exits = add_exits_commands(app, ea, default_threads());
    ExportArgs xa;
    auto* export_cmd = add_export_command(app, xa);
    SweepArgs wa;
    auto* sweep_cmd = add_sweep_command(app, wa, default_threads());

    // Every subcommand takes --max-memory: what one network or data set may allocate.
    std::string max_memory;
    for (CLI::App* sub : {conv, insp, fitc, run, stdp_curve, learn_cmd, ea.train, ea.add, ea.clear, ea.place, ea.partition, export_cmd, sweep_cmd})
        sub->add_option("--max-memory", max_memory,
                        "Refuse a network or data set needing more memory than this (e.g. 2G; default: 3/4 of RAM)");

    // Every command takes --config FILE and --dump-config (sim/cli/config.hpp).
    cli::ConfigFiles configs;
    configs.attach(app);

    try {
        configs.prepare(app, argc, argv);
        app.parse(argc, argv);
    } catch (const cli::ConfigFileError& e) {
        std::fprintf(stderr, "snn: error: %s\n", e.what());
        return 1;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "snn: %s%s (see snn --help)\n", configs.locate_parse_error(e.what()).c_str(), e.what());
        return 1;
    }
    try {
        if (configs.dump_if_asked(std::cout)) return 0;
        remove_stale_outputs(app);
        const MemoryBudget memory = max_memory.empty() ? MemoryBudget{} : MemoryBudget(parse_memory_size(max_memory));
        ca.memory = ra.memory = la.memory = ea.memory = xa.memory = wa.memory = memory;
        if (conv->parsed()) {
            ca.norm_given = norm_opt->count() > 0;
            ca.granularity_given = granularity_opt->count() > 0;
            ca.dt_given = dt_opt->count() > 0;
            ca.prune_seed_given = prune_seed_opt->count() > 0;
            ca.state_bits_given = conv_state_bits_opt->count() > 0;
            return cmd_convert(ca);
        }
        if (insp->parsed()) {
            Network net = load(inspect_file, memory);
            if (inspect_json) std::cout << describe_json(net).dump(2) << "\n";
            else std::cout << describe(net, inspect_file);
            return 0;
        }
        if (fitc->parsed()) {
            const Target target = load_target(fit_target);
            const FitReport report = fit(load(fit_file, memory), target);
            if (fit_json) std::cout << to_json(report).dump(2) << "\n";
            else std::cout << describe(report);
            return 0; // whether or not it fits: only bad input is an error
        }
        if (run->parsed()) {
            if (limit_opt->count() > 0 && ra.limit < 1)
                throw OptionError("limit", std::to_string(ra.limit),
                                  "--limit must be at least 1 (got " + std::to_string(ra.limit) + ")");
            ra.steps_given = steps_opt->count() > 0;
            ra.max_rate_given = max_rate_opt->count() > 0;
            ra.bin_given = bin_opt->count() > 0;
            ra.state_bits_given = run_state_bits_opt->count() > 0;
            ra.window_given = window_opt->count() > 0;
            return cmd_run(ra);
        }
        if (stdp_curve->parsed()) return run_stdp_curve_command(sa);
        if (const int rc = run_exits_command(exits, ea); rc >= 0) return rc;
        if (const int rc = run_export_command(xa); rc >= 0) return rc;
        if (const int rc = run_sweep_command(wa); rc >= 0) return rc;
        if (learn_cmd->parsed()) return run_learn_command(la);
    } catch (const snn::Error& e) {
        std::fprintf(stderr, "snn: error: %s%s\n", configs.locate(e.context.option).c_str(), user_message(e).c_str());
        return 1;
    } catch (const cli::ConfigFileError& e) {
        std::fprintf(stderr, "snn: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "snn: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "snn: %s (this is a bug in snn)\n", e.what());
        return 2;
    }
    return 2;
}
