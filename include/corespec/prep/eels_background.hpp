// corespec/prep/eels_background.hpp - EELS pre-edge background: fit and subtract.
//
// Models (HyperSpy 1.7.3 components, parameter meanings kept):
//   power_law   f(E) = A * E^(-r)            (f = 0 for E <= 0, HyperSpy's left_cutoff)
//   exponential f(E) = A * exp(-E / tau)
//   polynomial  f(E) = c0 + c1 E + ... + cn E^n
// For binned data (EELS counts per channel, the default) the counts of the
// background in channel i are f(E_i) * scale, so A (and c_k) are per eV, as
// in HyperSpy's remove_background.
//
// Fits over a window [lo, hi] (eV):
//   fast          - power law: the two-area estimate of
//                   PowerLaw.estimate_parameters (window split at its middle
//                   channel, r from the ratio of the two sums); exponential:
//                   Exponential.estimate_parameters (geometric means of the two
//                   halves); polynomial: least squares over channels [i1, i2).
//   least_squares - unweighted least squares of the counts over channels
//                   [i1, i2] inclusive (HyperSpy fast=False), started from the
//                   fast estimate (Levenberg-Marquardt, analytic Jacobian).
// Window channels i1, i2 follow HyperSpy's value_range_to_indices exactly.
//
// Every pixel gets a status instead of an exception, so one empty or broken
// pixel never fails a spectrum image; its parameters are 0 and its output is
// the input (as HyperSpy's nan_to_num leaves it). Exceptions are for misuse:
// a window outside the axis, too few channels for the model.
//
// The fast power-law path is the hot loop of a STEM-EELS stream: window sums,
// 4 logarithms per pixel, then one vectorised exp per channel over
// precomputed log-energies (kernels::SpectralKernels::power_law_subtract_*,
// dispatched at run time in the binaries corespec builds). Measure before changing.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/kernels/spectral.hpp"
#include "corespec/core/numeric/levenberg_marquardt.hpp"
#include "corespec/core/parallel.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/prep/detail/hyperspy_axis.hpp"  // numeric:: names, and the old prep::detail ones
#include "corespec/prep/detail/numeric.hpp"  // numeric:: names, and the old prep::detail ones

namespace corespec::prep {

/// Outcome of a background fit on one spectrum.
enum class BackgroundStatus : std::uint8_t {
    ok = 0,
    empty_window,  ///< the window sums are zero (e.g. a pixel outside the specimen)
    non_positive,  ///< a window sum or value is negative where a logarithm is needed, or the
                   ///< fitted exponential rises with energy (tau < 0: not a pre-edge background)
    non_finite,    ///< NaN/Inf in the window, or a non-finite fit result
    fit_failed,    ///< least squares did not converge in max_iterations; its last iterate is used
    outlier,       ///< a few channels dominate a fit window (a spike): the fast exponential's
                   ///< geometric means would describe the spike, not the background
};

inline const char* to_string(BackgroundStatus s) noexcept {
    switch (s) {
        case BackgroundStatus::ok: return "ok";
        case BackgroundStatus::empty_window: return "empty_window";
        case BackgroundStatus::non_positive: return "non_positive";
        case BackgroundStatus::non_finite: return "non_finite";
        case BackgroundStatus::fit_failed: return "fit_failed";
        case BackgroundStatus::outlier: return "outlier";
    }
    return "unknown";
}

enum class BackgroundModel { power_law, exponential, polynomial };
enum class BackgroundFit { fast, least_squares };

struct BackgroundOptions {
    double lo = 0.0;  ///< window start (axis units, eV)
    double hi = 0.0;  ///< window end
    BackgroundModel model = BackgroundModel::power_law;
    BackgroundFit fit = BackgroundFit::fast;
    int polynomial_order = 2;
    bool binned = true;       ///< counts per channel (EELS); false: a density (counts per eV)
    bool zero_fill = false;   ///< set the channels below the window start to 0
    int max_iterations = 200; ///< least squares
};

/// A background fit planned once for an axis and applied to any number of
/// spectra (const, thread-safe).
class BackgroundRemover {
public:
    /// The fast exponential refuses (status outlier) a window half whose
    /// arithmetic mean exceeds its geometric mean by more than this factor.
    static constexpr double max_mean_ratio = 10.0;

