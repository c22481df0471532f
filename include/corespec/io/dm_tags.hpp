// corespec/io/dm_tags.hpp - the tag tree of Gatan DigitalMicrograph DM3/DM4 files.
//
// A DM file is a header (version, size, byte order) followed by one root tag
// group. A group holds named tags; each is either another group or a data tag
// whose type is described by an "info array" of type codes (a simple number,
// a string, an array, a struct, an array of structs, ...). DM3 writes sizes
// and type codes as 32-bit big-endian integers, DM4 as 64-bit ones and adds a
// 64-bit byte count to every tag. Tag payloads use the byte order of the header.
//
// parse_dm_tags() reads the whole tree. Small payloads are decoded (numbers
// into `values`, UTF-16 text into `text`); large arrays, such as the image
// data, are only located (offset, count, byte size), so parsing a large file
// costs little more than its tags. Every size the file declares is checked
// against the bytes actually present before anything is allocated, groups may
// nest at most `dm_max_depth` deep, and any inconsistency raises
// parse_error(source, "offset N", reason).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::io {

/// Type codes used in DM tag info arrays.
namespace dm_code {
constexpr std::uint64_t int16 = 2;
constexpr std::uint64_t int32 = 3;
constexpr std::uint64_t uint16 = 4;
constexpr std::uint64_t uint32 = 5;
constexpr std::uint64_t float32 = 6;
constexpr std::uint64_t float64 = 7;
constexpr std::uint64_t boolean = 8;
constexpr std::uint64_t int8 = 9;   ///< "char"
constexpr std::uint64_t uint8 = 10; ///< "octet"
constexpr std::uint64_t int64 = 11;
constexpr std::uint64_t uint64 = 12;
constexpr std::uint64_t structure = 15;
constexpr std::uint64_t string = 18;
constexpr std::uint64_t array = 20;
}  // namespace dm_code

/// Size in bytes of a simple (numeric) DM type code, 0 for anything else.
inline std::size_t dm_simple_size(std::uint64_t code) noexcept {
    switch (code) {
        case dm_code::boolean: case dm_code::int8: case dm_code::uint8: return 1;
        case dm_code::int16: case dm_code::uint16: return 2;
        case dm_code::int32: case dm_code::uint32: case dm_code::float32: return 4;
        case dm_code::float64: case dm_code::int64: case dm_code::uint64: return 8;
        default: return 0;
    }
}

/// Groups nested deeper than this are rejected (real files nest about 10 deep).
constexpr std::size_t dm_max_depth = 64;
/// Arrays with more elements than this are located but not decoded.
constexpr std::uint64_t dm_decode_limit = 65536;

/// One tag: a group of tags or a data tag.
struct DmTag {
    enum class Kind { group, scalar, string, array, structure, struct_array, string_array, array_array };

    /// The tag's name. Unnamed tags are named as HyperSpy names them: the
    /// n-th unnamed group of a group "TagGroup<n>", the n-th unnamed data tag
    /// "Data<n>" (n from 0), so ImageList entries are "TagGroup0", "TagGroup1", ...
    std::string name;
    Kind kind = Kind::group;
    std::vector<DmTag> tags;                  ///< children of a group, in file order
    std::uint64_t element_type = 0;           ///< code of a scalar, or of an array's elements
    std::vector<std::uint64_t> field_types;   ///< struct fields (structure, struct_array)
    std::uint64_t count = 0;                  ///< elements of an array (1 for scalars and structs)
    std::size_t offset = 0;                   ///< byte offset of the payload in the file
    std::size_t byte_size = 0;                ///< payload size in bytes
    std::vector<double> values;               ///< decoded numbers (scalar, struct fields, numeric arrays)
    std::string text;                         ///< decoded text (uint16 arrays as UTF-16, type-18 strings), UTF-8
    bool decoded = false;                     ///< false for arrays beyond dm_decode_limit and image data

    bool is_group() const noexcept { return kind == Kind::group; }

