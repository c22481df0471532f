// Plain reference implementations (double precision, textbook loops, a
// different algorithm from the engine's packed kernels) and helpers for the
// nn tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layer.hpp"

namespace nn_test {

inline std::vector<double> random_vector(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
    return std::vector<T>(v.begin(), v.end());
}

/// max |a - b| / max(1, |b|) (relative for large values, absolute near 0).
template <class A, class B>
double max_rel_error(const A& a, const B& b) {
    double m = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
        double d = std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i])));
        if (!(d <= m)) m = d;  // NaN propagates as "large"
    }
    return m;
}

template <class T>
double tolerance() { return sizeof(T) == 4 ? 2e-5 : 1e-12; }

/// Both kernel paths a test must pass on.
template <class T>
std::vector<const corespec::nn::kernels::KernelTable<T>*> kernel_paths() {
    return {&corespec::nn::kernels::scalar_table<T>(), &corespec::nn::kernels::best_table<T>()};
}

inline double act_ref(const corespec::nn::Activation& a, double x) {
    using K = corespec::nn::Activation::Kind;
    switch (a.kind) {
        case K::identity: return x;
        case K::relu: return x > 0 ? x : 0;
        case K::leaky_relu: return x > 0 ? x : a.alpha * x;
        case K::elu: return x > 0 ? x : a.alpha * (std::exp(x) - 1);
        case K::gelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
        case K::gelu_tanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        case K::silu: return x / (1 + std::exp(-x));
        case K::tanh: return std::tanh(x);
        case K::sigmoid: return 1 / (1 + std::exp(-x));
        case K::softplus: return x > 20 ? x : std::log1p(std::exp(x));
    }
    return x;
}

/// y[b, o] = act(sum_i x[b, i] w[o, i] + bias[o])
inline std::vector<double> dense_ref(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& bias, std::size_t batch, std::size_t in,
                                     std::size_t out, corespec::nn::Activation act) {
    std::vector<double> y(batch * out);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t o = 0; o < out; ++o) {
            long double s = bias.empty() ? 0 : bias[o];
            for (std::size_t i = 0; i < in; ++i) s += (long double)x[b * in + i] * w[o * in + i];
            y[b * out + o] = act_ref(act, double(s));
        }
    return y;
}

/// PyTorch Conv1d semantics, direct summation.
inline std::vector<double> conv1d_ref(const std::vector<double>& x, const std::vector<double>& w,
                                      const std::vector<double>& bias, std::size_t batch, std::size_t cin,
                                      std::size_t lin, std::size_t cout, std::size_t k, std::size_t stride,
                                      std::size_t pad_left, std::size_t pad_right, std::size_t dilation,
                                      std::size_t groups) {
    std::size_t lout = (lin + pad_left + pad_right - dilation * (k - 1) - 1) / stride + 1;
    std::size_t cig = cin / groups, cog = cout / groups;
    std::vector<double> y(batch * cout * lout);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t co = 0; co < cout; ++co)
            for (std::size_t l = 0; l < lout; ++l) {
                long double s = bias.empty() ? 0 : bias[co];
                std::size_t g = co / cog;
                for (std::size_t ci = 0; ci < cig; ++ci)
                    for (std::size_t kk = 0; kk < k; ++kk) {
                        long long pos = (long long)(l * stride + kk * dilation) - (long long)pad_left;
                        if (pos < 0 || pos >= (long long)lin) continue;
                        s += (long double)w[(co * cig + ci) * k + kk] * x[(b * cin + g * cig + ci) * lin + pos];
                    }
                y[(b * cout + co) * lout + l] = double(s);
            }
    return y;
}

