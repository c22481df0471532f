// corespec/prep/xas_normalize.hpp - XAS edge energy (e0) and pre-edge /
// post-edge normalisation with the semantics of Larch 2026.3.1
// (larch.xafs.pre_edge.find_e0 / pre_edge; see docs/preprocessing.md).
//
//   auto r = corespec::prep::pre_edge(energy, mu);           // Larch defaults
//   PreEdge step; step.params.e0 = 7112; step.params.nnorm = 2;
//   auto s = step(spectrum.view());                           // explicit form
//
// Conventions (Larch's, DOMAIN.md):
//   pre-edge  line  c0 + c1 E fitted to mu E^nvict on [e0+pre1, e0+pre2]
//   post-edge polynomial of degree nnorm fitted to mu - pre on [e0+norm1, e0+norm2)
//   edge_step = post(E[ie0]) - pre(E[ie0]), ie0 = index nearest e0
//   norm = (mu - pre) / edge_step;  flat = norm - (post - pre)/step + same at ie0,
//   for i >= ie0 (flat = norm below).
// Unset parameters are chosen from the data range exactly as Larch does.
//
// Unlike Larch, non-finite input is rejected (value_error) rather than
// silently dropped, energies must be ascending (Larch sorts; sort first),
// and a spectrum without a significant edge throws no_edge_error instead of
// returning a spurious e0.
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
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/prep/detail/polyfit.hpp"

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

/// Parameters of pre_edge; unset ones are chosen as Larch does.
/// Energies in eV; pre1, pre2, norm1, norm2 relative to e0.
struct PreEdgeParams {
    std::optional<double> e0;     ///< edge energy; found by find_e0 when unset or outside [E[1], E[n-2]]
    std::optional<double> step;   ///< fixed edge step; fitted when unset
    std::optional<double> pre1;   ///< default 5*round((E[1]-e0)/5) (2*round(.../2) when ie0 <= 20), >= E[0]-e0
    std::optional<double> pre2;   ///< default pre1/2
    std::optional<double> norm1;  ///< default min(25, 5*round(norm2/15))
    std::optional<double> norm2;  ///< default 5*round((E[n-1]-e0)/5); negative: counted from the end; <= E[n-1]-e0
    std::optional<int> nnorm;     ///< post-edge degree 0..5; default 2 / 1 / 0 for norm2-norm1 >= 300 / >= 30 / less
    int nvict = 0;                ///< pre-edge line fitted to mu*E^nvict
    int npre = 1;                 ///< 1: line, 0: constant pre-edge
    bool make_flat = true;        ///< compute `flat` (else flat = norm)
    /// Required edge_step / noise (noise: robust sigma of mu from second
    /// differences). Below it pre_edge throws no_edge_error. 0 disables.
    double min_edge_snr = 20.0;
};

/// Everything pre_edge determines; arrays are on the input energies.
struct PreEdgeResult {
    double e0 = 0.0;
    std::size_t ie0 = 0;       ///< index nearest e0
    double edge_step = 0.0;
    double edge_snr = 0.0;     ///< edge_step / noise sigma (infinite for noise-free data)
    double pre1 = 0.0, pre2 = 0.0, norm1 = 0.0, norm2 = 0.0;  ///< the values used
    int nnorm = 0, nvict = 0, npre = 1;                       ///< the values used
    double pre_offset = 0.0, pre_slope = 0.0;  ///< pre-edge line (of mu*E^nvict): offset + slope*E
    std::vector<double> norm_coefs;            ///< post-edge polynomial of mu - pre, c0 + c1 E + ...
    std::vector<double> pre_edge, post_edge, norm, flat, dmude;
};

