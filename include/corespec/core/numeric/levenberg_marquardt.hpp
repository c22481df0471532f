// corespec/core/numeric/levenberg_marquardt.hpp - the one least-squares fitter
// of prep/ and align/: Levenberg-Marquardt for two parameters.
//
// Both users fit two parameters (EELS background (ln A, r) or (ln A, 1/tau);
// energy_align's (shift, scale)) with an analytic Jacobian, thousands of times
// per image. Ours rather than Eigen's LevenbergMarquardt (unsupported module):
// the 2 x 2 normal equations are solved in closed form with no allocation
// and no functor boilerplate, bounds are a clamp, and the stopping rules
// reproduce the two hand-written loops it replaces exactly.
//
//   std::array<double, 2> p{a0, b0};
//   auto r = numeric::levenberg_marquardt_2(p, normal_equations, cost, options);
//
// normal_equations(p) returns J^T J and J^T r at p (r = data - model, J the
// model's Jacobian); cost(p) the sum of squared residuals.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace corespec::numeric {

/// J^T J = [[jaa, jab], [jab, jbb]] and J^T r = [ga, gb] at the current parameters.
struct NormalEquations2 {
    double jaa = 0.0, jab = 0.0, jbb = 0.0, ga = 0.0, gb = 0.0;

    /// Adds one point: the model's derivatives (da, db) there and its residual.
    void add(double da, double db, double residual) noexcept {
        jaa += da * da;
        jab += da * db;
        jbb += db * db;
        ga += da * residual;
        gb += db * residual;
    }
};

struct LevenbergMarquardtOptions {
    int max_iterations = 200;
    /// Converged when an accepted step lowers the cost by less than this fraction...
    double relative_cost_tolerance = 1e-14;
    /// ... or when every parameter moves by less than step_tolerance[k] * (1 + step_relative[k] * |p_k|).
    std::array<double, 2> step_tolerance{1e-12, 1e-12};
    std::array<double, 2> step_relative{1.0, 1.0};
    std::array<double, 2> lower{-std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    std::array<double, 2> upper{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    int damping_tries = 30;  ///< damping increases (x10) per iteration before giving up
};

struct LevenbergMarquardtResult {
    bool converged = false;  ///< false: max_iterations reached, or a non-finite start
    double cost = 0.0;
    int iterations = 0;
};

/// Minimises cost(p) over two parameters from `p` (updated in place), with
/// Marquardt's diagonal damping (lambda from 1e-3, x0.1 on success down to
/// 1e-12, x10 on failure). A step is accepted when the cost does not rise;
/// no downhill step after damping_tries is a minimum to rounding (converged).
template <class Normal, class Cost>
LevenbergMarquardtResult levenberg_marquardt_2(std::array<double, 2>& p, Normal&& normal_equations, Cost&& cost,
                                               const LevenbergMarquardtOptions& o = {}) {
    LevenbergMarquardtResult r;
    r.cost = cost(p);
    if (!std::isfinite(r.cost)) return r;
    double lambda = 1e-3;
    for (int it = 0; it < o.max_iterations && !r.converged; ++it) {
        r.iterations = it + 1;
        const NormalEquations2 n = normal_equations(p);
        bool stepped = false;
        for (int tries = 0; tries < o.damping_tries; ++tries) {
            const double m00 = n.jaa * (1.0 + lambda), m11 = n.jbb * (1.0 + lambda), m01 = n.jab;
            const double det = m00 * m11 - m01 * m01;
            if (!(std::abs(det) > 0.0) || !std::isfinite(det)) {
                lambda *= 10.0;
                continue;
            }
            const double da = (m11 * n.ga - m01 * n.gb) / det, db = (m00 * n.gb - m01 * n.ga) / det;
            const std::array<double, 2> next{std::clamp(p[0] + da, o.lower[0], o.upper[0]),
                                             std::clamp(p[1] + db, o.lower[1], o.upper[1])};
            const double cn = cost(next);
            if (std::isfinite(cn) && cn <= r.cost) {
                const double rel = (r.cost - cn) / std::max(r.cost, 1e-300);
                bool small = true;
                for (int k = 0; k < 2; ++k)
                    small = small && std::abs(next[k] - p[k]) <
                                         o.step_tolerance[k] * (1.0 + o.step_relative[k] * std::abs(p[k]));
                p = next;
                r.cost = cn;
                lambda = std::max(lambda * 0.1, 1e-12);
                stepped = true;
                if (rel < o.relative_cost_tolerance || small) r.converged = true;
                break;
            }
            lambda *= 10.0;
        }
        if (!stepped) r.converged = true;  // no downhill step left: at the minimum to rounding
    }
    return r;
}

}  // namespace corespec::numeric