    /// Throws value_error for a bad window or polynomial order, range_error
    /// when the window is not inside the axis or holds too few channels.
    BackgroundRemover(grid::EnergyAxis axis, BackgroundOptions options)
        : axis_(std::move(axis)), opt_(options) {
        numeric::require_window_inside(axis_, opt_.lo, opt_.hi, "BackgroundRemover");
        if (opt_.model == BackgroundModel::polynomial && (opt_.polynomial_order < 0 || opt_.polynomial_order > 10))
            throw value_error("BackgroundRemover: polynomial order must be in [0, 10], got " +
                              std::to_string(opt_.polynomial_order));
        if (opt_.max_iterations < 1) throw value_error("BackgroundRemover: max_iterations must be >= 1");
        const std::size_t n = axis_.size();
        auto [i1, i2] = numeric::hyperspy_value_range_to_indices(axis_, opt_.lo, opt_.hi);
        win_lo_ = i1;
        win_hi_ = i2;
        zero_below_ = i1;
        const std::size_t need = parameter_count();
        if (win_hi_ <= win_lo_ || win_hi_ - win_lo_ < need)
            throw range_error("BackgroundRemover: window [" + std::to_string(opt_.lo) + ", " +
                              std::to_string(opt_.hi) + "] holds " + std::to_string(win_hi_ - win_lo_ + 1) +
                              " channel(s); the model needs at least " + std::to_string(need + 1));
        // Channel widths: the scale for binned data (mean spacing for explicit axes).
        width_.assign(n, 1.0);
        if (opt_.binned)
            for (std::size_t i = 0; i < n; ++i) width_[i] = axis_.upper_edge(i) - axis_.lower_edge(i);
        if (opt_.binned && axis_.is_uniform()) std::fill(width_.begin(), width_.end(), axis_.as_uniform().scale());
        plan_two_area();
        plan_energies();
    }

    const grid::EnergyAxis& axis() const noexcept { return axis_; }
    const BackgroundOptions& options() const noexcept { return opt_; }

    /// Number of fitted parameters per spectrum: 2 ({A, r} or {A, tau}) or
    /// polynomial_order + 1 ({c0, ..., cn}).
    std::size_t parameter_count() const noexcept {
        return opt_.model == BackgroundModel::polynomial ? static_cast<std::size_t>(opt_.polynomial_order) + 1 : 2;
    }

    /// Window channels [i1, i2] (inclusive) from HyperSpy's value_range_to_indices.
    std::pair<std::size_t, std::size_t> window_indices() const noexcept { return {win_lo_, win_hi_}; }
    /// Channels {i1, i3, i2} of the power-law two-area estimate: sums over [i1, i3) and [i3, i2).
    std::array<std::size_t, 3> two_area_indices() const noexcept { return {ta_i1_, ta_i3_, ta_i2_}; }

    /// The channel ranges [first, last) the fit really reads, which differ
    /// from window_indices(): the fast power law sums [i1, i3) and [i3, i2)
    /// with i1 + i2 made even (HyperSpy drops the last window channel then);
    /// the fast exponential averages the logs over [i1, im) and [im, i2);
    /// the fast polynomial fits [i1, i2); least squares fits [i1, i2].
    std::vector<std::pair<std::size_t, std::size_t>> fit_ranges() const {
        if (opt_.fit == BackgroundFit::least_squares) return {{win_lo_, win_hi_ + 1}};
        switch (opt_.model) {
            case BackgroundModel::power_law: return {{ta_i1_, ta_i3_}, {ta_i3_, ta_i2_}};
            case BackgroundModel::exponential: {
                const auto [i1, im, i2] = exponential_indices();
                return {{i1, im}, {im, i2}};
            }
            case BackgroundModel::polynomial: break;
        }
        return {{win_lo_, win_hi_}};
    }

