// corespec/prep/low_loss.hpp - the low-loss spectrum: zero-loss peak, thickness,
// and plural-scattering deconvolution, with HyperSpy 1.7.3's definitions.
//
//   zlp_centre            HyperSpy estimate_zero_loss_peak_centre (in
//                         align/zlp_centre.hpp, next to the alignment; the
//                         prep:: names are kept here).
//   elastic_threshold     estimate_elastic_scattering_threshold: the first
//                         channel in [start, start + window) where the
//                         Savitzky-Golay first derivative's magnitude drops to
//                         tol (tol = max over pixels of each pixel's minimum).
//   elastic_intensity     I_zlp = sum of channels with index < value2index(threshold).
//   thickness             t/lambda = ln(I_total / I_zlp), I_total = sum of all channels
//                         (binned; Simpson's rule for non-binned data).
//   fourier_log_deconvolution, fourier_ratio_deconvolution: as HyperSpy,
//                         including its Hanning taper, power-law extrapolation,
//                         zero padding to SciPy's next_fast_len and the Gaussian
//                         reconvolution peak; FFTs through Eigen's FFT module.
//
// Bad pixels give NaN (and a status where a result is per pixel), never an
// exception; exceptions are for misuse (shapes, windows outside the axis).
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/prep/detail/hyperspy_axis.hpp"  // numeric:: names, and the old prep::detail ones
#include "corespec/prep/detail/numeric.hpp"  // numeric:: names, and the old prep::detail ones
#include "corespec/align/zlp_centre.hpp"
#include "corespec/prep/eels_background.hpp"

namespace corespec::prep {

// ------------------------------------------------------------------ ZLP centre
// In corespec/align/zlp_centre.hpp, next to the alignment; the prep:: names stay.

using align::ZlpMethod;
using align::ZlpOptions;
using align::zlp_centre;
using align::zlp_centres;

// ------------------------------------------------------------- thickness

struct ThresholdOptions {
    double window = 10.0;  ///< eV searched above `start`
    double start = 1.0;    ///< eV
    std::optional<double> tol;  ///< derivative magnitude; default: max over pixels of each pixel's minimum
    std::size_t window_length = 5;     ///< Savitzky-Golay (odd; 0: plain numerical derivative)
    std::size_t polynomial_order = 3;
};

/// Elastic-scattering threshold (eV) of `pixels` contiguous spectra on `axis`
/// (HyperSpy estimate_elastic_scattering_threshold). NaN where no inflexion
/// is found. Throws value_error when [start, start + window] spans fewer
/// than 10 channels.
template <class T>
std::vector<double> elastic_threshold(const grid::EnergyAxis& axis, const T* data, std::size_t pixels,
                                      const ThresholdOptions& o = {}) {
    const auto [i1, i2] = numeric::hyperspy_value_range_to_indices(axis, o.start, o.start + o.window);
    if (i2 < i1 + 10) throw value_error("elastic_threshold: the window must span at least 10 channels");
    const std::size_t m = i2 - i1, n = axis.size();
    if (o.window_length && (o.window_length % 2 == 0 || o.window_length > m || o.polynomial_order >= o.window_length))
        throw value_error("elastic_threshold: window_length must be odd, <= the window and > polynomial_order");
    std::vector<double> deriv(pixels * m);
    const double delta = axis.is_uniform() ? axis.as_uniform().scale() : axis.energy(i1 + 1) - axis.energy(i1);
    std::vector<double> mins(pixels);
    for (std::size_t p = 0; p < pixels; ++p) {
        double* d = deriv.data() + p * m;
        const T* y = data + p * n + i1;
        if (o.window_length) {
            numeric::savgol_filter(y, m, o.window_length, o.polynomial_order, 1, delta, d);
        } else {  // numpy.gradient over the window, as HyperSpy's derivative
            for (std::size_t i = 0; i < m; ++i) {
                const std::size_t a = i == 0 ? 0 : i - 1, b = i + 1 == m ? m - 1 : i + 1;
                d[i] = (static_cast<double>(y[b]) - static_cast<double>(y[a])) /
                       (axis.energy(i1 + b) - axis.energy(i1 + a));
            }
        }
        double mn = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < m; ++i) mn = std::min(mn, std::abs(d[i]));
        mins[p] = mn;
    }
    double tol = 0.0;
    if (o.tol) {
        tol = *o.tol;
    } else {
        tol = -std::numeric_limits<double>::infinity();
        for (double v : mins)
            if (std::isfinite(v)) tol = std::max(tol, v);
    }
    std::vector<double> thr(pixels, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t p = 0; p < pixels; ++p) {
        const double* d = deriv.data() + p * m;
        std::size_t k = 0;
        while (k < m && !(std::abs(d[k]) <= tol)) ++k;
        if (k > 0 && k < m) thr[p] = axis.energy(i1 + k);  // HyperSpy: inflexion at index 0 (or none) -> NaN
    }
    return thr;
}

