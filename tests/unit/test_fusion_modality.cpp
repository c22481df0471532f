#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "corespec/fusion/modality.hpp"
#include "corespec/synth/nmc.hpp"

using namespace corespec;
using fusion::Modality;
using fusion::Normalisation;

namespace {

// A line a + b E on an explicit (scan-like) axis.
grid::Spectrum<double> line_spectrum(double first, double last, double a, double b, const std::string& element = "Ni") {
    std::vector<double> e, v;
    for (double x = first; x <= last; x += 0.37 + 0.01 * static_cast<double>(e.size() % 3)) e.push_back(x);
    for (double x : e) v.push_back(a + b * x);
    grid::Metadata m;
    m.element = element;
    m.edge = "K";
    m.technique = grid::Technique::xas;
    return grid::Spectrum<double>(grid::EnergyAxis::from_energies(e), v, m);
}

Modality ni_k(Normalisation n = Normalisation::min_max) {
    return Modality("Ni_K", "Ni", "K", grid::Technique::xas, fusion::grid_window(8330.0, 8380.0, 0.2), n);
}

}  // namespace

TEST_CASE("fusion::grid_window: window and step give the points") {
    CHECK(fusion::grid_window(528.9, 562.1, 0.2).size() == 167);
    CHECK(fusion::grid_window(853.1, 880.1, 0.2).size() == 136);
    CHECK(fusion::grid_window(853.1, 880.1, 0.2).back() == doctest::Approx(880.1));
    CHECK_THROWS_AS(fusion::grid_window(0.0, 1.0, 0.3), value_error);
    CHECK_THROWS_AS(fusion::grid_window(1.0, 0.0, 0.2), value_error);
    CHECK_THROWS_AS(fusion::grid_window(0.0, 1.0, 0.0), value_error);
}

TEST_CASE("fusion::Modality: resampling and the three normalisations") {
    const auto s = line_spectrum(8320.0, 8400.0, -8000.0, 1.0);
    SUBCASE("none keeps the resampled line") {
        const auto v = ni_k(Normalisation::none).features(s);
        REQUIRE(v.size() == 251);
        CHECK(v[0] == doctest::Approx(330.0));
        CHECK(v[250] == doctest::Approx(380.0));
    }
    SUBCASE("min-max maps onto [0, 1]") {
        const auto v = ni_k().features(s);
        CHECK(v[0] == doctest::Approx(0.0));
        CHECK(v[125] == doctest::Approx(0.5));
        CHECK(v[250] == doctest::Approx(1.0));
    }
    SUBCASE("area gives a unit trapezoid integral") {
        const auto v = ni_k(Normalisation::area).features(s);
        double area = 0.0;
        for (std::size_t i = 0; i + 1 < v.size(); ++i) area += 0.5 * (v[i] + v[i + 1]) * 0.2;
        CHECK(area == doctest::Approx(1.0));
    }
    SUBCASE("standardisation uses fitted per-bin statistics") {
        Modality m = ni_k(Normalisation::standardise);
        CHECK_THROWS_AS(m.features(s), value_error);  // not fitted yet
        std::vector<std::vector<double>> train;
        for (double a : {-8000.0, -7990.0, -8010.0}) train.push_back(m.resample(line_spectrum(8320.0, 8400.0, a, 1.0)));
        m.fit_standardisation(train);
        CHECK(m.mean[0] == doctest::Approx(330.0));
        CHECK(m.sd[0] == doctest::Approx(std::sqrt(200.0 / 3.0)));
        const auto v = m.features(s);
        CHECK(v[0] == doctest::Approx(0.0));
        CHECK(m.features(line_spectrum(8320.0, 8400.0, -7990.0, 1.0))[7] == doctest::Approx(10.0 / std::sqrt(200.0 / 3.0)));
    }
}

TEST_CASE("fusion::Modality: refuses spectra that do not fit, with the reason") {
    const Modality m = ni_k();
    CHECK_THROWS_AS(m.features(line_spectrum(8320.0, 8400.0, 0.0, 1.0, "Co")), value_error);
    try {
        m.features(line_spectrum(8335.0, 8400.0, 0.0, 1.0));
        FAIL("expected range_error");
    } catch (const range_error& e) {
        const std::string what = e.what();
        CHECK(what.find("Ni_K") != std::string::npos);
        CHECK(what.find("8330") != std::string::npos);
    }
    const grid::Spectrum<double> flat(grid::EnergyAxis::uniform(8300.0, 1.0, 200), std::vector<double>(200, 2.0));
    CHECK_THROWS_AS(m.features(flat), value_error);
    auto with_nan = line_spectrum(8320.0, 8400.0, 0.0, 1.0);
    with_nan[40] = std::nan("");
    CHECK_THROWS_AS(m.features(with_nan), value_error);
    CHECK_THROWS_AS(Modality("", "Ni", "K", grid::Technique::xas, fusion::grid_window(0.0, 1.0, 0.5)), value_error);
}

