// NeXus NXxas through the HDF5 C library; the fixtures are written here with
// the HDF5 API in the layout the NXxas application definition describes.
#include <doctest/doctest.h>

#if defined(CORESPEC_HAVE_HDF5)

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "corespec/io/nexus.hpp"
#include "corespec/io/read.hpp"
#include "support/hdf5_attr.hpp"

using namespace corespec;
using corespec_test::string_attr;

namespace {

void string_field(hid_t loc, const char* name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size() + 1);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value.c_str());
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
}

void vector_field(hid_t loc, const char* name, const std::vector<double>& v) {
    const hsize_t n = v.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(space);
}

hid_t nx_group(hid_t loc, const char* name, const char* nx_class) {
    const hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(g, "NX_class", nx_class);
    return g;
}

const std::vector<double> energy{8300, 8320, 8333, 8340, 8360, 8400};
const std::vector<double> i0{1000, 1010, 1005, 990, 995, 1000};
const std::vector<double> itrans{600, 590, 300, 250, 260, 255};

// mode: "" (transmission), "Fluorescence", or "mu" (a processed mu field in NXdata).
void write_nxxas(const std::filesystem::path& path, const std::string& mode, bool with_i0 = true) {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t entry = nx_group(f, "entry1", "NXentry");
    string_field(entry, "definition", "NXxas");
    string_field(entry, "title", "Ni foil");
    string_field(entry, "start_time", "2026-12-03T07:00:00");
    const hid_t inst = nx_group(entry, "instrument", "NXinstrument");
    string_field(inst, "name", "BL 8-ID");
    const hid_t source = nx_group(inst, "source", "NXsource");
    string_field(source, "name", "NSLS-II");
    string_field(source, "type", "Synchrotron X-ray Source");
    string_field(source, "probe", "x-ray");
    const hid_t mono = nx_group(inst, "monochromator", "NXmonochromator");
    vector_field(mono, "energy", energy);
    const hid_t in = nx_group(inst, "incoming_beam", "NXdetector");
    if (with_i0) vector_field(in, "data", i0);
    const hid_t ab = nx_group(inst, "absorbed_beam", "NXdetector");
    vector_field(ab, "data", itrans);
    const hid_t sample = nx_group(entry, "sample", "NXsample");
    string_field(sample, "name", "Ni metal");
    const hid_t data = nx_group(entry, "data", "NXdata");
    if (mode == "Fluorescence") string_field(data, "mode", mode);
    if (mode == "mu") vector_field(data, "mu", {1, 2, 3, 4, 5, 6});
    for (hid_t g : {data, sample, ab, in, mono, source, inst, entry}) H5Gclose(g);
    H5Fclose(f);
}

// The newer NXxas family (contributed definitions NXxas, NXxas_trans,
// NXxas_tfy): energy and the processed intensity in the entry, raw detectors
// i0 / itrans / ifluor in the instrument. `intensity`: write the processed
// field ([n], or [rows, n] when rows > 0).
void write_nxxas_family(const std::filesystem::path& path, const std::string& definition, bool intensity,
                        hsize_t rows = 0) {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t entry = nx_group(f, "entry", "NXentry");
    string_field(entry, "definition", definition);
    string_field(entry, "title", "Cu K-edge");
    const hid_t element = nx_group(entry, "element", "NXelement");
    string_field(element, "symbol", "Cu");
    const hid_t edge = nx_group(entry, "edge", "NXabsorption_edge");
    string_field(edge, "name", "K");
    vector_field(entry, "energy", energy);
    if (intensity && rows == 0) vector_field(entry, "intensity", {0.5, 0.6, 1.2, 1.4, 1.3, 1.25});
    if (intensity && rows > 0) {
        const hsize_t dims[2] = {rows, energy.size()};
        std::vector<double> v(rows * energy.size(), 0.75);
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        const hid_t d = H5Dcreate2(entry, "intensity", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        H5Dclose(d);
        H5Sclose(space);
    }
    const hid_t inst = nx_group(entry, "instrument", "NXinstrument");
    const hid_t source = nx_group(inst, "source", "NXsource");
    string_field(source, "name", "Diamond");
    string_field(source, "probe", "x-ray");
    const hid_t d0 = nx_group(inst, "i0", "NXdetector");
    vector_field(d0, "data", i0);
    const hid_t ds = nx_group(inst, definition == "NXxas_tfy" ? "ifluor" : "itrans", "NXdetector");
    vector_field(ds, "data", itrans);
    const hid_t sample = nx_group(entry, "sample", "NXsample");
    string_field(sample, "name", "Cu foil");
    for (hid_t g : {sample, ds, d0, source, inst, edge, element, entry}) H5Gclose(g);
    H5Fclose(f);
}

}  // namespace

