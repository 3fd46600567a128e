#include "snn/dataset.hpp"

#include "snn/error.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>

namespace fs = std::filesystem;
using Catch::Contains;
using snn::test::TempDir;

namespace {

const fs::path kMnistDir = fs::path(SNN_SOURCE_DIR) / "data" / "datasets" / "mnist";

// Reads `n` bytes at `offset` of a file, by hand, as the reference for the loader.
std::vector<unsigned char> raw_bytes(const fs::path& file, std::streamoff offset, std::size_t n) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in);
    in.seekg(offset);
    std::vector<unsigned char> b(n);
    in.read(reinterpret_cast<char*>(b.data()), std::streamsize(n));
    REQUIRE(in.gcount() == std::streamsize(n));
    return b;
}

void put_be32(std::string& s, std::uint32_t v) {
    for (int shift : {24, 16, 8, 0}) s.push_back(char((v >> shift) & 0xff));
}

// An IDX images file of n images of rows×cols, declaring `declared` images in its
// header, with pixel value (i + j) % 256 for byte j of image i.
std::string idx_images(std::uint32_t declared, std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
                       std::uint32_t magic = 0x00000803) {
    std::string s;
    put_be32(s, magic);
    put_be32(s, declared);
    put_be32(s, rows);
    put_be32(s, cols);
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t j = 0; j < rows * cols; ++j) s.push_back(char((i + j) % 256));
    return s;
}

std::string idx_labels(std::uint32_t n, std::uint32_t magic = 0x00000801) {
    std::string s;
    put_be32(s, magic);
    put_be32(s, n);
    for (std::uint32_t i = 0; i < n; ++i) s.push_back(char(i % 10));
    return s;
}

void write_plain(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

void write_gz(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    gzFile f = gzopen(p.string().c_str(), "wb");
    REQUIRE(f);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    gzclose(f);
}

// A small valid mnist/ test split under dir: 5 images of 4×3.
void write_small_mnist(const fs::path& dir, const std::string& images, const std::string& labels) {
    write_plain(dir / "mnist" / "t10k-images-idx3-ubyte", images);
    write_plain(dir / "mnist" / "t10k-labels-idx1-ubyte", labels);
}

void write_h5(const fs::path& p, const std::vector<float>& x, const std::vector<std::uint64_t>& x_dims,
              const std::vector<std::int64_t>& y, bool with_y = true) {
    auto f = snn::h5::create_file(p.string());
    snn::h5::write_floats(f, "x", x, x_dims);
    if (with_y) snn::h5::write_ints(f, "y", y, {std::uint64_t(y.size())});
}

} // namespace

