// corespec/io/hdf5.hpp - the small layer over the HDF5 C library that the
// HDF5 readers and writers share (io/hspy.hpp, io/emd.hpp, io/nexus.hpp).
//
// This header is the optional part of corespec: it needs libhdf5 (Debian
// libhdf5-dev) and is usable when the consumer links `corespec::hdf5`
// (which defines CORESPEC_HAVE_HDF5). Nothing else in corespec includes it
// unless CORESPEC_HAVE_HDF5 is defined, so the header-only core never needs
// the package.
//
// Everything here is in `detail`: RAII handles (Handle closes its hid_t
// with the right H5*close), an error guard that silences HDF5's own
// error-stack printing for the duration of a call and turns the stack into
// the text of a corespec exception, attribute and dataset helpers. The
// public functions of the HDF5 readers take paths or bytes and return
// corespec types; no HDF5 type appears in their signatures.
#pragma once

#ifndef CORESPEC_HAVE_HDF5
#error "corespec/io/hdf5.hpp needs the HDF5 library: link corespec::hdf5 (it defines CORESPEC_HAVE_HDF5)"
#endif

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/io/reader_support.hpp"
#include "corespec/io/text.hpp"

namespace corespec::io::detail {

/// While alive, HDF5 prints nothing on errors (its automatic error-stack
/// printing is switched off for this thread and restored afterwards); the
/// innermost message of the current error stack is available as text.
class H5ErrorGuard {
public:
    H5ErrorGuard() noexcept {
        H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~H5ErrorGuard() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
    H5ErrorGuard(const H5ErrorGuard&) = delete;
    H5ErrorGuard& operator=(const H5ErrorGuard&) = delete;

    /// The description of the innermost (first) error on the stack, "" when none.
    static std::string message() {
        std::string out;
        H5Ewalk2(
            H5E_DEFAULT, H5E_WALK_UPWARD,  // n == 0: the innermost error, where it began
            [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
                if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
                return 0;
            },
            &out);
        H5Eclear2(H5E_DEFAULT);
        return out;
    }

private:
    H5E_auto2_t old_func_ = nullptr;
    void* old_data_ = nullptr;
};

/// A parse_error naming `source`, the HDF5 object `where` and `why` (plus
/// HDF5's own reason when its error stack holds one).
[[noreturn]] inline void h5_fail(const std::string& source, const std::string& where, const std::string& why) {
    const std::string h5 = H5ErrorGuard::message();
    throw parse_error(source, where, h5.empty() ? why : why + " (HDF5: " + h5 + ")");
}

/// An owned HDF5 identifier, closed with the function it was made for.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer close) noexcept : id_(id), close_(close) {}
    Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
            close_ = o.close_;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    hid_t get() const noexcept { return id_; }
    explicit operator bool() const noexcept { return id_ >= 0; }
    void reset() noexcept {
        if (id_ >= 0 && close_) close_(id_);
        id_ = H5I_INVALID_HID;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
    Closer close_ = nullptr;
};

/// `id` as a Handle, or a parse_error (source, where, why) when HDF5 failed.
inline Handle h5_check(hid_t id, Handle::Closer close, const std::string& source, const std::string& where,
                       const std::string& why) {
    if (id < 0) h5_fail(source, where, why);
    return Handle(id, close);
}

// ------------------------------------------------- the checked file driver
//
// libhdf5 1.10.8 (Debian 12) trusts the object sizes inside a global-heap
// collection, where variable-length strings live: a corrupt size makes
// H5HG_read memcpy past its buffers (tests/fuzz/findings/), and a free-space
// entry smaller than its header makes the collection parser loop forever.
// Every file corespec opens goes through a thin pass-through driver
// (sec2 for paths, the core driver for images) that checks each global-heap
// collection as the library reads it, before the library parses it, and
// fails the read with a clear reason instead. libhdf5 reads collections as
// raw data, so every raw read that begins with a collection header
// ("GCOL", version 1) is checked; no metadata accumulation, so every read
// reaches the driver.

/// Largest global-heap object corespec lets HDF5 read: 1.10.8 copies an
/// object into a conversion buffer of at least 4096 bytes sized by the
/// string's stored length, without comparing the two, so a larger object
/// behind a corrupt length overflows. corespec reads short strings only.
inline constexpr std::uint64_t h5_max_heap_object = 4096;

/// The little-endian unsigned number of `n` (1..8) bytes at `p`.
inline std::uint64_t h5_le(const unsigned char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

/// True when `bytes` begin with a global-heap collection header: "GCOL",
/// version 1, three reserved zero bytes, the collection's size.
inline bool h5_is_heap_header(const unsigned char* bytes, std::size_t n, std::size_t length_size) noexcept {
    return n >= 8 + length_size && std::memcmp(bytes, "GCOL\x01\0\0\0", 8) == 0;
}

/// Why the global-heap collection in `bytes` would break libhdf5's parser
/// ("" when it is sound, or when `bytes` is not a whole collection).
/// `length_size` is the file's size of lengths (8 unless the superblock says).
inline std::string h5_global_heap_problem(const unsigned char* bytes, std::size_t n, std::size_t length_size) {
    const std::size_t header = 8 + length_size;  // "GCOL", version, 3 reserved, collection size
    const std::size_t object_header = 8 + length_size;  // index, references, 4 reserved, object size
    if (!h5_is_heap_header(bytes, n, length_size)) return {};
    const std::uint64_t size = h5_le(bytes + 8, length_size);
    if (size > n) return {};
    for (std::uint64_t pos = header; pos < size;) {
        if (size - pos < object_header) break;  // a tail too small for an object is free space
        const std::uint64_t index = h5_le(bytes + pos, 2), object = h5_le(bytes + pos + 8, length_size);
        const std::string what = "global heap collection of " + std::to_string(size) + " bytes: object " +
                                 std::to_string(index) + " at offset " + std::to_string(pos) + " declares " +
                                 std::to_string(object) + " bytes";
        if (object > size - pos) return what + ", past the collection's end";
        const std::uint64_t need = index == 0 ? object : object_header + (object + 7) / 8 * 8;
        if (need > size - pos) return what + ", past the collection's end";
        if (index == 0 && need < object_header) return what + " of free space, less than its own header";
        if (index != 0 && object > h5_max_heap_object)
            return what + " (corespec reads heap objects of at most " + std::to_string(h5_max_heap_object) +
                   " bytes: libhdf5 1.10 does not check larger ones against the string's length)";
        pos += need;
    }
    return {};
}

/// The state of one file opened through the checked driver. `pub` first:
/// HDF5 sees an H5FD_t.
struct H5CheckedFile {
    H5FD_t pub;
    H5FD_t* inner = nullptr;
    std::size_t length_size = 8;  ///< set from the superblock after H5Fopen
    // A collection read in two parts (HDF5 first reads 4096 bytes, then the rest).
    haddr_t pending_end = HADDR_UNDEF;
    std::vector<unsigned char> pending;
};

/// The driver's file-access information: the inner driver's access list.
struct H5CheckedInfo {
    hid_t inner_fapl = H5I_INVALID_HID;
};

inline herr_t h5_checked_read(H5FD_t* file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void* buf) {
    auto* f = reinterpret_cast<H5CheckedFile*>(file);
    if (H5FDread(f->inner, type, dxpl, addr, size, buf) < 0) return -1;
    // libhdf5 reads global-heap collections as raw data (H5F_block_read maps GHEAP to DRAW).
    if (type != H5FD_MEM_GHEAP && type != H5FD_MEM_DRAW) return 0;
    const auto* bytes = static_cast<const unsigned char*>(buf);
    std::string problem;
    if (f->pending_end == addr && !f->pending.empty()) {  // the rest of a collection begun earlier
        f->pending.insert(f->pending.end(), bytes, bytes + size);
        problem = h5_global_heap_problem(f->pending.data(), f->pending.size(), f->length_size);
        f->pending.clear();
        f->pending_end = HADDR_UNDEF;
    } else if (h5_is_heap_header(bytes, size, f->length_size) && h5_le(bytes + 8, f->length_size) > size) {
        f->pending.assign(bytes, bytes + size);
        f->pending_end = addr + size;
    } else {
        problem = h5_global_heap_problem(bytes, size, f->length_size);
    }
    if (problem.empty()) return 0;
    H5Epush2(H5E_DEFAULT, __FILE__, "h5_checked_read", __LINE__, H5E_ERR_CLS, H5E_HEAP, H5E_BADVALUE, "%s",
             problem.c_str());
    return -1;
}

/// The id of the checked driver, registered on first use (again if HDF5 was
/// closed and reopened since).
inline hid_t h5_checked_driver() {
    static const H5FD_class_t cls = [] {
        H5FD_class_t c{};
        c.name = "corespec_checked";
        c.maxaddr = (haddr_t(1) << 62) - 1;
        c.fc_degree = H5F_CLOSE_WEAK;
        c.fapl_size = sizeof(H5CheckedInfo);
        c.fapl_copy = [](const void* info) -> void* {
            auto* copy = new H5CheckedInfo;
            if (info) copy->inner_fapl = H5Pcopy(static_cast<const H5CheckedInfo*>(info)->inner_fapl);
            return copy;
        };
        c.fapl_free = [](void* info) -> herr_t {
            auto* i = static_cast<H5CheckedInfo*>(info);
            if (i->inner_fapl >= 0) H5Pclose(i->inner_fapl);
            delete i;
            return 0;
        };
        c.open = [](const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) -> H5FD_t* {
            const auto* info = static_cast<const H5CheckedInfo*>(H5Pget_driver_info(fapl));
            if (!info || (flags & H5F_ACC_RDWR)) return nullptr;  // read-only by design
            H5FD_t* inner = H5FDopen(name, flags, info->inner_fapl, maxaddr);
            if (!inner) return nullptr;
            auto* f = new H5CheckedFile{};
            f->inner = inner;
            return &f->pub;
        };
        c.close = [](H5FD_t* file) -> herr_t {
            auto* f = reinterpret_cast<H5CheckedFile*>(file);
            const herr_t status = H5FDclose(f->inner);
            delete f;
            return status;
        };
        c.cmp = [](const H5FD_t* a, const H5FD_t* b) -> int { return a < b ? -1 : a > b ? 1 : 0; };
        c.query = [](const H5FD_t*, unsigned long* flags) -> herr_t {
            *flags = H5FD_FEAT_DATA_SIEVE;  // raw-data sieving only; no metadata accumulation
            return 0;
        };
        c.get_eoa = [](const H5FD_t* file, H5FD_mem_t type) -> haddr_t {
            return H5FDget_eoa(reinterpret_cast<const H5CheckedFile*>(file)->inner, type);
        };
        c.set_eoa = [](H5FD_t* file, H5FD_mem_t type, haddr_t addr) -> herr_t {
            return H5FDset_eoa(reinterpret_cast<H5CheckedFile*>(file)->inner, type, addr);
        };
        c.get_eof = [](const H5FD_t* file, H5FD_mem_t type) -> haddr_t {
            return H5FDget_eof(reinterpret_cast<const H5CheckedFile*>(file)->inner, type);
        };
        c.get_handle = [](H5FD_t* file, hid_t, void** handle) -> herr_t {
            *handle = file;  // h5_open_checked uses it to pass the superblock's size of lengths
            return 0;
        };
        c.read = h5_checked_read;
        c.write = [](H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) -> herr_t { return -1; };
        for (auto& m : c.fl_map) m = H5FD_MEM_DEFAULT;
        c.fl_map[0] = H5FD_MEM_SUPER;
        return c;
    }();
    static hid_t id = H5I_INVALID_HID;
    if (id < 0 || H5Iis_valid(id) <= 0) id = H5FDregister(&cls);
    return id;
}

/// Opens `name` read-only through the checked driver over `inner_fapl`.
inline Handle h5_open_checked(const std::string& name, hid_t inner_fapl, const std::string& source) {
    Handle fapl = h5_check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, source, "file", "cannot create file access list");
    const hid_t driver = h5_checked_driver();
    H5CheckedInfo info{inner_fapl};
    if (driver < 0 || H5Pset_driver(fapl.get(), driver, &info) < 0)
        h5_fail(source, "file", "cannot select corespec's checked file driver");
    Handle file = h5_check(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, source, "file",
                           "not a readable HDF5 file (truncated or damaged?)");
    // The heap check needs the file's size of lengths (8 in nearly every file).
    Handle fcpl(H5Fget_create_plist(file.get()), H5Pclose);
    std::size_t sizeof_addr = 8, sizeof_size = 8;
    void* handle = nullptr;
    if (!fcpl || H5Pget_sizes(fcpl.get(), &sizeof_addr, &sizeof_size) < 0 ||
        H5Fget_vfd_handle(file.get(), fapl.get(), &handle) < 0 || !handle)
        h5_fail(source, "file", "cannot read the superblock's sizes");
    static_cast<H5CheckedFile*>(handle)->length_size = sizeof_size;
    return file;
}

/// An open HDF5 file with the name used in errors.
struct H5File {
    Handle file;
    std::string source;
};

/// Opens an HDF5 file read-only: io_error when the path is not a readable
/// regular file, parse_error when it is not (or no longer, when truncated)
/// a readable HDF5 file.
inline H5File h5_open(const std::filesystem::path& path) {
    (void)regular_file_size(path);
    H5ErrorGuard quiet;
    H5File f{Handle(), path.string()};
    Handle sec2 = h5_check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, f.source, "file", "cannot create file access list");
    if (H5Pset_fapl_sec2(sec2.get()) < 0) h5_fail(f.source, "file", "cannot select HDF5's sec2 driver");
    f.file = h5_open_checked(path.string(), sec2.get(), f.source);
    return f;
}

/// Opens an HDF5 file image held in memory (HDF5's core driver over a
/// copy of the bytes; nothing touches the disk).
inline H5File h5_open_image(const void* bytes, std::size_t size, const std::string& source) {
    H5ErrorGuard quiet;
    H5File f{Handle(), source};
    Handle core = h5_check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, source, "file", "cannot create file access list");
    if (H5Pset_fapl_core(core.get(), 1 << 16, 0) < 0) h5_fail(source, "file", "cannot select HDF5's core driver");
    if (size == 0 || H5Pset_file_image(core.get(), const_cast<void*>(bytes), size) < 0)
        h5_fail(source, "file", "not a readable HDF5 file image");
    f.file = h5_open_checked(source.empty() ? "<memory>" : source, core.get(), source);
    return f;
}

