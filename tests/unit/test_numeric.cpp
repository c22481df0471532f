// The shared numerics of prep/ and align/ (core/numeric/), and the names that
// moved: one function behind the old and the new name.
#include <array>
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "corespec/align/calibration.hpp"
#include "corespec/align/zero_loss.hpp"
#include "corespec/core/numeric/levenberg_marquardt.hpp"
#include "corespec/prep/edge_energy.hpp"
#include "corespec/prep/low_loss.hpp"

namespace numeric = corespec::numeric;

namespace {

// y = a exp(b x) sampled exactly: the fit must recover (a, b).
struct ExpProblem {
    std::vector<double> x, y;
    ExpProblem(double a, double b) {
        for (int i = 0; i < 40; ++i) {
            x.push_back(0.05 * i);
            y.push_back(a * std::exp(b * x.back()));
        }
    }
    numeric::NormalEquations2 normal(const std::array<double, 2>& p) const {
        numeric::NormalEquations2 n;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double e = std::exp(p[1] * x[i]), f = p[0] * e, r = y[i] - f;
            const double da = e, db = f * x[i];
            n.add(da, db, r);
        }
        return n;
    }
    double cost(const std::array<double, 2>& p) const {
        double s = 0.0;
        for (std::size_t i = 0; i < x.size(); ++i) s += std::pow(y[i] - p[0] * std::exp(p[1] * x[i]), 2);
        return s;
    }
};

}  // namespace

TEST_CASE("levenberg_marquardt_2: recovers a two-parameter model, respects bounds, reports failure") {
    const ExpProblem pb(3.0, -1.7);
    auto normal = [&](const std::array<double, 2>& p) { return pb.normal(p); };
    auto cost = [&](const std::array<double, 2>& p) { return pb.cost(p); };
    std::array<double, 2> p{1.0, 0.0};
    const auto r = numeric::levenberg_marquardt_2(p, normal, cost);
    CHECK(r.converged);
    CHECK(p[0] == doctest::Approx(3.0).epsilon(1e-9));
    CHECK(p[1] == doctest::Approx(-1.7).epsilon(1e-9));
    CHECK(r.cost < 1e-18);
    // a bound the optimum lies beyond: the fit stops on it
    numeric::LevenbergMarquardtOptions o;
    o.lower = {0.0, -1.0};
    std::array<double, 2> q{1.0, 0.0};
    (void)numeric::levenberg_marquardt_2(q, normal, cost, o);
    CHECK(q[1] >= -1.0);
    CHECK(q[1] == doctest::Approx(-1.0).epsilon(1e-6));
    // one iteration is not enough from far away: not converged, last iterate kept
    o = {};
    o.max_iterations = 1;
    std::array<double, 2> s{1.0, 0.0};
    const auto one = numeric::levenberg_marquardt_2(s, normal, cost, o);
    CHECK_FALSE(one.converged);
    CHECK(one.iterations == 1);
    CHECK(one.cost < pb.cost({1.0, 0.0}));
    // a non-finite start is reported, nothing moves
    std::array<double, 2> bad{std::nan(""), 0.0};
    const auto nf = numeric::levenberg_marquardt_2(bad, normal, cost);
    CHECK_FALSE(nf.converged);
    CHECK(nf.iterations == 0);
}

TEST_CASE("moved names: the ZLP centre with the alignment, e0 with the edge onset") {
    const auto axis = corespec::grid::EnergyAxis::uniform(-10.0, 0.1, 300);
    std::vector<double> y(axis.size());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::exp(-0.5 * std::pow((axis.energy(i) - 0.42) / 0.4, 2)) + 0.01;
    const corespec::grid::Spectrum<double> s(axis, y);
    corespec::prep::ZlpOptions o;  // the prep:: names are the align:: ones
    o.method = corespec::align::ZlpMethod::gaussian;
    CHECK(corespec::prep::zlp_centre(s, o) == corespec::align::zlp_centre(s, o));
    CHECK(corespec::align::zlp_centre(s, o) == doctest::Approx(0.42).epsilon(1e-2));
    // find_edge_onset: the same function from align/calibration.hpp and prep/edge_energy.hpp
    const auto ea = corespec::grid::EnergyAxis::uniform(840.0, 0.1, 400);
    std::vector<double> mu(ea.size());
    for (std::size_t i = 0; i < mu.size(); ++i) mu[i] = 0.5 + std::atan((ea.energy(i) - 855.0) / 1.0) / M_PI;
    const corespec::grid::Spectrum<double> edge(ea, mu);
    const double onset = corespec::prep::find_edge_onset(edge, 845.0, 870.0);
    CHECK(onset == corespec::align::find_edge_onset(edge, 845.0, 870.0));
    CHECK(onset == doctest::Approx(855.0).epsilon(1e-4));
    CHECK(corespec::prep::find_e0(edge.view()) == doctest::Approx(855.0).epsilon(1e-3));
}