TEST_CASE("MNIST test split loads whole", "[dataset]") {
    const snn::Dataset ds = snn::load_dataset("mnist:test");
    CHECK(ds.name == "mnist:test");
    REQUIRE(ds.size() == 10000);
    CHECK(ds.shape == snn::Shape{28, 28, 1});
    REQUIRE(ds.x.size() == 10000u * 784u);
    const auto [lo, hi] = std::minmax_element(ds.x.begin(), ds.x.end());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
    CHECK(ds.y[0] == 7); // the first MNIST test digit is a 7
    std::set<int> classes(ds.y.begin(), ds.y.end());
    CHECK(classes == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("MNIST pixels match the bytes of the raw file", "[dataset]") {
    const snn::Dataset ds = snn::load_dataset("mnist:test");
    const fs::path file = kMnistDir / "t10k-images-idx3-ubyte";
    // Row 14, columns 14 and 17 of the first image: 0 and 249 in the published file.
    const auto b = raw_bytes(file, 16 + 28 * 14 + 14, 4);
    CHECK(ds.sample(0)[28 * 14 + 14] == float(b[0]) / 255.0f);
    CHECK(ds.sample(0)[28 * 14 + 17] == float(b[3]) / 255.0f);
    CHECK(b[3] == 249);
    // The whole last image, to catch an offset error that grows with the index.
    const auto last = raw_bytes(file, 16 + std::streamoff(9999) * 784, 784);
    for (int i = 0; i < 784; ++i) REQUIRE(ds.sample(9999)[i] == float(last[std::size_t(i)]) / 255.0f);
    const auto labels = raw_bytes(kMnistDir / "t10k-labels-idx1-ubyte", 8 + 9999, 1);
    CHECK(ds.y[9999] == labels[0]);
}

TEST_CASE("MNIST train split honours the limit", "[dataset]") {
    const snn::Dataset ds = snn::load_dataset("mnist:train", 1000);
    REQUIRE(ds.size() == 1000);
    CHECK(ds.x.size() == 1000u * 784u);
    CHECK(ds.y[0] == 5); // the first MNIST training digit is a 5
    const snn::Dataset one = snn::load_dataset("mnist:train", 1);
    REQUIRE(one.size() == 1);
    CHECK(std::equal(one.x.begin(), one.x.end(), ds.x.begin()));
    // A limit beyond the split reads all of it.
    CHECK(snn::load_dataset("mnist:test", 20000).size() == 10000);
}

TEST_CASE("Fashion-MNIST loads from gzip IDX", "[dataset]") {
    const snn::Dataset test = snn::load_dataset("fashion-mnist:test");
    REQUIRE(test.size() == 10000);
    CHECK(test.shape == snn::Shape{28, 28, 1});
    CHECK(*std::max_element(test.x.begin(), test.x.end()) == 1.0f);
    CHECK(*std::min_element(test.x.begin(), test.x.end()) == 0.0f);
    CHECK(test.y[0] == 9); // an ankle boot opens both Fashion-MNIST splits
    const snn::Dataset train = snn::load_dataset("fashion-mnist:train", 100);
    REQUIRE(train.size() == 100);
    CHECK(train.y[0] == 9);
}

TEST_CASE("data_dir and SNN_DATA_DIR select where IDX files are read", "[dataset]") {
    TempDir dir;
    write_small_mnist(dir.path, idx_images(5, 5, 4, 3), idx_labels(5));
    const snn::Dataset ds = snn::load_dataset("mnist:test", -1, dir.str());
    REQUIRE(ds.size() == 5);
    CHECK(ds.shape == snn::Shape{4, 3, 1});
    CHECK(ds.sample(2)[1] == 3.0f / 255.0f); // byte 1 of image 2 is (2 + 1) % 256
    CHECK(ds.y == std::vector<int>{0, 1, 2, 3, 4});

    // The same files gzipped are read alike.
    TempDir gz;
    write_gz(gz.path / "mnist" / "t10k-images-idx3-ubyte.gz", idx_images(5, 5, 4, 3));
    write_gz(gz.path / "mnist" / "t10k-labels-idx1-ubyte.gz", idx_labels(5));
    const snn::Dataset dz = snn::load_dataset("mnist:test", 3, gz.str());
    REQUIRE(dz.size() == 3);
    CHECK(std::equal(dz.x.begin(), dz.x.end(), ds.x.begin()));
}

TEST_CASE("HDF5 user data round-trips without scaling", "[dataset]") {
    TempDir dir;
    std::vector<float> x(4 * 3 * 3 * 2);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.5f - 7.0f; // negative and above 1
    const std::vector<std::int64_t> y{3, 0, 11, 2};

    SECTION("(N,H,W,C)") {
        const fs::path p = dir.path / "nhwc.h5";
        write_h5(p, x, {4, 3, 3, 2}, y);
        const snn::Dataset ds = snn::load_dataset(p.string());
        CHECK(ds.name == p.string());
        CHECK(ds.shape == snn::Shape{3, 3, 2});
        CHECK(ds.x == x);
        CHECK(ds.y == std::vector<int>{3, 0, 11, 2});

        // A limit reads only the leading rows.
        const snn::Dataset two = snn::load_dataset(p.string(), 2);
        REQUIRE(two.size() == 2);
        CHECK(two.x == std::vector<float>(x.begin(), x.begin() + 2 * 18));
        CHECK(two.y == std::vector<int>{3, 0});
        CHECK(two.sample(1)[0] == x[18]);
    }
    SECTION("(N,H,W) gets one channel") {
        const fs::path p = dir.path / "nhw.h5";
        write_h5(p, x, {4, 6, 3}, y);
        const snn::Dataset ds = snn::load_dataset(p.string());
        CHECK(ds.shape == snn::Shape{6, 3, 1});
        CHECK(ds.x == x);
    }
    SECTION("(N,features) is flat") {
        const fs::path p = dir.path / "flat.h5";
        write_h5(p, x, {4, 18}, y);
        const snn::Dataset ds = snn::load_dataset(p.string(), 3);
        CHECK(ds.shape == snn::Shape{1, 1, 18});
        CHECK(ds.size() == 3);
        CHECK(ds.x == std::vector<float>(x.begin(), x.begin() + 3 * 18));
    }
}

TEST_CASE("a range [a:b] keeps samples a … b-1, of HDF5 data and of MNIST", "[dataset]") {
    TempDir dir;
    const fs::path p = dir.path / "ten.h5";
    std::vector<float> x(10 * 2);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i);
    std::vector<std::int64_t> y(10);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i);
    write_h5(p, x, {10, 2}, y);
    const std::string f = p.string();
    const auto labels = [](const snn::Dataset& d) { return d.y; };
    CHECK(labels(snn::load_dataset(f + "[3:6]")) == std::vector<int>{3, 4, 5});
    CHECK(labels(snn::load_dataset(f + "[7:]")) == std::vector<int>{7, 8, 9});
    CHECK(labels(snn::load_dataset(f + "[:2]")) == std::vector<int>{0, 1});
    CHECK(labels(snn::load_dataset(f + "[2:]", 3)) == std::vector<int>{2, 3, 4});  // the limit counts from a
    CHECK(labels(snn::load_dataset(f + "[2:4]", 9)) == std::vector<int>{2, 3});    // the range's end still holds
    const snn::Dataset mid = snn::load_dataset(f + "[4:6]");
    CHECK(mid.x == std::vector<float>{8, 9, 10, 11});
    CHECK(mid.name == f + "[4:6]");
    for (const char* bad : {"[6:3]", "[5:5]", "[0:11]", "[10:]"}) {
        INFO(bad);
        CHECK_THROWS_WITH(snn::load_dataset(f + bad), Contains(f + bad));
    }
    if (fs::exists(kMnistDir / "train-images-idx3-ubyte") || fs::exists(kMnistDir / "train-images-idx3-ubyte.gz")) {
        const snn::Dataset head = snn::load_dataset("mnist:train", 30), tail = snn::load_dataset("mnist:train[25:30]");
        REQUIRE(tail.size() == 5);
        CHECK(tail.x == std::vector<float>(head.x.begin() + 25 * 784, head.x.end()));
        CHECK(std::vector<int>(head.y.begin() + 25, head.y.end()) == tail.y);
    } else {
        WARN("MNIST is not under data/datasets: its range not checked (run tools/setup.sh)");
    }
}

