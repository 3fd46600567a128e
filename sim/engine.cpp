#include "sim/engine.hpp"

#include "convert/dnn.hpp"
#include "sim/encode.hpp"
#include "sim/exits.hpp"
#include "sim/kernels.hpp"
#include "sim/neuron.hpp"
#include "sim/readout.hpp"
#include "snn/binary.hpp"
#include "snn/error.hpp"
#include "snn/window.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>

// The step-by-step neuron update's AVX2 copy (sim/float_isa.hpp): the
// AVX-512 copy's pass below on two 8-lane halves per 16 units, the spike list
// compressed by a permutation table.
#if defined(SNN_FLOAT_AVX2)
SNN_BEGIN_AVX2
namespace snn::engine_avx2 {
namespace {
#define SNN_LANES8X2 1
namespace neuron {
#include "sim/neuron_rule.inc"
} // namespace neuron
#undef SNN_LANES8X2
#include "sim/lanes_avx2.inc"

template <bool Subtract, bool Events, bool Fixed>
std::size_t integrate_spikes(float* __restrict v, float* __restrict current, const float* __restrict constant,
                             std::size_t n, float decay, float v_th, float fire_at, std::int32_t* __restrict units,
                             std::uint16_t* __restrict masks, const StateGrid& grid) {
    const auto g = neuron::grid_lanes<neuron::Lanes8>(grid);
    const __m256 vd = _mm256_set1_ps(decay), vt = _mm256_set1_ps(v_th), vf = _mm256_set1_ps(fire_at);
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i eight = _mm256_set1_epi32(8);
    std::size_t count = 0;
    // Masked loads and stores only in the last block.
    const auto block = [&]<bool Masked>(std::size_t j, int live) {
        const auto half = [&](std::size_t at, int left) {
            const __m256i m = first8(left);
            const auto load = [&](const float* p) { return Masked ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p); };
            const auto store = [&](float* p, __m256 x) {
                if constexpr (Masked) _mm256_maskstore_ps(p, m, x);
                else _mm256_storeu_ps(p, x);
            };
            __m256 in = load(constant + at);
            if constexpr (Events) {
                const __m256 c = load(current + at);
                store(current + at, in);
                in = c;
            }
            __m256 vj = load(v + at);
            const __m256 fire = neuron::membrane_step<Subtract, Fixed, neuron::Lanes8>(vj, in, vd, vt, vf, g);
            store(v + at, vj);
            return fire;
        };
        const __m256 lo = half(j, live), hi = half(j + 8, live - 8);
        const std::uint16_t fire = bits_of(lo, hi);
        masks[j / 16] = fire;
        count += std::size_t(compress16(units + count, fire, index, _mm256_add_epi32(index, eight)));
        index = _mm256_add_epi32(index, _mm256_set1_epi32(16));
    };
    std::size_t j = 0;
    for (; j + 16 <= n; j += 16) block.template operator()<false>(j, 16);
    // Lanes past the end load 0, so they cannot fire (v_th > 0) and are not stored.
    if (j < n) block.template operator()<true>(j, int(n - j));
    return count;
}

} // namespace

// `grid`: a 16-bit membrane's, or null for a float one.
std::size_t integrate_spikes(bool subtract, float* __restrict v, float* __restrict current, const float* __restrict constant,
                             std::size_t n, float decay, float v_th, float fire_at, std::int32_t* __restrict units,
                             std::uint16_t* __restrict masks, const StateGrid* grid) {
    const StateGrid none;
    const auto go = [&]<bool Subtract, bool Fixed>() {
        return current ? integrate_spikes<Subtract, true, Fixed>(v, current, constant, n, decay, v_th, fire_at, units, masks, grid ? *grid : none)
                       : integrate_spikes<Subtract, false, Fixed>(v, current, constant, n, decay, v_th, fire_at, units, masks, grid ? *grid : none);
    };
    if (grid) return subtract ? go.template operator()<true, true>() : go.template operator()<false, true>();
    return subtract ? go.template operator()<true, false>() : go.template operator()<false, false>();
}

} // namespace snn::engine_avx2
SNN_END_AVX2
#endif

// The step-by-step neuron update's AVX-512 copy (sim/float_isa.hpp): every
// header is included above.
#if defined(SNN_FLOAT_AVX512)
SNN_BEGIN_AVX512
namespace snn::engine_avx512 {
namespace {
#define SNN_LANES16 1
namespace neuron {
#include "sim/neuron_rule.inc"
} // namespace neuron
#undef SNN_LANES16

// The same update as integrate, 16 units at a time, with the spike list
// written in the same pass: the compare's mask selects the indices of the
// units that fired, compressed in a register and stored whole (`units` has 16
// entries to spare). The last, partial block is masked, so every unit goes
// through the same instructions (neuron::step on 16 lanes). (The memory form of vpcompressd is
// microcoded on AMD Zen 4, where it took two thirds of a CNN run: perf.)
// `masks` gets the spikes as 16-unit masks too. Returns the number of spikes.
template <bool Subtract, bool Events, bool Fixed>
std::size_t integrate_spikes(float* __restrict v, float* __restrict current, const float* __restrict constant,
                             std::size_t n, float decay, float v_th, float fire_at, std::int32_t* __restrict units,
                             std::uint16_t* __restrict masks, const StateGrid& grid) {
    const auto g = neuron::grid_lanes<neuron::Lanes16>(grid);
    const __m512 vd = _mm512_set1_ps(decay), vt = _mm512_set1_ps(v_th), vf = _mm512_set1_ps(fire_at);
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i sixteen = _mm512_set1_epi32(16);
    std::size_t count = 0;
    // Masked loads and stores only in the last block: masked stores are slow on AMD Zen 4.
    const auto block = [&]<bool Masked>(std::size_t j, __mmask16 live) {
        const auto load = [live](const float* p) { return Masked ? _mm512_maskz_loadu_ps(live, p) : _mm512_loadu_ps(p); };
        const auto store = [live](float* p, __m512 x) {
            if constexpr (Masked) _mm512_mask_storeu_ps(p, live, x);
            else _mm512_storeu_ps(p, x);
        };
        __m512 in = load(constant + j);
        if constexpr (Events) {
            const __m512 c = load(current + j);
            store(current + j, in);
            in = c;
        }
        __m512 vj = load(v + j);
        const __mmask16 fire = neuron::membrane_step<Subtract, Fixed, neuron::Lanes16>(vj, in, vd, vt, vf, g);
        store(v + j, vj);
        masks[j / 16] = fire;
        _mm512_storeu_si512(units + count, _mm512_maskz_compress_epi32(fire, index));
        count += std::size_t(std::popcount(unsigned(fire)));
        index = _mm512_add_epi32(index, sixteen);
    };
    std::size_t j = 0;
    for (; j + 16 <= n; j += 16) block.template operator()<false>(j, __mmask16(0xFFFF));
    // Lanes past the end load 0, so they cannot fire (v_th > 0) and are not stored.
    if (j < n) block.template operator()<true>(j, __mmask16((1u << (n - j)) - 1u));
    return count;
}

} // namespace

// `grid`: a 16-bit membrane's, or null for a float one.
std::size_t integrate_spikes(bool subtract, float* __restrict v, float* __restrict current, const float* __restrict constant,
                             std::size_t n, float decay, float v_th, float fire_at, std::int32_t* __restrict units,
                             std::uint16_t* __restrict masks, const StateGrid* grid) {
    const StateGrid none;
    const auto go = [&]<bool Subtract, bool Fixed>() {
        return current ? integrate_spikes<Subtract, true, Fixed>(v, current, constant, n, decay, v_th, fire_at, units, masks, grid ? *grid : none)
                       : integrate_spikes<Subtract, false, Fixed>(v, current, constant, n, decay, v_th, fire_at, units, masks, grid ? *grid : none);
    };
    if (grid) return subtract ? go.template operator()<true, true>() : go.template operator()<false, true>();
    return subtract ? go.template operator()<true, false>() : go.template operator()<false, false>();
}

} // namespace snn::engine_avx512
SNN_END_AVX512
#endif

