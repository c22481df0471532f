// Alignment: ZLP alignment (HyperSpy 1.7.3 references), feature alignment,
// shifts (cross-correlation, Larch energy_align), calibration and shift tables.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <xtensor/xnpy.hpp>

#include "corespec/align/calibration.hpp"
#include "corespec/align/shift.hpp"
#include "corespec/align/zero_loss.hpp"
#include "corespec/io/edge_shift_table.hpp"
#include "support/reference_npy.hpp"
#include "support/shared_data.hpp"

using corespec::span;
using corespec::grid::EnergyAxis;
using corespec::grid::Spectrum;
using corespec::grid::SpectrumImage;
namespace align = corespec::align;
namespace prep = corespec::prep;

namespace {

double gauss(double e, double c, double w) { return std::exp(-0.5 * (e - c) * (e - c) / (w * w)); }

// A line scan of low-loss spectra whose ZLPs sit at known positions.
SpectrumImage<double> drifting_low_loss(const EnergyAxis& axis, const std::vector<double>& centres) {
    auto im = SpectrumImage<double>::zeros({centres.size()}, axis);
    for (std::size_t p = 0; p < centres.size(); ++p)
        for (std::size_t i = 0; i < axis.size(); ++i) {
            const double e = axis.energy(i);
            im.pixel(p).values[i] = 1e5 * gauss(e, centres[p], 0.6) + 1e4 * gauss(e, centres[p] + 18.0, 4.0) + 10.0;
        }
    return im;
}

// A core-loss-like edge (arctan step + white line) with its onset at `e0`.
std::vector<double> edge(const EnergyAxis& axis, double e0) {
    std::vector<double> y(axis.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double e = axis.energy(i);
        y[i] = 0.5 + std::atan((e - e0) / 1.5) / M_PI + 1.5 * gauss(e, e0 + 3.0, 1.2) + 0.3 * gauss(e, e0 + 12.0, 3.0);
    }
    return y;
}

}  // namespace

TEST_CASE("align_zero_loss: synthetic drift is removed, also-image follows") {
    const auto axis = EnergyAxis::uniform(-30.0, 0.2, 700);
    const std::vector<double> centres = {0.13, -0.41, 0.77, 0.02, 1.31, -0.9};
    const auto ll = drifting_low_loss(axis, centres);
    auto cl = SpectrumImage<double>::zeros({centres.size()}, EnergyAxis::uniform(500.0, 0.2, 700));
    for (std::size_t p = 0; p < centres.size(); ++p) {
        const auto y = edge(cl.axis(), 530.0 + centres[p]);
        std::copy(y.begin(), y.end(), cl.pixel(p).values.begin());
    }
    for (auto method : {prep::ZlpMethod::maximum, prep::ZlpMethod::gaussian}) {
        align::ZlpAlignOptions o;
        o.method = method;
        o.subpixel = method == prep::ZlpMethod::maximum;
        const auto r = align::align_zero_loss(ll, o, {&cl});
        // Every ZLP now at 0 eV within 0.05 channel with the Gaussian centre. HyperSpy's
        // path (channel maximum, then cross-correlation of mean-removed, zero-padded
        // windows) is biased towards zero sub-channel shift: within half a channel.
        prep::ZlpOptions g;
        g.method = prep::ZlpMethod::gaussian;
        const auto after = prep::zlp_centres(r.aligned, g);
        const double tol = method == prep::ZlpMethod::gaussian ? 0.05 * 0.2 : 0.55 * 0.2;
        for (double c : after) CHECK(std::abs(c) < tol);
        // The core loss got the same shifts: its edges line up at 530 eV + the mean drift.
        REQUIRE(r.also.size() == 1);
        // Each image is cropped on its own axis (as HyperSpy): rounding may differ by a channel.
        CHECK(std::abs(double(r.also[0].axis().size()) - double(r.aligned.axis().size())) <= 1.0);
        CHECK(std::abs(r.also[0].axis().front() - 500.0 - (r.aligned.axis().front() + 30.0)) < 0.2 + 1e-9);
        for (std::size_t p = 0; p < centres.size(); ++p)
            CHECK(std::abs(r.shift[p] + centres[p] - (centres[0] + r.shift[0])) < 2.0 * tol);
    }
}

