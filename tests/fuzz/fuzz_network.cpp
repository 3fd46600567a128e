// Fuzz target: the `.snn.h5` reader (snn::load), then what `snn inspect`
// does with a network it accepted, then save → load, which must give the same
// network back. The input is an H5Tree description (h5_tree.hpp) of the file.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "snn/error.hpp"
#include "snn/inspect.hpp"
#include "snn/memory.hpp"
#include "snn/network_io.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    const json tree = json::parse(data, data + size, nullptr, false);
    if (tree.is_discarded() || !tree.is_object()) return 0;
    const std::string path = snn::fuzz::scratch_path("net.snn.h5");
    if (!snn::fuzz::H5Tree::write(path, tree)) return 0;
    snn::Network net;
    try {
        net = snn::load(path, budget);
    } catch (const snn::Error&) {
        return 0;
    }
    (void)snn::describe(net, path);
    (void)snn::describe_json(net).dump();
    // A network load() accepted must save, and read back as itself.
    const std::string again = snn::fuzz::scratch_path("again.snn.h5");
    snn::save(net, again);
    if (!(snn::load(again) == net)) std::abort();
    return 0;
}
