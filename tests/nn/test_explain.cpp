// Attribution: exact answers on linear models, IG completeness on the
// reference MLP, and a trained model that must look at a known energy window.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "corespec/explain/aggregate.hpp"
#include "corespec/explain/attribution.hpp"
#include "corespec/explain/svg.hpp"
#include "corespec/nn/models/mlp.hpp"
#include "corespec/nn/train/trainer.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::nn;
using corespec::span;

namespace {

// y_k = sum_j W[k, j] x_j + b_k with known weights.
Sequential<double> linear_model(std::size_t in, std::size_t out) {
    Sequential<double> m = make_mlp<double>({in, out});
    auto w = m.layer(0).parameter("weight");
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7 * static_cast<double>(i) + 0.3);
    auto b = m.layer(0).parameter("bias");
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.1 * static_cast<double>(i);
    m.parameters_changed();
    return m;
}

std::vector<double> inputs(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
    train::Random rng(seed);
    std::vector<double> v(n);
    for (double& x : v) x = rng.uniform(lo, hi);
    return v;
}

}  // namespace

TEST_CASE("fusion::FeatureLayout maps features to modality and energy") {
    fusion::FeatureLayout l;
    l.add("O K", grid::EnergyAxis::uniform(528.9, 0.2, 167)).add("Ni L", grid::EnergyAxis::uniform(853.1, 0.2, 135));
    CHECK(l.size() == 302);
    CHECK(l.modality_count() == 2);
    CHECK(l[1].offset == 167);
    CHECK(l.locate(170) == std::pair<std::size_t, std::size_t>{1, 3});
    CHECK(l.find("Ni L") == 1);
    CHECK_THROWS_AS(l.find("Mn L"), value_error);
    CHECK_THROWS_AS(l.locate(302), range_error);
    CHECK_THROWS_AS(l.add("Mn L", grid::EnergyAxis::uniform(635.1, 0.2, 200), 100), value_error);  // overlap
    CHECK_THROWS_AS(l.add("O K", grid::EnergyAxis::uniform(0, 1, 3)), value_error);               // repeated
}

TEST_CASE("attribution methods give the exact answers on a linear model") {
    const std::size_t F = 12, K = 3, B = 4;
    Sequential<double> m = linear_model(F, K);
    explain::ModelGradient<double> f(m);
    std::vector<double> x = inputs(B * F, 1);
    ConstTensorView<double> xv(x.data(), Shape{B, F});
    auto w = m.layer(0).parameter("weight");
    const std::size_t k = 2;
    auto sal = explain::saliency(f, xv, k);
    auto gxi = explain::gradient_x_input(f, xv, k);
    auto sg = explain::smoothgrad(f, xv, k, {20, 0.3, 5, false});
    std::vector<double> base(F, 0.25);
    auto ig = explain::integrated_gradients(f, xv, k, span<const double>(base), {8});
    fusion::FeatureLayout layout;
    layout.add("a", grid::EnergyAxis::uniform(0, 1, 5)).add("b", grid::EnergyAxis::uniform(100, 0.5, 7));
    auto occ = explain::occlusion(f, xv, k, layout, {1, 1, 0.0});
    auto occ3 = explain::occlusion(f, xv, k, layout, {3, 1, 0.0});
    for (std::size_t b = 0; b < B; ++b) {
        double occ3_sum = 0;
        for (std::size_t j = 0; j < F; ++j) {
            const double wj = w[k * F + j], xj = x[b * F + j];
            CHECK(sal[b * F + j] == doctest::Approx(std::abs(wj)));
            CHECK(gxi[b * F + j] == doctest::Approx(wj * xj));
            CHECK(sg[b * F + j] == doctest::Approx(wj));
            CHECK(ig.attributions[b * F + j] == doctest::Approx((xj - 0.25) * wj));
            CHECK(occ[b * F + j] == doctest::Approx(wj * xj));  // window of one bin, fill 0
            occ3_sum += occ3[b * F + j];
        }
        CHECK(std::isfinite(occ3_sum));
        CHECK(ig.completeness_error[b] < 1e-12);
    }
    CHECK(ig.max_completeness_error() < 1e-12);
    // The Jacobian of a linear model is its weight; a bad target is rejected.
    auto jac = explain::jacobian(f, ConstTensorView<double>(x.data(), Shape{1, F}));
    for (std::size_t i = 0; i < K * F; ++i) CHECK(jac[i] == doctest::Approx(w[i]));
    CHECK_THROWS_AS(explain::saliency(f, xv, K), range_error);
    CHECK_THROWS_AS(explain::integrated_gradients(f, xv, 0, span<const double>(base.data(), 3)), shape_error);
    CHECK_THROWS_AS(explain::occlusion(f, xv, 0, fusion::FeatureLayout::single("x", grid::EnergyAxis::uniform(0, 1, 5))), shape_error);
}

