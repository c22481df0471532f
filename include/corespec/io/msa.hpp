// corespec/io/msa.hpp - EMSA/MSA spectral data files (ISO 22029), read and write.
//
// An MSA file is a block of "#KEYWORD : value" lines, "#SPECTRUM" and then the
// data: DATATYPE Y (NCOLUMNS values per line) or XY (one "x, y" pair per line),
// separated by commas and/or blanks, ended by "#ENDOFDATA" or the end of file.
//
// Reading keeps every keyword as metadata.extra["msa.KEYWORD"] (the keyword as
// written, with a unit suffix such as "AZIMANGLE-dg" kept). The energy axis is
// OFFSET + i * XPERCHAN (as HyperSpy reads it); for XY data whose X column
// does not follow OFFSET/XPERCHAN (or when XPERCHAN is absent) the X column
// becomes an explicit axis. The quantities HyperSpy maps are mapped the same
// way: TITLE -> title, SIGNALTYPE -> signal_type (ELS -> EELS, EDX/XEDS -> EDS;
// EELS when absent), BEAMKV -> beam_energy_kev (verbatim: DM writes volts into
// this kV field, and HyperSpy keeps the number as it is), CONVANGLE ->
// convergence_semiangle_mrad, COLLANGLE -> collection_semiangle_mrad,
// INTEGTIME (ms, per the standard) -> exposure_s in seconds. LIVETIME and
// REALTIME (EDS detector times in HyperSpy) stay in extra only.
//
// Rejected (parse_error with source and line): no #SPECTRUM line, non-numeric
// data or axis keywords, NaN/Inf values, XY lines without two fields, a data
// count different from NPOINTS * (NCOLUMNS for Y data is per line, not a
// multiplier), fewer than two points.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {


