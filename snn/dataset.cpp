#include "snn/dataset.hpp"

#include "snn/error.hpp"
#include "snn/h5.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#ifndef SNN_DEFAULT_DATA_DIR
#error "SNN_DEFAULT_DATA_DIR must be set on the snn_core target (see CMakeLists.txt)"
#endif

namespace snn {

namespace {

namespace fs = std::filesystem;

const char* const kKnownSets =
    "mnist:train|mnist:test|fashion-mnist:train|fashion-mnist:test or an HDF5 file with datasets x and y";

// ---------------------------------------------------------------------------
// IDX files (http://yann.lecun.com/exdb/mnist/): a big-endian header
//   magic = 0x0000 | type | ndims   (type 0x08 = unsigned byte)
//   ndims × uint32 dimensions
// followed by the bytes of the array, row-major. zlib's gzread reads gzip and
// plain files alike, so one reader serves both.

constexpr std::uint32_t kIdxImagesMagic = 0x00000803; // ubyte, 3 dims (N, rows, cols)
constexpr std::uint32_t kIdxLabelsMagic = 0x00000801; // ubyte, 1 dim (N)
constexpr int kIdxClasses = 10;                       // MNIST and Fashion-MNIST both have 10

class GzReader {
public:
    explicit GzReader(std::string path) : path_(std::move(path)) {
        file_ = gzopen(path_.c_str(), "rb");
        if (!file_) throw FileError(path_, path_ + ": cannot open for reading");
        gzbuffer(file_, 1u << 17);
    }
    ~GzReader() {
        if (file_) gzclose(file_);
    }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    const std::string& path() const { return path_; }
    bool is_plain() { return gzdirect(file_) == 1; }

    // Reads exactly n bytes; a short read means the file ends early.
    void read(void* buf, std::uint64_t n) {
        auto* p = static_cast<unsigned char*>(buf);
        while (n > 0) {
            const unsigned chunk = unsigned(std::min<std::uint64_t>(n, 1u << 24));
            const int got = gzread(file_, p, chunk);
            if (got < 0) {
                int code = 0;
                const char* msg = gzerror(file_, &code);
                if (code == Z_BUF_ERROR) throw FileError(path_, path_ + ": truncated (" + msg + ")");
                throw FileError(path_, path_ + ": cannot read (" + (msg ? msg : "zlib error") + "): corrupt file?");
            }
            if (unsigned(got) < chunk)
                throw FileError(path_, path_ + ": truncated (ends before the data its header declares)");
            p += got;
            n -= std::uint64_t(got);
        }
    }

    std::uint32_t read_be32() {
        std::array<unsigned char, 4> b{};
        read(b.data(), b.size());
        return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | std::uint32_t(b[3]);
    }

private:
    std::string path_;
    gzFile file_ = nullptr;
};

// Whole-file truncation check without reading the whole file: a plain file
// must be at least header + data bytes long; a gzip file records its
// uncompressed size mod 2^32 in its last 4 bytes (ISIZE, RFC 1952), which a
// truncated download does not end with.
void check_idx_length(GzReader& in, std::uint64_t expected_bytes) {
    std::error_code ec;
    const std::uint64_t on_disk = fs::file_size(in.path(), ec);
    if (ec) return;
    if (in.is_plain()) {
        if (on_disk < expected_bytes)
            throw FileError(in.path(), in.path() + ": truncated (" + std::to_string(on_disk) +
                                       " bytes, its header declares " + std::to_string(expected_bytes) + ")");
        return;
    }
    std::ifstream raw(in.path(), std::ios::binary);
    std::array<unsigned char, 4> b{};
    if (on_disk < 18 || !raw.seekg(-4, std::ios::end) || !raw.read(reinterpret_cast<char*>(b.data()), 4))
        throw FileError(in.path(), in.path() + ": truncated (too short for a gzip file)");
    const std::uint32_t isize =
        std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 | std::uint32_t(b[3]) << 24;
    if (isize != std::uint32_t(expected_bytes))
        throw FileError(in.path(), in.path() + ": truncated or corrupt (gzip size " + std::to_string(isize) +
                    " bytes, its IDX header declares " + std::to_string(expected_bytes) + ")");
}

void check_magic(GzReader& in, std::uint32_t expected, const char* kind) {
    const std::uint32_t magic = in.read_be32();
    if (magic != expected) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "wrong magic 0x%08x, expected 0x%08x", unsigned(magic), unsigned(expected));
        throw FileError(in.path(), in.path() + ": not an IDX " + kind + " file (" + buf + ")");
    }
}

