// Must NOT compile: Fourier-log deconvolution needs uniform spacing, so its
// (axis, values) form takes grid::UniformAxis; an EnergyAxis (possibly
// explicit) is rejected at compile time.
#include <corespec/prep/low_loss.hpp>

#include <vector>

int main() {
    using namespace corespec;
    const auto axis = grid::EnergyAxis::uniform(0.0, 1.0, 64);
    const std::vector<double> s(64, 1.0), zlp(64, 1.0);
    (void)prep::fourier_log_deconvolution(axis, span<const double>(s), axis, span<const double>(zlp));
}
