#include "sim/cli/cmd_exits.hpp"

#include "sim/place.hpp"
#include "sim/report.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace snn {

void refuse_test_split(const std::string& data, const char* what) {
    const std::string set = data.substr(0, data.find('[')); // "mnist:test[0:100]" is the test split too
    if (set.size() >= 5 && set.compare(set.size() - 5, 5, ":test") == 0)
        throw DataError(data, std::string(what) + " on '" + data +
                              "', a test split; use a training split (e.g. mnist:train)");
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::vector<int> parse_checks(const std::string& s) {
    std::vector<int> out;
    for (const auto& item : split_list(s)) {
        std::size_t pos = 0;
        int k = -1;
        try {
            k = std::stoi(item, &pos);
        } catch (const std::exception&) {
            pos = 0;
        }
        if (pos != item.size() || k < 0)
            throw OptionError("check-every", s,
                              "--check-every '" + s +
                                  "': expected a list of step counts ≥ 0 such as 0,16,8,4 (0: last step only)");
        out.push_back(k);
    }
    if (out.empty()) throw OptionError("check-every", s, "--check-every is empty");
    return out;
}

void check_rule(const Exit& e) {
    if (e.rule == ExitRule::MaxProb && !(e.threshold >= 0 && e.threshold <= 1))
        throw OptionError("threshold", std::to_string(e.threshold),
                          "--threshold " + std::to_string(e.threshold) +
                              ": a max-prob threshold is a probability in [0, 1]");
    if (e.rule == ExitRule::Entropy && !(e.threshold >= 0))
        throw OptionError("threshold", std::to_string(e.threshold),
                          "--threshold " + std::to_string(e.threshold) + ": an entropy threshold is ≥ 0 (nats)");
    if (e.check_every < 0)
        throw OptionError("check-every", std::to_string(e.check_every),
                          "--check-every must be ≥ 0 (0: at the last step only)");
}

void put_exit(Network& net, Exit e) {
    for (auto it = net.exits.begin(); it != net.exits.end(); ++it)
        if (it->at == e.at || it->name == e.name) {
            std::printf("  replacing exit '%s' at '%s'\n", it->name.c_str(), it->at.c_str());
            net.exits.erase(it);
            break;
        }
    net.exits.push_back(std::move(e));
}

const std::string& out_path(const ExitsArgs& a) { return a.output.empty() ? a.network : a.output; }

std::string describe_point(const PlacePoint& p, ExitRule rule) {
    char buf[256];
    std::string s;
    if (!p.depth_at.empty()) {
        std::snprintf(buf, sizeof buf, "depth at %s (%s %g, check %s)", p.depth_at.c_str(), to_string(rule),
                      p.depth_threshold, p.depth_check ? ("every " + std::to_string(p.depth_check)).c_str() : "at end");
        s += buf;
    }
    if (p.output_exit) {
        std::snprintf(buf, sizeof buf, "%stime on output (%s %g, every %d)", s.empty() ? "" : " + ", to_string(rule),
                      p.output_threshold, p.output_check);
        s += buf;
    }
    return s.empty() ? "no exit" : s;
}

int cmd_place(ExitsArgs& a) {
    refuse_test_split(a.data, "exits place tunes exits");
    if (a.train_samples < 1 || a.val_samples < 1)
        throw OptionError(a.train_samples < 1 ? "train-samples" : "val-samples",
                          std::to_string(a.train_samples < 1 ? a.train_samples : a.val_samples),
                          "--train-samples and --val-samples must be at least 1");
    Network net = load(a.network, a.memory);
    Dataset all = load_dataset(a.data, a.train_samples + a.val_samples, "", a.memory);
    match_input_layout(all, net);
    if (all.size() < a.train_samples + a.val_samples)
        throw DataError(a.data, "'" + a.data + "' has " + std::to_string(all.size()) +
                                    " samples; --train-samples + --val-samples need " +
                                    std::to_string(a.train_samples + a.val_samples));
    // The first samples fit the classifiers, the ones after them choose the exits.
    Dataset train, val;
    for (Dataset* d : {&train, &val}) d->shape = all.shape;
    train.name = all.name + "[0:" + std::to_string(a.train_samples) + "]";
    val.name = all.name + "[" + std::to_string(a.train_samples) + ":" + std::to_string(all.size()) + "]";
    const std::size_t split = std::size_t(a.train_samples) * std::size_t(all.shape.size());
    train.x.assign(all.x.begin(), all.x.begin() + std::ptrdiff_t(split));
    val.x.assign(all.x.begin() + std::ptrdiff_t(split), all.x.end());
    train.y.assign(all.y.begin(), all.y.begin() + a.train_samples);
    val.y.assign(all.y.begin() + a.train_samples, all.y.end());

    PlaceOptions o;
    o.memory = a.memory;
    o.steps = a.steps;
    o.threads = a.threads;
    o.max_accuracy_drop = a.max_drop;
    o.depth = a.candidates != "none";
    if (o.depth) o.candidates = split_list(a.candidates);
    if (!o.depth && a.no_temporal)
        throw OptionError("candidates", a.candidates, "--candidates none with --no-temporal leaves nothing to place");
    o.temporal = !a.no_temporal;
    o.rule = exit_rule_from(a.rule);
    o.check_every = parse_checks(a.check_list);
    o.fit.iterations = a.iterations;
    if (!(a.max_drop >= 0))
        throw OptionError("max-accuracy-drop", std::to_string(a.max_drop),
                          "--max-accuracy-drop must be ≥ 0 (percentage points)");
    const PlaceResult r = place_exits(net, train, val, o);
    for (const auto& l : r.log) std::printf("  %s\n", l.c_str());
    std::printf("\nPareto front on %s, %d steps (accuracy %%, synaptic + exit ops per input):\n", val.name.c_str(), a.steps);
    std::printf("  %-3s %9s %14s %9s %11s %10s  %s\n", "", "accuracy", "ops/input", "vs none", "left early", "steps", "exits");
    nlohmann::json front = nlohmann::json::array();
    for (std::size_t f = 0; f < r.front.size(); ++f) {
        const PlacePoint& p = r.front[f];
        std::printf("  %-3s %8.2f%% %14.0f %8.2fx %10.1f%% %10.1f  %s\n", int(f) == r.chosen ? "*" : "", 100 * p.accuracy,
                    p.ops, r.baseline.ops / p.ops, 100 * p.taken_depth, p.mean_steps, describe_point(p, o.rule).c_str());
        front.push_back({{"accuracy", p.accuracy}, {"ops", p.ops}, {"ops_ratio", r.baseline.ops / p.ops},
                         {"taken_depth", p.taken_depth}, {"mean_steps", p.mean_steps}, {"depth_at", p.depth_at},
                         {"depth_threshold", p.depth_threshold}, {"depth_check", p.depth_check},
                         {"output_exit", p.output_exit}, {"output_threshold", p.output_threshold},
                         {"output_check", p.output_check}, {"chosen", int(f) == r.chosen}});
    }
    std::printf("without exits: %.2f%%, %.0f ops/input\n", 100 * r.baseline.accuracy, r.baseline.ops);
    if (!a.json.empty()) {
        // Layout: docs/exits-place-report.schema.json.
        nlohmann::json j = {{"schema_version", 1}, {"network", a.network}, {"data", a.data}, {"validation", val.name},
                            {"steps", a.steps}, {"rule", a.rule}, {"max_accuracy_drop", a.max_drop},
                            {"baseline", {{"accuracy", r.baseline.accuracy}, {"ops", r.baseline.ops}}}, {"front", front}};
        write_text_atomically(a.json, j.dump(1) + "\n");
    }
    if (r.chosen < 0) {
        std::printf("no configuration stays within %.2f points of the accuracy without exits; the network is unchanged\n",
                    a.max_drop);
        return 0;
    }
    const PlacePoint& best = r.front[std::size_t(r.chosen)];
    net.exits = exits_of(best, r, net, o.rule);
    save(net, out_path(a));
    std::printf("chose: %s (%.2f%%, %.2fx fewer ops); wrote %s\n", describe_point(best, o.rule).c_str(),
                100 * best.accuracy, r.baseline.ops / best.ops, out_path(a).c_str());
    return 0;
}

} // namespace

