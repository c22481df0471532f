// corespec/io/nexus.hpp - NeXus/HDF5 XAS scans (application definition
// NXxas), read as mu(E). Needs corespec::hdf5.
//
//   auto s = io::read_nxxas("scan.nxs");   // grid::Spectrum<double>: mu(E)
//
// Layout (NXxas): an NXentry group (attribute NX_class = "NXentry") whose
// field `definition` is "NXxas"; in it an NXinstrument with
// `monochromator/energy` [nP], `incoming_beam/data` (i0) and
// `absorbed_beam/data` (the sample signal), and an NXsample with `name`.
// Groups are found by their NX_class attribute, fields by name.
// mu(E), as the XDI reader derives it: a field `mu` in the entry's NXdata
// when present; else fluorescence `absorbed_beam / i0` when a `mode` field
// (in the NXdata or the absorbed_beam detector) says "fluorescence", else
// transmission `ln(i0 / absorbed_beam)`.
// Metadata: the entry's `title`, `sample/name`, `instrument/source/name`
// and `instrument/name` (beamline) in extra["nexus.sample_name"],
// extra["nexus.source_name"], extra["nexus.beamline"]; technique XAS.
// Errors: parse_error (file, object, reason) for no NXxas entry, a missing
// field, arrays of different lengths, NaN/Inf; value_error when a ratio is
// not positive (as xdi_mu).
#pragma once

#include <cctype>
#include <cmath>
#include <cstring>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/hdf5.hpp"
#include "corespec/io/reader_support.hpp"