    /// Fits one spectrum (size = axis size); writes parameter_count() values.
    template <class T>
    BackgroundStatus fit(span<const T> y, span<double> params) const {
        check_sizes(y.size(), params.size());
        std::fill(params.begin(), params.end(), 0.0);
        BackgroundStatus st = BackgroundStatus::ok;
        switch (opt_.model) {
            case BackgroundModel::power_law: st = fast_power_law(y.data(), params.data()); break;
            case BackgroundModel::exponential: st = fast_exponential(y.data(), params.data()); break;
            case BackgroundModel::polynomial: return fit_polynomial(y.data(), params.data());
        }
        if (st == BackgroundStatus::ok && opt_.fit == BackgroundFit::least_squares) {
            st = least_squares(y.data(), params.data());
            if (opt_.model == BackgroundModel::exponential && st == BackgroundStatus::ok && !(params[1] > 0.0))
                st = BackgroundStatus::non_positive;  // rising: not a pre-edge background (as fast_exponential)
        }
        return st;
    }

    /// Background counts in channel i for the given parameters.
    double background(std::size_t i, span<const double> params) const noexcept {
        const double e = axis_.energy(i);
        switch (opt_.model) {
            case BackgroundModel::power_law:
                return e > 0.0 ? params[0] * std::pow(e, -params[1]) * width_[i] : 0.0;
            case BackgroundModel::exponential:
                return params[0] * std::exp(-e / params[1]) * width_[i];
            case BackgroundModel::polynomial: {
                double v = 0.0;
                for (std::size_t k = params.size(); k-- > 0;) v = v * e + params[k];
                return v * width_[i];
            }
        }
        return 0.0;
    }

    /// out = y - background over the whole axis (channels below the window
    /// set to 0 with zero_fill). A spectrum whose status is not ok (or
    /// fit_failed) keeps its values. `out` may alias `y`.
    template <class T, class U>
    void subtract(span<const T> y, span<const double> params, BackgroundStatus status, span<U> out) const {
        const std::size_t n = axis_.size();
        if (out.size() != n) throw shape_error("BackgroundRemover::subtract output", {n}, {out.size()});
        check_sizes(y.size(), params.size());
        const bool usable = status == BackgroundStatus::ok || status == BackgroundStatus::fit_failed;
        const std::size_t z = opt_.zero_fill ? zero_below_ : 0;
        for (std::size_t i = 0; i < z; ++i) out[i] = U(0);
        if (!usable) {
            for (std::size_t i = z; i < n; ++i) out[i] = static_cast<U>(y[i]);
            return;
        }
        if (opt_.model == BackgroundModel::power_law && params[0] > 0.0 && std::isfinite(params[1]) &&
            axis_.is_uniform()) {
            // counts_i = exp(ln(A * w) - r ln E_ref - r (ln E_i - ln E_ref)): the
            // reference keeps the per-channel exponent small, so float keeps precision.
            const std::size_t first = std::max(z, first_positive_);
            for (std::size_t i = z; i < first; ++i) out[i] = static_cast<U>(y[i]);
            const double c = std::log(params[0] * width_[0]) - params[1] * ln_ref_;
            detail_subtract_exp(y.data() + first, out.data() + first, n - first, first, c, params[1]);
            return;
        }
        for (std::size_t i = z; i < n; ++i) out[i] = static_cast<U>(static_cast<double>(y[i]) - background(i, params));
    }

