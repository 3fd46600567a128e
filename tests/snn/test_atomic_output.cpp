// AtomicOutput (snn/atomic_output.hpp): a killed run's temporary is removed by
// the next write of the same target, and nothing else is; a temporary that a
// live writer holds is not stale; the temporary is fsynced before the rename
// and the folder after it (checked with strace on the real program).
#include "snn/atomic_output.hpp"
#include "snn/h5.hpp"

#include "tests/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace snn;
using namespace snn::test;
namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
}

void write_atomically(const std::string& path, const std::string& text) {
    AtomicOutput out(path);
    write(out.temp_path(), text);
    out.commit();
}

} // namespace

TEST_CASE("AtomicOutput's temporaries are the target's name, .tmp and 1 to 6 digits", "[atomic]") {
    for (const char* name : {"out.json.tmp0", "out.json.tmp7", "out.json.tmp123456", "out.json.tmp000001"}) {
        INFO(name);
        CHECK(is_temporary_name(name, "out.json"));
    }
    for (const char* name : {"out.json", "out.json.tmp", "out.json.tmpx", "out.json.tmp1234567", "out.json.tmp12a",
                             "out.json.tmp12.bak", "out.json.tmp-12", "out.json.TMP12", "xout.json.tmp12",
                             "out.jsontmp12", "other.tmp123456", "out.json.tmp 12"}) {
        INFO(name);
        CHECK_FALSE(is_temporary_name(name, "out.json"));
    }
    CHECK_FALSE(is_temporary_name(".tmp12", ""));
}

TEST_CASE("AtomicOutput removes the stale temporaries of its own target and nothing else", "[atomic]") {
    TempDir work("atomic");
    const std::string out = work.file("out.json");
    for (const char* stale : {"out.json.tmp123456", "out.json.tmp7"}) write(work.file(stale), "half a rep");
    const std::vector<std::string> others{"out.json.tmp", "out.json.tmp1234567", "out.json.tmp12.bak", "out.json.tmpx",
                                          "other.json", "other.json.tmp123456", "other.tmp123456", "xout.json.tmp12"};
    for (const auto& n : others) write(work.file(n), "keep me");
    fs::create_directory(work.path / "out.json.tmp99");            // not a file
    fs::create_symlink("other.json", work.path / "out.json.tmp55"); // a link: never followed nor removed

    write_atomically(out, "{}\n");

    std::vector<std::string> expected = others;
    for (const char* n : {"out.json", "out.json.tmp55", "out.json.tmp99"}) expected.push_back(n);
    std::sort(expected.begin(), expected.end());
    CHECK(work.listing() == expected);
    CHECK(slurp(out) == "{}\n");
    for (const auto& n : others) CHECK(slurp(work.file(n)) == "keep me");
    CHECK(remove_stale_temporaries(out) == 0);
}

TEST_CASE("a temporary that a live writer holds is not stale; one whose writer was killed is", "[atomic]") {
    TempDir work("atomic-live");
    const std::string out = work.file("net.snn.h5");

    SECTION("two writers of one target in one process: both temporaries survive, the last commit wins") {
        AtomicOutput first(out);
        write(first.temp_path(), "first");
        {
            AtomicOutput second(out); // would remove first's temporary if it took it for stale
            REQUIRE(fs::exists(first.temp_path()));
            CHECK(remove_stale_temporaries(out) == 0);
            write(second.temp_path(), "second");
            second.commit();
        }
        CHECK(slurp(out) == "second");
        first.commit();
        CHECK(slurp(out) == "first");
        CHECK(work.temporaries().empty());
    }

    SECTION("a writer killed with SIGKILL: the kernel drops its lock, the next writer removes its temporary") {
        // The child does only system calls (this process may have threads): AtomicOutput's own protocol, by hand.
        const std::string temp = out + ".tmp424242";
        const char* name = temp.c_str();
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const int fd = ::open(name, O_RDWR | O_CREAT | O_EXCL, 0666);
            struct flock l {};
            l.l_type = F_WRLCK;
            l.l_whence = SEEK_SET;
            if (fd < 0 || ::fcntl(fd, F_OFD_SETLK, &l) != 0 || ::write(fd, "half", 4) != 4) _exit(1);
            ::kill(::getpid(), SIGKILL);
            _exit(2);
        }
        int raw = 0;
        REQUIRE(waitpid(pid, &raw, 0) == pid);
        REQUIRE(WIFSIGNALED(raw));
        REQUIRE(fs::exists(temp));
        write_atomically(out, "complete");
        CHECK_FALSE(fs::exists(temp));
        CHECK(work.listing() == std::vector<std::string>{"net.snn.h5"});
        CHECK(slurp(out) == "complete");
    }
}