namespace snn {

KernelPath kernel_path_from(const std::string& s) {
    if (s == "auto") return KernelPath::Auto;
    if (s == "reference") return KernelPath::Reference;
    if (s == "event") return KernelPath::Event;
    if (s == "gather") return KernelPath::Gather;
    throw OptionError("kernels", s, "kernels '" + s + "': expected auto, reference, event or gather");
}

QuantKernels quant_kernels_from(const std::string& s) {
    if (s == "integer") return QuantKernels::Integer;
    if (s == "float") return QuantKernels::Float;
    throw OptionError("quant-kernels", s, "quant-kernels '" + s + "': expected integer or float");
}

const char* to_string(QuantKernels q) { return q == QuantKernels::Integer ? "integer" : "float"; }

Encoding encoding_from(const std::string& s) {
    if (s == "current") return Encoding::Current;
    if (s == "poisson") return Encoding::Poisson;
    if (s == "frames") return Encoding::Frames;
    throw OptionError("encode", s, "encode '" + s + "': expected current, poisson or frames");
}

const char* to_string(Encoding e) {
    switch (e) {
    case Encoding::Current: return "current";
    case Encoding::Poisson: return "poisson";
    case Encoding::Frames: return "frames";
    }
    return "?";
}

std::vector<int> checkpoint_steps(int steps) {
    std::vector<int> c;
    for (int t = 1; t < steps; t *= 2) c.push_back(t);
    c.push_back(steps);
    return c;
}

Engine::Engine(const Network& net, const RunOptions& options)
    : net_(options.idp ? apply_idp(net, *options.idp) : net), opt_(options),
      readout_(options.readout.value_or(net.readout)) {
    if (has_idp(net)) whole_ = std::make_shared<const Network>(net);
    validate(net_);
    if (opt_.steps < 1) throw OptionError("steps", "", "steps must be at least 1");
    if (!opt_.device.empty() && std::find(net_.devices.begin(), net_.devices.end(), opt_.device) == net_.devices.end())
        throw Error("device '" + opt_.device + "' holds no population of the network's partition");
    // Compressive-sensing measurements are signed (±1 sums of pixels): a
    // negative one has no spike probability, so they drive the network as currents only.
    if (net_.input_stage.present() && opt_.encode != Encoding::Current)
        throw OptionError("encode", to_string(opt_.encode),
                          std::string("encode ") + to_string(opt_.encode) +
                              ": the network's compressive-sensing input stage gives signed measurements; use --encode current");
    if (opt_.encode == Encoding::Poisson) {
        if (!(opt_.max_rate > 0 && opt_.max_rate <= 1)) throw OptionError("max-rate", "", "max-rate must be in (0, 1]");
        for (auto& pop : net_.populations)
            for (auto& p : pop.projections)
                if (p.source == 0) {
                    for (float& w : p.weights) w /= opt_.max_rate;
                    if (p.binary) pack_binary(p, net_.input().shape, pop.shape, "population '" + pop.name + "'");
                }
    }
    for (const auto& pop : net_.populations)
        if (pop.kind == PopulationKind::MaxPool &&
            net_.populations[std::size_t(pop.projections[0].source)].neuron.signed_spikes)
            throw Error("population '" + pop.name + "': a max-pooling gate cannot pass signed spikes; convert without --signed-spikes");
    if (opt_.encode == Encoding::Current)
        for (const auto& pop : net_.populations)
            if (pop.kind == PopulationKind::MaxPool && pop.projections[0].source == 0)
                throw Error("population '" + pop.name +
                            "' max-pools the input itself, which has no spikes with --encode current; use --encode poisson");
    if (opt_.encode == Encoding::Frames)
        for (const auto& pop : net_.populations)
            if (pop.kind == PopulationKind::MaxPool && pop.projections[0].source == 0)
                throw Error("population '" + pop.name +
                            "' max-pools the input itself, whose frames carry values, not spikes (--encode frames)");
    checkpoints_ = checkpoint_steps(opt_.steps);
    float_isa_ = opt_.float_isa.value_or(best_float_isa());
    if (!float_isa_supported(float_isa_))
        throw OptionError("float-isa", to_string(float_isa_),
                          std::string("float-isa ") + to_string(float_isa_) + ": this CPU or this build cannot run it");
    // After the Poisson scaling above: the kernels read net_'s weights as they are now.
    for (const auto& pop : net_.populations) {
        kernels_.emplace_back();
        binary_kernels_.emplace_back();
        quant_kernels_.emplace_back();
        for (const Projection& p : pop.projections) {
            const Shape& src = net_.populations[std::size_t(p.source)].shape;
            kernels_.back().emplace_back(p, src, pop.shape, float_isa_);
            binary_kernels_.back().push_back(p.binary ? std::make_shared<const BinaryKernel>(p, src, pop.shape) : nullptr);
            // The input's weights were divided by max_rate above (Poisson); the scales are too.
            const float gain = opt_.encode == Encoding::Poisson && p.source == 0 ? 1.0f / opt_.max_rate : 1.0f;
            quant_kernels_.back().push_back(uses_quant_kernel(p) ? std::make_shared<const QuantDenseKernel>(p, src, pop.shape, gain, float_isa_)
                                                                 : nullptr);
            if (p.binary && pop.neuron.signed_spikes)
                throw Error("population '" + pop.name + "': binary layer '" + p.layer +
                            "' with signed spikes is not supported; convert without --signed-spikes");
        }
    }
    // Max-pooling gates: per input unit the outputs whose window holds it, per
    // output its inputs in window order (for_each_tap's), so the step loop
    // does no division and no window arithmetic.
    gates_.resize(net_.populations.size());
    for (std::size_t i = 0; i < net_.populations.size(); ++i) {
        const Population& pop = net_.populations[i];
        if (pop.kind != PopulationKind::MaxPool) continue;
        const Window& w = pop.projections[0].window;
        const Shape& ss = net_.populations[std::size_t(pop.projections[0].source)].shape;
        const int C = ss.c;
        Gate& g = gates_[i];
        g.cover_begin.assign(std::size_t(ss.size()) + 1, 0);
        for (std::int64_t u = 0; u < ss.size(); ++u) {
            const int c = int(u % C), xx = int((u / C) % ss.w), y = int(u / (std::int64_t(C) * ss.w));
            for_each_covering_window(w, pop.shape, y, xx, [&](int oy, int ox, int, int) {
                g.cover_out.push_back(std::int32_t((oy * pop.shape.w + ox) * C + c));
            });
            g.cover_begin[std::size_t(u) + 1] = std::int32_t(g.cover_out.size());
        }
        g.tap_begin.assign(std::size_t(pop.shape.size()) + 1, 0);
        for (std::int64_t o = 0; o < pop.shape.size(); ++o) {
            const int c = int(o % C), ox = int((o / C) % pop.shape.w), oy = int(o / (std::int64_t(C) * pop.shape.w));
            for_each_tap(w, ss, oy, ox, [&](int y, int xx, int, int) {
                g.taps.push_back(std::int32_t((y * ss.w + xx) * C + c));
            });
            g.tap_begin[std::size_t(o) + 1] = std::int32_t(g.taps.size());
        }
    }
    popcount_ = opt_.popcount.value_or(best_popcount_isa());
    if (!popcount_isa_supported(popcount_))
        throw OptionError("popcount", to_string(popcount_),
                          std::string("popcount ") + to_string(popcount_) + ": this CPU does not support it");
    if (readout_ == Readout::Assignment && net_.labels.empty())
        throw OptionError("readout", "assignment", "readout assignment needs a network with class labels per output unit (written by snn learn)");
    classes_ = label_classes(net_.labels);
    for (const auto& pop : net_.populations) {
        thresholds_.emplace_back();
        if (pop.theta.empty() && pop.inhibition == Inhibition::None) continue;
        thresholds_.back().assign(std::size_t(pop.shape.size()), pop.neuron.v_th);
        for (std::size_t j = 0; j < pop.theta.size(); ++j) thresholds_.back()[j] += pop.theta[j];
    }
    for (const auto& pop : net_.populations) {
        decay_.push_back(neuron::decay_of(pop.neuron));
        synapse_decay_.push_back(neuron::synapse_decay_of(pop.neuron));
        bias_.push_back(snn_bias(pop));
        grids_.push_back(neuron::state_grid(pop.neuron));
    }

    const std::size_t P = net_.populations.size();
    for (std::size_t e = 0; e < net_.exits.size(); ++e) exit_population_.push_back(net_.find(net_.exits[e].at));
    cuts_ = find_cuts(net_);
    for (const Cut& cut : cuts_)
        for (int src : cut.sources)
            if (src == 0 && opt_.encode == Encoding::Current)
                throw Error("population '" + net_.populations[std::size_t(cut.first_target)].name + "' on device '" + cut.to +
                            "' reads the input across a cut, which carries no spikes with --encode current");
            else if (src == 0 && opt_.encode == Encoding::Frames)
                throw Error("population '" + net_.populations[std::size_t(cut.first_target)].name + "' on device '" + cut.to +
                            "' reads the input across a cut, whose frames carry values, not spikes (--encode frames)");
    gated_.assign(P, 0);
    for (const Population& pop : net_.populations)
        if (pop.kind == PopulationKind::MaxPool)
            for (const Projection& p : pop.projections) gated_[std::size_t(p.source)] = 1;
    lossy_.resize(P);
    for (std::size_t i = 0; i < P; ++i) {
        const Population& pop = net_.populations[i];
        lossy_[i].assign(pop.projections.size(), {-1, -1});
        if (!opt_.cut_loss.active()) continue;
        for (std::size_t k = 0; k < pop.projections.size(); ++k) {
            const int src = pop.projections[k].source;
            for (std::size_t c = 0; c < cuts_.size(); ++c) {
                const Cut& cut = cuts_[c];
                const auto at = std::find(cut.sources.begin(), cut.sources.end(), src);
                if (cut.to != net_.devices[i] || at == cut.sources.end()) continue;
                if (pop.kind == PopulationKind::MaxPool)
                    throw OptionError("cut-loss", opt_.cut_loss.str(),
                                      "cut-loss: population '" + pop.name + "' is a max-pooling gate reading '" +
                                          net_.populations[std::size_t(src)].name +
                                          "' across a cut; losing spikes there is not supported (move the cut)");
                lossy_[i][k] = {int(c), int(at - cut.sources.begin())};
            }
        }
    }
    for (Watch w : {Watch::None, Watch::Record, Watch::Observe}) plans_[std::size_t(w)] = plan_execution(net_, opt_, w);
    if (layer_by_layer()) {
        const bool current = opt_.encode == Encoding::Current, frames = opt_.encode == Encoding::Frames;
        for (std::size_t i = 1; i < P; ++i) {
            const Projection& p = net_.populations[i].projections[0];
            // Frames' values and the integer kernels go through project() each step (LayerKernel's generic path).
            layers_.emplace_back(p, net_.populations[std::size_t(p.source)].shape, net_.populations[i].shape,
                                 current && p.source == 0, float_isa_, (frames && p.source == 0) || uses_quant_kernel(p));
        }
    }
}

void Engine::set_idp(const std::optional<IdpSetting>& idp) {
    RunOptions o = opt_;
    o.idp = idp;
    // Kernels point into net_'s weight arrays, which a move keeps in place.
    if (whole_) {
        const std::shared_ptr<const Network> whole = whole_;
        *this = Engine(*whole, o);
    } else {
        if (idp) (void)apply_idp(net_, *idp); // throws: no IDP layer
        opt_ = o;
    }
}

void Engine::init(SampleState& s) const {
    const std::size_t P = net_.populations.size();
    s.v.resize(P);
    s.current.resize(P);
    s.constant.resize(P);
    s.counts.resize(P);
    s.spikes.resize(P);
    s.last_spike.resize(P);
    s.fired.resize(P);
    s.fired_units.resize(P);
    s.spike_bits.resize(P);
    s.fire_masks.resize(P);
    s.masks_valid.assign(P, 0);
    s.negative.resize(P);
    s.synapse.resize(P);
    for (std::size_t i = 0; i < P; ++i) {
        const auto n = std::size_t(net_.populations[i].shape.size());
        s.synapse[i].assign(neuron::has_synapse(net_.populations[i].neuron) ? n : 0, 0.0f);
        s.v[i].assign(n, 0.0f);
        s.current[i].assign(n, 0.0f);
        s.constant[i].assign(n, 0.0f);
        s.counts[i].assign(n, 0);
        s.last_spike[i].assign(n, -1);
        s.fired[i].assign((n + 3) / 4 * 4, 0);
        s.fired_units[i].assign(n + 16, 0); // + 16: the scans below write up to 16 entries past the last spike
        s.spike_bits[i].assign((n + 63) / 64, 0);
        s.fire_masks[i].assign((n + 15) / 16, 0);
        s.spikes[i].reserve(n);
    }
    std::size_t largest = 0;
    for (const auto& pop : net_.populations) largest = std::max(largest, std::size_t(pop.shape.size()));
    s.minus_ones.assign(largest, -1.0f);
    s.spike_total.assign(P, 0);
    s.synaptic_ops.assign(P, 0);
    s.binary_ops.assign(P, 0);
    std::size_t scratch = 0;
    for (const auto& per_pop : binary_kernels_)
        for (const auto& b : per_pop)
            if (b) scratch = std::max(scratch, b->scratch_words());
    s.binary_scratch.assign(scratch, 0);
    s.binary_steps.clear();
    for (const ExecutionPlan& plan : plans_)
        for (std::size_t i = 0; i < plan.batch_slot.size(); ++i)
            for (int slot : plan.batch_slot[i])
                if (slot >= 0) {
                    if (s.binary_steps.size() <= std::size_t(slot)) s.binary_steps.resize(std::size_t(slot) + 1);
                    s.binary_steps[std::size_t(slot)].assign(std::size_t(opt_.steps) * std::size_t(net_.populations[i].shape.size()), 0.0f);
                }
    s.prediction_at.assign(checkpoints_.size(), 0);
    s.history.resize(P);
    s.history_negative.resize(P);
    s.history_at.resize(P);
    s.history_negative_at.resize(P);
    s.neuron_updates.assign(P, 0);
    s.input_macs.assign(P, 0);
    s.exit_score.resize(net_.exits.size());
    for (std::size_t e = 0; e < net_.exits.size(); ++e) s.exit_score[e].assign(net_.exits[e].bias.size(), 0.0f);
    s.exit_adds.assign(net_.exits.size(), 0);
    s.exit_macs.assign(net_.exits.size(), 0);
    s.cut_bits.assign(cuts_.size(), CutBits{});
    s.cut_spikes.assign(cuts_.size(), 0);
    s.cut_used.assign(cuts_.size(), 0);
    s.cut_lost.assign(cuts_.size(), 0);
    s.cut_lost_steps.assign(cuts_.size(), {});
    s.step_masks.assign(P, {});
    s.layer_scratch.clear();
    if (layer_by_layer()) {
        const std::vector<int>& kernel_steps = plan(Watch::None).kernel_steps;
        // With Poisson or frames encoding the input's spikes too, made for every step first.
        if (opt_.encode != Encoding::Current)
            s.step_masks[0].assign(std::size_t(opt_.steps) * mask_stride(net_.input().shape.size()), 0);
        for (std::size_t i = 1; i < P; ++i) {
            s.step_masks[i].assign(std::size_t(opt_.steps) * mask_stride(net_.populations[i].shape.size()), 0);
            s.layer_scratch.resize(std::max(s.layer_scratch.size(), layers_[i - 1].scratch_entries(kernel_steps[i])));
            s.layer_current.resize(std::max(s.layer_current.size(),
                                            std::size_t(kernel_steps[i]) * std::size_t(net_.populations[i].shape.size())));
        }
        const std::int64_t n_out = net_.populations[P - 1].shape.size();
        s.snapshot_v.assign(checkpoints_.size() * std::size_t(n_out), 0.0f);
        s.snapshot_counts.assign(checkpoints_.size() * std::size_t(n_out), 0);
    }
}

int Engine::readout(const SampleState& s) const {
    const std::size_t out = net_.populations.size() - 1;
    return readout_of(s.counts[out].data(), s.v[out].data());
}

int Engine::readout_of(const std::int32_t* c, const float* v) const {
    if (readout_ == Readout::Assignment) return assigned_class(c, net_.labels, classes_);
    const std::size_t n = std::size_t(net_.populations.back().shape.size());
    std::size_t best = 0;
    for (std::size_t j = 1; j < n; ++j)
        if (c[j] > c[best] || (c[j] == c[best] && v[j] > v[best])) best = j; // counts are all 0 for Membrane

    return int(best);
}

void Engine::exit_logits(const SampleState& s, std::size_t e, int steps, std::vector<double>& logits) const {
    const Exit& ex = net_.exits[e];
    const std::size_t at = std::size_t(exit_population_[e]);
    if (ex.weights.empty()) {
        rate_logits(net_.populations[at], s.counts[at].data(), s.v[at].data(), steps, logits);
        return;
    }
    // exit_score holds Σ over spikes of the classifier rows: W·counts; rates are counts/t.
    const auto& score = s.exit_score[e];
    logits.resize(ex.bias.size());
    for (std::size_t k = 0; k < logits.size(); ++k) logits[k] = double(score[k]) / double(steps) + ex.bias[k];
}

bool Engine::uses_quant_kernel(const Projection& p) const {
    return opt_.quant_kernels == QuantKernels::Integer && opt_.kernels != KernelPath::Reference && quant_kernel_applies(p);
}

std::int64_t Engine::project(std::size_t i, std::size_t k, std::span<const std::int32_t> units, const float* values,
                             SampleState& s, float* current, bool listed) const {
    const Population& pop = net_.populations[i];
    const Projection& p = pop.projections[k];
    const ProjectionKernel& kernel = kernels_[i][k];
    if (p.binary && !values) {
        // Binary projections take AND + popcount on every path; the reference path uses the scalar popcount.
        const std::int64_t ops = binary_kernels_[i][k]->accumulate(
            units, s.binary_scratch.data(), current, opt_.kernels == KernelPath::Reference ? PopcountIsa::Scalar : popcount_);
        s.binary_ops[i] += ops;
        return ops;
    }
    // Quantized Dense projections add integer codes for spikes (analog input values take the float kernel).
    if (quant_kernels_[i][k] && (!values || values == s.minus_ones.data()))
        return quant_kernels_[i][k]->accumulate(units, values ? -1 : 1, s.quant_scratch, current);
    // Pooling reads the source's spike masks where the neuron update wrote them.
    if (opt_.kernels != KernelPath::Reference && !values && !listed && kernel.takes_masks() && s.masks_valid[std::size_t(p.source)])
        return kernel.pool_masks(p, s.fire_masks[std::size_t(p.source)].data(), current);
    switch (opt_.kernels) {
    case KernelPath::Reference:
        return scatter(p, net_.populations[std::size_t(p.source)].shape, pop.shape, units, values, current);
    case KernelPath::Event: return kernel.scatter(p, units, values, current);
    case KernelPath::Auto:
    case KernelPath::Gather:
        if (!values && kernel.has_gather() &&
            (opt_.kernels == KernelPath::Gather || kernel.prefer_gather(units.size()))) {
            std::uint64_t* bits = s.spike_bits[std::size_t(p.source)].data();
            set_spike_bits(units, bits);
            const std::int64_t ops = kernel.gather(p, bits, current);
            clear_spike_bits(units, bits);
            return ops;
        }
        return kernel.scatter(p, units, values, current);
    }
    throw InternalError("project: unknown kernel path");
}

namespace {

// v ← v·decay + I, fire at v ≥ v_th, reset by subtraction or to zero, in one
// branch-free loop the compiler vectorizes; `fired` gets a 0/1 word per unit
// (the same width as a float, so GCC vectorizes the compare). With events the
// input is the current array, which is set back to the constant for the next
// step in the same pass; without, the input is the constant itself.
template <bool Subtract, bool Events, bool Fixed>
void integrate(float* __restrict v, float* __restrict current, const float* __restrict constant,
               std::int32_t* __restrict fired, std::size_t n, float decay, float v_th, float fire_at, const StateGrid& grid) {
    using L = neuron::Lanes1<float>;
    const auto g = neuron::grid_lanes<L>(grid);
    for (std::size_t j = 0; j < n; ++j) {
        float in = constant[j];
        if constexpr (Events) {
            in = current[j];
            current[j] = constant[j];
        }
        fired[j] = neuron::membrane_step<Subtract, Fixed, L>(v[j], in, decay, v_th, fire_at, g);
    }
}

// The same with the variant chosen at run time: `current` null for no
// events, `grid` null for a float membrane.
void integrate(bool subtract, float* __restrict v, float* __restrict current, const float* __restrict constant,
               std::int32_t* __restrict fired, std::size_t n, float decay, float v_th, float fire_at, const StateGrid* grid) {
    const StateGrid none;
    const auto go = [&]<bool Subtract, bool Fixed>() {
        if (current) integrate<Subtract, true, Fixed>(v, current, constant, fired, n, decay, v_th, fire_at, grid ? *grid : none);
        else integrate<Subtract, false, Fixed>(v, nullptr, constant, fired, n, decay, v_th, fire_at, grid ? *grid : none);
    };
    if (grid) subtract ? go.template operator()<true, true>() : go.template operator()<false, true>();
    else subtract ? go.template operator()<true, false>() : go.template operator()<false, false>();
}


} // namespace

void Engine::step_population(const ExecutionPlan& plan, std::size_t i, int t, std::int64_t sample, SampleState& s,
                             std::vector<Spike>* recorded) const {
    const std::size_t P = net_.populations.size();
    const Population& pop = net_.populations[i];
    auto& out = s.spikes[i];
    out.clear();
    s.masks_valid[i] = 0;
    if (pop.kind == PopulationKind::MaxPool) {
        // Only the windows that hold an input spike of this step can pass one;
        // they are marked in a bitset (kept all zero between uses) and visited
        // in ascending order, so the list comes out sorted.
        const std::size_t src = std::size_t(pop.projections[0].source);
        const Gate& g = gates_[i];
        const auto& cnt = s.counts[src];
        const auto& last = s.last_spike[src];
        std::uint64_t* marked = s.spike_bits[i].data();
        for (std::int32_t u : s.spikes[src])
            for (std::int32_t q = g.cover_begin[std::size_t(u)]; q < g.cover_begin[std::size_t(u) + 1]; ++q) {
                const std::int32_t o = g.cover_out[std::size_t(q)];
                marked[o >> 6] |= std::uint64_t(1) << (o & 63);
            }
        for (std::size_t wd = 0; wd < s.spike_bits[i].size(); ++wd) {
            for (std::uint64_t word = marked[wd]; word; word &= word - 1) {
                const auto o = std::int32_t(wd * 64 + std::size_t(std::countr_zero(word)));
                // The window's most active input (the first of equals); the
                // output passes its spike if it spiked in this step.
                std::int32_t best = -1, best_count = -1;
                for (std::int32_t q = g.tap_begin[std::size_t(o)]; q < g.tap_begin[std::size_t(o) + 1]; ++q) {
                    const std::int32_t u = g.taps[std::size_t(q)];
                    if (cnt[std::size_t(u)] > best_count) {
                        best_count = cnt[std::size_t(u)];
                        best = u;
                    }
                }
                if (best >= 0 && last[std::size_t(best)] == t) out.push_back(o);
            }
            marked[wd] = 0;
        }
    } else {
        // The current is the constant plus this step's events. `current`
        // holds the constant at the start of every step (set with it once per
        // sample, restored by the neuron loop after a step with events), so
        // events add into it with no copy; a population that gets no events
        // this step (the first layer with current encoding, always)
        // integrates its constant directly.
        auto& cur = s.current[i];
        bool events = false;
        for (std::size_t k = 0; k < pop.projections.size(); ++k) {
            const Projection& p = pop.projections[k];
            if (p.source == 0 && opt_.encode == Encoding::Current) continue;
            const auto& src_spikes = s.spikes[std::size_t(p.source)];
            if (src_spikes.empty()) continue;
            events = true;
            if (const auto [c, at] = lossy_[i][k]; c >= 0) {
                const auto got = delivered(std::size_t(c), std::size_t(at), 0, t, sample, src_spikes, s);
                if (!got.empty()) s.synaptic_ops[i] += project(i, k, got, nullptr, s, cur.data(), true);
                continue;
            }
            if (const int slot = plan.batch_slot[i][k]; slot >= 0) {
                // Computed at the start of the segment (and counted there): add this step's row,
                // which holds exactly what accumulate() would have added.
                const std::size_t n = cur.size();
                const float* row = s.binary_steps[std::size_t(slot)].data() + std::size_t(t) * n;
                float* c = cur.data();
                for (std::size_t j = 0; j < n; ++j) c[j] += row[j];
                continue;
            }
            s.synaptic_ops[i] += project_step(i, k, t, src_spikes, s, cur.data());
        }
        for (std::size_t k = 0; k < pop.projections.size(); ++k) {
            const auto& taken_back = s.negative[std::size_t(pop.projections[k].source)];
            if (taken_back.empty()) continue;
            events = true;
            if (const auto [c, at] = lossy_[i][k]; c >= 0) {
                const auto got = delivered(std::size_t(c), std::size_t(at), 1, t, sample, taken_back, s);
                if (!got.empty()) s.synaptic_ops[i] += project(i, k, got, s.minus_ones.data(), s, cur.data(), true);
                continue;
            }
            s.synaptic_ops[i] += project(i, k, taken_back, s.minus_ones.data(), s, cur.data());
        }
        if (!s.synapse[i].empty()) {
            // The step's input (the constant, plus the events in `current`)
            // enters the synaptic current, which the membrane then integrates
            // as its whole input (as a constant: kp below); `current` goes
            // back to the constant.
            float* syn = s.synapse[i].data();
            float* c = cur.data();
            const float* k = s.constant[i].data();
            const float sd = synapse_decay_[i];
            for (std::size_t j = 0; j < s.synapse[i].size(); ++j) {
                neuron::synapse_step(syn[j], events ? c[j] : k[j], sd);
                c[j] = k[j];
            }
            events = false;
        }
        auto& v = s.v[i];
        const float decay = decay_[i];
        // A membrane readout makes the output layer a non-spiking integrator.
        // (The largest float, not infinity: the reset below multiplies it by 0.)
        const float v_th = readout_ == Readout::Membrane && i == P - 1 ? neuron::integrator_v_th : pop.neuron.v_th;
        const float fire_at = neuron::fire_threshold(pop.neuron, v_th);
        const bool subtract = pop.neuron.reset == ResetMode::Subtract;
        const StateGrid* grid = grids_[i] ? &*grids_[i] : nullptr;
        const std::size_t n = v.size();
        s.neuron_updates[i] += std::int64_t(n);
        float* __restrict vp = v.data();
        const float* __restrict kp = s.synapse[i].empty() ? s.constant[i].data() : s.synapse[i].data();
        // Written through a raw pointer into a scratch, then copied:
        // push_back in these loops did not inline and cost ~9% of a CNN run (perf).
        std::int32_t* units = s.fired_units[i].data();
        std::size_t count = 0;
#if defined(SNN_FLOAT_AVX512)
        if (float_isa_ == FloatIsa::Avx512 && thresholds_[i].empty()) {
            count = engine_avx512::integrate_spikes(subtract, vp, events ? cur.data() : nullptr, kp, n, decay, v_th, fire_at, units,
                                                    s.fire_masks[i].data(), grid);
            s.masks_valid[i] = 1;
        } else
#endif
#if defined(SNN_FLOAT_AVX2)
        if (float_isa_ == FloatIsa::Avx2 && thresholds_[i].empty()) {
            count = engine_avx2::integrate_spikes(subtract, vp, events ? cur.data() : nullptr, kp, n, decay, v_th, fire_at, units,
                                                  s.fire_masks[i].data(), grid);
            s.masks_valid[i] = 1;
        } else
#endif
        {
            // Two passes: the update records who fired as 0/1 words; then a scan
            // that skips 4 silent neurons at a time turns them into the spike list.
            std::int32_t* __restrict fired = s.fired[i].data();
            if (!thresholds_[i].empty()) {
                fire_learned(i, v_th == pop.neuron.v_th, vp, events ? cur.data() : kp, fired);
                if (events) std::copy(kp, kp + n, cur.begin());
            } else {
                integrate(subtract, vp, events ? cur.data() : nullptr, kp, fired, n, decay, v_th, fire_at, grid);
            }
            for (std::size_t j = 0; j < n; j += 4) {
                std::uint64_t lo, hi; // fired has n rounded up to 4 words, the tail zero
                std::memcpy(&lo, fired + j, 8);
                std::memcpy(&hi, fired + j + 2, 8);
                if (!(lo | hi)) continue;
                for (std::size_t k = j; k < j + 4; ++k) {
                    units[count] = std::int32_t(k);
                    count += std::size_t(fired[k]);
                }
            }
        }
        // A neuron that has just fired sits at v ≥ 0, so no unit spikes both ways in one step.
        auto& negative = s.negative[i];
        negative.clear();
        if (pop.neuron.signed_spikes && v_th == pop.neuron.v_th) {
            const auto& cnt = s.counts[i];
            for (std::size_t j = 0; j < n; ++j)
                if (grid ? neuron::take_back(vp[j], cnt[j], v_th, *grid) : neuron::take_back(vp[j], cnt[j], v_th))
                    negative.push_back(std::int32_t(j));
        }
        out.assign(units, units + count);
    }
    auto& cnt = s.counts[i];
    auto& last = s.last_spike[i];
    for (std::int32_t j : out) ++cnt[std::size_t(j)];
    if (gated_[i])
        for (std::int32_t j : out) last[std::size_t(j)] = t;
    for (std::int32_t j : s.negative[i]) --cnt[std::size_t(j)];
    s.spike_total[i] += std::int64_t(out.size() + s.negative[i].size());
    if (recorded) {
        for (auto j : out) recorded->push_back({std::int32_t(sample), std::int32_t(i), j, t, 1});
        for (auto j : s.negative[i]) recorded->push_back({std::int32_t(sample), std::int32_t(i), j, t, -1});
    }
}

// The same integration as the plain loop (v ← v·decay + I), then a threshold
// per unit; with winner-take-all, of the units at or above threshold only
// the one furthest above it fires (ties: the lowest index) and every unit
// drops to 0. `can_fire` is false for an output read by its membrane.
void Engine::fire_learned(std::size_t i, bool can_fire, float* v, const float* current, std::int32_t* fired) const {
    const Population& pop = net_.populations[i];
    const std::vector<float>& th = thresholds_[i];
    const float decay = decay_[i];
    const std::size_t n = th.size();
    using L = neuron::Lanes1<float>;
    const std::optional<StateGrid>& grid = grids_[i];
    const auto g = neuron::grid_lanes<L>(grid.value_or(StateGrid{}));
    if (pop.inhibition == Inhibition::WinnerTakeAll) {
        for (std::size_t j = 0; j < n; ++j) {
            v[j] = neuron::integrate<L>(v[j], current[j], decay);
            if (grid) v[j] = neuron::snap<L>(v[j], g);
            fired[j] = 0;
        }
        const std::size_t best = can_fire ? neuron::winner(v, n, [&](std::size_t j) { return th[j]; }) : n;
        if (best < n) {
            fired[best] = 1;
            std::fill(v, v + n, 0.0f);
        }
        return;
    }
    const bool subtract = pop.neuron.reset == ResetMode::Subtract;
    for (std::size_t j = 0; j < n; ++j) {
        const float v_th = can_fire ? th[j] : neuron::integrator_v_th;
        const float fire_at = neuron::fire_threshold(pop.neuron, v_th);
        if (grid)
            fired[j] = subtract ? neuron::step<true, L>(v[j], current[j], decay, v_th, fire_at, g)
                                : neuron::step<false, L>(v[j], current[j], decay, v_th, fire_at, g);
        else
            fired[j] = subtract ? neuron::step<true, L>(v[j], current[j], decay, v_th, fire_at)
                                : neuron::step<false, L>(v[j], current[j], decay, v_th, fire_at);
    }
}

void Engine::meter_cut(std::size_t c, std::int64_t sample, SampleState& s, int t, bool from_history) const {
    const Cut& cut = cuts_[c];
    for (int sign = 0; sign < (cut.signed_spikes ? 2 : 1); ++sign) {
        auto& sources = s.source_steps;
        sources.clear();
        for (std::size_t k = 0; k < cut.sources.size(); ++k) {
            const std::size_t src = std::size_t(cut.sources[k]);
            if (from_history) {
                const auto& h = sign ? s.history_negative[src] : s.history[src];
                const auto& at = sign ? s.history_negative_at[src] : s.history_at[src];
                sources.push_back({std::span(h.data() + at[std::size_t(t)], h.data() + at[std::size_t(t) + 1])});
            } else {
                sources.push_back({sign ? s.negative[src] : s.spikes[src]});
            }
        }
        const CutStep step = meter_step(cut.base, cut.neurons, sources, s.addresses);
        s.cut_spikes[c] += step.spikes;
        s.cut_bits[c] += step.bits;
        // What was sent and did not arrive, by the rule that drops it for the receivers.
        if (opt_.cut_loss.active())
            for (std::size_t k = 0; k < sources.size(); ++k)
                s.cut_lost[c] += std::int64_t(sources[k].units.size() -
                                              delivered(c, k, sign, t, sample, sources[k].units, s).size());
    }
}

std::span<const std::int32_t> Engine::delivered(std::size_t c, std::size_t k, int sign, int t, std::int64_t sample,
                                                std::span<const std::int32_t> units, SampleState& s) const {
    const CutLoss& loss = opt_.cut_loss;
    if (loss.kind == CutLoss::Kind::Burst) return s.cut_lost_steps[c][std::size_t(t)] ? std::span<const std::int32_t>{} : units;
    const Cut& cut = cuts_[c];
    const StepDraws draw(opt_.seed, std::uint64_t(sample), cut_loss_stream(c), std::uint64_t(t));
    const std::int64_t base = cut.base[k] + (sign ? cut.neurons : 0);
    const auto p = float(loss.p);
    s.delivered.clear();
    for (std::int32_t u : units)
        if (!(draw(std::uint64_t(base + u)) < p)) s.delivered.push_back(u);
    return s.delivered;
}

void Engine::input_step(std::int64_t sample, int t, SampleState& s, std::vector<Spike>* recorded) const {
    auto& sp = s.spikes[0];
    sp.clear();
    if (opt_.encode == Encoding::Poisson) {
        poisson_step(opt_.seed, std::uint64_t(sample), 0, t, s.input_units,
                     [&](std::size_t k) { return s.input_values[k] * opt_.max_rate; },
                     [&](std::int32_t j) { sp.push_back(j); });
    } else if (opt_.encode == Encoding::Frames) {
        const auto units = frame_units(s.frames, t);
        sp.assign(units.begin(), units.end());
    } else {
        throw InternalError("input_step: current encoding has no input events");
    }
    s.spike_total[0] += std::int64_t(sp.size());
    // Input spike counts, for a max-pooling gate right on the input.
    for (std::int32_t j : sp) {
        ++s.counts[0][std::size_t(j)];
        s.last_spike[0][std::size_t(j)] = t;
    }
    if (recorded)
        for (auto j : sp) recorded->push_back({std::int32_t(sample), 0, j, t, 1});
}

const float* Engine::input_values(int t, const SampleState& s) const {
    return opt_.encode == Encoding::Frames && !s.frame_spikes ? frame_values(s.frames, t) : nullptr;
}

std::int64_t Engine::project_step(std::size_t i, std::size_t k, int t, std::span<const std::int32_t> units, SampleState& s,
                                  float* current) const {
    const float* values = net_.populations[i].projections[k].source == 0 ? input_values(t, s) : nullptr;
    const std::int64_t ops = project(i, k, units, values, s, current);
    if (values) s.input_macs[i] += ops; // value × weight, as with current encoding
    return ops;
}

void Engine::draw_input(std::int64_t sample, SampleState& s) const {
    const std::int64_t n = net_.input().shape.size();
    const std::size_t stride = mask_stride(n);
    auto& masks = s.step_masks[0];
    std::fill(masks.begin(), masks.end(), std::uint16_t(0));
    for (int t = 0; t < opt_.steps; ++t) {
        input_step(sample, t, s, nullptr);
        std::uint16_t* row = masks.data() + std::size_t(t) * stride;
        for (std::int32_t j : s.spikes[0]) row[std::size_t(j) / 16] |= std::uint16_t(1u << (j % 16));
    }
}

// Segments: the populations up to an exit run for every step (or until the
// exit is confident) before the populations after it start; those read the
// spikes of earlier segments back from a per-sample history. In a
// feed-forward network without synaptic delay this gives exactly the spikes
// of running every population in every step, so a network with exits that
// are never taken reports what it reports without them. It is also how a
// split network runs: the edge finishes (or stops at its exit) before the
// cloud receives anything.
void Engine::run_sample(const float* x, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded,
                        const StepObserver* on_step) const {
    run(x, nullptr, sample, s, recorded, on_step);
}

void Engine::run_sample(const Dataset& data, std::int64_t i, SampleState& s, std::vector<Spike>* recorded,
                        const StepObserver* on_step) const {
    const FrameSteps frames = data.frames_of(i);
    run(data.sample(i), data.frames > 0 ? &frames : nullptr, i, s, recorded, on_step);
}

void Engine::begin_device_sample(const Dataset& data, std::int64_t i, SampleState& s) const {
    if (opt_.device.empty()) throw InternalError("begin_device_sample without RunOptions::device");
    const FrameSteps frames = data.frames_of(i);
    reset(data.sample(i), data.frames > 0 ? &frames : nullptr, i, s);
}

void Engine::run_device_window(std::int64_t i, SampleState& s, std::vector<Spike>* recorded, int t0, int t1) const {
    if (opt_.device.empty()) throw InternalError("run_device_window without RunOptions::device");
    if (!(0 <= t0 && t0 < t1 && t1 <= opt_.steps))
        throw InternalError("run_device_window over [" + std::to_string(t0) + ", " + std::to_string(t1) + ")");
    run_stages(plan(recorded ? Watch::Record : Watch::None), i, s, recorded, nullptr, t0, t1);
}

void Engine::run(const float* x, const FrameSteps* frames, std::int64_t sample, SampleState& s,
                 std::vector<Spike>* recorded, const StepObserver* on_step) const {
    reset(x, frames, sample, s);
    const ExecutionPlan& plan = this->plan(on_step ? Watch::Observe : recorded ? Watch::Record : Watch::None);
    if (plan.schedule == Schedule::LayerByLayer) {
        run_layers(sample, s);
        return;
    }
    run_stages(plan, sample, s, recorded, on_step, 0, opt_.steps);
}

void Engine::reset(const float* x, const FrameSteps* frames, std::int64_t sample, SampleState& s) const {
    if (opt_.encode == Encoding::Frames) {
        if (!frames)
            throw Error("--encode frames needs frames: an HDF5 file whose x is (N,T,H,W,C), or an event list");
        if (frames->steps < opt_.steps)
            throw Error("the data holds " + std::to_string(frames->steps) + " frames per sample, fewer than the " +
                        std::to_string(opt_.steps) + " steps to run");
        s.frames = *frames;
        s.frame_spikes = frames_are_spikes(*frames, opt_.steps);
    }
    const std::size_t P = net_.populations.size();
    const Shape& in_shape = net_.input().shape;
    const std::int64_t n_in = in_shape.size();
    const int T = opt_.steps;
    for (std::size_t i = 0; i < P; ++i) {
        const NeuronParams& n = net_.populations[i].neuron;
        std::fill(s.v[i].begin(), s.v[i].end(), neuron::initial_v(n));
        std::fill(s.synapse[i].begin(), s.synapse[i].end(), 0.0f);
        std::fill(s.counts[i].begin(), s.counts[i].end(), 0);
        std::fill(s.last_spike[i].begin(), s.last_spike[i].end(), -1);
        s.spikes[i].clear();
        s.negative[i].clear();
        s.masks_valid[i] = 0;
        s.spike_total[i] = 0;
        s.synaptic_ops[i] = 0;
        s.binary_ops[i] = 0;
        s.neuron_updates[i] = 0;
        s.input_macs[i] = 0;
        s.history[i].clear();
        s.history_negative[i].clear();
        s.history_at[i].assign(1, 0);
        s.history_negative_at[i].assign(1, 0);
    }
    for (std::size_t e = 0; e < net_.exits.size(); ++e) {
        std::fill(s.exit_score[e].begin(), s.exit_score[e].end(), 0.0f);
        s.exit_adds[e] = s.exit_macs[e] = 0;
    }
    std::fill(s.cut_bits.begin(), s.cut_bits.end(), CutBits{});
    std::fill(s.cut_spikes.begin(), s.cut_spikes.end(), 0);
    std::fill(s.cut_used.begin(), s.cut_used.end(), 0);
    std::fill(s.cut_lost.begin(), s.cut_lost.end(), 0);
    if (opt_.cut_loss.kind == CutLoss::Kind::Burst)
        for (std::size_t c = 0; c < cuts_.size(); ++c)
            lost_messages(opt_.cut_loss, opt_.seed, std::uint64_t(sample), c, T, s.cut_lost_steps[c]);
    s.exit_taken = -1;
    s.exit_step = T;
    // Non-zero input units, kept once per sample.
    s.input_units.clear();
    s.input_values.clear();
    for (std::int64_t j = 0; j < n_in; ++j)
        if (x[j] != 0.0f) {
            s.input_units.push_back(std::int32_t(j));
            s.input_values.push_back(x[j]);
        }
}

void Engine::drop_stages_after(const ExecutionPlan& plan, std::size_t g, SampleState& s, std::vector<Spike>* recorded) const {
    const std::size_t first = plan.stages[g].last + 1; // the populations after stage g
    for (std::size_t i = first; i < net_.populations.size(); ++i)
        s.spike_total[i] = s.synaptic_ops[i] = s.binary_ops[i] = s.neuron_updates[i] = s.input_macs[i] = 0;
    for (std::size_t e = 0; e < net_.exits.size(); ++e)
        if (std::size_t(exit_population_[e]) >= first) s.exit_adds[e] = s.exit_macs[e] = 0;
    for (std::size_t h = g + 1; h < plan.stages.size(); ++h)
        for (std::size_t c : plan.stages[h].cuts) {
            s.cut_bits[c] = CutBits{};
            s.cut_spikes[c] = s.cut_lost[c] = 0;
            s.cut_used[c] = 0;
        }
    if (recorded)
        std::erase_if(*recorded, [&](const Spike& sp) { return std::size_t(sp.population) >= first; });
}

void Engine::run_stages(const ExecutionPlan& plan, std::int64_t sample, SampleState& s, std::vector<Spike>* recorded,
                        const StepObserver* on_step, int t0, int t1) const {
    const std::size_t P = net_.populations.size();
    const int T = opt_.steps;
    // A window of a device's run: the stage where the sample stopped at an exit in an earlier window.
    const bool windowed = !opt_.device.empty();
    const std::size_t stopped = s.exit_taken >= 0 ? std::size_t(plan.stage_of[std::size_t(exit_population_[std::size_t(s.exit_taken)])])
                                                  : plan.stages.size();
    // The cuts stage g meters whose sources all ran in earlier stages: they
    // were sent whole, so they count the steps after its exit too.
    const auto meter_sent = [&](std::size_t g, int from, int to) {
        const Stage& seg = plan.stages[g];
        for (std::size_t c : seg.cuts) {
            bool all_replayed = true;
            for (int src : cuts_[c].sources) all_replayed &= plan.stage_of[std::size_t(src)] < plan.stage_of[seg.last];
            if (all_replayed)
                for (int rest = from; rest < to; ++rest) meter_cut(c, sample, s, rest, true);
        }
    };
    for (std::size_t g = 0; g < plan.stages.size() && g <= stopped; ++g) {
        const Stage& seg = plan.stages[g];
        if (!opt_.device.empty() && net_.devices[seg.first] != opt_.device) continue; // another device's stage
        if (g == stopped) { // it left at this stage's exit in an earlier window
            meter_sent(g, t0, t1);
            break;
        }
        if (t0 == 0) {
            // Constant current: bias, and with `current` encoding the projected input.
            for (std::size_t i = std::max<std::size_t>(seg.first, 1); i <= seg.last; ++i) {
                set_constant(i, s);
                s.current[i] = s.constant[i]; // step_population adds events into a copy of the constant
            }
            for (std::size_t src : seg.replay) {
                std::fill(s.counts[src].begin(), s.counts[src].end(), 0);
                std::fill(s.last_spike[src].begin(), s.last_spike[src].end(), -1);
            }
        } else if (windowed) {
            // A source stepped on this device has counted this window's spikes
            // already: take them out, so that the replay counts them step by
            // step (its counts at step t are those of steps [0, t]). Its
            // last_spike needs nothing: the gates ask only whether it equals t.
            for (std::size_t src : seg.replay) {
                if (net_.devices[src] != opt_.device) continue;
                auto& cnt = s.counts[src];
                const auto& h = s.history[src];
                const auto& at = s.history_at[src];
                for (auto a = at[std::size_t(t0)]; a < at[std::size_t(t1)]; ++a) --cnt[std::size_t(h[std::size_t(a)])];
                const auto& hn = s.history_negative[src];
                const auto& atn = s.history_negative_at[src];
                for (auto a = atn[std::size_t(t0)]; a < atn[std::size_t(t1)]; ++a) ++cnt[std::size_t(hn[std::size_t(a)])];
            }
        }
        for (const auto& [i, k] : seg.batched) {
            // Every step's input of a binary dense projection, 8 steps per pass over its bits.
            const std::size_t src = std::size_t(net_.populations[i].projections[k].source);
            const std::size_t n = std::size_t(net_.populations[i].shape.size());
            auto& rows = s.binary_steps[std::size_t(plan.batch_slot[i][k])];
            std::fill(rows.begin() + std::ptrdiff_t(std::size_t(t0) * n), rows.begin() + std::ptrdiff_t(std::size_t(t1) * n),
                      -0.0f); // −0 + x = x exactly, for every x
            std::array<std::span<const std::int32_t>, BinaryKernel::max_batch> lists;
            std::array<float*, BinaryKernel::max_batch> outs;
            const auto& h = s.history[src];
            const auto& at = s.history_at[src];
            for (int tb = t0; tb < t1; tb += BinaryKernel::max_batch) {
                const int B = std::min(BinaryKernel::max_batch, t1 - tb);
                for (int b = 0; b < B; ++b) {
                    const auto t = std::size_t(tb + b);
                    lists[std::size_t(b)] = std::span<const std::int32_t>(h.data() + at[t], std::size_t(at[t + 1] - at[t]));
                    outs[std::size_t(b)] = rows.data() + t * n;
                }
                const std::int64_t ops = binary_kernels_[i][k]->accumulate_batch(
                    std::span(lists.data(), std::size_t(B)), s.binary_scratch.data(), outs.data(), popcount_);
                s.synaptic_ops[i] += ops;
                s.binary_ops[i] += ops;
            }
        }
        if (t0 == 0)
            for (std::size_t c : seg.cuts) s.cut_used[c] = 1;
        const bool last_segment = seg.last == P - 1;
        // The output reads out at the checkpoints from t0 on; an exit fired
        // before the last stage answers for every checkpoint.
        std::size_t next_checkpoint =
            last_segment ? std::size_t(std::upper_bound(checkpoints_.begin(), checkpoints_.end(), t0) - checkpoints_.begin()) : 0;
        const Exit* exit = seg.exit >= 0 ? &net_.exits[std::size_t(seg.exit)] : nullptr;
        for (int t = t0; t < t1; ++t) {
            if (seg.first == 0 && opt_.encode != Encoding::Current) input_step(sample, t, s, recorded);
            for (std::size_t src : seg.replay) {
                const auto& h = s.history[src];
                const auto& at = s.history_at[src];
                s.spikes[src].assign(h.begin() + at[std::size_t(t)], h.begin() + at[std::size_t(t) + 1]);
                s.masks_valid[src] = 0;
                const auto& hn = s.history_negative[src];
                const auto& atn = s.history_negative_at[src];
                s.negative[src].assign(hn.begin() + atn[std::size_t(t)], hn.begin() + atn[std::size_t(t) + 1]);
                for (std::int32_t j : s.spikes[src]) {
                    ++s.counts[src][std::size_t(j)];
                    s.last_spike[src][std::size_t(j)] = t;
                }
                for (std::int32_t j : s.negative[src]) --s.counts[src][std::size_t(j)];
            }
            for (std::size_t i = std::max<std::size_t>(seg.first, 1); i <= seg.last; ++i)
                step_population(plan, i, t, sample, s, recorded);
            for (std::size_t i = seg.first; i <= seg.last; ++i)
                if (plan.keep_history[i]) {
                    s.history[i].insert(s.history[i].end(), s.spikes[i].begin(), s.spikes[i].end());
                    s.history_at[i].push_back(std::int32_t(s.history[i].size()));
                    s.history_negative[i].insert(s.history_negative[i].end(), s.negative[i].begin(), s.negative[i].end());
                    s.history_negative_at[i].push_back(std::int32_t(s.history_negative[i].size()));
                }
            for (std::size_t c : seg.cuts) meter_cut(c, sample, s, t, false);
            if (exit && !exit->weights.empty()) {
                // Event-driven classifier: each spike adds its row of class weights.
                const std::size_t at = std::size_t(exit_population_[std::size_t(seg.exit)]);
                const std::size_t classes = exit->bias.size();
                auto& score = s.exit_score[std::size_t(seg.exit)];
                for (int sign = 0; sign < 2; ++sign)
                    for (std::int32_t j : sign ? s.negative[at] : s.spikes[at]) {
                        const float* row = exit->weights.data() + std::size_t(j) * classes;
                        const float f = sign ? -1.0f : 1.0f;
                        for (std::size_t k = 0; k < classes; ++k) score[k] += f * row[k];
                        s.exit_adds[std::size_t(seg.exit)] += std::int64_t(classes);
                    }
            }
            if (last_segment)
                while (next_checkpoint < checkpoints_.size() && checkpoints_[next_checkpoint] == t + 1)
                    s.prediction_at[next_checkpoint++] = readout(s);
            const int done = t + 1;
            if (on_step && last_segment) (*on_step)(done, s);
            // At the last step of the last segment the output answers anyway: no check.
            if (exit && (done < T || !last_segment) &&
                ((exit->check_every > 0 && done % exit->check_every == 0) || done == T)) {
                exit_logits(s, std::size_t(seg.exit), done, s.logits);
                s.exit_macs[std::size_t(seg.exit)] += std::int64_t(s.logits.size());
                if (exit_confident(*exit, s.logits)) {
                    s.exit_taken = seg.exit;
                    s.exit_step = done;
                    s.prediction = int(std::max_element(s.logits.begin(), s.logits.end()) - s.logits.begin());
                    for (std::size_t c = next_checkpoint; c < checkpoints_.size(); ++c) s.prediction_at[c] = s.prediction;
                    // What the next device would have been sent had it been asked: nothing.
                    // What this segment had received from earlier ones but not yet used:
                    // it was sent all the same, so the cuts it meters count it.
                    meter_sent(g, done, t1);
                    if (windowed) drop_stages_after(plan, g, s, recorded);
                    return;
                }
            }
        }
    }
    if (t1 == T && s.exit_taken < 0) s.prediction = s.prediction_at.back();
}

void Engine::set_constant(std::size_t i, SampleState& s) const {
    const Population& pop = net_.populations[i];
    auto& k = s.constant[i];
    const std::vector<float>& bias = bias_[i];
    if (bias.empty()) std::fill(k.begin(), k.end(), 0.0f);
    else // the bias pattern repeated (a modulo per unit took 6 % of a CNN run: perf)
        for (std::size_t j = 0; j < k.size(); j += bias.size())
            std::copy_n(bias.begin(), std::min(bias.size(), k.size() - j), k.begin() + std::ptrdiff_t(j));
    if (opt_.encode == Encoding::Current && pop.kind == PopulationKind::Spiking)
        for (const Projection& p : pop.projections) {
            if (p.source != 0) continue;
            const std::size_t q = std::size_t(&p - pop.projections.data());
            const std::int64_t ops = project(i, q, s.input_units, s.input_values.data(), s, k.data());
            s.synaptic_ops[i] += ops;
            s.input_macs[i] += ops;
        }
}

// Each population runs all steps, reading its source's spikes of every step
// from their masks; the output keeps its membranes and counts at every
// checkpoint for the readout there. (run_sample has reset the state.)
void Engine::run_layers(std::int64_t sample, SampleState& s) const {
    const std::size_t P = net_.populations.size();
    const int T = opt_.steps;
    if (opt_.encode != Encoding::Current) draw_input(sample, s);
    for (std::size_t i = 1; i < P; ++i) {
        const Population& pop = net_.populations[i];
        const Projection& p = pop.projections[0];
        const std::int64_t n = pop.shape.size();
        const bool output = i == P - 1;
        const bool gate = pop.kind == PopulationKind::MaxPool; // no membranes, no constant
        if (!gate) set_constant(i, s);
        LayerRun r;
        r.steps = T;
        const auto src = std::size_t(p.source);
        const bool spiking_source = !s.step_masks[src].empty(); // the input's only with Poisson or frames encoding
        r.source = spiking_source ? s.step_masks[src].data() : nullptr;
        r.constant = s.constant[i].data();
        r.v = s.v[i].data();
        r.masks = s.step_masks[i].data();
        r.decay = decay_[i];
        // A membrane readout makes the output a non-spiking integrator, as in step_population.
        r.v_th = readout_ == Readout::Membrane && output ? neuron::integrator_v_th : pop.neuron.v_th;
        r.fire_at = neuron::fire_threshold(pop.neuron, r.v_th);
        r.subtract = pop.neuron.reset == ResetMode::Subtract;
        r.grid = grids_[i];
        if (output) {
            r.snapshot_steps = checkpoints_;
            r.snapshot_v = s.snapshot_v.data();
        }
        r.scratch = s.layer_scratch.data();
        r.counts = s.counts[i].data();
        // Generic layers add their events through the step-by-step kernels.
        // (The closures capture one pointer, which std::function keeps without
        // allocating.)
        r.current = s.layer_current.data();
        const struct {
            const Engine* engine;
            std::size_t i;
            SampleState* s;
        } at{this, i, &s};
        r.project = [&at](int t, std::span<const std::int32_t> units, float* current) {
            return at.engine->project_step(at.i, 0, t, units, *at.s, current);
        };
        r.batch = plan(Watch::None).kernel_steps[i];
        if (r.batch > 1)
            r.project_batch = [&at](std::span<const std::span<const std::int32_t>> lists, float* const* currents) {
                const std::int64_t ops = at.engine->binary_kernels_[at.i][0]->accumulate_batch(lists, at.s->binary_scratch.data(),
                                                                                               currents, at.engine->popcount_);
                at.s->binary_ops[at.i] += ops;
                return ops;
            };
        if (spiking_source) r.source_counts = s.counts[src].data();
        if (output) r.snapshot_counts = s.snapshot_counts.data();
        s.synaptic_ops[i] += layers_[i - 1].run(r);
        if (!gate) s.neuron_updates[i] += n * T;
        s.spike_total[i] += std::accumulate(s.counts[i].begin(), s.counts[i].end(), std::int64_t(0));
    }
    const std::size_t n_out = std::size_t(net_.populations[P - 1].shape.size());
    for (std::size_t c = 0; c < checkpoints_.size(); ++c)
        s.prediction_at[c] = readout_of(s.snapshot_counts.data() + c * n_out, s.snapshot_v.data() + c * n_out);
    s.prediction = s.prediction_at.back();
    // The cuts of a partition (no exits here: the whole network runs, every
    // cut is used), step by step from their sources' masks, by the same meter
    // as step by step.
    for (std::size_t c = 0; c < cuts_.size(); ++c) {
        const Cut& cut = cuts_[c];
        s.cut_used[c] = 1;
        for (int t = 0; t < T; ++t) {
            auto& sources = s.source_steps;
            sources.clear();
            for (int src : cut.sources) {
                const std::int64_t n = net_.populations[std::size_t(src)].shape.size();
                sources.push_back({{}, s.step_masks[std::size_t(src)].data() + std::size_t(t) * mask_stride(n), n});
            }
            const CutStep step = meter_step(cut.base, cut.neurons, sources, s.addresses);
            s.cut_spikes[c] += step.spikes;
            s.cut_bits[c] += step.bits;
        }
    }
}

namespace {

template <class T> void append_to(std::vector<T>& a, std::vector<T>&& b) {
    a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
}

} // namespace

void check_run(const Network& net, const Dataset& data, const RunOptions& opt) {
    if (opt.encode == Encoding::Frames) {
        check_frames_fit(data, net.input().shape);
        if (data.frames < opt.steps)
            throw Error("data set '" + data.name + "' holds " + std::to_string(data.frames) + " frames per sample, fewer than the " +
                        std::to_string(opt.steps) + " steps to run");
    }
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() +
                    " but the network's input is " + net.input().shape.str());
    if (opt.threads < 1) throw OptionError("threads", "", "threads must be at least 1");
}

