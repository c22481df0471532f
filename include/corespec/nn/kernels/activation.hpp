// corespec/nn/kernels/activation.hpp - element-wise activations (forward and
// backward) and a row softmax, vectorised on Simd<T, Arch>.
//
// Accuracy against std:: maths (measured in tests/nn/test_activation.cpp,
// documented in docs/nn.md): the SIMD path uses xsimd's exp/expm1/log1p/
// tanh/erf, a few ulp from std::. Definitions follow PyTorch exactly
// (softplus with threshold 20, GELU "none" and "tanh").
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "corespec/core/error.hpp"
#include "corespec/nn/kernels/simd.hpp"

namespace corespec::nn {

/// An element-wise activation: kind + its one parameter (LeakyReLU's
/// negative slope, ELU's alpha). Cheap to copy, fused into GEMM epilogues.
struct Activation {
    enum class Kind { identity, relu, leaky_relu, elu, gelu, gelu_tanh, silu, tanh, sigmoid, softplus };
    Kind kind = Kind::identity;
    double alpha = 0.0;

    static Activation identity() { return {Kind::identity, 0.0}; }
    static Activation relu() { return {Kind::relu, 0.0}; }
    static Activation leaky_relu(double negative_slope = 0.01) { return {Kind::leaky_relu, negative_slope}; }
    static Activation elu(double alpha = 1.0) { return {Kind::elu, alpha}; }
    static Activation gelu() { return {Kind::gelu, 0.0}; }
    static Activation gelu_tanh() { return {Kind::gelu_tanh, 0.0}; }
    static Activation silu() { return {Kind::silu, 0.0}; }
    static Activation tanh() { return {Kind::tanh, 0.0}; }
    static Activation sigmoid() { return {Kind::sigmoid, 0.0}; }
    static Activation softplus() { return {Kind::softplus, 0.0}; }

    bool is_identity() const noexcept { return kind == Kind::identity; }

    /// Names as in the architecture JSON: "identity", "relu", "leaky_relu",
    /// "elu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid", "softplus".
    std::string name() const {
        switch (kind) {
            case Kind::identity: return "identity";
            case Kind::relu: return "relu";
            case Kind::leaky_relu: return "leaky_relu";
            case Kind::elu: return "elu";
            case Kind::gelu: return "gelu";
            case Kind::gelu_tanh: return "gelu_tanh";
            case Kind::silu: return "silu";
            case Kind::tanh: return "tanh";
            case Kind::sigmoid: return "sigmoid";
            case Kind::softplus: return "softplus";
        }
        return "identity";
    }

    /// Parses a name (see name(); "linear" and "none" mean identity) with its
    /// parameter; throws value_error for an unknown name.
    static Activation from_name(const std::string& n, double alpha = 0.0) {
        if (n == "identity" || n == "linear" || n == "none") return identity();
        if (n == "relu") return relu();
        if (n == "leaky_relu") return leaky_relu(alpha);
        if (n == "elu") return elu(alpha);
        if (n == "gelu") return gelu();
        if (n == "gelu_tanh") return gelu_tanh();
        if (n == "silu") return silu();
        if (n == "tanh") return tanh();
        if (n == "sigmoid") return sigmoid();
        if (n == "softplus") return softplus();
        throw value_error("nn::Activation: unknown activation '" + n + "'");
    }
    /// Whether the kind takes a parameter (alpha) in JSON.
    bool has_parameter() const noexcept { return kind == Kind::leaky_relu || kind == Kind::elu; }

    friend bool operator==(const Activation& a, const Activation& b) noexcept {
        return a.kind == b.kind && a.alpha == b.alpha;
    }
};

namespace kernels {

namespace detail {

template <class T, class Arch>
struct ActMath {
    using S = Simd<T, Arch>;
    using V = typename S::V;

    static V sigmoid(const V& x) noexcept { return S::set(T(1)) / (S::set(T(1)) + S::exp(-x)); }

