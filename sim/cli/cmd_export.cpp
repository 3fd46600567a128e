#include "sim/cli/cmd_export.hpp"

#include "convert/nir.hpp"
#include "snn/network_io.hpp"

#include <cstdio>

namespace snn {

CLI::App* add_export_command(CLI::App& app, ExportArgs& a) {
    a.command = app.add_subcommand("export", "Write a network as a NIR graph (.nir) for other spiking frameworks");
    a.command->add_option("network", a.network, "Network file (.snn.h5)")->required();
    a.command->add_option("-o,--output", a.output, "NIR file to write (.nir)")->required();
    return a.command;
}

int run_export_command(const ExportArgs& a) {
    if (a.command == nullptr || !a.command->parsed()) return -1;
    const Network net = load(a.network, a.memory);
    std::vector<std::string> warnings;
    export_nir(net, a.output, warnings);
    // Once per thing a NIR reader will ignore or read differently.
    for (const std::string& w : warnings) std::fprintf(stderr, "snn: warning: %s\n", w.c_str());
    std::printf("wrote %s: %zu populations as a NIR graph\n", a.output.c_str(), net.populations.size());
    return 0;
}

} // namespace snn
