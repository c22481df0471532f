// corespec/io/dm_write.hpp - a small DigitalMicrograph DM4 / DM3 writer.
//
// Writes one SpectrumImage as the single image of a DM file, laid out the way
// DigitalMicrograph stores spectra and spectrum images, so that read_dm (and
// HyperSpy) read it back with the same shape, calibration and values:
//   - a spectrum (navigation {1}) is a 1-D image [E];
//   - a line scan (navigation {n}) is a 2-D "Spectrum image" [E, n];
//   - a map (navigation {rows, cols}, or more dimensions) is a "Spectrum
//     image" whose energy is the slowest DM dimension [cols, rows, ..., E]:
//     the writer transposes pixel-major data into energy planes.
// Tags written: ImageList.TagGroup0 with ImageData (Data, DataType,
// Dimensions, PixelDepth, Calibrations with Origin/Scale/Units per dimension),
// Name (the title), ImageTags.Meta Data (Format, Signal "EELS" for EELS data),
// Microscope Info.Voltage and the EELS semi-angles and exposure when the
// metadata has them. Navigation axes get scale 1 and no units.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/dm_tags.hpp"

namespace corespec::io {

/// Options of write_dm.
struct DmWriteOptions {
    int version = 4;                 ///< 3 or 4
    bool little_endian = true;       ///< byte order of payloads (DM itself writes little-endian)
    /// DM image DataType to store: 0 = from T (float -> 2 float32, double ->
    /// 12 float64); or 1 int16, 2 float32, 6 uint8, 7 int32, 9 int8, 10 uint16,
    /// 11 uint32, 12 float64, 14 bool (values are cast, bool stores v != 0).
    int data_type = 0;
};

namespace detail {

struct DmWNode {
    std::string name;
    bool group = false;
    std::vector<DmWNode> children;
    std::vector<std::uint64_t> info;  // data tags: info array
    std::string payload;              // data tags: small payloads
    std::uint64_t big_bytes = 0;      // data tags: payload produced by a callback (the image data)
};

class DmWriter {
public:
    DmWriter(int version, bool little) : wide_(version == 4), little_(little), version_(version) {
        if (version != 3 && version != 4) throw value_error("write_dm: version must be 3 or 4");
    }

    template <class V>
    std::string value_bytes(V v) const {
        std::string s(sizeof(V), '\0');
        std::memcpy(&s[0], &v, sizeof(V));
        constexpr std::uint16_t probe = 1;
        const bool host_little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
        if (host_little != little_) std::reverse(s.begin(), s.end());
        return s;
    }

    DmWNode scalar(const std::string& name, std::uint64_t code, std::string bytes) const {
        DmWNode n;
        n.name = name;
        n.info = {code};
        n.payload = std::move(bytes);
        return n;
    }
    DmWNode u32(const std::string& name, std::uint32_t v) const { return scalar(name, dm_code::uint32, value_bytes(v)); }
    DmWNode f32(const std::string& name, float v) const { return scalar(name, dm_code::float32, value_bytes(v)); }
    DmWNode f64(const std::string& name, double v) const { return scalar(name, dm_code::float64, value_bytes(v)); }
    DmWNode text(const std::string& name, const std::string& utf8) const {
        // DM text: an array of UTF-16 code units (ASCII/Latin-1 here; other
        // UTF-8 sequences are decoded to their code point).
        DmWNode n;
        n.name = name;
        std::vector<std::uint16_t> units;
        for (std::size_t i = 0; i < utf8.size();) {
            const auto c = static_cast<unsigned char>(utf8[i]);
            std::uint32_t cp = c;
            std::size_t len = 1;
            if (c >= 0xC0 && c < 0xE0 && i + 1 < utf8.size()) cp = ((c & 0x1Fu) << 6) | (utf8[i + 1] & 0x3F), len = 2;
            else if (c >= 0xE0 && c < 0xF0 && i + 2 < utf8.size())
                cp = ((c & 0x0Fu) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F), len = 3;
            units.push_back(static_cast<std::uint16_t>(cp > 0xFFFF ? '?' : cp));
            i += len;
        }
        n.info = {dm_code::array, dm_code::uint16, units.size()};
        for (auto u : units) n.payload += value_bytes(u);
        return n;
    }
    static DmWNode group(const std::string& name, std::vector<DmWNode> children) {
        DmWNode n;
        n.name = name;
        n.group = true;
        n.children = std::move(children);
        return n;
    }

    // Bytes a tag occupies after its name (DM4 size field included for the
    // nested content count).
    std::uint64_t content_size(const DmWNode& n) const {
        const std::uint64_t w = wide_ ? 8 : 4;
        if (n.group) {
            std::uint64_t s = 2 + w;
            for (const auto& c : n.children) s += tag_size(c);
            return s;
        }
        return 4 + w + w * n.info.size() + n.payload.size() + n.big_bytes;
    }
    std::uint64_t tag_size(const DmWNode& n) const {
        return 1 + 2 + n.name.size() + (wide_ ? 8 : 0) + content_size(n);
    }

