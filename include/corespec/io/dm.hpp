// corespec/io/dm.hpp - Gatan DigitalMicrograph DM3 / DM4 reader.
//
// Reads the image of a DM file (the first entry of ImageList that is not a
// thumbnail) into a SpectrumImage with the same shape, axes and values that
// HyperSpy 1.7's reader produces:
//   - the array is DM's dimension list reversed (C order, DM's x fastest);
//   - spectrum images (Meta Data.Format "Spectrum image" or Orsay "spim", 3 or
//     more dimensions) have their slowest DM dimension (the energy planes)
//     moved last, so each pixel's spectrum is contiguous;
//   - dimensions of size 1 are dropped ("squeeze");
//   - axis offset = -origin * scale, per dimension.
// The last axis of the result is the SpectrumImage energy axis, the others
// are its navigation shape ({1} for a single spectrum). A 2-D image (not a
// spectrum) therefore comes back as rows x columns; FileInfo::axes reports how
// HyperSpy sees the data (for an image both axes have navigate = false).
//
// Data types: int8/16/32/64, uint8/16/32/64, float32/64 and bool images are
// read as numbers. Complex (DM types 3, 13) and RGB(A) (types 8, 23) images
// are not spectra: parse_dm throws unsupported_error for them, while
// parse_dm_array returns them with a trailing component dimension ([re, im]
// or [R, G, B, A]) like HyperSpy's complex and structured arrays. Packed
// complex FFT data (types 5, 27, 28) is rejected with unsupported_error.
//
// Large files: read_dm maps the file (POSIX) or reads it once, parses the tag
// tree in place and converts the data block straight into the result.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/dm_tags.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define CORESPEC_DM_MMAP 1
#endif
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace corespec::io {

namespace detail {

/// How the pixels of one DM image data type are stored.
struct DmPixel {
    std::uint64_t code = 0;         ///< DM tag type code of one component (dm_code::...)
    std::size_t components = 1;     ///< 1 for real data, 2 for complex, 4 for RGBA
    const char* dtype = "";         ///< numpy-style name
    bool rgba = false;              ///< stored B, G, R, A; reported R, G, B, A
};

/// DM image DataType codes (HyperSpy's table). Packed complex and unknown
/// codes are handled by the caller.
inline std::optional<DmPixel> dm_pixel(std::uint64_t data_type) {
    switch (data_type) {
        case 1: return DmPixel{dm_code::int16, 1, "int16"};
        case 2: return DmPixel{dm_code::float32, 1, "float32"};
        case 3: return DmPixel{dm_code::float32, 2, "complex64"};
        case 6: return DmPixel{dm_code::uint8, 1, "uint8"};
        case 7: return DmPixel{dm_code::int32, 1, "int32"};
        case 8: case 23: return DmPixel{dm_code::uint8, 4, "rgba8", true};
        case 9: return DmPixel{dm_code::int8, 1, "int8"};
        case 10: return DmPixel{dm_code::uint16, 1, "uint16"};
        case 11: return DmPixel{dm_code::uint32, 1, "uint32"};
        case 12: return DmPixel{dm_code::float64, 1, "float64"};
        case 13: return DmPixel{dm_code::float64, 2, "complex128"};
        case 14: return DmPixel{dm_code::boolean, 1, "bool"};
        default: return std::nullopt;
    }
}

inline const char* dm_code_dtype(std::uint64_t code) {
    switch (code) {
        case dm_code::int8: return "int8";
        case dm_code::uint8: return "uint8";
        case dm_code::int16: return "int16";
        case dm_code::uint16: return "uint16";
        case dm_code::int32: return "int32";
        case dm_code::uint32: return "uint32";
        case dm_code::int64: return "int64";
        case dm_code::uint64: return "uint64";
        case dm_code::float32: return "float32";
        case dm_code::float64: return "float64";
        case dm_code::boolean: return "bool";
        default: return "";
    }
}

/// Everything needed to turn one ImageList entry into an array.
struct DmLayout {
    DmPixel pixel;
    std::size_t data_offset = 0;
    std::size_t pixels = 0;                  ///< product of the DM dimensions
    std::vector<std::size_t> stored_shape;   ///< DM dimensions reversed (C order of the file)
    bool planes_last = false;                ///< spectrum image: move axis 0 of stored_shape last
    std::vector<std::size_t> shape;          ///< final shape (after the move and the squeeze)
    std::vector<AxisInfo> axes;              ///< final axes
    std::string signal_type;
};

inline std::string dm_text(const DmTag* t) {
    if (!t) return {};
    if (t->kind == DmTag::Kind::string || (t->kind == DmTag::Kind::array && t->element_type == dm_code::uint16))
        return t->text;
    return {};
}

inline std::optional<double> dm_number(const DmTag* t) {
    if (!t) return std::nullopt;
    return t->number();
}

[[noreturn]] inline void dm_fail(const std::string& source, std::size_t at, const std::string& why) {
    throw parse_error(source, parse_error::at_offset(at), why);
}

inline DmLayout dm_layout(const DmTag& image, const std::string& source) {
    DmLayout L;
    const DmTag* data = image.find({"ImageData", "Data"});
    const DmTag* type = image.find({"ImageData", "DataType"});
    const DmTag* dims = image.find({"ImageData", "Dimensions"});
    if (!data || data->is_group()) dm_fail(source, image.offset, "image has no ImageData.Data tag");
    if (!type || !type->number()) dm_fail(source, data->offset, "image has no numeric ImageData.DataType tag");
    if (!dims || !dims->is_group() || dims->tags.empty()) dm_fail(source, data->offset, "image has no ImageData.Dimensions");
    const double code = *type->number();
    if (code == 5 || code == 27 || code == 28)
        throw unsupported_error(source + ": DM packed-complex (FFT) image data (type " +
                                std::to_string(static_cast<int>(code)) + ") is not supported");
    if (code == 4 || code == 0)
        throw unsupported_error(source + ": DM image data type " + std::to_string(static_cast<int>(code)) +
                                " (obsolete / null) is not supported");
    if (auto p = dm_pixel(static_cast<std::uint64_t>(code)); p && code == std::floor(code)) {
        L.pixel = *p;
    } else if (data->kind == DmTag::Kind::array && dm_simple_size(data->element_type) != 0) {
        // Types HyperSpy does not list (e.g. 64-bit integers in newer GMS
        // versions) are read by the element type of the data array itself.
        L.pixel = DmPixel{data->element_type, 1, dm_code_dtype(data->element_type)};
    } else {
        throw unsupported_error(source + ": DM image data type " + std::to_string(code) + " is not supported");
    }
    const std::size_t pixel_bytes = dm_simple_size(L.pixel.code) * L.pixel.components;

    // Dimensions: checked against the bytes of the data tag before use.
    std::vector<std::size_t> dm_dims;
    std::size_t pixels = 1;
    const std::size_t capacity = data->byte_size / pixel_bytes;
    for (const auto& d : dims->tags) {
        const auto v = d.number();
        if (!v || !(*v >= 1) || *v != std::floor(*v) || *v > static_cast<double>(capacity))
            dm_fail(source, d.offset, "image dimension must be a positive integer not larger than the data");
        const auto n = static_cast<std::size_t>(*v);
        if (n > capacity / pixels) dm_fail(source, d.offset, "image dimensions exceed the data block");
        pixels *= n;
        dm_dims.push_back(n);
    }
    if (pixels * pixel_bytes != data->byte_size)
        dm_fail(source, data->offset, "data block holds " + std::to_string(data->byte_size) + " bytes but the dimensions need " +
                               std::to_string(pixels * pixel_bytes));
    L.data_offset = data->offset;
    L.pixels = pixels;
    const std::size_t nd = dm_dims.size();

    // Calibrations, per DM dimension (missing ones: origin 0, scale 1).
    std::vector<double> origin(nd, 0.0), scale(nd, 1.0);
    std::vector<std::string> units(nd);
    if (const DmTag* cal = image.find({"ImageData", "Calibrations", "Dimension"}); cal && cal->is_group()) {
        std::size_t i = 0;
        for (const auto& c : cal->tags) {
            if (i >= nd) break;
            if (c.is_group()) {
                if (auto o = dm_number(c.child("Origin"))) origin[i] = *o;
                if (auto s = dm_number(c.child("Scale"))) scale[i] = *s;
                units[i] = dm_text(c.child("Units"));
            }
            ++i;
        }
    }
    for (std::size_t i = 0; i < nd; ++i)
        if (!std::isfinite(origin[i]) || !std::isfinite(scale[i]))
            dm_fail(source, image.offset, "calibration of dimension " + std::to_string(i) + " is not finite");

    // Signal type and record mode, as HyperSpy decides them.
    const std::string signal = dm_text(image.find({"ImageTags", "Meta Data", "Signal"}));
    const bool spim = image.find({"ImageTags", "spim"}) != nullptr;
    if (signal == "X-ray") L.signal_type = "EDS_TEM";
    else if (signal == "CL") L.signal_type = "CL";
    else if (signal == "EELS" || image.find({"ImageTags", "spim", "eels"})) L.signal_type = "EELS";
    const std::string format = dm_text(image.find({"ImageTags", "Meta Data", "Format"}));
    const bool spectrum = nd == 1 || (nd == 2 && (format == "Spectrum image" || format == "Spectrum" || spim));
    L.planes_last = nd > 2 && (format == "Spectrum image" || spim);

    // Axes in stored (C) order: index k is DM dimension nd-1-k.
    std::vector<AxisInfo> ax(nd);
    for (std::size_t k = 0; k < nd; ++k) {
        const std::size_t d = nd - 1 - k;
        ax[k].size = dm_dims[d];
        ax[k].scale = scale[d];
        ax[k].offset = -origin[d] * scale[d];
        ax[k].units = units[d];
        L.stored_shape.push_back(dm_dims[d]);
    }
    // Names: the energy axis first, then x, y, z from the fastest axis back.
    std::vector<std::size_t> unnamed;
    for (std::size_t k = 0; k < nd; ++k) unnamed.push_back(k);
    const auto name_by_unit = [&](const char* unit, const char* name) {
        for (std::size_t k = 0; k < nd; ++k)
            if (ax[k].units == unit) {
                ax[k].name = name;
                unnamed.erase(std::find(unnamed.begin(), unnamed.end(), k));
                return;
            }
    };
    if (L.signal_type == "EELS") name_by_unit("eV", "Energy loss");
    else if (L.signal_type == "EDS_TEM") name_by_unit("keV", "Energy");
    else if (L.signal_type == "CL") name_by_unit("nm", "Wavelength");
    const char* xyz[] = {"x", "y", "z"};
    for (std::size_t j = 0; j < unnamed.size() && j < 3; ++j) ax[unnamed[unnamed.size() - 1 - j]].name = xyz[j];

    // Signal axes: the last one for spectra, the last two for images; a
    // spectrum image's planes axis becomes the (last) signal axis.
    if (L.planes_last) {
        std::rotate(ax.begin(), ax.begin() + 1, ax.end());
        for (std::size_t k = 0; k < nd; ++k) ax[k].navigate = k + 1 < nd;
    } else {
        const std::size_t nsig = spectrum ? 1 : std::min<std::size_t>(2, nd);
        for (std::size_t k = 0; k < nd; ++k) ax[k].navigate = k + nsig < nd;
    }
    for (std::size_t k = 0; k < nd; ++k)
        if (ax[k].size != 1 || (L.axes.empty() && k + 1 == nd)) L.axes.push_back(ax[k]);
    for (auto& a : L.axes) {
        a.first = a.offset;
        a.last = a.offset + a.scale * static_cast<double>(a.size - 1);
        L.shape.push_back(a.size);
    }
    return L;
}

template <class S>
inline S dm_load(const unsigned char* p, bool swap) noexcept {
    unsigned char b[sizeof(S)];
    std::memcpy(b, p, sizeof(S));
    if (swap) std::reverse(b, b + sizeof(S));
    S v;
    std::memcpy(&v, b, sizeof(S));
    return v;
}

#if defined(__AVX__)
/// The bulk of the planes -> pixels transpose for float data, in 8 x 8 tiles
/// held in AVX registers (about twice as fast as the scalar blocked loop).
template <class T>
inline void dm_transpose_avx(const float* src, T* dst, std::size_t planes, std::size_t px, std::size_t np,
                             std::size_t ne) {
    constexpr std::size_t PB = 512;
    for (std::size_t p0 = 0; p0 < np; p0 += PB) {
        const std::size_t p1 = std::min(np, p0 + PB);
        for (std::size_t e0 = 0; e0 < ne; e0 += 8)
            for (std::size_t p = p0; p < p1; p += 8) {
                __m256 r[8];
                for (std::size_t k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + (e0 + k) * px + p);
                const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
                const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
                const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
                const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
                const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                const __m256 o[8] = {_mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
                                     _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
                                     _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
                                     _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
                for (std::size_t k = 0; k < 8; ++k) {
                    T* d = dst + (p + k) * planes + e0;
                    if constexpr (std::is_same<T, float>::value) {
                        _mm256_storeu_ps(d, o[k]);
                    } else {
                        _mm256_storeu_pd(d, _mm256_cvtps_pd(_mm256_castps256_ps128(o[k])));
                        _mm256_storeu_pd(d + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(o[k], 1)));
                    }
                }
            }
    }
}
#endif

/// Converts the image data (stored type S, `components` per pixel) into dst:
/// element by element, or transposed from planes x pixels to pixels x planes
/// for spectrum images.
template <class T, class S, bool Bool>
inline void dm_convert(const unsigned char* src, T* dst, const DmLayout& L, bool swap) {
    const std::size_t c = L.pixel.components;
    const std::size_t n = L.pixels;
    const auto value = [&](std::size_t element, std::size_t comp) -> T {
        // RGBA is stored B, G, R, A.
        const std::size_t k = L.pixel.rgba ? (comp < 3 ? 2 - comp : 3) : comp;
        const S v = dm_load<S>(src + (element * c + k) * sizeof(S), swap);
        if constexpr (Bool) return v != 0 ? T(1) : T(0);
        else return static_cast<T>(v);
    };
    if (!L.planes_last) {
        if constexpr (std::is_same<T, S>::value && !Bool) {
            if (!swap && !L.pixel.rgba) {
                std::memcpy(dst, src, n * c * sizeof(T));
                return;
            }
        }
        if (c == 1 && !swap) {
            // Measure before changing: this loop vectorises (load, convert, store).
            for (std::size_t i = 0; i < n; ++i) {
                S v;
                std::memcpy(&v, src + i * sizeof(S), sizeof(S));
                if constexpr (Bool) dst[i] = v != 0 ? T(1) : T(0);
                else dst[i] = static_cast<T>(v);
            }
            return;
        }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < c; ++k) dst[i * c + k] = value(i, k);
        return;
    }
    // Spectrum image: stored [plane][pixel], wanted [pixel][plane].
    const std::size_t planes = L.stored_shape.front();
    const std::size_t px = n / planes;
    std::size_t done_p = 0, done_e = 0;  // the part [0, done_p) x [0, done_e) is done by the fast kernel
#if defined(__AVX__)
    if constexpr (std::is_same<S, float>::value && !Bool &&
                  (std::is_same<T, float>::value || std::is_same<T, double>::value)) {
        if (c == 1 && !swap) {
            done_p = px - px % 8;
            done_e = planes - planes % 8;
            dm_transpose_avx(reinterpret_cast<const float*>(src), dst, planes, px, done_p, done_e);
        }
    }
#endif
    // Blocked so that the strided side stays in cache; the plane rows are
    // read 16 at a time as sequential streams. Measure before changing.
    constexpr std::size_t PB = 1024, EB = 16;
    const auto block = [&](std::size_t pa, std::size_t pb, std::size_t ea, std::size_t eb) {
        for (std::size_t p0 = pa; p0 < pb; p0 += PB) {
            const std::size_t p1 = std::min(pb, p0 + PB);
            for (std::size_t e0 = ea; e0 < eb; e0 += EB) {
                const std::size_t e1 = std::min(eb, e0 + EB);
                for (std::size_t p = p0; p < p1; ++p)
                    for (std::size_t e = e0; e < e1; ++e)
                        for (std::size_t k = 0; k < c; ++k) dst[(p * planes + e) * c + k] = value(e * px + p, k);
            }
        }
    };
    block(0, done_p, done_e, planes);  // planes left over by the kernel
    block(done_p, px, 0, planes);      // pixels left over by the kernel
}

template <class T>
inline void dm_fill(const unsigned char* bytes, T* dst, const DmLayout& L, bool little_endian) {
    constexpr std::uint16_t probe = 1;
    const bool host_little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
    const bool swap = host_little != little_endian;
    const unsigned char* src = bytes + L.data_offset;
    switch (L.pixel.code) {
        case dm_code::int8: return dm_convert<T, std::int8_t, false>(src, dst, L, swap);
        case dm_code::uint8: return dm_convert<T, std::uint8_t, false>(src, dst, L, swap);
        case dm_code::boolean: return dm_convert<T, std::uint8_t, true>(src, dst, L, swap);
        case dm_code::int16: return dm_convert<T, std::int16_t, false>(src, dst, L, swap);
        case dm_code::uint16: return dm_convert<T, std::uint16_t, false>(src, dst, L, swap);
        case dm_code::int32: return dm_convert<T, std::int32_t, false>(src, dst, L, swap);
        case dm_code::uint32: return dm_convert<T, std::uint32_t, false>(src, dst, L, swap);
        case dm_code::int64: return dm_convert<T, std::int64_t, false>(src, dst, L, swap);
        case dm_code::uint64: return dm_convert<T, std::uint64_t, false>(src, dst, L, swap);
        case dm_code::float32: return dm_convert<T, float, false>(src, dst, L, swap);
        case dm_code::float64: return dm_convert<T, double, false>(src, dst, L, swap);
        default: throw unsupported_error("DM: unsupported pixel storage");
    }
}

/// HyperSpy's date reading (dateutil): "M/D/Y", or "D/M/Y" when the first
/// field cannot be a month; ISO dates pass through. Empty when unreadable.
inline std::string dm_iso_date(const std::string& s) {
    int a = 0, b = 0, c = 0;
    char sep1 = 0, sep2 = 0;
    if (std::sscanf(s.c_str(), "%d%c%d%c%d", &a, &sep1, &b, &sep2, &c) == 5) {
        int y = 0, m = 0, d = 0;
        if (sep1 == '-' && sep2 == '-' && a > 31) {
            y = a, m = b, d = c;
        } else if (sep1 == sep2 && (sep1 == '/' || sep1 == '.' || sep1 == '-')) {
            y = c;
            if (a > 12) d = a, m = b;
            else m = a, d = b;
        }
        if (y > 0 && y < 100) y += 2000;
        if (y > 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
            char out[16];
            std::snprintf(out, sizeof out, "%04d-%02d-%02d", y % 10000, m, d);
            return out;
        }
    }
    return {};
}

/// "7:35:17 PM" -> "19:35:17"; "20:50:13" unchanged. Empty when unreadable.
inline std::string dm_iso_time(const std::string& s) {
    int h = 0, m = 0, sec = 0;
    char ampm[4] = {0, 0, 0, 0};
    const int got = std::sscanf(s.c_str(), "%d:%d:%d %2s", &h, &m, &sec, ampm);
    if (got < 3) {
        sec = 0;
        if (std::sscanf(s.c_str(), "%d:%d %2s", &h, &m, ampm) < 2) return {};
    }
    const char p = static_cast<char>(ampm[0] & ~0x20);
    if (p == 'P' && h < 12) h += 12;
    if (p == 'A' && h == 12) h = 0;
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) return {};
    char out[16];
    std::snprintf(out, sizeof out, "%02d:%02d:%02d", h, m, sec);
    return out;
}

