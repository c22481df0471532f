// corespec/io/hspy.hpp - HyperSpy's HDF5 files (.hspy, format 3.x), read,
// written, and streamed a block of rows at a time. Needs corespec::hdf5.
//
//   io::FileInfo info;
//   auto si = io::read_hspy<float>("si.hspy", &info);          // navigation x energy
//   io::write_hspy("out.hspy", si);                            // HyperSpy 1.7 opens it
//   io::for_each_hspy_block<float>("big.hspy", 16, [](const io::SpectrumBlock<float>& b) { ... });
//
// Layout (HyperSpy's io_plugins/_hierarchical.py): root attributes
// file_format = "HyperSpy", file_format_version = "3.x"; one group per
// signal under /Experiments/<title> holding the dataset `data` (any integer
// or float dtype, contiguous or chunked, gzip/shuffle), groups `axis-0` ..
// `axis-(rank-1)` in array order with attributes name, units, scale, offset,
// size, navigate (and, for a non-uniform axis, the dataset `axis`), and the
// group `metadata` (General/title, Signal/signal_type,
// Acquisition_instrument/TEM/{beam_energy, convergence_angle,
// Detector/EELS/{collection_angle, exposure}}).
//
// The signal axis must be one axis and the last one (a spectrum or a
// spectrum image); images or signals of rank > 1 are unsupported_error.
// Errors (parse_error naming the file, the HDF5 object and the reason): not
// HDF5 or truncated, no /Experiments group, a missing `axis-i` group, an
// axis size disagreeing with the dataset's shape, an unsupported dtype
// (strings, compounds, enums), NaN/Inf in the data, unreadable chunks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/hdf5.hpp"
#include "corespec/io/reader_support.hpp"

namespace corespec::io {

/// Rows [first_row, first_row + rows) of the first array dimension of a
/// spectrum image: `pixels` spectra of `channels` values each, C order.
/// `values` is valid only during the callback.
template <class T>
struct SpectrumBlock {
    std::size_t first_row = 0, rows = 0;
    std::size_t first_pixel = 0, pixels = 0;
    std::size_t channels = 0;
    const T* values = nullptr;
    const grid::EnergyAxis* axis = nullptr;
    const grid::Metadata* metadata = nullptr;
};

/// How write_hspy stores the data.
struct HspyWriteOptions {
    int gzip_level = 4;               ///< 0: no compression; 1-9: gzip + shuffle (chunked either way)
    std::string signal_axis_name = "Energy loss";
    /// Calibrations of the navigation axes (slowest first); empty: index axes named "y", "x" (or "x").
    std::vector<AxisInfo> navigation;
};

namespace detail {

/// What the file says about one signal, before any data are read.
struct HspyLayout {
    std::string source;
    std::string group;  ///< e.g. "/Experiments/EELS"
    std::vector<std::size_t> shape;
    std::string dtype;
    std::vector<AxisInfo> axes;           ///< array order
    std::vector<double> signal_energies;  ///< non-uniform signal axis, else empty
    grid::Metadata metadata;

