// Training throughput of the study-2 conv VAE (1 x 240 -> Conv1d 16/32/32/64,
// kernels 7/7/3/3, stride 2, LeakyReLU 0.3 -> latent 16 -> mirrored
// ConvTranspose1d decoder; float32): one epoch on 8192 synthetic two-peak
// spectra, batch 64, Adam (lr 1e-3), MSE reconstruction + 0.01 * KL, shuffled,
// through nn::train::VaeTrainer on 1 and 2 threads. Reports seconds per epoch.
// benchmarks/compare_train_vae_torch.py runs PyTorch on the same job in the same run.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include <corespec/nn/models/vae.hpp>
#include <corespec/nn/train/vae_trainer.hpp>

using namespace corespec::nn;

namespace {

constexpr std::size_t rows = 8192, length = 240;

// Two Gaussian peaks of random position, width and ratio on a 0.2 baseline,
// 5 % uniform noise: the distribution compare_train_vae_torch.py draws from.
const std::vector<float>& data() {
    static const std::vector<float> x = [] {
        std::vector<float> v(rows * length);
        train::Random rng(1);
        for (std::size_t r = 0; r < rows; ++r) {
            const double c1 = rng.uniform(40, 100), c2 = rng.uniform(130, 210), w = rng.uniform(4, 14),
                         h2 = rng.uniform(0.5, 1.5);
            for (std::size_t j = 0; j < length; ++j) {
                const double e = double(j);
                v[r * length + j] = float(0.2 + std::exp(-0.5 * std::pow((e - c1) / w, 2)) +
                                          h2 * std::exp(-0.5 * std::pow((e - c2) / w, 2)) + 0.05 * rng.uniform(-0.5, 0.5));
            }
        }
        return v;
    }();
    return x;
}

void train_vae_epoch(benchmark::State& state) {
    const std::size_t threads = std::size_t(state.range(0));
    Vae<float> vae = make_conv_vae<float>();
    std::uint64_t seed = 1;
    for (Sequential<float>* part : train::vae_parts(vae)) train::init_default(*part, seed++);
    train::MseLoss<float> recon;
    train::Adam<float> adam(1e-3);
    train::VaeTrainOptions o;
    o.beta = 0.01;
    o.epochs = 1;
    o.batch_size = 64;
    o.threads = threads;
    o.restore_best = false;
    o.silent();
    train::VaeTrainer<float> trainer(vae, recon, adam, o);
    const ConstTensorView<float> x(data().data(), Shape{rows, 1, length});
    double last = 0;
    for (auto _ : state) last = trainer.fit(x).train_loss;
    // No DoNotOptimize(last): with g++ 12 and this libbenchmark its "+m,r"
    // constraint garbles a double; fit has side effects anyway.
    state.counters["spectra/s"] = benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["train_loss"] = last;
}

}  // namespace

BENCHMARK(train_vae_epoch)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(3)->UseRealTime();

BENCHMARK_MAIN();
