#include "sim/nir_record.hpp"

#include "snn/atomic_output.hpp"
#include "snn/h5.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace snn {

void write_nir_spike_record(const std::string& path, const Network& net, const RunResult& r, int steps,
                            std::int64_t samples) {
    const std::size_t P = net.populations.size(), S = std::size_t(std::max<std::int64_t>(samples, 0));
    const bool channels_first = net.input_layout == InputLayout::ChannelsFirst;
    // Per population, per sample: its spikes in step order (r.recorded is sorted by sample, then step).
    std::vector<std::vector<std::vector<const Spike*>>> by(P, std::vector<std::vector<const Spike*>>(S));
    for (const Spike& s : r.recorded)
        if (s.sample >= 0 && std::size_t(s.sample) < S) by[std::size_t(s.population)][std::size_t(s.sample)].push_back(&s);
    AtomicOutput out(path);
    {
        h5::Node f = h5::create_file(out.temp_path());
        h5::write_attr(f, "__type__", std::string("NIRGraphData"));
        h5::Node nodes = h5::create_group(f, "nodes");
        for (std::size_t l = 0; l < P; ++l) {
            const Population& pop = net.populations[l];
            if (h5::exists(nodes, pop.name)) continue;
            const Shape& sh = pop.shape;
            // Engine index (y·W + x)·C + c; NIR's (c·H + y)·W + x.
            const auto index = [&](std::int32_t j) -> std::int64_t {
                if (!channels_first) return j;
                const std::int64_t c = j % sh.c, x = (j / sh.c) % sh.w, y = j / (std::int64_t(sh.c) * sh.w);
                return (c * sh.h + y) * sh.w + x;
            };
            std::size_t E = 0;
            bool negative = false;
            for (const auto& list : by[l]) {
                E = std::max(E, list.size());
                for (const Spike* s : list) negative |= s->sign < 0;
            }
            std::vector<std::int64_t> idx(S * E, -1);
            std::vector<double> time(S * E, std::numeric_limits<double>::infinity()), value(S * E, 0.0);
            for (std::size_t i = 0; i < S; ++i)
                for (std::size_t e = 0; e < by[l][i].size(); ++e) {
                    const Spike& s = *by[l][i][e];
                    idx[i * E + e] = index(s.neuron);
                    time[i * E + e] = double(s.step);
                    value[i * E + e] = double(s.sign);
                }
            h5::Node node = h5::create_group(nodes, pop.name);
            h5::write_attr(node, "__type__", std::string("NIRNodeData"));
            h5::Node obs = h5::create_group(node, "observables");
            h5::Node spikes = h5::create_group(obs, "spikes");
            h5::write_attr(spikes, "__type__", std::string(negative ? "ValuedEventData" : "EventData"));
            h5::write_attr(spikes, "n_neurons", std::int64_t(sh.size()));
            h5::write_attr(spikes, "t_max", double(steps));
            h5::write_ints(spikes, "idx", idx, {S, E});
            h5::write_doubles(spikes, "time", time, {S, E});
            if (negative) h5::write_doubles(spikes, "value", value, {S, E});
        }
    }
    out.commit();
}

} // namespace snn