    template <class Big>
    void write(std::ostream& out, const DmWNode& root, Big&& big) {
        put_be(out, static_cast<std::uint64_t>(version_), 4);
        // Declared size: the bytes of the root group, as DM writes it.
        put_be(out, content_size(root), wide_ ? 8 : 4);
        put_be(out, little_ ? 1 : 0, 4);
        write_group_body(out, root, big);
        put_be(out, 0, 8);  // DM ends files with 8 zero bytes
        if (!out) throw io_error("write_dm: write failed");
    }

private:
    static void put_be(std::ostream& out, std::uint64_t v, std::size_t width) {
        char b[8];
        for (std::size_t i = 0; i < width; ++i) b[i] = static_cast<char>((v >> (8 * (width - 1 - i))) & 0xFF);
        out.write(b, static_cast<std::streamsize>(width));
    }
    template <class Big>
    void write_group_body(std::ostream& out, const DmWNode& g, Big& big) {
        out.put(0);  // sorted
        out.put(1);  // open
        put_be(out, g.children.size(), wide_ ? 8 : 4);
        for (const auto& c : g.children) {
            out.put(static_cast<char>(c.group ? 20 : 21));
            put_be(out, c.name.size(), 2);
            out.write(c.name.data(), static_cast<std::streamsize>(c.name.size()));
            if (wide_) put_be(out, content_size(c), 8);
            if (c.group) {
                write_group_body(out, c, big);
            } else {
                out.write("%%%%", 4);
                put_be(out, c.info.size(), wide_ ? 8 : 4);
                for (auto v : c.info) put_be(out, v, wide_ ? 8 : 4);
                out.write(c.payload.data(), static_cast<std::streamsize>(c.payload.size()));
                if (c.big_bytes) big(out);
            }
        }
    }

