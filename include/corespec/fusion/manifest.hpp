// corespec/fusion/manifest.hpp - a Dataset from a manifest: one row per
// sample, a file per modality, the labels in columns.
//
//   fusion::ManifestOptions o;
//   o.modalities = {ni_k, o_k};   // column "Ni_K" holds the Ni K file of each sample, ...
//   o.targets = {{"frac_Ni"}, {"o_vacancy_present", fusion::TargetKind::binary}};
//   auto d = fusion::read_manifest("sim/feff_nmc/manifest.csv", o);
//
// CSV: a header line, then one line per sample; fields separated by commas,
// optionally double-quoted ("" inside quotes is a quote); blank lines and
// lines starting with '#' are skipped. JSON: an array of objects, or
// {"samples": [...]}, each object mapping column names to strings, numbers,
// booleans or null. Files are read with io::read_spectrum (any format it
// detects: FEFF xmu.dat, FDMNES, columns, XDI, MSA, DM, ...); relative paths
// are resolved against the manifest's folder; an empty cell means the
// modality is missing for that sample. The group column (default
// "group_id") is optional: without it every sample is its own group.
//
// Every problem is a parse_error whose source is the manifest and whose
// location names the row and the column: "line 7, column 'Ni_K'" (CSV) or
// "samples[5], column 'Ni_K'" (JSON); a missing or unreadable file, a bad
// label, an unknown column, a repeated sample id.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/fusion/dataset.hpp"
#include "corespec/fusion/modality.hpp"
#include "corespec/io/read.hpp"

namespace corespec::fusion {

/// The cells of a manifest, as text.
struct ManifestTable {
    std::string source;
    std::vector<std::string> columns;
    struct Row {
        std::string where;  ///< "line 7" or "samples[5]"
        std::vector<std::string> cells;  ///< one per column ("" for missing / null)
    };
    std::vector<Row> rows;

    /// Index of `column`; throws parse_error naming the known columns.
    std::size_t column(const std::string& name) const {
        for (std::size_t i = 0; i < columns.size(); ++i)
            if (columns[i] == name) return i;
        std::string known;
        for (const auto& c : columns) known += (known.empty() ? "" : ", ") + c;
        throw parse_error(source, "header", "unknown column '" + name + "' (columns: " + known + ")");
    }
    bool has_column(const std::string& name) const {
        for (const auto& c : columns)
            if (c == name) return true;
        return false;
    }
};

namespace detail {

inline std::string trim_copy(std::string_view s) {
    std::size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
}

// Splits CSV text into records (fields), each with the line it starts on.
// Quoted fields may hold commas, quotes ("") and line breaks.
inline std::vector<std::pair<std::size_t, std::vector<std::string>>> csv_records(std::string_view text,
                                                                                 const std::string& source) {
    std::vector<std::pair<std::size_t, std::vector<std::string>>> records;
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false, was_quoted = false, any = false;
    std::size_t line = 1, start = 1;
    const auto end_field = [&] {
        fields.push_back(was_quoted ? field : trim_copy(field));
        field.clear();
        was_quoted = false;
    };
    const auto end_record = [&] {
        end_field();
        const bool blank = fields.size() == 1 && fields[0].empty() && !any;
        const bool comment = !fields.empty() && !fields[0].empty() && fields[0][0] == '#';
        if (!blank && !comment) records.emplace_back(start, std::move(fields));
        fields.clear();
        any = false;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n') ++line;
                field += c;
            }
            continue;
        }
        if (c == '"') {
            if (!trim_copy(field).empty())
                throw parse_error(source, "line " + std::to_string(line), "a quote inside an unquoted field");
            field.clear();
            quoted = was_quoted = any = true;
        } else if (c == ',') {
            end_field();
            any = true;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            end_record();
            start = ++line;
        } else {
            if (was_quoted && !std::isspace(static_cast<unsigned char>(c)))
                throw parse_error(source, "line " + std::to_string(line), "text after a closing quote");
            if (!was_quoted) field += c;
            if (!std::isspace(static_cast<unsigned char>(c))) any = true;
        }
    }
    if (quoted) throw parse_error(source, "line " + std::to_string(start), "unterminated quoted field");
    if (any || !field.empty() || !fields.empty()) end_record();
    return records;
}