    template <Activation::Kind Kind>
    static V forward(const V& x, const V& alpha) noexcept {
        using K = Activation::Kind;
        const V zero = S::set(T(0)), half = S::set(T(0.5)), one = S::set(T(1));
        (void)zero, (void)half, (void)one, (void)alpha;
        if constexpr (Kind == K::relu) return S::max(x, zero);
        else if constexpr (Kind == K::leaky_relu) return S::select_positive(x, x, alpha * x);
        else if constexpr (Kind == K::elu) return S::select_positive(x, x, alpha * S::expm1(x));
        else if constexpr (Kind == K::gelu) return half * x * (one + S::erf(x * S::set(T(0.70710678118654752440))));
        else if constexpr (Kind == K::gelu_tanh) {
            V u = S::set(T(0.79788456080286535588)) * S::fma(S::set(T(0.044715)) * x, x * x, x);
            return half * x * (one + S::tanh(u));
        } else if constexpr (Kind == K::silu) return x * sigmoid(x);
        else if constexpr (Kind == K::tanh) return S::tanh(x);
        else if constexpr (Kind == K::sigmoid) return sigmoid(x);
        else if constexpr (Kind == K::softplus) {  // PyTorch: x above the threshold 20 passes through
            // log1p(u) as log(w) u / (w - 1), w = 1 + u (Goldberg): exact to a
            // few ulp also for tiny u, where xsimd 8.1's log1p loses digits.
            V u = S::exp(S::min(x, S::set(T(20))));
            V w = one + u;
            V l = S::select_positive(w - one, S::log(w) * u / (w - one), u);
            return S::select_positive(x - S::set(T(20)), x, l);
        }
        else return x;
    }