TEST_CASE("nexus: NXxas transmission, fluorescence and processed mu, with sample and beamline fields") {
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_nxxas.nxs";
    write_nxxas(path, "");
    io::FileInfo info;
    const auto s = io::read_nxxas(path, &info);
    REQUIRE(s.size() == energy.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        CHECK(s.energy(i) == energy[i]);
        CHECK(s[i] == doctest::Approx(std::log(i0[i] / itrans[i])).epsilon(1e-15));
    }
    CHECK(info.format == io::Format::nexus);
    CHECK(s.metadata().title == "Ni foil");
    CHECK(s.metadata().technique == grid::Technique::xas);
    CHECK(s.metadata().extra.at("nexus.sample_name") == "Ni metal");
    CHECK(s.metadata().extra.at("nexus.beamline") == "BL 8-ID");
    CHECK(s.metadata().extra.at("nexus.source_name") == "NSLS-II");
    CHECK(s.metadata().extra.at("nexus.mu") == "ln(i0/absorbed_beam)");
    // Detected by content through the one entry point.
    CHECK(io::read_spectrum<double>(path)[2] == doctest::Approx(std::log(1005.0 / 300.0)));

    write_nxxas(path, "Fluorescence");
    const auto fl = io::read_nxxas(path);
    CHECK(fl[3] == doctest::Approx(250.0 / 990.0));
    write_nxxas(path, "mu");
    CHECK(io::read_nxxas(path)[5] == 6.0);

    write_nxxas(path, "", false);
    CHECK_THROWS_WITH_AS(io::read_nxxas(path), doctest::Contains("incoming_beam/data"), parse_error);
    {
        const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(nx_group(f, "entry", "NXentry"));
        H5Fclose(f);
    }
    CHECK_THROWS_WITH_AS(io::read_nxxas(path), doctest::Contains("NXxas"), parse_error);
    CHECK_THROWS_AS(io::read_spectrum<double>(path), unsupported_error);
    std::filesystem::remove(path);
}

TEST_CASE("nexus: the newer NXxas family (NXxas_trans, NXxas_tfy, NXxas): entry-level energy and intensity") {
    const auto path = std::filesystem::temp_directory_path() / "corespec_test_nxxas_family.nxs";
    for (const std::string def : {"NXxas_trans", "NXxas_tfy", "NXxas", "NXxas_new"}) {
        CAPTURE(def);
        write_nxxas_family(path, def, true);
        io::FileInfo info;
        const auto s = io::read_spectrum<double>(path, &info);  // by content
        CHECK(info.format == io::Format::nexus);
        REQUIRE(s.size() == energy.size());
        CHECK(s.energy(5) == 8400.0);
        CHECK(s[2] == 1.2);  // the processed intensity as stored
        CHECK(s.metadata().extra.at("nexus.definition") == def);
        CHECK(s.metadata().extra.at("nexus.mu") == "intensity");
        CHECK(s.metadata().element == "Cu");
        CHECK(s.metadata().edge == "K");
        CHECK(s.metadata().title == "Cu K-edge");
        CHECK(s.metadata().extra.at("nexus.sample_name") == "Cu foil");
        CHECK(s.metadata().extra.at("nexus.source_name") == "Diamond");
    }
    // Without the processed field, derived from the raw detectors as each definition says.
    write_nxxas_family(path, "NXxas_trans", false);
    auto s = io::read_nxxas(path);
    CHECK(s.metadata().extra.at("nexus.mu") == "ln(i0/itrans)");
    for (std::size_t i = 0; i < s.size(); ++i) CHECK(s[i] == doctest::Approx(std::log(i0[i] / itrans[i])).epsilon(1e-15));
    write_nxxas_family(path, "NXxas_tfy", false);
    s = io::read_nxxas(path);
    CHECK(s.metadata().extra.at("nexus.mu") == "ifluor/i0");
    CHECK(s[3] == doctest::Approx(250.0 / 990.0));
    // [1, n] is one spectrum; a stack of several is not a Spectrum.
    write_nxxas_family(path, "NXxas_trans", true, 1);
    CHECK(io::read_nxxas(path)[4] == 0.75);
    // The XDI-based proposal: definition NXxas, energy in the monochromator, detectors i0 / itrans.
    {
        const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t entry = nx_group(f, "entry", "NXentry");
        string_field(entry, "definition", "NXxas");
        const hid_t inst = nx_group(entry, "instrument", "NXinstrument");
        const hid_t mono = nx_group(inst, "monochromator", "NXmonochromator");
        vector_field(mono, "energy", energy);
        const hid_t d0 = nx_group(inst, "i0", "NXdetector");
        vector_field(d0, "data", i0);
        const hid_t dt = nx_group(inst, "itrans", "NXdetector");
        vector_field(dt, "data", itrans);
        for (hid_t g : {dt, d0, mono, inst, entry}) H5Gclose(g);
        H5Fclose(f);
    }
    s = io::read_nxxas(path);
    CHECK(s.metadata().extra.at("nexus.mu") == "ln(i0/itrans)");
    CHECK(s[1] == doctest::Approx(std::log(1010.0 / 590.0)).epsilon(1e-15));
    write_nxxas_family(path, "NXxas_trans", true, 3);
    CHECK_THROWS_WITH_AS(io::read_nxxas(path), doctest::Contains("stack of 3 spectra"), unsupported_error);
    std::filesystem::remove(path);
}

#endif  // CORESPEC_HAVE_HDF5
