// The full per-spectrum streaming pipeline of study 2 through
// stream::Stream<float>: 2048-channel spectra (stream::SyntheticSeries,
// 64 x 64 frames) -> study2_recipe (power-law background, crop, resample
// to 240 channels, max-normalised) -> study-2 conv VAE encoder mean (latent
// 16) -> kNN (k 10) over 1,200 latent points (12 references x 100
// posterior samples), results delivered in order to a callback.
//
// stream_throughput/threads:T: two frames (8,192 spectra) per iteration
//   submitted as fast as possible into one running stream, waiting for
//   their delivery; spectra/s (labelled: share of spectra with a label).
// stream_latency_10k/threads:T: 20,000 spectra submitted one at a time at
//   10,000 spectra/s (sleep_until pacing); p50 / p99 arrival -> delivery.
// Built like the README's programs (runtime kernel dispatch, no -march:
// benchmarks/CMakeLists.txt), so the numbers are what a user gets.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <corespec/nn/kernels/table.hpp>
#include <corespec/nn/train/init.hpp>
#include <corespec/nn/train/vae_trainer.hpp>
#include <corespec/stream/stream.hpp>
#include <corespec/stream/synthetic_series.hpp>

using namespace corespec;

namespace {

struct Setup {
    stream::SyntheticSeries series{64, 64, 2, 1};
    std::vector<float> spectra;  // frames 0 and 1
    steps::Recipe recipe = stream::study2_recipe();
    std::optional<latent::Encoder<float>> encoder;
    latent::LatentPoints<float> points;

    Setup() {
        spectra.resize(2 * series.frame_values());
        series.frame(0, spectra.data());
        series.frame(1, spectra.data() + series.frame_values());
        nn::Vae<float> vae = nn::make_conv_vae<float>();
        std::uint64_t seed = 1;
        for (auto* part : nn::train::vae_parts(vae)) nn::train::init_default(*part, seed++);
        encoder.emplace(std::move(vae));
        const auto refs = series.references(6);
        const auto plan = recipe.prepare(stream::SyntheticSeries::axis());
        std::vector<float> x(refs.labels.size() * 240);
        recipe.run(plan, steps::Block<const float>::contiguous(refs.values.data(), refs.labels.size(), 2048), span<float>(x));
        nn::Workspace<float> ws;
        points = latent::sample_posterior(latent::embed(*encoder, x.data(), refs.labels.size(), ws), refs.labels,
                                          stream::SyntheticSeries::class_names(), 100, 7);
    }
    stream::StreamSpec spec(unsigned threads) const {
        stream::StreamSpec s;
        s.recipe = recipe;
        s.classifier = {latent::Method::knn, 10, latent::Weighting::uniform};
        s.options.threads = threads;
        s.options.capacity = 8192;
        s.options.anomaly = false;
        s.options.frame_width = s.options.frame_height = 64;
        return s;
    }
};

const Setup& setup() {
    static const Setup s;
    return s;
}

void stream_throughput(benchmark::State& state) {
    const Setup& s = setup();
    const unsigned threads = unsigned(state.range(0));
    const std::size_t n = s.spectra.size() / 2048;
    // One stream for the whole run (its ring allocated once, as an acquisition
    // program would keep it); each iteration submits two frames and waits
    // until all of them are delivered.
    std::mutex m;
    std::condition_variable cv;
    std::size_t delivered = 0, labelled = 0;
    stream::Stream<float> st(s.spec(threads), stream::SyntheticSeries::axis(), *s.encoder, s.points,
                             [&](const stream::Result<float>& r) {
                                 std::lock_guard<std::mutex> g(m);
                                 ++delivered;
                                 labelled += r.label >= 0;
                                 cv.notify_one();
                             });
    std::size_t target = 0;
    const std::clock_t cpu0 = std::clock();  // process CPU time, all threads
    for (auto _ : state) {
        target += n;
        st.submit_block(steps::Block<const float>::contiguous(s.spectra.data(), n, 2048));
        std::unique_lock<std::mutex> lk(m);
        cv.wait(lk, [&] { return delivered == target; });
    }
    const double cpu_s = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
    st.close();
    state.counters["spectra/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
    // CPU cost per spectrum (submit, copy, analysis, delivery): what an idle
    // core would sustain, whatever the load of the shared machine.
    state.counters["cpu_us/spectrum"] = 1e6 * cpu_s / double(target);
    state.counters["labelled"] = double(labelled) / double(delivered);
    state.SetLabel(nn::kernels::kernels_name());
}

void stream_latency_10k(benchmark::State& state) {
    const Setup& s = setup();
    const unsigned threads = unsigned(state.range(0));
    const std::size_t n = 20000, frame = s.spectra.size() / 2048;
    stream::StreamStats last;
    for (auto _ : state) {
        stream::Stream<float> st(s.spec(threads), stream::SyntheticSeries::axis(), *s.encoder, s.points,
                                 [](const stream::Result<float>&) {});
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            std::this_thread::sleep_until(start + std::chrono::microseconds(100 * i));  // 10,000 / s
            st.submit(s.spectra.data() + (i % frame) * 2048);
        }
        st.close();
        last = st.stats();
    }
    state.counters["p50_us"] = last.p50_us;
    state.counters["p99_us"] = last.p99_us;
    state.counters["max_us"] = last.max_us;
    state.counters["rejected"] = double(last.rejected);
    state.SetLabel(nn::kernels::kernels_name());
}

}  // namespace

BENCHMARK(stream_throughput)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(stream_latency_10k)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

BENCHMARK_MAIN();
