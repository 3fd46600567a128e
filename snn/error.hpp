#pragma once
// The two kinds of failure (STYLE.md rule 5): the user's input is wrong
// (snn::Error, exit code 1, one line naming the file, layer or value), or the
// library has a bug (snn::InternalError, exit code 2).
//
// An snn::Error carries what it is about as data (ErrorContext), so a caller
// can act on it without parsing the message; the kinds below say which input
// was wrong. what() is the one-line message the CLI prints. A message about a
// run option names it by its key (the flag without "--", e.g. "steps"); the
// CLI, which knows the flags, prints it as the flag.
#include <stdexcept>
#include <string>

namespace snn {

struct ErrorContext {
    std::string file;   // the file at fault, if any
    std::string layer;  // the layer or population at fault, if any
    std::string option; // the option at fault (its key, e.g. "max-rate"), if any
    std::string value;  // the offending value, as written, if any
};

struct Error : std::runtime_error {
    explicit Error(const std::string& what, ErrorContext where = {})
        : std::runtime_error(what), context(std::move(where)) {}
    ErrorContext context;
};

// A file that cannot be read, is corrupt, or is not what it claims to be.
struct FileError : Error {
    FileError(const std::string& file, const std::string& what) : Error(what, {file, {}, {}, {}}) {}
};

// A model or network that the program does not support or that does not fit
// together: an unknown layer or op, a shape mismatch, a NaN weight.
struct ModelError : Error {
    ModelError(const std::string& file, const std::string& layer, const std::string& what)
        : Error(what, {file, layer, {}, {}}) {}
};

// An option or configuration value out of its range or not understood.
// what(): "OPTION VALUE-DESCRIPTION" as written by the caller, with OPTION
// the key; the CLI prefixes it with "--".
struct OptionError : Error {
    OptionError(const std::string& option, const std::string& value, const std::string& what)
        : Error(what, {{}, {}, option, value}) {}
};

// A data set that is missing, or whose samples do not fit the network.
struct DataError : Error {
    DataError(const std::string& data, const std::string& what) : Error(what, {data, {}, {}, {}}) {}
};

struct InternalError : std::logic_error {
    explicit InternalError(const std::string& what) : std::logic_error("internal error: " + what) {}
};

} // namespace snn