// `<dir>/<name>` or `<dir>/<name>.gz`, whichever exists (plain first); a
// DataError naming the data set `spec` if neither does.
std::string find_idx_file(const std::string& spec, const fs::path& dir, const std::string& name) {
    std::error_code ec;
    for (const auto& candidate : {dir / name, dir / (name + ".gz")})
        if (fs::is_regular_file(candidate, ec)) return candidate.string();
    throw DataError(spec, (dir / name).string() + "[.gz] not found: run tools/setup.sh to fetch it");
}

std::string resolve_data_dir(const std::string& data_dir) {
    if (!data_dir.empty()) return data_dir;
    if (const char* env = std::getenv("SNN_DATA_DIR"); env && *env) return env;
    return SNN_DEFAULT_DATA_DIR;
}

Dataset load_idx(const std::string& spec, const std::string& set, const std::string& split, std::int64_t limit,
                 const std::string& data_dir) {
    const fs::path dir = fs::path(resolve_data_dir(data_dir)) / set;
    const std::string prefix = split == "train" ? "train" : "t10k";
    GzReader images(find_idx_file(spec, dir, prefix + "-images-idx3-ubyte"));
    GzReader labels(find_idx_file(spec, dir, prefix + "-labels-idx1-ubyte"));

    check_magic(images, kIdxImagesMagic, "images");
    const std::uint32_t n = images.read_be32();
    const std::uint32_t rows = images.read_be32();
    const std::uint32_t cols = images.read_be32();
    if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535)
        throw FileError(images.path(), images.path() + ": implausible image size " + std::to_string(rows) + "x" +
                                       std::to_string(cols));
    check_magic(labels, kIdxLabelsMagic, "labels");
    const std::uint32_t n_labels = labels.read_be32();
    if (n != n_labels)
        throw DataError(spec, images.path() + " holds " + std::to_string(n) + " images but " + labels.path() +
                              " holds " + std::to_string(n_labels) + " labels");
    if (n == 0) throw DataError(spec, images.path() + ": holds no images");

    const std::uint64_t pixels = std::uint64_t(rows) * cols;
    check_idx_length(images, 16 + std::uint64_t(n) * pixels);
    check_idx_length(labels, 8 + std::uint64_t(n));

    const std::uint64_t count = limit < 0 ? n : std::min<std::uint64_t>(n, std::uint64_t(limit));
    check_fits_in_memory(count * pixels * sizeof(float), images.path());

    Dataset ds;
    ds.name = spec;
    ds.shape = Shape{int(rows), int(cols), 1};
    ds.x.resize(count * pixels);
    ds.y.resize(count);

    // Pixels go through a bounded byte buffer rather than one of the whole split.
    std::vector<unsigned char> bytes;
    const std::uint64_t per_chunk = std::max<std::uint64_t>(1, (1u << 20) / pixels);
    for (std::uint64_t first = 0; first < count; first += per_chunk) {
        const std::uint64_t k = std::min(per_chunk, count - first);
        bytes.resize(k * pixels);
        images.read(bytes.data(), bytes.size());
        float* out = ds.x.data() + first * pixels;
        for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = float(bytes[i]) / 255.0f;
    }

    bytes.resize(count);
    labels.read(bytes.data(), bytes.size());
    for (std::uint64_t i = 0; i < count; ++i) {
        if (bytes[i] >= kIdxClasses)
            throw FileError(labels.path(), labels.path() + ": label " + std::to_string(bytes[i]) + " of sample " +
                                           std::to_string(i) + " is outside 0.." + std::to_string(kIdxClasses - 1));
        ds.y[i] = bytes[i];
    }
    return ds;
}

