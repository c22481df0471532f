// Low loss: ZLP centre, elastic threshold, thickness, Fourier-log and
// Fourier-ratio deconvolution; synthetic cases, bad input, HyperSpy 1.7.3 references.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <xtensor/xnpy.hpp>

#include "corespec/prep/low_loss.hpp"
#include "support/reference_npy.hpp"
#include "support/shared_data.hpp"

using corespec::span;
using corespec::grid::EnergyAxis;
using corespec::grid::Spectrum;
using corespec::grid::SpectrumImage;
using corespec::grid::SpectrumView;
namespace prep = corespec::prep;

namespace {

// A low-loss spectrum: Gaussian ZLP at `centre` plus a plasmon at 20 eV.
std::vector<double> low_loss(const EnergyAxis& axis, double centre, double zlp_area = 1e5, double plasmon = 2e4) {
    std::vector<double> y(axis.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double e = axis.energy(i);
        y[i] = zlp_area * std::exp(-0.5 * std::pow((e - centre) / 0.5, 2)) +
               plasmon * std::exp(-0.5 * std::pow((e - centre - 20.0) / 4.0, 2)) + 5.0;
    }
    return y;
}

}  // namespace

TEST_CASE("zlp centre: maximum, parabola and gaussian") {
    const auto axis = EnergyAxis::uniform(-20.0, 0.1, 600);
    for (double c : {-0.537, 0.0, 0.0312, 1.26}) {
        const auto y = low_loss(axis, c);
        SpectrumView<const double> v(axis, span<const double>(y));
        const double mx = prep::zlp_centre(v);
        CHECK(std::abs(mx - c) <= 0.05 + 1e-12);  // nearest channel
        prep::ZlpOptions o;
        o.method = prep::ZlpMethod::gaussian;
        CHECK(prep::zlp_centre(v, o) == doctest::Approx(c).epsilon(1e-6).scale(1.0));
        o.method = prep::ZlpMethod::parabola;
        CHECK(std::abs(prep::zlp_centre(v, o) - c) < 0.01);  // 0.1 channel
        o.range = std::make_pair(10.0, 30.0);                // the plasmon alone
        o.method = prep::ZlpMethod::maximum;
        CHECK(std::abs(prep::zlp_centre(v, o) - (c + 20.0)) < 0.2);
    }
}

TEST_CASE("zlp centre and thickness: bad input") {
    const auto axis = EnergyAxis::uniform(-20.0, 0.1, 600);
    auto y = low_loss(axis, 0.0);
    SpectrumView<const double> v(axis, span<const double>(y));
    prep::ZlpOptions o;
    o.range = std::make_pair(-40.0, 5.0);
    CHECK_THROWS_AS(prep::zlp_centre(v, o), corespec::range_error);
    y[100] = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(prep::zlp_centre(v)));

    auto image = SpectrumImage<double>::zeros({3}, axis);
    const auto good = low_loss(axis, 0.0);
    std::copy(good.begin(), good.end(), image.pixel(0).values.begin());
    std::copy(good.begin(), good.end(), image.pixel(1).values.begin());
    image.pixel(1).values[400] = std::numeric_limits<double>::infinity();
    // pixel 2 stays all zero: no counts
    const auto t = prep::thickness(image, 3.0);
    CHECK(t.status[0] == prep::ThicknessStatus::ok);
    CHECK(t.status[1] == prep::ThicknessStatus::non_finite);
    CHECK(t.status[2] == prep::ThicknessStatus::non_positive);
    CHECK(std::isnan(t.t_over_lambda[2]));
    const auto t2 = prep::thickness(image, std::vector<double>{3.0, std::nan(""), 3.0});
    CHECK(t2.status[1] == prep::ThicknessStatus::no_threshold);
    CHECK_THROWS_AS(prep::thickness(image, std::vector<double>{3.0}), corespec::shape_error);
    CHECK_THROWS_AS(prep::thickness(image, 500.0), corespec::range_error);
    CHECK_THROWS_AS(prep::thickness(image, std::numeric_limits<double>::infinity()), corespec::value_error);
    prep::ThresholdOptions to;
    to.window = 0.5;  // 5 channels: too narrow
    CHECK_THROWS_AS(prep::elastic_threshold(image, to), corespec::value_error);
}