/// Parses MSA text held in memory. `source` names it in errors and metadata.
/// Throws parse_error (source, line, reason) on malformed input.
template <class T = double>
grid::Spectrum<T> parse_msa(std::string_view text, const std::string& source = "<memory>", FileInfo* info = nullptr) {
    std::vector<std::pair<std::string, std::string>> keywords;  // in file order
    std::vector<double> xs, ys;
    std::string datatype = "Y";
    bool in_data = false, saw_spectrum = false;
    std::size_t last_line = 0;
    const auto fail = [&](std::size_t line, const std::string& why) {
        throw parse_error(source, parse_error::at_line(line), why);
    };
    detail::for_each_line(text, [&](std::size_t n, std::string_view raw) {
        last_line = n;
        const std::string_view line = detail::trim(raw);
        if (line.empty()) return true;
        if (!in_data) {
            if (line.front() != '#') fail(n, "expected a '#KEYWORD : value' line before #SPECTRUM");
            std::string_view body = line.substr(1);
            const std::size_t colon = body.find(':');
            std::string key(detail::trim(colon == std::string_view::npos ? body : body.substr(0, colon)));
            std::string value(colon == std::string_view::npos ? std::string_view() : detail::trim(body.substr(colon + 1)));
            if (key.empty()) fail(n, "empty keyword");
            const std::string ukey = detail::upper(key);
            if (ukey == "SPECTRUM") {
                in_data = true;
                saw_spectrum = true;
                return true;
            }
            if (ukey == "DATATYPE") datatype = detail::upper(value);
            keywords.emplace_back(std::move(key), std::move(value));
            return true;
        }
        if (line.front() == '#') {
            if (detail::upper(detail::trim(line.substr(1))).rfind("ENDOFDATA", 0) == 0) return false;
            return true;  // other comment lines inside the data are ignored
        }
        const auto fields = detail::split_fields(line, true);
        std::vector<double> values;
        values.reserve(fields.size());
        for (auto f : fields) {
            auto v = detail::parse_double(f);
            if (!v) fail(n, "non-numeric data field '" + std::string(f.substr(0, 40)) + "'");
            if (!std::isfinite(*v)) fail(n, "non-finite data value '" + std::string(f.substr(0, 40)) + "'");
            values.push_back(*v);
        }
        if (datatype == "XY") {
            if (values.size() != 2) fail(n, "XY data needs 2 fields per line, found " + std::to_string(values.size()));
            xs.push_back(values[0]);
            ys.push_back(values[1]);
        } else {
            ys.insert(ys.end(), values.begin(), values.end());
        }
        return true;
    });
    if (!saw_spectrum) throw parse_error(source, "end of file", "no #SPECTRUM line: not an MSA file or truncated header");
    if (datatype != "Y" && datatype != "XY")
        throw parse_error(source, "header", "unsupported DATATYPE '" + datatype + "' (Y or XY expected)");

    grid::Metadata meta;
    meta.source = source;
    std::optional<double> offset, scale, npoints;
    std::string xunits, signal_type;
    bool has_signal_type = false;
    std::optional<double> integ_ms;
    for (const auto& keyword : keywords) {
        // Named references, not structured bindings: lambdas below capture them (C++17).
        const std::string& key = keyword.first;
        const std::string& value = keyword.second;
        meta.extra["msa." + key] = value;
        std::string base = detail::upper(key);
        std::string unit_suffix;
        if (const auto dash = base.find('-'); dash != std::string::npos) {
            unit_suffix = base.substr(dash + 1);
            base = std::string(detail::trim(base.substr(0, dash)));
        }
        const auto number = [&](bool required) -> std::optional<double> {
            auto v = detail::parse_double(value);
            if (!v) {
                // HyperSpy's fallback: a blank inside scientific notation ("2.0 E-06").
                std::string packed;
                for (char c : value)
                    if (c != ' ' && c != '\t') packed.push_back(c);
                v = detail::parse_double(packed);
            }
            if ((!v || !std::isfinite(*v)) && required)
                throw parse_error(source, "header", "keyword " + key + ": '" + value.substr(0, 40) + "' is not a finite number");
            if (v && !std::isfinite(*v)) return std::nullopt;
            return v;
        };
        if (base == "TITLE") meta.title = value;
        else if (base == "XPERCHAN") scale = number(true);
        else if (base == "OFFSET") offset = number(true);
        else if (base == "NPOINTS") npoints = number(true);
        else if (base == "XUNITS") xunits = value;
        else if (base == "YUNITS") meta.signal_units = value;
        else if (base == "SIGNALTYPE") { signal_type = value; has_signal_type = true; }
        else if (base == "BEAMKV") meta.beam_energy_kev = number(false);
        else if (base == "CONVANGLE") meta.convergence_semiangle_mrad = number(false);
        else if (base == "COLLANGLE") meta.collection_semiangle_mrad = number(false);
        else if (base == "INTEGTIME") {
            integ_ms = number(false);
            if (integ_ms && unit_suffix == "S") *integ_ms *= 1000.0;
        }
    }
    if (integ_ms) meta.exposure_s = *integ_ms / 1000.0;
    if (!has_signal_type || signal_type.empty()) signal_type = "EELS";
    const std::string ust = detail::upper(signal_type);
    if (ust == "ELS") signal_type = "EELS";
    else if (ust == "EDX" || ust == "XEDS") signal_type = "EDS";
    meta.signal_type = signal_type;
    const std::string ufinal = detail::upper(signal_type);
    if (ufinal == "EELS") meta.technique = grid::Technique::eels;
    else if (ufinal == "XAS" || ufinal == "XANES" || ufinal == "EXAFS") meta.technique = grid::Technique::xas;

    if (ys.size() < 2)
        throw parse_error(source, parse_error::at_line(last_line),
                          "MSA data has " + std::to_string(ys.size()) + " point(s); at least 2 are needed");
    if (npoints) {
        if (!(*npoints >= 0) || *npoints != std::floor(*npoints) || *npoints > 1e15 ||
            static_cast<std::size_t>(*npoints) != ys.size())
            throw parse_error(source, parse_error::at_line(last_line),
                              "NPOINTS says " + detail::format_double(*npoints) + " but " + std::to_string(ys.size()) +
                                  " values were read (truncated or corrupted file?)");
    }

    std::optional<grid::EnergyAxis> axis;
    try {
        if (datatype == "XY" && (!scale || !offset)) {
            axis = grid::EnergyAxis::from_energies(xs, xunits);
        } else {
            const double sc = scale.value_or(1.0);
            const double off = offset.value_or(0.0);
            bool consistent = true;
            if (datatype == "XY") {
                for (std::size_t i = 0; i < xs.size() && consistent; ++i)
                    consistent = std::abs(xs[i] - (off + sc * double(i))) <= 0.01 * std::abs(sc) + 1e-9 * std::abs(xs[i]);
            }
            axis = consistent ? grid::EnergyAxis::uniform(off, sc, ys.size(), xunits)
                              : grid::EnergyAxis::from_energies(xs, xunits);
        }
    } catch (const value_error& e) {
        throw parse_error(source, "header", std::string("invalid energy axis: ") + e.what());
    }
    detail::fill_spectrum_info(info, Format::msa, "float64", *axis);
    return grid::Spectrum<T>(std::move(*axis), std::vector<T>(ys.begin(), ys.end()), std::move(meta));
}