// ---------------------------------------------------------------------------
// HDF5 user data.

// Reads the first `rows` entries along axis 0 of a numeric dataset, converted
// to `mem_type`, through a hyperslab so that the rest is never read.
template <class T>
std::vector<T> read_leading_rows(const h5::Node& file, const std::string& name, std::uint64_t rows, hid_t mem_type) {
    const std::string where = file.file + ":/" + name;
    h5::Handle d(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) throw FileError(file.file, where + ": not a dataset");
    h5::Handle type(H5Dget_type(d.id()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw DataError(file.file, where + ": expected a numeric dataset");
    h5::Handle space(H5Dget_space(d.id()), H5Sclose);
    const int nd = H5Sget_simple_extent_ndims(space.id());
    if (nd < 1) throw DataError(file.file, where + ": expected an array with samples along its first axis");
    std::vector<hsize_t> count(std::size_t(nd), 0);
    H5Sget_simple_extent_dims(space.id(), count.data(), nullptr);
    if (rows > count[0]) throw InternalError("read_leading_rows: more rows asked than " + where + " holds");
    count[0] = rows;
    const std::vector<hsize_t> start(std::size_t(nd), 0);
    std::uint64_t n = 1;
    for (auto c : count) n *= c;
    std::vector<T> out(n);
    if (n == 0) return out;
    if (H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
        throw FileError(file.file, where + ": cannot select rows");
    h5::Handle mem(H5Screate_simple(nd, count.data(), nullptr), H5Sclose);
    if (H5Dread(d.id(), mem_type, mem.id(), space.id(), H5P_DEFAULT, out.data()) < 0)
        throw FileError(file.file, where + ": cannot read dataset (corrupt file?)");
    return out;
}

Shape sample_shape(const std::string& file, const std::vector<std::uint64_t>& dims) {
    auto dim = [&](std::size_t i) {
        if (dims[i] == 0 || dims[i] > std::uint64_t(INT_MAX))
            throw DataError(file, file + ": x dimension " + std::to_string(i) + " is " + std::to_string(dims[i]));
        return int(dims[i]);
    };
    switch (dims.size()) {
    case 2: return Shape{1, 1, dim(1)};
    case 3: return Shape{dim(1), dim(2), 1};
    case 4: return Shape{dim(1), dim(2), dim(3)};
    default:
        throw DataError(file, file + ": x has " + std::to_string(dims.size()) +
                    " dimensions; expected (N,H,W,C), (N,H,W) or (N,features)");
    }
}

Dataset load_hdf5(const std::string& spec, std::int64_t limit) {
    const h5::Node file = h5::open_file(spec);
    for (const char* name : {"x", "y"})
        if (!h5::exists(file, name))
            throw DataError(spec, spec + ": no dataset '" + name +
                        "' (expected x of shape (N,H,W,C), (N,H,W) or (N,features) and y of shape (N))");

    const std::vector<std::uint64_t> x_dims = h5::dataset_dims(file, "x");
    const std::vector<std::uint64_t> y_dims = h5::dataset_dims(file, "y");
    if (x_dims.empty()) throw DataError(spec, spec + ": x is a scalar; expected (N,H,W,C), (N,H,W) or (N,features)");
    if (!(y_dims.size() == 1 || (y_dims.size() == 2 && y_dims[1] == 1)))
        throw DataError(spec, spec + ": y must have shape (N) with one integer label per sample");
    const std::uint64_t n = x_dims[0];
    if (y_dims[0] != n)
        throw DataError(spec, spec + ": x holds " + std::to_string(n) + " samples but y holds " +
                              std::to_string(y_dims[0]) + " labels");
    if (n == 0) throw DataError(spec, spec + ": holds no samples");
    const Shape shape = sample_shape(spec, x_dims);

    const std::uint64_t count = limit < 0 ? n : std::min<std::uint64_t>(n, std::uint64_t(limit));
    check_fits_in_memory(count * std::uint64_t(shape.size()) * sizeof(float), spec + ":/x");

    Dataset ds;
    ds.name = spec;
    ds.shape = shape;
    ds.stored_dims.assign(x_dims.begin() + 1, x_dims.end());
    ds.x = read_leading_rows<float>(file, "x", count, H5T_NATIVE_FLOAT);
    const std::vector<std::int64_t> y = read_leading_rows<std::int64_t>(file, "y", count, H5T_NATIVE_INT64);

    const std::int64_t features = shape.size();
    for (std::size_t i = 0; i < ds.x.size(); ++i)
        if (!std::isfinite(ds.x[i]))
            throw DataError(spec, spec + ": x of sample " + std::to_string(std::int64_t(i) / features) + " holds " +
                        (std::isnan(ds.x[i]) ? "NaN" : "an infinity") + " (x must be finite)");
    ds.y.resize(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        if (y[i] < 0 || y[i] > INT_MAX)
            throw DataError(spec, spec + ": label " + std::to_string(y[i]) + " of sample " + std::to_string(i) +
                        " is not a class index (labels must be integers >= 0)");
        ds.y[i] = int(y[i]);
    }
    return ds;
}

std::string dims_text(const std::vector<std::uint64_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
    return s + ")";
}

bool looks_like_path(const std::string& spec) {
    if (spec.find('/') != std::string::npos) return true;
    const std::string ext = fs::path(spec).extension().string();
    return ext == ".h5" || ext == ".hdf5" || ext == ".hdf" || ext == ".he5";
}

} // namespace

Dataset load_dataset(const std::string& spec, std::int64_t limit, const std::string& data_dir) {
    if (limit == 0) throw OptionError("limit", "0", "limit must be positive (got 0)");

    const auto colon = spec.find(':');
    const std::string set = spec.substr(0, colon);
    if (set == "mnist" || set == "fashion-mnist") {
        if (colon == std::string::npos)
            throw DataError(spec, "data set '" + spec + "' needs a split: " + set + ":train or " + set + ":test");
        const std::string split = spec.substr(colon + 1);
        if (split != "train" && split != "test")
            throw DataError(spec, "unknown split '" + split + "' in data set '" + spec + "': expected " + set +
                                  ":train or " + set + ":test");
        return load_idx(spec, set, split, limit, data_dir);
    }

    std::error_code ec;
    if (fs::exists(spec, ec) || looks_like_path(spec)) return load_hdf5(spec, limit);
    throw DataError(spec, "unknown data set '" + spec + "': expected " + kKnownSets);
}

} // namespace snn

namespace snn {

void match_input_layout(Dataset& ds, const Network& net) {
    if (ds.stored_dims.empty()) return;
    if (net.input_layout == InputLayout::ChannelsLast) {
        ds.stored_dims.clear();
        return;
    }
    const Shape in = net.input().shape; // (H, W, C)
    const std::vector<std::uint64_t> chw{std::uint64_t(in.c), std::uint64_t(in.h), std::uint64_t(in.w)};
    std::uint64_t stored = 1;
    for (auto d : ds.stored_dims) stored *= d;
    if (in.c == 1 && stored == std::uint64_t(in.size())) {
        ds.shape = in; // one channel: (1, H, W), (H, W) and (H, W, 1) hold the same order
    } else if (ds.stored_dims == chw) {
        const std::size_t C = std::size_t(in.c), HW = std::size_t(in.h) * std::size_t(in.w), n = std::size_t(in.size());
        std::vector<float> sample(n);
        for (std::int64_t i = 0; i < ds.size(); ++i) {
            float* x = ds.x.data() + std::size_t(i) * n;
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t yx = 0; yx < HW; ++yx) sample[yx * C + c] = x[c * HW + yx];
            std::copy(sample.begin(), sample.end(), x);
        }
        ds.shape = in;
    } else {
        throw DataError(ds.name, ds.name + ": x has samples of shape " + dims_text(ds.stored_dims) + " but the model '" +
                                     net.source + "' is channels_first and reads " + dims_text(chw) + " (C, H, W)");
    }
    ds.stored_dims.clear();
}

} // namespace snn