template <class T>
std::vector<double> elastic_threshold(const grid::SpectrumImage<T>& image, const ThresholdOptions& o = {}) {
    return elastic_threshold(image.axis(), image.data().data(), image.pixel_count(), o);
}
template <class T>
double elastic_threshold(const grid::Spectrum<T>& s, const ThresholdOptions& o = {}) {
    return elastic_threshold(s.axis(), s.values().data(), 1, o)[0];
}

/// Counts of one spectrum over channels [0, end): plain sum (binned) or
/// Simpson's rule (density).
template <class T>
double integrate_channels(const grid::EnergyAxis& axis, const T* y, std::size_t end, bool binned) {
    if (binned) {
        double s = 0.0;
        for (std::size_t i = 0; i < end; ++i) s += static_cast<double>(y[i]);
        return s;
    }
    return numeric::simpson(end, [&](std::size_t i) { return axis.energy(i); },
                           [&](std::size_t i) { return static_cast<double>(y[i]); });
}

/// Elastic (zero-loss) intensity below `threshold` eV: channels with index <
/// value2index(threshold). NaN for a NaN threshold; throws range_error for a
/// finite threshold outside the axis.
template <class T>
double elastic_intensity(grid::SpectrumView<const T> s, double threshold, bool binned = true) {
    if (std::isnan(threshold)) return std::numeric_limits<double>::quiet_NaN();
    const auto idx = numeric::hyperspy_value2index(*s.axis, threshold);
    if (idx < 0 || idx >= static_cast<std::ptrdiff_t>(s.size()))
        throw range_error("elastic_intensity: threshold " + std::to_string(threshold) + " eV is outside the axis");
    return integrate_channels(*s.axis, s.values.data(), static_cast<std::size_t>(idx), binned);
}

enum class ThicknessStatus : std::uint8_t { ok = 0, no_threshold, non_finite, non_positive };

inline const char* to_string(ThicknessStatus s) noexcept {
    switch (s) {
        case ThicknessStatus::ok: return "ok";
        case ThicknessStatus::no_threshold: return "no_threshold";
        case ThicknessStatus::non_finite: return "non_finite";
        case ThicknessStatus::non_positive: return "non_positive";
    }
    return "unknown";
}

/// Per-pixel thickness (navigation order): t/lambda = ln(total / zlp).
struct Thickness {
    std::vector<double> t_over_lambda;  ///< NaN where status != ok
    std::vector<double> total;          ///< I_total
    std::vector<double> zero_loss;      ///< I_zlp
    std::vector<double> threshold;      ///< eV used per pixel (NaN with a ZLP spectrum)
    std::vector<ThicknessStatus> status;
};

namespace detail {

inline void finish_thickness(Thickness& t) {
    const std::size_t n = t.total.size();
    t.t_over_lambda.assign(n, std::numeric_limits<double>::quiet_NaN());
    t.status.assign(n, ThicknessStatus::ok);
    for (std::size_t p = 0; p < n; ++p) {
        if (p < t.threshold.size() && std::isnan(t.threshold[p]) && std::isnan(t.zero_loss[p])) {
            t.status[p] = ThicknessStatus::no_threshold;
        } else if (!std::isfinite(t.total[p]) || !std::isfinite(t.zero_loss[p])) {
            t.status[p] = ThicknessStatus::non_finite;
        } else if (!(t.total[p] > 0.0) || !(t.zero_loss[p] > 0.0)) {
            t.status[p] = ThicknessStatus::non_positive;
        } else {
            t.t_over_lambda[p] = std::log(t.total[p] / t.zero_loss[p]);
        }
    }
}

}  // namespace detail

/// t/lambda with one threshold per pixel (eV; NaN allowed: that pixel gets
/// status no_threshold). Throws shape_error when the sizes differ.
template <class T>
Thickness thickness(const grid::SpectrumImage<T>& image, const std::vector<double>& thresholds, bool binned = true) {
    if (thresholds.size() != image.pixel_count())
        throw shape_error("thickness thresholds", {image.pixel_count()}, {thresholds.size()});
    Thickness t;
    t.threshold = thresholds;
    for (std::size_t p = 0; p < image.pixel_count(); ++p) {
        const auto px = grid::SpectrumView<const T>(image.pixel(p));
        t.total.push_back(integrate_channels(image.axis(), px.values.data(), px.size(), binned));
        t.zero_loss.push_back(elastic_intensity(px, thresholds[p], binned));
    }
    detail::finish_thickness(t);
    return t;
}

