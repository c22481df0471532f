#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "browser/sample_report.hpp"
#include "corespec/report/report.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
namespace fs = std::filesystem;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
    return n;
}

struct ReportDir {
    fs::path path;
    explicit ReportDir(const std::string& name) : path(fs::temp_directory_path() / ("corespec_report_" + name + "_" + std::to_string(std::rand()))) {}
    ~ReportDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("report metrics match scikit-learn 1.2 (tests/data/report/sklearn_metrics.json)") {
    const auto j = nlohmann::json::parse(corespec_test::read_text(corespec_test::source_path("tests/data/report/sklearn_metrics.json")));
    REQUIRE(j.at("cases").size() == 3);
    for (const auto& c : j.at("cases")) {
        const auto v = [&](const char* k) { return c.at(k).get<std::vector<double>>(); };
        const auto truth = v("truth"), pred = v("pred"), sd = v("sd"), labels = v("labels"), prob = v("prob");
        CAPTURE(truth.size());
        CHECK(report::r2_score(truth, pred) == doctest::Approx(c.at("r2").get<double>()).epsilon(1e-12));
        CHECK(report::mean_absolute_error(truth, pred) == doctest::Approx(c.at("mae").get<double>()).epsilon(1e-12));
        const auto hard = report::threshold_labels(prob);
        CHECK(report::accuracy(labels, hard) == doctest::Approx(c.at("accuracy").get<double>()).epsilon(1e-12));
        CHECK(report::f1_score(labels, hard) == doctest::Approx(c.at("f1").get<double>()).epsilon(1e-12));
        CHECK(report::roc_auc(labels, prob) == doctest::Approx(c.at("roc_auc").get<double>()).epsilon(1e-12));
        CHECK(report::expected_calibration_error(labels, prob) == doctest::Approx(c.at("ece").get<double>()).epsilon(1e-12));
        const auto curve = report::roc_curve(labels, prob);
        const auto fpr = v("roc_fpr"), tpr = v("roc_tpr");
        REQUIRE(curve.fpr.size() == fpr.size());
        for (std::size_t i = 0; i < fpr.size(); ++i) {
            CHECK(curve.fpr[i] == doctest::Approx(fpr[i]).epsilon(1e-12));
            CHECK(curve.tpr[i] == doctest::Approx(tpr[i]).epsilon(1e-12));
        }
        const auto conf = report::confusion_matrix(v("classes"), v("classes_pred"));
        const auto expected = c.at("confusion").get<std::vector<std::vector<std::size_t>>>();
        CHECK(conf.counts == expected);
        CHECK(report::accuracy(v("classes"), v("classes_pred")) == doctest::Approx(c.at("accuracy_classes").get<double>()));
        CHECK(report::interval_coverage(truth, pred, sd, 0.68) == doctest::Approx(c.at("coverage").at("0.68").get<double>()));
        CHECK(report::interval_coverage(truth, pred, sd, 0.95) == doctest::Approx(c.at("coverage").at("0.95").get<double>()));
        CHECK(report::normal_interval_halfwidth(0.68) == doctest::Approx(c.at("z68").get<double>()).epsilon(1e-10));
        CHECK(report::normal_interval_halfwidth(0.95) == doctest::Approx(c.at("z95").get<double>()).epsilon(1e-10));
    }
}

TEST_CASE("report metrics: edge cases and bad input") {
    CHECK(report::r2_score({2, 2, 2}, {2, 2, 2}) == 1.0);  // sklearn: constant truth, exact
    CHECK(report::r2_score({2, 2, 2}, {2, 2, 3}) == 0.0);
    CHECK(report::roc_auc({0, 1, 0, 1}, {0.5, 0.5, 0.5, 0.5}) == 0.5);  // all tied
    CHECK(report::roc_auc({0, 0, 1, 1}, {0.1, 0.4, 0.35, 0.8}) == doctest::Approx(0.75));
    CHECK(report::f1_score({0, 0}, {0, 0}) == 0.0);
    CHECK_THROWS_AS(report::roc_auc({1, 1}, {0.2, 0.3}), value_error);  // one class
    CHECK_THROWS_AS(report::roc_auc({0, 2}, {0.2, 0.3}), value_error);  // not 0 / 1
    CHECK_THROWS_AS(report::r2_score({1, 2}, {1}), shape_error);
    CHECK_THROWS_AS(report::r2_score({}, {}), value_error);
    CHECK_THROWS_AS(report::mean_absolute_error({1, std::nan("")}, {1, 2}), value_error);
    CHECK_THROWS_AS(report::expected_calibration_error({0, 1}, {0.2, 1.5}), value_error);
    CHECK_THROWS_AS(report::interval_coverage({1}, {1}, {-0.1}, 0.68), value_error);
    CHECK_THROWS_AS(report::normal_interval_halfwidth(1.0), value_error);
}

TEST_CASE("report::MetricsTable: CSV with the demo's header, Markdown with input sets as columns") {
    report::MetricsTable t;
    t.add("Ni_L23", "Ni_fraction", "R2", 0.5);
    t.add("multimodal", "Ni_fraction", "R2", 0.875);
    t.add("multimodal", "O_vacancy", "ROC_AUC", std::nan(""));
    t.add("a,b", "t\"q", "m|x", 1.0);
    const std::string csv = t.csv();
    CHECK(csv.rfind("input_set,target,metric,value\n", 0) == 0);
    CHECK(csv.find("Ni_L23,Ni_fraction,R2,0.5\n") != std::string::npos);
    CHECK(csv.find("multimodal,O_vacancy,ROC_AUC,nan\n") != std::string::npos);
    CHECK(csv.find("\"a,b\",\"t\"\"q\",m|x,1\n") != std::string::npos);
    const std::string md = t.markdown();
    CHECK(md.find("| target | metric | Ni_L23 | multimodal | a,b |") == 0);
    CHECK(md.find("| Ni_fraction | R2 | 0.5 | 0.875 | - |") != std::string::npos);
    CHECK(md.find("m\\|x") != std::string::npos);
    CHECK_THROWS_AS(t.add("", "x", "y", 1), value_error);
    CHECK_THROWS_AS(t.write_csv("/nonexistent_dir_corespec/metrics.csv"), io_error);
}

TEST_CASE("report figures are standalone SVG with escaped text") {
    const std::vector<double> truth{0.1, 0.5, 0.9}, pred{0.2, 0.45, 0.8};
    const std::string parity = report::parity_svg(truth, pred, {0.1, 0.1, 0.05}, "Ni <fraction> & co");
    CHECK(parity.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    CHECK(parity.find("Ni &lt;fraction&gt; &amp; co") != std::string::npos);
    CHECK(count_of(parity, "<circle") == 3);
    CHECK(parity.find("R\xc2\xb2 = 0.9") != std::string::npos);  // r2 = 0.9 here
    CHECK(parity.find(" id=") == std::string::npos);             // inline-safe: no ids
    CHECK_THROWS_AS(report::parity_svg(truth, pred, {0.1}, ""), shape_error);

    const std::string roc = report::roc_svg({{"O_K", {0, 1, 0, 1}, {0.1, 0.9, 0.4, 0.3}}, {"multimodal", {0, 1, 0, 1}, {0.1, 0.9, 0.2, 0.8}}}, "roc");
    CHECK(count_of(roc, "<polyline") == 2);
    CHECK(roc.find("O_K (AUC = 0.75)") != std::string::npos);
    CHECK(roc.find("multimodal (AUC = 1)") != std::string::npos);
    CHECK_THROWS_AS(report::roc_svg({1, 1}, {0.2, 0.3}, "one class"), value_error);

    const std::string conf = report::confusion_svg({0, 0, 1, 1, 1}, {0, 1, 1, 1, 0}, "c", {"no", "yes"});
    CHECK(conf.find(">2</text>") != std::string::npos);
    CHECK(conf.find("accuracy 0.6") != std::string::npos);
    CHECK_THROWS_AS(report::confusion_svg({0, 1}, {0, 1}, "c", {"only one"}), shape_error);

    std::vector<double> map{1, 2, std::nan(""), 4, 5, 6};
    const std::string m = report::map_svg(map, 2, 3, "map", "Ni");
    CHECK(m.find("1 masked") != std::string::npos);
    CHECK(m.find("2 x 3 px, Ni") != std::string::npos);
    CHECK_THROWS_AS(report::map_svg(map, 2, 2, "map"), shape_error);
    CHECK_NOTHROW(report::map_svg(std::vector<double>(4, std::nan("")), 2, 2, "all masked"));
}

TEST_CASE("report::map_svg with a fixed value range: one scale for maps of any content") {
    const auto fill = [](double t) { return "fill=\"" + report::detail::sequential(t) + "\""; };
    // A map of one value: without a range its colour bar spans [1, 1 + 1e-6] and the value takes the bottom colour;
    // over [0, 1] it is drawn in the top colour and the bar reads 0 .. 1.
    const std::vector<double> ones(4, 1.0);
    const std::string own = report::map_svg(ones, 2, 2, "auto"), fixed = report::map_svg(ones, 2, 2, "fixed", "", report::ValueRange{0, 1});
    CHECK(own.find(fill(0.0)) != std::string::npos);
    CHECK(fixed.find(">1</text><text") != std::string::npos);  // the bar's top label
    CHECK(fixed.find(">0</text>\n") != std::string::npos);     // and its bottom one
    // The four pixels in the top colour (the bar's cells sit at the middles of 32 steps, never exactly at 1):
    std::size_t top = 0;
    for (std::size_t at = fixed.find(fill(1.0)); at != std::string::npos; at = fixed.find(fill(1.0), at + 1)) ++top;
    CHECK(top == 4);
    // Two maps of different content on one range give a value the same colour.
    const std::string a = report::map_svg({0.25, 0.5}, 1, 2, "a", "", report::ValueRange{0, 1});
    const std::string b = report::map_svg({0.25, 0.9}, 1, 2, "b", "", report::ValueRange{0, 1});
    CHECK(a.find(fill(0.25)) != std::string::npos);
    CHECK(b.find(fill(0.25)) != std::string::npos);
    // Out-of-range values take the end colours; a masked pixel stays masked.
    const std::string out = report::map_svg({-3, 7, std::nan("")}, 1, 3, "out", "", report::ValueRange{0, 1});
    CHECK(out.find(fill(0.0)) != std::string::npos);
    CHECK(out.find("1 masked") != std::string::npos);
    CHECK_THROWS_AS(report::map_svg(ones, 2, 2, "bad", "", report::ValueRange{1, 1}), value_error);
    CHECK_THROWS_AS(report::map_svg(ones, 2, 2, "bad", "", report::ValueRange{0, std::nan("")}), value_error);
}

TEST_CASE("explain::attribution_svg draws a missing modality as missing") {
    fusion::FeatureLayout layout;
    layout.add("O_K", grid::EnergyAxis::uniform(525.0, 0.5, 10));
    layout.add("Mn_L23", grid::EnergyAxis::uniform(640.0, 0.5, 10));
    std::vector<double> x(20, 0.0), a(20, 0.0);
    for (std::size_t i = 0; i < 10; ++i) x[i] = double(i), a[i] = 0.1 * double(i);
    const std::string svg = report::attribution_svg(x, a, layout, "t", {1, 0});
    CHECK(svg.find("Mn_L23  <tspan font-weight=\"normal\">(missing in this sample)") != std::string::npos);
    CHECK(count_of(svg, "<polyline") == 1);
    CHECK_THROWS_AS(report::attribution_svg(x, a, layout, "t", {1}), shape_error);
}

TEST_CASE("report::Report writes a self-contained folder") {
    ReportDir dir("write");
    const auto r = corespec_test::sample_report();
    r.write(dir.path.string());
    const std::string html = corespec_test::read_text(dir.path / "report.html");
    CHECK(html.find("Content-Security-Policy") != std::string::npos);
    CHECK(html.find("default-src 'none'") != std::string::npos);
    CHECK(count_of(html, "<svg ") == 5);
    CHECK(count_of(html, "<?xml") == 0);  // the declaration is dropped when inlining
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("corespec &lt;sample&gt; report &amp; figures") != std::string::npos);
    CHECK(html.find("O_K &lt;edge&gt; &amp; &quot;pre-peak&quot;") != std::string::npos);
    CHECK(html.find("<p>Text with &lt;tags&gt;, &quot;quotes&quot; &amp; ampersands.</p>\n<p>A second paragraph.</p>") != std::string::npos);
    // Every absolute URL is the SVG namespace (a name, never fetched).
    CHECK(html.find("https:") == std::string::npos);
    CHECK(count_of(html, "http://") == count_of(html, "http://www.w3.org/2000/svg"));
    for (const char* f : {"parity_ni", "roc_o_vacancy", "confusion_o_vacancy", "map_ni", "attribution"})
        CHECK(fs::is_regular_file(dir.path / "figures" / (std::string(f) + ".svg")));
    const std::string csv = corespec_test::read_text(dir.path / "metrics.csv");
    CHECK(csv.rfind("input_set,target,metric,value\n", 0) == 0);
    CHECK(count_of(csv, "\n") == 6);
    CHECK(corespec_test::read_text(dir.path / "metrics.md") == r.metrics().markdown());
}

TEST_CASE("report::Report: bad stems, figures and paths") {
    report::Report r;
    const std::string svg = report::map_svg({1, 2}, 1, 2, "m");
    CHECK_THROWS_AS(r.add_figure(svg, "c", "../escape"), value_error);
    CHECK_THROWS_AS(r.add_figure(svg, "c", ""), value_error);
    CHECK_THROWS_AS(r.add_figure("<p>not svg</p>", "c", "x"), value_error);
    CHECK_THROWS_AS(r.add_figure("<svg><image href=\"http://example.com/a.png\"/></svg>", "c", "x"), value_error);
    r.add_figure(svg, "c", "x");
    CHECK_THROWS_AS(r.add_figure(svg, "c", "x"), value_error);
    CHECK_THROWS_AS(r.add_table({"a", "b"}, {{"1"}}), shape_error);
    CHECK_THROWS_AS(r.add_heading("h", 7), value_error);
    ReportDir dir("blocked");
    fs::create_directories(dir.path);
    { std::ofstream(dir.path / "file") << "x"; }
    try {
        r.write((dir.path / "file" / "sub").string());  // a file where a folder must go
        FAIL("no exception");
    } catch (const io_error& e) {
        CHECK(std::string(e.what()).find("cannot create folder") != std::string::npos);
        CHECK(std::string(e.what()).find("Not a directory") != std::string::npos);
    }
}
