// corespec/io/json_spectra.hpp - spectra stored as JSON arrays.
//
// Two layouts are read:
//   * pymatgen XAS / Spectrum dictionaries (XAS.as_dict()): {"x": [...],
//     "y": [...], "absorbing_element": "Co", "edge": "K", "spectrum_type":
//     "XANES", ...} -> one Spectrum on the explicit axis x;
//   * tables of equal-length arrays keyed by sample (FeatureXAS
//     nmc_exp_xas.json): {"intensity": {"0": [...], "1": [...]}, ...} or
//     {"intensity": [[...], [...]]} -> a SpectrumImage (samples x points).
//     The energy grid is not stored in such files; the caller passes it, else
//     the axis is the point index (offset 0, scale 1, no units).
// Rejected (parse_error with the byte offset): invalid JSON, nesting deeper
// than 64, missing or non-numeric arrays, arrays of different lengths,
// non-finite numbers.
#pragma once

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {

namespace detail {

/// Rejects nesting deeper than `max_depth` before the JSON parser sees it
/// (a recursion bomb must not reach any recursive code).
inline void check_json_depth(std::string_view text, const std::string& source, std::size_t max_depth = 64) {
    std::size_t depth = 0;
    bool in_string = false, escape = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                throw parse_error(source, parse_error::at_offset(i), "JSON nested deeper than " + std::to_string(max_depth));
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
}

inline nlohmann::json parse_json_text(std::string_view text, const std::string& source) {
    check_json_depth(text, source);
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        throw parse_error(source, parse_error::at_offset(e.byte), std::string("invalid JSON: ") + e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
        throw parse_error(source, "(root)", std::string("invalid JSON: ") + e.what());
    }
}

inline std::vector<double> json_numbers(const nlohmann::json& a, const std::string& source, const std::string& what) {
    if (!a.is_array()) throw parse_error(source, what, "expected an array of numbers");
    std::vector<double> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_number()) throw parse_error(source, what + "[" + std::to_string(i) + "]", "not a number");
        const double v = a[i].get<double>();
        if (!std::isfinite(v)) throw parse_error(source, what + "[" + std::to_string(i) + "]", "not finite");
        out.push_back(v);
    }
    return out;
}

inline std::string json_string_or(const nlohmann::json& j, const char* key, std::string fallback = {}) {
    auto it = j.find(key);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : fallback;
}

}  // namespace detail

/// True when parsed JSON has the pymatgen x/y layout.
inline bool is_xy_json(const nlohmann::json& j) {
    return j.is_object() && j.contains("x") && j.contains("y") && j["x"].is_array() && j["y"].is_array();
}

/// A spectrum from pymatgen-style JSON text ({"x": [...], "y": [...]}).
template <class T = double>
grid::Spectrum<T> parse_json_spectrum(std::string_view text, const std::string& source = "<memory>",
                                      FileInfo* info = nullptr) {
    const auto j = detail::parse_json_text(text, source);
    if (!is_xy_json(j)) throw parse_error(source, "top level", "no \"x\" and \"y\" arrays (pymatgen XAS layout)");
    const auto x = detail::json_numbers(j["x"], source, "x");
    const auto y = detail::json_numbers(j["y"], source, "y");
    if (x.size() != y.size())
        throw parse_error(source, "y", "x has " + std::to_string(x.size()) + " values, y " + std::to_string(y.size()));
    grid::Metadata meta;
    meta.source = source;
    meta.element = detail::json_string_or(j, "absorbing_element");
    if (auto it = j.find("absorbing_element"); it != j.end() && it->is_object())  // a serialised pymatgen Element
        meta.element = detail::json_string_or(*it, "element");
    meta.edge = detail::json_string_or(j, "edge");
    const std::string type = detail::json_string_or(j, "spectrum_type");
    meta.signal_type = type.empty() ? "XAS" : type;
    meta.technique = grid::Technique::xas;
    if (!meta.element.empty()) meta.extra["json.absorbing_element"] = meta.element;
    for (const char* key : {"absorbing_element", "edge", "spectrum_type", "@module", "@class", "absorbing_index"})
        if (auto it = j.find(key); it != j.end() && (it->is_string() || it->is_number()))
            meta.extra[std::string("json.") + key] = it->is_string() ? it->get<std::string>() : it->dump();
    try {
        auto axis = grid::EnergyAxis::from_energies(x, "eV");
        detail::fill_spectrum_info(info, Format::json, "float64", axis, "Energy");
        return grid::Spectrum<T>(std::move(axis), std::vector<T>(y.begin(), y.end()), std::move(meta));
    } catch (const value_error& e) {
        throw parse_error(source, "x", e.what());
    }
}

