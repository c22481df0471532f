// VAE training (nn/train/vae_trainer.hpp) and BatchNorm1d running statistics
// in training (nn/train/running_stats.hpp). PyTorch parity of both is in
// test_train_parity.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/layers/shape.hpp"
#include "corespec/nn/train/vae_trainer.hpp"
#include "support/nn_gradcheck.hpp"

using namespace corespec::nn;
using namespace corespec::nn::train;

namespace {

// A small conv VAE of the study-2 shape: [batch, 1, 16] -> latent 2 -> [batch, 1, 16].
template <class T>
Vae<T> small_vae(std::uint64_t seed) {
    Vae<T> v = make_conv_vae<T>(16, {2, 3}, {3, 3}, 2, 0.3);
    std::uint64_t s = seed;
    for (Sequential<T>* p : vae_parts(v)) init_default(*p, s++);
    return v;
}

// Smooth rows: a peak at a random position on a baseline, [n, 1, 16].
std::vector<float> peaks(std::size_t n, std::uint64_t seed) {
    Random rng(seed);
    std::vector<float> x(n * 16);
    for (std::size_t i = 0; i < n; ++i) {
        const double c = rng.uniform(3, 12), a = rng.uniform(0.5, 1.5);
        for (std::size_t j = 0; j < 16; ++j) x[i * 16 + j] = float(0.1 + a * std::exp(-0.5 * (double(j) - c) * (double(j) - c) / 4));
    }
    return x;
}

// The raw form of peaks() rows: scaled, on a sloping background, noisy
// (what the two-encoder variant's raw encoder sees instead of the clean row).
std::vector<float> raw_form(const std::vector<float>& clean, std::uint64_t seed) {
    Random rng(seed);
    std::vector<float> r(clean.size());
    for (std::size_t i = 0; i < clean.size() / 16; ++i) {
        const double scale = rng.uniform(0.6, 1.4), slope = rng.uniform(0.0, 0.05);
        for (std::size_t j = 0; j < 16; ++j)
            r[i * 16 + j] = float(scale * clean[i * 16 + j] + 0.3 + slope * double(15 - j) + 0.01 * rng.normal());
    }
    return r;
}

// A deterministic raw encoder: [batch, 1, 16] -> [batch, 2] (the small VAE's latent).
template <class T>
Sequential<T> raw_encoder(std::uint64_t seed) {
    Sequential<T> m;
    m.template emplace<Flatten<T>>();
    m.template emplace<Dense<T>>(16, 12, Activation::leaky_relu(0.3));
    m.template emplace<Dense<T>>(12, 2);
    init_default(m, seed);
    return m;
}

VaeTrainOptions quiet(std::size_t epochs, std::size_t threads) {
    VaeTrainOptions o;
    o.epochs = epochs;
    o.batch_size = 16;
    o.threads = threads;
    o.seed = 11;
    o.beta = 0.002;
    o.silent();
    return o;
}

}  // namespace

