// The libtorch C++ peer of nn_predict: the study-1 MLP 702-128-64-8 (Linear,
// ReLU, Linear, ReLU, Linear; float32, PyTorch's default initialisation) on
// one thread under InferenceMode, at batch 1 and batch 4096 (the shapes of
// docs/benchmarks.md). Not part of corespec: built only with
// -DCORESPEC_BUILD_BENCHMARKS=ON -DCORESPEC_BENCH_LIBTORCH=ON (Debian:
// libtorch-dev). Prints one JSON object, microseconds per spectrum (median
// of `repeats` timings, each the mean over enough calls to last ~0.2 s).
//
//   peer_libtorch_mlp [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <torch/torch.h>

namespace {

double median_us_per_sample(torch::nn::Sequential& model, const torch::Tensor& x, int repeats) {
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    model->forward(x);  // warm-up
    long calls = 1;
    for (;;) {  // calls per timing: about 0.2 s
        const auto t0 = clock::now();
        for (long i = 0; i < calls; ++i) model->forward(x);
        if (seconds(t0, clock::now()) > 0.2) break;
        calls *= 2;
    }
    std::vector<double> us;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = clock::now();
        for (long i = 0; i < calls; ++i) model->forward(x);
        us.push_back(seconds(t0, clock::now()) * 1e6 / static_cast<double>(calls) / static_cast<double>(x.size(0)));
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
    torch::set_num_threads(1);
    torch::manual_seed(0);
    torch::InferenceMode guard;
    torch::nn::Sequential model(torch::nn::Linear(702, 128), torch::nn::ReLU(), torch::nn::Linear(128, 64), torch::nn::ReLU(),
                                torch::nn::Linear(64, 8));
    model->eval();
    const double b1 = median_us_per_sample(model, torch::rand({1, 702}), repeats);
    const double b4096 = median_us_per_sample(model, torch::rand({4096, 702}), repeats);
    std::printf("{\"peer\": \"libtorch %s\", \"threads\": 1, \"batch1_us\": %.3f, \"batch4096_us_per_spectrum\": %.4f}\n",
                TORCH_VERSION, b1, b4096);
    return 0;
}
