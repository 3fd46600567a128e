// Fuzz target: the HDF5 data-set reader (`--data FILE.h5`, `--calib FILE.h5`).
// The input is an H5Tree description (h5_tree.hpp) of the file; a root key
// "limit" (integer) is passed as --limit.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    static const bool limited = (snn::set_memory_limit(std::uint64_t(64) << 20), true);
    (void)limited;
    const json tree = json::parse(data, data + size, nullptr, false);
    if (tree.is_discarded() || !tree.is_object()) return 0;
    std::int64_t limit = -1;
    if (auto it = tree.find("limit"); it != tree.end() && it->is_number_integer()) limit = it->get<std::int64_t>();
    const std::string path = snn::fuzz::scratch_path("data.h5");
    if (!snn::fuzz::H5Tree::write(path, tree)) return 0;
    try {
        const snn::Dataset ds = snn::load_dataset(path, limit);
        // What the engine relies on: one label per sample and x holding exactly
        // that many samples of the declared shape.
        if (ds.size() < 1 || ds.x.size() != std::size_t(ds.size()) * std::size_t(ds.shape.size())) std::abort();
        if (limit > 0 && ds.size() > limit) std::abort();
    } catch (const snn::Error&) {
    }
    return 0;
}
