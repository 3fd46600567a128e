#pragma once
// The DNN baseline's pipeline across MPI ranks (`mpirun -np K snn run NET
// --partition … --distributed pipeline --dnn-pipeline`; sim/dnn_pipeline.hpp,
// docs/distributed.md): rank r runs device r's populations of the DNN pass,
// sample after sample, and sends each cut's int8 activations on without
// waiting for them to be taken (a few samples ahead at most), as the SNN
// pipeline does. Rank 0 gathers the predictions, latencies and bytes.
#include "sim/dnn_pipeline.hpp"

#include <mpi.h>

#include <optional>

namespace snn::mpi {

// The result on rank 0, nothing on the others. A rank that waits `timeout`
// seconds for a message, for its own to be taken, or for the others at the
// end, throws TimeoutError (sim/mpi/distributed.hpp) naming the rank it waited for.
std::optional<DnnPipelineResult> simulate_dnn_pipeline(const Network& net, const Dataset& data, MPI_Comm comm, double timeout);

} // namespace snn::mpi
