#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "corespec/prep/broadening.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::prep;

namespace {

// Two whitespace-separated columns.
void read_two_columns(const std::string& relative, std::vector<double>& x, std::vector<double>& y,
                      std::size_t first = 0, std::size_t last = std::numeric_limits<std::size_t>::max()) {
    std::ifstream in(corespec_test::shared_path(relative));
    REQUIRE(in);
    double a = 0, b = 0;
    std::size_t row = 0;
    while (in >> a >> b) {
        if (row >= first && row < last) {
            x.push_back(a);
            y.push_back(b);
        }
        ++row;
    }
}

struct LightshowInput {
    std::vector<double> x, y, x_out;
    LightshowInput() {
        read_two_columns("data/xas/sim/lightshow/anatase_theory.txt", x, y, 20000, 35000);
        for (int i = 0; i < 1000; ++i) x_out.push_back(4950.0 + 60.0 * i / 999.0);
        x_out.back() = 5010.0;
    }
};

// max |a - b| / max |b|
double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0, s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, std::abs(a[i] - b[i]));
        s = std::max(s, std::abs(b[i]));
    }
    return m / s;
}

// Output energies compared with Lightshow: all 1000, or every 8th under
// AddressSanitizer (about 10x slower there). Each output value is its own sum
// over the same inputs, so the subset runs the same code on the same data.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t lightshow_stride = 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::size_t lightshow_stride = 8;
#else
constexpr std::size_t lightshow_stride = 1;
#endif
#else
constexpr std::size_t lightshow_stride = 1;
#endif

}  // namespace

TEST_CASE("voigt_profile matches scipy.special.voigt_profile") {
    const auto ref = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::source_path("tests/data/prep/savgol_scipy.json")));
    double worst = 0;
    for (const auto& c : ref["voigt_profile"]) {
        const double sigma = c["sigma"].get<double>(), gamma = c["gamma"].get<double>();
        const auto x = c["x"].get<std::vector<double>>();
        const auto v = c["v"].get<std::vector<double>>();
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double e = std::abs(voigt_profile(x[i], sigma, gamma) - v[i]) / v[i];
            CHECK(e < 1e-9);
            worst = std::max(worst, e);
        }
    }
    MESSAGE("voigt_profile vs SciPy: max relative error " << worst);
    CHECK(voigt_profile(0.3, 0.0, 0.5) == doctest::Approx(lorentzian_profile(0.3, 0.5)));
    CHECK(voigt_profile(0.3, 0.5, 0.0) == doctest::Approx(gaussian_profile(0.3, 0.5)));
}

CORESPEC_REFERENCE_TEST("broadening matches Lightshow's reference outputs (Ti K anatase)") {
    const LightshowInput in;
    REQUIRE(in.x.size() == 15000);
    struct Run {
        const char* file;
        Broaden b;
    };
    std::vector<Run> runs;
    {
        Broaden g;  // gauss_broaden, sigma 1
        g.sigma = 1.0;
        g.shift = 100.0;
        runs.push_back({"gauss_broad.txt", g});
        Broaden l;  // lorentz_broaden, gamma = HWHM 1
        l.lorentz_fwhm = 2.0;
        l.shift = 100.0;
        runs.push_back({"lorentz_broad.txt", l});
        Broaden v;  // voigt_profile(x, 0.5, 0.5/2)
        v.sigma = 0.5;
        v.lorentz_fwhm = 0.5;
        v.shift = 100.0;
        runs.push_back({"voigt_broad.txt", v});
        Broaden e;  // Broaden(sigma=0.2, lorentz_divider=40, CHlifetime=0.89, shift=100), cross-section weighted
        e.sigma = 0.2;
        e.lorentz_fwhm = 0.89;
        e.lorentz_slope = 1.0 / 40.0;
        e.lorentz_onset = 4869.1673;
        e.shift = 100.0;
        e.weight_by_energy = true;
        runs.push_back({"ene_dep_broad.txt", e});
    }
    for (auto& r : runs) {
        INFO(r.file);
        std::vector<double> xr, yr;
        read_two_columns(std::string("data/xas/sim/lightshow/sample_files/") + r.file, xr, yr);
        REQUIRE(xr.size() == 1000);
        for (std::size_t i = 0; i < xr.size(); ++i) REQUIRE(xr[i] == doctest::Approx(in.x_out[i]).epsilon(1e-12));
        std::vector<double> x_out, y_ref;  // the compared subset (lightshow_stride)
        for (std::size_t i = 0; i < xr.size(); i += lightshow_stride) {
            x_out.push_back(in.x_out[i]);
            y_ref.push_back(yr[i]);
        }
        yr = y_ref;
        r.b.quadrature = Quadrature::uniform_mean;
        const auto exact = r.b(span<const double>(in.x), span<const double>(in.y), span<const double>(x_out));
        const double e1 = rel_err(exact, yr);
        CHECK(e1 < 1e-4);
        MESSAGE(std::string(r.file) << ": max rel err " << e1 << " (Lightshow quadrature)");
        if (r.b.lorentz_slope == 0.0 && r.b.lorentz_fwhm > 0.0) continue;  // the trapezoid check on two of four (time)
        r.b.quadrature = Quadrature::trapezoid;
        const auto trap = r.b(span<const double>(in.x), span<const double>(in.y), span<const double>(x_out));
        const double e2 = rel_err(trap, yr);
        CHECK(e2 < 1e-4);
        MESSAGE(std::string(r.file) << ": max rel err " << e2 << " (trapezoid quadrature)");
    }
}