    /// fit then subtract; returns the status.
    template <class T>
    BackgroundStatus apply(span<const T> y, span<T> out, span<double> params) const {
        const BackgroundStatus st = fit(y, params);
        subtract(y, span<const double>(params.data(), params.size()), st, out);
        return st;
    }

private:
    void check_sizes(std::size_t ny, std::size_t np) const {
        if (ny != axis_.size()) throw shape_error("BackgroundRemover spectrum", {axis_.size()}, {ny});
        if (np != parameter_count()) throw shape_error("BackgroundRemover parameters", {parameter_count()}, {np});
    }

    void plan_two_area() {
        // PowerLaw.estimate_parameters: make i1 + i2 even, never a zero-width split.
        std::size_t i1 = win_lo_, i2 = win_hi_;
        if ((i1 + i2) % 2 != 0) --i2;
        if (i2 == i1) i2 += 2;
        if (i2 >= axis_.size()) throw range_error("BackgroundRemover: window too close to the end of the axis");
        ta_i1_ = i1;
        ta_i2_ = i2;
        ta_i3_ = (i1 + i2) / 2;
        x1_ = axis_.energy(ta_i1_);
        x2_ = axis_.energy(ta_i2_);
        x3_ = axis_.energy(ta_i3_);
        ln_x2_over_x1_ = (x1_ > 0.0 && x2_ > 0.0) ? std::log(x2_) - std::log(x1_) : 0.0;
        ln_x2_ = x2_ > 0.0 ? std::log(x2_) : 0.0;
        ln_x3_ = x3_ > 0.0 ? std::log(x3_) : 0.0;
    }

    void plan_energies() {
        const std::size_t n = axis_.size();
        first_positive_ = n;
        for (std::size_t i = 0; i < n; ++i)
            if (axis_.energy(i) > 0.0) {
                first_positive_ = i;
                break;
            }
        ln_ref_ = x3_ > 0.0 ? std::log(x3_) : 0.0;
        lnr_d_.assign(n, 0.0);
        log2r_f_.assign(n, 0.0f);
        for (std::size_t i = first_positive_; i < n; ++i) {
            lnr_d_[i] = std::log(axis_.energy(i)) - ln_ref_;
            log2r_f_[i] = static_cast<float>(lnr_d_[i] * 1.4426950408889634);  // the float kernel works in base 2
        }
    }

    template <class T>
    static bool finite_range(const T* y, std::size_t a, std::size_t b) noexcept {
        for (std::size_t i = a; i < b; ++i)
            if (!std::isfinite(static_cast<double>(y[i]))) return false;
        return true;
    }

    template <class T>
    BackgroundStatus fast_power_law(const T* y, double* p) const {
        if (!(x1_ > 0.0)) return BackgroundStatus::non_positive;  // log of a non-positive energy
        double s1 = 0.0, s2 = 0.0;
        for (std::size_t i = ta_i1_; i < ta_i3_; ++i) s1 += static_cast<double>(y[i]);
        for (std::size_t i = ta_i3_; i < ta_i2_; ++i) s2 += static_cast<double>(y[i]);
        if (!opt_.binned) {
            s1 = integrate(y, ta_i1_, ta_i3_);
            s2 = integrate(y, ta_i3_, ta_i2_);
        }
        if (!std::isfinite(s1) || !std::isfinite(s2)) return BackgroundStatus::non_finite;
        if (s1 == 0.0 && s2 == 0.0) return BackgroundStatus::empty_window;
        if (!(s1 > 0.0) || !(s2 > 0.0)) return BackgroundStatus::non_positive;
        // HyperSpy: r = 2 ln(s1 / s2) / ln(x2 / x1), A = k s2 / (x2^k - x3^k), k = 1 - r;
        // powers as exp(k ln x) from planned logarithms (3 calls instead of 4 slow pows/logs).
        const double r = 2.0 * std::log(s1 / s2) / ln_x2_over_x1_;
        const double k = 1.0 - r;
        const double a = k * s2 / (std::exp(k * ln_x2_) - std::exp(k * ln_x3_));
        if (!std::isfinite(r) || !std::isfinite(a)) return BackgroundStatus::non_finite;
        p[0] = a;
        p[1] = r;
        return BackgroundStatus::ok;
    }

