// corespec/align/shift.hpp - the energy shift between a spectrum and a reference.
//
// Sign convention everywhere: the returned shift (eV) is the one to ADD to
// the spectrum's energies (equivalently, HyperSpy shift1D's shift: features
// move to higher energy for a positive shift) so that it matches the reference.
//
//   xcorr_shift      HyperSpy estimate_shift1D on one spectrum: both windows
//                    [lo, hi) linearly upsampled by (points + 1), mean removed,
//                    the lag of the cross-correlation maximum. Same axis.
//   xcorr_shift_resampled  any two axes: both put on one fine uniform grid
//                    over [lo, hi], lag of the maximum refined by a parabola
//                    (suits peaks: a ZLP, a white line, dmu/dE).
//   energy_align     Larch energy_align: least squares over the reference's
//                    [e0 + emin, e0 + emax] of scale * spline(E - shift) -
//                    reference on dmu/dE (or mu), shift in [-50, 50] eV and
//                    scale in [0, 50].
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/kernels/spectral.hpp"
#include "corespec/core/numeric/levenberg_marquardt.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/core/numeric/numeric.hpp"

namespace corespec::align {

namespace detail {

// HyperSpy interpolate1D: linear values at k / ip channels, k in [0, (n-1) ip].
template <class T>
std::vector<double> upsample(const T* y, std::size_t n, std::size_t ip) {
    if (ip <= 1) return std::vector<double>(y, y + n);
    std::vector<double> out((n - 1) * ip + 1);
    for (std::size_t k = 0; k < out.size(); ++k) {
        const std::size_t i = std::min(k / ip, n - 2);
        const double t = static_cast<double>(k) / static_cast<double>(ip) - static_cast<double>(i);
        out[k] = static_cast<double>(y[i]) + t * (static_cast<double>(y[i + 1]) - static_cast<double>(y[i]));
    }
    return out;
}

// Dot product of two contiguous runs (the cross-correlation's inner loop:
// O(n^2) per spectrum, so vectorised and dispatched, core/kernels/spectral.hpp).
inline double dot(const double* a, const double* b, std::size_t n) {
    return kernels::default_spectral_table().dot(a, b, n);
}

// Lag (in samples) of the maximum of numpy.correlate(ref, data, 'full'),
// both mean-removed; equal lengths. Returns the lag and writes the three
// correlation values around it for sub-sample refinement.
inline long xcorr_argmax(std::vector<double> ref, std::vector<double> dat, double* around = nullptr) {
    const std::size_t n = ref.size();
    double mr = 0, md = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mr += ref[i];
        md += dat[i];
    }
    mr /= double(n);
    md /= double(n);
    for (std::size_t i = 0; i < n; ++i) {
        ref[i] -= mr;
        dat[i] -= md;
    }
    auto corr = [&](long k) {
        const std::size_t i0 = static_cast<std::size_t>(std::max(0L, -k));
        const std::size_t len = n - static_cast<std::size_t>(std::labs(k));
        return dot(ref.data() + static_cast<std::size_t>(k + static_cast<long>(i0)), dat.data() + i0, len);
    };
    long best = -(static_cast<long>(n) - 1);
    double bv = -std::numeric_limits<double>::infinity();
    for (long k = -(static_cast<long>(n) - 1); k < static_cast<long>(n); ++k) {
        const double c = corr(k);
        if (c > bv) {
            bv = c;
            best = k;
        }
    }
    if (around) {
        around[0] = best > -(static_cast<long>(n) - 1) ? corr(best - 1) : bv;
        around[1] = bv;
        around[2] = best < static_cast<long>(n) - 1 ? corr(best + 1) : bv;
    }
    return best;
}

// Cubic spline (not-a-knot) through (x, y), evaluated with linear
// extrapolation beyond the ends; also its derivative.
struct CubicSpline {
    std::vector<double> x, y, m;
    CubicSpline(std::vector<double> xs, std::vector<double> ys) : x(std::move(xs)), y(std::move(ys)) {
        if (x.size() >= 4) {
            m = numeric::not_a_knot_second_derivatives(x, y);
        } else {
            m.assign(x.size(), 0.0);
        }
    }
    void eval(double t, double& v, double& d) const {
        const std::size_t n = x.size();
        if (t <= x[0] || t >= x[n - 1]) {
            const bool left = t <= x[0];
            const std::size_t i = left ? 0 : n - 2;
            const double h = x[i + 1] - x[i];
            const double slope = left ? (y[1] - y[0]) / h - h * (2.0 * m[0] + m[1]) / 6.0
                                      : (y[n - 1] - y[n - 2]) / h + h * (m[n - 2] + 2.0 * m[n - 1]) / 6.0;
            const double x0 = left ? x[0] : x[n - 1], y0 = left ? y[0] : y[n - 1];
            v = y0 + slope * (t - x0);
            d = slope;
            return;
        }
        const std::size_t i = std::min<std::size_t>(
            static_cast<std::size_t>(std::upper_bound(x.begin(), x.end(), t) - x.begin()) - 1, n - 2);
        const double h = x[i + 1] - x[i], u = x[i + 1] - t, w = t - x[i];
        v = m[i] * u * u * u / (6 * h) + m[i + 1] * w * w * w / (6 * h) + (y[i] / h - m[i] * h / 6) * u +
            (y[i + 1] / h - m[i + 1] * h / 6) * w;
        d = -m[i] * u * u / (2 * h) + m[i + 1] * w * w / (2 * h) - (y[i] / h - m[i] * h / 6) +
            (y[i + 1] / h - m[i + 1] * h / 6);
    }
};

}  // namespace detail

