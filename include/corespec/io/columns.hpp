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
        // Skip decorations: runs of '-', '=', '*' or a lone '#'.
        if (f.find_first_not_of("-=*#") == std::string_view::npos) continue;
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

}  // namespace corespec::io
