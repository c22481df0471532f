#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "corespec/fusion/dataset.hpp"
#include "corespec/fusion/manifest.hpp"
#include "corespec/synth/nmc.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using fusion::Target;
using fusion::TargetKind;

namespace {

namespace fs = std::filesystem;

// A scratch folder removed at the end of the test.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("corespec_" + name + "_" + std::to_string(std::rand()))) {
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

std::string two_columns(const grid::Spectrum<double>& s) {
    std::string out = "# energy value\n";
    char line[64];
    for (std::size_t i = 0; i < s.size(); ++i) {
        std::snprintf(line, sizeof line, "%.6f %.9g\n", s.energy(i), s[i]);
        out += line;
    }
    return out;
}

std::vector<fusion::Modality> nmc_modalities(std::initializer_list<synth::NmcEdge> edges) {
    std::vector<fusion::Modality> out;
    for (auto e : edges) {
        const auto& i = synth::nmc_edge_info(e);
        out.emplace_back(i.name, i.element, i.edge, i.technique, synth::nmc_default_grid(e));
    }
    return out;
}

// n synthetic samples in groups of `per_group`, with O K and Ni K spectra.
fusion::Dataset synthetic_dataset(std::size_t n, std::size_t per_group) {
    fusion::Dataset d({{"frac_Ni"}, {"o_vacancy_present", TargetKind::binary}});
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = synth::nmc_sample(5, i);
        const auto labels = synth::nmc_labels(s.structure);
        fusion::Sample sample{s.id, "g" + std::to_string(i / per_group), {}, {labels[1].second, labels[12].second}};
        sample.spectra.emplace("O_K", s.spectra[0]);
        sample.spectra.emplace("Ni_K", s.spectra[6]);
        d.add(std::move(sample));
    }
    return d;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const parse_error& e) {
        return e.what();
    }
    return "(no parse_error)";
}

}  // namespace

TEST_CASE("fusion::parse_manifest_csv: quotes, comments, blank lines, CRLF") {
    const auto t = fusion::parse_manifest_csv(
        "sample_id, group_id ,path\r\n# a comment\r\n\r\na1,g1,\"x, y.dat\"\r\n\"a \"\"2\"\"\",g1,  b.dat  \r\na3,g2,", "m.csv");
    REQUIRE(t.columns == std::vector<std::string>{"sample_id", "group_id", "path"});
    REQUIRE(t.rows.size() == 3);
    CHECK(t.rows[0].cells[2] == "x, y.dat");
    CHECK(t.rows[0].where == "line 4");
    CHECK(t.rows[1].cells[0] == "a \"2\"");
    CHECK(t.rows[1].cells[2] == "b.dat");
    CHECK(t.rows[2].cells[2].empty());
    CHECK(error_of([] { fusion::parse_manifest_csv("a,b\n1,2\n1,2,3\n", "m.csv"); }).find("m.csv: line 3") == 0);
    CHECK(error_of([] { fusion::parse_manifest_csv("a,b\n\"1,2\n", "m.csv"); }).find("unterminated") != std::string::npos);
    CHECK(error_of([] { fusion::parse_manifest_csv("a,a\n", "m.csv"); }).find("twice") != std::string::npos);
    CHECK(error_of([] { fusion::parse_manifest_csv("", "m.csv"); }).find("no header") != std::string::npos);
    CHECK(error_of([] { fusion::parse_manifest_csv("a,b\n1\"x\",2\n", "m.csv"); }).find("quote") != std::string::npos);
}

TEST_CASE("fusion::parse_manifest_json: arrays of objects, values as text") {
    const auto t = fusion::parse_manifest(R"({"samples": [{"sample_id": "a", "x": 0.25, "flag": true},
                                                           {"sample_id": "b", "path": null}]})", "m.json");
    REQUIRE(t.columns == std::vector<std::string>{"flag", "sample_id", "x", "path"});
    CHECK(t.rows[0].cells[0] == "true");
    CHECK(t.rows[0].cells[2] == "0.25");
    CHECK(t.rows[0].cells[3].empty());
    CHECK(t.rows[1].where == "samples[1]");
    CHECK(error_of([] { fusion::parse_manifest(R"([{"a": [1]}])", "m.json"); }) ==
          "m.json: samples[0], column 'a': holds an array or object, expected a string, number, boolean or null");
    CHECK(error_of([] { fusion::parse_manifest("[1, 2]", "m.json"); }).find("samples[0]") != std::string::npos);
    CHECK(error_of([] { fusion::parse_manifest("{\"x\": 1}", "m.json"); }).find("samples") != std::string::npos);
    CHECK(error_of([] { fusion::parse_manifest("[{", "m.json"); }).find("m.json: json") == 0);
}

