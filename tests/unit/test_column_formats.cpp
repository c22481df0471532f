#include <doctest/doctest.h>

#include <filesystem>

#include "corespec/io/columns.hpp"
#include "corespec/io/json_spectra.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

TEST_CASE("columns: FDMNES _conv.txt (header line of named numbers, <xanes> label)") {
    const auto path = corespec_test::source_path("tests/data/io/fdmnes_Ni_K_conv.txt");
    const auto t = io::read_columns(path);
    CHECK(io::flavor_from_name(path.string(), t) == io::ColumnFlavor::fdmnes_conv);
    CHECK(io::detect_flavor(t) == io::ColumnFlavor::fdmnes_conv);
    CHECK(t.labels == std::vector<std::string>{"Energy", "<xanes>"});
    const auto s = io::read_column_spectrum(path);
    CHECK(s.size() == 61);
    CHECK(s.energy(0) == -10.0);
    CHECK(s[0] == 2.55069e-05);
    CHECK(s.metadata().extra.at("fdmnes.E_edge") == "8333.000");
    CHECK(s.metadata().extra.at("fdmnes.Z") == "28");
    CHECK(s.metadata().technique == grid::Technique::xas);
    // Column by name and by index agree.
    CHECK(io::to_spectrum<double>(t, "energy", "<XANES>").values() == io::to_spectrum<double>(t, 0, 1).values());
}

TEST_CASE("columns: FEFF label line with '@#' and flavour defaults") {
    const auto t = io::parse_columns(
        "# FEFF 10\n#  omega    e    k    mu    mu0     chi     @#\n"
        "8330.9 -9.5 -1.4 0.039 0.032 0.0067\n8332.3 -8.1 -1.26 0.048 0.039 0.0085\n");
    CHECK(t.labels == std::vector<std::string>{"omega", "e", "k", "mu", "mu0", "chi"});
    CHECK(io::detect_flavor(t) == io::ColumnFlavor::feff_xmu);
    const auto s = io::to_spectrum<double>(t, io::ColumnFlavor::feff_xmu);
    CHECK(s.energy(1) == 8332.3);
    CHECK(s[1] == 0.048);
    CHECK(io::to_spectrum<double>(t, io::ColumnFlavor::feff_xmu, "e", "chi")[0] == 0.0067);
    CHECK_THROWS_AS(io::to_spectrum<double>(t, io::ColumnFlavor::feff_xmu, "e", "nothing"), range_error);
}

TEST_CASE("JSON: pymatgen x/y and tables of arrays; hostile JSON") {
    const auto s = io::parse_json_spectrum("{\"x\": [1, 2, 3.5], \"y\": [0.1, 0.2, 0.3], \"absorbing_element\": \"Co\", "
                                           "\"edge\": \"K\", \"spectrum_type\": \"XANES\"}");
    CHECK(s.energy(2) == 3.5);
    CHECK(s.metadata().element == "Co");
    CHECK(s.metadata().signal_type == "XANES");
    const auto si = io::parse_json_spectrum_image("{\"other\": 3, \"t\": {\"a\": [1, 2], \"b\": [3, 4], \"c\": [5, 6]}}");
    CHECK(si.navigation_shape() == std::vector<std::size_t>{3});
    CHECK(si.pixel(2).values[1] == 6.0);
    CHECK_THROWS_AS(io::parse_json_spectrum("{\"x\": [1, 2], \"y\": [1]}"), parse_error);
    CHECK_THROWS_AS(io::parse_json_spectrum("{\"x\": [1, 2], \"y\": [1, \"a\"]}"), parse_error);
    CHECK_THROWS_AS(io::parse_json_spectrum("{\"x\": [2, 1], \"y\": [1, 2]}"), parse_error);
    CHECK_THROWS_AS(io::parse_json_spectrum("{\"x\": [1, 2, "), parse_error);
    CHECK_THROWS_AS(io::parse_json_spectrum_image("{\"t\": {\"a\": [1, 2], \"b\": [3]}}"), parse_error);
    CHECK_THROWS_AS(io::parse_json_spectrum(std::string(100000, '[')), parse_error);
    // A number beyond double range (found by fuzz_json) is a parse_error, not an escaping nlohmann exception.
    CHECK_THROWS_AS(io::parse_json_spectrum("{\"x\": [1, -2.6e30625744], \"y\": [1, 2]}"), parse_error);
}