/// HyperSpy estimate_shift1D for one spectrum against a reference on the same
/// axis, over channels [value2index(lo), value2index(hi)), upsampled by
/// interpolation_points + 1. Returns the shift in eV (resolution scale /
/// (points + 1)), NaN when the window holds a NaN/Inf. Throws range_error for
/// a window outside the axis, shape_error for mismatched sizes.
/// Needs uniform spacing, and says so: an EnergyAxis does not compile
/// (convert with EnergyAxis::as_uniform(), which checks at run time).
template <class T>
double xcorr_shift(const grid::UniformAxis& ua, span<const T> spectrum, span<const T> reference, double lo, double hi,
                   std::size_t interpolation_points = 5) {
    const grid::EnergyAxis axis(ua);
    if (spectrum.size() != axis.size() || reference.size() != axis.size())
        throw shape_error("xcorr_shift", {axis.size()}, {spectrum.size()});
    numeric::require_window_inside(axis, lo, hi, "xcorr_shift");
    const auto a = numeric::hyperspy_value2index(axis, lo), b = numeric::hyperspy_value2index(axis, hi);
    const std::size_t i1 = static_cast<std::size_t>(std::max<std::ptrdiff_t>(a, 0));
    const std::size_t i2 = static_cast<std::size_t>(std::min<std::ptrdiff_t>(b, std::ptrdiff_t(axis.size())));
    if (i2 < i1 + 2) throw range_error("xcorr_shift: the window holds fewer than 2 channels");
    for (std::size_t i = i1; i < i2; ++i)
        if (!std::isfinite(static_cast<double>(spectrum[i])) || !std::isfinite(static_cast<double>(reference[i])))
            return std::numeric_limits<double>::quiet_NaN();
    const std::size_t ip = interpolation_points + 1;
    const long lag = detail::xcorr_argmax(detail::upsample(reference.data() + i1, i2 - i1, ip),
                                          detail::upsample(spectrum.data() + i1, i2 - i1, ip));
    return static_cast<double>(lag) / static_cast<double>(ip) * ua.scale();
}
template <class Axis, class T, class = std::enable_if_t<std::is_same<Axis, grid::EnergyAxis>::value>>
double xcorr_shift(const Axis&, span<const T>, span<const T>, double, double, std::size_t = 5) {
    static_assert(!std::is_same<Axis, grid::EnergyAxis>::value,
                  "corespec::align::xcorr_shift: needs a grid::UniformAxis (uniform spacing); an EnergyAxis may be "
                  "explicit: pass axis.as_uniform(), which checks at run time");
    return 0.0;
}

