// corespec/io/columns.hpp - whitespace-separated column text (Athena / Larch
// exports, FEFF xmu.dat, FDMNES _conv.txt, VASP dielectric tables, ...).
//
// Lines starting with a comment character (# ! % ;) before the data form the
// header. The column labels come from the last header line whose field count
// equals the number of data columns (a leading "#" and decorations such as
// "---" are stripped); otherwise they are "col1", "col2", ... Data rows must
// all have the same number of numeric fields; anything else is a parse_error
// naming the line.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {

/// A table of numeric columns with labels and the header lines above it.
struct ColumnTable {
    std::vector<std::string> labels;
    std::vector<std::vector<double>> columns;
    std::vector<std::string> header;  ///< comment lines, comment character removed
    std::string source;

    std::size_t rows() const noexcept { return columns.empty() ? 0 : columns.front().size(); }

    /// The column at `index` (0-based).
    const std::vector<double>& column(std::size_t index) const {
        if (index >= columns.size())
            throw range_error(source + ": column index " + std::to_string(index) + " out of range (" +
                              std::to_string(columns.size()) + " columns)");
        return columns[index];
    }

    /// The column whose label is `label` (case-insensitive).
    const std::vector<double>& column(const std::string& label) const { return columns[index_of(label)]; }

    std::size_t index_of(const std::string& label) const {
        const auto lower = [](std::string s) {
            for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return s;
        };
        for (std::size_t i = 0; i < labels.size(); ++i)
            if (lower(labels[i]) == lower(label)) return i;
        std::string known;
        for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
        throw range_error(source + ": no column labelled '" + label + "' (columns: " + known + ")");
    }
};

namespace detail {

inline bool is_comment_char(char c) noexcept { return c == '#' || c == '!' || c == '%' || c == ';'; }

inline std::vector<std::string> label_fields(std::string_view line) {
    std::vector<std::string> out;
    for (auto f : split_fields(line, true)) {
        // Skip decorations: runs of '-', '=', '*', a lone '#', FEFF's trailing "@#".
        if (f.find_first_not_of("-=*#@") == std::string_view::npos) continue;
        out.emplace_back(f);
    }
    return out;
}

}  // namespace detail

/// Parses column text held in memory. `source` names it in errors.
inline ColumnTable parse_columns(std::string_view text, const std::string& source = "<memory>") {
    ColumnTable table;
    table.source = source;
    std::size_t ncols = 0;
    bool in_data = false;
    detail::for_each_line(text, [&](std::size_t line_number, std::string_view raw) {
        const std::string_view line = detail::trim(raw);
        if (line.empty()) return true;
        if (detail::is_comment_char(line.front())) {
            if (in_data) return true;  // a comment inside the data block: ignore
            table.header.emplace_back(detail::trim(line.substr(1)));
            return true;
        }
        const auto fields = detail::split_fields(line, true);
        std::vector<double> row;
        row.reserve(fields.size());
        for (auto f : fields) {
            auto v = detail::parse_double(f);
            if (!v) {
                if (!in_data && table.columns.empty()) {
                    // A non-numeric line before any data is a header line without a comment mark.
                    table.header.emplace_back(line);
                    return true;
                }
                throw parse_error(source, parse_error::at_line(line_number),
                                  "non-numeric field '" + std::string(f) + "' in the data block");
            }
            row.push_back(*v);
        }
        if (!in_data) {
            in_data = true;
            ncols = row.size();
            table.columns.assign(ncols, {});
        } else if (row.size() != ncols) {
            throw parse_error(source, parse_error::at_line(line_number),
                              "expected " + std::to_string(ncols) + " columns, found " + std::to_string(row.size()));
        }
        for (std::size_t c = 0; c < ncols; ++c) table.columns[c].push_back(row[c]);
        return true;
    });
    if (!in_data) throw parse_error(source, "end of file", "no numeric data rows found");
    for (auto it = table.header.rbegin(); it != table.header.rend(); ++it) {
        auto fields = detail::label_fields(*it);
        if (fields.size() == ncols) {
            table.labels = std::move(fields);
            break;
        }
    }
    if (table.labels.empty())
        for (std::size_t c = 0; c < ncols; ++c) table.labels.push_back("col" + std::to_string(c + 1));
    return table;
}

