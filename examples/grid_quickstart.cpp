// The README's grid example, compiled and run as a test (example.grid_quickstart).
#include <cstdio>

#include <corespec/grid/resample.hpp>

int main() {
    using namespace corespec::grid;
    // A measured Ni L edge: 2048 channels at 0.25 eV from 700 eV (an EELS camera).
    Spectrum<float> eels(EnergyAxis::uniform(700.0, 0.25, 2048));
    for (std::size_t i = 0; i < eels.size(); ++i) eels[i] = 1000.0f + (eels.energy(i) > 853.0 ? 400.0f : 0.0f);

    // Study 1's Ni L grid: 853.1-880.1 eV at 0.2 eV (monotone cubic interpolation).
    const auto ni_l = UniformAxis::from_range(853.1, 880.1, 136);
    const auto on_grid = resample(eels, ni_l, {Method::pchip});

    // Counts conserved when binning 0.25 eV channels into 1 eV channels.
    const auto binned = resample(crop(eels, 850.0, 870.0), EnergyAxis::uniform(850.375, 1.0, 19), {Method::rebin});

    std::printf("%zu points, first %.1f, %zu bins, first %.1f counts\n", on_grid.size(), on_grid[0], binned.size(),
                binned[0]);
    return on_grid.size() == 136 && binned[0] == 4000.0f ? 0 : 1;
}
