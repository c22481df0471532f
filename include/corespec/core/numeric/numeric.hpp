// corespec/core/numeric/numeric.hpp - small numerical pieces the EELS steps share:
// a dense solver for tiny systems, Savitzky-Golay weights and filter (SciPy's
// savgol_filter, mode='interp'; also behind prep::SavitzkyGolay), Simpson's
// rule (SciPy's simps, even='avg'), the roots of an interpolating cubic spline
// (FITPACK s=0, i.e. not-a-knot), and SciPy's next_fast_len.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::numeric {

/// Gaussian elimination with partial pivoting on a small dense m x m system
/// (row-major `a`). Returns false when singular.
inline bool solve_dense(std::vector<double> a, std::vector<double> b, std::vector<double>& x, std::size_t m) {
    x.assign(m, 0.0);
    for (std::size_t c = 0; c < m; ++c) {
        std::size_t piv = c;
        for (std::size_t r = c + 1; r < m; ++r)
            if (std::abs(a[r * m + c]) > std::abs(a[piv * m + c])) piv = r;
        if (!(std::abs(a[piv * m + c]) > 0.0)) return false;
        if (piv != c) {
            for (std::size_t k = 0; k < m; ++k) std::swap(a[c * m + k], a[piv * m + k]);
            std::swap(b[c], b[piv]);
        }
        for (std::size_t r = c + 1; r < m; ++r) {
            const double f = a[r * m + c] / a[c * m + c];
            for (std::size_t k = c; k < m; ++k) a[r * m + k] -= f * a[c * m + k];
            b[r] -= f * b[c];
        }
    }
    for (std::size_t r = m; r-- > 0;) {
        double s = b[r];
        for (std::size_t k = r + 1; k < m; ++k) s -= a[r * m + k] * x[k];
        x[r] = s / a[r * m + r];
    }
    return true;
}

/// Savitzky-Golay weights for every sample of a window, row-major window x
/// window: sum_j w[p * window + j] y[j] is the `deriv`-th derivative, per unit
/// sample spacing, at sample p of the least-squares polynomial of degree
/// `order` through y[0..window) (all zero when deriv > order). The one
/// Savitzky-Golay implementation in corespec (SavitzkyGolay and the EELS
/// steps call savgol_filter below).
inline std::vector<double> savgol_weights(std::size_t window, std::size_t order, std::size_t deriv) {
    if (window == 0 || order >= window)
        throw value_error("Savitzky-Golay: polynomial order must be below the window length");
    const std::size_t m = order + 1;
    // V = Q R for the basis u^k, u = (j - c) / s in [-1, 1] (conditioning), by
    // Gram-Schmidt run twice per column (orthogonal to rounding, like SciPy's
    // lstsq; the normal equations would square the condition number).
    const double c = 0.5 * static_cast<double>(window - 1), s = std::max(c, 1.0);
    std::vector<double> q(window * m), r(m * m, 0.0);  // q column-major, r row-major
    for (std::size_t k = 0; k < m; ++k) {
        double* qk = q.data() + k * window;
        for (std::size_t j = 0; j < window; ++j)
            qk[j] = std::pow((static_cast<double>(j) - c) / s, static_cast<double>(k));
        for (int pass = 0; pass < 2; ++pass)
            for (std::size_t i = 0; i < k; ++i) {
                const double* qi = q.data() + i * window;
                double d = 0.0;
                for (std::size_t j = 0; j < window; ++j) d += qi[j] * qk[j];
                r[i * m + k] += d;
                for (std::size_t j = 0; j < window; ++j) qk[j] -= d * qi[j];
            }
        double norm = 0.0;
        for (std::size_t j = 0; j < window; ++j) norm += qk[j] * qk[j];
        norm = std::sqrt(norm);
        r[k * m + k] = norm;
        for (std::size_t j = 0; j < window; ++j) qk[j] /= norm;
    }
    // Row p = Q z with R^T z = e, e_k = d^deriv/dj^deriv u^k at sample p.
    std::vector<double> w(window * window, 0.0), e(m), z(m);
    for (std::size_t p = 0; p < window; ++p) {
        const double u = (static_cast<double>(p) - c) / s;
        for (std::size_t k = 0; k < m; ++k) {
            double f = k >= deriv ? std::pow(u, static_cast<double>(k - deriv)) : 0.0;
            for (std::size_t i = 0; i < deriv && k >= deriv; ++i) f *= static_cast<double>(k - i) / s;
            e[k] = f;
        }
        for (std::size_t k = 0; k < m; ++k) {
            double v = e[k];
            for (std::size_t i = 0; i < k; ++i) v -= r[i * m + k] * z[i];
            z[k] = v / r[k * m + k];
        }
        for (std::size_t k = 0; k < m; ++k)
            for (std::size_t j = 0; j < window; ++j) w[p * window + j] += q[k * window + j] * z[k];
    }
    return w;
}

