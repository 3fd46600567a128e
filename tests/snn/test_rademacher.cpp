// The compressive-sensing input stage's Rademacher matrix (snn/rademacher.hpp):
// its signs against the independent numpy reference (tools/rademacher_reference.py,
// written from the documented recipe), a 4-pixel, rd = 2 projection worked by
// hand, the 1/√rd normalization, and bad sizes refused in one line.
#include "snn/error.hpp"
#include "snn/rademacher.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

using namespace snn;
using Catch::Matchers::Contains;

namespace {

// Bit c of row r is 1 where s(seed, r, c) = −1, for columns 0..63.
std::uint64_t row_bits(std::uint64_t seed, std::uint64_t row) {
    std::uint64_t w = 0;
    for (std::uint64_t c = 0; c < 64; ++c)
        if (rademacher_sign(seed, row, c) < 0) w |= std::uint64_t(1) << c;
    return w;
}

} // namespace

TEST_CASE("rademacher: signs equal the numpy reference's bit for bit", "[rademacher]") {
    // From: python3 -c "import rademacher_reference as r; r.signs(SEED, RD, 64)", packed
    // with bit c set for a −1 in column c (see the commit that added this test).
    const std::vector<std::uint64_t> seed_20261207 = {
        0xbb93b66d84c7ab10ull, 0x8c67ce742e0f0475ull, 0x4824e6ecf7606a19ull, 0x9726d1df40c215c5ull,
        0xbb8f498dc2103a80ull, 0x30850487fa24da20ull, 0x5c03426d8b3cc081ull, 0xe1de38fdc55ca255ull};
    for (std::size_t r = 0; r < seed_20261207.size(); ++r) CHECK(row_bits(20261207, r) == seed_20261207[r]);
    const std::vector<std::uint64_t> seed_max = {0xebcb2c3c91c5a14full, 0xcfd108acf480b97full,
                                                 0x2ab3447defa414e7ull, 0xbdbbc4eebf118974ull};
    for (std::size_t r = 0; r < seed_max.size(); ++r) CHECK(row_bits(~std::uint64_t(0), r) == seed_max[r]);
    // The same reference counts 78179 of the 156800 signs of seed 7, 200 × 784 as +1.
    std::int64_t plus = 0;
    for (std::uint64_t r = 0; r < 200; ++r)
        for (std::uint64_t c = 0; c < 784; ++c) plus += rademacher_sign(7, r, c) > 0;
    CHECK(plus == 78179);
}

TEST_CASE("rademacher: 4 pixels to rd = 2 by hand", "[rademacher]") {
    // Seed 42's signs (tools/rademacher_reference.py signs 42 2 4): row 0 = − − + −, row 1 = − − − +.
    CHECK(rademacher_sign(42, 0, 0) == -1);
    CHECK(rademacher_sign(42, 0, 2) == 1);
    CHECK(rademacher_sign(42, 1, 3) == 1);
    RademacherStage stage{42, 2, {2, 2, 1}};
    const std::vector<float> x = {1, 2, 3, 4};
    const std::vector<float> y = rademacher_project(stage, x);
    REQUIRE(y.size() == 2);
    CHECK(y[0] == Approx((-1 - 2 + 3 - 4) / std::sqrt(2.0)));
    CHECK(y[1] == Approx((-1 - 2 - 3 + 4) / std::sqrt(2.0)));
    CHECK(stage.adds() == 8); // rd · n additions or subtractions
}

TEST_CASE("rademacher: columns have unit norm, so a one-hot input keeps its norm", "[rademacher]") {
    RademacherStage stage{3, 16, {1, 1, 50}};
    for (int c = 0; c < 50; c += 7) {
        std::vector<float> x(50, 0.0f);
        x[std::size_t(c)] = 1.0f;
        double norm2 = 0;
        for (float v : rademacher_project(stage, x)) norm2 += double(v) * v;
        CHECK(norm2 == Approx(1.0).epsilon(1e-6)); // 16 entries of (±1/4)²
    }
}

TEST_CASE("rademacher: rd <= 0 and rd above the pixels are refused in one line", "[rademacher]") {
    CHECK_THROWS_WITH(check_rademacher(0, 784, "m.h5"), Contains("m.h5") && Contains("rd 0 must be at least 1"));
    CHECK_THROWS_WITH(check_rademacher(-3, 784, "m.h5"), Contains("rd -3"));
    CHECK_THROWS_WITH(check_rademacher(785, 784, "m.h5"), Contains("rd 785 is larger than the input's 784 pixels"));
    CHECK_NOTHROW(check_rademacher(784, 784, "m.h5"));
    CHECK_NOTHROW(check_rademacher(1, 1, ""));
}
