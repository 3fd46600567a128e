#include "sim/float_isa.hpp"

#include "snn/error.hpp"

namespace snn {

const char* to_string(FloatIsa isa) {
    switch (isa) {
    case FloatIsa::Portable: return "portable";
    case FloatIsa::Avx2: return "avx2";
    case FloatIsa::Avx512: return "avx512";
    }
    return "?";
}

FloatIsa float_isa_from(const std::string& s) {
    for (auto isa : {FloatIsa::Portable, FloatIsa::Avx2, FloatIsa::Avx512})
        if (s == to_string(isa)) return isa;
    throw OptionError("float-isa", s, "float-isa '" + s + "': expected auto, portable, avx2 or avx512");
}

bool float_isa_compiled(FloatIsa isa) {
#if defined(SNN_FLOAT_AVX512)
    (void)isa;
    return true;
#else
    return isa == FloatIsa::Portable;
#endif
}

bool float_isa_supported(FloatIsa isa) {
    if (!float_isa_compiled(isa)) return false;
#if defined(SNN_FLOAT_AVX512)
    if (isa == FloatIsa::Avx512) {
        // What the region's target pragma enables (libgcc also checks that the
        // operating system saves the AVX-512 registers).
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
    }
    if (isa == FloatIsa::Avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
               __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#endif
    return true;
}

FloatIsa best_float_isa() {
    for (auto isa : {FloatIsa::Avx512, FloatIsa::Avx2})
        if (float_isa_supported(isa)) return isa;
    return FloatIsa::Portable;
}

} // namespace snn
