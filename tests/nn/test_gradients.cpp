// Gradient checks: every backward (losses, layers, a whole Sequential)
// against central finite differences in double.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "corespec/nn/train/init.hpp"
#include "corespec/nn/train/loss.hpp"
#include "support/nn_gradcheck.hpp"

using namespace corespec::nn;
using namespace corespec::nn::train;
using corespec_test::max_rel_error;

namespace {

std::vector<double> random_values(std::size_t n, Random& rng, double lo = -2, double hi = 2) {
    std::vector<double> v(n);
    for (double& x : v) x = rng.uniform(lo, hi);
    return v;
}

// Checks d loss / d pred of `loss` at pred against central differences.
void check_loss(const Loss<double>& loss, std::vector<double> pred, const std::vector<double>& target, Shape ps, Shape ts,
                const std::vector<double>& mask = {}, Shape msh = {}) {
    ConstTensorView<double> t(target.data(), ts);
    ConstTensorView<double> m = mask.empty() ? ConstTensorView<double>() : ConstTensorView<double>(mask.data(), msh);
    std::vector<double> grad(pred.size());
    loss.value_and_grad(ConstTensorView<double>(pred.data(), ps), t, TensorView<double>(grad.data(), ps), m);
    auto f = [&](const std::vector<double>& p) { return loss.value(ConstTensorView<double>(p.data(), ps), t, m); };
    std::vector<double> numeric = corespec_test::numeric_gradient(f, pred, 1e-6);
    INFO(loss.name());
    CHECK(max_rel_error(grad, numeric) < 1e-6);
}

}  // namespace

TEST_CASE("gradient check: elementwise losses, with and without mask") {
    Random rng(3);
    Shape s{5, 4};
    std::vector<double> pred = random_values(20, rng), target = random_values(20, rng);
    std::vector<double> mask(20, 1.0);
    for (std::size_t i = 0; i < 20; i += 3) mask[i] = 0;
    std::vector<std::unique_ptr<Loss<double>>> losses;
    losses.push_back(std::make_unique<MseLoss<double>>());
    losses.push_back(std::make_unique<MaeLoss<double>>());
    losses.push_back(std::make_unique<HuberLoss<double>>(0.7));
    for (const auto& l : losses) {
        check_loss(*l, pred, target, s, s);
        check_loss(*l, pred, target, s, s, mask, s);
    }
    std::vector<double> flags(20);
    for (double& f : flags) f = rng.uniform() < 0.5 ? 0.0 : 1.0;
    check_loss(BceWithLogitsLoss<double>(), random_values(20, rng, -6, 6), flags, s, s);
    check_loss(BceWithLogitsLoss<double>(), random_values(20, rng, -6, 6), flags, s, s, mask, s);
}

TEST_CASE("gradient check: softmax cross-entropy with indices, probabilities and masks") {
    Random rng(4);
    SoftmaxCrossEntropyLoss<double> ce;
    std::vector<double> logits = random_values(6 * 5, rng, -4, 4);
    std::vector<double> idx{0, 4, 2, 2, 1, 3};
    check_loss(ce, logits, idx, Shape{6, 5}, Shape{6, 1});
    std::vector<double> probs = random_values(6 * 5, rng, 0, 1);
    check_loss(ce, logits, probs, Shape{6, 5}, Shape{6, 5});
    std::vector<double> mask{1, 0, 1, 1, 0, 1};
    check_loss(ce, logits, idx, Shape{6, 5}, Shape{6, 1}, mask, Shape{6, 1});
    std::vector<double> bad{0, 5, 2, 2, 1, 3};
    CHECK_THROWS_AS(ce.value(ConstTensorView<double>(logits.data(), Shape{6, 5}), ConstTensorView<double>(bad.data(), Shape{6, 1})),
                    corespec::value_error);
}

