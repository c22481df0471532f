// corespec/prep/broadening.hpp - Gaussian, Lorentzian, Voigt and
// energy-dependent broadening of simulated spectra (instrument resolution,
// core-hole lifetime, final-state lifetime growing with energy).
//
//   Broaden b;  b.sigma = 0.2;  b.lorentz_fwhm = 0.89;     // Voigt
//   b.lorentz_slope = 1.0 / 40;  b.lorentz_onset = e_fermi;  // FWHM grows above E_F
//   auto out = b(x_in, y_in, x_out);
//
// out(x) = sum_i K_i(x - (x_i + shift)) * w_i * y_i (* (x_i + shift) when
// weight_by_energy), with K_i the area-normalised line shape whose
// Lorentzian FWHM is taken at the input energy x_i + shift, and w_i the
// quadrature weight of input point i (trapezoid by default; Lightshow's
// uniform (x_last - x_first) / n on request). Input and output grids may be
// uniform or not, and need not coincide.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <string>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"

namespace corespec::prep {

namespace detail {

inline constexpr double pi = 3.14159265358979323846;

/// Coefficients of Weideman's rational approximation of the Faddeeva
/// function (J.A.C. Weideman, SIAM J. Numer. Anal. 31 (1994) 1497), N = 32.
struct FaddeevaCoefficients {
    static constexpr int n = 32;
    double l;
    std::array<double, n> a;  // p(Z) = sum_{m=1..n} a[m-1] Z^(m-1)
    FaddeevaCoefficients() : l(std::sqrt(n / std::sqrt(2.0))), a{} {
        const int m = 2 * n;
        // f_k = exp(-t^2)(L^2 + t^2), t = L tan(k pi / (2M)), k = -M+1..M-1 (f_{-M} = 0)
        std::array<double, 2 * 2 * n> f{};
        for (int k = -m + 1; k <= m - 1; ++k) {
            const double t = l * std::tan(k * pi / m / 2.0);
            f[static_cast<std::size_t>(k + m)] = std::exp(-t * t) * (l * l + t * t);
        }
        for (int j = 1; j <= n; ++j) {
            double s = 0.0;
            for (int k = -m + 1; k <= m - 1; ++k) s += f[static_cast<std::size_t>(k + m)] * std::cos(pi * k * j / m);
            a[static_cast<std::size_t>(j - 1)] = s / (2.0 * m);
        }
    }
};

/// The Faddeeva function w(z) = exp(-z^2) erfc(-i z) for Im z >= 0.
inline std::complex<double> faddeeva(std::complex<double> z) {
    static const FaddeevaCoefficients c;
    const std::complex<double> i(0.0, 1.0);
    const std::complex<double> lz = c.l - i * z;
    const std::complex<double> big_z = (c.l + i * z) / lz;
    std::complex<double> p = 0.0;
    for (int m = FaddeevaCoefficients::n; m-- > 0;) p = p * big_z + c.a[static_cast<std::size_t>(m)];
    return 2.0 * p / (lz * lz) + (1.0 / std::sqrt(pi)) / lz;
}

}  // namespace detail

/// Area-normalised Gaussian of standard deviation sigma > 0 (eV).
inline double gaussian_profile(double x, double sigma) noexcept {
    const double t = x / sigma;
    return std::exp(-0.5 * t * t) / (sigma * std::sqrt(2.0 * detail::pi));
}

/// Area-normalised Lorentzian (Cauchy) of half width at half maximum gamma > 0.
inline double lorentzian_profile(double x, double gamma) noexcept {
    const double t = x / gamma;
    return 1.0 / (detail::pi * gamma * (1.0 + t * t));
}

/// Voigt profile as scipy.special.voigt_profile(x, sigma, gamma): a
/// Gaussian of standard deviation sigma convolved with a Lorentzian of
/// HWHM gamma (either may be 0, not both).
inline double voigt_profile(double x, double sigma, double gamma) {
    if (sigma == 0.0) return lorentzian_profile(x, gamma);
    if (gamma == 0.0) return gaussian_profile(x, sigma);
    const double s2 = sigma * std::sqrt(2.0);
    const auto w = detail::faddeeva(std::complex<double>(x / s2, gamma / s2));
    return w.real() / (sigma * std::sqrt(2.0 * detail::pi));
}

/// FWHM <-> Gaussian sigma.
inline double fwhm_to_sigma(double fwhm) noexcept { return fwhm / (2.0 * std::sqrt(2.0 * std::log(2.0))); }
inline double sigma_to_fwhm(double sigma) noexcept { return sigma * 2.0 * std::sqrt(2.0 * std::log(2.0)); }

enum class Quadrature {
    trapezoid,     ///< w_i = (x_{i+1} - x_{i-1}) / 2, half intervals at the ends (any grid)
    uniform_mean,  ///< w_i = (x_last - x_first) / n for every point (Lightshow)
};

/// Broadening as a step. Widths in eV. The line shape follows from the
/// widths: sigma only -> Gaussian, Lorentzian only -> Lorentzian, both ->
/// Voigt. Lorentzian FWHM at input energy E (after the shift):
/// lorentz_fwhm + lorentz_slope * max(0, E - lorentz_onset).
struct Broaden {
    double sigma = 0.0;          ///< Gaussian standard deviation (instrument), >= 0
    double lorentz_fwhm = 0.0;   ///< Lorentzian FWHM (core-hole lifetime), >= 0
    double lorentz_slope = 0.0;  ///< d FWHM / dE above lorentz_onset, >= 0 (energy-dependent broadening)
    double lorentz_onset = 0.0;  ///< eV, where the linear growth starts (e.g. the Fermi level)
    double shift = 0.0;          ///< added to the input energies, eV
    bool weight_by_energy = false;  ///< multiply y by the (shifted) input energy (absorption cross-section)
    Quadrature quadrature = Quadrature::trapezoid;

