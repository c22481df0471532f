#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "corespec/io/xdi.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

namespace {
const char* const kXdi =
    "# XDI/1.0 GSE/1.0\n"
    "# Column.1: energy eV\n"
    "# Column.2: i0\n"
    "# Column.3: itrans\n"
    "# Column.4: ifluor\n"
    "# Element.symbol: Cu\n"
    "# Element.edge: K\n"
    "# Mono.d_spacing: 3.13553\n"
    "# Facility.name: APS\n"
    "# Facility.xray_source: undulator\n"
    "# Beamline.name: 13-ID\n"
    "# Scan.start_time: 2001-06-26T22:27:31\n"
    "# GSE.EXTRA: config 1\n"
    "# ///\n"
    "# first comment line\n"
    "# second: with a colon\n"
    "#----\n"
    "# energy i0 itrans ifluor\n"
    "8979.0 100.0 50.0 10.0\n"
    "8980.0 100.0 25.0 20.0\n"
    "8981.5 200.0 20.0 30.0\n";
}

TEST_CASE("XDI: header fields, labels, units, comments, data") {
    const auto x = io::parse_xdi(kXdi, "t.xdi");
    CHECK(x.version == "1.0");
    CHECK(x.extra_version == "GSE/1.0");
    CHECK(x.warnings.empty());
    CHECK(x.missing_recommended().empty());
    CHECK(x.get("element", "SYMBOL").value() == "Cu");
    CHECK(x.get("GSE", "EXTRA").value() == "config 1");
    CHECK_FALSE(x.get("Sample", "name").has_value());
    CHECK(x.table.labels == std::vector<std::string>{"energy", "i0", "itrans", "ifluor"});
    CHECK(x.units == std::vector<std::string>{"eV", "", "", ""});
    CHECK(x.comments == "first comment line\nsecond: with a colon");
    CHECK(x.label_line == "energy i0 itrans ifluor");
    CHECK(x.table.rows() == 3);
    CHECK(x.column("ITRANS")[2] == 20.0);
}

TEST_CASE("XDI: mu from transmission and fluorescence, and as a spectrum") {
    const auto x = io::parse_xdi(kXdi);
    std::string how;
    const auto t = io::xdi_mu(x, io::MuMode::transmission, &how);
    CHECK(how == "ln(i0/itrans)");
    CHECK(t[0] == std::log(2.0));
    CHECK(t[2] == std::log(10.0));
    const auto f = io::xdi_mu(x, io::MuMode::fluorescence);
    CHECK(f[1] == 0.2);
    CHECK(io::xdi_mu(x) == t);  // automatic: transmission before fluorescence
    CHECK(io::xdi_fluorescence_mu(x, {"ifluor", "itrans"}) == std::vector<double>{0.6, 0.45, 0.25});
    io::FileInfo info;
    const auto s = io::to_spectrum(x, io::MuMode::automatic, &info);
    CHECK(s.metadata().element == "Cu");
    CHECK(s.metadata().edge == "K");
    CHECK(s.metadata().technique == grid::Technique::xas);
    CHECK(s.metadata().extra.at("xdi.Mono.d_spacing") == "3.13553");
    CHECK(s.energy(2) == 8981.5);
    CHECK(info.format == io::Format::xdi);
    CHECK(info.axes.at(0).is_explicit);
    CHECK(info.axes.at(0).last == 8981.5);
    // Missing columns and non-positive ratios are errors.
    const auto no_i0 = io::parse_xdi("# XDI/1.0\n# Column.1: energy\n# Column.2: foo\n#----\n1 2\n2 3\n");
    CHECK_THROWS_AS(io::xdi_mu(no_i0), range_error);
    const auto zero = io::parse_xdi("# XDI/1.0\n# Column.1: energy\n# Column.2: i0\n# Column.3: itrans\n#---\n1 1 0\n2 1 1\n");
    CHECK_THROWS_AS(io::xdi_mu(zero), value_error);
}

TEST_CASE("XDI: write then read keeps fields, labels, comments and values") {
    const auto x = io::parse_xdi(kXdi);
    const auto text = io::format_xdi(x);
    const auto r = io::parse_xdi(text, "round.xdi");
    CHECK(r.warnings.empty());
    CHECK(r.version == x.version);
    CHECK(r.extra_version == x.extra_version);
    CHECK(r.table.labels == x.table.labels);
    CHECK(r.units == x.units);
    CHECK(r.comments == x.comments);
    CHECK(r.table.columns == x.table.columns);
    REQUIRE(r.fields.size() == x.fields.size());
    for (const auto& f : x.fields) CHECK(r.get(f.family, f.key).value() == f.value);
    const auto path = std::filesystem::temp_directory_path() / "corespec_xdi_roundtrip.xdi";
    io::write_xdi(path, x);
    CHECK(io::read_xdi(path).table.columns == x.table.columns);
    std::filesystem::remove(path);
}

TEST_CASE("XDI: errors name the line") {
    try {
        io::parse_xdi("# XDI/1.0\n# Element.symbol: Cu\n# Bad line without colon\n#---\n1 2\n", "b.xdi");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "b.xdi");
        CHECK(e.location() == "line 3");
    }
    CHECK_THROWS_AS(io::parse_xdi(""), parse_error);
    CHECK_THROWS_AS(io::parse_xdi("# XDI/1.0\n# Element.symbol: Cu\n"), parse_error);  // no data
    CHECK_THROWS_AS(io::parse_xdi("# XDI/1.0\n#---\n1 2\n3 inf\n"), parse_error);
}

