// corespec/core/error.hpp - the exception hierarchy of corespec.
//
// Every exception corespec throws derives from corespec::error, so a caller
// can catch one type. The derived types say what went wrong:
//   value_error   - an argument has an invalid value (NaN, bad axis, empty input)
//   range_error   - a request lies outside what the data covers
//   shape_error   - two shapes that must agree do not (both are reported)
//   parse_error   - a file or byte stream is malformed (source, location, reason)
//   io_error      - a file cannot be opened, read or written
//   unsupported_error - valid input that corespec does not handle (yet)
#pragma once

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace corespec {

/// Base of every exception thrown by corespec.
class error : public std::runtime_error {
public:
    explicit error(const std::string& message) : std::runtime_error(message) {}
};

/// An argument has an invalid value: non-finite numbers, a malformed axis,
/// an empty input, a parameter outside its domain.
class value_error : public error {
public:
    explicit value_error(const std::string& message) : error(message) {}
};

/// A requested energy, index or window lies outside the data.
class range_error : public error {
public:
    explicit range_error(const std::string& message) : error(message) {}
};

/// Two shapes that must agree do not; both are kept for the caller.
class shape_error : public error {
public:
    shape_error(const std::string& context, std::vector<std::size_t> expected,
                std::vector<std::size_t> actual)
        : error(context + ": expected shape " + format(expected) + ", got " + format(actual)),
          expected_(std::move(expected)), actual_(std::move(actual)) {}

    const std::vector<std::size_t>& expected() const noexcept { return expected_; }
    const std::vector<std::size_t>& actual() const noexcept { return actual_; }

    static std::string format(const std::vector<std::size_t>& shape) {
        std::ostringstream out;
        out << '(';
        for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
        out << ')';
        return out.str();
    }

private:
    std::vector<std::size_t> expected_;
    std::vector<std::size_t> actual_;
};

/// A file or byte stream is malformed. `source` names the file (or
/// "<memory>"), `location` the line or byte offset, `reason` what is wrong.
class parse_error : public error {
public:
    parse_error(std::string source, std::string location, std::string reason)
        : error(source + ": " + location + ": " + reason), source_(std::move(source)),
          location_(std::move(location)), reason_(std::move(reason)) {}

    const std::string& source() const noexcept { return source_; }
    const std::string& location() const noexcept { return location_; }
    const std::string& reason() const noexcept { return reason_; }

    static std::string at_line(std::size_t line) { return "line " + std::to_string(line); }
    static std::string at_offset(std::size_t offset) { return "offset " + std::to_string(offset); }

private:
    std::string source_;
    std::string location_;
    std::string reason_;
};

/// A file cannot be opened, read or written.
class io_error : public error {
public:
    explicit io_error(const std::string& message) : error(message) {}
};

/// Valid input that corespec does not support, e.g. a complex-valued image
/// where a spectrum is expected.
class unsupported_error : public error {
public:
    explicit unsupported_error(const std::string& message) : error(message) {}
};

}  // namespace corespec
