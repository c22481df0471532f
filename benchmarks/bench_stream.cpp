// The full per-spectrum streaming pipeline of study 2 through
// stream::Stream<float>: 2048-channel spectra (stream::SyntheticSeries,
// 64 x 64 frames) -> study2_recipe (power-law background, crop, resample
// to 240 channels, max-normalised) -> study-2 conv VAE encoder mean (latent
// 16) -> kNN (k 10) over 1,200 latent points (12 references x 100
// posterior samples), results delivered in order to a callback.
//
// stream_throughput/threads:T/batch:B: two frames (8,192 spectra) per
//   iteration submitted as fast as possible into one running stream,
//   waiting for their delivery; spectra/s (labelled: share of spectra with
//   a label), CPU us per spectrum (all threads).
// stream_throughput_two_encoder/threads:T: the same through the two-encoder
//   variant: study2_raw_recipe (no background fit) and a deterministic
//   encoder of the VAE encoder's shape (encoder body + mean head).
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
    stream::StreamSpec spec(unsigned threads, std::size_t batch = stream::StreamOptions{}.batch) const {
        stream::StreamSpec s;
        s.recipe = recipe;
        s.classifier = {latent::Method::knn, 10, latent::Weighting::uniform};
        s.options.threads = threads;
        s.options.capacity = 8192;
        s.options.batch = batch;
        s.options.anomaly = false;
        s.options.frame_width = s.options.frame_height = 64;
        return s;
    }
    // The two-encoder variant's raw encoder: the VAE encoder's layers, seeded.
    latent::Encoder<float> raw_encoder() const {
        nn::Sequential<float> raw = nn::make_conv_vae<float>().encoder_mean();
        nn::train::init_default(raw, 11);
        return latent::Encoder<float>(nn::Model<float>(std::move(raw), {1, 240}));
    }
};

const Setup& setup() {
    static const Setup s;
    return s;
}

// Submits two frames per iteration into one running stream (its ring
// allocated once, as an acquisition program would keep it) and waits until
// all of them are delivered.
void run_throughput(benchmark::State& state, const stream::StreamSpec& spec, const latent::Encoder<float>& encoder) {
    const Setup& s = setup();
    const std::size_t n = s.spectra.size() / 2048;
    std::mutex m;
    std::condition_variable cv;
    std::size_t delivered = 0, labelled = 0, target = 0;
    stream::Stream<float> st(spec, stream::SyntheticSeries::axis(), encoder, s.points, [&](const stream::Result<float>& r) {
        std::lock_guard<std::mutex> g(m);
        labelled += r.label >= 0;
        if (++delivered == target) cv.notify_one();  // wake the submitter once per iteration, not per spectrum
    });
    const std::clock_t cpu0 = std::clock();  // process CPU time, all threads
    for (auto _ : state) {
        {
            std::lock_guard<std::mutex> g(m);
            target += n;
        }
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

void stream_throughput(benchmark::State& state) {
    const Setup& s = setup();
    run_throughput(state, s.spec(unsigned(state.range(0)), std::size_t(state.range(1))), *s.encoder);
}

void stream_throughput_two_encoder(benchmark::State& state) {
    const Setup& s = setup();
    stream::StreamSpec spec = s.spec(unsigned(state.range(0)));
    spec.recipe = stream::study2_raw_recipe();
    run_throughput(state, spec, s.raw_encoder());
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

BENCHMARK(stream_throughput)
    ->ArgNames({"threads", "batch"})
    ->Args({1, 32})
    ->Args({2, 32})
    ->Args({1, 256})
    ->Args({2, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(stream_throughput_two_encoder)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(stream_latency_10k)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

BENCHMARK_MAIN();
