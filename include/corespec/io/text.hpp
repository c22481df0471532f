// corespec/io/text.hpp - small text-parsing helpers shared by the text readers.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::io::detail {

inline std::string_view trim(std::string_view s) noexcept {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// Splits on whitespace (and, when `comma` is set, on commas too).
inline std::vector<std::string_view> split_fields(std::string_view s, bool comma = false) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    const auto sep = [comma](char c) { return c == ' ' || c == '\t' || c == '\r' || (comma && c == ','); };
    while (i < s.size()) {
        while (i < s.size() && sep(s[i])) ++i;
        const std::size_t start = i;
        while (i < s.size() && !sep(s[i])) ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

/// Parses a whole field as a floating-point number (locale independent);
/// accepts Fortran 'D' exponents and a leading '+'. nullopt when it is not one.
inline std::optional<double> parse_double(std::string_view field) {
    field = trim(field);
    if (!field.empty() && field.front() == '+') field.remove_prefix(1);
    if (field.empty()) return std::nullopt;
    std::string buffer;
    if (field.find_first_of("dD") != std::string_view::npos) {
        buffer.assign(field);
        for (char& c : buffer)
            if (c == 'd' || c == 'D') c = 'e';
        field = buffer;
    }
    double value = 0.0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
    return value;
}

/// Reads a whole file into memory; io_error when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw io_error("'" + path.string() + "' is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open '" + path.string() + "' for reading");
    try {
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) throw io_error("error while reading '" + path.string() + "'");
        return text;
    } catch (const std::ios_base::failure& e) {
        // Some standard libraries report read errors (e.g. EISDIR) by throwing.
        throw io_error("error while reading '" + path.string() + "': " + e.what());
    }
}

/// Calls f(line_number, line) for each line (1-based, without the newline).
template <class F>
void for_each_line(std::string_view text, F&& f) {
    std::size_t line_number = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!f(++line_number, line)) return;
        pos = end + 1;
    }
}

}  // namespace corespec::io::detail
