// Must NOT compile: HyperSpy's cross-correlation shift works in channels of
// one uniform step, so it takes grid::UniformAxis; an EnergyAxis (possibly
// explicit) is rejected at compile time.
#include <corespec/align/shift.hpp>

#include <vector>

int main() {
    using namespace corespec;
    const auto axis = grid::EnergyAxis::uniform(0.0, 1.0, 64);
    const std::vector<double> y(64, 1.0), ref(64, 1.0);
    (void)align::xcorr_shift(axis, span<const double>(y), span<const double>(ref), 10.0, 50.0);
}
