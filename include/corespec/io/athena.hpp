// corespec/io/athena.hpp - Athena project files (.prj).
//
// A project file is gzip-compressed Perl source written by Data::Dumper:
//   $old_group = 'bapw';                       one group starts
//   @args = ('bkg_e0','7122.9272','bkg_pre1',-150, ..., 'titles',[...]);
//   @x = ('6911.7671', ...);  @y = (...);      energy and mu (or chi ...)
//   @i0 = (...); @signal = (...); @stddev = (...);   other arrays, when present
//   $xdi = bless( {...}, 'Xray::XDI' );        XDI metadata (newer Demeter)
//   [record]   # create object ...             end of the group
//   @journal = (...); %plot_features = (...); 1;
// Only this data subset of Perl is accepted: quoted strings ('...' with
// backslash-backslash and backslash-quote escapes, "..." with backslash escapes), numbers, barewords, undef,
// ( ... ), [ ... ], { ... } with ',' or '=>' separators, and bless( x, 'C' ).
// Nothing is evaluated. Nesting is limited to 32 levels, the decompressed
// text to AthenaOptions::max_text_bytes (gzip bombs), every list to the text
// that holds it. Anything else is a parse_error naming the file, the line and
// the reason.
//
// gzip needs zlib (CORESPEC_HAVE_ZLIB, set by the CMake package when zlib is
// found); without it compressed projects raise unsupported_error, and
// uncompressed project text (which Athena also reads) still works.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifdef CORESPEC_HAVE_ZLIB
#include <zlib.h>
#endif

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io {

/// A value of the Data::Dumper subset: undef, a scalar (kept as text), a list
/// (Perl list or array reference) or a hash (ordered key/value pairs).
struct PerlValue {
    enum class Kind { undef, scalar, list, hash };
    Kind kind = Kind::undef;
    std::string text;                                        ///< scalar text
    std::vector<PerlValue> items;                            ///< list items
    std::vector<std::pair<std::string, PerlValue>> entries;  ///< hash entries
    std::string blessed;                                     ///< class name of bless(...), if any

    bool is_scalar() const noexcept { return kind == Kind::scalar; }
    const PerlValue* find(std::string_view key) const {
        for (const auto& e : entries)
            if (e.first == key) return &e.second;
        return nullptr;
    }
};

/// One statement "sigil name = value;" of a Dumper file.
struct PerlAssignment {
    char sigil = '$';
    std::string name;
    PerlValue value;
    std::size_t line = 0;
};

/// One Athena group (a data set in the project).
struct AthenaGroup {
    std::string name;   ///< Athena's internal group name ($old_group), e.g. "bapw"
    std::string label;  ///< the name shown to the user (args 'label')
    std::map<std::string, std::string> args;  ///< every scalar entry of @args, as written
    std::vector<std::string> titles;           ///< args 'titles'
    std::map<std::string, std::vector<double>> arrays;  ///< "x", "y", "i0", "signal", "stddev", ...
    std::optional<PerlValue> xdi;             ///< the $xdi structure, when present

    const std::vector<double>& energy() const { return array("x"); }
    const std::vector<double>& mu() const { return array("y"); }
    const std::vector<double>& array(const std::string& name_) const {
        auto it = arrays.find(name_);
        if (it == arrays.end()) throw range_error("Athena group '" + label + "': no array '" + name_ + "'");
        return it->second;
    }
    /// A numeric parameter such as "bkg_e0", "bkg_step", "bkg_pre1", "bkg_nnorm";
    /// nullopt when absent or not a number.
    std::optional<double> number(const std::string& key) const {
        auto it = args.find(key);
        if (it == args.end()) return std::nullopt;
        auto v = detail::parse_double(it->second);
        if (!v || !std::isfinite(*v)) return std::nullopt;
        return v;
    }
    std::optional<double> e0() const { return number("bkg_e0"); }
    std::optional<double> step() const { return number("bkg_step"); }
    std::optional<double> eshift() const { return number("bkg_eshift"); }
    bool is_xmu() const { return number("is_xmu").value_or(1.0) != 0.0; }
};

/// A parsed Athena project.
struct AthenaProject {
    std::string header;  ///< first line, e.g. "# Athena project file -- Demeter version 0.9.20"
    std::vector<AthenaGroup> groups;
    std::string source;

    const AthenaGroup& group(const std::string& label_or_name) const {
        for (const auto& g : groups)
            if (g.label == label_or_name || g.name == label_or_name) return g;
        throw range_error(source + ": no group labelled '" + label_or_name + "'");
    }
};

struct AthenaOptions {
    std::size_t max_text_bytes = std::size_t(256) << 20;  ///< cap on the decompressed text
    std::size_t max_depth = 32;                           ///< nesting of [ ] { } ( )
};

namespace detail {

inline bool is_gzip(std::string_view bytes) noexcept {
    return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
           static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// Decompresses gzip (all members) into at most `max_bytes`.
inline std::string gunzip(std::string_view bytes, const std::string& source, std::size_t max_bytes) {
#ifdef CORESPEC_HAVE_ZLIB
    if (bytes.size() > 0xffffffffu) throw parse_error(source, "file", "gzip input larger than 4 GiB");
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) throw io_error(source + ": zlib initialisation failed");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    zs.avail_in = static_cast<uInt>(bytes.size());
    std::string out;
    char buf[1 << 15];
    const auto stop = [&](const std::string& where, const std::string& why) {
        inflateEnd(&zs);
        throw parse_error(source, where, why);
    };
    for (;;) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        const std::size_t have = sizeof buf - zs.avail_out;
        if (out.size() + have > max_bytes)
            stop("gzip stream", "decompressed text exceeds " + std::to_string(max_bytes) + " bytes");
        out.append(buf, have);
        const std::size_t at = bytes.size() - zs.avail_in;
        if (rc == Z_OK) continue;
        if (rc == Z_STREAM_END) {
            // Concatenated gzip members are one stream; zero padding may follow.
            std::size_t k = at;
            while (k < bytes.size() && bytes[k] == '\0') ++k;
            if (k >= bytes.size()) break;
            if (!is_gzip(bytes.substr(k))) stop(parse_error::at_offset(k), "gzip: trailing garbage after the stream");
            zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + k));
            zs.avail_in = static_cast<uInt>(bytes.size() - k);
            inflateReset(&zs);
            continue;
        }
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) stop(parse_error::at_offset(at), "gzip: truncated stream");
        stop(parse_error::at_offset(at), std::string("gzip: ") + (zs.msg ? zs.msg : "corrupt data"));
    }
    inflateEnd(&zs);
    return out;