    // HyperSpy's integrate1D for non-binned data: SciPy's Simpson rule over [a, b).
    template <class T>
    double integrate(const T* y, std::size_t a, std::size_t b) const {
        return numeric::simpson(
            b - a, [&](std::size_t i) { return axis_.energy(a + i); },
            [&](std::size_t i) { return static_cast<double>(y[a + i]); });
    }

    // Exponential.estimate_parameters: halves [i1, im) and [im, i2), the
    // window widened by a channel when it holds only two.
    std::array<std::size_t, 3> exponential_indices() const noexcept {
        std::size_t i1 = win_lo_, i2 = win_hi_;
        if (i1 + 1 == i2) {
            if (i2 + 1 < axis_.size()) ++i2;
            else if (i1 > 0) --i1;
        }
        return {i1, (i1 + i2) / 2, i2};
    }

    template <class T>
    BackgroundStatus fast_exponential(const T* y, double* p) const {
        const auto [i1, im, i2] = exponential_indices();
        if (!finite_range(y, i1, i2)) return BackgroundStatus::non_finite;
        bool all_zero = true;
        for (std::size_t i = i1; i < i2; ++i) all_zero = all_zero && y[i] == T(0);
        if (all_zero) return BackgroundStatus::empty_window;
        double l1 = 0.0, l2 = 0.0, s1 = 0.0, s2 = 0.0;
        for (std::size_t i = i1; i < i2; ++i) {
            if (!(y[i] > T(0))) return BackgroundStatus::non_positive;
            (i < im ? l1 : l2) += std::log(static_cast<double>(y[i]));
            (i < im ? s1 : s2) += static_cast<double>(y[i]);
        }
        l1 /= static_cast<double>(im - i1);
        l2 /= static_cast<double>(i2 - im);
        const double xs = axis_.energy(i1), xm = axis_.energy(im), xe = axis_.energy(i2);
        const double x1 = 0.5 * (xs + xm), x2 = 0.5 * (xm + xe);
        const double ln_a = (l1 - (x1 / x2) * l2) / (1.0 - x1 / x2);
        const double tau = -x2 / (l2 - ln_a);
        const double a = std::exp(ln_a) / (opt_.binned ? width_[i1] : 1.0);
        if (!std::isfinite(a) || !std::isfinite(tau) || tau == 0.0) return BackgroundStatus::non_finite;
        // A pre-edge background falls with energy: tau < 0 (a spike in the
        // upper half, an edge inside the window) is not a background fit.
        if (tau < 0.0) return BackgroundStatus::non_positive;
        // The geometric mean of a half stands for its level only when the
        // values are of one magnitude. A falling background keeps the
        // arithmetic / geometric mean ratio near 1 (1.23 for a tenfold drop
        // across a half, 2.2 for a hundredfold); one spike of S among n
        // channels of level c makes it about (S / c) / n. A spike in the
        // upper half shows as a rising fit (above); one in the lower half
        // gives a steep falling fit that only this check refuses.
        const double am1 = s1 / static_cast<double>(im - i1), am2 = s2 / static_cast<double>(i2 - im);
        if (!std::isfinite(am1) || !std::isfinite(am2)) return BackgroundStatus::non_finite;
        if (std::log(am1) - l1 > std::log(max_mean_ratio) || std::log(am2) - l2 > std::log(max_mean_ratio))
            return BackgroundStatus::outlier;
        // Its largest value, at the first channel, must be a number too.
        if (!std::isfinite(a * std::exp(-axis_.energy(0) / tau) * width_[0])) return BackgroundStatus::non_finite;
        p[0] = a;
        p[1] = tau;
        return BackgroundStatus::ok;
    }

