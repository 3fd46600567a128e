#pragma once
// `snn export NET.snn.h5 -o net.nir`: a network written as a NIR graph
// (convert/nir.hpp). Kept out of main.cpp, which only registers it.
#include "snn/memory.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace snn {

struct ExportArgs {
    MemoryBudget memory; // --max-memory
    std::string network, output;
    CLI::App* command = nullptr;
};

// Registers `snn export`; returns the command.
CLI::App* add_export_command(CLI::App& app, ExportArgs& args);
// Runs it if it was parsed; returns the exit code, or −1 if it was not.
int run_export_command(const ExportArgs& args);

} // namespace snn
