#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "corespec/prep/smoothing.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::prep;

namespace {

const nlohmann::json& scipy_ref() {
    static const nlohmann::json ref = nlohmann::json::parse(
        corespec_test::read_text(corespec_test::source_path("tests/data/prep/savgol_scipy.json")));
    return ref;
}

// max |a-b| / max |b|
double rel_err_or_abs(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0, s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, std::abs(a[i] - b[i]));
        s = std::max(s, std::abs(b[i]));
    }
    return s > 0 ? m / s : m;
}

}  // namespace

TEST_CASE("Savitzky-Golay matches scipy.signal.savgol_filter (mode interp; tools/make_savgol_reference.py)") {
    const auto& ref = scipy_ref();
    const auto y = ref["input"]["y"].get<std::vector<double>>();
    REQUIRE(ref["savgol"].size() >= 20);
    double worst = 0;
    for (const auto& c : ref["savgol"]) {
        const SavitzkyGolay sg{c["window"].get<int>(), c["order"].get<int>(), c["deriv"].get<int>(),
                               c["delta"].get<double>()};
        INFO("window " << sg.window << " order " << sg.order << " deriv " << sg.deriv);
        const auto out = sg(span<const double>(y));
        const double e = rel_err_or_abs(out, c["y"].get<std::vector<double>>());
        CHECK(e < 1e-9);
        worst = std::max(worst, e);
    }
    const auto& s = ref["savgol_short"];
    const SavitzkyGolay sg{s["window"].get<int>(), s["order"].get<int>(), s["deriv"].get<int>(), s["delta"].get<double>()};
    const auto in = s["input"].get<std::vector<double>>();
    const double e = rel_err_or_abs(sg(span<const double>(in)), s["y"].get<std::vector<double>>());
    CHECK(e < 1e-9);
    MESSAGE("Savitzky-Golay vs SciPy: max relative error " << std::max(worst, e));
}

TEST_CASE("Savitzky-Golay in float and on a uniform spectrum") {
    const auto& ref = scipy_ref();
    const auto y = ref["input"]["y"].get<std::vector<double>>();
    const auto x = ref["input"]["x"].get<std::vector<double>>();
    const auto& c = ref["savgol"][1];  // window 5, order 2, first derivative
    REQUIRE(c["deriv"].get<int>() == 1);
    const std::vector<float> yf(y.begin(), y.end());
    const auto axis = grid::EnergyAxis::uniform(x.front(), c["delta"].get<double>(), x.size());
    const grid::Spectrum<float> spec(axis, yf);
    const SavitzkyGolay sg{5, 2, 1};  // delta from the axis
    const auto out = sg(spec.view());
    const auto expected = c["y"].get<std::vector<double>>();
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == doctest::Approx(expected[i]).epsilon(1e-4));
    const auto explicit_axis = grid::EnergyAxis::from_energies(x);
    const grid::Spectrum<float> spec2(explicit_axis, yf);
    CHECK_THROWS_AS(sg(spec2.view()), value_error);
}

TEST_CASE("Savitzky-Golay keeps polynomials up to its order and rejects bad parameters") {
    std::vector<double> y(40);
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double t = static_cast<double>(i) * 0.5;
        y[i] = 1.0 - 2.0 * t + 0.3 * t * t - 0.01 * t * t * t;
    }
    const auto same = SavitzkyGolay{9, 3, 0, 0.5}(span<const double>(y));
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(same[i] == doctest::Approx(y[i]).epsilon(1e-10));
    const auto zero = SavitzkyGolay{9, 3, 4, 0.5}(span<const double>(y));  // derivative above the order
    for (double v : zero) CHECK(v == 0.0);
    CHECK_THROWS_AS((SavitzkyGolay{4, 2}(span<const double>(y))), value_error);   // even window
    CHECK_THROWS_AS((SavitzkyGolay{5, 5}(span<const double>(y))), value_error);   // order >= window
    CHECK_THROWS_AS((SavitzkyGolay{5, 2, -1}(span<const double>(y))), value_error);
    CHECK_THROWS_AS((SavitzkyGolay{5, 2, 0, 0.0}(span<const double>(y))), value_error);
    CHECK_THROWS_AS((SavitzkyGolay{41, 2}(span<const double>(y))), value_error);  // window > samples
    auto bad = y;
    bad[5] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS((SavitzkyGolay{5, 2}(span<const double>(bad))), value_error);
}