    std::size_t channels() const { return shape.back(); }
    std::size_t pixels() const {
        std::size_t n = 1;
        for (std::size_t d = 0; d + 1 < shape.size(); ++d) n *= shape[d];
        return n;
    }
    grid::EnergyAxis energy_axis() const {
        const AxisInfo& a = axes.back();
        if (!signal_energies.empty()) return grid::EnergyAxis::from_energies(signal_energies, a.units);
        return grid::EnergyAxis::uniform(a.offset, a.scale, a.size, a.units);
    }
    FileInfo file_info() const {
        FileInfo info;
        info.format = Format::hspy;
        info.dtype = dtype;
        info.axes = axes;
        return info;
    }
};

inline bool is_hspy_file(hid_t file) {
    const auto format = h5_attr_string(file, "file_format");
    return format && (*format == "HyperSpy" || *format == "hyperspy");
}

inline std::optional<std::string> hspy_text(hid_t loc, const std::string& group, const std::string& attr) {
    if (!h5_exists(loc, group)) return std::nullopt;
    H5ErrorGuard quiet;
    Handle g(H5Oopen(loc, group.c_str(), H5P_DEFAULT), H5Oclose);
    if (!g) return std::nullopt;
    auto v = h5_attr_string(g.get(), attr);
    if (v && *v == "_None_") return std::nullopt;  // HyperSpy's None
    return v;
}

inline std::optional<double> hspy_number(hid_t loc, const std::string& group, const std::string& attr) {
    if (!h5_exists(loc, group)) return std::nullopt;
    H5ErrorGuard quiet;
    Handle g(H5Oopen(loc, group.c_str(), H5P_DEFAULT), H5Oclose);
    if (!g) return std::nullopt;
    return h5_attr_number(g.get(), attr);
}

inline HspyLayout hspy_layout(const H5File& f) {
    const std::string& src = f.source;
    const hid_t file = f.file.get();
    if (!is_hspy_file(file)) throw parse_error(src, "/", "not a HyperSpy file (no file_format = 'HyperSpy' attribute)");
    HspyLayout L;
    L.source = src;
    const std::string version = h5_attr_string(file, "file_format_version")
                                    .value_or(h5_attr_number(file, "file_format_version")
                                                  ? std::to_string(*h5_attr_number(file, "file_format_version"))
                                                  : std::string("?"));
    if (version.empty() || version[0] < '2' || version[0] > '3')
        throw unsupported_error(src + ": HyperSpy file format version " + version + " (3.x is read)");
    Handle experiments = h5_open_group(file, "Experiments", src);
    std::string name;
    for (const auto& child : h5_children(experiments.get()))
        if (h5_object_type(experiments.get(), child) == H5O_TYPE_GROUP) {
            name = child;
            break;
        }
    if (name.empty()) throw parse_error(src, "/Experiments", "no signal group");
    L.group = "/Experiments/" + name;
    Handle g = h5_open_group(file, L.group, src);
    const std::string data_path = L.group + "/data";
    Handle data = h5_open_dataset(file, data_path, src);
    L.dtype = h5_numeric_dtype(data.get(), src, data_path);
    L.shape = h5_shape(data.get(), src, data_path);
    if (L.shape.empty()) throw unsupported_error(src + ": " + data_path + " is a scalar, not a spectrum");
    for (std::size_t i = 0; i < L.shape.size(); ++i) {
        const std::string ax = "axis-" + std::to_string(i), where = L.group + "/" + ax;
        if (!h5_exists(g.get(), ax) || h5_object_type(g.get(), ax) != H5O_TYPE_GROUP)
            throw parse_error(src, where, "missing axis group for dimension " + std::to_string(i) + " of the data");
        Handle a = h5_open_group(g.get(), ax, src);
        AxisInfo info;
        const bool coordinates = h5_exists(a.get(), "axis") && h5_object_type(a.get(), "axis") == H5O_TYPE_DATASET;
        auto size = h5_attr_number(a.get(), "size");
        if (!size && !coordinates) throw parse_error(src, where, "axis has no 'size' attribute");
        if (size && *size != double(L.shape[i]))
            throw parse_error(src, where,
                              "axis size " + format_double(*size) + " disagrees with the data's shape (dimension " +
                                  std::to_string(i) + " holds " + std::to_string(L.shape[i]) + ")");
        info.size = L.shape[i];
        const auto text = [&](const char* key) {
            auto v = h5_attr_string(a.get(), key);
            return v && *v != "_None_" ? *v : std::string();
        };
        info.name = text("name");
        info.units = text("units");
        info.navigate = h5_attr_number(a.get(), "navigate").value_or(i + 1 < L.shape.size() ? 1.0 : 0.0) != 0.0;
        info.offset = h5_attr_number(a.get(), "offset").value_or(0.0);
        info.scale = h5_attr_number(a.get(), "scale").value_or(1.0);
        if (!std::isfinite(info.offset) || !std::isfinite(info.scale))
            throw parse_error(src, where, "axis offset or scale is not finite");
        if (coordinates) {  // a non-uniform axis (HyperSpy's DataAxis writes no size)
            auto e = h5_read_vector(a.get(), "axis", src);
            if (e.size() != info.size)
                throw parse_error(src, where + "/axis", std::to_string(e.size()) + " coordinates for an axis of size " +
                                                            std::to_string(info.size));
            require_finite(e.data(), e.size(), src + ": " + where + "/axis");
            info.is_explicit = true;
            info.first = e.empty() ? 0.0 : e.front();
            info.last = e.empty() ? 0.0 : e.back();
            if (i + 1 == L.shape.size()) L.signal_energies = std::move(e);
        } else {
            info.first = info.offset;
            info.last = info.offset + info.scale * double(info.size ? info.size - 1 : 0);
        }
        L.axes.push_back(info);
    }
    for (std::size_t i = 0; i + 1 < L.axes.size(); ++i)
        if (!L.axes[i].navigate)
            throw unsupported_error(src + ": signal axis '" + L.axes[i].name + "' is not the last dimension (a signal of rank > 1, e.g. an image)");
    if (L.axes.back().navigate)
        throw unsupported_error(src + ": the last dimension is a navigation axis (no spectrum signal axis)");
    const AxisInfo& sig = L.axes.back();
    if (sig.size < 2 || (L.signal_energies.empty() && !(sig.scale > 0.0)))
        throw unsupported_error(src + ": signal axis '" + sig.name + "' (" + std::to_string(sig.size) +
                                " channels, scale " + format_double(sig.scale) + ") cannot be an energy axis");

    grid::Metadata& md = L.metadata;
    md.source = src;
    const std::string m = L.group + "/metadata";
    md.title = hspy_text(file, m + "/General", "title").value_or("");
    if (md.title == "__unnamed__") md.title.clear();
    md.signal_type = hspy_text(file, m + "/Signal", "signal_type").value_or("");
    if (md.signal_type == "EELS") md.technique = grid::Technique::eels;
    if (md.signal_type == "XAS" || md.signal_type == "XAFS") md.technique = grid::Technique::xas;
    const std::string tem = m + "/Acquisition_instrument/TEM";
    md.beam_energy_kev = hspy_number(file, tem, "beam_energy");
    md.convergence_semiangle_mrad = hspy_number(file, tem, "convergence_angle");
    md.collection_semiangle_mrad = hspy_number(file, tem + "/Detector/EELS", "collection_angle");
    md.exposure_s = hspy_number(file, tem + "/Detector/EELS", "exposure");
    md.extra["hspy.file_format_version"] = version;
    if (auto p = h5_attr_string(g.get(), "package")) md.extra["hspy.package"] = *p;
    return L;
}

/// The size of HDF5's chunk cache that holds one row of chunks (so that a
/// row-block read decompresses each chunk once), capped at 256 MiB.
inline std::size_t hspy_chunk_cache_bytes(hid_t dataset, const std::vector<std::size_t>& shape, std::size_t item) {
    H5ErrorGuard quiet;
    Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
    if (!dcpl || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return 0;
    std::vector<hsize_t> c(shape.size());
    if (H5Pget_chunk(dcpl.get(), static_cast<int>(c.size()), c.data()) != static_cast<int>(c.size())) return 0;
    std::size_t bytes = item;
    for (std::size_t d = 0; d < c.size(); ++d) {
        bytes *= std::max<hsize_t>(c[d], 1);
        if (d > 0) bytes *= (shape[d] + std::max<hsize_t>(c[d], 1) - 1) / std::max<hsize_t>(c[d], 1);
        if (bytes > (std::size_t(256) << 20)) return std::size_t(256) << 20;
    }
    return bytes;
}

/// Rows per read of the eager one-pass read: a whole number of chunk rows
/// (so that no chunk is decompressed twice without a cache) of about 4 MiB,
/// which stays in cache for the NaN/Inf check that follows each read.
inline std::size_t hspy_eager_block_rows(hid_t dataset, std::size_t rows, std::size_t row_bytes) {
    std::size_t chunk_rows = 1;
    {
        H5ErrorGuard quiet;
        Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
        hsize_t c[32];
        if (dcpl && H5Pget_layout(dcpl.get()) == H5D_CHUNKED && H5Pget_chunk(dcpl.get(), 32, c) > 0)
            chunk_rows = std::max<std::size_t>(static_cast<std::size_t>(c[0]), 1);
    }
    const std::size_t want = std::max<std::size_t>((std::size_t(4) << 20) / std::max<std::size_t>(row_bytes, 1), 1);
    const std::size_t block = std::max<std::size_t>(want / chunk_rows, 1) * chunk_rows;
    return std::min(block, std::max<std::size_t>(rows, 1));
}

/// Opens the data with a chunk cache of `cache_bytes` (0: none).
inline Handle hspy_open_data(const H5File& f, const std::string& where, std::size_t cache_bytes) {
    (void)h5_open_dataset(f.file.get(), where, f.source);  // a clear error when it is missing
    H5ErrorGuard quiet;
    Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
    if (!dapl || H5Pset_chunk_cache(dapl.get(), cache_bytes ? 12421 : 521, cache_bytes, 1.0) < 0)
        h5_fail(f.source, where, "cannot set the chunk cache");
    return h5_check(H5Dopen2(f.file.get(), where.c_str(), dapl.get()), H5Dclose, f.source, where, "cannot open dataset");
}

template <class T>
grid::SpectrumImage<T> hspy_read(const H5File& f, FileInfo* info) {
    HspyLayout L = hspy_layout(f);
    const std::string where = L.group + "/data";
    // One pass over the whole dataset reads each chunk once: no chunk cache, so
    // that libhdf5 reads uncompressed chunks straight into the result instead of
    // through its cache (a second copy of every byte).
    Handle data = hspy_open_data(f, where, 0);
    std::vector<std::size_t> shape = L.shape;
    if (shape.size() == 1) shape.insert(shape.begin(), std::size_t{1});
    xt::xarray<T> values = xt::xarray<T>::from_shape(shape);
    detail::prepare_fresh_buffer(values.data(), values.size() * sizeof(T));
    if (values.size() > 0) {
        // Whole rows of chunks at a time, each checked for NaN/Inf while it is
        // still in cache (one pass over the result instead of two).
        const std::size_t rows = L.shape[0], row_size = values.size() / rows;
        const std::size_t block = hspy_eager_block_rows(data.get(), rows, row_size * sizeof(T));
        for (std::size_t r = 0; r < rows; r += block) {
            const std::size_t n = std::min(block, rows - r);
            h5_read_rows(data.get(), L.shape, r, n, values.data() + r * row_size, f.source, where);
            require_finite(values.data() + r * row_size, n * row_size, f.source, L.channels(), r * row_size);
        }
    }
    if (info) *info = L.file_info();
    return grid::SpectrumImage<T>(std::move(values), L.energy_axis(), L.metadata);
}

template <class T, class F>
void hspy_for_each_block(const H5File& f, std::size_t rows_per_block, F&& callback, FileInfo* info) {
    HspyLayout L = hspy_layout(f);
    const std::string where = L.group + "/data";
    Handle data = h5_open_dataset(f.file.get(), where, f.source);
    // Reopen with a chunk cache that fits one row of chunks.
    if (const std::size_t cache = hspy_chunk_cache_bytes(data.get(), L.shape, sizeof(T)))
        data = hspy_open_data(f, where, cache);
    if (info) *info = L.file_info();
    const grid::EnergyAxis axis = L.energy_axis();
    const std::size_t rows = L.shape.size() == 1 ? 1 : L.shape[0];
    const std::size_t row_size = L.shape.size() == 1 ? L.shape[0] : [&] {
        std::size_t n = 1;
        for (std::size_t d = 1; d < L.shape.size(); ++d) n *= L.shape[d];
        return n;
    }();
    rows_per_block = std::max<std::size_t>(1, std::min(rows_per_block, rows));
    std::vector<T> buffer(rows_per_block * row_size);
    for (std::size_t r = 0; r < rows; r += rows_per_block) {
        const std::size_t n = std::min(rows_per_block, rows - r);
        h5_read_rows(data.get(), L.shape, r, n, buffer.data(), f.source, where);
        const std::size_t pixel0 = r * row_size / L.channels();
        require_finite(buffer.data(), n * row_size, f.source, L.channels(), r * row_size);
        SpectrumBlock<T> b;
        b.first_row = r;
        b.rows = n;
        b.first_pixel = pixel0;
        b.pixels = n * row_size / L.channels();
        b.channels = L.channels();
        b.values = buffer.data();
        b.axis = &axis;
        b.metadata = &L.metadata;
        callback(static_cast<const SpectrumBlock<T>&>(b));
    }
}

}  // namespace detail

/// Reads a .hspy file (see the file comment) as navigation x energy;
/// a single spectrum becomes a one-pixel image. io_error when the path is
/// not a readable regular file, parse_error when malformed,
/// unsupported_error for signals that are not spectra.
template <class T = double>
grid::SpectrumImage<T> read_hspy(const std::filesystem::path& path, FileInfo* info = nullptr) {
    return detail::hspy_read<T>(detail::h5_open(path), info);
}

/// read_hspy from a file image in memory (the bytes of a .hspy file).
template <class T = double>
grid::SpectrumImage<T> parse_hspy(const void* bytes, std::size_t size, const std::string& source = "<memory>",
                                  FileInfo* info = nullptr) {
    return detail::hspy_read<T>(detail::h5_open_image(bytes, size, source), info);
}

/// Streams a .hspy spectrum image: calls `callback(const SpectrumBlock<T>&)`
/// for `rows_per_block` rows of the first array dimension at a time (a row
/// of a y x x x E map is x spectra), read by hyperslab; memory is one block
/// plus HDF5's chunk cache (one row of chunks, at most 256 MiB), whatever the
/// file's size. `info` is filled before the first call.
template <class T = double, class F>
void for_each_hspy_block(const std::filesystem::path& path, std::size_t rows_per_block, F&& callback,
                         FileInfo* info = nullptr) {
    detail::hspy_for_each_block<T>(detail::h5_open(path), rows_per_block, std::forward<F>(callback), info);
}

/// Writes `image` as a HyperSpy 3.1 file that HyperSpy 1.7 opens with the
/// same data, axes and metadata (title, signal type, beam energy,
/// convergence and collection angles, exposure). A one-pixel image is
/// written as a single spectrum. io_error when the file cannot be written.
template <class T>
void write_hspy(const std::filesystem::path& path, const grid::SpectrumImage<T>& image,
                const HspyWriteOptions& options = {}) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "write_hspy: float or double data");
    using namespace detail;
    const std::string target = path.string();
    if (options.gzip_level < 0 || options.gzip_level > 9)
        throw value_error("write_hspy: gzip_level must be 0..9, got " + std::to_string(options.gzip_level));
    const grid::Metadata& md = image.metadata();
    std::vector<std::size_t> shape = image.navigation_shape();
    if (image.pixel_count() == 1 && shape.size() == 1) shape.clear();
    const std::size_t channels = image.axis().size();
    shape.push_back(channels);
    if (!options.navigation.empty() && options.navigation.size() != shape.size() - 1)
        throw shape_error("write_hspy: navigation axes", {shape.size() - 1}, {options.navigation.size()});

