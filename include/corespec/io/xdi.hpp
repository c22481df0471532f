// corespec/io/xdi.hpp - XAS Data Interchange (XDI 1.0), read and write.
//
// Layout of an XDI file:
//   # XDI/1.0 [extra versions, e.g. GSE/1.0]          version line (required)
//   # Family.key: value                                namespaced header fields
//   # Column.N: label [units]                          column labels
//   # ///                                              start of the user comments
//   # free text ...
//   #----                                              end of the header
//   # energy i0 itrans                                 label line (informative)
//   8779.0 149013.7 550643.1                           data rows
//
// Conformance follows the XDI project's bad-file suite (BadFiles.txt):
//   errors (parse_error naming source, line, reason): no version line; a header
//     line before "///" that is not "Family.key: value" (no ':', no '.', two
//     '.', empty value, family not starting with a letter or '_'); rows whose
//     column count changes; NaN, Inf, text or malformed numbers in the data;
//     a Column.N label above Column.128; more than 65536 header lines;
//   warnings (XdiFile::warnings, the file is read): Element.symbol /
//     Element.edge missing or invalid, no "#----" line, column labels missing,
//     too many (each label past the data is named with its line) or not
//     continuous ("colN" is used), header lines with another
//     comment character (ignored), angle column without Mono.d_spacing,
//     non-numeric or negative d-spacing, malformed Scan.start_time/end_time,
//     Sample.temperature, Facility.energy or Facility.current, extension
//     families without their version on the first line;
//   recommended fields (XdiFile::missing_recommended()): Facility.name,
//     Facility.xray_source, Beamline.name, Scan.start_time, Column.1 energy|angle.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/io/columns.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {

/// One "Family.key: value" header field, as written (case kept).
struct XdiField {
    std::string family;
    std::string key;
    std::string value;
    std::size_t line = 0;
};

/// A parsed XDI file.
struct XdiFile {
    std::string version;        ///< e.g. "1.0"
    std::string extra_version;  ///< the rest of the version line, e.g. "GSE/1.0" ('' when absent)
    std::vector<XdiField> fields;
    std::string comments;       ///< user comment block between "///" and "----" (lines joined by '\n')
    std::string label_line;     ///< the line after "----" (without '#'), informative only
    ColumnTable table;          ///< data columns; labels from Column.N (else "colN"), lower case kept as written
    std::vector<std::string> units;     ///< per column, '' when none
    std::vector<std::string> warnings;  ///< what a lenient reader accepted (see the file comment)

    /// The value of Family.key (case-insensitive), or nullopt.
    std::optional<std::string> get(std::string_view family, std::string_view key) const {
        for (const auto& f : fields)
            if (detail::iequals(f.family, family) && detail::iequals(f.key, key)) return f.value;
        return std::nullopt;
    }
    bool has_column(const std::string& label) const {
        for (const auto& l : table.labels)
            if (detail::iequals(l, label)) return true;
        return false;
    }
    const std::vector<double>& column(const std::string& label) const { return table.column(label); }

    /// The recommended fields (XDI dictionary) this file lacks, e.g. "Facility.name".
    std::vector<std::string> missing_recommended() const {
        std::vector<std::string> missing;
        for (const char* name : {"Facility.name", "Facility.xray_source", "Beamline.name", "Scan.start_time"}) {
            const std::string_view n(name);
            const auto dot = n.find('.');
            if (!get(n.substr(0, dot), n.substr(dot + 1))) missing.emplace_back(name);
        }
        const auto c1 = get("Column", "1");
        bool ok = false;
        if (c1) {
            const auto w = detail::split_fields(*c1);
            ok = !w.empty() && (detail::iequals(w[0], "energy") || detail::iequals(w[0], "angle"));
        }
        if (!ok) missing.emplace_back("Column.1 (energy or angle)");
        return missing;
    }
};

