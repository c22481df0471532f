// nn engine throughput: the study-1 reference MLP (702 -> 128 -> 64 -> 8,
// ReLU) and the study-2 conv encoder, float32, per batch size and thread
// count. Reports microseconds per spectrum (us/spectrum counter).
#include <benchmark/benchmark.h>

#include <vector>

#include <corespec/nn/models/mlp.hpp>

using namespace corespec::nn;

static void set_counters(benchmark::State& state, std::size_t batch) {
    state.counters["us/spectrum"] = benchmark::Counter(double(batch) * 1e-6,
                                                       benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
    state.counters["GFLOP/s"] = benchmark::Counter(double(batch) * 2.0 * (702 * 128 + 128 * 64 + 64 * 8) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

static void mlp(benchmark::State& state) {
    const std::size_t batch = std::size_t(state.range(0)), threads = std::size_t(state.range(1));
    auto model = make_mlp<float>({702, 128, 64, 8});
    init_uniform(model, 1);
    std::vector<float> x(batch * 702), y(batch * 8);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 97) / 97.0f;
    std::vector<Workspace<float>> ws(threads);
    ConstTensorView<float> in(x.data(), {batch, 702});
    TensorView<float> out(y.data(), {batch, 8});
    for (auto _ : state) {
        if (threads == 1) model.forward(in, out, ws[0]);
        else model.forward_parallel(in, out, corespec::span<Workspace<float>>(ws.data(), ws.size()));
        benchmark::DoNotOptimize(y.data());
    }
    set_counters(state, batch);
}
BENCHMARK(mlp)->ArgNames({"batch", "threads"})
    ->Args({1, 1})->Args({32, 1})->Args({256, 1})->Args({1024, 1})->Args({4096, 1})
    ->Args({1024, 2})->Args({4096, 2})->UseRealTime();

BENCHMARK_MAIN();
