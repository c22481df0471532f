// One spectrum through the low-loss and alignment API (no 1 x N wrapping by
// hand), HyperSpy's public value-to-index rules, hanning_taper on a view, and
// what fourier_ratio_deconvolution reports.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include "corespec/align/zero_loss.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/prep/low_loss.hpp"

using corespec::span;
using corespec::grid::EnergyAxis;
using corespec::grid::Spectrum;
using corespec::grid::SpectrumImage;
namespace align = corespec::align;
namespace numeric = corespec::numeric;
namespace prep = corespec::prep;

namespace {

// Gaussian ZLP at `centre` plus a plasmon 20 eV above it.
Spectrum<double> zlp_spectrum(const EnergyAxis& axis, double centre) {
    std::vector<double> y(axis.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double e = axis.energy(i);
        y[i] = 1e5 * std::exp(-0.5 * std::pow((e - centre) / 0.5, 2)) +
               3e4 * std::exp(-0.5 * std::pow((e - centre - 20.0) / 4.0, 2)) + 5.0;
    }
    return Spectrum<double>(axis, std::move(y));
}

SpectrumImage<double> as_image(const Spectrum<double>& s) {
    auto im = SpectrumImage<double>::zeros({1}, s.axis());
    std::copy(s.values().begin(), s.values().end(), im.pixel(0).values.begin());
    return im;
}

}  // namespace

TEST_CASE("one spectrum: ZLP centre and thickness equal the 1 x N image's, without wrapping") {
    const auto axis = EnergyAxis::uniform(-20.0, 0.1, 1200);
    const auto s = zlp_spectrum(axis, 0.37);
    const auto im = as_image(s);
    for (auto m : {prep::ZlpMethod::maximum, prep::ZlpMethod::parabola, prep::ZlpMethod::gaussian}) {
        prep::ZlpOptions o;
        o.method = m;
        CHECK(prep::zlp_centre(s, o) == prep::zlp_centres(im, o)[0]);
    }
    const auto t_fixed = prep::thickness(s, 3.0);
    const auto ti_fixed = prep::thickness(im, 3.0);
    CHECK(t_fixed.status == prep::ThicknessStatus::ok);
    CHECK(t_fixed.t_over_lambda == ti_fixed.t_over_lambda[0]);
    CHECK(t_fixed.total == ti_fixed.total[0]);
    CHECK(t_fixed.zero_loss == ti_fixed.zero_loss[0]);
    CHECK(t_fixed.threshold == 3.0);

    const auto t_auto = prep::thickness(s, prep::ThresholdOptions{});
    const auto ti_auto = prep::thickness(im, prep::ThresholdOptions{});
    CHECK(t_auto.status == prep::ThicknessStatus::ok);
    CHECK(t_auto.threshold == ti_auto.threshold[0]);
    CHECK(t_auto.t_over_lambda == ti_auto.t_over_lambda[0]);
    CHECK(t_auto.t_over_lambda > 0.0);

    // I_zlp from a separate zero-loss spectrum
    std::vector<double> zl(axis.size());
    for (std::size_t i = 0; i < zl.size(); ++i) zl[i] = 1e5 * std::exp(-0.5 * std::pow((axis.energy(i) - 0.37) / 0.5, 2));
    const Spectrum<double> zlp(axis, zl);
    const auto t_zlp = prep::thickness(s, zlp);
    CHECK(t_zlp.status == prep::ThicknessStatus::ok);
    CHECK(std::isnan(t_zlp.threshold));
    CHECK(t_zlp.t_over_lambda == prep::thickness(im, as_image(zlp)).t_over_lambda[0]);

    // a bad spectrum gets a status, not an exception
    auto flat = s;
    std::fill(flat.values().begin(), flat.values().end(), 0.0);
    CHECK(prep::thickness(flat, 3.0).status == prep::ThicknessStatus::non_positive);
    CHECK(std::isnan(prep::thickness(flat, 3.0).t_over_lambda));
}