TEST_CASE("fusion::read_manifest: files per modality, targets, groups, and errors that name file, row and column") {
    const TempDir dir("manifest");
    fs::create_directories(dir.path / "spectra");
    std::string csv = "sample_id,group_id,O_K,Ni_K,frac_Ni,o_vacancy_present,note\n";
    for (std::size_t i = 0; i < 4; ++i) {
        const auto s = synth::nmc_sample(9, i);
        dir.write("spectra/o" + std::to_string(i) + ".dat", two_columns(s.spectra[0]));
        dir.write("spectra/ni" + std::to_string(i) + ".dat", two_columns(s.spectra[6]));
        const auto labels = synth::nmc_labels(s.structure);
        csv += s.id + ",parent" + std::to_string(i / 2) + ",spectra/o" + std::to_string(i) + ".dat," +
               (i == 3 ? std::string() : "spectra/ni" + std::to_string(i) + ".dat") + "," + std::to_string(labels[1].second) +
               "," + (labels[12].second > 0 ? "true" : "0") + ",free text\n";
    }
    dir.write("manifest.csv", csv);
    fusion::ManifestOptions o;
    o.modalities = nmc_modalities({synth::NmcEdge::o_k, synth::NmcEdge::ni_k});
    o.targets = {{"frac_Ni"}, {"o_vacancy_present", TargetKind::binary}};
    const auto d = fusion::read_manifest(dir.path / "manifest.csv", o);
    REQUIRE(d.size() == 4);
    CHECK(d.groups() == std::vector<std::string>{"parent0", "parent1"});
    CHECK(d[0].spectra.size() == 2);
    CHECK(d[3].spectra.count("Ni_K") == 0);  // the empty cell
    const auto& ni = d[0].spectra.at("Ni_K");
    CHECK(ni.metadata().element == "Ni");
    CHECK(ni.metadata().technique == grid::Technique::xas);
    const auto truth = synth::nmc_sample(9, 0);
    CHECK(ni.size() == truth.spectra[6].size());
    CHECK(ni[100] == doctest::Approx(truth.spectra[6][100]).epsilon(1e-8));
    CHECK(d[0].targets[0] == doctest::Approx(synth::nmc_labels(truth.structure)[1].second).epsilon(1e-5));
    const auto x = d.features(o.modalities);
    CHECK(x.rows == 4);
    CHECK(x.present == std::vector<unsigned char>{1, 1, 1, 1, 1, 1, 1, 0});

    // Without a group column every sample is its own group.
    auto no_group = o;
    no_group.group_column = "parent";
    CHECK(fusion::read_manifest(dir.path / "manifest.csv", no_group).groups().size() == 4);

    const auto fails = [&](const std::string& text, const fusion::ManifestOptions& opt = {}) {
        dir.write("bad.csv", text);
        const auto& use = opt.modalities.empty() ? o : opt;
        return error_of([&] { fusion::read_manifest(dir.path / "bad.csv", use); });
    };
    const std::string head = "sample_id,O_K,Ni_K,frac_Ni,o_vacancy_present\n";
    const std::string bad = (dir.path / "bad.csv").string();
    // A missing file: the manifest, the line, the column and the path.
    auto msg = fails(head + "a,spectra/o0.dat,spectra/ni0.dat,0.2,1\nb,spectra/o1.dat,spectra/none.dat,0.2,1\n");
    CHECK(msg.find(bad + ": line 3, column 'Ni_K'") == 0);
    CHECK(msg.find("none.dat' does not exist") != std::string::npos);
    // A bad label.
    msg = fails(head + "a,spectra/o0.dat,spectra/ni0.dat,0.2,maybe\n");
    CHECK(msg.find(bad + ": line 2, column 'o_vacancy_present': bad label 'maybe'") == 0);
    msg = fails(head + "a,spectra/o0.dat,spectra/ni0.dat,,1\n");
    CHECK(msg.find("line 2, column 'frac_Ni': missing value") != std::string::npos);
    msg = fails(head + "a,spectra/o0.dat,spectra/ni0.dat,0.2x,1\n");
    CHECK(msg.find("bad label '0.2x'") != std::string::npos);
    // An unknown column (a target or a modality the manifest lacks).
    auto unknown = o;
    unknown.targets.push_back({"frac_Zr"});
    msg = fails(head + "a,spectra/o0.dat,spectra/ni0.dat,0.2,1\n", unknown);
    CHECK(msg.find("header: unknown column 'frac_Zr'") != std::string::npos);
    // A file that is not a spectrum.
    dir.write("spectra/junk.dat", "this is not\na spectrum\n");
    msg = fails(head + "a,spectra/o0.dat,spectra/junk.dat,0.2,1\n");
    CHECK(msg.find("line 2, column 'Ni_K': cannot read") != std::string::npos);
    // A repeated sample id.
    msg = fails(head + "a,spectra/o0.dat,,0.2,1\na,spectra/o1.dat,,0.3,0\n");
    CHECK(msg.find("line 3, column 'sample_id'") != std::string::npos);
    CHECK(msg.find("twice") != std::string::npos);
    CHECK_THROWS_AS(fusion::read_manifest(dir.path / "nothing.csv", o), io_error);

    // The same manifest as JSON, absolute paths.
    std::string json = "[";
    for (std::size_t i = 0; i < 2; ++i)
        json += std::string(i ? "," : "") + "{\"sample_id\": \"s" + std::to_string(i) + "\", \"O_K\": \"" +
                (dir.path / ("spectra/o" + std::to_string(i) + ".dat")).string() + "\", \"Ni_K\": null, \"frac_Ni\": 0.5, " +
                "\"o_vacancy_present\": false}";
    dir.write("manifest.json", json + "]");
    const auto dj = fusion::read_manifest(dir.path / "manifest.json", o);
    REQUIRE(dj.size() == 2);
    CHECK(dj[1].spectra.size() == 1);
    CHECK(dj[1].targets == std::vector<double>{0.5, 0.0});
}

