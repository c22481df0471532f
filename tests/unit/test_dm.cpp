#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/dm.hpp"
#include "corespec/io/dm_write.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using io::detail::DmWNode;
using io::detail::DmWriter;

namespace {

// A spectrum image with distinct values (i * step + first).
template <class T>
grid::SpectrumImage<T> ramp(const std::vector<std::size_t>& nav, std::size_t channels, double first = 1.0,
                            double step = 1.0) {
    auto si = grid::SpectrumImage<T>::zeros(nav, grid::EnergyAxis::uniform(-12.5, 0.25, channels));
    for (std::size_t i = 0; i < si.data().size(); ++i) si.data().data()[i] = static_cast<T>(first + step * i);
    return si;
}

template <class T>
std::string dm_bytes(const grid::SpectrumImage<T>& si, io::DmWriteOptions o = {}) {
    std::ostringstream out;
    io::write_dm(out, si, o);
    return out.str();
}

// A file holding `root` (an ImageList tree) and `big` raw bytes for a tag with big_bytes.
std::string tree_bytes(const DmWNode& root, int version = 4, const std::string& big = {}) {
    DmWriter w(version, true);
    std::ostringstream out;
    w.write(out, root, [&](std::ostream& o) { o.write(big.data(), static_cast<std::streamsize>(big.size())); });
    return out.str();
}

// One ImageList entry with DataType `type`, a Data tag `data` and DM dimensions `dims`.
DmWNode image_tree(DmWriter& w, std::uint32_t type, DmWNode data, const std::vector<std::uint32_t>& dims,
                   std::vector<DmWNode> calibrations = {}) {
    std::vector<DmWNode> d;
    for (auto n : dims) d.push_back(w.u32("", n));
    data.name = "Data";
    std::vector<DmWNode> image_data = {std::move(data), w.u32("DataType", type), DmWriter::group("Dimensions", d)};
    if (!calibrations.empty())
        image_data.push_back(
            DmWriter::group("Calibrations", {DmWriter::group("Dimension", std::move(calibrations))}));
    return DmWriter::group(
        "", {DmWriter::group("ImageList", {DmWriter::group("", {DmWriter::group("ImageData", image_data)})})});
}

DmWNode raw_array(std::uint64_t code, std::uint64_t count, std::string payload) {
    DmWNode n;
    n.info = {io::dm_code::array, code, count};
    n.payload = std::move(payload);
    return n;
}

template <class V>
std::string le_bytes(const std::vector<V>& v) {
    std::string s(v.size() * sizeof(V), '\0');
    std::memcpy(&s[0], v.data(), s.size());
    return s;
}

void expect_parse_error(const std::string& bytes, const std::string& what = {}) {
    try {
        (void)io::parse_dm<double>(bytes.data(), bytes.size(), "t.dm4");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "t.dm4");
        CHECK(e.location().rfind("offset ", 0) == 0);
        if (!what.empty()) CHECK_MESSAGE(e.reason().find(what) != std::string::npos, e.what());
    }
}

}  // namespace

