#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "corespec/fusion/measured.hpp"
#include "corespec/io/dm.hpp"
#include "corespec/io/read.hpp"
#include "corespec/report/figures.hpp"
#include "corespec/report/measured.hpp"
#include "corespec/synth/nmc.hpp"
#include "support/shared_data.hpp"

using namespace corespec;

namespace {

// The four EELS modalities of the NMC models (study 1's grids).
std::vector<fusion::Modality> nmc_eels_modalities() {
    std::vector<fusion::Modality> m;
    for (const auto& e : synth::nmc_edges)
        if (e.technique == grid::Technique::eels) m.emplace_back(e.name, e.element, e.edge, e.technique, synth::nmc_default_grid(e.id));
    return m;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
    double ma = 0, mb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
    ma /= double(a.size()), mb /= double(b.size());
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
    return sab / std::sqrt(saa * sbb);
}

// A made-up Dual EELS pair, 2 x 4 pixels: ZLPs at -3 eV with a drift, and a
// power law with four sigmoid edges whose inflections sit `low` eV below the
// tabulated onsets. Pixel 5 has no low-loss signal (no ZLP); pixel 6 has no
// counts above 800 eV (the Ni background window is empty).
struct SyntheticPair {
    grid::SpectrumImage<double> coreloss, lowloss;
};

SyntheticPair synthetic_pair(double low) {
    const std::size_t rows = 2, cols = 4, n = 2048;
    const grid::UniformAxis cl_axis(440.0, 0.3, n), ll_axis(-60.0, 0.3, n);
    xt::xarray<double> cl = xt::zeros<double>({rows, cols, n}), ll = xt::zeros<double>({rows, cols, n});
    const double edges[] = {532.0, 640.0, 779.0, 855.0}, heights[] = {3.0, 2.0, 1.0, 1.0};
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            const std::size_t p = r * cols + c;
            const double drift = 0.15 * double(p % 3) - 0.15;
            for (std::size_t i = 0; i < n; ++i) {
                const double e = cl_axis.energy(i), el = ll_axis.energy(i);
                const double shift_e = e + 3.0 - drift;  // energy loss: the core loss drifts with its ZLP
                double v = 4e9 * std::pow(shift_e, -3.0);
                for (int k = 0; k < 4; ++k)
                    v += heights[k] * 20.0 * std::pow(shift_e / edges[k], -2.5) / (1.0 + std::exp(-(shift_e - (edges[k] - low + 3.0)) / 0.8));
                cl(r, c, i) = (p == 6 && e > 800.0) ? 0.0 : v;
                const double z = (el - (-3.0 + drift)) / 0.5;
                ll(r, c, i) = p == 5 ? 0.0 : 1e5 * std::exp(-0.5 * z * z) + 50.0 * std::exp(-std::abs(el - 22.0) / 10.0);
            }
        }
    return {grid::SpectrumImage<double>(cl, grid::EnergyAxis(cl_axis)), grid::SpectrumImage<double>(ll, grid::EnergyAxis(ll_axis))};
}

}  // namespace

