#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "corespec/nn/models/builders.hpp"
#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/models/vae.hpp"
#include "nn_test_support.hpp"

// A counting global allocator: proves that inference allocates nothing in
// steady state. Counts every operator new of this executable.
// GCC 12 sees malloc/free behind new/delete and warns about a mismatch that
// is the point of the replacement.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
    ++g_allocations;
    const std::size_t al = static_cast<std::size_t>(a);
    const std::size_t rounded = n == 0 ? al : (n + al - 1) / al * al;
    if (void* p = std::aligned_alloc(al, rounded)) return p;
    throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every
// pointer our delete frees must come from our malloc, or a sanitizer's own
// operator new would be paired with free.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    ++g_allocations;
    const std::size_t al = static_cast<std::size_t>(a);
    return std::aligned_alloc(al, n == 0 ? al : (n + al - 1) / al * al);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace corespec::nn;

namespace {
template <class T>
std::vector<T> forward(const Sequential<T>& m, const std::vector<T>& x, Shape in, const kernels::KernelTable<T>* K = nullptr) {
    Shape os = m.output_shape(in);
    std::vector<T> y(os.size());
    Workspace<T> ws;
    ws.kernels = K;
    m.forward(ConstTensorView<T>(x.data(), in), TensorView<T>(y.data(), os), ws);
    return y;
}
}  // namespace

TEST_CASE_TEMPLATE("nn reference MLP 702 -> 128 -> 64 -> 8 matches chained reference dense layers", T, float, double) {
    auto mlp = make_mlp<T>({702, 128, 64, 8});
    init_uniform(mlp, 42);
    const std::size_t batch = 9;
    auto x = nn_test::random_vector(batch * 702, 1, 0, 1);
    std::vector<double> h = x;
    std::size_t in = 702;
    for (std::size_t l = 0; l < mlp.size(); ++l) {
        auto& d = dynamic_cast<Dense<T>&>(mlp.layer(l));
        std::vector<double> w(d.parameter("weight").begin(), d.parameter("weight").end());
        std::vector<double> b(d.parameter("bias").begin(), d.parameter("bias").end());
        h = nn_test::dense_ref(h, w, b, batch, in, d.out_features(), d.activation());
        in = d.out_features();
    }
    for (auto* K : nn_test::kernel_paths<T>()) {
        const std::string path = K->name;
        CAPTURE(path);
        auto y = forward(mlp, nn_test::cast<T>(x), Shape{batch, 702}, K);
        CHECK(nn_test::max_rel_error(y, h) < (sizeof(T) == 4 ? 1e-5 : 1e-12));
    }
}

TEST_CASE_TEMPLATE("nn study-2 conv VAE: encoder matches chained references, decode/reconstruct/sample shapes", T, float, double) {
    auto vae = make_conv_vae<T>();
    init_uniform(vae.encoder(), 1), init_uniform(vae.mean_head(), 2), init_uniform(vae.logvar_head(), 3), init_uniform(vae.decoder(), 4);
    CHECK(vae.latent_size() == 16);
    const std::size_t batch = 3;
    auto x = nn_test::random_vector(batch * 240, 5, 0, 1);
    // reference encoder
    std::vector<double> h = x;
    std::size_t c = 1, l = 240;
    for (std::size_t i = 0; i < 4; ++i) {
        auto& conv = dynamic_cast<Conv1D<T>&>(vae.encoder().layer(i));
        std::vector<double> w(conv.parameter("weight").begin(), conv.parameter("weight").end());
        std::vector<double> b(conv.parameter("bias").begin(), conv.parameter("bias").end());
        const std::size_t k = conv.kernel_size();  // padding k / 2 on both sides, as PyTorch's study-2 module
        h = nn_test::conv1d_ref(h, w, b, batch, c, l, conv.out_channels(), k, 2, k / 2, k / 2, 1, 1);
        for (auto& v : h) v = nn_test::act_ref(Activation::leaky_relu(0.3), v);
        c = conv.out_channels(), l /= 2;
    }
    auto& md = dynamic_cast<Dense<T>&>(vae.mean_head().layer(0));
    std::vector<double> w(md.parameter("weight").begin(), md.parameter("weight").end());
    std::vector<double> b(md.parameter("bias").begin(), md.parameter("bias").end());
    auto mean_ref = nn_test::dense_ref(h, w, b, batch, 960, 16, Activation::identity());

    for (auto* K : nn_test::kernel_paths<T>()) {
        const std::string path = K->name;
        CAPTURE(path);
        Workspace<T> ws;
        ws.kernels = K;
        auto xt = nn_test::cast<T>(x);
        std::vector<T> mean(batch * 16), logvar(batch * 16), rec(batch * 240), rec2(batch * 240), smp(5 * 240);
        vae.encode(ConstTensorView<T>(xt.data(), {batch, 1, 240}), TensorView<T>(mean.data(), {batch, 16}),
                   TensorView<T>(logvar.data(), {batch, 16}), ws);
        CHECK(nn_test::max_rel_error(mean, mean_ref) < (sizeof(T) == 4 ? 1e-5 : 1e-12));
        vae.reconstruct(ConstTensorView<T>(xt.data(), {batch, 1, 240}), TensorView<T>(rec.data(), {batch, 1, 240}), ws);
        vae.decode(ConstTensorView<T>(mean.data(), {batch, 16}), TensorView<T>(rec2.data(), {batch, 1, 240}), ws);
        CHECK(rec == rec2);
        std::vector<T> zero(batch * 16, T(0)), z(batch * 16);
        Vae<T>::reparameterize(ConstTensorView<T>(mean.data(), {batch, 16}), ConstTensorView<T>(logvar.data(), {batch, 16}),
                               ConstTensorView<T>(zero.data(), {batch, 16}), TensorView<T>(z.data(), {batch, 16}));
        CHECK(z == mean);
        std::mt19937_64 rng(7);
        vae.sample(rng, TensorView<T>(smp.data(), {5, 1, 240}), ws);
        for (T v : smp) CHECK(std::isfinite(double(v)));
    }
    CHECK_THROWS_AS(Vae<T>(vae.encoder(), vae.mean_head(), vae.decoder(), vae.decoder(), Shape{1, 240}), corespec::shape_error);
}