    /// Child by name: exact match first, then HyperSpy's loose match (spaces,
    /// underscores and punctuation ignored, e.g. "Exposure (s)" == "Exposure_s").
    const DmTag* child(std::string_view key) const noexcept {
        for (const auto& t : tags)
            if (t.name == key) return &t;
        const std::string k = slug(key);
        for (const auto& t : tags)
            if (slug(t.name) == k) return &t;
        return nullptr;
    }

    /// Descendant by path, one name per level; nullptr when absent.
    const DmTag* find(std::initializer_list<std::string_view> path) const noexcept {
        const DmTag* t = this;
        for (auto key : path) {
            if (!t->is_group()) return nullptr;
            t = t->child(key);
            if (!t) return nullptr;
        }
        return t;
    }

    /// The number of a scalar tag (or a one-element array), else nothing.
    std::optional<double> number() const noexcept {
        if ((kind == Kind::scalar || kind == Kind::array) && values.size() == 1) return values[0];
        return std::nullopt;
    }

    /// HyperSpy's key normalisation: drop characters other than letters,
    /// digits, '_', '-' and spaces, then turn runs of spaces/'-' into '_'.
    static std::string slug(std::string_view s) {
        std::string out;
        bool pending = false;
        for (unsigned char c : s) {
            const bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              c == '_' || c >= 0x80;
            if (c == ' ' || c == '-' || c == '\t') {
                pending = true;
            } else if (word) {
                if (pending && !out.empty()) out += '_';
                pending = false;
                out += static_cast<char>(c);
            }
        }
        return out;
    }
};

/// A parsed DM file: header fields and the root group.
struct DmFile {
    int version = 0;               ///< 3 or 4
    bool little_endian = true;     ///< byte order of tag payloads and image data
    std::uint64_t declared_size = 0;
    DmTag root;

    /// The images of root.ImageList that are not thumbnails (as HyperSpy
    /// selects them: ImageList entries whose index appears as an ImageIndex
    /// under root.Thumbnails are skipped), in file order.
    std::vector<const DmTag*> images() const {
        std::vector<const DmTag*> out;
        const DmTag* list = root.child("ImageList");
        if (!list || !list->is_group()) return out;
        std::vector<double> thumbs;
        if (const DmTag* th = root.child("Thumbnails"); th && th->is_group())
            for (const auto& t : th->tags)
                if (t.is_group())
                    if (const DmTag* idx = t.child("ImageIndex"); idx && idx->number()) thumbs.push_back(*idx->number());
        double index = 0;
        for (const auto& t : list->tags) {
            if (!t.is_group()) continue;
            // HyperSpy takes the index from the "TagGroup<n>" name.
            double k = index++;
            if (t.name.rfind("TagGroup", 0) == 0) {
                const std::string digits = t.name.substr(8);
                if (!digits.empty() && digits.size() < 10 &&
                    digits.find_first_not_of("0123456789") == std::string::npos)
                    k = std::stod(digits);
            }
            bool thumb = false;
            for (double v : thumbs) thumb = thumb || v == k;
            if (!thumb) out.push_back(&t);
        }
        return out;
    }
};

namespace detail {

class DmParser {
public:
    DmParser(const unsigned char* p, std::size_t n, const std::string& source) : p_(p), n_(n), source_(source) {}

    DmFile parse() {
        DmFile f;
        need(4, "file header");
        const std::uint64_t version = be(4);
        if (version != 3 && version != 4)
            fail(0, "not a DigitalMicrograph file (version " + std::to_string(version) + ", expected 3 or 4)");
        f.version = static_cast<int>(version);
        wide_ = version == 4;
        f.declared_size = be(wide_ ? 8 : 4);
        const std::uint64_t order = be(4);
        if (order > 1) fail(pos_ - 4, "byte order flag must be 0 or 1, got " + std::to_string(order));
        f.little_endian = order == 1;
        little_ = f.little_endian;
        f.root.name = "root";
        parse_group_body(f.root, 0, /*root=*/true);
        return f;
    }

private:
    [[noreturn]] void fail(std::size_t at, const std::string& reason) const {
        throw parse_error(source_, parse_error::at_offset(at), reason);
    }
    std::size_t left() const noexcept { return n_ - pos_; }
    void need(std::uint64_t bytes, const char* what) const {
        if (bytes > left())
            fail(pos_, std::string("truncated file: ") + what + " needs " + std::to_string(bytes) + " bytes, " +
                           std::to_string(left()) + " left");
    }
    std::uint64_t be(std::size_t width) {
        need(width, "integer");
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < width; ++i) v = (v << 8) | p_[pos_ + i];
        pos_ += width;
        return v;
    }
    std::uint64_t word() { return be(wide_ ? 8 : 4); }