/// t/lambda with one threshold (eV) for every pixel.
template <class T>
Thickness thickness(const grid::SpectrumImage<T>& image, double threshold, bool binned = true) {
    if (!std::isfinite(threshold)) throw value_error("thickness: threshold must be finite");
    return thickness(image, std::vector<double>(image.pixel_count(), threshold), binned);
}

/// t/lambda with the threshold estimated per pixel (elastic_threshold).
template <class T>
Thickness thickness(const grid::SpectrumImage<T>& image, const ThresholdOptions& o, bool binned = true) {
    return thickness(image, elastic_threshold(image, o), binned);
}

/// t/lambda with I_zlp from a separate zero-loss image (same navigation shape).
template <class T>
Thickness thickness(const grid::SpectrumImage<T>& image, const grid::SpectrumImage<T>& zlp, bool binned = true) {
    if (zlp.pixel_count() != image.pixel_count())
        throw shape_error("thickness zlp image", {image.pixel_count()}, {zlp.pixel_count()});
    Thickness t;
    t.threshold.assign(image.pixel_count(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t p = 0; p < image.pixel_count(); ++p) {
        const auto px = image.pixel(p);
        const auto zp = zlp.pixel(p);
        t.total.push_back(integrate_channels(image.axis(), px.values.data(), px.size(), binned));
        t.zero_loss.push_back(integrate_channels(zlp.axis(), zp.values.data(), zp.size(), binned));
    }
    detail::finish_thickness(t);
    return t;
}

/// Thickness of one spectrum: t/lambda = ln(total / zero_loss).
struct SpectrumThickness {
    double t_over_lambda = std::numeric_limits<double>::quiet_NaN();  ///< NaN unless status is ok
    double total = 0.0;      ///< I_total
    double zero_loss = 0.0;  ///< I_zlp
    double threshold = std::numeric_limits<double>::quiet_NaN();  ///< eV used (NaN with a ZLP spectrum)
    ThicknessStatus status = ThicknessStatus::ok;
};

namespace detail {

// One spectrum as a 1 x N image, so that one spectrum and every pixel of an
// image go through the same code (and give the same numbers).
template <class T>
grid::SpectrumImage<T> one_pixel_image(const grid::Spectrum<T>& s) {
    xt::xarray<T> data = xt::xarray<T>::from_shape({std::size_t{1}, s.size()});
    std::copy(s.values().begin(), s.values().end(), data.begin());
    return grid::SpectrumImage<T>(std::move(data), s.axis(), s.metadata());
}

inline SpectrumThickness first_pixel(const Thickness& t) {
    return {t.t_over_lambda[0], t.total[0], t.zero_loss[0], t.threshold[0], t.status[0]};
}

}  // namespace detail

/// t/lambda of one spectrum with the threshold `threshold` eV.
template <class T>
SpectrumThickness thickness(const grid::Spectrum<T>& s, double threshold, bool binned = true) {
    return detail::first_pixel(thickness(detail::one_pixel_image(s), threshold, binned));
}

/// t/lambda of one spectrum with its threshold estimated (elastic_threshold;
/// tol defaults to the spectrum's own minimum derivative, as HyperSpy on one spectrum).
template <class T>
SpectrumThickness thickness(const grid::Spectrum<T>& s, const ThresholdOptions& o, bool binned = true) {
    return detail::first_pixel(thickness(detail::one_pixel_image(s), o, binned));
}

/// t/lambda of one spectrum with I_zlp from its separate zero-loss spectrum.
template <class T>
SpectrumThickness thickness(const grid::Spectrum<T>& s, const grid::Spectrum<T>& zlp, bool binned = true) {
    return detail::first_pixel(thickness(detail::one_pixel_image(s), detail::one_pixel_image(zlp), binned));
}

// ----------------------------------------------------- absolute thickness

/// The microscope parameters the density-based thickness needs.
struct EelsMicroscope {
    double beam_energy_kev = 0.0;   ///< primary beam energy E0
    double convergence_mrad = 0.0;  ///< probe convergence semi-angle alpha
    double collection_mrad = 0.0;   ///< spectrometer collection semi-angle beta

    /// From a spectrum's metadata; throws value_error naming the missing field.
    static EelsMicroscope from(const grid::Metadata& m) {
        const auto need = [](const std::optional<double>& v, const char* field) {
            if (!v) throw value_error(std::string("EelsMicroscope: metadata has no ") + field);
            return *v;
        };
        return {need(m.beam_energy_kev, "beam_energy_kev"), need(m.convergence_semiangle_mrad, "convergence_semiangle_mrad"),
                need(m.collection_semiangle_mrad, "collection_semiangle_mrad")};
    }
};

namespace detail {

// Iakoubovskii et al., Microsc. Res. Tech. 71 (2008) 626, as HyperSpy 1.7.3's
// misc/eels/electron_inelastic_mean_free_path.py: the relativistic factor F,
// the characteristic angle theta_E (mrad) and the cut-off angle theta_C = 20 mrad.
inline double iakoubovskii_f(double e0_kev) { return (1 + e0_kev / 1022) / std::pow(1 + e0_kev / 511, 2); }
inline double iakoubovskii_theta_e(double density, double e0_kev) {
    return 5.5 * std::pow(density, 0.3) / (iakoubovskii_f(e0_kev) * e0_kev);
}
inline constexpr double iakoubovskii_theta_c = 20.0;

}  // namespace detail

/// Inelastic mean free path (nm) from the density (g/cm^3) and the beam
/// energy (keV): Iakoubovskii's equation 9 (HyperSpy iMFP_Iakoubovskii).
/// Throws value_error unless both are finite and > 0.
inline double imfp_iakoubovskii(double density, double beam_energy_kev) {
    if (!(std::isfinite(density) && density > 0.0)) throw value_error("imfp_iakoubovskii: density must be > 0 g/cm^3");
    if (!(std::isfinite(beam_energy_kev) && beam_energy_kev > 0.0))
        throw value_error("imfp_iakoubovskii: beam energy must be > 0 keV");
    const double tc = detail::iakoubovskii_theta_c, te = detail::iakoubovskii_theta_e(density, beam_energy_kev);
    const double inv_lambda = 11 * std::pow(density, 0.3) / (200 * detail::iakoubovskii_f(beam_energy_kev) * beam_energy_kev) *
                              std::log(tc * tc / (te * te));
    return 1.0 / inv_lambda;
}

/// The factor (>= 1 for a limited collection angle) by which t/lambda is
/// multiplied for the angles alpha (convergence) and beta (collection), mrad
/// (HyperSpy iMFP_angular_correction, Iakoubovskii's equation 9).
inline double imfp_angular_correction(double density, const EelsMicroscope& m) {
    (void)imfp_iakoubovskii(density, m.beam_energy_kev);  // validates density and energy
    const double a = m.convergence_mrad, b = m.collection_mrad;
    if (!(std::isfinite(a) && a >= 0.0 && std::isfinite(b) && b >= 0.0 && a + b > 0.0))
        throw value_error("imfp_angular_correction: the convergence and collection angles must be >= 0 mrad, not both 0");
    const double tc = detail::iakoubovskii_theta_c, te = detail::iakoubovskii_theta_e(density, m.beam_energy_kev);
    const double big_a = a * a + b * b + 2 * te * te + std::abs(a * a - b * b);
    const double big_b = a * a + b * b + 2 * tc * tc + std::abs(a * a - b * b);
    return std::log(tc * tc / (te * te)) / std::log(big_a * tc * tc / big_b / (te * te));
}

/// What the absolute thickness needs (HyperSpy estimate_thickness(density=,
/// mean_free_path=)): a density (with the microscope: angular correction of
/// t/lambda, and Iakoubovskii's mean free path unless one is given), or a
/// mean free path alone (no angular correction).
struct AbsoluteThicknessOptions {
    std::optional<double> density;             ///< g/cm^3
    std::optional<double> mean_free_path;      ///< nm; overrides Iakoubovskii's with a density
    std::optional<EelsMicroscope> microscope;  ///< required with a density
};

struct AbsoluteThickness {
    std::vector<double> thickness_nm;  ///< per pixel; NaN where t/lambda is NaN
    double mean_free_path_nm = 0.0;    ///< the lambda used
    double angular_correction = 1.0;   ///< the factor applied to t/lambda
};

/// Absolute thickness t = t/lambda * correction * lambda (nm) of every value
/// of `t_over_lambda`. Throws value_error for a missing density / mean free
/// path, a density without the microscope, or values out of range.
inline AbsoluteThickness absolute_thickness(const std::vector<double>& t_over_lambda, const AbsoluteThicknessOptions& o) {
    AbsoluteThickness r;
    if (o.mean_free_path && !(std::isfinite(*o.mean_free_path) && *o.mean_free_path > 0.0))
        throw value_error("absolute_thickness: mean_free_path must be > 0 nm");
    if (o.density) {
        if (!o.microscope)
            throw value_error("absolute_thickness: a density needs the microscope (beam energy, convergence and "
                              "collection angles)");
        r.angular_correction = imfp_angular_correction(*o.density, *o.microscope);
        r.mean_free_path_nm = o.mean_free_path ? *o.mean_free_path
                                               : imfp_iakoubovskii(*o.density, o.microscope->beam_energy_kev);
    } else if (o.mean_free_path) {
        r.mean_free_path_nm = *o.mean_free_path;
    } else {
        throw value_error("absolute_thickness: give a density or a mean free path");
    }
    r.thickness_nm.reserve(t_over_lambda.size());
    // HyperSpy's order of operations: (t/lambda * correction) * lambda.
    for (double t : t_over_lambda) r.thickness_nm.push_back(t * r.angular_correction * r.mean_free_path_nm);
    return r;
}

/// Absolute thickness of every pixel of a thickness result.
inline AbsoluteThickness absolute_thickness(const Thickness& t, const AbsoluteThicknessOptions& o) {
    return absolute_thickness(t.t_over_lambda, o);
}

/// Absolute thickness (nm) of one spectrum's result (NaN where its status is not ok).
inline double absolute_thickness(const SpectrumThickness& t, const AbsoluteThicknessOptions& o) {
    return absolute_thickness(std::vector<double>{t.t_over_lambda}, o).thickness_nm[0];
}

// ----------------------------------------------------------- deconvolution

namespace detail {

/// numpy.fft.rfft(x, n): the n/2 + 1 non-negative frequencies of x zero-padded to n.
inline std::vector<std::complex<double>> rfft(const std::vector<double>& x, std::size_t n) {
    std::vector<double> in(n, 0.0);
    std::copy_n(x.begin(), std::min(n, x.size()), in.begin());
    std::vector<std::complex<double>> full;
    Eigen::FFT<double> fft;
    fft.fwd(full, in);
    full.resize(n / 2 + 1);
    return full;
}

/// numpy.fft.irfft(X) without n: length 2 (len(X) - 1); the imaginary parts
/// of the zero and Nyquist terms are ignored, as pocketfft does.
inline std::vector<double> irfft(const std::vector<std::complex<double>>& half) {
    const std::size_t h = half.size();
    if (h < 2) throw value_error("irfft: need at least 2 frequencies");
    const std::size_t m = 2 * (h - 1);
    std::vector<std::complex<double>> full(m);
    full[0] = half[0].real();
    full[m / 2] = half[h - 1].real();
    for (std::size_t k = 1; k < h - 1; ++k) {
        full[k] = half[k];
        full[m - k] = std::conj(half[k]);
    }
    std::vector<std::complex<double>> out;
    Eigen::FFT<double> fft;
    fft.inv(out, full);
    std::vector<double> r(m);
    for (std::size_t i = 0; i < m; ++i) r[i] = out[i].real();
    return r;
}

inline double nan_to_num(double v) {
    if (std::isnan(v)) return 0.0;
    if (std::isinf(v)) return v > 0 ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest();
    return v;
}

}  // namespace detail

/// HyperSpy hanning_taper(side='both'): multiplies the first and last
/// `channels` values by halves of a Hann window of 2*channels points;
/// channels defaults to max(20, round(0.02 N)). Returns the channels used.
/// Throws value_error when 2*channels exceeds the length.
/// In place on a view of any scalar type (computed in double).
template <class T>
std::size_t hanning_taper(span<T> y, std::optional<std::size_t> channels = std::nullopt) {
    std::size_t ch = channels ? *channels
                              : std::max<std::size_t>(20, static_cast<std::size_t>(std::nearbyint(0.02 * double(y.size()))));
    if (2 * ch > y.size()) throw value_error("hanning_taper: the spectrum is shorter than two tapers");
    const double pi = 3.14159265358979323846;
    const std::size_t w = 2 * ch;
    for (std::size_t k = 0; k < ch; ++k) {
        const double left = 0.5 - 0.5 * std::cos(2.0 * pi * double(k) / double(w - 1));
        const double right = 0.5 - 0.5 * std::cos(2.0 * pi * double(ch + k) / double(w - 1));
        y[k] = static_cast<T>(static_cast<double>(y[k]) * left);
        y[y.size() - ch + k] = static_cast<T>(static_cast<double>(y[y.size() - ch + k]) * right);
    }
    return ch;
}
template <class T>
std::size_t hanning_taper(const grid::SpectrumView<T>& s, std::optional<std::size_t> channels = std::nullopt) {
    return hanning_taper(s.values, channels);
}
inline std::size_t hanning_taper(std::vector<double>& y, std::optional<std::size_t> channels = std::nullopt) {
    return hanning_taper(span<double>(y), channels);
}

/// HyperSpy power_law_extrapolation: appends `extrapolation_size` channels
/// (same scale) holding the power law fitted (two-area) to the last
/// `window_size` channels. A pixel whose fit fails is extended with zeros.
/// Needs a uniform axis, and says so: the (axis, values) form takes a
/// grid::UniformAxis (an EnergyAxis does not compile); the Spectrum form
/// checks at run time (value_error). Requires 3 <= window_size <= size.
template <class T>
grid::Spectrum<double> power_law_extrapolation(const grid::UniformAxis& ax, span<const T> values,
                                               std::size_t window_size = 20, std::size_t extrapolation_size = 1024,
                                               bool binned = true) {
    const std::size_t n = ax.size();
    if (values.size() != n) throw shape_error("power_law_extrapolation values", {n}, {values.size()});
    if (window_size < 3 || window_size > n)
        throw value_error("power_law_extrapolation: window_size must be in [3, size]");
    const auto ext = grid::EnergyAxis::uniform(ax.offset(), ax.scale(), n + extrapolation_size, ax.units());
    std::vector<double> y(n + extrapolation_size, 0.0);
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<double>(values[i]);
    BackgroundOptions o;
    o.lo = ax.energy(n - window_size);
    o.hi = ax.energy(n - 1);
    o.binned = binned;
    BackgroundRemover rm(ext, o);
    std::vector<double> p(2);
    if (rm.fit(span<const double>(y), span<double>(p)) == BackgroundStatus::ok)
        for (std::size_t i = n; i < y.size(); ++i)
            y[i] = (binned ? ax.scale() : 1.0) * p[0] * std::pow(ext.energy(i), -p[1]);
    return grid::Spectrum<double>(ext, std::move(y));
}
template <class Axis, class T, class = std::enable_if_t<std::is_same<Axis, grid::EnergyAxis>::value>>
grid::Spectrum<double> power_law_extrapolation(const Axis&, span<const T>, std::size_t = 20, std::size_t = 1024,
                                               bool = true) {
    static_assert(!std::is_same<Axis, grid::EnergyAxis>::value,
                  "corespec::prep::power_law_extrapolation: needs a grid::UniformAxis (uniform spacing); an "
                  "EnergyAxis may be explicit: pass axis.as_uniform(), which checks at run time");
    return grid::Spectrum<double>(grid::EnergyAxis::uniform(0.0, 1.0, 1));
}
template <class T>
grid::Spectrum<double> power_law_extrapolation(const grid::Spectrum<T>& s, std::size_t window_size = 20,
                                               std::size_t extrapolation_size = 1024, bool binned = true) {
    auto r = power_law_extrapolation(s.axis().as_uniform(), span<const T>(s.values()), window_size,
                                     extrapolation_size, binned);
    r.metadata() = s.metadata();
    return r;
}

/// HyperSpy estimate_peak_width: the distance between the two points where
/// the interpolating cubic spline of the spectrum crosses factor * max; NaN
/// unless there are exactly two crossings.
template <class T>
double estimate_peak_width(const grid::Spectrum<T>& s, double factor = 0.5) {
    if (!(factor > 0.0 && factor < 1.0)) throw value_error("estimate_peak_width: factor must be in (0, 1)");
    std::vector<double> x = s.axis().energies(), y(s.size());
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < y.size(); ++i) {
        y[i] = static_cast<double>(s[i]);
        if (!std::isfinite(y[i])) return std::numeric_limits<double>::quiet_NaN();
        mx = std::max(mx, y[i]);
    }
    for (double& v : y) v -= factor * mx;
    const auto roots = numeric::spline_roots(x, y);
    return roots.size() == 2 ? roots[1] - roots[0] : std::numeric_limits<double>::quiet_NaN();
}