namespace detail {

inline bool is_valid_element(std::string_view s) {
    static const char* const elements[] = {
        "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
        "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
        "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
        "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
        "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
        "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
        "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
    for (const char* e : elements)
        if (iequals(s, e)) return true;
    return false;
}

inline bool is_valid_edge(std::string_view s) {
    static const char* const edges[] = {"K",  "L",  "L1", "L2", "L3", "M",  "M1", "M2", "M3", "M4", "M5",
                                        "N",  "N1", "N2", "N3", "N4", "N5", "N6", "N7", "O",  "O1", "O2",
                                        "O3", "O4", "O5", "O6", "O7", "P",  "P1", "P2", "P3"};
    for (const char* e : edges)
        if (iequals(s, e)) return true;
    return false;
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_word_char(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/// "digits[.digits] <blanks> <unit starting with one of `units`>" as the XDI
/// dictionary validates storage-ring energy, current and temperature.
inline bool number_then_unit(std::string_view v, std::initializer_list<std::string_view> units) {
    std::size_t i = 0;
    if (i >= v.size() || !is_digit(v[i])) return false;
    while (i < v.size() && is_digit(v[i])) ++i;
    if (i < v.size() && v[i] == '.') {
        ++i;
        while (i < v.size() && is_digit(v[i])) ++i;
    }
    const std::size_t blanks = i;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    if (i == blanks) return false;
    const std::string_view rest = v.substr(i);
    for (auto u : units)
        if (rest.size() >= u.size() && iequals(rest.substr(0, u.size()), u)) return true;
    return false;
}

/// YYYY-MM-DD[T ]HH:MM:SS with plausible ranges: 0 ok, 1 bad format, 2 bad range.
inline int check_timestamp(std::string_view v) {
    std::size_t i = 0;
    const auto digits = [&](std::size_t min, std::size_t max, int& out) {
        std::size_t n = 0;
        out = 0;
        while (i < v.size() && is_digit(v[i]) && n < max) {
            out = out * 10 + (v[i] - '0');
            ++i;
            ++n;
        }
        return n >= min;
    };
    const auto expect = [&](std::string_view chars) {
        if (i < v.size() && chars.find(v[i]) != std::string_view::npos) {
            ++i;
            return true;
        }
        return false;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!(digits(4, 4, y) && expect("-") && digits(1, 2, mo) && expect("-") && digits(1, 2, d) && expect("Tt ") &&
          digits(1, 2, h) && expect(":") && digits(2, 2, mi) && expect(":") && digits(2, 2, s)))
        return 1;
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return 2;
    return 0;
}

inline bool is_defined_family(std::string_view f) {
    for (const char* name : {"facility", "beamline", "mono", "detector", "sample", "scan", "element", "column"})
        if (iequals(f, name)) return true;
    return false;
}

inline bool icontains(std::string_view hay, std::string_view needle) {
    if (needle.empty()) return true;
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (iequals(hay.substr(i, needle.size()), needle)) return true;
    return false;
}

}  // namespace detail

/// At most this many header lines ('#' lines before the data); real XDI
/// headers hold tens to a few hundred.
inline constexpr std::size_t xdi_max_header_lines = 65536;
/// Column.N above this is an error naming its line (a label past the data
/// table but below it is ignored with a warning, as the XDI bad-file suite
/// reads bad_09 and bad_10).
inline constexpr std::size_t xdi_max_column_label = 128;

/// Parses XDI text held in memory (see the file comment for errors and warnings).
inline XdiFile parse_xdi(std::string_view text, const std::string& source = "<memory>") {
    XdiFile x;
    x.table.source = source;
    const auto fail = [&](std::size_t line, const std::string& why) {
        throw parse_error(source, parse_error::at_line(line), why);
    };
    enum class Mode { fields, comments, after_minus, data };
    Mode mode = Mode::fields;
    bool has_minus = false, first = true, ignored_warned = false, label_line_pending = false;
    std::size_t ncols = 0;
    struct ColumnField {
        std::string label, units;
        std::size_t line = 0;
    };
    std::map<std::size_t, ColumnField> column_fields;  // N -> label, units, line
    std::vector<std::string> comment_lines;
    std::size_t header_lines = 0;

    detail::for_each_line(text, [&](std::size_t n, std::string_view raw) {
        const std::string_view line = detail::trim(raw);
        if (first) {
            first = false;
            std::string_view v = line;
            if (v.empty() || v.front() != '#') fail(n, "not an XDI file: first line must be '# XDI/<version>'");
            v = detail::trim(v.substr(1));
            if (v.size() < 4 || !detail::iequals(v.substr(0, 4), "XDI/"))
                fail(n, "not an XDI file: no XDI version on the first line");
            v.remove_prefix(4);
            const auto words = detail::split_fields(v);
            if (words.empty()) fail(n, "not an XDI file: empty XDI version");
            x.version = std::string(words[0]);
            x.extra_version = std::string(detail::trim(v.substr(words[0].size())));
            return true;
        }
        if (line.empty()) return true;
        if (mode != Mode::data && line.front() == '#') {
            // Bounded header: memory stays proportional to a plausible header,
            // whatever the file holds (10^6 header lines stop here, quickly).
            if (++header_lines > xdi_max_header_lines)
                fail(n, "header longer than " + std::to_string(xdi_max_header_lines) + " lines (not an XDI header)");
            const std::string_view body = detail::trim(line.substr(1));
            if (mode == Mode::after_minus) {
                if (label_line_pending) {
                    x.label_line = std::string(body);
                    label_line_pending = false;
                }
                return true;
            }
            if (body.empty()) return true;
            if (body.rfind("///", 0) == 0) {
                mode = Mode::comments;
                return true;
            }
            if (body.rfind("---", 0) == 0) {
                mode = Mode::after_minus;
                has_minus = true;
                label_line_pending = true;
                return true;
            }
            if (mode == Mode::comments) {
                comment_lines.emplace_back(body);
                return true;
            }
            // A header field: Family.key: value
            const std::size_t colon = body.find(':');
            if (colon == std::string_view::npos)
                fail(n, "header line is not 'Family.key: value' (no ':'): '" + std::string(body.substr(0, 60)) + "'");
            const std::string_view name = detail::trim(body.substr(0, colon));
            const std::string_view value = detail::trim(body.substr(colon + 1));
            const std::size_t dot = name.find('.');
            if (dot == std::string_view::npos)
                fail(n, "header field '" + std::string(name.substr(0, 60)) + "' has no '.' (Family.key expected)");
            const std::string_view family = name.substr(0, dot), key = name.substr(dot + 1);
            if (key.find('.') != std::string_view::npos)
                fail(n, "header field '" + std::string(name.substr(0, 60)) + "' has more than one '.'");
            if (family.empty() || detail::is_digit(family.front()) ||
                !std::all_of(family.begin(), family.end(), detail::is_word_char))
                fail(n, "invalid family name '" + std::string(family.substr(0, 60)) + "' in header field");
            if (key.empty() || !std::all_of(key.begin(), key.end(), detail::is_word_char))
                fail(n, "invalid key name '" + std::string(key.substr(0, 60)) + "' in header field");
            if (value.empty()) fail(n, "header field '" + std::string(name) + "' has no value");
            x.fields.push_back({std::string(family), std::string(key), std::string(value), n});
            if (detail::iequals(family, "Column")) {
                std::size_t index = 0;
                const bool digits = std::all_of(key.begin(), key.end(), detail::is_digit);
                const bool too_big = std::from_chars(key.data(), key.data() + key.size(), index).ec != std::errc();
                if (digits && (too_big || index > xdi_max_column_label))
                    fail(n, "Column." + std::string(key.substr(0, 20)) +
                                " is past any data table (labels are read up to Column." +
                                std::to_string(xdi_max_column_label) + ")");
                if (!digits || index == 0) {
                    x.warnings.push_back("line " + std::to_string(n) + ": Column." + std::string(key) +
                                         " is not a column number; ignored");
                } else {
                    const auto w = detail::split_fields(value);
                    column_fields[index] = {std::string(w.at(0)),
                                            w.size() > 1 ? std::string(detail::trim(value.substr(
                                                               static_cast<std::size_t>(w[1].data() - value.data()))))
                                                         : std::string(),
                                            n};
                }
            }
            return true;
        }
        // A line that does not start with '#'.
        const auto fields = detail::split_fields(line);
        const bool numeric_start = !fields.empty() && detail::parse_double(fields[0]).has_value();
        if (mode != Mode::data && !numeric_start) {
            if (!ignored_warned)
                x.warnings.push_back("line " + std::to_string(n) +
                                     ": header line with an unsupported comment character ignored");
            ignored_warned = true;
            return true;
        }
        if (mode != Mode::data) {
            mode = Mode::data;
            ncols = fields.size();
            x.table.columns.assign(ncols, {});
        } else if (line.front() == '#') {
            return true;  // comment inside the data table
        }
        if (fields.size() != ncols)
            fail(n, "number of columns changes in the data table: expected " + std::to_string(ncols) + ", found " +
                        std::to_string(fields.size()));
        for (std::size_t c = 0; c < ncols; ++c) {
            const auto v = detail::parse_double(fields[c]);
            if (!v) fail(n, "non-numeric value '" + std::string(fields[c].substr(0, 40)) + "' in the data table");
            if (!std::isfinite(*v)) fail(n, "non-finite value '" + std::string(fields[c].substr(0, 40)) + "' in the data table");
            x.table.columns[c].push_back(*v);
        }
        return true;
    });
    if (first) throw parse_error(source, parse_error::at_line(1), "not an XDI file: empty");
    if (mode != Mode::data) throw parse_error(source, "end of file", "no data table found");

    for (std::size_t i = 0; i < comment_lines.size(); ++i) x.comments += (i ? "\n" : "") + comment_lines[i];
    x.table.header = comment_lines;

    // Column labels: Column.N for N = 1..ncols, "colN" for the rest.
    x.table.labels.resize(ncols);
    x.units.assign(ncols, "");
    bool missing = false;
    for (std::size_t c = 0; c < ncols; ++c) {
        auto it = column_fields.find(c + 1);
        if (it != column_fields.end()) {
            x.table.labels[c] = it->second.label;
            x.units[c] = it->second.units;
        } else {
            x.table.labels[c] = "col" + std::to_string(c + 1);
            missing = true;
        }
    }
    if (column_fields.empty()) x.warnings.push_back("no Column.N labels; columns named col1..col" + std::to_string(ncols));
    else if (missing) x.warnings.push_back("Column.N labels missing for some columns (not continuous or too few); 'colN' used");
    for (auto it = column_fields.upper_bound(ncols); it != column_fields.end(); ++it)
        x.warnings.push_back("line " + std::to_string(it->second.line) + ": Column." + std::to_string(it->first) +
                             " labels a column past the " + std::to_string(ncols) +
                             " of the data table (more Column.N labels than data columns); ignored");

    if (!has_minus) x.warnings.push_back("no line of minus signs '#----' separating header from data");

    // Required metadata and dictionary checks.
    const auto sym = x.get("Element", "symbol");
    if (!sym || !detail::is_valid_element(*sym)) x.warnings.push_back("Element.symbol missing or not valid");
    const auto edge = x.get("Element", "edge");
    if (!edge || !detail::is_valid_edge(*edge)) x.warnings.push_back("Element.edge missing or not valid");
    const auto dspacing = x.get("Mono", "d_spacing");
    std::optional<double> dval;
    if (dspacing) {
        dval = detail::parse_double(*dspacing);
        if (!dval || !std::isfinite(*dval)) x.warnings.push_back("Mono.d_spacing is not a number");
        else if (*dval < 0) x.warnings.push_back("Mono.d_spacing is negative");
    }
    if (!x.has_column("energy") && x.has_column("angle") && !(dval && *dval > 0))
        x.warnings.push_back("angle column given without a valid Mono.d_spacing");
    for (const auto& f : x.fields) {
        const std::string where = "line " + std::to_string(f.line) + ": ";
        if (detail::iequals(f.family, "Scan") && (detail::iequals(f.key, "start_time") || detail::iequals(f.key, "end_time"))) {
            const int t = detail::check_timestamp(f.value);
            if (t == 1) x.warnings.push_back(where + "Scan." + f.key + " is not an ISO 8601 timestamp (YYYY-MM-DD HH:MM:SS)");
            if (t == 2) x.warnings.push_back(where + "Scan." + f.key + " is out of the valid date range");
        } else if (detail::iequals(f.family, "Sample") && detail::iequals(f.key, "temperature")) {
            if (!detail::number_then_unit(f.value, {"C", "F", "K"}))
                x.warnings.push_back(where + "Sample.temperature not interpretable as a temperature");
        } else if (detail::iequals(f.family, "Facility") && detail::iequals(f.key, "energy")) {
            if (!detail::number_then_unit(f.value, {"GeV", "MeV"}))
                x.warnings.push_back(where + "Facility.energy not interpretable as a storage ring energy");
        } else if (detail::iequals(f.family, "Facility") && detail::iequals(f.key, "current")) {
            if (!detail::number_then_unit(f.value, {"mA", "A"}))
                x.warnings.push_back(where + "Facility.current not interpretable as a beam current");
        } else if (!detail::is_defined_family(f.family) && !detail::icontains(x.extra_version, f.family)) {
            x.warnings.push_back(where + "extension family '" + f.family +
                                 "' used without its version on the XDI line");
        }
    }
    return x;
}

/// Reads an XDI file; io_error when unreadable, parse_error when malformed.
inline XdiFile read_xdi(const std::filesystem::path& path) { return parse_xdi(detail::read_file(path), path.string()); }

/// How mu(E) is obtained from the columns of an XDI file.
enum class MuMode {
    automatic,     ///< a mu column (mutrans, mufluor, mu, xmu, norm) if present, else transmission, else fluorescence
    transmission,  ///< ln(i0 / itrans)
    fluorescence,  ///< ifluor / i0
};

namespace detail {
inline std::optional<std::size_t> find_column(const XdiFile& x, std::initializer_list<const char*> names) {
    for (const char* name : names)
        for (std::size_t i = 0; i < x.table.labels.size(); ++i)
            if (iequals(x.table.labels[i], name)) return i;
    return std::nullopt;
}
}  // namespace detail

/// mu(E) from the parsed columns: transmission ln(i0/itrans), fluorescence
/// ifluor/i0, or an existing mu column (automatic). `how` (optional) receives
/// a description such as "ln(i0/itrans)". Throws range_error when the needed
/// columns are missing, value_error when a ratio is not positive/finite.
inline std::vector<double> xdi_mu(const XdiFile& x, MuMode mode = MuMode::automatic, std::string* how = nullptr) {
    const auto i0 = detail::find_column(x, {"i0"});
    const auto it = detail::find_column(x, {"itrans", "it", "i1"});
    const auto ifl = detail::find_column(x, {"ifluor", "if", "ifl"});
    if (mode == MuMode::automatic) {
        if (const auto mu = detail::find_column(x, {"mutrans", "mufluor", "mu", "xmu", "norm"})) {
            if (how) *how = "column '" + x.table.labels[*mu] + "'";
            return x.table.columns[*mu];
        }
        if (i0 && it) mode = MuMode::transmission;
        else if (i0 && ifl) mode = MuMode::fluorescence;
        else
            throw range_error(x.table.source + ": no mu column and no i0 with itrans or ifluor to derive mu from");
    }
    if (!i0) throw range_error(x.table.source + ": no i0 column");
    const auto& a = x.table.columns[*i0];
    std::vector<double> mu(a.size());
    if (mode == MuMode::transmission) {
        if (!it) throw range_error(x.table.source + ": no itrans column for transmission mu");
        const auto& b = x.table.columns[*it];
        for (std::size_t i = 0; i < mu.size(); ++i) {
            mu[i] = std::log(a[i] / b[i]);
            if (!std::isfinite(mu[i]))
                throw value_error(x.table.source + ": ln(i0/itrans) is not finite at row " + std::to_string(i + 1));
        }
        if (how) *how = "ln(" + x.table.labels[*i0] + "/" + x.table.labels[*it] + ")";
    } else {
        if (!ifl) throw range_error(x.table.source + ": no ifluor column for fluorescence mu");
        const auto& b = x.table.columns[*ifl];
        for (std::size_t i = 0; i < mu.size(); ++i) {
            mu[i] = b[i] / a[i];
            if (!std::isfinite(mu[i]))
                throw value_error(x.table.source + ": ifluor/i0 is not finite at row " + std::to_string(i + 1));
        }
        if (how) *how = x.table.labels[*ifl] + "/" + x.table.labels[*i0];
    }
    return mu;
}

/// Multi-element fluorescence: sum_k(roi_k * dt_k) / i0 (dt_k = 1 when `dt`
/// is empty), e.g. roi = {"Fe_Ka_mca1", ...}, dt = {"DTFactor_mca1", ...}.
/// Throws range_error for missing columns, value_error for non-finite ratios.
inline std::vector<double> xdi_fluorescence_mu(const XdiFile& x, const std::vector<std::string>& roi,
                                               const std::vector<std::string>& dt = {},
                                               const std::string& i0 = "i0") {
    if (roi.empty()) throw value_error("xdi_fluorescence_mu: no ROI columns given");
    if (!dt.empty() && dt.size() != roi.size())
        throw value_error("xdi_fluorescence_mu: " + std::to_string(roi.size()) + " ROI columns but " +
                          std::to_string(dt.size()) + " dead-time columns");
    const auto& norm = x.table.column(i0);
    std::vector<double> mu(norm.size(), 0.0);
    for (std::size_t k = 0; k < roi.size(); ++k) {
        const auto& r = x.table.column(roi[k]);
        const std::vector<double>* d = dt.empty() ? nullptr : &x.table.column(dt[k]);
        for (std::size_t i = 0; i < mu.size(); ++i) mu[i] += r[i] * (d ? (*d)[i] : 1.0);
    }
    for (std::size_t i = 0; i < mu.size(); ++i) {
        mu[i] /= norm[i];
        if (!std::isfinite(mu[i]))
            throw value_error(x.table.source + ": fluorescence mu is not finite at row " + std::to_string(i + 1));
    }
    return mu;
}

/// A spectrum mu(E) on the energy column (label "energy", else the first
/// column). Metadata: element/edge from Element.* (or Scan.element/edge),
/// technique XAS, every field as extra["xdi.Family.key"].
template <class T = double>
grid::Spectrum<T> to_spectrum(const XdiFile& x, MuMode mode = MuMode::automatic, FileInfo* info = nullptr) {
    std::string how;
    std::vector<double> mu = xdi_mu(x, mode, &how);
    const std::size_t ecol = detail::find_column(x, {"energy"}).value_or(0);
    grid::Metadata meta;
    meta.source = x.table.source;
    meta.technique = grid::Technique::xas;
    meta.signal_type = "XAS";
    meta.signal_units = "mu";
    meta.element = x.get("Element", "symbol").value_or(x.get("Scan", "element").value_or(""));
    meta.edge = x.get("Element", "edge").value_or(x.get("Scan", "edge").value_or(""));
    meta.title = x.get("Sample", "name").value_or("");
    for (const auto& f : x.fields) meta.extra["xdi." + f.family + "." + f.key] = f.value;
    meta.extra["xdi.mu"] = how;
    if (!x.comments.empty()) meta.extra["xdi.comments"] = x.comments;
    std::string units = x.units.at(ecol).empty() ? "eV" : x.units[ecol];
    try {
        auto axis = grid::EnergyAxis::from_energies(x.table.columns.at(ecol), units);
        detail::fill_spectrum_info(info, Format::xdi, "float64", axis, "Energy");
        return grid::Spectrum<T>(std::move(axis), std::vector<T>(mu.begin(), mu.end()), std::move(meta));
    } catch (const value_error& e) {
        throw parse_error(x.table.source, "column '" + x.table.labels.at(ecol) + "'", e.what());
    }
}

/// The XDI text of a parsed (or assembled) file: version line, fields, user
/// comments, "#----", label line and the columns with 17 significant digits.
/// Column.N fields are regenerated from table.labels / units.
inline std::string format_xdi(const XdiFile& x) {
    std::string out = "# XDI/" + (x.version.empty() ? std::string("1.0") : x.version);
    if (!x.extra_version.empty()) out += " " + x.extra_version;
    out += "\n";
    const std::size_t ncols = x.table.columns.size();
    for (std::size_t c = 0; c < ncols; ++c) {
        out += "# Column." + std::to_string(c + 1) + ": " + x.table.labels.at(c);
        if (c < x.units.size() && !x.units[c].empty()) out += " " + x.units[c];
        out += "\n";
    }
    for (const auto& f : x.fields) {
        if (detail::iequals(f.family, "Column")) continue;
        out += "# " + f.family + "." + f.key + ": " + f.value + "\n";
    }
    out += "# ///\n";
    if (!x.comments.empty()) {
        std::size_t pos = 0;
        while (pos <= x.comments.size()) {
            std::size_t end = x.comments.find('\n', pos);
            if (end == std::string::npos) end = x.comments.size();
            out += "# " + x.comments.substr(pos, end - pos) + "\n";
            pos = end + 1;
        }
    }
    out += "#----\n#";
    for (std::size_t c = 0; c < ncols; ++c) out += " " + x.table.labels[c];
    out += "\n";
    const std::size_t rows = x.table.rows();
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < ncols; ++c) out += (c ? " " : "") + detail::format_double(x.table.columns[c].at(r));
        out += "\n";
    }
    return out;
}

/// Writes an XDI file; io_error when it cannot be written.
inline void write_xdi(const std::filesystem::path& path, const XdiFile& x) {
    const std::string text = format_xdi(x);
    std::ofstream out(path, std::ios::binary);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

}  // namespace corespec::io
