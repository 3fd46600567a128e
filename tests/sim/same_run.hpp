#pragma once
// Two runs' results compared field by field (tests of runs split between
// threads, processes or devices that must give the whole run's result).
#include "sim/engine.hpp"

#include <catch2/catch.hpp>

#include <tuple>

namespace snn::test {

inline void check_same_run(const RunResult& a, const RunResult& b) {
    CHECK(a.samples == b.samples);
    CHECK(a.checkpoints == b.checkpoints);
    CHECK(a.correct_at == b.correct_at);
    CHECK(a.predictions == b.predictions);
    CHECK(a.spikes == b.spikes);
    CHECK(a.synaptic_ops == b.synaptic_ops);
    CHECK(a.neuron_updates == b.neuron_updates);
    CHECK(a.input_macs == b.input_macs);
    CHECK(a.exit_taken == b.exit_taken);
    CHECK(a.exit_correct == b.exit_correct);
    CHECK(a.exit_step_sum == b.exit_step_sum);
    CHECK(a.exit_adds == b.exit_adds);
    CHECK(a.exit_macs == b.exit_macs);
    CHECK(a.cut_spikes == b.cut_spikes);
    CHECK(a.cut_lost == b.cut_lost);
    CHECK(a.cut_used == b.cut_used);
    REQUIRE(a.cut_bits.size() == b.cut_bits.size());
    for (std::size_t c = 0; c < a.cut_bits.size(); ++c) {
        CHECK(a.cut_bits[c].best == b.cut_bits[c].best);
        CHECK(a.cut_bits[c].aer == b.cut_bits[c].aer);
        CHECK(a.cut_bits[c].bitmap == b.cut_bits[c].bitmap);
        CHECK(a.cut_bits[c].delta == b.cut_bits[c].delta);
    }
    CHECK(a.steps_sum == b.steps_sum);
    REQUIRE(a.recorded.size() == b.recorded.size());
    for (std::size_t k = 0; k < a.recorded.size(); ++k) {
        const Spike &x = a.recorded[k], &y = b.recorded[k];
        CHECK(std::tie(x.sample, x.population, x.neuron, x.step, x.sign) == std::tie(y.sample, y.population, y.neuron, y.step, y.sign));
    }
}

} // namespace snn::test