/// Reads column text from a file.
inline ColumnTable read_columns(const std::filesystem::path& path) {
    return parse_columns(detail::read_file(path), path.string());
}

/// A spectrum from two columns of a table: energies (strictly increasing,
/// finite) and values (finite). Columns are given by index.
template <class T = double>
grid::Spectrum<T> to_spectrum(const ColumnTable& table, std::size_t energy_column, std::size_t value_column) {
    const auto& e = table.column(energy_column);
    const auto& y = table.column(value_column);
    for (std::size_t i = 0; i < y.size(); ++i)
        if (!std::isfinite(y[i]))
            throw parse_error(table.source, "row " + std::to_string(i + 1),
                              "non-finite value in column '" + table.labels[value_column] + "'");
    grid::Metadata meta;
    meta.source = table.source;
    meta.extra["columns.energy"] = table.labels[energy_column];
    meta.extra["columns.value"] = table.labels[value_column];
    try {
        return grid::Spectrum<T>(grid::EnergyAxis::from_energies(e), std::vector<T>(y.begin(), y.end()),
                                 std::move(meta));
    } catch (const value_error& err) {
        throw parse_error(table.source, "column '" + table.labels[energy_column] + "'", err.what());
    }
}

/// The same, with columns given by label.
template <class T = double>
grid::Spectrum<T> to_spectrum(const ColumnTable& table, const std::string& energy_label,
                              const std::string& value_label) {
    return to_spectrum<T>(table, table.index_of(energy_label), table.index_of(value_label));
}

/// Which kind of column text a table looks like (from its header).
enum class ColumnFlavor { generic, feff_xmu, fdmnes_conv, vasp_dielectric, athena_export };

inline const char* to_string(ColumnFlavor f) noexcept {
    switch (f) {
        case ColumnFlavor::feff_xmu: return "FEFF xmu.dat";
        case ColumnFlavor::fdmnes_conv: return "FDMNES _conv.txt";
        case ColumnFlavor::vasp_dielectric: return "VASP CORE_DIELECTRIC_IMAG";
        case ColumnFlavor::athena_export: return "Athena/Larch export";
        default: return "columns";
    }
}

namespace detail {
inline bool label_is(const std::string& l, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        if (l.size() != std::char_traits<char>::length(n)) continue;
        bool same = true;
        for (std::size_t i = 0; i < l.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(l[i])) == std::tolower(static_cast<unsigned char>(n[i]));
        if (same) return true;
    }
    return false;
}
}  // namespace detail

/// Recognises the flavour of a parsed table from its header and labels:
/// FEFF (omega e k mu mu0 chi, "feff" in the header), FDMNES ("<xanes>" or
/// "E_edge" in the header), VASP CORE_DIELECTRIC_IMAG (two or more columns,
/// no header; recognised by name only, see flavor_from_name), Athena/Larch
/// exports ("Athena" / "Larch" / "xmu" / "norm" in the labels or header).
inline ColumnFlavor detect_flavor(const ColumnTable& t) {
    const auto has_label = [&](std::initializer_list<const char*> names) {
        for (const auto& l : t.labels)
            if (detail::label_is(l, names)) return true;
        return false;
    };
    const auto header_has = [&](std::string_view word) {
        for (const auto& h : t.header) {
            std::string lower(h);
            for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower.find(word) != std::string::npos) return true;
        }
        return false;
    };
    if (has_label({"omega"}) && has_label({"mu0"}) && has_label({"chi"})) return ColumnFlavor::feff_xmu;
    if (has_label({"<xanes>"}) || header_has("e_edge")) return ColumnFlavor::fdmnes_conv;
    if (header_has("athena") || header_has("larch") || has_label({"xmu", "norm", "flat", "mu", "mutrans", "i0"}))
        return ColumnFlavor::athena_export;
    return ColumnFlavor::generic;
}

