// tests/support/nn_gradcheck.hpp - finite-difference helpers for the nn
// gradient checks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace corespec_test {

/// Central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every i.
template <class F>
std::vector<double> numeric_gradient(F&& f, std::vector<double> x, double h = 1e-6) {
    std::vector<double> g(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i];
        x[i] = keep + h;
        const double up = f(x);
        x[i] = keep - h;
        const double down = f(x);
        x[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

/// max_i |a_i - b_i| / max_i |b_i|: the largest error relative to the
/// gradient's scale (element-wise ratios blow up on entries that are zero up
/// to the finite-difference noise).
inline double max_rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return 1e300;
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return scale > 0 ? err / scale : err;
}

}  // namespace corespec_test