    bool wide_;
    bool little_;
    int version_;
};

template <class S, class T>
void dm_write_values(std::ostream& out, const T* src, const std::vector<std::size_t>& nav, std::size_t channels,
                     bool planes, bool little, bool as_bool) {
    std::size_t pixels = 1;
    for (auto n : nav) pixels *= n;
    constexpr std::uint16_t probe = 1;
    const bool swap = (*reinterpret_cast<const unsigned char*>(&probe) == 1) != little;
    constexpr std::size_t chunk = 1 << 16;
    std::vector<char> buf(chunk * sizeof(S));
    std::size_t used = 0;
    const auto emit = [&](T v) {
        S s = as_bool ? static_cast<S>(v != T(0)) : static_cast<S>(v);
        char* p = buf.data() + used * sizeof(S);
        std::memcpy(p, &s, sizeof(S));
        if (swap) std::reverse(p, p + sizeof(S));
        if (++used == chunk) {
            out.write(buf.data(), static_cast<std::streamsize>(used * sizeof(S)));
            used = 0;
        }
    };
    if (!planes) {
        for (std::size_t i = 0; i < pixels * channels; ++i) emit(src[i]);
    } else {
        // DM spectrum images: energy planes, DM's x (our last navigation
        // index) fastest within a plane, i.e. plane e = values[:, e].
        for (std::size_t e = 0; e < channels; ++e)
            for (std::size_t p = 0; p < pixels; ++p) emit(src[p * channels + e]);
    }
    out.write(buf.data(), static_cast<std::streamsize>(used * sizeof(S)));
}

}  // namespace detail

/// Writes `image` as a DM file to `out` (see the file comment for the layout).
/// Throws value_error for bad options, io_error when writing fails.
template <class T>
void write_dm(std::ostream& out, const grid::SpectrumImage<T>& image, const DmWriteOptions& options = {}) {
    detail::DmWriter w(options.version, options.little_endian);
    int type = options.data_type;
    if (type == 0) type = std::is_same<T, float>::value ? 2 : 12;
    std::uint64_t code = 0;
    switch (type) {
        case 1: code = dm_code::int16; break;
        case 2: code = dm_code::float32; break;
        case 6: code = dm_code::uint8; break;
        case 7: code = dm_code::int32; break;
        case 9: code = dm_code::int8; break;
        case 10: code = dm_code::uint16; break;
        case 11: code = dm_code::uint32; break;
        case 12: code = dm_code::float64; break;
        case 14: code = dm_code::boolean; break;
        default: throw value_error("write_dm: unsupported DM data type " + std::to_string(type));
    }
    const auto& nav = image.navigation_shape();
    const std::size_t channels = image.channel_count();
    const bool spectrum = nav.size() == 1 && nav[0] == 1;
    const bool planes = nav.size() >= 2;
    const auto uniform = image.axis().as_uniform();

    // DM dimensions, fastest first, with their calibrations.
    struct Dim {
        std::size_t size;
        double origin, scale;
        std::string units;
    };
    std::vector<Dim> dims;
    const Dim energy{channels, -uniform.offset() / uniform.scale(), uniform.scale(), image.axis().units()};
    if (spectrum) {
        dims.push_back(energy);
    } else if (!planes) {
        dims.push_back(energy);
        dims.push_back({nav[0], 0.0, 1.0, ""});
    } else {
        for (std::size_t k = nav.size(); k-- > 0;) dims.push_back({nav[k], 0.0, 1.0, ""});
        dims.push_back(energy);
    }
    std::vector<detail::DmWNode> dim_sizes, cal_dims;
    for (const auto& d : dims) {
        dim_sizes.push_back(w.u32("", static_cast<std::uint32_t>(d.size)));
        cal_dims.push_back(detail::DmWriter::group(
            "", {w.f32("Origin", static_cast<float>(d.origin)), w.f32("Scale", static_cast<float>(d.scale)),
                 w.text("Units", d.units)}));
    }
    std::size_t total = channels;
    for (auto n : nav) total *= n;
    detail::DmWNode data;
    data.name = "Data";
    data.info = {dm_code::array, code, total};
    data.big_bytes = total * dm_simple_size(code);

    const auto& md = image.metadata();
    std::vector<detail::DmWNode> meta = {w.text("Format", spectrum ? "Spectrum" : "Spectrum image")};
    if (md.technique == grid::Technique::eels || md.signal_type == "EELS") meta.push_back(w.text("Signal", "EELS"));
    std::vector<detail::DmWNode> image_tags = {detail::DmWriter::group("Meta Data", std::move(meta))};
    if (md.beam_energy_kev)
        image_tags.push_back(detail::DmWriter::group("Microscope Info", {w.f64("Voltage", *md.beam_energy_kev * 1e3)}));
    std::vector<detail::DmWNode> cond, acq;
    if (md.collection_semiangle_mrad) cond.push_back(w.f64("Collection semi-angle (mrad)", *md.collection_semiangle_mrad));
    if (md.convergence_semiangle_mrad) cond.push_back(w.f64("Convergence semi-angle (mrad)", *md.convergence_semiangle_mrad));
    if (md.exposure_s) acq.push_back(w.f64("Integration time (s)", *md.exposure_s));
    if (!cond.empty() || !acq.empty())
        image_tags.push_back(detail::DmWriter::group(
            "EELS", {detail::DmWriter::group("Acquisition", std::move(acq)),
                     detail::DmWriter::group("Experimental Conditions", std::move(cond))}));

    detail::DmWNode image_data = detail::DmWriter::group(
        "ImageData",
        {detail::DmWriter::group("Calibrations", {detail::DmWriter::group("Dimension", std::move(cal_dims))}),
         std::move(data), w.u32("DataType", static_cast<std::uint32_t>(type)),
         detail::DmWriter::group("Dimensions", std::move(dim_sizes)),
         w.u32("PixelDepth", static_cast<std::uint32_t>(dm_simple_size(code)))});
    detail::DmWNode entry = detail::DmWriter::group(
        "", {std::move(image_data), detail::DmWriter::group("ImageTags", std::move(image_tags)), w.text("Name", md.title)});
    detail::DmWNode root = detail::DmWriter::group("", {detail::DmWriter::group("ImageList", {std::move(entry)})});

    const T* src = image.data().data();
    const bool little = options.little_endian;
    w.write(out, root, [&](std::ostream& o) {
        switch (code) {
            case dm_code::int16: return detail::dm_write_values<std::int16_t>(o, src, nav, channels, planes, little, false);
            case dm_code::float32: return detail::dm_write_values<float>(o, src, nav, channels, planes, little, false);
            case dm_code::uint8: return detail::dm_write_values<std::uint8_t>(o, src, nav, channels, planes, little, false);
            case dm_code::int32: return detail::dm_write_values<std::int32_t>(o, src, nav, channels, planes, little, false);
            case dm_code::int8: return detail::dm_write_values<std::int8_t>(o, src, nav, channels, planes, little, false);
            case dm_code::uint16: return detail::dm_write_values<std::uint16_t>(o, src, nav, channels, planes, little, false);
            case dm_code::uint32: return detail::dm_write_values<std::uint32_t>(o, src, nav, channels, planes, little, false);
            case dm_code::float64: return detail::dm_write_values<double>(o, src, nav, channels, planes, little, false);
            default: return detail::dm_write_values<std::uint8_t>(o, src, nav, channels, planes, little, true);
        }
    });
}

/// Writes `image` as a DM file at `path`. Throws io_error when the file
/// cannot be written.
template <class T>
void write_dm(const std::filesystem::path& path, const grid::SpectrumImage<T>& image,
              const DmWriteOptions& options = {}) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error("cannot open '" + path.string() + "' for writing");
    write_dm(out, image, options);
    out.close();
    if (!out) throw io_error("error while writing '" + path.string() + "'");
}

}  // namespace corespec::io
