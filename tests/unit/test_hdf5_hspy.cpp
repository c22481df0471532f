// HyperSpy .hspy through the HDF5 C library (compiled when corespec::hdf5 is linked).
#include <doctest/doctest.h>

#if defined(CORESPEC_HAVE_HDF5)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/io/hspy.hpp"
#include "corespec/io/npy.hpp"
#include "corespec/io/read.hpp"
#include "support/shared_data.hpp"

using namespace corespec;

namespace {

std::filesystem::path temp_file(const std::string& name) { return std::filesystem::temp_directory_path() / name; }

template <class T>
grid::SpectrumImage<T> ramp_image(std::vector<std::size_t> nav, std::size_t channels) {
    grid::Metadata md;
    md.title = "Ni L/O K ramp";
    md.signal_type = "EELS";
    md.beam_energy_kev = 200.0;
    md.convergence_semiangle_mrad = 21.5;
    md.collection_semiangle_mrad = 35.0;
    md.exposure_s = 0.25;
    auto si = grid::SpectrumImage<T>::zeros(nav, grid::EnergyAxis::uniform(400.25, 0.5, channels), md);
    auto& d = si.data();
    for (std::size_t i = 0; i < d.size(); ++i) d.data()[i] = static_cast<T>(0.5 * double(i % 977) - 3.0);
    return si;
}

std::string file_bytes(const std::filesystem::path& p) { return corespec_test::read_text(p); }

// Opens a file read-write for the tests that break a good file on purpose.
struct RwFile {
    explicit RwFile(const std::filesystem::path& p) : id(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) { REQUIRE(id >= 0); }
    ~RwFile() { H5Fclose(id); }
    hid_t id;
};

}  // namespace

TEST_CASE_TEMPLATE("hspy: write then read, gzip and uncompressed, every axis and the metadata", T, float, double) {
    for (const int gzip : {0, 4}) {
        for (const auto& nav : {std::vector<std::size_t>{1}, std::vector<std::size_t>{5}, std::vector<std::size_t>{3, 4}}) {
            CAPTURE(gzip);
            CAPTURE(nav.size());
            const auto si = ramp_image<T>(nav, 300);
            const auto path = temp_file("corespec_test_hspy_rt.hspy");
            io::HspyWriteOptions o;
            o.gzip_level = gzip;
            io::write_hspy(path, si, o);
            io::FileInfo info;
            const auto r = io::read_hspy<T>(path, &info);
            CHECK(r.data() == si.data());
            CHECK(r.navigation_shape() == si.navigation_shape());
            CHECK(r.axis().approx_equal(si.axis(), 0.0));
            CHECK(r.axis().units() == "eV");
            CHECK(info.format == io::Format::hspy);
            CHECK(info.dtype == (sizeof(T) == 4 ? "float32" : "float64"));
            const std::size_t rank = nav.size() == 1 && nav[0] == 1 ? 1 : nav.size() + 1;
            REQUIRE(info.axes.size() == rank);
            CHECK(info.axes.back().name == "Energy loss");
            CHECK_FALSE(info.axes.back().navigate);
            for (std::size_t i = 0; i + 1 < rank; ++i) CHECK(info.axes[i].navigate);
            const auto& md = r.metadata();
            CHECK(md.title == "Ni L/O K ramp");
            CHECK(md.signal_type == "EELS");
            CHECK(md.technique == grid::Technique::eels);
            CHECK(md.beam_energy_kev == 200.0);
            CHECK(md.convergence_semiangle_mrad == 21.5);
            CHECK(md.collection_semiangle_mrad == 35.0);
            CHECK(md.exposure_s == 0.25);
            // The same from memory (HDF5's file-image API) and through io::read_spectrum_image.
            const std::string bytes = file_bytes(path);
            CHECK(io::parse_hspy<T>(bytes.data(), bytes.size(), "mem.hspy").data() == si.data());
            CHECK(io::read_spectrum_image<T>(path).data() == si.data());
            std::filesystem::remove(path);
        }
    }
}

