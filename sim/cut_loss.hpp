#pragma once
// Lossy links across a partition's cuts (`snn run --cut-loss`).
//
// A cut (sim/plan.hpp) is the link from one device to another; at every step
// the spikes that cross it form one message. Two ways to lose them:
//   Spikes  each spike is lost on its own with probability p: its draw from
//           stream (seed, sample, cut_loss_stream(cut), step), at its address
//           on the cut (sign: + neurons for a taken-back spike), is below p;
//   Burst   whole messages are lost in bursts: a two-state chain per sample
//           and cut (Gilbert's channel), in the lossy state with probability
//           p in the long run, leaving it with probability 1/L per step, so
//           bursts last L steps on average (geometric); a lost step's message
//           carries nothing. The first step's state is drawn from the
//           long-run probabilities.
// A spike lost on a cut is lost for every population on the receiving device
// that reads it (one message per link), and only there. The draws are keyed
// like every other random draw (sim/encode.hpp), so results do not depend on
// threads. The cut's meter counts what was sent: the link carried it.
#include "snn/dataset.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace snn {

struct CutLoss {
    enum class Kind { None, Spikes, Burst };
    Kind kind = Kind::None;
    double p = 0;     // the probability a spike (Spikes) or a step's message (Burst) is lost
    double burst = 1; // Burst: mean length of a run of lost messages, in steps
    bool active() const { return kind != Kind::None && p > 0; }
    std::string str() const; // "none", "P" or "burst:P:L", as cut_loss_from reads it
};

// "none", "P" (0 ≤ P < 1) or "burst:P:L" (L ≥ 1, P ≤ L / (L + 1), so that the
// chain can stay in the lossless state long enough); throws OptionError
// ("cut-loss") naming the value otherwise.
CutLoss cut_loss_from(const std::string&);

// The random stream of cut c's losses: apart from the input's (0), the
// learning rule's (bit 31) and the initial weights' (bit 30).
constexpr std::uint64_t cut_loss_stream(std::uint64_t cut) { return cut | (std::uint64_t(1) << 32); }

// Burst: lost[t] = 1 where the message of step t (t < steps) of this sample
// across cut c is lost. Spikes (or none): all 0.
void lost_messages(const CutLoss& loss, std::uint64_t seed, std::uint64_t sample, std::uint64_t cut, int steps,
                   std::vector<std::uint8_t>& lost);

// The DNN baseline under the same loss: the DNN pass (convert/dnn.hpp) with
// each activation crossing a cut zeroed with probability P (Spikes), or the
// whole message of a cut (one per input) zeroed with probability P (Burst),
// as seen by the populations on the receiving device. Draws from stream
// (seed, sample, dnn_loss_stream(cut), 0) at the activation's address on the
// cut (Burst: address 0). Returns the accuracy; `predictions` (may be null)
// gets the classes.
constexpr std::uint64_t dnn_loss_stream(std::uint64_t cut) { return cut | (std::uint64_t(3) << 32); }
double dnn_accuracy_under_loss(const Network& net, const Dataset& data, const CutLoss& loss, std::uint64_t seed, int threads,
                               std::vector<int>* predictions = nullptr);

} // namespace snn
