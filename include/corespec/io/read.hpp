// corespec/io/read.hpp - format detection and one entry point for every reader.
//
//   io::FileInfo info;
//   auto s  = io::read_spectrum(path, &info);        // one spectrum
//   auto si = io::read_spectrum_image(path, &info);  // navigation x energy
//
// The format is decided by content (magic bytes, first line; HDF5 by its
// signature \x89HDF\r\n\x1a\n, then by the layout inside); the file
// extension only breaks ties when the content says nothing (empty or
// unrecognised bytes). DM3/DM4 are read through corespec/io/dm.hpp when that
// header is present (it is compiled in with __has_include); otherwise DM
// files are detected and reported as unsupported_error.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/athena.hpp"
#include "corespec/io/columns.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/json_spectra.hpp"
#include "corespec/io/msa.hpp"
#include "corespec/io/npy.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"
#include "corespec/io/xdi.hpp"

#if defined(CORESPEC_HAVE_HDF5)  // set by the corespec::hdf5 target
#include "corespec/io/emd.hpp"
#include "corespec/io/hspy.hpp"
#include "corespec/io/nexus.hpp"
#endif

#if defined(__has_include)
#if __has_include("corespec/io/dm.hpp")
#include "corespec/io/dm.hpp"
#define CORESPEC_IO_HAVE_DM 1
#endif
#endif