TEST_CASE("gradient check: weighted sum of heads with a mask for missing targets") {
    Random rng(5);
    WeightedSumLoss<double> loss;
    loss.add(std::make_unique<MseLoss<double>>(), 0.7, 0, 3);                  // regression head: columns 0-2
    loss.add(std::make_unique<BceWithLogitsLoss<double>>(), 2.0, 3, 2);        // two defect flags: columns 3-4
    loss.add(std::make_unique<SoftmaxCrossEntropyLoss<double>>(), 0.5, 5, 3, 5, 1);  // 3 classes, index target in column 5
    std::vector<double> pred = random_values(4 * 8, rng);
    std::vector<double> target = random_values(4 * 6, rng, 0, 1);
    for (std::size_t b = 0; b < 4; ++b) target[b * 6 + 5] = static_cast<double>(b % 3);
    std::vector<double> mask(4 * 6, 1.0);
    mask[1] = 0, mask[6 + 4] = 0, mask[2 * 6 + 5] = 0;
    target[1] = std::nan("");  // masked targets are never read
    check_loss(loss, pred, target, Shape{4, 8}, Shape{4, 6}, mask, Shape{4, 6});
    CHECK_THROWS_AS(loss.value(ConstTensorView<double>(pred.data(), Shape{4, 7}), ConstTensorView<double>(target.data(), Shape{4, 6})),
                    corespec::shape_error);
}

TEST_CASE("loss values match their definitions") {
    std::vector<double> p{1, 2, 3, 4}, t{1.5, 2, 1, 4.2};
    Shape s{2, 2};
    ConstTensorView<double> pv(p.data(), s), tv(t.data(), s);
    CHECK(MseLoss<double>().value(pv, tv) == doctest::Approx((0.25 + 0 + 4 + 0.04) / 4));
    CHECK(MaeLoss<double>().value(pv, tv) == doctest::Approx((0.5 + 0 + 2 + 0.2) / 4));
    CHECK(HuberLoss<double>(1.0).value(pv, tv) == doctest::Approx((0.125 + 0 + 1.5 + 0.02) / 4));
    std::vector<double> m{1, 0, 0, 1};
    CHECK(MseLoss<double>().value(pv, tv, ConstTensorView<double>(m.data(), s)) == doctest::Approx((0.25 + 0.04) / 2));
    // BCE with logits at x = 0 is log 2 whatever the target.
    std::vector<double> z{0, 0}, f{0, 1};
    CHECK(BceWithLogitsLoss<double>().value(ConstTensorView<double>(z.data(), Shape{1, 2}), ConstTensorView<double>(f.data(), Shape{1, 2})) ==
          doctest::Approx(std::log(2.0)));
    // Cross-entropy of uniform logits over 4 classes is log 4.
    std::vector<double> u{0.3, 0.3, 0.3, 0.3}, k{2};
    CHECK(SoftmaxCrossEntropyLoss<double>().value(ConstTensorView<double>(u.data(), Shape{1, 4}), ConstTensorView<double>(k.data(), Shape{1, 1})) ==
          doctest::Approx(std::log(4.0)));
    // All masked: zero, not NaN.
    std::vector<double> none(4, 0.0);
    CHECK(MseLoss<double>().value(pv, tv, ConstTensorView<double>(none.data(), s)) == 0.0);
    CHECK_THROWS_AS(MseLoss<double>().value(pv, ConstTensorView<double>(t.data(), Shape{4, 1})), corespec::shape_error);
    CHECK_THROWS_AS(make_loss<double>("nope"), corespec::value_error);
}

