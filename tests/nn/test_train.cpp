// Optimisers, schedules, clipping and the Trainer.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/train/trainer.hpp"

using namespace corespec::nn;
using namespace corespec::nn::train;
using corespec::span;

TEST_CASE("Adam, AdamW and SGD follow PyTorch's update rules") {
    // Adam's first step moves every parameter by lr * sign(g) (bias corrections cancel).
    std::vector<double> p{1.0, -2.0, 0.5}, g{0.3, -4.0, 1e-3};
    Adam<double> adam(0.1);
    adam.step(span<double>(p), span<const double>(g));
    CHECK(p[0] == doctest::Approx(0.9).epsilon(1e-6));
    CHECK(p[1] == doctest::Approx(-1.9).epsilon(1e-6));
    CHECK(p[2] == doctest::Approx(0.4).epsilon(1e-4));
    // Second step by hand.
    std::vector<double> g2{0.1, -1.0, 0.0};
    double m = 0.9 * 0.1 * 0.3 + 0.1 * 0.1, v = 0.999 * 0.001 * 0.09 + 0.001 * 0.01;
    const double p0 = p[0];
    double want = p0 - 0.1 / (1 - 0.81) * m / (std::sqrt(v) / std::sqrt(1 - 0.999 * 0.999) + 1e-8);
    adam.step(span<double>(p), span<const double>(g2));
    CHECK(p[0] == doctest::Approx(want).epsilon(1e-12));
    CHECK(adam.steps() == 2);

    // AdamW decays the weight before the Adam update; Adam adds wd * p to the gradient.
    std::vector<double> q{2.0}, zero{0.0};
    AdamW<double> adamw(0.1, {0.9, 0.999, 1e-8, 0.5});
    adamw.step(span<double>(q), span<const double>(zero));
    CHECK(q[0] == doctest::Approx(2.0 * (1 - 0.05)));
    std::vector<double> r{2.0};
    Adam<double> coupled(0.1, {0.9, 0.999, 1e-8, 0.5});
    coupled.step(span<double>(r), span<const double>(zero));
    CHECK(r[0] == doctest::Approx(1.9));  // gradient wd * p = 1 > 0: one lr-sized step

    // SGD with momentum 0.9, dampening 0: buf = g, then 0.9 buf + g.
    std::vector<double> s{1.0}, gs{1.0};
    Sgd<double> sgd(0.1, {0.9, 0.0, 0.0, false});
    sgd.step(span<double>(s), span<const double>(gs));
    CHECK(s[0] == doctest::Approx(0.9));
    sgd.step(span<double>(s), span<const double>(gs));
    CHECK(s[0] == doctest::Approx(0.9 - 0.1 * 1.9));
    Sgd<double> nesterov(0.1, {0.9, 0.0, 0.0, true});
    std::vector<double> t{1.0};
    nesterov.step(span<double>(t), span<const double>(gs));
    CHECK(t[0] == doctest::Approx(1.0 - 0.1 * 1.9));
    CHECK_THROWS_AS(Sgd<double>(0.1, {0.0, 0.0, 0.0, true}), corespec::value_error);
    CHECK_THROWS_AS(Adam<double>(-1.0), corespec::value_error);
    std::vector<double> wrong(2);
    CHECK_THROWS_AS(adam.step(span<double>(wrong), span<const double>(wrong)), corespec::shape_error);
}

TEST_CASE("learning-rate schedules and gradient clipping") {
    Sgd<double> opt(1.0);
    StepSchedule<double> step(1.0, 2, 0.5);
    std::vector<double> rates;
    for (std::size_t e = 0; e < 5; ++e) {
        step.after_epoch(opt, e, 0);
        rates.push_back(opt.learning_rate());
    }
    CHECK(rates == std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25});
    CosineSchedule<double> cosine(1.0, 4, 0.1);
    cosine.after_epoch(opt, 1, 0);  // two epochs done of a half period of 4
    CHECK(opt.learning_rate() == doctest::Approx(0.55));
    cosine.after_epoch(opt, 3, 0);
    CHECK(opt.learning_rate() == doctest::Approx(0.1));
    Sgd<double> p(1.0);
    PlateauSchedule<double> plateau(0.5, 2);
    for (double metric : {1.0, 0.9, 0.95, 0.95}) plateau.after_epoch(p, 0, metric);
    CHECK(p.learning_rate() == 1.0);  // two bad epochs: not yet more than patience
    plateau.after_epoch(p, 0, 0.95);
    CHECK(p.learning_rate() == 0.5);

    std::vector<float> g{3, 4};
    CHECK(clip_grad_norm(span<float>(g), 1.0) == doctest::Approx(5.0));
    CHECK(std::sqrt(g[0] * g[0] + g[1] * g[1]) == doctest::Approx(1.0).epsilon(1e-5));
    std::vector<float> small{0.3f};
    clip_grad_norm(span<float>(small), 1.0);
    CHECK(small[0] == 0.3f);
}