TEST_CASE("hspy: a non-uniform energy axis, calibrated navigation axes, and detection by content") {
    grid::Metadata md;
    md.title = "xas";
    md.signal_type = "XAS";
    std::vector<double> e{8300, 8310, 8320, 8330.5, 8331, 8340};
    grid::SpectrumImage<double> si(xt::xarray<double>({{1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}}),
                                   grid::EnergyAxis::from_energies(e), md);
    io::HspyWriteOptions o;
    io::AxisInfo t;
    t.name = "time";
    t.units = "s";
    t.scale = 2.5;
    t.offset = 10.0;
    o.navigation = {t};
    o.signal_axis_name = "Energy";
    // A misleading extension: the HDF5 signature decides.
    const auto path = temp_file("corespec_test_hspy_explicit.dat");
    io::write_hspy(path, si, o);
    io::FileInfo info;
    const auto r = io::read_spectrum_image<double>(path, &info);
    CHECK(info.format == io::Format::hspy);
    CHECK(r.data() == si.data());
    CHECK_FALSE(r.axis().is_uniform());
    CHECK(r.axis().energies() == e);
    CHECK(r.metadata().technique == grid::Technique::xas);
    REQUIRE(info.axes.size() == 2);
    CHECK(info.axes[0].name == "time");
    CHECK(info.axes[0].units == "s");
    CHECK(info.axes[0].scale == 2.5);
    CHECK(info.axes[0].offset == 10.0);
    CHECK(info.axes[1].is_explicit);
    CHECK(info.axes[1].last == 8340.0);
    CHECK(io::detect_format(file_bytes(path)) == io::Format::hdf5);
    CHECK_THROWS_AS(io::read_spectrum<double>(path), unsupported_error);  // two spectra
    std::filesystem::remove(path);
}

