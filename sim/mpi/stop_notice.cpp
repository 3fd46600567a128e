#include "sim/mpi/stop_notice.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace snn::mpi {

namespace {

constexpr std::size_t line_bytes = 512;
char lines[2][line_bytes + 64]; // the prefix, then the text
std::atomic<int> current{-1}; // −1: no pipeline running
char prefix[64], running_line[line_bytes];
struct sigaction previous;

extern "C" void on_stop(int) {
    const int k = current.load();
    if (k >= 0) {
        const ssize_t written = write(STDERR_FILENO, lines[k], std::strlen(lines[k]));
        (void)written;
    }
    _exit(1);
}

void publish(const char* text) {
    const int next = current.load() == 0 ? 1 : 0;
    std::snprintf(lines[next], sizeof lines[next], "%s%s\n", prefix, text);
    current.store(next);
}

} // namespace

StopNotice::StopNotice(int rank, const std::string& running) {
    std::snprintf(prefix, sizeof prefix, "snn: error: rank %d: stopped by mpirun ", rank);
    std::snprintf(running_line, sizeof running_line, "%s", running.c_str());
    publish(running_line);
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &previous);
}

StopNotice::~StopNotice() {
    sigaction(SIGTERM, &previous, nullptr);
    current.store(-1);
}

void StopNotice::waiting(const std::string& what) {
    if (current.load() >= 0) publish(("while it waited: " + what).c_str());
}

void StopNotice::done() {
    if (current.load() >= 0) publish(running_line);
}

std::string running_text(const std::vector<std::string>& devices, const std::string& device,
                         const std::vector<std::string>& neighbours) {
    std::string with;
    for (std::size_t r = 0; r < devices.size(); ++r) {
        bool near = false;
        for (const std::string& n : neighbours) near |= n == devices[r] && n != device;
        if (!near) continue;
        if (!with.empty()) with += " and ";
        with += "rank " + std::to_string(r) + " (device '" + devices[r] + "')";
    }
    return "while device '" + device + "' computed (it exchanges messages with " + with + ")";
}

} // namespace snn::mpi
