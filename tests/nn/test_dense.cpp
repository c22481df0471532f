#include <doctest/doctest.h>

#include <vector>

#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/sequential.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

TEST_CASE_TEMPLATE("nn gemm matches the textbook triple loop (strides, tails, bias, accumulate)", T, float, double) {
    for (auto* K : nn_test::kernel_paths<T>()) {
        for (std::size_t m : {1u, 2u, 5u, 7u, 13u}) {
            for (std::size_t n : {1u, 3u, 16u, 17u, 40u, 70u}) {
                for (std::size_t k : {1u, 6u, 31u}) {
                    CAPTURE(K->name); CAPTURE(m); CAPTURE(n); CAPTURE(k);
                    auto a = nn_test::random_vector(m * k, 1), b = nn_test::random_vector(k * n, 2);
                    auto bc = nn_test::random_vector(n, 3), br = nn_test::random_vector(m, 4);
                    auto c0 = nn_test::random_vector(m * n, 5);
                    // A stored transposed (column-major), B row-major, C row-major.
                    std::vector<T> at(m * k), bp(kernels::packed_size<T>(k, n) + 64);
                    for (std::size_t i = 0; i < m; ++i)
                        for (std::size_t kk = 0; kk < k; ++kk) at[kk * m + i] = T(a[i * k + kk]);
                    auto bt = nn_test::cast<T>(b);
                    T* bpa = reinterpret_cast<T*>((reinterpret_cast<std::uintptr_t>(bp.data()) + 63) / 64 * 64);
                    kernels::pack_b<T>(k, n, bt.data(), static_cast<std::ptrdiff_t>(n), 1, bpa);
                    for (bool acc : {false, true}) {
                        auto c = nn_test::cast<T>(c0);
                        kernels::GemmArgs<T> g;
                        g.m = m, g.n = n, g.k = k;
                        g.a = at.data(), g.a_rs = 1, g.a_cs = static_cast<std::ptrdiff_t>(m);
                        g.b_packed = bpa;
                        g.c = c.data(), g.c_rs = static_cast<std::ptrdiff_t>(n), g.c_cs = 1;
                        auto tbc = nn_test::cast<T>(bc), tbr = nn_test::cast<T>(br);
                        g.bias_col = tbc.data(), g.bias_row = tbr.data();
                        g.act = Activation::tanh();
                        g.accumulate = acc;
                        K->gemm(g);
                        std::vector<double> ref(m * n);
                        for (std::size_t i = 0; i < m; ++i)
                            for (std::size_t j = 0; j < n; ++j) {
                                double s = 0;
                                for (std::size_t kk = 0; kk < k; ++kk) s += a[i * k + kk] * b[kk * n + j];
                                ref[i * n + j] = acc ? c0[i * n + j] + s : std::tanh(s + bc[j] + br[i]);
                            }
                        CHECK(nn_test::max_rel_error(c, ref) < nn_test::tolerance<T>());
                    }
                }
            }
        }
    }
}

TEST_CASE_TEMPLATE("nn::Dense forward matches the reference for every activation", T, float, double) {
    const std::vector<Activation> acts{Activation::identity(), Activation::relu(),  Activation::leaky_relu(0.3),
                                       Activation::elu(0.7),   Activation::gelu(),  Activation::gelu_tanh(),
                                       Activation::silu(),     Activation::tanh(),  Activation::sigmoid(),
                                       Activation::softplus()};
    for (auto* K : nn_test::kernel_paths<T>()) {
        for (const auto& act : acts) {
            for (std::size_t batch : {1u, 3u, 8u}) {
                const std::size_t in = 37, out = 19;
                CAPTURE(K->name); CAPTURE(act.name()); CAPTURE(batch);
                Dense<T> d(in, out, act);
                auto w = nn_test::random_vector(in * out, 11), b = nn_test::random_vector(out, 12);
                auto x = nn_test::random_vector(batch * in, 13, -3, 3);
                std::copy(w.begin(), w.end(), d.parameter("weight").begin());
                std::copy(b.begin(), b.end(), d.parameter("bias").begin());
                d.parameters_changed();
                auto xt = nn_test::cast<T>(x);
                std::vector<T> y(batch * out);
                Workspace<T> ws;
                ws.kernels = K;
                d.forward(ConstTensorView<T>(xt.data(), {batch, in}), TensorView<T>(y.data(), {batch, out}), ws);
                auto ref = nn_test::dense_ref(x, w, b, batch, in, out, act);
                CHECK(nn_test::max_rel_error(y, ref) < (sizeof(T) == 4 ? 2e-5 : 1e-12));
            }
        }
    }
}

TEST_CASE("nn::Dense rejects wrong shapes and describes itself") {
    Dense<float> d(5, 3, Activation::leaky_relu(0.3), false);
    CHECK(d.parameter_count() == 15);
    CHECK_THROWS_AS(d.parameter("bias"), corespec::value_error);
    CHECK_THROWS_AS(d.output_shape(Shape{2, 4}), corespec::shape_error);
    CHECK_THROWS_AS(d.output_shape(Shape{2, 5, 1}), corespec::shape_error);
    std::vector<float> x(10), y(5);
    Workspace<float> ws;
    CHECK_THROWS_AS(d.forward(ConstTensorView<float>(x.data(), {2, 5}), TensorView<float>(y.data(), {1, 5}), ws),
                    corespec::shape_error);
    auto j = d.config();
    CHECK(j["type"] == "dense");
    CHECK(j["activation"] == "leaky_relu");
    CHECK(j["activation_alpha"].get<double>() == doctest::Approx(0.3));
    CHECK_THROWS_AS(Dense<float>(0, 3), corespec::value_error);
}
