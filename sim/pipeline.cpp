#include "sim/pipeline.hpp"

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

void put32(Message& m, std::int32_t v) {
    const auto at = m.size();
    m.resize(at + 4);
    for (int b = 0; b < 4; ++b) m[at + std::size_t(b)] = std::uint8_t(std::uint32_t(v) >> (8 * b));
}

// Reads little-endian integers from a message, refusing to read past its end.
struct Reader {
    std::span<const std::uint8_t> bytes;
    const std::string& what;
    std::size_t at = 0;
    std::uint64_t get(int width) {
        if (bytes.size() - at < std::size_t(width))
            throw Error(what + ": cut short at byte " + std::to_string(at) + " of " + std::to_string(bytes.size()));
        std::uint64_t v = 0;
        for (int b = 0; b < width; ++b) v |= std::uint64_t(bytes[at + std::size_t(b)]) << (8 * b);
        at += std::size_t(width);
        return v;
    }
    std::int32_t i32() { return std::int32_t(std::uint32_t(get(4))); }
};

// Appends one list of addresses per step to `out` (offsets in `at`).
void read_list(Reader& r, std::int32_t count, std::int64_t neurons, std::vector<std::int32_t>& out, std::vector<std::int32_t>& at) {
    if (count < 0 || std::int64_t(count) > neurons) throw Error(r.what + ": a step of " + std::to_string(count) + " spikes on a cut of " + std::to_string(neurons) + " neurons");
    for (std::int32_t k = 0; k < count; ++k) {
        const std::int32_t a = r.i32();
        if (a < 0 || a >= neurons || (k > 0 && a <= out.back()))
            throw Error(r.what + ": address " + std::to_string(a) + " outside [0, " + std::to_string(neurons) + ") or out of order");
        out.push_back(a);
    }
    at.push_back(std::int32_t(out.size()));
}

} // namespace

Message encode_message(const CutSpikes& m) {
    Message out;
    out.reserve(16 + 4 * (m.addresses.size() + m.negative.size() + 2 * m.at.size()));
    for (int b = 0; b < 8; ++b) out.push_back(std::uint8_t(std::uint64_t(m.sample) >> (8 * b)));
    const auto started = std::bit_cast<std::uint64_t>(m.started);
    for (int b = 0; b < 8; ++b) out.push_back(std::uint8_t(started >> (8 * b)));
    put32(out, m.left ? 1 : 0);
    const std::int32_t steps = m.left ? 0 : std::int32_t(m.at.size()) - 1;
    put32(out, steps);
    for (std::int32_t t = 0; t < steps; ++t) {
        const auto p0 = m.at[std::size_t(t)], p1 = m.at[std::size_t(t) + 1];
        const auto n0 = m.negative_at[std::size_t(t)], n1 = m.negative_at[std::size_t(t) + 1];
        put32(out, p1 - p0);
        put32(out, n1 - n0);
        for (auto k = p0; k < p1; ++k) put32(out, m.addresses[std::size_t(k)]);
        for (auto k = n0; k < n1; ++k) put32(out, m.negative[std::size_t(k)]);
    }
    return out;
}

CutSpikes decode_message(std::span<const std::uint8_t> bytes, std::int64_t neurons, int steps, const std::string& what) {
    Reader r{bytes, what};
    CutSpikes m;
    m.sample = std::int64_t(r.get(8));
    m.started = std::bit_cast<double>(r.get(8));
    const std::int32_t status = r.i32(), count = r.i32();
    if (status != 0 && status != 1) throw Error(what + ": status " + std::to_string(status) + " (expected 0 or 1)");
    m.left = status == 1;
    if (count != (m.left ? 0 : steps))
        throw Error(what + ": " + std::to_string(count) + " steps where the run has " + std::to_string(steps));
    m.at.assign(1, 0);
    m.negative_at.assign(1, 0);
    for (std::int32_t t = 0; t < count; ++t) {
        const std::int32_t positive = r.i32(), negative = r.i32();
        read_list(r, positive, neurons, m.addresses, m.at);
        read_list(r, negative, neurons, m.negative, m.negative_at);
    }
    if (r.at != bytes.size())
        throw Error(what + ": " + std::to_string(bytes.size() - r.at) + " bytes past the end of its contents");
    return m;
}

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
    rec.latency.assign(std::size_t(samples), 0.0);
    return rec;
}