struct FourierLogOptions {
    bool add_zlp = false;  ///< add the ZLP back to the first channels
    bool crop = false;     ///< drop the tapered channels at the right end
};

/// Fourier-log deconvolution of a low-loss spectrum by its zero-loss peak
/// (HyperSpy fourier_log_deconvolution). Both need uniform axes: the
/// (axis, values) form takes grid::UniformAxis (an EnergyAxis does not
/// compile), the Spectrum form checks at run time. The result is on the
/// spectrum's axis (shortened by the taper with crop). Throws value_error
/// on NaN/Inf input.
template <class T>
grid::Spectrum<double> fourier_log_deconvolution(const grid::UniformAxis& axis, span<const T> s,
                                                 const grid::UniformAxis& zlp_axis, span<const T> zlp,
                                                 const FourierLogOptions& o = {}) {
    if (s.size() != axis.size()) throw shape_error("fourier_log_deconvolution spectrum", {axis.size()}, {s.size()});
    if (zlp.size() != zlp_axis.size()) throw shape_error("fourier_log_deconvolution zlp", {zlp_axis.size()}, {zlp.size()});
    require_finite(s, "fourier_log_deconvolution spectrum");
    require_finite(zlp, "fourier_log_deconvolution zlp");
    const std::size_t ns = s.size(), nz = zlp.size();
    std::vector<double> y(s.begin(), s.end());
    const std::size_t tapered = hanning_taper(y);
    const std::size_t n = numeric::next_fast_len(nz + ns - 1, true);
    const std::vector<double> zv(zlp.begin(), zlp.end());
    const auto z = detail::rfft(zv, n);
    const auto j = detail::rfft(y, n);
    std::vector<std::complex<double>> j1(z.size());
    for (std::size_t k = 0; k < z.size(); ++k) {
        const std::complex<double> l = std::log(j[k] / z[k]);
        j1[k] = z[k] * std::complex<double>(detail::nan_to_num(l.real()), detail::nan_to_num(l.imag()));
    }
    auto r = detail::irfft(j1);
    r.resize(std::min(ns, r.size()));
    r.resize(ns, 0.0);
    if (o.add_zlp)
        for (std::size_t i = 0; i < std::min(ns, nz); ++i) r[i] += static_cast<double>(zlp[i]);
    const grid::EnergyAxis out_axis(axis);
    if (o.crop) {
        r.resize(ns - tapered);
        return grid::Spectrum<double>(out_axis.slice(0, ns - tapered), std::move(r));
    }
    return grid::Spectrum<double>(out_axis, std::move(r));
}
template <class Axis, class T, class = std::enable_if_t<std::is_same<Axis, grid::EnergyAxis>::value>>
grid::Spectrum<double> fourier_log_deconvolution(const Axis&, span<const T>, const Axis&, span<const T>,
                                                 const FourierLogOptions& = {}) {
    static_assert(!std::is_same<Axis, grid::EnergyAxis>::value,
                  "corespec::prep::fourier_log_deconvolution: needs grid::UniformAxis (uniform spacing); an "
                  "EnergyAxis may be explicit: pass axis.as_uniform(), which checks at run time");
    return grid::Spectrum<double>(grid::EnergyAxis::uniform(0.0, 1.0, 1));
}
template <class T>
grid::Spectrum<double> fourier_log_deconvolution(const grid::Spectrum<T>& s, const grid::Spectrum<T>& zlp,
                                                 const FourierLogOptions& o = {}) {
    auto r = fourier_log_deconvolution(s.axis().as_uniform(), span<const T>(s.values()), zlp.axis().as_uniform(),
                                       span<const T>(zlp.values()), o);
    const std::size_t m = r.size();  // s.size(), or less with crop
    return grid::Spectrum<double>(m == s.size() ? s.axis() : s.axis().slice(0, m), std::move(r.values()), s.metadata());
}

