// EELS preprocessing throughput on a 256 x 256 x 2048 float32 spectrum image
// made here (power-law background + edges + noise; a low-loss image with a
// drifting ZLP): power-law background over a 40-channel window for every
// pixel (fit + subtraction over the whole axis, as HyperSpy's
// remove_background), ZLP alignment, and resampling onto a 200-point grid.
// 1 and 2 std::threads. Counters: spectra/s and spectra/s per thread.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include <corespec/align/zero_loss.hpp>
#include <corespec/grid/resample.hpp>
#include <corespec/prep/eels_background.hpp>

using namespace corespec;

namespace {

constexpr std::size_t kRows = 256, kCols = 256, kChannels = 2048;

// Deterministic noise (no <random> state shared across runs).
inline float noise(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<float>(static_cast<double>(k >> 11) / 9007199254740992.0 - 0.5);
}

const grid::SpectrumImage<float>& core_loss() {
    static const auto image = [] {
        auto img = grid::SpectrumImage<float>::zeros({kRows, kCols}, grid::EnergyAxis::uniform(400.0, 0.25, kChannels));
        for (std::size_t p = 0; p < img.pixel_count(); ++p) {
            auto v = img.pixel(p).values;
            const double a = 1e10 * (1.0 + 0.3 * std::sin(0.01 * double(p))), r = 3.0 + 0.2 * std::cos(0.003 * double(p));
            for (std::size_t i = 0; i < kChannels; ++i) {
                const double e = 400.0 + 0.25 * double(i);
                double y = a * 0.25 * std::pow(e, -r);
                if (e > 532.0) y += 20.0 * (1.0 + std::atan((e - 535.0) / 2.0));
                v[i] = static_cast<float>(y * (1.0 + 0.01 * noise(p * kChannels + i)));
            }
        }
        return img;
    }();
    return image;
}

const grid::SpectrumImage<float>& low_loss() {
    static const auto image = [] {
        auto img = grid::SpectrumImage<float>::zeros({kRows, kCols}, grid::EnergyAxis::uniform(-20.0, 0.05, kChannels));
        for (std::size_t p = 0; p < img.pixel_count(); ++p) {
            auto v = img.pixel(p).values;
            const double c = 0.4 * std::sin(0.002 * double(p)) + 0.1 * noise(p);  // drift of the ZLP
            for (std::size_t i = 0; i < kChannels; ++i) {
                const double e = -20.0 + 0.05 * double(i);
                const double y = 1e5 * std::exp(-0.5 * (e - c) * (e - c) / 0.09) +
                                 1e4 * std::exp(-0.5 * (e - c - 18.0) * (e - c - 18.0) / 16.0) + 50.0;
                v[i] = static_cast<float>(y * (1.0 + 0.01 * noise(p * kChannels + i + 7)));
            }
        }
        return img;
    }();
    return image;
}

void per_thread(benchmark::State& state, std::size_t spectra) {
    const double threads = static_cast<double>(state.range(0));
    state.counters["spectra/s"] = benchmark::Counter(double(spectra), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["spectra/s/thread"] =
        benchmark::Counter(double(spectra) / threads, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Fit (two-area) + subtraction over all 2048 channels, into a separate buffer.
static void power_law_fast(benchmark::State& state) {
    const auto& img = core_loss();
    prep::BackgroundOptions o;
    o.lo = 500.0;
    o.hi = 509.75;  // 40 channels at 0.25 eV
    prep::BackgroundRemover rm(img.axis(), o);
    const std::size_t n = img.pixel_count();
    std::vector<float> out(n * kChannels);
    std::vector<double> params(n * 2);
    std::vector<prep::BackgroundStatus> status(n);
    for (auto _ : state) {
        prep::remove_background_block(rm, img.data().data(), n, out.data(), params.data(), status.data(),
                                      static_cast<unsigned>(state.range(0)));
        benchmark::DoNotOptimize(out.data());
    }
    per_thread(state, n);
}
BENCHMARK(power_law_fast)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Same with zero_fill: only channels from the window up are computed.
static void power_law_fast_zero_fill(benchmark::State& state) {
    const auto& img = core_loss();
    prep::BackgroundOptions o;
    o.lo = 500.0;
    o.hi = 509.75;
    o.zero_fill = true;
    prep::BackgroundRemover rm(img.axis(), o);
    const std::size_t n = img.pixel_count();
    std::vector<float> out(n * kChannels);
    std::vector<double> params(n * 2);
    std::vector<prep::BackgroundStatus> status(n);
    for (auto _ : state) {
        prep::remove_background_block(rm, img.data().data(), n, out.data(), params.data(), status.data(),
                                      static_cast<unsigned>(state.range(0)));
        benchmark::DoNotOptimize(out.data());
    }
    per_thread(state, n);
}
BENCHMARK(power_law_fast_zero_fill)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// The fit alone (A, r per pixel; no subtracted image).
static void power_law_fit_only(benchmark::State& state) {
    const auto& img = core_loss();
    prep::BackgroundOptions o;
    o.lo = 500.0;
    o.hi = 509.75;
    prep::BackgroundRemover rm(img.axis(), o);
    const std::size_t n = img.pixel_count();
    std::vector<double> params(n * 2);
    std::vector<prep::BackgroundStatus> status(n);
    for (auto _ : state) {
        prep::remove_background_block<float>(rm, img.data().data(), n, nullptr, params.data(), status.data(),
                                             static_cast<unsigned>(state.range(0)));
        benchmark::DoNotOptimize(params.data());
    }
    per_thread(state, n);
}
BENCHMARK(power_law_fit_only)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Least squares (HyperSpy fast=False) on the first 8192 pixels.
static void power_law_least_squares(benchmark::State& state) {
    const auto& img = core_loss();
    prep::BackgroundOptions o;
    o.lo = 500.0;
    o.hi = 509.75;
    o.fit = prep::BackgroundFit::least_squares;
    prep::BackgroundRemover rm(img.axis(), o);
    const std::size_t n = 8192;
    std::vector<float> out(n * kChannels);
    std::vector<double> params(n * 2);
    std::vector<prep::BackgroundStatus> status(n);
    for (auto _ : state) {
        prep::remove_background_block(rm, img.data().data(), n, out.data(), params.data(), status.data(),
                                      static_cast<unsigned>(state.range(0)));
        benchmark::DoNotOptimize(out.data());
    }
    per_thread(state, n);
}
BENCHMARK(power_law_least_squares)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// ZLP alignment as HyperSpy (maximum + cross-correlation step) and with
// the one-step Gaussian centre; whole image, new image allocated each time.
static void zlp_align(benchmark::State& state) {
    const auto& img = low_loss();
    align::ZlpAlignOptions o;
    o.threads = static_cast<unsigned>(state.range(0));
    o.method = state.range(1) ? prep::ZlpMethod::gaussian : prep::ZlpMethod::maximum;
    o.subpixel = state.range(1) == 0;
    for (auto _ : state) {
        auto r = align::align_zero_loss(img, o);
        benchmark::DoNotOptimize(r.aligned.data().data());
    }
    per_thread(state, img.pixel_count());
    state.SetLabel(state.range(1) ? "gaussian, no xcorr" : "hyperspy: maximum + xcorr");
}
BENCHMARK(zlp_align)->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// Resampling of the core-loss image onto a 200-point grid (linear), planned once.
static void resample_200(benchmark::State& state) {
    const auto& img = core_loss();
    const auto to = grid::EnergyAxis::uniform(528.9, 0.2, 200);
    const grid::Resampler plan(img.axis(), to, {grid::Method::linear});
    const std::size_t n = img.pixel_count();
    std::vector<float> out(n * to.size());
    for (auto _ : state) {
        prep::parallel_ranges(n, static_cast<unsigned>(state.range(0)), [&](std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p)
                plan.apply(img.pixel(p).values, span<float>(out.data() + p * to.size(), to.size()));
        });
        benchmark::DoNotOptimize(out.data());
    }
    per_thread(state, n);
}
BENCHMARK(resample_200)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
