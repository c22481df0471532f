// The per-architecture translation unit of the runtime-dispatch test:
// tests/CMakeLists.txt compiles this file alone with -mavx2 -mfma on x86-64
// (CORESPEC_NN_TEST_AVX2_TU); the baseline SSE2 kernels come from here too.
#include "corespec/nn/kernels/dispatch_impl.hpp"

#if defined(__x86_64__) || defined(_M_X64)
template struct corespec::nn::kernels::ArchKernels<float, xsimd::sse2>;
template struct corespec::nn::kernels::ArchKernels<double, xsimd::sse2>;
#if defined(CORESPEC_NN_TEST_AVX2_TU)
#if !(defined(__AVX2__) && defined(__FMA__))
#error "test_dispatch_arch.cpp must be compiled with -mavx2 -mfma"
#endif
template struct corespec::nn::kernels::ArchKernels<float, xsimd::fma3<xsimd::avx2>>;
template struct corespec::nn::kernels::ArchKernels<double, xsimd::fma3<xsimd::avx2>>;
#endif
#endif
