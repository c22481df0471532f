// The AVX-512 translation unit of the runtime-dispatch test: tests/CMakeLists.txt
// compiles this file alone with -mavx512f -mavx512cd -mavx512dq -mavx512bw
// -mavx512vl -mavx2 -mfma on x86-64 (CORESPEC_NN_TEST_AVX512_TU), so that the
// AVX-512 kernels (two-panel register tiles) run under the same tests as the
// others on CPUs that have it, whatever flags the rest of the tests use.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_* feeding
// masked intrinsics, GCC bug 105593); nothing in corespec is uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "corespec/nn/kernels/dispatch_impl.hpp"

#if defined(CORESPEC_NN_TEST_AVX512_TU)
#if !(defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512CD__))
#error "test_dispatch_avx512.cpp must be compiled with -mavx512f -mavx512cd -mavx512dq -mavx512bw"
#endif
template struct corespec::nn::kernels::ArchKernels<float, xsimd::avx512bw>;
template struct corespec::nn::kernels::ArchKernels<double, xsimd::avx512bw>;
#endif
