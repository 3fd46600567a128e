// linkem: the switch of the test bed (tools/testbed.sh), with netem's
// shaping done in user space, for kernels built without sch_netem.
//
//   linkem --ports N [--shape PORT:up|down:RATE_BPS:DELAY_US:LOSS]... [--limit PACKETS]
//          [--seed S] --ready FILE
//
// Opens N TAP devices, tb-p0 … tb-p{N-1}, in the network namespace it runs
// in (tools/testbed.sh then moves tb-pI into host I's namespace as its eth0)
// and switches Ethernet frames between them, learning which port each MAC
// address is behind (unknown and broadcast destinations go to every other
// port). Each port is two links: `up` from the host to the switch, `down`
// back. A shaped link works like netem's rate, delay and loss together:
//   a frame is dropped with probability LOSS (each on its own), or when the
//   link already holds PACKETS frames (tail drop, netem's limit);
//   otherwise it goes on the wire once the frames before it have: it takes
//   8·bytes / RATE seconds there (the whole Ethernet frame counts, as netem
//   counts the skb) and arrives DELAY later.
// A link without --shape passes frames on at once. Writes FILE once the
// devices exist; exits on SIGTERM or SIGINT.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Frame = std::vector<std::uint8_t>;

struct Shape {
    double rate_bps = 0; // 0: no limit
    double delay_us = 0;
    double loss = 0;
    bool any() const { return rate_bps > 0 || delay_us > 0 || loss > 0; }
};

// One direction of one port: a FIFO of frames with the times they arrive.
// Arrival times never decrease (the wire is serial and the delay fixed), so
// the front is always the next one due.
struct Link {
    Shape shape;
    std::size_t limit = 1000;
    Clock::time_point wire_free{};
    struct Pending {
        Clock::time_point due;
        Frame frame;
    };
    std::deque<Pending> queue;

    void push(Frame frame, Clock::time_point now, std::mt19937_64& rng) {
        if (!shape.any()) {
            queue.push_back({now, std::move(frame)});
            return;
        }
        if (shape.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < shape.loss) return;
        if (queue.size() >= limit) return;
        const auto start = std::max(now, wire_free);
        const double wire_us = shape.rate_bps > 0 ? 8e6 * double(frame.size()) / shape.rate_bps : 0;
        wire_free = start + std::chrono::microseconds(std::int64_t(wire_us));
        queue.push_back({wire_free + std::chrono::microseconds(std::int64_t(shape.delay_us)), std::move(frame)});
    }
};

volatile std::sig_atomic_t stop = 0;

int open_tap(const std::string& name) {
    const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open /dev/net/tun: " + std::string(std::strerror(errno)));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        throw std::runtime_error("cannot create TAP device " + name + ": " + std::strerror(errno));
    return fd;
}

// "PORT:up|down:RATE_BPS:DELAY_US:LOSS"
void parse_shape(const std::string& s, std::vector<std::array<Link, 2>>& ports) {
    unsigned port = 0;
    char dir[8] = {};
    double rate = 0, delay = 0, loss = 0;
    if (std::sscanf(s.c_str(), "%u:%7[a-z]:%lf:%lf:%lf", &port, dir, &rate, &delay, &loss) != 5 ||
        port >= ports.size() || (std::strcmp(dir, "up") != 0 && std::strcmp(dir, "down") != 0) || rate < 0 ||
        delay < 0 || loss < 0 || loss > 1)
        throw std::runtime_error("--shape " + s + ": expected PORT:up|down:RATE_BPS:DELAY_US:LOSS with PORT < --ports");
    ports[port][std::strcmp(dir, "up") == 0 ? 0 : 1].shape = {rate, delay, loss};
}

struct Switch {
    std::vector<int> fds;
    std::vector<std::array<Link, 2>> links; // [port][0: up, host → switch; 1: down, switch → host]
    std::map<std::array<std::uint8_t, 6>, std::size_t> port_of;
    std::mt19937_64 rng;

