#pragma once
// What crosses a cut between two devices, and what the work on each device
// costs in energy.
//
// Spikes cross a cut one time step at a time. For a cut carrying the spikes
// of N source neurons, a step with n spikes (addresses sorted ascending) costs:
//
//   address events  (n + 1)·⌈log₂(N + 1)⌉ bits: one address per spike and an
//                   end-of-step marker (the reserved address N);
//   bitmap          N bits: one per neuron;
//   delta addresses γ(n + 1) + Σ γ(gap_k + 1) bits, Elias-γ codes of the spike
//                   count and of the gaps between successive addresses
//                   (gap_k = a_k − a_{k−1} − 1, a_0 = −1); γ(x) = 2⌊log₂ x⌋ + 1.
//                   Self-delimiting, so no marker is needed;
//   best            the cheapest of the three for that step, plus 2 bits that
//                   say which one was used.
//
// Negative spikes (signed networks) travel as a second list coded the same way
// (bitmap: a second plane), so a signed cut costs the sum of the two.
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <bit>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace snn {

// The fewest b with 2^b ≥ neurons + 1.
constexpr int address_bits(std::int64_t neurons) { return int(std::bit_width(std::uint64_t(neurons))); }

// 2⌊log₂ x⌋ + 1 (x ≥ 1).
constexpr int elias_gamma_bits(std::uint64_t x) { return 2 * int(std::bit_width(x)) - 1; }

struct CutBits {
    std::uint64_t aer = 0, bitmap = 0, delta = 0, best = 0;
    CutBits& operator+=(const CutBits& o) {
        aer += o.aer, bitmap += o.bitmap, delta += o.delta, best += o.best;
        return *this;
    }
};

// Bits of one step carrying `addresses` (ascending, each in [0, neurons)).
CutBits step_bits(std::span<const std::int32_t> addresses, std::int64_t neurons);
// The same from 16-unit spike masks: bit k of masks[w] is address 16·w + k
// (the bits past `neurons` zero).
CutBits step_bits_of_masks(std::span<const std::uint16_t> masks, std::int64_t neurons);

// One source population's spikes at one step: its units that spiked,
// ascending, or (masks not null) its n units as 16-unit masks.
struct SourceStep {
    std::span<const std::int32_t> units;
    const std::uint16_t* masks = nullptr;
    std::int64_t n = 0;
};
struct CutStep {
    std::int64_t spikes = 0;
    CutBits bits;
};
// The cut meter, the one place every path meters a cut: the spikes that
// cross it at one step, source k's unit u at address base[k] + u (sources in
// the cut's order, so addresses ascend), counted and priced by step_bits.
// `scratch` holds the addresses where they must be listed.
CutStep meter_step(std::span<const std::int64_t> base, std::int64_t neurons, std::span<const SourceStep> sources,
                   std::vector<std::int32_t>& scratch);

// Energy per operation, in picojoules. The default is Table I of Long,
// Chakraborty & Roy, "Conditionally Deep Hybrid Neural Networks Across Edge
// and Cloud": 32-bit add 0.9, 32-bit MAC 4.6, binary op 0.2, memory access
// 2.5 per bit. A spiking synaptic event is an add and reads one weight; a DNN
// connection is a MAC and reads one weight; a neuron update is an add.
// A quantized layer's weights (K-bit codes, snn/quant.hpp) are read as K bits,
// and its synaptic adds and DNN MACs are K-bit ones: priced by the table's
// entry for K bits, or else by the 32-bit figure scaled linearly, ·K/32.
struct CostTable {
    double add_pj = 0.9;
    double mac_pj = 4.6;
    double binary_op_pj = 0.2;
    double memory_bit_pj = 2.5;
    double weight_bits = 32; // bits read from memory per synaptic event or DNN MAC (float weights)
    std::map<int, double> add_pj_by_bits, mac_pj_by_bits; // K-bit operations, K = 2 … 31
};
// The energy of a K-bit add or MAC: the table's entry for K, else the 32-bit
// one ·K/32; K ≥ 32 is the 32-bit figure.
double add_pj_at(const CostTable&, int bits);
double mac_pj_at(const CostTable&, int bits);

// Reads {"add_pj": .., "mac_pj": .., "binary_op_pj": .., "memory_bit_pj": .., "weight_bits": ..,
// "add_pj_by_bits": {"8": .., ...}, "mac_pj_by_bits": {...}} (any subset; the
// rest keep their defaults). Unknown keys, non-numbers, bit widths outside
// 2 … 31 and negative or non-finite values are an snn::Error naming `path`.
CostTable load_cost_table(const std::string& path);
nlohmann::json to_json(const CostTable&);

// Multiply-accumulates the DNN does for population `i` (ReLU network, one
// input): a connection per MAC, taps in the padding skipped; an average pool
// is a MAC per tap; a max-pooling gate does comparisons, not MACs (0).
std::int64_t dnn_macs(const Network& net, std::size_t i);

} // namespace snn
