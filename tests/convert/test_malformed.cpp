// The corpus of malformed models (tools/make_malformed.py) through the real
// `snn convert`: each is refused with exit code 1 and one line on stderr that
// names the file and the problem; no output file or temporary is left, HDF5
// prints none of its error stack, and the process stays within a memory bound
// even where the file declares terabytes.
#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

using namespace snn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;

struct Child {
    int status = -1;          // exit code, −1 if it did not exit normally
    long max_rss_kib = 0;     // of this child alone (wait4), not of every child this test ever ran
    std::string out, err;
};

// Runs `argv` with stdout and stderr in files of `capture`.
Child run(const std::vector<std::string>& argv, const TempDir& capture) {
    const std::string out = capture.file("stdout"), err = capture.file("stderr");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    int raw = 0;
    rusage usage{};
    REQUIRE(wait4(pid, &raw, 0, &usage) == pid);
    Child c;
    c.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    c.max_rss_kib = usage.ru_maxrss;
    c.out = slurp(out);
    c.err = slurp(err);
    return c;
}

} // namespace

TEST_CASE("snn convert refuses every file of the malformed corpus with one line, and bounded memory", "[cli][malformed]") {
    TempDir corpus("malformed"), work("malformed-out"), capture("malformed-capture");
    const std::string generator = (source_dir / "tools" / "make_malformed.py").string();
    const Child gen = run({"/usr/bin/python3", generator, corpus.str()}, capture);
    INFO("make_malformed.py: " << gen.out << gen.err);
    REQUIRE(gen.status == 0);

    // File → what its one line must say (besides the file's own path).
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"bad_json.h5", "model_config is not valid JSON"},
        {"cycle.h5", "layer 'dense' (Dense): input 'd2' comes after it: the layer graph has a cycle"},
        {"dangling_input.h5", "layer 'out' (Dense): input 'dense_9' is not a layer of this model"},
        {"duplicate_names.h5", "layer 'dense' (Dense): a second layer has this name"},
        {"empty.h5", "not an HDF5 file"},
        {"inf_weights.h5", "layer 'out' (Dense): weight 'out/bias:0' contains NaN or Inf"},
        {"kernel_shape.h5", "layer 'out' (Dense): kernel shape (6,3) disagrees with the layer (4,3)"},
        {"missing_bias.h5", "layer 'dense' (Dense): expected 2 weight arrays, found 1"},
        {"missing_weight.h5", "layer 'dense' (Dense): weight 'dense/bias:0' listed in weight_names is missing"},
        {"nan_weights.h5", "layer 'dense' (Dense): weight 'dense/kernel:0' contains NaN or Inf"},
        {"not_a_model.h5", "not a Keras model"},
        {"string_units.h5", "layer 'dense' (Dense): 'units' is \"four\", expected an integer >= 1"},
        {"string_weights.h5", "/model_weights/dense/dense/kernel:0: expected a numeric dataset"},
        // 400000·400000·64 units of 4 bytes: 37 TiB, above the 256 MiB given below.
        {"terabyte_input.h5", "layer 'input_1' of shape (400000,400000,64): needs 37 TiB, above the memory limit of 256 MiB"},
        {"truncated.h5", "cannot open as HDF5 (corrupt or truncated?)"},
        {"unsupported_layer.h5", "layer 'lstm' (LSTM): this layer type is not supported"},
        {"upsampling_bilinear.h5", "layer 'up' (UpSampling2D): interpolation \"bilinear\" cannot be converted"},
        {"upsampling_zero.h5", "layer 'up' (UpSampling2D): 'size' is 0, expected an integer >= 1"},
        // Several IDP profiles (docs/dynamic-cost.md#several-profiles).
        {"idp_ranges_float.h5", "attribute snn_idp_ranges must be whole percentages"},
        {"idp_ranges_short.h5", "snn_idp_ranges: the last IDP profile must reach 100 %"},
        {"idp_variant_shape.h5", "snn_idp_variants/0/dense: kernel (4,6) and bias (4), expected (6,4) and (4)"},
        {"idp_variant_missing.h5", "snn_idp_ranges names 2 profiles but there is no snn_idp_variants/0"},
        // Keras 3 archives.
        {"keras_bad_config.keras", "config.json is not valid JSON"},
        // 300 MiB of spaces, deflated: refused from the size the archive declares, before inflating.
        {"keras_bomb.keras", "config.json: needs 300 MiB, above the memory limit of 256 MiB"},
        {"keras_crc.keras", "model.weights.h5 in the archive is damaged (CRC error)"},
        {"keras_missing_vars.keras",
         "layer 'out' (Dense): no weights stored for this layer (model.weights.h5 has no layers/dense_1/vars)"},
        {"keras_no_config.keras", "the .keras archive has no config.json"},
        {"keras_no_weights.keras", "the .keras archive has no model.weights.h5"},
        {"keras_npz.keras", "the weights are stored as model.weights.npz"},
        {"keras_not_zip.keras", "not a Keras 3 .keras file (not a zip archive, or one cut short)"},
        {"keras_truncated.keras", "not a Keras 3 .keras file (not a zip archive, or one cut short)"},
        {"keras_var_gap.keras", "layer 'dense' (Dense): layers/dense/vars holds 2 entries but no variable '1'"},
        {"keras_var_shape.keras", "layer 'dense' (Dense): kernel shape (5,4) disagrees with the layer (6,4)"},
        {"keras_weights_not_hdf5.keras", "(model.weights.h5): not an HDF5 file"},
    };
    std::vector<std::string> want_files;
    for (const auto& c : cases) want_files.push_back(c.first);
    std::sort(want_files.begin(), want_files.end());
    REQUIRE(corpus.listing() == want_files); // no case of the list silently dropped

    const std::string out = work.file("net.snn.h5");
    for (const auto& [file, fact] : cases) {
        const std::string model = corpus.file(file);
        const Child c = run({SNN_BINARY, "convert", model, "-o", out, "--max-memory", "256M"}, capture);
        INFO(file << "\nstderr: " << c.err << "\nstdout: " << c.out);
        CHECK(c.status == 1);
        CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
        CHECK_THAT(c.err, Contains(model) && Contains(fact));
        CHECK_THAT(c.err, !Contains("HDF5-DIAG"));
        CHECK(c.out.empty());
        CHECK(work.listing().empty()); // no output, no temporary
        // The program, its libraries and HDF5's caches take some tens of MiB;
        // nothing of the size a file declares may be allocated.
        CHECK(c.max_rss_kib < 256 * 1024);
    }
}