    // A frame off port p's up link: to the down link of the port its
    // destination is behind, or of every other port.
    void forward(std::size_t p, Frame frame, Clock::time_point now) {
        if (frame.size() < 14) return;
        std::array<std::uint8_t, 6> dst, src;
        std::memcpy(dst.data(), frame.data(), 6);
        std::memcpy(src.data(), frame.data() + 6, 6);
        if (!(src[0] & 1)) port_of[src] = p;
        const auto it = (dst[0] & 1) ? port_of.end() : port_of.find(dst);
        if (it != port_of.end()) {
            if (it->second != p) links[it->second][1].push(std::move(frame), now, rng);
            return;
        }
        for (std::size_t q = 0; q < links.size(); ++q)
            if (q != p) links[q][1].push(frame, now, rng);
    }

    // Moves every due frame one stage on; returns the next time one is due.
    Clock::time_point release(Clock::time_point now) {
        for (std::size_t p = 0; p < links.size(); ++p)
            for (auto& up = links[p][0].queue; !up.empty() && up.front().due <= now; up.pop_front())
                forward(p, std::move(up.front().frame), now);
        Clock::time_point next = Clock::time_point::max();
        for (std::size_t p = 0; p < links.size(); ++p) {
            auto& down = links[p][1].queue;
            for (; !down.empty() && down.front().due <= now; down.pop_front())
                (void)!write(fds[p], down.front().frame.data(), down.front().frame.size()); // a full TAP queue drops, as a wire would
            for (const auto& link : links[p])
                if (!link.queue.empty()) next = std::min(next, link.queue.front().due);
        }
        return next;
    }

    void run() {
        std::vector<pollfd> pfds;
        for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
        Frame buf(65536);
        Clock::time_point next = Clock::time_point::max();
        while (!stop) {
            int timeout_ms = 200;
            if (next != Clock::time_point::max()) {
                const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(next - Clock::now()).count();
                timeout_ms = wait <= 0 ? 0 : int(std::min<std::int64_t>(200, (wait + 999) / 1000));
            }
            if (poll(pfds.data(), pfds.size(), timeout_ms) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
            const auto now = Clock::now();
            for (std::size_t p = 0; p < fds.size(); ++p) {
                if (!(pfds[p].revents & POLLIN)) continue;
                for (ssize_t n; (n = read(fds[p], buf.data(), buf.size())) > 0;)
                    links[p][0].push(Frame(buf.begin(), buf.begin() + n), now, rng);
            }
            next = release(now);
        }
    }
};

} // namespace

int main(int argc, char** argv) {
    try {
        std::size_t ports = 0, limit = 1000;
        std::uint64_t seed = 1;
        std::string ready;
        std::vector<std::string> shapes;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (i + 1 >= argc) throw std::runtime_error("option " + a + " needs a value");
            const std::string v = argv[++i];
            if (a == "--ports") ports = std::stoul(v);
            else if (a == "--shape") shapes.push_back(v);
            else if (a == "--limit") limit = std::stoul(v);
            else if (a == "--seed") seed = std::stoull(v);
            else if (a == "--ready") ready = v;
            else throw std::runtime_error("unknown option " + a);
        }
        if (ports < 2 || ready.empty()) throw std::runtime_error("usage: linkem --ports N (N ≥ 2) [--shape ...] --ready FILE");
        Switch sw;
        sw.rng.seed(seed);
        sw.links.resize(ports);
        for (auto& port : sw.links)
            for (auto& link : port) link.limit = limit;
        for (const auto& s : shapes) parse_shape(s, sw.links);
        for (std::size_t p = 0; p < ports; ++p) sw.fds.push_back(open_tap("tb-p" + std::to_string(p)));
        std::signal(SIGTERM, [](int) { stop = 1; });
        std::signal(SIGINT, [](int) { stop = 1; });
        std::ofstream(ready) << getpid() << "\n";
        sw.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "linkem: %s\n", e.what());
        return 1;
    }
}