TEST_CASE("latent traversal decodes along one latent coordinate") {
    Sequential<double> dec = linear_model(4, 6);
    std::vector<double> z{0.1, -0.2, 0.3, 0.0}, values{-1, 0, 1, 2};
    auto rows = explain::latent_traversal(dec, span<const double>(z), 2, span<const double>(values));
    REQUIRE(rows.size() == 4 * 6);
    auto w = dec.layer(0).parameter("weight");
    for (std::size_t r = 1; r < 4; ++r)
        for (std::size_t o = 0; o < 6; ++o) CHECK(rows[r * 6 + o] - rows[(r - 1) * 6 + o] == doctest::Approx(w[o * 4 + 2]));
    CHECK_THROWS_AS(explain::latent_traversal(dec, span<const double>(z), 4, span<const double>(values)), range_error);
}

TEST_CASE("integrated gradients: Gauss-Legendre nodes integrate polynomials exactly") {
    std::vector<double> x, w;
    for (std::size_t n : {1u, 2u, 5u, 64u}) {
        explain::detail::gauss_legendre(n, x, w);
        for (std::size_t deg = 0; deg < 2 * n && deg < 12; ++deg) {
            double s = 0;
            for (std::size_t i = 0; i < n; ++i) s += w[i] * std::pow(x[i], double(deg));
            CHECK(s == doctest::Approx(1.0 / double(deg + 1)).epsilon(1e-12));
        }
        for (std::size_t i = 1; i < n; ++i) CHECK(x[i] > x[i - 1]);
    }
}

