// Uses the grid API through the packaged target; exits non-zero on a wrong result.
#include <cmath>
#include <cstdio>

#include <corespec/core/version.hpp>
#include <corespec/grid/resample.hpp>

int main() {
    using namespace corespec::grid;
    Spectrum<double> s(EnergyAxis::uniform(500.0, 0.5, 21));
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = 2.0 * s.energy(i) + 1.0;
    const auto r = resample(s, EnergyAxis::uniform(501.0, 0.2, 21));
    const double expected = 2.0 * 503.0 + 1.0;
    std::printf("corespec %s: value at 503 eV = %.6f (expected %.6f)\n", corespec::version(), r[10], expected);
    return std::abs(r[10] - expected) < 1e-9 ? 0 : 1;
}