TEST_CASE("thickness of a synthetic low loss follows ln(I_total / I_zlp)") {
    const auto axis = EnergyAxis::uniform(-20.0, 0.1, 1200);
    auto image = SpectrumImage<double>::zeros({2}, axis);
    const auto y = low_loss(axis, 0.0, 1e5, 3e4);
    std::copy(y.begin(), y.end(), image.pixel(0).values.begin());
    std::copy(y.begin(), y.end(), image.pixel(1).values.begin());
    const auto t = prep::thickness(image, 3.0);
    double total = 0, zl = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        total += y[i];
        if (i < 230) zl += y[i];  // channels below 3 eV
    }
    CHECK(t.t_over_lambda[0] == doctest::Approx(std::log(total / zl)).epsilon(1e-12));
}

TEST_CASE("Fourier-log deconvolution removes plural scattering of a synthetic low loss") {
    // Poisson plural scattering: J = Z * (d + S + S*S/2 + ...) with S the
    // single-scattering distribution; Fourier-log recovers Z * S.
    const auto axis = EnergyAxis::uniform(-10.0, 0.2, 512);
    const std::size_t n = axis.size();
    std::vector<double> z(n), s1(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double e = axis.energy(i);
        z[i] = 1e4 * std::exp(-0.5 * e * e / 0.36);
        s1[i] = 0.3 * std::exp(-0.5 * std::pow((e - 15.0) / 3.0, 2)) / (3.0 * std::sqrt(2.0 * M_PI)) * 0.2;
    }
    // Kernel = exp(S) in Fourier space via circular convolution powers (S on a 0-based grid).
    std::vector<double> s0(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const double e = 0.2 * double(i);
        s0[i] = 0.3 * std::exp(-0.5 * std::pow((e - 15.0) / 3.0, 2)) / (3.0 * std::sqrt(2.0 * M_PI)) * 0.2;
    }
    auto conv = [&](const std::vector<double>& a, const std::vector<double>& b) {
        std::vector<double> c(n, 0.0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k <= i; ++k) c[i] += a[k] * b[i - k];
        return c;
    };
    std::vector<double> kernel(n, 0.0), term(n, 0.0);
    kernel[0] = 1.0;
    term[0] = 1.0;
    for (int k = 1; k < 6; ++k) {
        term = conv(term, s0);
        for (std::size_t i = 0; i < n; ++i) {
            term[i] /= double(k);
            kernel[i] += term[i];
        }
    }
    std::vector<double> j(n, 0.0), single(n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k <= i; ++k) {
            j[i] += z[i - k] * kernel[k];
            single[i] += z[i - k] * s0[k];
        }
    // The taper would cut the plural tail; compare where the single scattering lives.
    const auto out = prep::fourier_log_deconvolution(Spectrum<double>(axis, j), Spectrum<double>(axis, z));
    double peak = *std::max_element(single.begin(), single.end()), worst = 0;
    for (std::size_t i = 60; i < 400; ++i) worst = std::max(worst, std::abs(out[i] - single[i]) / peak);
    CHECK(worst < 2e-3);
    std::vector<double> bad = j;
    bad[5] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(prep::fourier_log_deconvolution(Spectrum<double>(axis, bad), Spectrum<double>(axis, z)),
                    corespec::value_error);
}