TEST_CASE("VaeGradient: reconstruction + beta KL through the reparameterisation matches finite differences") {
    Vae<double> vae = small_vae<double>(5);
    Random rng(6);
    std::vector<double> x(3 * 16), eps(3 * 2);
    for (double& v : x) v = rng.uniform(-1, 1);
    for (double& v : eps) v = rng.normal();
    const ConstTensorView<double> xv(x.data(), Shape{3, 1, 16}), ev(eps.data(), Shape{3, 2});
    MseLoss<double> mse;
    const double beta = 0.7;
    VaeGradient<double> one(1), two(2);
    const std::size_t np = parameter_count(vae);
    std::vector<double> g1(np), g2(np);
    const VaeLoss l1 = one.compute(vae, mse, xv, ev, corespec::span<double>(g1), beta);
    const VaeLoss l2 = two.compute(vae, mse, xv, ev, corespec::span<double>(g2), beta);
    CHECK(l1.total == doctest::Approx(l1.reconstruction + beta * l1.kl).epsilon(1e-14));
    CHECK(l2.total == doctest::Approx(l1.total).epsilon(1e-13));
    CHECK(corespec_test::max_rel_error(g1, g2) < 1e-12);  // threads only change the summation order

    auto f = [&](const std::vector<double>& p) {
        Vae<double> w = vae;
        set_parameters(w, corespec::span<const double>(p.data(), p.size()));
        return one.compute(w, mse, xv, ev, corespec::span<double>(), beta).total;
    };
    const std::vector<double> numeric = corespec_test::numeric_gradient(f, get_parameters(vae), 1e-6);
    CHECK(corespec_test::max_rel_error(g1, numeric) < 1e-6);

    // No noise (z = mu): the log-variance receives only the KL gradient.
    std::vector<double> g0(np);
    const VaeLoss l0 = one.compute(vae, mse, xv, ConstTensorView<double>(), corespec::span<double>(g0), beta);
    auto f0 = [&](const std::vector<double>& p) {
        Vae<double> w = vae;
        set_parameters(w, corespec::span<const double>(p.data(), p.size()));
        return one.compute(w, mse, xv, ConstTensorView<double>(), corespec::span<double>(), beta).total;
    };
    CHECK(corespec_test::max_rel_error(g0, corespec_test::numeric_gradient(f0, get_parameters(vae), 1e-6)) < 1e-6);
    CHECK(l0.kl == doctest::Approx(l1.kl).epsilon(1e-14));

    std::vector<double> bad(5);
    CHECK_THROWS_AS(one.compute(vae, mse, xv, ConstTensorView<double>(bad.data(), Shape{1, 5}), corespec::span<double>(g1), beta), corespec::shape_error);
}

TEST_CASE("VaeTrainer learns, validates and reruns bit-identically with the same seed and threads") {
    const std::vector<float> x = peaks(96, 1);
    const ConstTensorView<float> xv(x.data(), Shape{96, 1, 16});
    std::vector<float> first;
    TrainResult r1;
    for (int run = 0; run < 2; ++run) {
        Vae<float> vae = small_vae<float>(2);
        MseLoss<float> mse;
        Adam<float> adam(1e-2);
        VaeTrainOptions o = quiet(80, 2);
        o.val_fraction = 0.25;
        std::size_t batches = 0;
        VaeTrainer<float> trainer(vae, mse, adam, o);
        trainer.on_batch([&](const VaeBatchStats& s) {
            ++batches;
            CHECK(s.loss == doctest::Approx(s.reconstruction + 0.002 * s.kl).epsilon(1e-9));
        });
        const TrainResult r = trainer.fit(xv);
        CHECK(r.epochs_run == 80);
        CHECK(batches == 80 * 5);  // 72 training rows in batches of 16
        CHECK(r.history.size() == 80);
        CHECK(r.best_loss < 0.15 * r.history.front().val_loss);  // measured: 0.148 -> 0.0103
        if (run == 0) {
            first = get_parameters(vae);
            r1 = r;
        } else {
            CHECK(get_parameters(vae) == first);
            CHECK(r.val_loss == r1.val_loss);
        }
    }
    // A different thread count: the same draws, other summation order.
    Vae<float> vae = small_vae<float>(2);
    MseLoss<float> mse;
    Adam<float> adam(1e-2);
    VaeTrainOptions o = quiet(80, 1);
    o.val_fraction = 0.25;
    const TrainResult r = VaeTrainer<float>(vae, mse, adam, o).fit(xv);
    CHECK(r.val_loss == doctest::Approx(r1.val_loss).epsilon(5e-2));
}

