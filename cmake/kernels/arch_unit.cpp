// One architecture's kernels, compiled once per architecture by
// corespec_add_kernels (cmake/corespec_kernels.cmake) with that
// architecture's flags and one of CORESPEC_KERNELS_UNIT_SSE2 / _AVX2 /
// _AVX512 / _NEON defined. Keep this file minimal (kernel headers only):
// inline functions it emits are compiled with its flags.
//
// Adding a kernel family (e.g. the EELS power-law exp, resampling, ZLP
// alignment): give it a table template on <T, Arch> like nn's ArchKernels,
// include its header below and instantiate it for CORESPEC_KERNELS_ARCH;
// then look it up in dispatch.cpp by the same label (docs/nn.md).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_* feeding
// masked intrinsics, GCC bug 105593); nothing in corespec is uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <corespec/nn/kernels/dispatch_impl.hpp>
#include <corespec/core/kernels/spectral_impl.hpp>

#if defined(CORESPEC_KERNELS_UNIT_AVX512)
#if !(defined(__AVX512F__) && defined(__AVX512CD__) && defined(__AVX512DQ__) && defined(__AVX512BW__))
#error "the AVX-512 kernels unit needs -mavx512f -mavx512cd -mavx512dq -mavx512bw"
#endif
#define CORESPEC_KERNELS_ARCH xsimd::avx512bw
#elif defined(CORESPEC_KERNELS_UNIT_AVX2)
#if !(defined(__AVX2__) && defined(__FMA__))
#error "the AVX2 kernels unit needs -mavx2 -mfma"
#endif
#define CORESPEC_KERNELS_ARCH xsimd::fma3<xsimd::avx2>
#elif defined(CORESPEC_KERNELS_UNIT_SSE2)
#define CORESPEC_KERNELS_ARCH xsimd::sse2
#elif defined(CORESPEC_KERNELS_UNIT_NEON)
#define CORESPEC_KERNELS_ARCH xsimd::neon64
#else
#error "define one of CORESPEC_KERNELS_UNIT_SSE2 / _AVX2 / _AVX512 / _NEON"
#endif

template struct corespec::nn::kernels::ArchKernels<float, CORESPEC_KERNELS_ARCH>;
template struct corespec::nn::kernels::ArchKernels<double, CORESPEC_KERNELS_ARCH>;
template struct corespec::kernels::SpectralArch<CORESPEC_KERNELS_ARCH>;  // prep/ and align/ hot loops