#else
    (void)bytes;
    (void)max_bytes;
    throw unsupported_error(source + ": gzip-compressed Athena project, but corespec was built without zlib "
                                     "(define CORESPEC_HAVE_ZLIB and link zlib)");
#endif
}

/// Recursive-descent parser of the Dumper subset, bounded in depth.
class DumperParser {
public:
    DumperParser(std::string_view text, std::string source, std::size_t max_depth)
        : t_(text), source_(std::move(source)), max_depth_(max_depth) {}

    std::vector<PerlAssignment> statements() {
        std::vector<PerlAssignment> out;
        for (;;) {
            skip_space();
            if (i_ >= t_.size()) break;
            const char c = t_[i_];
            if (c == '$' || c == '@' || c == '%') {
                PerlAssignment a;
                a.line = line_;
                a.sigil = c;
                ++i_;
                a.name = identifier();
                skip_space();
                expect('=');
                a.value = value(0);
                skip_space();
                expect(';');
                out.push_back(std::move(a));
            } else if (c == '[') {
                // "[record]   # create object ..." marks the end of a group.
                PerlAssignment a;
                a.line = line_;
                a.sigil = '[';
                const std::size_t end = t_.find(']', i_);
                if (end == std::string_view::npos || t_.substr(i_, end - i_).find('\n') != std::string_view::npos)
                    fail("unterminated '[...]' marker");
                a.name = std::string(t_.substr(i_ + 1, end - i_ - 1));
                i_ = end + 1;
                out.push_back(std::move(a));
            } else if (is_digit(c)) {
                number_text();  // the closing "1;"
                skip_space();
                expect(';');
            } else {
                fail(std::string("unexpected character '") + printable(c) + "' at the start of a statement");
            }
        }
        return out;
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw parse_error(source_, parse_error::at_line(line_), why);
    }
    static std::string printable(char c) {
        if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(c));
            return b;
        }
        return std::string(1, c);
    }
    static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
    static bool is_ident(char c) noexcept {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    }
    void skip_space() {
        while (i_ < t_.size()) {
            const char c = t_[i_];
            if (c == '\n') {
                ++line_;
                ++i_;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
                ++i_;
            } else if (c == '#') {
                while (i_ < t_.size() && t_[i_] != '\n') ++i_;
            } else {
                break;
            }
        }
    }
    void expect(char c) {
        skip_space();
        if (i_ >= t_.size()) fail(std::string("expected '") + c + "', found the end of the text (truncated file?)");
        if (t_[i_] != c) fail(std::string("expected '") + c + "', found '" + printable(t_[i_]) + "'");
        ++i_;
    }
    std::string identifier() {
        const std::size_t start = i_;
        while (i_ < t_.size() && is_ident(t_[i_])) ++i_;
        if (i_ == start) fail("expected a variable name");
        return std::string(t_.substr(start, i_ - start));
    }
    std::string number_text() {
        const std::size_t start = i_;
        while (i_ < t_.size() && (is_digit(t_[i_]) || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E' ||
                                  t_[i_] == '-' || t_[i_] == '+' || t_[i_] == '_'))
            ++i_;
        return std::string(t_.substr(start, i_ - start));
    }
    std::string quoted() {
        const char q = t_[i_++];
        std::string out;
        while (true) {
            if (i_ >= t_.size()) fail("unterminated string (truncated file?)");
            const char c = t_[i_++];
            if (c == q) break;
            if (c == '\n') ++line_;
            if (c == '\\' && i_ < t_.size()) {
                const char n = t_[i_++];
                if (q == '\'') {
                    if (n != '\\' && n != '\'') out.push_back('\\');
                    out.push_back(n);
                } else {
                    switch (n) {
                        case 'n': out.push_back('\n'); break;
                        case 't': out.push_back('\t'); break;
                        case 'r': out.push_back('\r'); break;
                        default: out.push_back(n); break;
                    }
                }
                continue;
            }
            out.push_back(c);
        }
        return out;
    }
    PerlValue value(std::size_t depth) {
        if (depth > max_depth_) fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
        skip_space();
        if (i_ >= t_.size()) fail("expected a value, found the end of the text (truncated file?)");
        PerlValue v;
        const char c = t_[i_];
        if (c == '\'' || c == '"') {
            v.kind = PerlValue::Kind::scalar;
            v.text = quoted();
        } else if (c == '(' || c == '[' || c == '{') {
            const char close = c == '(' ? ')' : c == '[' ? ']' : '}';
            ++i_;
            std::vector<PerlValue> items;
            bool fat_comma_seen = false;
            std::vector<bool> after_fat;
            for (;;) {
                skip_space();
                if (i_ >= t_.size()) fail(std::string("missing '") + close + "' (truncated file?)");
                if (t_[i_] == close) {
                    ++i_;
                    break;
                }
                items.push_back(value(depth + 1));
                skip_space();
                if (i_ < t_.size() && t_[i_] == ',') {
                    ++i_;
                } else if (i_ + 1 < t_.size() && t_[i_] == '=' && t_[i_ + 1] == '>') {
                    i_ += 2;
                    fat_comma_seen = true;
                } else if (i_ < t_.size() && t_[i_] != close) {
                    fail(std::string("expected ',' or '") + close + "', found '" + printable(t_[i_]) + "'");
                }
            }
            if (c == '{' || (fat_comma_seen && c == '(' && items.size() % 2 == 0)) {
                if (items.size() % 2 != 0) fail("hash with an odd number of elements");
                v.kind = PerlValue::Kind::hash;
                for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
                    if (items[k].kind != PerlValue::Kind::scalar) fail("hash key is not a string");
                    v.entries.emplace_back(std::move(items[k].text), std::move(items[k + 1]));
                }
            } else {
                v.kind = PerlValue::Kind::list;
                v.items = std::move(items);
            }
        } else if (is_digit(c) || c == '-' || c == '+' || c == '.') {
            v.kind = PerlValue::Kind::scalar;
            v.text = number_text();
            if (v.text.empty()) fail("malformed number");
        } else if (is_ident(c)) {
            const std::string word = identifier();
            if (word == "undef") return v;
            if (word == "bless") {
                expect('(');
                v = value(depth + 1);
                expect(',');
                skip_space();
                if (i_ >= t_.size() || (t_[i_] != '\'' && t_[i_] != '"')) fail("bless: expected a class name");
                v.blessed = quoted();
                expect(')');
                return v;
            }
            v.kind = PerlValue::Kind::scalar;  // a bareword (hash key before =>)
            v.text = word;
        } else {
            fail(std::string("unexpected character '") + printable(c) + "' in a value");
        }
        return v;
    }

    std::string_view t_;
    std::string source_;
    std::size_t max_depth_;
    std::size_t i_ = 0;
    std::size_t line_ = 1;
};

