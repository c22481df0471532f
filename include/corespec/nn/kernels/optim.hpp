// corespec/nn/kernels/optim.hpp - the training loops' element-wise kernels:
// the Adam and SGD updates and the sums of squares and finiteness checks of
// gradients, templates on <T, Arch> like the GEMM so that runtime dispatch
// (KernelTable) runs them with the CPU's widest vectors.
//
// Every element sees the same maths whatever the block split (the tail goes
// through zero-padded vectors), and the sums add 16 interleaved partial sums
// in a fixed order, so results do not depend on how a caller splits arrays.
#pragma once

#include <cstddef>
#include <limits>

#include "corespec/nn/kernels/simd.hpp"

namespace corespec::nn::kernels {

/// One Adam / AdamW step's constants (see train::Adam):
///   (coupled)   g += weight_decay p       (decoupled)  p *= decay
///   m = beta1 m + c1 g;  v = beta2 v + c2 g^2;  p -= step m / (sqrt(v) + eps_bc2)
template <class T>
struct AdamStep {
    T beta1, beta2, c1, c2, weight_decay, step, eps_bc2, decay;
    bool coupled, decoupled;
};

/// One SGD step's constants (see train::Sgd): g += weight_decay p (decay);
/// buf = first ? g : momentum buf + damp g; g = nesterov ? g + momentum buf : buf;
/// p -= lr g. `buf` null: no momentum.
template <class T>
struct SgdStep {
    T lr, weight_decay, momentum, damp;
    bool decay, first_step, nesterov;
};

namespace detail {

/// Calls f(p, g, s0, s1) with pointers to each whole vector of the arrays
/// (s0, s1: optional state arrays, null if absent), then once for the tail
/// through zero-padded copies, so that every element sees the same maths.
template <class T, class Arch, class F>
void for_each_vector(T* p, const T* g, T* s0, T* s1, std::size_t n, F&& f) {
    constexpr std::size_t W = Simd<T, Arch>::width;
    std::size_t i = 0;
    for (; i + W <= n; i += W) f(p + i, g + i, s0 ? s0 + i : nullptr, s1 ? s1 + i : nullptr);
    if (i == n) return;
    alignas(64) T tp[W] = {}, tg[W] = {}, t0[W] = {}, t1[W] = {};
    const std::size_t r = n - i;
    for (std::size_t j = 0; j < r; ++j) {
        tp[j] = p[i + j], tg[j] = g[i + j];
        if (s0) t0[j] = s0[i + j];
        if (s1) t1[j] = s1[i + j];
    }
    f(tp, tg, s0 ? t0 : nullptr, s1 ? t1 : nullptr);
    for (std::size_t j = 0; j < r; ++j) {
        p[i + j] = tp[j];
        if (s0) s0[i + j] = t0[j];
        if (s1) s1[i + j] = t1[j];
    }
}

/// x, or zero where |x| is below the smallest normal number (NaN stays NaN):
/// denormal moments no longer move a weight and cost ~100 cycles each.
template <class T, class Arch>
typename Simd<T, Arch>::V flush_denormal(const typename Simd<T, Arch>::V& x) noexcept {
    using S = Simd<T, Arch>;
    return S::select_positive(S::set(std::numeric_limits<T>::min()) - S::abs(x), S::set(T(0)), x);
}

/// Sum of term(x[i]) in 16 interleaved partial sums of type Acc: independent
/// chains the compiler vectorises (with the unit's flags), added in a fixed
/// order (reproducible, the same on every architecture).
template <class Acc, class T, class Term>
Acc interleaved_sum(const T* x, std::size_t n, Term term) noexcept {
    constexpr std::size_t L = 16;
    Acc acc[L] = {};
    std::size_t i = 0;
    for (; i + L <= n; i += L)
        for (std::size_t j = 0; j < L; ++j) acc[j] += term(x[i + j]);
    for (std::size_t j = 0; i + j < n; ++j) acc[j] += term(x[i + j]);
    Acc s = 0;
    for (Acc a : acc) s += a;
    return s;
}

}  // namespace detail

template <class T, class Arch>
void adam_update(const AdamStep<T>& a, T* p, const T* g, T* m, T* v, std::size_t n) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    const V b1 = S::set(a.beta1), b2 = S::set(a.beta2), c1 = S::set(a.c1), c2 = S::set(a.c2), wd = S::set(a.weight_decay),
            step = S::set(a.step), eps_bc2 = S::set(a.eps_bc2), decay = S::set(a.decay);
    detail::for_each_vector<T, Arch>(p, g, m, v, n, [&](T* pp, const T* gp, T* mp, T* vp) {
        V pv = S::load(pp), d = S::load(gp);
        if (a.decoupled) pv = pv * decay;
        if (a.coupled) d = d + wd * pv;
        const V mv = detail::flush_denormal<T, Arch>(b1 * S::load(mp) + c1 * d);
        const V vv = detail::flush_denormal<T, Arch>(b2 * S::load(vp) + c2 * d * d);
        S::store(mp, mv);
        S::store(vp, vv);
        S::store(pp, pv - step * mv / (S::sqrt(vv) + eps_bc2));
    });
}

template <class T, class Arch>
void sgd_update(const SgdStep<T>& a, T* p, const T* g, T* buf, std::size_t n) noexcept {
    using S = Simd<T, Arch>;
    using V = typename S::V;
    const V lr = S::set(a.lr), wd = S::set(a.weight_decay), mom = S::set(a.momentum), damp = S::set(a.damp);
    detail::for_each_vector<T, Arch>(p, g, buf, nullptr, n, [&](T* pp, const T* gp, T* bp, T*) {
        V pv = S::load(pp), d = S::load(gp);
        if (a.decay) d = d + wd * pv;
        if (bp) {
            const V b = a.first_step ? d : detail::flush_denormal<T, Arch>(mom * S::load(bp) + damp * d);
            S::store(bp, b);
            d = a.nesterov ? d + mom * b : b;
        }
        S::store(pp, pv - lr * d);
    });
}

/// Sum of x[i]^2 in double.
template <class T, class Arch>
double sum_squares(const T* x, std::size_t n) noexcept {
    return detail::interleaved_sum<double>(x, n, [](T v) { return static_cast<double>(v) * static_cast<double>(v); });
}

/// Whether all n values are finite: x * 0 is +-0 for finite x and NaN for
/// NaN and infinities, so the sum is 0 exactly when all are finite.
template <class T, class Arch>
bool all_finite(const T* x, std::size_t n) noexcept {
    return detail::interleaved_sum<T>(x, n, [](T v) { return v * T(0); }) == T(0);
}

/// dst[i] += src[i] (summing the threads' gradients).
template <class T, class Arch>
void accumulate(T* dst, const T* src, std::size_t n) noexcept {
    using S = Simd<T, Arch>;
    constexpr std::size_t W = S::width;
    std::size_t i = 0;
    for (; i + W <= n; i += W) S::store(dst + i, S::load(dst + i) + S::load(src + i));
    for (; i < n; ++i) dst[i] += src[i];
}

}  // namespace corespec::nn::kernels
