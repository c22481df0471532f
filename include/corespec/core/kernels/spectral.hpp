// corespec/core/kernels/spectral.hpp - the hot loops of prep/ and align/ as a
// table of function pointers per architecture, so that a binary built for the
// baseline (no -march) runs the widest SIMD its CPU has.
//
//   power_law_subtract_f/_d  out = in - exp(c - r l): the EELS power-law
//                            background subtraction (prep/eels_background.hpp)
//   dot                      the cross-correlation's inner loop (align/shift.hpp)
//   lerp_f/_d                linear interpolation at one fractional offset for
//                            a whole spectrum: the ZLP shift (align/zero_loss.hpp)
//
// Same pattern as nn/kernels (docs/nn.md, "adding a kernel family"): kernels
// are templates on an architecture tag (an xsimd arch, or scalar_arch), the
// header-only default is the compile-time best (default_spectral_table), and
// under CORESPEC_RUNTIME_DISPATCH (corespec_add_kernels) it is the table the
// compiled kernels library chose at start-up: the architecture the nn kernels
// run (one choice, one label, CORESPEC_KERNELS forces both).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace corespec::kernels {

/// Tag of the plain C++ path (xsimd 8.1 has no scalar batch).
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

#ifdef XSIMD_NO_SUPPORTED_ARCHITECTURE
using best_spectral_arch = scalar_arch;
#else
using best_spectral_arch = xsimd::default_arch;  ///< what the compiler flags allow
#endif

struct SpectralKernels {
    const char* name;  ///< xsimd's architecture name ("avx512bw", "fma3+avx2", "sse2", "scalar", ...)
    /// out[i] = in[i] - 2^(c - r l[i]) (l: log2 of E / E_ref); out may be in.
    void (*power_law_subtract_f)(const float* in, float* out, const float* l, std::size_t n, float c, float r) noexcept;
    /// out[i] = in[i] - e^(c - r l[i]) (l: ln of E / E_ref); out may be in.
    void (*power_law_subtract_d)(const double* in, double* out, const double* l, std::size_t n, double c,
                                 double r) noexcept;
    /// sum of a[i] b[i], i < n.
    double (*dot)(const double* a, const double* b, std::size_t n) noexcept;
    /// out[j] = in[j] + t (in[j + 1] - in[j]), j < n (reads n + 1 values).
    void (*lerp_f)(const float* in, float* out, std::size_t n, double t) noexcept;
    void (*lerp_d)(const double* in, double* out, std::size_t n, double t) noexcept;
};

namespace spectral_detail {

template <class Arch>
constexpr bool is_simd = !std::is_same<Arch, scalar_arch>::value;

// float power law: 2^t = 2^k 2^f with k = round(t), f in [-1/2, 1/2], 2^f by
// a degree-5 minimax polynomial (relative error < 2.4e-7 in float, about
// 2 ulp; t is finite here, so no NaN handling). 10 vector operations per
// batch with AVX-512 (270 ns per 2048-channel spectrum from L2, 420 ns with
// the former degree-6 exp), where vscalefps makes 2^k p in one instruction and
// saturates to inf / 0; elsewhere t is clamped to [-126, 126] for the
// exponent-bits trick. Memory-bound on large images, compute-bound from
// cache (docs/benchmarks.md). Measure before changing.
template <class Arch>
constexpr bool uses_scalef = std::is_base_of<xsimd::avx512f, Arch>::value;

// The maskz forms avoid GCC's -Wmaybe-uninitialized on _mm512_undefined_ps
// in the plain intrinsics.
template <class B>
B round_nearest(B t) noexcept {
#if defined(__AVX512F__)
    if constexpr (uses_scalef<typename B::arch_type>)
        return B(_mm512_maskz_roundscale_ps(0xFFFF, t, _MM_FROUND_TO_NEAREST_INT));
#endif
    return xsimd::nearbyint(t);
}

template <class B>
B times_exp2(B p, B k) noexcept {  // p * 2^k for integral k (|k| <= 126 unless scalef)
#if defined(__AVX512F__)
    if constexpr (uses_scalef<typename B::arch_type>) return B(_mm512_maskz_scalef_ps(0xFFFF, p, k));
#endif
    using I = xsimd::batch<std::int32_t, typename B::arch_type>;
    return p * xsimd::bitwise_cast<B>((xsimd::to_int(k) + I(127)) << 23);
}

template <class Arch>
void power_law_subtract_f(const float* in, float* out, const float* l, std::size_t n, float c, float r) noexcept {
    std::size_t i = 0;
    if constexpr (is_simd<Arch>) {
        using B = xsimd::batch<float, Arch>;
        const B vc(c), vr(r);
        for (; i + B::size <= n; i += B::size) {
#if defined(__GNUC__)
            // 4 KiB ahead, into the next spectrum near the end: the hardware
            // prefetcher restarts at every page and spectrum (+20-40 % on a
            // 256 x 256 x 2048 image). Integer addresses: may point past the data.
            __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(in + i) + 4096));
            __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(out + i) + 4096), 1);
