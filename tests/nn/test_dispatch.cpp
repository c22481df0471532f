#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <string>
#include <vector>

#include "corespec/nn/kernels/dispatch.hpp"
#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/models/vae.hpp"
#include "nn_test_support.hpp"

using namespace corespec::nn;

// This executable is built with corespec_add_kernels (tests/CMakeLists.txt),
// as every binary corespec builds: the default kernels are the dispatched
// ones, and runtime_architectures() lists every compiled architecture this
// CPU runs. Each test below runs its fixture through all of them.

TEST_CASE("nn runtime dispatch: the default kernels are the best this CPU runs, or CORESPEC_KERNELS") {
    const std::vector<std::string> archs = kernels::runtime_architectures();
    REQUIRE(!archs.empty());
    CHECK(archs.back() == "scalar");
    std::string listed;
    for (const auto& a : archs) listed += a + " ";
    MESSAGE("this CPU runs: " << listed << "; default: " << std::string(kernels::kernels_name()));
    const char* forced = std::getenv("CORESPEC_KERNELS");
    CHECK(std::string(kernels::kernels_name()) == (forced && *forced ? std::string(forced) : archs.front()));
    CHECK(&kernels::default_table<float>() == &kernels::runtime_table<float>(kernels::kernels_name()));
    CHECK(std::string(kernels::runtime_table<double>("scalar").name) == "scalar");
#if defined(__x86_64__) || defined(_M_X64)
    const auto cpu = xsimd::available_architectures();
    CHECK(std::find(archs.begin(), archs.end(), "sse2") != archs.end());
    CHECK((std::find(archs.begin(), archs.end(), "avx2") != archs.end()) == bool(cpu.fma3_avx2));
    CHECK((std::find(archs.begin(), archs.end(), "avx512") != archs.end()) ==
          bool(cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw));
#endif
    CHECK(kernels::resolve_kernels(nullptr) == archs.front());
    CHECK(kernels::resolve_kernels("") == archs.front());
    for (const auto& a : archs) CHECK(kernels::resolve_kernels(a.c_str()) == a);
}

TEST_CASE("nn runtime dispatch: an unknown or unsupported CORESPEC_KERNELS value is a clear error") {
    CHECK_THROWS_WITH_AS(kernels::resolve_kernels("avx9000"),
                         doctest::Contains("CORESPEC_KERNELS=avx9000: corespec kernels: unknown architecture 'avx9000'"),
                         corespec::value_error);
    CHECK_THROWS_AS(kernels::runtime_table<float>("AVX2"), corespec::value_error);  // names are lower case
#if defined(__x86_64__) || defined(_M_X64)
    const auto cpu = xsimd::available_architectures();
    if (!(cpu.avx512f && cpu.avx512bw))
        CHECK_THROWS_WITH_AS(kernels::resolve_kernels("avx512"), doctest::Contains("this CPU lacks its instructions"),
                             corespec::value_error);
#endif
    CHECK_THROWS_WITH_AS(kernels::resolve_kernels("neon9"), doctest::Contains("this binary and CPU run: "), corespec::value_error);
}

TEST_CASE_TEMPLATE("nn runtime dispatch: every architecture this CPU runs gives the scalar path's model output", T, float, double) {
    auto m = make_mlp<T>({61, 33, 5}, Activation::gelu());
    init_uniform(m, 3);
    auto x = nn_test::cast<T>(nn_test::random_vector(7 * 61, 4));
    std::vector<T> ref(35);
    Workspace<T> ws;
    ws.kernels = &kernels::scalar_table<T>();
    m.forward(ConstTensorView<T>(x.data(), {7, 61}), TensorView<T>(ref.data(), {7, 5}), ws);
    for (const auto& arch : kernels::runtime_architectures()) {
        CAPTURE(arch);
        const auto& K = kernels::runtime_table<T>(arch);
        std::vector<T> y(35);
        ws.kernels = &K;
        m.forward(ConstTensorView<T>(x.data(), {7, 61}), TensorView<T>(y.data(), {7, 5}), ws);
        CHECK(nn_test::max_rel_error(y, ref) < nn_test::tolerance<T>());
    }
}

