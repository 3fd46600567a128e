#include "snn/memory.hpp"

#include "snn/error.hpp"

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace snn {

namespace {

std::atomic<std::uint64_t> limit_set{0};

std::uint64_t meminfo(const char* wanted) {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    std::uint64_t value = 0;
    while (in >> key >> value >> unit)
        if (key == wanted) return value * 1024;
    return 0;
}

} // namespace

std::uint64_t parse_memory_size(const std::string& text) {
    const auto bad = [&] {
        return OptionError("max-memory", text,
                           "max-memory '" + text +
                               "': expected a size such as 512M, 4G or 1.5G (K, M, G, T: powers of 1024)");
    };
    std::size_t pos = 0;
    double value = 0;
    try {
        value = std::stod(text, &pos);
    } catch (const std::exception&) {
        throw bad();
    }
    std::string unit = text.substr(pos);
    for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();      // "MB", "GB"
    if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();      // "MiB" → "MI" → "M"
    double scale = 1;
    if (unit.empty() || unit == "B") scale = 1;
    else if (unit == "K") scale = 1024.0;
    else if (unit == "M") scale = 1024.0 * 1024;
    else if (unit == "G") scale = 1024.0 * 1024 * 1024;
    else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
    else throw bad();
    const double bytes = value * scale;
    if (!std::isfinite(bytes) || bytes < 1 || bytes > 1.8e19) throw bad();
    return std::uint64_t(bytes);
}

std::string format_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)bytes);
    else std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

std::uint64_t physical_memory_bytes() { return meminfo("MemTotal:"); }
std::uint64_t available_memory_bytes() { return meminfo("MemAvailable:"); }

void set_memory_limit(std::uint64_t bytes) { limit_set = bytes; }

std::uint64_t memory_limit() {
    if (const std::uint64_t l = limit_set) return l;
    const std::uint64_t total = physical_memory_bytes();
    return total > 0 ? total / 4 * 3 : std::uint64_t(8) << 30;
}

void check_fits_in_memory(std::uint64_t bytes, const std::string& what) {
    const std::uint64_t limit = memory_limit();
    if (bytes > limit)
        throw Error(what + ": needs " + format_bytes(bytes) + ", above the memory limit of " + format_bytes(limit) +
                    (limit_set ? " (--max-memory)" : " (3/4 of this machine's memory; raise it with --max-memory)"));
    const std::uint64_t avail = available_memory_bytes();
    if (avail > 0 && bytes > avail)
        throw Error(what + ": needs " + format_bytes(bytes) + " but only " + format_bytes(avail) +
                    " of memory are available");
}

} // namespace snn
