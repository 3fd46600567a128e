#include "sim/report.hpp"

#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/quant.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

namespace snn {

nlohmann::json plan_json(const Network& net, const ExecutionPlan& plan) {
    using json = nlohmann::json;
    json j;
    j["schedule"] = to_string(plan.schedule);
    j["why"] = plan.why;
    j["float_isa"] = to_string(plan.float_isa);
    j["popcount"] = to_string(plan.popcount);
    j["quant_kernels"] = plan.quant_kernels;
    json blocks = json::array();
    const auto names = [&](std::size_t first, std::size_t last) {
        json a = json::array();
        for (std::size_t i = first; i <= last; ++i) a.push_back(net.populations[i].name);
        return a;
    };
    if (plan.schedule == Schedule::LayerByLayer) {
        // One block a population: all steps, [0, T), before the next.
        for (std::size_t i = 1; i < net.populations.size(); ++i)
            blocks.push_back({{"populations", names(i, i)},
                              {"steps_per_block", plan.block_steps[i]},
                              {"kernel_steps", plan.kernel_steps[i]}});
    } else {
        for (const Stage& st : plan.stages) {
            json b{{"populations", names(st.first, st.last)}, {"steps_per_block", 1}, {"ends", st.why}};
            if (st.exit >= 0) {
                const Exit& e = net.exits[std::size_t(st.exit)];
                b["exit"] = e.name;
                b["check_every"] = e.check_every;
            }
            json replay = json::array(), batched = json::array();
            for (std::size_t src : st.replay) replay.push_back(net.populations[src].name);
            for (const auto& [i, k] : st.batched)
                batched.push_back({{"population", net.populations[i].name},
                                   {"layer", net.populations[i].projections[k].layer},
                                   {"kernel_steps", plan.kernel_steps[i]}});
            b["replays"] = replay;
            b["batched"] = batched;
            blocks.push_back(b);
        }
    }
    j["blocks"] = blocks;
    return j;
}

nlohmann::json report_json(const Network& net, const RunResult& r, const RunInfo& info) {
    using json = nlohmann::json;
    const double n = double(std::max<std::int64_t>(r.samples, 1));
    const int steps = info.options.steps;
    json j;
    j["schema_version"] = 1; // docs/report.schema.json; raise it when a key changes meaning or goes away
    j["network"] = info.network;
    j["data"] = info.data;
    j["samples"] = r.samples;
    j["steps"] = steps;
    j["encode"] = to_string(info.options.encode);
    j["readout"] = to_string(r.readout);
    if (info.options.encode == Encoding::Poisson) j["max_rate"] = info.options.max_rate;
    j["seed"] = info.options.seed;
    j["threads"] = info.options.threads;
    if (!info.ranks.mode.empty()) {
        j["distributed"] = {{"mode", info.ranks.mode}, {"ranks", info.ranks.count}};
        if (info.ranks.window > 0) j["distributed"]["window"] = info.ranks.window;
        if (!r.latency.empty()) { // a pipeline: from the first device starting a sample to the device deciding it
            std::vector<double> ms;
            for (double s : r.latency) ms.push_back(1e3 * s);
            std::sort(ms.begin(), ms.end());
            const auto quantile = [&](double q) { return ms[std::size_t(q * double(ms.size() - 1) + 0.5)]; };
            j["distributed"]["latency_ms_mean"] = std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
            j["distributed"]["latency_ms_median"] = quantile(0.5);
            j["distributed"]["latency_ms_p95"] = quantile(0.95);
        }
    }
    j["accuracy"] = r.samples ? double(r.correct_at.back()) / n : 0.0;
    j["dnn_accuracy"] = info.dnn_accuracy >= 0 ? json(info.dnn_accuracy) : json(nullptr);
    if (!info.dnn_predictions.empty() && info.dnn_predictions.size() == r.predictions.size()) {
        // Fraction of samples on which the SNN's answer equals the DNN's, right or wrong.
        std::int64_t same = 0;
        for (std::size_t i = 0; i < r.predictions.size(); ++i) same += r.predictions[i] == info.dnn_predictions[i];
        j["dnn_agreement"] = double(same) / n;
    } else {
        j["dnn_agreement"] = nullptr;
    }
    json by_step = json::array();
    for (std::size_t c = 0; c < r.checkpoints.size(); ++c)
        by_step.push_back({{"step", r.checkpoints[c]}, {"accuracy", double(r.correct_at[c]) / n}});
    j["accuracy_by_step"] = by_step;
    json layers = json::array();
    double total_ops = 0, total_spikes = 0;
    for (std::size_t l = 0; l < net.populations.size(); ++l) {
        const Population& pop = net.populations[l];
        if (pop.kind == PopulationKind::Input && info.options.encode == Encoding::Current) continue;
        const double neurons = double(pop.shape.size());
        json e;
        e["name"] = pop.name;
        e["kind"] = to_string(pop.kind);
        e["neurons"] = pop.shape.size();
        e["spikes_per_sample"] = r.spikes[l] / n;
        e["spike_rate"] = r.spikes[l] / n / (neurons * steps);
        e["synaptic_ops_per_sample"] = r.synaptic_ops[l] / n;
        bool binary = false;
        for (const Projection& p : pop.projections) binary |= p.binary;
        e["binary"] = binary;
        e["binary_ops_per_sample"] = r.binary_ops[l] / n;
        if (binary) {
            // Side by side with the binary DNN (XNOR-Net) on the same layer: it
            // evaluates every connection once per input with ±1 activations (one
            // XNOR-popcount bit operation each) and receives one bit per source
            // unit; this layer receives its sources' spikes every step, as a
            // bitmap or as addresses.
            double src_neurons = 0, address_bits = 0;
            for (const Projection& p : pop.projections) {
                const auto src = std::size_t(p.source);
                const double ns = double(net.populations[src].shape.size());
                src_neurons += ns;
                address_bits += r.spikes[src] / n * std::ceil(std::log2(std::max(ns, 2.0)));
            }
            e["xnor_dnn"] = {{"binary_ops", double(dnn_macs(net, l))}, {"input_bits", src_neurons}};
            e["snn_input_bits_bitmap"] = src_neurons * r.steps_sum / n;
            e["snn_input_bits_aer"] = address_bits;
        }
        layers.push_back(e);
        total_ops += r.synaptic_ops[l] / n;
        if (pop.kind != PopulationKind::Input) total_spikes += r.spikes[l] / n;
    }
    j["layers"] = layers;
    j["spikes_per_sample"] = total_spikes;
    j["synaptic_ops_per_sample"] = total_ops;
    j["steps_per_sample"] = r.steps_sum / n;

    // Exits: which inputs left where, how well, and when. The last entry is the
    // network's own output, for the inputs that no exit stopped.
    json exits = json::array();
    for (std::size_t e = 0; e <= net.exits.size(); ++e) {
        json x;
        if (e < net.exits.size()) {
            const Exit& ex = net.exits[e];
            x = {{"name", ex.name}, {"at", ex.at}, {"rule", to_string(ex.rule)}, {"threshold", ex.threshold},
                 {"check_every", ex.check_every}};
        } else {
            if (net.exits.empty()) break;
            x = {{"name", "output"}, {"at", net.output().name}};
        }
        const double taken = double(r.exit_taken[e]);
        x["taken"] = taken / n;
        x["accuracy"] = taken > 0 ? json(double(r.exit_correct[e]) / taken) : json(nullptr);
        x["mean_step"] = taken > 0 ? json(r.exit_step_sum[e] / taken) : json(nullptr);
        exits.push_back(x);
    }
    j["exits"] = exits;

    // Devices: the work each did per input, and its energy by the cost table.
    // Synaptic events are adds reading one weight each, except the one-off
    // projection of the analog input (current encoding): multiply-adds.
    const CostTable& cost = info.costs;
    std::vector<std::string> devices;
    for (std::size_t l = 0; l < net.populations.size(); ++l) {
        const std::string d = net.devices.empty() ? "all" : net.devices[l];
        if (devices.empty() || devices.back() != d) devices.push_back(d);
    }
    // The compressive-sensing input stage (docs/compressive-sensing.md): rd·n
    // adds or subtracts per input (±1 entries), one multiply by 1/√rd per
    // measurement, and no weight read (the signs are regenerated from the seed).
    const RademacherStage& stage = net.input_stage;
    const double stage_pj =
        stage.present() ? double(stage.adds()) * cost.add_pj + double(stage.rd) * cost.mac_pj : 0.0;
    j["input_stage"] = stage.present() ? json{{"kind", "rademacher"},
                                              {"seed", stage.seed},
                                              {"rd", stage.rd},
                                              {"raw_shape", {stage.raw.h, stage.raw.w, stage.raw.c}},
                                              {"adds_per_sample", stage.adds()},
                                              {"multiplies_per_sample", stage.rd},
                                              {"energy_pj_per_sample", stage_pj}}
                                       : json(nullptr);
    // Incomplete dot products (snn/idp.hpp): the setting, and what each IDP layer read.
    json idp = nullptr;
    if (info.idp) {
        idp = json{{"setting", info.idp->str()}, {"layers", json::array()}};
        if (info.idp_profile_range.size() == 2)
            idp["profile_range"] = info.idp_profile_range; // several profiles: the one that ran
        for (const Population& pop : net.populations)
            for (const Projection& p : pop.projections)
                if (!p.idp_gamma.empty())
                    idp["layers"].push_back(json{{"layer", p.layer},
                                                 {"profile", p.idp_profile},
                                                 {"percent", idp_percent(*info.idp, pop, p)},
                                                 {"input_channels", p.idp_gamma.size()},
                                                 {"output_channels", pop.shape.c}});
    }
    j["idp"] = idp;
    json parts = json::array();
    double energy_total = 0, dnn_energy_total = 0;
    for (const std::string& d : devices) {
        double adds = 0, macs = 0, updates = 0, exit_adds = 0, exit_macs = 0, dnn = 0, binary = 0, dnn_binary = 0;
        // Float layers' work (priced as before), and quantized layers' by their bit width K.
        double float_adds = 0, float_macs = 0, float_dnn = 0;
        struct Quantized {
            double adds = 0, macs = 0, dnn = 0;
        };
        std::map<int, Quantized> quantized;
        for (std::size_t l = 0; l < net.populations.size(); ++l) {
            if ((net.devices.empty() ? "all" : net.devices[l]) != d) continue;
            const double bin = r.binary_ops[l] / n;
            const double layer_adds = (r.synaptic_ops[l] - r.input_macs[l]) / n - bin, layer_macs = r.input_macs[l] / n;
            adds += layer_adds;
            binary += bin;
            macs += layer_macs;
            updates += r.neuron_updates[l] / n;
            bool is_binary = false;
            for (const Projection& p : net.populations[l].projections) is_binary |= p.binary;
            const double layer_dnn = double(dnn_macs(net, l));
            (is_binary ? dnn_binary : dnn) += layer_dnn;
            if (const int k = quantized_bits(net.populations[l])) {
                Quantized& q = quantized[k];
                q.adds += layer_adds;
                q.macs += layer_macs;
                if (!is_binary) q.dnn += layer_dnn;
            } else {
                float_adds += layer_adds;
                float_macs += layer_macs;
                if (!is_binary) float_dnn += layer_dnn;
            }
        }
        for (std::size_t e = 0; e < net.exits.size(); ++e) {
            const int at = net.find(net.exits[e].at);
            if ((net.devices.empty() ? "all" : net.devices[std::size_t(at)]) != d) continue;
            exit_adds += r.exit_adds[e] / n;
            exit_macs += r.exit_macs[e] / n;
        }
        // A binary synaptic event is one binary operation reading a 1-bit weight;
        // the DNN's binary-weight layers add or subtract (no multiply) and read 1-bit weights too.
        // A quantized layer's adds, MACs and weight reads are K-bit ones (CostTable).
        double compute = (float_adds + updates + exit_adds) * cost.add_pj + (float_macs + exit_macs) * cost.mac_pj +
                         binary * cost.binary_op_pj;
        double bits_read = (float_adds + float_macs + exit_adds) * cost.weight_bits + binary;
        double dnn_pj = float_dnn * (cost.mac_pj + cost.weight_bits * cost.memory_bit_pj) +
                        dnn_binary * (cost.add_pj + cost.memory_bit_pj);
        for (const auto& [k, q] : quantized) {
            compute += q.adds * add_pj_at(cost, k) + q.macs * mac_pj_at(cost, k);
            bits_read += (q.adds + q.macs) * double(k);
            dnn_pj += q.dnn * (mac_pj_at(cost, k) + double(k) * cost.memory_bit_pj);
        }
        // The compressive-sensing stage runs where the input is, before either network.
        if (d == devices.front()) {
            compute += stage_pj;
            dnn_pj += stage_pj;
        }
        const double memory = bits_read * cost.memory_bit_pj;
        energy_total += compute + memory;
        dnn_energy_total += dnn_pj;
        parts.push_back({{"device", d},
                         {"synaptic_ops", adds + macs + binary},
                         {"synaptic_adds", adds},
                         {"binary_ops", binary},
                         {"input_macs", macs},
                         {"neuron_updates", updates},
                         {"exit_adds", exit_adds},
                         {"exit_macs", exit_macs},
                         {"compute_pj", compute},
                         {"memory_pj", memory},
                         {"energy_pj", compute + memory},
                         {"dnn_macs", dnn + dnn_binary},
                         {"dnn_binary_weight_macs", dnn_binary},
                         {"dnn_energy_pj", dnn_pj}});
    }
    j["partitions"] = parts;
    j["energy_pj_per_sample"] = energy_total;
    j["dnn_energy_pj_per_sample"] = dnn_energy_total;
    j["costs"] = to_json(cost);

    // Cuts: bytes per input that crossed each, by encoding; an input that left
    // at an exit before the cut sends nothing.
    json cuts = json::array();
    for (std::size_t c = 0; c < r.cuts.size(); ++c) {
        const Cut& cut = r.cuts[c];
        json names = json::array();
        for (int src : cut.sources) names.push_back(net.populations[std::size_t(src)].name);
        const double crossing = double(r.cut_used[c]) / n;
        cuts.push_back({{"from", cut.from},
                        {"to", cut.to},
                        {"sources", names},
                        {"neurons", cut.neurons},
                        {"inputs_crossing", crossing},
                        {"spikes", r.cut_spikes[c] / n},
                        {"bytes_aer", double(r.cut_bits[c].aer) / 8 / n},
                        {"bytes_bitmap", double(r.cut_bits[c].bitmap) / 8 / n},
                        {"bytes_delta", double(r.cut_bits[c].delta) / 8 / n},
                        {"bytes", double(r.cut_bits[c].best) / 8 / n},
                        {"dnn_bytes_fp32", crossing * double(cut.neurons) * 4},
                        {"dnn_bytes_int8", crossing * double(cut.neurons)}});
        if (info.options.cut_loss.active()) cuts.back()["spikes_lost"] = r.cut_lost[c] / n;
        if (!r.cut_bytes_sent.empty()) { // a pipeline across processes: the messages' bytes, as each side counted them
            cuts.back()["message_bytes_sent"] = r.cut_bytes_sent[c] / n;
            cuts.back()["message_bytes_received"] = r.cut_bytes_received[c] / n;
            cuts.back()["message_payload_bytes"] = r.cut_payload_bits[c] / 8 / n;
        }
    }
    j["cuts"] = cuts;
    if (info.options.cut_loss.active()) j["cut_loss"] = info.options.cut_loss.str();
    if (info.options.cut_loss.active() && info.dnn_accuracy_under_loss >= 0)
        j["dnn_accuracy_under_loss"] = info.dnn_accuracy_under_loss;
    if (!net.devices.empty()) j["partition"] = partition_spec(net);

    j["execution"] = plan_json(net, r.plan);
    if (r.record_plan) j["execution"]["recorded_samples"] = plan_json(net, *r.record_plan);
    j["seconds"] = r.seconds;
    j["samples_per_second"] = r.seconds > 0 ? double(r.samples) / r.seconds : 0.0;
    return j;
}

std::string report_table(const nlohmann::json& j) {
    std::ostringstream o;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-22s %10s %14s %10s %16s %7s\n", "layer", "neurons", "spikes/sample", "rate",
                  "synops/sample", "binary");
    o << buf;
    bool any_binary = false;
    for (const auto& l : j["layers"]) {
        const bool binary = l.value("binary", false);
        any_binary |= binary;
        std::snprintf(buf, sizeof buf, "%-22s %10lld %14.1f %10.4f %16.0f %7s\n", l["name"].get<std::string>().c_str(),
                      (long long)l["neurons"].get<std::int64_t>(), l["spikes_per_sample"].get<double>(),
                      l["spike_rate"].get<double>(), l["synaptic_ops_per_sample"].get<double>(), binary ? "yes" : "-");
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "%-22s %10s %14.1f %10s %16.0f\n", "total", "", j["spikes_per_sample"].get<double>(),
                  "", j["synaptic_ops_per_sample"].get<double>());
    o << buf;
    if (any_binary) {
        o << "\nbinary layer           SNN binary ops   XNOR-DNN ops   SNN input bits (bitmap / addresses)   XNOR-DNN input bits\n";
        for (const auto& l : j["layers"]) {
            if (!l.value("binary", false)) continue;
            std::snprintf(buf, sizeof buf, "%-22s %16.0f %14.0f %18.0f / %-18.0f %19.0f\n", l["name"].get<std::string>().c_str(),
                          l["binary_ops_per_sample"].get<double>(), l["xnor_dnn"]["binary_ops"].get<double>(),
                          l["snn_input_bits_bitmap"].get<double>(), l["snn_input_bits_aer"].get<double>(),
                          l["xnor_dnn"]["input_bits"].get<double>());
            o << buf;
        }
    }
    o << "\naccuracy by step:";
    for (const auto& a : j["accuracy_by_step"]) {
        std::snprintf(buf, sizeof buf, "  %d: %.2f%%", a["step"].get<int>(), 100 * a["accuracy"].get<double>());
        o << buf;
    }
    o << "\n";
    std::snprintf(buf, sizeof buf, "SNN accuracy %.2f%% after %d steps (%s encoding), %lld samples\n",
                  100 * j["accuracy"].get<double>(), j["steps"].get<int>(), j["encode"].get<std::string>().c_str(),
                  (long long)j["samples"].get<std::int64_t>());
    o << buf;
    if (!j["dnn_accuracy"].is_null()) {
        std::snprintf(buf, sizeof buf, "DNN accuracy %.2f%% (same network, ReLU instead of spikes)\n",
                      100 * j["dnn_accuracy"].get<double>());
        o << buf;
    }
    if (!j["dnn_agreement"].is_null()) {
        std::snprintf(buf, sizeof buf, "SNN and DNN agree on %.2f%% of samples\n", 100 * j["dnn_agreement"].get<double>());
        o << buf;
    }
    if (!j["exits"].empty()) {
        o << "\nexit                   at                   taken %   accuracy %   mean step\n";
        for (const auto& x : j["exits"]) {
            std::snprintf(buf, sizeof buf, "%-22s %-20s %7.2f %12s %11s\n", x["name"].get<std::string>().c_str(),
                          x["at"].get<std::string>().c_str(), 100 * x["taken"].get<double>(),
                          x["accuracy"].is_null() ? "-" : std::to_string(100 * x["accuracy"].get<double>()).substr(0, 6).c_str(),
                          x["mean_step"].is_null() ? "-" : std::to_string(x["mean_step"].get<double>()).substr(0, 6).c_str());
            o << buf;
        }
    }
    if (j["partitions"].size() > 1) {
        o << "\ndevice           synops/sample   energy µJ/sample   DNN µJ/sample\n";
        for (const auto& d : j["partitions"]) {
            std::snprintf(buf, sizeof buf, "%-16s %14.0f %18.3f %15.3f\n", d["device"].get<std::string>().c_str(),
                          d["synaptic_ops"].get<double>(), d["energy_pj"].get<double>() * 1e-6,
                          d["dnn_energy_pj"].get<double>() * 1e-6);
            o << buf;
        }
    }
    for (const auto& c : j["cuts"]) {
        std::snprintf(buf, sizeof buf,
                      "cut %s→%s: %.1f spikes/sample from %.1f%% of inputs; bytes/sample: %.1f (AER %.1f, bitmap %.1f, "
                      "delta %.1f); DNN fp32 %.0f, int8 %.0f\n",
                      c["from"].get<std::string>().c_str(), c["to"].get<std::string>().c_str(), c["spikes"].get<double>(),
                      100 * c["inputs_crossing"].get<double>(), c["bytes"].get<double>(), c["bytes_aer"].get<double>(),
                      c["bytes_bitmap"].get<double>(), c["bytes_delta"].get<double>(), c["dnn_bytes_fp32"].get<double>(),
                      c["dnn_bytes_int8"].get<double>());
        o << buf;
        if (c.contains("spikes_lost")) {
            std::snprintf(buf, sizeof buf, "  lost on the link (--cut-loss %s): %.1f spikes/sample\n",
                          j["cut_loss"].get<std::string>().c_str(), c["spikes_lost"].get<double>());
            o << buf;
        }
    }
    if (j.contains("idp") && !j["idp"].is_null()) {
        o << "IDP " << j["idp"]["setting"].get<std::string>() << ":";
        for (const auto& l : j["idp"]["layers"]) {
            std::snprintf(buf, sizeof buf, " %s %g%% (%s, %lld input channels, %lld output)", l["layer"].get<std::string>().c_str(),
                          l["percent"].get<double>(), l["profile"].get<std::string>().c_str(),
                          l["input_channels"].get<long long>(), l["output_channels"].get<long long>());
            o << buf;
        }
        o << "\n";
    }
    if (j.contains("input_stage") && !j["input_stage"].is_null()) {
        const auto& st = j["input_stage"];
        std::snprintf(buf, sizeof buf, "input stage: rademacher rd %lld, %lld adds + %lld multiplies/sample, %.3f µJ (in both energies)\n",
                      st["rd"].get<long long>(), st["adds_per_sample"].get<long long>(),
                      st["multiplies_per_sample"].get<long long>(), st["energy_pj_per_sample"].get<double>() * 1e-6);
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "energy %.3f µJ/sample (DNN %.3f µJ), %.1f steps/sample simulated\n",
                  j["energy_pj_per_sample"].get<double>() * 1e-6, j["dnn_energy_pj_per_sample"].get<double>() * 1e-6,
                  j["steps_per_sample"].get<double>());
    o << buf;
    if (j.contains("operating_point")) {
        const auto& p = j["operating_point"];
        if (p.is_null()) {
            if (!j["dnn_accuracy"].is_null()) o << "operating point: no checkpoint step within the tolerance of the DNN's accuracy\n";
        } else {
            std::snprintf(buf, sizeof buf,
                          "operating point: step %d, within %.2g points of the DNN (%.2f%%): %.0f synops, %.3f µJ/sample "
                          "(DNN %.3f µJ)",
                          p["step"].get<int>(), p["tolerance_points"].get<double>(), 100 * p["accuracy"].get<double>(),
                          p["synaptic_ops_per_sample"].get<double>(), p["energy_pj_per_sample"].get<double>() * 1e-6,
                          p["dnn_energy_pj_per_sample"].get<double>() * 1e-6);
            o << buf;
            if (p.contains("cut_bytes_per_sample")) {
                std::snprintf(buf, sizeof buf, ", %.1f cut bytes/sample", p["cut_bytes_per_sample"].get<double>());
                o << buf;
            }
            o << "\n";
        }
    }
    if (j.contains("diagnosis")) {
        const auto& d = j["diagnosis"];
        std::snprintf(buf, sizeof buf, "\ndiagnosis (%lld samples)  correlation  mean |error|  local rel. error  saturated %%  silent %%\n",
                      (long long)d["samples"].get<std::int64_t>());
        o << buf;
        const auto fmt = [](const nlohmann::json& v) {
            return v.is_null() ? std::string("-") : std::to_string(v.get<double>()).substr(0, 6);
        };
        for (const auto& l : d["layers"]) {
            std::snprintf(buf, sizeof buf, "%-25s %11s %13.4g %17.4f %11.2f %9.2f\n", l["name"].get<std::string>().c_str(),
                          fmt(l["correlation"]).c_str(), l["mean_abs_error"].get<double>(),
                          l["local_relative_error"].get<double>(), 100 * l["saturated_fraction"].get<double>(),
                          100 * l["silent_fraction"].get<double>());
            o << buf;
        }
        o << "worst layer (largest local error): " << d["worst_layer"].get<std::string>() << "\n";
    }
    std::snprintf(buf, sizeof buf, "%.1f samples/s on %d thread(s)", j["samples_per_second"].get<double>(),
                  j["threads"].get<int>());
    o << buf;
    if (j.contains("distributed")) {
        const auto& d = j["distributed"];
        o << " per rank, " << d["ranks"].get<int>() << " MPI ranks (" << d["mode"].get<std::string>();
        if (d.contains("window")) o << ", " << d["window"].get<int>() << " steps per message";
        o << ")";
        if (d.contains("latency_ms_mean")) {
            std::snprintf(buf, sizeof buf, "; latency per input %.2f ms mean, %.2f median, %.2f 95th percentile",
                          d["latency_ms_mean"].get<double>(), d["latency_ms_median"].get<double>(), d["latency_ms_p95"].get<double>());
            o << buf;
        }
    }
    o << "\n";
    if (j.contains("execution")) {
        const auto& x = j["execution"];
        o << "schedule: " << x["schedule"].get<std::string>() << ", " << x["blocks"].size() << " block(s) ("
          << x["why"].get<std::string>() << ")\n";
        if (x.contains("float_isa"))
            o << "instruction sets: float kernels " << x["float_isa"].get<std::string>() << ", binary popcount "
              << x["popcount"].get<std::string>() << "\n";
        if (x.contains("quant_kernels") && x["quant_kernels"] != "none")
            o << "quantized layers: " << x["quant_kernels"].get<std::string>() << " kernels\n";
    }
    return o.str();
}

