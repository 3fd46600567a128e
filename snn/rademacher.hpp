#pragma once
// The compressive-sensing input stage (paper 002's DR: "a Rademacher
// projection with a normalized matrix"): y = Φx, Φ of shape (rd, n) with
//
//   Φ[r][c] = s(seed, r, c) / √rd,   s ∈ {+1, −1}.
//
// The 1/√rd normalization gives every column unit ℓ2 norm, so E‖Φx‖² = ‖x‖²
// (Candès & Wakin's normalization; 002 does not state its own).
//
// Φ is never stored: each sign is drawn again from a counter-based stream
// keyed by (seed, row, column), so the C++ stage and the independent numpy
// reference (tools/rademacher_reference.py) regenerate it bit for bit from
// this recipe, with mix() SplitMix64's output function and γ its constant:
//
//   key  = mix(mix(seed) ^ mix((row << 32) + column + γ))   (mod 2^64)
//   s    = +1 if the top bit of key is 0, else −1
//
// rows and columns are below 2^32 (checked by check_rademacher).
#include "snn/network.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace snn {


// The stage itself (seed, rd, raw shape) is Network::input_stage.

// s(seed, row, column) ∈ {+1, −1} (the recipe above).
int rademacher_sign(std::uint64_t seed, std::uint64_t row, std::uint64_t column);

// Refuses rd ≤ 0, rd > n (a "compression" that grows the input) and sizes of
// 2^32 or more, naming `where` (a file or an option) in one line.
void check_rademacher(std::int64_t rd, std::int64_t pixels, const std::string& where);

// y = Φx for one raw input x (pixels() values, channels-last); y has rd
// values. Each measurement sums ±x in column order in double, then scales once.
std::vector<float> rademacher_project(const RademacherStage& stage, std::span<const float> x);

} // namespace snn