TEST_CASE("VaeTrainer: best weights restored, callbacks, injected noise, explicit validation set") {
    const std::vector<float> x = peaks(48, 3), xval = peaks(16, 4);
    Vae<float> vae = small_vae<float>(7);
    MseLoss<float> mse;
    Adam<float> adam(3e-2);
    VaeTrainOptions o = quiet(25, 1);
    o.patience = 3;
    std::vector<float> best;
    std::size_t progress = 0, noise_calls = 0;
    o.checkpoint = [&](const EpochStats&) { best = get_parameters(vae); };
    o.progress = [&](const EpochStats&) { ++progress; };
    VaeTrainer<float> trainer(vae, mse, adam, o);
    trainer.set_noise([&](std::size_t epoch, std::size_t batch, TensorView<float> eps) {
        ++noise_calls;
        CHECK(epoch >= 1);
        CHECK(batch >= 1);
        CHECK(eps.shape() == Shape{16, 2});
        for (std::size_t i = 0; i < eps.size(); ++i) eps[i] = 0.5f;
    });
    const TrainResult r = trainer.fit(ConstTensorView<float>(x.data(), Shape{48, 1, 16}), ConstTensorView<float>(xval.data(), Shape{16, 1, 16}));
    CHECK(progress == r.epochs_run);
    CHECK(noise_calls == 3 * r.epochs_run);
    CHECK(r.best_epoch >= 1);
    CHECK(get_parameters(vae) == best);  // restore_best puts the best epoch's weights back
    CHECK(r.best_loss == r.history[r.best_epoch - 1].val_loss);
    if (r.stopped_early) CHECK(r.epochs_run == r.best_epoch + 3);
}

TEST_CASE("VaeTrainer: bad shapes and options before training, NaN and divergence with epoch and batch") {
    Vae<float> vae = small_vae<float>(8);
    MseLoss<float> mse;
    Adam<float> adam(1e-3);
    std::vector<float> x = peaks(32, 5);
    VaeTrainer<float> trainer(vae, mse, adam, quiet(2, 1));
    CHECK_THROWS_AS(trainer.fit(ConstTensorView<float>(x.data(), Shape{32, 16})), corespec::shape_error);
    CHECK_THROWS_AS(trainer.fit(ConstTensorView<float>(x.data(), Shape{16, 1, 32})), corespec::shape_error);
    CHECK_THROWS_AS(trainer.fit(ConstTensorView<float>(x.data(), Shape{0, 1, 16})), corespec::value_error);
    VaeTrainOptions bad = quiet(1, 1);
    bad.beta = -1;
    CHECK_THROWS_AS(VaeTrainer<float>(vae, mse, adam, bad), corespec::value_error);
    bad.beta = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(VaeTrainer<float>(vae, mse, adam, bad), corespec::value_error);

    const std::vector<float> before = get_parameters(vae);
    x[20 * 16 + 3] = std::numeric_limits<float>::quiet_NaN();  // row 20: batch 2 of epoch 1 (no shuffling)
    VaeTrainOptions o = quiet(2, 2);
    o.shuffle = false;
    VaeTrainer<float> nan_trainer(vae, mse, adam, o);
    try {
        nan_trainer.fit(ConstTensorView<float>(x.data(), Shape{32, 1, 16}));
        FAIL("no training_error");
    } catch (const training_error& e) {
        CHECK(e.epoch() == 1);
        CHECK(e.batch() == 2);
        CHECK(std::string(e.what()).find("row 20") != std::string::npos);
    }
    CHECK(get_parameters(vae) != before);  // batch 1 was applied, batch 2 was not

    // Noise that explodes after the first batch: the loss diverges.
    x[20 * 16 + 3] = 0.5f;
    VaeTrainer<float> div(vae, mse, adam, o);
    div.set_noise([](std::size_t, std::size_t batch, TensorView<float> eps) {
        for (std::size_t i = 0; i < eps.size(); ++i) eps[i] = batch == 1 ? 0.0f : 1e30f;
    });
    try {
        div.fit(ConstTensorView<float>(x.data(), Shape{32, 1, 16}));
        FAIL("no training_error");
    } catch (const training_error& e) {
        CHECK(e.epoch() == 1);
        CHECK(e.batch() == 2);
    }
}

