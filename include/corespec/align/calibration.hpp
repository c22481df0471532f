// corespec/align/calibration.hpp - absolute energy calibration.
//
// Measured axes: known edge positions fix the axis. One edge fixes the
// offset; two or more fix offset and dispersion (least squares of the known
// energies against the channel positions of the measured ones), with the
// residual of every edge reported.
//
// Simulated spectra: one shift per (element, edge, code), found once on a
// reference compound and applied to every simulated spectrum of that edge,
// so chemical shifts between compounds survive (per-spectrum alignment would
// erase them). The table converts to and from JSON values, text and streams
// (files: corespec/io/edge_shift_table.hpp):
//   {"format": "corespec.edge_shifts", "version": 1,
//    "shifts": [{"element": "Ni", "edge": "L3", "code": "FDMNES",
//                "shift_eV": 1.25, "reference": "NiO"}, ...]}
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/align/shift.hpp"
#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/core/numeric/numeric.hpp"
#include "corespec/prep/edge_energy.hpp"

namespace corespec::align {

/// An edge seen at `measured` eV on the current axis whose true energy is `known` eV.
struct EdgePosition {
    std::string name;
    double measured = 0.0;
    double known = 0.0;
};

struct AxisCalibration {
    double offset = 0.0;  ///< calibrated energy of channel 0 (eV)
    double scale = 0.0;   ///< calibrated dispersion (eV / channel)
    std::vector<std::string> names;
    std::vector<double> residual;  ///< known - calibrated(measured), per edge (eV)
    double rms = 0.0;              ///< of the residuals
    bool dispersion_fitted = false;

    grid::UniformAxis axis(std::size_t size, std::string units = "eV") const {
        return grid::UniformAxis(offset, scale, size, std::move(units));
    }
    /// Calibrated energy of a position `e` read on the old axis.
    double calibrated(const grid::UniformAxis& old, double e) const {
        return offset + scale * old.fractional_index(e);
    }
};

/// Calibrates a uniform axis from known edges: one edge (or fit_dispersion =
/// false) moves the offset only (by the mean difference); two or more fit
/// offset and dispersion. Throws value_error for no edges, non-finite values,
/// coincident measured positions or a non-positive fitted dispersion.
inline AxisCalibration calibrate_axis(const grid::UniformAxis& axis, const std::vector<EdgePosition>& edges,
                                      bool fit_dispersion = true) {
    if (edges.empty()) throw value_error("calibrate_axis: no edge positions given");
    for (const auto& e : edges)
        if (!std::isfinite(e.measured) || !std::isfinite(e.known))
            throw value_error("calibrate_axis: non-finite position for edge '" + e.name + "'");
    AxisCalibration c;
    const std::size_t k = edges.size();
    std::vector<double> ch(k);
    for (std::size_t i = 0; i < k; ++i) {
        ch[i] = axis.fractional_index(edges[i].measured);
        c.names.push_back(edges[i].name);
    }
    if (k == 1 || !fit_dispersion) {
        double d = 0.0;
        for (const auto& e : edges) d += e.known - e.measured;
        c.offset = axis.offset() + d / static_cast<double>(k);
        c.scale = axis.scale();
    } else {
        double mc = 0, mk = 0;
        for (std::size_t i = 0; i < k; ++i) {
            mc += ch[i];
            mk += edges[i].known;
        }
        mc /= double(k);
        mk /= double(k);
        double sxx = 0, sxy = 0;
        for (std::size_t i = 0; i < k; ++i) {
            sxx += (ch[i] - mc) * (ch[i] - mc);
            sxy += (ch[i] - mc) * (edges[i].known - mk);
        }
        if (!(sxx > 0.0)) throw value_error("calibrate_axis: the measured edge positions coincide");
        c.scale = sxy / sxx;
        c.offset = mk - c.scale * mc;
        if (!(c.scale > 0.0)) throw value_error("calibrate_axis: fitted dispersion is not positive");
        c.dispersion_fitted = true;
    }
    double ss = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
        c.residual.push_back(edges[i].known - (c.offset + c.scale * ch[i]));
        ss += c.residual.back() * c.residual.back();
    }
    c.rms = std::sqrt(ss / static_cast<double>(k));
    return c;
}

/// find_edge_onset lives with find_e0 in corespec/prep/edge_energy.hpp.
using prep::find_edge_onset;

/// The axis moved by `shift` eV (uniform: offset; explicit: every energy).
inline grid::EnergyAxis shifted_axis(const grid::EnergyAxis& a, double shift) {
    if (!std::isfinite(shift)) throw value_error("shifted_axis: shift must be finite");
    if (a.is_uniform()) {
        const auto u = a.as_uniform();
        return grid::EnergyAxis::uniform(u.offset() + shift, u.scale(), u.size(), u.units());
    }
    auto e = a.energies();
    for (double& v : e) v += shift;
    return grid::EnergyAxis::from_energies(std::move(e), a.units());
}