/// SciPy savgol_filter(y, window, order, deriv, delta, mode='interp') into
/// out[0..n): the centred window inside, the polynomial fitted to the first /
/// last window for the window/2 samples at each end. No finiteness check: a
/// NaN/Inf spreads to the outputs whose window holds it (callers turn that
/// into a per-pixel status or reject it). Throws value_error unless the
/// window is odd and <= n and order < window.
template <class T, class U>
void savgol_filter(const T* y, std::size_t n, std::size_t window, std::size_t order, std::size_t deriv, double delta,
                   U* out) {
    if (window % 2 == 0 || window > n) throw value_error("Savitzky-Golay: window must be odd and <= the data length");
    const auto w = savgol_weights(window, order, deriv);
    const std::size_t half = window / 2;
    const double scale = 1.0 / std::pow(delta, static_cast<double>(deriv));
    const auto apply = [&](std::size_t row, std::size_t start) {
        const double* wr = w.data() + row * window;
        double acc = 0.0;
        for (std::size_t j = 0; j < window; ++j) acc += wr[j] * static_cast<double>(y[start + j]);
        return static_cast<U>(acc * scale);
    };
    for (std::size_t i = half; i + half < n; ++i) out[i] = apply(half, i - half);
    for (std::size_t p = 0; p < half; ++p) {
        out[p] = apply(p, 0);
        out[n - half + p] = apply(window - half + p, n - window);
    }
}

/// SciPy's simps(y, x) (even='avg') over samples [0, m) given x(i), f(i).
template <class X, class F>
double simpson(std::size_t m, X&& x, F&& f) {
    if (m < 2) return 0.0;
    auto odd = [&](std::size_t s, std::size_t e) {  // s..e inclusive, e - s even
        double acc = 0.0;
        for (std::size_t i = s; i + 2 <= e; i += 2) {
            const double h0 = x(i + 1) - x(i), h1 = x(i + 2) - x(i + 1);
            const double hs = h0 + h1, hp = h0 * h1, hd = h0 / h1;
            acc += hs / 6.0 * (f(i) * (2.0 - 1.0 / hd) + f(i + 1) * hs * hs / hp + f(i + 2) * (2.0 - hd));
        }
        return acc;
    };
    if (m % 2 == 1) return odd(0, m - 1);
    const double first = odd(0, m - 2) + 0.5 * (x(m - 1) - x(m - 2)) * (f(m - 1) + f(m - 2));
    const double last = odd(1, m - 1) + 0.5 * (x(1) - x(0)) * (f(0) + f(1));
    return 0.5 * (first + last);
}