TEST_CASE("dm: write then read a spectrum, a line scan, a map and a 3-D scan (DM3/DM4, both byte orders)") {
    for (int version : {3, 4})
        for (bool little : {true, false})
            for (const auto& nav : std::vector<std::vector<std::size_t>>{{1}, {5}, {2, 3}, {2, 3, 4}, {9, 3}}) {
                // 21 channels x 27 pixels: tiles of 8 and the edges left over.
                auto si = ramp<float>(nav, nav.size() == 2 && nav[0] == 9 ? 21 : 7, -3.0, 0.5);
                si.metadata().title = "ramp µ";
                si.metadata().technique = grid::Technique::eels;
                si.metadata().beam_energy_kev = 300.0;
                si.metadata().collection_semiangle_mrad = 25.0;
                si.metadata().convergence_semiangle_mrad = 10.0;
                si.metadata().exposure_s = 0.5;
                const std::string b = dm_bytes(si, {version, little, 0});
                io::FileInfo info;
                const auto r = io::parse_dm<float>(b.data(), b.size(), "mem", &info);
                CAPTURE(version);
                CAPTURE(little);
                CAPTURE(nav.size());
                CHECK(r.navigation_shape() == nav);
                CHECK(r.data() == si.data());
                CHECK(io::parse_dm<double>(b.data(), b.size()).data() == xt::xarray<double>(si.data()));
                CHECK(r.axis().approx_equal(si.axis(), 0.0));
                CHECK(info.format == (version == 4 ? io::Format::dm4 : io::Format::dm3));
                CHECK(info.dtype == "float32");
                REQUIRE(info.axes.size() == (nav == std::vector<std::size_t>{1} ? 1 : nav.size() + 1));
                CHECK(info.axes.back().name == "Energy loss");
                CHECK(!info.axes.back().navigate);
                CHECK(info.axes.front().navigate == (nav.size() > 1 || nav[0] > 1));
                const auto& md = r.metadata();
                CHECK(md.title == "ramp µ");
                CHECK(md.signal_type == "EELS");
                CHECK(md.technique == grid::Technique::eels);
                CHECK(md.beam_energy_kev == 300.0);
                CHECK(md.collection_semiangle_mrad == 25.0);
                CHECK(md.convergence_semiangle_mrad == 10.0);
                CHECK(md.exposure_s == 0.5);
                CHECK(md.extra.at("dm.Meta Data.Signal") == "EELS");
            }
}

TEST_CASE("dm: every stored integer, float and bool type reads back") {
    const auto si = ramp<double>({2, 3}, 4, 0.0, 1.0);
    for (int type : {1, 2, 6, 7, 9, 10, 11, 12, 14}) {
        CAPTURE(type);
        const std::string b = dm_bytes(si, {4, type % 2 == 0, type});
        io::FileInfo info;
        const auto r = io::parse_dm<double>(b.data(), b.size(), "mem", &info);
        const char* names[] = {"", "int16", "float32", "", "", "", "uint8", "int32", "", "int8",
                               "uint16", "uint32", "float64", "", "bool"};
        CHECK(info.dtype == names[type]);
        for (std::size_t i = 0; i < si.data().size(); ++i)
            CHECK(r.data().data()[i] == (type == 14 ? (i != 0 ? 1.0 : 0.0) : static_cast<double>(i)));
    }
    // Negative values of signed types survive the cast.
    const auto neg = ramp<double>({1}, 4, -2.0, 1.0);
    for (int type : {1, 7, 9}) {
        const std::string b = dm_bytes(neg, {3, false, type});
        const auto r = io::parse_dm<double>(b.data(), b.size());
        CHECK(r.data()(0, 0) == -2.0);
        CHECK(r.data()(0, 3) == 1.0);
    }
}

TEST_CASE("dm: 64-bit integer data (a DataType HyperSpy does not list) is read by the array's element type") {
    DmWriter w(4, true);
    const std::vector<std::int64_t> v = {-5, 1LL << 40, 7};
    const std::vector<std::uint64_t> u = {1, 2, 3};
    const auto b1 = tree_bytes(image_tree(w, 39, raw_array(io::dm_code::int64, 3, le_bytes(v)), {3}));
    io::FileInfo info;
    const auto r = io::parse_dm<double>(b1.data(), b1.size(), "mem", &info);
    CHECK(info.dtype == "int64");
    CHECK(r.data()(0, 0) == -5.0);
    CHECK(r.data()(0, 1) == std::ldexp(1.0, 40));
    const auto b2 = tree_bytes(image_tree(w, 40, raw_array(io::dm_code::uint64, 3, le_bytes(u)), {3}));
    CHECK(io::parse_dm<float>(b2.data(), b2.size(), "mem", &info).data()(0, 2) == 3.0f);
    CHECK(info.dtype == "uint64");
}

