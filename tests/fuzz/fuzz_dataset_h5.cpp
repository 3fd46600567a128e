// Fuzz target: the HDF5 data-set readers (`--data FILE.h5`, `--calib FILE.h5`,
// and with `--encode frames` frames or an event list).
// The input is an H5Tree description (h5_tree.hpp) of the file; a root key
// "limit" (integer) is passed as --limit.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    const json tree = json::parse(data, data + size, nullptr, false);
    if (tree.is_discarded() || !tree.is_object()) return 0;
    std::int64_t limit = -1;
    if (auto it = tree.find("limit"); it != tree.end() && it->is_number_integer()) limit = it->get<std::int64_t>();
    const std::string path = snn::fuzz::scratch_path("data.h5");
    if (!snn::fuzz::H5Tree::write(path, tree)) return 0;
    try {
        const snn::Dataset ds = snn::load_dataset(path, limit, "", budget);
        // What the engine relies on: one label per sample and x holding exactly
        // that many samples of the declared shape.
        if (ds.size() < 1 || ds.x.size() != std::size_t(ds.size()) * std::size_t(ds.shape.size())) std::abort();
        if (limit > 0 && ds.size() > limit) std::abort();
    } catch (const snn::Error&) {
    }
    // The same file as frames or an event list (--encode frames); root keys
    // "nchw" (bool), "bin" (number) and "steps" (integer) pick the options.
    try {
        snn::FrameOptions o;
        o.memory = budget;
        if (auto it = tree.find("nchw"); it != tree.end() && it->is_boolean() && it->get<bool>())
            o.layout = snn::FrameLayout::ChannelsFirst;
        if (auto it = tree.find("bin"); it != tree.end() && it->is_number()) o.bin = it->get<double>();
        if (auto it = tree.find("steps"); it != tree.end() && it->is_number_integer())
            o.max_steps = int(std::max<std::int64_t>(-1, std::min<std::int64_t>(it->get<std::int64_t>(), 1 << 20)));
        const snn::Dataset ds = snn::load_frames(path, limit, o);
        // What the engine relies on: frame_at ascending over every sample's
        // steps, units inside a frame, ascending within a step, and the mean frames.
        const std::size_t n = std::size_t(ds.shape.size());
        if (ds.size() < 1 || ds.frames < 1 || ds.x.size() != std::size_t(ds.size()) * n) std::abort();
        if (ds.frame_at.size() != std::size_t(ds.size()) * std::size_t(ds.frames) + 1 || ds.frame_at[0] != 0 ||
            ds.frame_at.back() != std::int64_t(ds.frame_unit.size()) || ds.frame_unit.size() != ds.frame_value.size())
            std::abort();
        for (std::size_t k = 0; k + 1 < ds.frame_at.size(); ++k) {
            if (ds.frame_at[k] > ds.frame_at[k + 1]) std::abort();
            for (std::int64_t e = ds.frame_at[k]; e < ds.frame_at[k + 1]; ++e) {
                if (ds.frame_unit[std::size_t(e)] < 0 || std::size_t(ds.frame_unit[std::size_t(e)]) >= n) std::abort();
                if (e > ds.frame_at[k] && ds.frame_unit[std::size_t(e)] <= ds.frame_unit[std::size_t(e) - 1]) std::abort();
            }
        }
        if (limit > 0 && ds.size() > limit) std::abort();
    } catch (const snn::Error&) {
    }
    return 0;
}
