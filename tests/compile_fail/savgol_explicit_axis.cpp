// Must NOT compile: Savitzky-Golay needs uniform spacing, so it takes a
// grid::UniformAxis; an EnergyAxis (possibly explicit) is rejected at compile time.
#include <corespec/prep/smoothing.hpp>

#include <vector>

int main() {
    using namespace corespec;
    const auto axis = grid::EnergyAxis::uniform(0.0, 1.0, 9);
    std::vector<double> in(9, 1.0), out(9);
    prep::SavitzkyGolay{5, 2}.apply(axis, span<const double>(in), span<double>(out));
}