#endif
            B t = xsimd::fnma(vr, B::load_unaligned(l + i), vc);
            if constexpr (!uses_scalef<Arch>) t = xsimd::clip(t, B(-126.0f), B(126.0f));
            const B k = round_nearest(t);
            const B f = t - k;
            B p = xsimd::fma(B(1.32764725e-3f), f, B(9.67554189e-3f));
            p = xsimd::fma(p, f, B(5.55071309e-2f));
            p = xsimd::fma(p, f, B(2.40221202e-1f));
            p = xsimd::fma(p, f, B(6.93146944e-1f));
            p = xsimd::fma(p, f, B(1.00000012f));
            (B::load_unaligned(in + i) - times_exp2(p, k)).store_unaligned(out + i);
        }
    }
    for (; i < n; ++i) out[i] = in[i] - std::exp2(c - r * l[i]);
}

// double: xsimd::exp over natural log-energies (full double accuracy).
template <class Arch>
void power_law_subtract_d(const double* in, double* out, const double* l, std::size_t n, double c, double r) noexcept {
    std::size_t i = 0;
    if constexpr (is_simd<Arch>) {
        using B = xsimd::batch<double, Arch>;
        const B vc(c), vr(r);
        for (; i + B::size <= n; i += B::size)
            (B::load_unaligned(in + i) - xsimd::exp(xsimd::fnma(vr, B::load_unaligned(l + i), vc))).store_unaligned(out + i);
    }
    for (; i < n; ++i) out[i] = in[i] - std::exp(c - r * l[i]);
}

// Two accumulators: the loop is latency-bound on one FMA chain.
template <class Arch>
double dot(const double* a, const double* b, std::size_t n) noexcept {
    std::size_t i = 0;
    double s = 0.0;
    if constexpr (is_simd<Arch>) {
        using B = xsimd::batch<double, Arch>;
        B acc0(0.0), acc1(0.0);
        for (; i + 2 * B::size <= n; i += 2 * B::size) {
            acc0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
            acc1 = xsimd::fma(B::load_unaligned(a + i + B::size), B::load_unaligned(b + i + B::size), acc1);
        }
        s = xsimd::hadd(acc0 + acc1);
    }
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// float is interpolated in float on the SIMD path (half the bandwidth of a
// double round trip; relative difference to the double formula < 1e-7).
template <class Arch, class T>
void lerp(const T* in, T* out, std::size_t n, double t) noexcept {
    std::size_t j = 0;
    if constexpr (is_simd<Arch>) {
        using B = xsimd::batch<T, Arch>;
        const B vt(static_cast<T>(t));
        for (; j + B::size <= n; j += B::size) {
            const B y0 = B::load_unaligned(in + j), y1 = B::load_unaligned(in + j + 1);
            xsimd::fma(vt, y1 - y0, y0).store_unaligned(out + j);
        }
    }
    for (; j < n; ++j) {
        const double y0 = static_cast<double>(in[j]), y1 = static_cast<double>(in[j + 1]);
        out[j] = static_cast<T>(y0 + t * (y1 - y0));
    }
}

}  // namespace spectral_detail

/// The table of architecture Arch (instantiating it compiles every kernel for Arch).
template <class Arch>
const SpectralKernels& spectral_table() noexcept {
    namespace d = spectral_detail;
    static constexpr SpectralKernels t{Arch::name(),         &d::power_law_subtract_f<Arch>, &d::power_law_subtract_d<Arch>,
                                       &d::dot<Arch>,        &d::lerp<Arch, float>,          &d::lerp<Arch, double>};
    return t;
}

/// The table of Arch, compiled in a translation unit built for Arch: get()
/// is defined in spectral_impl.hpp and instantiated in the per-architecture
/// units of the kernels library (cmake/kernels/arch_unit.cpp).
template <class Arch>
struct SpectralArch {
    static const SpectralKernels& get() noexcept;
};

// Defined in the compiled kernels library (corespec_add_kernels): the table
// of the architecture the library chose (nn::kernels::runtime_kernels_name,
// CORESPEC_KERNELS forces it), or of one of nn::kernels::runtime_architectures()
// by label (throws value_error for any other).
const SpectralKernels& runtime_spectral_table();
const SpectralKernels& runtime_spectral_table(const std::string& label);

#if defined(CORESPEC_RUNTIME_DISPATCH)
/// The spectral kernels prep/ and align/ run: the runtime-dispatched ones.
inline const SpectralKernels& default_spectral_table() { return runtime_spectral_table(); }
#else
/// The spectral kernels prep/ and align/ run: the compile-time best.
inline const SpectralKernels& default_spectral_table() noexcept { return spectral_table<best_spectral_arch>(); }
#endif

}  // namespace corespec::kernels
