// The IDP profile a Keras file records (root attribute snn_idp_profile,
// tools/train_reference.py): folded into the weights on import, and checked
// against snn convert's --idp-profile.
#include "convert/convert.hpp"
#include "convert/keras.hpp"
#include "snn/error.hpp"
#include "snn/h5.hpp"
#include "snn/idp.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>

using namespace snn;
using Catch::Matchers::Contains;

namespace {

// A copy of the tiny fixture (conv2d 2 channels → flatten → dense 3) with the root attribute set.
std::string with_profile(const test::TempDir& dir, const std::string& profile) {
    const std::string src = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    const std::string path = dir.file(profile + ".h5");
    std::filesystem::copy_file(src, path);
    h5::silence_errors();
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    h5::write_attr(h5::Node{h5::Handle(f, H5Fclose), path, "/"}, "snn_idp_profile", profile);
    return path;
}

} // namespace

TEST_CASE("a Keras file's snn_idp_profile is folded into the weights of every layer but the first", "[idp][keras]") {
    test::TempDir dir("idp-keras");
    const std::string plain_path = std::string(SNN_SOURCE_DIR) + "/data/fixtures/tiny_keras3_sequential.h5";
    const Network plain = import_keras(plain_path);
    const Network profiled = import_keras(with_profile(dir, "harmonic"));
    REQUIRE(plain.populations.size() == 3);
    CHECK(profiled.populations[1].projections[0].idp_gamma.empty());
    CHECK(profiled.populations[1].projections[0].weights == plain.populations[1].projections[0].weights);
    const Projection& d = profiled.populations[2].projections[0];
    CHECK(d.idp_profile == "harmonic");
    CHECK(d.idp_gamma == std::vector<float>{1.0f, 0.5f});
    // Dense (2·2·2 = 8 inputs, 3 outputs): input unit u is channel u mod 2; γ = 1, 1/2.
    const auto& w = plain.populations[2].projections[0].weights;
    REQUIRE(d.weights.size() == w.size());
    for (std::size_t k = 0; k < w.size(); ++k) {
        const std::size_t unit = k / 3;
        CHECK(d.weights[k] == (unit % 2 == 0 ? w[k] : 0.5f * w[k]));
    }

    ConvertOptions opt;
    ConvertLog log;
    opt.idp_profile = IdpProfile::Harmonic; // the same: accepted
    CHECK(idp_layers(convert_model(dir.file("harmonic.h5"), nullptr, opt, log)) ==
          std::vector<std::string>{"dense"});
    opt.idp_profile = IdpProfile::Linear;
    CHECK_THROWS_WITH(convert_model(dir.file("harmonic.h5"), nullptr, opt, log),
                      Contains("idp-profile linear") && Contains("was trained with the profile harmonic"));
    CHECK_THROWS_WITH(import_keras(with_profile(dir, "cosine")),
                      Contains("cosine.h5") && Contains("snn_idp_profile 'cosine'"));
}
