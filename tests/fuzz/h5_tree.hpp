#pragma once
// Builds an HDF5 file from a JSON description, so that a fuzzer mutates the
// structure our readers see (groups, attributes and their types, dataset
// shapes, dtypes and values) rather than HDF5's own byte layout, which is
// HDF5's to parse and not ours.
//
//   TREE    = {"attrs": {NAME: VALUE}, "groups": {NAME: TREE}, "datasets": {NAME: DATASET}}
//   VALUE   = "text"                 variable-length UTF-8 string (scalar)
//           | 12 | 1.5 | true        int64 / double / int64 scalar
//           | ["a","b"] | [1,2] | [1.5]   list of strings / int64 / double
//           | []                      empty float64 array (what Keras writes for "no weights")
//           | {"$fixed": "s" | ["s", ...]}   fixed-length string(s)
//           | {"$dtype": D, "$values": [...]}  numeric list of dtype D
//           | any other object        its JSON text, as a string (model_config)
//   DATASET = {"shape": [dims], "dtype": D, "values": [numbers or "nan", "inf", "-inf"],
//              "chunked": bool, "attrs": {...}}
//   D       = "f4" | "f8" | "f4be" | "i1" | "i4" | "i8" | "u1" | "u8" | "str"
//
// Values are repeated to fill a dataset. A dataset whose data would exceed
// kMaxWrittenBytes is created but not written (HDF5 allocates storage late),
// so it declares its shape without costing the fuzzer time; a reader that
// trusts that shape asks for memory it must refuse. Anything the builder cannot
// make (a name HDF5 refuses, a dimension it rejects) is skipped: the reader
// then sees a file without it, which is just another input.
#include <hdf5.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace snn::fuzz {

inline constexpr std::uint64_t kMaxWrittenBytes = std::uint64_t(1) << 20;

class H5Tree {
public:
    using json = nlohmann::json;

    // Writes `tree` to `path` (truncating it); returns false if HDF5 could not create the file.
    static bool write(const std::string& path, const json& tree) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0) return false;
        fill(file, tree, 0);
        H5Fclose(file);
        return true;
    }