TEST_CASE("Fourier-ratio deconvolution: bad input") {
    const auto ll_axis = EnergyAxis::uniform(-10.0, 0.2, 400);
    const auto cl_axis = EnergyAxis::uniform(500.0, 0.2, 400);
    std::vector<double> ll(400), cl(400);
    for (std::size_t i = 0; i < 400; ++i) {
        const double e = ll_axis.energy(i);
        ll[i] = 1e5 * std::exp(-0.5 * e * e / 0.25) + 1e3 * std::exp(-0.5 * std::pow((e - 20.0) / 4.0, 2)) + 1.0;
        cl[i] = 1e9 * std::pow(cl_axis.energy(i), -3.0) + (cl_axis.energy(i) > 530 ? 10.0 : 0.0);
    }
    const auto good = prep::fourier_ratio_deconvolution(Spectrum<double>(cl_axis, cl), Spectrum<double>(ll_axis, ll));
    CHECK(good.size() == 400);
    for (double v : good.values()) CHECK(std::isfinite(v));
    auto bad = cl;
    bad[10] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(prep::fourier_ratio_deconvolution(Spectrum<double>(cl_axis, bad), Spectrum<double>(ll_axis, ll)),
                    corespec::value_error);
    const auto short_axis = EnergyAxis::uniform(500.0, 0.2, 30);  // shorter than two tapers
    prep::FourierRatioOptions no_ext;
    no_ext.extrapolate_coreloss = false;
    CHECK_THROWS_AS(prep::fourier_ratio_deconvolution(Spectrum<double>(short_axis, std::vector<double>(30, 1.0)),
                                                      Spectrum<double>(ll_axis, ll), no_ext),
                    corespec::value_error);
    // An empty low loss has no ZLP: no threshold.
    CHECK_THROWS_AS(prep::fourier_ratio_deconvolution(Spectrum<double>(cl_axis, cl),
                                                      Spectrum<double>(ll_axis, std::vector<double>(400, 0.0))),
                    corespec::value_error);
    prep::FourierRatioOptions bad_width;
    bad_width.fwhm = -1.0;
    CHECK_THROWS_AS(prep::fourier_ratio_deconvolution(Spectrum<double>(cl_axis, cl), Spectrum<double>(ll_axis, ll),
                                                      bad_width),
                    corespec::value_error);
    CHECK(std::isnan(prep::elastic_intensity(SpectrumView<const double>(ll_axis, span<const double>(ll)), std::nan(""))));
}

TEST_CASE("numeric helpers: next_fast_len, Savitzky-Golay, spline roots") {
    CHECK(corespec::numeric::next_fast_len(4095, true) == 4096);
    CHECK(corespec::numeric::next_fast_len(4195, false) == 4200);
    CHECK(corespec::numeric::next_fast_len(4195, true) == 4320);
    std::vector<double> y(9), d(9);
    for (int i = 0; i < 9; ++i) y[i] = 2.0 * i * i * i - i + 1.0;  // a cubic: derivative exact everywhere
    corespec::numeric::savgol_filter(y.data(), 9, 5, 3, 1, 0.5, d.data());
    for (int i = 0; i < 9; ++i) CHECK(d[i] == doctest::Approx((6.0 * i * i - 1.0) / 0.5));
    std::vector<double> x(50), f(50);
    for (int i = 0; i < 50; ++i) {
        x[i] = 0.3 * i;
        f[i] = std::exp(-0.5 * std::pow((x[i] - 7.0) / 1.2, 2)) - 0.5;
    }
    const auto r = corespec::numeric::spline_roots(x, f);
    REQUIRE(r.size() == 2);
    CHECK(r[1] - r[0] == doctest::Approx(2.0 * std::sqrt(2.0 * std::log(2.0)) * 1.2).epsilon(1e-4));
}

// ---------------------------------------------------------------- reference

using corespec_test::load_ref;

namespace {

double max_rel_to_max(const std::vector<double>& a, const xt::xarray<double>& b) {
    REQUIRE(a.size() == b.size());
    double mx = 0, worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) mx = std::max(mx, std::abs(b.flat(i)));
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b.flat(i)) / mx);
    return worst;
}

SpectrumImage<double> image_from(const xt::xarray<double>& data, const EnergyAxis& axis) {
    return SpectrumImage<double>(data, axis);
}

}  // namespace