CORESPEC_REFERENCE_TEST("XDI: the XDI project's bad-file suite behaves as BadFiles.txt says") {
    const auto dir = corespec_test::shared_path("data/xas/bad_xdi");
    std::ifstream index(dir / "BadFiles.txt");
    REQUIRE(index);
    // Rows look like "bad_07.xdi   file read(2)   Y     No Column labels".
    std::string line;
    int n = 0;
    while (std::getline(index, line)) {
        if (line.rfind("bad_", 0) != 0) continue;
        const std::string file = line.substr(0, line.find(' '));
        const auto read_at = line.find("file read");
        const std::string status = line.find("error msg") != std::string::npos ? "error msg" : "file read";
        REQUIRE((status == "error msg" || read_at != std::string::npos));
        int note = 0;
        if (status == "file read" && line.size() > read_at + 11 && line[read_at + 9] == '(') note = line[read_at + 10] - '0';
        CAPTURE(file);
        CAPTURE(status);
        ++n;
        if (status == "error msg") {
            try {
                io::read_xdi(dir / file);
                FAIL("expected parse_error");
            } catch (const parse_error& e) {
                CHECK(e.source().find(file) != std::string::npos);
                CHECK(e.location().rfind("line ", 0) == 0);
                CHECK_FALSE(e.reason().empty());
            }
            continue;
        }
        const auto x = io::read_xdi(dir / file);
        CHECK(x.table.rows() > 0);
        switch (note) {
            case 0: CHECK(x.warnings.empty()); CHECK(x.missing_recommended().empty()); break;
            case 1: CHECK_FALSE(x.warnings.empty()); break;  // read with a warning
            case 2: {  // extra labels ignored, unspecified ones 'colN'
                CHECK_FALSE(x.warnings.empty());
                CHECK(x.table.labels.size() == x.table.columns.size());
                bool has_col = false;
                for (std::size_t c = 0; c < x.table.labels.size(); ++c)
                    if (x.table.labels[c] == "col" + std::to_string(c + 1)) has_col = true;
                CHECK((has_col || file == "bad_09.xdi"));
                break;
            }
            case 3: CHECK_FALSE(x.warnings.empty()); CHECK_FALSE(x.get("Beamline", "collimation").has_value()); break;
            case 4: CHECK(x.get("Family", "00key").value() == "Value"); break;
            case 5: CHECK(x.extra_version.empty()); break;
            case 6: CHECK(x.comments.empty()); break;
            case 7: CHECK_FALSE(x.missing_recommended().empty()); break;
            default: FAIL("unknown note");
        }
    }
    CHECK(n == 36);
}

CORESPEC_REFERENCE_TEST("XDI: every good file reads and mu matches xas_reference.json") {
    const auto& ref = corespec_test::reference_json("xas_reference.json");
    int checked = 0;
    for (auto it = ref.begin(); it != ref.end(); ++it) {
        const std::string key = it.key();
        if (key.size() < 4 || key.substr(key.size() - 4) != ".xdi" || key.find("bad_xdi") != std::string::npos) continue;
        CAPTURE(key);
        const auto& r = it.value();
        const auto x = io::read_xdi(corespec_test::shared_path(key));
        std::vector<std::string> labels;
        for (auto l : x.table.labels) {
            for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            labels.push_back(l);
        }
        CHECK(labels == r.at("columns").get<std::vector<std::string>>());
        CHECK(x.table.rows() == r.at("n_points").get<std::size_t>());
        const std::string def = r.at("mu_definition").get<std::string>();
        std::vector<double> mu;
        if (def.find("dead-time") != std::string::npos) {
            std::vector<std::string> roi, dt;
            for (int k = 1; k <= 8; ++k) {
                roi.push_back("Fe_Ka_mca" + std::to_string(k));
                dt.push_back("DTFactor_mca" + std::to_string(k));
            }
            mu = io::xdi_fluorescence_mu(x, roi, dt, "I0");
        } else {
            std::string how;
            mu = io::xdi_mu(x, io::MuMode::automatic, &how);
            if (def.find("ln(i0 / itrans)") != std::string::npos) CHECK(how.rfind("ln(", 0) == 0);
            else CHECK(how.find("column") == 0);
        }
        const auto csv = corespec_test::reference_csv(r.at("arrays").at("mu").get<std::string>());
        const auto s = io::to_spectrum(x);
        CHECK(s.energy(0) == r.at("energy_min").get<double>());
        CHECK(s.energy(s.size() - 1) == r.at("energy_max").get<double>());
        CHECK(csv.column(0) == s.axis().energies());
        // ln and the division may differ from numpy's by an ulp.
        double max_rel = 0.0;
        for (std::size_t i = 0; i < mu.size(); ++i)
            max_rel = std::max(max_rel, std::abs(mu[i] - csv.column(1)[i]) / std::max(1.0, std::abs(csv.column(1)[i])));
        CHECK(max_rel < 1e-14);
        if (!r.at("element").is_null() && def.find("dead-time") == std::string::npos)
            CHECK(s.metadata().element == r.at("element").get<std::string>());
        ++checked;
    }
    CHECK(checked == 35);
}