    // Linear least squares of counts / width over [i1, i2) (numpy.polyfit's
    // range in HyperSpy), in a centred and scaled variable for conditioning,
    // converted back to coefficients of E.
    template <class T>
    BackgroundStatus fit_polynomial(const T* y, double* p) const {
        const std::size_t a = win_lo_;
        const std::size_t b = opt_.fit == BackgroundFit::least_squares ? win_hi_ + 1 : win_hi_;
        if (!finite_range(y, a, b)) return BackgroundStatus::non_finite;
        const std::size_t m = static_cast<std::size_t>(opt_.polynomial_order) + 1;
        const double e0 = 0.5 * (axis_.energy(a) + axis_.energy(b - 1));
        const double hw = std::max(0.5 * (axis_.energy(b - 1) - axis_.energy(a)), 1e-300);
        std::vector<double> ata(m * m, 0.0), atb(m, 0.0), pw(m);
        for (std::size_t i = a; i < b; ++i) {
            const double t = (axis_.energy(i) - e0) / hw;
            pw[0] = 1.0;
            for (std::size_t k = 1; k < m; ++k) pw[k] = pw[k - 1] * t;
            const double v = static_cast<double>(y[i]) / width_[i];
            for (std::size_t r = 0; r < m; ++r) {
                atb[r] += pw[r] * v;
                for (std::size_t c = 0; c < m; ++c) ata[r * m + c] += pw[r] * pw[c];
            }
        }
        std::vector<double> ct(m);
        if (!numeric::solve_dense(ata, atb, ct, m)) return BackgroundStatus::fit_failed;
        // c(t) with t = (E - e0) / hw -> coefficients of E (binomial expansion).
        std::fill(p, p + m, 0.0);
        for (std::size_t k = 0; k < m; ++k) {
            const double ck = ct[k] / std::pow(hw, static_cast<double>(k));
            double binom = 1.0;
            for (std::size_t j = 0; j <= k; ++j) {  // (E - e0)^k = sum_j C(k,j) E^j (-e0)^(k-j)
                p[j] += ck * binom * std::pow(-e0, static_cast<double>(k - j));
                binom = binom * static_cast<double>(k - j) / static_cast<double>(j + 1);
            }
        }
        for (std::size_t k = 0; k < m; ++k)
            if (!std::isfinite(p[k])) return BackgroundStatus::non_finite;
        return BackgroundStatus::ok;
    }

    // Least squares on counts_i = exp(a + b g_i) over [i1, i2]:
    // power law g = -(ln E - ln E_ref), b = r; exponential g = -(E - E_ref),
    // b = 1/tau. Minimising over (a, b) is the same problem as over (A, r)
    // while A > 0, and much better conditioned.
    template <class T>
    BackgroundStatus least_squares(const T* y, double* p) const {
        const std::size_t i1 = win_lo_, i2 = win_hi_ + 1;
        if (!finite_range(y, i1, i2)) return BackgroundStatus::non_finite;
        const bool pl = opt_.model == BackgroundModel::power_law;
        if (pl && !(axis_.energy(i1) > 0.0)) return BackgroundStatus::non_positive;
        if (!(p[0] > 0.0)) return BackgroundStatus::non_positive;
        const double ref = pl ? ln_ref_ : x3_;
        const std::size_t m = i2 - i1;
        std::vector<double> g(m), lw(m);
        for (std::size_t j = 0; j < m; ++j) {
            const double e = axis_.energy(i1 + j);
            g[j] = pl ? -(std::log(e) - ref) : -(e - ref);
            lw[j] = std::log(width_[i1 + j]);
        }
        // Start: counts = A w exp(b g) (1 / E_ref^r folded into a).
        double b = pl ? p[1] : 1.0 / p[1];
        double a = std::log(p[0]) - b * ref;
        auto cost = [&](double aa, double bb) {
            double s = 0.0;
            for (std::size_t j = 0; j < m; ++j) {
                const double d = static_cast<double>(y[i1 + j]) - std::exp(aa + lw[j] + bb * g[j]);
                s += d * d;
            }
            return s;
        };
        // One shared fitter (numeric::levenberg_marquardt_2) for prep and align.
        std::array<double, 2> ab{a, b};
        const auto normal = [&](const std::array<double, 2>& q) {
            numeric::NormalEquations2 ne;
            for (std::size_t j = 0; j < m; ++j) {
                const double f = std::exp(q[0] + lw[j] + q[1] * g[j]);
                const double r = static_cast<double>(y[i1 + j]) - f;
                const double da = f, db = f * g[j];
                ne.add(da, db, r);
            }
            return ne;
        };
        numeric::LevenbergMarquardtOptions lm;
        lm.max_iterations = opt_.max_iterations;
        const auto fit = numeric::levenberg_marquardt_2(ab, normal, [&](const std::array<double, 2>& q) { return cost(q[0], q[1]); }, lm);
        if (!std::isfinite(fit.cost)) return BackgroundStatus::fit_failed;
        const bool converged = fit.converged;
        a = ab[0];
        b = ab[1];
        const double a_out = std::exp(a + b * ref);
        const double b_out = pl ? b : 1.0 / b;
        if (!std::isfinite(a_out) || !std::isfinite(b_out)) return BackgroundStatus::fit_failed;
        p[0] = a_out;
        p[1] = b_out;
        return converged ? BackgroundStatus::ok : BackgroundStatus::fit_failed;
    }