TEST_CASE("bad data set specs are refused with a reason", "[dataset]") {
    REQUIRE_THROWS_AS(snn::load_dataset("foo:test"), snn::Error);
    REQUIRE_THROWS_WITH(snn::load_dataset("foo:test"),
                        Contains("unknown data set 'foo:test'") &&
                            Contains("mnist:train|mnist:test|fashion-mnist:train|fashion-mnist:test"));
    REQUIRE_THROWS_WITH(snn::load_dataset("mnist:validation"), Contains("unknown split 'validation'"));
    REQUIRE_THROWS_WITH(snn::load_dataset("fashion-mnist"), Contains("needs a split"));
    REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", 0), Contains("limit must be positive"));
    REQUIRE_THROWS_WITH(snn::load_dataset("no/such/file.h5"), Contains("no/such/file.h5") && Contains("no such file"));
}

TEST_CASE("missing IDX files point at tools/setup.sh", "[dataset]") {
    TempDir empty;
    REQUIRE_THROWS_AS(snn::load_dataset("mnist:test", -1, empty.str()), snn::Error);
    REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, empty.str()),
                        Contains("t10k-images-idx3-ubyte") && Contains("not found: run tools/setup.sh to fetch it"));
    REQUIRE_THROWS_WITH(snn::load_dataset("fashion-mnist:train", 10, empty.str()),
                        Contains("fashion-mnist") && Contains("not found"));
}