/// True when `loc` has a link `name` that leads to an object (group or dataset).
inline bool h5_exists(hid_t loc, const std::string& name) {
    H5ErrorGuard quiet;
    // Check each path component: H5Lexists fails on a missing intermediate.
    std::size_t start = name.rfind('/', 0) == 0 ? 1 : 0;  // absolute paths: from the root
    while (start < name.size()) {
        std::size_t slash = name.find('/', start);
        if (slash == std::string::npos) slash = name.size();
        const std::string prefix = name.substr(0, slash);
        start = slash + 1;
        if (slash == start - 1 && prefix.empty()) continue;
        if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return !name.empty();
}

inline H5O_type_t h5_object_type(hid_t loc, const std::string& name) {
    H5ErrorGuard quiet;
    H5O_info_t info;
    if (H5Oget_info_by_name(loc, name.c_str(), &info, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
    return info.type;
}

inline Handle h5_open_group(hid_t loc, const std::string& name, const std::string& source) {
    H5ErrorGuard quiet;
    if (!h5_exists(loc, name) || h5_object_type(loc, name) != H5O_TYPE_GROUP)
        h5_fail(source, name, "group missing");
    return h5_check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose, source, name, "cannot open group");
}

inline Handle h5_open_dataset(hid_t loc, const std::string& name, const std::string& source) {
    H5ErrorGuard quiet;
    if (!h5_exists(loc, name) || h5_object_type(loc, name) != H5O_TYPE_DATASET)
        h5_fail(source, name, "dataset missing");
    return h5_check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, source, name, "cannot open dataset");
}

/// The names of the links in group `g` (in name order).
inline std::vector<std::string> h5_children(hid_t g) {
    H5ErrorGuard quiet;
    std::vector<std::string> out;
    H5Literate(
        g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->emplace_back(name);
            return 0;
        },
        &out);
    return out;
}