// The register tiles of every dispatched architecture (AVX-512: 12 x 2 panels;
// AVX2: 6 x 1 panel; SSE2) against the scalar path, on shapes that exercise
// balanced row blocks, panel pairs, panel tails, the GEMV path, strided A and
// row-pointer B; then the study-2 conv encoder end to end.
TEST_CASE_TEMPLATE("nn dispatched gemm and conv encoder match the scalar path", T, float, double) {
    for (const auto& arch : kernels::runtime_architectures()) {
        const auto& K = kernels::runtime_table<T>(arch);
        const auto& S = kernels::scalar_table<T>();
        CAPTURE(arch);
        constexpr std::size_t NR = kernels::panel_width<T>;
        for (std::size_t m : {1u, 11u, 12u, 13u, 16u, 25u, 64u})
            for (std::size_t n : {8u, 16u, 32u, 33u, 48u, 100u})
                for (std::size_t k : {1u, 7u, 96u}) {
                    CAPTURE(m); CAPTURE(n); CAPTURE(k);
                    auto a = nn_test::cast<T>(nn_test::random_vector(m * k * 2, 1));
                    auto b = nn_test::cast<T>(nn_test::random_vector(k * n, 2));
                    auto bias = nn_test::cast<T>(nn_test::random_vector(n, 3));
                    Workspace<T> ws;
                    T* bp = ws.allocate(kernels::packed_size<T>(k, n));
                    kernels::pack_b<T>(k, n, b.data(), static_cast<std::ptrdiff_t>(n), 1, bp);
                    // The same B as row pointers into a copy padded to whole panels.
                    const std::size_t panels = (n + NR - 1) / NR;
                    std::vector<T> bpad(k * panels * NR, T(0));
                    std::vector<const T*> rows(panels * k);
                    for (std::size_t kk = 0; kk < k; ++kk)
                        for (std::size_t j = 0; j < n; ++j) bpad[kk * panels * NR + j] = b[kk * n + j];
                    for (std::size_t p = 0; p < panels; ++p)
                        for (std::size_t kk = 0; kk < k; ++kk) rows[p * k + kk] = bpad.data() + kk * panels * NR + p * NR;
                    for (int variant = 0; variant < 3; ++variant) {
                        std::vector<T> c1(m * n), c2(m * n);
                        kernels::GemmArgs<T> g;
                        g.m = m, g.n = n, g.k = k;
                        g.a = a.data(), g.a_rs = static_cast<std::ptrdiff_t>(variant == 1 ? 2 * k : k), g.a_cs = variant == 1 ? 2 : 1;
                        if (variant == 2) g.b_rows = rows.data();
                        else g.b_packed = bp;
                        g.c_rs = static_cast<std::ptrdiff_t>(n), g.c_cs = 1;
                        g.bias_col = bias.data();
                        g.act = Activation::leaky_relu(0.3);
                        g.c = c1.data();
                        K.gemm(g);
                        g.c = c2.data();
                        S.gemm(g);
                        CHECK(nn_test::max_rel_error(c1, c2) < nn_test::tolerance<T>());
                    }
                }
        auto vae = make_conv_vae<T>();
        init_uniform(vae.encoder(), 1), init_uniform(vae.mean_head(), 2), init_uniform(vae.logvar_head(), 3);
        const std::size_t batch = 21;
        auto x = nn_test::cast<T>(nn_test::random_vector(batch * 240, 4, 0, 1));
        std::vector<T> m1(batch * 16), l1(batch * 16), m2(batch * 16), l2(batch * 16);
        Workspace<T> w1, w2;
        w1.kernels = &K, w2.kernels = &S;
        vae.encode(ConstTensorView<T>(x.data(), {batch, 1, 240}), TensorView<T>(m1.data(), {batch, 16}), TensorView<T>(l1.data(), {batch, 16}), w1);
        vae.encode(ConstTensorView<T>(x.data(), {batch, 1, 240}), TensorView<T>(m2.data(), {batch, 16}), TensorView<T>(l2.data(), {batch, 16}), w2);
        CHECK(nn_test::max_rel_error(m1, m2) < nn_test::tolerance<T>());
        CHECK(nn_test::max_rel_error(l1, l2) < nn_test::tolerance<T>());
    }
}

// The training loops' kernels (kernels/optim.hpp) of every architecture this
// CPU runs against the scalar path, on a length with a vector tail.
TEST_CASE_TEMPLATE("nn dispatched Adam, SGD and gradient sums match the scalar path", T, float, double) {
    const std::size_t n = 1000 + 13;
    const auto p0 = nn_test::cast<T>(nn_test::random_vector(n, 11)), g = nn_test::cast<T>(nn_test::random_vector(n, 12));
    const kernels::AdamStep<T> adam{T(0.9), T(0.999), T(0.1), T(0.001), T(0.01), T(1e-3), T(1e-8), T(1), true, false};
    const kernels::SgdStep<T> sgd{T(0.05), T(0.01), T(0.9), T(1), true, false, true};
    auto run = [&](const kernels::KernelTable<T>& K) {
        std::vector<T> pa = p0, m(n, T(0.01)), v(n, T(0.02)), ps = p0, buf(n, T(0.03)), acc = p0;
        for (int step = 0; step < 3; ++step) K.adam_update(adam, pa.data(), g.data(), m.data(), v.data(), n);
        K.sgd_update(sgd, ps.data(), g.data(), buf.data(), n);
        K.accumulate(acc.data(), g.data(), n);
        std::vector<T> all = pa;
        all.insert(all.end(), m.begin(), m.end());
        all.insert(all.end(), ps.begin(), ps.end());
        all.insert(all.end(), buf.begin(), buf.end());
        all.insert(all.end(), acc.begin(), acc.end());
        return std::make_pair(all, K.sum_squares(g.data(), n));
    };
    const auto ref = run(kernels::scalar_table<T>());
    std::vector<T> bad = g;
    bad[n - 2] = std::numeric_limits<T>::quiet_NaN();
    for (const auto& arch : kernels::runtime_architectures()) {
        CAPTURE(arch);
        const auto& K = kernels::runtime_table<T>(arch);
        const auto got = run(K);
        CHECK(nn_test::max_rel_error(got.first, ref.first) < nn_test::tolerance<T>());
        CHECK(std::abs(got.second - ref.second) <= 1e-12 * ref.second);  // fixed order; FMA may round differently
        CHECK(K.all_finite(g.data(), n));
        CHECK(!K.all_finite(bad.data(), n));
    }
}