TEST_CASE("integrated gradients: completeness within 1 % at 64 steps on the reference MLP") {
    // The reference MLP (study 1: 702 -> 128 -> 64 -> 8, ReLU) trained with
    // the Trainer on study-1 grids (O K, Ni L, Mn L, Co L = 702 bins) to
    // predict 8 window means from standardised spectra; baseline 0 = the mean spectrum.
    fusion::FeatureLayout layout;
    layout.add("O K", grid::EnergyAxis::uniform(528.9, 0.2, 167))
        .add("Ni L", grid::EnergyAxis::uniform(853.1, 0.2, 135))
        .add("Mn L", grid::EnergyAxis::uniform(635.1, 0.2, 200))
        .add("Co L", grid::EnergyAxis::uniform(775.1, 0.2, 200));
    REQUIRE(layout.size() == 702);
    const std::size_t n = 3000, F = 702, K = 8;
    std::vector<double> zd = inputs((n + 8) * F, 2, -1.7, 1.7);
    std::vector<float> z(zd.begin(), zd.end()), y(n * K);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t k = 0; k < K; ++k) {
            double s = 0;  // output k: a window of 20 bins starting at 80 k + 10
            for (std::size_t j = 80 * k + 10; j < 80 * k + 30; ++j) s += z[r * F + j];
            y[r * K + k] = float(s / 20);
        }
    Sequential<float> m = make_mlp<float>({702, 128, 64, 8});
    train::init_default(m, 17);
    train::MseLoss<float> loss;
    train::Adam<float> adam(1e-3);
    train::TrainOptions o;
    o.epochs = 8;
    o.threads = 2;
    o.silent();
    train::Trainer<float> trainer(m, loss, adam, o);
    auto r = trainer.fit(ConstTensorView<float>(z.data(), Shape{n, F}), ConstTensorView<float>(y.data(), Shape{n, K}));
    CHECK(r.train_loss < 0.2 * r.history.front().train_loss);

    explain::ModelGradient<float> f(m);
    ConstTensorView<float> xv(z.data() + n * F, Shape{8, F});  // 8 spectra not used in training
    using R = explain::IgOptions::Rule;
    const R rules[4] = {R::adaptive, R::gauss_legendre, R::midpoint, R::trapezoid};
    double batch[4] = {0, 0, 0, 0}, worst[4] = {0, 0, 0, 0}, worst_large[4] = {0, 0, 0, 0}, abs_err = 0;
    std::size_t small = 0;
    for (std::size_t k = 0; k < K; ++k)
        for (int ri = 0; ri < 4; ++ri) {
            auto ig = explain::integrated_gradients(f, xv, k, {}, {64, rules[ri]});
            batch[ri] = std::max(batch[ri], ig.batch_completeness_error());
            worst[ri] = std::max(worst[ri], ig.max_completeness_error());
            for (std::size_t b = 0; b < 8; ++b) {
                const double delta = ig.f_input[b] - ig.f_baseline[b];
                // Outputs vary with a standard deviation of ~0.22; per-sample
                // ratios are meaningful where f(x) - f(0) is not close to 0.
                if (std::abs(delta) >= 0.05) worst_large[ri] = std::max(worst_large[ri], ig.completeness_error[b]);
                else if (ri == 0) ++small;
                if (ri == 0) abs_err = std::max(abs_err, std::abs(ig.attribution_sum[b] - delta));
            }
            if (rules[ri] == R::adaptive) CHECK(ig.batch_completeness_error() < 0.01);
        }
    CHECK(worst_large[0] < 0.01);
    MESSAGE("IG completeness, trained reference MLP, 64 steps, 8 spectra x 8 outputs:\n"
            << "  batch error (sum |err| / sum |f(x)-f(0)|), worst output: adaptive " << batch[0] << ", Gauss-Legendre " << batch[1]
            << ", midpoint " << batch[2] << ", trapezoid " << batch[3] << "\n"
            << "  per sample with |f(x)-f(0)| >= 0.05: adaptive " << worst_large[0] << ", Gauss-Legendre " << worst_large[1]
            << ", midpoint " << worst_large[2] << ", trapezoid " << worst_large[3] << "\n"
            << "  per sample, all 64: adaptive " << worst[0] << " (" << small << " pairs with |f(x)-f(0)| < 0.05; max absolute error "
            << abs_err << ")");
    auto ig256 = explain::integrated_gradients(f, xv, 6, {}, {256});
    MESSAGE("  adaptive, 256 steps, output 6: per-sample max " << ig256.max_completeness_error());
}

TEST_CASE("integrated gradients converge on an untrained reference MLP; float32 agrees with double") {
    // Untrained, |f(x) - f(0)| is only ~0.01, so the relative completeness
    // error is large at 64 steps; the absolute error falls like 1 / steps
    // (ReLU kinks along the path).
    Sequential<double> md = make_mlp<double>({702, 128, 64, 8});
    train::init_default(md, 17);
    explain::ModelGradient<double> fd(md);
    std::vector<double> xd = inputs(4 * 702, 2, 0, 1);
    ConstTensorView<double> xdv(xd.data(), Shape{4, 702});
    auto abs_error = [&](std::size_t steps) {
        auto ig = explain::integrated_gradients(fd, xdv, 3, {}, {steps});
        double e = 0;
        for (std::size_t b = 0; b < 4; ++b) e = std::max(e, std::abs(ig.attribution_sum[b] - (ig.f_input[b] - ig.f_baseline[b])));
        return e;
    };
    const double e64 = abs_error(64), e1024 = abs_error(1024);
    MESSAGE("untrained reference MLP: |completeness error| 64 steps " << e64 << ", 1024 steps " << e1024);
    CHECK(e1024 < e64 / 4);
    Sequential<float> m = make_mlp<float>({702, 128, 64, 8});
    train::init_default(m, 17);
    explain::ModelGradient<float> f(m);
    std::vector<float> x(xd.begin(), xd.end());
    auto igd = explain::integrated_gradients(fd, xdv, 5);
    auto igf = explain::integrated_gradients(f, ConstTensorView<float>(x.data(), Shape{4, 702}), 5);
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < igd.attributions.size(); ++i)
        scale = std::max(scale, std::abs(igd.attributions[i])), err = std::max(err, std::abs(igd.attributions[i] - double(igf.attributions[i])));
    CHECK(err / scale < 1e-4);
}