    /// d f / d x given input x and output y, times g.
    static V backward(Activation::Kind kind, const V& x, const V& y, const V& g, const V& alpha) noexcept {
        using K = Activation::Kind;
        const V zero = S::set(T(0)), half = S::set(T(0.5)), one = S::set(T(1));
        switch (kind) {
            case K::identity: return g;
            case K::relu: return S::select_positive(x, g, zero);
            case K::leaky_relu: return S::select_positive(x, g, alpha * g);
            case K::elu: return S::select_positive(x, g, g * (y + alpha));
            case K::gelu: {
                V cdf = half * (one + S::erf(x * S::set(T(0.70710678118654752440))));
                V pdf = S::set(T(0.39894228040143267794)) * S::exp(S::set(T(-0.5)) * x * x);
                return g * S::fma(x, pdf, cdf);
            }
            case K::gelu_tanh: {
                const V c = S::set(T(0.79788456080286535588)), k = S::set(T(0.044715));
                V t = S::tanh(c * S::fma(k * x, x * x, x));
                V du = c * S::fma(S::set(T(3)) * k, x * x, one);
                return g * (half * (one + t) + half * x * (one - t * t) * du);
            }
            case K::silu: {
                V s = sigmoid(x);
                return g * s * S::fma(x, one - s, one);
            }
            case K::tanh: return g * (one - y * y);
            case K::sigmoid: return g * y * (one - y);
            case K::softplus: return S::select_positive(x - S::set(T(20)), g, g * sigmoid(x));
        }
        return g;
    }
};

}  // namespace detail

namespace detail {
// One loop per activation kind (the kind is a template argument, so the
// switch in ActMath folds away and the maths inlines): measured 2x on the
// conv encoder against a switch per vector.
template <class T, class Arch, Activation::Kind Kind>
void activation_loop(const T* x, T* y, std::size_t n, T alpha_value) noexcept {
    using S = Simd<T, Arch>;
    using M = ActMath<T, Arch>;
    constexpr std::size_t W = S::width;
    const auto alpha = S::set(alpha_value);
    std::size_t i = 0;
    // Four vectors per step: the transcendental functions have long
    // dependency chains, interleaving hides their latency.
    for (; i + 4 * W <= n; i += 4 * W) {
        auto a = M::template forward<Kind>(S::load(x + i), alpha);
        auto b = M::template forward<Kind>(S::load(x + i + W), alpha);
        auto c = M::template forward<Kind>(S::load(x + i + 2 * W), alpha);
        auto d = M::template forward<Kind>(S::load(x + i + 3 * W), alpha);
        S::store(y + i, a), S::store(y + i + W, b), S::store(y + i + 2 * W, c), S::store(y + i + 3 * W, d);
    }
    for (; i + W <= n; i += W) S::store(y + i, M::template forward<Kind>(S::load(x + i), alpha));
    if (i < n) {  // tail through a padded vector: same maths as the body
        alignas(64) T tmp[W] = {};
        for (std::size_t j = 0; j < n - i; ++j) tmp[j] = x[i + j];
        S::store_aligned(tmp, M::template forward<Kind>(S::load_aligned(tmp), alpha));
        for (std::size_t j = 0; j < n - i; ++j) y[i + j] = tmp[j];
    }
}
}  // namespace detail

/// y[i] = f(x[i]) for i < n (in place allowed: y may equal x).
template <class T, class Arch>
void activation_forward(const Activation& act, const T* x, T* y, std::size_t n) noexcept {
    using K = Activation::Kind;
    const T a = static_cast<T>(act.alpha);
    switch (act.kind) {
        case K::identity:
            if (x != y)
                for (std::size_t i = 0; i < n; ++i) y[i] = x[i];
            return;
        case K::relu: return detail::activation_loop<T, Arch, K::relu>(x, y, n, a);
        case K::leaky_relu: return detail::activation_loop<T, Arch, K::leaky_relu>(x, y, n, a);
        case K::elu: return detail::activation_loop<T, Arch, K::elu>(x, y, n, a);
        case K::gelu: return detail::activation_loop<T, Arch, K::gelu>(x, y, n, a);
        case K::gelu_tanh: return detail::activation_loop<T, Arch, K::gelu_tanh>(x, y, n, a);
        case K::silu: return detail::activation_loop<T, Arch, K::silu>(x, y, n, a);
        case K::tanh: return detail::activation_loop<T, Arch, K::tanh>(x, y, n, a);
        case K::sigmoid: return detail::activation_loop<T, Arch, K::sigmoid>(x, y, n, a);
        case K::softplus: return detail::activation_loop<T, Arch, K::softplus>(x, y, n, a);
    }
}

/// gx[i] = g[i] * f'(x[i]) (y = f(x) is used where cheaper: tanh, sigmoid, elu).
template <class T, class Arch>
void activation_backward(const Activation& act, const T* x, const T* y, const T* g, T* gx, std::size_t n) noexcept {
    using S = Simd<T, Arch>;
    using M = detail::ActMath<T, Arch>;
    constexpr std::size_t W = S::width;
    const auto alpha = S::set(static_cast<T>(act.alpha));
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        S::store(gx + i, M::backward(act.kind, S::load(x + i), S::load(y + i), S::load(g + i), alpha));
    if (i < n) {
        alignas(64) T tx[W] = {}, ty[W] = {}, tg[W] = {};
        for (std::size_t j = 0; j < n - i; ++j) tx[j] = x[i + j], ty[j] = y[i + j], tg[j] = g[i + j];
        S::store_aligned(tg, M::backward(act.kind, S::load_aligned(tx), S::load_aligned(ty), S::load_aligned(tg), alpha));
        for (std::size_t j = 0; j < n - i; ++j) gx[i + j] = tg[j];
    }
}

/// Softmax over each of `rows` rows of `cols` contiguous values (x may equal y).
template <class T, class Arch>
void softmax_rows(const T* x, T* y, std::size_t rows, std::size_t cols) noexcept {
    using S = Simd<T, Arch>;
    constexpr std::size_t W = S::width;
    for (std::size_t r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        T m = -INFINITY;
        for (std::size_t j = 0; j < cols; ++j) m = xr[j] > m ? xr[j] : m;
        const auto vm = S::set(m);
        auto acc = S::set(T(0));
        std::size_t j = 0;
        for (; j + W <= cols; j += W) {
            auto e = S::exp(S::load(xr + j) - vm);
            S::store(yr + j, e);
            acc = acc + e;
        }
        T sum = S::sum(acc);
        for (; j < cols; ++j) {
            T e = std::exp(xr[j] - m);
            yr[j] = e;
            sum += e;
        }
        const T inv = T(1) / sum;
        const auto vinv = S::set(inv);
        j = 0;
        for (; j + W <= cols; j += W) S::store(yr + j, S::load(yr + j) * vinv);
        for (; j < cols; ++j) yr[j] *= inv;
    }
}

}  // namespace kernels
}  // namespace corespec::nn