/// What fourier_ratio_deconvolution chose, for the user to report.
struct FourierRatioInfo {
    double threshold = 0.0;  ///< eV: elastic threshold used for I0
    double fwhm = 0.0;       ///< eV: width of the reconvolution Gaussian
    double i0 = 0.0;         ///< zero-loss intensity below the threshold (the result's scale)
};

struct FourierRatioOptions {
    std::optional<double> fwhm;       ///< eV of the reconvolution Gaussian; default: the low loss's ZLP width
    std::optional<double> threshold;  ///< eV for I_zlp; default: elastic_threshold of the low loss
    bool extrapolate_lowloss = true;  ///< power-law extend the low loss by 100 channels (window 100)
    bool extrapolate_coreloss = true; ///< power-law extend the core loss by 100 channels (window 20)
};

namespace detail {

// fourier_ratio_deconvolution on uniform axes (the callers check), values as views.
template <class T>
grid::Spectrum<double> fourier_ratio(const grid::EnergyAxis& cl_axis, span<const T> cl, const grid::EnergyAxis& ll_axis,
                                     span<const T> ll, const FourierRatioOptions& o, FourierRatioInfo* info) {
    if (cl.size() != cl_axis.size()) throw shape_error("fourier_ratio_deconvolution core loss", {cl_axis.size()}, {cl.size()});
    if (ll.size() != ll_axis.size()) throw shape_error("fourier_ratio_deconvolution low loss", {ll_axis.size()}, {ll.size()});
    const auto cla = cl_axis.as_uniform();
    const auto lla = ll_axis.as_uniform();
    require_finite(cl, "fourier_ratio_deconvolution core loss");
    require_finite(ll, "fourier_ratio_deconvolution low loss");
    const double threshold = o.threshold ? *o.threshold : elastic_threshold(ll_axis, ll.data(), 1)[0];
    if (!std::isfinite(threshold)) throw value_error("fourier_ratio_deconvolution: no elastic threshold found");
    auto to_double = [](const grid::EnergyAxis& a, span<const T> v) {
        return grid::Spectrum<double>(a, std::vector<double>(v.begin(), v.end()));
    };
    auto cle = o.extrapolate_coreloss ? power_law_extrapolation(cla, cl, 20, 100) : to_double(cl_axis, cl);
    auto lle = o.extrapolate_lowloss ? power_law_extrapolation(lla, ll, 100, 100) : to_double(ll_axis, ll);
    hanning_taper(lle.values());
    hanning_taper(cle.values());
    const std::size_t n = numeric::next_fast_len(lle.size() + cl.size() - 1, false);
    const double fwhm = o.fwhm ? *o.fwhm : estimate_peak_width(lle);
    if (!(fwhm > 0.0)) throw value_error("fourier_ratio_deconvolution: the zero-loss width could not be estimated");
    const double i0 = elastic_intensity(grid::SpectrumView<const double>(lle.view()), threshold);
    if (!(i0 > 0.0) || !std::isfinite(i0))
        throw value_error("fourier_ratio_deconvolution: no positive zero-loss intensity below the threshold");
    const double sigma = fwhm / 2.3548, pi = 3.14159265358979323846;
    std::vector<double> g(n);
    const double last = lla.offset() + lla.scale() * double(n - 1);
    for (std::size_t i = 0; i < n; ++i) {
        // numpy.linspace(offset, offset + scale (n - 1), n)
        const double x = n > 1 ? (i + 1 == n ? last : lla.offset() + double(i) * ((last - lla.offset()) / double(n - 1)))
                               : lla.offset();
        g[i] = std::exp(-x * x / (2.0 * sigma * sigma)) / (sigma * std::sqrt(2.0 * pi));
    }
    const auto z = rfft(g, n);
    const auto jk = rfft(cle.values(), n);
    const auto jl = rfft(lle.values(), n);
    std::vector<std::complex<double>> q(z.size());
    for (std::size_t k = 0; k < z.size(); ++k) q[k] = z[k] * jk[k] / jl[k];
    auto r = irfft(q);
    for (double& v : r) v *= i0;
    r.resize(cl.size(), 0.0);
    if (info) *info = {threshold, fwhm, i0};
    return grid::Spectrum<double>(cl_axis, std::move(r));
}

}  // namespace detail

