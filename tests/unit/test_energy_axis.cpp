#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"

using namespace corespec;
using grid::EnergyAxis;  // declarations, not a directive: the file is compiled in a unity batch
using grid::Spectrum;
using grid::SpectrumImage;
using grid::UniformAxis;

TEST_CASE("UniformAxis: energies, bins and lookups") {
    const UniformAxis a(500.0, 0.25, 9);
    CHECK(a.size() == 9);
    CHECK(a.energy(4) == doctest::Approx(501.0));
    CHECK(a.back() == doctest::Approx(502.0));
    CHECK(a.lower_edge(0) == doctest::Approx(499.875));
    CHECK(a.upper_edge(8) == doctest::Approx(502.125));
    CHECK(a.index(500.0) == 0);
    CHECK(a.index(500.12) == 0);
    CHECK(a.index(500.13) == 1);
    CHECK(a.index(499.8) == -1);
    CHECK(a.index(502.2) == 9);
    CHECK(a.fractional_index(500.375) == doctest::Approx(1.5));
    const auto r = UniformAxis::from_range(528.9, 562.1, 167);  // the O K grid of study 1
    CHECK(r.scale() == doctest::Approx(0.2));
}

TEST_CASE("UniformAxis and EnergyAxis reject bad definitions") {
    CHECK_THROWS_AS(UniformAxis(0.0, 0.0, 10), value_error);
    CHECK_THROWS_AS(UniformAxis(0.0, -1.0, 10), value_error);
    CHECK_THROWS_AS(UniformAxis(0.0, 1.0, 1), value_error);
    CHECK_THROWS_AS(UniformAxis(std::nan(""), 1.0, 10), value_error);
    CHECK_THROWS_AS(UniformAxis(0.0, std::numeric_limits<double>::infinity(), 10), value_error);
    CHECK_THROWS_AS(UniformAxis::from_range(5.0, 1.0, 10), value_error);
    CHECK_THROWS_AS(EnergyAxis::from_energies({}), value_error);
    CHECK_THROWS_AS(EnergyAxis::from_energies({1.0}), value_error);
    CHECK_THROWS_AS(EnergyAxis::from_energies({1.0, 2.0, 2.0}), value_error);
    CHECK_THROWS_AS(EnergyAxis::from_energies({1.0, 3.0, 2.0}), value_error);
    CHECK_THROWS_AS(EnergyAxis::from_energies({1.0, std::nan(""), 2.0}), value_error);
    // Every corespec exception is a corespec::error.
    CHECK_THROWS_AS(EnergyAxis::from_energies({1.0}), corespec::error);
}

TEST_CASE("EnergyAxis explicit: bins, lookups, segments") {
    const auto a = EnergyAxis::from_energies({10.0, 11.0, 13.0, 17.0});
    CHECK_FALSE(a.is_uniform());
    CHECK_THROWS_AS(a.as_uniform(), value_error);
    CHECK(a.lower_edge(0) == doctest::Approx(9.5));
    CHECK(a.upper_edge(0) == doctest::Approx(10.5));
    CHECK(a.lower_edge(2) == doctest::Approx(12.0));
    CHECK(a.upper_edge(3) == doctest::Approx(19.0));
    CHECK(a.index(9.4) == -1);
    CHECK(a.index(9.6) == 0);
    CHECK(a.index(11.9) == 1);
    CHECK(a.index(12.1) == 2);
    CHECK(a.index(16.0) == 3);
    CHECK(a.index(19.1) == 4);
    CHECK(a.fractional_index(15.0) == doctest::Approx(2.5));
    CHECK(a.segment(5.0) == 0);
    CHECK(a.segment(13.0) == 2);
    CHECK(a.segment(100.0) == 2);
}

TEST_CASE("EnergyAxis: uniform form, equality, windows and slices") {
    const auto u = EnergyAxis::uniform(0.0, 0.5, 11);
    const auto e = EnergyAxis::from_energies(u.energies());
    CHECK(u.is_uniform());
    CHECK(u.approx_equal(e));
    CHECK_FALSE(u.approx_equal(EnergyAxis::uniform(0.0, 0.5, 12)));
    CHECK_FALSE(u.approx_equal(EnergyAxis::uniform(1e-6, 0.5, 11), 1e-9));
    CHECK(u.approx_equal(EnergyAxis::uniform(1e-6, 0.5, 11), 1e-5));
    const auto [first, last] = u.window(1.0, 2.0);
    CHECK(first == 2);
    CHECK(last == 5);
    const auto s = u.slice(first, last);
    CHECK(s.is_uniform());
    CHECK(s.front() == doctest::Approx(1.0));
    CHECK(s.size() == 3);
    CHECK(e.slice(first, last).approx_equal(s));
    CHECK_THROWS_AS(u.window(20.0, 30.0), range_error);
    CHECK_THROWS_AS(u.window(2.0, 1.0), value_error);
    CHECK_THROWS_AS(u.slice(3, 4), range_error);
    CHECK_THROWS_AS(u.slice(0, 12), range_error);
}

TEST_CASE("Spectrum and SpectrumImage: ownership, views and shapes") {
    Spectrum<float> s(EnergyAxis::uniform(0.0, 1.0, 4), std::vector<float>{1, 2, 3, 4});
    CHECK(s.view().values[2] == 3.0f);
    CHECK_THROWS_AS(Spectrum<float>(EnergyAxis::uniform(0.0, 1.0, 4), std::vector<float>{1, 2}), shape_error);

    auto img = SpectrumImage<float>::zeros({3, 2}, EnergyAxis::uniform(100.0, 0.5, 5));
    CHECK(img.pixel_count() == 6);
    CHECK(img.data().shape()[2] == 5);
    img.pixel({2, 1}).values[4] = 7.0f;
    CHECK(img.data()(2, 1, 4) == 7.0f);
    CHECK(img.pixel(5).values[4] == 7.0f);
    CHECK(img.spectrum(5)[4] == 7.0f);
    CHECK_THROWS_AS(img.pixel({3, 0}), range_error);
    CHECK_THROWS_AS(img.pixel(std::vector<std::size_t>{0}), shape_error);
    CHECK_THROWS_AS(img.pixel(6), range_error);
    CHECK_THROWS_AS(SpectrumImage<float>::zeros({0, 2}, EnergyAxis::uniform(0, 1, 3)), value_error);
    xt::xarray<float> bad = xt::zeros<float>({2, 4});
    CHECK_THROWS_AS(SpectrumImage<float>(bad, EnergyAxis::uniform(0, 1, 5)), shape_error);
    try {
        SpectrumImage<float>(bad, EnergyAxis::uniform(0, 1, 5));
    } catch (const shape_error& e) {
        CHECK(e.expected() == std::vector<std::size_t>{2, 5});
        CHECK(e.actual() == std::vector<std::size_t>{2, 4});
    }
}