TEST_CASE("dm: complex and RGBA images are refused as spectra and read as components") {
    DmWriter w(3, true);
    const std::vector<float> c = {1.f, -1.f, 2.f, 0.5f};
    const auto b = tree_bytes(image_tree(w, 3, raw_array(io::dm_code::float32, 4, le_bytes(c)), {2}), 3);
    CHECK_THROWS_AS(io::parse_dm<double>(b.data(), b.size()), unsupported_error);
    io::FileInfo info;
    const auto a = io::parse_dm_array<double>(b.data(), b.size(), "mem", &info);
    CHECK(info.dtype == "complex64");
    REQUIRE(a.shape() == std::vector<std::size_t>{2, 2});
    CHECK(a(1, 0) == 2.0);
    CHECK(a(1, 1) == 0.5);
    // RGBA is stored B, G, R, A and reported R, G, B, A.
    const std::vector<std::uint8_t> px = {10, 20, 30, 40, 1, 2, 3, 4};
    const auto rgba = tree_bytes(image_tree(w, 23, raw_array(io::dm_code::uint8, 8, le_bytes(px)), {2}), 3);
    CHECK_THROWS_AS(io::parse_dm<double>(rgba.data(), rgba.size()), unsupported_error);
    const auto ra = io::parse_dm_array<double>(rgba.data(), rgba.size(), "mem", &info);
    CHECK(info.dtype == "rgba8");
    CHECK(ra(0, 0) == 30.0);
    CHECK(ra(0, 2) == 10.0);
    CHECK(ra(1, 3) == 4.0);
    // Packed complex FFT data is not supported.
    const auto packed = tree_bytes(image_tree(w, 27, raw_array(io::dm_code::float32, 4, le_bytes(c)), {2}), 3);
    CHECK_THROWS_AS(io::parse_dm_array<double>(packed.data(), packed.size()), unsupported_error);
}

TEST_CASE("dm: thumbnails are skipped as HyperSpy skips them; big-endian components swap") {
    DmWriter w(4, true);
    const std::vector<float> thumb = {9.f, 9.f}, data = {1.f, 2.f, 3.f};
    DmWNode first = image_tree(w, 2, raw_array(io::dm_code::float32, 2, le_bytes(thumb)), {2});
    DmWNode second = image_tree(w, 2, raw_array(io::dm_code::float32, 3, le_bytes(data)), {3});
    DmWNode list = first.children[0];
    list.children.push_back(second.children[0].children[0]);
    DmWNode thumbnails = DmWriter::group("Thumbnails", {DmWriter::group("", {w.u32("ImageIndex", 0)})});
    const auto b = tree_bytes(DmWriter::group("", {list, thumbnails}));
    const io::DmFile f = io::parse_dm_tags(b.data(), b.size());
    CHECK(f.images().size() == 1);
    const auto r = io::parse_dm<double>(b.data(), b.size());
    CHECK(r.channel_count() == 3);
    CHECK(r.data()(0, 2) == 3.0);
    // Without the Thumbnails group both are images and the first is read.
    const auto b2 = tree_bytes(DmWriter::group("", {list}));
    CHECK(io::parse_dm_tags(b2.data(), b2.size()).images().size() == 2);
    CHECK(io::parse_dm<double>(b2.data(), b2.size()).channel_count() == 2);

    // A big-endian complex128 image: each component byte-swapped.
    DmWriter be(3, false);
    DmWNode c = raw_array(io::dm_code::float64, 4, be.value_bytes(1.5) + be.value_bytes(-2.0) +
                                                      be.value_bytes(3.0) + be.value_bytes(0.25));
    std::ostringstream out;
    be.write(out, image_tree(be, 13, c, {2}), [](std::ostream&) {});
    const std::string cb = out.str();
    io::FileInfo info;
    const auto a = io::parse_dm_array<float>(cb.data(), cb.size(), "mem", &info);
    CHECK(info.dtype == "complex128");
    CHECK(info.format == io::Format::dm3);
    CHECK(a(0, 1) == -2.0f);
    CHECK(a(1, 1) == 0.25f);
}

TEST_CASE("dm: the tag tree is open to users") {
    auto si = ramp<float>({2}, 3);
    si.metadata().exposure_s = 2.0;
    const std::string b = dm_bytes(si);
    const io::DmFile f = io::parse_dm_tags(b.data(), b.size());
    CHECK(f.version == 4);
    CHECK(f.little_endian);
    const auto images = f.images();
    REQUIRE(images.size() == 1);
    const io::DmTag* type = images[0]->find({"ImageData", "DataType"});
    REQUIRE(type);
    CHECK(type->number() == 2.0);
    // HyperSpy-style loose names: "Integration_time_s" finds "Integration time (s)".
    const io::DmTag* t = images[0]->find({"ImageTags", "EELS", "Acquisition", "Integration_time_s"});
    REQUIRE(t);
    CHECK(t->number() == 2.0);
    const io::DmTag* data = images[0]->find({"ImageData", "Data"});
    REQUIRE(data);
    CHECK(data->count == 6);
    CHECK(data->byte_size == 24);
    CHECK(!data->decoded);
    CHECK(f.root.find({"ImageList", "TagGroup0", "Name"}) != nullptr);
    CHECK(f.root.find({"ImageList", "missing"}) == nullptr);
}

