// Berkeley EMD 0.2 and Velox EMD through the HDF5 C library; the fixtures are
// written here with the HDF5 API in the layouts the EMD 0.2 specification and
// RosettaSciIO's Velox reader describe.
#include <doctest/doctest.h>

#if defined(CORESPEC_HAVE_HDF5)

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "corespec/io/emd.hpp"
#include "corespec/io/read.hpp"
#include "support/hdf5_attr.hpp"

using namespace corespec;
using corespec_test::string_attr;

namespace {

void int_attr(hid_t obj, const char* name, std::int32_t value) {
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT32, &value);
    H5Aclose(a);
    H5Sclose(space);
}

template <class T>
void dataset(hid_t loc, const char* name, hid_t file_type, const std::vector<hsize_t>& dims, const std::vector<T>& v) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, corespec::io::detail::h5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(space);
}

// A 2 x 3 x 50 EELS SI (uint16 counts) under /data/eels_si, as EMD 0.2 describes it.
// `energy` chooses the form of dim3: full coordinates, HyperSpy's [offset, offset + scale], or non-uniform.
void write_emd(const std::filesystem::path& path, const std::string& energy, bool with_dim3 = true) {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int_attr(f, "version_major", 0);
    int_attr(f, "version_minor", 2);
    const hid_t top = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t g = H5Gcreate2(top, "eels_si", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int_attr(g, "emd_group_type", 1);
    std::vector<std::uint16_t> counts(2 * 3 * 50);
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<std::uint16_t>(100 + i);
    dataset(g, "data", H5T_STD_U16LE, {2, 3, 50}, counts);
    const auto dim = [&](const char* name, const std::vector<double>& v, const char* label, const char* units) {
        dataset(g, name, H5T_IEEE_F64LE, {v.size()}, v);
        const hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        string_attr(d, "name", label);
        string_attr(d, "units", units);
        H5Dclose(d);
    };
    dim("dim1", {0.0, 2.0}, "y", "[n_m]");
    dim("dim2", {0.0, 2.0, 4.0}, "x", "nm");
    std::vector<double> e;
    for (int i = 0; i < 50; ++i) e.push_back(energy == "nonuniform" ? 500.0 + i + 0.01 * i * i : 500.0 + 0.25 * i);
    if (energy == "linear") e = {500.0, 500.25};
    if (with_dim3) dim("dim3", e, "Energy loss", energy == "linear" ? "[e_V]" : "eV");
    H5Gclose(g);
    H5Gclose(top);
    H5Fclose(f);
}


// Velox EMD (Thermo Fisher) in the layout RosettaSciIO reads: JSON texts as
// one-element string datasets (Version, AcquisitionSettings) or uint8 [n, 1]
// (Metadata); a spectrum stream of uint16 events with 65535 between pixels.
void velox_string(hid_t loc, const char* name, const std::string& json) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, json.size() + 1);
    const hsize_t one = 1;
    const hid_t space = H5Screate_simple(1, &one, nullptr);
    const hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, json.c_str());
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
}

void velox_metadata(hid_t loc, const std::string& json) {
    std::vector<std::uint8_t> bytes(json.begin(), json.end());
    bytes.resize(bytes.size() + 7, 0);  // Velox pads with NULs
    dataset(loc, "Metadata", H5T_STD_U8LE, {bytes.size(), 1}, bytes);
}

const char* velox_detector_md =
    R"({"BinaryResult": {"Detector": "SuperXG1", "PixelSize": {"width": "2e-10", "height": "3e-10"},
        "Offset": {"x": "1e-9", "y": "0"}, "PixelUnitX": "m"},
       "Detectors": {"Detector-0": {"DetectorName": "HAADF"},
                     "Detector-1": {"DetectorName": "SuperXG12", "Dispersion": "5", "OffsetEnergy": "-480"}}})";

// The events of `counts` (pixels x channels), as Velox streams them, for `frames` frames.
std::vector<std::uint16_t> velox_stream(const std::vector<std::vector<int>>& counts, int frames) {
    std::vector<std::uint16_t> s;
    for (int f = 0; f < frames; ++f)
        for (const auto& pixel : counts) {
            for (std::size_t c = 0; c < pixel.size(); ++c)
                for (int k = 0; k < pixel[c]; ++k) s.push_back(static_cast<std::uint16_t>(c));
            s.push_back(65535);
        }
    s.pop_back();  // no mark after the last pixel
    return s;
}

