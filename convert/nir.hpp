#pragma once
// NIR (neuromorphs/NIR, the HDF5 graph format spiking frameworks exchange):
// import a feed-forward NIR graph as a spiking Network, and write a Network as
// one. docs/nir.md says what maps to what and what is refused.
//
// Import: the execution order comes from the edges (a topological sort; HDF5
// member order and edge order mean nothing). NIR is channels-first (C, H, W);
// the engine is channels-last, so Conv2d kernels (C_out, C_in, kH, kW) become
// (kH, kW, C_in, C_out) and the rows of an Affine after a Flatten of a (C, H, W)
// tensor are permuted to (h, w, c) order. Linear nodes between two neuron
// populations become one projection: a Scale is folded into the weights before
// it, and a SumPool2d/AvgPool2d (non-overlapping windows) into the Conv2d or
// Affine after it. A neuron's r is folded into its incoming weights and bias.
// Imported neurons fire when v > v_threshold, as NIR's do
// (NeuronParams::strict_threshold).
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <string>
#include <vector>

namespace snn {

// What NIR's reset means for the imported neurons (docs/nir.md):
// Subtract: v ← v − v_threshold (what the spec said before v1.0.6);
// Value: v ← v_reset (v1.0.6 on; only v_reset = 0 is representable);
// Sinabs: sinabs' IAF (several spikes per step, subtraction, a floor at −θ),
// which snn neurons (at most one spike per step) cannot represent: refused.
// FromVersion: Subtract for files written before v1.0.6 (or without a
// version), Value after; a file written by `snn export` states its own.
enum class NirReset { FromVersion, Subtract, Value, Sinabs };
NirReset nir_reset_from(const std::string&); // "subtract", "value", "sinabs"; OptionError otherwise

struct NirImportOptions {
    NirReset reset = NirReset::FromVersion;
    double dt = 1.0; // one time step, in the file's time unit (LIF τ / dt = tau_steps)
    MemoryBudget memory; // what the graph's arrays may take
};

// Throws FileError (not HDF5, not a NIR graph) or ModelError (a node, field or
// edge that cannot be converted, naming the file and the node). `notes` gets
// what the conversion log should tell the user (the reset mode and why).
Network import_nir(const std::string& path, const NirImportOptions& options, std::vector<std::string>& notes);

// Writes `net` as a NIR graph, atomically (snn/atomic_output.hpp). What NIR
// cannot say is put into the graph's metadata; `warnings` gets one line per
// thing a NIR reader will ignore. Throws ModelError for what cannot be
// written at all (a max-pooling gate, asymmetric padding, a bias on a pooling
// population).
void export_nir(const Network& net, const std::string& path, std::vector<std::string>& warnings);

} // namespace snn