    void parse_group_body(DmTag& g, std::size_t depth, bool root = false) {
        if (depth > dm_max_depth)
            fail(pos_, "tag groups nested deeper than " + std::to_string(dm_max_depth) + " levels");
        g.kind = DmTag::Kind::group;
        if (!root && wide_) (void)be(8);  // DM4: byte count of the group (not needed)
        need(2, "tag group header");
        pos_ += 2;  // sorted, open flags
        const std::size_t at = pos_;
        const std::uint64_t ntags = word();
        // Each tag takes at least 3 bytes (type, name length); a count beyond
        // what the bytes can hold is corrupt, so nothing is reserved from it.
        if (ntags > left() / 3)
            fail(at, "tag group declares " + std::to_string(ntags) + " tags but only " + std::to_string(left()) +
                         " bytes follow");
        g.tags.reserve(static_cast<std::size_t>(ntags));
        std::size_t unnamed_groups = 0, unnamed_data = 0;
        for (std::uint64_t i = 0; i < ntags; ++i) {
            const std::size_t tag_at = pos_;
            need(3, "tag header");
            const unsigned type = p_[pos_];
            pos_ += 1;
            const std::size_t name_len = static_cast<std::size_t>(be(2));
            need(name_len, "tag name");
            DmTag t;
            t.name = name_text(p_ + pos_, name_len);
            pos_ += name_len;
            if (type == 20) {
                t.offset = tag_at;
                if (t.name.empty()) t.name = "TagGroup" + std::to_string(unnamed_groups++);
                parse_group_body(t, depth + 1);
            } else if (type == 21) {
                if (t.name.empty()) t.name = "Data" + std::to_string(unnamed_data++);
                parse_data(t);
            } else {
                fail(tag_at, "unknown tag type " + std::to_string(type) + " (expected 20 = group or 21 = data)");
            }
            g.tags.push_back(std::move(t));
        }
    }

