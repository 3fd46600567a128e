#pragma once
// The registry behind each folder's per-kind table (snn/kind.hpp): entries
// indexed by ProjectionKind, filled on first use by the folder's generated
// registration function (cmake/kinds.cmake), read-only afterwards.
#include "snn/error.hpp"
#include "snn/network.hpp"

#include <optional>
#include <string>
#include <vector>

namespace snn {

template <class Entry, void (*RegisterAll)()> class KindRegistry {
public:
    // Called by the registration functions only (during the first lookup).
    static void add(const Entry& e) {
        auto& t = table();
        const auto i = std::size_t(e.kind);
        if (t.size() <= i) t.resize(i + 1);
        if (t[i]) throw InternalError(std::string("projection kind registered twice: ") + std::to_string(i));
        t[i] = e;
    }
    static const Entry* find(ProjectionKind k) {
        static const bool filled = (RegisterAll(), true);
        (void)filled;
        const auto& t = table();
        const auto i = std::size_t(k);
        return i < t.size() && t[i] ? &*t[i] : nullptr;
    }
    static const Entry& get(ProjectionKind k, const char* what) {
        if (const Entry* e = find(k)) return *e;
        throw InternalError(std::string(what) + ": projection kind " + std::to_string(int(k)) + " is not registered");
    }
    static std::vector<ProjectionKind> kinds() {
        find(ProjectionKind{});
        std::vector<ProjectionKind> v;
        for (std::size_t i = 0; i < table().size(); ++i)
            if (table()[i]) v.push_back(ProjectionKind(i));
        return v;
    }

private:
    static std::vector<std::optional<Entry>>& table() {
        static std::vector<std::optional<Entry>> t;
        return t;
    }
};

} // namespace snn
