#include <doctest/doctest.h>

#include <filesystem>

#include "corespec/io/msa.hpp"
#include "corespec/io/npy.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

namespace {
const char* const kYFile =
    "#FORMAT      : EMSA/MAS Spectral Data File\n"
    "#VERSION     : 1.0\n"
    "#TITLE       : test spectrum\n"
    "#NPOINTS     : 5.0\n"
    "#NCOLUMNS    : 2\n"
    "#XUNITS      : eV\n"
    "#YUNITS      : Counts\n"
    "#DATATYPE    : Y\n"
    "#XPERCHAN    : 0.5\n"
    "#OFFSET      : -2.0\n"
    "#SIGNALTYPE  : ELS\n"
    "#BEAMKV      : 200.0\n"
    "#CONVANGLE   : 21.5\n"
    "#COLLANGLE-mR: 35\n"
    "#INTEGTIME   : 250\n"
    "#LIVETIME    : 3.5\n"
    "#AZIMANGLE-dg: 90.\n"
    "#SPECTRUM    : Spectral Data Starts Here\n"
    "1, 2\n"
    "3 4\n"
    "5\n"
    "#ENDOFDATA   :\n";
}  // namespace

TEST_CASE("MSA: Y data, keywords kept, HyperSpy mappings") {
    io::FileInfo info;
    const auto s = io::parse_msa(kYFile, "y.msa", &info);
    REQUIRE(s.size() == 5);
    CHECK(s[0] == 1.0);
    CHECK(s[4] == 5.0);
    CHECK(s.axis().is_uniform());
    CHECK(s.energy(0) == -2.0);
    CHECK(s.energy(4) == doctest::Approx(0.0));
    CHECK(s.axis().units() == "eV");
    const auto& md = s.metadata();
    CHECK(md.title == "test spectrum");
    CHECK(md.signal_type == "EELS");
    CHECK(md.technique == grid::Technique::eels);
    CHECK(md.signal_units == "Counts");
    CHECK(*md.beam_energy_kev == 200.0);
    CHECK(*md.convergence_semiangle_mrad == 21.5);
    CHECK(*md.collection_semiangle_mrad == 35.0);
    CHECK(*md.exposure_s == doctest::Approx(0.25));
    CHECK(md.extra.at("msa.LIVETIME") == "3.5");
    CHECK(md.extra.at("msa.AZIMANGLE-dg") == "90.");
    CHECK(md.extra.at("msa.COLLANGLE-mR") == "35");
    CHECK(info.format == io::Format::msa);
    REQUIRE(info.axes.size() == 1);
    CHECK(info.axes[0].size == 5);
    CHECK(info.axes[0].scale == 0.5);
    CHECK_FALSE(info.axes[0].navigate);
}

TEST_CASE("MSA: XY data; an X column off the OFFSET/XPERCHAN grid becomes an explicit axis") {
    const std::string head = "#FORMAT : EMSA/MAS Spectral Data File\n#DATATYPE : XY\n#XPERCHAN : 1\n#OFFSET : 10\n#SPECTRUM :\n";
    const auto uniform = io::parse_msa(head + "10, 1\n11, 2\n12, 3\n");
    CHECK(uniform.axis().is_uniform());
    const auto explicit_axis = io::parse_msa(head + "10, 1\n11.5, 2\n14, 3\n");
    CHECK_FALSE(explicit_axis.axis().is_uniform());
    CHECK(explicit_axis.energy(2) == 14.0);
    const auto no_scale = io::parse_msa("#FORMAT : EMSA\n#DATATYPE : XY\n#SPECTRUM :\n1 5\n2 6\n4 7\n");
    CHECK(no_scale.energy(2) == 4.0);
    CHECK(no_scale.metadata().signal_type == "EELS");  // HyperSpy's default
}

TEST_CASE("MSA: malformed input raises parse_error with source and line") {
    CHECK_THROWS_AS(io::parse_msa(""), parse_error);
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#NPOINTS : 2\n"), parse_error);  // no #SPECTRUM
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#SPECTRUM :\n1\n"), parse_error);  // one point
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#DATATYPE : XY\n#SPECTRUM :\n1 2\n3\n"), parse_error);
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#XPERCHAN : abc\n#SPECTRUM :\n1\n2\n"), parse_error);
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#XPERCHAN : -1\n#SPECTRUM :\n1\n2\n"), parse_error);
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#DATATYPE : XYZ\n#SPECTRUM :\n1\n2\n"), parse_error);
    CHECK_THROWS_AS(io::parse_msa("#FORMAT : EMSA\n#SPECTRUM :\n1\nnan\n"), parse_error);
    CHECK_THROWS_AS(io::parse_msa("text before\n#SPECTRUM :\n1\n2\n"), parse_error);
    try {
        io::parse_msa("#FORMAT : EMSA\n#NPOINTS : 4\n#SPECTRUM :\n1\n2\nx3\n", "t.msa");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "t.msa");
        CHECK(e.location() == "line 6");
    }
    // A truncated file: fewer values than NPOINTS.
    try {
        io::parse_msa("#FORMAT : EMSA\n#NPOINTS : 4\n#SPECTRUM :\n1\n2\n3\n", "t.msa");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(std::string(e.reason()).find("NPOINTS") != std::string::npos);
    }
}

