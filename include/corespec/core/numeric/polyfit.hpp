// corespec/core/numeric/polyfit.hpp - least-squares polynomial fits through Eigen.
//
// Shared numerics of prep/ and align/ (xas_normalize, smoothing); keeps Eigen
// out of every header that does not include this one.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "corespec/core/error.hpp"

namespace corespec::numeric {

/// Least-squares polynomial of degree `deg` through (x[i], y[i]), i < n;
/// returns the power-basis coefficients c0 + c1 x + ... (lowest first).
/// Like numpy.polynomial.Polynomial.fit(...).convert(): x is mapped to
/// [-1, 1] before the fit (conditioning), the coefficients are mapped back.
/// Throws value_error when there are fewer distinct x than coefficients.
inline std::vector<double> polyfit(const double* x, const double* y, std::size_t n, int deg,
                                   const std::string& what = "polyfit") {
    if (deg < 0) throw value_error(what + ": negative polynomial degree");
    const std::size_t ncoef = static_cast<std::size_t>(deg) + 1;
    if (n < ncoef)
        throw value_error(what + ": too few points (" + std::to_string(n) + ") for a polynomial of degree " +
                          std::to_string(deg));
    double lo = x[0], hi = x[0];
    for (std::size_t i = 1; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    if (deg == 0) {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += y[i];
        return {s / static_cast<double>(n)};
    }
    if (!(hi > lo)) throw value_error(what + ": all x values are equal; cannot fit degree " + std::to_string(deg));
    const double scl = 2.0 / (hi - lo);
    const double off = -(hi + lo) / (hi - lo);

    Eigen::MatrixXd a(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(ncoef));
    Eigen::VectorXd b(static_cast<Eigen::Index>(n));
    for (std::size_t i = 0; i < n; ++i) {
        const double t = off + scl * x[i];
        double p = 1.0;
        for (std::size_t k = 0; k < ncoef; ++k) {
            a(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) = p;
            p *= t;
        }
        b(static_cast<Eigen::Index>(i)) = y[i];
    }
    // Column scaling as numpy's lstsq path does; then a rank-revealing QR.
    Eigen::VectorXd norms = a.colwise().norm().transpose();
    for (Eigen::Index k = 0; k < norms.size(); ++k)
        if (norms(k) == 0.0) norms(k) = 1.0;
    const Eigen::MatrixXd as = a * norms.cwiseInverse().asDiagonal();
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(as);
    if (qr.rank() < static_cast<Eigen::Index>(ncoef))
        throw value_error(what + ": too few distinct points for a polynomial of degree " + std::to_string(deg));
    const Eigen::VectorXd cs = qr.solve(b).cwiseQuotient(norms);

    // Expand sum_k c_k (off + scl x)^k into powers of x.
    std::vector<double> out(ncoef, 0.0);
    for (std::size_t k = 0; k < ncoef; ++k) {
        double binom = 1.0;  // C(k, j)
        for (std::size_t j = 0; j <= k; ++j) {
            out[j] += cs(static_cast<Eigen::Index>(k)) * binom * std::pow(off, static_cast<double>(k - j)) *
                      std::pow(scl, static_cast<double>(j));
            binom = binom * static_cast<double>(k - j) / static_cast<double>(j + 1);
        }
    }
    return out;
}

/// Value of the power-basis polynomial `c` at x (Horner).
inline double polyval(const std::vector<double>& c, double x) noexcept {
    double v = 0.0;
    for (std::size_t k = c.size(); k-- > 0;) v = v * x + c[k];
    return v;
}

}  // namespace corespec::numeric
