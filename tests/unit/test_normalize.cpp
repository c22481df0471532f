#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "corespec/grid/spectrum_image.hpp"
#include "corespec/prep/normalize.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::prep;

TEST_CASE_TEMPLATE("min-max, max, area and sum normalisation of one spectrum", T, float, double) {
    const auto axis = grid::EnergyAxis::from_energies({0.0, 1.0, 3.0, 4.0});
    const grid::Spectrum<T> s(axis, std::vector<T>{T(2), T(4), T(6), T(3)});
    const auto mm = Normalize{NormKind::min_max}(s);
    CHECK(mm[0] == doctest::Approx(0.0));
    CHECK(mm[1] == doctest::Approx(0.5));
    CHECK(mm[2] == doctest::Approx(1.0));
    const auto mx = Normalize{NormKind::max}(s);
    CHECK(mx[2] == doctest::Approx(1.0));
    CHECK(mx[0] == doctest::Approx(1.0 / 3.0));
    const auto ar = Normalize{NormKind::area}(s);  // trapezoid: 3 + 10 + 4.5 = 17.5
    CHECK(ar[2] == doctest::Approx(6.0 / 17.5));
    const auto sm = Normalize{NormKind::sum}(s);
    CHECK(sm[0] + sm[1] + sm[2] + sm[3] == doctest::Approx(1.0));
}

TEST_CASE("constant, non-finite and zero-divisor spectra are rejected") {
    const auto axis = grid::EnergyAxis::uniform(0.0, 1.0, 4);
    for (auto kind : {NormKind::min_max, NormKind::max, NormKind::area, NormKind::sum}) {
        const grid::Spectrum<double> flat(axis, {2.0, 2.0, 2.0, 2.0});
        CHECK_THROWS_AS(Normalize{kind}(flat), value_error);
        const grid::Spectrum<double> nan(axis, {1.0, NAN, 2.0, 2.0});
        CHECK_THROWS_AS(Normalize{kind}(nan), value_error);
    }
    const grid::Spectrum<double> zero_sum(axis, {-1.0, 1.0, -1.0, 1.0});
    CHECK_THROWS_AS(Normalize{NormKind::sum}(zero_sum), value_error);
    const grid::Spectrum<double> zero_max(axis, {-1.0, 0.0, -2.0, -3.0});
    CHECK_THROWS_AS(Normalize{NormKind::max}(zero_max), value_error);
}

TEST_CASE_TEMPLATE("denormal and overflowing spectra are flagged, never turned into Inf or NaN", T, float, double) {
    const auto axis = grid::EnergyAxis::uniform(0.0, 1.0, 4);
    const T d = std::numeric_limits<T>::denorm_min();
    for (auto kind : {NormKind::min_max, NormKind::max, NormKind::area, NormKind::sum}) {
        CAPTURE(static_cast<int>(kind));
        std::vector<T> tiny{T(1) * d, T(2) * d, T(3) * d, T(5) * d};
        const auto st = Normalize{kind}.apply_block(span<T>(tiny), axis);
        CHECK(st[0] == Status::zero_divisor);
        CHECK(tiny[3] == T(5) * d);  // left unchanged
        CHECK_THROWS_WITH_AS(Normalize{kind}(grid::Spectrum<T>(axis, {d, T(2) * d, T(3) * d, T(4) * d})),
                             doctest::Contains("too small divisor"), value_error);
    }
    // max of a spectrum whose maximum is tiny and minimum large: y / max overflows T.
    const T tiny_max = std::numeric_limits<T>::min() * T(4);
    std::vector<T> wide{-std::numeric_limits<T>::max() / T(2), T(0), tiny_max, T(0)};
    CHECK(Normalize{NormKind::max}.apply_block(span<T>(wide), axis)[0] == Status::zero_divisor);
    // the smallest normal values still normalise exactly
    std::vector<T> small{T(0), std::numeric_limits<T>::min(), T(2) * std::numeric_limits<T>::min(), T(0)};
    REQUIRE(Normalize{NormKind::min_max}.apply_block(span<T>(small), axis)[0] == Status::ok);
    CHECK(small[1] == T(0.5));
    CHECK(small[2] == T(1));
}

TEST_CASE("per-pixel normalisation returns a status per pixel") {
    const auto axis = grid::EnergyAxis::uniform(500.0, 0.5, 3);
    auto image = grid::SpectrumImage<float>::zeros({2, 2}, axis);
    const float values[4][3] = {{1, 2, 3}, {5, 5, 5}, {0, NAN, 1}, {4, 2, 0}};
    for (std::size_t p = 0; p < 4; ++p)
        for (std::size_t c = 0; c < 3; ++c) image.pixel(p).values[c] = values[p][c];
    const auto st = Normalize{NormKind::min_max}.apply_image(image);
    REQUIRE(st.size() == 4);
    CHECK(st[0] == Status::ok);
    CHECK(st[1] == Status::constant);
    CHECK(st[2] == Status::non_finite);
    CHECK(st[3] == Status::ok);
    CHECK(image.pixel(0).values[1] == doctest::Approx(0.5));
    CHECK(image.pixel(3).values[0] == doctest::Approx(1.0));
    CHECK(image.pixel(1).values[0] == 5.0f);  // untouched
    std::vector<double> block{1, 2, 3, 7, 7, 7};
    const auto sb = Normalize{NormKind::max}.apply_block(span<double>(block), axis);
    CHECK(sb[0] == Status::ok);
    CHECK(sb[1] == Status::constant);
    CHECK(block[0] == doctest::Approx(1.0 / 3.0));
    std::vector<double> odd(5);
    CHECK_THROWS_AS(Normalize{}.apply_block(span<double>(odd), axis), shape_error);
}

CORESPEC_REFERENCE_TEST("sum normalisation reproduces pymatgen's normalize('sum') on LiCoO2 Co K") {
    const auto j = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::shared_path("data/xas/sim/pymatgen/LiCoO2_k_xanes.json")));
    const auto x = j["x"].get<std::vector<double>>();
    const auto y = j["y"].get<std::vector<double>>();
    const auto ref = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::shared_path("reference/xas_reference.json")))["data/xas/sim/pymatgen/LiCoO2_k_xanes.json"];
    double sum_in = 0;
    for (double v : y) sum_in += v;
    CHECK(sum_in == doctest::Approx(ref["verified_with_numpy"]["sum_y"].get<double>()).epsilon(1e-8));
    const grid::Spectrum<double> s(grid::EnergyAxis::from_energies(x), y);
    const auto n = Normalize{NormKind::sum}(s);
    double total = 0;
    for (std::size_t i = 0; i < n.size(); ++i) total += n[i];
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
}