namespace {

// Two modalities on study-1 grids; spectra are a fixed shape plus independent
// noise per bin, and the answer is the mean deviation of the Ni L3 bins in
// [853.5, 858.5] eV from the mean spectrum: nothing else matters. The model
// sees standardised inputs z = (x - mean) / std, as a pipeline would feed it
// (raw spectra share a large common part that makes plain gradient descent
// slow to remove the weights of irrelevant bins; PyTorch behaves the same).
struct WindowTask {
    fusion::FeatureLayout layout;
    std::vector<float> base, x, z, y;
    std::size_t n, f;
    double lo = 853.5, hi = 858.5;
    static constexpr double noise = 0.3;
    explicit WindowTask(std::size_t rows, std::uint64_t seed) : n(rows) {
        layout.add("O K", grid::EnergyAxis::uniform(528.9, 0.2, 167)).add("Ni L", grid::EnergyAxis::uniform(853.1, 0.2, 135));
        f = layout.size();
        base.resize(f);
        for (const auto& m : layout)
            for (std::size_t i = 0; i < m.size(); ++i) {
                const double e = m.axis.energy(i) - m.axis.front();
                base[m.offset + i] = float(0.2 + 0.8 / (1 + std::exp(-(e - 6) / 0.8)) + 0.6 * std::exp(-0.5 * std::pow((e - 3) / 0.7, 2)));
            }
        train::Random rng(seed);
        x.resize(n * f);
        z.resize(n * f);
        y.resize(n);
        const auto& ni = layout[1];
        const double sd = noise / std::sqrt(3.0);  // of U(-noise, noise)
        for (std::size_t r = 0; r < n; ++r) {
            double s = 0, c = 0;
            for (std::size_t j = 0; j < f; ++j) {
                x[r * f + j] = float(base[j] + rng.uniform(-noise, noise));
                z[r * f + j] = float((x[r * f + j] - base[j]) / sd);
            }
            for (std::size_t i = 0; i < ni.size(); ++i)
                if (ni.axis.energy(i) >= lo && ni.axis.energy(i) <= hi) s += x[r * f + ni.offset + i] - base[ni.offset + i], c += 1;
            y[r] = float(4 * s / c);
        }
    }
};

}  // namespace