    Handle file = h5_create(path);
    h5_write_attr(file.get(), "file_format", "HyperSpy", target);
    h5_write_attr(file.get(), "file_format_version", "3.1", target);
    std::string name = md.title.empty() ? "__unnamed__" : md.title;
    std::replace(name.begin(), name.end(), '/', '-');  // as HyperSpy names the group
    if (name == "." || name == "..") name = "__unnamed__";
    Handle g = h5_create_group(file.get(), "Experiments/" + name, target);

    // Data: chunks of whole spectra, about 1 MiB each (HyperSpy's target), along the last
    // navigation axis; chunked even uncompressed, as HyperSpy's lazy reader needs chunks.
    std::vector<std::size_t> chunk(shape.size(), 1);
    chunk.back() = channels;
    if (shape.size() > 1) {
        const std::size_t per = std::max<std::size_t>(1, (std::size_t(1) << 20) / (channels * sizeof(T)));
        chunk[shape.size() - 2] = std::min(per, shape[shape.size() - 2]);
    }
    h5_write_dataset(g.get(), "data", shape, image.data().data(), chunk, options.gzip_level, target);

    // Axes in array order.
    for (std::size_t i = 0; i < shape.size(); ++i) {
        Handle a = h5_create_group(g.get(), "axis-" + std::to_string(i), target);
        const bool signal = i + 1 == shape.size();
        if (signal) {
            const grid::EnergyAxis& e = image.axis();
            // Empty names and units are left out, as HyperSpy leaves out Undefined ones
            // (it reads "_None_" as None, which its axes refuse).
            if (!options.signal_axis_name.empty()) h5_write_attr(a.get(), "name", options.signal_axis_name, target);
            if (!e.units().empty()) h5_write_attr(a.get(), "units", e.units(), target);
            h5_write_attr_bool(a.get(), "navigate", false, target);
            h5_write_attr_bool(a.get(), "is_binned", md.signal_type == "EELS", target);
            h5_write_attr_number<std::int64_t>(a.get(), "size", static_cast<std::int64_t>(e.size()), target);
            if (e.is_uniform()) {
                const auto u = e.as_uniform();
                h5_write_attr(a.get(), "_type", "UniformDataAxis", target);
                h5_write_attr_number(a.get(), "scale", u.scale(), target);
                h5_write_attr_number(a.get(), "offset", u.offset(), target);
            } else {
                h5_write_attr(a.get(), "_type", "DataAxis", target);
                const std::vector<double> energies = e.energies();
                h5_write_dataset(a.get(), "axis", {energies.size()}, energies.data(), {}, 0, target);
            }
        } else {
            AxisInfo nav;
            if (!options.navigation.empty()) nav = options.navigation[i];
            else nav.name = shape.size() == 2 ? "x" : (i == shape.size() - 3 ? "y" : i == shape.size() - 2 ? "x" : "axis" + std::to_string(i));
            if (!nav.name.empty()) h5_write_attr(a.get(), "name", nav.name, target);
            if (!nav.units.empty()) h5_write_attr(a.get(), "units", nav.units, target);
            h5_write_attr_bool(a.get(), "navigate", true, target);
            h5_write_attr_bool(a.get(), "is_binned", false, target);
            h5_write_attr(a.get(), "_type", "UniformDataAxis", target);
            h5_write_attr_number<std::int64_t>(a.get(), "size", static_cast<std::int64_t>(shape[i]), target);
            h5_write_attr_number(a.get(), "scale", nav.scale, target);
            h5_write_attr_number(a.get(), "offset", nav.offset, target);
        }
    }