TEST_CASE("gradient check: Gaussian KL with beta, and slices add up to the batch") {
    Random rng(6);
    Shape s{3, 4};
    std::vector<double> mu = random_values(12, rng), lv = random_values(12, rng, -1, 1);
    std::vector<double> gmu(12), glv(12);
    const double beta = 0.37;
    double v = gaussian_kl(ConstTensorView<double>(mu.data(), s), ConstTensorView<double>(lv.data(), s), TensorView<double>(gmu.data(), s),
                           TensorView<double>(glv.data(), s), beta);
    auto kl = [&](const std::vector<double>& a, const std::vector<double>& b) {
        return gaussian_kl(ConstTensorView<double>(a.data(), s), ConstTensorView<double>(b.data(), s), TensorView<double>(),
                           TensorView<double>(), beta);
    };
    CHECK(max_rel_error(gmu, corespec_test::numeric_gradient([&](const std::vector<double>& a) { return kl(a, lv); }, mu, 1e-6)) < 1e-6);
    CHECK(max_rel_error(glv, corespec_test::numeric_gradient([&](const std::vector<double>& b) { return kl(mu, b); }, lv, 1e-6)) < 1e-6);
    // Split into slices of 1 and 2 samples with the whole batch size: same total.
    double a = gaussian_kl(ConstTensorView<double>(mu.data(), Shape{1, 4}), ConstTensorView<double>(lv.data(), Shape{1, 4}),
                           TensorView<double>(), TensorView<double>(), beta, 3);
    double b = gaussian_kl(ConstTensorView<double>(mu.data() + 4, Shape{2, 4}), ConstTensorView<double>(lv.data() + 4, Shape{2, 4}),
                           TensorView<double>(), TensorView<double>(), beta, 3);
    CHECK(a + b == doctest::Approx(v).epsilon(1e-14));
    // KL of the prior itself is zero.
    std::vector<double> zeros(12, 0.0);
    CHECK(kl(zeros, zeros) == 0.0);
}

// --- layers ---------------------------------------------------------------

#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/norm.hpp"
#include "corespec/nn/layers/pool.hpp"
#include "corespec/nn/layers/shape.hpp"
#include "corespec/nn/sequential.hpp"

namespace {

// L = sum(out * w) for a fixed random w, so d L / d out = w. Checks the
// layer's grad_in and grad_params against central differences of L.
void check_layer(const Layer<double>& layer, Shape in_shape, std::uint64_t seed, bool training = false, double lo = -1.5, double hi = 1.5) {
    Random rng(seed);
    std::unique_ptr<Layer<double>> l = layer.clone();
    std::vector<double> x = random_values(in_shape.size(), rng, lo, hi);
    Shape out_shape = l->output_shape(in_shape);
    std::vector<double> w = random_values(out_shape.size(), rng);
    Workspace<double> ws;
    ws.training = training;
    ws.seed = seed;
    auto objective = [&](const Layer<double>& m, const std::vector<double>& input) {
        std::vector<double> out(out_shape.size());
        m.forward(ConstTensorView<double>(input.data(), in_shape), TensorView<double>(out.data(), out_shape), ws);
        double s = 0;
        for (std::size_t i = 0; i < out.size(); ++i) s += out[i] * w[i];
        return s;
    };
    std::vector<double> out(out_shape.size()), gin(x.size()), gp(l->parameter_count(), 0.0);
    l->forward(ConstTensorView<double>(x.data(), in_shape), TensorView<double>(out.data(), out_shape), ws);
    l->backward(ConstTensorView<double>(x.data(), in_shape), ConstTensorView<double>(out.data(), out_shape),
                ConstTensorView<double>(w.data(), out_shape), TensorView<double>(gin.data(), in_shape),
                corespec::span<double>(gp.data(), gp.size()), ws);
    INFO(l->type() << " " << l->config().dump());
    CHECK(max_rel_error(gin, corespec_test::numeric_gradient([&](const std::vector<double>& v) { return objective(*l, v); }, x)) < 1e-6);
    if (l->parameter_count()) {
        std::vector<double> p0(l->parameters().begin(), l->parameters().end());
        auto by_params = [&](const std::vector<double>& p) {
            std::copy(p.begin(), p.end(), l->parameters().begin());
            l->parameters_changed();
            return objective(*l, x);
        };
        std::vector<double> numeric = corespec_test::numeric_gradient(by_params, p0);
        by_params(p0);
        // Buffers (not trainable) get no gradient.
        for (const ParameterInfo& info : l->parameter_info())
            if (!info.trainable)
                for (std::size_t i = 0; i < info.size(); ++i) numeric[info.offset + i] = 0;
        CHECK(max_rel_error(gp, numeric) < 1e-6);
        // Parameter gradients accumulate.
        std::vector<double> twice = gp;
        l->backward(ConstTensorView<double>(x.data(), in_shape), ConstTensorView<double>(out.data(), out_shape),
                    ConstTensorView<double>(w.data(), out_shape), TensorView<double>(), corespec::span<double>(twice.data(), twice.size()), ws);
        for (std::size_t i = 0; i < gp.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * gp[i]));
    }
}

