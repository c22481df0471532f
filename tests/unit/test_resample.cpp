#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "corespec/grid/resample.hpp"
#include "corespec/io/columns.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::grid;

namespace {

template <class T>
Spectrum<T> sampled(const EnergyAxis& axis, double (*f)(double)) {
    Spectrum<T> s(axis);
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<T>(f(s.energy(i)));
    return s;
}

double line(double e) { return 3.0 * e - 2.0; }
double cubic(double e) { return 0.5 * e * e * e - 2.0 * e * e + e + 4.0; }

}  // namespace

TEST_CASE_TEMPLATE("linear resampling reproduces a straight line exactly", T, float, double) {
    const auto from = EnergyAxis::from_energies({0.0, 0.7, 1.1, 2.5, 3.0, 4.9, 6.0});
    const auto to = EnergyAxis::uniform(0.0, 0.25, 25);
    const auto r = resample(sampled<T>(from, line), to);
    const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
    for (std::size_t i = 0; i < r.size(); ++i) CHECK(r[i] == doctest::Approx(line(to.energy(i))).epsilon(tol));
}

TEST_CASE("pchip resampling reproduces a straight line exactly") {
    const auto from = EnergyAxis::from_energies({0.0, 0.7, 1.1, 2.5, 3.0, 4.9, 6.0});
    const auto to = EnergyAxis::uniform(0.05, 0.1, 59);
    const auto r = resample(sampled<double>(from, line), to, {Method::pchip});
    for (std::size_t i = 0; i < r.size(); ++i) CHECK(r[i] == doctest::Approx(line(to.energy(i))).epsilon(1e-12));
}

TEST_CASE("pchip converges on a cubic and is exact at the nodes") {
    const auto from = EnergyAxis::uniform(0.5, 0.05, 61);  // monotone-increasing region of the cubic
    const auto coarse = sampled<double>(from, cubic);
    const auto to = EnergyAxis::uniform(0.6, 0.01, 200);
    const auto r = resample(coarse, to, {Method::pchip});
    double max_err = 0.0;
    for (std::size_t i = 0; i < r.size(); ++i) max_err = std::max(max_err, std::abs(r[i] - cubic(to.energy(i))));
    CHECK(max_err < 1e-3);
    const auto at_nodes = resample(coarse, from, {Method::pchip});
    for (std::size_t i = 0; i < from.size(); ++i) CHECK(at_nodes[i] == doctest::Approx(coarse[i]).epsilon(1e-14));
}

TEST_CASE("pchip matches SciPy's PchipInterpolator (tools/make_pchip_reference.py)") {
    const auto ref = nlohmann::json::parse(corespec_test::read_text(corespec_test::source_path("tests/data/pchip_scipy.json")));
    REQUIRE(ref["cases"].size() >= 4);
    for (const auto& c : ref["cases"]) {
        INFO("case " << c["name"].get<std::string>());
        const auto x = c["x"].get<std::vector<double>>();
        const auto y = c["y"].get<std::vector<double>>();
        const auto xq = c["xq"].get<std::vector<double>>();
        const auto yq = c["yq"].get<std::vector<double>>();
        Spectrum<double> s(EnergyAxis::from_energies(x), y);
        const auto r = resample(s, EnergyAxis::from_energies(xq), {Method::pchip});
        double scale = 0.0;
        for (double v : yq) scale = std::max(scale, std::abs(v));
        for (std::size_t i = 0; i < xq.size(); ++i) CHECK(std::abs(r[i] - yq[i]) <= 1e-12 * scale);
    }
}

TEST_CASE("pchip does not overshoot monotone data") {
    const auto from = EnergyAxis::from_energies({0.0, 1.0, 2.0, 3.0, 4.0, 5.0});
    Spectrum<double> step(from, std::vector<double>{0, 0, 0, 1, 1, 1});
    const auto to = EnergyAxis::uniform(0.0, 0.01, 501);
    const auto p = resample(step, to, {Method::pchip});
    for (std::size_t i = 0; i < p.size(); ++i) {
        CHECK(p[i] >= -1e-15);
        CHECK(p[i] <= 1.0 + 1e-15);
        if (i > 0) CHECK(p[i] >= p[i - 1] - 1e-15);
    }
}