TEST_CASE("fusion::Dataset: samples are validated") {
    fusion::Dataset d({{"y"}, {"flag", TargetKind::binary}});
    CHECK_THROWS_AS(d.add({"", "g", {}, {1.0, 0.0}}), value_error);
    CHECK_THROWS_AS(d.add({"a", "", {}, {1.0, 0.0}}), value_error);
    CHECK_THROWS_AS(d.add({"a", "g", {}, {1.0}}), value_error);
    CHECK_THROWS_AS(d.add({"a", "g", {}, {1.0, 0.5}}), value_error);
    CHECK_THROWS_AS(d.add({"a", "g", {}, {std::nan(""), 1.0}}), value_error);
    d.add({"a", "g", {}, {1.0, 1.0}});
    CHECK_THROWS_AS(d.add({"a", "g", {}, {1.0, 1.0}}), value_error);
    CHECK(d.size() == 1);
    CHECK(d.target_index("flag") == 1);
    CHECK_THROWS_AS(d.target_index("z"), value_error);
    CHECK_THROWS_AS(fusion::Dataset({{"y"}, {"y"}}), value_error);
}

TEST_CASE("fusion::group_kfold and group_train_test_split: no group on both sides, seeded") {
    const auto d = synthetic_dataset(30, 3);  // 10 groups of 3
    for (std::size_t k : {2u, 3u, 5u, 10u}) {
        const auto folds = fusion::group_kfold(d, k, 4);
        REQUIRE(folds.size() == k);
        std::vector<int> tested(d.size(), 0);
        for (const auto& f : folds) {
            CHECK(f.train.size() + f.test.size() == d.size());
            std::set<std::string> train_groups;
            for (std::size_t i : f.train) train_groups.insert(d[i].group);
            for (std::size_t i : f.test) {
                CHECK(train_groups.count(d[i].group) == 0);
                ++tested[i];
            }
            CHECK(f.test.size() >= 3 * (10 / k));  // balanced: whole groups, fewest-first
        }
        CHECK(tested == std::vector<int>(d.size(), 1));
    }
    const auto a = fusion::group_kfold(d, 5, 4), b = fusion::group_kfold(d, 5, 4), c = fusion::group_kfold(d, 5, 5);
    CHECK(a[0].test == b[0].test);
    bool differs = false;
    for (std::size_t f = 0; f < 5; ++f) differs |= a[f].test != c[f].test;
    CHECK(differs);
    CHECK_THROWS_AS(fusion::group_kfold(d, 11, 1), value_error);
    CHECK_THROWS_AS(fusion::group_kfold(d, 1, 1), value_error);

    const auto s = fusion::group_train_test_split(d, 0.2, 8);
    CHECK(s.test.size() == 6);
    CHECK(s.train.size() == 24);
    std::set<std::string> train_groups;
    for (std::size_t i : s.train) train_groups.insert(d[i].group);
    for (std::size_t i : s.test) CHECK(train_groups.count(d[i].group) == 0);
    CHECK(fusion::group_train_test_split(d, 0.2, 8).test == s.test);
    CHECK_THROWS_AS(fusion::group_train_test_split(d, 1.0, 8), value_error);
}