/// Reads an MSA file; io_error when it cannot be read, parse_error when malformed.
template <class T = double>
grid::Spectrum<T> read_msa(const std::filesystem::path& path, FileInfo* info = nullptr) {
    return parse_msa<T>(detail::read_file(path), path.string(), info);
}

/// Options of the MSA writer.
struct MsaWriteOptions {
    bool xy = false;  ///< DATATYPE XY (energy, value pairs) instead of Y; forced for explicit axes
};

/// The MSA text of a spectrum. Keywords found in metadata.extra["msa.*"] are
/// written back (except those the writer derives from the spectrum itself),
/// so a read-write round trip keeps every header keyword. Values are written
/// with 17 significant digits, so they read back exactly.
template <class T>
std::string format_msa(const grid::Spectrum<T>& s, const MsaWriteOptions& options = {}) {
    const auto& axis = s.axis();
    const bool xy = options.xy || !axis.is_uniform();
    const auto& md = s.metadata();
    std::string out;
    const auto kw = [&out](const std::string& key, const std::string& value) {
        std::string k = "#" + key;
        if (k.size() < 13) k.resize(13, ' ');
        out += k + ": " + value + "\n";
    };
    const double offset = axis.energy(0);
    const double scale = axis.is_uniform() ? axis.as_uniform().scale()
                                           : (axis.energy(axis.size() - 1) - axis.energy(0)) / double(axis.size() - 1);
    std::string signal_type = md.signal_type;
    if (detail::upper(signal_type) == "EELS") signal_type = "ELS";
    const auto extra = [&md](const std::string& key) -> std::string {
        auto it = md.extra.find("msa." + key);
        return it == md.extra.end() ? std::string() : it->second;
    };
    kw("FORMAT", "EMSA/MAS Spectral Data File");
    kw("VERSION", "1.0");
    kw("TITLE", md.title.substr(0, 64));
    kw("DATE", extra("DATE"));
    kw("TIME", extra("TIME"));
    kw("OWNER", extra("OWNER"));
    kw("NPOINTS", std::to_string(s.size()));
    kw("NCOLUMNS", "1");
    kw("XUNITS", axis.units());
    kw("YUNITS", md.signal_units);
    kw("DATATYPE", xy ? "XY" : "Y");
    kw("XPERCHAN", detail::format_double(scale));
    kw("OFFSET", detail::format_double(offset));
    if (!signal_type.empty()) kw("SIGNALTYPE", signal_type);
    if (md.beam_energy_kev) kw("BEAMKV", detail::format_double(*md.beam_energy_kev));
    if (md.convergence_semiangle_mrad) kw("CONVANGLE", detail::format_double(*md.convergence_semiangle_mrad));
    if (md.collection_semiangle_mrad) kw("COLLANGLE", detail::format_double(*md.collection_semiangle_mrad));
    if (md.exposure_s) kw("INTEGTIME", detail::format_double(*md.exposure_s * 1000.0));
    static const char* derived[] = {"FORMAT",   "VERSION", "TITLE",    "DATE",   "TIME",       "OWNER",
                                    "NPOINTS",  "NCOLUMNS", "XUNITS",  "YUNITS", "DATATYPE",   "XPERCHAN",
                                    "OFFSET",   "SIGNALTYPE", "BEAMKV", "CONVANGLE", "COLLANGLE", "INTEGTIME",
                                    "SPECTRUM", "ENDOFDATA"};
    for (const auto& [key, value] : md.extra) {
        if (key.rfind("msa.", 0) != 0) continue;
        std::string k = key.substr(4);
        std::string base = detail::upper(k);
        if (auto dash = base.find('-'); dash != std::string::npos) base = std::string(detail::trim(base.substr(0, dash)));
        if (std::find(std::begin(derived), std::end(derived), base) != std::end(derived)) continue;
        // Keep the header well formed whatever the caller stored.
        if (k.empty() || k.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
            continue;
        kw(k, value);
    }
    kw("SPECTRUM", "Spectral Data Starts Here");
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (xy) out += detail::format_double(axis.energy(i)) + ", ";
        out += detail::format_double(static_cast<double>(s[i])) + "\n";
    }
    out += "#ENDOFDATA   : \n";
    return out;
}

/// Writes a spectrum as an MSA file; io_error when the file cannot be written.
template <class T>
void write_msa(const std::filesystem::path& path, const grid::Spectrum<T>& s, const MsaWriteOptions& options = {}) {
    const std::string text = format_msa(s, options);
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

}  // namespace corespec::io
