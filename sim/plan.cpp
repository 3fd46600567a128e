#include "sim/plan.hpp"
#include "sim/quant_kernels.hpp"

#include "sim/binary_kernels.hpp"
#include "sim/layerwise.hpp"
#include "sim/neuron.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cmath>

namespace snn {

std::vector<Cut> find_cuts(const Network& net) {
    std::vector<Cut> cuts;
    if (net.devices.empty()) return cuts;
    for (std::size_t i = 1; i < net.populations.size(); ++i)
        for (const Projection& p : net.populations[i].projections) {
            const std::string& from = net.devices[std::size_t(p.source)];
            const std::string& to = net.devices[i];
            if (from == to) continue;
            auto it = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.from == from && c.to == to; });
            if (it == cuts.end()) {
                cuts.push_back({from, to, {}, {}, 0, false, int(i)});
                it = cuts.end() - 1;
            }
            if (std::find(it->sources.begin(), it->sources.end(), p.source) == it->sources.end()) it->sources.push_back(p.source);
        }
    for (Cut& c : cuts) {
        std::sort(c.sources.begin(), c.sources.end());
        for (int src : c.sources) {
            const Population& pop = net.populations[std::size_t(src)];
            c.base.push_back(c.neurons);
            c.neurons += pop.shape.size();
            c.signed_spikes |= pop.neuron.signed_spikes;
        }
    }
    return cuts;
}

const char* to_string(Watch w) {
    switch (w) {
    case Watch::None: return "none";
    case Watch::Record: return "record";
    case Watch::Observe: return "observe";
    }
    return "?";
}

const char* to_string(Schedule s) { return s == Schedule::LayerByLayer ? "layer_by_layer" : "stages"; }

namespace {

// Why population i (after the input) cannot run layer by layer, or "" if it can.
std::string layer_by_layer_refusal(const Network& net, std::size_t i, bool current, FloatIsa isa) {
    const Population& pop = net.populations[i];
    const std::size_t P = net.populations.size();
    const bool gate = pop.kind == PopulationKind::MaxPool;
    if (pop.kind != PopulationKind::Spiking && !gate) return "population '" + pop.name + "' is not a plain spiking layer";
    if (gate && i + 1 == P) return "the output '" + pop.name + "' is a max-pooling gate";
    if (pop.projections.size() != 1) return "population '" + pop.name + "' has " + std::to_string(pop.projections.size()) + " projections";
    if (!pop.theta.empty() || pop.inhibition != Inhibition::None)
        return "population '" + pop.name + "' has adaptive thresholds or inhibition (a learned layer)";
    if (pop.neuron.signed_spikes) return "population '" + pop.name + "' has signed spikes";
    if (neuron::has_synapse(pop.neuron)) return "population '" + pop.name + "' has a synaptic current (CubaLIF)";
    const Projection& p = pop.projections[0];
    if (std::size_t(p.source) >= i) return "population '" + pop.name + "' reads a later population";
    const float decay = neuron::decay_of(pop.neuron);
    if (!LayerKernel::applies(p, net.populations[std::size_t(p.source)].shape, current && p.source == 0, decay, isa))
        return "population '" + pop.name + "': no layer-by-layer kernel for its projection '" + p.layer + "'";
    return {};
}

} // namespace