TEST_CASE("default initialisation follows PyTorch's bounds") {
    Sequential<float> m = make_mlp<float>({100, 30, 4});
    init_default(m, 1);
    auto w = m.layer(0).parameter("weight");
    auto b = m.layer(1).parameter("bias");
    double mx = 0, sq = 0;
    for (float v : w) mx = std::max(mx, double(std::abs(v))), sq += double(v) * v;
    CHECK(mx <= 0.1);
    CHECK(mx > 0.099);
    CHECK(std::sqrt(sq / w.size()) == doctest::Approx(0.1 / std::sqrt(3.0)).epsilon(0.05));  // U(-a, a): rms a/sqrt(3)
    for (float v : b) CHECK(std::abs(v) <= 1 / std::sqrt(30.0));
    Sequential<float> again = make_mlp<float>({100, 30, 4});
    init_default(again, 1);
    CHECK(get_parameters(again) == get_parameters(m));
}

namespace {

// y = a . x + noise-free, a known linear map of 12 inputs to 2 outputs.
struct Regression {
    std::vector<float> x, y;
    std::size_t n;
    explicit Regression(std::size_t rows) : n(rows) {
        Random rng(5);
        x.resize(n * 12);
        y.resize(n * 2);
        for (auto& v : x) v = float(rng.uniform(-1, 1));
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < 2; ++k) {
                double s = 0;
                for (std::size_t j = 0; j < 12; ++j) s += std::sin(double(j + 5 * k)) * x[i * 12 + j];
                y[i * 2 + k] = float(s);
            }
    }
    ConstTensorView<float> xv() const { return {x.data(), Shape{n, 12}}; }
    ConstTensorView<float> yv() const { return {y.data(), Shape{n, 2}}; }
};

TrainOptions quiet_options(std::size_t epochs, std::size_t threads, std::uint64_t seed = 7) {
    TrainOptions o;
    o.epochs = epochs;
    o.batch_size = 16;
    o.threads = threads;
    o.seed = seed;
    o.val_fraction = 0.2;
    o.silent();
    return o;
}

}  // namespace

TEST_CASE("Trainer learns, validates, and reruns bit-identically with the same seed and threads") {
    Regression data(400);
    std::vector<float> first;
    TrainResult r1;
    for (int run = 0; run < 2; ++run) {
        Sequential<float> m = make_mlp<float>({12, 16, 2});
        init_default(m, 3);
        MseLoss<float> loss;
        Adam<float> adam(1e-2);
        Trainer<float> trainer(m, loss, adam, quiet_options(30, 2));
        TrainResult r = trainer.fit(data.xv(), data.yv());
        CHECK(r.epochs_run == 30);
        CHECK(r.history.size() == 30);
        CHECK(r.val_loss < 0.2 * r.history.front().val_loss);
        CHECK(r.best_epoch >= 1);
        if (run == 0) {
            first = get_parameters(m);
            r1 = r;
        } else {
            CHECK(get_parameters(m) == first);
            CHECK(r.val_loss == r1.val_loss);
        }
    }
    // One thread: the same up to rounding (another summation order).
    Sequential<float> m = make_mlp<float>({12, 16, 2});
    init_default(m, 3);
    MseLoss<float> loss;
    Adam<float> adam(1e-2);
    Trainer<float> trainer(m, loss, adam, quiet_options(30, 1));
    TrainResult r = trainer.fit(data.xv(), data.yv());
    CHECK(r.val_loss == doctest::Approx(r1.val_loss).epsilon(1e-2));
}