TEST_CASE("AtomicOutput names the target when it cannot write", "[atomic]") {
    TempDir work("atomic-fail");
    const std::string out = (work.path / "missing" / "r.json").string();
    CHECK_THROWS_WITH(AtomicOutput(out), Catch::Matchers::Contains(out + ": cannot write"));
}

#ifdef SNN_BINARY
namespace {

const fs::path fixtures = fs::path(SNN_SOURCE_DIR) / "data" / "fixtures";

} // namespace

TEST_CASE("snn convert and snn run remove their outputs' stale temporaries, and only those", "[atomic][cli]") {
    TempDir work("atomic-cli");
    const std::string net = work.file("net.snn.h5"), data = work.file("data.h5");
    tiny_network_and_data(net, data);
    // What killed runs left: one stale temporary per output of the two commands below.
    const std::vector<std::string> stale{"net.snn.h5.tmp31337", "out.json.tmp123456", "pred.txt.tmp1", "spikes.h5.tmp000042"};
    // Names that merely look alike.
    const std::vector<std::string> others{"out.json.tmpx", "other.tmp123456", "out.json.tmp1234567", "pred.txt.tmp1.bak"};
    for (const auto& n : stale) write(work.file(n), "half-written");
    for (const auto& n : others) write(work.file(n), "keep me");

    const Outcome conv = snn_cli("convert " + quote((fixtures / "tiny_keras3_sequential.h5").string()) + " -o " + quote(net));
    INFO("convert stderr: " << conv.err);
    REQUIRE(conv.status == 0);
    const Outcome run = snn_cli("run " + quote(net) + " --data " + quote(data) + " --steps 4 -q --report " +
                                quote(work.file("out.json")) + " --predictions " + quote(work.file("pred.txt")) +
                                " --record " + quote(work.file("spikes.h5")));
    INFO("run stderr: " << run.err);
    REQUIRE(run.status == 0);

    std::vector<std::string> expected = others;
    for (const char* n : {"data.h5", "net.snn.h5", "out.json", "pred.txt", "spikes.h5"}) expected.push_back(n);
    std::sort(expected.begin(), expected.end());
    CHECK(work.listing() == expected);
    for (const auto& n : others) CHECK(slurp(work.file(n)) == "keep me");
    // The outputs are complete.
    const auto report = read_report(work.file("out.json")); // complete, and follows docs/report.schema.json
    CHECK(report.at("samples") == 20);
    const std::string pred = slurp(work.file("pred.txt"));
    CHECK(std::count(pred.begin(), pred.end(), '\n') == 20);
    CHECK(h5::read_int_attr(h5::open_file(work.file("spikes.h5")), "samples") == 1);
}

namespace {

bool have_strace() { return std::system("command -v strace >/dev/null 2>&1") == 0; }

// The lines of one thread's strace log that trace a call of `call`, holding `must_hold`, that returned 0.
std::vector<std::size_t> successful(const std::vector<std::string>& log, const std::string& call,
                                    const std::string& must_hold) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < log.size(); ++i) {
        const std::string& l = log[i];
        if (l.compare(0, call.size() + 1, call + "(") != 0) continue;
        if (l.find(must_hold) != std::string::npos && l.size() >= 4 && l.compare(l.size() - 4, 4, " = 0") == 0)
            at.push_back(i);
    }
    return at;
}

} // namespace