    void parse_data(DmTag& t) {
        if (wide_) (void)be(8);  // DM4: byte count of the tag
        need(4, "data tag delimiter");
        if (std::memcmp(p_ + pos_, "%%%%", 4) != 0) fail(pos_, "data tag delimiter '%%%%' missing");
        pos_ += 4;
        const std::size_t info_at = pos_;
        const std::uint64_t ninfo = word();
        const std::size_t w = wide_ ? 8 : 4;
        if (ninfo == 0 || ninfo > left() / w)
            fail(info_at, "data tag info array of " + std::to_string(ninfo) + " entries does not fit the file");
        std::vector<std::uint64_t> info(static_cast<std::size_t>(ninfo));
        for (auto& v : info) v = word();
        const auto bad = [&](const std::string& why) { fail(info_at, "data tag '" + t.name + "': " + why); };
        const auto simple = [&](std::uint64_t code) {
            const std::size_t s = dm_simple_size(code);
            if (!s) bad("type code " + std::to_string(code) + " is not a numeric type");
            return s;
        };
        std::uint64_t bytes = 0;
        const auto times = [&](std::uint64_t count, std::uint64_t size) {
            // The payload must be present; checking count against the bytes
            // left also keeps the product from overflowing.
            if (size == 0 || count > left() / size)
                bad("payload of " + std::to_string(count) + " x " + std::to_string(size) + " bytes exceeds the " +
                    std::to_string(left()) + " bytes left");
            return count * size;
        };
        const auto struct_def = [&](std::size_t first, std::uint64_t nfields) {
            // info[first] = nfields, then (name length, type) per field
            if (nfields > (info.size() - first - 1) / 2) bad("struct definition longer than its info array");
            std::uint64_t size = 0;
            for (std::uint64_t f = 0; f < nfields; ++f) {
                const std::uint64_t code = info[first + 2 + 2 * f];
                size += simple(code);
                t.field_types.push_back(code);
            }
            return size;
        };
        switch (info[0]) {
            case dm_code::string:
                if (ninfo != 2) bad("string info array must have 2 entries");
                t.kind = DmTag::Kind::string;
                t.count = info[1];
                bytes = times(info[1], 1);
                break;
            case dm_code::structure: {
                if (ninfo < 3) bad("struct info array too short");
                t.kind = DmTag::Kind::structure;
                t.count = 1;
                bytes = times(1, struct_def(2, info[2]));
                if (ninfo != 3 + 2 * t.field_types.size()) bad("struct info array has extra entries");
                break;
            }
            case dm_code::array: {
                if (ninfo < 3) bad("array info array too short");
                const std::uint64_t el = info[1];
                if (el == dm_code::structure) {
                    if (ninfo < 5) bad("struct array info array too short");
                    t.kind = DmTag::Kind::struct_array;
                    const std::uint64_t size = struct_def(3, info[3]);
                    if (ninfo != 5 + 2 * t.field_types.size()) bad("struct array info array has wrong length");
                    t.count = info.back();
                    bytes = times(t.count, size);
                } else if (el == dm_code::string) {
                    if (ninfo != 4) bad("string array info array must have 4 entries");
                    t.kind = DmTag::Kind::string_array;
                    t.element_type = el;
                    t.count = info[3];
                    if (info[2] == 0) bad("string array with zero-length strings");
                    bytes = times(t.count, info[2]);
                } else if (el == dm_code::array) {
                    if (ninfo != 5) bad("array of arrays info array must have 5 entries");
                    t.kind = DmTag::Kind::array_array;
                    t.element_type = info[2];
                    t.count = info[4];
                    const std::uint64_t inner = info[3];
                    const std::size_t s = simple(info[2]);
                    if (inner > left() / s) bad("inner array larger than the file");
                    bytes = times(t.count, inner * s);
                } else {
                    if (ninfo != 3) bad("simple array info array must have 3 entries");
                    t.kind = DmTag::Kind::array;
                    t.element_type = el;
                    t.count = info[2];
                    bytes = times(t.count, simple(el));
                }
                break;
            }
            default:
                if (ninfo != 1) bad("unknown type code " + std::to_string(info[0]));
                t.kind = DmTag::Kind::scalar;
                t.element_type = info[0];
                t.count = 1;
                bytes = times(1, simple(info[0]));
                break;
        }
        t.offset = pos_;
        t.byte_size = static_cast<std::size_t>(bytes);
        decode(t);
        pos_ += t.byte_size;
    }

    double number_at(std::size_t at, std::uint64_t code) const noexcept {
        unsigned char b[8];
        const std::size_t s = dm_simple_size(code);
        for (std::size_t i = 0; i < s; ++i) b[i] = p_[at + (little_ ? i : s - 1 - i)];
        // b now holds the value little-endian; assemble it portably.
        std::uint64_t u = 0;
        for (std::size_t i = s; i-- > 0;) u = (u << 8) | b[i];
        switch (code) {
            case dm_code::boolean: return u != 0 ? 1.0 : 0.0;
            case dm_code::int8: return static_cast<double>(static_cast<std::int8_t>(u));
            case dm_code::uint8: return static_cast<double>(u);
            case dm_code::int16: return static_cast<double>(static_cast<std::int16_t>(u));
            case dm_code::uint16: return static_cast<double>(u);
            case dm_code::int32: return static_cast<double>(static_cast<std::int32_t>(u));
            case dm_code::uint32: return static_cast<double>(u);
            case dm_code::int64: return static_cast<double>(static_cast<std::int64_t>(u));
            case dm_code::uint64: return static_cast<double>(u);
            case dm_code::float32: {
                const auto u32 = static_cast<std::uint32_t>(u);
                float f;
                std::memcpy(&f, &u32, 4);
                return f;
            }
            case dm_code::float64: {
                double d;
                std::memcpy(&d, &u, 8);
                return d;
            }
            default: return 0.0;
        }
    }

