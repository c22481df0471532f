// Training throughput: one epoch of the study-1 reference MLP (702 -> 128 ->
// 64 -> 8, ReLU, float32) on 50,000 synthetic spectra, batch 64, Adam, MSE,
// shuffled, through nn::train::Trainer, on 1 and 2 threads. Reports seconds
// per epoch (the iteration time) and spectra per second.
// benchmarks/compare_train_torch.py runs PyTorch on the same job in the same run.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include <corespec/nn/models/mlp.hpp>
#include <corespec/nn/train/trainer.hpp>

using namespace corespec::nn;

namespace {

constexpr std::size_t rows = 50000, features = 702, outputs = 8;

struct Data {
    std::vector<float> x, y;
    Data() : x(rows * features), y(rows * outputs) {
        train::Random rng(1);
        // Edge-like spectra: a sigmoid step at a random position plus noise.
        for (std::size_t r = 0; r < rows; ++r) {
            const double e0 = rng.uniform(200, 500);
            for (std::size_t j = 0; j < features; ++j)
                x[r * features + j] = float(1 / (1 + std::exp(-(double(j) - e0) / 8)) + 0.05 * rng.uniform(-1, 1));
            for (std::size_t k = 0; k < outputs; ++k) y[r * outputs + k] = float(std::sin(e0 / 50 + double(k)));
        }
    }
};

const Data& data() {
    static const Data d;
    return d;
}

void train_epoch(benchmark::State& state) {
    const std::size_t threads = std::size_t(state.range(0));
    const Data& d = data();
    auto model = make_mlp<float>({features, 128, 64, outputs});
    train::init_default(model, 1);
    train::MseLoss<float> loss;
    train::Adam<float> adam(1e-3);
    train::TrainOptions o;
    o.epochs = 1;
    o.batch_size = 64;
    o.threads = threads;
    o.restore_best = false;
    o.silent();
    train::Trainer<float> trainer(model, loss, adam, o);
    ConstTensorView<float> x(d.x.data(), Shape{rows, features}), y(d.y.data(), Shape{rows, outputs});
    double last = 0;
    for (auto _ : state) last = trainer.fit(x, y).train_loss;
    // No DoNotOptimize(last): with g++ 12 and this libbenchmark its "+m,r"
    // constraint garbled the double (1e-318 reported); fit has side effects anyway.
    state.counters["spectra/s"] = benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["train_loss"] = last;
}

}  // namespace

BENCHMARK(train_epoch)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(3)->UseRealTime();

BENCHMARK_MAIN();