namespace corespec::io {

namespace detail {

inline std::string lower_extension(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

inline Format format_from_extension(const std::filesystem::path& path) {
    const std::string ext = lower_extension(path);
    if (ext == ".dm3") return Format::dm3;
    if (ext == ".dm4") return Format::dm4;
    if (ext == ".msa" || ext == ".emsa" || ext == ".ems" || ext == ".mas") return Format::msa;
    if (ext == ".xdi") return Format::xdi;
    if (ext == ".prj") return Format::athena;
    if (ext == ".npy") return Format::npy;
    if (ext == ".json") return Format::json;
    if (ext == ".dat" || ext == ".txt" || ext == ".xmu" || ext == ".nor" || ext == ".csv") return Format::columns;
    return Format::unknown;
}

inline std::uint32_t be32(std::string_view b, std::size_t at) {
    return (std::uint32_t(static_cast<unsigned char>(b[at])) << 24) |
           (std::uint32_t(static_cast<unsigned char>(b[at + 1])) << 16) |
           (std::uint32_t(static_cast<unsigned char>(b[at + 2])) << 8) | std::uint32_t(static_cast<unsigned char>(b[at + 3]));
}

}  // namespace detail

/// The format of `bytes` (the whole file or at least its first few
/// kilobytes). `path` is only a tie-breaker: its extension is used when the
/// content is empty or not recognised.
inline Format detect_format(std::string_view bytes, const std::filesystem::path& path = {}) {
    // Binary formats by magic bytes.
    if (bytes.size() >= 6 && bytes.substr(0, 6) == std::string_view("\x93NUMPY", 6)) return Format::npy;
    if (detail::is_hdf5(bytes)) return Format::hdf5;
    if (detail::is_gzip(bytes)) return Format::athena;  // the only gzip format read here
    if (bytes.size() >= 16) {
        const std::uint32_t version = detail::be32(bytes, 0);
        // DM3: version 3, byte order flag (0/1) at offset 8; DM4: version 4, flag at 12.
        if (version == 3 && detail::be32(bytes, 8) <= 1) return Format::dm3;
        if (version == 4 && detail::be32(bytes, 12) <= 1) return Format::dm4;
    }
    // Text formats by their first non-blank line.
    std::string_view text = bytes;
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    const std::string_view probe = text.substr(0, std::min<std::size_t>(text.size(), 4096));
    const bool binary = probe.find('\0') != std::string_view::npos;
    if (!binary) {
        std::string_view first;
        detail::for_each_line(probe, [&](std::size_t, std::string_view line) {
            line = detail::trim(line);
            if (line.empty()) return true;
            first = line;
            return false;
        });
        if (!first.empty()) {
            if (first.front() == '{' || first.front() == '[') return Format::json;
            if (first.front() == '#') {
                const std::string_view body = detail::trim(first.substr(1));
                if (body.size() >= 4 && detail::iequals(body.substr(0, 4), "XDI/")) return Format::xdi;
                if (body.size() >= 6 && detail::iequals(body.substr(0, 6), "FORMAT") &&
                    detail::icontains(body, "EMSA"))
                    return Format::msa;
                if (body.rfind("Athena project file", 0) == 0) return Format::athena;
            }
            const Format by_ext = detail::format_from_extension(path);
            if (by_ext == Format::msa && first.front() == '#') return Format::msa;
            return Format::columns;
        }
    }
    return detail::format_from_extension(path);
}

namespace detail {

template <class T>
grid::SpectrumImage<T> one_pixel(const grid::Spectrum<T>& s) {
    xt::xarray<T> data = xt::xarray<T>::from_shape({1, s.size()});
    std::copy(s.values().begin(), s.values().end(), data.begin());
    return grid::SpectrumImage<T>(std::move(data), s.axis(), s.metadata());
}

[[noreturn]] inline void no_hdf5(const std::string& source) {
    throw unsupported_error(source + ": HDF5 file, but this build has no HDF5 support (link corespec::hdf5)");
}

#if defined(CORESPEC_HAVE_HDF5)
/// An opened HDF5 file read by the reader its layout names.
template <class T>
grid::SpectrumImage<T> hdf5_spectrum_image(const H5File& f, FileInfo* info) {
    if (is_hspy_file(f.file.get())) return hspy_read<T>(f, info);
    if (is_berkeley_emd_file(f.file.get()) || is_velox_emd_file(f.file.get())) return emd_read<T>(f, info);
    if (!nxxas_entry(f.file.get()).empty()) {
        const auto s = nxxas_read(f, info);
        grid::Spectrum<T> t(s.axis(), std::vector<T>(s.values().begin(), s.values().end()), s.metadata());
        return one_pixel(t);
    }
    throw unsupported_error(f.source + ": HDF5 file of a layout corespec does not read "
                                       "(HyperSpy .hspy, Berkeley and Velox EMD, and NeXus NXxas are read)");
}
#endif

[[noreturn]] inline void no_dm(const std::string& source, Format f) {
    throw unsupported_error(source + ": " + to_string(f) +
                            " file, but this build has no DM reader (corespec/io/dm.hpp not found)");
}

template <class T>
grid::Spectrum<T> athena_spectrum(const AthenaProject& p, FileInfo* info) {
    for (const auto& g : p.groups)
        if (g.arrays.count("x") && g.arrays.count("y")) return to_spectrum<T>(g, true, p.source, info);
    throw parse_error(p.source, "project", "no group with energy (@x) and mu (@y) arrays");
}

}  // namespace detail

/// A spectrum image from bytes in memory (`source` names them in errors;
/// its extension breaks format ties). 1-D formats become one-pixel images;
/// the FileInfo then keeps the single axis the file holds. Athena projects
/// whose groups share one energy grid become groups x energy; otherwise
/// unsupported_error (use read_athena). NPY and table JSON carry no energy
/// axis: the channel index is used.
template <class T = double>
grid::SpectrumImage<T> parse_spectrum_image(std::string_view bytes, const std::string& source = "<memory>",
                                            FileInfo* info = nullptr) {
    const Format f = detect_format(bytes, source);
    switch (f) {
        case Format::dm3:
        case Format::dm4:
#ifdef CORESPEC_IO_HAVE_DM
            return parse_dm<T>(bytes.data(), bytes.size(), source, info);
#else
            detail::no_dm(source, f);
#endif
        case Format::hdf5:
#if defined(CORESPEC_HAVE_HDF5)
            return detail::hdf5_spectrum_image<T>(detail::h5_open_image(bytes.data(), bytes.size(), source), info);
#else
            detail::no_hdf5(source);
#endif
        case Format::npy: {
            auto a = parse_npy<T>(bytes.data(), bytes.size(), source);
            return npy_to_spectrum_image<T>(std::move(a), source, std::nullopt, info);
        }
        case Format::json: return parse_json_spectrum_image<T>(bytes, source, info);
        case Format::athena: {
            const auto p = parse_athena(bytes, source);
            std::vector<const AthenaGroup*> gs;
            for (const auto& g : p.groups)
                if (g.arrays.count("x") && g.arrays.count("y")) gs.push_back(&g);
            if (gs.empty()) throw parse_error(source, "project", "no group with energy (@x) and mu (@y) arrays");
            auto first = to_spectrum<T>(*gs.front(), true, source, info);
            for (const auto* g : gs) {
                auto s = to_spectrum<T>(*g, true, source);
                if (!s.axis().approx_equal(first.axis(), 0.0))
                    throw unsupported_error(source + ": the " + std::to_string(gs.size()) +
                                            " groups lie on different energy grids; read them with read_athena");
            }
            if (gs.size() == 1) return detail::one_pixel(first);
            xt::xarray<T> data = xt::xarray<T>::from_shape({gs.size(), first.size()});
            for (std::size_t r = 0; r < gs.size(); ++r) {
                const auto& y = gs[r]->mu();
                for (std::size_t c = 0; c < y.size(); ++c) data(r, c) = static_cast<T>(y[c]);
            }
            if (info) {
                AxisInfo nav;
                nav.name = "group";
                nav.size = gs.size();
                nav.navigate = true;
                info->axes.insert(info->axes.begin(), nav);
            }
            return grid::SpectrumImage<T>(std::move(data), first.axis(), first.metadata());
        }
        case Format::msa: return detail::one_pixel(parse_msa<T>(bytes, source, info));
        case Format::xdi: return detail::one_pixel(to_spectrum<T>(parse_xdi(bytes, source), MuMode::automatic, info));
        case Format::columns: {
            const auto table = parse_columns(bytes, source);
            auto s = to_spectrum<T>(table, flavor_from_name(source, table));
            detail::fill_spectrum_info(info, Format::columns, "float64", s.axis(), "Energy");
            return detail::one_pixel(s);
        }
        default: break;
    }
    throw parse_error(source, parse_error::at_offset(0), "unrecognised file format");
}

/// One spectrum from bytes in memory. Multi-spectrum content (spectrum
/// images, NPY arrays of rank > 1 with more than one pixel) raises
/// unsupported_error; Athena projects give their first group with data.
template <class T = double>
grid::Spectrum<T> parse_spectrum(std::string_view bytes, const std::string& source = "<memory>", FileInfo* info = nullptr) {
    const Format f = detect_format(bytes, source);
    switch (f) {
        case Format::msa: return parse_msa<T>(bytes, source, info);
        case Format::xdi: return to_spectrum<T>(parse_xdi(bytes, source), MuMode::automatic, info);
        case Format::athena: return detail::athena_spectrum<T>(parse_athena(bytes, source), info);
        case Format::columns: {
            const auto table = parse_columns(bytes, source);
            auto s = to_spectrum<T>(table, flavor_from_name(source, table));
            detail::fill_spectrum_info(info, Format::columns, "float64", s.axis(), "Energy");
            return s;
        }
        case Format::json: {
            const auto si = parse_json_spectrum_image<T>(bytes, source, info);
            if (si.pixel_count() != 1)
                throw unsupported_error(source + ": holds " + std::to_string(si.pixel_count()) +
                                        " spectra; use read_spectrum_image");
            if (info && info->axes.size() > 1) info->axes.erase(info->axes.begin(), info->axes.end() - 1);
            return si.spectrum(0);
        }
        default: {
            const auto si = parse_spectrum_image<T>(bytes, source, info);
            if (si.pixel_count() != 1)
                throw unsupported_error(source + ": holds " + std::to_string(si.pixel_count()) +
                                        " spectra; use read_spectrum_image");
            if (info && info->axes.size() > 1) info->axes.erase(info->axes.begin(), info->axes.end() - 1);
            return si.spectrum(0);
        }
    }
}

/// Reads a spectrum image from a file (see parse_spectrum_image). DM files go
/// to read_dm (which reads the data block without copying the whole file).
template <class T = double>
grid::SpectrumImage<T> read_spectrum_image(const std::filesystem::path& path, FileInfo* info = nullptr) {
    const Format f = detect_format(detail::read_head(path, 4096), path);
    if (f == Format::hdf5) {
#if defined(CORESPEC_HAVE_HDF5)
        return detail::hdf5_spectrum_image<T>(detail::h5_open(path), info);
#else
        detail::no_hdf5(path.string());
#endif
    }
    if (f == Format::dm3 || f == Format::dm4) {
#ifdef CORESPEC_IO_HAVE_DM
        return read_dm<T>(path, info);
#else
        detail::no_dm(path.string(), f);
#endif
    }
    return parse_spectrum_image<T>(detail::read_file(path), path.string(), info);
}

/// Reads one spectrum from a file (see parse_spectrum).
template <class T = double>
grid::Spectrum<T> read_spectrum(const std::filesystem::path& path, FileInfo* info = nullptr) {
    const Format f = detect_format(detail::read_head(path, 4096), path);
    if (f == Format::dm3 || f == Format::dm4 || f == Format::hdf5) {
        const auto si = read_spectrum_image<T>(path, info);
        if (si.pixel_count() != 1)
            throw unsupported_error(path.string() + ": holds " + std::to_string(si.pixel_count()) +
                                    " spectra; use read_spectrum_image");
        if (info && info->axes.size() > 1) info->axes.erase(info->axes.begin(), info->axes.end() - 1);
        return si.spectrum(0);
    }
    return parse_spectrum<T>(detail::read_file(path), path.string(), info);
}

}  // namespace corespec::io
