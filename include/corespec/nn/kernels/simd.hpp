// corespec/nn/kernels/simd.hpp - one vocabulary for the SIMD and the plain
// C++ kernel paths.
//
// Kernels are templates on the scalar type T and an architecture tag Arch.
// Arch is an xsimd architecture (xsimd::avx2, xsimd::fma3<xsimd::avx2>, ...)
// or corespec::nn::kernels::scalar_arch (xsimd 8.1 has no scalar batch), and
// kernels only use the operations of Simd<T, Arch>, so the same kernel source
// runs on both paths and the tests compare them.
#pragma once

#include <cmath>
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace corespec::nn::kernels {

/// The plain C++ path: one element per "vector", std:: maths.
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

/// The architecture the compiler flags allow (e.g. fma3<avx2> with -march=haswell).
using best_arch = xsimd::default_arch;

template <class T, class Arch>
struct Simd {
    using V = xsimd::batch<T, Arch>;
    static constexpr std::size_t width = V::size;
    static V load(const T* p) noexcept { return V::load_unaligned(p); }
    static V load_aligned(const T* p) noexcept { return V::load_aligned(p); }
    static void store(T* p, const V& v) noexcept { v.store_unaligned(p); }
    static void store_aligned(T* p, const V& v) noexcept { v.store_aligned(p); }
    static V set(T x) noexcept { return V(x); }
    static V fma(const V& a, const V& b, const V& c) noexcept { return xsimd::fma(a, b, c); }
    static V max(const V& a, const V& b) noexcept { return xsimd::max(a, b); }
    static V min(const V& a, const V& b) noexcept { return xsimd::min(a, b); }
    static V abs(const V& a) noexcept { return xsimd::abs(a); }
    static V exp(const V& a) noexcept { return xsimd::exp(a); }
    static V expm1(const V& a) noexcept { return xsimd::expm1(a); }
    static V log1p(const V& a) noexcept { return xsimd::log1p(a); }
    static V log(const V& a) noexcept { return xsimd::log(a); }
    static V tanh(const V& a) noexcept { return xsimd::tanh(a); }
    static V erf(const V& a) noexcept { return xsimd::erf(a); }
    static V sqrt(const V& a) noexcept { return xsimd::sqrt(a); }
    /// a > 0 ? b : c
    static V select_positive(const V& a, const V& b, const V& c) noexcept { return xsimd::select(a > V(T(0)), b, c); }
    static T sum(const V& a) noexcept { return xsimd::hadd(a); }
    static T reduce_max(const V& a) noexcept {
        alignas(64) T tmp[width];
        a.store_aligned(tmp);
        T m = tmp[0];
        for (std::size_t i = 1; i < width; ++i) m = tmp[i] > m ? tmp[i] : m;
        return m;
    }
};

template <class T>
struct Simd<T, scalar_arch> {
    using V = T;
    static constexpr std::size_t width = 1;
    static V load(const T* p) noexcept { return *p; }
    static V load_aligned(const T* p) noexcept { return *p; }
    static void store(T* p, V v) noexcept { *p = v; }
    static void store_aligned(T* p, V v) noexcept { *p = v; }
    static V set(T x) noexcept { return x; }
    // a * b + c, not std::fma: without hardware FMA std::fma is a slow library call.
    static V fma(V a, V b, V c) noexcept { return a * b + c; }
    static V max(V a, V b) noexcept { return a > b ? a : b; }
    static V min(V a, V b) noexcept { return a < b ? a : b; }
    static V abs(V a) noexcept { return std::abs(a); }
    static V exp(V a) noexcept { return std::exp(a); }
    static V expm1(V a) noexcept { return std::expm1(a); }
    static V log1p(V a) noexcept { return std::log1p(a); }
    static V log(V a) noexcept { return std::log(a); }
    static V tanh(V a) noexcept { return std::tanh(a); }
    static V erf(V a) noexcept { return std::erf(a); }
    static V sqrt(V a) noexcept { return std::sqrt(a); }
    static V select_positive(V a, V b, V c) noexcept { return a > T(0) ? b : c; }
    static T sum(V a) noexcept { return a; }
    static T reduce_max(V a) noexcept { return a; }
};

/// Human-readable name of an architecture tag.
template <class Arch>
constexpr const char* arch_name() noexcept { return Arch::name(); }

/// The short name the tools print and CORESPEC_KERNELS takes: "avx512",
/// "avx2", "sse2", "neon", "scalar" (or xsimd's name for anything else).
template <class Arch>
constexpr const char* arch_label() noexcept {
    if (std::is_base_of<xsimd::avx512bw, Arch>::value) return "avx512";
    if (std::is_base_of<xsimd::avx2, Arch>::value) return "avx2";
    if (std::is_same<xsimd::sse2, Arch>::value) return "sse2";
    if (std::is_base_of<xsimd::neon64, Arch>::value) return "neon";
    return Arch::name();
}

}  // namespace corespec::nn::kernels
