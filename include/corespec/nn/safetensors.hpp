// corespec/nn/safetensors.hpp - read and write the safetensors weight format.
//
// Layout of a file (https://huggingface.co/docs/safetensors):
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   a JSON object: for each tensor name {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]} (offsets relative to the byte
//             buffer), plus an optional "__metadata__" object of strings
//   rest      the byte buffer, tensors little-endian, row-major
//
// The reader treats every file as hostile: the header length, each offset,
// each shape product and the coverage of the byte buffer are checked before
// any byte is copied (tensors must tile the buffer exactly: no overlap, no
// hole, no trailing bytes, as the reference implementation requires).
// Problems raise corespec::parse_error with the byte offset and a reason.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/json_input.hpp"
#include "corespec/core/span.hpp"

namespace corespec::nn {

/// Element types of the safetensors format. F8 types are not supported.
enum class DType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

/// The name used in safetensors headers ("F32", "BF16", ...).
inline const char* dtype_name(DType d) noexcept {
    switch (d) {
        case DType::BOOL: return "BOOL";
        case DType::U8: return "U8";
        case DType::I8: return "I8";
        case DType::U16: return "U16";
        case DType::I16: return "I16";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::U32: return "U32";
        case DType::I32: return "I32";
        case DType::F32: return "F32";
        case DType::U64: return "U64";
        case DType::I64: return "I64";
        case DType::F64: return "F64";
    }
    return "?";
}

/// Bytes per element.
inline std::size_t dtype_size(DType d) noexcept {
    switch (d) {
        case DType::BOOL: case DType::U8: case DType::I8: return 1;
        case DType::U16: case DType::I16: case DType::F16: case DType::BF16: return 2;
        case DType::U32: case DType::I32: case DType::F32: return 4;
        case DType::U64: case DType::I64: case DType::F64: return 8;
    }
    return 0;
}

/// Parses a header dtype name; returns false for unknown names.
inline bool parse_dtype(std::string_view name, DType& out) noexcept {
    static constexpr DType all[] = {DType::BOOL, DType::U8,   DType::I8,  DType::U16, DType::I16,
                                    DType::F16,  DType::BF16, DType::U32, DType::I32, DType::F32,
                                    DType::U64,  DType::I64,  DType::F64};
    for (DType d : all)
        if (name == dtype_name(d)) {
            out = d;
            return true;
        }
    return false;
}

/// The dtype that stores T exactly (float -> F32, double -> F64).
template <class T>
constexpr DType dtype_of() noexcept {
    static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value,
                  "corespec::nn: tensors are written as float or double");
    return std::is_same<T, float>::value ? DType::F32 : DType::F64;
}

namespace detail {

inline bool host_is_little_endian() noexcept {
    const std::uint16_t one = 1;
    unsigned char b;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

// Reads an unsigned little-endian integer of `n` bytes.
inline std::uint64_t load_le_uint(const unsigned char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

// Loads one element of a trivially copyable type stored little-endian.
template <class U>
U load_le(const unsigned char* p) noexcept {
    unsigned char tmp[sizeof(U)];
    if (host_is_little_endian())
        std::memcpy(tmp, p, sizeof(U));
    else
        for (std::size_t i = 0; i < sizeof(U); ++i) tmp[i] = p[sizeof(U) - 1 - i];
    U v;
    std::memcpy(&v, tmp, sizeof(U));
    return v;
}

template <class U>
void store_le(U v, unsigned char* p) noexcept {
    unsigned char tmp[sizeof(U)];
    std::memcpy(tmp, &v, sizeof(U));
    if (host_is_little_endian())
        std::memcpy(p, tmp, sizeof(U));
    else
        for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = tmp[sizeof(U) - 1 - i];
}

// IEEE 754 binary16 -> binary32 (exact: every half is a float).
inline float half_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1Fu;
    std::uint32_t mantissa = h & 0x3FFu;
    std::uint32_t bits;
    if (exponent == 0x1Fu) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // inf / nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal half: normalise
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline float bfloat16_to_float(std::uint16_t h) noexcept {
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// a * b, false on overflow.
inline bool checked_mul(std::size_t a, std::size_t b, std::size_t& out) noexcept {
    if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
    out = a * b;
    return true;
}

}  // namespace detail

/// One tensor: its element type, shape and raw little-endian bytes.
struct TensorData {
    DType dtype = DType::F32;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> bytes;

    /// Number of elements (1 for a scalar of shape ()).
    std::size_t numel() const noexcept {
        std::size_t n = 1;
        for (std::size_t d : shape) n *= d;
        return n;
    }

    /// The elements converted to T (float or double). F16, BF16, F32, F64 and
    /// the integer types convert; F64 -> float rounds to nearest.
    template <class T>
    std::vector<T> to_vector() const {
        static_assert(std::is_floating_point<T>::value, "to_vector converts to a floating-point type");
        const std::size_t n = numel();
        if (bytes.size() != n * dtype_size(dtype))
            throw value_error("safetensors tensor: " + std::to_string(bytes.size()) + " bytes for " +
                              std::to_string(n) + " elements of " + dtype_name(dtype));
        std::vector<T> out(n);
        const unsigned char* p = bytes.data();
        const std::size_t w = dtype_size(dtype);
        for (std::size_t i = 0; i < n; ++i, p += w) out[i] = convert<T>(p);
        return out;
    }

    /// A tensor holding a copy of `values` with dtype F32 or F64.
    template <class T>
    static TensorData from(std::vector<std::size_t> shape, span<const T> values) {
        TensorData t;
        t.dtype = dtype_of<T>();
        t.shape = std::move(shape);
        if (t.numel() != values.size())
            throw shape_error("safetensors tensor", t.shape, {values.size()});
        t.bytes.resize(values.size() * sizeof(T));
        for (std::size_t i = 0; i < values.size(); ++i) detail::store_le<T>(values[i], t.bytes.data() + i * sizeof(T));
        return t;
    }

private:
    template <class T>
    T convert(const unsigned char* p) const noexcept {
        using namespace detail;
        switch (dtype) {
            case DType::BOOL: return static_cast<T>(p[0] != 0);
            case DType::U8: return static_cast<T>(p[0]);
            case DType::I8: return static_cast<T>(load_le<std::int8_t>(p));
            case DType::U16: return static_cast<T>(load_le<std::uint16_t>(p));
            case DType::I16: return static_cast<T>(load_le<std::int16_t>(p));
            case DType::F16: return static_cast<T>(half_to_float(load_le<std::uint16_t>(p)));
            case DType::BF16: return static_cast<T>(bfloat16_to_float(load_le<std::uint16_t>(p)));
            case DType::U32: return static_cast<T>(load_le<std::uint32_t>(p));
            case DType::I32: return static_cast<T>(load_le<std::int32_t>(p));
            case DType::F32: return static_cast<T>(load_le<float>(p));
            case DType::U64: return static_cast<T>(load_le<std::uint64_t>(p));
            case DType::I64: return static_cast<T>(load_le<std::int64_t>(p));
            case DType::F64: return static_cast<T>(load_le<double>(p));
        }
        return T(0);
    }
};

/// The contents of a safetensors file: named tensors plus string metadata.
class SafeTensors {
public:
    /// Largest header accepted (the reference implementation's limit).
    static constexpr std::size_t max_header_size = 100000000;

    std::map<std::string, std::string> metadata;

    /// Parses a safetensors image held in memory. `source` names it in errors.
    /// Throws parse_error (with byte offset and reason) on any inconsistency.
    static SafeTensors parse(const unsigned char* data, std::size_t size, const std::string& source = "<memory>");

    /// Reads and parses a file. Throws io_error if it cannot be read,
    /// parse_error if it is malformed.
    static SafeTensors read(const std::string& path);

    /// Adds (or replaces) a tensor. Throws value_error on an empty name or
    /// "__metadata__", shape_error if shape and byte count disagree.
    void add(const std::string& name, TensorData tensor) {
        if (name.empty() || name == "__metadata__") throw value_error("safetensors: invalid tensor name '" + name + "'");
        std::size_t n = dtype_size(tensor.dtype);
        for (std::size_t d : tensor.shape)
            if (!detail::checked_mul(n, d, n)) throw value_error("safetensors: tensor '" + name + "' is too large");
        if (n != tensor.bytes.size())
            throw shape_error("safetensors tensor '" + name + "' bytes", {n}, {tensor.bytes.size()});
        if (tensors_.find(name) == tensors_.end()) order_.push_back(name);
        tensors_[name] = std::move(tensor);
    }

    /// Adds a float or double tensor from values.
    template <class T>
    void add(const std::string& name, std::vector<std::size_t> shape, span<const T> values) {
        add(name, TensorData::from<T>(std::move(shape), values));
    }

    bool contains(const std::string& name) const { return tensors_.find(name) != tensors_.end(); }

    /// The tensor called `name`; throws range_error if there is none.
    const TensorData& at(const std::string& name) const {
        const auto it = tensors_.find(name);
        if (it == tensors_.end()) throw range_error("safetensors: no tensor named '" + name + "'");
        return it->second;
    }

    /// Tensor names, in file order (by offset) after parse, else insertion order.
    const std::vector<std::string>& names() const noexcept { return order_; }
    std::size_t size() const noexcept { return order_.size(); }

    /// The file image: header padded with spaces to a multiple of 8 bytes so
    /// that the buffer is 8-byte aligned, tensors in names() order.
    std::vector<unsigned char> serialize() const;

    /// Writes serialize() to `path`; throws io_error on failure.
    void write(const std::string& path) const;

private:
    std::map<std::string, TensorData> tensors_;
    std::vector<std::string> order_;
};

inline SafeTensors SafeTensors::parse(const unsigned char* data, std::size_t size, const std::string& source) {
    auto fail = [&](std::size_t offset, const std::string& reason) -> parse_error {
        return parse_error(source, parse_error::at_offset(offset), reason);
    };
    if (size < 8) throw fail(0, "file of " + std::to_string(size) + " bytes is shorter than the 8-byte header length");
    const std::uint64_t header_len = detail::load_le_uint(data, 8);
    if (header_len > max_header_size)
        throw fail(0, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                          std::to_string(max_header_size) + " bytes");
    if (header_len > size - 8)
        throw fail(0, "header length " + std::to_string(header_len) + " exceeds the " + std::to_string(size - 8) +
                          " bytes after the length field");
    if (header_len < 2 || data[8] != '{') throw fail(8, "header does not start with a JSON object");

    const char* text = reinterpret_cast<const char*>(data + 8);
    JsonLimits limits;
    limits.max_bytes = max_header_size;
    const nlohmann::json header =
        parse_bounded_json(std::string_view(text, static_cast<std::size_t>(header_len)), source, "header", 8, limits);
    if (!header.is_object()) throw fail(8, "header is not a JSON object");

    const std::size_t buffer_start = 8 + static_cast<std::size_t>(header_len);
    const std::size_t buffer_size = size - buffer_start;

    struct Entry {
        std::string name;
        DType dtype;
        std::vector<std::size_t> shape;
        std::size_t begin, end;
    };
    std::vector<Entry> entries;
    SafeTensors out;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) throw fail(8, "__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string()) throw fail(8, "__metadata__ value '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string what = "tensor '" + name + "': ";
        if (name.empty()) throw fail(8, "empty tensor name");
        if (!v.is_object()) throw fail(8, what + "entry is not an object");
        const auto dt = v.find("dtype");
        const auto sh = v.find("shape");
        const auto off = v.find("data_offsets");
        if (dt == v.end() || !dt->is_string()) throw fail(8, what + "missing or non-string dtype");
        if (sh == v.end() || !sh->is_array()) throw fail(8, what + "missing or non-array shape");
        if (off == v.end() || !off->is_array() || off->size() != 2)
            throw fail(8, what + "data_offsets must be an array [begin, end]");
        Entry e;
        e.name = name;
        if (!parse_dtype(dt->get_ref<const std::string&>(), e.dtype))
            throw fail(8, what + "unknown dtype '" + dt->get<std::string>() + "'");
        std::size_t bytes = dtype_size(e.dtype);
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned()) throw fail(8, what + "shape entries must be non-negative integers");
            const std::uint64_t dim = d.get<std::uint64_t>();
            if (dim > std::numeric_limits<std::size_t>::max() || !detail::checked_mul(bytes, static_cast<std::size_t>(dim), bytes))
                throw fail(8, what + "shape product overflows");
            e.shape.push_back(static_cast<std::size_t>(dim));
        }
        for (const auto& o : *off)
            if (!o.is_number_unsigned()) throw fail(8, what + "data_offsets must be non-negative integers");
        const std::uint64_t b = (*off)[0].get<std::uint64_t>(), en = (*off)[1].get<std::uint64_t>();
        if (b > en) throw fail(8, what + "data_offsets begin " + std::to_string(b) + " > end " + std::to_string(en));
        if (en > buffer_size)
            throw fail(buffer_start, what + "data_offsets end " + std::to_string(en) + " beyond the " +
                                         std::to_string(buffer_size) + "-byte buffer");
        e.begin = static_cast<std::size_t>(b);
        e.end = static_cast<std::size_t>(en);
        if (e.end - e.begin != bytes)
            throw fail(buffer_start + e.begin, what + "shape and dtype need " + std::to_string(bytes) +
                                                   " bytes, data_offsets give " + std::to_string(e.end - e.begin));
        entries.push_back(std::move(e));
    }

    // The tensors must tile the buffer: sorted by begin, each starts where
    // the previous one ended (zero-size tensors may share an offset).
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::size_t cursor = 0;
    for (const Entry& e : entries) {
        if (e.begin < cursor)
            throw fail(buffer_start + e.begin, "tensor '" + e.name + "' overlaps the previous tensor (begins at " +
                                                   std::to_string(e.begin) + ", previous ends at " + std::to_string(cursor) + ")");
        if (e.begin > cursor)
            throw fail(buffer_start + cursor, "bytes " + std::to_string(cursor) + ".." + std::to_string(e.begin) +
                                                  " of the buffer belong to no tensor (non-contiguous offsets)");
        cursor = e.end;
    }
    if (cursor != buffer_size)
        throw fail(buffer_start + cursor, std::to_string(buffer_size - cursor) + " trailing bytes belong to no tensor");

    for (Entry& e : entries) {
        TensorData t;
        t.dtype = e.dtype;
        t.shape = std::move(e.shape);
        t.bytes.assign(data + buffer_start + e.begin, data + buffer_start + e.end);
        out.order_.push_back(e.name);
        out.tensors_.emplace(e.name, std::move(t));
    }
    return out;
}

inline SafeTensors SafeTensors::read(const std::string& path) {
    const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
    return parse(bytes.data(), bytes.size(), path);
}

inline std::vector<unsigned char> SafeTensors::serialize() const {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        nlohmann::ordered_json m = nlohmann::ordered_json::object();
        for (const auto& kv : metadata) m[kv.first] = kv.second;
        header["__metadata__"] = std::move(m);
    }
    std::size_t offset = 0;
    for (const std::string& name : order_) {
        const TensorData& t = tensors_.at(name);
        header[name] = {{"dtype", dtype_name(t.dtype)},
                        {"shape", t.shape},
                        {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<unsigned char> out(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
    std::memcpy(out.data() + 8, text.data(), text.size());
    unsigned char* p = out.data() + 8 + text.size();
    for (const std::string& name : order_) {
        const TensorData& t = tensors_.at(name);
        if (!t.bytes.empty()) std::memcpy(p, t.bytes.data(), t.bytes.size());
        p += t.bytes.size();
    }
    return out;
}

inline void SafeTensors::write(const std::string& path) const {
    const std::vector<unsigned char> bytes = serialize();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error("cannot open '" + path + "' for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw io_error("cannot write '" + path + "'");
}

}  // namespace corespec::nn
