// corespec/io/npy.hpp - NumPy .npy arrays, read and write.
//
// Read: format versions 1.0, 2.0 and 3.0; dtypes bool, int8..int64,
// uint8..uint64, float32, float64 in little or big endian; C or Fortran
// order (Fortran arrays are transposed to C order). Values are converted to
// the requested scalar type. Written: version 1.0 (2.0 when the header needs
// it), little-endian float32/float64, C order.
//
// xtensor's xnpy is not used for reading: it sign-extends the header length
// bytes, allocates whatever length a v2 header declares and converts with
// std::stoi, so a hostile header can make it allocate gigabytes or throw
// std::invalid_argument. This parser checks every field against the bytes
// actually present and throws parse_error (source, byte offset, reason):
// bad magic, unknown version, header past the end, header not a dict with
// 'descr', 'fortran_order' and 'shape', unsupported dtype (structured,
// complex, strings, objects), negative or overflowing shape, data shorter
// than the shape says.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {

/// An array read from NPY: shape (C order), values converted to T, and the
/// stored dtype name ("float32", "int16", ...).
template <class T>
struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<T> values;  ///< C (row-major) order
    std::string dtype;

    std::size_t size() const noexcept { return values.size(); }
};

namespace detail {

struct NpyHeader {
    char kind = 'f';        // f, i, u, b
    std::size_t item = 8;   // bytes per value
    bool big_endian = false;
    bool fortran = false;
    std::vector<std::size_t> shape;
    std::size_t data_offset = 0;
};

inline std::string npy_dtype_name(char kind, std::size_t item) {
    if (kind == 'b') return "bool";
    const std::string base = kind == 'f' ? "float" : kind == 'i' ? "int" : "uint";
    return base + std::to_string(item * 8);
}

inline NpyHeader parse_npy_header(const unsigned char* p, std::size_t size, const std::string& source) {
    const auto fail = [&](std::size_t off, const std::string& why) {
        throw parse_error(source, parse_error::at_offset(off), why);
    };
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 10 || std::memcmp(p, magic, 6) != 0) fail(0, "not an NPY file (bad magic)");
    const unsigned major = p[6];
    std::size_t header_len = 0, start = 0;
    if (major == 1) {
        header_len = std::size_t(p[8]) | (std::size_t(p[9]) << 8);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) fail(8, "truncated NPY header length");
        header_len = std::size_t(p[8]) | (std::size_t(p[9]) << 8) | (std::size_t(p[10]) << 16) |
                     (std::size_t(p[11]) << 24);
        start = 12;
    } else {
        fail(6, "unsupported NPY format version " + std::to_string(major));
    }
    if (header_len > size - start) fail(start, "NPY header length " + std::to_string(header_len) + " runs past the end of the data");
    const std::string_view h(reinterpret_cast<const char*>(p + start), header_len);
    NpyHeader out;
    out.data_offset = start + header_len;

    // The header is a Python dict literal; find each key's value by name.
    const auto value_of = [&](std::string_view key) -> std::string_view {
        for (const char q : {'\'', '"'}) {
            const std::string pattern = std::string(1, q) + std::string(key) + std::string(1, q);
            const auto k = h.find(pattern);
            if (k == std::string_view::npos) continue;
            auto colon = h.find(':', k + pattern.size());
            if (colon == std::string_view::npos) break;
            return trim(h.substr(colon + 1));
        }
        fail(start, "NPY header has no '" + std::string(key) + "' entry");
        return {};
    };
    // descr: a quoted string such as '<f8'.
    std::string_view d = value_of("descr");
    if (d.empty() || (d.front() != '\'' && d.front() != '"'))
        fail(start, "NPY dtype is not a simple type string (structured dtypes are not supported)");
    const auto dend = d.find(d.front(), 1);
    if (dend == std::string_view::npos) fail(start, "unterminated NPY dtype string");
    std::string_view descr = d.substr(1, dend - 1);
    if (descr.size() < 2 || descr.size() > 4) fail(start, "unsupported NPY dtype '" + std::string(descr) + "'");
    char order = '=';
    if (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=') {
        order = descr[0];
        descr.remove_prefix(1);
    }
    out.kind = descr[0];
    std::size_t item = 0;
    for (char c : descr.substr(1)) {
        if (c < '0' || c > '9') fail(start, "unsupported NPY dtype '" + std::string(descr) + "'");
        item = item * 10 + std::size_t(c - '0');
    }
    const bool ok_kind = (out.kind == 'f' && (item == 4 || item == 8)) ||
                         ((out.kind == 'i' || out.kind == 'u') && (item == 1 || item == 2 || item == 4 || item == 8)) ||
                         (out.kind == 'b' && item == 1);
    if (!ok_kind) fail(start, "unsupported NPY dtype '" + std::string(descr) + "' (bool, int, uint, float32/64 only)");
    out.item = item;
    out.big_endian = order == '>';
    // fortran_order: True / False
    const std::string_view f = value_of("fortran_order");
    if (f.rfind("True", 0) == 0) out.fortran = true;
    else if (f.rfind("False", 0) == 0) out.fortran = false;
    else fail(start, "NPY fortran_order is neither True nor False");
    // shape: a tuple of non-negative integers.
    std::string_view s = value_of("shape");
    if (s.empty() || s.front() != '(') fail(start, "NPY shape is not a tuple");
    const auto close = s.find(')');
    if (close == std::string_view::npos) fail(start, "unterminated NPY shape tuple");
    s = s.substr(1, close - 1);
    std::size_t total = 1;
    for (auto field : split_fields(s, true)) {
        if (field.size() > 19) fail(start, "NPY shape dimension too large");
        std::size_t v = 0;
        for (char c : field) {
            if (c == 'L') break;  // Python 2 long suffix
            if (c < '0' || c > '9') fail(start, "NPY shape has a non-integer dimension '" + std::string(field) + "'");
            v = v * 10 + std::size_t(c - '0');
        }
        if (v != 0 && total > std::numeric_limits<std::size_t>::max() / v) fail(start, "NPY shape overflows");
        total *= v;
        out.shape.push_back(v);
    }
    if (out.shape.size() > 32) fail(start, "NPY array has more than 32 dimensions");
    if (total > (size - out.data_offset) / out.item)
        fail(out.data_offset, "NPY data holds " + std::to_string((size - out.data_offset) / out.item) +
                                  " values but the shape needs " + std::to_string(total) + " (truncated file?)");
    return out;
}

