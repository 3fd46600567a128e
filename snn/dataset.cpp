#include "snn/dataset.hpp"

#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/rademacher.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

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
                 const std::string& data_dir, const MemoryBudget& budget) {
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
    budget.check(count * pixels * sizeof(float), images.path());

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

// Reads the block [start, start + count) of a numeric dataset, converted to `mem_type`.
template <class T>
std::vector<T> read_block(const h5::Node& file, const std::string& name, const std::vector<hsize_t>& start,
                          const std::vector<hsize_t>& count, hid_t mem_type) {
    const std::string where = file.file + ":/" + name;
    h5::Handle d(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) throw FileError(file.file, where + ": not a dataset");
    h5::Handle type(H5Dget_type(d.id()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw DataError(file.file, where + ": expected a numeric dataset");
    h5::Handle space(H5Dget_space(d.id()), H5Sclose);
    std::uint64_t n = 1;
    for (auto c : count) n *= c;
    std::vector<T> out(n);
    if (n == 0) return out;
    if (H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
        throw FileError(file.file, where + ": cannot select a block");
    h5::Handle mem(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose);
    if (H5Dread(d.id(), mem_type, mem.id(), space.id(), H5P_DEFAULT, out.data()) < 0)
        throw FileError(file.file, where + ": cannot read dataset (corrupt file?)");
    return out;
}

// Reads the first `rows` entries along axis 0 of a numeric dataset, converted
// to `mem_type`, through a hyperslab so that the rest is never read.
template <class T>
std::vector<T> read_leading_rows(const h5::Node& file, const std::string& name, std::uint64_t rows, hid_t mem_type) {
    std::vector<hsize_t> count;
    for (std::uint64_t d : h5::dataset_dims(file, name)) count.push_back(hsize_t(d));
    if (count.empty())
        throw DataError(file.file, file.file + ":/" + name + ": expected an array with samples along its first axis");
    if (rows > count[0]) throw InternalError("read_leading_rows: more rows asked than " + file.file + ":/" + name + " holds");
    count[0] = rows;
    return read_block<T>(file, name, std::vector<hsize_t>(count.size(), 0), count, mem_type);
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
                    " dimensions; expected (N,H,W,C), (N,H,W) or (N,features)" +
                    (dims.size() == 5 ? " (frames (N,T,H,W,C) need --encode frames)" : ""));
    }
}

Dataset load_hdf5(const std::string& spec, std::int64_t limit, const MemoryBudget& budget) {
    const h5::Node file = h5::open_file(spec, budget);
    if (!h5::exists(file, "x") && h5::exists(file, "events"))
        throw DataError(spec, spec + ": holds an event list (events), which needs --encode frames");
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
    budget.check(count * std::uint64_t(shape.size()) * sizeof(float), spec + ":/x");

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

// ---------------------------------------------------------------------------
// Frames and event lists (see dataset.hpp).


// Labels y of the first `count` of n samples, checked as load_hdf5 checks them.
std::vector<int> read_labels(const h5::Node& file, const std::string& spec, std::uint64_t n, std::uint64_t count) {
    const std::vector<std::uint64_t> y_dims = h5::dataset_dims(file, "y");
    if (!(y_dims.size() == 1 || (y_dims.size() == 2 && y_dims[1] == 1)))
        throw DataError(spec, spec + ": y must have shape (N) with one integer label per sample");
    if (y_dims[0] != n)
        throw DataError(spec, spec + ": holds " + std::to_string(n) + " samples but y holds " + std::to_string(y_dims[0]) +
                                  " labels");
    const std::vector<std::int64_t> y = read_leading_rows<std::int64_t>(file, "y", count, H5T_NATIVE_INT64);
    std::vector<int> out(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        if (y[i] < 0 || y[i] > INT_MAX)
            throw DataError(spec, spec + ": label " + std::to_string(y[i]) + " of sample " + std::to_string(i) +
                                      " is not a class index (labels must be integers >= 0)");
        out[i] = int(y[i]);
    }
    return out;
}

// x = each sample's mean frame over its `frames` steps, from the sparse frames.
void mean_frames(Dataset& ds, const MemoryBudget& budget) {
    const std::size_t n = std::size_t(ds.shape.size());
    budget.check(std::uint64_t(ds.size()) * n * sizeof(float), ds.name + " (mean frames)");
    ds.x.assign(std::size_t(ds.size()) * n, 0.0f);
    std::vector<double> sum(n);
    for (std::int64_t i = 0; i < ds.size(); ++i) {
        std::fill(sum.begin(), sum.end(), 0.0);
        const std::int64_t* at = ds.frame_at.data() + i * ds.frames;
        for (std::int64_t e = at[0]; e < at[ds.frames]; ++e) sum[std::size_t(ds.frame_unit[std::size_t(e)])] += ds.frame_value[std::size_t(e)];
        float* x = ds.x.data() + std::size_t(i) * n;
        for (std::size_t j = 0; j < n; ++j) x[j] = float(sum[j] / ds.frames);
    }
}

Dataset load_dense_frames(const h5::Node& file, const std::string& spec, std::int64_t limit, const FrameOptions& o) {
    const std::vector<std::uint64_t> dims = h5::dataset_dims(file, "x");
    const bool nchw = o.layout == FrameLayout::ChannelsFirst;
    if (dims.size() < 3 || dims.size() > 5)
        throw DataError(spec, spec + ": x has shape " + dims_text(dims) + "; frames are (N,T,H,W,C)" +
                                  (nchw ? " or, with --layout nchw, (N,T,C,H,W)" : "") + ", (N,T,H,W) or (N,T,features)");
    for (std::size_t k = 0; k < dims.size(); ++k)
        if (dims[k] == 0 || dims[k] > std::uint64_t(INT_MAX))
            throw DataError(spec, spec + ": x has shape " + dims_text(dims) + " (dimension " + std::to_string(k) + " is " +
                                      std::to_string(dims[k]) + (k == 1 ? ": no frames" : "") + ")");
    const std::uint64_t n = dims[0], T = dims[1];
    if (o.max_steps > 0 && std::uint64_t(o.max_steps) > T)
        throw DataError(spec, spec + ": holds " + std::to_string(T) + " frames per sample, fewer than the " +
                                  std::to_string(o.max_steps) + " steps asked (run at most " + std::to_string(T) +
                                  " steps, or leave --steps out to run them all)");
    const int steps = o.max_steps > 0 ? o.max_steps : int(T);
    Dataset ds;
    ds.name = spec;
    ds.frames = steps;
    // Stored order of one frame, and the engine's (H, W, C).
    int H = 1, W = 1, C = 1;
    if (dims.size() == 3) C = int(dims[2]);
    else if (dims.size() == 4) H = int(dims[2]), W = int(dims[3]);
    else if (nchw) C = int(dims[2]), H = int(dims[3]), W = int(dims[4]);
    else H = int(dims[2]), W = int(dims[3]), C = int(dims[4]);
    ds.shape = Shape{H, W, C};
    const std::size_t frame = std::size_t(ds.shape.size());
    const std::uint64_t count = limit < 0 ? n : std::min<std::uint64_t>(n, std::uint64_t(limit));
    ds.y = read_labels(file, spec, n, count);
    const std::size_t HW = std::size_t(H) * std::size_t(W);
    const bool transpose = nchw && dims.size() == 5 && C > 1;

    // A sample at a time: its frames read through a hyperslab, kept sparse.
    file.budget.check((count * std::uint64_t(steps) + 1) * sizeof(std::int64_t) +
                             std::uint64_t(steps) * frame * sizeof(float),
                         spec + ":/x");
    ds.frame_at.assign(std::size_t(count) * std::size_t(steps) + 1, 0);
    std::vector<hsize_t> start(dims.size(), 0), block(dims.begin(), dims.end());
    block[0] = 1;
    block[1] = hsize_t(steps);
    std::vector<float> sample(frame);
    for (std::uint64_t i = 0; i < count; ++i) {
        start[0] = hsize_t(i);
        const std::vector<float> raw = read_block<float>(file, "x", start, block, H5T_NATIVE_FLOAT);
        for (int t = 0; t < steps; ++t) {
            const float* f = raw.data() + std::size_t(t) * frame;
            for (std::size_t k = 0; k < frame; ++k)
                if (!std::isfinite(f[k]))
                    throw DataError(spec, spec + ": x of sample " + std::to_string(i) + ", frame " + std::to_string(t) +
                                              " holds " + (std::isnan(f[k]) ? "NaN" : "an infinity") + " (x must be finite)");
            if (transpose)
                for (std::size_t c = 0; c < std::size_t(C); ++c)
                    for (std::size_t yx = 0; yx < HW; ++yx) sample[yx * std::size_t(C) + c] = f[c * HW + yx];
            else
                std::copy(f, f + frame, sample.begin());
            for (std::size_t k = 0; k < frame; ++k)
                if (sample[k] != 0.0f) {
                    ds.frame_unit.push_back(std::int32_t(k));
                    ds.frame_value.push_back(sample[k]);
                }
            ds.frame_at[std::size_t(i) * std::size_t(steps) + std::size_t(t) + 1] = std::int64_t(ds.frame_unit.size());
        }
        file.budget.check(ds.frame_unit.size() * (sizeof(std::int32_t) + sizeof(float)), spec + ":/x (frames)");
    }
    mean_frames(ds, file.budget);
    return ds;
}

Dataset load_events(const h5::Node& file, const std::string& spec, std::int64_t limit, const FrameOptions& o) {
    const std::string where = spec + ":/events";
    const std::vector<std::uint64_t> dims = h5::dataset_dims(file, "events");
    if (dims.size() != 2 || dims[1] != 5)
        throw DataError(spec, where + " has shape " + dims_text(dims) + "; expected (M,5): columns sample, t, x, y, p");
    if (!(o.bin > 0) || !std::isfinite(o.bin))
        throw OptionError("bin", std::to_string(o.bin), "--bin must be a positive number of t units per step");
    for (const char* a : {"height", "width"})
        if (!h5::has_attr(file, a))
            throw DataError(spec, spec + ": no root attribute '" + a +
                                      "' (an event list states the sensor's size: attributes height and width)");
    const std::int64_t H = h5::read_int_attr(file, "height"), W = h5::read_int_attr(file, "width");
    const std::int64_t P = h5::has_attr(file, "polarities") ? h5::read_int_attr(file, "polarities") : 2;
    if (H < 1 || W < 1 || P < 1 || H > 65535 || W > 65535 || P > 65535)
        throw DataError(spec, spec + ": sensor size height " + std::to_string(H) + ", width " + std::to_string(W) +
                                  ", polarities " + std::to_string(P) + " (each must be 1 to 65535)");
    if (!h5::exists(file, "y")) throw DataError(spec, spec + ": no dataset 'y' (one label per sample)");
    const std::uint64_t n = h5::dataset_dims(file, "y").empty() ? 0 : h5::dataset_dims(file, "y")[0];
    if (n == 0) throw DataError(spec, spec + ": holds no samples (y is empty)");
    const std::uint64_t count = limit < 0 ? n : std::min<std::uint64_t>(n, std::uint64_t(limit));

    Dataset ds;
    ds.name = spec;
    ds.shape = Shape{int(H), int(W), int(P)};
    ds.y = read_labels(file, spec, n, count);
    const std::uint64_t units = std::uint64_t(ds.shape.size());
    // Pass 1 checks every event and finds the last step; pass 2 keeps those
    // of the samples read, as keys (sample, step, unit) sorted, so that the
    // frames come out in order whatever the order of the file.
    const std::uint64_t M = dims[0], chunk = 1u << 20;
    std::int64_t last_step = -1;
    std::vector<std::uint64_t> keys;
    const auto column = [](const double* e, int c) { return e[c]; };
    for (int pass = 0; pass < 2; ++pass)
        for (std::uint64_t first = 0; first < M; first += chunk) {
            const std::uint64_t k = std::min(chunk, M - first);
            const std::vector<double> ev = read_block<double>(file, "events", {hsize_t(first), 0}, {hsize_t(k), 5}, H5T_NATIVE_DOUBLE);
            for (std::uint64_t r = 0; r < k; ++r) {
                const double* e = ev.data() + r * 5;
                const double s = column(e, 0), t = column(e, 1), x = column(e, 2), y = column(e, 3);
                double p = column(e, 4);
                if (pass == 0) {
                    const auto bad = [&](const char* what, double v, const std::string& want) {
                        char buf[64];
                        std::snprintf(buf, sizeof buf, "%.17g", v);
                        throw DataError(spec, where + ": event " + std::to_string(first + r) + " has " + what + " = " + buf +
                                                  " (" + want + ")");
                    };
                    if (!(s >= 0 && s < double(n) && s == std::floor(s)))
                        bad("sample", s, "a sample index 0.." + std::to_string(n - 1) + ", as y holds " + std::to_string(n) + " labels");
                    if (!(t >= 0) || !std::isfinite(t)) bad("t", t, "times are >= 0");
                    if (!(x >= 0 && x < double(W) && x == std::floor(x))) bad("x", x, "0.." + std::to_string(W - 1) + ", the width");
                    if (!(y >= 0 && y < double(H) && y == std::floor(y))) bad("y", y, "0.." + std::to_string(H - 1) + ", the height");
                    if (P == 2 && p == -1) p = 0;
                    if (!(p >= 0 && p < double(P) && p == std::floor(p)))
                        bad("p", p, "a polarity 0.." + std::to_string(P - 1) + (P == 2 ? " (or -1 for OFF)" : ""));
                    const double step = std::floor(t / o.bin);
                    if (step > double(INT_MAX - 1)) bad("t", t, "its step t / bin must be below 2^31");
                    last_step = std::max(last_step, std::int64_t(step));
                    continue;
                }
                if (s >= double(count)) continue;
                if (P == 2 && p == -1) p = 0;
                const auto step = std::uint64_t(std::floor(t / o.bin));
                if (step >= std::uint64_t(ds.frames)) continue;
                const std::uint64_t unit = (std::uint64_t(y) * std::uint64_t(W) + std::uint64_t(x)) * std::uint64_t(P) + std::uint64_t(p);
                keys.push_back((std::uint64_t(s) * std::uint64_t(ds.frames) + step) * units + unit);
            }
            if (pass == 0 && first + k >= M) {
                if (last_step < 0 && o.max_steps <= 0)
                    throw DataError(spec, where + " holds no events: give the steps to run with --steps");
                ds.frames = o.max_steps > 0 ? o.max_steps : int(last_step + 1);
                // The keys must fit 64 bits: samples × steps × units.
                if (double(count) * double(ds.frames) * double(units) > 1.8e19)
                    throw DataError(spec, spec + ": " + std::to_string(count) + " samples of " + std::to_string(ds.frames) +
                                              " steps of " + std::to_string(units) + " units are too many to bin");
            }
            if (pass == 1) file.budget.check(keys.size() * sizeof(std::uint64_t), where);
        }
    if (M == 0 && o.max_steps <= 0) throw DataError(spec, where + " holds no events: give the steps to run with --steps");
    if (M == 0) ds.frames = o.max_steps;
    std::sort(keys.begin(), keys.end());
    const std::uint64_t steps = std::uint64_t(ds.frames);
    file.budget.check((count * steps + 1) * sizeof(std::int64_t), where + " (" + std::to_string(steps) + " steps per sample)");
    ds.frame_at.assign(std::size_t(count * steps) + 1, 0);
    for (std::size_t a = 0; a < keys.size();) {
        std::size_t b = a;
        while (b < keys.size() && keys[b] == keys[a]) ++b;
        ds.frame_unit.push_back(std::int32_t(keys[a] % units));
        ds.frame_value.push_back(float(b - a)); // events in the bin
        ++ds.frame_at[std::size_t(keys[a] / units) + 1];
        a = b;
    }
    for (std::size_t k = 1; k < ds.frame_at.size(); ++k) ds.frame_at[k] += ds.frame_at[k - 1];
    mean_frames(ds, file.budget);
    return ds;
}

bool looks_like_path(const std::string& spec) {
    if (spec.find('/') != std::string::npos) return true;
    const std::string ext = fs::path(spec).extension().string();
    return ext == ".h5" || ext == ".hdf5" || ext == ".hdf" || ext == ".he5";
}

} // namespace

FrameLayout frame_layout_from(const std::string& s) {
    if (s == "nhwc") return FrameLayout::ChannelsLast;
    if (s == "nchw") return FrameLayout::ChannelsFirst;
    throw OptionError("layout", s, "--layout '" + s + "': expected nhwc or nchw");
}

void check_frames_fit(const Dataset& ds, const Shape& in) {
    if (ds.frames == 0)
        throw DataError(ds.name, "data set '" + ds.name + "' holds static samples; --encode frames reads frames (x of shape "
                                 "(N,T,H,W,C)) or an event list (events)");
    if (ds.shape == in) return;
    // A frame read in the other order has the same size: say which flag reads it.
    const bool chw_read_as_hwc = ds.shape.h == in.c && ds.shape.w == in.h && ds.shape.c == in.w;
    const bool hwc_read_as_chw = ds.shape.c == in.h && ds.shape.h == in.w && ds.shape.w == in.c;
    throw DataError(ds.name, "data set '" + ds.name + "' has frames of shape " + ds.shape.str() +
                                 " (H,W,C) but the network's input is " + in.str() +
                                 (chw_read_as_hwc   ? " (is the file (N,T,C,H,W)? use --layout nchw)"
                                  : hwc_read_as_chw ? " (is the file (N,T,H,W,C)? use --layout nhwc)"
                                                    : ""));
}

bool holds_frames(const std::string& spec) {
    std::error_code ec;
    if (!fs::is_regular_file(spec, ec)) return false;
    const h5::Node file = h5::open_file(spec);
    if (h5::exists(file, "events")) return true;
    return h5::exists(file, "x") && h5::dataset_dims(file, "x").size() == 5;
}

Dataset load_frames(const std::string& spec, std::int64_t limit, const FrameOptions& options) {
    if (limit == 0) throw OptionError("limit", "0", "limit must be positive (got 0)");
    if (options.max_steps < 0) throw OptionError("steps", std::to_string(options.max_steps), "steps must be at least 1");
    const h5::Node file = h5::open_file(spec, options.memory);
    if (h5::exists(file, "events")) return load_events(file, spec, limit, options);
    if (!h5::exists(file, "x") || !h5::exists(file, "y"))
        throw DataError(spec, spec + ": neither frames (datasets x of shape (N,T,H,W,C) and y) nor an event list "
                                     "(dataset events with columns sample, t, x, y, p, and y)");
    return load_dense_frames(file, spec, limit, options);
}

namespace {

// A range suffix "[a:b]" (either end may be left out): its ends, or nullopt
// where the spec has none (a file name may end in ']' without one).
struct SampleRange {
    std::string base;
    std::int64_t first = 0, end = -1; // end −1: to the last sample
};

std::optional<SampleRange> sample_range(const std::string& spec) {
    if (spec.empty() || spec.back() != ']') return std::nullopt;
    const auto open = spec.rfind('[');
    if (open == std::string::npos) return std::nullopt;
    const std::string inner = spec.substr(open + 1, spec.size() - open - 2);
    const auto colon = inner.find(':');
    if (colon == std::string::npos || inner.find_first_not_of("0123456789:") != std::string::npos ||
        inner.find(':', colon + 1) != std::string::npos)
        return std::nullopt;
    SampleRange r{spec.substr(0, open)};
    const std::string a = inner.substr(0, colon), b = inner.substr(colon + 1);
    try {
        if (!a.empty()) r.first = std::stoll(a);
        if (!b.empty()) r.end = std::stoll(b);
    } catch (const std::exception&) {
        throw DataError(spec, "data set '" + spec + "': the range [" + inner + "] is out of range");
    }
    if (r.end >= 0 && r.end <= r.first)
        throw DataError(spec, "data set '" + spec + "': the range [" + inner + "] is empty (it keeps samples a … b−1)");
    return r;
}

} // namespace

Dataset load_dataset(const std::string& spec, std::int64_t limit, const std::string& data_dir,
                     const MemoryBudget& budget) {
    if (limit == 0) throw OptionError("limit", "0", "limit must be positive (got 0)");
    if (const auto range = sample_range(spec)) {
        // Read up to the range's end (or the limit past its start), then drop what precedes it.
        std::int64_t read = range->end;
        if (limit > 0) read = read < 0 ? range->first + limit : std::min(read, range->first + limit);
        Dataset ds = load_dataset(range->base, read, data_dir, budget);
        if ((range->end >= 0 && ds.size() < read) || ds.size() <= range->first)
            throw DataError(spec, "data set '" + spec + "': '" + range->base + "' has " + std::to_string(ds.size()) +
                                      " samples, fewer than the range needs");
        const std::size_t skip = std::size_t(range->first), n = std::size_t(ds.shape.size());
        ds.x.erase(ds.x.begin(), ds.x.begin() + std::ptrdiff_t(skip * n));
        ds.y.erase(ds.y.begin(), ds.y.begin() + std::ptrdiff_t(skip));
        ds.name = spec;
        return ds;
    }

    const auto colon = spec.find(':');
    const std::string set = spec.substr(0, colon);
    if (set == "mnist" || set == "fashion-mnist") {
        if (colon == std::string::npos)
            throw DataError(spec, "data set '" + spec + "' needs a split: " + set + ":train or " + set + ":test");
        const std::string split = spec.substr(colon + 1);
        if (split != "train" && split != "test")
            throw DataError(spec, "unknown split '" + split + "' in data set '" + spec + "': expected " + set +
                                  ":train or " + set + ":test");
        return load_idx(spec, set, split, limit, data_dir, budget);
    }

    std::error_code ec;
    if (fs::exists(spec, ec) || looks_like_path(spec)) return load_hdf5(spec, limit, budget);
    throw DataError(spec, "unknown data set '" + spec + "': expected " + kKnownSets);
}

} // namespace snn

namespace snn {

namespace {

// The compressive-sensing stage (docs/compressive-sensing.md): every raw
// sample x becomes its rd measurements Φx, so everything downstream (the
// engine with any encoding, the DNN pass, calibration) reads measurements.
void apply_input_stage(Dataset& ds, const RademacherStage& st) {
    if (ds.frames > 0)
        throw DataError(ds.name, ds.name + ": frames data cannot feed a network with a compressive-sensing input stage");
    if (ds.shape.size() != st.pixels())
        throw DataError(ds.name, ds.name + ": samples of " + std::to_string(ds.shape.size()) +
                                     " values, but the network's compressive-sensing stage reads raw inputs of " +
                                     st.raw.str() + " = " + std::to_string(st.pixels()));
    const std::size_t n = std::size_t(st.pixels());
    std::vector<float> y;
    y.reserve(std::size_t(ds.size()) * std::size_t(st.rd));
    for (std::int64_t i = 0; i < ds.size(); ++i) {
        const std::vector<float> m = rademacher_project(st, {ds.sample(i), n});
        y.insert(y.end(), m.begin(), m.end());
    }
    ds.x = std::move(y);
    ds.shape = {1, 1, int(st.rd)};
    ds.stored_dims.clear();
}

} // namespace

void match_input_layout(Dataset& ds, const Network& net) {
    if (net.input_stage.present()) return apply_input_stage(ds, net.input_stage);
    if (ds.stored_dims.empty()) return;
    if (net.input_layout == InputLayout::ChannelsLast) {
        // (N, steps, C) read by a 1-D model, held as (1, steps, C): the same
        // values in the same order as the (steps, C, 1) they were loaded as.
        const Shape in = net.input().shape;
        if (ds.stored_dims.size() == 2 && in.h == 1 && ds.stored_dims[0] == std::uint64_t(in.w) &&
            ds.stored_dims[1] == std::uint64_t(in.c))
            ds.shape = in;
        ds.stored_dims.clear();
        return;
    }
    const Shape in = net.input().shape; // (H, W, C)
    const std::vector<std::uint64_t> chw{std::uint64_t(in.c), std::uint64_t(in.h), std::uint64_t(in.w)};
    std::uint64_t stored = 1;
    for (auto d : ds.stored_dims) stored *= d;
    if (in.c == 1 && stored == std::uint64_t(in.size())) {
        ds.shape = in; // one channel: (1, H, W), (H, W) and (H, W, 1) hold the same order
    } else if (ds.stored_dims == chw || (in.h == 1 && ds.stored_dims == std::vector<std::uint64_t>{chw[0], chw[2]})) {
        // (C, H, W), or (C, L) of a NIR Conv1d network held as (1, L, C): the same transpose.
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
