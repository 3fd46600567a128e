#include "sim/pipeline.hpp"

#include "sim/cut_codec.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <deque>

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
      last_(net.devices.back() == name_), window_(options.window > 0 ? std::min(options.window, options.steps) : options.steps) {
    if (options.window < 0) throw Error("--window " + std::to_string(options.window) + ": a window is at least 1 step");
    const auto& cuts = engine_.cuts();
    for (std::size_t c = 0; c < cuts.size(); ++c) {
        if (cuts[c].to == name_) in_.push_back(c);
        if (cuts[c].from == name_) out_.push_back(c);
    }
    for (std::size_t e = 0; e < net.exits.size(); ++e) {
        const int at = engine_.exit_population(e);
        if (first_exit_population_ < 0 || at < first_exit_population_) first_exit_population_ = at;
    }
}

bool DeviceSample::done() const {
    const bool waiting = std::find(in_open.begin(), in_open.end(), 1) != in_open.end();
    return !waiting && (left_upstream || t0 >= steps);
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

DeviceSample PipelineDevice::begin(const Dataset& data, std::int64_t i, SampleState& s) const {
    DeviceSample d;
    d.sample = i;
    d.steps = steps_of(engine_);
    d.in_open.assign(in_.size(), 1);
    d.out_open.assign(out_.size(), 1);
    if (in_.empty()) d.started = clock_now();
    engine_.begin_device_sample(data, i, s);
    return d;
}

std::vector<std::optional<Message>> PipelineDevice::next(std::span<const Message* const> in, DeviceSample& d, SampleState& s,
                                                         DeviceRecords& rec) const {
    const auto& cuts = engine_.cuts();
    const std::int64_t i = d.sample;
    const int T = d.steps, t0 = d.t0, t1 = std::min(d.t0 + window_, T);
    if (in.size() != in_.size()) throw InternalError("device '" + name_ + "' given " + std::to_string(in.size()) + " messages");
    if (d.done()) throw InternalError("device '" + name_ + "' asked to go on with sample " + std::to_string(i) + ", which it is done with");
    std::vector<std::optional<CutMessage>> given(in_.size());
    std::optional<CutMessageHeader> left; // where the sample left at an exit upstream, if it just did
    for (std::size_t k = 0; k < in_.size(); ++k) {
        if (!d.in_open[k]) {
            if (in[k]) throw InternalError("device '" + name_ + "' given a message on a cut closed for sample " + std::to_string(i));
            continue;
        }
        if (!in[k]) throw InternalError("device '" + name_ + "' given no message on an open cut");
        const Message& m = *in[k];
        const Cut& c = cuts[in_[k]];
        const std::string what = "the message of sample " + std::to_string(i) + " from device '" + c.from + "' to '" + c.to + "'";
        if (m.size() < envelope_bytes) throw Error(what + ": " + std::to_string(m.size()) + " bytes");
        std::uint64_t bits = 0;
        for (std::size_t b = 0; b < envelope_bytes; ++b) bits |= std::uint64_t(m[b]) << (8 * b);
        d.started = std::max(d.started, std::bit_cast<double>(bits));
        given[k] = decode_message(std::span(m).subspan(envelope_bytes), c.neurons, c.signed_spikes);
        const CutMessageHeader& h = given[k]->header;
        if (h.sample != i) throw Error(what + " is sample " + std::to_string(h.sample) + "'s");
        if (h.status == CutStatus::Spikes && (h.t0 != t0 || h.t1 != t1))
            throw Error(what + " holds steps [" + std::to_string(h.t0) + ", " + std::to_string(h.t1) + "), not the window [" +
                        std::to_string(t0) + ", " + std::to_string(t1) + ") of a run of " + std::to_string(T) +
                        " steps in windows of " + std::to_string(window_));
        rec.bytes_received[in_[k]] += double(m.size());
        if (h.status == CutStatus::Exited) {
            d.in_open[k] = 0;
            if (!d.left_upstream && !left) left = h;
        } else if (t1 == T)
            d.in_open[k] = 0;
    }
    d.t0 = t1;
    std::vector<std::optional<Message>> out(out_.size());
    const auto send = [&](std::size_t k, const CutMessageHeader& h, std::span<const StepSpikes> steps) {
        const Cut& c = cuts[out_[k]];
        out[k] = envelope(d.started, encode_message(h, steps, c.neurons, c.signed_spikes));
        rec.bytes_sent[out_[k]] += double(out[k]->size());
        // The coded steps' bits, as the header counts them.
        rec.payload_bits[out_[k]] += double(payload_bits_of(std::span(*out[k]).subspan(envelope_bytes)));
        if (h.status == CutStatus::Exited || h.t1 == T) d.out_open[k] = 0;
    };
    std::vector<Spike>* recorded = std::size_t(i) < rec.samples.recorded.size() ? &rec.samples.recorded[std::size_t(i)] : nullptr;
    CutMessageHeader h;
    h.sample = i;
    h.t0 = t0;
    h.t1 = t1;
    if (left) { // it left at an exit upstream: drop what ran of it here, say so downstream
        d.left_upstream = true;
        if (recorded) recorded->clear();
        h.status = CutStatus::Exited;
        h.exit_step = left->exit_step;
        h.prediction = left->prediction;
        for (std::size_t k = 0; k < out_.size(); ++k)
            if (d.out_open[k]) send(k, h, {});
        return out;
    }
    if (d.left_upstream) return out; // reading what still comes on the other cuts
    // The sources on other devices, as the spike histories their stages would have kept.
    for (std::size_t k = 0; k < in_.size(); ++k) {
        const Cut& c = cuts[in_[k]];
        for (int t = t0; t < t1; ++t)
            for (int sign = 0; sign < 2; ++sign) {
                auto& history = sign ? s.history_negative : s.history;
                auto& history_at = sign ? s.history_negative_at : s.history_at;
                const StepSpikes& step = given[k]->steps[std::size_t(t - t0)];
                for (const std::int32_t address : sign ? step.negatives : step.addresses) {
                    const std::size_t j = std::size_t(std::upper_bound(c.base.begin(), c.base.end(), address) - c.base.begin()) - 1;
                    history[std::size_t(c.sources[j])].push_back(std::int32_t(address - c.base[j]));
                }
                for (int src : c.sources) history_at[std::size_t(src)].push_back(std::int32_t(history[std::size_t(src)].size()));
            }
    }
    engine_.run_device_window(i, s, recorded, t0, t1);
    const bool exited = s.exit_taken >= 0;
    // An exit decides once no exit before it can still fire: at once for the
    // first exit of the network, else at the run's end.
    const bool can_decide = t1 == T || (exited && engine_.exit_population(std::size_t(s.exit_taken)) == first_exit_population_);
    if (!d.decided && can_decide && (exited || last_)) {
        d.decided = true;
        rec.decided[std::size_t(i)] = 1;
        rec.latency[std::size_t(i)] = clock_now() - d.started;
    }
    if (exited) {
        h.status = CutStatus::Exited;
        h.exit_step = s.exit_step;
        h.prediction = s.prediction;
    }
    for (std::size_t k = 0; k < out_.size(); ++k) {
        if (!d.out_open[k]) continue;
        const Cut& c = cuts[out_[k]];
        std::vector<StepSpikes> steps;
        for (int t = t0; t < t1 && !exited; ++t) {
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
    }
    if (t1 == T) {
        if (recorded) sort_recorded(*recorded);
        store(engine_, s, i, rec.samples);
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
    // Per cut, the messages sent and not yet taken, oldest first.
    std::vector<std::deque<Message>> on_cut(devices[0].engine().cuts().size());
    std::vector<DeviceSample> at(devices.size());
    for (std::int64_t i = 0; i < data.size(); ++i) {
        for (std::size_t d = 0; d < devices.size(); ++d) at[d] = devices[d].begin(data, i, states[d]);
        // Window by window, each device in turn: a device's window w comes after its sources' window w.
        for (bool busy = true; busy;) {
            busy = false;
            for (std::size_t d = 0; d < devices.size(); ++d) {
                if (at[d].done()) continue;
                busy = true;
                const auto& cuts_in = devices[d].cuts_in();
                std::vector<Message> taken(cuts_in.size());
                std::vector<const Message*> in(cuts_in.size(), nullptr);
                for (std::size_t k = 0; k < cuts_in.size(); ++k) {
                    if (!at[d].in_open[k]) continue;
                    auto& queue = on_cut[cuts_in[k]];
                    if (queue.empty()) throw InternalError("simulate_pipeline: device '" + names[d] + "' waits for a message");
                    taken[k] = std::move(queue.front());
                    queue.pop_front();
                    in[k] = &taken[k];
                }
                std::vector<std::optional<Message>> out = devices[d].next(in, at[d], states[d], records[d]);
                for (std::size_t k = 0; k < out.size(); ++k)
                    if (out[k]) on_cut[devices[d].cuts_out()[k]].push_back(std::move(*out[k]));
            }
        }
        for (const auto& queue : on_cut)
            if (!queue.empty()) throw InternalError("simulate_pipeline: a message of sample " + std::to_string(i) + " left untaken");
    }
    RunResult r = merge_devices(devices[0].engine(), data, std::move(records), opt);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

} // namespace snn