    template <class T, class U>
    void detail_subtract_exp(const T* in, U* out, std::size_t count, std::size_t first, double c, double r) const {
        if constexpr (std::is_same<T, float>::value && std::is_same<U, float>::value) {
            constexpr double log2e = 1.4426950408889634;
            // The hot loop: the dispatched kernels (core/kernels/spectral.hpp).
            kernels::default_spectral_table().power_law_subtract_f(in, out, log2r_f_.data() + first, count,
                                                                   static_cast<float>(c * log2e), static_cast<float>(r));
        } else if constexpr (std::is_same<T, double>::value && std::is_same<U, double>::value) {
            kernels::default_spectral_table().power_law_subtract_d(in, out, lnr_d_.data() + first, count, c, r);
        } else {
            for (std::size_t i = 0; i < count; ++i)
                out[i] = static_cast<U>(static_cast<double>(in[i]) - std::exp(c - r * lnr_d_[first + i]));
        }
    }

    grid::EnergyAxis axis_;
    BackgroundOptions opt_;
    std::size_t win_lo_ = 0, win_hi_ = 0, zero_below_ = 0;
    std::size_t ta_i1_ = 0, ta_i2_ = 0, ta_i3_ = 0;
    double x1_ = 0, x2_ = 0, x3_ = 0, ln_x2_over_x1_ = 0, ln_x2_ = 0, ln_x3_ = 0, ln_ref_ = 0;
    std::size_t first_positive_ = 0;
    std::vector<double> width_, lnr_d_;
    std::vector<float> log2r_f_;
};

// The image threading lives in core/parallel.hpp; this name is kept for callers.
using corespec::parallel_ranges;

/// Raw form for a caller's buffers: `pixels` spectra of remover.axis().size()
/// channels each, contiguous. Writes the subtracted spectra to `out` (may be
/// `in`; nullptr: fit only), parameter_count() parameters per pixel and one
/// status per pixel. Spreads the pixels over `threads` std::threads.
template <class T>
void remove_background_block(const BackgroundRemover& remover, const T* in, std::size_t pixels, T* out,
                             double* params, BackgroundStatus* status, unsigned threads = 1) {
    const std::size_t n = remover.axis().size(), np = remover.parameter_count();
    parallel_ranges(pixels, threads, [&](std::size_t b, std::size_t e) {
        for (std::size_t p = b; p < e; ++p) {
            span<const T> y(in + p * n, n);
            span<double> pp(params + p * np, np);
            status[p] = remover.fit(y, pp);
            if (out) remover.subtract(y, span<const double>(pp.data(), np), status[p], span<T>(out + p * n, n));
        }
    });
}

/// Result for one spectrum.
template <class T>
struct SpectrumBackground {
    grid::Spectrum<T> subtracted;
    std::vector<double> parameters;  ///< {A, r}, {A, tau} or {c0..cn}
    BackgroundStatus status;
};

/// Fitted parameters of a spectrum image: shape navigation + {parameter_count},
/// and one status per pixel (navigation, row-major, order).
struct ImageBackgroundFit {
    xt::xarray<double> parameters;
    std::vector<BackgroundStatus> status;

