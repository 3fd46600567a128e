#pragma once
// The two kinds of failure (STYLE.md rule 5): the user's input is wrong
// (snn::Error, exit code 1, one line naming the file, layer or value), or the
// library has a bug (snn::InternalError, exit code 2).
#include <stdexcept>
#include <string>

namespace snn {

struct Error : std::runtime_error {
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

struct InternalError : std::logic_error {
    explicit InternalError(const std::string& what) : std::logic_error("internal error: " + what) {}
};

} // namespace snn