TEST_CASE("Trainer: early stopping restores the best weights; progress and checkpoint callbacks") {
    Regression data(200);
    Sequential<float> m = make_mlp<float>({12, 32, 2});
    init_default(m, 4);
    MseLoss<float> loss;
    Sgd<float> sgd(0.5);  // too large a rate: the validation loss soon stops improving
    TrainOptions o = quiet_options(200, 1);
    o.patience = 3;
    o.divergence_factor = 0;
    std::size_t lines = 0, checkpoints = 0;
    o.progress = [&](const EpochStats& s) {
        ++lines;
        CHECK(s.epochs == 200);
    };
    std::vector<float> saved;
    o.checkpoint = [&](const EpochStats&) {
        ++checkpoints;
        saved = get_parameters(m);
    };
    Trainer<float> trainer(m, loss, sgd, o);
    TrainResult r = trainer.fit(data.xv(), data.yv());
    CHECK(r.stopped_early);
    CHECK(r.epochs_run < 200);
    CHECK(r.epochs_run == r.best_epoch + 3);
    CHECK(lines == r.epochs_run);
    CHECK(checkpoints >= 1);
    CHECK(get_parameters(m) == saved);  // restored = the last checkpoint = the best epoch
    CHECK(r.best_loss == doctest::Approx(r.history[r.best_epoch - 1].val_loss));
}

TEST_CASE("Trainer: bad shapes before training, NaN and divergence with epoch and batch") {
    Regression data(64);
    Sequential<float> m = make_mlp<float>({12, 8, 2});
    init_default(m, 1);
    MseLoss<float> loss;
    Adam<float> adam(1e-3);
    TrainOptions o = quiet_options(3, 2);
    o.val_fraction = 0;
    o.shuffle = false;
    {
        Trainer<float> t(m, loss, adam, o);
        CHECK_THROWS_AS(t.fit(ConstTensorView<float>(data.x.data(), Shape{64, 11}), data.yv()), corespec::shape_error);  // model input
        CHECK_THROWS_AS(t.fit(data.xv(), ConstTensorView<float>(data.y.data(), Shape{32, 2})), corespec::shape_error);   // rows
        CHECK_THROWS_AS(t.fit(data.xv(), ConstTensorView<float>(data.y.data(), Shape{64, 1})), corespec::shape_error);   // outputs
        std::vector<float> mask(64 * 3, 1.0f);
        CHECK_THROWS_AS(t.fit(data.xv(), data.yv(), ConstTensorView<float>(mask.data(), Shape{64, 3})), corespec::shape_error);
    }
    std::vector<float> before = get_parameters(m);
    Regression bad(64);
    bad.x[37 * 12 + 5] = std::numeric_limits<float>::quiet_NaN();  // row 37: batch 3 of 16 in order
    Trainer<float> t(m, loss, adam, o);
    try {
        t.fit(bad.xv(), bad.yv());
        FAIL("no exception");
    } catch (const training_error& e) {
        CHECK(e.epoch() == 1);
        CHECK(e.batch() == 3);
        CHECK(std::string(e.what()).find("row 37, feature 5") != std::string::npos);
    }
    // A masked missing target may be NaN; an unmasked one stops training.
    Regression holes(64);
    std::vector<float> mask(64 * 2, 1.0f);
    holes.y[10 * 2 + 1] = std::numeric_limits<float>::quiet_NaN();
    mask[10 * 2 + 1] = 0;
    Trainer<float> tm(m, loss, adam, o);
    CHECK_NOTHROW(tm.fit(holes.xv(), holes.yv(), ConstTensorView<float>(mask.data(), Shape{64, 2})));
    CHECK_THROWS_AS(tm.fit(holes.xv(), holes.yv()), training_error);

    // A huge learning rate blows the loss up.
    Sequential<float> d = make_mlp<float>({12, 8, 2});
    init_default(d, 1);
    Sgd<float> wild(1e4);
    TrainOptions w = quiet_options(50, 1);
    w.divergence_factor = 1e3;
    Trainer<float> tw(d, loss, wild, w);
    try {
        tw.fit(data.xv(), data.yv());
        FAIL("no exception");
    } catch (const training_error& e) {
        CHECK(e.epoch() >= 1);
        CHECK(e.batch() >= 1);
        MESSAGE("divergence report: " << std::string(e.what()));
    }
    CHECK(before.size() == get_parameters(m).size());
}

