// Fuzz target: the ONNX importer (protobuf parsing, initializers, attributes,
// the node walk) and the model-based normalization that runs on what it
// imports (`snn convert model.onnx` without --calib). The input is the .onnx
// file's bytes; the seeds are the fixtures of data/fixtures/onnx/.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "convert/convert.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A limit far below the machine's memory, so that a declared shape that
    // is merely large is refused quickly instead of slowing the campaign.
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    snn::ConvertOptions options;
    options.memory = budget;
    const std::string path = snn::fuzz::scratch_path("model.onnx");
    {
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
