// libFuzzer target: the recipe JSON parser (steps::Recipe::parse). A recipe
// that parses must dump and parse back to an equal recipe; a small one is
// then planned and run on a fixed EELS-like spectrum and a fixed XAS-like
// scan. Malformed input must end in a corespec exception, nothing else.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <corespec/steps/recipe.hpp>

namespace {

// Keeps the run bounded: every resampling grid at most 4096 points.
bool small_enough(const corespec::steps::Recipe& r) {
    for (std::size_t i = 0; i < r.size(); ++i)
        if (const auto* s = dynamic_cast<const corespec::steps::Resample*>(&r.step(i))) {
            const auto& g = s->grid();
            if ((g.hi - g.lo) / g.step > 4096.0) return false;
        }
    return true;
}

void run_on(const corespec::steps::Recipe& r, const corespec::grid::Spectrum<float>& s) {
    try {
        const auto out = r.run(s);
        if (out.spectrum.size() != out.spectrum.axis().size()) std::abort();
    } catch (const corespec::error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace corespec;
    static const auto eels = [] {
        grid::Spectrum<float> s(grid::EnergyAxis::uniform(400.0, 1.0, 256));
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = static_cast<float>(1e8 * std::pow(400.0 + double(i), -3.0) + (i > 130 ? 5.0 : 0.0));
        return s;
    }();
    static const auto xas = [] {
        std::vector<double> e;
        for (double x = 7000; x <= 7300; x += x < 7100 || x > 7150 ? 2.0 : 0.5) e.push_back(x);
        grid::Spectrum<float> s(grid::EnergyAxis::from_energies(e));
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<float>(0.2 + 1.0 / (1.0 + std::exp(-(e[i] - 7112.0))));
        return s;
    }();
    steps::Recipe r;
    try {
        r = steps::Recipe::parse(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const corespec::error&) {
        return 0;
    }
    if (steps::Recipe::parse(r.dump()) != r) std::abort();  // the round trip is exact
    if (!small_enough(r)) return 0;
    run_on(r, eels);
    run_on(r, xas);
    return 0;
}