    // Metadata in HyperSpy's tree.
    Handle general = h5_create_group(g.get(), "metadata/General", target);
    h5_write_attr(general.get(), "title", md.title, target);
    Handle sig = h5_create_group(g.get(), "metadata/Signal", target);
    h5_write_attr(sig.get(), "signal_type", md.signal_type, target);
    if (md.beam_energy_kev || md.convergence_semiangle_mrad) {
        Handle tem = h5_create_group(g.get(), "metadata/Acquisition_instrument/TEM", target);
        if (md.beam_energy_kev) h5_write_attr_number(tem.get(), "beam_energy", *md.beam_energy_kev, target);
        if (md.convergence_semiangle_mrad)
            h5_write_attr_number(tem.get(), "convergence_angle", *md.convergence_semiangle_mrad, target);
    }
    if (md.collection_semiangle_mrad || md.exposure_s) {
        Handle eels = h5_create_group(g.get(), "metadata/Acquisition_instrument/TEM/Detector/EELS", target);
        if (md.collection_semiangle_mrad)
            h5_write_attr_number(eels.get(), "collection_angle", *md.collection_semiangle_mrad, target);
        if (md.exposure_s) h5_write_attr_number(eels.get(), "exposure", *md.exposure_s, target);
    }
    (void)h5_create_group(g.get(), "original_metadata", target);  // HyperSpy's reader requires it
    (void)h5_create_group(g.get(), "learning_results", target);
    if (H5Fflush(file.get(), H5F_SCOPE_LOCAL) < 0) h5_write_fail(target, "flush");
}

}  // namespace corespec::io