CORESPEC_REFERENCE_TEST("low loss: ZLP centres, thresholds and t/lambda match HyperSpy 1.7.3 on the NMC image") {
    const auto axis = EnergyAxis::uniform(-60.00000238418579, 0.30000001192092896, 2048);
    const auto raw = image_from(load_ref("arrays/eels/read/nmc__nmc_lowloss_si.dm3.npy"), axis);
    const auto zc = prep::zlp_centres(raw);
    const auto zref = load_ref("arrays/eels/zlp/nmc_lowloss_si__zlp_centre_before.npy");
    double worst_zlp = 0;
    for (std::size_t p = 0; p < zc.size(); ++p) worst_zlp = std::max(worst_zlp, std::abs(zc[p] - zref.flat(p)) / 0.3);
    CHECK(worst_zlp < 0.05);

    // Thickness is computed by HyperSpy on its aligned image: use that image.
    const auto al = load_ref("arrays/eels/zlp/nmc_lowloss_si__aligned_default.npy");
    const auto al_axis_values = load_ref("arrays/eels/zlp/nmc_lowloss_si__aligned_default__axis.npy");
    const auto al_axis = EnergyAxis::uniform(al_axis_values(0), 0.30000001192092896, al_axis_values.size());
    const auto aligned = image_from(al, al_axis);
    const auto thr = prep::elastic_threshold(aligned);
    const auto thr_ref = load_ref("arrays/eels/zlp/nmc_lowloss_si__elastic_threshold.npy");
    double worst_thr = 0;
    for (std::size_t p = 0; p < thr.size(); ++p) worst_thr = std::max(worst_thr, std::abs(thr[p] - thr_ref.flat(p)));
    CHECK(worst_thr < 0.31);  // within one channel
    double worst_t = 0;
    struct Case {
        const char* file;
        double threshold;
    };
    for (const Case& c : {Case{"arrays/eels/zlp/nmc_lowloss_si__thickness_auto_threshold.npy", -1.0},
                          Case{"arrays/eels/zlp/nmc_lowloss_si__thickness_threshold_3eV.npy", 3.0},
                          Case{"arrays/eels/zlp/nmc_lowloss_si__thickness_threshold_5eV.npy", 5.0}}) {
        const auto ref = load_ref(c.file);
        const auto t = c.threshold < 0 ? prep::thickness(aligned, prep::ThresholdOptions{})
                                       : prep::thickness(aligned, c.threshold);
        for (std::size_t p = 0; p < t.t_over_lambda.size(); ++p) {
            REQUIRE(t.status[p] == prep::ThicknessStatus::ok);
            worst_t = std::max(worst_t, std::abs(t.t_over_lambda[p] - ref.flat(p)) / ref.flat(p));
        }
    }
    CHECK(worst_t < 0.01);
    MESSAGE("NMC low loss vs HyperSpy: ZLP centre max err " << worst_zlp << " channel, threshold max err "
                                                           << worst_thr << " eV, t/lambda max rel err " << worst_t);
}

CORESPEC_REFERENCE_TEST("low loss: exspy simulated thickness line scan matches HyperSpy 1.7.3") {
    const auto axis = EnergyAxis::uniform(-100.0, 0.5, 1024);
    const auto ll = image_from(load_ref("arrays/eels/read/exspy__EELS_LL_linescan_simulated_thickness_variation.hspy.npy"), axis);
    const auto zl = image_from(load_ref("arrays/eels/read/exspy__EELS_ZLP_linescan_simulated_thickness_variation.hspy.npy"), axis);
    const auto zc = prep::zlp_centres(ll);
    const auto zref = load_ref("arrays/eels/zlp/exspy_ll_linescan__zlp_centre_before.npy");
    for (std::size_t p = 0; p < zc.size(); ++p) CHECK(zc[p] == zref.flat(p));
    double worst = 0;
    auto cmp = [&](const prep::Thickness& t, const char* file) {
        const auto ref = load_ref(file);
        for (std::size_t p = 0; p < t.t_over_lambda.size(); ++p)
            worst = std::max(worst, std::abs(t.t_over_lambda[p] - ref.flat(p)) / ref.flat(p));
    };
    cmp(prep::thickness(ll, zl), "arrays/eels/zlp/exspy_ll_linescan__thickness_zlp_file.npy");
    cmp(prep::thickness(ll, 4.5), "arrays/eels/zlp/exspy_ll_linescan__thickness_threshold_4p5eV.npy");
    cmp(prep::thickness(ll, prep::ThresholdOptions{}), "arrays/eels/zlp/exspy_ll_linescan__thickness_auto_threshold.npy");
    CHECK(worst < 0.01);
    MESSAGE("exspy line scan t/lambda max rel err vs HyperSpy: " << worst);
}

