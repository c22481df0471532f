// corespec/prep/edge_energy.hpp - where an absorption edge is: the edge
// energy e0 with Larch's rule (find_e0, used by pre_edge to normalise) and the
// edge onset as the inflection of the rising edge (find_edge_onset, used to
// calibrate measured axes). Both locate the same feature, so they live
// together; align/calibration.hpp and prep/xas_normalize.hpp include this.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/core/numeric/numeric.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"

namespace corespec::prep {

/// The spectrum has no absorption edge inside its energy range (flat, or
/// the largest derivative is not significantly above the noise). A
/// value_error, so callers that only catch value_error still see it.
class no_edge_error : public value_error {
public:
    explicit no_edge_error(const std::string& message) : value_error(message) {}
};

namespace detail {

inline constexpr double tiny_energy = 0.0005;  // Larch TINY_ENERGY, eV

/// Python's built-in round() for floats: half to even.
inline double py_round(double x) noexcept { return std::nearbyint(x); }

/// numpy.gradient with unit spacing (second-order inside, first-order ends).
inline std::vector<double> index_gradient(const double* y, std::size_t n) {
    std::vector<double> g(n, 0.0);
    if (n < 2) return g;
    g[0] = y[1] - y[0];
    g[n - 1] = y[n - 1] - y[n - 2];
    for (std::size_t i = 1; i + 1 < n; ++i) g[i] = (y[i + 1] - y[i - 1]) / 2.0;
    return g;
}

/// Larch's dmu/dE: gradient(mu) / gradient(E), both with unit spacing.
inline std::vector<double> larch_deriv(const double* e, const double* y, std::size_t n) {
    auto gy = index_gradient(y, n);
    const auto ge = index_gradient(e, n);
    for (std::size_t i = 0; i < n; ++i) gy[i] /= ge[i];
    return gy;
}

/// Larch remove_dups on an ascending array: a value closer than `tiny` to
/// its predecessor is pushed up by tiny (cumulatively).
inline std::vector<double> remove_dups(std::vector<double> e, double tiny = tiny_energy) {
    if (e.size() <= 1) return e;
    double min_step = std::numeric_limits<double>::infinity();
    for (std::size_t i = 1; i < e.size(); ++i) min_step = std::min(min_step, e[i] - e[i - 1]);
    if (min_step > 10 * tiny) return e;
    std::vector<double> add(e.size(), 0.0);
    for (std::size_t i = 1; i < e.size(); ++i)
        if (std::abs(e[i] - e[i - 1]) < tiny) add[i] = add[i - 1] + tiny;
    for (std::size_t i = 0; i < e.size(); ++i) e[i] += add[i];
    return e;
}

/// Larch index_of: the last index with a[i] <= value (0 when value < min).
inline std::size_t index_of(const std::vector<double>& a, double value, double shift = 0.0) {
    double mn = a[0] - shift;
    for (double v : a) mn = std::min(mn, v - shift);
    if (value < mn) return 0;
    std::size_t ix = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] - shift <= value) ix = i;
    return ix;
}