/// Pre-edge subtraction and normalisation (Larch pre_edge). energy ascending
/// eV, mu finite, same size. Throws shape_error, value_error (non-finite,
/// unsorted, too few points for a fit window or the polynomial), and
/// no_edge_error (flat mu, or edge_step below min_edge_snr times the noise,
/// e.g. a scan that stops before the edge).
inline PreEdgeResult pre_edge(span<const double> energy_in, span<const double> mu_in, const PreEdgeParams& p = {}) {
    using detail::index_nearest;
    using detail::index_of;
    using detail::py_round;
    if (energy_in.size() != mu_in.size()) throw shape_error("pre_edge", {energy_in.size()}, {mu_in.size()});
    require_not_empty(energy_in, "pre_edge energy");
    require_finite(energy_in, "pre_edge energy");
    require_finite(mu_in, "pre_edge mu");
    detail::require_ascending(energy_in, "pre_edge");
    if (energy_in.size() < 2) throw value_error("pre_edge: energy array must have at least 2 points");
    {
        const auto [lo, hi] = std::minmax_element(mu_in.begin(), mu_in.end());
        if (!(*hi > *lo)) throw no_edge_error("pre_edge: mu is constant (flat spectrum): no edge");
    }
    for (auto* v : {&p.e0, &p.step, &p.pre1, &p.pre2, &p.norm1, &p.norm2})
        if (*v && !std::isfinite(**v)) throw value_error("pre_edge: non-finite parameter");
    if (p.npre != 0 && p.npre != 1) throw value_error("pre_edge: npre must be 0 or 1");

    const std::vector<double> E = detail::remove_dups(std::vector<double>(energy_in.begin(), energy_in.end()));
    const std::vector<double> mu(mu_in.begin(), mu_in.end());
    const std::size_t n = E.size();
    const double emin = E.front(), emax = E.back();

    PreEdgeResult r;
    double e0;
    if (!p.e0 || *p.e0 < E[1] || *p.e0 > E[n - 2])
        e0 = find_e0(span<const double>(E), span<const double>(mu));
    else
        e0 = *p.e0;
    const std::size_t ie0 = index_nearest(E, e0);

    double pre1;
    if (p.pre1) {
        pre1 = *p.pre1;
    } else if (ie0 > 20) {
        pre1 = 5.0 * py_round((E[1] - e0) / 5.0);
    } else {
        pre1 = 2.0 * py_round((E[1] - e0) / 2.0);
    }
    pre1 = std::max(pre1, emin - e0);
    double pre2 = p.pre2 ? *p.pre2 : 0.5 * pre1;
    if (pre1 > pre2) std::swap(pre1, pre2);
    int nvict = p.nvict, npre = p.npre;
    {
        const auto ipre1 = static_cast<std::ptrdiff_t>(index_of(E, pre1, e0));
        const auto ipre2 = static_cast<std::ptrdiff_t>(index_of(E, pre2, e0));
        if (ipre2 - ipre1 < 3) {
            nvict = 0;
            npre = 0;
        }
    }
    double norm2 = p.norm2 ? *p.norm2 : 5.0 * py_round((emax - e0) / 5.0);
    if (norm2 < 0) norm2 = emax - e0 - norm2;
    norm2 = std::min(norm2, emax - e0);
    double norm1 = p.norm1 ? *p.norm1 : std::min(25.0, 5.0 * py_round(norm2 / 15.0));
    if (norm1 > norm2) std::swap(norm1, norm2);
    norm1 = std::min(norm1, norm2 - 2);
    int nnorm;
    if (p.nnorm) {
        nnorm = *p.nnorm;
    } else {
        nnorm = 2;
        if (norm2 - norm1 < 300) nnorm = 1;
        if (norm2 - norm1 < 30) nnorm = 0;
    }
    nnorm = std::max(std::min(nnorm, 5), 0);

    // pre-edge
    std::vector<double> pre(n);
    {
        auto p1 = static_cast<std::ptrdiff_t>(index_of(E, pre1 + e0));
        auto p2 = static_cast<std::ptrdiff_t>(index_nearest(E, pre2 + e0));
        if (npre == 0) {
            if (p2 == p1) p2 = p2 + 1;
            if (p2 <= p1) throw value_error("pre_edge: empty pre-edge window [e0+pre1, e0+pre2]");
            double s = 0.0;
            for (auto i = p1; i < p2; ++i) s += mu[static_cast<std::size_t>(i)];
            r.pre_offset = s / static_cast<double>(p2 - p1);
            r.pre_slope = 0.0;
            std::fill(pre.begin(), pre.end(), r.pre_offset);
        } else {
            if (p2 - p1 < 2) p2 = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(n), p1 + 2);
            const auto cnt = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, p2 - p1));
            std::vector<double> ex(cnt), mx(cnt);
            for (std::size_t i = 0; i < cnt; ++i) {
                const std::size_t k = static_cast<std::size_t>(p1) + i;
                ex[i] = E[k];
                mx[i] = mu[k] * std::pow(E[k], nvict);
            }
            const auto c = detail::polyfit(ex.data(), mx.data(), cnt, 1, "pre_edge (pre-edge line)");
            r.pre_offset = c[0];
            r.pre_slope = c.size() > 1 ? c[1] : 0.0;
            for (std::size_t i = 0; i < n; ++i) pre[i] = (r.pre_offset + E[i] * r.pre_slope) * std::pow(E[i], -nvict);
        }
    }
    // post-edge
    std::vector<double> post = pre;
    {
        auto p1 = static_cast<std::ptrdiff_t>(index_of(E, norm1 + e0));
        const auto p2 = static_cast<std::ptrdiff_t>(index_nearest(E, norm2 + e0));
        const auto sn = static_cast<std::ptrdiff_t>(n);
        if (p1 > sn - 3) p1 = sn - 3;
        if (p2 - p1 < 2) {
            p1 = p1 - 2;
            nnorm = 0;
        } else if (p2 - p1 < 5) {
            nnorm = std::min(1, nnorm);
        }
        if (p1 < 0 || p2 <= p1)
            throw value_error("pre_edge: too few points in the post-edge window [e0+norm1, e0+norm2]");
        const auto cnt = static_cast<std::size_t>(p2 - p1);
        std::vector<double> ex(cnt), sub(cnt);
        for (std::size_t i = 0; i < cnt; ++i) {
            const std::size_t k = static_cast<std::size_t>(p1) + i;
            ex[i] = E[k];
            sub[i] = mu[k] - pre[k];
        }
        r.norm_coefs = detail::polyfit(ex.data(), sub.data(), cnt, nnorm, "pre_edge (post-edge polynomial)");
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < r.norm_coefs.size(); ++k)
                post[i] += r.norm_coefs[k] * std::pow(E[i], static_cast<double>(k));
    }
    double step = p.step ? *p.step : post[ie0] - pre[ie0];
    const double noise = detail::noise_sigma(mu.data(), n);
    r.edge_snr = noise > 0 ? std::abs(step) / noise : std::numeric_limits<double>::infinity();
    if (!p.step && p.min_edge_snr > 0 && !(r.edge_snr >= p.min_edge_snr))
        throw no_edge_error("pre_edge: no significant edge in range (edge step " + std::to_string(step) + " is " +
                            std::to_string(r.edge_snr) + " x the noise, below " + std::to_string(p.min_edge_snr) +
                            "; e0 candidate " + std::to_string(e0) + " eV)");
    step = std::max(1e-12, std::abs(step));

    r.e0 = e0;
    r.ie0 = ie0;
    r.edge_step = step;
    r.pre1 = pre1;
    r.pre2 = pre2;
    r.norm1 = norm1;
    r.norm2 = norm2;
    r.nnorm = nnorm;
    r.nvict = nvict;
    r.npre = npre;
    r.norm.resize(n);
    for (std::size_t i = 0; i < n; ++i) r.norm[i] = (mu[i] - pre[i]) / step;
    r.flat = r.norm;
    if (p.make_flat) {
        const double at_e0 = (post[ie0] - pre[ie0]) / step;
        for (std::size_t i = ie0; i < n; ++i) r.flat[i] = r.norm[i] - (post[i] - pre[i]) / step + at_e0;
    }
    r.dmude = detail::larch_deriv(E.data(), r.norm.data(), n);
    r.pre_edge = std::move(pre);
    r.post_edge = std::move(post);
    return r;
}