    // Tag names are UTF-8 or, in older files, Latin-1 (e.g. "Emission Current
    // (\xb5A)"); HyperSpy tries UTF-8 first and falls back to Latin-1.
    static std::string name_text(const unsigned char* s, std::size_t n) {
        bool utf8 = true;
        for (std::size_t i = 0; i < n && utf8;) {
            const unsigned char c = s[i];
            const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (len == 0 || i + len > n) utf8 = false;
            for (std::size_t k = 1; utf8 && k < len; ++k) utf8 = (s[i + k] & 0xC0) == 0x80;
            i += len ? len : 1;
        }
        if (utf8) return std::string(reinterpret_cast<const char*>(s), n);
        std::string out;
        for (std::size_t i = 0; i < n; ++i) append_utf8(out, s[i]);
        return out;
    }

    static void append_utf8(std::string& out, std::uint32_t c) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }

    void decode(DmTag& t) const {
        const std::size_t at = t.offset;
        switch (t.kind) {
            case DmTag::Kind::scalar:
                t.values.push_back(number_at(at, t.element_type));
                t.decoded = true;
                break;
            case DmTag::Kind::structure: {
                std::size_t o = at;
                for (auto code : t.field_types) {
                    t.values.push_back(number_at(o, code));
                    o += dm_simple_size(code);
                }
                t.decoded = true;
                break;
            }
            case DmTag::Kind::string:
                t.text.assign(reinterpret_cast<const char*>(p_ + at), t.byte_size);
                t.decoded = true;
                break;
            case DmTag::Kind::array: {
                if (t.count > dm_decode_limit || t.name == "Data") break;  // image data stays in the file
                const std::size_t s = dm_simple_size(t.element_type);
                if (t.element_type == dm_code::uint16) {
                    // DM writes text as UTF-16 code units.
                    for (std::size_t i = 0; i < t.count; ++i) {
                        std::uint32_t c = static_cast<std::uint32_t>(number_at(at + 2 * i, dm_code::uint16));
                        if (c >= 0xD800 && c < 0xDC00 && i + 1 < t.count) {
                            const auto lo = static_cast<std::uint32_t>(number_at(at + 2 * i + 2, dm_code::uint16));
                            if (lo >= 0xDC00 && lo < 0xE000) {
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                                ++i;
                            }
                        }
                        append_utf8(t.text, c);
                    }
                }
                t.values.reserve(static_cast<std::size_t>(t.count));
                for (std::size_t i = 0; i < t.count; ++i) t.values.push_back(number_at(at + i * s, t.element_type));
                t.decoded = true;
                break;
            }
            case DmTag::Kind::struct_array: {
                if (t.count * t.field_types.size() > dm_decode_limit) break;
                std::size_t o = at;
                for (std::size_t i = 0; i < t.count; ++i)
                    for (auto code : t.field_types) {
                        t.values.push_back(number_at(o, code));
                        o += dm_simple_size(code);
                    }
                t.decoded = true;
                break;
            }
            default:
                break;  // arrays of strings / arrays: located only
        }
    }

    const unsigned char* p_;
    std::size_t n_;
    const std::string& source_;
    std::size_t pos_ = 0;
    bool wide_ = false;
    bool little_ = true;
};

}  // namespace detail

/// Parses the tag tree of a DM3 or DM4 file held in memory. `source` names the
/// file in error messages. Throws parse_error for anything malformed.
inline DmFile parse_dm_tags(const char* bytes, std::size_t size, const std::string& source = "<memory>") {
    if (!bytes && size) throw parse_error(source, parse_error::at_offset(0), "null buffer");
    return detail::DmParser(reinterpret_cast<const unsigned char*>(bytes), size, source).parse();
}

}  // namespace corespec::io