TEST_CASE("fusion::augment: seeded noise, jitter within range, extra broadening") {
    const auto sample = synth::nmc_sample(2, 0);
    fusion::Sample s{"x", "x", {{"O_K", sample.spectra[0]}, {"Ni_K", sample.spectra[6]}}, {}};
    const fusion::Augmentation off;
    CHECK(fusion::augment(s, off, 1).spectra.at("O_K").values() == s.spectra.at("O_K").values());

    fusion::Augmentation jitter;
    jitter.energy_jitter_ev = 0.5;
    double max_shift = 0.0;
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        const auto a = fusion::augment(s, jitter, seed);
        const double shift = a.spectra.at("O_K").axis().front() - s.spectra.at("O_K").axis().front();
        CHECK(std::abs(shift) <= 0.5);
        max_shift = std::max(max_shift, std::abs(shift));
        CHECK(a.spectra.at("O_K").values() == s.spectra.at("O_K").values());
    }
    CHECK(max_shift > 0.3);

    fusion::Augmentation noise;
    noise.gaussian_sd = 0.01;
    const auto n1 = fusion::augment(s, noise, 3), n2 = fusion::augment(s, noise, 3), n3 = fusion::augment(s, noise, 4);
    CHECK(n1.spectra.at("Ni_K").values() == n2.spectra.at("Ni_K").values());
    CHECK(n1.spectra.at("Ni_K").values() != n3.spectra.at("Ni_K").values());
    const auto& clean = s.spectra.at("Ni_K");
    double top = 0.0, ss = 0.0;
    for (double v : clean.values()) top = std::max(top, std::abs(v));
    for (std::size_t i = 0; i < clean.size(); ++i) ss += std::pow(n1.spectra.at("Ni_K")[i] - clean[i], 2);
    CHECK(std::sqrt(ss / static_cast<double>(clean.size())) == doctest::Approx(0.01 * top).epsilon(0.15));

    fusion::Augmentation counts;
    counts.poisson_counts = 100.0;
    const auto p = fusion::augment(s, counts, 5).spectra.at("O_K");
    double ptop = 0.0;
    for (double v : s.spectra.at("O_K").values()) ptop = std::max(ptop, v);
    for (double v : p.values()) {
        CHECK(v >= 0.0);
        CHECK(std::abs(v * 100.0 / ptop - std::round(v * 100.0 / ptop)) < 1e-6);  // whole counts at that dose
    }

    fusion::Augmentation broad;
    broad.broadening_fwhm_ev = 3.0;
    const auto b = fusion::augment(s, broad, 6).spectra.at("O_K");
    double max_before = 0.0, max_after = 0.0;
    for (std::size_t i = 0; i < b.size(); ++i) max_before = std::max(max_before, s.spectra.at("O_K")[i]), max_after = std::max(max_after, b[i]);
    CHECK(max_after < max_before);
    CHECK(b.axis().approx_equal(s.spectra.at("O_K").axis()));

    fusion::Augmentation negative;
    negative.gaussian_sd = -1.0;
    CHECK_THROWS_AS(fusion::augment(s, negative, 1), value_error);
}

