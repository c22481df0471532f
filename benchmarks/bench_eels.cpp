// EELS preprocessing throughput on a 256 x 256 x 2048 float32 spectrum image
// made here (power-law background + edges + noise; a low-loss image with a
// drifting ZLP): power-law background over a 40-channel window for every
// pixel (fit + subtraction over the whole axis, as HyperSpy's
// remove_background), ZLP alignment, and resampling onto a 200-point grid.
// 1 and 2 std::threads. Counters: spectra/s and spectra/s per thread.
// compare_eels_hyperspy.py rebuilds core_loss() bit for bit in NumPy and
// times HyperSpy on it; keep the two generators in step.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <corespec/align/zero_loss.hpp>
#include <corespec/grid/resample.hpp>
#include <corespec/prep/eels_background.hpp>
#include <corespec/steps/recipe.hpp>

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

// The core-loss image; `rows` < kRows gives its first rows (the same pixels).
grid::SpectrumImage<float> make_core_loss(std::size_t rows) {
    auto img = grid::SpectrumImage<float>::zeros({rows, kCols}, grid::EnergyAxis::uniform(400.0, 0.25, kChannels));
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
}

const grid::SpectrumImage<float>& core_loss() {
    static const auto image = make_core_loss(kRows);
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

// The first n pixels of an image, as a line of n spectra.
grid::SpectrumImage<float> first_pixels(const grid::SpectrumImage<float>& image, std::size_t n) {
    auto d = xt::xarray<float>::from_shape({n, image.channel_count()});
    std::copy(image.data().data(), image.data().data() + n * image.channel_count(), d.data());
    return grid::SpectrumImage<float>(std::move(d), image.axis());
}

// Where the subtracted spectra go: a caller's buffer reused across calls, a
// new image per call (remove_background(image), as HyperSpy returns a new
// signal: page faults on first touch included), the input itself
// (remove_background_in_place), or nowhere (fit only).
enum class Output { reused, new_image, in_place, none };

prep::BackgroundOptions window_500_510() {
    prep::BackgroundOptions o;
    o.lo = 500.0;
    o.hi = 509.75;  // 40 channels at 0.25 eV
    return o;
}

// Power-law background of the first range(1) pixels of the core-loss image
// (65536: all of it; 4096: the 64 x 64 image HyperSpy is also timed on) on
// range(0) threads.
void background(benchmark::State& state, const prep::BackgroundOptions& o, Output output) {
    const auto& full = core_loss();
    const auto threads = static_cast<unsigned>(state.range(0));
    const auto n = static_cast<std::size_t>(state.range(1));
    const prep::BackgroundRemover rm(full.axis(), o);
    const float* in = full.data().data();
    std::vector<float> out(output == Output::reused ? n * kChannels : 0);
    std::vector<double> params(n * rm.parameter_count());
    std::vector<prep::BackgroundStatus> status(n);
    // new_image and in_place work on an image of exactly n pixels.
    std::optional<grid::SpectrumImage<float>> part;
    if (output == Output::new_image || output == Output::in_place) part = first_pixels(full, n);
    for (auto _ : state) {
        switch (output) {
            case Output::reused:
                prep::remove_background_block(rm, in, n, out.data(), params.data(), status.data(), threads);
                benchmark::DoNotOptimize(out.data());
                break;
            case Output::none:
                prep::remove_background_block<float>(rm, in, n, nullptr, params.data(), status.data(), threads);
                benchmark::DoNotOptimize(params.data());
                break;
            case Output::new_image: {
                std::optional<prep::ImageBackground<float>> r = prep::remove_background(*part, o, threads);
                benchmark::DoNotOptimize(r->subtracted.data().data());
                state.PauseTiming();  // freeing the result is not part of the step
                r.reset();
                state.ResumeTiming();
                break;
            }
            case Output::in_place: {
                state.PauseTiming();  // fresh input each time (a second subtraction would see no background)
                std::copy(in, in + n * kChannels, part->data().data());
                state.ResumeTiming();
                auto r = prep::remove_background_in_place(*part, o, threads);
                benchmark::DoNotOptimize(part->data().data());
                benchmark::DoNotOptimize(r.status.data());
                break;
            }
        }
    }
    per_thread(state, n);
}

void sizes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"threads", "pixels"});
    for (long pixels : {65536L, 4096L})
        for (long threads : {1L, 2L}) b->Args({threads, pixels});
    b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
}

}  // namespace