/// Shift (eV) to add to a simulated spectrum's energies so that it matches a
/// measured spectrum of the same reference compound over [lo, hi] (measured
/// axis): a cross-correlation of the two dmu/dE (0.02 eV grid) gives the
/// start, least squares on dmu/dE with a free scale (energy_align) refines it,
/// so normalisation and constant offsets do not matter. Both spectra must
/// cover [lo, hi].
template <class T>
double determine_edge_shift(const grid::Spectrum<T>& simulated, const grid::Spectrum<T>& measured, double lo, double hi) {
    const auto ds = detail::larch_dmude(simulated.axis(), span<const T>(simulated.values()));
    const auto dm = detail::larch_dmude(measured.axis(), span<const T>(measured.values()));
    EnergyAlignOptions o;
    o.emin = 0.0;
    o.emax = hi - lo;
    o.initial_shift = xcorr_shift_resampled(simulated.axis(), span<const double>(ds), measured.axis(),
                                            span<const double>(dm), lo, hi, 0.02);
    return energy_align(simulated.axis(), span<const T>(simulated.values()), measured.axis(),
                        span<const T>(measured.values()), lo, o)
        .shift;
}

/// One calibration shift per (element, edge, code).
class EdgeShiftTable {
public:
    struct Entry {
        double shift_ev = 0.0;
        std::string reference;  ///< the compound it was determined on
    };

    /// Sets (or replaces) a shift. Throws value_error for a non-finite shift or empty names.
    void set(const std::string& element, const std::string& edge, const std::string& code, double shift_ev,
             std::string reference = {}) {
        if (!std::isfinite(shift_ev)) throw value_error("EdgeShiftTable: shift must be finite");
        if (element.empty() || edge.empty() || code.empty())
            throw value_error("EdgeShiftTable: element, edge and code must be non-empty");
        entries_[{element, edge, code}] = Entry{shift_ev, std::move(reference)};
    }

    std::optional<Entry> find(const std::string& element, const std::string& edge, const std::string& code) const {
        auto it = entries_.find({element, edge, code});
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }

    /// The shift; throws range_error when the table has none for the key.
    double at(const std::string& element, const std::string& edge, const std::string& code) const {
        auto e = find(element, edge, code);
        if (!e) throw range_error("EdgeShiftTable: no shift for " + element + " " + edge + " (" + code + ")");
        return e->shift_ev;
    }

    std::size_t size() const noexcept { return entries_.size(); }

    /// The spectrum on its axis moved by the table's shift for its metadata
    /// element/edge and `code`. Throws range_error when the key is missing.
    template <class T>
    grid::Spectrum<T> apply(const grid::Spectrum<T>& s, const std::string& code) const {
        const double shift = at(s.metadata().element, s.metadata().edge, code);
        return grid::Spectrum<T>(shifted_axis(s.axis(), shift), s.values(), s.metadata());
    }

    /// Applies the table to a whole simulated set in place (one code).
    template <class T>
    void apply_all(std::vector<grid::Spectrum<T>>& set, const std::string& code) const {
        for (auto& s : set) s = apply(s, code);
    }

    /// The table as a JSON value (the format above).
    nlohmann::json to_json_value() const {
        nlohmann::json j;
        j["format"] = "corespec.edge_shifts";
        j["version"] = 1;
        j["shifts"] = nlohmann::json::array();
        for (const auto& [k, e] : entries_)
            j["shifts"].push_back({{"element", std::get<0>(k)},
                                   {"edge", std::get<1>(k)},
                                   {"code", std::get<2>(k)},
                                   {"shift_eV", e.shift_ev},
                                   {"reference", e.reference}});
        return j;
    }

    /// The JSON text (indented).
    std::string to_json() const { return to_json_value().dump(2); }

    /// Writes the JSON text and a newline; throws io_error when the stream fails.
    void write(std::ostream& out) const {
        out << to_json() << '\n';
        if (!out) throw io_error("EdgeShiftTable: write failed");
    }

    /// From a JSON value; throws parse_error (source `source`) when malformed.
    static EdgeShiftTable from_json_value(const nlohmann::json& j, const std::string& source = "<memory>") {
        EdgeShiftTable t;
        try {
            if (!j.is_object() || j.value("format", std::string()) != "corespec.edge_shifts")
                throw parse_error(source, "format", "not a corespec.edge_shifts document");
            if (j.value("version", 0) != 1) throw parse_error(source, "version", "unsupported version");
            std::size_t i = 0;
            for (const auto& e : j.at("shifts")) {
                try {
                    t.set(e.at("element").get<std::string>(), e.at("edge").get<std::string>(),
                          e.at("code").get<std::string>(), e.at("shift_eV").get<double>(),
                          e.value("reference", std::string()));
                } catch (const value_error& ve) {
                    throw parse_error(source, "shifts[" + std::to_string(i) + "]", ve.what());
                }
                ++i;
            }
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(source, "json", e.what());
        }
        return t;
    }

    /// Parses the JSON text; throws parse_error (source `source`) when malformed.
    static EdgeShiftTable from_json(const std::string& text, const std::string& source = "<memory>") {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(source, "json", e.what());
        }
        return from_json_value(j, source);
    }

    /// Reads the JSON text from a stream (files are opened by the caller or
    /// by corespec/io/edge_shift_table.hpp: no file I/O in align/).
    static EdgeShiftTable read(std::istream& in, const std::string& source = "<stream>") {
        std::ostringstream s;
        s << in.rdbuf();
        if (in.bad()) throw io_error("EdgeShiftTable: cannot read " + source);
        return from_json(s.str(), source);
    }

private:
    std::map<std::tuple<std::string, std::string, std::string>, Entry> entries_;
};

}  // namespace corespec::align
