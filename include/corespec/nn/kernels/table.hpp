// corespec/nn/kernels/table.hpp - the kernels of one architecture as a table
// of function pointers, so that layers run whatever the Workspace selects
// (compile-time best, plain C++, or a runtime-dispatched set) without knowing
// which.
#pragma once

#include <cstddef>

#include "corespec/nn/kernels/activation.hpp"
#include "corespec/nn/kernels/conv.hpp"
#include "corespec/nn/kernels/gemm.hpp"
#include "corespec/nn/kernels/optim.hpp"
#include "corespec/nn/kernels/simd.hpp"
#include "corespec/nn/workspace.hpp"

namespace corespec::nn::kernels {

template <class T>
struct KernelTable {
    const char* name;         ///< architecture name ("fma3+avx2", "sse2", "scalar", ...)
    std::size_t simd_width;   ///< elements per vector
    void (*gemm)(const GemmArgs<T>&) noexcept;
    void (*activation_forward)(const Activation&, const T*, T*, std::size_t) noexcept;
    void (*activation_backward)(const Activation&, const T*, const T*, const T*, T*, std::size_t) noexcept;
    void (*softmax_rows)(const T*, T*, std::size_t, std::size_t) noexcept;
    // The training loops (kernels/optim.hpp).
    void (*adam_update)(const AdamStep<T>&, T* p, const T* g, T* m, T* v, std::size_t n) noexcept;
    void (*sgd_update)(const SgdStep<T>&, T* p, const T* g, T* buf, std::size_t n) noexcept;
    double (*sum_squares)(const T*, std::size_t) noexcept;
    bool (*all_finite)(const T*, std::size_t) noexcept;
    void (*accumulate)(T* dst, const T* src, std::size_t n) noexcept;
    // A strided convolution's input split into its stride phases (kernels/conv.hpp).
    void (*split_phases)(const T* x, std::size_t channels, std::ptrdiff_t channel_stride, std::size_t length, std::size_t s,
                         std::size_t pad, std::size_t plen, T* dst) noexcept;
};

/// The table of architecture Arch (instantiating it compiles every kernel for Arch).
template <class T, class Arch>
const KernelTable<T>& table() noexcept {
    static constexpr KernelTable<T> t{Arch::name(),           Simd<T, Arch>::width,          &gemm<T, Arch>,
                                      &activation_forward<T, Arch>, &activation_backward<T, Arch>, &softmax_rows<T, Arch>,
                                      &adam_update<T, Arch>,   &sgd_update<T, Arch>,          &sum_squares<T, Arch>,
                                      &all_finite<T, Arch>,    &accumulate<T, Arch>,          &split_phases_for<T, Arch>};
    return t;
}

/// Plain C++ kernels (reference path; also what tests compare the SIMD path with).
template <class T>
const KernelTable<T>& scalar_table() noexcept { return table<T, scalar_arch>(); }

/// The best architecture the compiler flags allow.
template <class T>
const KernelTable<T>& best_table() noexcept { return table<T, best_arch>(); }

// Defined in the compiled kernels library (cmake/corespec_kernels.cmake,
// corespec_add_kernels; see kernels/dispatch.hpp): the best architecture
// this CPU runs, or the one CORESPEC_KERNELS names, chosen at first use.
// Throws value_error for an unknown or unsupported CORESPEC_KERNELS.
template <class T>
const KernelTable<T>& runtime_table();
const char* runtime_kernels_name();

#if defined(CORESPEC_RUNTIME_DISPATCH)
/// The kernels used when a workspace selects none: the runtime-dispatched ones.
template <class T>
const KernelTable<T>& default_table() { return runtime_table<T>(); }

/// Short name of the default kernels ("avx512", "avx2", "sse2", "neon", "scalar").
inline const char* kernels_name() { return runtime_kernels_name(); }
#else
/// The kernels used when a workspace selects none: the compile-time best.
template <class T>
const KernelTable<T>& default_table() noexcept { return best_table<T>(); }

/// Short name of the default kernels ("avx512", "avx2", "sse2", "neon", "scalar").
inline const char* kernels_name() noexcept { return arch_label<best_arch>(); }
#endif

/// The kernels a workspace selects (default_table when it selects none).
template <class T>
const KernelTable<T>& kernels_of(const Workspace<T>& ws) { return ws.kernels ? *ws.kernels : default_table<T>(); }

}  // namespace corespec::nn::kernels