std::vector<Message> PipelineDevice::run(const Dataset& data, std::int64_t i, std::span<const Message> in, SampleState& s,
                                         DeviceRecords& rec) const {
    const auto& cuts = engine_.cuts();
    const int T = steps_of(engine_);
    if (in.size() != in_.size()) throw Error("internal: device '" + name_ + "' given " + std::to_string(in.size()) + " messages");
    std::vector<CutSpikes> given;
    bool left = false;
    double started = in_.empty() ? clock_now() : 0.0;
    for (std::size_t k = 0; k < in_.size(); ++k) {
        const Cut& c = cuts[in_[k]];
        const std::string what = "the message of sample " + std::to_string(i) + " from device '" + c.from + "' to '" + c.to + "'";
        given.push_back(decode_message(in[k], c.neurons, T, what));
        if (given.back().sample != i) throw Error(what + " is sample " + std::to_string(given.back().sample) + "'s");
        rec.bytes_received[in_[k]] += double(in[k].size());
        left |= given.back().left;
        started = std::max(started, given.back().started);
    }
    std::vector<Message> out;
    const auto send = [&](std::size_t k, const CutSpikes& m) {
        out.push_back(encode_message(m));
        rec.bytes_sent[out_[k]] += double(out.back().size());
    };
    if (left) { // it left at an exit upstream: nothing to run; say so downstream
        for (std::size_t k = 0; k < out_.size(); ++k) send(k, CutSpikes{i, started, true, {}, {}, {}, {}});
        return out;
    }
    // The sources on other devices, as the spike histories their stages would have kept.
    const Engine::GivenSpikes fill = [&](SampleState& st) {
        for (std::size_t k = 0; k < in_.size(); ++k) {
            const Cut& c = cuts[in_[k]];
            const CutSpikes& m = given[k];
            for (int sign = 0; sign < 2; ++sign) {
                auto& history = sign ? st.history_negative : st.history;
                auto& history_at = sign ? st.history_negative_at : st.history_at;
                const auto& at = sign ? m.negative_at : m.at;
                const auto& addresses = sign ? m.negative : m.addresses;
                for (int t = 0; t < T; ++t) {
                    for (auto a = at[std::size_t(t)]; a < at[std::size_t(t) + 1]; ++a) {
                        const std::int32_t address = addresses[std::size_t(a)];
                        const std::size_t j = std::size_t(std::upper_bound(c.base.begin(), c.base.end(), address) - c.base.begin()) - 1;
                        history[std::size_t(c.sources[j])].push_back(std::int32_t(address - c.base[j]));
                    }
                    for (int src : c.sources) history_at[std::size_t(src)].push_back(std::int32_t(history[std::size_t(src)].size()));
                }
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
    for (std::size_t k = 0; k < out_.size(); ++k) {
        const Cut& c = cuts[out_[k]];
        CutSpikes m{i, started, exited, {0}, {}, {0}, {}};
        if (!exited)
            for (int t = 0; t < T; ++t)
                for (int sign = 0; sign < 2; ++sign) {
                    auto& addresses = sign ? m.negative : m.addresses;
                    for (std::size_t j = 0; j < c.sources.size(); ++j) {
                        const auto src = std::size_t(c.sources[j]);
                        const auto& h = sign ? s.history_negative[src] : s.history[src];
                        const auto& at = sign ? s.history_negative_at[src] : s.history_at[src];
                        for (auto a = at[std::size_t(t)]; a < at[std::size_t(t) + 1]; ++a)
                            addresses.push_back(std::int32_t(c.base[j] + h[std::size_t(a)]));
                    }
                    (sign ? m.negative_at : m.at).push_back(std::int32_t(addresses.size()));
                }
        send(k, m);
    }
    return out;
}

RunResult merge_devices(const Engine& whole, const Dataset& data, std::vector<DeviceRecords>&& devices, const RunOptions& opt) {
    const std::int64_t n = data.size();
    const std::size_t C = whole.checkpoints().size();
    SampleRecords all = snn::empty_records(whole, 0, n, opt.record_samples);
    const auto add = [](auto& into, const auto& from) {
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
    for (const DeviceRecords& d : devices) {
        add(result.cut_bytes_sent, d.bytes_sent);
        add(result.cut_bytes_received, d.bytes_received);
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