/// PyTorch ConvTranspose1d semantics as the scatter of each input element.
inline std::vector<double> conv_transpose1d_ref(const std::vector<double>& x, const std::vector<double>& w,
                                                const std::vector<double>& bias, std::size_t batch, std::size_t cin,
                                                std::size_t lin, std::size_t cout, std::size_t k, std::size_t stride,
                                                std::size_t padding, std::size_t output_padding, std::size_t dilation,
                                                std::size_t groups) {
    std::size_t lout = (lin - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1;
    std::size_t cig = cin / groups, cog = cout / groups;
    std::vector<long double> acc(batch * cout * lout, 0.0L);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t ci = 0; ci < cin; ++ci) {
            std::size_t g = ci / cig;
            for (std::size_t i = 0; i < lin; ++i)
                for (std::size_t oc = 0; oc < cog; ++oc)
                    for (std::size_t kk = 0; kk < k; ++kk) {
                        long long j = (long long)(i * stride + kk * dilation) - (long long)padding;
                        if (j < 0 || j >= (long long)lout) continue;
                        acc[(b * cout + g * cog + oc) * lout + j] +=
                            (long double)x[(b * cin + ci) * lin + i] * w[(ci * cog + oc) * k + kk];
                    }
        }
    std::vector<double> y(acc.size());
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t co = 0; co < cout; ++co)
            for (std::size_t j = 0; j < lout; ++j)
                y[(b * cout + co) * lout + j] = double(acc[(b * cout + co) * lout + j] + (bias.empty() ? 0 : bias[co]));
    return y;
}

}  // namespace nn_test

namespace nn_test {

/// Loads random parameters (fixed seed) into a layer.
template <class T>
void randomize(corespec::nn::Layer<T>& layer, unsigned seed, double scale = 0.5) {
    auto p = layer.parameters();
    auto r = random_vector(p.size(), seed, -scale, scale);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = T(r[i]);
    layer.parameters_changed();
}

/// Central-difference check of backward for loss = sum(r * layer(x)) in
/// double: returns the max relative error over inputs and parameters.
inline double gradient_check(corespec::nn::Layer<double>& layer, const corespec::nn::Shape& in_shape, unsigned seed) {
    using namespace corespec::nn;
    auto x = random_vector(in_shape.size(), seed, -1.5, 1.5);
    Shape os = layer.output_shape(in_shape);
    auto r = random_vector(os.size(), seed + 1);
    Workspace<double> ws;
    auto loss = [&](const std::vector<double>& xin) {
        std::vector<double> y(os.size());
        layer.forward(ConstTensorView<double>(xin.data(), in_shape), TensorView<double>(y.data(), os), ws);
        long double s = 0;
        for (std::size_t i = 0; i < y.size(); ++i) s += (long double)r[i] * y[i];
        return double(s);
    };
    std::vector<double> y(os.size()), gx(x.size()), gp(layer.parameter_count(), 0.0);
    layer.forward(ConstTensorView<double>(x.data(), in_shape), TensorView<double>(y.data(), os), ws);
    layer.backward(ConstTensorView<double>(x.data(), in_shape), ConstTensorView<double>(y.data(), os),
                   ConstTensorView<double>(r.data(), os), TensorView<double>(gx.data(), in_shape),
                   corespec::span<double>(gp.data(), gp.size()), ws);
    double worst = 0;
    const double h = 1e-6;
    auto compare = [&](double analytic, double numeric) {
        double e = std::abs(analytic - numeric) / std::max(1.0, std::abs(numeric));
        worst = std::max(worst, e);
    };
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += h, xm[i] -= h;
        compare(gx[i], (loss(xp) - loss(xm)) / (2 * h));
    }
    auto p = layer.parameters();
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (i > 400 && i % 7) continue;  // large layers: a sample of parameters
        double keep = p[i];
        p[i] = keep + h, layer.parameters_changed();
        double lp = loss(x);
        p[i] = keep - h, layer.parameters_changed();
        double lm = loss(x);
        p[i] = keep, layer.parameters_changed();
        bool trainable = true;
        for (const auto& info : layer.parameter_info())
            if (i >= info.offset && i < info.offset + info.size()) trainable = info.trainable;
        if (trainable) compare(gp[i], (lp - lm) / (2 * h));
    }
    return worst;
}

}  // namespace nn_test