TEST_CASE("hspy: every integer and float dtype is read (HDF5 converts)") {
    const auto path = temp_file("corespec_test_hspy_dtypes.hspy");
    const auto si = ramp_image<double>({2}, 8);
    const std::pair<hid_t, const char*> types[] = {
        {H5T_STD_I8LE, "int8"},   {H5T_STD_U8LE, "uint8"},   {H5T_STD_I16BE, "int16"}, {H5T_STD_U16LE, "uint16"},
        {H5T_STD_I32LE, "int32"}, {H5T_STD_U32BE, "uint32"}, {H5T_STD_I64LE, "int64"}, {H5T_STD_U64LE, "uint64"},
        {H5T_IEEE_F32BE, "float32"}, {H5T_IEEE_F64LE, "float64"}};
    for (const auto& type_name : types) {  // no structured binding: clang 14 cannot CAPTURE it
        const hid_t type = type_name.first;
        const char* name = type_name.second;
        CAPTURE(name);
        io::write_hspy(path, si);
        {
            RwFile f(path);
            const std::string d = "/Experiments/Ni L-O K ramp/data";
            REQUIRE(H5Ldelete(f.id, d.c_str(), H5P_DEFAULT) >= 0);
            const hsize_t dims[2] = {2, 8};
            const hid_t space = H5Screate_simple(2, dims, nullptr);
            const hid_t ds = H5Dcreate2(f.id, d.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            std::vector<double> v(16);
            for (std::size_t i = 0; i < 16; ++i) v[i] = double(i) + 1.0;
            REQUIRE(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
            H5Dclose(ds);
            H5Sclose(space);
        }
        io::FileInfo info;
        const auto r = io::read_hspy<float>(path, &info);
        CHECK(info.dtype == name);
        CHECK(r.data()(1, 7) == 16.0f);
        CHECK(r.data()(0, 0) == 1.0f);
    }
    std::filesystem::remove(path);
}

TEST_CASE("hspy: bad input is a parse_error naming the file, the object and the reason") {
    const auto path = temp_file("corespec_test_hspy_bad.hspy");
    const auto si = ramp_image<float>({4, 3}, 64);
    const std::string group = "/Experiments/Ni L-O K ramp";
    const auto expect_parse_error = [&](const std::string& what, const std::string& where_part) {
        CAPTURE(what);
        try {
            io::read_hspy<double>(path);
            FAIL("expected parse_error");
        } catch (const parse_error& e) {
            CHECK(e.source() == path.string());
            CHECK(e.location().find(where_part) != std::string::npos);
            CHECK(e.reason().find(what) != std::string::npos);
        }
    };
    SUBCASE("truncated at many lengths") {
        io::write_hspy(path, si);
        const std::string good = file_bytes(path);
        for (std::size_t cut : {std::size_t(0), std::size_t(7), std::size_t(100), good.size() / 3, good.size() / 2,
                                good.size() - 100, good.size() - 1}) {
            CAPTURE(cut);
            const std::string bytes = good.substr(0, cut);
            CHECK_THROWS_AS(io::parse_hspy<double>(bytes.data(), bytes.size(), "cut.hspy"), parse_error);
            std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
            // Too short for the signature: not HDF5 at all (a parse_error too, from the format detection).
            CHECK_THROWS_AS(io::read_spectrum_image<double>(path), parse_error);
        }
    }
    SUBCASE("an axis size disagreeing with the dataset's shape") {
        io::write_hspy(path, si);
        {
            RwFile f(path);
            const std::string a = group + "/axis-1";
            const hid_t g = H5Gopen2(f.id, a.c_str(), H5P_DEFAULT);
            H5Adelete(g, "size");
            const std::int64_t wrong = 5;
            const hid_t s = H5Screate(H5S_SCALAR);
            const hid_t at = H5Acreate2(g, "size", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(at, H5T_NATIVE_INT64, &wrong);
            H5Aclose(at);
            H5Sclose(s);
            H5Gclose(g);
        }
        expect_parse_error("disagrees with the data's shape", "axis-1");
    }
    SUBCASE("a missing axis group") {
        io::write_hspy(path, si);
        {
            RwFile f(path);
            REQUIRE(H5Ldelete(f.id, (group + "/axis-0").c_str(), H5P_DEFAULT) >= 0);
        }
        expect_parse_error("missing axis group", "axis-0");
    }
    SUBCASE("an unsupported dtype (strings)") {
        io::write_hspy(path, si);
        {
            RwFile f(path);
            const std::string d = group + "/data";
            REQUIRE(H5Ldelete(f.id, d.c_str(), H5P_DEFAULT) >= 0);
            const hsize_t dims[3] = {4, 3, 64};
            const hid_t space = H5Screate_simple(3, dims, nullptr);
            const hid_t type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, 4);
            const hid_t ds = H5Dcreate2(f.id, d.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5Dclose(ds);
            H5Tclose(type);
            H5Sclose(space);
        }
        expect_parse_error("unsupported dtype", "data");
    }
    SUBCASE("NaN in the data (the policy of every reader)") {
        auto bad = si;
        bad.data()(2, 1, 7) = std::numeric_limits<float>::quiet_NaN();
        io::write_hspy(path, bad);
        expect_parse_error("NaN", "pixel 7, channel 7");
        std::size_t blocks = 0;
        CHECK_THROWS_AS(io::for_each_hspy_block<float>(path, 1, [&](const auto&) { ++blocks; }), parse_error);
        CHECK(blocks == 2);  // rows 0 and 1 were handed out before row 2 failed
    }
    SUBCASE("not HyperSpy, no Experiments") {
        {
            const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
            H5Fclose(f);
        }
        CHECK_THROWS_AS(io::read_hspy<double>(path), parse_error);
        CHECK_THROWS_AS(io::read_spectrum_image<double>(path), unsupported_error);  // HDF5, but no layout we read
    }
    std::filesystem::remove(path);
    CHECK_THROWS_AS(io::read_hspy<double>("/nonexistent/x.hspy"), io_error);
    CHECK_THROWS_AS(io::read_hspy<double>("/dev/zero"), io_error);
}

TEST_CASE("hdf5: a corrupt global heap is a parse_error, before libhdf5 1.10 copies past its buffers") {
    // fuzz_hspy's first finding: the root attribute's heap collection declares an object of 3.7e18 bytes.
    const auto finding = corespec_test::source_path("tests/fuzz/findings/libhdf5_1.10.8_vlen_global_heap.bin");
    const std::string bytes = file_bytes(finding);
    try {
        (void)io::parse_hspy<float>(bytes.data(), bytes.size(), "finding.hspy");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "finding.hspy");
        CHECK(e.location() == "file_format");
        CHECK(e.reason().find("past the collection's end") != std::string::npos);
    }
    CHECK_THROWS_AS(io::read_hspy<float>(finding), parse_error);  // the same check for files on disk
    CHECK_THROWS_AS(io::parse_spectrum_image<double>(bytes, "finding.hspy"), parse_error);
    // The second finding: a variable-length string attribute whose type message declares
    // 13 bytes; libhdf5 would copy the 16 that a string reference takes.
    const std::string short_store =
        file_bytes(corespec_test::source_path("tests/fuzz/corpus/fuzz_hspy/short_vlen_attribute_store.hspy"));
    CHECK_THROWS_WITH_AS(io::parse_hspy<float>(short_store.data(), short_store.size(), "short.hspy"),
                         doctest::Contains("attribute stores 13 bytes, its type needs 16"), parse_error);

    // The check itself, on collections built here (sizes of lengths 8 and 4).
    const auto collection = [](std::size_t length_size, std::uint64_t size,
                               std::vector<std::pair<std::uint16_t, std::uint64_t>> objects) {
        std::vector<unsigned char> c(std::max<std::uint64_t>(size, 64), 0);
        const auto put = [&](std::size_t at, std::uint64_t v, std::size_t n) {
            for (std::size_t i = 0; i < n; ++i) c[at + i] = static_cast<unsigned char>(v >> (8 * i));
        };
        std::memcpy(c.data(), "GCOL", 4);
        c[4] = 1;
        put(8, size, length_size);
        std::size_t at = 8 + length_size;
        for (const auto& [index, object] : objects) {
            put(at, index, 2);
            put(at + 8, object, length_size);
            at += index == 0 ? object : 8 + length_size + (object + 7) / 8 * 8;
            if (at >= c.size()) break;
        }
        return c;
    };
    for (const std::size_t ls : {std::size_t(8), std::size_t(4)}) {
        CAPTURE(ls);
        const std::size_t hdr = 8 + ls;
        const auto problem = [&](const std::vector<unsigned char>& c) {
            return io::detail::h5_global_heap_problem(c.data(), c.size(), ls);
        };
        CHECK(problem(collection(ls, 4096, {{1, 8}, {2, 3}, {0, 4096 - hdr - 2 * hdr - 8 - 8}})).empty());
        CHECK(problem(collection(ls, 4096, {{1, 5000}})).find("past the collection's end") != std::string::npos);
        CHECK(problem(collection(ls, 4096, {{1, 8}, {0, 3}})).find("less than its own header") != std::string::npos);
        CHECK(problem(collection(ls, 8192, {{1, 6000}})).find("at most 4096") != std::string::npos);
        CHECK(problem(collection(ls, 4096, {{1, ~std::uint64_t(0) >> (64 - 8 * ls)}})).find("past") != std::string::npos);
        // Not (yet) a whole collection: HDF5 reads the rest, then the check runs on all of it.
        auto first_part = collection(ls, 1 << 20, {{1, 8}});
        first_part.resize(4096);
        CHECK(problem(first_part).empty());
    }
}

TEST_CASE("hspy: streaming by row blocks gives the eager read, block by block") {
    const auto path = temp_file("corespec_test_hspy_stream.hspy");
    const auto si = ramp_image<float>({7, 5}, 128);
    io::write_hspy(path, si);
    for (const std::size_t rows : {std::size_t(1), std::size_t(3), std::size_t(7), std::size_t(100)}) {
        CAPTURE(rows);
        std::vector<float> seen;
        std::size_t blocks = 0, next_row = 0;
        io::FileInfo info;
        io::for_each_hspy_block<float>(
            path, rows,
            [&](const io::SpectrumBlock<float>& b) {
                CHECK(b.first_row == next_row);
                CHECK(b.channels == 128);
                CHECK(b.pixels == b.rows * 5);
                CHECK(b.first_pixel == b.first_row * 5);
                CHECK(b.axis->size() == 128);
                CHECK(b.metadata->title == "Ni L/O K ramp");
                seen.insert(seen.end(), b.values, b.values + b.pixels * b.channels);
                next_row += b.rows;
                ++blocks;
            },
            &info);
        CHECK(blocks == (7 + std::min<std::size_t>(rows, 7) - 1) / std::min<std::size_t>(rows, 7));
        CHECK(info.axes.size() == 3);
        CHECK(std::equal(seen.begin(), seen.end(), si.data().begin(), si.data().end()));
    }
    std::filesystem::remove(path);
}

namespace {

// The two signals of the HyperSpy round trip (tools/hspy_roundtrip.py).
grid::SpectrumImage<float> roundtrip_si() {
    auto si = ramp_image<float>({3, 4}, 96);
    si.metadata().title = "corespec round trip";
    return si;
}

grid::SpectrumImage<double> roundtrip_spectrum() {
    grid::Metadata md;
    md.title = "Fe K edge, non-uniform";
    md.signal_type = "XAS";
    std::vector<double> e, v;
    for (int i = 0; i < 40; ++i) {
        e.push_back(7100.0 + (i < 20 ? 2.0 * i : 40.0 + 0.25 * (i - 20) * (i - 20)));
        v.push_back(std::atan(0.3 * (e.back() - 7112.0)) + 0.01 * i);
    }
    xt::xarray<double> data = xt::xarray<double>::from_shape({1, v.size()});
    std::copy(v.begin(), v.end(), data.begin());
    return grid::SpectrumImage<double>(std::move(data), grid::EnergyAxis::from_energies(e), md);
}

io::HspyWriteOptions roundtrip_si_options() {
    io::HspyWriteOptions o;
    io::AxisInfo y, x;
    y.name = "y";
    y.units = "nm";
    y.scale = 0.5;
    x.name = "x";
    x.units = "nm";
    x.scale = 0.5;
    x.offset = -1.0;
    o.navigation = {y, x};
    return o;
}

template <class T>
void check_as_hyperspy_read(const grid::SpectrumImage<T>& si, const io::FileInfo& info, const nlohmann::json& r) {
    std::vector<std::size_t> shape;
    for (const auto& a : info.axes) shape.push_back(a.size);
    CHECK(shape == r["array_shape"].get<std::vector<std::size_t>>());
    CHECK(info.dtype == r["dtype"].get<std::string>());
    const auto values = r["values"].get<std::vector<double>>();
    REQUIRE(values.size() == si.data().size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < values.size(); ++i) mismatches += double(si.data().data()[i]) != values[i];
    CHECK(mismatches == 0);
    REQUIRE(r["axes"].size() == info.axes.size());
    for (std::size_t i = 0; i < info.axes.size(); ++i) {
        const auto& a = r["axes"][i];
        CAPTURE(i);
        CHECK(info.axes[i].name == (a["name"].is_null() ? std::string() : a["name"].get<std::string>()));
        CHECK(info.axes[i].units == (a["units"].is_null() ? std::string() : a["units"].get<std::string>()));
        CHECK(info.axes[i].navigate == a["navigate"].get<bool>());
        if (a["is_uniform"].get<bool>()) {
            CHECK(info.axes[i].scale == a["scale"].get<double>());
            CHECK(info.axes[i].offset == a["offset"].get<double>());
        } else {
            CHECK(si.axis().energies() == a["axis"].get<std::vector<double>>());
        }
    }
    const auto& m = r["metadata"];
    const auto& md = si.metadata();
    CHECK(md.title == m["title"].get<std::string>());
    CHECK(md.signal_type == m["signal_type"].get<std::string>());
    const auto opt = [](const nlohmann::json& j) { return j.is_null() ? std::optional<double>() : j.get<double>(); };
    CHECK(md.beam_energy_kev == opt(m["beam_energy"]));
    CHECK(md.convergence_semiangle_mrad == opt(m["convergence_angle"]));
    CHECK(md.collection_semiangle_mrad == opt(m["collection_angle"]));
    CHECK(md.exposure_s == opt(m["exposure"]));
}

}  // namespace

TEST_CASE("hspy: HyperSpy round trip (HyperSpy read corespec's files; corespec reads HyperSpy's)") {
    // Written now by the current writer (and kept in $TMPDIR for tools/hspy_roundtrip.py).
    const auto si_path = temp_file("corespec_hspy_rt_si.hspy"), sp_path = temp_file("corespec_hspy_rt_spectrum.hspy");
    io::write_hspy(si_path, roundtrip_si(), roundtrip_si_options());
    io::HspyWriteOptions xas;
    xas.signal_axis_name = "Energy";
    xas.gzip_level = 0;
    io::write_hspy(sp_path, roundtrip_spectrum(), xas);
    // Default options: uncalibrated navigation axes without units.
    const auto map_path = temp_file("corespec_hspy_rt_map.hspy");
    io::write_hspy(map_path, ramp_image<float>({2, 5}, 32));

    const auto dir = corespec_test::source_path("tests/data/io/hspy");
    const auto ref = nlohmann::json::parse(corespec_test::read_text(dir / "roundtrip.json"))["files"];
    CHECK(ref["si"]["hyperspy_class"] == "EELSSpectrum");
    CHECK(ref["spectrum"]["hyperspy_class"] == "Signal1D");
    for (const std::string who : {"corespec_", "hyperspy_"}) {
        CAPTURE(who);
        io::FileInfo info;
        // What HyperSpy read from corespec's file, corespec reads from both files.
        const auto si = io::read_spectrum_image<float>(dir / (who + "si.hspy"), &info);
        check_as_hyperspy_read(si, info, ref["si"]);
        CHECK(si.data() == roundtrip_si().data());
        const auto sp = io::read_spectrum_image<double>(dir / (who + "spectrum.hspy"), &info);
        check_as_hyperspy_read(sp, info, ref["spectrum"]);
        CHECK(sp.data() == roundtrip_spectrum().data());
        const auto map = io::read_spectrum_image<float>(dir / (who + "map.hspy"), &info);
        check_as_hyperspy_read(map, info, ref["map"]);
        CHECK(map.data() == ramp_image<float>({2, 5}, 32).data());
    }
    // Today's writer still writes what HyperSpy read.
    io::FileInfo info;
    check_as_hyperspy_read(io::read_hspy<float>(si_path, &info), info, ref["si"]);
    check_as_hyperspy_read(io::read_hspy<double>(sp_path, &info), info, ref["spectrum"]);
    check_as_hyperspy_read(io::read_hspy<float>(map_path, &info), info, ref["map"]);
}

CORESPEC_REFERENCE_TEST("hspy: the exspy .hspy files read as HyperSpy 1.7.3 reads them (eels_read.json)") {
    const auto ref = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::shared_path("reference/eels_read.json")))["fixtures"];
    int files = 0;
    for (const char* name : {"EELS_LL_linescan_simulated_thickness_variation.hspy",
                             "EELS_ZLP_linescan_simulated_thickness_variation.hspy"}) {
        const std::string key = std::string("data/eels/exspy/") + name;
        CAPTURE(key);
        REQUIRE(ref.contains(key));
        const auto& r = ref[key];
        io::FileInfo info;
        const auto si = io::read_spectrum_image<double>(corespec_test::shared_path(key), &info);
        CHECK(info.format == io::Format::hspy);
        CHECK(info.dtype == r["dtype"].get<std::string>());
        std::vector<std::size_t> shape;
        for (const auto& a : info.axes) shape.push_back(a.size);
        CHECK(shape == r["array_shape"].get<std::vector<std::size_t>>());
        // Every value, against HyperSpy's float64 copy of s.data.
        const auto values = io::read_npy<double>(corespec_test::shared_path("reference/" + r["data_array"].get<std::string>()));
        REQUIRE(values.values.size() == si.data().size());
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < values.values.size(); ++i) mismatches += si.data().data()[i] != values.values[i];
        CHECK(mismatches == 0);
        double sum = 0.0;
        for (const double v : si.data()) sum += v;
        CHECK(sum == doctest::Approx(r["sum_float64"].get<double>()).epsilon(1e-13));
        CHECK(*si.data().begin() == r["first"].get<double>());
        CHECK(si.data().data()[si.data().size() - 1] == r["last"].get<double>());
        // Axes: HyperSpy lists navigation axes x-first; in array order here (one navigation axis).
        nlohmann::json axes = r["navigation_axes"];
        for (const auto& a : r["signal_axes"]) axes.push_back(a);
        REQUIRE(axes.size() == info.axes.size());
        for (const auto& a : axes) {
            const auto& mine = info.axes.at(a["index_in_array"].get<std::size_t>());
            CHECK(mine.name == a["name"].get<std::string>());
            CHECK(mine.units == (a["units"].is_null() ? std::string() : a["units"].get<std::string>()));
            CHECK(mine.size == a["size"].get<std::size_t>());
            CHECK(mine.navigate == a["navigate"].get<bool>());
            CHECK(mine.scale == a["scale"].get<double>());
            CHECK(mine.offset == a["offset"].get<double>());
            CHECK(mine.last == a["last_value"].get<double>());
        }
        CHECK(si.axis().energy(0) == r["signal_axes"][0]["first_value"].get<double>());
        const auto& m = r["metadata"];
        const auto& md = si.metadata();
        CHECK(md.title == m["title"].get<std::string>());
        CHECK(md.signal_type == m["signal_type"].get<std::string>());
        CHECK(md.beam_energy_kev == m["beam_energy"].get<double>());
        CHECK(md.convergence_semiangle_mrad == m["convergence_angle"].get<double>());
        CHECK(md.collection_semiangle_mrad == m["collection_angle"].get<double>());
        CHECK(md.exposure_s.has_value() == !m["exposure"].is_null());
        ++files;
    }
    CHECK(files == 2);
}

#endif  // CORESPEC_HAVE_HDF5
