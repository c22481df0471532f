// corespec/fusion/measured.hpp - a measured STEM-EELS spectrum image turned
// into model input: one fused sample per pixel.
//
//   auto cl = io::read_spectrum_image<double>("nmc_coreloss_si.dm3");
//   auto ll = io::read_spectrum_image<double>("nmc_lowloss_si.dm3");
//   fusion::MeasuredSI si = fusion::prepare_measured_si(cl, ll, modalities);
//   si.features;        // pixels x layout.size(), layout of fusion::layout_of(modalities)
//   si.presence;        // pixels x modalities: 1 where that edge is usable
//   si.failures;        // every failed (pixel, modality) with the reason
//   si.calibration_shift, si.edges   // the energy calibration, per edge
//
// The steps, in order (each one an existing corespec stage):
//  1. ZLP alignment of the low-loss image (align::align_zero_loss, HyperSpy's
//     align_zero_loss_peak), the same shifts and calibration applied to the
//     core-loss image recorded with it (Dual EELS).
//  2. Energy calibration from the edges: on the mean core-loss spectrum each
//     modality's edge onset (prep::find_edge_onset: the inflection of the
//     rising edge) is searched in [tabulated + onset_search] and mapped to its
//     tabulated energy (align::calibrate_axis: one edge moves the offset; two
//     or more fit offset and dispersion, fit_dispersion = false keeps one
//     shift). One calibration for the whole image; the ZLP step has removed
//     the pixel-to-pixel drift.
//  3. Per modality, a recipe run on every pixel (steps::Recipe): a power-law
//     background (steps::BackgroundStep, HyperSpy's "fast" two-area fit by
//     default) in [grid start + background_window], then the modality's own
//     recipe when it has one (Modality::recipe, as saved in a model file: the
//     preprocessing its training spectra had before the grid), then the cut
//     onto the modality's grid (steps::Resample).
//  4. The modality's normalisation (Modality::normalise).
// A pixel whose ZLP is not found, whose background fit fails, or whose cut
// is flat or non-finite gets presence 0 for that modality, zeros in its
// features, a PixelStatus and a line in `failures`: never silent, never NaN
// in the features. Misuse (shapes that differ, windows outside the axis, a
// modality of an unknown edge without a tabulated energy, no edge found at
// all) throws.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "corespec/align/calibration.hpp"
#include "corespec/align/zero_loss.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/status.hpp"
#include "corespec/fusion/dataset.hpp"
#include "corespec/fusion/modality.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/prep/edge_energy.hpp"
#include "corespec/steps/recipe.hpp"
#include "corespec/steps/steps.hpp"