TEST_CASE("dm: dates and times are read as HyperSpy (dateutil) reads them") {
    CHECK(io::detail::dm_iso_date("8/8/2016") == "2016-08-08");
    CHECK(io::detail::dm_iso_date("12/19/2017") == "2017-12-19");
    CHECK(io::detail::dm_iso_date("14/05/2019") == "2019-05-14");
    CHECK(io::detail::dm_iso_date("2019-05-14") == "2019-05-14");
    CHECK(io::detail::dm_iso_date("garbage").empty());
    CHECK(io::detail::dm_iso_time("7:35:17 PM") == "19:35:17");
    CHECK(io::detail::dm_iso_time("12:02:18 AM") == "00:02:18");
    CHECK(io::detail::dm_iso_time("20:50:13") == "20:50:13");
    CHECK(io::detail::dm_iso_time("x").empty());
}

TEST_CASE("dm: truncation at every offset is a parse_error") {
    for (int version : {3, 4}) {
        auto si = ramp<float>({2, 2}, 3);
        si.metadata().beam_energy_kev = 200.0;
        const std::string b = dm_bytes(si, {version, true, 1});
        // The last 8 bytes are DM's zero padding after the root group.
        for (std::size_t n = 0; n + 8 < b.size(); ++n) {
            CAPTURE(n);
            const std::string cut = b.substr(0, n);
            CHECK_THROWS_AS(io::parse_dm<double>(cut.data(), cut.size()), parse_error);
        }
        CHECK_NOTHROW(io::parse_dm<double>(b.data(), b.size() - 8));
    }
}

TEST_CASE("dm: hostile headers, type codes and counts are parse_errors") {
    const std::string good = dm_bytes(ramp<float>({1}, 4));
    std::string b = good;
    b[3] = 5;  // version 5
    expect_parse_error(b, "version");
    b = good;
    b[15] = 7;  // byte order flag
    expect_parse_error(b, "byte order");
    expect_parse_error(std::string("\0\0\0", 3), "truncated");

    DmWriter w(4, true);
    // A data tag whose type code is not a type.
    DmWNode bad;
    bad.name = "Bad";
    bad.info = {99};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "not a numeric type");
    bad.info = {io::dm_code::array, 77, 1};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "not a numeric type");
    bad.info = {io::dm_code::structure, 0, 2, 0, io::dm_code::float32, 0, 99};
    bad.payload = std::string(8, '\0');
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "not a numeric type");
    // Counts that would allocate terabytes.
    bad.payload.clear();
    bad.info = {io::dm_code::array, io::dm_code::float64, std::uint64_t(1) << 40};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "exceeds");
    bad.info = {io::dm_code::array, io::dm_code::float64, ~std::uint64_t(0)};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "exceeds");
    bad.info = {io::dm_code::array, io::dm_code::array, io::dm_code::float64, std::uint64_t(1) << 62, 4};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})));
    bad.info = {io::dm_code::array, io::dm_code::structure, 0, std::uint64_t(1) << 61, 0, 6, 3};
    expect_parse_error(tree_bytes(DmWriter::group("", {bad})), "struct");
    // A group declaring 2^40 tags, an info array of 2^60 entries.
    std::string g = tree_bytes(DmWriter::group("", {}));
    for (int i = 0; i < 3; ++i) g[18 + i] = '\x01';  // DM4 root ntags (bytes 18..25)
    expect_parse_error(g, "tags");
    std::string info = tree_bytes(DmWriter::group("", {w.u32("x", 1)}));
    info[26 + 1 + 2 + 1 + 8 + 4] = '\x10';  // high byte of the info array length
    expect_parse_error(info, "info array");
    // A missing delimiter and an unknown tag type.
    std::string delim = tree_bytes(DmWriter::group("", {w.u32("x", 1)}));
    delim[26 + 1 + 2 + 1 + 8] = '#';
    expect_parse_error(delim, "delimiter");
    std::string tag = delim;
    tag[26] = 22;
    expect_parse_error(tag, "tag type");
    // A file without images.
    expect_parse_error(tree_bytes(DmWriter::group("", {w.u32("x", 1)})), "no image");
}