CLI::App* add_exits_commands(CLI::App& app, ExitsArgs& a, int default_threads) {
    a.threads = default_threads;
    auto* exits = app.add_subcommand("exits", "Fit, add, place or clear the conditional exits stored in a network");
    exits->require_subcommand(1);
    const auto common = [&](CLI::App* c) {
        c->add_option("network", a.network, "Network file (.snn.h5)")->required();
        c->add_option("-o,--output", a.output, "Write the network here (default: replace NET)");
    };
    const auto exit_options = [&](CLI::App* c) {
        c->add_option("--rule", a.rule, "Confidence rule: entropy (below the threshold, nats) or max-prob (above it)")
            ->capture_default_str();
        c->add_option("--threshold", a.threshold, "Confidence threshold")->capture_default_str();
        c->add_option("--check-every", a.check_every, "Check after every k-th step (0: at the last step only)")
            ->capture_default_str();
    };
    a.train = exits->add_subcommand("train", "Fit a softmax classifier on a layer's firing rates and store it as an exit");
    common(a.train);
    a.train->add_option("--at", a.at, "Population whose rates the exit reads")->required();
    a.train->add_option("--data", a.data, "Training data (mnist:train, ...; never a test split)")->required();
    a.train->add_option("--limit", a.limit, "Fit on the first N samples")->capture_default_str();
    a.train->add_option("--steps", a.steps, "Rates are spike counts after this many steps / steps")->capture_default_str();
    a.train->add_option("--iterations", a.iterations, "Full-batch Adam iterations")->capture_default_str();
    a.train->add_option("--threads", a.threads, "Threads for the simulation")->capture_default_str();
    exit_options(a.train);

    a.add = exits->add_subcommand(
        "add", "Add an exit in time on the output's own readout (stop once confident), or set an existing exit's rule");
    common(a.add);
    a.add->add_option("--at", a.at, "The exit's population (default: the output)");
    exit_options(a.add);

    a.clear = exits->add_subcommand("clear", "Remove every exit");
    common(a.clear);

    a.place = exits->add_subcommand("place", "Search exit positions, thresholds and check steps; keep the best within an accuracy drop");
    common(a.place);
    a.place->add_option("--data", a.data, "Training data: the first samples fit the classifiers, the next choose the exits")
        ->required();
    a.place->add_option("--train-samples", a.train_samples, "Samples to fit the classifiers on")->capture_default_str();
    a.place->add_option("--val-samples", a.val_samples, "Samples after those to score configurations on")->capture_default_str();
    a.place->add_option("--steps", a.steps, "Time steps per input")->capture_default_str();
    a.place->add_option("--max-accuracy-drop", a.max_drop, "Largest accuracy loss allowed, in percentage points")
        ->capture_default_str();
    a.place->add_option("--candidates", a.candidates, "Populations to try an exit in depth at, comma-separated (default: all before the output; none: only an exit in time)");
    a.place->add_option("--rule", a.rule, "Confidence rule: entropy or max-prob")->capture_default_str();
    a.place->add_option("--check-every", a.check_list, "Check schedules to try (0: last step only)")->capture_default_str();
    a.place->add_flag("--no-temporal", a.no_temporal, "Do not try an exit in time on the output");
    a.place->add_option("--iterations", a.iterations, "Full-batch Adam iterations per classifier")->capture_default_str();
    a.place->add_option("--threads", a.threads, "Threads for the simulation")->capture_default_str();
    a.place->add_option("--json", a.json, "Write the Pareto front as JSON");

    a.partition = app.add_subcommand("partition", "Store a partition of the layers across devices in a network file");
    a.partition->add_option("network", a.partition_network, "Network file (.snn.h5)")->required();
    a.partition->add_option("spec", a.partition_spec,
                            "device:first-last,... (e.g. edge:conv1-pool1,cloud:conv2-dense), or 'none' to remove it")
        ->required();
    a.partition->add_option("-o,--output", a.partition_output, "Write the network here (default: replace NET)");
    return exits;
}

