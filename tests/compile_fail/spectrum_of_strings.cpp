// Must NOT compile: a spectrum holds numbers.
#include <string>

#include <corespec/grid/spectrum.hpp>

int main() {
    corespec::grid::Spectrum<std::string> s(corespec::grid::EnergyAxis::uniform(0.0, 1.0, 4));
    (void)s;
}