TEST_CASE("align_on_feature and shift_image") {
    const auto axis = EnergyAxis::uniform(600.0, 0.25, 400);
    auto im = SpectrumImage<float>::zeros({2, 2}, axis);
    const std::vector<double> onsets = {640.0, 640.37, 639.55, 641.1};
    for (std::size_t p = 0; p < 4; ++p) {
        const auto y = edge(axis, onsets[p]);
        for (std::size_t i = 0; i < axis.size(); ++i) im.pixel(p).values[i] = static_cast<float>(y[i]);
    }
    align::FeatureAlignOptions o;
    o.target = 643.0;  // put the white line (onset + 3 eV) at 643 eV
    const auto r = align::align_on_feature(im, 638.0, 650.0, o);
    // The white line's apex sits a fixed distance from the onset: relative shifts are exact.
    for (std::size_t p = 0; p < 4; ++p) CHECK(std::abs(r.shift[p] - r.shift[0] - (onsets[0] - onsets[p])) < 0.01);
    prep::ZlpOptions z;
    z.method = prep::ZlpMethod::gaussian;
    z.range = std::make_pair(638.0, 650.0);
    for (double c : prep::zlp_centres(r.aligned, z)) CHECK(std::abs(c - 643.0) < 0.05 * 0.25);
    // A zero shift array is the identity; a NaN shift leaves its pixel alone.
    CHECK(align::shift_image(im, {0, 0, 0, 0}).data() == im.data());
    const auto s = align::shift_image(im, {std::nan(""), 0.5, 0.0, 0.0});
    CHECK(s.axis().size() == axis.size() - 2);
    CHECK(s.pixel(0).values[0] == im.pixel(0).values[2]);
    CHECK_THROWS_AS(align::shift_image(im, {0.0, 1.0}), corespec::shape_error);
    CHECK_THROWS_AS(align::shift_image(im, {0.0, 200.0, -200.0, 0.0}), corespec::range_error);
    CHECK_THROWS_AS(align::align_on_feature(im, 500.0, 650.0), corespec::range_error);
}

TEST_CASE("shift: cross-correlation and Larch-style least squares") {
    const auto axis = EnergyAxis::uniform(500.0, 0.1, 800);
    const auto ref = edge(axis, 540.0);
    const auto dat = edge(axis, 538.77);  // 1.23 eV low
    const auto fine = EnergyAxis::uniform(500.0, 0.05, 1600);
    const auto ref_fine = edge(fine, 540.0);
    {
        // Cross-correlation on peaks (HyperSpy's use: the ZLP).
        std::vector<double> pk(axis.size()), pr(axis.size()), pf(fine.size());
        for (std::size_t i = 0; i < axis.size(); ++i) {
            pk[i] = gauss(axis.energy(i), 543.77, 1.0);
            pr[i] = gauss(axis.energy(i), 545.0, 1.0);
        }
        for (std::size_t i = 0; i < fine.size(); ++i) pf[i] = gauss(fine.energy(i), 545.0, 1.0);
        const double s = align::xcorr_shift(axis.as_uniform(), span<const double>(pk), span<const double>(pr), 535.0, 555.0);
        CHECK(std::abs(s - 1.23) <= 0.1 / 6.0 + 1e-9);  // one upsampled step
        const double s2 = align::xcorr_shift_resampled(axis, span<const double>(pk), fine, span<const double>(pf),
                                                       535.0, 555.0, 0.02);
        CHECK(s2 == doctest::Approx(1.23).epsilon(0.005));
    }
    // energy_align: shift and scale, on dmu/dE and on mu.
    std::vector<double> scaled(dat);
    for (double& v : scaled) v *= 0.8;
    for (auto arr : {align::AlignArray::dmude, align::AlignArray::mu}) {
        align::EnergyAlignOptions o;
        o.array = arr;
        const auto r = align::energy_align(axis, span<const double>(scaled), fine, span<const double>(ref_fine), 540.0, o);
        CHECK(r.converged);
        CHECK(r.shift == doctest::Approx(1.23).epsilon(1e-3));
        CHECK(r.scale == doctest::Approx(1.25).epsilon(1e-3));
    }
    // Bad input.
    std::vector<double> bad(dat);
    bad[300] = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(align::xcorr_shift(axis.as_uniform(), span<const double>(bad), span<const double>(ref), 520.0, 560.0)));
    CHECK_THROWS_AS(align::energy_align(axis, span<const double>(bad), axis, span<const double>(ref), 540.0),
                    corespec::value_error);
    CHECK_THROWS_AS(align::xcorr_shift(axis.as_uniform(), span<const double>(dat), span<const double>(ref), 400.0, 560.0),
                    corespec::range_error);
    CHECK_THROWS_AS(align::xcorr_shift_resampled(axis, span<const double>(dat), fine, span<const double>(ref_fine),
                                                 530.0, 560.0, 0.0),
                    corespec::value_error);
    align::EnergyAlignOptions narrow;
    narrow.emin = 0.0;
    narrow.emax = 0.1;  // one point
    CHECK_THROWS_AS(align::energy_align(axis, span<const double>(dat), axis, span<const double>(ref), 540.0, narrow),
                    corespec::range_error);
}