void randomize(Layer<double>& l, std::uint64_t seed) {
    Random rng(seed);
    init_default(l, rng);
}

}  // namespace

TEST_CASE("gradient check: Dense with every activation") {
    using A = Activation;
    for (Activation a : {A::identity(), A::relu(), A::leaky_relu(0.1), A::elu(0.8), A::gelu(), A::gelu_tanh(), A::silu(), A::tanh(),
                         A::sigmoid(), A::softplus()}) {
        Dense<double> d(7, 5, a);
        randomize(d, 11);
        check_layer(d, Shape{4, 7}, 12);
        Dense<double> nb(7, 3, a, false);
        randomize(nb, 13);
        check_layer(nb, Shape{2, 7}, 14);
    }
}

TEST_CASE("gradient check: Conv1D (stride, padding, dilation, groups, fused activation)") {
    using P = Padding;
    struct Case {
        std::size_t in, out, k, stride;
        P pad;
        std::size_t dilation, groups;
        Activation act;
        bool bias;
    };
    for (const Case& c : {Case{3, 4, 3, 1, P::valid(), 1, 1, Activation::identity(), true},
                          Case{2, 4, 5, 1, P::same(), 1, 1, Activation::leaky_relu(0.3), true},
                          Case{4, 6, 3, 2, P::symmetric(2), 2, 2, Activation::tanh(), false},
                          Case{4, 4, 7, 2, P::explicit_pad(3, 2), 1, 4, Activation::gelu(), true}}) {
        Conv1D<double> conv(c.in, c.out, c.k, c.stride, c.pad, c.dilation, c.groups, c.act, c.bias);
        randomize(conv, 31);
        check_layer(conv, Shape{2, c.in, 17}, 32);
    }
}

TEST_CASE("gradient check: ConvTranspose1D (stride, padding, output padding, dilation, groups)") {
    struct Case {
        std::size_t in, out, k, stride, pad, out_pad, dilation, groups;
        Activation act;
    };
    for (const Case& c : {Case{3, 2, 3, 1, 0, 0, 1, 1, Activation::identity()}, Case{4, 2, 7, 2, 3, 1, 1, 1, Activation::leaky_relu(0.3)},
                          Case{4, 6, 3, 2, 1, 0, 2, 2, Activation::sigmoid()}}) {
        ConvTranspose1D<double> t(c.in, c.out, c.k, c.stride, c.pad, c.out_pad, c.dilation, c.groups, c.act);
        randomize(t, 41);
        check_layer(t, Shape{2, c.in, 9}, 42);
    }
}