/// Second derivatives of the not-a-knot cubic spline through (x, y) - the
/// spline FITPACK returns for s = 0 (knots at x[2..n-3]). Requires n >= 4.
inline std::vector<double> not_a_knot_second_derivatives(const std::vector<double>& x, const std::vector<double>& y) {
    const std::size_t n = x.size();
    std::vector<double> h(n - 1), d(n - 1);
    for (std::size_t i = 0; i + 1 < n; ++i) {
        h[i] = x[i + 1] - x[i];
        d[i] = (y[i + 1] - y[i]) / h[i];
    }
    // Unknowns M1..M_{n-2}; M0 and M_{n-1} eliminated with the not-a-knot conditions.
    const std::size_t k = n - 2;
    std::vector<double> lo(k, 0.0), di(k, 0.0), up(k, 0.0), rhs(k, 0.0);
    for (std::size_t j = 0; j < k; ++j) {
        const std::size_t i = j + 1;
        lo[j] = h[i - 1];
        di[j] = 2.0 * (h[i - 1] + h[i]);
        up[j] = h[i];
        rhs[j] = 6.0 * (d[i] - d[i - 1]);
    }
    // M0 = (1 + h0/h1) M1 - (h0/h1) M2
    di[0] += h[0] * (1.0 + h[0] / h[1]);
    up[0] -= h[0] * h[0] / h[1];
    // M_{n-1} = (1 + h_{n-2}/h_{n-3}) M_{n-2} - (h_{n-2}/h_{n-3}) M_{n-3}
    const double a = h[n - 2], b = h[n - 3];
    di[k - 1] += a * (1.0 + a / b);
    lo[k - 1] -= a * a / b;
    std::vector<double> m(n, 0.0);
    if (k == 1) {
        m[1] = rhs[0] / (di[0]);
    } else {
        // Thomas algorithm (uniform spacing keeps it diagonally dominant but for the ends).
        for (std::size_t j = 1; j < k; ++j) {
            const double w = lo[j] / di[j - 1];
            di[j] -= w * up[j - 1];
            rhs[j] -= w * rhs[j - 1];
        }
        m[k] = rhs[k - 1] / di[k - 1];
        for (std::size_t j = k - 1; j-- > 0;) m[j + 1] = (rhs[j] - up[j] * m[j + 2]) / di[j];
    }
    m[0] = (1.0 + h[0] / h[1]) * m[1] - (h[0] / h[1]) * m[2];
    m[n - 1] = (1.0 + a / b) * m[n - 2] - (a / b) * m[n - 3];
    return m;
}

/// Roots of the not-a-knot cubic spline through (x, y) where y changes sign
/// between samples (one root per sign change, by bisection on the cubic).
inline std::vector<double> spline_roots(const std::vector<double>& x, const std::vector<double>& y) {
    std::vector<double> roots;
    const std::size_t n = x.size();
    if (n < 4) return roots;
    const auto m = not_a_knot_second_derivatives(x, y);
    auto s = [&](std::size_t i, double t) {
        const double h = x[i + 1] - x[i], u = x[i + 1] - t, v = t - x[i];
        return m[i] * u * u * u / (6.0 * h) + m[i + 1] * v * v * v / (6.0 * h) + (y[i] / h - m[i] * h / 6.0) * u +
               (y[i + 1] / h - m[i + 1] * h / 6.0) * v;
    };
    for (std::size_t i = 0; i + 1 < n; ++i) {
        if (y[i] == 0.0) {
            roots.push_back(x[i]);
            continue;
        }
        if (!((y[i] < 0.0) != (y[i + 1] < 0.0)) || y[i + 1] == 0.0) continue;
        double a = x[i], b = x[i + 1], fa = y[i];
        for (int it = 0; it < 100 && b - a > 1e-15 * std::max(1.0, std::abs(a)); ++it) {
            const double c = 0.5 * (a + b), fc = s(i, c);
            if ((fc < 0.0) == (fa < 0.0)) {
                a = c;
                fa = fc;
            } else {
                b = c;
            }
        }
        roots.push_back(0.5 * (a + b));
    }
    if (y[n - 1] == 0.0) roots.push_back(x[n - 1]);
    return roots;
}

/// SciPy's scipy.fft.next_fast_len: the smallest n >= target whose prime
/// factors are 2, 3, 5 (real = true) or 2, 3, 5, 7, 11 (real = false).
inline std::size_t next_fast_len(std::size_t target, bool real) {
    if (target <= 6) return target;
    for (std::size_t n = target;; ++n) {
        std::size_t r = n;
        for (std::size_t p : {2u, 3u, 5u, 7u, 11u}) {
            if (real && p > 5) break;
            while (r % p == 0) r /= p;
        }
        if (r == 1) return n;
    }
}

}  // namespace corespec::numeric