/// Larch index_nearest: argmin |a - value| (first on ties).
inline std::size_t index_nearest(const std::vector<double>& a, double value) {
    std::size_t best = 0;
    double bd = std::abs(a[0] - value);
    for (std::size_t i = 1; i < a.size(); ++i) {
        const double d = std::abs(a[i] - value);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

/// Larch find_energy_step on a strictly ascending array (NaN when the array
/// is too short for its 1 % trimming, as in Larch; callers clamp).
inline double find_energy_step(const std::vector<double>& en, double frac_ignore = 0.01, std::size_t nave = 10) {
    const std::size_t m = en.size();
    const auto nskip = static_cast<std::size_t>(frac_ignore * static_cast<double>(m));
    // en[e_ordered] keeps en[0 .. m-2]; then [nskip : -nskip] (empty when nskip == 0)
    if (nskip == 0 || m < 2 + 2 * nskip) return std::numeric_limits<double>::quiet_NaN();
    const std::size_t first = nskip, last = m - 2 - nskip;  // inclusive
    if (last <= first) return std::numeric_limits<double>::quiet_NaN();
    std::vector<double> diff;
    for (std::size_t i = first; i < last; ++i) diff.push_back(en[i + 1] - en[i]);
    std::sort(diff.begin(), diff.end());
    if (nskip >= diff.size()) return std::numeric_limits<double>::quiet_NaN();
    const std::size_t stop = std::min(diff.size(), nskip + nave);
    double s = 0.0;
    for (std::size_t i = nskip; i < stop; ++i) s += diff[i];
    return s / static_cast<double>(stop - nskip);
}

/// Larch smooth(x, y, sigma, xstep) with its default Lorentzian window and
/// 5-point padding, evaluated at the points x: y is put on a uniform grid
/// (np.interp), convolved (reflected ends), interpolated back linearly.
/// Only the grid points that the final interpolation reads are convolved.
inline std::vector<double> larch_smooth_lorentzian(const std::vector<double>& x, const std::vector<double>& y,
                                                   double sigma, double xstep) {
    if (!(xstep >= 1e-12)) throw value_error("find_e0: cannot smooth, energy step is not positive");
    const std::size_t n = x.size();
    const double xmin = xstep * std::trunc((x.front() - 5 * xstep) / xstep);
    const double xmax = xstep * std::trunc((x.back() + 5 * xstep) / xstep);
    const double npts1 = 1.0 + std::trunc(std::abs(xmax - xmin + xstep * 0.1) / xstep);
    const std::size_t npts = static_cast<std::size_t>(std::min(npts1, 50.0 * static_cast<double>(n)));
    if (npts < 2) throw value_error("find_e0: energy range too short to smooth");
    // np.linspace
    std::vector<double> x0(npts);
    const double step = (xmax - xmin) / static_cast<double>(npts - 1);
    for (std::size_t i = 0; i < npts; ++i) x0[i] = static_cast<double>(i) * step + xmin;
    x0[npts - 1] = xmax;
    // np.interp (constant beyond the ends)
    std::vector<double> y0(npts);
    {
        std::size_t j = 0;
        for (std::size_t i = 0; i < npts; ++i) {
            const double v = x0[i];
            if (v <= x.front()) {
                y0[i] = y.front();
            } else if (v >= x.back()) {
                y0[i] = y.back();
            } else {
                while (j + 1 < n && x[j + 1] <= v) ++j;
                const double slope = (y[j + 1] - y[j]) / (x[j + 1] - x[j]);
                y0[i] = slope * (v - x[j]) + y[j];
            }
        }
    }
    // Lorentzian window centred at npts, width in grid units. Larch convolves
    // with the full 2*npts window; beyond `max_half` grid points (reached only
    // when the search spans thousands of points, where Larch's direct
    // convolution is itself impractical) the tails are cut and the window
    // renormalised, which bounds the work (measure before changing).
    constexpr std::size_t max_half = 8192;
    const double s = sigma * (1.0 / xstep);
    const std::size_t m_lo = npts > max_half ? npts - max_half : 0;
    const std::size_t m_hi = std::min(2 * npts - 1, npts + max_half);  // inclusive
    std::vector<double> win(m_hi - m_lo + 1);
    double wsum = 0.0;
    for (std::size_t m = m_lo; m <= m_hi; ++m) {
        const double t = (static_cast<double>(m) - static_cast<double>(npts)) / s;
        win[m - m_lo] = 1.0 / (1.0 + t * t);
        wsum += win[m - m_lo];
    }
    for (double& w : win) w /= wsum;
    // y1 = [y0[npts-1..1], y0, y0[npts-1..0]]; y2[k] = sum_m win[m] y1[k + 2 npts - 1 - m]
    const auto y1 = [&](std::size_t j) -> double {
        if (j + 1 < npts) return y0[npts - 1 - j];
        if (j < 2 * npts - 1) return y0[j - (npts - 1)];
        return y0[3 * npts - 2 - j];
    };
    std::vector<double> cache(npts, std::numeric_limits<double>::quiet_NaN());
    std::vector<char> have(npts, 0);
    const auto y2 = [&](std::size_t k) -> double {
        if (!have[k]) {
            double acc = 0.0;
            for (std::size_t m = m_lo; m <= m_hi; ++m) acc += win[m - m_lo] * y1(k + 2 * npts - 1 - m);
            cache[k] = acc;
            have[k] = 1;
        }
        return cache[k];
    };
    // scipy interp1d(kind='linear'): searchsorted left, clipped to [1, npts-1]
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto it = std::lower_bound(x0.begin(), x0.end(), x[i]);
        std::size_t hi = static_cast<std::size_t>(it - x0.begin());
        hi = std::clamp<std::size_t>(hi, 1, npts - 1);
        const std::size_t lo = hi - 1;
        const double slope = (y2(hi) - y2(lo)) / (x0[hi] - x0[lo]);
        out[i] = slope * (x[i] - x0[lo]) + y2(lo);
    }
    return out;
}

struct E0Candidate {
    double energy;
    std::size_t index;
    double estep;
};

/// Larch _finde0 on ascending energies: the point of largest (optionally
/// smoothed) derivative among runs of >= 3 high-derivative points, away
/// from both ends.
inline E0Candidate finde0_core(const double* energy, const double* mu_in, std::size_t size,
                               std::optional<double> estep_in, bool use_smooth) {
    std::vector<double> en = remove_dups(std::vector<double>(energy, energy + size));
    // Larch keeps the points where argsort steps by one, which drops the last point.
    if (en.size() < 2) throw value_error("find_e0: too few points");
    en.pop_back();
    std::vector<double> mu(mu_in, mu_in + en.size());
    const std::size_t m = en.size();
    const double estep = estep_in ? *estep_in : find_energy_step(en);
    const std::size_t nmin = std::max<std::size_t>(3, static_cast<std::size_t>(static_cast<double>(m) * 0.02));
    if (m <= 2 * nmin) throw value_error("find_e0: too few points (" + std::to_string(size) + ") to locate an edge");

    std::vector<double> dmu = larch_deriv(en.data(), mu.data(), m);
    if (use_smooth) dmu = larch_smooth_lorentzian(en, dmu, estep, estep);
    for (double& v : dmu)
        if (!std::isfinite(v)) v = -1.0;
    double dmin = dmu[nmin], dmax_all = dmu[nmin];
    for (std::size_t i = nmin; i < m - nmin; ++i) {
        dmin = std::min(dmin, dmu[i]);
        dmax_all = std::max(dmax_all, dmu[i]);
    }
    const double ptp = std::max(1e-10, dmax_all - dmin);
    for (double& v : dmu) v = (v - dmin) / ptp;

    double dhigh = m > 20 ? 0.60 : 0.30;
    std::vector<char> high(m, 0);
    const auto mark = [&]() {
        std::size_t count = 0;
        for (std::size_t i = 0; i < m; ++i) {
            high[i] = dmu[i] > dhigh;
            count += static_cast<std::size_t>(high[i]);
        }
        return count;
    };
    std::size_t nhigh = mark();
    if (nhigh < 3) {
        for (int k = 0; k < 2; ++k) {
            if (nhigh > 3) break;
            dhigh *= 0.5;
            nhigh = mark();
        }
    }
    if (nhigh < 3) std::fill(high.begin(), high.end(), 1);

    std::size_t imax = 0;
    double dmax = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        if (!high[i]) continue;
        if (i < nmin || i > m - nmin) continue;
        const bool next = i + 1 < m && high[i + 1];
        const bool prev = i >= 1 && high[i - 1];
        if (dmu[i] > dmax && next && prev) {
            imax = i;
            dmax = dmu[i];
        }
    }
    return {en[imax], imax, estep};
}

