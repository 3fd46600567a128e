#pragma once
// Incomplete dot products (IDP; paper 003, McDanel, Teerapittayanon and Kung
// 2017; docs/dynamic-cost.md).
//
// A profile is a monotonically non-increasing vector γ over a layer's input
// channels (003 section II-B). A network trained with it computes
//   y_j = Σ_{c=1..N} γ_c · w_jc · x_c
// in every IDP layer; IDP at P % keeps only the first ⌈P·N/100⌉ terms, and a
// layer whose outputs only IDP layers read computes only the channels they
// read, so a chain of IDP layers costs about (P/100)² of the full one (003
// Fig. 1).
//
// Here γ is folded into the weights once, when a profile is attached (the
// converter does it: the Keras file holds the trained w, the network file
// γ·w), so at run time the profile only orders the channels: apply_idp()
// returns the smaller network that the engine then runs unchanged.
//
// IDP layers are the Dense and Conv2D projections that do not read the input
// population: as in 003's networks (Fig. 6), the first layer reads every
// input pixel, and the output layer, which nothing reads, produces every
// class. A Dense projection's input channels are its source's channels (a
// source of shape h×w×C flattened has C channels of h·w units each; an MLP's
// hidden layer has one unit per channel).
#include "snn/network.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace snn {

enum class IdpProfile { AllOne, Harmonic, Linear, HalfExp };
// "all-one", "harmonic", "linear" or "half-exp"; OptionError(option) otherwise.
IdpProfile idp_profile_from(const std::string& name, const std::string& option = "idp-profile");
const char* to_string(IdpProfile);

// γ_1 … γ_N of 003 section II-B (entry i − 1 is γ_i):
//   all-one   γ_i = 1
//   harmonic  γ_i = 1/i
//   linear    γ_i = 1 − i/N
//   half-exp  γ_i = 1 if i < N/2, else exp(N/2 − i − 1)
std::vector<float> idp_coefficients(IdpProfile, int n);

// Whether a projection of population `target` can carry a profile: a Dense or
// Conv2D one whose source is not the input population.
bool idp_eligible(const Projection&);
bool has_idp(const Network&); // some projection carries a profile
// The layer names of the projections that carry a profile, in network order.
std::vector<std::string> idp_layers(const Network&);

// Attaches `profile` to every eligible projection and folds its γ into the
// weights (a source channel's weights times its γ), the variants' of other
// profiles included. Returns the layers it
// attached to. Throws snn::ModelError for a binary projection with a profile
// other than all-one (its ±α weights cannot take γ) and for one that already
// carries a profile; `what` names the cause in messages (a flag, a file).
std::vector<std::string> attach_idp_profile(Network& net, IdpProfile profile, const std::string& what);

// An IDP setting: P (percent, 0 < P ≤ 100) for every IDP layer, or per layer.
struct IdpSetting {
    double percent = 100;                               // IDP layers not named below
    std::vector<std::pair<std::string, double>> layers; // LAYER=P (projection layer or population name)
    std::string str() const;                            // as parse_idp reads it
    bool operator==(const IdpSetting&) const = default;
};
// "P", "LAYER=P,LAYER=P" or both ("60,dense_1=50"); OptionError("idp") for
// anything else or a P outside (0, 100].
IdpSetting parse_idp(const std::string& spec);
// The channels an IDP layer keeps of n at P %: ⌈P·n/100⌉ (at least 1).
int idp_channels(double percent, int n);
// P of an IDP projection of population `pop` under the setting.
double idp_percent(const IdpSetting&, const Population& pop, const Projection& p);

// Multiple profiles (003 section III; Network::idp_ranges): the profile an
// IDP percentage selects, the first whose range reaches it (0 for a network
// with one profile), and `net` with that profile's own weights in place
// (its variants substituted; the result keeps no variants or ranges).
int idp_profile_for(const Network& net, double percent);
Network with_idp_profile(const Network& net, int profile);
// (from, to] percent of the profile `percent` selects; empty with one profile.
std::vector<double> idp_profile_range(const Network& net, double percent);
// Copies the weights and biases that profile `profile`'s variants replace
// from `profiled` (with_idp_profile(net, profile), transformed since: γ
// folded, normalized) back into net's variants of that profile.
void take_idp_variants(Network& net, const Network& profiled, int profile);

// The network that computes `net` at this IDP setting: every IDP layer keeps
// the first idp_channels(P, N) of its N input channels, every population
// keeps only the channels its readers read (through pooling, identity and
// depthwise projections, which read channel c of their source for their
// channel c), the output keeps all. Throws snn::OptionError("idp") when the
// network has no IDP layer, a named layer is not one, two readers of one
// population would keep different channels, or a projection whose channels
// must go is binary, quantized or pruned (not supported). With several
// profiles, the setting's overall percentage (`percent`) selects the profile
// (idp_profile_for), whose weights the result then has.
Network apply_idp(const Network& net, const IdpSetting& setting);

} // namespace snn