TEST_CASE("broken IDX files are refused naming the file", "[dataset]") {
    TempDir dir;
    const std::string images = (dir.path / "mnist" / "t10k-images-idx3-ubyte").string();
    const std::string labels = (dir.path / "mnist" / "t10k-labels-idx1-ubyte").string();

    SECTION("truncated plain file") {
        write_small_mnist(dir.path, idx_images(10, 5, 4, 3), idx_labels(10));
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, dir.str()), Contains(images) && Contains("truncated"));
        // Caught from the header even when the limit stays inside the data present.
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", 2, dir.str()), Contains("truncated"));
    }
    SECTION("truncated gzip file") {
        const std::string full = idx_images(10, 10, 4, 3);
        write_gz(dir.path / "mnist" / "t10k-images-idx3-ubyte.gz", full);
        write_plain(dir.path / "mnist" / "t10k-labels-idx1-ubyte", idx_labels(10));
        // Cut the compressed stream short, as an interrupted download would.
        const fs::path gz = dir.path / "mnist" / "t10k-images-idx3-ubyte.gz";
        fs::resize_file(gz, fs::file_size(gz) - 10);
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, dir.str()),
                            Contains("t10k-images-idx3-ubyte.gz") && Contains("truncated"));
    }
    SECTION("wrong magic in the images") {
        write_small_mnist(dir.path, idx_images(5, 5, 4, 3, 0x00000801), idx_labels(5));
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, dir.str()),
                            Contains(images) && Contains("wrong magic 0x00000801"));
    }
    SECTION("wrong magic in the labels") {
        write_small_mnist(dir.path, idx_images(5, 5, 4, 3), idx_labels(5, 0x00000803));
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, dir.str()), Contains(labels) && Contains("magic"));
    }
    SECTION("image and label counts disagree") {
        write_small_mnist(dir.path, idx_images(5, 5, 4, 3), idx_labels(4));
        REQUIRE_THROWS_WITH(snn::load_dataset("mnist:test", -1, dir.str()),
                            Contains("5 images") && Contains("4 labels"));
    }
}

TEST_CASE("broken HDF5 user data is refused naming the file", "[dataset]") {
    TempDir dir;
    const std::vector<float> x(3 * 4, 0.25f);

    SECTION("no y") {
        const std::string p = (dir.path / "no_y.h5").string();
        write_h5(p, x, {3, 4}, {}, false);
        REQUIRE_THROWS_WITH(snn::load_dataset(p), Contains(p) && Contains("no dataset 'y'"));
    }
    SECTION("x and y sample counts disagree") {
        const std::string p = (dir.path / "count.h5").string();
        write_h5(p, x, {3, 4}, {0, 1});
        REQUIRE_THROWS_WITH(snn::load_dataset(p), Contains(p) && Contains("3 samples") && Contains("2 labels"));
    }
    SECTION("NaN in x names the sample") {
        std::vector<float> bad = x;
        bad[2 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
        const std::string p = (dir.path / "nan.h5").string();
        write_h5(p, bad, {3, 4}, {0, 1, 2});
        REQUIRE_THROWS_WITH(snn::load_dataset(p), Contains(p) && Contains("sample 2") && Contains("NaN"));
        // Outside the limit it is never read.
        CHECK(snn::load_dataset(p, 2).size() == 2);
    }
    SECTION("negative label") {
        const std::string p = (dir.path / "neg.h5").string();
        write_h5(p, x, {3, 4}, {0, -1, 2});
        REQUIRE_THROWS_WITH(snn::load_dataset(p), Contains(p) && Contains("label -1 of sample 1"));
    }
    SECTION("x of unsupported rank") {
        const std::string p = (dir.path / "rank.h5").string();
        write_h5(p, std::vector<float>(3 * 2 * 2 * 2 * 2), {3, 2, 2, 2, 2}, {0, 1, 2});
        REQUIRE_THROWS_WITH(snn::load_dataset(p), Contains(p) && Contains("x has 5 dimensions"));
    }
    SECTION("not an HDF5 file") {
        const fs::path p = dir.path / "junk.h5";
        write_plain(p, "not hdf5 at all");
        REQUIRE_THROWS_WITH(snn::load_dataset(p.string()), Contains("not an HDF5 file"));
    }
}