TEST_CASE("one spectrum: ZLP alignment calibrates its axis, the core loss follows") {
    const auto axis = EnergyAxis::uniform(-30.0, 0.2, 700);
    const auto ll = zlp_spectrum(axis, 1.3);
    const Spectrum<double> cl(EnergyAxis::uniform(500.0, 0.2, 700), std::vector<double>(700, 1.0));
    align::ZlpAlignOptions o;
    o.method = prep::ZlpMethod::gaussian;
    const auto r = align::align_zero_loss(ll, o, {&cl});
    CHECK(r.centre_before == doctest::Approx(1.3).epsilon(1e-3));
    CHECK(r.offset_change == doctest::Approx(-r.centre_before).epsilon(1e-12));
    CHECK(r.aligned.values() == ll.values());  // one spectrum is not shifted, only its axis moves
    CHECK(r.aligned.axis().front() == doctest::Approx(-30.0 + r.offset_change).epsilon(1e-12));
    prep::ZlpOptions g;
    g.method = prep::ZlpMethod::gaussian;
    CHECK(std::abs(prep::zlp_centre(r.aligned, g)) < 1e-9);
    REQUIRE(r.also.size() == 1);
    CHECK(r.also[0].axis().front() == doctest::Approx(500.0 + r.offset_change).epsilon(1e-12));
    // the same numbers as the image path on a 1 x N image
    const auto ri = align::align_zero_loss(as_image(ll), o);
    CHECK(ri.offset_change == r.offset_change);
    CHECK_THROWS_AS(align::align_zero_loss(ll, o, {nullptr}), corespec::value_error);
}

TEST_CASE("HyperSpy's value2index rules are public: round, floor, ceil on uniform and explicit axes") {
    const auto u = EnergyAxis::uniform(0.0, 1.0, 5);
    CHECK(numeric::hyperspy_value2index(u, 2.5) == 2);   // half towards zero for v >= 0
    CHECK(numeric::hyperspy_value2index(u, 2.6) == 3);
    CHECK(numeric::hyperspy_value2index(u, 2.0 + 1e-13) == 2);  // truncated at 1e-12 channel
    CHECK(numeric::hyperspy_value2index(u, 2.5, numeric::IndexRounding::floor) == 2);
    CHECK(numeric::hyperspy_value2index(u, 2.5, numeric::IndexRounding::ceil) == 3);
    CHECK(numeric::hyperspy_value2index(u, 3.0 - 1e-13, numeric::IndexRounding::ceil) == 3);
    CHECK(numeric::hyperspy_value2index(u, -0.7) == -1);  // outside: -1 / size()
    CHECK(numeric::hyperspy_value2index(u, 9.0) == 5);
    CHECK(numeric::hyperspy_value2index(u, std::numeric_limits<double>::quiet_NaN()) == -1);
    const auto neg = EnergyAxis::uniform(-5.0, 1.0, 6);
    CHECK(numeric::hyperspy_value2index(neg, -2.5) == 3);  // v < 0: index 2.5 rounds up
    CHECK(numeric::hyperspy_value2index(neg, 0.5) == 5);   // v >= 0: index 5.5 rounds down
    CHECK(numeric::hyperspy_value2index(neg.as_uniform(), -2.5, numeric::IndexRounding::floor) == 2);
    const auto x = EnergyAxis::from_energies({0.0, 1.0, 3.0, 4.0});
    CHECK(numeric::hyperspy_value2index(x, 1.9) == 1);
    CHECK(numeric::hyperspy_value2index(x, 2.1) == 2);
    CHECK(numeric::hyperspy_value2index(x, 2.0, numeric::IndexRounding::floor) == 1);
    CHECK(numeric::hyperspy_value2index(x, 2.0, numeric::IndexRounding::ceil) == 2);
    CHECK(numeric::hyperspy_value2index(x, 3.0, numeric::IndexRounding::ceil) == 2);
    CHECK(numeric::hyperspy_value2index(x, -1.0, numeric::IndexRounding::floor) == -1);
    CHECK(numeric::hyperspy_value2index(x, 5.0, numeric::IndexRounding::ceil) == 4);
    const auto [i1, i2] = numeric::hyperspy_value_range_to_indices(u, -3.0, 2.4);
    CHECK(i1 == 0);  // a limit outside keeps the axis end
    CHECK(i2 == 2);
    CHECK_THROWS_AS(numeric::hyperspy_value_range_to_indices(u, 3.0, 2.0), corespec::value_error);
    CHECK_THROWS_AS(numeric::require_window_inside(u, 1.0, 7.0, "test"), corespec::range_error);
}

