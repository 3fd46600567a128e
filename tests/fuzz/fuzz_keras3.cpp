// Fuzz target: the Keras 3 `.keras` reader (convert/keras_archive.cpp: the zip
// archive, config.json, the in-memory model.weights.h5 and its
// layers/<key>/vars groups), then the same layer conversion and model-based
// normalization as `snn convert model.keras` without --calib.
//
// Two kinds of input. A JSON object {"config": C, "weights": TREE,
// "metadata": M, "members": [...]} is built into an archive here: config.json
// holds C (an object as its JSON text, a string as it is), model.weights.h5 the
// H5Tree TREE (h5_tree.hpp), and "members" (default all three) says which
// files the archive holds. So the fuzzer mutates the config and the weights'
// structure, which a member's CRC-32 would otherwise guard. Any other input
// is the archive's own bytes, for the zip reader. Seeds: both kinds, from the
// Keras fixtures (tools/make_fuzz_seeds.py).
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "convert/convert.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <zip.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Writes the archive `tree` describes to `path`; false if it cannot be made.
bool write_archive(const std::string& path, const nlohmann::json& tree) {
    using nlohmann::json;
    const json& c = tree.contains("config") ? tree["config"] : json();
    const json& m = tree.contains("metadata") ? tree["metadata"] : json::object();
    const std::string config = c.is_string() ? c.get<std::string>() : c.dump();
    const std::string metadata = m.is_string() ? m.get<std::string>() : m.dump();
    const std::string weights_path = snn::fuzz::scratch_path("model.weights.h5");
    const json& w = tree.contains("weights") && tree["weights"].is_object() ? tree["weights"] : json::object();
    if (!snn::fuzz::H5Tree::write(weights_path, w)) return false;
    const std::string weights = slurp(weights_path);
    json members = tree.contains("members") ? tree["members"] : json::array({"metadata.json", "config.json", "model.weights.h5"});
    if (!members.is_array()) return false;
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) return false;
    bool ok = true;
    for (const auto& name : members) {
        if (!name.is_string()) continue;
        const std::string n = name.get<std::string>();
        const std::string& bytes = n == "config.json" ? config : n == "model.weights.h5" ? weights : metadata;
        // zip_close reads the buffers, which outlive it here; 0: libzip does not free them.
        zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
        if (!src || zip_file_add(z, n.c_str(), src, ZIP_FL_OVERWRITE) < 0) {
            if (src) zip_source_free(src);
            ok = false;
            break;
        }
    }
    if (!ok) {
        zip_discard(z);
        return false;
    }
    return zip_close(z) == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A limit far below the machine's memory, so that a declared size that
    // is merely large is refused quickly instead of slowing the campaign.
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    snn::ConvertOptions options;
    options.memory = budget;
    const std::string path = snn::fuzz::scratch_path("model.keras");
    const nlohmann::json tree = nlohmann::json::parse(data, data + size, nullptr, false);
    if (!tree.is_discarded() && tree.is_object()) {
        if (!write_archive(path, tree)) return 0;
    } else {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
        if (!f) return 0;
    }
    try {
        snn::ConvertLog log;
        const snn::Network net = snn::convert_model(path, nullptr, options, log);
        (void)net;
    } catch (const snn::Error&) {
    }
    return 0;
}