TEST_CASE_TEMPLATE("rebinning conserves counts", T, float, double) {
    // Poisson-like counts on an EELS axis, rebinned to coarser, finer and shifted grids.
    const auto from = EnergyAxis::uniform(500.0, 0.25, 400);
    Spectrum<T> s(from);
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<T>(1000.0 + 500.0 * std::sin(0.05 * double(i)) + double(i % 7));
    const double total = std::accumulate(s.values().begin(), s.values().end(), 0.0);
    const double tol = std::is_same<T, float>::value ? 1e-6 : 1e-12;
    for (const auto& to : {EnergyAxis::uniform(499.875 + 0.5, 1.0, 99), EnergyAxis::uniform(499.95, 0.1, 996),
                           EnergyAxis::from_energies({510.0, 520.0, 560.0, 580.0})}) {
        // Sum over the part of the source that the target covers.
        const double lo = to.lower_edge(0), hi = to.upper_edge(to.size() - 1);
        double covered = 0.0;
        for (std::size_t i = 0; i < from.size(); ++i) {
            const double a = std::max(lo, from.lower_edge(i)), b = std::min(hi, from.upper_edge(i));
            if (b > a) covered += double(s[i]) * (b - a) / (from.upper_edge(i) - from.lower_edge(i));
        }
        const auto r = resample(s, to, {Method::rebin});
        const double sum = std::accumulate(r.values().begin(), r.values().end(), 0.0);
        CHECK(std::abs(sum - covered) <= tol * covered);
    }
    // A target that covers the whole source keeps the exact total.
    const auto wide = resample(s, EnergyAxis::uniform(499.875, 2.0, 51), {Method::rebin, OutOfRange::zero});
    const double sum = std::accumulate(wide.values().begin(), wide.values().end(), 0.0);
    CHECK(std::abs(sum - total) <= tol * total);
}

TEST_CASE("rebinning onto the same axis is the identity; onto halves splits evenly") {
    const auto from = EnergyAxis::uniform(0.0, 1.0, 4);
    Spectrum<double> s(from, std::vector<double>{4, 8, 2, 6});
    const auto same = resample(s, from, {Method::rebin});
    for (std::size_t i = 0; i < 4; ++i) CHECK(same[i] == doctest::Approx(s[i]));
    const auto halves = resample(s, EnergyAxis::uniform(-0.25, 0.5, 8), {Method::rebin});
    const std::vector<double> expected{2, 2, 4, 4, 1, 1, 3, 3};
    for (std::size_t i = 0; i < 8; ++i) CHECK(halves[i] == doctest::Approx(expected[i]));
}

TEST_CASE("out-of-range policy: error, zero, hold") {
    Spectrum<double> s(EnergyAxis::uniform(10.0, 1.0, 5), std::vector<double>{1, 2, 3, 4, 5});
    const auto to = EnergyAxis::uniform(8.0, 1.0, 9);  // 8..16, source 10..14
    CHECK_THROWS_AS(resample(s, to), range_error);
    CHECK_THROWS_AS(resample(s, to, {Method::pchip}), range_error);
    CHECK_THROWS_AS(resample(s, to, {Method::rebin}), range_error);
    const auto z = resample(s, to, {Method::linear, OutOfRange::zero});
    CHECK(z[0] == 0.0);
    CHECK(z[2] == 1.0);
    CHECK(z[8] == 0.0);
    const auto h = resample(s, to, {Method::pchip, OutOfRange::hold});
    CHECK(h[0] == 1.0);
    CHECK(h[8] == 5.0);
    // Rebin hold: the uncovered part of a bin takes the end bin's density.
    const auto rh = resample(s, to, {Method::rebin, OutOfRange::hold});
    CHECK(rh[0] == doctest::Approx(1.0));
    CHECK(rh[8] == doctest::Approx(5.0));
    const auto rz = resample(s, to, {Method::rebin, OutOfRange::zero});
    CHECK(rz[0] == 0.0);
    CHECK(rz[2] == doctest::Approx(1.0));
}