CORESPEC_REFERENCE_TEST("absolute thickness: estimate_thickness(density=, mean_free_path=) matches HyperSpy 1.7.3") {
    const auto axis = EnergyAxis::uniform(-100.0, 0.5, 1024);
    const auto ll = image_from(load_ref("arrays/eels/read/exspy__EELS_LL_linescan_simulated_thickness_variation.hspy.npy"), axis);
    const auto zl = image_from(load_ref("arrays/eels/read/exspy__EELS_ZLP_linescan_simulated_thickness_variation.hspy.npy"), axis);
    // The .hspy file's Acquisition_instrument.TEM (read with HyperSpy): 200 keV,
    // convergence 10 mrad, collection 20 mrad; the reference calls use density 3.6 g/cm^3.
    const prep::EelsMicroscope tem{200.0, 10.0, 20.0};
    struct Case {
        const char* file;
        bool zlp_file;
        std::optional<double> density, mfp;
    };
    double worst = 0;
    for (const Case& c : {Case{"arrays/eels/zlp/exspy_ll_linescan__thickness_zlp_file_mfp120.npy", true, {}, 120.0},
                          Case{"arrays/eels/zlp/exspy_ll_linescan__thickness_zlp_file_density3p6.npy", true, 3.6, {}},
                          Case{"arrays/eels/zlp/exspy_ll_linescan__thickness_zlp_file_density3p6_mfp120.npy", true, 3.6, 120.0},
                          Case{"arrays/eels/zlp/exspy_ll_linescan__thickness_threshold_4p5eV_density3p6_mfp120.npy", false,
                               3.6, 120.0}}) {
        CAPTURE(c.file);
        const auto ref = load_ref(c.file);
        const auto t = c.zlp_file ? prep::thickness(ll, zl) : prep::thickness(ll, 4.5);
        prep::AbsoluteThicknessOptions o;
        o.density = c.density;
        o.mean_free_path = c.mfp;
        if (c.density) o.microscope = tem;
        const auto a = prep::absolute_thickness(t, o);
        REQUIRE(a.thickness_nm.size() == ref.size());
        for (std::size_t p = 0; p < ref.size(); ++p)
            worst = std::max(worst, std::abs(a.thickness_nm[p] - ref.flat(p)) / ref.flat(p));
        if (c.density && !c.mfp) CHECK(a.mean_free_path_nm == prep::imfp_iakoubovskii(3.6, 200.0));
    }
    CHECK(worst < 1e-12);
    MESSAGE("exspy line scan absolute thickness (nm) max rel err vs HyperSpy: " << worst);
}

TEST_CASE("absolute thickness: Iakoubovskii's mean free path, angular correction and bad parameters") {
    // lambda(3.6 g/cm^3, 200 keV) by hand from Iakoubovskii's equation 9
    const double f = (1 + 200.0 / 1022) / std::pow(1 + 200.0 / 511, 2);
    const double theta_e = 5.5 * std::pow(3.6, 0.3) / (f * 200.0);
    const double lambda = 1.0 / (11 * std::pow(3.6, 0.3) / (200 * f * 200.0) * std::log(400.0 / (theta_e * theta_e)));
    CHECK(prep::imfp_iakoubovskii(3.6, 200.0) == doctest::Approx(lambda).epsilon(1e-14));
    CHECK(prep::imfp_iakoubovskii(3.6, 200.0) > 100.0);  // about 130 nm for an oxide at 200 keV
    // a collection angle far beyond theta_C needs no correction; a small one needs more
    const double wide = prep::imfp_angular_correction(3.6, {200.0, 1.0, 200.0});
    const double narrow = prep::imfp_angular_correction(3.6, {200.0, 1.0, 5.0});
    CHECK(wide == doctest::Approx(1.0).epsilon(0.05));
    CHECK(narrow > wide);
    prep::AbsoluteThicknessOptions o;
    CHECK_THROWS_WITH_AS(prep::absolute_thickness(std::vector<double>{1.0}, o), doctest::Contains("density or a mean free path"),
                         corespec::value_error);
    o.density = 3.6;
    CHECK_THROWS_WITH_AS(prep::absolute_thickness(std::vector<double>{1.0}, o), doctest::Contains("microscope"),
                         corespec::value_error);
    o.microscope = prep::EelsMicroscope{200.0, 10.0, 20.0};
    const auto a = prep::absolute_thickness(std::vector<double>{0.5, std::numeric_limits<double>::quiet_NaN()}, o);
    CHECK(a.thickness_nm[0] == doctest::Approx(0.5 * a.angular_correction * a.mean_free_path_nm).epsilon(1e-15));
    CHECK(std::isnan(a.thickness_nm[1]));
    o.density = -1.0;
    CHECK_THROWS_AS(prep::absolute_thickness(std::vector<double>{1.0}, o), corespec::value_error);
    o.density.reset();
    o.mean_free_path = 0.0;
    CHECK_THROWS_AS(prep::absolute_thickness(std::vector<double>{1.0}, o), corespec::value_error);
    o.mean_free_path = 100.0;
    CHECK(prep::absolute_thickness(std::vector<double>{0.5}, o).thickness_nm[0] == 50.0);
    // from metadata
    corespec::grid::Metadata m;
    CHECK_THROWS_WITH_AS(prep::EelsMicroscope::from(m), doctest::Contains("beam_energy_kev"), corespec::value_error);
    m.beam_energy_kev = 300.0;
    m.convergence_semiangle_mrad = 12.0;
    m.collection_semiangle_mrad = 30.0;
    CHECK(prep::EelsMicroscope::from(m).collection_mrad == 30.0);
}

