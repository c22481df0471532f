// DM4 reading throughput: a 256 x 256 x 2048 float32 spectrum image (512 MiB)
// written once to /tmp with the project's DM writer, in DigitalMicrograph's
// own layout (energy planes, so reading transposes to pixel-major), and the
// same values as a 65536-pixel line scan (pixel-major on disk: a straight
// copy). Reported: bytes of image data per second (bytes_per_second, in
// MiB/s). Files come from the page cache after the first iteration. The
// read_dm cases include obtaining 512 MiB (1 GiB for double) of fresh memory
// for the result; the read_into cases reuse the previous result's memory.
// Compare with HyperSpy: /usr/bin/python3 benchmarks/compare_dm_read.py
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <corespec/io/dm.hpp>
#include <corespec/io/dm_write.hpp>

namespace {

constexpr std::size_t rows = 256, cols = 256, channels = 2048;

std::filesystem::path bench_file(bool map) {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / (map ? "corespec_bench_256x256x2048.dm4" : "corespec_bench_65536x2048.dm4");
    const std::uintmax_t data_bytes = rows * cols * channels * sizeof(float);
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > data_bytes) return path;
    std::vector<std::size_t> nav = map ? std::vector<std::size_t>{rows, cols} : std::vector<std::size_t>{rows * cols};
    auto si = corespec::grid::SpectrumImage<float>::zeros(nav, corespec::grid::EnergyAxis::uniform(400.0, 0.25, channels));
    float* d = si.data().data();
    for (std::size_t i = 0; i < si.data().size(); ++i) d[i] = float(i % 4093) * 0.5f + float(i / channels % 7);
    si.metadata().title = "benchmark";
    si.metadata().technique = corespec::grid::Technique::eels;
    corespec::io::write_dm(path, si);
    return path;
}

// The values written, checked once per case so that a fast path that reads
// wrong values cannot report a speed.
template <class T>
bool values_ok(const corespec::grid::SpectrumImage<T>& si) {
    const T* d = si.data().data();
    for (std::size_t i = 0; i < si.data().size(); ++i)
        if (d[i] != T(float(i % 4093) * 0.5f + float(i / channels % 7))) return false;
    return si.data().size() == rows * cols * channels;
}

template <class T>
void read_file(benchmark::State& state, bool map) {
    const auto path = bench_file(map);
    if (!values_ok(corespec::io::read_dm<T>(path))) state.SkipWithError("wrong values read");
    for (auto _ : state) {
        auto si = corespec::io::read_dm<T>(path);
        benchmark::DoNotOptimize(si.data().data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(rows * cols * channels * sizeof(float)));
}

// Into a SpectrumImage whose memory is reused from the previous iteration:
// the streaming case, without the cost of fresh pages from the OS.
template <class T>
void read_into(benchmark::State& state, bool map) {
    const auto path = bench_file(map);
    auto si = corespec::io::read_dm<T>(path);
    if (!values_ok(si)) state.SkipWithError("wrong values read");
    for (auto _ : state) {
        corespec::io::read_dm_into(path, si);
        benchmark::DoNotOptimize(si.data().data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(rows * cols * channels * sizeof(float)));
}

}  // namespace

static void dm_read_map_float(benchmark::State& s) { read_file<float>(s, true); }
static void dm_read_map_double(benchmark::State& s) { read_file<double>(s, true); }
static void dm_read_linescan_float(benchmark::State& s) { read_file<float>(s, false); }
static void dm_read_linescan_double(benchmark::State& s) { read_file<double>(s, false); }
BENCHMARK(dm_read_map_float)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dm_read_map_double)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dm_read_linescan_float)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dm_read_linescan_double)->Unit(benchmark::kMillisecond)->UseRealTime();

static void dm_read_into_map_float(benchmark::State& s) { read_into<float>(s, true); }
static void dm_read_into_linescan_float(benchmark::State& s) { read_into<float>(s, false); }
static void dm_read_into_map_double(benchmark::State& s) { read_into<double>(s, true); }
BENCHMARK(dm_read_into_map_float)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dm_read_into_linescan_float)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dm_read_into_map_double)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
