#include "snn/h5.hpp"

#include "snn/error.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace snn::h5 {

Handle& Handle::operator=(Handle&& o) noexcept {
    if (this != &o) {
        reset();
        id_ = o.id_;
        close_ = o.close_;
        o.id_ = H5I_INVALID_HID;
    }
    return *this;
}

void Handle::reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
}

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {

std::string where(const Node& n, const std::string& name) {
    std::string p = n.path == "/" ? "/" + name : n.path + "/" + name;
    return n.file + ":" + p;
}

Node child(const Node& parent, Handle h, const std::string& name) {
    return Node{std::move(h), parent.file, parent.path == "/" ? "/" + name : parent.path + "/" + name, parent.budget};
}

Handle open_attr(const Node& node, const std::string& name) {
    if (H5Aexists(node.id(), name.c_str()) <= 0)
        throw FileError(node.file, node.file + ": attribute '" + name + "' missing on " + node.path);
    hid_t a = H5Aopen(node.id(), name.c_str(), H5P_DEFAULT);
    if (a < 0) throw FileError(node.file, node.file + ": cannot open attribute '" + name + "' on " + node.path);
    return Handle(a, H5Aclose);
}

std::uint64_t element_count(hid_t space) {
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0) return 0;
    std::vector<hsize_t> dims(static_cast<std::size_t>(nd));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    std::uint64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
}

// Reads every string held by an attribute (scalar or 1-D, fixed or variable length).
std::vector<std::string> read_strings(const Node& node, const std::string& name) {
    Handle attr = open_attr(node, name);
    Handle type(H5Aget_type(attr.id()), H5Tclose);
    Handle space(H5Aget_space(attr.id()), H5Sclose);
    const std::uint64_t n = element_count(space.id());
    if (H5Tget_class(type.id()) != H5T_STRING) {
        if (n == 0) return {}; // Keras writes an empty float64 array for "no weights"
        throw FileError(node.file, node.file + ": attribute '" + name + "' on " + node.path + " is not a string");
    }
    std::vector<std::string> out;
    if (H5Tis_variable_str(type.id()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.id(), H5T_VARIABLE);
        H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
        std::vector<char*> ptrs(n, nullptr);
        if (n > 0 && H5Aread(attr.id(), mem.id(), ptrs.data()) < 0)
            throw FileError(node.file, node.file + ": cannot read attribute '" + name + "' on " + node.path);
        for (char* p : ptrs) out.emplace_back(p ? p : "");
        if (n > 0) H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data());
    } else {
        const std::size_t len = H5Tget_size(type.id());
        std::vector<char> buf(n * len + 1, '\0');
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.id(), len);
        H5Tset_strpad(mem.id(), H5T_STR_NULLPAD);
        if (n > 0 && H5Aread(attr.id(), mem.id(), buf.data()) < 0)
            throw FileError(node.file, node.file + ": cannot read attribute '" + name + "' on " + node.path);
        for (std::uint64_t i = 0; i < n; ++i) {
            const char* s = buf.data() + i * len;
            out.emplace_back(s, strnlen(s, len));
        }
    }
    return out;
}

Handle open_dataset(const Node& parent, const std::string& path) {
    if (!exists(parent, path)) throw FileError(parent.file, where(parent, path) + ": dataset missing");
    hid_t d = H5Dopen2(parent.id(), path.c_str(), H5P_DEFAULT);
    if (d < 0) throw FileError(parent.file, where(parent, path) + ": not a dataset");
    return Handle(d, H5Dclose);
}