TEST_CASE("fusion::calibrate_edge_shifts: one shift per edge for the whole set, chemical shifts kept") {
    auto d = synthetic_dataset(12, 1);
    // Pretend a code put every Ni K spectrum 7 eV high.
    fusion::Dataset shifted(d.targets());
    std::vector<double> before;
    for (const auto& s : d.samples()) {
        auto copy = s;
        auto& ni = copy.spectra.at("Ni_K");
        ni = grid::Spectrum<double>(align::shifted_axis(ni.axis(), 7.0), ni.values(), ni.metadata());
        before.push_back(align::find_edge_onset(s.spectra.at("Ni_K"), 8330.0, 8350.0));
        shifted.add(copy);
    }
    double mean = 0.0;
    for (double v : before) mean += v / static_cast<double>(before.size());
    auto table = fusion::calibrate_edge_shifts(shifted, {{"Ni_K", mean, 8337.0, 8357.0}}, "TESTCODE");
    table.set("O", "K", "TESTCODE", 0.0);  // every edge of the set needs its entry
    CHECK(table.at("Ni", "K", "TESTCODE") == doctest::Approx(-7.0).epsilon(1e-6));
    shifted.apply_edge_shifts(table, "TESTCODE");
    for (std::size_t i = 0; i < d.size(); ++i)
        CHECK(align::find_edge_onset(shifted[i].spectra.at("Ni_K"), 8330.0, 8350.0) == doctest::Approx(before[i]).epsilon(1e-9));
    CHECK_THROWS_AS(fusion::calibrate_edge_shifts(shifted, {{"Mn_K", 6539.0, 6530.0, 6550.0}}, "X"), value_error);
    CHECK_THROWS_AS(shifted.apply_edge_shifts(align::EdgeShiftTable(), "X"), range_error);
}

CORESPEC_REFERENCE_TEST("fusion::read_manifest: the FEFF NMC set, one calibration shift per edge, fused features") {
    const auto manifest = corespec_test::shared_path("data/sim/feff_nmc/manifest.csv");
    struct Edge { const char* name; const char* element; double literature, fermi; };
    // Literature edge energies (docs/fusion.md); FEFF's mean Fermi levels of the set (its README).
    const Edge edges[] = {{"O_K", "O", 532.0, 534.1}, {"Mn_K", "Mn", 6539.0, 6543.9},
                          {"Co_K", "Co", 7709.0, 7715.3}, {"Ni_K", "Ni", 8333.0, 8338.2}};
    fusion::ManifestOptions o;
    std::vector<fusion::EdgeReference> refs;
    for (const Edge& e : edges) {
        o.modalities.emplace_back(e.name, e.element, "K", grid::Technique::xas, fusion::grid_window(e.literature - 5.0, e.literature + 45.0, 0.2));
        refs.push_back({e.name, e.literature, e.fermi - 6.0, e.fermi + 8.0});
    }
    o.targets = {{"frac_Li"}, {"frac_Ni"}, {"frac_Mn"}, {"frac_Co"},
                 {"o_vacancy_present", TargetKind::binary}, {"antisite_present", TargetKind::binary}};
    auto d = fusion::read_manifest(manifest, o);
    CHECK(d.size() >= 100);
    std::size_t spectra = 0, vacancies = 0;
    for (const auto& s : d.samples()) spectra += s.spectra.size(), vacancies += s.targets[4] > 0;
    CHECK(spectra == 4 * d.size());
    CHECK(vacancies > 10);
    CHECK(d.groups().size() == d.size());  // no group column: each structure its own group
    const auto& ni = d[0].spectra.at("Ni_K");
    CHECK_FALSE(ni.axis().is_uniform());
    CHECK(ni.axis().front() > 8320.0);

    const auto table = fusion::calibrate_edge_shifts(d, refs, "FEFF10");
    // The onsets sit a few eV from the tabulated edges, and the spread between
    // samples (chemical shifts) survives the calibration.
    for (const Edge& e : edges) {
        const double shift = table.at(e.element, "K", "FEFF10");
        CAPTURE(e.name);
        CHECK(std::abs(shift) < 15.0);
    }
    const auto onset = [&](const fusion::Dataset& ds, std::size_t i, double lo, double hi) {
        return align::find_edge_onset(ds[i].spectra.at("Ni_K"), lo, hi);
    };
    const double before0 = onset(d, 0, 8332.2, 8346.2), before1 = onset(d, 1, 8332.2, 8346.2);
    const double ni_shift = table.at("Ni", "K", "FEFF10");
    d.apply_edge_shifts(table, "FEFF10");
    const double after0 = onset(d, 0, 8332.2 + ni_shift, 8346.2 + ni_shift), after1 = onset(d, 1, 8332.2 + ni_shift, 8346.2 + ni_shift);
    CHECK(after1 - after0 == doctest::Approx(before1 - before0).epsilon(1e-9));

    const auto x = d.features(o.modalities);
    CHECK(x.rows == d.size());
    CHECK(x.columns() == 4 * 251);
    for (double v : x.values) {
        REQUIRE(std::isfinite(v));
        CHECK(v >= 0.0);
        CHECK(v <= 1.0);
    }
    const auto folds = fusion::group_kfold(d, 5, 1);
    for (const auto& f : folds) CHECK(f.test.size() >= d.size() / 5);
}