// Fit (two-area) + subtraction over all 2048 channels.
static void power_law_fast(benchmark::State& state) { background(state, window_500_510(), Output::reused); }
BENCHMARK(power_law_fast)->Apply(sizes);
static void power_law_new_image(benchmark::State& state) { background(state, window_500_510(), Output::new_image); }
BENCHMARK(power_law_new_image)->Apply(sizes);
static void power_law_in_place(benchmark::State& state) { background(state, window_500_510(), Output::in_place); }
BENCHMARK(power_law_in_place)->Apply(sizes);

// With zero_fill: channels below the window are set to 0, not computed.
static void power_law_fast_zero_fill(benchmark::State& state) {
    auto o = window_500_510();
    o.zero_fill = true;
    background(state, o, Output::reused);
}
BENCHMARK(power_law_fast_zero_fill)->Args({1, 65536})->Args({2, 65536})->Unit(benchmark::kMillisecond)->UseRealTime();

// The fit alone (A, r per pixel; no subtracted image).
static void power_law_fit_only(benchmark::State& state) { background(state, window_500_510(), Output::none); }
BENCHMARK(power_law_fit_only)->Args({1, 65536})->Args({2, 65536})->Unit(benchmark::kMillisecond)->UseRealTime();

// Least squares (HyperSpy fast=False) on the first 8192 pixels.
static void power_law_least_squares(benchmark::State& state) {
    auto o = window_500_510();
    o.fit = prep::BackgroundFit::least_squares;
    background(state, o, Output::reused);
}
BENCHMARK(power_law_least_squares)->Args({1, 8192})->Args({2, 8192})->Unit(benchmark::kMillisecond)->UseRealTime();