TEST_CASE("vectorised optimiser updates: any length, PyTorch's rules, moments flushed instead of denormal") {
    // Lengths around the vector width (the tail goes through a padded vector).
    for (std::size_t n : {1u, 15u, 16u, 37u}) {
        Random rng(n);
        std::vector<float> p(n), q(n), r(n);
        std::vector<double> pd(n), m(n, 0), v(n, 0), qd(n), rd(n), buf(n, 0);
        for (std::size_t i = 0; i < n; ++i) pd[i] = qd[i] = rd[i] = p[i] = q[i] = r[i] = float(rng.uniform(-1, 1));
        Adam<float> adam(0.01, {0.9, 0.99, 1e-8, 0.1});
        AdamW<float> adamw(0.01, {0.9, 0.99, 1e-8, 0.1});
        Sgd<float> sgd(0.1, {0.9, 0.0, 0.01, true});
        for (int step = 1; step <= 5; ++step) {
            std::vector<float> g(n);
            for (auto& x : g) x = float(rng.uniform(-1, 1));
            adam.step(span<float>(p), span<const float>(g));
            adamw.step(span<float>(q), span<const float>(g));
            sgd.step(span<float>(r), span<const float>(g));
            for (std::size_t i = 0; i < n; ++i) {  // the rules in double
                const double bc1 = 1 - std::pow(0.9, step), bc2 = std::sqrt(1 - std::pow(0.99, step));
                double d = g[i] + 0.1 * pd[i];
                m[i] = 0.9 * m[i] + 0.1 * d, v[i] = 0.99 * v[i] + 0.01 * d * d;
                pd[i] -= 0.01 / bc1 * m[i] / (std::sqrt(v[i]) / bc2 + 1e-8);
                double ds = g[i] + 0.01 * rd[i];
                buf[i] = step == 1 ? ds : 0.9 * buf[i] + ds;
                rd[i] -= 0.1 * (ds + 0.9 * buf[i]);
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(p[i] == doctest::Approx(pd[i]).epsilon(1e-5));
            CHECK(r[i] == doctest::Approx(rd[i]).epsilon(1e-5));
            CHECK(q[i] != p[i]);  // decoupled decay differs from coupled
        }
    }
    // A unit whose gradient stops (a dead ReLU): its first moment decays as
    // 0.9^t through the denormal range; flushed to zero there, the weight ends
    // where exact arithmetic puts it, and a NaN gradient is not hidden.
    std::vector<float> w(20, 0.5f), g(20, 1e-3f), zero(20, 0.0f);
    Adam<float> adam(1e-3);
    adam.step(span<float>(w), span<const float>(g));
    for (int t = 0; t < 1500; ++t) adam.step(span<float>(w), span<const float>(zero));
    double m = 1e-4, v = 1e-9, want = 0.5 - 1e-3;  // step 1 moves by lr
    for (int t = 2; t <= 1501; ++t) {
        m *= 0.9, v *= 0.999;
        want -= 1e-3 / (1 - std::pow(0.9, t)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    }
    for (float x : w) CHECK(x == doctest::Approx(want).epsilon(1e-6));
    std::vector<float> nan(20, std::numeric_limits<float>::quiet_NaN());
    adam.step(span<float>(w), span<const float>(nan));
    CHECK(std::isnan(w[0]));
    CHECK(std::isnan(w[19]));
}

TEST_CASE("BatchGradient: threads split the batch, the gather and the optimiser step, results bit-identical to serial") {
    Regression data(40);
    Sequential<float> a = make_mlp<float>({12, 16, 2});
    init_default(a, 9);
    Sequential<float> b = make_mlp<float>({12, 16, 2});
    set_parameters(b, span<const float>(get_parameters(a)));
    MseLoss<float> loss;
    const std::size_t np = a.parameter_count();
    std::vector<std::size_t> rows{3, 17, 0, 39, 8, 8, 21, 30, 5, 12, 33};  // any order, repeats allowed
    std::vector<float> xb, yb;
    for (std::size_t r : rows) {
        xb.insert(xb.end(), data.x.begin() + long(r * 12), data.x.begin() + long(r * 12 + 12));
        yb.insert(yb.end(), data.y.begin() + long(r * 2), data.y.begin() + long(r * 2 + 2));
    }
    ConstTensorView<float> xv(xb.data(), Shape{rows.size(), 12}), yv(yb.data(), Shape{rows.size(), 2});
    BatchGradient<float> one(1), two(2);
    std::vector<float> g1(np), g2(np), g2rows(np);
    const double l1 = one.compute(a, loss, xv, yv, {}, span<float>(g1));
    const double l2 = two.compute(a, loss, xv, yv, {}, span<float>(g2));
    const double l2rows = two.compute_rows(a, loss, data.xv(), rows.data(), yv, {}, span<float>(g2rows));
    CHECK(l2 == doctest::Approx(l1).epsilon(1e-6));
    CHECK(l2rows == l2);  // gathering by the threads changes nothing
    CHECK(g2rows == g2);
    CHECK_FALSE(two.bad_input().found);
    double sq = 0;
    for (std::size_t i = 0; i < np; ++i) {
        CHECK(g2[i] == doctest::Approx(g1[i]).epsilon(1e-5));
        sq += double(g2[i]) * g2[i];
    }
    CHECK(two.gradient_norm() == doctest::Approx(std::sqrt(sq)).epsilon(1e-12));
    CHECK(one.gradient_norm() == doctest::Approx(two.gradient_norm()).epsilon(1e-5));

    // The optimiser step split over two threads equals the serial one bit for
    // bit (element-wise updates), packed weights included.
    Adam<float> adam_a(1e-2), adam_b(1e-2);
    for (int s = 0; s < 3; ++s) {
        apply_step(adam_a, a, span<const float>(g2));
        two.apply_step(adam_b, b, span<const float>(g2));
    }
    CHECK(get_parameters(a) == get_parameters(b));
    std::vector<float> ya(rows.size() * 2), yb2(rows.size() * 2);
    Workspace<float> ws;
    a.forward(xv, TensorView<float>(ya.data(), Shape{rows.size(), 2}), ws);
    b.forward(xv, TensorView<float>(yb2.data(), Shape{rows.size(), 2}), ws);
    CHECK(ya == yb2);

    // A non-finite input found while gathering names its row and feature.
    std::vector<float> bad = data.x;
    bad[21 * 12 + 4] = std::numeric_limits<float>::infinity();
    two.compute_rows(a, loss, ConstTensorView<float>(bad.data(), Shape{40, 12}), rows.data(), yv, {}, span<float>(g2));
    REQUIRE(two.bad_input().found);
    CHECK(two.bad_input().row == 21);
    CHECK(two.bad_input().feature == 4);
    std::vector<std::size_t> outside{3, 40};
    CHECK_THROWS_AS(two.compute_rows(a, loss, data.xv(), outside.data(), ConstTensorView<float>(yb.data(), Shape{2, 2}), {}, span<float>(g2)),
                    corespec::range_error);
}

TEST_CASE("ThreadPool: every thread runs, barrier phases, failures rethrown, reusable") {
    corespec::ThreadPool pool(3);
    std::vector<int> seen(3, 0), sums(3, 0);
    for (int round = 1; round <= 50; ++round) {
        pool.run([&](std::size_t t) {
            seen[t] = round;
            pool.barrier();  // every write of phase 1 is visible after it
            sums[t] = seen[0] + seen[1] + seen[2];
        });
        CHECK(sums == std::vector<int>(3, 3 * round));
    }
    CHECK_THROWS_AS(pool.run([](std::size_t t) {
        if (t == 2) throw corespec::value_error("thread 2");
    }), corespec::value_error);
    int count = 0;
    std::mutex mu;
    pool.run([&](std::size_t) {
        std::lock_guard<std::mutex> lock(mu);
        ++count;
    });
    CHECK(count == 3);
}
