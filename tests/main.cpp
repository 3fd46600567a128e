// The test program's entry. `snn_tests --require-isa NAME [catch args]` runs
// the given tests with one instruction set only, or, where this CPU (or, for
// avx512-float, this build) lacks it, prints "NOT RUN" and exits 77, which
// CTest reports as a skipped test: a machine without an ISA shows it in the
// summary instead of passing silently. NAME: a popcount implementation
// (scalar, avx2, avx512), or portable-float / avx2-float / avx512-float (the float
// kernels' copy for that instruction set, sim/float_isa.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "sim/binary_kernels.hpp"
#include "tests/support.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace snn::test {
std::optional<PopcountIsa> required_isa;
std::optional<FloatIsa> required_float_isa;
}

int main(int argc, char** argv) {
    std::vector<char*> args;
    std::string required;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--require-isa") == 0 && i + 1 < argc) {
            required = argv[++i];
            continue;
        }
        args.push_back(argv[i]);
    }
    if (required.ends_with("-float")) {
        const snn::FloatIsa isa = snn::float_isa_from(required.substr(0, required.size() - 6));
        if (!snn::float_isa_supported(isa)) {
            const std::string lacks = isa == snn::FloatIsa::Avx512 ? "AVX-512 (F, BW, DQ, VL, CD) with FMA and BMI2"
                                                                   : "AVX2 with FMA and BMI2";
            std::printf("NOT RUN: %s; the float kernels were not tested with their %s copy\n",
                        snn::float_isa_compiled(isa) ? ("this CPU lacks " + lacks).c_str()
                                                     : "this build has no such copy of the float kernels (not GCC on x86-64)",
                        snn::to_string(isa));
            return 77;
        }
        snn::test::required_float_isa = isa;
    } else if (!required.empty()) {
        try {
            const snn::PopcountIsa isa = snn::popcount_isa_from(required);
            if (!snn::popcount_isa_supported(isa)) {
                std::printf("NOT RUN: this CPU lacks the %s popcount instructions; the binary kernels were not tested "
                            "with them\n", required.c_str());
                return 77;
            }
            snn::test::required_isa = isa;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s\n", e.what());
            return 2;
        }
    }
    return Catch::Session().run(int(args.size()), args.data());
}