// ZLP alignment as HyperSpy (maximum + cross-correlation step) and with
// the one-step Gaussian centre, on the first range(2) pixels of the low-loss
// image (1024: the 32 x 32 image compare_eels_hyperspy.py times HyperSpy on); the
// aligned image is new each time, as HyperSpy's.
static void zlp_align(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(2));
    const auto part = first_pixels(low_loss(), n);
    align::ZlpAlignOptions o;
    o.threads = static_cast<unsigned>(state.range(0));
    o.method = state.range(1) ? prep::ZlpMethod::gaussian : prep::ZlpMethod::maximum;
    o.subpixel = state.range(1) == 0;
    for (auto _ : state) {
        auto r = align::align_zero_loss(part, o);
        benchmark::DoNotOptimize(r.aligned.data().data());
    }
    per_thread(state, n);
    state.SetLabel(state.range(1) ? "gaussian, no xcorr" : "hyperspy: maximum + xcorr");
}
BENCHMARK(zlp_align)
    ->ArgNames({"threads", "gaussian", "pixels"})
    ->ArgsProduct({{1, 2}, {0, 1}, {65536, 1024}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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

// Background removal + crop + resample on the whole core-loss image: as a
// recipe (steps::Recipe::run on the caller's buffer) and as the direct calls
// it replaces (BackgroundRemover fit + subtract into a per-thread buffer, the
// cropped channels resampled into the caller's buffer), with the same output,
// parameters and status stored. Acceptance: recipe within 5 % of direct.
// The CPU column is the process CPU time (all threads): steadier than the
// wall time on a shared machine.
namespace {
constexpr double kCropLo = 520.0, kCropHi = 600.0, kGridLo = 521.0, kGridHi = 599.0, kGridStep = 0.5;

steps::Recipe chain_recipe() {
    return steps::Recipe()
        .then(steps::BackgroundStep(window_500_510()))
        .then(steps::Crop(kCropLo, kCropHi))
        .then(steps::Resample(kGridLo, kGridHi, kGridStep));
}
}  // namespace

// range(1) rows of the image: 256 (all of it) or, for instruction counts
// under callgrind (docs/benchmarks.md), 8 rows = 2048 spectra.
const grid::SpectrumImage<float>& chain_image(long rows) {
    static const auto small = make_core_loss(8);
    return rows == static_cast<long>(kRows) ? core_loss() : small;
}

static void chain_recipe_run(benchmark::State& state) {
    const auto& img = chain_image(state.range(1));
    const auto recipe = chain_recipe();
    const auto plan = recipe.prepare(img.axis());
    const std::size_t n = img.pixel_count(), m = plan.output_axis().size();
    std::vector<float> out(n * m);
    const auto block = steps::Block<const float>::contiguous(img.data().data(), n, kChannels);
    for (auto _ : state) {
        auto report = recipe.run(plan, block, span<float>(out), static_cast<unsigned>(state.range(0)));
        benchmark::DoNotOptimize(out.data());
        benchmark::DoNotOptimize(report.status.data());
    }
    per_thread(state, n);
}
BENCHMARK(chain_recipe_run)->ArgNames({"threads", "rows"})->Args({1, 256})->Args({2, 256})->Args({1, 8})->Args({2, 8})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// The same recipe on a caller-owned ThreadPool (started once, outside the
// timed loop), as a stream would run it: the per-call pool start is gone.
static void chain_recipe_pool(benchmark::State& state) {
    const auto& img = chain_image(state.range(1));
    const auto recipe = chain_recipe();
    const auto plan = recipe.prepare(img.axis());
    const std::size_t n = img.pixel_count(), m = plan.output_axis().size();
    std::vector<float> out(n * m);
    const auto block = steps::Block<const float>::contiguous(img.data().data(), n, kChannels);
    ThreadPool pool(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        auto report = recipe.run(plan, block, span<float>(out), pool);
        benchmark::DoNotOptimize(out.data());
        benchmark::DoNotOptimize(report.status.data());
    }
    per_thread(state, n);
}
BENCHMARK(chain_recipe_pool)->ArgNames({"threads", "rows"})->Args({1, 256})->Args({2, 256})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

static void chain_direct_calls(benchmark::State& state) {
    const auto& img = chain_image(state.range(1));
    const prep::BackgroundRemover rm(img.axis(), window_500_510());
    const auto [first, last] = img.axis().window(kCropLo, kCropHi);
    const grid::Resampler rs(img.axis().slice(first, last), grid::axis_from_step(kGridLo, kGridHi, kGridStep));
    const std::size_t n = img.pixel_count(), m = rs.to().size(), np = rm.parameter_count();
    std::vector<float> out(n * m);
    std::vector<double> params(n * np);
    std::vector<prep::BackgroundStatus> status(n);
    for (auto _ : state) {
        prep::parallel_ranges(n, static_cast<unsigned>(state.range(0)), [&](std::size_t b, std::size_t e) {
            std::vector<float> sub(kChannels);
            for (std::size_t p = b; p < e; ++p) {
                const auto y = img.pixel(p).values;
                const span<double> pp(params.data() + p * np, np);
                status[p] = rm.fit(y, pp);
                rm.subtract(y, span<const double>(pp.data(), np), status[p], span<float>(sub));
                rs.apply(span<const float>(sub.data() + first, last - first), span<float>(out.data() + p * m, m));
            }
        });
        benchmark::DoNotOptimize(out.data());
        benchmark::DoNotOptimize(status.data());
    }
    per_thread(state, n);
}
BENCHMARK(chain_direct_calls)->ArgNames({"threads", "rows"})->Args({1, 256})->Args({2, 256})->Args({1, 8})->Args({2, 8})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

BENCHMARK_MAIN();
