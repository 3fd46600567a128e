#pragma once
// A thin RAII layer over the HDF5 C API: handles that close themselves, and
// readers that turn every HDF5 failure into an snn::Error naming the file and
// the object. HDF5's own error-stack printing is switched off.
#include "snn/atomic_output.hpp" // every file written here goes through it
#include "snn/memory.hpp"

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace snn::h5 {

class Handle {
public:
    Handle() = default;
    Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    void reset();
    hid_t id() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_ = H5I_INVALID_HID;
    herr_t (*close_)(hid_t) = nullptr;
};

// A file or group, with the path of the file for error messages and the
// memory budget its datasets are read within (groups inherit the file's).
struct Node {
    Handle handle;
    std::string file;
    std::string path; // inside the file
    MemoryBudget budget;
    hid_t id() const { return handle.id(); }
};

void silence_errors();

Node open_file(const std::string& path, const MemoryBudget& budget = {}); // read-only; Error if missing or not HDF5
Node create_file(const std::string& path); // truncates
Node open_group(const Node& parent, const std::string& name);
Node create_group(const Node& parent, const std::string& name);
bool exists(const Node& parent, const std::string& path); // path may contain '/'
bool has_attr(const Node& node, const std::string& name);
std::vector<std::string> child_names(const Node& group); // in creation/name order as HDF5 lists them

std::string read_string_attr(const Node& node, const std::string& name);
// Reads a list of strings, fixed- or variable-length; an empty numeric array reads as {}.
std::vector<std::string> read_string_list_attr(const Node& node, const std::string& name);
double read_double_attr(const Node& node, const std::string& name);
std::int64_t read_int_attr(const Node& node, const std::string& name);
std::vector<std::int64_t> read_int_list_attr(const Node& node, const std::string& name);

void write_attr(const Node& node, const std::string& name, const std::string& value);
void write_attr(const Node& node, const std::string& name, double value);
void write_attr(const Node& node, const std::string& name, std::int64_t value);
void write_attr(const Node& node, const std::string& name, const std::vector<std::int64_t>& values);
void write_attr(const Node& node, const std::string& name, const std::vector<std::string>& values);

std::vector<std::uint64_t> dataset_dims(const Node& parent, const std::string& path);
// Reads a whole dataset converted to float / int64; refuses it if it would not fit in memory.
std::vector<float> read_floats(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims = nullptr);
std::vector<std::int64_t> read_ints(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims = nullptr);
void write_floats(const Node& parent, const std::string& name, const std::vector<float>& data,
                  const std::vector<std::uint64_t>& dims, bool compress = false);
void write_ints(const Node& parent, const std::string& name, const std::vector<std::int64_t>& data,
                const std::vector<std::uint64_t>& dims);
// float64 datasets: state that must survive a save exactly (a learning checkpoint's θ).
std::vector<double> read_doubles(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims = nullptr);
void write_doubles(const Node& parent, const std::string& name, const std::vector<double>& data,
                   const std::vector<std::uint64_t>& dims);
// uint64 datasets: bit-packed binary weights.
std::vector<std::uint64_t> read_uint64s(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims = nullptr);
void write_uint64s(const Node& parent, const std::string& name, const std::vector<std::uint64_t>& data,
                   const std::vector<std::uint64_t>& dims, bool compress = false);
void write_ints32(const Node& parent, const std::string& name, const std::vector<std::int32_t>& data,
                  const std::vector<std::uint64_t>& dims);

} // namespace snn::h5

