#pragma once
// What a run is asked to do: encoding, steps, kernels, schedules, threads and
// the context the library reports to (progress). The CLI fills it from flags;
// the library never reads flags or prints.
#include "sim/binary_kernels.hpp"
#include "sim/cut_loss.hpp"
#include "sim/float_isa.hpp"
#include "snn/idp.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace snn {

// current: the static input as a constant current; poisson: the static
// input as spikes drawn each step; frames: the data's own input at each step
// (Dataset::frames, sim/encode.hpp).
enum class Encoding { Current, Poisson, Frames };

// Which kernels carry spikes into a population. Every choice gives the same
// currents bit for bit (the tests check it); Auto is the fastest, the others
// exist to test and measure the paths one at a time.
//   Auto       ProjectionKernel, Conv2D choosing scatter or gather per step
//   Reference  the plain snn::scatter
//   Event      ProjectionKernel, always scatter
//   Gather     ProjectionKernel, Conv2D always gather
enum class KernelPath { Auto, Reference, Event, Gather };
KernelPath kernel_path_from(const std::string&); // "auto", "reference", "event" or "gather"
// Quantized Dense projections (sim/quant_kernels.hpp): Integer adds their
// integer codes (shifts and adds for Qsq) and scales once per step; Float runs
// the float kernels on the dequantized weights. The two differ only by float
// rounding (docs/quantization.md "Kernels"). KernelPath::Reference takes Float.
enum class QuantKernels { Integer, Float };
QuantKernels quant_kernels_from(const std::string&); // "integer" or "float"
const char* to_string(QuantKernels);
Encoding encoding_from(const std::string&);
const char* to_string(Encoding);

// Called by simulate() as samples finish: samples done, samples in all,
// seconds since the run started. From any thread, one call at a time.
using ProgressCallback = std::function<void(std::int64_t done, std::int64_t total, double seconds)>;

struct RunOptions {
    int steps = 64;
    Encoding encode = Encoding::Current;
    float max_rate = 1.0f; // Poisson: spike probability per step of a pixel at 1.0
    std::optional<Readout> readout;    // unset: the network's own (Network::readout)
    std::uint64_t seed = 1;
    int threads = 1;
    std::int64_t record_samples = 0; // keep the spike trains of the first K samples
    ProgressCallback progress;        // unset: nothing is reported while the run goes on
    KernelPath kernels = KernelPath::Auto;
    QuantKernels quant_kernels = QuantKernels::Float; // the faster on every CPU measured (docs/quantization.md)
    // Binary projections: the popcount implementation (KernelPath::Reference
    // always takes the scalar one); unset: the best this CPU has. All give
    // identical currents.
    std::optional<PopcountIsa> popcount;
    // Float kernels and neuron updates: the instruction set's copy to run
    // (sim/float_isa.hpp); unset: the best this CPU has. All give identical
    // results.
    std::optional<FloatIsa> float_isa;
    // The two schedules beside plain step by step (sim/plan.hpp says when
    // each applies); each gives the same spikes, membranes and counts as step
    // by step (tested), and each can be turned off to measure or test the
    // other paths.
    //   step_batches   a binary dense projection whose source can run ahead
    //                  of it gets its input for up to 8 steps per pass over
    //                  its weight bits (BinaryKernel::accumulate_batch)
    //   layer_by_layer each population runs all steps before the next
    bool step_batches = true;
    bool layer_by_layer = true;
    // Spikes crossing a partition's cuts lost on the way (sim/cut_loss.hpp); runs step by step.
    CutLoss cut_loss;
    // One device of a partition, as one stage of a pipeline runs it
    // (sim/pipeline.hpp): only the populations on this device advance, in
    // stages that end where a device's populations do, and the spikes of the
    // sources it reads on other devices are handed in. Empty: every population.
    std::string device;
    // A pipeline (sim/pipeline.hpp): the steps each message between devices
    // carries, W, so a device runs its steps in blocks [t0, t0 + W) and sends
    // each block on before the next (1: lock step). 0: the whole run, one
    // message per sample and cut.
    int window = 0;
    // Incomplete dot products (snn/idp.hpp): the engine runs apply_idp(net,
    // *idp) in place of the network; unset: the whole network.
    // Engine::set_idp changes it between samples.
    std::optional<IdpSetting> idp;
};

} // namespace snn