TEST_CASE("fusion::fuse: any subset of modalities, a presence mask and the layout") {
    const auto sample = synth::nmc_sample(3, 0);
    std::vector<Modality> modalities;
    std::map<std::string, grid::Spectrum<double>> all;
    for (std::size_t k = 0; k < synth::nmc_edges.size(); ++k) {
        const auto& e = synth::nmc_edges[k];
        modalities.emplace_back(e.name, e.element, e.edge, e.technique, synth::nmc_default_grid(e.id));
        all.emplace(e.name, sample.spectra[k]);
    }
    const auto full = fusion::fuse(modalities, all);
    std::size_t expected = 0;
    for (const auto& m : modalities) expected += m.size();
    REQUIRE(full.values.size() == expected);
    CHECK(full.layout.modality_count() == 7);
    for (double v : full.values) {
        REQUIRE(std::isfinite(v));
        CHECK(v >= 0.0);
        CHECK(v <= 1.0);
    }
    CHECK(full.present == std::vector<unsigned char>(7, 1));

    // Drop Ni K and Mn L: their features are zero and their mask bits 0.
    auto some = all;
    some.erase("Ni_K");
    some.erase("Mn_L23");
    some.emplace("not_a_modality", sample.spectra[0]);  // ignored
    const auto part = fusion::fuse(modalities, some);
    const std::size_t ni = part.layout.find("Ni_K"), mn = part.layout.find("Mn_L23"), o = part.layout.find("O_K");
    CHECK(part.present[ni] == 0);
    CHECK(part.present[mn] == 0);
    CHECK(part.present[o] == 1);
    const auto mask = part.feature_mask();
    for (std::size_t i = 0; i < part.values.size(); ++i) {
        const auto [k, bin] = part.layout.locate(i);
        (void)bin;
        CHECK(mask[i] == part.present[k]);
        if (!part.present[k]) CHECK(part.values[i] == 0.0);
        else CHECK(part.values[i] == full.values[i]);
    }
    CHECK_THROWS_AS(fusion::fuse(modalities, {}), value_error);
    // A spectrum under the wrong modality name is refused by its metadata.
    std::map<std::string, grid::Spectrum<double>> swapped{{"Ni_K", sample.spectra[4]}};
    CHECK_THROWS_AS(fusion::fuse(modalities, swapped), value_error);
}

TEST_CASE("fusion::Modality: JSON round trip, the recipe slot, malformed documents") {
    Modality m("O_K", "O", "K", grid::Technique::eels, fusion::grid_window(528.9, 562.1, 0.2), Normalisation::standardise);
    m.method = grid::Method::pchip;
    m.mean.assign(m.size(), 1.5);
    m.sd.assign(m.size(), 0.25);
    const Modality other("Ni_K", "Ni", "K", grid::Technique::xas, fusion::grid_window(8330.0, 8380.0, 0.2));
    const auto text = fusion::modalities_to_json({m, other}).dump();
    const auto back = fusion::modalities_from_json(nlohmann::json::parse(text));
    REQUIRE(back.size() == 2);
    CHECK(back[0].name == "O_K");
    CHECK(back[0].technique == grid::Technique::eels);
    CHECK(back[0].method == grid::Method::pchip);
    CHECK(back[0].normalisation == Normalisation::standardise);
    CHECK(back[0].energy_grid.size() == 167);
    CHECK(back[0].energy_grid.front() == m.energy_grid.front());
    CHECK(back[0].energy_grid.scale() == m.energy_grid.scale());
    CHECK(back[0].mean == m.mean);
    CHECK(back[0].sd == m.sd);
    CHECK(back[0].recipe.is_null());
    CHECK(back[1].normalisation == Normalisation::min_max);
    CHECK(back[1].technique == grid::Technique::xas);

    // The recipe travels with the modality; a malformed one fails when read, not per spectrum.
    Modality r = other;
    r.set_recipe(steps::Recipe().then(steps::Smooth(5, 2)));
    const auto r2 = Modality::from_json(r.to_json());
    CHECK(r2.recipe == r.recipe);
    auto bad_recipe = r.to_json();
    bad_recipe["recipe"] = nlohmann::json{{"steps", nlohmann::json::array()}};
    CHECK_THROWS_AS(Modality::from_json(bad_recipe), parse_error);

    auto bad = m.to_json();
    bad["normalisation"] = "zscore";
    CHECK_THROWS_AS(Modality::from_json(bad), parse_error);
    bad = m.to_json();
    bad["statistics"]["sd"] = std::vector<double>(3, 1.0);
    CHECK_THROWS_AS(Modality::from_json(bad), parse_error);
    bad = m.to_json();
    bad.erase("grid");
    CHECK_THROWS_AS(Modality::from_json(bad), parse_error);
    bad = m.to_json();
    bad["technique"] = "XPS";
    CHECK_THROWS_AS(Modality::from_json(bad), parse_error);
    CHECK_THROWS_AS(fusion::modalities_from_json(nlohmann::json::parse("{\"format\": \"x\"}")), parse_error);
    CHECK_THROWS_AS(fusion::modalities_from_json(fusion::modalities_to_json({other, other})), parse_error);
}
