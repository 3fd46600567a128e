#include "sim/cut_codec.hpp"

#include "snn/error.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

namespace snn {

void BitWriter::put(std::uint64_t value, int bits) {
    // Byte by byte: the free low bits of the last byte take the next most
    // significant bits of value.
    while (bits > 0) {
        const int used = int(bits_ % 8);
        if (used == 0) bytes_.push_back(0);
        const int take = std::min(bits, 8 - used);
        const auto chunk = unsigned(value >> (bits - take)) & ((1u << take) - 1);
        bytes_.back() = std::uint8_t(bytes_.back() | chunk << (8 - used - take));
        bits -= take;
        bits_ += std::uint64_t(take);
    }
}

void BitWriter::put_gamma(std::uint64_t x) {
    const int width = int(std::bit_width(x));
    put(0, width - 1);
    put(x, width);
}

BitReader::BitReader(std::span<const std::uint8_t> bytes, std::uint64_t bits) : bytes_(bytes), end_(bits) {
    if (bits > 8 * std::uint64_t(bytes.size()))
        throw InternalError("BitReader: " + std::to_string(bits) + " bits from " + std::to_string(bytes.size()) + " bytes");
}

std::uint64_t BitReader::get(int bits) {
    if (std::uint64_t(bits) > left())
        throw Error("cut message: truncated (" + std::to_string(bits) + " bits wanted at bit " + std::to_string(pos_) +
                    " of " + std::to_string(end_) + ")");
    std::uint64_t v = 0;
    while (bits > 0) {
        const int used = int(pos_ % 8);
        const int take = std::min(bits, 8 - used);
        const unsigned byte = bytes_[std::size_t(pos_ / 8)];
        v = v << take | ((byte >> (8 - used - take)) & ((1u << take) - 1));
        bits -= take;
        pos_ += std::uint64_t(take);
    }
    return v;
}

std::uint64_t BitReader::get_gamma() {
    int zeros = 0;
    while (get(1) == 0)
        if (++zeros > 63) throw Error("cut message: corrupt (an Elias-gamma code longer than 64 bits)");
    return std::uint64_t(1) << zeros | get(zeros);
}

CutCode cheapest(const CutBits& b) {
    // std::min({aer, bitmap, delta}) in step_bits: the leftmost of the smallest.
    if (b.aer <= b.bitmap && b.aer <= b.delta) return CutCode::Aer;
    return b.bitmap <= b.delta ? CutCode::Bitmap : CutCode::Delta;
}

namespace {

void check_neurons(std::int64_t neurons) {
    if (neurons < 1 || neurons > std::numeric_limits<std::int32_t>::max())
        throw InternalError("cut codec: a cut of " + std::to_string(neurons) + " neurons");
}

// One list of addresses, in the code the meter chose for it.
void encode_list(std::span<const std::int32_t> list, std::int64_t neurons, BitWriter& w) {
    for (std::size_t k = 0; k < list.size(); ++k)
        if (list[k] < 0 || list[k] >= neurons || (k > 0 && list[k] <= list[k - 1]))
            throw InternalError("cut codec: addresses must ascend in [0, " + std::to_string(neurons) + ")");
    const CutBits price = step_bits(list, neurons);
    const CutCode code = cheapest(price);
    const std::uint64_t start = w.bits();
    w.put(std::uint64_t(code), 2);
    if (code == CutCode::Aer) {
        const int width = address_bits(neurons);
        for (std::int32_t a : list) w.put(std::uint64_t(a), width);
        w.put(std::uint64_t(neurons), width);
    } else if (code == CutCode::Bitmap) {
        // 64 addresses at a time: address pos + j is bit len − 1 − j of the word.
        auto it = list.begin();
        for (std::int64_t pos = 0; pos < neurons; pos += 64) {
            const int len = int(std::min<std::int64_t>(64, neurons - pos));
            std::uint64_t word = 0;
            for (; it != list.end() && *it < pos + len; ++it) word |= std::uint64_t(1) << (len - 1 - (*it - pos));
            w.put(word, len);
        }
    } else {
        w.put_gamma(list.size() + 1);
        std::int64_t prev = -1;
        for (std::int32_t a : list) {
            w.put_gamma(std::uint64_t(a - prev));
            prev = a;
        }
    }
    if (w.bits() - start != price.best) throw InternalError("cut codec: a step's bits differ from the meter's");
}

std::vector<std::int32_t> decode_list(BitReader& r, std::int64_t neurons) {
    const auto out_of_order = [] { return Error("cut message: corrupt (addresses out of order or past the cut)"); };
    const std::uint64_t code = r.get(2);
    std::vector<std::int32_t> list;
    if (code == std::uint64_t(CutCode::Aer)) {
        const int width = address_bits(neurons);
        std::int64_t prev = -1;
        for (std::uint64_t a; (a = r.get(width)) != std::uint64_t(neurons);) {
            if (a > std::uint64_t(neurons) || std::int64_t(a) <= prev) throw out_of_order();
            list.push_back(std::int32_t(a));
            prev = std::int64_t(a);
        }
    } else if (code == std::uint64_t(CutCode::Bitmap)) {
        for (std::int64_t pos = 0; pos < neurons; pos += 64) {
            const int len = int(std::min<std::int64_t>(64, neurons - pos));
            // The highest set bit first: addresses ascend.
            for (std::uint64_t word = r.get(len); word; word &= ~(std::uint64_t(1) << (63 - std::countl_zero(word))))
                list.push_back(std::int32_t(pos + len - 1 - (63 - std::countl_zero(word))));
        }
    } else if (code == std::uint64_t(CutCode::Delta)) {
        const std::uint64_t n = r.get_gamma() - 1;
        if (n > std::uint64_t(neurons)) throw out_of_order();
        std::int64_t prev = -1;
        for (std::uint64_t k = 0; k < n; ++k) {
            const std::uint64_t gap = r.get_gamma(); // a − prev
            if (gap > std::uint64_t(neurons - 1 - prev)) throw out_of_order();
            prev += std::int64_t(gap);
            list.push_back(std::int32_t(prev));
        }
    } else {
        throw Error("cut message: corrupt (a step with the unused selector 3)");
    }
    // Only the meter's choice is ever sent, so the bits received are the
    // meter's bits; anything else did not come from encode_list.
    if (cheapest(step_bits(list, neurons)) != CutCode(code))
        throw Error("cut message: corrupt (a step not in the code the meter chose for it)");
    return list;
}

void put_le(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
}

std::uint64_t get_le(std::span<const std::uint8_t> in, std::size_t& at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t(in[at++]) << (8 * i);
    return v;
}

// What a header must say, on either side; `fail` says what is wrong.
template <class Fail>
void check_header(const CutMessageHeader& h, Fail fail) {
    if (h.sample < 0) fail("a negative sample index");
    if (h.t0 < 0 || h.t1 < h.t0) fail("steps [" + std::to_string(h.t0) + ", " + std::to_string(h.t1) + ")");
    if (h.status == CutStatus::Spikes && (h.exit_step != -1 || h.prediction != -1))
        fail("an exit step or prediction on a message that carries spikes");
    if (h.status == CutStatus::Exited && (h.exit_step < 0 || h.prediction < 0))
        fail("a sample that left at an exit without its step and prediction");
}

} // namespace

void encode_step(std::span<const std::int32_t> addresses, std::span<const std::int32_t> negatives, std::int64_t neurons,
                 bool signed_spikes, BitWriter& w) {
    check_neurons(neurons);
    if (!signed_spikes && !negatives.empty()) throw InternalError("cut codec: negative spikes on an unsigned cut");
    encode_list(addresses, neurons, w);
    if (signed_spikes) encode_list(negatives, neurons, w);
}

StepSpikes decode_step(BitReader& r, std::int64_t neurons, bool signed_spikes) {
    check_neurons(neurons);
    StepSpikes s;
    s.addresses = decode_list(r, neurons);
    if (signed_spikes) s.negatives = decode_list(r, neurons);
    return s;
}

std::vector<std::uint8_t> encode_message(const CutMessageHeader& h, std::span<const StepSpikes> steps, std::int64_t neurons,
                                         bool signed_spikes) {
    check_header(h, [](const std::string& what) -> void { throw InternalError("cut codec: " + what); });
    const std::size_t want = h.status == CutStatus::Spikes ? std::size_t(h.t1 - h.t0) : 0;
    if (steps.size() != want)
        throw InternalError("cut codec: " + std::to_string(steps.size()) + " steps for a message of " + std::to_string(want));
    BitWriter payload;
    for (const StepSpikes& s : steps) encode_step(s.addresses, s.negatives, neurons, signed_spikes, payload);
    std::vector<std::uint8_t> out;
    out.reserve(cut_header_bytes + payload.bytes().size());
    put_le(out, cut_message_version, 1);
    put_le(out, std::uint64_t(h.status), 1);
    put_le(out, std::uint64_t(h.sample), 8);
    put_le(out, std::uint32_t(h.t0), 4);
    put_le(out, std::uint32_t(h.t1), 4);
    put_le(out, std::uint32_t(h.exit_step), 4);
    put_le(out, std::uint32_t(h.prediction), 4);
    put_le(out, payload.bits(), 8);
    if (out.size() != cut_header_bytes) throw InternalError("cut codec: header size");
    out.insert(out.end(), payload.bytes().begin(), payload.bytes().end());
    return out;
}

std::uint64_t payload_bits_of(std::span<const std::uint8_t> message) {
    if (message.size() < cut_header_bytes)
        throw Error("cut message: " + std::to_string(message.size()) + " bytes, shorter than its header");
    std::size_t at = cut_header_bytes - 8;
    return get_le(message, at, 8);
}

CutMessage decode_message(std::span<const std::uint8_t> bytes, std::int64_t neurons, bool signed_spikes) {
    check_neurons(neurons);
    const auto corrupt = [](const std::string& what) -> void { throw Error("cut message: corrupt (" + what + ")"); };
    if (bytes.size() < cut_header_bytes)
        throw Error("cut message: truncated (" + std::to_string(bytes.size()) + " bytes, shorter than the " +
                    std::to_string(cut_header_bytes) + "-byte header)");
    std::size_t at = 0;
    const auto version = get_le(bytes, at, 1);
    if (version != cut_message_version) corrupt("format version " + std::to_string(version) + ", not " + std::to_string(cut_message_version));
    const auto status = get_le(bytes, at, 1);
    if (status > std::uint64_t(CutStatus::Exited)) corrupt("status " + std::to_string(status));
    CutMessage m;
    m.header.status = CutStatus(status);
    m.header.sample = std::int64_t(get_le(bytes, at, 8));
    m.header.t0 = std::int32_t(std::uint32_t(get_le(bytes, at, 4)));
    m.header.t1 = std::int32_t(std::uint32_t(get_le(bytes, at, 4)));
    m.header.exit_step = std::int32_t(std::uint32_t(get_le(bytes, at, 4)));
    m.header.prediction = std::int32_t(std::uint32_t(get_le(bytes, at, 4)));
    m.payload_bits = get_le(bytes, at, 8);
    check_header(m.header, corrupt);
    if (m.header.status == CutStatus::Exited && m.payload_bits != 0) corrupt("spikes after a sample that left at an exit");

    const std::span<const std::uint8_t> payload = bytes.subspan(cut_header_bytes);
    const std::uint64_t payload_bytes = m.payload_bits / 8 + (m.payload_bits % 8 != 0);
    if (payload.size() != payload_bytes)
        throw Error("cut message: " + std::string(payload.size() < payload_bytes ? "truncated" : "corrupt") + " (" +
                    std::to_string(payload.size()) + " payload bytes where the header announces " +
                    std::to_string(m.payload_bits) + " bits)");
    if (m.payload_bits % 8 && (payload.back() & ((1u << (8 - m.payload_bits % 8)) - 1))) corrupt("padding bits not zero");
    BitReader r(payload, m.payload_bits);
    const auto steps = std::uint64_t(m.header.t1 - m.header.t0);
    // Each step takes at least 3 bits: do not trust a corrupt t1 with memory.
    m.steps.reserve(std::size_t(std::min(steps, m.payload_bits / 3)));
    if (m.header.status == CutStatus::Spikes)
        for (std::uint64_t t = 0; t < steps; ++t) m.steps.push_back(decode_step(r, neurons, signed_spikes));
    if (r.left() != 0) corrupt(std::to_string(r.left()) + " payload bits after the last step");
    return m;
}

} // namespace snn
