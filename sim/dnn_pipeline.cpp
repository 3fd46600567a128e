#include "sim/dnn_pipeline.hpp"

#include "convert/dnn.hpp"
#include "sim/pipeline.hpp"
#include "snn/error.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>

namespace snn {

float int8_scale(std::span<const float> a) {
    float m = 0.0f;
    for (float x : a) m = std::max(m, x);
    return m / 255.0f;
}

void quantize_int8(std::span<const float> a, float scale, std::uint8_t* q) {
    for (std::size_t u = 0; u < a.size(); ++u)
        q[u] = scale > 0.0f && a[u] > 0.0f ? std::uint8_t(std::min(255.0f, std::floor(a[u] / scale + 0.5f))) : 0;
}

void round_trip_int8(std::vector<float>& a) {
    const float scale = int8_scale(a);
    std::vector<std::uint8_t> q(a.size());
    quantize_int8(a, scale, q.data());
    for (std::size_t u = 0; u < a.size(); ++u) a[u] = float(q[u]) * scale;
}

namespace {

void check_data(const Network& net, const Dataset& data) {
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() + " but the network's input is " +
                    net.input().shape.str());
}

double clock_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

template <class T> void put(DnnMessage& m, T x) {
    const auto bits = std::bit_cast<std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>>(x);
    for (std::size_t b = 0; b < sizeof(T); ++b) m.push_back(std::uint8_t(bits >> (8 * b)));
}

template <class T> T take(const DnnMessage& m, std::size_t& at) {
    std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t> bits = 0;
    for (std::size_t b = 0; b < sizeof(T); ++b) bits |= decltype(bits)(m[at + b]) << (8 * b);
    at += sizeof(T);
    return std::bit_cast<T>(bits);
}

} // namespace

std::vector<int> dnn_int8_predictions(const Network& net, const Dataset& data, int threads) {
    check_data(net, data);
    pipeline_devices(net); // the same partitions the pipeline takes
    const std::size_t P = net.populations.size();
    std::vector<int> pred(std::size_t(data.size()));
    tbb::task_arena arena(std::max(threads, 1));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, data.size(), 16), [&](const auto& range) {
            std::vector<std::vector<float>> act(P), coded(P);
            std::vector<std::uint8_t> have(P);
            for (std::int64_t i = range.begin(); i < range.end(); ++i) {
                act[0].assign(data.sample(i), data.sample(i) + net.input().shape.size());
                std::fill(have.begin(), have.end(), 0);
                for (std::size_t p = 1; p < P; ++p) {
                    // The sources on other devices, as their int8 codes bring them.
                    std::vector<std::size_t> swapped;
                    for (const Projection& proj : net.populations[p].projections) {
                        const auto src = std::size_t(proj.source);
                        if (net.devices[src] == net.devices[p] ||
                            std::find(swapped.begin(), swapped.end(), src) != swapped.end())
                            continue;
                        if (!have[src]) {
                            coded[src] = act[src];
                            round_trip_int8(coded[src]);
                            have[src] = 1;
                        }
                        std::swap(act[src], coded[src]);
                        swapped.push_back(src);
                    }
                    forward_population(net, p, act);
                    for (std::size_t src : swapped) std::swap(act[src], coded[src]);
                }
                pred[std::size_t(i)] = argmax(act.back());
            }
        });
    });
    return pred;
}

std::size_t dnn_message_bytes(const Cut& c, const Network& net) {
    std::size_t n = 8 + 8;
    for (int src : c.sources) n += 4 + std::size_t(net.populations[std::size_t(src)].shape.size());
    return n;
}

DnnPipelineDevice::DnnPipelineDevice(const Network& net, std::size_t device)
    : net_(&net), name_(pipeline_devices(net).at(device)), last_(net.devices.back() == name_), cuts_(find_cuts(net)) {
    for (std::size_t c = 0; c < cuts_.size(); ++c) {
        if (cuts_[c].to == name_) in_.push_back(c);
        if (cuts_[c].from == name_) out_.push_back(c);
    }
    for (std::size_t p = 1; p < net.populations.size(); ++p)
        if (net.devices[p] == name_) populations_.push_back(p);
}

DnnDeviceRecords DnnPipelineDevice::empty_records(std::int64_t samples) const {
    DnnDeviceRecords rec;
    rec.prediction.assign(std::size_t(samples), -1);
    rec.latency.assign(std::size_t(samples), 0.0);
    rec.bytes_sent.assign(cuts_.size(), 0.0);
    rec.bytes_received.assign(cuts_.size(), 0.0);
    rec.payload_bytes.assign(cuts_.size(), 0.0);
    return rec;
}