ExecutionPlan plan_execution(const Network& net, const RunOptions& opt, Watch watch) {
    const std::size_t P = net.populations.size();
    const PopcountIsa popcount = opt.popcount.value_or(best_popcount_isa());
    const bool current = opt.encode == Encoding::Current; // else the input spikes
    ExecutionPlan plan;
    plan.steps = opt.steps;
    plan.float_isa = opt.float_isa.value_or(best_float_isa());
    plan.popcount = popcount;
    for (const Population& pop : net.populations)
        for (const Projection& p : pop.projections)
            if (quant_kernel_applies(p))
                plan.quant_kernels =
                    opt.quant_kernels == QuantKernels::Integer && opt.kernels != KernelPath::Reference ? "integer" : "float";
    plan.block_steps.assign(P, 1);
    plan.kernel_steps.assign(P, 1);

    // Layer by layer: every population after the input has one projection of
    // a kind sim/layerwise.hpp runs, reads an earlier population or the input
    // (with `current` encoding the whole input is then the constant; with
    // `poisson` the input's spikes are drawn for every step first, with the
    // draws of a step-by-step run), and fires as plain IF/LIF neurons or is a
    // max-pooling gate (not the output). A partition's cuts are metered
    // afterwards, step by step, from the spike masks of every step.
    std::string refusal;
    if (watch == Watch::Record) refusal = "spikes are recorded step by step";
    else if (watch == Watch::Observe) refusal = "an observer watches every step";
    else if (!opt.layer_by_layer) refusal = "layer by layer is turned off";
    else if (opt.kernels != KernelPath::Auto) refusal = std::string("the kernel path is not auto");
    else if (!net.exits.empty()) refusal = "the network has exits";
    else if (opt.cut_loss.active() && !net.devices.empty()) refusal = "spikes crossing a cut are lost step by step (cut loss)";
    else if (!opt.device.empty()) refusal = "one device of a pipeline runs (device '" + opt.device + "')";
    else if (P < 2) refusal = "the network has no population after the input";
    for (std::size_t i = 1; i < P && refusal.empty(); ++i) refusal = layer_by_layer_refusal(net, i, current, opt.float_isa.value_or(best_float_isa()));
    if (refusal.empty()) {
        plan.schedule = Schedule::LayerByLayer;
        plan.why = "feed-forward without exits: each population runs all " + std::to_string(opt.steps) +
                   " steps before the next";
        for (std::size_t i = 1; i < P; ++i) {
            plan.block_steps[i] = opt.steps;
            const Projection& p = net.populations[i].projections[0];
            // A binary dense layer reads each weight word once for 8 steps (as step batches do).
            if (p.binary && p.kind == ProjectionKind::Dense && p.source > 0 && popcount == PopcountIsa::Avx512)
                plan.kernel_steps[i] = BinaryKernel::max_batch;
        }
        return plan;
    }
    plan.schedule = Schedule::Stages;
    plan.why = "lock step within stages: " + refusal;

    // Stages end at every population that carries an exit, and at the output.
    std::vector<int> exit_at(P, -1);
    for (std::size_t e = 0; e < net.exits.size(); ++e) exit_at[std::size_t(net.find(net.exits[e].at))] = int(e);
    // Step batches: a stage also ends before each population with a binary
    // dense projection, so that its sources have run every step when it starts.
    std::vector<std::uint8_t> batch_target(P, 0);
    const bool batching = watch != Watch::Observe && opt.step_batches && net.exits.empty() && net.devices.empty() &&
                          popcount == PopcountIsa::Avx512 && opt.kernels != KernelPath::Reference;
    if (batching)
        for (std::size_t i = 1; i < P; ++i)
            for (const Projection& p : net.populations[i].projections)
                if (p.binary && p.kind == ProjectionKind::Dense && p.source > 0 && !net.populations[i].neuron.signed_spikes)
                    batch_target[i] = 1;
    plan.stage_of.assign(P, 0);
    // A partition: a stage also ends where a device's populations do, so a
    // device finishes (or stops at its exit) before the next receives its
    // spikes, as devices apart do, and each device's stages can run on their
    // own (RunOptions::device, sim/pipeline.hpp).
    const auto device_starts = [&](std::size_t i) {
        return !net.devices.empty() && i > 0 && net.devices[i] != net.devices[i - 1];
    };
    for (std::size_t i = 0, first = 0; i < P; ++i) {
        if (device_starts(i) && i > first) {
            Stage st;
            st.first = first;
            st.last = i - 1;
            st.why = "device '" + net.devices[i - 1] + "' ends here";
            plan.stages.push_back(std::move(st));
            first = i;
        }
        if (batch_target[i] && i > first) {
            Stage st;
            st.first = first;
            st.last = i - 1;
            st.why = "step batches: population '" + net.populations[i].name + "' (binary dense) reads it for every step at once";
            plan.stages.push_back(std::move(st));
            first = i;
        }
        plan.stage_of[i] = int(plan.stages.size());
        if (exit_at[i] >= 0 || i == P - 1) {
            Stage st;
            st.first = first;
            st.last = i;
            st.exit = exit_at[i];
            st.why = exit_at[i] >= 0 ? "exit '" + net.exits[std::size_t(exit_at[i])].name + "' decides here" : "the output";
            plan.stages.push_back(std::move(st));
            first = i + 1;
        }
    }
    plan.batch_slot.resize(P);
    for (std::size_t i = 0; i < P; ++i) {
        const auto& projs = net.populations[i].projections;
        plan.batch_slot[i].assign(projs.size(), -1);
        if (!batch_target[i]) continue;
        for (std::size_t k = 0; k < projs.size(); ++k)
            if (projs[k].binary && projs[k].kind == ProjectionKind::Dense &&
                plan.stage_of[std::size_t(projs[k].source)] < plan.stage_of[i]) {
                plan.batch_slot[i][k] = plan.batch_slots++;
                plan.stages[std::size_t(plan.stage_of[i])].batched.push_back({i, k});
                plan.kernel_steps[i] = BinaryKernel::max_batch;
            }
    }
    const auto add_replay = [](Stage& st, std::size_t src) {
        if (std::find(st.replay.begin(), st.replay.end(), src) == st.replay.end()) st.replay.push_back(src);
    };
    for (std::size_t i = 1; i < P; ++i)
        for (const Projection& p : net.populations[i].projections)
            if (plan.stage_of[std::size_t(p.source)] < plan.stage_of[i])
                add_replay(plan.stages[std::size_t(plan.stage_of[i])], std::size_t(p.source));
    const std::vector<Cut> cuts = find_cuts(net);
    for (std::size_t c = 0; c < cuts.size(); ++c) {
        Stage& st = plan.stages[std::size_t(plan.stage_of[std::size_t(cuts[c].first_target)])];
        st.cuts.push_back(c);
        for (int src : cuts[c].sources)
            if (plan.stage_of[std::size_t(src)] < plan.stage_of[std::size_t(cuts[c].first_target)]) add_replay(st, std::size_t(src));
    }
    plan.keep_history.assign(P, 0);
    for (Stage& st : plan.stages) {
        std::sort(st.replay.begin(), st.replay.end());
        for (std::size_t src : st.replay) plan.keep_history[src] = 1;
    }
    return plan;
}

} // namespace snn
