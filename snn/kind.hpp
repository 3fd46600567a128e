#pragma once
// Projection kinds: each is declared once per folder, in a file of its own,
//   snn/kinds/NAME.cpp      what it is: its name in .snn.h5, its weights'
//                           count and stored dimensions, its shape rule, the
//                           DNN multiply-accumulates it stands for;
//   convert/kinds/NAME.cpp  its DNN forward pass and how normalization bounds
//                           and rescales it (convert/dnn_kind.hpp);
//   sim/kinds/NAME.cpp      its reference event kernel (sim/sim_kind.hpp),
//                           which every faster kernel is tested against;
// plus its enumerator in ProjectionKind (snn/network.hpp) and, where a model
// format has such a layer, its mapping in that importer. Each file registers
// its part in a function declared by SNN_KIND_REGISTRATION(folder, NAME);
// the build lists the files of each kinds/ folder (cmake/kinds.cmake) and
// calls every registration before the first lookup, so adding a kind needs no
// list kept by hand.
#include "snn/error.hpp"
#include "snn/network.hpp"

#include <cstdint>
#include <vector>

// Declares the registration function of file kinds/NAME.cpp in `folder`
// (snn, convert or sim); the file defines it: SNN_KIND_REGISTRATION(snn, dense) { register_kind({...}); }
#define SNN_KIND_REGISTRATION(folder, name) void snn_register_##folder##_kind_##name()

namespace snn {

struct KindTraits {
    ProjectionKind kind;
    const char* name;      // in .snn.h5 (the projection's `kind` attribute) and reports
    bool windowed = false; // reads Projection::window
    // The weights: how many, and their dimensions as stored (row-major).
    std::int64_t (*weight_count)(const Projection& p, const Shape& src, const Shape& dst) = nullptr;
    std::vector<std::uint64_t> (*weight_dims)(const Projection& p, const Shape& src, const Shape& dst) = nullptr;
    // Throws snn::ModelError naming the population when the shapes do not fit.
    void (*check_shapes)(const Population& pop, const Projection& p, const Shape& src) = nullptr;
    // The multiply-accumulates a DNN pays for the projection (energy and traffic baselines).
    std::int64_t (*dnn_macs)(const Projection& p, const Shape& src, const Shape& dst) = nullptr;
    // The .snn.h5 format_version that introduced the kind: a file holding it
    // is written at that version at least, so older readers refuse it by
    // version instead of by an unknown name (docs/format.md).
    std::int64_t format_version = 1;
    // The most source units one target unit reads (its fan-in; chip-fit reports).
    std::int64_t (*fan_in)(const Projection& p, const Shape& src) = nullptr;
};

void register_kind(const KindTraits& traits);
// The traits of a registered kind; snn::InternalError for one never registered.
const KindTraits& kind_traits(ProjectionKind kind);
// Every registered kind, in enumerator order.
std::vector<ProjectionKind> registered_kinds();

// Shared shape rules of windowed kinds: the window is valid and its last
// output starts inside the padded input (ModelError naming the population).
void check_window_fits(const Population& pop, const Projection& p, const Shape& src);
// Taps of every output pixel's window that fall inside the source.
std::int64_t window_taps(const Projection& p, const Shape& src, const Shape& dst);

} // namespace snn
