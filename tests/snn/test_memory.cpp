// --max-memory: size parsing and the check every reader makes before allocating.
#include "snn/error.hpp"
#include "snn/memory.hpp"

#include <catch2/catch.hpp>

using namespace snn;

TEST_CASE("memory sizes parse with binary units", "[memory]") {
    CHECK(parse_memory_size("1000") == 1000);
    CHECK(parse_memory_size("1K") == 1024);
    CHECK(parse_memory_size("512M") == 512ull << 20);
    CHECK(parse_memory_size("512MB") == 512ull << 20);
    CHECK(parse_memory_size("512MiB") == 512ull << 20);
    CHECK(parse_memory_size("4g") == 4ull << 30);
    CHECK(parse_memory_size("1.5G") == 3ull << 29);
    CHECK(parse_memory_size("2T") == 2ull << 40);
    for (const char* bad : {"", "G", "-1G", "0", "10Q", "1.5.5G", "nan", "inf", "1e30T"}) {
        INFO(bad);
        CHECK_THROWS_WITH(parse_memory_size(bad), Catch::StartsWith("max-memory '"));
    }
}

TEST_CASE("byte counts print in binary units", "[memory]") {
    CHECK(format_bytes(900) == "900 B");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(30ull << 20) == "30 MiB");
    CHECK(format_bytes(5ull << 40) == "5.0 TiB");
}

TEST_CASE("check_fits_in_memory refuses above the limit, naming what and how much", "[memory]") {
    set_memory_limit(1ull << 20);
    CHECK_NOTHROW(check_fits_in_memory(1ull << 20, "weights"));
    CHECK_THROWS_WITH(check_fits_in_memory((1ull << 20) + 1, "net.snn.h5"),
                      Catch::Contains("net.snn.h5") && Catch::Contains("needs 1.0 MiB") &&
                          Catch::Contains("limit of 1.0 MiB (--max-memory)"));
    set_memory_limit(0); // the default: 3/4 of physical memory
    if (physical_memory_bytes() > 0) {
        CHECK(memory_limit() == physical_memory_bytes() / 4 * 3);
        CHECK_THROWS_WITH(check_fits_in_memory(physical_memory_bytes(), "x"), Catch::Contains("raise it with --max-memory"));
    }
}