TEST_CASE("two-encoder term: pull * |raw(x_raw) - mu(x)|^2, its gradient reaches the raw encoder only") {
    Vae<double> vae = small_vae<double>(5);
    Sequential<double> raw = raw_encoder<double>(9);
    Random rng(6);
    std::vector<double> x(3 * 16), xr(3 * 16), eps(3 * 2);
    for (double& v : x) v = rng.uniform(-1, 1);
    for (double& v : xr) v = rng.uniform(-1, 1);
    for (double& v : eps) v = rng.normal();
    const ConstTensorView<double> xv(x.data(), Shape{3, 1, 16}), xrv(xr.data(), Shape{3, 1, 16}), ev(eps.data(), Shape{3, 2});
    MseLoss<double> mse;
    const double beta = 0.7, pull = 2.5;
    const PullTerm<double> term{&raw, xrv, pull};
    VaeGradient<double> one(1), two(2);
    const std::size_t nv = parameter_count(vae), np = nv + raw.parameter_count();
    std::vector<double> g(np), g2(np), plain(nv);
    const VaeLoss l = one.compute(vae, mse, xv, ev, corespec::span<double>(g), beta, true, 0, term);
    const VaeLoss l2 = two.compute(vae, mse, xv, ev, corespec::span<double>(g2), beta, true, 0, term);
    const VaeLoss l0 = one.compute(vae, mse, xv, ev, corespec::span<double>(plain), beta);
    // The term by hand: mean over samples of the squared distance to the VAE mean.
    std::vector<double> mu(6), lv(6), r(6);
    Workspace<double> ws;
    vae.encode(xv, TensorView<double>(mu.data(), Shape{3, 2}), TensorView<double>(lv.data(), Shape{3, 2}), ws);
    raw.forward(xrv, TensorView<double>(r.data(), Shape{3, 2}), ws);
    double sq = 0;
    for (std::size_t i = 0; i < 6; ++i) sq += (r[i] - mu[i]) * (r[i] - mu[i]);
    CHECK(l.pull == doctest::Approx(pull * sq / 3).epsilon(1e-12));
    CHECK(l.total == doctest::Approx(l0.total + l.pull).epsilon(1e-13));
    CHECK(l.reconstruction == l0.reconstruction);
    CHECK(l2.total == doctest::Approx(l.total).epsilon(1e-13));
    CHECK(corespec_test::max_rel_error(g, g2) < 1e-12);
    // mu is a target: the VAE's part of the gradient is the plain VAE gradient, bit for bit.
    CHECK(std::vector<double>(g.begin(), g.begin() + std::ptrdiff_t(nv)) == plain);
    // The raw encoder's part against finite differences of the total.
    auto f = [&](const std::vector<double>& p) {
        Sequential<double> w = raw;
        set_parameters(w, corespec::span<const double>(p.data(), p.size()));
        return one.compute(vae, mse, xv, ev, corespec::span<double>(), beta, true, 0, {&w, xrv, pull}).total;
    };
    const std::vector<double> numeric = corespec_test::numeric_gradient(f, get_parameters(raw), 1e-6);
    CHECK(corespec_test::max_rel_error(std::vector<double>(g.begin() + std::ptrdiff_t(nv), g.end()), numeric) < 1e-6);

    // Shapes: raw rows must match, the raw encoder must land in the latent.
    std::vector<double> g_vae_only(nv);
    CHECK_THROWS_AS(one.compute(vae, mse, xv, ev, corespec::span<double>(g_vae_only), beta, true, 0, term), corespec::shape_error);
    CHECK_THROWS_AS(one.compute(vae, mse, xv, ev, corespec::span<double>(g), beta, true, 0,
                                {&raw, ConstTensorView<double>(xr.data(), Shape{2, 1, 16}), pull}),
                    corespec::shape_error);
    Sequential<double> wide;
    wide.emplace<Flatten<double>>();
    wide.emplace<Dense<double>>(16, 3);
    std::vector<double> gw(nv + wide.parameter_count());
    CHECK_THROWS_AS(one.compute(vae, mse, xv, ev, corespec::span<double>(gw), beta, true, 0, {&wide, xrv, pull}), corespec::shape_error);
}

