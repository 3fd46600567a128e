#include "sim/cmd_learn.hpp"

#include "sim/report.hpp"
#include "snn/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
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
    c->add_option("--rule", a.rule, "diehl-cook or pair (their default parameters)")->capture_default_str();
    c->add_option("--steps", o.steps, "Steps per presentation")->capture_default_str();
    c->add_option("--max-rate", o.max_rate, "Spike probability per step of a pixel at 1.0")->capture_default_str();
    c->add_option("--v-th", o.v_th, "Firing threshold (before adaptation)")->capture_default_str();
    c->add_option("--theta-plus", o.theta_plus, "Threshold increase per spike")->capture_default_str();
    c->add_option("--weight-sum", o.weight_sum, "Sum of each neuron's input weights")->capture_default_str();
    c->add_option("--seed", o.seed, "Seed of the random streams")->capture_default_str();
    c->add_option("--report", a.report, "Write the result as JSON");
    c->add_flag("-q,--quiet", a.quiet, "Print nothing but errors");
    return c;
}

int run_learn_command(LearnArgs& a) {
    LearnOptions& o = a.options;
    o.rule.kind = rule_kind_from(a.rule);
    if (o.rule.kind == RuleKind::Stochastic)
        throw Error("snn learn does not take --rule stochastic yet: its weight normalization would make binary weights real");
    if (a.limit == 0 || a.test_limit == 0) throw Error("--limit and --test-limit must be at least 1");
    const Dataset train = load_dataset(a.data, a.limit), test = load_dataset(a.test_data, a.test_limit);
    if (train.shape.size() != test.shape.size())
        throw Error(a.test_data + ": samples of " + std::to_string(test.shape.size()) + " values, the training data has " +
                    std::to_string(train.shape.size()));
    const bool progress = !a.quiet && isatty(STDERR_FILENO);
    const auto t0 = std::chrono::steady_clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    const LearnResult r = learn(train, o, [&](std::int64_t done) {
        if (progress && (done % 100 == 0 || done == train.size()))
            std::fprintf(stderr, "\rlearning: %lld/%lld samples, %.0f samples/s", (long long)done, (long long)train.size(),
                         double(done) / seconds());
    });
    if (progress) std::fprintf(stderr, "\n");
    const double learn_seconds = seconds();
    const double accuracy = evaluate(r, test, o);
    const double total_seconds = seconds();
    std::int64_t assigned = 0;
    for (const auto c : r.assignments) assigned += c >= 0;
    nlohmann::json j = {{"data", a.data},
                        {"train_samples", train.size()},
                        {"test_data", a.test_data},
                        {"test_samples", test.size()},
                        {"neurons", o.neurons},
                        {"rule", o.rule.describe()},
                        {"steps", o.steps},
                        {"seed", o.seed},
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
    if (!a.report.empty()) write_text_atomically(a.report, j.dump(2) + "\n");
    return 0;
}

} // namespace snn
