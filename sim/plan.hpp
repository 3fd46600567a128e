#pragma once
// The execution plan: which populations advance together, how many steps
// each advances per call, and why. A value, built from the network and the
// run's options alone (plan_execution), so that it can be tested and stated
// in the report (`snn run --report`: "execution") before anything runs.
//
// Two schedules:
//   LayerByLayer  a feed-forward network without exits, none of whose
//                 samples is watched: each population advances over the
//                 whole run, [0, T), reading its source's spikes of every
//                 step, before the next one starts (sim/layerwise.hpp).
//   Stages        the populations are cut into stages, run in order; inside
//                 a stage the populations advance one step at a time in
//                 lock step. A stage ends at each population carrying an
//                 exit (checked every check_every steps there), at the
//                 output, where a partition's device ends (a device runs
//                 its steps before the next receives them), and with step
//                 batches before a binary dense
//                 projection, whose input is then computed for every step at
//                 the stage's start, 8 steps per pass over its weight bits.
//                 A stage reads earlier stages' populations from their
//                 stored spikes (replay).
// Both give the same spikes, membranes, counts and operation counts (tested).
#include "sim/options.hpp"
#include "snn/network.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace snn {

// A cut: the source populations on device `from` whose spikes a population
// on device `to` reads.
struct Cut {
    std::string from, to;
    std::vector<int> sources;       // population indices, ascending
    std::vector<std::int64_t> base; // address of each source's unit 0 on the cut
    std::int64_t neurons = 0;       // Σ neurons of the sources
    bool signed_spikes = false;
    int first_target = -1;          // the earliest population on `to` that reads a source
};
std::vector<Cut> find_cuts(const Network& net);

// Who watches a sample as it runs: nobody, a recorder of every spike
// (`snn run --record`), or an observer called after every step of the last
// stage with every population's state up to that step (Engine::StepObserver).
enum class Watch { None, Record, Observe };
const char* to_string(Watch);

enum class Schedule { LayerByLayer, Stages };
const char* to_string(Schedule); // "layer_by_layer", "stages"

struct Stage {
    std::size_t first = 0, last = 0;  // populations [first, last]
    int exit = -1;                    // index into Network::exits of the exit at `last`, or −1
    std::vector<std::size_t> replay;  // populations of earlier stages it reads, ascending
    std::vector<std::size_t> cuts;    // cuts metered while it runs
    // Binary dense projections (population, projection) whose source is in an
    // earlier stage: their input for every step is computed at the start.
    std::vector<std::pair<std::size_t, std::size_t>> batched;
    std::string why; // why the stage ends at `last`
};

struct ExecutionPlan {
    Schedule schedule = Schedule::Stages;
    int steps = 0;
    std::string why; // why this schedule
    // The instruction sets the kernels run with (RunOptions, or the best this CPU has).
    FloatIsa float_isa = FloatIsa::Portable;
    PopcountIsa popcount = PopcountIsa::Scalar;
    // Quantized Dense projections' kernels: "integer", "float", or "none" (the network has none).
    std::string quant_kernels = "none";
    // Stages: in order, covering every population once (the input is in the first).
    std::vector<Stage> stages;
    std::vector<int> stage_of;                // per population
    std::vector<std::uint8_t> keep_history;   // per population: a later stage replays its spikes
    std::vector<std::vector<int>> batch_slot; // per population, per projection: slot in SampleState::binary_steps, or −1
    int batch_slots = 0;
    // Per population: the steps it advances per call (T layer by layer, else
    // 1) and the steps its kernel adds per pass over the weights (8 for a
    // batched binary dense projection, else 1).
    std::vector<int> block_steps, kernel_steps;
};

// Throws snn::Error where the options cannot run the network (a cut that
// would carry the input with `current` encoding).
ExecutionPlan plan_execution(const Network& net, const RunOptions& options, Watch watch);

} // namespace snn