TEST_CASE("a model trained on a window task puts > 90 % of the attribution mass in that window") {
    const std::size_t epochs = 60;
    WindowTask task(8000, 9);
    Sequential<float> m = make_mlp<float>({task.f, 8, 1});
    train::init_default(m, 4);
    train::MseLoss<float> loss;
    train::AdamW<float> opt(1e-3, {0.9, 0.999, 1e-8, 1.0});  // decoupled decay removes what the data does not support
    train::CosineSchedule<float> cosine(opt.learning_rate(), epochs);
    train::TrainOptions o;
    o.epochs = epochs;
    o.batch_size = 64;
    o.threads = 2;
    o.val_fraction = 0.1;
    o.silent();
    train::Trainer<float> trainer(m, loss, opt, o);
    trainer.set_schedule(&cosine);
    train::TrainResult r = trainer.fit(ConstTensorView<float>(task.z.data(), Shape{task.n, task.f}), ConstTensorView<float>(task.y.data(), Shape{task.n, 1}));
    MESSAGE("window task: val loss " << r.val_loss << " after " << r.epochs_run << " epochs (target variance ~ "
                                     << 16 * 0.03 / 26 << ")");
    WindowTask test(20, 99);
    explain::ModelGradient<float> f(m);
    ConstTensorView<float> xv(test.z.data(), Shape{20, test.f});
    auto ig = explain::integrated_gradients(f, xv, 0);  // baseline 0 = the mean spectrum
    auto gxi = explain::gradient_x_input(f, xv, 0);
    auto sal = explain::saliency(f, xv, 0);
    double ig_share = 0, sal_share = 0;
    for (std::size_t b = 0; b < 20; ++b) {
        auto parts = explain::per_modality(span<const float>(ig.attributions.data() + b * test.f, test.f), test.layout);
        ig_share += explain::window_share(parts, "Ni L", test.lo, test.hi) / 20;
        auto sp = explain::per_modality(span<const float>(sal.data() + b * test.f, test.f), test.layout);
        sal_share += explain::window_share(sp, "Ni L", test.lo, test.hi) / 20;
        CHECK(parts[0].share + parts[1].share == doctest::Approx(1.0));
    }
    MESSAGE("share of |attribution| inside Ni L3 853.5-858.5 eV: IG " << ig_share << ", saliency " << sal_share);
    CHECK(ig_share > 0.9);
    CHECK(sal_share > 0.9);
    CHECK(ig.max_completeness_error() < 0.01);

    // The picture: spectrum + attribution strip per modality.
    std::string svg = explain::attribution_svg(span<const float>(test.x.data(), test.f), span<const float>(ig.attributions.data(), test.f),
                                               test.layout, {"window task: integrated gradients", "intensity (a.u.)"});
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(svg.find("Ni L") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
    if (const char* dir = std::getenv("CORESPEC_EXPLAIN_SVG_DIR"))
        explain::write_attribution_svg(std::string(dir) + "/window_task_ig.svg", span<const float>(test.x.data(), test.f),
                                       span<const float>(ig.attributions.data(), test.f), test.layout, {"window task: integrated gradients", "intensity (a.u.)"});
    CHECK_THROWS_AS(explain::write_attribution_svg("/nonexistent-dir/x.svg", span<const float>(test.x.data(), test.f),
                                                   span<const float>(ig.attributions.data(), test.f), test.layout),
                    io_error);
    (void)gxi;
}

TEST_CASE("explain::ModelGradient takes a loaded model: each head of a multi-head model, by name or index") {
    // tests/data/train/two_heads.safetensors: head "window" (1 output) and "tail" (2 outputs).
    const Model<float> model = load_model<float>(corespec_test::source_path("tests/data/train/two_heads.safetensors").string());
    const std::size_t batch = 3;
    std::vector<float> x(batch * 40);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5f + 0.4f * std::sin(0.3f * float(i));
    const ConstTensorView<float> xv(x.data(), {batch, 40});
    std::vector<float> all(batch * 3);  // forward: window's output, then tail's two
    Workspace<float> ws;
    model.forward(xv, TensorView<float>(all.data(), {batch, 3}), ws);
    explain::ModelGradient<float> window(model), tail(model, "tail"), tail_by_index(model, "1");
    CHECK(window.output_size(xv.shape()) == 1);
    CHECK(tail.output_size(xv.shape()) == 2);
    std::vector<float> f(batch), g(batch);
    for (std::size_t b = 0; b < batch; ++b) {
        window.value(xv, 0, f.data());
        CHECK(f[b] == doctest::Approx(all[b * 3]).epsilon(1e-6));
        tail.value(xv, 1, f.data());
        tail_by_index.value(xv, 1, g.data());
        CHECK(f[b] == doctest::Approx(all[b * 3 + 2]).epsilon(1e-6));
        CHECK(g[b] == f[b]);
    }
    CHECK_THROWS_AS(explain::ModelGradient<float>(model, "nope"), corespec::value_error);
}