inline std::string dm_format_number(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

/// Metadata as HyperSpy maps it, plus every scalar and text tag of the
/// image's ImageTags under "dm.<path>".
inline grid::Metadata dm_metadata(const DmTag& image, const DmLayout& L, const std::string& source) {
    grid::Metadata md;
    md.source = source;
    md.title = dm_text(image.child("Name"));
    md.signal_type = L.signal_type;
    if (L.signal_type == "EELS") md.technique = grid::Technique::eels;
    const DmTag* all_tags = image.child("ImageTags");
    if (!all_tags || !all_tags->is_group()) return md;
    const DmTag* tags = all_tags;
    if (const DmTag* src = all_tags->find({"source", "Tags at creation"}); src && src->is_group()) tags = src;
    auto& x = md.extra;
    const auto put = [&](const char* key, std::optional<double> v) {
        if (v) x[key] = dm_format_number(*v);
    };
    const auto num = [&](std::initializer_list<std::string_view> path) { return dm_number(tags->find(path)); };
    const auto txt = [&](std::initializer_list<std::string_view> path) { return dm_text(tags->find(path)); };

    if (auto v = num({"Microscope Info", "Voltage"})) md.beam_energy_kev = *v / 1e3;
    put("dm.stage_tilt_alpha", num({"Microscope Info", "Stage Position", "Stage Alpha"}));
    put("dm.stage_tilt_beta", num({"Microscope Info", "Stage Position", "Stage Beta"}));
    for (const char* axis : {"X", "Y", "Z"}) {
        const std::string tag = std::string("Stage ") + axis;
        if (auto v = num({"Microscope Info", "Stage Position", tag}))
            x[std::string("dm.stage_") + static_cast<char>(axis[0] + 32)] = dm_format_number(*v * 1e-3);
    }
    if (const DmTag* mode = tags->find({"Microscope Info", "Illumination Mode"}); mode) {
        const std::string m = dm_text(mode);
        x["dm.acquisition_mode"] = m.find("STEM") != std::string::npos ? "STEM"
                                   : m.find("SEM") != std::string::npos ? "SEM"
                                                                        : "TEM";
    }
    put("dm.beam_current_nA", num({"Microscope Info", "Probe Current (nA)"}));
    if (const DmTag* info = tags->child("Microscope Info"); info && info->is_group()) {
        const std::string illum = dm_text(info->child("Illumination Mode"));
        const std::string imaging = dm_text(info->child("Imaging Mode"));
        const bool is_tem = illum == "TEM";
        const bool diffraction = imaging == "DIFFRACTION";
        if (is_tem) {
            put(diffraction ? "dm.camera_length" : "dm.magnification", num({"Microscope Info", "Indicated Magnification"}));
        } else {
            put("dm.camera_length", num({"Microscope Info", "STEM Camera Length"}));
            put("dm.magnification", num({"Microscope Info", "Indicated Magnification"}));
        }
        for (auto loc : {std::initializer_list<std::string_view>{"Session Info", "Microscope"},
                         std::initializer_list<std::string_view>{"Microscope Info", "Name"},
                         std::initializer_list<std::string_view>{"Microscope Info", "Microscope"}}) {
            const std::string name = dm_text(tags->find(loc));
            if (!name.empty() && name != "[]") {
                x["dm.microscope"] = name;
                break;
            }
        }
    }
    // Dates and times: later sources override earlier ones, as in HyperSpy.
    const auto set_date = [&](const std::string& s) {
        if (!s.empty())
            if (auto d = dm_iso_date(s); !d.empty()) x["dm.date"] = d;
    };
    const auto set_time = [&](const std::string& s) {
        if (!s.empty())
            if (auto t = dm_iso_time(s); !t.empty()) x["dm.time"] = t;
    };
    set_date(txt({"DataBar", "Acquisition Date"}));
    set_time(txt({"DataBar", "Acquisition Time"}));
    if (all_tags->child("SI")) {
        set_date(txt({"SI", "Acquisition", "Date"}));
        set_time(txt({"SI", "Acquisition", "Start time"}));
    }
    if (L.signal_type == "EELS") {
        set_date(txt({"EELS", "Acquisition", "Date"}));
        set_time(txt({"EELS", "Acquisition", "Start time"}));
        md.collection_semiangle_mrad = num({"EELS", "Experimental Conditions", "Collection semi-angle (mrad)"});
        md.convergence_semiangle_mrad = num({"EELS", "Experimental Conditions", "Convergence semi-angle (mrad)"});
        std::optional<double> t;
        if (auto it = num({"EELS", "Acquisition", "Integration time (s)"})) {
            t = it;
        } else if (auto e = num({"EELS", "Acquisition", "Exposure (s)"})) {
            t = *e * num({"EELS", "Acquisition", "Number of frames"}).value_or(1.0);
        }
        // HyperSpy calls it the dwell time for scanned (DigiScan) data.
        if (tags->child("DigiScan")) put("dm.dwell_time_s", t);
        else md.exposure_s = t;
        put("dm.frame_number", num({"EELS", "Acquisition", "Number of frames"}));
        const std::string label = txt({"EELS Spectrometer", "Aperture label"});
        if (!label.empty()) {
            std::string digits = label;
            if (auto p = digits.find("mm"); p != std::string::npos) digits.erase(p, 2);
            char* end = nullptr;
            const double v = std::strtod(digits.c_str(), &end);
            if (end != digits.c_str()) x["dm.aperture_size_mm"] = dm_format_number(v);
        }
        const std::string spectrometer = txt({"EELS Spectrometer", "Instrument name"});
        if (tags->find({"EELS Spectrometer", "Instrument name"})) x["dm.spectrometer"] = spectrometer;
    }
    {
        // Signal quantity from the intensity units.
        const std::string u = dm_text(image.find({"ImageData", "Calibrations", "Brightness", "Units"}));
        std::string quantity = "Intensity", units = u;
        if (u == "e-") units = "Counts", quantity = "Electrons";
        if (L.signal_type == "EDS_TEM") quantity = "X-rays";
        x["dm.quantity"] = units.empty() ? quantity : quantity + " (" + units + ")";
        if (!units.empty()) md.signal_units = units;
    }
    // Every scalar and text tag of ImageTags, flattened (bounded: arrays
    // longer than 16 numbers are left out).
    struct Walk {
        std::map<std::string, std::string>& out;
        void operator()(const DmTag& g, const std::string& prefix, std::size_t depth) const {
            if (depth > dm_max_depth) return;
            for (const auto& t : g.tags) {
                const std::string key = prefix + t.name;
                if (t.is_group()) {
                    (*this)(t, key + ".", depth + 1);
                } else if (t.kind == DmTag::Kind::string ||
                           (t.kind == DmTag::Kind::array && t.element_type == dm_code::uint16 && t.decoded)) {
                    out.emplace(key, t.text);
                } else if (t.decoded && !t.values.empty() && t.values.size() <= 16) {
                    std::string v;
                    for (std::size_t i = 0; i < t.values.size(); ++i)
                        v += (i ? " " : "") + dm_format_number(t.values[i]);
                    out.emplace(key, v);
                }
            }
        }
    };
    Walk{x}(*all_tags, "dm.", 0);
    return md;
}

/// Reads the data of `image` into an array of `shape` (+ components).
template <class T>
xt::xarray<T> dm_array(const char* bytes, const DmFile& f, const DmLayout& L, bool with_components) {
    std::vector<std::size_t> shape = L.shape;
    if (with_components && L.pixel.components > 1) shape.push_back(L.pixel.components);
    xt::xarray<T> out = xt::xarray<T>::from_shape(shape);
    prepare_fresh_buffer(out.data(), out.size() * sizeof(T));
    dm_fill(reinterpret_cast<const unsigned char*>(bytes), out.data(), L, f.little_endian);
    return out;
}

inline FileInfo dm_file_info(const DmFile& f, const DmLayout& L) {
    FileInfo info;
    info.format = f.version == 4 ? Format::dm4 : Format::dm3;
    info.dtype = L.pixel.dtype;
    info.axes = L.axes;
    return info;
}

inline const DmTag& dm_first_image(const DmFile& f, const std::string& source) {
    const auto images = f.images();
    if (images.empty()) throw parse_error(source, parse_error::at_offset(0), "no image in ImageList");
    return *images.front();
}

/// The work of parse_dm; `storage` is reused when it holds as many values.
template <class T>
grid::SpectrumImage<T> dm_spectrum_image(const char* bytes, std::size_t size, const std::string& source,
                                         FileInfo* info, xt::xarray<T>& storage) {
    const DmFile f = parse_dm_tags(bytes, size, source);
    const DmTag& image = dm_first_image(f, source);
    const DmLayout L = dm_layout(image, source);
    if (L.pixel.components > 1)
        throw unsupported_error(source + ": DM image of type " + L.pixel.dtype +
                                " is not a real-valued spectrum (read it with parse_dm_array)");
    const AxisInfo& sig = L.axes.back();
    if (sig.size < 2 || !(sig.scale > 0.0))
        throw unsupported_error(source + ": signal axis '" + sig.name + "' (" + std::to_string(sig.size) +
                                " channels, scale " + dm_format_number(sig.scale) + ") cannot be an energy axis");
    grid::EnergyAxis axis = grid::EnergyAxis::uniform(sig.offset, sig.scale, sig.size, sig.units);
    grid::Metadata md = dm_metadata(image, L, source);
    std::vector<std::size_t> shape = L.shape;
    if (shape.size() == 1) shape.insert(shape.begin(), std::size_t{1});
    if (storage.size() == L.pixels) {
        storage.reshape(shape);
    } else {
        storage = xt::xarray<T>::from_shape(shape);
        prepare_fresh_buffer(storage.data(), storage.size() * sizeof(T));
    }
    dm_fill(reinterpret_cast<const unsigned char*>(bytes), storage.data(), L, f.little_endian);
    if (L.pixel.code == dm_code::float32 || L.pixel.code == dm_code::float64)
        require_finite(storage.data(), storage.size(), source, sig.size);
    if (info) *info = dm_file_info(f, L);
    return grid::SpectrumImage<T>(std::move(storage), std::move(axis), std::move(md));
}

/// The bytes of a file: memory-mapped where possible, else read once.
class DmFileBytes {
public:
    explicit DmFileBytes(const std::filesystem::path& path) {
        (void)detail::regular_file_size(path);  // refuses devices, FIFOs and directories with the reason
#ifdef CORESPEC_DM_MMAP
        const int fd = ::open(path.c_str(), O_RDONLY);
        if (fd < 0) throw io_error("cannot open '" + path.string() + "' for reading: " + detail::os_reason(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            ::close(fd);
            throw io_error("cannot stat '" + path.string() + "'");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
            flags |= MAP_POPULATE;  // fault the pages in one pass: the data block is most of the file
#endif
            void* p = ::mmap(nullptr, size_, PROT_READ, flags, fd, 0);
            if (p != MAP_FAILED) {
                map_ = p;
                data_ = static_cast<const char*>(p);
            }
        }
        ::close(fd);
        if (map_ || size_ == 0) return;
#endif
        std::ifstream in = detail::open_for_reading(path);
        in.seekg(0, std::ios::end);
        const auto end = in.tellg();
        if (end < 0) throw io_error("cannot read '" + path.string() + "'");
        buffer_.resize(static_cast<std::size_t>(end));
        in.seekg(0);
        in.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        if (!in) throw io_error("error while reading '" + path.string() + "'");
        data_ = buffer_.data();
        size_ = buffer_.size();
    }
    ~DmFileBytes() {
#ifdef CORESPEC_DM_MMAP
        if (map_) ::munmap(map_, size_);
#endif
    }
    DmFileBytes(const DmFileBytes&) = delete;
    DmFileBytes& operator=(const DmFileBytes&) = delete;

    const char* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }

private:
    void* map_ = nullptr;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
    std::vector<char> buffer_;
};

}  // namespace detail