inline void require_ascending(span<const double> energy, const std::string& what) {
    for (std::size_t i = 1; i < energy.size(); ++i)
        if (energy[i] < energy[i - 1])
            throw value_error(what + ": energies must be ascending (index " + std::to_string(i) + ")");
}

/// Robust noise level of mu: 1.4826 MAD of second differences / sqrt(6)
/// (white noise of standard deviation s gives second differences of
/// standard deviation s sqrt(6)); the edge and EXAFS wiggles are outliers.
inline double noise_sigma(const double* mu, std::size_t n) {
    if (n < 3) return 0.0;
    std::vector<double> d2(n - 2);
    for (std::size_t i = 0; i + 2 < n; ++i) d2[i] = mu[i] - 2 * mu[i + 1] + mu[i + 2];
    const auto median = [](std::vector<double> v) {
        const std::size_t h = v.size() / 2;
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
        double med = v[h];
        if (v.size() % 2 == 0) med = 0.5 * (med + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h)));
        return med;
    };
    const double med = median(d2);
    for (double& v : d2) v = std::abs(v - med);
    return 1.4826 * median(d2) / std::sqrt(6.0);
}

}  // namespace detail

/// Edge energy e0 (eV) as Larch's find_e0: the largest derivative of mu(E),
/// first unsmoothed, then refined on +-75 points with a Lorentzian-smoothed
/// derivative; an edge found in the first 5 % of the points is treated as
/// a glitch (the search then starts 20 points before it, as Larch does).
/// energy ascending (near-duplicates are separated by 0.5 meV as Larch
/// does), both finite, same size. Throws value_error (non-finite, unsorted,
/// too few points: the refinement needs about 14 points around the edge),
/// shape_error (sizes differ), no_edge_error (mu is constant).
/// It does not judge whether the edge is real; pre_edge does.
inline double find_e0(span<const double> energy, span<const double> mu) {
    if (energy.size() != mu.size()) throw shape_error("find_e0", {energy.size()}, {mu.size()});
    require_not_empty(energy, "find_e0 energy");
    require_finite(energy, "find_e0 energy");
    require_finite(mu, "find_e0 mu");
    detail::require_ascending(energy, "find_e0");
    const auto [lo, hi] = std::minmax_element(mu.begin(), mu.end());
    if (!(*hi > *lo)) throw no_edge_error("find_e0: mu is constant (flat spectrum): no edge");
    const std::vector<double> e = detail::remove_dups(std::vector<double>(energy.begin(), energy.end()));
    const std::size_t n = e.size();
    const auto first = detail::finde0_core(e.data(), mu.data(), n, std::nullopt, false);
    double e1 = first.energy;
    const auto ie0 = static_cast<std::ptrdiff_t>(first.index);
    const auto sn = static_cast<std::ptrdiff_t>(n);
    std::ptrdiff_t istart = std::max<std::ptrdiff_t>(3, ie0 - 75);
    std::ptrdiff_t istop = std::min<std::ptrdiff_t>(ie0 + 75, sn - 3);
    if (static_cast<double>(ie0) < 0.05 * static_cast<double>(n)) {
        e1 = std::accumulate(e.begin(), e.end(), 0.0) / static_cast<double>(n);
        istart = std::max<std::ptrdiff_t>(3, ie0 - 20);
        istop = sn - 3;
    }
    // Python min(1.0, nan) is 1.0: a NaN first step falls back to 1 eV.
    const auto clamp01 = [](double v) {
        const double m = v < 1.0 ? v : 1.0;
        return m > 0.01 ? m : 0.01;
    };
    const double estep = 0.5 * (clamp01(first.estep) + clamp01(e1 / 25000.0));
    if (istop - istart < 2) throw value_error("find_e0: too few points around the edge");
    const auto span_n = static_cast<std::size_t>(istop - istart);
    const auto fine =
        detail::finde0_core(e.data() + istart, mu.data() + istart, span_n, estep, true);
    if (fine.index < 1) return e[static_cast<std::size_t>(istart) + 2];
    return fine.energy;
}

