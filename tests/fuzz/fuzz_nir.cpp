// Fuzz target: the NIR importer (convert/nir.cpp): the graph walk over HDF5
// groups and string datasets, subgraphs and dotted names, edge resolution,
// the topological sort, every node's fields and the folds. As with the other
// HDF5 targets (docs/reliability.md), the fuzzer mutates the structure our
// code reads, not HDF5's byte layout: an input is a JSON description of a
// NIR file, written here with the rules of NIR's own writer:
//
//   FILE  = {"version": "0.2.0", "node": GRAPH}      (either may be absent or of another type)
//   GRAPH = {"type": "NIRGraph", "nodes": {NAME: NODE}, "edges": [["a", "b"], ...], "metadata": {...}}
//   NODE  = {"type": "IF", FIELD: VALUE, ...}  (a NODE with "nodes" is written as a group, like GRAPH)
//   VALUE = "text" (vlen UTF-8 string) | 12 (int64) | 1.5 (float64)
//         | [..] (nested lists: an int64 or float64 array of that shape; lists of strings: a string array)
//         | {"dtype": "f4"|"f8"|"i8", "shape": [...], "values": [...]} (values repeated to fill it)
//
// Seeds: tests/fuzz/corpus/nir/, descriptions of data/fixtures/nir/.
// snn::Error is the expected way to refuse a file; any other exception, a
// crash or a sanitizer report is a bug.
#include "convert/nir.hpp"
#include "snn/error.hpp"
#include "snn/memory.hpp"
#include "tests/fuzz/h5_tree.hpp"

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxElements = 1 << 16;

void write_raw(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<hsize_t>& dims,
               bool scalar, const void* data) {
    const hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    if (space < 0) return;
    const hid_t ds = H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds >= 0) {
        H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        H5Dclose(ds);
    }
    H5Sclose(space);
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& s, const std::vector<hsize_t>& dims,
                   bool scalar) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    std::vector<const char*> p;
    for (const auto& x : s) p.push_back(x.c_str());
    write_raw(loc, name, t, t, dims, scalar, p.data());
    H5Tclose(t);
}

// A nested list: its shape (ragged lists are cut to their first row's length) and leaves in order.
void leaves(const json& v, std::size_t depth, std::vector<hsize_t>& dims, std::vector<const json*>& out) {
    if (!v.is_array()) {
        out.push_back(&v);
        return;
    }
    if (dims.size() <= depth) dims.push_back(v.size());
    if (v.size() != dims[depth] || depth > 8) return;
    for (const auto& e : v) leaves(e, depth + 1, dims, out);
}

void write_value(hid_t loc, const std::string& name, const json& v);

void write_group(hid_t loc, const std::string& name, const json& tree) {
    const hid_t g = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return;
    for (const auto& [k, v] : tree.items()) write_value(g, k, v);
    H5Gclose(g);
}

void write_value(hid_t loc, const std::string& name, const json& v) {
    if (v.is_string()) return write_strings(loc, name, {v.get<std::string>()}, {}, true);
    if (v.is_number_integer() || v.is_boolean()) {
        const std::int64_t x = v.is_boolean() ? std::int64_t(v.get<bool>()) : v.get<std::int64_t>();
        return write_raw(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, true, &x);
    }
    if (v.is_number()) {
        const double x = v.get<double>();
        return write_raw(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, true, &x);
    }
    if (v.is_array()) {
        std::vector<hsize_t> dims;
        std::vector<const json*> out;
        leaves(v, 0, dims, out);
        std::uint64_t n = 1;
        for (auto d : dims) n *= d;
        if (n != out.size() || n > kMaxElements) return;
        bool strings = n > 0, ints = true;
        for (const json* e : out) {
            strings = strings && e->is_string();
            ints = ints && e->is_number_integer();
        }
        if (strings) {
            std::vector<std::string> s;
            for (const json* e : out) s.push_back(e->get<std::string>());
            return write_strings(loc, name, s, dims, false);
        }
        if (ints && n > 0) {
            std::vector<std::int64_t> x;
            for (const json* e : out) x.push_back(e->get<std::int64_t>());
            return write_raw(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, dims, false, x.data());
        }
        std::vector<double> x;
        for (const json* e : out) x.push_back(e->is_number() ? e->get<double>() : 0.0);
        return write_raw(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, false, x.data());
    }
    if (!v.is_object()) return;
    if (const auto dt = v.find("dtype"); dt != v.end() && dt->is_string()) {
        std::vector<hsize_t> dims;
        std::uint64_t n = 1;
        if (const auto s = v.find("shape"); s != v.end() && s->is_array())
            for (const auto& d : *s) {
                if (!d.is_number_integer() || d.get<std::int64_t>() < 0 || dims.size() >= 8) return;
                dims.push_back(hsize_t(d.get<std::int64_t>()));
                n *= dims.back();
                if (n > kMaxElements) return;
            }
        std::vector<double> values;
        if (const auto a = v.find("values"); a != v.end() && a->is_array())
            for (const auto& e : *a) values.push_back(e.is_number() ? e.get<double>() : 0.0);
        if (values.empty()) values.push_back(1.0);
        std::vector<double> x(n);
        for (std::uint64_t i = 0; i < n; ++i) x[i] = values[i % values.size()];
        const std::string d = dt->get<std::string>();
        const hid_t ft = d == "f4" ? H5T_IEEE_F32LE : d == "i8" ? H5T_STD_I64LE : H5T_IEEE_F64LE;
        return write_raw(loc, name, ft, H5T_NATIVE_DOUBLE, dims, !v.contains("shape"), x.data());
    }
    write_group(loc, name, v);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A limit far below the machine's memory, so that a declared shape that
    // is merely large is refused quickly instead of slowing the campaign.
    const snn::MemoryBudget budget(std::uint64_t(64) << 20);
    const json tree = json::parse(data, data + size, nullptr, false);
    if (tree.is_discarded() || !tree.is_object()) return 0;
    const std::string path = snn::fuzz::scratch_path("graph.nir");
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 0;
    for (const auto& [k, v] : tree.items()) write_value(f, k, v);
    H5Fclose(f);
    try {
        std::vector<std::string> notes;
        snn::NirImportOptions o;
        o.memory = budget;
        const snn::Network net = snn::import_nir(path, o, notes);
        (void)net;
    } catch (const snn::Error&) {
    }
    return 0;
}
