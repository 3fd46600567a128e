#include "convert/keras_archive.hpp"

#include "snn/error.hpp"
#include "snn/memory.hpp"

#include <zip.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <memory>
#include <vector>

namespace snn {
namespace {

struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); } // read-only: nothing to write back
};
struct ZipFileCloser {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::string zip_error_text(int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    std::string text = zip_error_strerror(&e);
    zip_error_fini(&e);
    return text;
}

// One member of the archive, whole, into memory; `found` false (and nothing
// read) when the archive has no member of that name.
std::vector<char> read_member(const MemoryBudget& budget, zip_t* z, const std::string& path, const char* name, bool& found) {
    const zip_int64_t index = zip_name_locate(z, name, 0);
    found = index >= 0;
    if (!found) return {};
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, zip_uint64_t(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        throw FileError(path, path + ": cannot read the size of " + name + " in the archive (" +
                                  zip_strerror(z) + ")");
    // The size is what the archive's directory claims; it is checked against
    // the memory limit before anything of that size is allocated.
    budget.check(st.size, path + ": " + name);
    std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(z, zip_uint64_t(index), 0));
    if (!f) throw FileError(path, path + ": cannot open " + name + " in the archive (" + zip_strerror(z) + ")");
    std::vector<char> bytes(std::size_t(st.size));
    zip_uint64_t done = 0;
    char extra;
    for (;;) {
        // One read past the declared size: libzip checks the CRC when a read
        // finds the end, and a member longer than declared is damaged too.
        const bool past = done == st.size;
        const zip_int64_t n = past ? zip_fread(f.get(), &extra, 1) : zip_fread(f.get(), bytes.data() + done, st.size - done);
        if (n < 0)
            throw FileError(path, path + ": " + name + " in the archive is damaged (" + zip_file_strerror(f.get()) + ")");
        if (n == 0) break;
        if (past)
            throw FileError(path, path + ": " + name + " in the archive is damaged (longer than the " +
                                      std::to_string(st.size) + " bytes its directory entry says)");
        done += zip_uint64_t(n);
    }
    if (done != st.size)
        throw FileError(path, path + ": " + name + " in the archive is damaged (" + std::to_string(done) +
                                  " bytes where its directory entry says " + std::to_string(st.size) + ")");
    return bytes;
}

// An HDF5 file image opened read-only with the core driver: HDF5 copies the
// bytes into its own buffer and never touches the disk (backing_store 0). The
// name only identifies the open file to HDF5, which shares one handle between
// two opens of the same name; a counter keeps every open of an archive apart.
h5::Node open_hdf5_image(const std::string& path, std::vector<char>& image, const MemoryBudget& budget) {
    h5::silence_errors();
    // The property list takes a copy of the image and the opened file another
    // (the first is freed once the file is open): two more of its size at once.
    budget.check(2 * std::uint64_t(image.size()), path + ": model.weights.h5 opened in memory");
    static std::atomic<unsigned long> opened{0};
    const std::string label = path + " (model.weights.h5)";
    const std::string name = path + "#model.weights.h5#" + std::to_string(opened++);
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_fapl_core(fapl.id(), 64 * 1024, 0) < 0 ||
        H5Pset_file_image(fapl.id(), image.data(), image.size()) < 0)
        throw FileError(path, label + ": cannot hand the weights file to HDF5");
    const hid_t f = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.id());
    if (f < 0) throw FileError(path, label + ": not an HDF5 file (corrupt or truncated?)");
    return h5::Node{h5::Handle(f, H5Fclose), label, "/", budget};
}

} // namespace

bool is_keras_archive_path(const std::string& path) {
    return path.size() >= 6 && path.compare(path.size() - 6, 6, ".keras") == 0;
}

KerasArchive open_keras_archive(const std::string& path, const MemoryBudget& budget) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw FileError(path, path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw FileError(path, path + ": is a directory, not a file");
    int code = 0;
    // ZIP_CHECKCONS: the central directory must agree with the local headers,
    // so that a truncated or spliced archive is refused when it is opened.
    std::unique_ptr<zip_t, ZipCloser> z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
    if (!z) {
        if (code == ZIP_ER_NOZIP)
            throw FileError(path, path + ": not a Keras 3 .keras file (not a zip archive, or one cut short)");
        throw FileError(path, path + ": not a readable .keras archive (" + zip_error_text(code) + ")");
    }
    KerasArchive a;
    bool found = false;
    std::vector<char> bytes = read_member(budget, z.get(), path, "config.json", found);
    if (!found) throw FileError(path, path + ": the .keras archive has no config.json (the model description)");
    a.config.assign(bytes.begin(), bytes.end());
    bytes = read_member(budget, z.get(), path, "metadata.json", found);
    a.metadata.assign(bytes.begin(), bytes.end());
    bytes = read_member(budget, z.get(), path, "model.weights.h5", found);
    if (!found) {
        if (zip_name_locate(z.get(), "model.weights.npz", 0) >= 0)
            throw FileError(path, path + ": the weights are stored as model.weights.npz (weights_format=\"npz\"); "
                                         "only model.weights.h5 is read: save with the default weights_format");
        throw FileError(path, path + ": the .keras archive has no model.weights.h5 (the weights)");
    }
    a.weights = open_hdf5_image(path, bytes, budget);
    return a;
}

// keras/src/utils/naming.py, to_snake_case:
//   name = re.sub(r"\W+", "", name)
//   name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
//   name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
// each substitution scanning left to right without overlap, as re.sub does.
std::string keras_snake_case(const std::string& class_name) {
    const auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    std::string s;
    for (char c : class_name)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
    std::string t;
    for (std::size_t i = 0; i < s.size();) {
        if (i + 2 < s.size() && upper(s[i + 1]) && lower(s[i + 2])) {
            std::size_t j = i + 3;
            while (j < s.size() && lower(s[j])) ++j;
            t += s[i];
            t += '_';
            t.append(s, i + 1, j - i - 1);
            i = j;
        } else {
            t += s[i++];
        }
    }
    std::string u;
    for (std::size_t i = 0; i < t.size();) {
        if (i + 1 < t.size() && lower(t[i]) && upper(t[i + 1])) {
            u += t[i];
            u += '_';
            u += t[i + 1];
            i += 2;
        } else {
            u += t[i++];
        }
    }
    for (char& c : u) c = char(std::tolower(static_cast<unsigned char>(c)));
    return u;
}

} // namespace snn
