// Resampling throughput: a 64 x 64 x 2048 float32 spectrum image onto a
// 200-point grid, per method. Reports spectra per second.
#include <benchmark/benchmark.h>

#include <cmath>

#include <corespec/grid/resample.hpp>

using namespace corespec::grid;

static void resample_image(benchmark::State& state) {
    const auto method = static_cast<Method>(state.range(0));
    const std::size_t rows = 64, cols = 64, channels = 2048;
    auto img = SpectrumImage<float>::zeros({rows, cols}, EnergyAxis::uniform(400.0, 0.25, channels));
    for (std::size_t p = 0; p < img.pixel_count(); ++p) {
        auto v = img.pixel(p).values;
        for (std::size_t i = 0; i < channels; ++i) v[i] = 1e4f * std::pow(1.0f + 0.001f * float(i), -3.0f) + float(p % 13);
    }
    const auto to = EnergyAxis::uniform(677.0, 0.3, 200);
    const Resampler plan(img.axis(), to, {method});
    std::vector<float> out(to.size());
    for (auto _ : state) {
        for (std::size_t p = 0; p < img.pixel_count(); ++p) plan.apply(img.pixel(p).values, corespec::span<float>(out));
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["spectra/s"] = benchmark::Counter(double(img.pixel_count()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(resample_image)->Arg(int(Method::linear))->Arg(int(Method::pchip))->Arg(int(Method::rebin))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
