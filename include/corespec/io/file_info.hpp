// corespec/io/file_info.hpp - what a reader found in a file besides the data:
// its format, the stored data type and every axis (navigation and signal),
// as `examples/spectrum_info` prints them. Every reader can fill one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace corespec::io {

/// hdf5: an HDF5 file whose layout is decided when it is opened (hspy, emd, nexus).
enum class Format { unknown, dm3, dm4, msa, xdi, columns, athena, npy, json, hdf5, hspy, emd, nexus };

inline const char* to_string(Format f) noexcept {
    switch (f) {
        case Format::dm3: return "DM3";
        case Format::dm4: return "DM4";
        case Format::msa: return "MSA";
        case Format::xdi: return "XDI";
        case Format::columns: return "columns";
        case Format::athena: return "Athena";
        case Format::npy: return "NPY";
        case Format::json: return "JSON";
        case Format::hdf5: return "HDF5";
        case Format::hspy: return "HSPY";
        case Format::emd: return "EMD";
        case Format::nexus: return "NeXus";
        default: return "unknown";
    }
}

/// One axis of the stored data. Uniform axes have offset/scale; explicit axes
/// (is_explicit) are summarised by their first and last values.
struct AxisInfo {
    std::string name;
    std::size_t size = 0;
    double offset = 0.0;
    double scale = 1.0;
    std::string units;
    bool navigate = false;
    bool is_explicit = false;
    double first = 0.0;
    double last = 0.0;
};

/// Format, stored dtype ("float32", "int16", "uint8", "float64", ...) and the
/// axes in storage order: navigation axes first (slowest), then signal axes.
struct FileInfo {
    Format format = Format::unknown;
    std::string dtype;
    std::vector<AxisInfo> axes;
};

}  // namespace corespec::io