/// Shift (eV) to add to (x, y)'s energies to match (xr, yr), by
/// cross-correlation on a common uniform grid of `step` eV: the reference is
/// taken over [lo, hi] (mean removed), the spectrum at every lag is sampled
/// from its whole axis (held at its ends), so a peak that moves never leaves
/// the correlation; lags up to half the window; the maximum is refined by a
/// parabola. Throws value_error / range_error on bad windows or non-finite values.
template <class T>
double xcorr_shift_resampled(const grid::EnergyAxis& x, span<const T> y, const grid::EnergyAxis& xr, span<const T> yr,
                             double lo, double hi, double step) {
    if (y.size() != x.size()) throw shape_error("xcorr_shift_resampled spectrum", {x.size()}, {y.size()});
    if (yr.size() != xr.size()) throw shape_error("xcorr_shift_resampled reference", {xr.size()}, {yr.size()});
    if (!(step > 0.0) || !std::isfinite(step)) throw value_error("xcorr_shift_resampled: step must be > 0");
    numeric::require_window_inside(x, lo, hi, "xcorr_shift_resampled (spectrum)");
    numeric::require_window_inside(xr, lo, hi, "xcorr_shift_resampled (reference)");
    require_finite(y, "xcorr_shift_resampled spectrum");
    require_finite(yr, "xcorr_shift_resampled reference");
    if ((hi - lo) / step > 1e6) throw value_error("xcorr_shift_resampled: grid too fine (more than 1e6 points)");
    const std::size_t n = static_cast<std::size_t>(std::floor((hi - lo) / step)) + 1;
    if (n < 3) throw range_error("xcorr_shift_resampled: fewer than 3 grid points in the window");
    const long k_max = static_cast<long>(n / 2);
    auto sample = [](const grid::EnergyAxis& ax, span<const T> v, double e) {
        const std::size_t j = ax.segment(e);
        const double t = std::clamp((e - ax.energy(j)) / (ax.energy(j + 1) - ax.energy(j)), 0.0, 1.0);
        return static_cast<double>(v[j]) + t * (static_cast<double>(v[j + 1]) - static_cast<double>(v[j]));
    };
    std::vector<double> a(n), b(n + 2 * static_cast<std::size_t>(k_max));
    double mean = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        a[k] = sample(xr, yr, lo + step * static_cast<double>(k));
        mean += a[k];
    }
    mean /= static_cast<double>(n);
    for (double& v : a) v -= mean;
    for (std::size_t k = 0; k < b.size(); ++k)
        b[k] = sample(x, y, lo + step * (static_cast<double>(k) - static_cast<double>(k_max)));
    // c(s) = sum_j a_j y(e_j - s), s = lag * step: b index j + k_max - lag.
    auto corr = [&](long lag) {
        double c = 0.0;
        for (std::size_t j = 0; j < n; ++j) c += a[j] * b[static_cast<std::size_t>(static_cast<long>(j) + k_max - lag)];
        return c;
    };
    long best = 0;
    double bv = -std::numeric_limits<double>::infinity();
    for (long lag = -k_max; lag <= k_max; ++lag) {
        const double c = corr(lag);
        if (c > bv) {
            bv = c;
            best = lag;
        }
    }
    double frac = 0.0;
    if (best > -k_max && best < k_max) {
        const double cm = corr(best - 1), cp = corr(best + 1), den = cm - 2.0 * bv + cp;
        if (den < 0.0) frac = std::clamp(0.5 * (cm - cp) / den, -0.5, 0.5);
    }
    return (static_cast<double>(best) + frac) * step;
}

/// Which array energy_align compares.
enum class AlignArray { dmude, mu };

struct EnergyAlignOptions {
    double emin = -15.0;  ///< eV relative to the reference e0
    double emax = 35.0;
    AlignArray array = AlignArray::dmude;
    int max_iterations = 200;
    double initial_shift = 0.0;  ///< eV; Larch starts from 0
};

struct EnergyAlignResult {
    double shift = 0.0;  ///< eV to add to the spectrum's energies
    double scale = 1.0;  ///< multiplies the spectrum's array
    double rms = 0.0;    ///< residual root mean square over the window
    bool converged = false;
};