TEST_CASE("hanning_taper on a view of any type equals the vector form") {
    std::vector<double> d(100, 2.0);
    std::vector<float> f(100, 2.0f);
    const std::size_t cd = prep::hanning_taper(d);
    const Spectrum<float> s(EnergyAxis::uniform(0.0, 1.0, 100), f);
    auto sf = s;
    const std::size_t cf = prep::hanning_taper(sf.view());
    CHECK(cd == 20);
    CHECK(cf == 20);
    for (std::size_t i = 0; i < 100; ++i) CHECK(sf[i] == static_cast<float>(d[i]));
    CHECK(d[0] == 0.0);
    CHECK(d[50] == 2.0);
    std::vector<float> short_one(10, 1.0f);
    CHECK_THROWS_AS(prep::hanning_taper(span<float>(short_one)), corespec::value_error);
}

TEST_CASE("fourier_ratio_deconvolution reports the threshold, FWHM and I0 it used") {
    const auto lla = EnergyAxis::uniform(-10.0, 0.1, 1024);
    const auto ll = zlp_spectrum(lla, 0.0);
    std::vector<double> c(1024);
    const auto cla = EnergyAxis::uniform(500.0, 0.1, 1024);
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = 1e3 * std::pow(cla.energy(i) / 500.0, -3.0) + 10.0;
    const Spectrum<double> cl(cla, c);
    prep::FourierRatioInfo info;
    const auto r = prep::fourier_ratio_deconvolution(cl, ll, {}, &info);
    CHECK(r.size() == cl.size());
    // the threshold and width are the ones the function's own rules give
    CHECK(info.threshold == prep::elastic_threshold(ll));
    auto lle = prep::power_law_extrapolation(ll, 100, 100);
    prep::hanning_taper(lle.values());
    CHECK(info.fwhm == prep::estimate_peak_width(lle));
    CHECK(info.fwhm == doctest::Approx(2.3548 * 0.5).epsilon(1e-2));  // the synthetic ZLP's FWHM
    CHECK(info.i0 == prep::elastic_intensity(corespec::grid::SpectrumView<const double>(lle.view()), info.threshold));
    // given values are reported as given; no info pointer: same result
    prep::FourierRatioOptions o;
    o.fwhm = 1.5;
    o.threshold = 4.0;
    prep::FourierRatioInfo given;
    (void)prep::fourier_ratio_deconvolution(cl, ll, o, &given);
    CHECK(given.fwhm == 1.5);
    CHECK(given.threshold == 4.0);
    CHECK(prep::fourier_ratio_deconvolution(cl, ll).values() == r.values());
}

TEST_CASE("zlp_centre: a flat spectrum has no peak and gives NaN, not the first channel") {
    const auto axis = EnergyAxis::uniform(-5.0, 0.1, 64);
    for (const auto method : {align::ZlpMethod::maximum, align::ZlpMethod::parabola, align::ZlpMethod::gaussian}) {
        align::ZlpOptions o;
        o.method = method;
        CHECK(std::isnan(align::zlp_centre(Spectrum<double>(axis, std::vector<double>(64, 0.0)), o)));
        CHECK(std::isnan(align::zlp_centre(Spectrum<double>(axis, std::vector<double>(64, 7.5)), o)));
        CHECK(align::zlp_centre(zlp_spectrum(axis, 0.3), o) == doctest::Approx(0.3).epsilon(0.2));
    }
}