std::vector<DnnMessage> DnnPipelineDevice::run(const Dataset& data, std::int64_t i, std::span<const DnnMessage> in,
                                               DnnDeviceRecords& rec) const {
    const Network& net = *net_;
    if (in.size() != in_.size()) throw InternalError("DNN device '" + name_ + "' given " + std::to_string(in.size()) + " messages");
    std::vector<std::vector<float>> act(net.populations.size());
    double started = in_.empty() ? clock_now() : 0.0;
    if (net.devices[0] == name_) act[0].assign(data.sample(i), data.sample(i) + net.input().shape.size());
    for (std::size_t k = 0; k < in_.size(); ++k) {
        const Cut& c = cuts_[in_[k]];
        const DnnMessage& m = in[k];
        const std::string what = "the DNN message of sample " + std::to_string(i) + " from device '" + c.from + "' to '" + c.to + "'";
        if (m.size() != dnn_message_bytes(c, net))
            throw Error(what + " has " + std::to_string(m.size()) + " bytes, expected " + std::to_string(dnn_message_bytes(c, net)));
        std::size_t at = 0;
        started = std::max(started, take<double>(m, at));
        if (const auto sample = take<std::int64_t>(m, at); sample != i)
            throw Error(what + " is sample " + std::to_string(sample) + "'s");
        for (int src : c.sources) {
            const float scale = take<float>(m, at);
            if (!(scale >= 0.0f) || !std::isfinite(scale)) throw Error(what + " has a scale of " + std::to_string(scale));
            auto& a = act[std::size_t(src)];
            a.resize(std::size_t(net.populations[std::size_t(src)].shape.size()));
            for (float& x : a) x = float(m[at++]) * scale;
        }
        rec.bytes_received[in_[k]] += double(m.size());
    }
    for (std::size_t p : populations_) forward_population(net, p, act);
    if (last_) {
        rec.prediction[std::size_t(i)] = argmax(act.back());
        rec.latency[std::size_t(i)] = clock_now() - started;
    }
    std::vector<DnnMessage> out;
    for (std::size_t c : out_) {
        DnnMessage& m = out.emplace_back();
        m.reserve(dnn_message_bytes(cuts_[c], net));
        put(m, started);
        put(m, std::int64_t(i));
        for (int src : cuts_[c].sources) {
            const auto& a = act[std::size_t(src)];
            const float scale = int8_scale(a);
            put(m, scale);
            const std::size_t at = m.size();
            m.resize(at + a.size());
            quantize_int8(a, scale, m.data() + at);
            rec.payload_bytes[c] += double(a.size());
        }
        rec.bytes_sent[c] += double(m.size());
    }
    return out;
}

DnnPipelineResult merge_dnn_devices(const Network& net, std::int64_t samples, const std::vector<DnnDeviceRecords>& devices) {
    DnnPipelineResult r;
    r.cuts = find_cuts(net);
    r.predictions.assign(std::size_t(samples), -1);
    r.latency.assign(std::size_t(samples), 0.0);
    r.bytes_sent.assign(r.cuts.size(), 0.0);
    r.bytes_received.assign(r.cuts.size(), 0.0);
    r.payload_bytes.assign(r.cuts.size(), 0.0);
    for (const DnnDeviceRecords& d : devices) {
        for (std::size_t i = 0; i < std::size_t(samples); ++i)
            if (d.prediction[i] >= 0) {
                if (r.predictions[i] >= 0) throw InternalError("sample " + std::to_string(i) + " decided on two devices");
                r.predictions[i] = d.prediction[i];
                r.latency[i] = d.latency[i];
            }
        for (std::size_t c = 0; c < r.cuts.size(); ++c) {
            r.bytes_sent[c] += d.bytes_sent[c];
            r.bytes_received[c] += d.bytes_received[c];
            r.payload_bytes[c] += d.payload_bytes[c];
        }
    }
    for (std::size_t i = 0; i < std::size_t(samples); ++i)
        if (r.predictions[i] < 0) throw InternalError("sample " + std::to_string(i) + " decided on no device");
    return r;
}

DnnPipelineResult simulate_dnn_pipeline(const Network& net, const Dataset& data) {
    const auto start = std::chrono::steady_clock::now();
    check_data(net, data);
    const std::size_t D = pipeline_devices(net).size();
    std::vector<DnnPipelineDevice> devices;
    std::vector<DnnDeviceRecords> records;
    for (std::size_t d = 0; d < D; ++d) {
        devices.emplace_back(net, d);
        records.push_back(devices[d].empty_records(data.size()));
    }
    std::vector<DnnMessage> on_cut(devices[0].cuts().size());
    for (std::int64_t i = 0; i < data.size(); ++i)
        for (std::size_t d = 0; d < D; ++d) {
            std::vector<DnnMessage> in;
            for (std::size_t c : devices[d].cuts_in()) in.push_back(std::move(on_cut[c]));
            std::vector<DnnMessage> out = devices[d].run(data, i, in, records[d]);
            for (std::size_t k = 0; k < out.size(); ++k) on_cut[devices[d].cuts_out()[k]] = std::move(out[k]);
        }
    DnnPipelineResult r = merge_dnn_devices(net, data.size(), records);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

} // namespace snn