void write_text_atomically(const std::string& path, const std::string& text) {
    AtomicOutput out(path);
    {
        std::ofstream f(out.temp_path(), std::ios::binary);
        if (!f) throw FileError(path, path + ": cannot write");
        f << text;
        f.flush();
        if (!f) throw FileError(path, path + ": write failed");
    }
    out.commit();
}

void write_spike_record(const std::string& path, const Network& net, const RunResult& r, int steps,
                        std::int64_t samples) {
    AtomicOutput out(path);
    {
        h5::Node f = h5::create_file(out.temp_path());
        h5::write_attr(f, "steps", std::int64_t(steps));
        h5::write_attr(f, "samples", samples);
        const std::size_t P = net.populations.size();
        std::vector<std::vector<std::int32_t>> sample(P), neuron(P), step(P), sign(P);
        for (const Spike& s : r.recorded) {
            sample[std::size_t(s.population)].push_back(s.sample);
            neuron[std::size_t(s.population)].push_back(s.neuron);
            step[std::size_t(s.population)].push_back(s.step);
            sign[std::size_t(s.population)].push_back(s.sign);
        }
        for (std::size_t l = 0; l < P; ++l) {
            const Population& pop = net.populations[l];
            if (h5::exists(f, pop.name)) continue;
            h5::Node g = h5::create_group(f, pop.name);
            h5::write_attr(g, "neurons", pop.shape.size());
            h5::write_attr(g, "shape", std::vector<std::int64_t>{pop.shape.h, pop.shape.w, pop.shape.c});
            const std::vector<std::uint64_t> dims{sample[l].size()};
            h5::write_ints32(g, "sample", sample[l], dims);
            h5::write_ints32(g, "neuron", neuron[l], dims);
            h5::write_ints32(g, "step", step[l], dims);
            h5::write_ints32(g, "sign", sign[l], dims);
        }
    }
    out.commit();
}

} // namespace snn