/// Reads the image of a DM3/DM4 file held in memory into HyperSpy's array
/// layout (see the file comment), with complex data as a trailing [re, im]
/// dimension and RGBA data as a trailing [R, G, B, A] dimension. Fills `info`
/// when given. Throws parse_error for malformed input, unsupported_error for
/// packed-complex or unknown image types.
template <class T = double>
xt::xarray<T> parse_dm_array(const char* bytes, std::size_t size, const std::string& source = "<memory>",
                             FileInfo* info = nullptr) {
    const DmFile f = parse_dm_tags(bytes, size, source);
    const detail::DmLayout L = detail::dm_layout(detail::dm_first_image(f, source), source);
    if (info) *info = detail::dm_file_info(f, L);
    return detail::dm_array<T>(bytes, f, L, true);
}

/// Reads the image of a DM3/DM4 file held in memory as a SpectrumImage:
/// navigation dimensions, then the signal (energy) dimension with its
/// calibration (offset = -origin * scale, scale, units) as a uniform axis. A
/// single spectrum has navigation shape {1}; a 2-D image gives rows x columns.
/// Metadata: title, signal type (technique EELS for EELS data), beam energy
/// (keV), convergence and collection semi-angles (mrad), exposure (s), and in
/// `extra` HyperSpy's other fields ("dm.date", "dm.time", "dm.microscope",
/// "dm.dwell_time_s", ...) plus every ImageTags entry as "dm.<tag path>".
/// Throws parse_error for malformed input (with the byte offset),
/// unsupported_error for complex, RGB and packed data and for signal axes that
/// cannot be an energy axis (fewer than 2 channels, scale <= 0).
template <class T = double>
grid::SpectrumImage<T> parse_dm(const char* bytes, std::size_t size, const std::string& source = "<memory>",
                                FileInfo* info = nullptr) {
    xt::xarray<T> storage;
    return detail::dm_spectrum_image(bytes, size, source, info, storage);
}

