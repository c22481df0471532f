// corespec/synth/xas_edge.hpp - physics-motivated synthetic K-edge spectra.
//
// The embedded default data of the examples: a K-edge XANES modelled as an
// arctangent edge step (core-hole lifetime broadened continuum onset), a
// Lorentzian white line just above the edge, a weak pre-edge peak, a linear
// pre-edge background and a damped oscillation (EXAFS-like) above the edge.
// Deterministic for a given seed, so examples and tests are reproducible.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "corespec/grid/spectrum.hpp"

namespace corespec::synth {

struct XasEdgeParameters {
    double e0 = 8333.0;          ///< edge energy, eV (Ni K)
    double edge_step = 1.0;      ///< jump of the absorption at the edge
    double core_hole_width = 1.4;///< arctan width (Lorentzian FWHM of the core hole), eV
    double white_line = 0.6;     ///< white-line height relative to the step
    double white_line_offset = 6.0; ///< eV above e0
    double white_line_width = 4.0;  ///< Lorentzian FWHM, eV
    double pre_edge_peak = 0.05; ///< 1s->3d pre-edge peak height
    double pre_edge_offset = -8.0;
    double background_slope = -2e-4; ///< per eV, below and above the edge
    double background_offset = 0.2;
    double oscillation = 0.08;   ///< EXAFS-like amplitude
    double noise = 0.0;          ///< Gaussian noise standard deviation
};

/// mu(E) of a synthetic K edge sampled at the energies of `axis`.
inline grid::Spectrum<double> xas_edge(const grid::EnergyAxis& axis, const XasEdgeParameters& p = {},
                                       std::uint32_t seed = 1) {
    constexpr double pi = 3.14159265358979323846;
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, p.noise > 0.0 ? p.noise : 1.0);
    grid::Metadata meta;
    meta.technique = grid::Technique::xas;
    meta.signal_units = "mu";
    meta.source = "corespec::synth::xas_edge";
    std::vector<double> mu(axis.size());
    const auto lorentz = [](double x, double fwhm) { return 1.0 / (1.0 + 4.0 * x * x / (fwhm * fwhm)); };
    for (std::size_t i = 0; i < axis.size(); ++i) {
        const double e = axis.energy(i), de = e - p.e0;
        double v = p.background_offset + p.background_slope * de;
        v += p.edge_step * (0.5 + std::atan(2.0 * de / p.core_hole_width) / pi);
        v += p.edge_step * p.white_line * lorentz(de - p.white_line_offset, p.white_line_width);
        v += p.edge_step * p.pre_edge_peak * lorentz(de - p.pre_edge_offset, 1.5);
        if (de > 10.0) {
            const double k = std::sqrt(0.2625 * de);  // photoelectron wavenumber, 1/Angstrom
            v += p.edge_step * p.oscillation * std::sin(2.0 * 2.5 * k) * std::exp(-2.0 * 0.005 * k * k) / k;
        }
        if (p.noise > 0.0) v += noise(rng) * p.noise;
        mu[i] = v;
    }
    return grid::Spectrum<double>(axis, std::move(mu), std::move(meta));
}

}  // namespace corespec::synth