SampleRecords empty_records(const Engine& engine, std::int64_t begin, std::int64_t end, std::int64_t record_samples) {
    const Network& net = engine.network();
    const std::size_t n = std::size_t(end - begin);
    const std::size_t P = net.populations.size(), C = engine.checkpoints().size(), E = net.exits.size(),
                      K = engine.cuts().size();
    SampleRecords rec;
    rec.begin = begin;
    rec.end = end;
    rec.predictions_at.resize(n * C);
    for (auto* v : {&rec.spikes, &rec.ops, &rec.updates, &rec.in_macs, &rec.bin_ops}) v->resize(n * P);
    for (auto* v : {&rec.exit_taken, &rec.exit_step, &rec.prediction}) v->resize(n);
    rec.exit_adds.resize(n * E);
    rec.exit_macs.resize(n * E);
    rec.cut_bits.resize(n * K);
    rec.cut_spikes.resize(n * K);
    rec.cut_used.resize(n * K);
    rec.cut_lost.resize(n * K);
    rec.recorded.resize(std::size_t(std::clamp(record_samples, begin, end) - begin));
    return rec;
}

void store(const Engine& engine, const SampleState& s, std::int64_t i, SampleRecords& rec) {
    const Network& net = engine.network();
    const std::size_t P = net.populations.size(), C = engine.checkpoints().size(), E = net.exits.size(),
                      K = engine.cuts().size();
    const std::size_t si = std::size_t(i - rec.begin);
    for (std::size_t c = 0; c < C; ++c) rec.predictions_at[si * C + c] = s.prediction_at[c];
    for (std::size_t l = 0; l < P; ++l) {
        rec.spikes[si * P + l] = s.spike_total[l];
        rec.ops[si * P + l] = s.synaptic_ops[l];
        rec.updates[si * P + l] = s.neuron_updates[l];
        rec.in_macs[si * P + l] = s.input_macs[l];
        rec.bin_ops[si * P + l] = s.binary_ops[l];
    }
    rec.exit_taken[si] = s.exit_taken;
    rec.exit_step[si] = s.exit_step;
    rec.prediction[si] = s.prediction;
    for (std::size_t e = 0; e < E; ++e) {
        rec.exit_adds[si * E + e] = s.exit_adds[e];
        rec.exit_macs[si * E + e] = s.exit_macs[e];
    }
    for (std::size_t c = 0; c < K; ++c) {
        rec.cut_bits[si * K + c] = s.cut_bits[c];
        rec.cut_spikes[si * K + c] = s.cut_spikes[c];
        rec.cut_used[si * K + c] = s.cut_used[c];
        rec.cut_lost[si * K + c] = s.cut_lost[c];
    }
}