TEST_CASE("resampling rejects non-finite and mis-sized input") {
    Spectrum<double> s(EnergyAxis::uniform(0.0, 1.0, 5), std::vector<double>{1, 2, std::nan(""), 4, 5});
    CHECK_THROWS_AS(resample(s, EnergyAxis::uniform(0.5, 1.0, 3)), value_error);
    s[2] = INFINITY;
    CHECK_THROWS_AS(resample(s, EnergyAxis::uniform(0.5, 1.0, 3), {Method::rebin}), value_error);
    // Channels that cannot enter the result may hold anything (e.g. a dead channel far away).
    Spectrum<double> far(EnergyAxis::uniform(0.0, 1.0, 8), std::vector<double>{1, 2, 3, 4, 5, 6, 7, std::nan("")});
    CHECK(resample(far, EnergyAxis::uniform(1.5, 0.5, 3), {Method::pchip})[2] == doctest::Approx(3.5));
    CHECK_THROWS_AS(resample(far, EnergyAxis::uniform(4.5, 0.5, 3), {Method::pchip}), value_error);
    Resampler plan(EnergyAxis::uniform(0.0, 1.0, 5), EnergyAxis::uniform(0.5, 1.0, 3));
    std::vector<double> in(4), out(3);
    CHECK_THROWS_AS(plan.apply(span<const double>(in), span<double>(out)), shape_error);
}

TEST_CASE("spectrum images resample and crop pixel by pixel") {
    auto img = SpectrumImage<float>::zeros({2, 3}, EnergyAxis::uniform(100.0, 0.5, 21));
    for (std::size_t p = 0; p < img.pixel_count(); ++p) {
        auto v = img.pixel(p).values;
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(p * 10 + i);
    }
    const auto r = resample(img, EnergyAxis::uniform(101.0, 0.25, 9));
    CHECK(r.navigation_shape() == std::vector<std::size_t>{2, 3});
    CHECK(r.pixel({1, 2}).values[1] == doctest::Approx(5 * 10 + 2.5));
    const auto c = crop(img, 102.0, 103.0);
    CHECK(c.channel_count() == 3);
    CHECK(c.pixel(4).values[0] == doctest::Approx(4 * 10 + 4));
    const auto one = crop(img.spectrum(1), 102.0, 103.0);
    CHECK(one.size() == 3);
    CHECK(one[2] == doctest::Approx(16));
    CHECK_THROWS_AS(crop(img, 200.0, 210.0), range_error);
}

CORESPEC_REFERENCE_TEST("resampling a real XAS scan (Cu K, XAS Data Library) onto a uniform grid") {
    const auto table = io::read_columns(corespec_test::shared_path("data/xas/larch/cu_metal_rt.xdi"));
    REQUIRE(table.labels == std::vector<std::string>{"energy", "i0", "itrans", "mutrans"});
    REQUIRE(table.rows() == 408);
    const auto mu = io::to_spectrum<double>(table, "energy", "mutrans");
    const auto grid = EnergyAxis::uniform(8960.0, 0.5, 161);  // the edge region at 0.5 eV
    const auto lin = resample(mu, grid);
    const auto pch = resample(mu, grid, {Method::pchip});
    // Both interpolants pass through every scan point inside the grid.
    for (std::size_t i = 0; i < mu.size(); ++i) {
        const double e = mu.energy(i);
        const auto k = grid.index(e);
        if (k < 0 || k >= static_cast<std::ptrdiff_t>(grid.size()) || std::abs(grid.energy(static_cast<std::size_t>(k)) - e) > 1e-9)
            continue;
        CHECK(lin[static_cast<std::size_t>(k)] == doctest::Approx(mu[i]).epsilon(1e-12));
        CHECK(pch[static_cast<std::size_t>(k)] == doctest::Approx(mu[i]).epsilon(1e-12));
    }
    // PCHIP stays within the range of the two neighbouring scan points.
    for (std::size_t j = 0; j < grid.size(); ++j) {
        const std::size_t s = mu.axis().segment(grid.energy(j));
        const double lo = std::min(mu[s], mu[s + 1]), hi = std::max(mu[s], mu[s + 1]);
        CHECK(pch[j] >= lo - 1e-12);
        CHECK(pch[j] <= hi + 1e-12);
    }
    // The edge jump of Cu metal (about 1.9 in mutrans) survives resampling.
    CHECK(pch[160] - pch[0] > 1.0);
    CHECK_THROWS_AS(resample(mu, EnergyAxis::uniform(8700.0, 0.5, 10)), range_error);
}
