// corespec/io/emd.hpp - EMD (HDF5) spectra and spectrum images, read:
// Berkeley EMD 0.2 and Thermo Fisher Velox EMD (see "Velox EMD" below).
// Needs corespec::hdf5.
//
//   io::FileInfo info;
//   auto si = io::read_emd<float>("si.emd", &info);   // navigation x energy
//
// Layout (Berkeley EMD 0.2, emdatasets.com): root attributes version_major = 0,
// version_minor = 2; a group carrying emd_group_type = 1 holds the dataset
// `data` and one dataset `dim1` .. `dimN` per data dimension (dim1 is the
// first, slowest, array index), each with the attributes `name` and `units`.
// A dim vector holds the coordinate of every index; HyperSpy writes two
// values [offset, offset + scale] (a linear axis) and one value means offset
// with scale 1. The first emd_group_type = 1 group found (depth first, in
// name order, at most 8 levels deep) is read; its last dimension is the
// energy axis (units such as HyperSpy's "[e_V]" are read as "eV").
//
// Errors (parse_error naming the file, the object and the reason): no
// emd_group_type = 1 group, a missing `dimK`, a dim vector whose length is
// neither the dimension's size nor 1 or 2, non-finite or non-increasing
// energies, an unsupported dtype, NaN/Inf in the data.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/hdf5.hpp"
#include "corespec/io/reader_support.hpp"