inline std::vector<double> perl_numbers(const PerlValue& v, const std::string& source, const PerlAssignment& a) {
    if (v.kind != PerlValue::Kind::list)
        throw parse_error(source, parse_error::at_line(a.line), "@" + a.name + " is not a list");
    std::vector<double> out;
    out.reserve(v.items.size());
    for (std::size_t i = 0; i < v.items.size(); ++i) {
        const auto& it = v.items[i];
        std::optional<double> d;
        if (it.kind == PerlValue::Kind::scalar) d = parse_double(it.text);
        if (!d || !std::isfinite(*d))
            throw parse_error(source, parse_error::at_line(a.line),
                              "@" + a.name + "[" + std::to_string(i) + "] is not a finite number");
        out.push_back(*d);
    }
    return out;
}

}  // namespace detail

/// Parses the Data::Dumper text of a project (already decompressed).
inline AthenaProject parse_athena_text(std::string_view text, const std::string& source = "<memory>",
                                       const AthenaOptions& options = {}) {
    AthenaProject p;
    p.source = source;
    {
        const auto nl = text.find('\n');
        p.header = std::string(detail::trim(text.substr(0, nl == std::string_view::npos ? text.size() : nl)));
    }
    if (p.header.rfind("# Athena project file", 0) != 0)
        throw parse_error(source, parse_error::at_line(1), "not an Athena project (no '# Athena project file' line)");
    detail::DumperParser parser(text, source, options.max_depth);
    const auto statements = parser.statements();
    AthenaGroup* current = nullptr;
    for (const auto& a : statements) {
        if (a.sigil == '$' && a.name == "old_group") {
            if (!a.value.is_scalar()) throw parse_error(source, parse_error::at_line(a.line), "$old_group is not a string");
            p.groups.emplace_back();
            current = &p.groups.back();
            current->name = a.value.text;
            current->label = a.value.text;
            continue;
        }
        if (a.sigil == '[') {
            current = nullptr;
            continue;
        }
        if (!current) continue;  // project-level data (@journal, %plot_features, ...)
        if (a.sigil == '@' && a.name == "args") {
            if (a.value.kind != PerlValue::Kind::list && a.value.kind != PerlValue::Kind::hash)
                throw parse_error(source, parse_error::at_line(a.line), "@args is not a list");
            std::vector<std::pair<std::string, const PerlValue*>> kv;
            if (a.value.kind == PerlValue::Kind::hash) {
                for (const auto& e : a.value.entries) kv.emplace_back(e.first, &e.second);
            } else {
                if (a.value.items.size() % 2 != 0)
                    throw parse_error(source, parse_error::at_line(a.line), "@args has an odd number of elements");
                for (std::size_t k = 0; k + 1 < a.value.items.size(); k += 2) {
                    if (!a.value.items[k].is_scalar())
                        throw parse_error(source, parse_error::at_line(a.line), "@args key is not a string");
                    kv.emplace_back(a.value.items[k].text, &a.value.items[k + 1]);
                }
            }
            for (const auto& [key, val] : kv) {
                if (val->is_scalar()) current->args[key] = val->text;
                else if (val->kind == PerlValue::Kind::undef) current->args[key] = "";
                if (key == "titles" && val->kind == PerlValue::Kind::list)
                    for (const auto& t : val->items)
                        if (t.is_scalar()) current->titles.push_back(t.text);
            }
            if (auto it = current->args.find("label"); it != current->args.end()) current->label = it->second;
        } else if (a.sigil == '@') {
            current->arrays[a.name] = detail::perl_numbers(a.value, source, a);
        } else if (a.sigil == '$' && a.name == "xdi") {
            current->xdi = a.value;
        }
    }
    for (const auto& g : p.groups) {
        auto x = g.arrays.find("x");
        auto y = g.arrays.find("y");
        if (x != g.arrays.end() && y != g.arrays.end() && x->second.size() != y->second.size())
            throw parse_error(source, "group '" + g.label + "'",
                              "@x has " + std::to_string(x->second.size()) + " values, @y " +
                                  std::to_string(y->second.size()));
    }
    return p;
}

