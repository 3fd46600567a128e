#include "sim/pipeline.hpp"

#include "sim/cut_codec.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

namespace snn {

std::vector<std::string> pipeline_devices(const Network& net) {
    if (net.devices.empty()) throw Error("a pipeline needs a partition of the network into devices (give one with --partition)");
    std::vector<std::string> order;
    for (const std::string& d : net.devices)
        if (order.empty() || order.back() != d) {
            if (std::find(order.begin(), order.end(), d) != order.end())
                throw Error("device '" + d + "' holds populations on both sides of device '" + order.back() +
                            "': a pipeline needs each device's populations consecutive");
            order.push_back(d);
        }
    return order; // populations come after their sources, so every cut goes to a later device
}

namespace {

RunOptions on_device(RunOptions o, const std::string& device) {
    o.device = device;
    return o;
}

int steps_of(const Engine& e) { return e.checkpoints().back(); }

double clock_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

Message envelope(double started, const std::vector<std::uint8_t>& message) {
    Message out(envelope_bytes);
    const auto bits = std::bit_cast<std::uint64_t>(started);
    for (std::size_t b = 0; b < envelope_bytes; ++b) out[b] = std::uint8_t(bits >> (8 * b));
    out.insert(out.end(), message.begin(), message.end());
    return out;
}

} // namespace

PipelineDevice::PipelineDevice(const Network& net, const RunOptions& options, std::size_t device)
    : engine_(net, on_device(options, pipeline_devices(net).at(device))), name_(pipeline_devices(net)[device]),
      last_(net.devices.back() == name_) {
    const auto& cuts = engine_.cuts();
    for (std::size_t c = 0; c < cuts.size(); ++c) {
        if (cuts[c].to == name_) in_.push_back(c);
        if (cuts[c].from == name_) out_.push_back(c);
    }
}

DeviceRecords PipelineDevice::empty_records(std::int64_t samples, std::int64_t record_samples) const {
    DeviceRecords rec;
    rec.samples = snn::empty_records(engine_, 0, samples, record_samples);
    rec.decided.assign(std::size_t(samples), 0);
    rec.bytes_sent.assign(engine_.cuts().size(), 0.0);
    rec.bytes_received.assign(engine_.cuts().size(), 0.0);
    rec.payload_bits.assign(engine_.cuts().size(), 0.0);
    rec.latency.assign(std::size_t(samples), 0.0);
    return rec;
}

std::vector<Message> PipelineDevice::run(const Dataset& data, std::int64_t i, std::span<const Message> in, SampleState& s,
                                         DeviceRecords& rec) const {
    const auto& cuts = engine_.cuts();
    const int T = steps_of(engine_);
    if (in.size() != in_.size()) throw Error("internal: device '" + name_ + "' given " + std::to_string(in.size()) + " messages");
    std::vector<CutMessage> given;
    const CutMessageHeader* left = nullptr; // where the sample left at an exit upstream
    double started = in_.empty() ? clock_now() : 0.0;
    for (std::size_t k = 0; k < in_.size(); ++k) {
        const Cut& c = cuts[in_[k]];
        const std::string what = "the message of sample " + std::to_string(i) + " from device '" + c.from + "' to '" + c.to + "'";
        if (in[k].size() < envelope_bytes) throw Error(what + ": " + std::to_string(in[k].size()) + " bytes");
        std::uint64_t bits = 0;
        for (std::size_t b = 0; b < envelope_bytes; ++b) bits |= std::uint64_t(in[k][b]) << (8 * b);
        started = std::max(started, std::bit_cast<double>(bits));
        given.push_back(decode_message(std::span(in[k]).subspan(envelope_bytes), c.neurons, c.signed_spikes));
        const CutMessageHeader& h = given.back().header;
        if (h.sample != i) throw Error(what + " is sample " + std::to_string(h.sample) + "'s");
        if (h.status == CutStatus::Spikes && (h.t0 != 0 || h.t1 != T))
            throw Error(what + " holds steps [" + std::to_string(h.t0) + ", " + std::to_string(h.t1) + ") of a run of " +
                        std::to_string(T));
        rec.bytes_received[in_[k]] += double(in[k].size());
        if (h.status == CutStatus::Exited) left = &h;
    }
    std::vector<Message> out;
    const auto send = [&](std::size_t k, const CutMessageHeader& h, std::span<const StepSpikes> steps) {
        const Cut& c = cuts[out_[k]];
        out.push_back(envelope(started, encode_message(h, steps, c.neurons, c.signed_spikes)));
        rec.bytes_sent[out_[k]] += double(out.back().size());
    };
    CutMessageHeader h;
    h.sample = i;
    h.t1 = T;
    if (left) { // it left at an exit upstream: nothing to run; say so downstream
        h.status = CutStatus::Exited;
        h.exit_step = left->exit_step;
        h.prediction = left->prediction;
        for (std::size_t k = 0; k < out_.size(); ++k) send(k, h, {});
        return out;
    }
    // The sources on other devices, as the spike histories their stages would have kept.
    const Engine::GivenSpikes fill = [&](SampleState& st) {
        for (std::size_t k = 0; k < in_.size(); ++k) {
            const Cut& c = cuts[in_[k]];
            for (int t = 0; t < T; ++t)
                for (int sign = 0; sign < 2; ++sign) {
                    auto& history = sign ? st.history_negative : st.history;
                    auto& history_at = sign ? st.history_negative_at : st.history_at;
                    const StepSpikes& step = given[k].steps[std::size_t(t)];
                    for (const std::int32_t address : sign ? step.negatives : step.addresses) {
                        const std::size_t j = std::size_t(std::upper_bound(c.base.begin(), c.base.end(), address) - c.base.begin()) - 1;
                        history[std::size_t(c.sources[j])].push_back(std::int32_t(address - c.base[j]));
                    }
                    for (int src : c.sources) history_at[std::size_t(src)].push_back(std::int32_t(history[std::size_t(src)].size()));
                }
        }
    };
    std::vector<Spike>* recorded = std::size_t(i) < rec.samples.recorded.size() ? &rec.samples.recorded[std::size_t(i)] : nullptr;
    engine_.run_device_sample(data, i, s, recorded, fill);
    if (recorded) sort_recorded(*recorded);
    store(engine_, s, i, rec.samples);
    const bool exited = s.exit_taken >= 0;
    rec.decided[std::size_t(i)] = exited || last_;
    if (rec.decided[std::size_t(i)]) rec.latency[std::size_t(i)] = clock_now() - started;
    if (exited) {
        h.status = CutStatus::Exited;
        h.exit_step = s.exit_step;
        h.prediction = s.prediction;
    }
    for (std::size_t k = 0; k < out_.size(); ++k) {
        const Cut& c = cuts[out_[k]];
        std::vector<StepSpikes> steps;
        for (int t = 0; t < T && !exited; ++t) {
            StepSpikes& step = steps.emplace_back();
            for (int sign = 0; sign < 2; ++sign)
                for (std::size_t j = 0; j < c.sources.size(); ++j) {
                    const auto src = std::size_t(c.sources[j]);
                    const auto& history = sign ? s.history_negative[src] : s.history[src];
                    const auto& at = sign ? s.history_negative_at[src] : s.history_at[src];
                    for (auto a = at[std::size_t(t)]; a < at[std::size_t(t) + 1]; ++a)
                        (sign ? step.negatives : step.addresses).push_back(std::int32_t(c.base[j] + history[std::size_t(a)]));
                }
        }
        send(k, h, steps);
        // The coded steps' bits, as the header counts them.
        rec.payload_bits[out_[k]] += double(payload_bits_of(std::span(out.back()).subspan(envelope_bytes)));
    }
    return out;
}

RunResult merge_devices(const Engine& whole, const Dataset& data, std::vector<DeviceRecords>&& devices, const RunOptions& opt) {
    const std::int64_t n = data.size();
    const std::size_t C = whole.checkpoints().size();
    SampleRecords all = snn::empty_records(whole, 0, n, opt.record_samples);
    const auto add = [](auto& into, const auto& from) {
        if (from.size() != into.size()) throw Error("internal: a device's records of the wrong size");
        for (std::size_t k = 0; k < into.size(); ++k) into[k] += from[k];
    };
    std::vector<int> decider(std::size_t(n), -1);
    std::vector<double> latency(std::size_t(n), 0.0);
    for (std::size_t d = 0; d < devices.size(); ++d) {
        const SampleRecords& r = devices[d].samples;
        add(all.spikes, r.spikes);
        add(all.ops, r.ops);
        add(all.updates, r.updates);
        add(all.in_macs, r.in_macs);
        add(all.bin_ops, r.bin_ops);
        add(all.exit_adds, r.exit_adds);
        add(all.exit_macs, r.exit_macs);
        add(all.cut_bits, r.cut_bits);
        add(all.cut_spikes, r.cut_spikes);
        add(all.cut_lost, r.cut_lost);
        add(all.cut_used, r.cut_used);
        for (std::size_t i = 0; i < all.recorded.size(); ++i)
            all.recorded[i].insert(all.recorded[i].end(), r.recorded[i].begin(), r.recorded[i].end());
        for (std::int64_t i = 0; i < n; ++i) {
            const auto si = std::size_t(i);
            if (!devices[d].decided[si]) continue;
            if (decider[si] >= 0) throw Error("internal: sample " + std::to_string(i) + " decided on two devices");
            decider[si] = int(d);
            std::copy_n(r.predictions_at.begin() + std::ptrdiff_t(si * C), C, all.predictions_at.begin() + std::ptrdiff_t(si * C));
            all.exit_taken[si] = r.exit_taken[si];
            all.exit_step[si] = r.exit_step[si];
            all.prediction[si] = r.prediction[si];
            latency[si] = devices[d].latency[si];
        }
        all.seconds = std::max(all.seconds, r.seconds);
    }
    for (std::int64_t i = 0; i < n; ++i)
        if (decider[std::size_t(i)] < 0) throw Error("internal: sample " + std::to_string(i) + " decided on no device");
    for (auto& spikes : all.recorded) sort_recorded(spikes);
    RunResult result = merge(whole, data, all, opt);
    result.latency = std::move(latency);
    result.cut_bytes_sent.assign(whole.cuts().size(), 0.0);
    result.cut_bytes_received.assign(whole.cuts().size(), 0.0);
    result.cut_payload_bits.assign(whole.cuts().size(), 0.0);
    for (const DeviceRecords& d : devices) {
        add(result.cut_bytes_sent, d.bytes_sent);
        add(result.cut_bytes_received, d.bytes_received);
        add(result.cut_payload_bits, d.payload_bits);
    }
    return result;
}

RunResult simulate_pipeline(const Network& net, const Dataset& data, const RunOptions& opt) {
    const auto start = std::chrono::steady_clock::now();
    check_run(net, data, opt);
    const std::vector<std::string> names = pipeline_devices(net);
    std::vector<PipelineDevice> devices;
    std::vector<DeviceRecords> records;
    std::vector<SampleState> states(names.size());
    for (std::size_t d = 0; d < names.size(); ++d) {
        devices.emplace_back(net, opt, d);
        records.push_back(devices[d].empty_records(data.size(), opt.record_samples));
        devices[d].engine().init(states[d]);
    }
    std::vector<Message> on_cut(devices[0].engine().cuts().size());
    for (std::int64_t i = 0; i < data.size(); ++i)
        for (std::size_t d = 0; d < devices.size(); ++d) {
            std::vector<Message> in;
            for (std::size_t c : devices[d].cuts_in()) in.push_back(std::move(on_cut[c]));
            std::vector<Message> out = devices[d].run(data, i, in, states[d], records[d]);
            for (std::size_t k = 0; k < out.size(); ++k) on_cut[devices[d].cuts_out()[k]] = std::move(out[k]);
        }
    RunResult r = merge_devices(devices[0].engine(), data, std::move(records), opt);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

} // namespace snn