private:
    static constexpr int kMaxDepth = 8;

    static hid_t numeric_type(const std::string& d) {
        if (d == "f4") return H5T_IEEE_F32LE;
        if (d == "f8") return H5T_IEEE_F64LE;
        if (d == "f4be") return H5T_IEEE_F32BE; // a byte order our readers must convert
        if (d == "i1") return H5T_STD_I8LE;
        if (d == "i4") return H5T_STD_I32LE;
        if (d == "i8") return H5T_STD_I64LE;
        if (d == "u1") return H5T_STD_U8LE;
        if (d == "u8") return H5T_STD_U64LE;
        return H5I_INVALID_HID;
    }

    static double number(const json& v) {
        if (v.is_number()) return v.get<double>();
        if (v.is_string()) {
            const std::string s = v.get<std::string>();
            if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
            if (s == "inf") return std::numeric_limits<double>::infinity();
            if (s == "-inf") return -std::numeric_limits<double>::infinity();
        }
        if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
        return 0;
    }

    static void fill(hid_t loc, const json& tree, int depth) {
        if (!tree.is_object() || depth > kMaxDepth) return;
        if (auto it = tree.find("attrs"); it != tree.end() && it->is_object())
            for (const auto& [name, value] : it->items()) attr(loc, name, value);
        if (auto it = tree.find("datasets"); it != tree.end() && it->is_object())
            for (const auto& [name, spec] : it->items()) dataset(loc, name, spec);
        if (auto it = tree.find("groups"); it != tree.end() && it->is_object())
            for (const auto& [name, sub] : it->items()) {
                const hid_t g = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g < 0) continue;
                fill(g, sub, depth + 1);
                H5Gclose(g);
            }
    }

    static void write_attr(hid_t loc, const std::string& name, hid_t type, const void* data, hsize_t n, bool scalar) {
        const hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
        const hid_t a = H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            if (scalar || n > 0) H5Awrite(a, type, data);
            H5Aclose(a);
        }
        H5Sclose(space);
    }

    static void string_attr(hid_t loc, const std::string& name, const std::vector<std::string>& values, bool scalar,
                            bool fixed) {
        const hid_t type = H5Tcopy(H5T_C_S1);
        if (fixed) {
            std::size_t len = 1;
            for (const auto& s : values) len = std::max(len, s.size());
            std::vector<char> buf(len * values.size(), '\0');
            for (std::size_t i = 0; i < values.size(); ++i) values[i].copy(buf.data() + i * len, len);
            H5Tset_size(type, len);
            H5Tset_strpad(type, H5T_STR_NULLPAD);
            write_attr(loc, name, type, buf.data(), hsize_t(values.size()), scalar);
        } else {
            H5Tset_size(type, H5T_VARIABLE);
            H5Tset_cset(type, H5T_CSET_UTF8);
            std::vector<const char*> ptrs;
            for (const auto& s : values) ptrs.push_back(s.c_str());
            write_attr(loc, name, type, ptrs.data(), hsize_t(values.size()), scalar);
        }
        H5Tclose(type);
    }

    static void attr(hid_t loc, const std::string& name, const json& v) {
        if (v.is_string()) return string_attr(loc, name, {v.get<std::string>()}, true, false);
        if (v.is_number_integer() || v.is_boolean()) {
            const std::int64_t x = v.is_boolean() ? std::int64_t(v.get<bool>()) : v.get<std::int64_t>();
            return write_attr(loc, name, H5T_NATIVE_INT64, &x, 1, true);
        }
        if (v.is_number()) {
            const double x = v.get<double>();
            return write_attr(loc, name, H5T_NATIVE_DOUBLE, &x, 1, true);
        }
        if (v.is_array()) {
            bool strings = !v.empty(), ints = !v.empty(), numbers = true;
            for (const auto& e : v) {
                strings = strings && e.is_string();
                ints = ints && e.is_number_integer();
                numbers = numbers && e.is_number();
            }
            if (strings) {
                std::vector<std::string> s;
                for (const auto& e : v) s.push_back(e.get<std::string>());
                return string_attr(loc, name, s, false, false);
            }
            if (ints) {
                std::vector<std::int64_t> x;
                for (const auto& e : v) x.push_back(e.get<std::int64_t>());
                return write_attr(loc, name, H5T_NATIVE_INT64, x.data(), hsize_t(x.size()), false);
            }
            if (numbers) {
                std::vector<double> x;
                for (const auto& e : v) x.push_back(e.get<double>());
                return write_attr(loc, name, H5T_NATIVE_DOUBLE, x.data(), hsize_t(x.size()), false);
            }
            return string_attr(loc, name, {v.dump()}, true, false);
        }
        if (v.is_object()) {
            if (auto f = v.find("$fixed"); f != v.end()) {
                if (f->is_string()) return string_attr(loc, name, {f->get<std::string>()}, true, true);
                std::vector<std::string> s;
                if (f->is_array())
                    for (const auto& e : *f)
                        if (e.is_string()) s.push_back(e.get<std::string>());
                return string_attr(loc, name, s, false, true);
            }
            if (auto d = v.find("$dtype"); d != v.end() && d->is_string()) {
                const hid_t type = numeric_type(d->get<std::string>());
                if (type == H5I_INVALID_HID) return;
                std::vector<double> x;
                if (auto vals = v.find("$values"); vals != v.end() && vals->is_array())
                    for (const auto& e : *vals) x.push_back(number(e));
                // HDF5 converts the doubles to the file type on write (clipping what does not fit).
                const hsize_t n = x.size();
                const hid_t space = H5Screate_simple(1, &n, nullptr);
                const hid_t a = H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
                if (a >= 0) {
                    if (n > 0) H5Awrite(a, H5T_NATIVE_DOUBLE, x.data());
                    H5Aclose(a);
                }
                H5Sclose(space);
                return;
            }
            return string_attr(loc, name, {v.dump()}, true, false);
        }
    }

    static void dataset(hid_t loc, const std::string& name, const json& spec) {
        if (!spec.is_object()) return;
        std::vector<hsize_t> dims;
        if (auto s = spec.find("shape"); s != spec.end() && s->is_array())
            for (const auto& d : *s) {
                if (!d.is_number_integer() || d.get<std::int64_t>() < 0 || dims.size() >= 32) return;
                dims.push_back(hsize_t(d.get<std::int64_t>()));
            }
        // json::value() throws on a key of another type: read only what has the right one.
        const auto dt = spec.find("dtype");
        const std::string dtype = dt != spec.end() && dt->is_string() ? dt->get<std::string>() : "f4";
        const bool is_str = dtype == "str";
        const hid_t type = is_str ? H5Tcopy(H5T_C_S1) : H5Tcopy(numeric_type(dtype));
        if (type < 0) return;
        if (is_str) H5Tset_size(type, H5T_VARIABLE);

        // Element count, saturating: HDF5 itself may accept a shape whose product overflows.
        std::uint64_t n = 1;
        for (auto d : dims) n = (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) ? std::numeric_limits<std::uint64_t>::max() : n * d;
        const bool write_data = n * 8 / 8 == n && n * 8 <= kMaxWrittenBytes;

        const hid_t space = spec.contains("shape") ? H5Screate_simple(int(dims.size()), dims.data(), nullptr)
                                                   : H5Screate(H5S_SCALAR);
        const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        const auto ch = spec.find("chunked");
        const bool chunked = ch != spec.end() && ch->is_boolean() && ch->get<bool>();
        if ((chunked || !write_data) && !dims.empty() && n > 0) {
            std::vector<hsize_t> chunk(dims.size(), 1);
            chunk.back() = std::min<hsize_t>(dims.back(), 1024);
            H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
        }
        const hid_t ds = space < 0 ? H5I_INVALID_HID : H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (ds >= 0) {
            if (write_data && n > 0 && !is_str) {
                std::vector<double> values;
                if (auto v = spec.find("values"); v != spec.end() && v->is_array())
                    for (const auto& e : *v) values.push_back(number(e));
                if (values.empty()) values.push_back(0.5);
                std::vector<double> data(n);
                for (std::uint64_t i = 0; i < n; ++i) data[i] = values[i % values.size()];
                H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
            }
            if (auto a = spec.find("attrs"); a != spec.end() && a->is_object())
                for (const auto& [an, av] : a->items()) attr(ds, an, av);
            H5Dclose(ds);
        }
        H5Pclose(dcpl);
        if (space >= 0) H5Sclose(space);
        H5Tclose(type);
    }
};

// A scratch file on tmpfs (when there is one) for this process: the readers
// take paths, and a file in memory keeps an iteration cheap.
inline std::string scratch_path(const std::string& name) {
    static const std::string dir = [] {
        const char* shm = "/dev/shm";
        return std::string(access(shm, W_OK) == 0 ? shm : "/tmp");
    }();
    return dir + "/snn-fuzz-" + std::to_string(getpid()) + "-" + name;
}

} // namespace snn::fuzz
