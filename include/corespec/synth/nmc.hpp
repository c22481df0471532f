// corespec/synth/nmc.hpp - synthetic multimodal spectra of NMC-like layered
// oxides (Li_l Ni_x Mn_y Co_z O_2(1-d), x + y + z = 1), the embedded default
// data of the fusion examples.
//
//   auto set = synth::nmc_samples(1000, 7);          // seeded, deterministic
//   set[0].structure.valence_ni;                     // charge balance
//   set[0].spectra[0];                               // O K (EELS), own raw axis
//   synth::nmc_labels(set[0].structure);             // targets by name
//
// A stand-in for ab initio data, not a simulation: each edge is a sum of
// analytic lines and steps whose positions and weights follow trends from the
// literature (edge shift with valence, L3/L2 ratio and white-line area with
// 3d occupancy, O K pre-peak with TM-O holes, ...). docs/synthetic.md lists
// every assumption. Seven edges: O K, Mn/Co/Ni L2,3 (EELS-like counts with
// Poisson noise on a 0.1 eV camera axis) and Mn/Co/Ni K (XAS-like mu with
// Gaussian noise on a beamline scan axis: coarse pre-edge, fine XANES, k steps).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/prep/broadening.hpp"
#include "corespec/synth/random.hpp"

namespace corespec::synth {

/// The seven edges, in the order nmc_sample() returns them.
enum class NmcEdge : std::size_t { o_k, mn_l23, co_l23, ni_l23, mn_k, co_k, ni_k };

struct NmcEdgeInfo {
    NmcEdge id;
    const char* name;     ///< modality name, e.g. "Ni_L23"
    const char* element;  ///< "Ni"
    const char* edge;     ///< "K" or "L23"
    grid::Technique technique;
};

inline constexpr std::array<NmcEdgeInfo, 7> nmc_edges{{
    {NmcEdge::o_k, "O_K", "O", "K", grid::Technique::eels},
    {NmcEdge::mn_l23, "Mn_L23", "Mn", "L23", grid::Technique::eels},
    {NmcEdge::co_l23, "Co_L23", "Co", "L23", grid::Technique::eels},
    {NmcEdge::ni_l23, "Ni_L23", "Ni", "L23", grid::Technique::eels},
    {NmcEdge::mn_k, "Mn_K", "Mn", "K", grid::Technique::xas},
    {NmcEdge::co_k, "Co_K", "Co", "K", grid::Technique::xas},
    {NmcEdge::ni_k, "Ni_K", "Ni", "K", grid::Technique::xas},
}};

inline const NmcEdgeInfo& nmc_edge_info(NmcEdge e) noexcept { return nmc_edges[static_cast<std::size_t>(e)]; }

/// A local structure and the valences charge balance gives it.
struct NmcStructure {
    double ni = 1.0 / 3, mn = 1.0 / 3, co = 1.0 / 3;  ///< TM fractions (all TM sites, both layers), sum 1
    double li = 1.0;         ///< Li per formula unit
    double o_vacancy = 0.0;  ///< fraction of O sites that are empty (O per f.u. = 2 (1 - o_vacancy))
    double antisite = 0.0;   ///< Ni on Li-layer sites per f.u. (as many Li sit on TM-layer sites)
    std::string composition = "custom";  ///< NMC111, NMC532, NMC622, NMC811, random or custom
    // Derived (nmc_structure): formal valences.
    double valence_ni = 0.0;     ///< Ni on TM-layer sites
    double valence_ni_li = 2.0;  ///< Ni on Li-layer sites (rock-salt-like Ni2+)
    double valence_mn = 0.0, valence_co = 0.0;
    // Nuisances (not targets): what makes one edge ambiguous about the defects.
    double distortion_ni = 0.0, distortion_mn = 0.0, distortion_co = 0.0;  ///< local distortion per TM, 0..1
    double distortion_o = 0.0;  ///< disorder of the O sites, 0..1
    double ni_disproportionation = 0.0;  ///< TM-layer Ni split into v - D and v + D (D in eV-free valence units)
    /// Share of the Ni atoms in a reduced rock-salt-like surface phase (Ni2+,
    /// its charge compensated by the O that phase lost, so outside the bulk
    /// balance); on the Ni edges it looks like antisite Ni. A nuisance.
    double ni_surface_reduced = 0.0;

