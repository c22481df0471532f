// corespec/io/nexus.hpp - NeXus/HDF5 XAS scans (application definition
// NXxas), read as mu(E). Needs corespec::hdf5.
//
//   auto s = io::read_nxxas("scan.nxs");   // grid::Spectrum<double>: mu(E)
//
// Two layouts, by the entry's `definition`:
// - NXxas (the 2010s definition, applications/NXxas): an NXentry group
//   (attribute NX_class = "NXentry") whose field `definition` is "NXxas"; in
//   it an NXinstrument with `monochromator/energy` [nP], `incoming_beam/data`
//   (i0) and `absorbed_beam/data` (the sample signal), and an NXsample with
//   `name`. mu(E), as the XDI reader derives it: a field `mu` in the entry's
//   NXdata when present; else fluorescence `absorbed_beam / i0` when a `mode`
//   field (in the NXdata or the absorbed_beam detector) says "fluorescence",
//   else transmission `ln(i0 / absorbed_beam)`. Detectors named `i0` and
//   `itrans` (or `ifluor`) instead, as the XDI-based NXxas proposal names
//   them, are read the same way.
// - The newer NXxas family (NeXus contributed definitions NXxas, NXxas_trans,
//   NXxas_tfy; also the interim NXxas_new): the entry holds `energy`
//   [nEnergy] and the processed `intensity` [nEnergy] (or [1, nEnergy]), read
//   as mu; without `intensity` it is derived from the instrument's detectors
//   `i0/data` and `itrans/data` (NXxas_trans: ln(i0 / itrans)) or
//   `ifluor/data` (NXxas_tfy: ifluor / i0). Recognised by an entry-level
//   `energy` field. `element/symbol` and `edge/name` fill the metadata's
//   element and edge. A stack of nP > 1 spectra is unsupported_error.
// Groups are found by their NX_class attribute, fields by name.
// Metadata: the entry's `title`, `sample/name`, `instrument/source/name`
// and `instrument/name` (beamline) in extra["nexus.sample_name"],
// extra["nexus.source_name"], extra["nexus.beamline"]; the definition in
// extra["nexus.definition"], how mu was obtained in extra["nexus.mu"];
// technique XAS.
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

/// True for the definitions of the NXxas family that nxxas_read reads.
inline bool is_nxxas_definition(const std::string& d) {
    return d == "NXxas" || d == "NXxas_trans" || d == "NXxas_tfy" || d == "NXxas_new";
}

/// The first NXentry whose `definition` is one of the NXxas family ("" when none).
inline std::string nxxas_entry(hid_t file) {
    for (const auto& e : nx_groups(file, "/", "NXentry"))
        if (is_nxxas_definition(h5_string_field(file, e + "/definition").value_or(""))) return e;
    return {};
}

inline bool icontains_fluor(const std::optional<std::string>& s) {
    if (!s) return false;
    std::string l = *s;
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return l.find("fluor") != std::string::npos;
}

/// mu from i0 and a sample signal: `sample / i0` (fluorescence) or
/// `ln(i0 / sample)` (transmission); value_error where that is not finite.
inline std::vector<double> nx_mu(const std::vector<double>& i0, const std::vector<double>& sample, bool fluorescence,
                                 const std::string& src, const std::string& how) {
    std::vector<double> mu(i0.size());
    for (std::size_t i = 0; i < mu.size(); ++i) {
        mu[i] = fluorescence ? sample[i] / i0[i] : std::log(i0[i] / sample[i]);
        if (!std::isfinite(mu[i])) throw value_error(src + ": " + how + " is not finite at point " + std::to_string(i + 1));
    }
    return mu;
}

/// A finite 1-D numeric field (an [1, n] array counts as [n]; a stack of
/// several spectra is unsupported_error).
inline std::vector<double> nx_field(hid_t file, const std::string& path, const std::string& src) {
    if (h5_exists(file, path) && h5_object_type(file, path) == H5O_TYPE_DATASET) {
        Handle d = h5_open_dataset(file, path, src);
        const auto shape = h5_shape(d.get(), src, path);
        if (shape.size() == 2 && shape[0] != 1)
            throw unsupported_error(src + ": " + path + " is a stack of " + std::to_string(shape[0]) +
                                    " spectra (read_nxxas reads one spectrum)");
        if (shape.size() == 2) {
            (void)h5_numeric_dtype(d.get(), src, path);
            std::vector<double> v(shape[1]);
            if (!v.empty()) h5_read_rows(d.get(), shape, 0, 1, v.data(), src, path);
            require_finite(v.data(), v.size(), src + ": " + path);
            return v;
        }
    }
    auto v = h5_read_vector(file, path, src);
    require_finite(v.data(), v.size(), src + ": " + path);
    return v;
}

