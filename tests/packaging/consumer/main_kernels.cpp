// The runtime-dispatch route (corespec_add_kernels): a dense layer runs with
// the dispatched kernels and must agree with the plain C++ path. Prints which
// kernels ran; with --expect-wider-than-sse2 fails unless they are wider.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <corespec/nn/kernels/dispatch.hpp>
#include <corespec/nn/layers/dense.hpp>

int main(int argc, char** argv) {
    namespace nn = corespec::nn;
    const std::string kernels = nn::kernels::kernels_name();
    std::printf("corespec kernels: %s\n", kernels.c_str());
    nn::Dense<float> layer(37, 19, nn::Activation::relu());
    auto p = layer.parameters();  // weight [19, 37] then bias [19]
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::sin(0.1f * float(i));
    layer.parameters_changed();
    std::vector<float> x(5 * 37), y1(5 * 19), y2(5 * 19);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * float(i));
    nn::Workspace<float> ws;  // selects nothing: the dispatched kernels
    layer.forward(nn::ConstTensorView<float>(x.data(), {5, 37}), nn::TensorView<float>(y1.data(), {5, 19}), ws);
    ws.kernels = &nn::kernels::scalar_table<float>();
    layer.forward(nn::ConstTensorView<float>(x.data(), {5, 37}), nn::TensorView<float>(y2.data(), {5, 19}), ws);
    double err = 0;
    for (std::size_t i = 0; i < y1.size(); ++i) err = std::fmax(err, std::fabs(double(y1[i]) - double(y2[i])));
    std::printf("max |dispatched - scalar| = %.3g\n", err);
    if (err > 1e-4) return 1;
    if (argc > 1 && std::strcmp(argv[1], "--expect-wider-than-sse2") == 0 && (kernels == "sse2" || kernels == "scalar")) {
        std::printf("expected kernels wider than SSE2 on this machine\n");
        return 1;
    }
    return 0;
}
