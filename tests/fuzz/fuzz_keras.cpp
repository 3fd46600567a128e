// Fuzz target: the Keras importer (model_config JSON + weight tables) and the
// model-based normalization that runs on what it imports (`snn convert`
// without --calib). The input is an H5Tree description (h5_tree.hpp) of the
// whole .h5 file; bytes that are not JSON become the model_config text itself,
// so configs that do not parse reach our parser too.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "convert/convert.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    // A limit far below the machine's memory, so that a declared shape that
    // is merely large is refused quickly instead of slowing the campaign.
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    snn::ConvertOptions options;
    options.memory = budget;
    json tree = json::parse(data, data + size, nullptr, false);
    if (tree.is_discarded() || !tree.is_object())
        tree = json{{"attrs", {{"model_config", std::string(reinterpret_cast<const char*>(data), size)}}}};
    const std::string path = snn::fuzz::scratch_path("model.h5");
    if (!snn::fuzz::H5Tree::write(path, tree)) return 0;
    try {
        snn::ConvertLog log;
        const snn::Network net = snn::convert_model(path, nullptr, options, log);
        (void)net;
    } catch (const snn::Error&) {
    }
    return 0;
}
