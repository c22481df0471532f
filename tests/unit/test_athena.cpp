#include <doctest/doctest.h>

#include <string>

#ifdef CORESPEC_HAVE_ZLIB
#include <zlib.h>
#endif

#include "corespec/io/athena.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

namespace {
const char* const kProject =
    "# Athena project file -- Demeter version 0.9.20\n"
    "# This file created at 2014-03-04T14:01:58\n"
    "\n"
    "$old_group = 'abcd';\n"
    "@args = ('label','Fe \\'foil\\'','bkg_e0','7112','bkg_pre1',-150,'bkg_nnorm',3,'bkg_eshift','1.5',"
    "'titles',['first title','second'],'detectors',[],'empty',undef);\n"
    "@x = ('7000','7010.5','7020');\n"
    "@y = ('0.1','0.2','0.35');\n"
    "@i0 = ('1000','1001','1002');\n"
    "$xdi = bless( {'metadata' => {'Mono' => {'d_spacing' => '3.1'}},'ok' => 0}, 'Xray::XDI' );\n"
    "[record]   # create object and set arrays in ifeffit\n"
    "\n"
    "@journal = ();\n"
    "%plot_features = ('c4' => 'darkorange','k_w' => '2');\n"
    "\n"
    "1;\n"
    "# Local Variables:\n";

#ifdef CORESPEC_HAVE_ZLIB
std::string gzip(const std::string& text) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, static_cast<uLong>(text.size())) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    zs.avail_in = static_cast<uInt>(text.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}
#endif
}  // namespace

TEST_CASE("Athena: the Data::Dumper subset, groups, args, arrays") {
    const auto p = io::parse_athena(kProject, "t.prj");
    CHECK(p.header == "# Athena project file -- Demeter version 0.9.20");
    REQUIRE(p.groups.size() == 1);
    const auto& g = p.groups[0];
    CHECK(g.name == "abcd");
    CHECK(g.label == "Fe 'foil'");
    CHECK(g.e0().value() == 7112.0);
    CHECK(g.number("bkg_pre1").value() == -150.0);
    CHECK(g.number("bkg_nnorm").value() == 3.0);
    CHECK_FALSE(g.step().has_value());
    CHECK(g.titles == std::vector<std::string>{"first title", "second"});
    CHECK(g.args.at("empty").empty());
    CHECK(g.energy() == std::vector<double>{7000.0, 7010.5, 7020.0});
    CHECK(g.array("i0")[2] == 1002.0);
    REQUIRE(g.xdi.has_value());
    CHECK(g.xdi->blessed == "Xray::XDI");
    CHECK(g.xdi->find("metadata")->find("Mono")->find("d_spacing")->text == "3.1");
    CHECK(&p.group("Fe 'foil'") == &g);
    CHECK_THROWS_AS(p.group("nothing"), range_error);
    CHECK_THROWS_AS(g.array("chi"), range_error);
    io::FileInfo info;
    const auto s = io::to_spectrum(g, true, "t.prj", &info);
    CHECK(s.energy(0) == 7001.5);  // x + bkg_eshift
    CHECK(s[2] == 0.35);
    CHECK(s.metadata().extra.at("athena.bkg_e0") == "7112");
    CHECK(info.format == io::Format::athena);
    CHECK(io::to_spectrum(g, false).energy(0) == 7000.0);
}

TEST_CASE("Athena: hostile and malformed text gives parse_error with the line") {
    const std::string head = "# Athena project file -- test\n";
    CHECK_THROWS_AS(io::parse_athena("not a project"), parse_error);
    CHECK_THROWS_AS(io::parse_athena(head + "$old_group = 'a';\n@x = ('1','2'"), parse_error);   // truncated
    CHECK_THROWS_AS(io::parse_athena(head + "$old_group = 'a';\n@x = ('1','zz');\n"), parse_error);
    CHECK_THROWS_AS(io::parse_athena(head + "$old_group = 'a';\n@x = ('1','nan');\n"), parse_error);
    CHECK_THROWS_AS(io::parse_athena(head + "system('rm -rf /');\n"), parse_error);           // code is not data
    CHECK_THROWS_AS(io::parse_athena(head + "$old_group = 'a';\n@x = ('1','2');\n@y = ('1');\n"), parse_error);
    CHECK_THROWS_AS(io::parse_athena(head + "$a = 'unterminated;\n"), parse_error);
    // A recursion bomb stops at the depth limit instead of exhausting the stack.
    std::string bomb = head + "$a = " + std::string(100000, '[') + std::string(100000, ']') + ";\n";
    try {
        io::parse_athena(bomb, "bomb.prj");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "bomb.prj");
        CHECK(e.location() == "line 2");
        CHECK(std::string(e.reason()).find("nesting") != std::string::npos);
    }
}