inline std::string json_cell(const nlohmann::json& v) {
    if (v.is_null()) return {};
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number()) return v.dump();
    throw value_error("holds an array or object, expected a string, number, boolean or null");
}

}  // namespace detail

/// Parses CSV manifest text. Throws parse_error for no header, an empty or
/// repeated column name, a row with another number of fields, bad quoting.
inline ManifestTable parse_manifest_csv(std::string_view text, const std::string& source = "<memory>") {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    auto records = detail::csv_records(text, source);
    if (records.empty()) throw parse_error(source, "line 1", "no header line");
    ManifestTable t;
    t.source = source;
    t.columns = std::move(records[0].second);
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
        if (t.columns[c].empty())
            throw parse_error(source, "line " + std::to_string(records[0].first), "column " + std::to_string(c + 1) + " has no name");
        for (std::size_t p = 0; p < c; ++p)
            if (t.columns[p] == t.columns[c])
                throw parse_error(source, "line " + std::to_string(records[0].first), "column '" + t.columns[c] + "' appears twice");
    }
    for (std::size_t r = 1; r < records.size(); ++r) {
        const std::string where = "line " + std::to_string(records[r].first);
        if (records[r].second.size() != t.columns.size())
            throw parse_error(source, where, std::to_string(records[r].second.size()) + " fields, the header has " +
                                                 std::to_string(t.columns.size()));
        t.rows.push_back({where, std::move(records[r].second)});
    }
    return t;
}

/// Parses JSON manifest text (an array of objects or {"samples": [...]}).
/// Columns are the union of the keys in order of first appearance; a key a
/// sample lacks reads as an empty cell.
inline ManifestTable parse_manifest_json(std::string_view text, const std::string& source = "<memory>") {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw parse_error(source, "json", e.what());
    }
    if (j.is_object()) {
        if (!j.contains("samples")) throw parse_error(source, "json", "an object manifest needs a \"samples\" array");
        j = j["samples"];
    }
    if (!j.is_array()) throw parse_error(source, "json", "expected an array of samples");
    ManifestTable t;
    t.source = source;
    for (std::size_t i = 0; i < j.size(); ++i) {
        const std::string where = "samples[" + std::to_string(i) + "]";
        if (!j[i].is_object()) throw parse_error(source, where, "a sample must be an object");
        for (const auto& [key, value] : j[i].items())
            if (!t.has_column(key)) t.columns.push_back(key);
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
        ManifestTable::Row row{"samples[" + std::to_string(i) + "]", std::vector<std::string>(t.columns.size())};
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            const auto it = j[i].find(t.columns[c]);
            if (it == j[i].end()) continue;
            try {
                row.cells[c] = detail::json_cell(*it);
            } catch (const value_error& e) {
                throw parse_error(source, row.where + ", column '" + t.columns[c] + "'", e.what());
            }
        }
        t.rows.push_back(std::move(row));
    }
    return t;
}

/// CSV or JSON, decided by the first non-blank character ('{' or '[': JSON).
inline ManifestTable parse_manifest(std::string_view text, const std::string& source = "<memory>") {
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        if (c == '{' || c == '[') return parse_manifest_json(text, source);
        break;
    }
    return parse_manifest_csv(text, source);
}

/// What to take from a manifest.
struct ManifestOptions {
    std::string id_column = "sample_id";
    std::string group_column = "group_id";  ///< optional column; absent -> each sample its own group
    /// The modalities; each one's name is the column holding its files. The
    /// reader sets each spectrum's element, edge and technique from it.
    std::vector<Modality> modalities;
    std::vector<Target> targets;  ///< columns read as targets
};