TEST_CASE("Savitzky-Golay core (numeric::savgol_filter): what the EELS steps rely on") {
    // SavitzkyGolay rejects NaN; the per-pixel callers (elastic_threshold,
    // find_edge_onset) call the core directly, where a NaN only reaches the
    // outputs whose window holds it and nothing throws.
    std::vector<double> y(21), out(21);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::sin(0.3 * static_cast<double>(i));
    y[10] = std::numeric_limits<double>::quiet_NaN();
    corespec::numeric::savgol_filter(y.data(), y.size(), 5, 2, 1, 0.25, out.data());
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(std::isnan(out[i]) == (i >= 8 && i <= 12));
    // The same numbers as SavitzkyGolay on clean data, float in, double out.
    const auto& ref = scipy_ref();
    const auto yr = ref["input"]["y"].get<std::vector<double>>();
    const std::vector<float> yf(yr.begin(), yr.end());
    const auto& c = ref["savgol"][13];  // window 21, order 6, first derivative
    REQUIRE(c["window"].get<int>() == 21);
    std::vector<double> d(yf.size());
    corespec::numeric::savgol_filter(yf.data(), yf.size(), 21, 6, 1, c["delta"].get<double>(), d.data());
    CHECK(rel_err_or_abs(d, c["y"].get<std::vector<double>>()) < 1e-5);  // float input
    CHECK_THROWS_AS(corespec::numeric::savgol_filter(y.data(), y.size(), 4, 2, 0, 1.0, out.data()), value_error);
    CHECK_THROWS_AS(corespec::numeric::savgol_filter(y.data(), y.size(), 23, 2, 0, 1.0, out.data()), value_error);
    CHECK_THROWS_AS(corespec::numeric::savgol_filter(y.data(), y.size(), 5, 5, 0, 1.0, out.data()), value_error);
}

TEST_CASE("gradient matches numpy.gradient on a non-uniform grid") {
    const auto& g = scipy_ref()["gradient"];
    const auto x = g["x"].get<std::vector<double>>();
    const auto y = g["y"].get<std::vector<double>>();
    const double e1 = rel_err_or_abs(gradient(span<const double>(x), span<const double>(y)), g["edge_order_1"].get<std::vector<double>>());
    const double e2 = rel_err_or_abs(gradient(span<const double>(x), span<const double>(y), 2), g["edge_order_2"].get<std::vector<double>>());
    CHECK(e1 < 1e-10);
    CHECK(e2 < 1e-10);
    MESSAGE("gradient vs numpy: max relative error " << std::max(e1, e2));
    // exact for a quadratic inside and, with edge_order 2, at the ends
    std::vector<double> q(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) q[i] = 3.0 * (x[i] - 7100) * (x[i] - 7100) - x[i];
    const auto dq = gradient(span<const double>(x), span<const double>(q), 2);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(dq[i] == doctest::Approx(6.0 * (x[i] - 7100) - 1.0).epsilon(1e-8));
}

TEST_CASE("gradient rejects bad input") {
    const std::vector<double> x{1, 2, 3}, y{1, 4, 9};
    CHECK_THROWS_AS(gradient(span<const double>(x), span<const double>(std::vector<double>{1, 2})), shape_error);
    CHECK_THROWS_AS(gradient(span<const double>(std::vector<double>{1, 1, 2}), span<const double>(y)), value_error);
    CHECK_THROWS_AS(gradient(span<const double>(x), span<const double>(y), 3), value_error);
    CHECK_THROWS_AS(gradient(span<const double>(std::vector<double>{1, 2}), span<const double>(std::vector<double>{1, 2}), 2),
                    value_error);
    CHECK_THROWS_AS(gradient(span<const double>(x), span<const double>(std::vector<double>{1, NAN, 2})), value_error);
}
