#pragma once
// Weight normalization so that firing rates stand for activations.
//
// Each spiking population l gets a scale λ_l: the activation that should map
// to one spike per step. Data-based (Rueckauer et al. 2017): λ_l is the max or
// the P-th percentile of the population's non-zero ReLU activations over
// calibration samples. Model-based (Diehl et al. 2015): λ_l is the largest
// input a unit can receive, from its positive weights and the bounds of its
// sources. Then every projection from s into l is rescaled
//   W ← W·λ_s/λ_l,   b ← b/λ_l,
// with λ = 1 for the input (pixels in [0,1]) and λ of a max-pooling gate equal
// to the λ of its source (max commutes with positive scaling). A relay (a
// population fed only by a nearest upsampling, is_relay) also takes its
// source's λ, per channel: its weights become exactly 1, so each of its
// neurons fires once for each spike of the unit it copies.
//
// Channel-wise (Kim et al. 2020): one λ per channel of a population instead of
// one per layer, so that a channel whose activations are small is not coded by
// a handful of spikes while another one is clipped; then a weight from source
// channel i to target channel j is scaled by λ_s[i]/λ_l[j]. The output
// population keeps one λ for all its units, so that its argmax is unchanged.
//
// A bounded ReLU min(max(x, 0), M) (Population::clip) gets λ ≤ M: the forward
// pass that calibrates is capped at M, and model-based λ is min(bound, M). A
// rate code is bounded by one spike per step, i.e. by λ, so with λ = M the
// spiking unit clips exactly where the DNN does; the cap is rescaled with the
// activations (M/λ).
#include "snn/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct NormSpec {
    enum class Kind { Max, Percentile, Model } kind = Kind::Percentile;
    double percentile = 99.9;
    std::string str() const;
};

// "max", "percentile:P" (0 < P ≤ 100) or "model"; snn::Error otherwise.
NormSpec parse_norm(const std::string& s);

// numpy.percentile's default (linear interpolation between closest ranks).
// Reorders `values`. Empty input gives 0.
double percentile(std::vector<float>& values, double p);

// A population fed by one nearest-upsampling projection (Keras UpSampling2D)
// and nothing else, without a bias or a cap: its activations are copies of its
// source's, so it keeps its source's λ (the percentile of a copied set can
// differ from the source's by interpolation), and calibration leaves it alone.
bool is_relay(const Population& pop);

// λ per population from calibration samples (x: n samples of input().shape.size() values each).
std::vector<float> data_based_scales(const Network& net, const float* x, std::int64_t n, const NormSpec& spec,
                                     int threads);
std::vector<float> model_based_scales(const Network& net);

// Applies W ← W·λ_s/λ_l, b ← b/λ_l and stores λ in Population::scale.
void apply_scales(Network& net, const std::vector<float>& scales);

// One λ per channel of every population (the output population's all equal).
using ChannelScales = std::vector<std::vector<float>>;
ChannelScales channel_scales(const Network& net, const float* x, std::int64_t n, const NormSpec& spec, int threads);
// W from source channel i to target channel j ← W·λ_s[i]/λ_l[j], b_j ← b_j/λ_l[j];
// Population::scale gets the largest λ of the population.
void apply_scales(Network& net, const ChannelScales& scales);

// Multiplies the λ of spiking population l by m > 0 in a normalized network:
// the weights and bias into l are divided by m, the weights out of l (and out
// of any max-pooling gate or relay that passes l's spikes on) multiplied by m. The DNN
// function is unchanged except that l's activations are divided by m (ReLU is
// positively homogeneous), so a smaller λ makes l fire faster and clip sooner.
void rescale_population(Network& net, std::size_t l, double m);

} // namespace snn