CORESPEC_REFERENCE_TEST("columns: FEFF xmu.dat of every NMC sample and pymatgen's") {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(corespec_test::shared_path("data/sim/feff_nmc"))) {
        const auto name = entry.path().filename().string();
        if (name.size() < 8 || name.substr(name.size() - 8) != ".xmu.dat") continue;
        CAPTURE(name);
        const auto t = io::read_columns(entry.path());
        REQUIRE(io::detect_flavor(t) == io::ColumnFlavor::feff_xmu);
        const auto s = io::read_column_spectrum(entry.path());
        CHECK(s.size() == 64);  // README: 64 points per run
        CHECK(s.values() == t.column("mu"));
        CHECK(s.axis().energies() == t.column("omega"));
        ++n;
    }
    CHECK(n >= 16);  // 4 samples x 4 edges at least
    // pymatgen's FEFF 9.6 file: the checks recorded in xas_reference.json.
    const auto& r = corespec_test::reference_json("xas_reference.json").at("data/xas/sim/pymatgen/xmu.dat");
    const auto t = io::read_columns(corespec_test::shared_path("data/xas/sim/pymatgen/xmu.dat"));
    CHECK(t.rows() == r.at("n_points").get<std::size_t>());
    const auto s = io::to_spectrum<double>(t, io::detect_flavor(t));
    CHECK(s.energy(0) == r.at("energy_min").get<double>());
    CHECK(s.energy(s.size() - 1) == r.at("energy_max").get<double>());
    double worst = 0.0;
    for (std::size_t i = 0; i < t.rows(); ++i) {
        // Both columns are printed with 3 decimals.
        CHECK(std::abs(t.column("omega")[i] - t.column("e")[i] - r.at("checks").at("omega_minus_e_constant_eV").get<double>()) <= 1.5e-3);
        worst = std::max(worst, std::abs(t.column("mu")[i] - t.column("mu0")[i] - t.column("chi")[i]));
    }
    CHECK(worst == doctest::Approx(r.at("checks").at("max_abs(mu-mu0-chi)").get<double>()).epsilon(1e-9));
}

CORESPEC_REFERENCE_TEST("columns: VASP CORE_DIELECTRIC_IMAG, Larch exports, Lightshow tables") {
    const auto vasp = corespec_test::shared_path("data/xas/nmc_ni_k/CORE_DIELECTRIC_IMAG.dat");
    const auto t = io::read_columns(vasp);
    CHECK(io::flavor_from_name(vasp.string(), t) == io::ColumnFlavor::vasp_dielectric);
    const auto& r = corespec_test::reference_json("xas_reference.json").at("data/xas/nmc_ni_k/CORE_DIELECTRIC_IMAG.dat");
    CHECK(t.rows() == r.at("n_rows").get<std::size_t>());
    CHECK(t.columns.size() == 2);
    CHECK(io::read_column_spectrum(vasp).size() == 1000);
    // Larch / Athena style exports: the mu-like column chosen by label.
    const auto xmu = io::read_columns(corespec_test::shared_path("data/xas/larch/fe2o3_rt1.xmu"));
    CHECK(xmu.labels == std::vector<std::string>{"energy", "mu", "i0"});
    CHECK(io::detect_flavor(xmu) == io::ColumnFlavor::athena_export);
    const auto& rx = corespec_test::reference_json("xas_reference.json").at("data/xas/larch/fe2o3_rt1.xmu");
    const auto csv = corespec_test::reference_csv(rx.at("arrays").at("mu").get<std::string>());
    const auto s = io::read_column_spectrum(corespec_test::shared_path("data/xas/larch/fe2o3_rt1.xmu"));
    CHECK(s.values() == csv.column(1));
    CHECK(s.axis().energies() == csv.column(0));
    const auto mn = io::read_column_spectrum(corespec_test::shared_path("data/xas/larch/mn_cpmnco3.dat"));
    const auto& rm = corespec_test::reference_json("xas_reference.json").at("data/xas/larch/mn_cpmnco3.dat");
    CHECK(mn.values() == corespec_test::reference_csv(rm.at("arrays").at("mu").get<std::string>()).column(1));
    CHECK(mn.metadata().extra.at("columns.value") == "xmu(trans)");
    for (const char* f : {"ene_dep_broad.txt", "gauss_broad.txt", "lorentz_broad.txt", "voigt_broad.txt"}) {
        const auto l = io::read_columns(corespec_test::shared_path(std::string("data/xas/sim/lightshow/sample_files/") + f));
        CHECK(l.rows() == 1000);
        CHECK(l.columns.size() == 2);
    }
}

