// corespec/io/reader_support.hpp - small helpers shared by the readers and
// writers (case-insensitive compare, exact number printing, FileInfo filling).
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/io/file_info.hpp"

namespace corespec::io {

namespace detail {

/// Prepares a fresh, untouched buffer that a reader is about to fill with a
/// large image (Linux): transparent huge pages for the 2 MiB pages wholly
/// inside it (THP is commonly in "madvise" mode, as numpy uses it), then the
/// pages faulted in with one call. A 512 MiB spectrum image otherwise takes
/// 131,072 page faults, which were most of an uncompressed eager read (.hspy
/// 335 -> 134 ms) and 15-20 % of a DM read. Refusal (older kernels) only
/// means the ordinary faults; buffers under 16 MiB are left alone.
inline void prepare_fresh_buffer(void* data, std::size_t bytes) noexcept {
#if defined(__linux__)
    if (bytes < (std::size_t(1) << 24)) return;
    const auto b = reinterpret_cast<std::uintptr_t>(data);
#if defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
    const std::uintptr_t hlo = (b + huge - 1) & ~(huge - 1), hhi = (b + bytes) & ~(huge - 1);
    if (hhi > hlo) (void)::madvise(reinterpret_cast<void*>(hlo), hhi - hlo, MADV_HUGEPAGE);
#endif
#if defined(MADV_POPULATE_WRITE)
    constexpr std::uintptr_t page = 4096;
    const std::uintptr_t lo = (b + page - 1) & ~(page - 1), hi = (b + bytes) & ~(page - 1);
    if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#endif
#else
    (void)data, (void)bytes;
#endif
}

inline std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

/// A number printed so that it reads back to the same double.
inline std::string format_double(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

/// HDF5's signature, at offset 0 (or 512, 1024, 2048, ... after a user block).
inline constexpr std::string_view hdf5_signature{"\x89HDF\r\n\x1a\n", 8};

/// True when `bytes` (a file's head) starts an HDF5 file.
inline bool is_hdf5(std::string_view bytes) noexcept {
    for (std::size_t at = 0; at + hdf5_signature.size() <= bytes.size(); at = at ? 2 * at : 512)
        if (bytes.substr(at, hdf5_signature.size()) == hdf5_signature) return true;
    return false;
}

/// The NaN/Inf policy shared by every reader (docs/formats.md): data values
/// must be finite. Throws parse_error naming `source` and the first
/// offending value as a flat index (and pixel, channel when `channels` > 0),
/// e.g. a float32 file holding NaN, or a float64 value too large for float.
/// `first_index` is the flat index of values[0] (for blocks of a larger array).
template <class T>
void require_finite(const T* values, std::size_t count, const std::string& source, std::size_t channels = 0,
                    std::size_t first_index = 0) {
    if constexpr (std::is_floating_point_v<T>) {
        if (all_finite(values, count)) return;  // the common case, fast; else find and name the value
        for (std::size_t k = 0; k < count; ++k) {
            if (std::isfinite(values[k])) continue;
            const std::size_t i = first_index + k;
            std::string where = "value " + std::to_string(i);
            if (channels > 0)
                where += " (pixel " + std::to_string(i / channels) + ", channel " + std::to_string(i % channels) + ")";
            throw parse_error(source, where,
                              std::string(std::isnan(values[k]) ? "NaN" : "infinite value") +
                                  " in the data (corespec readers take finite values only)");
        }
    }
}

/// Fills `info` for a one-dimensional spectrum on `axis`.
inline void fill_spectrum_info(FileInfo* info, Format format, const std::string& dtype, const grid::EnergyAxis& axis,
                               const std::string& name = "Energy loss") {
    if (!info) return;
    info->format = format;
    info->dtype = dtype;
    info->axes.clear();
    AxisInfo a;
    a.name = name;
    a.size = axis.size();
    a.units = axis.units();
    a.navigate = false;
    if (axis.is_uniform()) {
        const auto u = axis.as_uniform();
        a.offset = u.offset();
        a.scale = u.scale();
    } else {
        a.is_explicit = true;
        a.offset = axis.energy(0);
        a.scale = axis.size() > 1 ? (axis.energy(axis.size() - 1) - axis.energy(0)) / double(axis.size() - 1) : 1.0;
    }
    a.first = axis.energy(0);
    a.last = axis.energy(axis.size() - 1);
    info->axes.push_back(a);
}

}  // namespace detail

}  // namespace corespec::io
