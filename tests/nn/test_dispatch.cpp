#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "corespec/nn/kernels/dispatch.hpp"
#include "corespec/nn/models/mlp.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

#if defined(__x86_64__) || defined(_M_X64)
#if defined(CORESPEC_NN_TEST_AVX2_TU)
using TestArchs = xsimd::arch_list<xsimd::fma3<xsimd::avx2>, xsimd::sse2>;  // see test_dispatch_arch.cpp
#else
using TestArchs = xsimd::arch_list<xsimd::sse2>;
#endif

TEST_CASE_TEMPLATE("nn runtime dispatch picks a supported architecture whose model output matches", T, float, double) {
    const auto& K = kernels::dispatched_table<T, TestArchs>();
    const std::string name = K.name;
    MESSAGE("dispatched kernels: " << name << " (compile-time best: " << std::string(kernels::best_table<T>().name) << ")");
    const auto avail = xsimd::available_architectures();
    if (avail.fma3_avx2 && std::is_same<TestArchs, xsimd::arch_list<xsimd::fma3<xsimd::avx2>, xsimd::sse2>>::value)
        CHECK(name == "fma3+avx2");
    else
        CHECK(name == "sse2");
    auto m = make_mlp<T>({61, 33, 5}, Activation::gelu());
    init_uniform(m, 3);
    auto x = nn_test::cast<T>(nn_test::random_vector(7 * 61, 4));
    std::vector<T> y1(35), y2(35);
    Workspace<T> ws;
    ws.kernels = &K;
    m.forward(ConstTensorView<T>(x.data(), {7, 61}), TensorView<T>(y1.data(), {7, 5}), ws);
    ws.kernels = &kernels::scalar_table<T>();
    m.forward(ConstTensorView<T>(x.data(), {7, 61}), TensorView<T>(y2.data(), {7, 5}), ws);
    CHECK(nn_test::max_rel_error(y1, y2) < nn_test::tolerance<T>());
}
#endif
