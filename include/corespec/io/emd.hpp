// corespec/io/emd.hpp - Berkeley EMD 0.2 (HDF5) spectra and spectrum images,
// read. Needs corespec::hdf5.
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
#include <filesystem>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

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
grid::SpectrumImage<T> emd_read(const H5File& f, FileInfo* info) {
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

}  // namespace detail

/// Reads a Berkeley EMD 0.2 spectrum or spectrum image (see the file
/// comment). io_error when the path is not a readable regular file,
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