TEST_CASE("nn Sequential JSON round trip, BatchNorm folding, multi-head outputs") {
    Sequential<double> m;
    m.emplace<Dense<double>>(10, 8).emplace<BatchNorm1d<double>>(8).emplace<ActivationLayer<double>>(Activation::relu());
    m.emplace<Dropout<double>>(0.1).emplace<Dense<double>>(8, 3);
    init_uniform(m, 3);
    auto& bn = m.layer(1);
    for (auto& v : bn.parameter("running_mean")) v = 0.2;
    for (auto& v : bn.parameter("running_var")) v = 1.7;
    auto j = sequential_config(m);
    auto back = sequential_from_config<double>(j);
    CHECK(sequential_config(back) == j);
    CHECK(back.parameter_count() == m.parameter_count());
    auto x = nn_test::random_vector(4 * 10, 9);
    auto y = forward(m, x, Shape{4, 10});
    Sequential<double> folded = m;
    CHECK(fold_batch_norms(folded) == 1);
    CHECK(folded.size() == 4);
    CHECK(nn_test::max_rel_error(forward(folded, x, Shape{4, 10}), y) < 1e-13);

    Sequential<double> trunk = make_mlp<double>({10, 6}), reg = make_mlp<double>({6, 2}), cls = make_mlp<double>({6, 4});
    init_uniform(trunk, 1), init_uniform(reg, 2), init_uniform(cls, 3);
    MultiHead<double> mh(trunk, {"content", "defects"}, {reg, cls});
    std::vector<double> o1(8), o2(16);
    std::vector<TensorView<double>> outs{TensorView<double>(o1.data(), {4, 2}), TensorView<double>(o2.data(), {4, 4})};
    Workspace<double> ws;
    mh.forward(ConstTensorView<double>(x.data(), {4, 10}), corespec::span<const TensorView<double>>(outs.data(), 2), ws);
    auto h = forward(trunk, x, Shape{4, 10});
    CHECK(o1 == forward(reg, h, Shape{4, 6}));
    CHECK(o2 == forward(cls, h, Shape{4, 6}));
    CHECK(mh.head_name(1) == "defects");
}

