#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "corespec/io/read.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

TEST_CASE("detect_format: content first, extension only as a tie-breaker") {
    using io::Format;
    CHECK(io::detect_format(std::string("\x93NUMPY\x01\x00", 8)) == Format::npy);
    CHECK(io::detect_format("\x1f\x8b\x08\x00") == Format::athena);
    CHECK(io::detect_format(std::string("\0\0\0\x03\0\0\xc1\x33\0\0\0\x01\x01\0\0\0", 16)) == Format::dm3);
    CHECK(io::detect_format(std::string("\0\0\0\x04\0\0\0\0\0\x04\xac\x6a\0\0\0\x01", 16)) == Format::dm4);
    CHECK(io::detect_format("# XDI/1.0 GSE/1.0\n# Column.1: energy\n") == Format::xdi);
    CHECK(io::detect_format("\n\n#XDI/1.1\n") == Format::xdi);
    CHECK(io::detect_format("#FORMAT      : EMSA/MAS Spectral Data File\n") == Format::msa);
    CHECK(io::detect_format("# Athena project file -- Demeter\n") == Format::athena);
    CHECK(io::detect_format("  {\"x\": [1]}") == Format::json);
    CHECK(io::detect_format("# energy mu\n1 2\n") == Format::columns);
    // The content wins over a misleading extension...
    CHECK(io::detect_format("# XDI/1.0\n", "data.msa") == Format::xdi);
    CHECK(io::detect_format("1 2\n3 4\n", "data.npy") == Format::columns);
    // ...and the extension decides when the content says nothing.
    CHECK(io::detect_format("", "x.msa") == Format::msa);
    CHECK(io::detect_format("", "x.DM4") == Format::dm4);
    CHECK(io::detect_format(std::string("\0\1\2\3", 4), "x.bin") == Format::unknown);
    CHECK(io::detect_format("") == Format::unknown);
}

TEST_CASE("read_spectrum / parse_spectrum_image from memory, every text format") {
    io::FileInfo info;
    auto s = io::parse_spectrum("#FORMAT : EMSA\n#SPECTRUM :\n1\n2\n3\n", "a.msa", &info);
    CHECK(s.size() == 3);
    CHECK(info.format == io::Format::msa);
    s = io::parse_spectrum("# XDI/1.0\n# Column.1: energy\n# Column.2: mutrans\n#---\n1 5\n2 6\n", "a.xdi", &info);
    CHECK(s[1] == 6.0);
    CHECK(info.format == io::Format::xdi);
    s = io::parse_spectrum("# e mu\n1 5\n2 6\n", "a.dat", &info);
    CHECK(info.format == io::Format::columns);
    CHECK(s[1] == 6.0);
    const std::vector<double> v{1, 2, 3, 4, 5, 6};
    const auto npy = io::format_npy<double>({2, 3}, v.data());
    const auto si = io::parse_spectrum_image(npy, "a.npy", &info);
    CHECK(si.navigation_shape() == std::vector<std::size_t>{2});
    CHECK(info.format == io::Format::npy);
    CHECK(info.dtype == "float64");
    CHECK(info.axes.size() == 2);
    CHECK_THROWS_AS(io::parse_spectrum(npy, "a.npy"), unsupported_error);
    const auto npy1 = io::format_npy<double>({6}, v.data());
    CHECK(io::parse_spectrum(npy1, "b.npy", &info).size() == 6);
    CHECK(info.axes.size() == 1);
    // Garbage of every kind is a corespec error.
    CHECK_THROWS_AS(io::parse_spectrum(std::string("\0\1\2\3\4", 5), "g.bin"), parse_error);
    CHECK_THROWS_AS(io::parse_spectrum("hello world\n", "g.txt"), parse_error);
    CHECK_THROWS_AS(io::parse_spectrum("1\n2\n3\n", "one_column.dat"), parse_error);
    CHECK_THROWS_AS(io::parse_spectrum("", "empty"), parse_error);
    CHECK_THROWS_AS(io::read_spectrum("/nonexistent/file.msa"), io_error);
    CHECK_THROWS_AS(io::read_spectrum(std::filesystem::temp_directory_path()), io_error);
}