TEST_CASE("snn fsyncs the temporary before renaming it over the target, and the folder after", "[atomic][cli][strace]") {
    if (!have_strace()) {
        WARN("strace is not installed (tools/setup.sh installs it): the fsync order of snn's outputs was NOT checked");
        FAIL("strace missing: cannot check that outputs are fsynced before the rename");
    }
    TempDir work("atomic-fsync");
    const std::string net = work.file("net.snn.h5"), data = work.file("data.h5");
    tiny_network_and_data(net, data);
    const std::string dir = fs::canonical(work.path).string();
    const std::string report = dir + "/r.json", model = dir + "/model.snn.h5";
    const std::string tiny = (fixtures / "tiny_keras3_sequential.h5").string();

    // One text output (written by an ofstream) and one HDF5 file (written and closed by HDF5).
    for (const auto& [target, args] :
         {std::pair{report, "run " + quote(net) + " --data " + quote(data) + " --steps 4 -q --report " + quote(report)},
          std::pair{model, "convert " + quote(tiny) + " -o " + quote(model)}}) {
        INFO("snn " << args);
        // -ff: one log per thread (LOG.TID), so no call is split into "<unfinished ...>" and "resumed" lines.
        const fs::path logs = work.path / "strace";
        fs::create_directory(logs);
        // LeakSanitizer cannot run under ptrace (in the sanitizer pass): leaks
        // are checked by every other test there, not by this one.
        const std::string cmd = "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" "
                                "strace -ff -y -qq -e trace=openat,fsync,rename,renameat,renameat2 -o " +
                                quote((logs / "log").string()) + " " + quote(SNN_BINARY) + " " + args +
                                " </dev/null >/dev/null 2>" + quote(work.file("stderr"));
        const int raw = std::system(cmd.c_str());
        const std::string err = slurp(work.file("stderr"));
        INFO("stderr: " << err);
        if (err.find("ptrace") != std::string::npos) {
            WARN("strace cannot trace here (ptrace refused): the fsync order was NOT checked");
            FAIL("strace cannot trace processes on this machine");
        }
        REQUIRE((raw != -1 && WIFEXITED(raw) && WEXITSTATUS(raw) == 0));
        // The thread that renamed the target: its log holds the calls in the order it made them.
        std::vector<std::string> lines;
        for (const auto& e : fs::directory_iterator(logs)) {
            std::vector<std::string> l;
            std::ifstream f(e.path());
            for (std::string line; std::getline(f, line);) l.push_back(line);
            if (slurp(e.path().string()).find("\"" + target + "\"") != std::string::npos) lines = l;
        }
        fs::remove_all(logs);
        std::string text;
        for (const auto& l : lines) text += l + "\n";
        INFO("strace log of the renaming thread:\n" << text);

        // fsync(3</dir/r.json.tmp123456>) = 0, rename("/dir/r.json.tmp123456", "/dir/r.json") = 0, fsync(4</dir>) = 0
        const auto file_syncs = successful(lines, "fsync", "<" + target + ".tmp");
        std::vector<std::size_t> renames;
        for (const char* call : {"rename", "renameat", "renameat2"})
            for (std::size_t i : successful(lines, call, target + ".tmp"))
                if (lines[i].find("\"" + target + "\"") != std::string::npos) renames.push_back(i);
        const auto folder_syncs = successful(lines, "fsync", "<" + dir + ">)");
        REQUIRE(renames.size() == 1);
        REQUIRE(file_syncs.size() >= 1);
        REQUIRE(folder_syncs.size() >= 1);
        CHECK(file_syncs.front() < renames.front());
        CHECK(folder_syncs.back() > renames.front());
    }
}
#endif