    void validate() const {
        for (double v : {sigma, lorentz_fwhm, lorentz_slope})
            if (!(v >= 0.0) || !std::isfinite(v)) throw value_error("Broaden: widths must be finite and >= 0");
        if (!std::isfinite(lorentz_onset) || !std::isfinite(shift))
            throw value_error("Broaden: onset and shift must be finite");
        if (sigma == 0.0 && lorentz_fwhm == 0.0 && lorentz_slope == 0.0)
            throw value_error("Broaden: no width given (sigma and the Lorentzian FWHM are both 0)");
    }

    /// Broadened values at x_out from samples (x_in, y_in). x_in strictly
    /// increasing with >= 2 points, all finite. Throws value_error,
    /// shape_error; a zero Lorentzian FWHM at some energy with sigma = 0 is
    /// a value_error (a delta function cannot be sampled).
    template <class T>
    std::vector<T> operator()(span<const double> x_in, span<const T> y_in, span<const double> x_out) const {
        validate();
        if (x_in.size() != y_in.size()) throw shape_error("Broaden", {x_in.size()}, {y_in.size()});
        if (x_in.size() < 2) throw value_error("Broaden: need at least 2 input points");
        require_finite(x_in, "Broaden x_in");
        require_finite(y_in, "Broaden y_in");
        require_finite(x_out, "Broaden x_out");
        const std::size_t n = x_in.size();
        for (std::size_t i = 1; i < n; ++i)
            if (!(x_in[i] > x_in[i - 1])) throw value_error("Broaden: x_in must be strictly increasing");
        std::vector<double> xs(n), wy(n), hwhm(n);
        const double uniform_w = (x_in[n - 1] - x_in[0]) / static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) {
            xs[i] = x_in[i] + shift;
            double w = uniform_w;
            if (quadrature == Quadrature::trapezoid)
                w = 0.5 * (x_in[std::min(i + 1, n - 1)] - x_in[i == 0 ? 0 : i - 1]);
            wy[i] = w * static_cast<double>(y_in[i]) * (weight_by_energy ? xs[i] : 1.0);
            hwhm[i] = 0.5 * (lorentz_fwhm + lorentz_slope * std::max(0.0, xs[i] - lorentz_onset));
            if (sigma == 0.0 && hwhm[i] == 0.0)
                throw value_error("Broaden: zero width at input energy " + std::to_string(xs[i]));
        }
        std::vector<T> out(x_out.size());
        for (std::size_t j = 0; j < x_out.size(); ++j) {
            double acc = 0.0;
            for (std::size_t i = 0; i < n; ++i) {
                if (wy[i] == 0.0) continue;
                acc += voigt_profile(x_out[j] - xs[i], sigma, hwhm[i]) * wy[i];
            }
            out[j] = static_cast<T>(acc);
        }
        return out;
    }

    /// A broadened spectrum on `out_axis` (metadata kept).
    template <class T>
    grid::Spectrum<T> operator()(const grid::Spectrum<T>& s, const grid::EnergyAxis& out_axis) const {
        const auto xi = s.axis().energies();
        const auto xo = out_axis.energies();
        auto y = (*this)(span<const double>(xi), span<const T>(s.values()), span<const double>(xo));
        return grid::Spectrum<T>(out_axis, std::move(y), s.metadata());
    }

    /// A broadened spectrum on its own axis.
    template <class T>
    grid::Spectrum<T> operator()(const grid::Spectrum<T>& s) const {
        return (*this)(s, s.axis());
    }
};

}  // namespace corespec::prep