    bool o_vacancy_present() const noexcept { return o_vacancy > 0.0; }
    bool antisite_present() const noexcept { return antisite > 0.0; }
    double oxygen() const noexcept { return 2.0 * (1.0 - o_vacancy); }
    /// Mean formal valence over all TM atoms.
    double mean_tm_valence() const noexcept {
        return (ni - antisite) * valence_ni + antisite * valence_ni_li + mn * valence_mn + co * valence_co;
    }
    /// Cation charge - anion charge per f.u. (0 when balanced).
    double charge_residual() const noexcept { return li + mean_tm_valence() - 2.0 * oxygen(); }
};

/// A structure with its valences from charge balance (O2-, Li+, Ni on Li
/// sites 2+): Mn starts at 4+, Co at 3+, Ni on TM sites takes the rest;
/// Ni above 4+ oxidises Co (to 4+); Ni below 2+ reduces Mn (to 3+), then Co
/// (to 2+). (With Li >= 0 and no O excess every TM at 4+ is the most the
/// charge can ask for, so O holes never arise.) Throws value_error for fractions
/// outside [0, 1], x + y + z != 1, antisite >= x, or no valid balance.
inline NmcStructure nmc_structure(double ni, double mn, double co, double li, double o_vacancy = 0.0,
                                  double antisite = 0.0, std::string composition = "custom") {
    for (double v : {ni, mn, co, li, o_vacancy, antisite})
        if (!std::isfinite(v) || v < 0.0 || v > 1.0)
            throw value_error("synth::nmc_structure: fractions must lie in [0, 1]");
    if (std::abs(ni + mn + co - 1.0) > 1e-9)
        throw value_error("synth::nmc_structure: Ni + Mn + Co must be 1, got " + std::to_string(ni + mn + co));
    if (!(antisite < ni)) throw value_error("synth::nmc_structure: antisite Ni must be fewer than all Ni");
    if (o_vacancy > 0.25) throw value_error("synth::nmc_structure: o_vacancy above 0.25 is not a layered oxide");
    NmcStructure s;
    s.ni = ni, s.mn = mn, s.co = co, s.li = li, s.o_vacancy = o_vacancy, s.antisite = antisite;
    s.composition = std::move(composition);
    const double ni_tm = ni - antisite;
    const double charge = 2.0 * s.oxygen() - li - 2.0 * antisite;  // to be carried by TM-layer TM
    s.valence_mn = 4.0, s.valence_co = 3.0;
    s.valence_ni = (charge - 4.0 * mn - 3.0 * co) / ni_tm;
    if (s.valence_ni > 4.0) {
        double excess = (s.valence_ni - 4.0) * ni_tm;
        s.valence_ni = 4.0;
        if (co > 0.0) {
            const double up = std::min(excess / co, 1.0);
            s.valence_co += up, excess -= up * co;
        }
        if (excess > 1e-12) throw value_error("synth::nmc_structure: no charge balance with TM at most 4+");
    } else if (s.valence_ni < 2.0) {
        double deficit = (2.0 - s.valence_ni) * ni_tm;
        s.valence_ni = 2.0;
        if (mn > 0.0) {
            const double down = std::min(deficit / mn, 1.0);
            s.valence_mn -= down, deficit -= down * mn;
        }
        if (co > 0.0 && deficit > 0.0) {
            const double down = std::min(deficit / co, 1.0);
            s.valence_co -= down, deficit -= down * co;
        }
        if (deficit > 1e-12)
            throw value_error("synth::nmc_structure: no charge balance with Ni >= 2+, Mn >= 3+, Co >= 2+ (" +
                              std::to_string(deficit) + " electrons per formula unit left)");
    }
    return s;
}

/// Targets by name (the FEFF NMC manifest's names where the meaning agrees):
/// frac_<El> (atom fractions of Li_l TM O_2(1-d)), tmfrac_<TM>, li_content,
/// tm_valence_local, frac_O_vac, antisite_fraction, o_vacancy_present,
/// antisite_present (0/1), valence_Ni / _Mn / _Co.
inline std::vector<std::pair<std::string, double>> nmc_labels(const NmcStructure& s) {
    const double atoms = s.li + 1.0 + s.oxygen();
    return {{"frac_Li", s.li / atoms},
            {"frac_Ni", s.ni / atoms},
            {"frac_Mn", s.mn / atoms},
            {"frac_Co", s.co / atoms},
            {"frac_O", s.oxygen() / atoms},
            {"tmfrac_Ni", s.ni},
            {"tmfrac_Mn", s.mn},
            {"tmfrac_Co", s.co},
            {"li_content", s.li},
            {"tm_valence_local", s.mean_tm_valence()},
            {"frac_O_vac", s.o_vacancy},
            {"antisite_fraction", s.antisite},
            {"o_vacancy_present", s.o_vacancy_present() ? 1.0 : 0.0},
            {"antisite_present", s.antisite_present() ? 1.0 : 0.0},
            {"valence_Ni", s.valence_ni},
            {"valence_Mn", s.valence_mn},
            {"valence_Co", s.valence_co}};
}

/// How structures are drawn and spectra measured.
struct NmcOptions {
    double named_composition_probability = 0.5;  ///< NMC111/532/622/811, else random
    double li_min = 0.3, li_max = 1.0;           ///< Li per f.u., uniform
    double o_vacancy_probability = 1.0 / 3;      ///< P(vacancies present)
    double o_vacancy_min = 0.02, o_vacancy_max = 0.08;  ///< vacant O-site fraction when present
    double antisite_probability = 1.0 / 3;       ///< P(antisites present)
    double antisite_min = 0.01, antisite_max = 0.06;    ///< Ni on Li sites per f.u. when present
    double distortion_max = 1.0;         ///< each TM's local distortion ~ U(0, this), independently
    double disproportionation_max = 0.4; ///< Ni valence split D ~ U(0, this)
    double surface_reduction_probability = 1.0 / 3;  ///< P(a reduced Ni2+ surface phase)
    double surface_reduction_min = 0.02, surface_reduction_max = 0.15;  ///< its share of the Ni when present
    double eels_counts = 1500.0;   ///< counts at the edge maximum of a TM with fraction 1/3 (O K: 2x)
    double xas_noise = 0.008;      ///< Gaussian noise sd in edge-step units
    bool noise = true;             ///< false: no Poisson / Gaussian noise (intensities still vary)
    double eels_resolution_fwhm = 0.6;  ///< Gaussian instrument FWHM of the EELS spectra, eV
    double xas_resolution = 1.3e-4;     ///< dE/E of the monochromator (Si(111))
    double eels_background = 0.0;  ///< power-law background at the edge onset, in edge maxima; 0 = none
};

namespace detail {

/// Per-TM constants (see docs/synthetic.md for their sources and trends).
struct TmConstants {
    const char* element;
    double valence_electrons;   ///< 3d + 4s of the neutral atom: d count = this - valence
    bool high_spin;             ///< how the 3d levels fill (Mn high spin; Co, Ni low spin)
    double k_metal;             ///< K-edge energy of the metal, eV
    double k_shift;             ///< K-edge shift per valence unit, eV
    double k_lifetime_fwhm;     ///< 1s core-hole width, eV (Krause & Oliver)
    double k_white_line_offset; ///< white line above e0, eV
    double l3_reference;        ///< L3 energy at valence l_valence_reference, eV
    double l_valence_reference;
    double l3_shift;            ///< L3 shift per valence unit, eV
    double spin_orbit;          ///< L2 - L3, eV
    double l32_ratio;           ///< L3/L2 area ratio at the reference valence
    double l32_slope;           ///< its decrease per valence unit
    double shoulder_offset;     ///< L3 multiplet shoulder above the main peak, eV
    double shoulder_weight;     ///< its weight at the reference valence
    double shoulder_slope;      ///< its change per valence unit
    double o_eg_reference;      ///< O K pre-peak (eg) energy at the reference valence, eV
    double o_eg_slope;          ///< its decrease per valence unit, eV
    double ten_dq;              ///< eg - t2g, eV
};

inline constexpr TmConstants mn_constants{"Mn", 7.0, true, 6539.0, 2.5, 1.16, 7.0, 643.2, 4.0, 1.3, 11.2,
                                          1.9, 1.3, 2.0, 0.35, -0.08, 531.6, 0.8, 2.2};
inline constexpr TmConstants co_constants{"Co", 9.0, false, 7709.0, 2.0, 1.33, 6.0, 780.9, 3.0, 0.9, 15.1,
                                          2.4, 1.1, 1.6, 0.2, 0.05, 530.2, 1.0, 2.0};
inline constexpr TmConstants ni_constants{"Ni", 10.0, false, 8333.0, 1.8, 1.44, 5.0, 853.5, 2.0, 0.9, 17.4,
                                          3.2, 0.5, 1.8, 0.2, 0.25, 531.9, 1.2, 1.8};

/// One kind of TM site seen by an edge: its valence, its share of the TM's
/// atoms, its O coordination and any extra edge shift of its environment.
struct Site {
    double valence;
    double weight;
    double coordination;  ///< 6 (octahedral) or 5 (next to an O vacancy)
    double bond;          ///< TM-O distance, Angstrom
    double extra_shift;   ///< eV
    double distortion = 0.0;  ///< the TM's local distortion, 0..1
};

/// The sites of one TM: octahedral, next to a vacancy (1 - (1-d)^6 of the
/// atoms, independent vacancies) and, for Ni, on the Li layer.
inline std::vector<Site> tm_sites(const NmcStructure& s, const TmConstants& c) {
    const double near_vacancy = 1.0 - std::pow(1.0 - s.o_vacancy, 6.0);
    const bool is_ni = std::string_view(c.element) == ni_constants.element;
    const bool is_mn = std::string_view(c.element) == mn_constants.element;
    const double v = is_ni ? s.valence_ni : is_mn ? s.valence_mn : s.valence_co;
    const double on_li = is_ni && s.ni > 0.0 ? s.antisite / s.ni : 0.0;
    const double surface = is_ni ? s.ni_surface_reduced : 0.0;
    const double bulk = 1.0 - on_li - surface;  // share of TM-layer atoms
    const double distortion = is_ni ? s.distortion_ni : is_mn ? s.distortion_mn : s.distortion_co;
    // Disproportionation: half the TM-layer Ni at v - D, half at v + D (the mean is kept).
    const double d = is_ni ? std::min({s.ni_disproportionation, v - 2.0, 4.0 - v}) : 0.0;
    std::vector<Site> sites;
    for (double dv : d > 0.0 ? std::vector<double>{-d, d} : std::vector<double>{0.0}) {
        const double share = d > 0.0 ? 0.5 : 1.0;
        sites.push_back({v + dv, share * bulk * (1.0 - near_vacancy), 6.0, 1.97, 0.0, distortion});
        // A missing O neighbour acts on the spectra like a strong local
        // distortion (+0.8) and removes one O from the first shell.
        if (near_vacancy > 0.0)
            sites.push_back({v + dv, share * bulk * near_vacancy, 5.0, 1.97, 0.0, distortion + 0.8});
    }
    // Ni2+ on the Li layer: longer bonds put its edge and white line a little lower.
    if (on_li > 0.0) sites.push_back({s.valence_ni_li, on_li, 6.0, 2.02, -0.3, 0.0});
    // Ni2+ of a reduced surface phase: the same site as seen by the Ni edges.
    if (surface > 0.0) sites.push_back({s.valence_ni_li, surface, 6.0, 2.02, -0.3, 0.0});
    return sites;
}

/// 3d holes of a TM at valence v.
inline double holes(const TmConstants& c, double v) noexcept { return 10.0 - (c.valence_electrons - v); }

/// (t2g holes, eg holes) from the filling rule of the TM.
inline std::pair<double, double> split_holes(const TmConstants& c, double v) noexcept {
    const double d = c.valence_electrons - v;
    const auto clamp = [](double x, double hi) { return std::clamp(x, 0.0, hi); };
    double t2g = 0.0, eg = 0.0;
    if (c.high_spin) {
        t2g = clamp(d, 3.0) + clamp(d - 5.0, 3.0);
        eg = clamp(d - 3.0, 2.0) + clamp(d - 8.0, 2.0);
    } else {
        t2g = clamp(d, 6.0);
        eg = clamp(d - 6.0, 4.0);
    }
    return {6.0 - t2g, 4.0 - eg};
}

/// An edge as lines (area-normalised Lorentzians of the lifetime HWHM, all
/// convolved with one Gaussian: Voigt profiles), arctangent steps and, for
/// K edges, an EXAFS-like oscillation.
struct EdgeModel {
    struct Line { double energy, area, hwhm; };
    struct Step { double energy, height, hwhm; };
    struct Shell { double distance, count, sigma2; };  ///< A, atoms, A^2
    double sigma = 0.3;  ///< Gaussian instrument broadening, eV
    std::vector<Line> lines;
    std::vector<Step> steps;
    std::vector<Shell> shells;  ///< EXAFS-like shells about exafs_e0
    double exafs_e0 = 0.0, exafs_amplitude = 0.0;