TEST_CASE("prepare_measured_si on a synthetic pair: shift recovered, failed pixels reported") {
    const auto pair = synthetic_pair(12.0);
    const auto mods = nmc_eels_modalities();
    fusion::MeasuredOptions o;
    o.fit_dispersion = false;
    const auto si = fusion::prepare_measured_si(pair.coreloss, pair.lowloss, mods, o);
    CHECK(si.navigation_shape == std::vector<std::size_t>{2, 4});
    CHECK(si.pixel_count() == 8);
    REQUIRE(si.features.size() == 8 * si.layout.size());
    CHECK(si.layout.size() == 167 + 201 + 201 + 136);
    CHECK(si.zlp_offset_change == doctest::Approx(3.0).epsilon(0.05));
    CHECK(si.calibration_shift == doctest::Approx(12.0).epsilon(0.02));  // within 0.24 eV
    for (const auto& e : si.edges) {
        CAPTURE(e.modality);
        CHECK(e.onset_calibrated == doctest::Approx(e.tabulated).epsilon(0.001));
    }
    // Pixel 5: no ZLP, every modality absent; pixel 6: no Ni L background.
    CHECK(si.presence[5 * 4 + 0] == 0);
    CHECK(si.presence[6 * 4 + 3] == 0);
    CHECK(si.presence[6 * 4 + 0] == 1);
    CHECK(si.complete_pixels() == 6);
    REQUIRE(si.failures.size() == 2);
    CHECK(si.failures[0].pixel == 5);
    CHECK(si.failures[0].reason.find("zero-loss") != std::string::npos);
    CHECK(si.failures[1].pixel == 6);
    CHECK(si.failures[1].modality == "Ni_L23");
    CHECK(si.failures[1].reason.find("eels_background") != std::string::npos);
    CHECK(si.edges[3].failed_pixels == 2);
    for (double v : si.features) CHECK(std::isfinite(v));
    // Min-max normalised where present, zeros where absent.
    const auto& ni = si.layout[3];
    double lo = 1, hi = 0;
    for (std::size_t i = ni.offset; i < ni.end(); ++i) lo = std::min(lo, si.features[0 * si.layout.size() + i]), hi = std::max(hi, si.features[i]);
    CHECK(lo == 0.0);
    CHECK(hi == 1.0);
    for (std::size_t i = ni.offset; i < ni.end(); ++i) CHECK(si.features[6 * si.layout.size() + i] == 0.0);
    CHECK(si.summary().find("6 of 8 pixels have every edge; 2 failure(s)") != std::string::npos);
    const auto m = si.masked(std::vector<double>(8, 1.0));
    CHECK(std::isnan(m[5]));
    CHECK(std::isnan(m[6]));
    CHECK(m[0] == 1.0);
    CHECK(!std::isnan(si.masked(std::vector<double>(8, 1.0), "O_K")[6]));
    CHECK_THROWS_AS(si.masked({1.0}), shape_error);
    CHECK(si.map_rows() * si.map_cols() == 8);
    report::Report r;
    report::add_measured_section(r, si, "synthetic <pair>");
    const std::string html = r.html();
    CHECK(html.find("Measured data: synthetic &lt;pair&gt;") != std::string::npos);
    CHECK(html.find("trained on synthetic or simulated spectra") != std::string::npos);
    CHECK(html.find("2 failure(s)") != std::string::npos);
    CHECK(html.find("no zero-loss peak found") != std::string::npos);
    CHECK(html.find("<td>Ni_L23</td><td>empty_window</td>") != std::string::npos);
    CHECK(r.figure_count() == 1);
    const auto fm = si.feature_matrix();
    CHECK(fm.rows == 8);
    CHECK(fm.columns() == si.layout.size());
}

TEST_CASE("prepare_measured_si: misuse is refused with a reason") {
    const auto pair = synthetic_pair(12.0);
    auto mods = nmc_eels_modalities();
    CHECK_THROWS_AS(fusion::prepare_measured_si(pair.coreloss, pair.lowloss, {}), value_error);
    const grid::SpectrumImage<double> other(xt::zeros<double>({8, 2048}), pair.lowloss.axis());
    CHECK_THROWS_AS(fusion::prepare_measured_si(pair.coreloss, other, mods), shape_error);
    auto fe = mods;
    fe.emplace_back("Fe_K", "Fe", "K", grid::Technique::eels, fusion::grid_window(7110, 7150, 0.2));
    CHECK_THROWS_WITH_AS(fusion::prepare_measured_si(pair.coreloss, pair.lowloss, fe), doctest::Contains("no tabulated energy"), value_error);
    fusion::MeasuredOptions o;
    o.tabulated["Fe_K"] = 7112.0;  // beyond the 1054 eV axis
    CHECK_THROWS_WITH_AS(fusion::prepare_measured_si(pair.coreloss, pair.lowloss, fe, o), doctest::Contains("outside the core-loss axis"), range_error);
    auto st = mods;
    st[0].normalisation = fusion::Normalisation::standardise;
    CHECK_THROWS_WITH_AS(fusion::prepare_measured_si(pair.coreloss, pair.lowloss, st), doctest::Contains("without fitted statistics"), value_error);
}

