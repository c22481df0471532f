// Must NOT compile: resampling interpolates, so integer values are rejected at compile time.
#include <corespec/grid/resample.hpp>

int main() {
    using namespace corespec::grid;
    Spectrum<int> counts(EnergyAxis::uniform(0.0, 1.0, 4));
    (void)resample(counts, EnergyAxis::uniform(0.5, 1.0, 2));
}
