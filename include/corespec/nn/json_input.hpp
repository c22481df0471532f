// corespec/nn/json_input.hpp - the two ways nn takes bytes from outside:
// reading a whole file (every failure names the path and the OS's reason)
// and parsing JSON with bounded size and nesting depth.
//
// nlohmann::json's parser recurses once per nesting level, so a file of a
// few megabytes of '[' overflows the stack inside json::parse. The depth is
// therefore checked on the raw text first (a linear scan that skips
// strings), and only a document within the limits reaches the parser.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"

namespace corespec::nn {

/// Limits on a JSON document nn accepts (model architectures, safetensors
/// headers). A real architecture nests about 8 levels and is a few KB.
struct JsonLimits {
    std::size_t max_depth = 64;                  ///< nested arrays / objects
    std::size_t max_bytes = std::size_t(1) << 26;  ///< 64 MiB of text
};

/// Parses `text` as JSON after checking it against `limits`. `source` and
/// `what` ("architecture", "header") name it in messages; `offset` is the
/// text's byte offset in its file (for the location). Throws parse_error.
inline nlohmann::json parse_bounded_json(std::string_view text, const std::string& source, const std::string& what,
                                         std::size_t offset = 0, const JsonLimits& limits = {}) {
    if (text.size() > limits.max_bytes)
        throw parse_error(source, parse_error::at_offset(offset),
                          what + " of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                              std::to_string(limits.max_bytes) + " bytes");
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;  // the escaped character cannot end the string
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limits.max_depth)
                throw parse_error(source, parse_error::at_offset(offset + i),
                                  what + " nests deeper than " + std::to_string(limits.max_depth) + " levels");
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;  // unbalanced text is the parser's to report
        }
    }
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        throw parse_error(source, parse_error::at_offset(offset + e.byte),
                          what + " is not valid JSON: " + e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
        throw parse_error(source, parse_error::at_offset(offset), what + " is not valid JSON: " + e.what());
    }
}

namespace detail {

/// The whole file at `path`. Throws io_error naming the path and the reason
/// ("No such file or directory", "Is a directory", "Permission denied", ...).
inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
    auto fail = [&](const char* doing, int err) {
        return io_error("cannot " + std::string(doing) + " '" + path + "': " + std::strerror(err));
    };
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw fail("open", errno ? errno : EIO);
    std::vector<unsigned char> bytes;
    unsigned char chunk[1 << 16];
    for (;;) {
        errno = 0;
        const std::size_t n = std::fread(chunk, 1, sizeof chunk, f);
        bytes.insert(bytes.end(), chunk, chunk + n);
        if (n < sizeof chunk) {
            const bool failed = std::ferror(f) != 0;
            const int err = errno ? errno : EIO;
            std::fclose(f);
            if (failed) throw fail("read", err);  // e.g. EISDIR for a directory
            return bytes;
        }
    }
}

}  // namespace detail

}  // namespace corespec::nn
