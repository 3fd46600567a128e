// Memory budgets (--max-memory): size parsing, and the check every reader makes before allocating.
#include "convert/keras.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "snn/network_io.hpp"
#include "tests/support.hpp"

#include <catch2/catch.hpp>

using namespace snn;
using namespace snn::test;

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

TEST_CASE("a memory budget refuses above its limit, naming what and how much", "[memory]") {
    const MemoryBudget small(1ull << 20);
    CHECK(small.limit() == 1ull << 20);
    CHECK(small.limit_set());
    CHECK_NOTHROW(small.check(1ull << 20, "weights"));
    try {
        small.check((1ull << 20) + 1, "net.snn.h5");
        FAIL("no MemoryError");
    } catch (const MemoryError& e) {
        CHECK(std::string(e.what()) == "net.snn.h5: needs 1.0 MiB, above the memory limit of 1.0 MiB");
        CHECK(e.subject == "net.snn.h5");
        CHECK(e.needs == (1ull << 20) + 1);
        CHECK(e.limit == 1ull << 20);
        CHECK(e.limit_of == MemoryError::Limit::Set);
        CHECK(e.context.option == "max-memory"); // the key of the option that set it
    }
    // A budget is a value: another one, in the same process, keeps its own limit.
    const MemoryBudget machine;
    CHECK_FALSE(machine.limit_set());
    CHECK_NOTHROW(machine.check((1ull << 20) + 1, "net.snn.h5"));
    if (physical_memory_bytes() > 0) {
        CHECK(machine.limit() == physical_memory_bytes() / 4 * 3);
        try {
            machine.check(physical_memory_bytes(), "x");
            FAIL("no MemoryError");
        } catch (const MemoryError& e) {
            CHECK(e.limit_of == MemoryError::Limit::Default);
            CHECK_THAT(e.what(), Catch::Contains("(3/4 of this machine's memory)"));
            CHECK(e.context.option.empty());
        }
    } else {
        WARN("MemTotal is unknown here: the default limit (3/4 of physical memory) was not checked");
    }
    CHECK(MemoryBudget(0).limit() == machine.limit()); // 0: the default
}

TEST_CASE("readers check against the budget they are handed, not a process-wide one", "[memory]") {
    const std::string model = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    // The fixture's largest array is a few hundred bytes: 64 bytes refuses it,
    // naming the file; the default budget, given next in the same process, reads it.
    try {
        (void)import_keras(model, MemoryBudget(64));
        FAIL("no MemoryError");
    } catch (const MemoryError& e) {
        CHECK_THAT(e.what(), Catch::StartsWith(model));
        CHECK(e.limit == 64);
        CHECK(e.needs > 64);
    }
    const Network net = import_keras(model);
    CHECK(net.populations.size() > 1);
    TempDir dir;
    const std::string saved = dir.file("net.snn.h5");
    save(net, saved);
    CHECK_THROWS_AS(load(saved, MemoryBudget(64)), MemoryError);
    CHECK(load(saved) == net);
    const std::string data = dir.file("data.h5");
    write_data(data, std::vector<float>(10 * 16, 0.5f), {10, 4, 4, 1}, std::vector<std::int64_t>(10, 1));
    CHECK_THROWS_WITH(load_dataset(data, -1, "", MemoryBudget(100)),
                      Catch::Contains(":/x: needs 640 B, above the memory limit of 100 B"));
    CHECK(load_dataset(data, -1, "", MemoryBudget(640)).size() == 10);
}