TEST_CASE("nn Sequential backward accumulates into one flat gradient buffer (finite differences)") {
    Sequential<double> m;
    m.emplace<Conv1D<double>>(2, 3, 3, 2, Padding::same(), 1, 1, Activation::tanh())
        .emplace<Flatten<double>>()
        .emplace<Dense<double>>(15, 4, Activation::silu());
    init_uniform(m, 5);
    Shape in{2, 2, 10};
    auto x = nn_test::random_vector(in.size(), 6);
    auto r = nn_test::random_vector(8, 7);
    Workspace<double> ws;
    std::vector<ConstTensorView<double>> acts;
    std::vector<double> gx(x.size()), gp(m.parameter_count(), 0.0);
    {
        Workspace<double>::Frame f(ws);
        m.forward_trace(ConstTensorView<double>(x.data(), in), acts, ws);
        m.backward(acts, ConstTensorView<double>(r.data(), {2, 4}), TensorView<double>(gx.data(), in),
                   corespec::span<double>(gp.data(), gp.size()), ws);
    }
    auto loss = [&](const std::vector<double>& xx) {
        auto y = forward(m, xx, in);
        double s = 0;
        for (std::size_t i = 0; i < y.size(); ++i) s += r[i] * y[i];
        return s;
    };
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += 1e-6, xm[i] -= 1e-6;
        worst = std::max(worst, std::abs((loss(xp) - loss(xm)) / 2e-6 - gx[i]));
    }
    // the last parameter: the Dense bias of output 3
    auto& last = m.layer(2);
    auto bias = last.parameter("bias");
    double keep = bias[3];
    bias[3] = keep + 1e-6, last.parameters_changed();
    double lp = loss(x);
    bias[3] = keep - 1e-6, last.parameters_changed();
    double lm = loss(x);
    bias[3] = keep, last.parameters_changed();
    worst = std::max(worst, std::abs((lp - lm) / 2e-6 - gp.back()));
    CHECK(worst < 1e-7);
}

TEST_CASE("nn inference allocates nothing in steady state") {
    auto mlp = make_mlp<float>({702, 128, 64, 8});
    init_uniform(mlp, 1);
    auto vae = make_conv_vae<float>();
    std::vector<float> x(32 * 702, 0.5f), y(32 * 8), s(32 * 240, 0.25f), r(32 * 240);
    Workspace<float> ws;
    auto run = [&] {
        mlp.forward(ConstTensorView<float>(x.data(), {32, 702}), TensorView<float>(y.data(), {32, 8}), ws);
        mlp.forward(ConstTensorView<float>(x.data(), {1, 702}), TensorView<float>(y.data(), {1, 8}), ws);
        vae.reconstruct(ConstTensorView<float>(s.data(), {32, 1, 240}), TensorView<float>(r.data(), {32, 1, 240}), ws);
    };
    run();  // warm-up: the workspace grows here
    const long before = g_allocations.load();
    for (int i = 0; i < 5; ++i) run();
    const long after = g_allocations.load();
    CHECK(after == before);
}

TEST_CASE("nn a const model is safe from many threads; forward_parallel equals forward") {
    auto vae = make_conv_vae<float>();
    init_uniform(vae.encoder(), 1), init_uniform(vae.mean_head(), 2), init_uniform(vae.logvar_head(), 3), init_uniform(vae.decoder(), 4);
    const Vae<float>& cvae = vae;
    auto mlp = make_mlp<float>({702, 128, 64, 8});
    init_uniform(mlp, 2);
    const std::size_t batch = 37;
    auto x = nn_test::cast<float>(nn_test::random_vector(batch * 240, 3, 0, 1));
    std::vector<float> serial(batch * 240);
    Workspace<float> ws;
    cvae.reconstruct(ConstTensorView<float>(x.data(), {batch, 1, 240}), TensorView<float>(serial.data(), {batch, 1, 240}), ws);
    std::vector<std::vector<float>> results(4, std::vector<float>(batch * 240));
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            Workspace<float> w;
            for (int rep = 0; rep < 3; ++rep)
                cvae.reconstruct(ConstTensorView<float>(x.data(), {batch, 1, 240}),
                                 TensorView<float>(results[t].data(), {batch, 1, 240}), w);
        });
    for (auto& th : threads) th.join();
    for (const auto& r : results) CHECK(r == serial);

    // Chunks shrink as the batch is used up: tails, whole tiles and large first chunks.
    for (const auto& run : {std::pair<std::size_t, std::size_t>{batch, 3}, {1000, 2}, {300, 4}}) {
        const std::size_t rows = run.first, nthreads = run.second;  // not a structured binding: CAPTURE is a lambda
        CAPTURE(rows);
        auto xr = nn_test::cast<float>(nn_test::random_vector(rows * 702, 4, 0, 1));
        auto ym = forward(mlp, xr, Shape{rows, 702});
        std::vector<float> yp(rows * 8);
        corespec::ThreadPool pool(nthreads);
        std::vector<Workspace<float>> wss(nthreads);
        mlp.forward_parallel(ConstTensorView<float>(xr.data(), {rows, 702}), TensorView<float>(yp.data(), {rows, 8}),
                             corespec::span<Workspace<float>>(wss.data(), wss.size()), pool);
        CHECK(yp == ym);
        if (nthreads > 1)  // fewer workspaces than threads is refused
            CHECK_THROWS_AS(mlp.forward_parallel(ConstTensorView<float>(xr.data(), {rows, 702}), TensorView<float>(yp.data(), {rows, 8}),
                                                 corespec::span<Workspace<float>>(wss.data(), 1), pool),
                            corespec::value_error);
    }
}