/// Parses project bytes (gzip-compressed or plain text).
inline AthenaProject parse_athena(std::string_view bytes, const std::string& source = "<memory>",
                                  const AthenaOptions& options = {}) {
    if (detail::is_gzip(bytes)) {
        const std::string text = detail::gunzip(bytes, source, options.max_text_bytes);
        return parse_athena_text(text, source, options);
    }
    if (bytes.size() > options.max_text_bytes)
        throw parse_error(source, "file", "project text exceeds " + std::to_string(options.max_text_bytes) + " bytes");
    return parse_athena_text(bytes, source, options);
}

/// Reads an Athena project file; io_error when unreadable, parse_error when
/// malformed, unsupported_error for gzip without zlib.
inline AthenaProject read_athena(const std::filesystem::path& path, const AthenaOptions& options = {}) {
    return parse_athena(detail::read_file(path), path.string(), options);
}

/// A group as a spectrum mu(E): energies x + bkg_eshift (Athena's energy
/// scale; `apply_eshift` = false keeps the stored x), values y. Metadata:
/// title = label, element = bkg_z, edge = fft_edge, technique XAS, every
/// scalar argument as extra["athena.<key>"].
template <class T = double>
grid::Spectrum<T> to_spectrum(const AthenaGroup& g, bool apply_eshift = true, const std::string& source = {},
                              FileInfo* info = nullptr) {
    std::vector<double> e = g.energy();
    const std::vector<double>& mu = g.mu();
    const double shift = apply_eshift ? g.eshift().value_or(0.0) : 0.0;
    for (double& v : e) v += shift;
    grid::Metadata meta;
    meta.source = source;
    meta.title = g.label;
    meta.technique = grid::Technique::xas;
    meta.signal_type = "XAS";
    meta.signal_units = "mu";
    if (auto it = g.args.find("bkg_z"); it != g.args.end()) meta.element = it->second;
    if (auto it = g.args.find("fft_edge"); it != g.args.end()) meta.edge = detail::upper(it->second);
    for (const auto& [k, v] : g.args) meta.extra["athena." + k] = v;
    meta.extra["athena.group"] = g.name;
    try {
        auto axis = grid::EnergyAxis::from_energies(std::move(e), "eV");
        detail::fill_spectrum_info(info, Format::athena, "float64", axis, "Energy");
        return grid::Spectrum<T>(std::move(axis), std::vector<T>(mu.begin(), mu.end()), std::move(meta));
    } catch (const value_error& err) {
        throw parse_error(source.empty() ? "<memory>" : source, "group '" + g.label + "'", err.what());
    }
}

}  // namespace corespec::io