/// parse_dm into `out`, reusing its memory when the new data has the same
/// number of values (the streaming case: many files of one acquisition, where
/// obtaining fresh memory from the OS costs as much as the read itself). On
/// an exception `out` is unchanged.
template <class T>
void parse_dm_into(const char* bytes, std::size_t size, grid::SpectrumImage<T>& out,
                   const std::string& source = "<memory>", FileInfo* info = nullptr) {
    xt::xarray<T> storage = std::move(out.data());
    try {
        out = detail::dm_spectrum_image(bytes, size, source, info, storage);
    } catch (...) {
        out.data() = std::move(storage);
        throw;
    }
}

/// parse_dm on a file (memory-mapped where the platform allows). Throws
/// io_error when the file cannot be read, otherwise as parse_dm.
template <class T = double>
grid::SpectrumImage<T> read_dm(const std::filesystem::path& path, FileInfo* info = nullptr) {
    const detail::DmFileBytes bytes(path);
    return parse_dm<T>(bytes.data(), bytes.size(), path.string(), info);
}

/// parse_dm_into on a file.
template <class T>
void read_dm_into(const std::filesystem::path& path, grid::SpectrumImage<T>& out, FileInfo* info = nullptr) {
    const detail::DmFileBytes bytes(path);
    parse_dm_into(bytes.data(), bytes.size(), out, path.string(), info);
}

/// parse_dm_array on a file.
template <class T = double>
xt::xarray<T> read_dm_array(const std::filesystem::path& path, FileInfo* info = nullptr) {
    const detail::DmFileBytes bytes(path);
    return parse_dm_array<T>(bytes.data(), bytes.size(), path.string(), info);
}

/// The tag tree of a DM file on disk.
inline DmFile read_dm_tags(const std::filesystem::path& path) {
    const detail::DmFileBytes bytes(path);
    return parse_dm_tags(bytes.data(), bytes.size(), path.string());
}

}  // namespace corespec::io