    /// prep::voigt_profile, with the asymptotic series of the Faddeeva
    /// function w(z) ~ i/(sqrt(pi) z) (1 + 1/(2z^2) + 3/(4z^4)) far from the
    /// line centre (|z| > 6: relative error below 1e-4, ten times faster).
    double voigt(double x, double hwhm) const {
        const double s2 = sigma * 1.4142135623730951;
        const std::complex<double> z(x / s2, hwhm / s2);
        if (std::norm(z) < 36.0) return prep::voigt_profile(x, sigma, hwhm);
        const std::complex<double> iz2 = 1.0 / (z * z);
        const std::complex<double> w = std::complex<double>(0.0, 0.5641895835477563) / z * (1.0 + iz2 * (0.5 + 0.75 * iz2));
        return w.real() / (sigma * 2.5066282746310002);
    }

    double operator()(double e) const {
        constexpr double pi = 3.14159265358979323846;
        double v = 0.0;
        for (const Line& l : lines) v += l.area * voigt(e - l.energy, l.hwhm);
        // The Gaussian-broadened arctangent is approximated by an arctangent of
        // the Voigt FWHM (Olivero & Longbothum) - a smooth step of the right width.
        const double fg = prep::sigma_to_fwhm(sigma);
        for (const Step& s : steps) {
            const double fl = 2.0 * s.hwhm;
            const double fv = 0.5346 * fl + std::sqrt(0.2166 * fl * fl + fg * fg);
            v += s.height * (0.5 + std::atan(2.0 * (e - s.energy) / fv) / pi);
        }
        if (exafs_amplitude != 0.0 && e > exafs_e0) {
            const double de = e - exafs_e0, k = std::sqrt(0.2625 * de);  // 1/Angstrom
            double chi = 0.0;
            for (const Shell& sh : shells)
                chi += sh.count * std::sin(2.0 * k * sh.distance + 0.5) * std::exp(-2.0 * sh.sigma2 * k * k) /
                       (k * sh.distance * sh.distance);
            v += exafs_amplitude * chi * (1.0 - std::exp(-de / 6.0));  // switched on over the first eV
        }
        return v;
    }
};

inline const TmConstants& tm_constants(std::string_view element) {
    if (element == mn_constants.element) return mn_constants;
    if (element == co_constants.element) return co_constants;
    if (element == ni_constants.element) return ni_constants;
    throw value_error("synth::nmc: no constants for element '" + std::string(element) + "'");
}

inline double tm_fraction(const NmcStructure& s, const TmConstants& c) noexcept {
    const std::string_view e = c.element;
    return e == ni_constants.element ? s.ni : e == mn_constants.element ? s.mn : s.co;
}

/// L2,3: white lines whose total area follows the 3d holes, L3/L2 ratio and
/// L3 position the valence, a multiplet shoulder, and 2:1 continuum steps.
inline EdgeModel l23_model(const NmcStructure& s, const TmConstants& c, double sigma) {
    EdgeModel m;
    m.sigma = sigma;
    for (const Site& site : tm_sites(s, c)) {
        const double dv = site.valence - c.l_valence_reference;
        const double e3 = c.l3_reference + c.l3_shift * dv + 0.6 * site.extra_shift;
        const double e2 = e3 + c.spin_orbit;
        const double area = site.weight * 2.5 * holes(c, site.valence);
        const double ratio = std::max(1.2, c.l32_ratio - c.l32_slope * dv);
        double shoulder = std::clamp(c.shoulder_weight + c.shoulder_slope * dv, 0.05, 0.8);
        shoulder *= std::max(0.2, 1.0 - 0.3 * site.distortion);  // a distorted octahedron splits less
        const double a3 = area * ratio / (1.0 + ratio), a2 = area / (1.0 + ratio);
        m.lines.push_back({e3, a3 * (1.0 - shoulder), 0.5});
        m.lines.push_back({e3 + c.shoulder_offset, a3 * shoulder, 0.6});
        m.lines.push_back({e2, a2, 0.8});  // Coster-Kronig decay widens L2
        m.steps.push_back({e3 + 1.5, site.weight * 2.0 / 3.0, 1.2});
        m.steps.push_back({e2 + 1.5, site.weight / 3.0, 1.2});
    }
    return m;
}

/// TM K edge: arctangent step at e0(valence), white line (scaled by the O
/// coordination), 1s->3d pre-edge (3d holes, stronger off centrosymmetry),
/// a multiple-scattering bump and EXAFS-like TM-O / TM-TM shells.
inline EdgeModel k_model(const NmcStructure& s, const TmConstants& c, double sigma) {
    EdgeModel m;
    m.sigma = sigma;
    const double hwhm = 0.5 * c.k_lifetime_fwhm;
    double e0_mean = 0.0;
    for (const Site& site : tm_sites(s, c)) {
        const double e0 = c.k_metal + c.k_shift * site.valence + site.extra_shift;
        m.steps.push_back({e0, site.weight, hwhm});
        const double white = site.weight * 4.0 * std::max(0.5, 1.0 - 0.08 * site.distortion);
        m.lines.push_back({e0 + c.k_white_line_offset * (1.97 / site.bond), white, hwhm + 2.0});
        m.lines.push_back({e0 + 20.0, site.weight * 3.0 * (1.0 - 0.05 * site.distortion), hwhm + 5.0});
        // Off-centre (5-coordinated or distorted) sites allow p-d mixing: a stronger pre-edge.
        const double pre = 0.02 * holes(c, site.valence) * (1.0 + site.distortion);
        m.lines.push_back({c.k_metal + 1.0 + 0.5 * (site.valence - 2.0), site.weight * pre, hwhm + 0.3});
        const double sigma2 = 0.004 + 0.004 * site.distortion;  // static disorder
        // Disorder (and a missing neighbour, as extra distortion) damps the first shell.
        m.shells.push_back({site.bond, site.weight * 6.0 * (1.0 - 0.1 * site.distortion), sigma2});
        m.shells.push_back({2.87, site.weight * 6.0 * 0.5, sigma2});
        e0_mean += site.weight * e0;
    }
    m.exafs_e0 = e0_mean;
    m.exafs_amplitude = 0.35;
    return m;
}

/// O K: pre-peaks of the O 2p holes hybridised with TM 3d (t2g and eg of
/// each TM site, weighted by its fraction, holes and covalency; reduced by O
/// vacancies), a Li-O feature, the edge step and the
/// broad TM 4sp - O 2p peaks whose position follows the TM-O bond length.
inline EdgeModel o_k_model(const NmcStructure& s, double sigma) {
    EdgeModel m;
    m.sigma = sigma;
    // Disorder of the O sites: its own nuisance plus the vacancies (5 per
    // vacant fraction), which weakens the TM-O overlap and broadens the bands.
    const double disorder = s.distortion_o + 5.0 * s.o_vacancy;
    const double hybridisation = 1.0 - 0.3 * disorder;
    for (const TmConstants* c : {&mn_constants, &co_constants, &ni_constants}) {
        const double f = tm_fraction(s, *c);
        for (const Site& site : tm_sites(s, *c)) {
            const double dv = site.valence - c->l_valence_reference;
            const double covalency = (0.25 + 0.2 * (site.valence - 2.0)) * site.coordination / 6.0;
            const double e_eg = c->o_eg_reference - c->o_eg_slope * dv + 0.5 * site.extra_shift;
            const auto [t2g, eg] = split_holes(*c, site.valence);
            const double w = 2.0 * f * site.weight * covalency * hybridisation;
            m.lines.push_back({e_eg - c->ten_dq, w * t2g, 0.6});
            m.lines.push_back({e_eg, w * eg, 0.6});
        }
    }
    m.lines.push_back({534.6, 0.25 * s.li, 1.0});
    m.steps.push_back({535.5, 1.0, 1.5});
    const double bond_shift = 1.2 * (s.mean_tm_valence() - 3.0);
    m.lines.push_back({541.0 + bond_shift, 6.0, 2.5 + 1.0 * disorder});
    m.lines.push_back({558.0 + bond_shift, 6.0, 5.0});
    return m;
}

/// A beamline scan about `centre`: 2 eV steps from -40 eV, 0.25 eV over
/// [-10, 40) eV, then constant steps of 0.05 / Angstrom in k up to k = 7.
inline grid::EnergyAxis xas_scan_axis(double centre) {
    std::vector<double> e;
    for (double d = -40.0; d < -10.0; d += 2.0) e.push_back(centre + d);
    for (int i = 0; i < 200; ++i) e.push_back(centre - 10.0 + 0.25 * i);
    const double k0 = std::sqrt(0.2625 * 40.0);  // E = k^2 / 0.2625 (eV, 1/Angstrom)
    for (int i = 1; k0 + 0.05 * i <= 7.0; ++i) e.push_back(centre + (k0 + 0.05 * i) * (k0 + 0.05 * i) / 0.2625);
    return grid::EnergyAxis::from_energies(std::move(e));
}

}  // namespace detail

/// The raw axis of an edge (as an instrument gives it): EELS a uniform 0.1
/// eV camera axis whose channels do not fall on round energies; XAS an
/// explicit scan (detail::xas_scan_axis) about the edge.
inline grid::EnergyAxis nmc_raw_axis(NmcEdge edge) {
    switch (edge) {
        case NmcEdge::o_k: return grid::EnergyAxis::uniform(515.03, 0.1, 600);
        case NmcEdge::mn_l23: return grid::EnergyAxis::uniform(620.02, 0.1, 700);
        case NmcEdge::co_l23: return grid::EnergyAxis::uniform(760.04, 0.1, 700);
        case NmcEdge::ni_l23: return grid::EnergyAxis::uniform(835.06, 0.1, 650);
        case NmcEdge::mn_k: return detail::xas_scan_axis(detail::mn_constants.k_metal + 6.0);
        case NmcEdge::co_k: return detail::xas_scan_axis(detail::co_constants.k_metal + 6.0);
        case NmcEdge::ni_k: return detail::xas_scan_axis(detail::ni_constants.k_metal + 6.0);
    }
    throw value_error("synth::nmc_raw_axis: unknown edge");
}

/// A modality grid for each edge at 0.2 eV: study 1's windows for O K
/// (528.9-562.1 eV) and the L2,3 edges (Mn 635.1-675.1, Co 775.1-815.1,
/// Ni 853.1-880.1), and [-4, +46] eV about the metal K-edge energy for K.
inline grid::UniformAxis nmc_default_grid(NmcEdge edge) {
    const auto window = [](double first, double last) {
        return grid::UniformAxis::from_range(first, last, static_cast<std::size_t>(std::lround((last - first) / 0.2)) + 1);
    };
    switch (edge) {
        case NmcEdge::o_k: return window(528.9, 562.1);
        case NmcEdge::mn_l23: return window(635.1, 675.1);
        case NmcEdge::co_l23: return window(775.1, 815.1);
        case NmcEdge::ni_l23: return window(853.1, 880.1);
        case NmcEdge::mn_k: return window(detail::mn_constants.k_metal - 4.0, detail::mn_constants.k_metal + 46.0);
        case NmcEdge::co_k: return window(detail::co_constants.k_metal - 4.0, detail::co_constants.k_metal + 46.0);
        case NmcEdge::ni_k: return window(detail::ni_constants.k_metal - 4.0, detail::ni_constants.k_metal + 46.0);
    }
    throw value_error("synth::nmc_default_grid: unknown edge");
}

/// Draws a local structure (compositions as the FEFF NMC set: half of them
/// NMC111/532/622/811 with small local fluctuations, half random with
/// x_Ni ~ U(0.33, 0.9) and the Mn share of the rest ~ U(0.2, 0.8)).
inline NmcStructure sample_nmc_structure(Random& rng, const NmcOptions& o = {}) {
    struct Named { const char* name; double ni, mn, co; };
    static constexpr std::array<Named, 4> named{{{"NMC111", 1.0 / 3, 1.0 / 3, 1.0 / 3},
                                                 {"NMC532", 0.5, 0.3, 0.2},
                                                 {"NMC622", 0.6, 0.2, 0.2},
                                                 {"NMC811", 0.8, 0.1, 0.1}}};
    double ni = 0, mn = 0, co = 0;
    std::string name = "random";
    if (rng.bernoulli(o.named_composition_probability)) {
        const Named& n = named[rng.index(named.size())];
        name = n.name;
        // Local fluctuation: +-10 % of each fraction, renormalised.
        ni = n.ni * rng.uniform(0.9, 1.1), mn = n.mn * rng.uniform(0.9, 1.1), co = n.co * rng.uniform(0.9, 1.1);
    } else {
        ni = rng.uniform(0.33, 0.9);
        const double share = rng.uniform(0.2, 0.8);
        mn = (1.0 - ni) * share, co = (1.0 - ni) * (1.0 - share);
    }
    const double sum = ni + mn + co;
    ni /= sum, mn /= sum;
    co = 1.0 - ni - mn;
    const double li = rng.uniform(o.li_min, o.li_max);
    const double vac = rng.bernoulli(o.o_vacancy_probability) ? rng.uniform(o.o_vacancy_min, o.o_vacancy_max) : 0.0;
    double anti = rng.bernoulli(o.antisite_probability) ? rng.uniform(o.antisite_min, o.antisite_max) : 0.0;
    anti = std::min(anti, 0.5 * ni);
    NmcStructure s = nmc_structure(ni, mn, co, li, vac, anti, name);
    s.distortion_ni = rng.uniform(0.0, o.distortion_max);
    s.distortion_mn = rng.uniform(0.0, o.distortion_max);
    s.distortion_co = rng.uniform(0.0, o.distortion_max);
    s.distortion_o = rng.uniform(0.0, o.distortion_max);
    s.ni_disproportionation = rng.uniform(0.0, o.disproportionation_max);
    if (rng.bernoulli(o.surface_reduction_probability))  // at most what the antisites leave of the Ni
        s.ni_surface_reduced = std::min(rng.uniform(o.surface_reduction_min, o.surface_reduction_max), 0.5 * (1.0 - anti / ni));
    return s;
}

/// One edge of `s` on its raw axis (nmc_raw_axis), with its metadata
/// (element, edge, technique, signal units "counts" for EELS, "mu" for XAS).
inline grid::Spectrum<double> nmc_spectrum(const NmcStructure& s, NmcEdge edge, Random& rng, const NmcOptions& o = {}) {
    const NmcEdgeInfo& info = nmc_edge_info(edge);
    const grid::EnergyAxis axis = nmc_raw_axis(edge);
    grid::Metadata meta;
    meta.element = info.element;
    meta.edge = info.edge;
    meta.technique = info.technique;
    meta.signal_type = grid::to_string(info.technique);
    meta.source = "corespec::synth::nmc";
    std::vector<double> y(axis.size());
    if (info.technique == grid::Technique::eels) {
        const double sigma = prep::fwhm_to_sigma(o.eels_resolution_fwhm);
        detail::EdgeModel m;
        double dose = 0.0;
        if (edge == NmcEdge::o_k) {
            m = detail::o_k_model(s, sigma);
            dose = 2.0 * o.eels_counts;
        } else {
            const auto& c = detail::tm_constants(info.element);
            m = detail::l23_model(s, c, sigma);
            dose = o.eels_counts * detail::tm_fraction(s, c) * 3.0;
        }
        double peak = 0.0;
        for (std::size_t i = 0; i < y.size(); ++i) peak = std::max(peak, y[i] = m(axis.energy(i)));
        // Counts: a thickness / dose factor per spectrum, then a power-law background and Poisson noise.
        const double scale = dose * rng.uniform(0.8, 1.2) / peak;
        const double onset = m.steps.front().energy - 5.0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            double counts = scale * y[i];
            if (o.eels_background > 0.0) counts += o.eels_background * scale * peak * std::pow(axis.energy(i) / onset, -3.0);
            y[i] = o.noise ? rng.poisson(counts) : counts;
        }
        meta.signal_units = "counts";
    } else {
        const auto& c = detail::tm_constants(info.element);
        const double sigma = prep::fwhm_to_sigma(o.xas_resolution * c.k_metal);
        const detail::EdgeModel m = detail::k_model(s, c, sigma);
        const double step = rng.uniform(0.8, 1.2), offset = rng.uniform(0.05, 0.3);
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double de = axis.energy(i) - c.k_metal;
            y[i] = offset - 2e-4 * de + step * m(axis.energy(i));
            if (o.noise) y[i] += rng.normal(0.0, o.xas_noise * step);
        }
        meta.signal_units = "mu";
    }
    return grid::Spectrum<double>(axis, std::move(y), std::move(meta));
}

/// A structure and its seven spectra (in nmc_edges order).
struct NmcSample {
    std::string id;
    NmcStructure structure;
    std::vector<grid::Spectrum<double>> spectra;
};

/// Sample `index` of the set drawn with `seed`: its own random stream
/// (mix_seed(seed, index)), so it does not depend on how many are drawn.
inline NmcSample nmc_sample(std::uint64_t seed, std::size_t index, const NmcOptions& o = {}) {
    Random rng(mix_seed(seed, index));
    NmcSample sample;
    sample.id = "synth" + std::to_string(index);
    sample.structure = sample_nmc_structure(rng, o);
    for (const NmcEdgeInfo& e : nmc_edges) sample.spectra.push_back(nmc_spectrum(sample.structure, e.id, rng, o));
    return sample;
}

/// Samples 0 .. count-1 of the set drawn with `seed`.
inline std::vector<NmcSample> nmc_samples(std::size_t count, std::uint64_t seed, const NmcOptions& o = {}) {
    std::vector<NmcSample> set;
    set.reserve(count);
    for (std::size_t i = 0; i < count; ++i) set.push_back(nmc_sample(seed, i, o));
    return set;
}

}  // namespace corespec::synth
