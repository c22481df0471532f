// corespec/io/text.hpp - small text-parsing helpers shared by the text readers.
#pragma once

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
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

/// The OS's reason for the last failed call (errno), e.g. "No such file or directory".
inline std::string os_reason(int errno_value) {
    if (errno_value == 0) return "unknown reason";
    return std::generic_category().message(errno_value);
}

/// The size of `path` after checking that it is a regular file: io_error
/// naming the path and the reason otherwise (missing, no permission on a
/// folder on the way, a directory, a device such as /dev/zero, a FIFO or a
/// socket). Readers only take regular files, so that nothing reads forever
/// from a stream and every read is bounded by the size checked here.
inline std::uintmax_t regular_file_size(const std::filesystem::path& path) {
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (ec) throw io_error("cannot open '" + path.string() + "' for reading: " + ec.message());
    switch (st.type()) {
        case std::filesystem::file_type::regular: break;
        case std::filesystem::file_type::not_found:
            throw io_error("cannot open '" + path.string() + "' for reading: " + os_reason(ENOENT));
        case std::filesystem::file_type::directory:
            throw io_error("cannot open '" + path.string() + "' for reading: it is a directory, not a file");
        case std::filesystem::file_type::character:
        case std::filesystem::file_type::block:
            throw io_error("cannot open '" + path.string() + "' for reading: it is a device, not a regular file");
        case std::filesystem::file_type::fifo:
            throw io_error("cannot open '" + path.string() + "' for reading: it is a FIFO (pipe), not a regular file");
        case std::filesystem::file_type::socket:
            throw io_error("cannot open '" + path.string() + "' for reading: it is a socket, not a regular file");
        default: throw io_error("cannot open '" + path.string() + "' for reading: not a regular file");
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw io_error("cannot open '" + path.string() + "' for reading: " + ec.message());
    return size;
}

/// Opens a regular file for binary reading (see regular_file_size); the
/// io_error names the path and the OS's reason, e.g. "Permission denied".
inline std::ifstream open_for_reading(const std::filesystem::path& path) {
    (void)regular_file_size(path);
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open '" + path.string() + "' for reading: " + os_reason(errno));
    return in;
}

/// Reads a whole regular file into memory: at most the size it had when
/// opened (a file that grows while it is read is cut there). io_error when
/// it cannot be opened or read.
inline std::string read_file(const std::filesystem::path& path) {
    const std::uintmax_t size = regular_file_size(path);
    if (size > std::uintmax_t(std::numeric_limits<std::streamsize>::max()) || size > std::string().max_size())
        throw io_error("cannot read '" + path.string() + "': " + std::to_string(size) + " bytes do not fit in memory");
    std::ifstream in = open_for_reading(path);
    try {
        std::string bytes(static_cast<std::size_t>(size), '\0');
        in.read(bytes.data(), static_cast<std::streamsize>(size));
        if (in.bad()) throw io_error("error while reading '" + path.string() + "': " + os_reason(errno));
        bytes.resize(static_cast<std::size_t>(in.gcount()));  // the file shrank while being read
        return bytes;
    } catch (const std::ios_base::failure& e) {
        // Some standard libraries report read errors (e.g. EISDIR) by throwing.
        throw io_error("error while reading '" + path.string() + "': " + e.what());
    }
}

/// The first `n` bytes of a regular file (fewer when it is shorter).
inline std::string read_head(const std::filesystem::path& path, std::size_t n) {
    std::ifstream in = open_for_reading(path);
    std::string head(n, '\0');
    in.read(head.data(), static_cast<std::streamsize>(n));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return head;
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