void sort_recorded(std::vector<Spike>& spikes) {
    // Step by step, population by population, whatever order the stages ran in.
    std::stable_sort(spikes.begin(), spikes.end(), [](const Spike& a, const Spike& b) {
        return a.step != b.step ? a.step < b.step : a.population < b.population;
    });
}

SampleRecords run_samples(const Engine& engine, const Dataset& data, std::int64_t begin, std::int64_t end,
                          const RunOptions& opt) {
    const Network& net = engine.network();
    check_run(net, data, opt);
    if (begin < 0 || end < begin || end > data.size())
        throw Error("samples [" + std::to_string(begin) + ", " + std::to_string(end) + ") are not within data set '" +
                    data.name + "' of " + std::to_string(data.size()));
    const std::size_t n = std::size_t(end - begin);
    SampleRecords rec = empty_records(engine, begin, end, opt.record_samples);
    const std::int64_t record_end = begin + std::int64_t(rec.recorded.size());

    tbb::enumerable_thread_specific<SampleState> states([&] {
        SampleState s;
        engine.init(s);
        return s;
    });
    std::atomic<std::int64_t> done{0};
    std::mutex progress_mutex;
    const auto start = std::chrono::steady_clock::now();
    auto last_report = start;
    tbb::task_arena arena(opt.threads);
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(begin, end, 4), [&](const auto& range) {
            SampleState& s = states.local();
            for (std::int64_t i = range.begin(); i < range.end(); ++i) {
                const std::size_t si = std::size_t(i - begin);
                std::vector<Spike>* recorded = i < record_end ? &rec.recorded[si] : nullptr;
                engine.run_sample(data, i, s, recorded);
                if (recorded) sort_recorded(*recorded);
                store(engine, s, i, rec);
                const std::int64_t d = ++done;
                if (opt.progress && d < std::int64_t(n)) { // the last call comes after the loop, from this thread
                    std::unique_lock lock(progress_mutex, std::try_to_lock);
                    const auto now = std::chrono::steady_clock::now();
                    if (lock.owns_lock() && now - last_report > std::chrono::milliseconds(500)) {
                        last_report = now;
                        opt.progress(d, std::int64_t(n), std::chrono::duration<double>(now - start).count());
                    }
                }
            }
        });
    });
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (opt.progress) opt.progress(std::int64_t(n), std::int64_t(n), rec.seconds);
    return rec;
}