TEST_CASE("calibration: offset, dispersion, residuals") {
    const corespec::grid::UniformAxis axis(440.0, 0.3, 2048);
    // A true axis 452 + 0.31 * i read as 440 + 0.3 * i.
    auto measured_of = [&](double known) { return 440.0 + 0.3 * (known - 452.0) / 0.31; };
    std::vector<align::EdgePosition> edges = {{"O K", measured_of(532.0), 532.0}, {"Ni L3", measured_of(855.0), 855.0}};
    const auto c = align::calibrate_axis(axis, edges);
    CHECK(c.dispersion_fitted);
    CHECK(c.offset == doctest::Approx(452.0).epsilon(1e-12));
    CHECK(c.scale == doctest::Approx(0.31).epsilon(1e-12));
    CHECK(c.rms < 1e-9);
    const auto one = align::calibrate_axis(axis, {{"O K", 514.5, 532.0}});
    CHECK(one.offset == doctest::Approx(457.5));
    CHECK(one.scale == 0.3);
    CHECK(one.residual[0] == doctest::Approx(0.0).scale(1));
    CHECK_THROWS_AS(align::calibrate_axis(axis, {}), corespec::value_error);
    CHECK_THROWS_AS(align::calibrate_axis(axis, {{"a", 500, 510}, {"b", 500, 520}}), corespec::value_error);
    CHECK_THROWS_AS(align::calibrate_axis(axis, {{"a", std::nan(""), 510}}), corespec::value_error);
    // Onset finder on a synthetic edge: the inflection of the step.
    const auto ax = EnergyAxis::uniform(500.0, 0.1, 800);
    std::vector<double> y(ax.size());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::atan((ax.energy(i) - 533.33) / 0.8);
    CHECK(align::find_edge_onset(Spectrum<double>(ax, y), 520.0, 545.0) == doctest::Approx(533.33).epsilon(1e-4));
    CHECK_THROWS_AS(align::find_edge_onset(Spectrum<double>(ax, y), 520.0, 600.0), corespec::range_error);
}