namespace corespec::io {

namespace detail {

/// The path of the first group with emd_group_type = 1 under `path` ("" when none).
inline std::string emd_find_data_group(hid_t file, const std::string& path, int depth) {
    if (depth > 8) return {};
    Handle g = h5_open_group(file, path, "");
    if (path != "/" && h5_attr_number(g.get(), "emd_group_type").value_or(0.0) == 1.0) return path;
    for (const auto& child : h5_children(g.get())) {
        const std::string p = (path == "/" ? "/" : path + "/") + child;
        if (h5_object_type(file, p) != H5O_TYPE_GROUP) continue;
        const std::string found = emd_find_data_group(file, p, depth + 1);
        if (!found.empty()) return found;
    }
    return {};
}

/// True for a Berkeley EMD file (its version attributes, or an emd_group_type = 1 group).
inline bool is_berkeley_emd_file(hid_t file) {
    if (h5_attr_number(file, "version_major") && h5_attr_number(file, "version_minor")) return true;
    return false;
}

/// HyperSpy writes units as "[e_V]" (characters joined by '_'); plain units pass through.
inline std::string emd_units(std::string u) {
    if (u.size() >= 2 && u.front() == '[' && u.back() == ']') {
        std::string out;
        for (char c : u.substr(1, u.size() - 2))
            if (c != '_') out.push_back(c);
        return out;
    }
    return u;
}

template <class T>
grid::SpectrumImage<T> berkeley_emd_read(const H5File& f, FileInfo* info) {
    const std::string& src = f.source;
    const hid_t file = f.file.get();
    const std::string group = emd_find_data_group(file, "/", 0);
    if (group.empty()) throw parse_error(src, "/", "no EMD data group (a group with emd_group_type = 1)");
    const std::string data_path = group + "/data";
    Handle data = h5_open_dataset(file, data_path, src);
    FileInfo fi;
    fi.format = Format::emd;
    fi.dtype = h5_numeric_dtype(data.get(), src, data_path);
    const std::vector<std::size_t> shape = h5_shape(data.get(), src, data_path);
    if (shape.empty()) throw unsupported_error(src + ": " + data_path + " is a scalar, not a spectrum");
    std::vector<double> energies;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const std::string dim = group + "/dim" + std::to_string(i + 1);
        if (!h5_exists(file, dim))
            throw parse_error(src, dim, "missing dimension vector for dimension " + std::to_string(i + 1) + " of the data");
        std::vector<double> v = h5_read_vector(file, dim, src);
        Handle d = h5_open_dataset(file, dim, src);
        AxisInfo a;
        a.size = shape[i];
        a.name = h5_attr_string(d.get(), "name").value_or("");
        a.units = emd_units(h5_attr_string(d.get(), "units").value_or(""));
        a.navigate = i + 1 < shape.size();
        require_finite(v.data(), v.size(), src + ": " + dim);
        if (v.size() == shape[i] && shape[i] > 2) {
            // Full coordinates: uniform when equally spaced (to 1e-9 of the step).
            const double step = (v.back() - v.front()) / double(v.size() - 1);
            bool uniform = step != 0.0;
            for (std::size_t k = 1; k < v.size() && uniform; ++k)
                uniform = std::abs((v[k] - v[0]) - step * double(k)) <= 1e-9 * std::abs(step) * double(v.size());
            a.offset = v.front();
            a.scale = step;
            a.is_explicit = !uniform;
        } else if (v.size() == 2 || (v.size() == shape[i] && shape[i] == 2)) {
            a.offset = v[0];
            a.scale = v[1] - v[0];
        } else if (v.size() == 1) {
            a.offset = v[0];
            a.scale = 1.0;
        } else {
            throw parse_error(src, dim, std::to_string(v.size()) + " values for a dimension of size " +
                                            std::to_string(shape[i]) + " (expected " + std::to_string(shape[i]) +
                                            ", 1 or 2)");
        }
        a.first = a.is_explicit ? v.front() : a.offset;
        a.last = a.is_explicit ? v.back() : a.offset + a.scale * double(a.size - 1);
        if (!a.navigate) energies = std::move(v);
        fi.axes.push_back(a);
    }
    const AxisInfo& sig = fi.axes.back();
    grid::EnergyAxis axis = grid::EnergyAxis::uniform(0.0, 1.0, 2);
    if (sig.is_explicit) {
        for (std::size_t k = 1; k < energies.size(); ++k)
            if (!(energies[k] > energies[k - 1]))
                throw parse_error(src, group + "/dim" + std::to_string(shape.size()), "energies are not increasing");
        axis = grid::EnergyAxis::from_energies(energies, sig.units);
    } else {
        if (sig.size < 2 || !(sig.scale > 0.0))
            throw unsupported_error(src + ": signal axis '" + sig.name + "' (" + std::to_string(sig.size) +
                                    " channels, scale " + format_double(sig.scale) + ") cannot be an energy axis");
        axis = grid::EnergyAxis::uniform(sig.offset, sig.scale, sig.size, sig.units);
    }
    std::vector<std::size_t> out_shape = shape;
    if (out_shape.size() == 1) out_shape.insert(out_shape.begin(), std::size_t{1});
    xt::xarray<T> values = xt::xarray<T>::from_shape(out_shape);
    if (values.size() > 0) h5_read_rows(data.get(), shape, 0, shape[0], values.data(), src, data_path);
    require_finite(values.data(), values.size(), src, sig.size);
    grid::Metadata md;
    md.source = src;
    Handle g = h5_open_group(file, group, src);
    md.title = h5_attr_string(g.get(), "title").value_or(group.substr(group.rfind('/') + 1));
    if (info) *info = fi;
    return grid::SpectrumImage<T>(std::move(values), std::move(axis), std::move(md));
}

// ------------------------------------------------------------ Velox EMD
//
// Thermo Fisher Velox writes EMD files of its own layout (not Berkeley's),
// read here as far as it is publicly described (RosettaSciIO's reader): a
// root dataset `Version` (JSON text, {"version": ...}) and a group `Data`.
// JSON texts are stored either as a one-element string dataset or as a
// uint8 dataset [n] or [n, k] (k frames; the first column is read), padded
// with NULs.
// - Spectra: /Data/Spectrum/<id>/Data [channels, n] (or [channels]), one
//   spectrum per column, with /Data/Spectrum/<id>/Metadata (JSON).
// - Spectrum images are spectrum streams: /Data/SpectrumStream/<id>/Data, a
//   uint16 stream [N, 1] in which each value is the channel of one counted
//   event of the current pixel and 65535 moves to the next pixel (row-major
//   over the scan; after the last pixel of a frame the next frame begins, and
//   frames are summed); AcquisitionSettings (JSON) gives "bincount" (the
//   channels); the scan's shape [ny, nx] is that of the first
//   /Data/Image/<id>/Data [ny, nx, frames]. Several streams (one per EDS
//   detector) are summed.
// - Energy calibration, from the Metadata JSON: the entry of "Detectors"
//   whose "DetectorName" contains "BinaryResult"."Detector" gives
//   "Dispersion" and "OffsetEnergy" in eV. Scan calibration:
//   "BinaryResult"."PixelSize" {width, height}, "Offset" {x, y},
//   "PixelUnitX".
// Not read: images alone (corespec reads spectra), Velox EELS spectrum
// images (/Data/EelsSpectrumImage: their axis order is not publicly
// described), "pruned" files without a stream, individual frames.

/// True for a Velox EMD file: a root dataset `Version` and a group `Data`.
inline bool is_velox_emd_file(hid_t file) {
    return h5_exists(file, "Version") && h5_object_type(file, "Version") == H5O_TYPE_DATASET &&
           h5_exists(file, "Data") && h5_object_type(file, "Data") == H5O_TYPE_GROUP;
}

/// The JSON object stored at `path` (string dataset, or uint8 [n] / [n, k]).
inline nlohmann::json velox_json(hid_t file, const std::string& path, const std::string& src) {
    std::string text;
    if (auto s = h5_string_field(file, path)) {
        text = *s;
    } else {
        Handle d = h5_open_dataset(file, path, src);
        if (h5_numeric_dtype(d.get(), src, path) != "uint8")
            throw parse_error(src, path, "JSON text expected as a string or uint8 dataset");
        const auto shape = h5_shape(d.get(), src, path);
        if (shape.empty() || shape.size() > 2) throw parse_error(src, path, "JSON text expected as a 1-D or 2-D uint8 array");
        const std::size_t rows = shape[0], cols = shape.size() == 2 ? shape[1] : 1;
        if (rows * cols > (std::size_t(64) << 20)) throw parse_error(src, path, "JSON text larger than 64 MiB");
        std::vector<std::uint8_t> bytes(rows * cols);
        if (!bytes.empty()) h5_read_rows(d.get(), shape, 0, rows, bytes.data(), src, path);
        for (std::size_t r = 0; r < rows; ++r) text.push_back(static_cast<char>(bytes[r * cols]));
    }
    while (!text.empty() && text.back() == '\0') text.pop_back();
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw parse_error(src, path, "not a JSON object");
    return j;
}

/// The value at JSON pointer `ptr` (e.g. "/BinaryResult/Detector"); null when absent.
inline nlohmann::json velox_at(const nlohmann::json& j, const char* ptr) {
    const nlohmann::json::json_pointer p(ptr);
    return j.contains(p) ? j[p] : nlohmann::json();
}

/// The string at `ptr`; "" when absent or not a string.
inline std::string velox_text(const nlohmann::json& j, const char* ptr) {
    const nlohmann::json v = velox_at(j, ptr);
    return v.is_string() ? v.get<std::string>() : std::string();
}

/// A number that Velox's JSON stores as a string (or a number); nullopt when absent or not a number.
inline std::optional<double> velox_number(const nlohmann::json& j) {
    if (j.is_number()) return j.get<double>();
    if (!j.is_string()) return std::nullopt;
    const std::string s = j.get<std::string>();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

/// The energy axis (eV) of a Velox spectrum or stream from its Metadata JSON.
inline grid::EnergyAxis velox_energy_axis(const nlohmann::json& md, std::size_t channels, const std::string& src,
                                          const std::string& where) {
    const std::string detector = velox_text(md, "/BinaryResult/Detector");
    if (md.contains("Detectors") && md["Detectors"].is_object())
        for (const auto& [key, d] : md["Detectors"].items()) {
            (void)key;
            if (!d.is_object() || !d.contains("DetectorName") || !d["DetectorName"].is_string()) continue;
            if (detector.empty() || d["DetectorName"].get<std::string>().find(detector) == std::string::npos) continue;
            const auto dispersion = velox_number(velox_at(d, "/Dispersion"));
            const auto offset = velox_number(velox_at(d, "/OffsetEnergy"));
            if (!dispersion || !offset || !(*dispersion > 0.0))
                throw parse_error(src, where, "detector '" + detector + "' has no positive Dispersion and OffsetEnergy");
            if (channels < 2) throw unsupported_error(src + ": " + where + " has fewer than 2 channels");
            return grid::EnergyAxis::uniform(*offset, *dispersion, channels, "eV");
        }
    throw parse_error(src, where, "no energy calibration (no entry of Detectors named '" + detector + "')");
}

/// The paths of the child groups of `path`, in name order (none when `path` is absent).
inline std::vector<std::string> velox_children(hid_t file, const std::string& path) {
    if (!h5_exists(file, path) || h5_object_type(file, path) != H5O_TYPE_GROUP) return {};
    Handle g = h5_open_group(file, path, "");
    std::vector<std::string> out;
    for (const auto& c : h5_children(g.get()))
        if (h5_object_type(g.get(), c) == H5O_TYPE_GROUP) out.push_back(path + "/" + c);
    return out;
}

/// The FileInfo axis of an energy axis.
inline AxisInfo velox_energy_info(const grid::EnergyAxis& axis) {
    FileInfo e;
    fill_spectrum_info(&e, Format::emd, "", axis, "X-ray energy");
    return e.axes.front();
}

/// Adds the events of one spectrum stream to `out` (ny * nx * channels, zeroed by the caller).
template <class T>
void velox_add_stream(const std::vector<std::uint16_t>& stream, std::size_t pixels, std::size_t channels, T* out,
                      const std::string& src, const std::string& where) {
    constexpr std::uint16_t next_pixel = 65535;
    std::size_t pixel = 0;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        if (pixel == pixels) pixel = 0;  // the next frame begins
        const std::uint16_t v = stream[i];
        if (v == next_pixel) {
            ++pixel;
        } else if (v >= channels) {
            throw parse_error(src, where, "value " + std::to_string(v) + " at position " + std::to_string(i) +
                                              " is past the stream's " + std::to_string(channels) + " channels");
        } else {
            out[pixel * channels + v] += T(1);
        }
    }
}

template <class T>
grid::SpectrumImage<T> velox_read(const H5File& f, FileInfo* info) {
    const std::string& src = f.source;
    const hid_t file = f.file.get();
    grid::Metadata md;
    md.source = src;
    md.signal_type = "EDS_TEM";
    const nlohmann::json version = velox_json(file, "/Version", src);
    if (version.contains("version")) md.extra["velox.version"] = version["version"].dump();
    FileInfo fi;
    fi.format = Format::emd;
    const auto streams = velox_children(file, "/Data/SpectrumStream");
    const auto spectra = velox_children(file, "/Data/Spectrum");
    if (streams.empty() && spectra.empty())
        throw unsupported_error(src + ": Velox EMD without spectra or spectrum streams (images only, a pruned "
                                      "file, or an EELS spectrum image, which corespec does not read)");
    if (!streams.empty()) {
        const auto images = velox_children(file, "/Data/Image");
        if (images.empty()) throw parse_error(src, "/Data/Image", "a spectrum stream needs an image for the scan's shape");
        Handle image = h5_open_dataset(file, images.front() + "/Data", src);
        const auto ishape = h5_shape(image.get(), src, images.front() + "/Data");
        if (ishape.size() < 2 || ishape[0] == 0 || ishape[1] == 0)
            throw parse_error(src, images.front() + "/Data", "expected an image [ny, nx, frames]");
        const std::size_t ny = ishape[0], nx = ishape[1];
        const nlohmann::json settings = velox_json(file, streams.front() + "/AcquisitionSettings", src);
        const auto bins = velox_number(velox_at(settings, "/bincount"));
        if (!bins || *bins < 2 || *bins > 65535 || *bins != std::floor(*bins))
            throw parse_error(src, streams.front() + "/AcquisitionSettings", "bincount missing or not 2..65535");
        const std::size_t channels = static_cast<std::size_t>(*bins);
        if (ny * nx > (std::size_t(1) << 30) / channels)
            throw unsupported_error(src + ": a " + std::to_string(ny) + " x " + std::to_string(nx) + " x " +
                                    std::to_string(channels) + " spectrum image is too large to decode in memory");
        xt::xarray<T> values = xt::zeros<T>({ny, nx, channels});
        for (const auto& s : streams) {
            const std::string where = s + "/Data";
            Handle d = h5_open_dataset(file, where, src);
            if (h5_numeric_dtype(d.get(), src, where) != "uint16") throw parse_error(src, where, "a stream of uint16 expected");
            const auto shape = h5_shape(d.get(), src, where);
            std::size_t n = 1;
            for (std::size_t k : shape) n *= k;
            if (shape.empty() || (shape.size() == 2 && shape[1] != 1) || shape.size() > 2)
                throw parse_error(src, where, "a stream [N, 1] expected");
            std::vector<std::uint16_t> stream(n);
            if (n > 0) h5_read_rows(d.get(), shape, 0, shape[0], stream.data(), src, where);
            velox_add_stream(stream, ny * nx, channels, values.data(), src, where);
        }
        const nlohmann::json m = velox_json(file, streams.front() + "/Metadata", src);
        grid::EnergyAxis axis = velox_energy_axis(m, channels, src, streams.front() + "/Metadata");
        const auto cal = [&](const char* ptr, double fallback) { return velox_number(velox_at(m, ptr)).value_or(fallback); };
        const std::string unit = velox_text(m, "/BinaryResult/PixelUnitX");
        for (const auto& [name, size, offset, scale] :
             {std::tuple<const char*, std::size_t, double, double>{"y", ny, cal("/BinaryResult/Offset/y", 0.0),
                                                                   cal("/BinaryResult/PixelSize/height", 1.0)},
              std::tuple<const char*, std::size_t, double, double>{"x", nx, cal("/BinaryResult/Offset/x", 0.0),
                                                                   cal("/BinaryResult/PixelSize/width", 1.0)}}) {
            AxisInfo a;
            a.name = name;
            a.units = unit;
            a.size = size;
            a.offset = offset;
            a.scale = scale;
            a.first = offset;
            a.last = offset + scale * double(size - 1);
            a.navigate = true;
            fi.axes.push_back(a);
        }
        fi.dtype = "uint16 stream";
        fi.axes.push_back(velox_energy_info(axis));
        md.extra["velox.streams"] = std::to_string(streams.size());
        if (info) *info = fi;
        return grid::SpectrumImage<T>(std::move(values), std::move(axis), std::move(md));
    }
    // Spectra: [channels, n] with one spectrum per column.
    const std::string where = spectra.front() + "/Data";
    Handle d = h5_open_dataset(file, where, src);
    fi.dtype = h5_numeric_dtype(d.get(), src, where);
    const auto shape = h5_shape(d.get(), src, where);
    if (shape.empty() || shape.size() > 2) throw parse_error(src, where, "spectra [channels, n] expected");
    const std::size_t channels = shape[0], n = shape.size() == 2 ? shape[1] : 1;
    std::vector<T> columns(channels * n);
    if (!columns.empty()) h5_read_rows(d.get(), shape, 0, channels, columns.data(), src, where);
    require_finite(columns.data(), columns.size(), src + ": " + where);
    xt::xarray<T> values = xt::xarray<T>::from_shape({n, channels});
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t k = 0; k < n; ++k) values(k, c) = columns[c * n + k];
    grid::EnergyAxis axis = velox_energy_axis(velox_json(file, spectra.front() + "/Metadata", src), channels, src,
                                              spectra.front() + "/Metadata");
    AxisInfo stack;
    stack.name = "Stack";
    stack.size = n;
    stack.last = double(n - 1);
    stack.navigate = true;
    fi.axes = {stack, velox_energy_info(axis)};
    if (info) *info = fi;
    return grid::SpectrumImage<T>(std::move(values), std::move(axis), std::move(md));
}

/// Either EMD: Velox when the file has Velox's layout, else Berkeley EMD 0.2.
template <class T>
grid::SpectrumImage<T> emd_read(const H5File& f, FileInfo* info) {
    if (is_velox_emd_file(f.file.get())) return velox_read<T>(f, info);
    return berkeley_emd_read<T>(f, info);
}

}  // namespace detail

/// Reads a Berkeley EMD 0.2 or Velox EMD spectrum or spectrum image (see the
/// file comment). io_error when the path is not a readable regular file,
/// parse_error when malformed, unsupported_error when the last dimension
/// cannot be an energy axis.
template <class T = double>
grid::SpectrumImage<T> read_emd(const std::filesystem::path& path, FileInfo* info = nullptr) {
    return detail::emd_read<T>(detail::h5_open(path), info);
}

/// read_emd from a file image in memory.
template <class T = double>
grid::SpectrumImage<T> parse_emd(const void* bytes, std::size_t size, const std::string& source = "<memory>",
                                 FileInfo* info = nullptr) {
    return detail::emd_read<T>(detail::h5_open_image(bytes, size, source), info);
}

}  // namespace corespec::io
