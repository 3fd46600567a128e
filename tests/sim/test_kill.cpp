// Outputs are never half-written: `snn convert` and `snn learn` killed with
// SIGKILL at random moments leave the file that was there before intact (or,
// if the kill came after the rename, the complete new one), never a partial
// file under the final name. The kill moments are spread over the length of
// one uninterrupted run, measured first, so that some land in the saves.
// A learning run killed part-way resumes from its last checkpoint to the
// network an uninterrupted run writes.
#include "sim/learn.hpp"
#include "snn/h5.hpp"
#include "snn/network_io.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = SNN_SOURCE_DIR;

pid_t spawn(const std::vector<std::string>& argv) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    return pid;
}

int wait_exit(pid_t pid) {
    int raw = 0;
    REQUIRE(waitpid(pid, &raw, 0) == pid);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// The largest shipped model, with calibration when MNIST is there: long enough
// (hundreds of ms) for kills to land in the import, the calibration and the save.
std::vector<std::string> convert_args(const std::string& out, const std::string& v_th) {
    const fs::path cnn = source_dir / "data" / "models" / "mnist_cnn.h5";
    std::vector<std::string> a{SNN_BINARY, "convert", cnn.string(), "-o", out, "--v-th", v_th, "--threads", "1"};
    if (fs::exists(source_dir / "data" / "datasets" / "mnist" / "train-images-idx3-ubyte"))
        for (const char* s : {"--calib", "mnist:train", "--calib-samples", "200"}) a.push_back(s);
    return a;
}

void kill_repeatedly(int kills) {
    TempDir work("kill");
    const std::string out = work.file("net.snn.h5");
    // The previous file (threshold 1) and what a finished run writes (threshold 2).
    REQUIRE(wait_exit(spawn(convert_args(out, "1"))) == 0);
    const std::string before = slurp(out);
    const Network old_net = load(out);

    const auto t0 = std::chrono::steady_clock::now();
    const std::string fresh = work.file("fresh.snn.h5");
    REQUIRE(wait_exit(spawn(convert_args(fresh, "2"))) == 0);
    const auto full = std::chrono::steady_clock::now() - t0;
    const Network new_net = load(fresh);
    REQUIRE(new_net.populations.at(1).neuron.v_th == 2.0f);
    fs::remove(fresh);

    std::mt19937 rng(2024);
    // 0 to 1.2× an uninterrupted run: most kills interrupt it, a few come after it ended.
    std::uniform_int_distribution<long long> delay_us(
        0, std::chrono::duration_cast<std::chrono::microseconds>(full).count() * 6 / 5);
    int interrupted = 0;
    for (int k = 0; k < kills; ++k) {
        INFO("kill " << k);
        const pid_t pid = spawn(convert_args(out, "2"));
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        kill(pid, SIGKILL);
        const int status = wait_exit(pid);
        interrupted += status != 0;
        // Under the final name: the old file byte for byte, or the complete new one.
        const std::string now = slurp(out);
        if (now == before) {
            CHECK(load(out) == old_net);
        } else {
            // The kill came after the rename: the whole new network, nothing less.
            CHECK(load(out) == new_net);
            // Start the next round from the old file again.
            std::ofstream(out, std::ios::binary | std::ios::trunc) << before;
        }
        // A killed run leaves its temporary (net.snn.h5.tmpNNN) behind; nothing
        // else may appear, and no temporary may take the final name.
        for (const auto& name : work.listing()) {
            INFO(name);
            CHECK((name == "net.snn.h5" || name.rfind("net.snn.h5.tmp", 0) == 0));
            if (name != "net.snn.h5") fs::remove(work.file(name));
        }
    }
    // The runs were really interrupted (else this tested nothing).
    CHECK(interrupted > 0);
}

// 300 images of 784 pixels in three classes (a bright band of rows each, on
// noise): as large as MNIST per sample, so that learning takes long enough
// (about a second) for kills to land in it and in the checkpoints.
void write_band_images(const std::string& path, int n, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> on(0.6f, 1.0f), off(0.0f, 0.2f);
    std::vector<float> x;
    std::vector<std::int64_t> y;
    for (int k = 0; k < n; ++k) {
        const int c = k % 3;
        for (int p = 0; p < 784; ++p) x.push_back((p / 28) / 9 == c ? on(g) : off(g));
        y.push_back(c);
    }
    const h5::Node f = h5::create_file(path);
    h5::write_floats(f, "x", x, {std::uint64_t(n), 28, 28, 1});
    h5::write_ints(f, "y", y, {std::uint64_t(n)});
}

void kill_learning_repeatedly(int kills) {
    TempDir work("kill-learn");
    write_band_images(work.file("train.h5"), 300, 1);
    write_band_images(work.file("test.h5"), 60, 2);
    const auto args = [&](const std::string& out, const std::string& seed, const std::string& checkpoint,
                          const std::string& resume) {
        std::vector<std::string> a{SNN_BINARY, "learn", "--data", work.file("train.h5"), "--test-data",
                                   work.file("test.h5"), "--neurons", "20", "--seed", seed, "--threads", "1",
                                   "-q", "-o", out};
        if (!checkpoint.empty())
            for (const std::string& x : {std::string("--checkpoint"), checkpoint, std::string("--checkpoint-every"),
                                         std::string("40")})
                a.push_back(x);
        if (!resume.empty()) {
            a.push_back("--resume");
            a.push_back(resume);
        }
        return a;
    };
    const std::string out = work.file("net.snn.h5"), ck = work.file("ck.h5");
    // The previous file (another seed) and what a finished run writes.
    REQUIRE(wait_exit(spawn(args(out, "2", "", ""))) == 0);
    const std::string before = slurp(out);
    const Network old_net = load(out);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(wait_exit(spawn(args(work.file("fresh.snn.h5"), "1", "", ""))) == 0);
    const auto full = std::chrono::steady_clock::now() - t0;
    const Network new_net = load(work.file("fresh.snn.h5"));
    REQUIRE(!(new_net == old_net));
    fs::remove(work.file("fresh.snn.h5"));

    std::mt19937 rng(2025);
    std::uniform_int_distribution<long long> delay_us(
        0, std::chrono::duration_cast<std::chrono::microseconds>(full).count() * 6 / 5);
    int interrupted = 0, resumed = 0;
    for (int k = 0; k < kills; ++k) {
        INFO("kill " << k);
        fs::remove(ck);
        const pid_t pid = spawn(args(out, "1", ck, ""));
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        kill(pid, SIGKILL);
        interrupted += wait_exit(pid) != 0;
        if (slurp(out) == before) {
            CHECK(load(out) == old_net);
        } else {
            CHECK(load(out) == new_net);
            std::ofstream(out, std::ios::binary | std::ios::trunc) << before;
        }
        // A checkpoint under its final name is complete; resuming from it (a few
        // times: each resume learns the rest) writes the uninterrupted run's network.
        if (fs::exists(ck)) {
            const LearnState st = load_checkpoint(ck);
            if (resumed < 3 && st.next_sample > 0) {
                INFO("resumed from sample " << st.next_sample);
                const std::string again = work.file("resumed.snn.h5");
                REQUIRE(wait_exit(spawn(args(again, "1", "", ck))) == 0);
                CHECK(load(again) == new_net);
                fs::remove(again);
                ++resumed;
            }
        }
        for (const auto& name : work.listing()) {
            INFO(name);
            CHECK((name == "net.snn.h5" || name == "ck.h5" || name == "train.h5" || name == "test.h5" ||
                   name.rfind("net.snn.h5.tmp", 0) == 0 || name.rfind("ck.h5.tmp", 0) == 0));
            if (name.find(".tmp") != std::string::npos) fs::remove(work.file(name));
        }
    }
    CHECK(interrupted > 0);
    CHECK(resumed > 0);
}

} // namespace

TEST_CASE("snn learn killed at random moments leaves whole files, and resumes to the same network", "[cli][kill]") {
    kill_learning_repeatedly(12);
}

TEST_CASE("snn learn survives 100 random kills in a row", "[.kill]") { kill_learning_repeatedly(100); }

TEST_CASE("snn convert killed at random moments never leaves a partial network file", "[cli][kill]") {
    kill_repeatedly(12);
}

// The acceptance run: tools/test.sh does not run it (tag [.kill]);
// run it with `build/snn_tests "[.kill]"`.
TEST_CASE("snn convert survives 100 random kills in a row", "[.kill]") { kill_repeatedly(100); }