template <class T>
T npy_value(const unsigned char* q, const NpyHeader& h) {
    unsigned char b[8];
    for (std::size_t i = 0; i < h.item; ++i) b[i] = h.big_endian ? q[h.item - 1 - i] : q[i];
    // b now holds the value little-endian; assemble it portably.
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < h.item; ++i) u |= std::uint64_t(b[i]) << (8 * i);
    switch (h.kind) {
        case 'f':
            if (h.item == 4) {
                std::uint32_t u32 = static_cast<std::uint32_t>(u);
                float f;
                std::memcpy(&f, &u32, 4);
                return static_cast<T>(f);
            } else {
                double d;
                std::memcpy(&d, &u, 8);
                return static_cast<T>(d);
            }
        case 'b': return static_cast<T>(u != 0);
        case 'u': return static_cast<T>(u);
        default: {
            // sign-extend
            if (h.item < 8 && (u >> (8 * h.item - 1)) & 1u) u |= ~std::uint64_t(0) << (8 * h.item);
            std::int64_t sv;
            std::memcpy(&sv, &u, 8);
            return static_cast<T>(sv);
        }
    }
}

}  // namespace detail

/// Parses NPY bytes held in memory. Throws parse_error when malformed.
template <class T = double>
NpyArray<T> parse_npy(const void* bytes, std::size_t size, const std::string& source = "<memory>") {
    const auto* p = static_cast<const unsigned char*>(bytes);
    const auto h = detail::parse_npy_header(p, size, source);
    NpyArray<T> a;
    a.shape = h.shape;
    a.dtype = detail::npy_dtype_name(h.kind, h.item);
    std::size_t total = 1;
    for (auto n : h.shape) total *= n;
    a.values.resize(total);
    const unsigned char* data = p + h.data_offset;
    const std::uint16_t probe = 1;
    unsigned char host_first;
    std::memcpy(&host_first, &probe, 1);
    const bool native_float = h.kind == 'f' && !h.big_endian && host_first == 1;
    if (native_float && (!h.fortran || h.shape.size() < 2)) {
        // Fast path for the common case (little-endian floats, C order): no per-byte assembly.
        if (h.item == 8) {
            for (std::size_t i = 0; i < total; ++i) {
                double d;
                std::memcpy(&d, data + i * 8, 8);
                a.values[i] = static_cast<T>(d);
            }
        } else {
            for (std::size_t i = 0; i < total; ++i) {
                float f;
                std::memcpy(&f, data + i * 4, 4);
                a.values[i] = static_cast<T>(f);
            }
        }
    } else if (!h.fortran || h.shape.size() < 2) {
        for (std::size_t i = 0; i < total; ++i) a.values[i] = detail::npy_value<T>(data + i * h.item, h);
    } else {
        // Fortran order: the first index is fastest in the file.
        const std::size_t nd = h.shape.size();
        std::vector<std::size_t> idx(nd, 0), cstride(nd, 1);
        for (std::size_t d = nd - 1; d-- > 0;) cstride[d] = cstride[d + 1] * h.shape[d + 1];
        for (std::size_t i = 0; i < total; ++i) {
            std::size_t c = 0;
            for (std::size_t d = 0; d < nd; ++d) c += idx[d] * cstride[d];
            a.values[c] = detail::npy_value<T>(data + i * h.item, h);
            for (std::size_t d = 0; d < nd; ++d) {
                if (++idx[d] < h.shape[d]) break;
                idx[d] = 0;
            }
        }
    }
    detail::require_finite(a.values.data(), a.values.size(), source, a.shape.size() > 1 ? a.shape.back() : 0);
    return a;
}