TEST_CASE("MSA: write then read gives the same spectrum, keywords and metadata") {
    const auto s = io::parse_msa(kYFile, "y.msa");
    for (bool xy : {false, true}) {
        const auto text = io::format_msa(s, {xy});
        const auto r = io::parse_msa(text, "round.msa");
        CHECK(r.values() == s.values());
        CHECK(r.axis().approx_equal(s.axis(), 0.0));
        CHECK(r.metadata().title == s.metadata().title);
        CHECK(r.metadata().signal_type == "EELS");
        CHECK(*r.metadata().beam_energy_kev == *s.metadata().beam_energy_kev);
        CHECK(*r.metadata().exposure_s == doctest::Approx(*s.metadata().exposure_s));
        CHECK(*r.metadata().collection_semiangle_mrad == 35.0);
        CHECK(r.metadata().extra.at("msa.LIVETIME") == "3.5");
        CHECK(r.metadata().extra.at("msa.AZIMANGLE-dg") == "90.");
        CHECK(r.metadata().extra.at("msa.DATATYPE") == (xy ? "XY" : "Y"));
    }
    // An explicit axis is written as XY and read back exactly.
    grid::Spectrum<float> e(grid::EnergyAxis::from_energies({1.0, 2.5, 7.25}), std::vector<float>{0.1f, 0.2f, 0.3f});
    const auto r = io::parse_msa<float>(io::format_msa(e));
    CHECK(r.values() == e.values());
    CHECK(r.axis().approx_equal(e.axis(), 0.0));
    // To a file and back.
    const auto path = std::filesystem::temp_directory_path() / "corespec_msa_roundtrip.msa";
    io::write_msa(path, s);
    CHECK(io::read_msa(path).values() == s.values());
    std::filesystem::remove(path);
    CHECK_THROWS_AS(io::read_msa("/nonexistent/dir/x.msa"), io_error);
}

CORESPEC_REFERENCE_TEST("MSA: every shared MSA file matches HyperSpy's reading (eels_read.json)") {
    const auto& fixtures = corespec_test::reference_json("eels_read.json").at("fixtures");
    int checked = 0;
    for (auto it = fixtures.begin(); it != fixtures.end(); ++it) {
        const std::string key = it.key();
        if (key.size() < 4 || key.substr(key.size() - 4) != ".msa") continue;
        CAPTURE(key);
        const auto& ref = it.value();
        io::FileInfo info;
        const auto s = io::read_msa(corespec_test::shared_path(key), &info);
        const auto& ax = ref.at("signal_axes").at(0);
        REQUIRE(s.size() == ref.at("array_shape").at(0).get<std::size_t>());
        REQUIRE(s.axis().is_uniform());
        CHECK(s.axis().as_uniform().offset() == ax.at("offset").get<double>());
        CHECK(s.axis().as_uniform().scale() == ax.at("scale").get<double>());
        CHECK(s.axis().units() == ax.at("units").get<std::string>());
        CHECK(s[0] == ref.at("first").get<double>());
        CHECK(s[s.size() - 1] == ref.at("last").get<double>());
        const double sum = corespec_test::exact_sum(s.values().begin(), s.values().end());
        CHECK(sum == doctest::Approx(ref.at("sum_fsum").get<double>()).epsilon(1e-15));
        const auto& md = ref.at("metadata");
        CHECK(s.metadata().title == md.at("title").get<std::string>());
        CHECK(s.metadata().signal_type == md.at("signal_type").get<std::string>());
        if (md.at("beam_energy").is_null()) CHECK_FALSE(s.metadata().beam_energy_kev.has_value());
        else CHECK(*s.metadata().beam_energy_kev == md.at("beam_energy").get<double>());
        CHECK(s.metadata().convergence_semiangle_mrad.has_value() == !md.at("convergence_angle").is_null());
        CHECK(s.metadata().exposure_s.has_value() == !md.at("exposure").is_null());
        // Every value against HyperSpy's saved float64 array.
        const auto arr = io::read_npy<double>(corespec_test::shared_path("reference/" + ref.at("data_array").get<std::string>()));
        CHECK(arr.values == s.values());
        // Round trip of the real file.
        const auto r = io::parse_msa(io::format_msa(s), "round.msa");
        CHECK(r.values() == s.values());
        CHECK(r.axis().approx_equal(s.axis(), 0.0));
        CHECK(r.metadata().beam_energy_kev == s.metadata().beam_energy_kev);
        CHECK(r.metadata().signal_type == s.metadata().signal_type);
        for (const auto& [k, v] : s.metadata().extra)
            if (k != "msa.DATATYPE" && k != "msa.NPOINTS" && k != "msa.XPERCHAN" && k != "msa.OFFSET" &&
                k != "msa.BEAMKV" && k != "msa.FORMAT" && k != "msa.NCOLUMNS" && k != "msa.SIGNALTYPE")
                CHECK(r.metadata().extra.at(k) == v);
        ++checked;
    }
    CHECK(checked == 8);
}