CORESPEC_REFERENCE_TEST("read_spectrum: every shared text, JSON, NPY and Athena file dispatches to its reader") {
    struct Case {
        const char* path;
        io::Format format;
        std::size_t channels;
    };
    const Case cases[] = {
        {"data/eels/exspy/coreloss_spectrum.msa", io::Format::msa, 2048},
        {"data/eels/nmc/nmc_O_K.msa", io::Format::msa, 2036},
        {"data/xas/xaslib/Fe/FeO_rt_01.xdi", io::Format::xdi, 412},
        {"data/xas/larch/fe_xanes_8ch.xdi", io::Format::xdi, 100},
        {"data/xas/larch/fe2o3_rt1.xmu", io::Format::columns, 412},
        {"data/xas/larch/mn_cpmnco3.dat", io::Format::columns, 409},
        {"data/sim/feff_nmc/nmc0000_O_K.xmu.dat", io::Format::columns, 64},
        {"data/xas/nmc_ni_k/CORE_DIELECTRIC_IMAG.dat", io::Format::columns, 1000},
        {"data/xas/sim/pymatgen/LiCoO2_k_xanes.json", io::Format::json, 100},
        {"data/xas/larch/athena/FeO.prj", io::Format::athena, 412},
        {"data/xas/larch/athena/Fe.prj", io::Format::athena, 511},
        {"reference/arrays/eels/read/nmc__nmc_O_K.msa.npy", io::Format::npy, 2036},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.path));
        io::FileInfo info;
        const auto s = io::read_spectrum(corespec_test::shared_path(c.path), &info);
        CHECK(info.format == c.format);
        CHECK(s.size() == c.channels);
        REQUIRE(info.axes.size() == 1);
        CHECK(info.axes[0].size == c.channels);
        CHECK(info.axes[0].first == s.energy(0));
        CHECK(info.axes[0].last == s.energy(s.size() - 1));
        if (c.format != io::Format::athena)
            CHECK(io::read_spectrum_image(corespec_test::shared_path(c.path)).spectrum(0).values() == s.values());
    }
    // Multi-spectrum files.
    io::FileInfo info;
    const auto t = io::read_spectrum_image(corespec_test::shared_path("data/xas/nmc_ni_k/nmc_exp_xas.json"), &info);
    CHECK(t.navigation_shape() == std::vector<std::size_t>{16});
    CHECK_THROWS_AS(io::read_spectrum(corespec_test::shared_path("data/xas/nmc_ni_k/nmc_exp_xas.json")), unsupported_error);
    CHECK_THROWS_AS(io::read_spectrum_image(corespec_test::shared_path("data/xas/larch/athena/NiO.prj")), unsupported_error);
    const auto feo = io::read_spectrum_image(corespec_test::shared_path("data/xas/larch/athena/FeO.prj"), &info);
    CHECK(feo.pixel_count() == 1);
    // The XDI bad files that must fail fail through the dispatcher too.
    CHECK_THROWS_AS(io::read_spectrum(corespec_test::shared_path("data/xas/bad_xdi/bad_15.xdi")), parse_error);
}

#ifdef CORESPEC_IO_HAVE_DM
CORESPEC_REFERENCE_TEST("read_spectrum_image: DM files dispatch to read_dm") {
    io::FileInfo info;
    const auto si = io::read_spectrum_image(corespec_test::shared_path("data/eels/nmc/nmc_coreloss_si.dm3"), &info);
    CHECK(info.format == io::Format::dm3);
    CHECK(si.channel_count() == 2048);
}
#else
CORESPEC_REFERENCE_TEST("read_spectrum_image: DM files are detected; no DM reader in this build") {
    io::FileInfo info;
    CHECK_THROWS_AS(io::read_spectrum_image(corespec_test::shared_path("data/eels/nmc/nmc_coreloss_si.dm3"), &info),
                    unsupported_error);
    CHECK(io::detect_format(io::detail::read_head(corespec_test::shared_path("data/eels/dm/3D/EELS_SI.dm4"), 64)) ==
          io::Format::dm4);
}
#endif

// ------------------------------------------------------------ the readers' edges

namespace {

// The message of the corespec error `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const corespec::error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("readers refuse what is not a regular file, and say why") {
    // Devices and FIFOs would otherwise be read forever (or block on open).
    for (const char* device : {"/dev/zero", "/dev/urandom", "/dev/null"}) {
        if (!std::filesystem::exists(device)) continue;
        CAPTURE(device);
        const std::string m = error_of([&] { io::read_spectrum(device); });
        CHECK(m.find(device) != std::string::npos);
        CHECK(m.find("not a regular file") != std::string::npos);
        CHECK_THROWS_AS(io::read_spectrum_image(device), io_error);
        CHECK_THROWS_AS(io::read_npy<double>(device), io_error);
        CHECK_THROWS_AS(io::read_xdi(device), io_error);
    }
    const auto fifo = std::filesystem::temp_directory_path() / "corespec_test_fifo";
    std::filesystem::remove(fifo);
    if (::mkfifo(fifo.c_str(), 0600) == 0) {
        const std::string m = error_of([&] { io::read_spectrum(fifo); });
        CHECK(m.find("FIFO") != std::string::npos);
        CHECK_THROWS_AS(io::read_msa<double>(fifo), io_error);
        std::filesystem::remove(fifo);
    }
}