/// Reads an NPY file; io_error when unreadable, parse_error when malformed.
template <class T = double>
NpyArray<T> read_npy(const std::filesystem::path& path) {
    const std::string bytes = detail::read_file(path);
    return parse_npy<T>(bytes.data(), bytes.size(), path.string());
}

/// The bytes of an NPY file (little-endian, C order) holding `data` of `shape`.
template <class T>
std::string format_npy(const std::vector<std::size_t>& shape, const T* data) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "NPY writer: float or double");
    std::size_t total = 1;
    std::string dims;
    for (auto n : shape) {
        total *= n;
        dims += std::to_string(n) + ", ";
    }
    if (shape.size() > 1) dims.resize(dims.size() - 1);  // "(3, 4)" but "(3,)"
    std::string header = std::string("{'descr': '<f") + (sizeof(T) == 4 ? "4" : "8") +
                         "', 'fortran_order': False, 'shape': (" + dims + "), }";
    std::size_t prefix = 10;
    unsigned major = 1;
    if (header.size() + 1 + 10 > 65535) {
        major = 2;
        prefix = 12;
    }
    const std::size_t padded = ((prefix + header.size() + 1 + 63) / 64) * 64;
    header.append(padded - prefix - header.size() - 1, ' ');
    header.push_back('\n');
    std::string out;
    out.reserve(padded + total * sizeof(T));
    out += "\x93NUMPY";
    out.push_back(static_cast<char>(major));
    out.push_back('\0');
    const std::size_t hl = header.size();
    for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out.push_back(static_cast<char>((hl >> (8 * i)) & 0xff));
    out += header;
    for (std::size_t i = 0; i < total; ++i) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &data[i], sizeof(T));
        // Stored little-endian whatever the host order.
        const std::uint16_t probe = 1;
        unsigned char first;
        std::memcpy(&first, &probe, 1);
        if (first == 0)
            for (std::size_t k = 0; k < sizeof(T) / 2; ++k) std::swap(b[k], b[sizeof(T) - 1 - k]);
        out.append(reinterpret_cast<const char*>(b), sizeof(T));
    }
    return out;
}

/// Writes an NPY file; io_error when it cannot be written.
template <class T>
void write_npy(const std::filesystem::path& path, const std::vector<std::size_t>& shape, const T* data) {
    const std::string bytes = format_npy(shape, data);
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

/// Writes the values of a spectrum (1-D) or spectrum image (navigation + energy).
template <class T>
void write_npy(const std::filesystem::path& path, const grid::Spectrum<T>& s) {
    write_npy(path, {s.size()}, s.values().data());
}
template <class T>
void write_npy(const std::filesystem::path& path, const grid::SpectrumImage<T>& si) {
    std::vector<std::size_t> shape(si.data().shape().begin(), si.data().shape().end());
    write_npy(path, shape, si.data().data());
}

/// A spectrum image from an NPY array of rank >= 2 (last dimension = energy),
/// or a one-pixel image from a 1-D array. NPY stores no axis: the energy axis
/// is `axis` when given, else the channel index (offset 0, scale 1, no units).
template <class T = double>
grid::SpectrumImage<T> npy_to_spectrum_image(NpyArray<T> a, const std::string& source,
                                             std::optional<grid::EnergyAxis> axis = std::nullopt,
                                             FileInfo* info = nullptr) {
    if (a.shape.empty()) throw parse_error(source, "shape", "a 0-d NPY array is not a spectrum");
    std::vector<std::size_t> shape = a.shape;
    const bool one_d = shape.size() == 1;
    if (one_d) shape.insert(shape.begin(), 1);
    const std::size_t n = shape.back();
    for (auto d : shape)
        if (d == 0) throw parse_error(source, "shape", "NPY array has a zero-length dimension");
    if (n < 2) throw parse_error(source, "shape", "the last (energy) dimension needs at least 2 channels");
    grid::EnergyAxis ax = axis ? *axis : grid::EnergyAxis::uniform(0.0, 1.0, n, "");
    if (ax.size() != n) throw shape_error(source + ": energy axis", {n}, {ax.size()});
    xt::xarray<T> data = xt::xarray<T>::from_shape(shape);
    std::copy(a.values.begin(), a.values.end(), data.begin());
    grid::Metadata meta;
    meta.source = source;
    if (info) {
        detail::fill_spectrum_info(info, Format::npy, a.dtype, ax, axis ? "Energy" : "channel");
        if (!one_d)
            for (std::size_t d = shape.size() - 1; d-- > 0;) {
                AxisInfo nav;
                nav.name = "axis" + std::to_string(d);
                nav.size = shape[d];
                nav.navigate = true;
                info->axes.insert(info->axes.begin(), nav);
            }
    }
    return grid::SpectrumImage<T>(std::move(data), std::move(ax), std::move(meta));
}

}  // namespace corespec::io