TEST_CASE("VaeTrainer::fit_two_encoder pulls the raw encoder towards the VAE mean; the VAE trains as fit() would") {
    const std::vector<float> x = peaks(96, 21), xr = raw_form(x, 22);
    const std::vector<float> held = peaks(32, 23), held_raw = raw_form(held, 24);
    const ConstTensorView<float> xv(x.data(), Shape{96, 1, 16}), xrv(xr.data(), Shape{96, 1, 16});
    MseLoss<float> mse;
    VaeTrainOptions o = quiet(60, 2);
    o.restore_best = false;  // the last epoch's weights of both runs
    o.pull = 1.0;

    Vae<float> plain = small_vae<float>(2);
    Adam<float> adam_plain(1e-2);
    VaeTrainer<float>(plain, mse, adam_plain, o).fit(xv);

    Vae<float> vae = small_vae<float>(2);
    Sequential<float> raw = raw_encoder<float>(3);
    const Sequential<float> untrained = raw;
    Adam<float> adam(1e-2);
    std::vector<double> pull_by_epoch(o.epochs + 1, 0.0);
    VaeTrainer<float> trainer(vae, mse, adam, o);
    trainer.on_batch([&](const VaeBatchStats& s) {
        CHECK(s.loss == doctest::Approx(s.reconstruction + 0.002 * s.kl + s.pull).epsilon(1e-6));
        pull_by_epoch[s.epoch] += s.pull;
    });
    const TrainResult r = trainer.fit_two_encoder(xv, xrv, raw);
    CHECK(r.epochs_run == 60);
    CHECK(get_parameters(vae) == get_parameters(plain));  // no gradient of the pull term reaches the VAE
    // The term on the training pairs, against the trained VAE's mean: the
    // trained raw encoder's against its initial weights' (the per-epoch sums
    // are not comparable: the target spreads out as the VAE learns).
    VaeGradient<float> eval(1);
    const double pull_trained = eval.evaluate(vae, mse, xv, 0.002, 256, {&raw, xrv, 1.0}).pull;
    const double pull_initial = eval.evaluate(vae, mse, xv, 0.002, 256, {&untrained, xrv, 1.0}).pull;
    MESSAGE("pull term on the training pairs: trained ", pull_trained, ", initial weights ", pull_initial,
            "; summed per epoch: first ", pull_by_epoch[1], ", last ", pull_by_epoch[60]);
    CHECK(pull_trained < 0.25 * pull_initial);

    // Held-out pairs: the trained raw encoder lands nearer the VAE mean than the untrained one.
    Workspace<float> ws;
    const auto distance = [&](const Sequential<float>& enc) {
        std::vector<float> mu(32 * 2), lv(32 * 2), z(32 * 2);
        vae.encode(ConstTensorView<float>(held.data(), Shape{32, 1, 16}), TensorView<float>(mu.data(), Shape{32, 2}),
                   TensorView<float>(lv.data(), Shape{32, 2}), ws);
        enc.forward(ConstTensorView<float>(held_raw.data(), Shape{32, 1, 16}), TensorView<float>(z.data(), Shape{32, 2}), ws);
        double d = 0;
        for (std::size_t i = 0; i < z.size(); ++i) d += (double(z[i]) - double(mu[i])) * (double(z[i]) - double(mu[i]));
        return d / 32;
    };
    const double trained_d = distance(raw), untrained_d = distance(untrained);
    MESSAGE("held-out squared distance to the VAE mean: trained ", trained_d, ", untrained ", untrained_d);
    CHECK(trained_d < 0.25 * untrained_d);

    // Validation split: the same rows of both; the best epoch restores both encoders.
    Vae<float> v2 = small_vae<float>(2);
    Sequential<float> raw2 = raw_encoder<float>(3);
    Adam<float> adam2(1e-2);
    VaeTrainOptions ov = quiet(20, 1);
    ov.val_fraction = 0.25;
    std::vector<float> best;
    ov.checkpoint = [&](const EpochStats&) {
        best = get_parameters(raw2);
    };
    const TrainResult rv = VaeTrainer<float>(v2, mse, adam2, ov).fit_two_encoder(xv, xrv, raw2);
    CHECK(std::isfinite(rv.best_loss));
    CHECK(get_parameters(raw2) == best);

    // Bad input: raw rows that do not pair up, a raw encoder off the latent, a negative weight.
    CHECK_THROWS_AS(trainer.fit_two_encoder(xv, ConstTensorView<float>(xr.data(), Shape{48, 1, 16}), raw), corespec::shape_error);
    Sequential<float> wide;
    wide.emplace<Flatten<float>>();
    wide.emplace<Dense<float>>(16, 3);
    CHECK_THROWS_AS(trainer.fit_two_encoder(xv, xrv, wide), corespec::shape_error);
    VaeTrainOptions bad = quiet(1, 1);
    bad.pull = -1;
    CHECK_THROWS_AS(VaeTrainer<float>(vae, mse, adam, bad), corespec::value_error);
}