/// pre_edge of any scalar type (computed in double).
template <class T>
PreEdgeResult pre_edge(span<const double> energy, span<const T> mu, const PreEdgeParams& p = {}) {
    const std::vector<double> m(mu.begin(), mu.end());
    return pre_edge(energy, span<const double>(m), p);
}

/// Outcome of pre_edge for one spectrum of many.
enum class EdgeStatus : unsigned char {
    ok = 0,
    non_finite,  ///< NaN or Inf in mu
    no_edge,     ///< flat, or no significant edge (no_edge_error)
    bad_window,  ///< too few points for a fit window or the polynomial
};

inline const char* to_string(EdgeStatus s) noexcept {
    switch (s) {
        case EdgeStatus::ok: return "ok";
        case EdgeStatus::non_finite: return "non-finite input";
        case EdgeStatus::no_edge: return "no edge";
        case EdgeStatus::bad_window: return "too few points for a fit window";
    }
    return "unknown";
}

/// What to write back into each spectrum of a block.
enum class PreEdgeOutput { norm, flat, none };

/// Per-spectrum results of pre_edge over many spectra (NaN where not ok).
struct PreEdgeBatch {
    std::vector<EdgeStatus> status;
    std::vector<double> e0, edge_step;
};

/// The normalisation as a step: parameters plus one call on a spectrum view.
struct PreEdge {
    PreEdgeParams params;
    PreEdgeOutput output = PreEdgeOutput::norm;  ///< for apply_block / apply_image