CORESPEC_REFERENCE_TEST("deconvolution: Fourier-log and Fourier-ratio match HyperSpy 1.7.3") {
    const auto ll_axis = EnergyAxis::uniform(-40.0, 0.2, 2048);
    const auto cl_axis = EnergyAxis::uniform(360.0, 0.2, 2048);
    const auto llv = load_ref("arrays/eels/read/exspy__lowloss_spectrum.msa.npy");
    const auto clv = load_ref("arrays/eels/read/exspy__coreloss_spectrum.msa.npy");
    const Spectrum<double> ll(ll_axis, std::vector<double>(llv.begin(), llv.end()));
    const Spectrum<double> cl(cl_axis, std::vector<double>(clv.begin(), clv.end()));

    CHECK(prep::elastic_threshold(ll) == doctest::Approx(9.8));
    const auto zv = load_ref("arrays/eels/deconv/exspy_lowloss__zlp_truncated.npy");
    const Spectrum<double> zlp(ll_axis, std::vector<double>(zv.begin(), zv.end()));
    const auto fld = prep::fourier_log_deconvolution(ll, zlp);
    const double e_fld = max_rel_to_max(fld.values(), load_ref("arrays/eels/deconv/exspy_lowloss__fld_default.npy"));
    prep::FourierLogOptions fo;
    fo.add_zlp = true;
    fo.crop = true;
    const auto fld2 = prep::fourier_log_deconvolution(ll, zlp, fo);
    const double e_fld2 =
        max_rel_to_max(fld2.values(), load_ref("arrays/eels/deconv/exspy_lowloss__fld_addzlp_crop.npy"));
    CHECK(fld2.size() == 2007);
    CHECK(e_fld < 1e-3);
    CHECK(e_fld2 < 1e-3);

    // Intermediates of the Fourier-ratio path.
    auto lle = prep::power_law_extrapolation(ll, 100, 100);
    CHECK(lle.size() == 2148);
    prep::hanning_taper(lle.values());
    const double fwhm = prep::estimate_peak_width(lle);
    CHECK(fwhm == doctest::Approx(3.1489655680913318).epsilon(1e-6));
    const double i0 = prep::elastic_intensity(SpectrumView<const double>(lle.view()), 9.8);
    CHECK(i0 == doctest::Approx(781556.1226593249).epsilon(1e-9));

    const auto frd = prep::fourier_ratio_deconvolution(cl, ll);
    const double e_frd = max_rel_to_max(frd.values(), load_ref("arrays/eels/deconv/exspy_coreloss__frd_raw.npy"));
    CHECK(e_frd < 1e-3);

    // The exspy gallery workflow: aligned low loss (offset -40.8 eV), background-removed Mn edge from 600 eV.
    const auto mn = load_ref("arrays/eels/deconv/exspy_coreloss__frd_example_input_Mn.npy");
    const Spectrum<double> mn_s(EnergyAxis::uniform(600.0, 0.2, mn.size()), std::vector<double>(mn.begin(), mn.end()));
    const Spectrum<double> ll2(EnergyAxis::uniform(-40.800000000000004, 0.2, 2048), ll.values());
    const auto frd2 = prep::fourier_ratio_deconvolution(mn_s, ll2);
    const double e_frd2 = max_rel_to_max(frd2.values(), load_ref("arrays/eels/deconv/exspy_coreloss__frd_example.npy"));
    CHECK(e_frd2 < 1e-3);
    MESSAGE("deconvolution vs HyperSpy (max abs diff / max |ref|): FLD " << e_fld << ", FLD add_zlp+crop " << e_fld2
                                                                         << ", FRD raw " << e_frd << ", FRD example "
                                                                         << e_frd2 << "; fwhm " << fwhm);
}