/// The name of the file holding `obj` (the source name for file images), for errors.
inline std::string h5_file_name(hid_t obj) {
    const ssize_t n = H5Fget_name(obj, nullptr, 0);
    if (n <= 0) return "<HDF5 file>";
    std::string out(static_cast<std::size_t>(n) + 1, '\0');
    H5Fget_name(obj, out.data(), out.size());
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// An open one-element attribute and its stored type.
struct H5ScalarAttr {
    Handle attr, type;
};

/// Attribute `name` of `obj` when it exists and holds one element; nullopt otherwise.
inline std::optional<H5ScalarAttr> h5_open_scalar_attr(hid_t obj, const std::string& name) {
    H5ErrorGuard quiet;
    if (H5Aexists(obj, name.c_str()) <= 0) return std::nullopt;
    H5ScalarAttr a{Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose), Handle()};
    if (!a.attr) return std::nullopt;
    a.type = Handle(H5Aget_type(a.attr.get()), H5Tclose);
    Handle space(H5Aget_space(a.attr.get()), H5Sclose);
    if (!a.type || !space || H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
    // libhdf5 1.10.8 stores as many bytes as the type message declared but reads as many
    // as the type needs: a variable-length string needs its length, heap address and
    // index, whatever the (corrupt) message says, so a short store overflows in H5Aread.
    std::size_t needed = H5Tget_size(a.type.get());
    if (H5Tis_variable_str(a.type.get()) > 0 || H5Tget_class(a.type.get()) == H5T_VLEN) {
        std::size_t sizeof_addr = 8, sizeof_size = 8;
        Handle file(H5Iget_file_id(obj), H5Fclose);
        Handle fcpl(file ? H5Fget_create_plist(file.get()) : H5I_INVALID_HID, H5Pclose);
        if (fcpl) H5Pget_sizes(fcpl.get(), &sizeof_addr, &sizeof_size);
        needed = 4 + sizeof_addr + 4;
    }
    const hsize_t stored = H5Aget_storage_size(a.attr.get());
    if (stored < needed)
        throw parse_error(h5_file_name(obj), name,
                          "attribute stores " + std::to_string(stored) + " bytes, its type needs " +
                              std::to_string(needed));
    return a;
}

/// The value of a scalar (or one-element) string attribute; nullopt when
/// absent or not a string. Fixed-length and variable-length strings.
inline std::optional<std::string> h5_attr_string(hid_t obj, const std::string& name) {
    H5ErrorGuard quiet;
    const auto a = h5_open_scalar_attr(obj, name);
    if (!a || H5Tget_class(a->type.get()) != H5T_STRING) return std::nullopt;
    if (H5Tis_variable_str(a->type.get()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(a->type.get()));
        char* value = nullptr;
        // A string that exists but cannot be read (a damaged global heap) is an error, not an absence.
        if (H5Aread(a->attr.get(), mem.get(), &value) < 0) {
            const std::string why = H5ErrorGuard::message();  // before H5Fget_name clears the stack
            throw parse_error(h5_file_name(obj), name,
                              "cannot read the string attribute" + (why.empty() ? "" : " (HDF5: " + why + ")"));
        }
        if (!value) return std::nullopt;
        std::string out(value);
        H5free_memory(value);
        return out;
    }
    const std::size_t n = H5Tget_size(a->type.get());
    if (n == 0 || n > (1u << 20)) return std::nullopt;
    std::string out(n, '\0');
    Handle mem(H5Tcopy(a->type.get()), H5Tclose);
    if (H5Aread(a->attr.get(), mem.get(), out.data()) < 0) return std::nullopt;
    out.resize(std::strlen(out.c_str()));
    return out;
}

/// The value of a scalar numeric (integer, float, or h5py's bool enum)
/// attribute as double; nullopt when absent or not a number.
inline std::optional<double> h5_attr_number(hid_t obj, const std::string& name) {
    H5ErrorGuard quiet;
    const auto a = h5_open_scalar_attr(obj, name);
    if (!a) return std::nullopt;
    const H5T_class_t c = H5Tget_class(a->type.get());
    double v = 0.0;
    if (c == H5T_INTEGER || c == H5T_FLOAT) {
        if (H5Aread(a->attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) return std::nullopt;
        return v;
    }
    if (c == H5T_ENUM) {  // h5py stores numpy bools as an int8 enum FALSE=0, TRUE=1
        Handle base(H5Tget_super(a->type.get()), H5Tclose);
        if (!base || H5Tget_size(base.get()) != 1) return std::nullopt;
        std::int8_t b = 0;
        if (H5Aread(a->attr.get(), H5T_NATIVE_INT8, &b) < 0) return std::nullopt;
        return double(b);
    }
    return std::nullopt;
}

/// A scalar (or one-element) string dataset, fixed or variable length; nullopt when absent.
inline std::optional<std::string> h5_string_field(hid_t loc, const std::string& name) {
    if (!h5_exists(loc, name) || h5_object_type(loc, name) != H5O_TYPE_DATASET) return std::nullopt;
    H5ErrorGuard quiet;
    Handle d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    if (!d || !type || !space || H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
    if (H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
    if (H5Tis_variable_str(type.get()) > 0) {
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.get(), H5T_VARIABLE);
        char* value = nullptr;
        if (H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0 || !value) return std::nullopt;
        std::string out(value);
        H5free_memory(value);
        return out;
    }
    const std::size_t n = H5Tget_size(type.get());
    if (n == 0 || n > (1u << 20)) return std::nullopt;
    std::string out(n, '\0');
    if (H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) return std::nullopt;
    out.resize(std::strlen(out.c_str()));
    return out;
}

/// Stored element type of a dataset as a numpy-style name ("float32",
/// "int16", "uint8", ...); parse_error for anything that is not an integer
/// or a floating-point number (strings, compounds, enums, references).
inline std::string h5_numeric_dtype(hid_t dataset, const std::string& source, const std::string& where) {
    H5ErrorGuard quiet;
    Handle type = h5_check(H5Dget_type(dataset), H5Tclose, source, where, "cannot read the data type");
    const H5T_class_t c = H5Tget_class(type.get());
    const std::size_t size = H5Tget_size(type.get());
    if (c == H5T_FLOAT && (size == 2 || size == 4 || size == 8)) return "float" + std::to_string(8 * size);
    if (c == H5T_INTEGER && (size == 1 || size == 2 || size == 4 || size == 8))
        return std::string(H5Tget_sign(type.get()) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * size);
    const char* what = c == H5T_STRING     ? "strings"
                       : c == H5T_COMPOUND ? "a compound type (complex or structured)"
                       : c == H5T_ENUM     ? "an enumeration (bool)"
                       : c == H5T_ARRAY    ? "an array type"
                                           : "a non-numeric type";
    throw parse_error(source, where, "unsupported dtype: the data hold " + std::string(what) + " of " +
                                         std::to_string(size) + " bytes (integers and floats are read)");
}

/// The dimensions of a dataset (rank 0 gives {}).
inline std::vector<std::size_t> h5_shape(hid_t dataset, const std::string& source, const std::string& where) {
    H5ErrorGuard quiet;
    Handle space = h5_check(H5Dget_space(dataset), H5Sclose, source, where, "cannot read the dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 32) h5_fail(source, where, "invalid dataspace rank");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
        h5_fail(source, where, "cannot read the dimensions");
    return std::vector<std::size_t>(dims.begin(), dims.end());
}

template <class T>
hid_t h5_native_type() noexcept {
    if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
    else if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
    else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
    else if constexpr (std::is_same_v<T, std::int16_t>) return H5T_NATIVE_INT16;
    else if constexpr (std::is_same_v<T, std::uint16_t>) return H5T_NATIVE_UINT16;
    else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
    else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
    else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
    else return H5T_NATIVE_UINT64;
}

/// Reads rows [row0, row0 + rows) of the first dimension of `dataset`
/// (all of the other dimensions) into `out`, converted to T by HDF5.
/// `row_size` is the number of values per row. parse_error on failure
/// (e.g. a chunk that the file no longer holds, or does not decompress).
template <class T>
void h5_read_rows(hid_t dataset, const std::vector<std::size_t>& shape, std::size_t row0, std::size_t rows, T* out,
                  const std::string& source, const std::string& where) {
    H5ErrorGuard quiet;
    if (shape.empty()) {
        if (H5Dread(dataset, h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
            h5_fail(source, where, "cannot read the data");
        return;
    }
    Handle file_space = h5_check(H5Dget_space(dataset), H5Sclose, source, where, "cannot read the dataspace");
    std::vector<hsize_t> start(shape.size(), 0), count(shape.begin(), shape.end());
    start[0] = row0;
    count[0] = rows;
    if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
        h5_fail(source, where, "cannot select rows " + std::to_string(row0) + ".." + std::to_string(row0 + rows));
    Handle mem_space = h5_check(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose,
                                source, where, "cannot create the memory dataspace");
    if (H5Dread(dataset, h5_native_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
        h5_fail(source, where, "cannot read the data (truncated file or damaged chunk?)");
}

/// Reads a whole 1-D numeric dataset as doubles (axis coordinates, small arrays).
inline std::vector<double> h5_read_vector(hid_t loc, const std::string& name, const std::string& source) {
    Handle d = h5_open_dataset(loc, name, source);
    (void)h5_numeric_dtype(d.get(), source, name);
    const auto shape = h5_shape(d.get(), source, name);
    if (shape.size() != 1) throw parse_error(source, name, "expected a 1-D array, found rank " + std::to_string(shape.size()));
    if (shape[0] > (std::size_t(1) << 28)) throw parse_error(source, name, "array too large for coordinates");
    std::vector<double> out(shape[0]);
    if (!out.empty()) h5_read_rows(d.get(), shape, 0, shape[0], out.data(), source, name);
    return out;
}

// ------------------------------------------------------------------ writing

/// Creates (truncating) an HDF5 file for writing; io_error on failure.
inline Handle h5_create(const std::filesystem::path& path) {
    H5ErrorGuard quiet;
    Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!f) throw io_error("cannot open '" + path.string() + "' for writing: " + H5ErrorGuard::message());
    return f;
}

[[noreturn]] inline void h5_write_fail(const std::string& target, const std::string& what) {
    throw io_error("cannot write '" + target + "': " + what + " (HDF5: " + H5ErrorGuard::message() + ")");
}

inline Handle h5_create_group(hid_t loc, const std::string& name, const std::string& target) {
    H5ErrorGuard quiet;
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle g(H5Gcreate2(loc, name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g) h5_write_fail(target, "group " + name);
    return g;
}

/// Writes a scalar variable-length UTF-8 string attribute (as h5py does).
inline void h5_write_attr(hid_t obj, const std::string& name, const std::string& value, const std::string& target) {
    H5ErrorGuard quiet;
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* p = value.c_str();
    if (!a || H5Awrite(a.get(), type.get(), &p) < 0) h5_write_fail(target, "attribute " + name);
}

/// Writes a scalar numeric attribute of the native type of T.
template <class T>
void h5_write_attr_number(hid_t obj, const std::string& name, T value, const std::string& target) {
    H5ErrorGuard quiet;
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), h5_native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a || H5Awrite(a.get(), h5_native_type<T>(), &value) < 0) h5_write_fail(target, "attribute " + name);
}

/// Writes a bool attribute as h5py does (an int8 enum FALSE=0, TRUE=1), so
/// that numpy (and HyperSpy) read it back as a bool.
inline void h5_write_attr_bool(hid_t obj, const std::string& name, bool value, const std::string& target) {
    H5ErrorGuard quiet;
    Handle type(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
    const std::int8_t f = 0, t = 1;
    H5Tenum_insert(type.get(), "FALSE", &f);
    H5Tenum_insert(type.get(), "TRUE", &t);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const std::int8_t v = value ? 1 : 0;
    if (!a || H5Awrite(a.get(), type.get(), &v) < 0) h5_write_fail(target, "attribute " + name);
}

/// Writes an N-d dataset of T, chunked by `chunk` (empty: contiguous) and
/// gzip-compressed at `gzip_level` (0: none; shuffle is added with gzip).
template <class T>
void h5_write_dataset(hid_t loc, const std::string& name, const std::vector<std::size_t>& shape, const T* values,
                      const std::vector<std::size_t>& chunk, int gzip_level, const std::string& target) {
    H5ErrorGuard quiet;
    const std::vector<hsize_t> dims(shape.begin(), shape.end());
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (!chunk.empty()) {
        const std::vector<hsize_t> c(chunk.begin(), chunk.end());
        H5Pset_chunk(dcpl.get(), static_cast<int>(c.size()), c.data());
        if (gzip_level > 0) {
            H5Pset_shuffle(dcpl.get());
            H5Pset_deflate(dcpl.get(), static_cast<unsigned>(gzip_level));
        }
    }
    Handle d(H5Dcreate2(loc, name.c_str(), h5_native_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
             H5Dclose);
    if (!d || H5Dwrite(d.get(), h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        h5_write_fail(target, "dataset " + name);
}

}  // namespace corespec::io::detail