TEST_CASE("broadening conserves area on uniform and non-uniform grids") {
    // a narrow peak sampled on a non-uniform grid, broadened onto a uniform one
    std::vector<double> x, y;
    for (double e = 0.0; e < 100.0; e += (e < 40 || e > 60) ? 0.5 : 0.05) {
        x.push_back(e);
        y.push_back(std::exp(-0.5 * (e - 50.0) * (e - 50.0) / 0.01));
    }
    double area_in = 0;
    for (std::size_t i = 1; i < x.size(); ++i) area_in += 0.5 * (y[i] + y[i - 1]) * (x[i] - x[i - 1]);
    const auto axis = grid::EnergyAxis::uniform(0.0, 0.1, 1001);
    const grid::Spectrum<double> s(grid::EnergyAxis::from_energies(x), y);
    for (int kind = 0; kind < 3; ++kind) {
        Broaden b;
        if (kind != 1) b.sigma = 0.8;
        if (kind != 0) b.lorentz_fwhm = 0.6;
        const auto out = b(s, axis);
        double area_out = 0;
        for (std::size_t i = 1; i < out.size(); ++i) area_out += 0.5 * (out[i] + out[i - 1]) * 0.1;
        CHECK(area_out == doctest::Approx(area_in).epsilon(kind == 0 ? 1e-6 : 2e-2));  // Lorentz tails leave the window
        // centre stays at 50 eV; FWHM of a Gaussian broadened peak as expected
        std::size_t imax = 0;
        for (std::size_t i = 0; i < out.size(); ++i)
            if (out[i] > out[imax]) imax = i;
        CHECK(axis.energy(imax) == doctest::Approx(50.0));
    }
    // Gaussian on Gaussian: widths add in quadrature
    Broaden g;
    g.sigma = 0.5;
    const auto out = g(s, axis);
    const double peak = out[500];
    const double expected_peak = area_in / (std::sqrt(2 * M_PI) * std::sqrt(0.25 + 0.01));
    CHECK(peak == doctest::Approx(expected_peak).epsilon(1e-3));
    CHECK(sigma_to_fwhm(fwhm_to_sigma(1.3)) == doctest::Approx(1.3));
}

TEST_CASE("energy-dependent broadening widens the spectrum above the onset only") {
    // two equal narrow lines, one below and one above the onset
    const auto axis = grid::EnergyAxis::uniform(0.0, 0.02, 5001);
    std::vector<double> y(axis.size(), 0.0);
    y[1000] = 1.0;  // 20 eV
    y[4000] = 1.0;  // 80 eV
    const grid::Spectrum<double> s(axis, y);
    Broaden b;
    b.lorentz_fwhm = 1.0;
    b.lorentz_slope = 0.05;
    b.lorentz_onset = 50.0;
    const auto out = b(s);
    // peak heights of area-normalised Lorentzians: 1/(pi*HWHM) * weight
    CHECK(out[1000] == doctest::Approx(0.02 / (M_PI * 0.5)).epsilon(1e-3));
    CHECK(out[4000] == doctest::Approx(0.02 / (M_PI * 0.5 * (1.0 + 0.05 * 30.0))).epsilon(1e-3));
}

TEST_CASE("broadening rejects bad parameters and input") {
    const std::vector<double> x{1, 2, 3}, y{0, 1, 0};
    Broaden none;
    CHECK_THROWS_AS(none(span<const double>(x), span<const double>(y), span<const double>(x)), value_error);
    Broaden neg;
    neg.sigma = -1;
    CHECK_THROWS_AS(neg(span<const double>(x), span<const double>(y), span<const double>(x)), value_error);
    Broaden ok;
    ok.sigma = 0.5;
    CHECK_THROWS_AS(ok(span<const double>(std::vector<double>{1, 1, 2}), span<const double>(y), span<const double>(x)),
                    value_error);
    CHECK_THROWS_AS(ok(span<const double>(x), span<const double>(std::vector<double>{0, 1}), span<const double>(x)),
                    shape_error);
    CHECK_THROWS_AS(ok(span<const double>(x), span<const double>(std::vector<double>{0, NAN, 1}), span<const double>(x)),
                    value_error);
    Broaden slope_only;  // zero FWHM below the onset and no Gaussian: a delta function
    slope_only.lorentz_slope = 0.1;
    slope_only.lorentz_onset = 10.0;
    CHECK_THROWS_AS(slope_only(span<const double>(x), span<const double>(y), span<const double>(x)), value_error);
}
