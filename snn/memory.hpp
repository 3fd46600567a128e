#pragma once
// How much memory one network or data set may take.
//
// Every reader checks the bytes an array will need before allocating it, so
// a file that declares an absurd shape is refused with a message instead of
// crashing the machine. The limit is a value the caller hands to the readers
// (a MemoryBudget; the CLI makes it from --max-memory), never a process-wide
// setting: the smaller of the budget's limit (default: 3/4 of the machine's
// physical memory) and what the system can still give (MemAvailable).
#include "snn/error.hpp"

#include <cstdint>
#include <string>

namespace snn {

// "512M", "4G", "1.5GiB", "2T", "1000000" (bytes); K/M/G/T are powers of 1024.
// snn::Error on anything else, zero or negative included.
std::uint64_t parse_memory_size(const std::string& text);
std::string format_bytes(std::uint64_t bytes); // "1.5 GiB", "12 MiB", "900 B"

std::uint64_t physical_memory_bytes();  // MemTotal; 0 if unknown
std::uint64_t available_memory_bytes(); // MemAvailable; 0 if unknown

// An allocation refused: `subject` (the array, named by file and layer) would
// need `needs` bytes, above `limit`. `limit_of` says which limit: the one the
// budget was given (context.option is then "max-memory", the key of the
// option that sets it), the default, or what the system had available.
struct MemoryError : Error {
    enum class Limit { Set, Default, Available };
    MemoryError(std::string subject, std::uint64_t needs, std::uint64_t limit, Limit limit_of);
    std::string subject;
    std::uint64_t needs, limit;
    Limit limit_of;
};

// The memory one reader may allocate for one array. A value: copy it into
// whatever reads (h5::Node, ConvertOptions, RunOptions).
class MemoryBudget {
public:
    MemoryBudget() = default;                     // 3/4 of physical memory (8 GiB if unknown)
    explicit MemoryBudget(std::uint64_t limit) : set_(limit) {} // 0: the default
    std::uint64_t limit() const;
    bool limit_set() const { return set_ != 0; }
    // Throws MemoryError naming `what` and the bytes it would need if `bytes`
    // is above the limit or above what the system has available.
    void check(std::uint64_t bytes, const std::string& what) const;

private:
    std::uint64_t set_ = 0;
};

} // namespace snn