inline grid::Spectrum<double> nxxas_read(const H5File& f, FileInfo* info) {
    const std::string& src = f.source;
    const hid_t file = f.file.get();
    const std::string entry = nxxas_entry(file);
    if (entry.empty())
        throw parse_error(src, "/", "no NXentry with definition = NXxas (or NXxas_trans, NXxas_tfy, NXxas_new)");
    const std::string definition = h5_string_field(file, entry + "/definition").value_or("");
    const auto instruments = nx_groups(file, entry, "NXinstrument");
    const std::string inst = instruments.empty() ? std::string() : instruments.front();
    const auto field = [&](const std::string& path) { return nx_field(file, path, src); };
    const auto same_length = [&](const std::vector<double>& e, const std::vector<double>& a, const std::vector<double>& b,
                                 const std::string& names) {
        if (a.size() != e.size() || b.size() != e.size())
            throw parse_error(src, inst, "energy, " + names + " have " + std::to_string(e.size()) + ", " +
                                             std::to_string(a.size()) + " and " + std::to_string(b.size()) + " points");
    };
    // The newer family keeps energy (and the processed intensity) in the entry itself.
    const bool entry_level = h5_exists(file, entry + "/energy");
    const std::string energy_path = entry_level ? entry + "/energy" : inst + "/monochromator/energy";
    if (!entry_level && inst.empty()) throw parse_error(src, entry, "no NXinstrument group");
    const std::vector<double> energy = field(energy_path);
    // mu from the i0 and itrans / ifluor detectors of the instrument (<inst>/<name>/data).
    const auto from_detectors = [&](bool fluorescence, std::vector<double>& mu, std::string& how) {
        const std::string signal = fluorescence ? "ifluor" : "itrans";
        const std::vector<double> i0 = field(inst + "/i0/data");
        const std::vector<double> sample = field(inst + "/" + signal + "/data");
        same_length(energy, i0, sample, "i0 and " + signal);
        how = fluorescence ? "ifluor/i0" : "ln(i0/itrans)";
        mu = nx_mu(i0, sample, fluorescence, src, how);
    };
    const auto datas = nx_groups(file, entry, "NXdata");
    const std::string data = datas.empty() ? std::string() : datas.front();
    std::vector<double> mu;
    std::string how, mu_path;
    if (entry_level && h5_exists(file, entry + "/intensity")) {
        mu_path = entry + "/intensity";
        mu = field(mu_path);
        how = "intensity";
    } else if (entry_level) {
        if (inst.empty()) throw parse_error(src, entry, "no `intensity` field and no NXinstrument to derive it from");
        from_detectors(definition == "NXxas_tfy" || (definition != "NXxas_trans" && h5_exists(file, inst + "/ifluor")), mu, how);
    } else if (!data.empty() && h5_exists(file, data + "/mu")) {
        mu_path = data + "/mu";
        mu = field(mu_path);
        how = "mu";
    } else if (!h5_exists(file, inst + "/incoming_beam") && h5_exists(file, inst + "/i0")) {
        // The XDI-based NXxas proposal: i0 / itrans / ifluor detectors beside the monochromator.
        from_detectors(!h5_exists(file, inst + "/itrans") && h5_exists(file, inst + "/ifluor"), mu, how);
    } else {
        const std::vector<double> i0 = field(inst + "/incoming_beam/data");
        const std::vector<double> sample = field(inst + "/absorbed_beam/data");
        same_length(energy, i0, sample, "incoming_beam and absorbed_beam");
        const bool fluorescence = icontains_fluor(data.empty() ? std::nullopt : h5_string_field(file, data + "/mode")) ||
                                  icontains_fluor(h5_string_field(file, inst + "/absorbed_beam/mode"));
        how = fluorescence ? "absorbed_beam/i0" : "ln(i0/absorbed_beam)";
        mu = nx_mu(i0, sample, fluorescence, src, how);
    }
    if (mu.size() != energy.size())
        throw parse_error(src, mu_path, std::to_string(mu.size()) + " values for " + std::to_string(energy.size()) +
                                            " energies");
    for (std::size_t i = 1; i < energy.size(); ++i)
        if (!(energy[i] > energy[i - 1]))
            throw parse_error(src, energy_path, "energies are not increasing at point " + std::to_string(i + 1));
    grid::Metadata md;
    md.source = src;
    md.technique = grid::Technique::xas;
    md.signal_type = "XAS";
    md.signal_units = "mu";
    md.title = h5_string_field(file, entry + "/title").value_or("");
    md.element = h5_string_field(file, entry + "/element/symbol").value_or("");
    md.edge = h5_string_field(file, entry + "/edge/name").value_or("");
    md.extra["nexus.definition"] = definition;
    md.extra["nexus.mu"] = how;
    for (const auto& s : nx_groups(file, entry, "NXsample"))
        if (auto n = h5_string_field(file, s + "/name")) md.extra["nexus.sample_name"] = *n;
    if (!inst.empty()) {
        if (auto n = h5_string_field(file, inst + "/name")) md.extra["nexus.beamline"] = *n;
        for (const auto& s : nx_groups(file, inst, "NXsource"))
            if (auto n = h5_string_field(file, s + "/name")) md.extra["nexus.source_name"] = *n;
    }
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
