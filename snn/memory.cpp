#include "snn/memory.hpp"

#include "snn/error.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <utility>

namespace snn {

namespace {

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

namespace {

std::string memory_message(const std::string& subject, std::uint64_t needs, std::uint64_t limit,
                           MemoryError::Limit limit_of) {
    const std::string head = subject + ": needs " + format_bytes(needs);
    switch (limit_of) {
    case MemoryError::Limit::Set: return head + ", above the memory limit of " + format_bytes(limit);
    case MemoryError::Limit::Default:
        return head + ", above the memory limit of " + format_bytes(limit) + " (3/4 of this machine's memory)";
    case MemoryError::Limit::Available: break;
    }
    return head + " but only " + format_bytes(limit) + " of memory are available";
}

} // namespace

MemoryError::MemoryError(std::string subject_, std::uint64_t needs_, std::uint64_t limit_, Limit limit_of_)
    : Error(memory_message(subject_, needs_, limit_, limit_of_),
            {{}, {}, limit_of_ == Limit::Set ? "max-memory" : "", {}}),
      subject(std::move(subject_)), needs(needs_), limit(limit_), limit_of(limit_of_) {}

std::uint64_t MemoryBudget::limit() const {
    if (set_) return set_;
    const std::uint64_t total = physical_memory_bytes();
    return total > 0 ? total / 4 * 3 : std::uint64_t(8) << 30;
}

void MemoryBudget::check(std::uint64_t bytes, const std::string& what) const {
    const std::uint64_t lim = limit();
    if (bytes > lim) throw MemoryError(what, bytes, lim, set_ ? MemoryError::Limit::Set : MemoryError::Limit::Default);
    const std::uint64_t avail = available_memory_bytes();
    if (avail > 0 && bytes > avail) throw MemoryError(what, bytes, avail, MemoryError::Limit::Available);
}

} // namespace snn