/// find_e0 on a spectrum (any scalar type; computed in double).
template <class T>
double find_e0(const grid::SpectrumView<T>& s) {
    const auto e = s.axis->energies();
    const std::vector<double> mu(s.values.begin(), s.values.end());
    return find_e0(span<const double>(e), span<const double>(mu));
}

/// Edge position (eV) in [lo, hi] as the maximum of the Savitzky-Golay first
/// derivative (window `window` channels, quadratic), refined by a parabola:
/// the inflection of the rising edge. NaN when the window holds NaN/Inf.
/// Throws range_error for a window outside the axis or narrower than `window`.
template <class T>
double find_edge_onset(const grid::Spectrum<T>& s, double lo, double hi, std::size_t window = 7) {
    numeric::require_window_inside(s.axis(), lo, hi, "find_edge_onset");
    const auto [i1, i2] = numeric::hyperspy_value_range_to_indices(s.axis(), lo, hi);
    const std::size_t m = i2 - i1 + 1;
    if (window % 2 == 0 || window < 3 || m < window)
        throw range_error("find_edge_onset: the window must hold at least `window` (odd, >= 3) channels");
    for (std::size_t i = i1; i <= i2; ++i)
        if (!std::isfinite(static_cast<double>(s[i]))) return std::numeric_limits<double>::quiet_NaN();
    std::vector<double> d(m);
    numeric::savgol_filter(s.values().data() + i1, m, window, 2, 1, 1.0, d.data());
    const std::size_t b = static_cast<std::size_t>(std::max_element(d.begin(), d.end()) - d.begin());
    double frac = 0.0;
    if (b > 0 && b + 1 < m) {
        const double den = d[b - 1] - 2 * d[b] + d[b + 1];
        if (den < 0) frac = std::clamp(0.5 * (d[b - 1] - d[b + 1]) / den, -0.5, 0.5);
    }
    const std::size_t j = i1 + b;
    const double h = frac >= 0 ? (j + 1 < s.size() ? s.axis().energy(j + 1) - s.axis().energy(j) : 0.0)
                               : s.axis().energy(j) - s.axis().energy(j - 1);
    return s.axis().energy(j) + frac * h;
}

}  // namespace corespec::prep