/// The file-name hint for flavours a header cannot reveal (VASP writes none).
inline ColumnFlavor flavor_from_name(const std::string& path, const ColumnTable& t) {
    const std::string name = std::filesystem::path(path).filename().string();
    if (name.find("CORE_DIELECTRIC_IMAG") != std::string::npos && t.columns.size() >= 2)
        return ColumnFlavor::vasp_dielectric;
    if (name.find("_conv") != std::string::npos && name.size() > 4 && name.substr(name.size() - 4) == ".txt")
        return ColumnFlavor::fdmnes_conv;
    return detect_flavor(t);
}

/// The column a spectrum is usually made of, per flavour: FEFF "mu" (column
/// 4, normalised by FEFF at xsedge+50), FDMNES the first intensity column,
/// Athena/Larch exports a mu-like label (mutrans, mu, xmu, norm, flat, in that
/// order of preference), otherwise column 2 (index 1). Throws parse_error
/// when the table has fewer than two columns (the file cannot be a spectrum).
inline std::size_t default_value_column(const ColumnTable& t, ColumnFlavor flavor) {
    if (t.columns.size() < 2)
        throw parse_error(t.source, "columns",
                          "a spectrum needs an energy and a value column, the file has " + std::to_string(t.columns.size()));
    if (flavor == ColumnFlavor::feff_xmu) return t.index_of("mu");
    for (const char* name : {"mutrans", "mufluor", "mu", "xmu", "xmu(trans)", "norm", "flat"})
        for (std::size_t i = 1; i < t.labels.size(); ++i)
            if (detail::label_is(t.labels[i], {name})) return i;
    return 1;
}

/// The energy column of a flavour: FEFF "omega" (absolute energy), else column 1.
inline std::size_t default_energy_column(const ColumnTable& t, ColumnFlavor flavor) {
    if (flavor == ColumnFlavor::feff_xmu) return t.index_of("omega");
    return 0;
}

/// A spectrum from column text of any flavour, with the columns chosen by
/// label (empty: the flavour's default). Metadata: technique XAS for the
/// XAS flavours, extra["columns.flavor"], and for FDMNES the numbers of its
/// "= E_edge, Z, ..." line as extra["fdmnes.E_edge"] etc.
template <class T = double>
grid::Spectrum<T> to_spectrum(const ColumnTable& table, ColumnFlavor flavor, const std::string& energy_label = {},
                              const std::string& value_label = {}) {
    const std::size_t e = energy_label.empty() ? default_energy_column(table, flavor) : table.index_of(energy_label);
    const std::size_t v = value_label.empty() ? default_value_column(table, flavor) : table.index_of(value_label);
    auto s = to_spectrum<T>(table, e, v);
    auto& md = s.metadata();
    md.extra["columns.flavor"] = to_string(flavor);
    if (flavor != ColumnFlavor::generic) {
        md.technique = grid::Technique::xas;
        md.signal_type = "XAS";
    }
    if (flavor == ColumnFlavor::fdmnes_conv) {
        // FDMNES: "<numbers> = E_edge, Z, n_edge, ..." names the numbers before '='.
        for (const auto& h : table.header) {
            const auto eq = h.find('=');
            if (eq == std::string::npos) continue;
            const auto values = detail::split_fields(std::string_view(h).substr(0, eq));
            const auto names = detail::split_fields(std::string_view(h).substr(eq + 1), true);
            for (std::size_t i = 0; i < values.size() && i < names.size(); ++i)
                md.extra["fdmnes." + std::string(names[i])] = std::string(values[i]);
        }
    }
    return s;
}

/// Reads column text of any flavour from a file (flavour from header and name).
template <class T = double>
grid::Spectrum<T> read_column_spectrum(const std::filesystem::path& path, const std::string& energy_label = {},
                                       const std::string& value_label = {}) {
    const auto table = read_columns(path);
    return to_spectrum<T>(table, flavor_from_name(path.string(), table), energy_label, value_label);
}

}  // namespace corespec::io