    std::size_t count(BackgroundStatus s) const noexcept {
        return static_cast<std::size_t>(std::count(status.begin(), status.end(), s));
    }
};

/// Result for a spectrum image: the fit (parameters, status) and the
/// subtracted image.
template <class T>
struct ImageBackground : ImageBackgroundFit {
    grid::SpectrumImage<T> subtracted;
};

/// Fits and subtracts the background of one spectrum. Throws as BackgroundRemover.
template <class T>
SpectrumBackground<T> remove_background(const grid::Spectrum<T>& spectrum, const BackgroundOptions& options) {
    BackgroundRemover remover(spectrum.axis(), options);
    SpectrumBackground<T> r{grid::Spectrum<T>(spectrum.axis(), spectrum.metadata()),
                            std::vector<double>(remover.parameter_count()), BackgroundStatus::ok};
    r.status = remover.apply(span<const T>(spectrum.values()), span<T>(r.subtracted.values()), span<double>(r.parameters));
    return r;
}

namespace detail {
template <class T>
xt::xarray<double> background_parameter_array(const grid::SpectrumImage<T>& image, const BackgroundRemover& remover) {
    std::vector<std::size_t> shape(image.navigation_shape());
    shape.push_back(remover.parameter_count());
    return xt::xarray<double>::from_shape(shape);
}
}  // namespace detail

/// Fits and subtracts the background of every pixel of a spectrum image,
/// over `threads` std::threads, into a new image. Throws as BackgroundRemover;
/// pixel problems are reported in `status`.
template <class T>
ImageBackground<T> remove_background(const grid::SpectrumImage<T>& image, const BackgroundOptions& options,
                                     unsigned threads = 1) {
    BackgroundRemover remover(image.axis(), options);
    std::vector<std::size_t> shape(image.navigation_shape());
    shape.push_back(image.channel_count());
    // Left uninitialised: subtract() writes every channel of every pixel, and
    // each thread then first-touches (page-faults) its own part, in parallel.
    ImageBackground<T> r{{detail::background_parameter_array(image, remover),
                          std::vector<BackgroundStatus>(image.pixel_count())},
                         grid::SpectrumImage<T>(xt::xarray<T>::from_shape(shape), image.axis(), image.metadata())};
    remove_background_block(remover, image.data().data(), image.pixel_count(), r.subtracted.data().data(),
                            r.parameters.data(), r.status.data(), threads);
    return r;
}

/// As remove_background, but `image` is overwritten with the subtracted
/// spectra: no second image is allocated, and the memory traffic is one read
/// and one write of each spectrum (a new image costs a fresh allocation's
/// page faults and a write-allocate read of the output on top). The form for
/// a stream of spectra. Throws as BackgroundRemover, before `image` is touched.
template <class T>
ImageBackgroundFit remove_background_in_place(grid::SpectrumImage<T>& image, const BackgroundOptions& options,
                                              unsigned threads = 1) {
    BackgroundRemover remover(image.axis(), options);
    ImageBackgroundFit r{detail::background_parameter_array(image, remover),
                         std::vector<BackgroundStatus>(image.pixel_count())};
    remove_background_block(remover, image.data().data(), image.pixel_count(), image.data().data(),
                            r.parameters.data(), r.status.data(), threads);
    return r;
}

}  // namespace corespec::prep