TEST_CASE("dm: recursion bombs stop at the depth cap, without a deep stack") {
    for (std::size_t depth : {std::size_t(70), std::size_t(200000)}) {
        std::string b;
        const auto be32 = [&](std::uint32_t v) {
            for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xFF);
        };
        be32(3);
        be32(0);
        be32(1);
        b += std::string("\0\1", 2);
        be32(1);
        for (std::size_t i = 0; i < depth; ++i) {
            b += '\x14';
            b += std::string("\0\0\0\1", 4);  // name length 0, sorted, open
            be32(1);
        }
        expect_parse_error(b, "nested deeper");
    }
}

TEST_CASE("dm: image dimensions must match the data block") {
    DmWriter w(4, true);
    const std::vector<float> v(6, 1.0f);
    const auto data = [&] { return raw_array(io::dm_code::float32, 6, le_bytes(v)); };
    CHECK_NOTHROW(io::parse_dm<double>(tree_bytes(image_tree(w, 2, data(), {3, 2})).data(),
                                       tree_bytes(image_tree(w, 2, data(), {3, 2})).size()));
    expect_parse_error(tree_bytes(image_tree(w, 2, data(), {4, 2})), "dimension");
    expect_parse_error(tree_bytes(image_tree(w, 2, data(), {2, 2})), "dimensions need");
    expect_parse_error(tree_bytes(image_tree(w, 2, data(), {0, 6})), "dimension");
    expect_parse_error(tree_bytes(image_tree(w, 2, data(), {65536, 65536, 65536})), "dimension");
    expect_parse_error(tree_bytes(image_tree(w, 1, data(), {3, 2})), "dimensions need");  // int16: 12 bytes
    // Non-numeric fields where numbers belong.
    DmWNode text_type = w.text("DataType", "two");
    DmWNode tree = image_tree(w, 2, data(), {3, 2});
    tree.children[0].children[0].children[0].children[1] = text_type;
    expect_parse_error(tree_bytes(tree), "DataType");
    // A NaN calibration.
    const auto cal = [&](float origin) {
        return DmWriter::group("", {w.f32("Origin", origin), w.f32("Scale", 1.0f), w.text("Units", "eV")});
    };
    expect_parse_error(tree_bytes(image_tree(w, 2, data(), {6}, {cal(std::nanf(""))})), "not finite");
    // A calibration that cannot be an energy axis is reported as such.
    auto zero_scale = DmWriter::group("", {w.f32("Origin", 0.f), w.f32("Scale", 0.f), w.text("Units", "eV")});
    const auto zs = tree_bytes(image_tree(w, 2, data(), {6}, {zero_scale}));
    CHECK_THROWS_AS(io::parse_dm<double>(zs.data(), zs.size()), unsupported_error);
    CHECK_NOTHROW(io::parse_dm_array<double>(zs.data(), zs.size()));
}

TEST_CASE("dm: read_dm reports unreadable paths as io_error") {
    CHECK_THROWS_AS(io::read_dm<double>("/nonexistent/file.dm4"), io_error);
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_dm_roundtrip.dm4";
    const auto si = ramp<double>({2, 2}, 5);
    io::write_dm(path, si);
    const auto r = io::read_dm<double>(path);
    CHECK(r.data() == si.data());
    std::filesystem::remove(path);
}

// ---------------------------------------------------------------- reference