int run_exits_command(const CLI::App* exits, ExitsArgs& a) {
    if (a.partition->parsed()) {
        Network net = load(a.partition_network, a.memory);
        net.devices = a.partition_spec == "none" ? std::vector<std::string>{} : parse_partition(net, a.partition_spec);
        const std::string out = a.partition_output.empty() ? a.partition_network : a.partition_output;
        save(net, out);
        std::printf("wrote %s: partition %s\n", out.c_str(), net.devices.empty() ? "none" : partition_spec(net).c_str());
        return 0;
    }
    if (!exits->parsed()) return -1;
    if (a.threads < 1) throw OptionError("threads", std::to_string(a.threads), "--threads must be at least 1");
    if (a.steps < 1) throw OptionError("steps", std::to_string(a.steps), "--steps must be at least 1");
    if (a.place->parsed()) return cmd_place(a);
    Network net = load(a.network, a.memory);
    if (a.clear->parsed()) {
        net.exits.clear();
        save(net, out_path(a));
        std::printf("wrote %s: no exits\n", out_path(a).c_str());
        return 0;
    }
    Exit e;
    if (a.train->parsed()) {
        refuse_test_split(a.data, "exits train fits a classifier");
        if (a.limit < 1) throw OptionError("limit", std::to_string(a.limit), "--limit must be at least 1");
        Dataset data = load_dataset(a.data, a.limit, "", a.memory);
        match_input_layout(data, net);
        ExitTrainOptions o;
        o.memory = a.memory;
        o.steps = a.steps;
        o.threads = a.threads;
        o.fit.iterations = a.iterations;
        e = train_exit(net, a.at, data, o);
    } else if (!a.at.empty() && a.at != net.output().name) {
        // A classifier already in the network (fitted, or an exit head of the Keras model): new settings.
        const auto it = std::find_if(net.exits.begin(), net.exits.end(), [&](const Exit& x) { return x.at == a.at; });
        if (it == net.exits.end())
            throw OptionError("at", a.at, "no exit at '" + a.at + "' to set; fit one with `snn exits train --at " +
                                          a.at + "`");
        e = *it;
    } else {
        e.name = "exit_output";
        e.at = net.output().name;
    }
    e.rule = exit_rule_from(a.rule);
    e.threshold = float(a.threshold);
    e.check_every = a.check_every;
    check_rule(e);
    put_exit(net, e);
    save(net, out_path(a));
    std::printf("wrote %s: exit '%s' at '%s' (%s %s %g, checked %s)\n", out_path(a).c_str(), e.name.c_str(),
                e.at.c_str(), to_string(e.rule), e.rule == ExitRule::Entropy ? "<" : ">", e.threshold,
                e.check_every ? ("every " + std::to_string(e.check_every) + " steps").c_str() : "after the last step");
    return 0;
}

} // namespace snn
