// Fuzz target: the IDX reader (MNIST / Fashion-MNIST, plain or gzip).
//
// Input: byte 0 = flags (bit 0: gzip the images file, bit 1: gzip the labels
// file, bit 2: write the images bytes as a .gz file as they are, so that a
// corrupt gzip stream reaches zlib and our error handling, bits 4-7: --limit,
// 0 = all), bytes 1-2 = length of the images file (little endian), then the
// images file, then the labels file.
//
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"

#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;

void write_plain(const fs::path& path, const std::uint8_t* data, std::size_t n) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (n > 0) std::fwrite(data, 1, n, f);
    std::fclose(f);
}

void write_gzip(const fs::path& path, const std::uint8_t* data, std::size_t n) {
    gzFile f = gzopen(path.c_str(), "wb1");
    if (!f) std::abort();
    if (n > 0) gzwrite(f, data, unsigned(n));
    gzclose(f);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    static const fs::path root = [] {
        const fs::path r = fs::path(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") /
                           ("snn-fuzz-idx-" + std::to_string(getpid()));
        fs::create_directories(r / "mnist");
        return r;
    }();
    if (size < 3) return 0;
    const unsigned flags = data[0];
    std::size_t images_len = std::size_t(data[1]) | std::size_t(data[2]) << 8;
    data += 3;
    size -= 3;
    if (images_len > size) images_len = size;
    const fs::path dir = root / "mnist";
    for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}) {
        std::error_code ec;
        fs::remove(dir / name, ec);
        fs::remove(dir / (std::string(name) + ".gz"), ec);
    }
    const fs::path images = dir / "train-images-idx3-ubyte", labels = dir / "train-labels-idx1-ubyte";
    if (flags & 4) write_plain(images.string() + ".gz", data, images_len);
    else if (flags & 1) write_gzip(images.string() + ".gz", data, images_len);
    else write_plain(images, data, images_len);
    if (flags & 2) write_gzip(labels.string() + ".gz", data + images_len, size - images_len);
    else write_plain(labels, data + images_len, size - images_len);
    const std::int64_t limit = (flags >> 4) == 0 ? -1 : std::int64_t(flags >> 4);
    try {
        const snn::Dataset ds = snn::load_dataset("mnist:train", limit, root.string(), budget);
        if (ds.size() < 1 || ds.x.size() != std::size_t(ds.size()) * std::size_t(ds.shape.size())) std::abort();
        for (float v : ds.x)
            if (!(v >= 0.0f && v <= 1.0f)) std::abort();
        for (int y : ds.y)
            if (y < 0 || y > 9) std::abort();
    } catch (const snn::Error&) {
    }
    return 0;
}
