#pragma once
// How much memory one network or data set may take (--max-memory).
//
// Every reader checks the bytes an array will need before allocating it, so
// a file that declares an absurd shape is refused with a message instead of
// crashing the machine. The limit is the smaller of --max-memory (default:
// 3/4 of the machine's physical memory) and what the system can still give
// (MemAvailable).
#include <cstdint>
#include <string>

namespace snn {

// "512M", "4G", "1.5GiB", "2T", "1000000" (bytes); K/M/G/T are powers of 1024.
// snn::Error on anything else, zero or negative included.
std::uint64_t parse_memory_size(const std::string& text);
std::string format_bytes(std::uint64_t bytes); // "1.5 GiB", "12 MiB", "900 B"

std::uint64_t physical_memory_bytes();  // MemTotal; 0 if unknown
std::uint64_t available_memory_bytes(); // MemAvailable; 0 if unknown

// The limit set by --max-memory; 0 restores the default.
void set_memory_limit(std::uint64_t bytes);
std::uint64_t memory_limit();

// Throws snn::Error naming `what` and the bytes it would need if `bytes` is
// above the limit or above what the system has available.
void check_fits_in_memory(std::uint64_t bytes, const std::string& what);

} // namespace snn