namespace corespec::fusion {

/// Approximate tabulated onset energies (eV) of the EELS edges the NMC
/// models use (../shared/DOMAIN.md's table; the L2,3 value is the L3 onset).
/// NaN when the pair is not tabulated here (pass MeasuredOptions::tabulated).
inline double tabulated_edge_energy(const std::string& element, const std::string& edge) {
    static const std::map<std::pair<std::string, std::string>, double> table{
        {{"O", "K"}, 532.0},     {{"F", "K"}, 685.0},     {{"C", "K"}, 284.0},      {{"N", "K"}, 401.0},
        {{"Ti", "L23"}, 456.0},  {{"Mn", "L23"}, 640.0},  {{"Fe", "L23"}, 708.0},   {{"Co", "L23"}, 779.0},
        {{"Ni", "L23"}, 855.0},  {{"Cu", "L23"}, 931.0},  {{"Mn", "L3"}, 640.0},    {{"Co", "L3"}, 779.0},
        {{"Ni", "L3"}, 855.0}};
    const auto it = table.find({element, edge});
    return it == table.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

struct MeasuredOptions {
    align::ZlpAlignOptions zlp;  ///< HyperSpy's defaults (maximum, sub-pixel cross-correlation, crop)
    /// Where an edge onset is searched, eV relative to its tabulated energy
    /// on the ZLP-aligned axis: an uncalibrated axis may sit up to 26 eV low.
    double onset_search_lo = -26.0, onset_search_hi = 4.0;
    std::size_t onset_window = 9;  ///< Savitzky-Golay channels of the onset derivative (odd)
    bool fit_dispersion = true;    ///< two or more edges: fit offset and dispersion (false: one shift)
    std::map<std::string, double> tabulated;  ///< modality name -> onset (eV), overriding tabulated_edge_energy
    /// Power-law window, eV relative to the first energy of the modality's grid.
    double background_lo = -30.0, background_hi = -4.0;
    prep::BackgroundFit background_fit = prep::BackgroundFit::fast;
    unsigned threads = 1;
};

/// The calibration and windows used for one modality.
struct MeasuredEdge {
    std::string modality;
    double onset_file = 0.0;        ///< edge onset on the file's energy axis (eV)
    double tabulated = 0.0;         ///< the energy it was calibrated to (eV)
    double onset_calibrated = 0.0;  ///< the onset on the calibrated axis (eV)
    double shift = 0.0;             ///< onset_calibrated - onset_file: how far the file's axis sat low here
    double background_lo = 0.0, background_hi = 0.0;  ///< power-law window (calibrated eV)
    double grid_lo = 0.0, grid_hi = 0.0;              ///< the modality grid (calibrated eV)
    std::size_t failed_pixels = 0;
};

/// One (pixel, modality) that is not usable, and why.
struct PixelFailure {
    std::size_t pixel = 0;  ///< flat index (row-major over the navigation shape)
    std::string modality;   ///< empty: the whole pixel (its ZLP)
    PixelStatus status = PixelStatus::ok;
    std::string reason;
};

struct MeasuredSI {
    std::vector<std::size_t> navigation_shape;  ///< e.g. {2, 21}
    FeatureLayout layout;                       ///< layout_of(modalities)
    std::vector<double> features;               ///< pixels x layout.size(), normalised; 0 where absent
    std::vector<double> unnormalised;           ///< the same cuts before normalisation (background removed)
    std::vector<unsigned char> presence;        ///< pixels x modalities
    std::vector<PixelStatus> status;            ///< pixels x modalities
    std::vector<PixelFailure> failures;
    std::vector<double> zlp_shift;              ///< per pixel (eV; NaN: no ZLP found, pixel left as it was)
    double zlp_offset_change = 0.0;             ///< eV the ZLP calibration added to both axes
    align::AxisCalibration calibration;         ///< from the ZLP-aligned axis to the calibrated one
    grid::UniformAxis aligned_axis{0.0, 1.0, 2};  ///< the core-loss axis after ZLP alignment (cropped)
    std::vector<MeasuredEdge> edges;            ///< one per modality, in modality order
    double calibration_shift = 0.0;             ///< mean of edges[k].shift (eV)

    std::size_t pixel_count() const noexcept { return presence.size() / std::max<std::size_t>(1, layout.modality_count()); }
    std::size_t modality_count() const noexcept { return layout.modality_count(); }
    /// Pixels with every modality present.
    std::size_t complete_pixels() const {
        std::size_t n = 0;
        for (std::size_t p = 0; p < pixel_count(); ++p) n += pixel_complete(p);
        return n;
    }
    bool pixel_complete(std::size_t p) const {
        for (std::size_t k = 0; k < modality_count(); ++k)
            if (!presence[p * modality_count() + k]) return false;
        return true;
    }
    /// The calibrated energy of an energy read on the file's axis.
    double calibrated_energy(double file_energy) const {
        return calibration.calibrated(aligned_axis, file_energy + zlp_offset_change);
    }
    /// A per-pixel quantity (e.g. a model's prediction, one value per
    /// pixel) with NaN where the pixel is not usable: not complete, or with
    /// `modality` (a name) given, where that modality is absent. The form
    /// report::map_svg draws, masked pixels crossed out:
    ///   report::map_svg(si.masked(ni_fraction), si.navigation_shape[0], si.navigation_shape[1], "Ni fraction")
    /// Throws shape_error when per_pixel.size() != pixel_count().
    std::vector<double> masked(const std::vector<double>& per_pixel, const std::string& modality = "") const {
        if (per_pixel.size() != pixel_count()) throw shape_error("fusion::MeasuredSI::masked", {pixel_count()}, {per_pixel.size()});
        const std::size_t k = modality.empty() ? 0 : layout.find(modality);
        std::vector<double> out(per_pixel);
        for (std::size_t p = 0; p < out.size(); ++p)
            if (modality.empty() ? !pixel_complete(p) : !presence[p * modality_count() + k]) out[p] = std::numeric_limits<double>::quiet_NaN();
        return out;
    }
    /// Map rows and columns: a line scan is one row.
    std::size_t map_rows() const noexcept { return navigation_shape.size() >= 2 ? navigation_shape[navigation_shape.size() - 2] : 1; }
    std::size_t map_cols() const noexcept { return navigation_shape.empty() ? 0 : navigation_shape.back(); }
    /// The features as a FeatureMatrix (the form Dataset::features gives).
    FeatureMatrix feature_matrix() const { return FeatureMatrix{pixel_count(), features, presence, layout}; }
    /// One line per edge and the failure count, for a terminal or a report.
    std::string summary() const {
        std::ostringstream s;
        s << "ZLP alignment: axis offset " << (zlp_offset_change >= 0 ? "+" : "") << zlp_offset_change << " eV; energy calibration ("
          << (calibration.dispersion_fitted ? "offset and dispersion" : "one shift") << "), mean shift " << calibration_shift << " eV:\n";
        for (const auto& e : edges)
            s << "  " << e.modality << ": onset " << e.onset_file << " eV on the file's axis -> " << e.onset_calibrated << " eV (tabulated "
              << e.tabulated << ", shift " << e.shift << "); background [" << e.background_lo << ", " << e.background_hi << "], grid ["
              << e.grid_lo << ", " << e.grid_hi << "]; " << e.failed_pixels << " failed pixel(s)\n";
        s << complete_pixels() << " of " << pixel_count() << " pixels have every edge; " << failures.size() << " failure(s)";
        return s.str();
    }
};

namespace detail {

/// Mean spectrum over the pixels that `use` marks (finite values only).
inline grid::Spectrum<double> mean_spectrum(const grid::SpectrumImage<double>& image, const std::vector<unsigned char>& use) {
    const std::size_t n = image.channel_count();
    std::vector<double> sum(n, 0.0), count(n, 0.0);
    const double* d = image.data().data();
    for (std::size_t p = 0; p < image.pixel_count(); ++p) {
        if (!use[p]) continue;
        for (std::size_t i = 0; i < n; ++i)
            if (std::isfinite(d[p * n + i])) sum[i] += d[p * n + i], count[i] += 1;
    }
    for (std::size_t i = 0; i < n; ++i) sum[i] = count[i] > 0 ? sum[i] / count[i] : std::numeric_limits<double>::quiet_NaN();
    return grid::Spectrum<double>(image.axis(), std::move(sum), image.metadata());
}

/// The chain run on every pixel for modality `m`: the measured-only
/// background removal, then the modality's own recipe (the preprocessing its
/// training spectra had, before the grid, as Modality::features runs it),
/// then the cut onto the grid.
inline steps::Recipe measured_recipe(const Modality& m, const MeasuredOptions& o) {
    prep::BackgroundOptions b;
    b.lo = m.energy_grid.front() + o.background_lo;
    b.hi = m.energy_grid.front() + o.background_hi;
    b.fit = o.background_fit;
    grid::ResampleOptions r;
    r.method = m.method;
    r.out_of_range = grid::OutOfRange::error;
    steps::Recipe chain;
    chain.then(steps::BackgroundStep(b));
    if (!m.recipe.is_null()) {
        const steps::Recipe own = steps::Recipe::from_json(m.recipe);
        for (std::size_t i = 0; i < own.size(); ++i) chain.then(own.step(i));
    }
    chain.then(steps::Resample(m.energy_grid.front(), m.energy_grid.back(), m.energy_grid.scale(), steps::GridReference::absolute, 0.0, r));
    return chain;
}

}  // namespace detail

/// Prepares a measured core-loss spectrum image (with its low-loss image,
/// same navigation shape) for models whose inputs are `modalities` (EELS
/// edges). See the file comment for the steps. Throws shape_error when the
/// navigation shapes differ, value_error for no modalities, an untabulated
/// edge, a standardising modality without statistics or an image whose
/// edges cannot be found, and what the steps throw (range_error: a window
/// or grid outside the calibrated axis).
inline MeasuredSI prepare_measured_si(const grid::SpectrumImage<double>& coreloss, const grid::SpectrumImage<double>& lowloss,
                                      const std::vector<Modality>& modalities, const MeasuredOptions& o = {}) {
    if (modalities.empty()) throw value_error("fusion::prepare_measured_si: no modalities");
    if (coreloss.navigation_shape() != lowloss.navigation_shape())
        throw shape_error("fusion::prepare_measured_si: core-loss and low-loss navigation shapes", lowloss.navigation_shape(),
                          coreloss.navigation_shape());
    if (!coreloss.axis().is_uniform() || !lowloss.axis().is_uniform())
        throw value_error("fusion::prepare_measured_si: the spectrum images need uniform energy axes");
    std::vector<double> tabulated;
    for (const Modality& m : modalities) {
        if (m.normalisation == Normalisation::standardise && m.mean.size() != m.size())
            throw value_error("fusion::prepare_measured_si: modality '" + m.name + "' standardises without fitted statistics");
        const auto it = o.tabulated.find(m.name);
        const double t = it != o.tabulated.end() ? it->second : tabulated_edge_energy(m.element, m.edge);
        if (!std::isfinite(t))
            throw value_error("fusion::prepare_measured_si: no tabulated energy for modality '" + m.name + "' (" + m.element + " " + m.edge +
                              "); give one in MeasuredOptions::tabulated");
        tabulated.push_back(t);
    }

    MeasuredSI r;
    r.navigation_shape = coreloss.navigation_shape();
    r.layout = layout_of(modalities);
    const std::size_t pixels = coreloss.pixel_count(), nm = modalities.size(), nf = r.layout.size();
    r.features.assign(pixels * nf, 0.0);
    r.unnormalised.assign(pixels * nf, 0.0);
    r.presence.assign(pixels * nm, 1);
    r.status.assign(pixels * nm, PixelStatus::ok);
    r.edges.resize(nm);

    // 1. ZLP alignment, the same shifts for the core loss.
    align::ZlpAlignOptions zo = o.zlp;
    zo.threads = std::max(zo.threads, o.threads);
    auto zlp = align::align_zero_loss(lowloss, zo, {&coreloss});
    r.zlp_shift = zlp.shift;
    r.zlp_offset_change = zlp.offset_change;
    const grid::SpectrumImage<double>& aligned = zlp.also.at(0);
    r.aligned_axis = aligned.axis().as_uniform();
    std::vector<unsigned char> zlp_ok(pixels, 1);
    for (std::size_t p = 0; p < pixels; ++p)
        if (!std::isfinite(r.zlp_shift[p])) {
            zlp_ok[p] = 0;
            r.failures.push_back({p, "", PixelStatus::non_finite, "no zero-loss peak found in the low-loss spectrum: not aligned"});
            for (std::size_t k = 0; k < nm; ++k) r.presence[p * nm + k] = 0, r.status[p * nm + k] = PixelStatus::non_finite;
        }
    if (std::count(zlp_ok.begin(), zlp_ok.end(), 1) == 0)
        throw value_error("fusion::prepare_measured_si: no pixel of the low-loss image has a zero-loss peak");

    // 2. Calibration from the edge onsets of the mean spectrum.
    const grid::Spectrum<double> mean = detail::mean_spectrum(aligned, zlp_ok);
    std::vector<align::EdgePosition> positions;
    for (std::size_t k = 0; k < nm; ++k) {
        const double lo = std::max(tabulated[k] + o.onset_search_lo, mean.axis().front()),
                     hi = std::min(tabulated[k] + o.onset_search_hi, mean.axis().back());
        if (!(hi - lo > 3.0 * r.aligned_axis.scale() * static_cast<double>(o.onset_window)))
            throw range_error("fusion::prepare_measured_si: modality '" + modalities[k].name + "': the onset search window about " +
                              std::to_string(tabulated[k]) + " eV lies outside the core-loss axis [" + std::to_string(mean.axis().front()) +
                              ", " + std::to_string(mean.axis().back()) + "] eV");
        const double onset = prep::find_edge_onset(mean, lo, hi, o.onset_window);
        if (!std::isfinite(onset))
            throw value_error("fusion::prepare_measured_si: modality '" + modalities[k].name + "': no edge onset in [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "] eV of the mean spectrum (non-finite values)");
        positions.push_back({modalities[k].name, onset, tabulated[k]});
    }
    r.calibration = align::calibrate_axis(r.aligned_axis, positions, o.fit_dispersion);
    const grid::SpectrumImage<double> calibrated(aligned.data(), grid::EnergyAxis(r.calibration.axis(r.aligned_axis.size(), r.aligned_axis.units())),
                                                 aligned.metadata());
    for (std::size_t k = 0; k < nm; ++k) {
        MeasuredEdge& e = r.edges[k];
        e.modality = modalities[k].name;
        e.onset_file = positions[k].measured - r.zlp_offset_change;
        e.tabulated = tabulated[k];
        e.onset_calibrated = r.calibration.calibrated(r.aligned_axis, positions[k].measured);
        e.shift = e.onset_calibrated - e.onset_file;
        e.grid_lo = modalities[k].energy_grid.front();
        e.grid_hi = modalities[k].energy_grid.back();
        r.calibration_shift += e.shift / static_cast<double>(nm);
    }

    // 3-4. Per modality: background and cut (a recipe over all pixels), then normalisation.
    const std::size_t n = calibrated.channel_count();
    for (std::size_t k = 0; k < nm; ++k) {
        const Modality& m = modalities[k];
        const steps::Recipe recipe = [&] {
            try {
                return detail::measured_recipe(m, o);
            } catch (const error& e) {
                throw value_error("fusion::prepare_measured_si: modality '" + m.name + "': " + e.what());
            }
        }();
        r.edges[k].background_lo = m.energy_grid.front() + o.background_lo;
        r.edges[k].background_hi = m.energy_grid.front() + o.background_hi;
        steps::Pipeline plan = [&] {
            try {
                return recipe.prepare(calibrated.axis());
            } catch (const error& e) {
                throw range_error("fusion::prepare_measured_si: modality '" + m.name + "' on the calibrated axis [" +
                                  std::to_string(calibrated.axis().front()) + ", " + std::to_string(calibrated.axis().back()) + "] eV: " + e.what());
            }
        }();
        if (plan.output_axis().size() != m.size())
            throw value_error("fusion::prepare_measured_si: modality '" + m.name + "': the chain ends on " + std::to_string(plan.output_axis().size()) +
                              " points, the grid has " + std::to_string(m.size()));
        std::vector<double> cut(pixels * m.size());
        const auto rep = recipe.run(plan, steps::Block<const double>::contiguous(calibrated.data().data(), pixels, n), span<double>(cut), o.threads);
        const std::size_t off = r.layout[k].offset;
        for (std::size_t p = 0; p < pixels; ++p) {
            std::size_t& failed = r.edges[k].failed_pixels;
            if (!zlp_ok[p]) {
                ++failed;
                continue;
            }
            double* raw = r.unnormalised.data() + p * nf + off;
            double* dst = r.features.data() + p * nf + off;
            PixelStatus st = rep.status[p];
            std::string reason;
            if (st != PixelStatus::ok) {
                reason = "recipe step " + std::to_string(rep.failed_step[p]) + " (" + recipe.step(rep.failed_step[p]).name() + ") failed";
            } else {
                std::copy(cut.begin() + static_cast<std::ptrdiff_t>(p * m.size()), cut.begin() + static_cast<std::ptrdiff_t>((p + 1) * m.size()), raw);
                std::copy(raw, raw + m.size(), dst);
                if (!std::all_of(raw, raw + m.size(), [](double v) { return std::isfinite(v); })) {
                    st = PixelStatus::non_finite, reason = "non-finite values on the grid";
                } else {
                    try {
                        m.normalise(span<double>(dst, m.size()));
                    } catch (const value_error& e) {
                        st = PixelStatus::constant, reason = e.what();
                    }
                }
            }
            if (st != PixelStatus::ok) {
                std::fill(raw, raw + m.size(), 0.0);
                std::fill(dst, dst + m.size(), 0.0);
                r.presence[p * nm + k] = 0;
                r.status[p * nm + k] = st;
                r.failures.push_back({p, m.name, st, reason});
                ++failed;
            }
        }
    }
    return r;
}

}  // namespace corespec::fusion
