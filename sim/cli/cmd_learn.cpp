#include "sim/cli/cmd_learn.hpp"

#include "sim/report.hpp"
#include "snn/error.hpp"
#include "snn/network_io.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>

namespace snn {

CLI::App* add_learn_command(CLI::App& app, LearnArgs& a) {
    auto* c = app.add_subcommand("learn",
                                 "Learn one layer unsupervised with STDP (Diehl & Cook style), assign labels, report accuracy");
    LearnOptions& o = a.options;
    o.rule.kind = RuleKind::DiehlCook;
    c->add_option("--data", a.data, "Training data")->capture_default_str();
    c->add_option("--limit", a.limit, "Use only the first N training samples");
    c->add_option("--test-data", a.test_data, "Data for the accuracy of the learned layer")->capture_default_str();
    c->add_option("--test-limit", a.test_limit, "Use only the first N test samples");
    c->add_option("--neurons", o.neurons, "Excitatory neurons")->capture_default_str();
    c->add_option("--rule", a.rule, "diehl-cook, pair or stochastic (binary weights); their default parameters")->capture_default_str();
    c->add_option("--steps", o.steps, "Steps per presentation")->capture_default_str();
    c->add_option("--max-rate", o.max_rate, "Spike probability per step of a pixel at 1.0")->capture_default_str();
    c->add_option("--v-th", o.v_th, "Firing threshold (before adaptation)")->capture_default_str();
    c->add_option("--theta-plus", o.theta_plus, "Threshold increase per spike")->capture_default_str();
    c->add_option("--weight-sum", o.weight_sum, "Sum of each neuron's input weights")->capture_default_str();
    c->add_option("--epochs", o.epochs, "Passes over the training data")->capture_default_str();
    c->add_option("--seed", o.seed, "Seed of the random streams")->capture_default_str();
    o.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    c->add_option("--threads", o.threads, "Threads for the frozen passes (labels, test); results do not depend on it")
        ->capture_default_str();
    c->add_option("--gamma-plus", o.rule.gamma_plus, "stochastic: potentiation probability at Δt = 0")->capture_default_str();
    c->add_option("--gamma-minus", o.rule.gamma_minus, "stochastic: depression probability")->capture_default_str();
    c->add_option("--tau-plus", o.rule.tau_plus, "stochastic: potentiation time constant (steps)")->capture_default_str();
    c->add_option("--depression", a.depression, "stochastic: constant or exponential")->capture_default_str();
    c->add_option("--binary", a.binary, "stochastic: unipolar {0,1} (bipolar {-1,+1} is refused)")->capture_default_str();
    c->add_option("--p-init", o.p_init, "stochastic: probability that an initial binary weight is 1")->capture_default_str();
    c->add_option("-o,--output", a.output, "Write the learned layer as a network (.snn.h5) read by its label assignment");
    c->add_option("--checkpoint", a.checkpoint, "Write the learning state to this file (atomically)");
    c->add_option("--checkpoint-every", a.checkpoint_every, "Samples between two checkpoints (0: only when learning ends)")
        ->capture_default_str();
    c->add_option("--resume", a.resume, "Continue from a checkpoint of the same run (same options, data and seed)");
    c->add_option("--report", a.report, "Write the result as JSON");
    c->add_flag("-q,--quiet", a.quiet, "Print nothing but errors");
    return c;
}

int run_learn_command(LearnArgs& a) {
    LearnOptions& o = a.options;
    o.rule.kind = rule_kind_from(a.rule);
    o.rule.depression = depression_from(a.depression);
    o.rule.levels = binary_levels_from(a.binary);
    validate(o);
    if (a.limit == 0 || a.test_limit == 0)
        throw OptionError(a.limit == 0 ? "limit" : "test-limit", "0", "--limit and --test-limit must be at least 1");
    if (a.checkpoint_every < 0)
        throw OptionError("checkpoint-every", std::to_string(a.checkpoint_every),
                          "--checkpoint-every must be at least 0");
    if (a.checkpoint_every > 0 && a.checkpoint.empty())
        throw OptionError("checkpoint-every", std::to_string(a.checkpoint_every),
                          "--checkpoint-every needs --checkpoint FILE");
    // Read before any learning: a bad checkpoint is refused at once, not after the data loaded.
    LearnState resume_state;
    if (!a.resume.empty()) resume_state = load_checkpoint(a.resume, a.memory);
    const Dataset train = load_dataset(a.data, a.limit, "", a.memory),
                  test = load_dataset(a.test_data, a.test_limit, "", a.memory);
    if (train.shape.size() != test.shape.size())
        throw DataError(a.test_data, a.test_data + ": samples of " + std::to_string(test.shape.size()) +
                                         " values, the training data has " + std::to_string(train.shape.size()));
    const bool progress = !a.quiet && isatty(STDERR_FILENO);
    const auto t0 = std::chrono::steady_clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    Checkpointing ck{a.checkpoint, a.checkpoint_every, a.resume.empty() ? nullptr : &resume_state};
    std::int64_t done_here = 0;
    const LearnResult r = learn(
        train, o,
        [&](std::int32_t epoch, std::int64_t done, double running) {
            ++done_here;
            if (progress && (done % 100 == 0 || done == train.size())) {
                std::fprintf(stderr, "\rlearning: epoch %d/%d, %lld/%lld samples, %.0f samples/s", epoch + 1, o.epochs,
                             (long long)done, (long long)train.size(), double(done_here) / seconds());
                if (running >= 0) std::fprintf(stderr, ", running accuracy %.1f%%", 100 * running);
                std::fprintf(stderr, "   ");
            }
        },
        ck);
    if (progress) std::fprintf(stderr, "\n");
    const double learn_seconds = seconds();
    const double accuracy = evaluate(r, test, o);
    const double total_seconds = seconds();
    std::int64_t assigned = 0;
    for (const auto c : r.assignments) assigned += c >= 0;
    // What the weights need in storage: float32 each, or one bit each plus one float32 gain per neuron.
    const std::int64_t synapses = std::int64_t(r.weights.size());
    const std::int64_t weight_bytes = o.binary() ? (synapses + 7) / 8 + 4 * std::int64_t(o.neurons) : 4 * synapses;
    nlohmann::json j = {{"schema_version", 1}, // docs/learn-report.schema.json
                        {"data", a.data},
                        {"train_samples", train.size()},
                        {"test_data", a.test_data},
                        {"test_samples", test.size()},
                        {"neurons", o.neurons},
                        {"rule", o.rule.describe()},
                        {"steps", o.steps},
                        {"seed", o.seed},
                        {"epochs", o.epochs},
                        {"binary", o.binary()},
                        {"weight_bytes", weight_bytes},
                        {"resumed_from", a.resume},
                        {"assigned_neurons", assigned},
                        {"train_accuracy", r.train_accuracy},
                        {"accuracy", accuracy},
                        {"learn_and_assign_seconds", learn_seconds},
                        {"seconds", total_seconds}};
    if (!a.quiet)
        std::printf("learned %d neurons on %lld samples of %s (%s)\n"
                    "assigned %lld neurons; accuracy %.2f%% on %lld samples of %s (train %.2f%%); %.1f s\n",
                    o.neurons, (long long)train.size(), a.data.c_str(), o.rule.describe().c_str(), (long long)assigned,
                    100 * accuracy, (long long)test.size(), a.test_data.c_str(), 100 * r.train_accuracy, total_seconds);
    if (!a.output.empty()) {
        save(learned_network(r, o, train.shape, a.data), a.output);
        if (!a.quiet) std::printf("wrote %s: snn run %s --data %s --encode poisson gives this accuracy (seed %llu)\n",
                                  a.output.c_str(), a.output.c_str(), a.test_data.c_str(), (unsigned long long)o.seed);
    }
    if (!a.report.empty()) write_text_atomically(a.report, j.dump(2) + "\n");
    return 0;
}

} // namespace snn