namespace corespec::io {

namespace detail {

/// A scalar string field (dataset), fixed or variable length; nullopt when absent.
inline std::optional<std::string> h5_string_field(hid_t loc, const std::string& name) {
    if (!h5_exists(loc, name) || h5_object_type(loc, name) != H5O_TYPE_DATASET) return std::nullopt;
    H5ErrorGuard quiet;
    Handle d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    if (!d || !type || !space || H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
    if (H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
    if (H5Tis_variable_str(type.get()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.get(), H5T_VARIABLE);
        char* value = nullptr;
        if (H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0 || !value) return std::nullopt;
        std::string out(value);
        H5free_memory(value);
        return out;
    }
    const std::size_t n = H5Tget_size(type.get());
    if (n == 0 || n > (1u << 20)) return std::nullopt;
    std::string out(n, '\0');
    if (H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) return std::nullopt;
    out.resize(std::strlen(out.c_str()));
    return out;
}

/// The children of group `path` whose NX_class attribute is `nx_class`.
inline std::vector<std::string> nx_groups(hid_t file, const std::string& path, const std::string& nx_class) {
    std::vector<std::string> out;
    Handle g = h5_open_group(file, path, "");
    for (const auto& child : h5_children(g.get())) {
        const std::string p = (path == "/" ? "/" : path + "/") + child;
        if (h5_object_type(file, p) != H5O_TYPE_GROUP) continue;
        H5ErrorGuard quiet;
        Handle c(H5Gopen2(file, p.c_str(), H5P_DEFAULT), H5Gclose);
        if (c && h5_attr_string(c.get(), "NX_class").value_or("") == nx_class) out.push_back(p);
    }
    return out;
}

/// The first NXentry whose `definition` is NXxas ("" when none).
inline std::string nxxas_entry(hid_t file) {
    for (const auto& e : nx_groups(file, "/", "NXentry"))
        if (h5_string_field(file, e + "/definition").value_or("") == "NXxas") return e;
    return {};
}

inline bool icontains_fluor(const std::optional<std::string>& s) {
    if (!s) return false;
    std::string l = *s;
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return l.find("fluor") != std::string::npos;
}

inline grid::Spectrum<double> nxxas_read(const H5File& f, FileInfo* info) {
    const std::string& src = f.source;
    const hid_t file = f.file.get();
    const std::string entry = nxxas_entry(file);
    if (entry.empty()) throw parse_error(src, "/", "no NXentry with definition = NXxas");
    const auto instruments = nx_groups(file, entry, "NXinstrument");
    if (instruments.empty()) throw parse_error(src, entry, "no NXinstrument group");
    const std::string inst = instruments.front();
    const auto field = [&](const std::string& path) {
        auto v = h5_read_vector(file, path, src);
        require_finite(v.data(), v.size(), src + ": " + path);
        return v;
    };
    const std::vector<double> energy = field(inst + "/monochromator/energy");
    const auto datas = nx_groups(file, entry, "NXdata");
    const std::string data = datas.empty() ? std::string() : datas.front();
    std::vector<double> mu;
    std::string how;
    if (!data.empty() && h5_exists(file, data + "/mu")) {
        mu = field(data + "/mu");
        how = "mu";
    } else {
        const std::vector<double> i0 = field(inst + "/incoming_beam/data");
        const std::vector<double> sample = field(inst + "/absorbed_beam/data");
        if (i0.size() != energy.size() || sample.size() != energy.size())
            throw parse_error(src, inst, "energy, incoming_beam and absorbed_beam have " + std::to_string(energy.size()) +
                                             ", " + std::to_string(i0.size()) + " and " + std::to_string(sample.size()) +
                                             " points");
        const bool fluorescence = icontains_fluor(data.empty() ? std::nullopt : h5_string_field(file, data + "/mode")) ||
                                  icontains_fluor(h5_string_field(file, inst + "/absorbed_beam/mode"));
        mu.resize(energy.size());
        for (std::size_t i = 0; i < mu.size(); ++i) {
            mu[i] = fluorescence ? sample[i] / i0[i] : std::log(i0[i] / sample[i]);
            if (!std::isfinite(mu[i]))
                throw value_error(src + ": " + std::string(fluorescence ? "absorbed_beam/i0" : "ln(i0/absorbed_beam)") +
                                  " is not finite at point " + std::to_string(i + 1));
        }
        how = fluorescence ? "absorbed_beam/i0" : "ln(i0/absorbed_beam)";
    }
    if (mu.size() != energy.size())
        throw parse_error(src, data + "/mu", std::to_string(mu.size()) + " values for " + std::to_string(energy.size()) +
                                                 " energies");
    for (std::size_t i = 1; i < energy.size(); ++i)
        if (!(energy[i] > energy[i - 1]))
            throw parse_error(src, inst + "/monochromator/energy", "energies are not increasing at point " +
                                                                     std::to_string(i + 1));
    grid::Metadata md;
    md.source = src;
    md.technique = grid::Technique::xas;
    md.signal_type = "XAS";
    md.signal_units = "mu";
    md.title = h5_string_field(file, entry + "/title").value_or("");
    md.extra["nexus.mu"] = how;
    for (const auto& s : nx_groups(file, entry, "NXsample"))
        if (auto n = h5_string_field(file, s + "/name")) md.extra["nexus.sample_name"] = *n;
    if (auto n = h5_string_field(file, inst + "/name")) md.extra["nexus.beamline"] = *n;
    for (const auto& s : nx_groups(file, inst, "NXsource"))
        if (auto n = h5_string_field(file, s + "/name")) md.extra["nexus.source_name"] = *n;
    grid::Spectrum<double> out(grid::EnergyAxis::from_energies(energy), std::move(mu), md);
    if (info) fill_spectrum_info(info, Format::nexus, "float64", out.axis(), "Energy");
    return out;
}

}  // namespace detail

/// Reads mu(E) from a NeXus NXxas file (see the file comment).
inline grid::Spectrum<double> read_nxxas(const std::filesystem::path& path, FileInfo* info = nullptr) {
    return detail::nxxas_read(detail::h5_open(path), info);
}

/// read_nxxas from a file image in memory.
inline grid::Spectrum<double> parse_nxxas(const void* bytes, std::size_t size, const std::string& source = "<memory>",
                                          FileInfo* info = nullptr) {
    return detail::nxxas_read(detail::h5_open_image(bytes, size, source), info);
}

}  // namespace corespec::io