    /// pre_edge on every spectrum of a contiguous block (pixel-major,
    /// axis.size() channels each), replacing each one that succeeds by its
    /// norm or flat (`output`); the others are left unchanged and get a
    /// status. Throws only shape_error (block not a multiple of the axis).
    template <class T>
    PreEdgeBatch apply_block(span<T> block, const grid::EnergyAxis& axis) const {
        const std::size_t c = axis.size();
        if (c == 0 || block.size() % c != 0) throw shape_error("PreEdge::apply_block", {c}, {block.size()});
        const auto e = axis.energies();
        return apply_block(block, span<const double>(e));
    }

    /// apply_block given the axis energies (computed once by the caller, not
    /// per spectrum). Throws shape_error (block not a multiple of energy.size()).
    template <class T>
    PreEdgeBatch apply_block(span<T> block, span<const double> e) const {
        const std::size_t c = e.size();
        if (c == 0 || block.size() % c != 0) throw shape_error("PreEdge::apply_block", {c}, {block.size()});
        const std::size_t np = block.size() / c;
        PreEdgeBatch b{std::vector<EdgeStatus>(np, EdgeStatus::ok),
                       std::vector<double>(np, std::numeric_limits<double>::quiet_NaN()),
                       std::vector<double>(np, std::numeric_limits<double>::quiet_NaN())};
        std::vector<double> mu(c);
        for (std::size_t p = 0; p < np; ++p) {
            auto px = block.subspan(p * c, c);
            bool finite = true;
            for (std::size_t i = 0; i < c; ++i) {
                mu[i] = static_cast<double>(px[i]);
                finite = finite && std::isfinite(mu[i]);
            }
            if (!finite) {
                b.status[p] = EdgeStatus::non_finite;
                continue;
            }
            try {
                const auto r = pre_edge(e, span<const double>(mu), params);
                b.e0[p] = r.e0;
                b.edge_step[p] = r.edge_step;
                if (output != PreEdgeOutput::none) {
                    const auto& src = output == PreEdgeOutput::norm ? r.norm : r.flat;
                    for (std::size_t i = 0; i < c; ++i) px[i] = static_cast<T>(src[i]);
                }
            } catch (const no_edge_error&) {
                b.status[p] = EdgeStatus::no_edge;
            } catch (const value_error&) {
                b.status[p] = EdgeStatus::bad_window;
            }
        }
        return b;
    }

    /// apply_block on every pixel of a spectrum image (grid::SpectrumImage or
    /// anything with pixel_count() and pixel(i) views).
    template <class Image>
    auto apply_image(Image& image) const -> decltype(image.pixel_count(), PreEdgeBatch()) {
        PreEdgeBatch all;
        if (image.pixel_count() == 0) return all;
        const auto e = image.pixel(0).axis->energies();  // once, not per pixel
        for (std::size_t p = 0; p < image.pixel_count(); ++p) {
            auto v = image.pixel(p);
            const auto one = apply_block(v.values, span<const double>(e));
            all.status.push_back(one.status[0]);
            all.e0.push_back(one.e0[0]);
            all.edge_step.push_back(one.edge_step[0]);
        }
        return all;
    }

    template <class T>
    PreEdgeResult operator()(const grid::SpectrumView<T>& s) const {
        const auto e = s.axis->energies();
        const std::vector<double> mu(s.values.begin(), s.values.end());
        return pre_edge(span<const double>(e), span<const double>(mu), params);
    }
    PreEdgeResult operator()(span<const double> energy, span<const double> mu) const {
        return pre_edge(energy, mu, params);
    }
};

}  // namespace corespec::prep