void write_velox(const std::filesystem::path& path, const std::string& kind, const std::vector<std::uint16_t>& stream = {}) {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    velox_string(f, "Version", R"({"format": "Velox", "version": "11"})");
    const hid_t data = H5Gcreate2(f, "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (kind == "stream") {
        const hid_t image = H5Gcreate2(data, "Image", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t im = H5Gcreate2(image, "a1b2", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        dataset(im, "Data", H5T_STD_U16LE, {2, 3, 1}, std::vector<std::uint16_t>(6, 7));
        const hid_t streams = H5Gcreate2(data, "SpectrumStream", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t st = H5Gcreate2(streams, "c3d4", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        dataset(st, "Data", H5T_STD_U16LE, {stream.size(), 1}, stream);
        velox_string(st, "AcquisitionSettings", R"({"bincount": "4", "StreamEncoding": "uint16"})");
        velox_metadata(st, velox_detector_md);
        for (hid_t g : {st, streams, im, image}) H5Gclose(g);
    } else if (kind == "spectrum") {
        const hid_t spectrum = H5Gcreate2(data, "Spectrum", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t sp = H5Gcreate2(spectrum, "e5f6", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        // [channels, n]: two spectra of 5 channels, one per column.
        dataset(sp, "Data", H5T_STD_I32LE, {5, 2}, std::vector<std::int32_t>{10, 20, 11, 21, 12, 22, 13, 23, 14, 24});
        velox_metadata(sp, velox_detector_md);
        H5Gclose(sp);
        H5Gclose(spectrum);
    }
    H5Gclose(data);
    H5Fclose(f);
}

}  // namespace

TEST_CASE("emd: Berkeley EMD 0.2 spectrum images, every dim form, detected by content") {
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_emd.emd";
    for (const std::string form : {"full", "linear", "nonuniform"}) {
        CAPTURE(form);
        write_emd(path, form);
        io::FileInfo info;
        const auto si = io::read_spectrum_image<double>(path, &info);
        CHECK(info.format == io::Format::emd);
        CHECK(info.dtype == "uint16");
        CHECK(si.navigation_shape() == std::vector<std::size_t>{2, 3});
        CHECK(si.data()(1, 2, 49) == 100.0 + 299.0);
        REQUIRE(info.axes.size() == 3);
        CHECK(info.axes[0].name == "y");
        CHECK(info.axes[0].units == "nm");
        CHECK(info.axes[0].scale == 2.0);
        CHECK(info.axes[1].scale == 2.0);
        CHECK(info.axes[1].navigate);
        CHECK_FALSE(info.axes[2].navigate);
        CHECK(si.axis().units() == "eV");
        CHECK(si.axis().energy(0) == 500.0);
        if (form == "nonuniform") {
            CHECK_FALSE(si.axis().is_uniform());
            CHECK(si.axis().energy(49) == doctest::Approx(500.0 + 49 + 0.01 * 49 * 49));
        } else {
            CHECK(si.axis().is_uniform());
            CHECK(si.axis().energy(49) == doctest::Approx(500.0 + 0.25 * 49));
        }
        CHECK(si.metadata().title == "eels_si");
        CHECK(io::read_emd<float>(path).data()(0, 0, 0) == 100.0f);
    }
    // Bad input: a missing dim vector, no EMD group.
    write_emd(path, "full", false);
    CHECK_THROWS_WITH_AS(io::read_emd<double>(path), doctest::Contains("missing dimension vector"), parse_error);
    {
        const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        int_attr(f, "version_major", 0);
        int_attr(f, "version_minor", 2);
        H5Fclose(f);
    }
    CHECK_THROWS_WITH_AS(io::read_emd<double>(path), doctest::Contains("no EMD data group"), parse_error);
    std::filesystem::remove(path);
}

TEST_CASE("emd: Velox spectrum streams (frames summed) and spectra, detected by content") {
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_velox.emd";
    // A 2 x 3 scan, 4 channels; pixel 4 is empty; two frames.
    const std::vector<std::vector<int>> counts{{1, 0, 0, 2}, {0, 3, 0, 0}, {0, 0, 1, 0},
                                               {5, 0, 0, 1}, {0, 0, 0, 0}, {1, 1, 1, 1}};
    write_velox(path, "stream", velox_stream(counts, 2));
    io::FileInfo info;
    const auto si = io::read_spectrum_image<float>(path, &info);
    CHECK(info.format == io::Format::emd);
    REQUIRE(si.navigation_shape() == std::vector<std::size_t>{2, 3});
    REQUIRE(si.axis().size() == 4);
    for (std::size_t p = 0; p < 6; ++p)
        for (std::size_t c = 0; c < 4; ++c) {
            CAPTURE(p);
            CAPTURE(c);
            CHECK(si.data()(p / 3, p % 3, c) == float(2 * counts[p][c]));
        }
    CHECK(si.axis().energy(0) == -480.0);
    CHECK(si.axis().energy(3) == -465.0);
    CHECK(si.axis().units() == "eV");
    REQUIRE(info.axes.size() == 3);
    CHECK(info.axes[1].name == "x");
    CHECK(info.axes[1].scale == doctest::Approx(2e-10));
    CHECK(info.axes[1].offset == doctest::Approx(1e-9));
    CHECK(info.axes[0].scale == doctest::Approx(3e-10));
    CHECK(si.metadata().signal_type == "EDS_TEM");
    CHECK(si.metadata().extra.at("velox.version") == "\"11\"");

    // A channel past bincount is a parse_error naming the stream position.
    auto bad = velox_stream(counts, 1);
    bad[3] = 9;
    write_velox(path, "stream", bad);
    CHECK_THROWS_WITH_AS(io::read_emd<float>(path), doctest::Contains("value 9 at position 3"), parse_error);

    write_velox(path, "spectrum");
    const auto sp = io::read_emd<double>(path, &info);
    REQUIRE(sp.navigation_shape() == std::vector<std::size_t>{2});
    CHECK(sp.data()(0, 4) == 14.0);
    CHECK(sp.data()(1, 0) == 20.0);
    CHECK(info.dtype == "int32");

    write_velox(path, "images only");
    CHECK_THROWS_WITH_AS(io::read_emd<double>(path), doctest::Contains("without spectra"), unsupported_error);
    std::filesystem::remove(path);
}

#endif  // CORESPEC_HAVE_HDF5
