#pragma once
// What a run measured: the JSON report, the table printed on the terminal,
// and the recorded spike trains (HDF5).
#include "sim/engine.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace snn {

// What the report says about a run beside its RunResult: its inputs, options and the DNN comparison.
struct RunInfo {
    std::string network, data;
    RunOptions options;
    double dnn_accuracy = -1;
    std::vector<int> dnn_predictions; // per sample; empty if the DNN was not run
    CostTable costs;                  // energy per operation (default: Table I of the hybrid-network paper)
    double dnn_accuracy_under_loss = -1; // with --cut-loss: the DNN with the cut's activations lost alike (sim/cut_loss.hpp)
    // A run across MPI ranks (sim/mpi/): how the work was split, and over how many.
    struct Ranks {
        std::string mode; // empty: one process
        int count = 1;
        int window = 0;   // a pipeline: the steps per message (0: not a pipeline)
    };
    Ranks ranks;
    // The IDP setting the network was run at (snn/idp.hpp), unset: none. The
    // network handed to report_json is then apply_idp's, and `options` has no idp.
    std::optional<IdpSetting> idp;
    // With several IDP profiles (Network::idp_ranges): the range of the
    // profile the setting selected, (from, to] percent; empty otherwise.
    std::vector<double> idp_profile_range;
};

// The report `snn run --report` writes: accuracy (overall, by step and by exit),
// spikes and synaptic operations per layer, energy per sample, and how the run was executed.
nlohmann::json report_json(const Network& net, const RunResult& r, const RunInfo& info);
// The report's "execution": the schedule, why, and its blocks of populations with their steps per call.
nlohmann::json plan_json(const Network& net, const ExecutionPlan& plan);
// The report as the table `snn run` prints on the terminal.
std::string report_table(const nlohmann::json& report);

// Writes `text` to `path` through a temporary file (never half-written).
void write_text_atomically(const std::string& path, const std::string& text);

// Per population: datasets sample, neuron, step (int32, one entry per spike).
void write_spike_record(const std::string& path, const Network& net, const RunResult& r, int steps,
                        std::int64_t samples);

} // namespace snn