#ifdef CORESPEC_HAVE_ZLIB
TEST_CASE("Athena: gzip projects, truncated streams and decompression bombs") {
    const std::string gz = gzip(kProject);
    CHECK(io::parse_athena(gz).groups.at(0).label == "Fe 'foil'");
    CHECK_THROWS_AS(io::parse_athena(gz.substr(0, gz.size() / 2), "half.prj"), parse_error);
    std::string corrupt = gz;
    corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x5a);
    CHECK_THROWS_AS(io::parse_athena(corrupt), parse_error);
    // 64 MiB of spaces compress to ~64 KiB; the cap stops the inflation early.
    const std::string bomb = gzip(std::string("# Athena project file\n") + std::string(64u << 20, ' '));
    io::AthenaOptions small;
    small.max_text_bytes = 1u << 20;
    try {
        io::parse_athena(bomb, "bomb.prj", small);
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(std::string(e.reason()).find("exceeds") != std::string::npos);
    }
}
#endif

CORESPEC_REFERENCE_TEST("Athena: every shared .prj matches xas_reference.json (names, parameters, arrays)") {
    const auto& ref = corespec_test::reference_json("xas_reference.json");
    int projects = 0, groups = 0;
    for (auto it = ref.begin(); it != ref.end(); ++it) {
        const std::string key = it.key();
        if (key.size() < 4 || key.substr(key.size() - 4) != ".prj") continue;
        CAPTURE(key);
        const auto& r = it.value();
        const auto p = io::read_athena(corespec_test::shared_path(key));
        CHECK(p.header == r.at("athena_header").get<std::string>());
        REQUIRE(p.groups.size() == r.at("n_groups").get<std::size_t>());
        for (const auto& rg : r.at("groups")) {
            const auto& g = p.groups.at(rg.at("index").get<std::size_t>());
            CAPTURE(g.label);
            CHECK(g.name == rg.at("name").get<std::string>());
            CHECK(g.label == rg.at("label").get<std::string>());
            for (auto a = rg.at("athena").begin(); a != rg.at("athena").end(); ++a) {
                CAPTURE(a.key());
                REQUIRE(g.args.count(a.key()) == 1);
                const std::string& ours = g.args.at(a.key());
                if (a.value().is_string()) CHECK(ours == a.value().get<std::string>());
                else CHECK(io::detail::parse_double(ours).value() == a.value().get<double>());
            }
            const auto& num = rg.at("athena_numeric");
            CHECK(g.e0().value() == num.at("e0").get<double>());
            CHECK(g.step().value() == num.at("step").get<double>());
            CHECK(g.number("bkg_pre1").value() == num.at("pre1").get<double>());
            CHECK(g.number("bkg_pre2").value() == num.at("pre2").get<double>());
            CHECK(g.number("bkg_nor1").value() == num.at("nor1").get<double>());
            CHECK(g.number("bkg_nor2").value() == num.at("nor2").get<double>());
            CHECK(g.number("bkg_nnorm").value() == num.at("nnorm").get<double>());
            CHECK(g.eshift().value() == num.at("eshift").get<double>());
            const auto xy = corespec_test::reference_csv(rg.at("arrays").at("xy").get<std::string>());
            CHECK(g.energy().size() == rg.at("n_points").get<std::size_t>());
            CHECK(g.energy() == xy.column(0));
            CHECK(g.mu() == xy.column(1));
            // The spectrum on Athena's energy scale x + bkg_eshift.
            const auto s = io::to_spectrum(g);
            CHECK(s.energy(0) == g.energy()[0] + g.eshift().value());
            ++groups;
        }
        ++projects;
    }
    CHECK(projects == 4);
    CHECK(groups == 31);
}