TEST_CASE("edge shift table: determine, apply to a set, to and from JSON, streams and files") {
    const auto meas_axis = EnergyAxis::uniform(840.0, 0.1, 500);
    Spectrum<double> measured(meas_axis, edge(meas_axis, 855.0));
    const auto sim_axis = EnergyAxis::uniform(845.0, 0.2, 200);
    Spectrum<double> sim_ref(sim_axis, edge(sim_axis, 852.6));  // the code puts Ni L3 2.4 eV low
    const double shift = align::determine_edge_shift(sim_ref, measured, 848.0, 870.0);
    CHECK(shift == doctest::Approx(2.4).epsilon(1e-3));
    align::EdgeShiftTable table;
    table.set("Ni", "L3", "FDMNES", shift, "NiO");
    // A set of simulated compounds with chemical shifts of 0, +0.8 and +1.6 eV.
    std::vector<Spectrum<double>> set;
    for (double chem : {0.0, 0.8, 1.6}) {
        Spectrum<double> s(sim_axis, edge(sim_axis, 852.6 + chem));
        s.metadata().element = "Ni";
        s.metadata().edge = "L3";
        set.push_back(s);
    }
    table.apply_all(set, "FDMNES");
    for (std::size_t k = 0; k < set.size(); ++k)
        CHECK(set[k].axis().front() == doctest::Approx(845.0 + shift));  // the same shift for every compound
    const auto path = std::filesystem::temp_directory_path() / "corespec_edge_shifts_test.json";
    corespec::io::save_edge_shift_table(path, table);  // files are opened in io/, not align/
    const auto back = corespec::io::load_edge_shift_table(path);
    std::filesystem::remove(path);
    std::stringstream stream;  // streams and JSON values round-trip too
    table.write(stream);
    CHECK(align::EdgeShiftTable::read(stream).to_json() == table.to_json());
    CHECK(align::EdgeShiftTable::from_json_value(table.to_json_value()).at("Ni", "L3", "FDMNES") == shift);
    CHECK_THROWS_AS(align::EdgeShiftTable::from_json_value(nlohmann::json::array()), corespec::parse_error);
    CHECK(back.at("Ni", "L3", "FDMNES") == shift);
    CHECK(back.find("Ni", "L3", "FDMNES")->reference == "NiO");
    CHECK_THROWS_AS(back.at("Co", "L3", "FDMNES"), corespec::range_error);
    CHECK_THROWS_AS(align::EdgeShiftTable::from_json("{\"format\": 1}"), corespec::parse_error);
    CHECK_THROWS_AS(align::EdgeShiftTable::from_json("not json"), corespec::parse_error);
    CHECK_THROWS_AS(align::EdgeShiftTable::from_json(
                        R"({"format":"corespec.edge_shifts","version":1,"shifts":[{"element":"Ni","edge":"L3","code":"X","shift_eV":"a"}]})"),
                    corespec::parse_error);
    CHECK_THROWS_AS(corespec::io::load_edge_shift_table("/nonexistent/dir/x.json"), corespec::io_error);
    CHECK_THROWS_AS(table.set("Ni", "L3", "X", std::nan("")), corespec::value_error);
}

// ---------------------------------------------------------------- reference

using corespec_test::load_ref;

