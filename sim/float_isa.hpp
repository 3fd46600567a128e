#pragma once
// The instruction set the float kernels run with, chosen at run time.
//
// The float kernels (sim/layerwise.cpp, sim/kernels.cpp and the step-by-step
// neuron update in sim/engine.cpp) are compiled twice from one text: a
// portable copy for the build's baseline target, and, where the compiler is
// GCC on x86-64, an AVX2 copy (with FMA) and an AVX-512 copy, each inside a
// `#pragma GCC target` region (SNN_BEGIN_AVX2 … SNN_END_AVX2,
// SNN_BEGIN_AVX512 … SNN_END_AVX512); sim/lanes_avx2.inc holds the AVX2
// copies' helpers for 16-unit spike masks. The copies live in namespaces of their
// own, and every standard or project header is included before the region,
// so no inline function shared with the rest of the program is compiled for
// AVX-512 or AVX2 (the linker could otherwise keep that copy for a caller
// that runs on a CPU without it). Every copy computes the same values bit for bit: the
// same additions in the same order, and the same neuron rule
// (sim/neuron_rule.inc); the tests run each copy this CPU has.
//
// The binary kernels dispatch the same way, with their own PopcountIsa
// (sim/binary_kernels.hpp).
#include <string>

namespace snn {

enum class FloatIsa { Portable, Avx2, Avx512 };
const char* to_string(FloatIsa);
FloatIsa float_isa_from(const std::string&); // "portable", "avx2" or "avx512"
bool float_isa_compiled(FloatIsa);           // whether this build has that copy
bool float_isa_supported(FloatIsa);          // compiled and this CPU can run it
FloatIsa best_float_isa();                   // the fastest supported one

} // namespace snn

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// The AVX2 and AVX-512 copies are compiled (GCC applies a target pragma to
// the templates defined in the region; clang does not, so its builds have the
// portable copy only).
#define SNN_FLOAT_AVX512 1
#define SNN_FLOAT_AVX2 1
#define SNN_BEGIN_AVX2                                                                                                    \
    _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,avx,fma,bmi,bmi2,popcnt\")")
#define SNN_END_AVX2 _Pragma("GCC pop_options")
#define SNN_BEGIN_AVX512                                                                                                  \
    _Pragma("GCC push_options")                                                                                           \
        _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx2,avx,fma,f16c,bmi,bmi2,popcnt,lzcnt\")")
#define SNN_END_AVX512 _Pragma("GCC pop_options")
#endif