TEST_CASE("open failures name the path and the OS's reason") {
    const std::string missing = error_of([] { io::read_spectrum("/nonexistent/file.msa"); });
    CHECK(missing.find("'/nonexistent/file.msa'") != std::string::npos);
    CHECK(missing.find("No such file or directory") != std::string::npos);
    const auto dir = std::filesystem::temp_directory_path();
    CHECK(error_of([&] { io::read_spectrum(dir); }).find("is a directory") != std::string::npos);
    CHECK(error_of([&] { io::read_columns(dir); }).find("is a directory") != std::string::npos);
    // Permission: root reads every file, so the check only means something for other users.
    if (::geteuid() != 0) {
        const auto path = dir / "corespec_test_no_read.msa";
        std::ofstream(path) << "#FORMAT : EMSA\n#SPECTRUM :\n1\n2\n";
        std::filesystem::permissions(path, std::filesystem::perms::none);
        CHECK(error_of([&] { io::read_spectrum(path); }).find("Permission denied") != std::string::npos);
        std::filesystem::remove(path);
    }
}

TEST_CASE("NaN/Inf policy: every reader rejects non-finite data with a parse_error") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    for (const double bad : {nan, inf, -inf}) {
        const std::vector<double> v{1.0, 2.0, bad, 4.0};
        CAPTURE(bad);
        const auto npy = io::format_npy<double>({2, 2}, v.data());
        try {
            io::parse_npy<double>(npy.data(), npy.size(), "bad.npy");
            FAIL("expected parse_error");
        } catch (const parse_error& e) {
            CHECK(e.source() == "bad.npy");
            CHECK(e.location() == "value 2 (pixel 1, channel 0)");
        }
        CHECK_THROWS_AS(io::parse_spectrum_image(npy, "bad.npy"), parse_error);
    }
    // A float64 value too large for float becomes infinite: also rejected.
    const std::vector<double> big{1.0, 1e300};
    const auto npy = io::format_npy<double>({2}, big.data());
    CHECK_THROWS_AS(io::parse_npy<float>(npy.data(), npy.size()), parse_error);
    CHECK(io::parse_npy<double>(npy.data(), npy.size()).values[1] == 1e300);
    // The text readers follow the same policy.
    CHECK_THROWS_AS(io::parse_spectrum("#FORMAT : EMSA\n#SPECTRUM :\n1\nnan\n3\n", "a.msa"), parse_error);
    CHECK_THROWS_AS(io::parse_spectrum("# XDI/1.0\n# Column.1: energy\n# Column.2: mutrans\n#---\n1 5\n2 inf\n", "a.xdi"),
                    parse_error);
    CHECK_THROWS_AS(io::parse_spectrum("# e mu\n1 5\n2 nan\n", "a.dat"), corespec::error);
    CHECK_THROWS_AS(io::parse_spectrum("{\"energy\": [1, 2], \"values\": [1, NaN]}", "a.json"), corespec::error);
}

TEST_CASE("XDI: a Column.N label past the data is named with its line; far past, an error") {
    const std::string head = "# XDI/1.0\n# Column.1: energy\n# Column.2: mutrans\n";
    const auto x = io::parse_xdi(head + "# Column.3: extra\n#----\n1 5\n2 6\n", "a.xdi");
    REQUIRE(x.warnings.size() >= 1);
    bool named = false;
    for (const auto& w : x.warnings) named = named || w.rfind("line 4: Column.3", 0) == 0;
    CHECK(named);
    for (const char* label : {"1000000", "129", "99999999999999999999999"}) {
        CAPTURE(label);
        try {
            io::parse_xdi(head + "# Column." + label + ": far\n#----\n1 5\n2 6\n", "a.xdi");
            FAIL("expected parse_error");
        } catch (const parse_error& e) {
            CHECK(e.location() == "line 4");
            CHECK(e.reason().find("Column.") != std::string::npos);
        }
    }
}

TEST_CASE("XDI: header parsing is bounded (10^6 header lines stop at the limit with a parse_error)") {
    std::string text = "# XDI/1.0\n";
    text.reserve(20 * 1000000);
    for (int i = 0; i < 1000000; ++i) text += "# Ext.key" + std::to_string(i % 10) + ": v\n";
    text += "#----\n1 2\n";
    try {
        io::parse_xdi(text, "long.xdi");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.location() == "line " + std::to_string(io::xdi_max_header_lines + 2));
    }
    // Below the limit, a long header is read.
    std::string ok = "# XDI/1.0\n# ///\n";
    for (std::size_t i = 0; i + 10 < io::xdi_max_header_lines; ++i) ok += "# comment line\n";
    ok += "#----\n1 2\n";
    CHECK(io::parse_xdi(ok).table.rows() == 1);
}