namespace detail {

inline double parse_target(const std::string& cell, TargetKind kind) {
    if (cell.empty()) throw value_error("missing value");
    if (kind == TargetKind::binary) {
        std::string l = cell;
        for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (l == "1" || l == "1.0" || l == "true") return 1.0;
        if (l == "0" || l == "0.0" || l == "false") return 0.0;
        throw value_error("bad label '" + cell + "' (a binary target takes 0, 1, true or false)");
    }
    char* end = nullptr;
    const double v = std::strtod(cell.c_str(), &end);
    if (end == cell.c_str() || *end != '\0' || !std::isfinite(v))
        throw value_error("bad label '" + cell + "' (a regression target takes a finite number)");
    return v;
}

}  // namespace detail

/// A Dataset from a parsed manifest whose relative paths lie under `folder`.
inline Dataset dataset_from_manifest(const ManifestTable& t, const std::filesystem::path& folder, const ManifestOptions& o) {
    const std::size_t id_col = t.column(o.id_column);
    const bool has_group = !o.group_column.empty() && t.has_column(o.group_column);
    const std::size_t group_col = has_group ? t.column(o.group_column) : 0;
    std::vector<std::size_t> modality_cols, target_cols;
    for (const Modality& m : o.modalities) modality_cols.push_back(t.column(m.name));
    for (const Target& target : o.targets) target_cols.push_back(t.column(target.name));
    if (o.modalities.empty()) throw parse_error(t.source, "options", "no modality columns chosen");
    Dataset d(o.targets);
    for (const auto& row : t.rows) {
        const auto at = [&](std::size_t c) { return row.where + ", column '" + t.columns[c] + "'"; };
        Sample s;
        s.id = row.cells[id_col];
        if (s.id.empty()) throw parse_error(t.source, at(id_col), "empty sample id");
        s.group = has_group ? row.cells[group_col] : s.id;
        if (s.group.empty()) throw parse_error(t.source, at(group_col), "empty group id");
        for (std::size_t k = 0; k < o.modalities.size(); ++k) {
            const std::string& cell = row.cells[modality_cols[k]];
            if (cell.empty()) continue;  // this modality is missing for the sample
            std::filesystem::path path(cell);
            if (path.is_relative()) path = folder / path;
            std::error_code ec;
            if (!std::filesystem::is_regular_file(path, ec))
                throw parse_error(t.source, at(modality_cols[k]), "file '" + path.string() + "' does not exist");
            try {
                auto spectrum = io::read_spectrum<double>(path);
                const Modality& m = o.modalities[k];
                spectrum.metadata().element = m.element;
                spectrum.metadata().edge = m.edge;
                spectrum.metadata().technique = m.technique;
                s.spectra.emplace(m.name, std::move(spectrum));
            } catch (const error& e) {
                throw parse_error(t.source, at(modality_cols[k]), "cannot read '" + path.string() + "': " + e.what());
            }
        }
        for (std::size_t k = 0; k < o.targets.size(); ++k) {
            try {
                s.targets.push_back(detail::parse_target(row.cells[target_cols[k]], o.targets[k].kind));
            } catch (const value_error& e) {
                throw parse_error(t.source, at(target_cols[k]), e.what());
            }
        }
        try {
            d.add(std::move(s));
        } catch (const value_error& e) {
            throw parse_error(t.source, at(id_col), e.what());
        }
    }
    return d;
}

/// Reads a manifest file (CSV or JSON) and the files it names.
inline Dataset read_manifest(const std::filesystem::path& path, const ManifestOptions& o) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("fusion::read_manifest: cannot open '" + path.string() + "'");
    std::ostringstream text;
    text << in.rdbuf();
    return dataset_from_manifest(parse_manifest(text.str(), path.string()), path.parent_path(), o);
}

}  // namespace corespec::fusion