TEST_CASE("BatchNorm1d running statistics follow PyTorch's update in training (momentum, unbiased variance)") {
    // Dense(4 -> 3, no bias) -> BatchNorm1d(3): one SGD step with lr 0 changes only the running statistics.
    Sequential<double> m;
    m.emplace<Dense<double>>(4, 3, Activation::identity(), false);
    m.emplace<BatchNorm1d<double>>(3);
    init_default(m, 9);
    Random rng(10);
    std::vector<double> x(10 * 4), y(10 * 3);
    for (double& v : x) v = rng.uniform(-1, 2);
    for (double& v : y) v = rng.uniform();
    // The BatchNorm's input: the dense output of the whole batch.
    std::vector<double> h(10 * 3);
    Workspace<double> ws;
    m.layer(0).forward(ConstTensorView<double>(x.data(), Shape{10, 4}), TensorView<double>(h.data(), Shape{10, 3}), ws);
    for (std::size_t threads : {1u, 2u}) {
        Sequential<double> mt = m;
        MseLoss<double> mse;
        Sgd<double> sgd(0.0);
        TrainOptions o;
        o.epochs = 1, o.batch_size = 10, o.threads = threads, o.shuffle = false, o.restore_best = false;
        o.silent();
        Trainer<double>(mt, mse, sgd, o).fit(ConstTensorView<double>(x.data(), Shape{10, 4}), ConstTensorView<double>(y.data(), Shape{10, 3}));
        auto rm = mt.layer(1).parameter("running_mean"), rv = mt.layer(1).parameter("running_var");
        for (std::size_t c = 0; c < 3; ++c) {
            double mean = 0, var = 0;
            for (std::size_t b = 0; b < 10; ++b) mean += h[b * 3 + c] / 10;
            for (std::size_t b = 0; b < 10; ++b) var += (h[b * 3 + c] - mean) * (h[b * 3 + c] - mean) / 9;  // unbiased
            CHECK(rm[c] == doctest::Approx(0.1 * mean).epsilon(1e-12));
            CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * var).epsilon(1e-12));
        }
    }
    // Moments of slices add up; bad accumulator sizes and momentum are refused.
    BatchNorm1d<double> bn(3, 1e-5, 0.25);
    std::vector<double> acc(bn.moments_size(), 0.0);
    ConstTensorView<double> hv(h.data(), Shape{10, 3});
    bn.accumulate_moments(hv.batch_slice(0, 4), corespec::span<double>(acc));
    bn.accumulate_moments(hv.batch_slice(4, 6), corespec::span<double>(acc));
    bn.update_running_statistics(corespec::span<const double>(acc));
    double mean0 = 0;
    for (std::size_t b = 0; b < 10; ++b) mean0 += h[b * 3] / 10;
    CHECK(bn.parameter("running_mean")[0] == doctest::Approx(0.25 * mean0).epsilon(1e-12));
    std::vector<double> small(2);
    CHECK_THROWS_AS(bn.accumulate_moments(hv, corespec::span<double>(small)), corespec::shape_error);
    CHECK_THROWS_AS(BatchNorm1d<double>(3, 1e-5, 1.5), corespec::value_error);
}