namespace {

// A float64 C-order .npy file (the reference arrays).
std::vector<double> read_npy_f8(const std::filesystem::path& path, std::vector<std::size_t>& shape) {
    const std::string s = corespec_test::read_text(path);
    REQUIRE(s.size() > 10);
    REQUIRE(s.compare(1, 5, "NUMPY") == 0);
    const std::size_t header_len = static_cast<unsigned char>(s[8]) | (static_cast<unsigned char>(s[9]) << 8);
    const std::string header = s.substr(10, header_len);
    REQUIRE(header.find("'<f8'") != std::string::npos);
    REQUIRE(header.find("'fortran_order': False") != std::string::npos);
    shape.clear();
    const auto open = header.find('(', header.find("'shape'"));
    const auto close = header.find(')', open);
    std::istringstream dims(header.substr(open + 1, close - open - 1));
    std::string item;
    while (std::getline(dims, item, ','))
        if (item.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoul(item));
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    REQUIRE(s.size() == 10 + header_len + 8 * n);
    std::vector<double> v(n);
    std::memcpy(v.data(), s.data() + 10 + header_len, 8 * n);
    return v;
}

double number(const nlohmann::json& j) { return j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>(); }

void check_close(double actual, double expected, double rel) {
    CHECK(std::abs(actual - expected) <= rel * std::max(1.0, std::abs(expected)));
}

std::optional<double> extra_number(const grid::Metadata& md, const std::string& key) {
    const auto it = md.extra.find(key);
    if (it == md.extra.end()) return std::nullopt;
    return std::stod(it->second);
}

}  // namespace

