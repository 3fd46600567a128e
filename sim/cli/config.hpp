#pragma once
// Config files for every subcommand: `snn CMD --config FILE` reads options from
// a TOML or INI file whose keys are the command's flag names without "--"
// (positional arguments by their names: network, model, ...), and
// `snn CMD ... --dump-config` prints the command's effective options in that
// form and runs nothing. Flags given on the command line win over the file.
//
// A file may hold keys for several commands: keys before any [section] apply
// to whichever command reads the file, keys under [run], [convert],
// [exits.train], ... only to that command. CLI11 parses the file (its TOML/INI
// reader); this layer checks every key against the command before any is
// used, and remembers the line of each key, so that a bad key or value gets
// one line naming the file, the line and the key.
#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace snn::cli {

// A config file that cannot be used: what() is the one line the user reads.
struct ConfigFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ConfigFiles {
public:
    // Adds --config and --dump-config to every command that has no
    // subcommands of its own. Call once every command is registered.
    void attach(CLI::App& app);
    // Before app.parse(argc, argv): finds the command and its --config in
    // argv and has the parser read that file. Throws ConfigFileError.
    void prepare(CLI::App& app, int argc, const char* const* argv);
    // After parsing: whether --dump-config was given; if so, writes the
    // effective options of the command to out.
    bool dump_if_asked(std::ostream& out) const;
    // "FILE:LINE: key 'KEY': " where the option KEY took its value from the
    // file (not from the command line), else "". For error messages.
    std::string locate(const std::string& key) const;
    // The same for a CLI11 parse error: the key of the file whose flag the
    // message names, if any.
    std::string locate_parse_error(const std::string& message) const;

    struct State; // shared with the file reader (CLI11 owns the reader)

private:
    std::shared_ptr<State> state_;
    std::vector<CLI::App*> leaves_;
    std::map<const CLI::App*, CLI::Option*> dump_flags_;
};

} // namespace snn::cli