template <class T>
std::vector<T> read_dataset(const Node& parent, const std::string& path, hid_t mem_type,
                            std::vector<std::uint64_t>* dims_out) {
    Handle d = open_dataset(parent, path);
    Handle space(H5Dget_space(d.id()), H5Sclose);
    Handle type(H5Dget_type(d.id()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        throw FileError(parent.file, where(parent, path) + ": expected a numeric dataset");
    const int nd = H5Sget_simple_extent_ndims(space.id());
    std::vector<hsize_t> dims(std::size_t(std::max(nd, 0)));
    if (nd > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
    std::uint64_t n = 1;
    for (auto v : dims) n *= v;
    parent.budget.check(n * sizeof(T), where(parent, path));
    std::vector<T> out(n);
    if (n > 0 && H5Dread(d.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
        throw FileError(parent.file, where(parent, path) + ": cannot read dataset (corrupt file?)");
    if (dims_out) dims_out->assign(dims.begin(), dims.end());
    return out;
}

void write_dataset(const Node& parent, const std::string& name, hid_t file_type, hid_t mem_type,
                   const void* data, const std::vector<std::uint64_t>& dims, bool compress) {
    std::vector<hsize_t> d(dims.begin(), dims.end());
    Handle space(H5Screate_simple(int(d.size()), d.data(), nullptr), H5Sclose);
    Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    std::uint64_t n = 1;
    for (auto v : dims) n *= v;
    if (compress && n > 0 && !d.empty()) {
        std::vector<hsize_t> chunk(d);
        // Chunk along the first axis, about 1 MiB per chunk.
        hsize_t row = 1;
        for (std::size_t i = 1; i < chunk.size(); ++i) row *= chunk[i];
        chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(d[0], (1u << 18) / std::max<hsize_t>(row, 1)));
        H5Pset_chunk(plist.id(), int(chunk.size()), chunk.data());
        H5Pset_deflate(plist.id(), 4);
    }
    Handle ds(H5Dcreate2(parent.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT, plist.id(), H5P_DEFAULT),
              H5Dclose);
    if (!ds.valid()) throw FileError(parent.file, where(parent, name) + ": cannot create dataset");
    if (n > 0 && H5Dwrite(ds.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        throw FileError(parent.file, where(parent, name) + ": cannot write dataset");
}

void write_attr_raw(const Node& node, const std::string& name, hid_t type, const void* data,
                    std::vector<hsize_t> dims) {
    Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    if (H5Aexists(node.id(), name.c_str()) > 0) H5Adelete(node.id(), name.c_str());
    Handle a(H5Acreate2(node.id(), name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    std::uint64_t n = 1;
    for (auto d : dims) n *= d;
    // A zero-sized attribute needs no write (and H5Awrite refuses its null buffer).
    if (!a.valid() || (n > 0 && H5Awrite(a.id(), type, data) < 0))
        throw FileError(node.file, node.file + ": cannot write attribute '" + name + "'");
}

} // namespace

Node open_file(const std::string& path, const MemoryBudget& budget) {
    silence_errors();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw FileError(path, path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw FileError(path, path + ": is a directory, not a file");
    if (H5Fis_hdf5(path.c_str()) <= 0) throw FileError(path, path + ": not an HDF5 file");
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) throw FileError(path, path + ": cannot open as HDF5 (corrupt or truncated?)");
    return Node{Handle(f, H5Fclose), path, "/", budget};
}

Node create_file(const std::string& path) {
    silence_errors();
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    // snn creates files only as AtomicOutput's temporaries, which no other program opens,
    // so HDF5's flock() guards nothing; and where flock() is built on the same
    // locks as fcntl() (NFS), it would collide with AtomicOutput's own lock.
#if (H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 11, 0)) || H5_VERSION_GE(1, 12, 1)
    H5Pset_file_locking(fapl.id(), false, true);
#endif
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
    if (f < 0) throw FileError(path, path + ": cannot create file");
    return Node{Handle(f, H5Fclose), path, "/"};
}

Node open_group(const Node& parent, const std::string& name) {
    if (!exists(parent, name)) throw FileError(parent.file, where(parent, name) + ": group missing");
    hid_t g = H5Gopen2(parent.id(), name.c_str(), H5P_DEFAULT);
    if (g < 0) throw FileError(parent.file, where(parent, name) + ": not a group");
    return child(parent, Handle(g, H5Gclose), name);
}

Node create_group(const Node& parent, const std::string& name) {
    hid_t g = H5Gcreate2(parent.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) throw FileError(parent.file, where(parent, name) + ": cannot create group");
    return child(parent, Handle(g, H5Gclose), name);
}

bool exists(const Node& parent, const std::string& path) {
    // H5Lexists fails on a missing intermediate group, so walk the path.
    std::string prefix;
    std::stringstream ss(path);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        prefix += prefix.empty() ? part : "/" + part;
        if (H5Lexists(parent.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (H5Oexists_by_name(parent.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return !prefix.empty();
}

bool has_attr(const Node& node, const std::string& name) { return H5Aexists(node.id(), name.c_str()) > 0; }

std::vector<std::string> child_names(const Node& group) {
    std::vector<std::string> names;
    H5Literate(
        group.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->emplace_back(name);
            return 0;
        },
        &names);
    return names;
}

std::string read_string_attr(const Node& node, const std::string& name) {
    auto v = read_strings(node, name);
    if (v.size() != 1)
        throw FileError(node.file, node.file + ": attribute '" + name + "' on " + node.path + " is not one string");
    return v[0];
}

std::vector<std::string> read_string_list_attr(const Node& node, const std::string& name) {
    return read_strings(node, name);
}

double read_double_attr(const Node& node, const std::string& name) {
    Handle a = open_attr(node, name);
    Handle space(H5Aget_space(a.id()), H5Sclose);
    if (element_count(space.id()) != 1)
        throw FileError(node.file, node.file + ": attribute '" + name + "' is not a scalar");
    double v = 0;
    if (H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v) < 0)
        throw FileError(node.file, node.file + ": attribute '" + name + "' is not a number");
    return v;
}

std::int64_t read_int_attr(const Node& node, const std::string& name) {
    auto v = read_int_list_attr(node, name);
    if (v.size() != 1) throw FileError(node.file, node.file + ": attribute '" + name + "' is not a scalar");
    return v[0];
}

std::vector<std::int64_t> read_int_list_attr(const Node& node, const std::string& name) {
    Handle a = open_attr(node, name);
    Handle space(H5Aget_space(a.id()), H5Sclose);
    Handle type(H5Aget_type(a.id()), H5Tclose);
    if (H5Tget_class(type.id()) != H5T_INTEGER)
        throw FileError(node.file, node.file + ": attribute '" + name + "' on " + node.path + " is not an integer");
    std::vector<std::int64_t> v(element_count(space.id()));
    if (!v.empty() && H5Aread(a.id(), H5T_NATIVE_INT64, v.data()) < 0)
        throw FileError(node.file, node.file + ": cannot read attribute '" + name + "'");
    return v;
}

void write_attr(const Node& node, const std::string& name, const std::string& value) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.id(), H5T_VARIABLE);
    H5Tset_cset(type.id(), H5T_CSET_UTF8);
    const char* p = value.c_str();
    write_attr_raw(node, name, type.id(), &p, {});
}

void write_attr(const Node& node, const std::string& name, const std::vector<std::string>& values) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.id(), H5T_VARIABLE);
    H5Tset_cset(type.id(), H5T_CSET_UTF8);
    std::vector<const char*> ptrs;
    for (const auto& s : values) ptrs.push_back(s.c_str());
    write_attr_raw(node, name, type.id(), ptrs.data(), {hsize_t(values.size())});
}

void write_attr(const Node& node, const std::string& name, double value) {
    write_attr_raw(node, name, H5T_NATIVE_DOUBLE, &value, {});
}

void write_attr(const Node& node, const std::string& name, std::int64_t value) {
    write_attr_raw(node, name, H5T_NATIVE_INT64, &value, {});
}

void write_attr(const Node& node, const std::string& name, const std::vector<std::int64_t>& values) {
    write_attr_raw(node, name, H5T_NATIVE_INT64, values.data(), {hsize_t(values.size())});
}

std::vector<std::uint64_t> dataset_dims(const Node& parent, const std::string& path) {
    Handle d = open_dataset(parent, path);
    Handle space(H5Dget_space(d.id()), H5Sclose);
    const int nd = H5Sget_simple_extent_ndims(space.id());
    std::vector<hsize_t> dims(std::size_t(std::max(nd, 0)));
    if (nd > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
    return {dims.begin(), dims.end()};
}

std::vector<float> read_floats(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims) {
    return read_dataset<float>(parent, path, H5T_NATIVE_FLOAT, dims);
}

std::vector<std::int64_t> read_ints(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims) {
    return read_dataset<std::int64_t>(parent, path, H5T_NATIVE_INT64, dims);
}

void write_floats(const Node& parent, const std::string& name, const std::vector<float>& data,
                  const std::vector<std::uint64_t>& dims, bool compress) {
    write_dataset(parent, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data.data(), dims, compress);
}

void write_ints(const Node& parent, const std::string& name, const std::vector<std::int64_t>& data,
                const std::vector<std::uint64_t>& dims) {
    write_dataset(parent, name, H5T_STD_I64LE, H5T_NATIVE_INT64, data.data(), dims, false);
}

std::vector<double> read_doubles(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims) {
    return read_dataset<double>(parent, path, H5T_NATIVE_DOUBLE, dims);
}

void write_doubles(const Node& parent, const std::string& name, const std::vector<double>& data,
                   const std::vector<std::uint64_t>& dims) {
    write_dataset(parent, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data.data(), dims, false);
}

std::vector<std::uint64_t> read_uint64s(const Node& parent, const std::string& path, std::vector<std::uint64_t>* dims) {
    return read_dataset<std::uint64_t>(parent, path, H5T_NATIVE_UINT64, dims);
}

void write_uint64s(const Node& parent, const std::string& name, const std::vector<std::uint64_t>& data,
                   const std::vector<std::uint64_t>& dims, bool compress) {
    write_dataset(parent, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, data.data(), dims, compress);
}

void write_ints32(const Node& parent, const std::string& name, const std::vector<std::int32_t>& data,
                  const std::vector<std::uint64_t>& dims) {
    write_dataset(parent, name, H5T_STD_I32LE, H5T_NATIVE_INT32, data.data(), dims, true);
}

} // namespace snn::h5
