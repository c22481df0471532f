// Reading a 256 x 256 x 2048 float32 .hspy spectrum image (512 MiB of data),
// gzip (level 4 + shuffle, corespec's default chunks) and uncompressed: the
// eager read_hspy and the streaming for_each_hspy_block (16 rows per block).
// The files are written on the first run with corespec's writer to
// $TMPDIR/corespec_bench_256x256x2048_{gzip,raw}.hspy; compare_hdf5_read.py
// times HyperSpy's lazy and eager reads on the same files in the same run.
// Built only when corespec::hdf5 is.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include <corespec/io/hspy.hpp>

namespace {

constexpr std::size_t ny = 256, nx = 256, channels = 2048;

std::filesystem::path bench_file(bool gzip) {
    const auto path = std::filesystem::temp_directory_path() /
                      (std::string("corespec_bench_256x256x2048_") + (gzip ? "gzip" : "raw") + ".hspy");
    if (!std::filesystem::exists(path)) {
        corespec::grid::Metadata md;
        md.title = "bench";
        md.signal_type = "EELS";
        auto si = corespec::grid::SpectrumImage<float>::zeros({ny, nx},
                                                              corespec::grid::EnergyAxis::uniform(400.0, 0.25, channels), md);
        float* d = si.data().data();
        // Counts-like values: compressible as real spectra are, not constant.
        for (std::size_t i = 0; i < si.data().size(); ++i) d[i] = float(i % 4093) * 0.5f + float(i / channels % 7);
        corespec::io::HspyWriteOptions o;
        o.gzip_level = gzip ? 4 : 0;
        corespec::io::write_hspy(path, si, o);
    }
    return path;
}

void hspy_read(benchmark::State& state) {
    const auto path = bench_file(state.range(0) != 0);
    for (auto _ : state) {
        auto si = corespec::io::read_hspy<float>(path);
        benchmark::DoNotOptimize(si.data().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * ny * nx * channels * sizeof(float)));
}

void hspy_stream(benchmark::State& state) {
    const auto path = bench_file(state.range(0) != 0);
    for (auto _ : state) {
        double sum = 0.0;
        corespec::io::for_each_hspy_block<float>(path, 16, [&](const corespec::io::SpectrumBlock<float>& b) {
            sum += double(b.values[0]);
        });
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * ny * nx * channels * sizeof(float)));
}

}  // namespace

BENCHMARK(hspy_read)->Arg(0)->Arg(1)->ArgName("gzip")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(hspy_stream)->Arg(0)->Arg(1)->ArgName("gzip")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
