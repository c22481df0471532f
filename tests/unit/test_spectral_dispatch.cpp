// The dispatched spectral kernels (core/kernels/spectral.hpp): every
// architecture this CPU runs against the plain C++ path, on the same inputs.
// The HyperSpy fixtures themselves run again on forced architectures
// (CORESPEC_KERNELS, tests/CMakeLists.txt: corespec_tests.spectral.*).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "corespec/core/error.hpp"
#include "corespec/core/kernels/spectral.hpp"
#include "corespec/nn/kernels/dispatch.hpp"

namespace kn = corespec::kernels;

namespace {

template <class T>
std::vector<T> uniform_values(std::size_t n, double lo, double hi, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(u(g));
    return v;
}

template <class T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b, double floor) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        m = std::max(m, std::abs(double(a[i]) - double(b[i])) / std::max(std::abs(double(b[i])), floor));
    return m;
}

}  // namespace

TEST_CASE("spectral kernels: the default table is the runtime choice, one label with the nn kernels") {
    const auto archs = corespec::nn::kernels::runtime_architectures();
    REQUIRE(!archs.empty());
    const std::string chosen = corespec::nn::kernels::kernels_name();
    CHECK(&kn::default_spectral_table() == &kn::runtime_spectral_table(chosen));
    CHECK(std::string(kn::runtime_spectral_table("scalar").name) == "scalar");
    for (const auto& a : archs) {
        CAPTURE(a);
        // Each label maps to its own table (scalar only for "scalar").
        CHECK((std::string(kn::runtime_spectral_table(a).name) == "scalar") == (a == "scalar"));
    }
    CHECK_THROWS_WITH_AS(kn::runtime_spectral_table("avx9000"), doctest::Contains("unknown architecture 'avx9000'"),
                         corespec::value_error);
}

// Lengths around the vector widths (4, 8, 16) and their tails, and one spectrum.
TEST_CASE("spectral kernels: every architecture this CPU runs matches the scalar path") {
    const auto& ref = kn::spectral_table<kn::scalar_arch>();
    for (const auto& arch : corespec::nn::kernels::runtime_architectures()) {
        const auto& K = kn::runtime_spectral_table(arch);
        for (std::size_t n : {0u, 1u, 7u, 15u, 16u, 17u, 33u, 2048u}) {
            CAPTURE(arch);
            CAPTURE(n);
            // Power law over log-energies of 300-1200 eV against E_ref = 300 eV:
            // large exponents (t from -60 to +40) and background ~ counts.
            const auto lf = uniform_values<float>(n, 0.0, 2.0, 1);
            const auto ld = uniform_values<double>(n, 0.0, 1.4, 2);
            const auto inf = uniform_values<float>(n, 1e3, 1e5, 3);
            const auto ind = uniform_values<double>(n, 1e3, 1e5, 4);
            std::vector<float> of(n), rf(n);
            std::vector<double> od(n), rd(n);
            for (float c : {16.0f, 40.0f, -20.0f}) {
                K.power_law_subtract_f(inf.data(), of.data(), lf.data(), n, c, 3.1f);
                ref.power_law_subtract_f(inf.data(), rf.data(), lf.data(), n, c, 3.1f);
                // 2^(c - r l) up to ~2^40: compare relative to the background's size.
                double worst = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double bg = std::exp2(double(c) - 3.1 * double(lf[i]));
                    worst = std::max(worst, std::abs(double(of[i]) - double(rf[i])) / std::max(bg + double(inf[i]), 1.0));
                }
                // t = c - r l is rounded in float (FMA on the SIMD paths, not on the
                // scalar one): ~|t| ulp(1) ln 2 relative in 2^t, beside the polynomial's 2.4e-7.
                CHECK(worst < 1e-6 + 1.2e-7 * std::abs(double(c)));
            }
            K.power_law_subtract_d(ind.data(), od.data(), ld.data(), n, 9.0, 3.1);
            ref.power_law_subtract_d(ind.data(), rd.data(), ld.data(), n, 9.0, 3.1);
            CHECK(max_rel(od, rd, 1.0) < 1e-13);
            // In place gives the same as out of place.
            std::vector<double> io = ind;
            K.power_law_subtract_d(io.data(), io.data(), ld.data(), n, 9.0, 3.1);
            CHECK(io == od);

            const auto a = uniform_values<double>(n, -1.0, 1.0, 5), b = uniform_values<double>(n, -1.0, 1.0, 6);
            double abs_sum = 0;
            for (std::size_t i = 0; i < n; ++i) abs_sum += std::abs(a[i] * b[i]);
            CHECK(std::abs(K.dot(a.data(), b.data(), n) - ref.dot(a.data(), b.data(), n)) <= 1e-15 * double(n + 1) * abs_sum);

            const auto yf = uniform_values<float>(n + 1, 0.0, 1e4, 7);
            const auto yd = uniform_values<double>(n + 1, 0.0, 1e4, 8);
            // Relative to the two values interpolated (the result may cancel to ~0).
            auto lerp_error = [n](const auto& y, const auto& o, const auto& r) {
                double m = 0;
                for (std::size_t j = 0; j < n; ++j)
                    m = std::max(m, std::abs(double(o[j]) - double(r[j])) /
                                        std::max(std::abs(double(y[j])) + std::abs(double(y[j + 1])), 1e-300));
                return m;
            };
            for (double t : {0.0, 0.25, 0.999}) {
                K.lerp_f(yf.data(), of.data(), n, t);
                ref.lerp_f(yf.data(), rf.data(), n, t);
                CHECK(lerp_error(yf, of, rf) < 3e-7);  // float arithmetic on the SIMD path
                K.lerp_d(yd.data(), od.data(), n, t);
                ref.lerp_d(yd.data(), rd.data(), n, t);
                CHECK(lerp_error(yd, od, rd) < 1e-15);
            }
        }
    }
}