CORESPEC_REFERENCE_TEST("align_zero_loss matches HyperSpy 1.7.3 align_zero_loss_peak") {
    double worst_shift = 0.0, worst_data = 0.0;
    {
        const auto axis = EnergyAxis::uniform(-60.00000238418579, 0.30000001192092896, 2048);
        const SpectrumImage<double> ll(load_ref("arrays/eels/read/nmc__nmc_lowloss_si.dm3.npy"), axis);
        const SpectrumImage<double> cl(load_ref("arrays/eels/read/nmc__nmc_coreloss_si.dm3.npy"),
                                       EnergyAxis::uniform(440.0000052769974, 0.30000001192092896, 2048));
        const auto r = align::align_zero_loss(ll, {}, {&cl});
        const auto ref = load_ref("arrays/eels/zlp/nmc_lowloss_si__aligned_default.npy");
        const auto ref_axis = load_ref("arrays/eels/zlp/nmc_lowloss_si__aligned_default__axis.npy");
        REQUIRE(r.aligned.axis().size() == 2045);
        CHECK(r.aligned.axis().front() == doctest::Approx(ref_axis(0)).epsilon(1e-12));
        // HyperSpy's two calibrations: offset_correction_1 and offset_correction_2 of the reference.
        CHECK(r.offset_change == doctest::Approx(3.128571552889688 - 1.0150610510858574e-15).epsilon(1e-9));
        for (std::size_t i = 0; i < ref.size(); ++i)
            worst_data = std::max(worst_data, std::abs(r.aligned.data().flat(i) - ref.flat(i)) /
                                                  std::max(1.0, std::abs(ref.flat(i))));
        const auto shifts = load_ref("arrays/eels/zlp/nmc_lowloss_si__total_shift.npy");
        for (std::size_t p = 0; p < r.shift.size(); ++p)
            worst_shift = std::max(worst_shift, std::abs(r.shift[p] - shifts.flat(p)) / 0.30000001192092896);
        // The core loss got the same crop and calibration.
        CHECK(r.also[0].axis().size() == 2045);
        CHECK(r.also[0].axis().front() - 440.0000052769974 ==
              doctest::Approx(r.aligned.axis().front() + 60.00000238418579).epsilon(1e-9));
    }
    {
        const auto axis = EnergyAxis::uniform(-100.0, 0.5, 1024);
        const SpectrumImage<double> ll(
            load_ref("arrays/eels/read/exspy__EELS_LL_linescan_simulated_thickness_variation.hspy.npy"), axis);
        const auto r = align::align_zero_loss(ll);
        const auto ref = load_ref("arrays/eels/zlp/exspy_ll_linescan__aligned_default.npy");
        REQUIRE(r.aligned.axis().size() == 983);
        CHECK(r.aligned.axis().front() == doctest::Approx(-99.5));
        for (std::size_t i = 0; i < ref.size(); ++i)
            worst_data = std::max(worst_data, std::abs(r.aligned.data().flat(i) - ref.flat(i)) /
                                                  std::max(1.0, std::abs(ref.flat(i))));
        const auto shifts = load_ref("arrays/eels/zlp/exspy_ll_linescan__total_shift.npy");
        for (std::size_t p = 0; p < r.shift.size(); ++p)
            worst_shift = std::max(worst_shift, std::abs(r.shift[p] - shifts.flat(p)) / 0.5);
        align::ZlpAlignOptions o;
        o.range = std::make_pair(-10.0, 10.0);
        const auto r2 = align::align_zero_loss(ll, o);
        CHECK(r2.aligned.axis().size() == 1024);
        CHECK(r2.aligned.axis().front() == -100.0);
        CHECK(r2.aligned.data() == ll.data());
    }
    {
        // exspy gallery: single spectrum, core loss aligned with it.
        const auto llv = load_ref("arrays/eels/read/exspy__lowloss_spectrum.msa.npy");
        const auto clv = load_ref("arrays/eels/read/exspy__coreloss_spectrum.msa.npy");
        const SpectrumImage<double> ll(xt::xarray<double>(xt::reshape_view(llv, {1, 2048})),
                                       EnergyAxis::uniform(-40.0, 0.2, 2048));
        const SpectrumImage<double> cl(xt::xarray<double>(xt::reshape_view(clv, {1, 2048})),
                                       EnergyAxis::uniform(360.0, 0.2, 2048));
        const auto r = align::align_zero_loss(ll, {}, {&cl});
        CHECK(r.aligned.axis().front() == doctest::Approx(-40.800000000000004).epsilon(1e-12));
        CHECK(r.also[0].axis().front() == doctest::Approx(359.2).epsilon(1e-12));
    }
    CHECK(worst_shift < 0.05);
    CHECK(worst_data < 1e-6);
    MESSAGE("ZLP alignment vs HyperSpy: max shift error " << worst_shift << " channel, max aligned-data rel error "
                                                          << worst_data);
}

CORESPEC_REFERENCE_TEST("calibration of the NMC core-loss axis from its four edges") {
    const auto axis = EnergyAxis::uniform(440.0, 0.3, 2048);
    const auto sum = load_ref("arrays/eels/read/nmc__nmc_coreloss_sum.msa.npy");
    const Spectrum<double> s(axis, std::vector<double>(sum.begin(), sum.end()));
    // Observed onsets (eels_background.json window_check) against tabulated energies.
    const std::vector<align::EdgePosition> edges = {
        {"O K", 514.5, 532.0}, {"Mn L3", 624.5, 640.0}, {"Co L3", 759.5, 779.0}, {"Ni L3", 832.5, 855.0}};
    const auto c = align::calibrate_axis(axis.as_uniform(), edges);
    CHECK(c.dispersion_fitted);
    CHECK(c.rms < 2.0);
    for (double r : c.residual) CHECK(std::abs(r) < 3.0);
    const auto one = align::calibrate_axis(axis.as_uniform(), {edges[0]});
    CHECK(one.offset == doctest::Approx(457.5));
    // The automatic onset (inflection) lies a little above the by-eye onset.
    for (const auto& e : edges) {
        const double on = align::find_edge_onset(s, e.measured - 6.0, e.measured + 8.0);
        CHECK(on > e.measured - 2.0);
        CHECK(on < e.measured + 8.0);
    }
    MESSAGE("NMC calibration: offset " << c.offset << " eV, dispersion " << c.scale << " eV/ch, residuals (eV) "
                                       << c.residual[0] << ", " << c.residual[1] << ", " << c.residual[2] << ", "
                                       << c.residual[3] << ", rms " << c.rms);
}
