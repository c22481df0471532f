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
#include <utility>
#include <vector>

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/prep/detail/polyfit.hpp"  // numeric::polyfit, and the old prep::detail name
#include "corespec/prep/edge_energy.hpp"

namespace corespec::prep {

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

    /// Throws value_error naming the first field out of range: a non-finite
    /// energy, step <= 0 (Larch would clamp it to 1e-12), nnorm outside
    /// 0..5 (Larch would clamp), npre not 0 or 1, nvict outside -5..5,
    /// min_edge_snr negative or non-finite.
    void validate() const {
        validate([](const std::string& field, const std::string& why) {
            throw value_error("pre_edge: parameter " + field + " " + why);
        });
    }
    /// The same checks, reporting through fail(field, why), which must throw
    /// (the pre_edge step names its JSON fields this way).
    template <class Fail>
    void validate(Fail&& fail) const {
        const std::pair<const char*, const std::optional<double>*> energies[] = {
            {"e0", &e0}, {"pre1", &pre1}, {"pre2", &pre2}, {"norm1", &norm1}, {"norm2", &norm2}};
        for (const auto& [name, v] : energies)
            if (*v && !std::isfinite(**v)) fail(name, "must be finite");
        if (step && !(std::isfinite(*step) && *step > 0.0))
            fail("step", "must be a finite positive edge step, got " + std::to_string(*step));
        if (nnorm && (*nnorm < 0 || *nnorm > 5)) fail("nnorm", "must be in 0..5, got " + std::to_string(*nnorm));
        if (npre != 0 && npre != 1) fail("npre", "must be 0 or 1, got " + std::to_string(npre));
        if (nvict < -5 || nvict > 5) fail("nvict", "must be in -5..5, got " + std::to_string(nvict));
        if (!(std::isfinite(min_edge_snr) && min_edge_snr >= 0.0))
            fail("min_edge_snr", "must be finite and >= 0, got " + std::to_string(min_edge_snr));
    }
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
    p.validate();

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
            const auto c = numeric::polyfit(ex.data(), mx.data(), cnt, 1, "pre_edge (pre-edge line)");
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
        r.norm_coefs = numeric::polyfit(ex.data(), sub.data(), cnt, nnorm, "pre_edge (post-edge polynomial)");
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
    // An absorption edge rises. Larch takes |step|, which turns a falling
    // edge (mu inverted, e.g. ln(itrans/i0)) into a plausible-looking but
    // wrong normalisation around a spurious e0: refuse it instead, when the
    // step is negative or when mu falls anywhere 3 times faster than it rises
    // at e0 (find_e0 then picked a flat stretch of a falling edge). On the 37
    // reference scans the steepest fall is at most 1.06 times the rise at e0
    // (K2Cr2O7, whose white line falls steeply); a falling edge gives > 100.
    if (!p.step && p.min_edge_snr > 0) {
        const char* why = nullptr;
        if (!(step > 0.0)) {
            why = "the edge step is negative (post-edge below pre-edge at e0)";
        } else {
            const auto d = detail::larch_deriv(E.data(), mu.data(), n);
            double rise = 0.0, fall = 0.0;
            for (std::size_t i = ie0 >= 2 ? ie0 - 2 : 0; i < std::min(n, ie0 + 3); ++i) rise = std::max(rise, d[i]);
            for (double v : d) fall = std::max(fall, -v);
            if (fall > 3.0 * rise) why = "mu falls more than 3 times more steeply than it rises at e0";
        }
        if (why)
            throw no_edge_error(std::string("pre_edge: ") + why + " (e0 candidate " + std::to_string(e0) + " eV, step " +
                                std::to_string(step) + "): a falling edge, mu has the wrong sign; no rising edge found");
    }
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

/// The normalisation as a value: parameters plus one call on a spectrum, a
/// block or an image. steps::PreEdgeStep (a recipe's "pre_edge") is the thin
/// recipe form of this type: it holds a PreEdge and runs apply_one.
struct PreEdge {
    PreEdgeParams params;
    PreEdgeOutput output = PreEdgeOutput::norm;  ///< for apply_one / apply_block / apply_image

    /// pre_edge on one spectrum `in` on energies `e`: writes its norm or flat
    /// (`output`; nothing for none) to `out` (same size; may be `in`) and e0
    /// and edge_step to `e0_step` (NaN unless ok), and returns the status.
    /// `mu` is the caller's scratch. Never throws for a bad spectrum; the
    /// parameters must be valid (params.validate()).
    template <class T, class U>
    EdgeStatus apply_one(span<const double> e, span<const T> in, span<U> out, double (&e0_step)[2],
                         std::vector<double>& mu) const {
        e0_step[0] = e0_step[1] = std::numeric_limits<double>::quiet_NaN();
        const std::size_t c = e.size();
        mu.resize(c);
        bool finite = true;
        for (std::size_t i = 0; i < c; ++i) {
            mu[i] = static_cast<double>(in[i]);
            finite = finite && std::isfinite(mu[i]);
        }
        if (!finite) return EdgeStatus::non_finite;
        try {
            const auto r = pre_edge(e, span<const double>(mu), params);
            e0_step[0] = r.e0;
            e0_step[1] = r.edge_step;
            if (output != PreEdgeOutput::none) {
                const auto& src = output == PreEdgeOutput::norm ? r.norm : r.flat;
                for (std::size_t i = 0; i < c; ++i) out[i] = static_cast<U>(src[i]);
            }
        } catch (const no_edge_error&) {
            return EdgeStatus::no_edge;
        } catch (const value_error&) {
            return EdgeStatus::bad_window;
        }
        return EdgeStatus::ok;
    }

    /// pre_edge on every spectrum of a contiguous block (pixel-major,
    /// axis.size() channels each), replacing each one that succeeds by its
    /// norm or flat (`output`); the others are left unchanged and get a
    /// status. Throws only shape_error (block not a multiple of the axis).
    template <class T>
    PreEdgeBatch apply_block(span<T> block, const grid::EnergyAxis& axis) const {
        const std::size_t c = axis.size();
        if (c == 0 || block.size() % c != 0) throw shape_error("PreEdge::apply_block", {c}, {block.size()});
        params.validate();  // a bad parameter is misuse, not a per-pixel failure
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
        PreEdgeBatch b{std::vector<EdgeStatus>(np, EdgeStatus::ok), std::vector<double>(np), std::vector<double>(np)};
        std::vector<double> mu(c);
        for (std::size_t p = 0; p < np; ++p) {
            const auto px = block.subspan(p * c, c);
            double r[2];
            b.status[p] = apply_one(e, span<const T>(px.data(), c), px, r, mu);
            b.e0[p] = r[0];
            b.edge_step[p] = r[1];
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