CORESPEC_REFERENCE_TEST("JSON: pymatgen LiCoO2 XANES and FeatureXAS NMC tables (xas_reference.json)") {
    const auto& ref = corespec_test::reference_json("xas_reference.json");
    const auto s = io::read_json_spectrum(corespec_test::shared_path("data/xas/sim/pymatgen/LiCoO2_k_xanes.json"));
    const auto& v = ref.at("data/xas/sim/pymatgen/LiCoO2_k_xanes.json").at("verified_with_numpy");
    CHECK(s.size() == v.at("n_points").get<std::size_t>());
    CHECK(corespec_test::exact_sum(s.values().begin(), s.values().end()) == doctest::Approx(v.at("sum_y").get<double>()).epsilon(1e-9));
    CHECK(s.metadata().element == "Co");
    // pymatgen's e0: x at the maximum of gradient(y)/gradient(x) (numpy central differences).
    std::size_t best = 0;
    double best_d = -INFINITY;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const std::size_t a = i == 0 ? 0 : i - 1, b = i + 1 == s.size() ? i : i + 1;
        const double d = (s[b] - s[a]) / (s.energy(b) - s.energy(a));
        if (d > best_d) {
            best_d = d;
            best = i;
        }
    }
    CHECK(s.energy(best) == v.at("e0").get<double>());
    // Linear interpolation at 7720.422 eV.
    const double e = 7720.422;
    const std::size_t j = s.axis().segment(e);
    const double y = s[j] + (s[j + 1] - s[j]) * (e - s.energy(j)) / (s.energy(j + 1) - s.energy(j));
    CHECK(y == doctest::Approx(v.at("interp_7720.422").get<double>()).epsilon(1e-12));

    // FeatureXAS: 16 spectra x 100 points, grid from the README (linspace 8330..8370).
    const auto path = corespec_test::shared_path("data/xas/nmc_ni_k/nmc_exp_xas.json");
    io::FileInfo info;
    const auto grid_axis = grid::EnergyAxis(grid::UniformAxis::from_range(8330.0, 8370.0, 100));
    const auto in = io::read_json_spectrum_image(path, &info, "intensity", grid_axis);
    CHECK(in.navigation_shape() == std::vector<std::size_t>{16});
    CHECK(in.channel_count() == 100);
    CHECK(info.axes.size() == 2);
    CHECK(in.axis().energy(99) == doctest::Approx(8370.0));
    // cdf = cumsum(intensity) / max(cumsum(intensity)), stored beside it.
    const auto cdf = io::read_json_spectrum_image(path, nullptr, "cdf");
    double worst = 0.0;
    for (std::size_t p = 0; p < 16; ++p) {
        const auto row = in.pixel(p).values;
        std::vector<double> cum(row.size());
        double acc = 0.0;
        for (std::size_t i = 0; i < row.size(); ++i) cum[i] = acc += row[i];
        for (std::size_t i = 0; i < row.size(); ++i) worst = std::max(worst, std::abs(cum[i] / acc - cdf.pixel(p).values[i]));
    }
    CHECK(worst < 1e-6);  // the file stores 8-10 significant digits
}