CORESPEC_REFERENCE_TEST("prepare_measured_si on the NMC spectrum images (../shared/data/eels/nmc)") {
    using corespec_test::shared_path;
    const auto cl = io::read_spectrum_image<double>(shared_path("data/eels/nmc/nmc_coreloss_si.dm3"));
    const auto ll = io::read_spectrum_image<double>(shared_path("data/eels/nmc/nmc_lowloss_si.dm3"));
    const auto mods = nmc_eels_modalities();
    const auto si = fusion::prepare_measured_si(cl, ll, mods);
    MESSAGE(si.summary());
    CHECK(si.navigation_shape == std::vector<std::size_t>{2, 21});
    CHECK(si.features.size() == 42 * si.layout.size());
    CHECK(si.presence.size() == 42 * 4);
    // SOURCES.md: the edges sit 10-19 eV below tabulated values (its own
    // L3-peak numbers give 9.5 eV for Mn and 20.2 eV for Ni).
    CHECK(si.calibration_shift > 10.0);
    CHECK(si.calibration_shift < 19.0);
    for (const auto& e : si.edges) {
        CAPTURE(e.modality);
        CHECK(e.shift > 9.0);
        CHECK(e.shift < 21.0);
        CHECK(std::abs(e.onset_calibrated - e.tabulated) < 4.0);  // a dispersion fit through four approximate onsets
    }
    // SOURCES.md's L3 peaks on the file's axis land inside their modality grids once calibrated.
    CHECK(si.calibrated_energy(630.5) > mods[1].energy_grid.front());
    CHECK(si.calibrated_energy(764.6) > mods[2].energy_grid.front());
    CHECK(si.calibrated_energy(834.8) > mods[3].energy_grid.front());
    // Every failure is reported, and good pixels carry finite, normalised features.
    std::size_t absent = 0;
    for (auto v : si.presence) absent += v == 0;
    std::size_t reported = 0;
    for (const auto& f : si.failures) reported += f.modality.empty() ? 4 : 1;
    CHECK(reported == absent);
    for (double v : si.features) REQUIRE(std::isfinite(v));
    CHECK(si.complete_pixels() >= 40);

    // The background-subtracted sums of the DM-exported pixels (both rows, x
    // 8..12) against DM's own subtraction of their sum, on each grid.
    const char* files[] = {"nmc_O_K.msa", "nmc_Mn_L23.msa", "nmc_Co_L23.msa", "nmc_Ni_L23.msa"};
    const double min_correlation[] = {0.995, 0.995, 0.995, 0.98};  // measured: 0.99986, 0.9987, 0.9986, 0.9897
    for (std::size_t k = 0; k < 4; ++k) {
        CAPTURE(std::string(files[k]));
        const auto dm = io::read_spectrum<double>(shared_path(std::string("data/eels/nmc/") + files[k]));
        const auto ax = dm.axis().as_uniform();
        const double first = si.calibrated_energy(ax.front());
        const grid::Spectrum<double> dm_cal(grid::EnergyAxis::uniform(first, si.calibrated_energy(ax.energy(1)) - first, ax.size()), dm.values());
        const auto dm_cut = mods[k].resample(dm_cal);
        const auto& slot = si.layout[k];
        std::vector<double> sum(slot.size(), 0.0);
        for (std::size_t r = 0; r < 2; ++r)
            for (std::size_t c = 8; c <= 12; ++c)
                for (std::size_t i = 0; i < slot.size(); ++i) sum[i] += si.unnormalised[(r * 21 + c) * si.layout.size() + slot.offset + i];
        const double rho = pearson(sum, dm_cut);
        MESSAGE(std::string(files[k]) << ": shape correlation with DM's subtraction " << rho);
        CHECK(rho > min_correlation[k]);
    }

    // A per-pixel map for the report: the O K pre-peak height, NaN where absent.
    std::vector<double> map(42, std::nan(""));
    for (std::size_t p = 0; p < 42; ++p)
        if (si.presence[p * 4]) map[p] = si.features[p * si.layout.size() + 10];
    CHECK(si.map_rows() == 2);
    CHECK(si.map_cols() == 21);
    const std::string svg = report::map_svg(si.masked(map, "O_K"), si.map_rows(), si.map_cols(), "O K pre-peak", "min-max units");
    CHECK(svg.find("2 x 21 px") != std::string::npos);
}