namespace snn {

nlohmann::json dnn_pipeline_report(const Network& net, const Dataset& data, const std::vector<int>& predictions,
                                   const DnnPipelineResult* r, const DnnPipelineReportInfo& info) {
    using nlohmann::json;
    const std::int64_t n = data.size();
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; ++i) correct += predictions[std::size_t(i)] == data.y[std::size_t(i)];
    json j;
    j["kind"] = "dnn_int8_pipeline";
    j["network"] = info.network;
    j["data"] = info.data;
    j["samples"] = n;
    j["accuracy"] = n > 0 ? double(correct) / double(n) : 0.0;
    j["dnn_accuracy"] = info.dnn_accuracy >= 0 ? json(info.dnn_accuracy) : json(nullptr);
    j["seconds"] = info.seconds;
    j["samples_per_second"] = info.seconds > 0 ? double(n) / info.seconds : 0.0;
    const std::vector<Cut> cuts = find_cuts(net);
    json jc = json::array();
    const double per = n > 0 ? 1.0 / double(n) : 0.0;
    for (std::size_t c = 0; c < cuts.size(); ++c) {
        json e = {{"from", cuts[c].from}, {"to", cuts[c].to}, {"activations", cuts[c].neurons},
                  {"message_payload_bytes", double(cuts[c].neurons)}};
        if (r) {
            e["message_bytes_sent"] = r->bytes_sent[c] * per;
            e["message_bytes_received"] = r->bytes_received[c] * per;
            e["message_payload_bytes"] = r->payload_bytes[c] * per;
        }
        jc.push_back(e);
    }
    j["cuts"] = jc;
    if (!info.mode.empty()) {
        j["distributed"] = {{"mode", info.mode}, {"ranks", info.ranks}};
        if (r && !r->latency.empty()) { // as the SNN pipeline's report (sim/report.cpp)
            std::vector<double> ms;
            for (double s : r->latency) ms.push_back(1e3 * s);
            std::sort(ms.begin(), ms.end());
            const auto quantile = [&](double q) { return ms[std::size_t(q * double(ms.size() - 1) + 0.5)]; };
            double sum = 0;
            for (double x : ms) sum += x;
            j["distributed"]["latency_ms_mean"] = sum / double(ms.size());
            j["distributed"]["latency_ms_median"] = quantile(0.5);
            j["distributed"]["latency_ms_p95"] = quantile(0.95);
        }
    }
    return j;
}

std::string dnn_pipeline_table(const nlohmann::json& j) {
    char buf[256];
    std::string s;
    std::snprintf(buf, sizeof buf, "DNN, int8 activations across the cuts: accuracy %.2f %% on %lld samples",
                  100 * j["accuracy"].get<double>(), (long long)j["samples"].get<std::int64_t>());
    s += buf;
    if (!j["dnn_accuracy"].is_null()) {
        std::snprintf(buf, sizeof buf, " (float32 activations: %.2f %%)", 100 * j["dnn_accuracy"].get<double>());
        s += buf;
    }
    s += "\n";
    for (const auto& c : j["cuts"]) {
        std::snprintf(buf, sizeof buf, "  cut %s -> %s: %.0f activations, %.1f bytes of int8 codes per input",
                      c["from"].get<std::string>().c_str(), c["to"].get<std::string>().c_str(), c["activations"].get<double>(),
                      c["message_payload_bytes"].get<double>());
        s += buf;
        if (c.contains("message_bytes_sent")) {
            std::snprintf(buf, sizeof buf, ", %.1f bytes per message", c["message_bytes_sent"].get<double>());
            s += buf;
        }
        s += "\n";
    }
    std::snprintf(buf, sizeof buf, "%.1f samples/s", j["samples_per_second"].get<double>());
    s += buf;
    if (j.contains("distributed") && j["distributed"].contains("latency_ms_mean")) {
        const auto& d = j["distributed"];
        std::snprintf(buf, sizeof buf, " on %d ranks; latency per input %.2f ms mean, %.2f median, %.2f 95th percentile",
                      d["ranks"].get<int>(), d["latency_ms_mean"].get<double>(), d["latency_ms_median"].get<double>(),
                      d["latency_ms_p95"].get<double>());
        s += buf;
    }
    return s + "\n";
}

} // namespace snn
