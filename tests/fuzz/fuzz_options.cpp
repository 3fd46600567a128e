// Fuzz target: the command-line values snn parses by hand. Byte 0 picks the
// parser, the rest is the text:
//   0 --max-memory (parse_memory_size)   1 --norm (parse_norm)
//   2 --data / --calib names (load_dataset, with no data files present)
//   3 --encode   4 --readout   5 --neuron   6 --reset
//   7 population and projection kinds as a network file spells them
//   8 --partition specs (parse_partition, on a 4-population network whose
//     names contain '-')          9 --costs files (load_cost_table)
//   10 --quantize entries, comma-separated (parse_quantize)
//   11 --prune entries, comma-separated (parse_prune)
//
// snn::Error is the expected way to refuse a value; any other exception, a
// crash or a sanitizer report is a bug.
#include "convert/normalize.hpp"
#include "convert/prune.hpp"
#include "convert/quantize.hpp"
#include "sim/engine.hpp"
#include "sim/traffic.hpp"
#include "snn/dataset.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "snn/network.hpp"

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

// input → conv-1 → pool → out, with a '-' inside a name as users' files may have.
snn::Network partition_target() {
    snn::Network net;
    for (const char* name : {"input", "conv-1", "pool", "out"}) {
        snn::Population p;
        p.name = name;
        p.kind = net.populations.empty() ? snn::PopulationKind::Input : snn::PopulationKind::Spiking;
        net.populations.push_back(p);
    }
    return net;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fs = std::filesystem;
    // Data-set names are resolved against an empty directory, and relative
    // paths against another: a name can only reach files the harness made.
    static const fs::path root = [] {
        const fs::path r = fs::path(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") /
                           ("snn-fuzz-options-" + std::to_string(getpid()));
        fs::create_directories(r / "cwd");
        fs::create_directories(r / "data");
        fs::current_path(r / "cwd");
        return r;
    }();
    if (size < 1) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 12) {
        case 0: {
            const std::uint64_t bytes = snn::parse_memory_size(text);
            if (bytes < 1) std::abort();
            (void)snn::format_bytes(bytes);
            break;
        }
        case 1: {
            const snn::NormSpec n = snn::parse_norm(text);
            if (n.kind == snn::NormSpec::Kind::Percentile && !(n.percentile > 0 && n.percentile <= 100)) std::abort();
            if (snn::parse_norm(n.str()).kind != n.kind) std::abort();
            break;
        }
        case 2:
            // Absolute paths and ones that climb out could name any file on the
            // machine (a FIFO would block): the HDF5 reader has its own target.
            if (text.find('/') != std::string::npos || text.find('\0') != std::string::npos) break;
            (void)snn::load_dataset(text, 1, (root / "data").string());
            break;
        case 3: (void)snn::encoding_from(text); break;
        case 4: (void)snn::readout_from(text); break;
        case 5: (void)snn::neuron_model_from(text); break;
        case 6: (void)snn::reset_mode_from(text); break;
        case 7:
            try {
                (void)snn::population_kind_from(text);
            } catch (const snn::Error&) {
            }
            (void)snn::projection_kind_from(text);
            break;
        case 8: {
            static const snn::Network net = partition_target();
            const std::vector<std::string> devices = snn::parse_partition(net, text);
            if (devices.size() != net.populations.size()) std::abort();
            break;
        }
        case 9: {
            const std::string path = (root / "costs.json").string();
            std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
            (void)snn::to_json(snn::load_cost_table(path)).dump();
            break;
        }
        case 10: {
            std::vector<std::string> entries;
            std::size_t start = 0;
            for (std::size_t i = 0; i <= text.size(); ++i)
                if (i == text.size() || text[i] == ',') {
                    entries.push_back(text.substr(start, i - start));
                    start = i + 1;
                }
            for (const snn::QuantizeEntry& e : snn::parse_quantize(entries)) {
                const snn::QuantSpec& q = e.spec;
                if (e.binary) continue;
                if (q.scheme == snn::QuantScheme::Int && (q.bits < 2 || q.bits > 8)) std::abort();
                if (q.scheme == snn::QuantScheme::Qsq && (q.vector < 0 || (q.levels != 1 && q.levels != 2 && q.levels != 4)))
                    std::abort();
                if (q.scheme == snn::QuantScheme::None) std::abort();
            }
            break;
        }
        case 11: {
            std::vector<std::string> entries;
            std::size_t start = 0;
            for (std::size_t i = 0; i <= text.size(); ++i)
                if (i == text.size() || text[i] == ',') {
                    entries.push_back(text.substr(start, i - start));
                    start = i + 1;
                }
            for (const snn::PruneEntry& e : snn::parse_prune(entries))
                if (!(e.ratio >= 0 && e.ratio < 1)) std::abort();
            break;
        }
        }
    } catch (const snn::Error&) {
    }
    return 0;
}