void append(SampleRecords& a, SampleRecords&& b) {
    if (b.begin != a.end)
        throw Error("internal: records of samples [" + std::to_string(b.begin) + ", " + std::to_string(b.end) +
                    ") do not follow [" + std::to_string(a.begin) + ", " + std::to_string(a.end) + ")");
    // Recorded samples are a prefix of the run: a part records only if every sample before it did.
    if (!b.recorded.empty() && a.recorded.size() != std::size_t(a.end - a.begin))
        throw Error("internal: recorded samples are not a prefix of the run");
    a.end = b.end;
    append_to(a.predictions_at, std::move(b.predictions_at));
    append_to(a.spikes, std::move(b.spikes));
    append_to(a.ops, std::move(b.ops));
    append_to(a.updates, std::move(b.updates));
    append_to(a.in_macs, std::move(b.in_macs));
    append_to(a.bin_ops, std::move(b.bin_ops));
    append_to(a.exit_taken, std::move(b.exit_taken));
    append_to(a.exit_step, std::move(b.exit_step));
    append_to(a.prediction, std::move(b.prediction));
    append_to(a.exit_adds, std::move(b.exit_adds));
    append_to(a.exit_macs, std::move(b.exit_macs));
    append_to(a.cut_bits, std::move(b.cut_bits));
    append_to(a.cut_spikes, std::move(b.cut_spikes));
    append_to(a.cut_lost, std::move(b.cut_lost));
    append_to(a.cut_used, std::move(b.cut_used));
    append_to(a.recorded, std::move(b.recorded));
    a.seconds = std::max(a.seconds, b.seconds);
}