/// A spectrum image from JSON: the x/y layout as one pixel, or the table
/// layout under `key` (empty: the first member holding a table of arrays) as
/// samples x points. `axis` gives the energy grid of table layouts.
template <class T = double>
grid::SpectrumImage<T> parse_json_spectrum_image(std::string_view text, const std::string& source = "<memory>",
                                                 FileInfo* info = nullptr, const std::string& key = {},
                                                 std::optional<grid::EnergyAxis> axis = std::nullopt) {
    const auto j = detail::parse_json_text(text, source);
    if (is_xy_json(j)) {
        auto s = parse_json_spectrum<T>(text, source, info);
        xt::xarray<T> data = xt::xarray<T>::from_shape({1, s.size()});
        std::copy(s.values().begin(), s.values().end(), data.begin());
        if (info) {
            AxisInfo nav;
            nav.name = "sample";
            nav.size = 1;
            nav.navigate = true;
            info->axes.insert(info->axes.begin(), nav);
        }
        return grid::SpectrumImage<T>(std::move(data), s.axis(), s.metadata());
    }
    if (!j.is_object()) throw parse_error(source, "top level", "expected a JSON object");
    const nlohmann::json* table = nullptr;
    std::string table_key;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!key.empty() && it.key() != key) continue;
        const auto& v = it.value();
        const bool rows_ok = (v.is_object() || v.is_array()) && !v.empty() &&
                             (v.is_object() ? v.begin()->is_array() : v[0].is_array());
        if (rows_ok) {
            table = &v;
            table_key = it.key();
            break;
        }
    }
    if (!table) throw parse_error(source, key.empty() ? "top level" : key, "no table of numeric arrays found");
    std::vector<std::vector<double>> rows;
    std::vector<std::string> names;
    for (auto it = table->begin(); it != table->end(); ++it) {
        const std::string name = table->is_object() ? it.key() : std::to_string(rows.size());
        rows.push_back(detail::json_numbers(it.value(), source, table_key + "." + name));
        names.push_back(name);
        if (rows.back().size() != rows.front().size())
            throw parse_error(source, table_key + "." + name,
                              "length " + std::to_string(rows.back().size()) + " differs from " +
                                  std::to_string(rows.front().size()));
    }
    const std::size_t n = rows.front().size();
    if (n < 2) throw parse_error(source, table_key, "arrays need at least 2 values");
    grid::EnergyAxis ax = axis ? *axis : grid::EnergyAxis::uniform(0.0, 1.0, n, "");
    if (ax.size() != n) throw shape_error(source + ": energy axis for '" + table_key + "'", {n}, {ax.size()});
    xt::xarray<T> data = xt::xarray<T>::from_shape({rows.size(), n});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t c = 0; c < n; ++c) data(r, c) = static_cast<T>(rows[r][c]);
    grid::Metadata meta;
    meta.source = source;
    meta.technique = grid::Technique::xas;
    meta.extra["json.table"] = table_key;
    if (info) {
        detail::fill_spectrum_info(info, Format::json, "float64", ax, axis ? "Energy" : "index");
        AxisInfo nav;
        nav.name = "sample";
        nav.size = rows.size();
        nav.navigate = true;
        info->axes.insert(info->axes.begin(), nav);
    }
    return grid::SpectrumImage<T>(std::move(data), std::move(ax), std::move(meta));
}

template <class T = double>
grid::Spectrum<T> read_json_spectrum(const std::filesystem::path& path, FileInfo* info = nullptr) {
    return parse_json_spectrum<T>(detail::read_file(path), path.string(), info);
}

template <class T = double>
grid::SpectrumImage<T> read_json_spectrum_image(const std::filesystem::path& path, FileInfo* info = nullptr,
                                                const std::string& key = {},
                                                std::optional<grid::EnergyAxis> axis = std::nullopt) {
    return parse_json_spectrum_image<T>(detail::read_file(path), path.string(), info, key, std::move(axis));
}

}  // namespace corespec::io
