#pragma once
// The messages that carry a cut's spikes from one device to the next: each
// step coded exactly as the cut meter (sim/traffic.hpp) prices it, so the bits
// a link carries are the meter's `best` bits.
//
// One step, for a cut of N neurons (addresses ascending in [0, N)):
//   2 selector bits, the code the meter chose: 0 address events, 1 bitmap,
//     2 delta addresses (3 is never written); the cheapest, and on a tie the
//     first of those three (std::min's choice in step_bits);
//   address events: each address in b = address_bits(N) bits, then the
//     end-of-step marker N in b bits;
//   bitmap: N bits, the bit of address a the (a + 1)-th;
//   delta addresses: γ(n + 1), then γ(a_k − a_{k−1}) for each address
//     (a_0 = −1), with γ(x) = ⌊log₂ x⌋ zero bits then x in binary;
// every field most significant bit first. A signed cut sends the step's
// positive spikes so, then its negative spikes as a second step of their own,
// as the meter prices them (Engine::meter_cut): 2 + 2 selector bits in all.
//
// A message: the steps [t0, t1) of one sample across one cut, back to back,
// after a fixed header (CutMessageHeader, cut_header_bytes bytes, little
// endian). A sample that left at an exit sends a header that says so and no
// steps. The payload is padded with zero bits to a whole byte. The receiver
// refuses (snn::Error) a buffer that is truncated, too long, or not what the
// encoder would have written for what it decodes to: a step in a code that
// is not the meter's choice, nonzero padding, an address out of order or out
// of range.
#include "sim/traffic.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace snn {

class BitWriter {
public:
    // The low `bits` bits of `value` (bits ≤ 64), most significant first.
    void put(std::uint64_t value, int bits);
    // Elias-γ of x ≥ 1: elias_gamma_bits(x) bits.
    void put_gamma(std::uint64_t x);
    std::uint64_t bits() const { return bits_; }
    // What was written, the last byte padded with zero bits.
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }

private:
    std::vector<std::uint8_t> bytes_;
    std::uint64_t bits_ = 0;
};

// Reads the first `bits` bits of `bytes` (bits ≤ 8 · bytes.size()); any read
// past them is an snn::Error, so a reader never leaves its buffer.
class BitReader {
public:
    BitReader(std::span<const std::uint8_t> bytes, std::uint64_t bits);
    std::uint64_t get(int bits);
    std::uint64_t get_gamma();
    std::uint64_t position() const { return pos_; }
    std::uint64_t left() const { return end_ - pos_; }

private:
    std::span<const std::uint8_t> bytes_;
    std::uint64_t pos_ = 0, end_ = 0;
};

enum class CutCode : std::uint8_t { Aer = 0, Bitmap = 1, Delta = 2 };
// The code the meter priced a step at (its `best` less the 2 selector bits).
CutCode cheapest(const CutBits&);

// Writes one step: `addresses` (and, on a signed cut, `negatives`), each
// ascending in [0, neurons). Lists that break that are a bug in the caller
// (snn::InternalError), as are negatives on an unsigned cut.
void encode_step(std::span<const std::int32_t> addresses, std::span<const std::int32_t> negatives, std::int64_t neurons,
                 bool signed_spikes, BitWriter&);

struct StepSpikes {
    std::vector<std::int32_t> addresses, negatives;
    bool operator==(const StepSpikes&) const = default;
};
StepSpikes decode_step(BitReader&, std::int64_t neurons, bool signed_spikes);

enum class CutStatus : std::uint8_t {
    Spikes = 0, // the steps [t0, t1) follow
    Exited = 1, // the sample left at an exit at exit_step with `prediction`; no steps follow
};

struct CutMessageHeader {
    std::int64_t sample = 0;
    std::int32_t t0 = 0, t1 = 0; // the steps [t0, t1), 0 ≤ t0 ≤ t1
    CutStatus status = CutStatus::Spikes;
    std::int32_t exit_step = -1; // Exited: ≥ 0; Spikes: −1
    std::int32_t prediction = -1;
    bool operator==(const CutMessageHeader&) const = default;
};

// version (1), status (1), sample (8), t0 (4), t1 (4), exit_step (4),
// prediction (4), payload bits (8).
constexpr std::size_t cut_header_bytes = 1 + 1 + 8 + 4 + 4 + 4 + 4 + 8;
constexpr std::uint8_t cut_message_version = 1;

struct CutMessage {
    CutMessageHeader header;
    std::vector<StepSpikes> steps;  // t1 − t0 of them (Spikes), none (Exited)
    std::uint64_t payload_bits = 0; // the steps' bits: their meter `best` bits summed
};

// The bytes of one message: the header, then the steps (t1 − t0 of them for
// Spikes, none for Exited; anything else is an snn::InternalError).
std::vector<std::uint8_t> encode_message(const CutMessageHeader&, std::span<const StepSpikes> steps, std::int64_t neurons,
                                         bool signed_spikes);
CutMessage decode_message(std::span<const std::uint8_t> bytes, std::int64_t neurons, bool signed_spikes);
// The payload bits a message's header announces (its last 8 bytes); an
// snn::Error for a buffer shorter than a header.
std::uint64_t payload_bits_of(std::span<const std::uint8_t> message);

} // namespace snn