/// Fourier-ratio deconvolution of a core-loss spectrum by the low-loss
/// spectrum recorded with it (HyperSpy fourier_ratio_deconvolution): result
/// = I0 * IFFT(FFT(G) FFT(cl) / FFT(ll)) on the core-loss axis, with G a
/// unit-area Gaussian of width fwhm at 0 eV on the low-loss axis. Both need
/// uniform axes: the (axis, values) form takes grid::UniformAxis (an
/// EnergyAxis does not compile), the Spectrum form checks at run time.
/// Throws value_error on NaN/Inf input or when no width/threshold can be
/// found. With `info`, writes the threshold, FWHM and I0 it used.
template <class T>
grid::Spectrum<double> fourier_ratio_deconvolution(const grid::UniformAxis& cl_axis, span<const T> cl,
                                                   const grid::UniformAxis& ll_axis, span<const T> ll,
                                                   const FourierRatioOptions& o = {}, FourierRatioInfo* info = nullptr) {
    return detail::fourier_ratio(grid::EnergyAxis(cl_axis), cl, grid::EnergyAxis(ll_axis), ll, o, info);
}
template <class Axis, class T, class = std::enable_if_t<std::is_same<Axis, grid::EnergyAxis>::value>>
grid::Spectrum<double> fourier_ratio_deconvolution(const Axis&, span<const T>, const Axis&, span<const T>,
                                                   const FourierRatioOptions& = {}, FourierRatioInfo* = nullptr) {
    static_assert(!std::is_same<Axis, grid::EnergyAxis>::value,
                  "corespec::prep::fourier_ratio_deconvolution: needs grid::UniformAxis (uniform spacing); an "
                  "EnergyAxis may be explicit: pass axis.as_uniform(), which checks at run time");
    return grid::Spectrum<double>(grid::EnergyAxis::uniform(0.0, 1.0, 1));
}
template <class T>
grid::Spectrum<double> fourier_ratio_deconvolution(const grid::Spectrum<T>& cl, const grid::Spectrum<T>& ll,
                                                   const FourierRatioOptions& o = {},
                                                   FourierRatioInfo* info = nullptr) {
    auto r = detail::fourier_ratio(cl.axis(), span<const T>(cl.values()), ll.axis(), span<const T>(ll.values()), o, info);
    r.metadata() = cl.metadata();
    return r;
}

}  // namespace corespec::prep