RunResult merge(const Engine& engine, const Dataset& data, const SampleRecords& rec, const RunOptions& opt) {
    const Network& net = engine.network();
    const std::int64_t n = data.size();
    if (rec.begin != 0 || rec.end != n)
        throw Error("internal: records of samples [" + std::to_string(rec.begin) + ", " + std::to_string(rec.end) +
                    ") for a data set of " + std::to_string(n));
    const std::size_t P = net.populations.size(), C = engine.checkpoints().size(), E = net.exits.size(),
                      K = engine.cuts().size();
    RunResult r;
    r.samples = n;
    r.readout = engine.readout_kind();
    r.checkpoints = engine.checkpoints();
    r.plan = engine.plan(Watch::None);
    if (std::min(opt.record_samples, n) > 0) r.record_plan = engine.plan(Watch::Record);
    r.seconds = rec.seconds;
    // Sums in sample order: they do not depend on how samples were split.
    r.correct_at.assign(C, 0);
    r.predictions.resize(std::size_t(n));
    r.spikes.assign(P, 0.0);
    r.synaptic_ops.assign(P, 0.0);
    r.neuron_updates.assign(P, 0.0);
    r.input_macs.assign(P, 0.0);
    r.binary_ops.assign(P, 0.0);
    r.exit_taken.assign(E + 1, 0);
    r.exit_correct.assign(E + 1, 0);
    r.exit_step_sum.assign(E + 1, 0.0);
    r.exit_adds.assign(E, 0.0);
    r.exit_macs.assign(E, 0.0);
    r.cuts = engine.cuts();
    r.cut_bits.assign(K, CutBits{});
    r.cut_spikes.assign(K, 0.0);
    r.cut_used.assign(K, 0);
    r.cut_lost.assign(K, 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t si = std::size_t(i);
        for (std::size_t c = 0; c < C; ++c)
            r.correct_at[c] += rec.predictions_at[si * C + c] == data.y[si];
        r.predictions[si] = rec.prediction[si];
        for (std::size_t l = 0; l < P; ++l) {
            r.spikes[l] += double(rec.spikes[si * P + l]);
            r.synaptic_ops[l] += double(rec.ops[si * P + l]);
            r.neuron_updates[l] += double(rec.updates[si * P + l]);
            r.input_macs[l] += double(rec.in_macs[si * P + l]);
            r.binary_ops[l] += double(rec.bin_ops[si * P + l]);
        }
        const std::size_t taken = rec.exit_taken[si] < 0 ? E : std::size_t(rec.exit_taken[si]);
        ++r.exit_taken[taken];
        r.exit_correct[taken] += rec.prediction[si] == data.y[si];
        r.exit_step_sum[taken] += rec.exit_step[si];
        r.steps_sum += rec.exit_step[si];
        for (std::size_t e = 0; e < E; ++e) {
            r.exit_adds[e] += double(rec.exit_adds[si * E + e]);
            r.exit_macs[e] += double(rec.exit_macs[si * E + e]);
        }
        for (std::size_t c = 0; c < K; ++c) {
            r.cut_bits[c] += rec.cut_bits[si * K + c];
            r.cut_spikes[c] += double(rec.cut_spikes[si * K + c]);
            r.cut_used[c] += rec.cut_used[si * K + c];
            r.cut_lost[c] += double(rec.cut_lost[si * K + c]);
        }
    }
    for (const auto& spikes : rec.recorded) r.recorded.insert(r.recorded.end(), spikes.begin(), spikes.end());
    return r;
}

RunResult simulate(const Network& net, const Dataset& data, const RunOptions& opt) {
    check_run(net, data, opt);
    Engine engine(net, opt);
    return merge(engine, data, run_samples(engine, data, 0, data.size(), opt), opt);
}

double dnn_accuracy(const Network& net, const Dataset& data, int threads, std::vector<int>* predictions) {
    if (data.shape.size() != net.input().shape.size())
        throw Error("data set '" + data.name + "' has samples of shape " + data.shape.str() +
                    " but the network's input is " + net.input().shape.str());
    const std::int64_t n = data.size();
    std::vector<int> pred(static_cast<std::size_t>(n));
    tbb::task_arena arena(std::max(threads, 1));
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& r) {
            for (std::int64_t i = r.begin(); i < r.end(); ++i)
                pred[std::size_t(i)] = argmax(forward(net, data.sample(i)).back());
        });
    });
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; ++i) correct += pred[std::size_t(i)] == data.y[std::size_t(i)];
    if (predictions) *predictions = std::move(pred);
    return n > 0 ? double(correct) / double(n) : 0.0;
}

} // namespace snn
