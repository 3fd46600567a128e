// Fuzz target: the cut message decoder (sim/cut_codec.hpp), what a rank
// reads off the network.
//
// Input: byte 0 bit 0 = a signed cut, bytes 0-1 (the rest, little endian,
// shifted right by one) + 1 = the cut's neurons (1 to 32768), then the
// message's bytes.
//
// snn::Error is the expected way to refuse a message. A message that decodes
// must re-encode to the very same bytes (the decoder takes only what the
// encoder writes); anything else, another exception, a crash or a sanitizer
// report is a bug.
#include "sim/cut_codec.hpp"
#include "snn/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool signed_spikes = data[0] & 1;
    const std::int64_t neurons = 1 + ((std::int64_t(data[0]) | std::int64_t(data[1]) << 8) >> 1);
    const std::span<const std::uint8_t> bytes(data + 2, size - 2);
    try {
        const snn::CutMessage m = snn::decode_message(bytes, neurons, signed_spikes);
        const auto again = snn::encode_message(m.header, m.steps, neurons, signed_spikes);
        if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end())) std::abort();
    } catch (const snn::Error&) {
    }
    return 0;
}