TEST_CASE("gradient check: normalisation, pooling, shape, dropout and activation layers") {
    BatchNorm1d<double> bn(3);
    randomize(bn, 51);
    {
        auto rm = bn.parameter("running_mean");
        auto rv = bn.parameter("running_var");
        for (std::size_t i = 0; i < 3; ++i) rm[i] = 0.1 * double(i), rv[i] = 0.5 + double(i);
        auto g = bn.parameter("weight");
        for (std::size_t i = 0; i < 3; ++i) g[i] = 0.7 + 0.2 * double(i);
        bn.parameters_changed();
    }
    check_layer(bn, Shape{4, 3, 5}, 52, false);  // inference: running statistics
    check_layer(bn, Shape{4, 3, 5}, 53, true);   // training: batch statistics
    check_layer(bn, Shape{6, 3}, 54, true);
    LayerNorm<double> ln(6);
    randomize(ln, 55);
    {
        auto g = ln.parameter("weight");
        for (std::size_t i = 0; i < g.size(); ++i) g[i] = 0.5 + 0.1 * double(i);
        ln.parameters_changed();
    }
    check_layer(ln, Shape{3, 6}, 56);
    check_layer(MaxPool1d<double>(3, 2, 1), Shape{2, 3, 11}, 57);
    check_layer(AvgPool1d<double>(3, 2, 1), Shape{2, 3, 11}, 58);
    check_layer(GlobalAvgPool1d<double>(), Shape{2, 3, 11}, 59);
    check_layer(Flatten<double>(), Shape{2, 3, 4}, 60);
    check_layer(Reshape<double>(Shape{4, 3}), Shape{2, 12}, 61);
    check_layer(Dropout<double>(0.3), Shape{4, 10}, 62, true);
    check_layer(Dropout<double>(0.3), Shape{4, 10}, 63, false);
    using A = Activation;
    for (Activation a : {A::relu(), A::leaky_relu(0.2), A::elu(1.3), A::gelu(), A::gelu_tanh(), A::silu(), A::tanh(), A::sigmoid(),
                         A::softplus()})
        check_layer(ActivationLayer<double>(a), Shape{3, 7}, 64);
    PReLU<double> prelu(3, 0.25);
    check_layer(prelu, Shape{2, 3, 5}, 65);
    PReLU<double> prelu1(1, 0.1);
    check_layer(prelu1, Shape{4, 6}, 66);
    check_layer(Softmax<double>(), Shape{3, 5}, 67);
}

TEST_CASE("gradient check: a whole Sequential (backward through stored activations)") {
    Sequential<double> m;
    m.emplace<Dense<double>>(6, 8, Activation::tanh()).emplace<Dense<double>>(8, 5, Activation::silu()).emplace<Dense<double>>(5, 3);
    init_default(m, 21);
    Random rng(22);
    Shape in{4, 6}, out{4, 3};
    std::vector<double> x = random_values(in.size(), rng), w = random_values(out.size(), rng);
    Workspace<double> ws;
    auto objective = [&](const std::vector<double>& input) {
        std::vector<double> y(out.size());
        m.forward(ConstTensorView<double>(input.data(), in), TensorView<double>(y.data(), out), ws);
        double s = 0;
        for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * w[i];
        return s;
    };
    std::vector<double> gin(x.size()), gp(m.parameter_count(), 0.0);
    {
        Workspace<double>::Frame f(ws);
        std::vector<ConstTensorView<double>> acts;
        m.forward_trace(ConstTensorView<double>(x.data(), in), acts, ws);
        m.backward(acts, ConstTensorView<double>(w.data(), out), TensorView<double>(gin.data(), in), corespec::span<double>(gp.data(), gp.size()), ws);
    }
    CHECK(max_rel_error(gin, corespec_test::numeric_gradient(objective, x)) < 1e-6);
    std::vector<double> p0;
    for (std::size_t i = 0; i < m.size(); ++i) p0.insert(p0.end(), m.layer(i).parameters().begin(), m.layer(i).parameters().end());
    auto by_params = [&](const std::vector<double>& p) {
        std::size_t o = 0;
        for (std::size_t i = 0; i < m.size(); ++i) {
            auto ps = m.layer(i).parameters();
            std::copy(p.begin() + static_cast<std::ptrdiff_t>(o), p.begin() + static_cast<std::ptrdiff_t>(o + ps.size()), ps.begin());
            o += ps.size();
        }
        m.parameters_changed();
        return objective(x);
    };
    CHECK(max_rel_error(gp, corespec_test::numeric_gradient(by_params, p0)) < 1e-6);
}