CORESPEC_REFERENCE_TEST("dm: every DM3/DM4 file in shared/data/eels reads as HyperSpy 1.7.3 reads it") {
    const auto ref = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::shared_path("reference/eels_read.json")))["fixtures"];
    const auto root = corespec_test::shared_path("data/eels");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".dm3" || ext == ".dm4")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 38);
    std::size_t spectra = 0, components = 0;
    for (const auto& path : files) {
        const std::string key = "data/eels/" + std::filesystem::relative(path, root).generic_string();
        CAPTURE(key);
        REQUIRE(ref.contains(key));
        const auto& r = ref[key];
        io::FileInfo info;
        const auto a = io::read_dm_array<double>(path, &info);
        CHECK(info.format == (path.extension() == ".dm4" ? io::Format::dm4 : io::Format::dm3));

        // Every value, against the saved float64 array (same layout).
        std::vector<std::size_t> npy_shape;
        const auto values = read_npy_f8(corespec_test::shared_path("reference/" + r["data_array"].get<std::string>()),
                                        npy_shape);
        REQUIRE(std::vector<std::size_t>(a.shape().begin(), a.shape().end()) == npy_shape);
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < values.size(); ++i) mismatches += a.data()[i] != values[i];
        CHECK(mismatches == 0);

        const std::string dtype = r["dtype"].get<std::string>();
        const bool rgba = dtype.rfind("[('R'", 0) == 0;
        const bool complex = dtype.rfind("complex", 0) == 0;
        CHECK(info.dtype == (rgba ? std::string("rgba8") : dtype));
        std::vector<std::size_t> shape = r["array_shape"].get<std::vector<std::size_t>>();
        if (complex) shape.push_back(2);
        if (rgba) shape.push_back(4);
        CHECK(npy_shape == shape);

        // Sum and first / last, per component.
        const std::size_t nc = complex ? 2 : rgba ? 4 : 1;
        const char* fields[] = {"R", "G", "B", "A"};
        for (std::size_t c = 0; c < nc; ++c) {
            double sum = 0.0;
            for (std::size_t i = c; i < a.size(); i += nc) sum += a.data()[i];
            const auto& s = r["sum_float64"];
            const double expected = complex ? s[c == 0 ? "real" : "imag"].get<double>()
                                    : rgba  ? s[fields[c]].get<double>()
                                            : s.get<double>();
            check_close(sum, expected, 1e-12);
            const auto& f = r["first"];
            const auto& l = r["last"];
            const double first = number(complex ? f[c] : rgba ? f[fields[c]] : f);
            const double last = number(complex ? l[c] : rgba ? l[fields[c]] : l);
            CHECK(a.data()[c] == first);
            CHECK(a.data()[a.size() - nc + c] == last);
        }

        // Axes in array order.
        std::vector<nlohmann::json> axes(r["array_shape"].size());
        for (const auto* group : {&r["navigation_axes"], &r["signal_axes"]})
            for (const auto& ax : *group) axes.at(ax["index_in_array"].get<std::size_t>()) = ax;
        REQUIRE(info.axes.size() == axes.size());
        for (std::size_t k = 0; k < axes.size(); ++k) {
            CHECK(info.axes[k].name == axes[k]["name"].get<std::string>());
            CHECK(info.axes[k].size == axes[k]["size"].get<std::size_t>());
            CHECK(info.axes[k].scale == axes[k]["scale"].get<double>());
            check_close(info.axes[k].offset, axes[k]["offset"].get<double>(), 1e-15);
            CHECK(info.axes[k].units == axes[k]["units"].get<std::string>());
            CHECK(info.axes[k].navigate == axes[k]["navigate"].get<bool>());
        }

        if (complex || rgba) {
            CHECK_THROWS_AS(io::read_dm<double>(path), unsupported_error);
            ++components;
            continue;
        }
        ++spectra;
        // The SpectrumImage: navigation, then the energy axis of the last array axis.
        io::FileInfo info2;
        const auto si = io::read_dm<double>(path, &info2);
        const auto sf = io::read_dm<float>(path);
        std::vector<std::size_t> nav(shape.begin(), shape.end() - 1);
        if (nav.empty()) nav = {1};
        CHECK(si.navigation_shape() == nav);
        CHECK(si.channel_count() == shape.back());
        CHECK(info2.dtype == info.dtype);
        const auto u = si.axis().as_uniform();
        CHECK(u.scale() == axes.back()["scale"].get<double>());
        check_close(u.offset(), axes.back()["offset"].get<double>(), 1e-15);
        CHECK(si.axis().units() == axes.back()["units"].get<std::string>());
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (si.data().data()[i] != values[i] || sf.data().data()[i] != static_cast<float>(values[i])) {
                FAIL("value " << i << " differs");
                break;
            }
        }

        // Metadata.
        const auto& m = r["metadata"];
        const auto& md = si.metadata();
        CHECK(md.title == m["title"].get<std::string>());
        CHECK(md.signal_type == m["signal_type"].get<std::string>());
        CHECK((md.technique == grid::Technique::eels) == (m["signal_type"] == "EELS"));
        const auto opt = [&](const char* k) {
            return m[k].is_null() ? std::optional<double>() : std::optional<double>(m[k].get<double>());
        };
        CHECK(md.beam_energy_kev == opt("beam_energy"));
        CHECK(md.convergence_semiangle_mrad == opt("convergence_angle"));
        CHECK(md.collection_semiangle_mrad == opt("collection_angle"));
        CHECK(md.exposure_s == opt("exposure"));
        CHECK(extra_number(md, "dm.dwell_time_s") == opt("dwell_time"));
        CHECK(extra_number(md, "dm.frame_number") == opt("frame_number"));
        CHECK(extra_number(md, "dm.aperture_size_mm") == opt("aperture_size"));
        CHECK(extra_number(md, "dm.magnification") == opt("magnification"));
        CHECK(extra_number(md, "dm.camera_length") == opt("camera_length"));
        CHECK(extra_number(md, "dm.beam_current_nA") == opt("beam_current"));
        for (const char* k : {"date", "time", "quantity", "spectrometer", "microscope", "acquisition_mode"}) {
            CAPTURE(k);
            const auto it = md.extra.find(std::string("dm.") + k);
            if (m[k].is_null()) CHECK(it == md.extra.end());
            else CHECK((it != md.extra.end() && it->second == m[k].get<std::string>()));
        }
        if (!r["acquisition_instrument"].is_null() && r["acquisition_instrument"]["TEM"].contains("Stage")) {
            const auto& stage = r["acquisition_instrument"]["TEM"]["Stage"];
            for (const char* k : {"x", "y", "z"})
                if (stage.contains(k)) CHECK(extra_number(md, std::string("dm.stage_") + k) == stage[k].get<double>());
            if (stage.contains("tilt_alpha"))
                CHECK(extra_number(md, "dm.stage_tilt_alpha") == stage["tilt_alpha"].get<double>());
        }
    }
    CHECK(spectra >= 26);
    CHECK(components >= 12);
}
