#pragma once
// Helpers shared by the tests: a scratch directory and builders for hand-made networks.
#include "sim/binary_kernels.hpp"
#include "sim/float_isa.hpp"
#include "snn/h5.hpp"
#include "snn/network.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace snn::test {

// Set by `snn_tests --require-isa NAME` (tests/main.cpp): test with this popcount implementation only.
extern std::optional<PopcountIsa> required_isa;

// The popcount implementations to test: the required one, or every one this CPU has.
inline std::vector<PopcountIsa> popcount_isas() {
    if (required_isa) return {*required_isa};
    std::vector<PopcountIsa> v;
    for (auto isa : {PopcountIsa::Scalar, PopcountIsa::Avx2, PopcountIsa::Avx512})
        if (popcount_isa_supported(isa)) v.push_back(isa);
    return v;
}

// Set by `snn_tests --require-isa portable-float|avx2-float|avx512-float`: test the float kernels with this copy only.
extern std::optional<FloatIsa> required_float_isa;

// The float kernels' copies to test: the required one, or every one this CPU runs.
inline std::vector<FloatIsa> float_isas() {
    if (required_float_isa) return {*required_float_isa};
    std::vector<FloatIsa> v;
    for (auto isa : {FloatIsa::Portable, FloatIsa::Avx2, FloatIsa::Avx512})
        if (float_isa_supported(isa)) v.push_back(isa);
    return v;
}

// A fresh directory per test, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag = "tmp") {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("snn-test-" + tag + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path.string(); }
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
    // Names of leftover temporary files (what AtomicOutput writes before renaming).
    std::vector<std::string> temporaries() const {
        std::vector<std::string> names;
        for (const auto& n : listing())
            if (n.find(".tmp") != std::string::npos) names.push_back(n);
        return names;
    }
};

inline Population input(Shape s) {
    Population p;
    p.name = "input";
    p.kind = PopulationKind::Input;
    p.shape = s;
    return p;
}

inline Projection projection(int source, ProjectionKind kind, Window w, std::vector<float> weights, std::string layer) {
    Projection p;
    p.source = source;
    p.kind = kind;
    p.window = w;
    p.weights = std::move(weights);
    p.layer = std::move(layer);
    return p;
}

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

struct Outcome {
    int status = -1; // exit code, −1 if the program did not exit normally
    std::string out, err;
};

// Runs a shell command with no input, capturing stdout and stderr in `capture`.
inline Outcome run_captured(const std::string& command, const TempDir& capture) {
    const std::string out = capture.file("stdout"), err = capture.file("stderr");
    const int raw = std::system((command + " </dev/null >" + quote(out) + " 2>" + quote(err)).c_str());
    Outcome o;
    o.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
}

// An HDF5 data file as `snn run --data` reads it: x (x_dims) and labels y.
inline void write_data(const std::string& path, const std::vector<float>& x, const std::vector<std::uint64_t>& x_dims,
                       const std::vector<std::int64_t>& y) {
    h5::Node f = h5::create_file(path);
    h5::write_floats(f, "x", x, x_dims);
    h5::write_ints(f, "y", y, {y.size()});
}

// x_dims[0] samples of uniform random pixels in [0, 1) (std::mt19937 seeded
// with `seed`), sample i labelled i mod `classes`, written as write_data does.
inline void write_random_data(const std::string& path, const std::vector<std::uint64_t>& x_dims, int classes,
                              unsigned seed) {
    std::uint64_t size = 1;
    for (const std::uint64_t d : x_dims) size *= d;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> x(size);
    for (float& v : x) v = pixel(rng);
    std::vector<std::int64_t> y(x_dims.at(0));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int64_t(i % std::size_t(classes));
    write_data(path, x, x_dims, y);
}

#ifdef SNN_BINARY
// Runs `snn ARGS`, capturing stdout and stderr in a directory of their own
// (so a test's work directory holds only what snn wrote).
inline Outcome snn_cli(const std::string& args) {
    static const TempDir capture("capture");
    return run_captured(quote(SNN_BINARY) + " " + args, capture);
}
#endif

#if defined(SNN_BINARY) && defined(SNN_SOURCE_DIR)
// The fixture tiny_keras3_sequential.h5 (4×4×1 inputs, 3 classes) converted to
// `net` by `snn convert`, and 20 random samples for it in `data`. Throws if
// the conversion fails.
inline void tiny_network_and_data(const std::string& net, const std::string& data) {
    const Outcome c = snn_cli("convert " + quote(std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5") +
                              " -o " + quote(net));
    if (c.status != 0) throw std::runtime_error("snn convert of the tiny fixture failed: " + c.err);
    write_random_data(data, {20, 4, 4, 1}, 3, 3);
}
#endif

#ifdef SNN_SOURCE_DIR
// The JSON reports snn writes, each with its JSON Schema in docs/ (docs/report.md).
enum class ReportKind { Run, Learn, ExitsPlace }; // snn run --report, snn learn --report, snn exits place --json

inline std::string report_schema(ReportKind kind) {
    const char* name = kind == ReportKind::Run     ? "report"
                       : kind == ReportKind::Learn ? "learn-report"
                                                   : "exits-place-report";
    return std::string(SNN_SOURCE_DIR) + "/docs/" + name + ".schema.json";
}

// What tools/validate_report.py says of the report at `path`: status 0 when
// it follows its schema, 1 with one line per error naming the key path, 2 (or
// 127, no python) when it could not check at all, e.g. without python3-jsonschema.
inline Outcome validate_report(const std::string& path, ReportKind kind = ReportKind::Run) {
    static const TempDir capture("validate");
    return run_captured("/usr/bin/python3 " + quote(std::string(SNN_SOURCE_DIR) + "/tools/validate_report.py") + " " +
                            quote(report_schema(kind)) + " " + quote(path),
                        capture);
}

// The report at `path`, parsed once it passes its schema. Throws, failing the
// test with the validator's lines, where it does not or cannot be checked:
// a missing validator never lets a report through.
inline nlohmann::json read_report(const std::string& path, ReportKind kind = ReportKind::Run) {
    const Outcome v = validate_report(path, kind);
    if (v.status != 0)
        throw std::runtime_error(path + " fails " + report_schema(kind) + " (validate_report.py exit " +
                                 std::to_string(v.status) + "):\n" + v.out + v.err);
    std::ifstream f(path);
    return nlohmann::json::parse(f);
}

// A report the test built in memory (report_json), checked the same way.
inline const nlohmann::json& checked_report(const nlohmann::json& report, ReportKind kind = ReportKind::Run) {
    static const TempDir dir("report");
    const std::string path = dir.file("report.json");
    std::ofstream(path) << report.dump(2) << "\n";
    read_report(path, kind);
    return report;
}
#endif

// A projection of the given geometry with standard-normal weights.
struct Geometry {
    ProjectionKind kind;
    Shape src, dst;
    Window w;
};

inline Projection random_projection(const Geometry& g, std::mt19937& rng) {
    std::normal_distribution<float> normal;
    Projection p;
    p.source = 0;
    p.kind = g.kind;
    p.window = g.w;
    const auto n = expected_weight_count(p, g.src, g.dst);
    for (std::int64_t i = 0; i < n; ++i) p.weights.push_back(normal(rng));
    return p;
}

} // namespace snn::test