namespace detail {

// numpy.gradient(y) / numpy.gradient(x): Larch's dmu/dE.
template <class T>
std::vector<double> larch_dmude(const grid::EnergyAxis& x, span<const T> y) {
    const std::size_t n = x.size();
    std::vector<double> d(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t a = i == 0 ? 0 : i - 1, b = i + 1 == n ? n - 1 : i + 1;
        d[i] = (static_cast<double>(y[b]) - static_cast<double>(y[a])) / (x.energy(b) - x.energy(a));
    }
    return d;
}

}  // namespace detail

/// Larch energy_align semantics: the shift (and scale) that best maps the
/// spectrum (x, y) onto the reference (xr, yr) over [e0 + emin, e0 + emax]
/// of the reference axis (Larch's own code evaluates e0 - emin for the lower
/// end; corespec uses e0 + emin as documented). Non-finite input throws
/// value_error; a window with fewer than 3 reference points throws range_error.
template <class T>
EnergyAlignResult energy_align(const grid::EnergyAxis& x, span<const T> y, const grid::EnergyAxis& xr,
                               span<const T> yr, double e0, const EnergyAlignOptions& o = {}) {
    if (y.size() != x.size()) throw shape_error("energy_align spectrum", {x.size()}, {y.size()});
    if (yr.size() != xr.size()) throw shape_error("energy_align reference", {xr.size()}, {yr.size()});
    if (!std::isfinite(e0) || !(o.emin < o.emax)) throw value_error("energy_align: need finite e0 and emin < emax");
    require_finite(y, "energy_align spectrum");
    require_finite(yr, "energy_align reference");
    std::vector<double> dat, ref;
    if (o.array == AlignArray::dmude) {
        dat = detail::larch_dmude(x, y);
        ref = detail::larch_dmude(xr, yr);
    } else {
        dat.assign(y.begin(), y.end());
        ref.assign(yr.begin(), yr.end());
    }
    // Larch index_of: the last index with energy <= value (0 below the axis).
    auto index_of = [&](double v) {
        std::size_t k = 0;
        for (std::size_t i = 0; i < xr.size(); ++i)
            if (xr.energy(i) <= v) k = i;
        return k;
    };
    const std::size_t i1 = index_of(e0 + o.emin), i2 = index_of(e0 + o.emax);
    if (i2 < i1 + 3) throw range_error("energy_align: the window holds fewer than 3 reference points");
    const detail::CubicSpline spline(x.energies(), dat);
    auto cost = [&](const std::array<double, 2>& q) {
        double acc = 0.0, v, d;
        for (std::size_t i = i1; i < i2; ++i) {
            spline.eval(xr.energy(i) - q[0], v, d);
            acc += (q[1] * v - ref[i]) * (q[1] * v - ref[i]);
        }
        return acc;
    };
    auto normal = [&](const std::array<double, 2>& q) {
        numeric::NormalEquations2 ne;
        double v, d;
        for (std::size_t i = i1; i < i2; ++i) {
            spline.eval(xr.energy(i) - q[0], v, d);
            const double res = ref[i] - q[1] * v, ds = -q[1] * d, dc = v;
            ne.add(ds, dc, res);
        }
        return ne;
    };
    // Larch's bounds: shift in [-50, 50] eV, scale in [0, 50]; the shared fitter
    // (numeric::levenberg_marquardt_2) with absolute step tolerances.
    numeric::LevenbergMarquardtOptions lm;
    lm.max_iterations = o.max_iterations;
    lm.step_tolerance = {1e-10, 1e-12};
    lm.step_relative = {0.0, 0.0};
    lm.lower = {-50.0, 0.0};
    lm.upper = {50.0, 50.0};
    std::array<double, 2> p{std::clamp(o.initial_shift, -50.0, 50.0), 1.0};
    const auto fit = numeric::levenberg_marquardt_2(p, normal, cost, lm);
    EnergyAlignResult r;
    r.converged = fit.converged;
    const double shift = p[0], scale = p[1], cur = fit.cost;
    r.shift = shift;
    r.scale = scale;
    r.rms = std::sqrt(cur / static_cast<double>(i2 - i1));
    return r;
}

}  // namespace corespec::align
