// The cut message codec (sim/cut_codec.hpp): steps coded as the cut meter
// prices them, and messages that refuse what the encoder would not write.
#include "sim/cut_codec.hpp"
#include "sim/traffic.hpp"
#include "snn/error.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace snn;

namespace {

using List = std::vector<std::int32_t>;

std::vector<std::uint8_t> bits_of(const List& a, const List& neg, std::int64_t n, bool signed_spikes, std::uint64_t* bits) {
    BitWriter w;
    encode_step(a, neg, n, signed_spikes, w);
    *bits = w.bits();
    return w.bytes();
}

// The meter's bits for one step, as Engine::meter_cut counts them: a
// meter_step per sign, summed.
std::uint64_t meter_bits(const List& a, const List& neg, std::int64_t n, bool signed_spikes) {
    std::vector<std::int32_t> scratch;
    const std::vector<std::int64_t> base{0};
    std::uint64_t bits = 0;
    for (int sign = 0; sign < (signed_spikes ? 2 : 1); ++sign) {
        const std::vector<SourceStep> sources{SourceStep{sign ? neg : a}};
        bits += meter_step(base, n, sources, scratch).bits.best;
    }
    return bits;
}

StepSpikes round_trip(const List& a, const List& neg, std::int64_t n, bool signed_spikes) {
    std::uint64_t bits = 0;
    const auto bytes = bits_of(a, neg, n, signed_spikes, &bits);
    BitReader r(bytes, bits);
    StepSpikes s = decode_step(r, n, signed_spikes);
    CHECK(r.left() == 0);
    return s;
}

List random_list(std::mt19937& rng, std::int64_t n, double p) {
    std::bernoulli_distribution spike(p);
    List a;
    for (std::int64_t u = 0; u < n; ++u)
        if (spike(rng)) a.push_back(std::int32_t(u));
    return a;
}

// The header as docs say it is laid out, written here by hand.
std::vector<std::uint8_t> raw(std::uint8_t version, std::uint8_t status, std::uint64_t sample, std::uint32_t t0,
                              std::uint32_t t1, std::uint32_t exit_step, std::uint32_t prediction, std::uint64_t payload_bits,
                              const std::vector<std::uint8_t>& payload) {
    std::vector<std::uint8_t> out{version, status};
    const auto le = [&](std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
    };
    le(sample, 8), le(t0, 4), le(t1, 4), le(exit_step, 4), le(prediction, 4), le(payload_bits, 8);
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

} // namespace

TEST_CASE("bit writer and reader: fields of every width, most significant bit first", "[cut_codec]") {
    BitWriter w;
    w.put(0b101, 3);
    w.put(0b1, 1);
    w.put(0xF0, 8);
    CHECK(w.bits() == 12);
    CHECK(w.bytes() == std::vector<std::uint8_t>{0b10111111, 0b00000000});
    w.put_gamma(5); // 00 101
    CHECK(w.bits() == 17);
    CHECK(w.bytes() == std::vector<std::uint8_t>{0b10111111, 0b00000010, 0b10000000});

    std::mt19937_64 rng(3);
    BitWriter all;
    std::vector<std::pair<std::uint64_t, int>> fields;
    for (int width = 0; width <= 64; ++width) {
        const std::uint64_t v = width == 64 ? rng() : rng() & ((std::uint64_t(1) << width) - 1);
        fields.emplace_back(v, width);
        all.put(v, width);
        all.put_gamma(v | 1);
    }
    BitReader r(all.bytes(), all.bits());
    for (const auto& [v, width] : fields) {
        CHECK(r.get(width) == v);
        CHECK(r.get_gamma() == (v | 1));
    }
    CHECK(r.left() == 0);
    CHECK_THROWS_AS(r.get(1), Error);
    const std::vector<std::uint8_t> two{0xFF, 0xFF};
    BitReader short_reader(two, 12);
    CHECK(short_reader.get(12) == 0xFFF);
    CHECK_THROWS_AS(short_reader.get(1), Error); // the 4 bits past `bits` are not read
}

TEST_CASE("steps coded by hand: each code, the tie-break and the signed second list", "[cut_codec]") {
    std::uint64_t bits = 0;
    // N = 8, addresses 1 and 2: AER 3 × 4 = 12, bitmap 8, delta γ(3) + γ(2) + γ(1) = 3 + 3 + 1 = 7:
    // selector 10, then 011 010 1.
    CHECK(bits_of({1, 2}, {}, 8, false, &bits) == std::vector<std::uint8_t>{0b10011010, 0b10000000});
    CHECK(bits == 9);
    // N = 4, all four: AER 5 × 3 = 15, bitmap 4, delta γ(5) + 4 γ(1) = 9: selector 01, then 1111.
    CHECK(bits_of({0, 1, 2, 3}, {}, 4, false, &bits) == std::vector<std::uint8_t>{0b01111100});
    CHECK(bits == 6);
    // N = 8, addresses 0 … 5: AER 7 × 4 = 28, bitmap 8, delta γ(7) + 6 γ(1) = 11: 01, then 11111100
    // (address 0 first).
    CHECK(bits_of({0, 1, 2, 3, 4, 5}, {}, 8, false, &bits) == std::vector<std::uint8_t>{0b01111111, 0b00000000});
    CHECK(bits == 10);
    // N = 1000, address 500: AER 2 × 10 = 20, delta γ(2) + γ(501) = 3 + 17 = 20, a tie that
    // step_bits' std::min gives to AER: selector 00, 500 and the marker 1000 in 10 bits.
    CHECK(bits_of({500}, {}, 1000, false, &bits) == std::vector<std::uint8_t>{0b00011111, 0b01001111, 0b10100000});
    CHECK(bits == 22);
    // An empty step of 100: delta γ(1), selector 10 then 1.
    CHECK(bits_of({}, {}, 100, false, &bits) == std::vector<std::uint8_t>{0b10100000});
    CHECK(bits == 3);
    // Signed, N = 4: the positives as above (01 1111), no negatives (AER 3, bitmap 4, delta 1: 10 1).
    CHECK(bits_of({0, 1, 2, 3}, {}, 4, true, &bits) == std::vector<std::uint8_t>{0b01111110, 0b10000000});
    CHECK(bits == 9);
    CHECK(cheapest(step_bits(std::vector<std::int32_t>{500}, 1000)) == CutCode::Aer);
}

TEST_CASE("a step's bits are the meter's best bits, signed cuts counted per sign", "[cut_codec]") {
    std::mt19937 rng(17);
    for (std::int64_t n : {1, 2, 3, 7, 8, 15, 16, 63, 64, 65, 127, 128, 1000, 2304})
        for (double p : {0.0, 0.01, 0.1, 0.5, 0.9, 1.0})
            for (bool signed_spikes : {false, true}) {
                const List a = random_list(rng, n, p), neg = signed_spikes ? random_list(rng, n, p / 2) : List{};
                INFO("N " << n << ", p " << p << ", signed " << signed_spikes);
                std::uint64_t bits = 0;
                bits_of(a, neg, n, signed_spikes, &bits);
                CHECK(bits == meter_bits(a, neg, n, signed_spikes));
                CHECK(bits == step_bits(a, n).best + (signed_spikes ? step_bits(neg, n).best : 0));
            }
}

TEST_CASE("steps round trip: hand-made edge cases", "[cut_codec]") {
    for (std::int64_t n : {1, 2, 3, 7, 8, 15, 16, 63, 64, 65, 255, 256, 1023, 1024}) {
        List all;
        for (std::int64_t u = 0; u < n; ++u) all.push_back(std::int32_t(u));
        const std::vector<List> cases{{}, all, {0}, {std::int32_t(n - 1)}, n > 1 ? List{0, std::int32_t(n - 1)} : List{0}};
        for (const List& a : cases) {
            INFO("N " << n << ", " << a.size() << " spikes");
            CHECK(round_trip(a, {}, n, false) == StepSpikes{a, {}});
            for (const List& neg : cases) CHECK(round_trip(a, neg, n, true) == StepSpikes{a, neg});
        }
    }
}

TEST_CASE("steps round trip: random ones of every density", "[cut_codec]") {
    std::mt19937 rng(29);
    std::uniform_int_distribution<std::int64_t> size(1, 3000);
    std::uniform_real_distribution<double> density(0, 1);
    for (int i = 0; i < 300; ++i) {
        const std::int64_t n = size(rng);
        const double p = i % 3 == 0 ? density(rng) / 50 : density(rng); // sparse ones often: delta and AER
        const List a = random_list(rng, n, p), neg = random_list(rng, n, p / 3);
        INFO("N " << n << ", p " << p);
        CHECK(round_trip(a, {}, n, false) == StepSpikes{a, {}});
        CHECK(round_trip(a, neg, n, true) == StepSpikes{a, neg});
    }
}

TEST_CASE("addresses out of order or range are refused by the encoder", "[cut_codec]") {
    BitWriter w;
    CHECK_THROWS_AS(encode_step(List{2, 1}, {}, 8, false, w), InternalError);
    CHECK_THROWS_AS(encode_step(List{3, 3}, {}, 8, false, w), InternalError);
    CHECK_THROWS_AS(encode_step(List{8}, {}, 8, false, w), InternalError);
    CHECK_THROWS_AS(encode_step(List{-1}, {}, 8, false, w), InternalError);
    CHECK_THROWS_AS(encode_step(List{}, List{1}, 8, false, w), InternalError);
}

TEST_CASE("a message: header and steps round trip; the header's bytes as laid out", "[cut_codec]") {
    std::mt19937 rng(5);
    const std::int64_t n = 300;
    CutMessageHeader h;
    h.sample = 123456789012;
    h.t0 = 5;
    h.t1 = 9;
    std::vector<StepSpikes> steps;
    std::uint64_t meter = 0;
    for (int t = h.t0; t < h.t1; ++t) {
        steps.push_back({random_list(rng, n, 0.05 * t), random_list(rng, n, 0.01)});
        meter += meter_bits(steps.back().addresses, steps.back().negatives, n, true);
    }
    const auto bytes = encode_message(h, steps, n, true);
    CHECK(bytes.size() == cut_header_bytes + (meter + 7) / 8);
    const CutMessage m = decode_message(bytes, n, true);
    CHECK(m.header == h);
    CHECK(m.steps == steps);
    CHECK(m.payload_bits == meter);

    CutMessageHeader left;
    left.sample = 7;
    left.t0 = 8;
    left.t1 = 16;
    left.status = CutStatus::Exited;
    left.exit_step = 11;
    left.prediction = 3;
    const auto exited = encode_message(left, {}, n, false);
    CHECK(exited == raw(1, 1, 7, 8, 16, 11, 3, 0, {}));
    CHECK(exited.size() == 34);
    const CutMessage e = decode_message(exited, n, false);
    CHECK(e.header == left);
    CHECK(e.steps.empty());
    CHECK(e.payload_bits == 0);

    // An empty window, and N = 1.
    CutMessageHeader empty;
    empty.t0 = empty.t1 = 4;
    CHECK(decode_message(encode_message(empty, {}, 1, false), 1, false).header == empty);
    CutMessageHeader one;
    one.t1 = 2;
    const std::vector<StepSpikes> one_steps{{{0}, {}}, {{}, {}}};
    CHECK(decode_message(encode_message(one, one_steps, 1, false), 1, false).steps == one_steps);

    // The encoder refuses a header that does not fit its steps.
    CHECK_THROWS_AS(encode_message(h, std::span(steps).first(3), n, true), InternalError);
    CHECK_THROWS_AS(encode_message(left, steps, n, true), InternalError);
}

TEST_CASE("truncated, padded and corrupt messages are refused", "[cut_codec]") {
    std::mt19937 rng(41);
    const std::int64_t n = 200;
    CutMessageHeader h;
    h.sample = 3;
    h.t1 = 6;
    std::vector<StepSpikes> steps;
    for (int t = 0; t < h.t1; ++t) steps.push_back({random_list(rng, n, 0.03 * t), {}});
    const auto good = encode_message(h, steps, n, false);
    for (std::size_t len = 0; len < good.size(); ++len) {
        INFO("first " << len << " of " << good.size() << " bytes");
        CHECK_THROWS_AS(decode_message(std::span(good).first(len), n, false), Error);
    }
    auto longer = good;
    longer.push_back(0);
    CHECK_THROWS_AS(decode_message(longer, n, false), Error);

    // N = 8 (4-bit addresses), one step.
    const auto one_step = [](std::uint64_t bits, std::vector<std::uint8_t> payload) {
        return raw(1, 0, 0, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF, bits, payload);
    };
    CHECK(decode_message(one_step(9, {0b10011010, 0b10000000}), 8, false).steps[0].addresses == List{1, 2});
    const auto refused = [&](const std::vector<std::uint8_t>& bytes, const char* what) {
        INFO(what);
        CHECK_THROWS_AS(decode_message(bytes, 8, false), Error);
    };
    refused(one_step(9, {0b10011010, 0b11000000}), "a padding bit set");
    refused(one_step(10, {0b10011010, 0b10000000}), "a bit more announced than the step holds");
    refused(one_step(2, {0b11000000}), "selector 3");
    refused(one_step(14, {0b00001000, 0b11100000}), "AER (00 0010 0011 1000) for 2, 3, which delta codes in 7 bits");
    refused(one_step(14, {0b00001000, 0b01100000}), "AER addresses out of order (2, 1)");
    refused(one_step(10, {0b01011000, 0b00000000}), "a bitmap (01 01100000) for 1, 2, which delta codes in 7 bits");
    refused(one_step(6, {0b10011100}), "delta: two spikes announced (10 011), one sent (1)");
    refused(one_step(12, {0b10010000, 0b10010000}), "delta: one spike (10 010) at gap 9 (0001001), address 8, past the cut");
    std::vector<std::uint8_t> zeros(9, 0);
    zeros[0] = 0b10000000;
    refused(one_step(72, zeros), "an Elias-gamma code of 64 zeros");
    refused(raw(2, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0, {}), "version 2");
    refused(raw(1, 2, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0, {}), "status 2");
    refused(raw(1, 0, 0, 5, 4, 0xFFFFFFFF, 0xFFFFFFFF, 0, {}), "t1 before t0");
    refused(raw(1, 0, 0, 0, 0, 2, 1, 0, {}), "an exit on a message of spikes");
    refused(raw(1, 1, 0, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0, {}), "an exit without its step");
    refused(raw(1, 1, 0, 0, 1, 0, 1, 3, {0b10100000}), "spikes after an exit");
    refused(raw(1, 0, 0, 0, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 3, {0b10100000}), "2^31 steps announced, one sent");
}

TEST_CASE("a flipped byte is refused or decodes to what re-encodes to the same bytes", "[cut_codec]") {
    // Only the meter's choice is accepted, so a message that decodes is the
    // encoder's output for what it decoded to.
    std::mt19937 rng(53);
    for (int i = 0; i < 2000; ++i) {
        const std::int64_t n = 1 + std::int64_t(rng() % 100);
        const bool signed_spikes = i % 2;
        CutMessageHeader h;
        h.t1 = 1 + int(rng() % 4);
        std::vector<StepSpikes> steps;
        for (int t = 0; t < h.t1; ++t)
            steps.push_back({random_list(rng, n, 0.05 * (i % 10)), signed_spikes ? random_list(rng, n, 0.05) : List{}});
        auto bytes = encode_message(h, steps, n, signed_spikes);
        bytes[rng() % bytes.size()] ^= std::uint8_t(1 + rng() % 255);
        try {
            const CutMessage m = decode_message(bytes, n, signed_spikes);
            CHECK(encode_message(m.header, m.steps, n, signed_spikes) == bytes);
        } catch (const Error&) {
        }
    }
}