TEST_CASE("gradient check: a model with BatchNorm1d in training mode through BatchGradient (1 and 2 threads)") {
    // Conv1D -> BatchNorm1d -> LeakyReLU -> Flatten -> Dense: the batch statistics couple the samples.
    Sequential<double> m;
    m.emplace<Conv1D<double>>(2, 3, 3, 1, Padding::symmetric(1), 1, 1, Activation::identity(), false);
    m.emplace<BatchNorm1d<double>>(3);
    m.emplace<ActivationLayer<double>>(Activation::leaky_relu(0.2));
    m.emplace<Flatten<double>>();
    m.emplace<Dense<double>>(15, 2);
    init_default(m, 12);
    {  // non-trivial affine parameters
        auto g = m.layer(1).parameter("weight"), b = m.layer(1).parameter("bias");
        for (std::size_t c = 0; c < 3; ++c) g[c] = 0.6 + 0.3 * double(c), b[c] = 0.1 * double(c) - 0.1;
    }
    Random rng(13);
    std::vector<double> x(6 * 2 * 5), y(6 * 2);
    for (double& v : x) v = rng.uniform(-1, 1);
    for (double& v : y) v = rng.uniform();
    const ConstTensorView<double> xv(x.data(), Shape{6, 2, 5}), yv(y.data(), Shape{6, 2});
    MseLoss<double> mse;
    BatchGradient<double> one(1), two(2);
    std::vector<double> g1(m.parameter_count()), g2(m.parameter_count()), scratch(m.parameter_count());
    one.compute(m, mse, xv, yv, {}, corespec::span<double>(g1));
    auto f = [&](const std::vector<double>& p) {
        Sequential<double> w = m;
        set_parameters(w, corespec::span<const double>(p.data(), p.size()));
        return one.compute(w, mse, xv, yv, {}, corespec::span<double>(scratch));
    };
    CHECK(corespec_test::max_rel_error(g1, corespec_test::numeric_gradient(f, get_parameters(m), 1e-6)) < 1e-6);
    // Two threads normalise each half-batch by its own statistics: another
    // function, checked against its own finite differences.
    two.compute(m, mse, xv, yv, {}, corespec::span<double>(g2));
    auto f2 = [&](const std::vector<double>& p) {
        Sequential<double> w = m;
        set_parameters(w, corespec::span<const double>(p.data(), p.size()));
        return two.compute(w, mse, xv, yv, {}, corespec::span<double>(scratch));
    };
    CHECK(corespec_test::max_rel_error(g2, corespec_test::numeric_gradient(f2, get_parameters(m), 1e-6)) < 1e-6);
}

TEST_CASE("VaeTrainer updates the running statistics of a BatchNorm1d in the encoder") {
    Sequential<double> body, mean, logvar, dec;
    body.emplace<Dense<double>>(16, 6, Activation::identity(), false);
    body.emplace<BatchNorm1d<double>>(6);
    body.emplace<ActivationLayer<double>>(Activation::tanh());
    mean.emplace<Dense<double>>(6, 2);
    logvar.emplace<Dense<double>>(6, 2);
    dec.emplace<Dense<double>>(2, 16);
    Vae<double> vae(body, mean, logvar, dec, Shape{16});
    std::uint64_t seed = 14;
    for (Sequential<double>* p : vae_parts(vae)) init_default(*p, seed++);
    Random rng(15);
    std::vector<double> x(12 * 16), h(12 * 6);
    for (double& v : x) v = rng.uniform(-1, 1);
    Workspace<double> ws;
    vae.encoder().layer(0).forward(ConstTensorView<double>(x.data(), Shape{12, 16}), TensorView<double>(h.data(), Shape{12, 6}), ws);
    MseLoss<double> mse;
    Sgd<double> sgd(0.0);
    VaeTrainOptions o;
    o.epochs = 1, o.batch_size = 12, o.threads = 2, o.shuffle = false, o.restore_best = false;
    o.silent();
    VaeTrainer<double>(vae, mse, sgd, o).fit(ConstTensorView<double>(x.data(), Shape{12, 16}));
    auto rm = vae.encoder().layer(1).parameter("running_mean"), rv = vae.encoder().layer(1).parameter("running_var");
    for (std::size_t c = 0; c < 6; ++c) {
        double m = 0, v = 0;
        for (std::size_t b = 0; b < 12; ++b) m += h[b * 6 + c] / 12;
        for (std::size_t b = 0; b < 12; ++b) v += (h[b * 6 + c] - m) * (h[b * 6 + c] - m) / 11;
        CHECK(rm[c] == doctest::Approx(0.1 * m).epsilon(1e-12));
        CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * v).epsilon(1e-12));
    }
}
