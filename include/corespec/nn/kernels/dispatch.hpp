// corespec/nn/kernels/dispatch.hpp - opt-in runtime choice of the kernel
// architecture, for one binary that runs well on several CPUs.
//
// The default build uses the best architecture the compiler flags allow
// (best_table). For a portable binary compiled for a baseline (e.g. x86-64 /
// SSE2), add one small translation unit per extra architecture, compiled
// with that architecture's flags, which instantiates its kernels:
//
//   // kernels_avx2.cpp, compiled with -mavx2 -mfma
//   #include <corespec/nn/kernels/dispatch_impl.hpp>
//   template struct corespec::nn::kernels::ArchKernels<float, xsimd::fma3<xsimd::avx2>>;
//
// and at run time pick the best one the CPU supports (xsimd::dispatch walks
// the list, best first; the list must end with an architecture every target
// CPU has, and every listed one must be instantiated somewhere):
//
//   using Archs = xsimd::arch_list<xsimd::fma3<xsimd::avx2>, xsimd::sse2>;
//   ws.kernels = &corespec::nn::kernels::dispatched_table<float, Archs>();
//
// Keep the per-architecture TU minimal (only this header and
// dispatch_impl.hpp): inline functions it emits are compiled with its flags.
#pragma once

#include <xsimd/xsimd.hpp>

#include "corespec/nn/kernels/table.hpp"

namespace corespec::nn::kernels {

/// The kernels of architecture Arch. get() is defined in dispatch_impl.hpp
/// and instantiated explicitly in a translation unit compiled for Arch.
template <class T, class Arch>
struct ArchKernels {
    static const KernelTable<T>& get() noexcept;
};

namespace detail {
template <class T>
struct TablePicker {
    template <class Arch>
    const KernelTable<T>* operator()(Arch) const noexcept {
        return &ArchKernels<T, Arch>::get();
    }
};
}  // namespace detail

/// The table of the best architecture in ArchList that this CPU (and OS)
/// supports. Cheap enough to call per model load; keep the pointer.
template <class T, class ArchList>
const KernelTable<T>& dispatched_table() noexcept {
    return *xsimd::dispatch<ArchList>(detail::TablePicker<T>{})();
}

}  // namespace corespec::nn::kernels
