// nn engine throughput, float32: the study-1 reference MLP (702 -> 128 -> 64
// -> 8, ReLU) per batch size and thread count, the same MLP as a
// compile-time model, and the study-2 conv encoder (240 channels -> Conv1D
// 16/32/32/64, kernels 7/7/3/3, stride 2, LeakyReLU 0.3 -> mean and
// log-variance heads, latent 16). Counter us/spectrum = microseconds per
// spectrum (wall clock). benchmarks/compare_nn_torch.py runs this with
// PyTorch and OpenBLAS in the same run.
#include <benchmark/benchmark.h>

#include <memory>
#include <functional>
#include <vector>

#include <corespec/nn/models/mlp.hpp>
#include <corespec/nn/models/static_mlp.hpp>
#include <corespec/nn/models/vae.hpp>
#include <corespec/core/thread_pool.hpp>

using namespace corespec::nn;

static constexpr double mlp_flops = 2.0 * (702 * 128 + 128 * 64 + 64 * 8);

static void set_counters(benchmark::State& state, std::size_t batch, double flops_per_sample) {
    state.counters["us/spectrum"] = benchmark::Counter(double(batch) * 1e-6,
                                                       benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
    state.counters["GFLOP/s"] = benchmark::Counter(double(batch) * flops_per_sample * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

static std::vector<float> input(std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = float(i % 97) / 97.0f;
    return x;
}

static void mlp(benchmark::State& state) {
    const std::size_t batch = std::size_t(state.range(0)), threads = std::size_t(state.range(1));
    auto model = make_mlp<float>({702, 128, 64, 8});
    init_uniform(model, 1);
    auto x = input(batch * 702);
    std::vector<float> y(batch * 8);
    std::vector<Workspace<float>> ws(threads);
    corespec::ThreadPool pool(threads);
    ConstTensorView<float> in(x.data(), {batch, 702});
    TensorView<float> out(y.data(), {batch, 8});
    for (auto _ : state) {
        if (threads == 1) model.forward(in, out, ws[0]);
        else model.forward_parallel(in, out, corespec::span<Workspace<float>>(ws.data(), ws.size()), pool);
        benchmark::DoNotOptimize(y.data());
    }
    set_counters(state, batch, mlp_flops);
}
BENCHMARK(mlp)->ArgNames({"batch", "threads"})
    ->Args({1, 1})->Args({32, 1})->Args({256, 1})->Args({1024, 1})->Args({4096, 1})
    ->Args({256, 2})->Args({1024, 2})->Args({4096, 2})->UseRealTime();

static void mlp_static(benchmark::State& state) {
    const std::size_t batch = std::size_t(state.range(0));
    auto rt = make_mlp<float>({702, 128, 64, 8});
    init_uniform(rt, 1);
    auto model = std::make_unique<StaticMlp<float, 702, 128, 64, 8>>();
    model->load(rt);
    auto x = input(batch * 702);
    std::vector<float> y(batch * 8);
    Workspace<float> ws;
    for (auto _ : state) {
        model->forward(x.data(), y.data(), batch, ws);
        benchmark::DoNotOptimize(y.data());
    }
    set_counters(state, batch, mlp_flops);
}
BENCHMARK(mlp_static)->ArgNames({"batch"})->Arg(1)->Arg(32)->UseRealTime();

static void conv_encoder(benchmark::State& state) {
    const std::size_t batch = std::size_t(state.range(0)), threads = std::size_t(state.range(1));
    auto vae = make_conv_vae<float>();
    init_uniform(vae.encoder(), 1), init_uniform(vae.mean_head(), 2), init_uniform(vae.logvar_head(), 3);
    const Vae<float>& model = vae;
    auto x = input(batch * 240);
    std::vector<float> mean(batch * 16), logvar(batch * 16);
    std::vector<Workspace<float>> ws(threads);
    auto run = [&](std::size_t t) {
        std::size_t first = batch * t / threads, last = batch * (t + 1) / threads, n = last - first;
        model.encode(ConstTensorView<float>(x.data() + first * 240, {n, 1, 240}), TensorView<float>(mean.data() + first * 16, {n, 16}),
                     TensorView<float>(logvar.data() + first * 16, {n, 16}), ws[t]);
    };
    corespec::ThreadPool pool(threads);  // persistent threads, as Sequential::forward_parallel
    const std::function<void(std::size_t)> job = run;
    for (auto _ : state) {
        pool.run(job);
        benchmark::DoNotOptimize(mean.data());
    }
    // conv MACs: 16*7*120 + 32*112*60 + 32*96*30 + 64*96*15, heads 2 * 960 * 16
    set_counters(state, batch, 2.0 * (16 * 7 * 120 + 32 * 112 * 60 + 32 * 96 * 30 + 64 * 96 * 15 + 2 * 960 * 16));
}
BENCHMARK(conv_encoder)->ArgNames({"batch", "threads"})->Args({1, 1})->Args({32, 1})->Args({256, 1})->Args({256, 2})->UseRealTime();

BENCHMARK_MAIN();
