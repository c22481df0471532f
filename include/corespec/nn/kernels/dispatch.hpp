// corespec/nn/kernels/dispatch.hpp - runtime choice of the kernel
// architecture, for one binary that runs well on several CPUs.
//
// The header-only default uses the best architecture the compiler flags
// allow (best_table). Every binary corespec builds, and any consumer that
// asks for it, links the compiled kernels library instead:
//
//   corespec_add_kernels(my_app)   # CMake, see cmake/corespec_kernels.cmake
//
// which compiles one small translation unit per architecture
// (cmake/kernels/arch_unit.cpp: SSE2, AVX2+FMA, AVX-512 on x86-64; NEON on
// aarch64; scalar everywhere), each with its own flags, and defines
// CORESPEC_RUNTIME_DISPATCH so that kernels_of / default_table return the
// best table this CPU runs (runtime_table<T>(), chosen once, at first use).
// The environment variable CORESPEC_KERNELS=avx512|avx2|sse2|neon|scalar
// forces one (a lower one, for tests or bit-reproducible runs across
// machines); an unknown or unsupported value throws value_error.
//
// The functions below the ArchKernels template are defined in that library
// (cmake/kernels/dispatch.cpp): a program that calls them must use
// corespec_add_kernels. docs/nn.md tells how to add a kernel family.
//
// dispatched_table<T, ArchList>() is the header-only building block for a
// hand-made list: every listed Arch must be instantiated (ArchKernels, via
// dispatch_impl.hpp) in a translation unit compiled for it.
#pragma once

#include <string>
#include <vector>

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

// --- defined in the compiled kernels library (corespec_add_kernels) ---

/// The architectures compiled into the kernels library that this CPU runs,
/// best first, by short name (e.g. {"avx2", "sse2", "scalar"}).
std::vector<std::string> runtime_architectures();

/// The label a CORESPEC_KERNELS value selects: null or empty means the best
/// of runtime_architectures(). Throws value_error, naming the value and the
/// choices, for an unknown name or one this binary or CPU cannot run.
std::string resolve_kernels(const char* request);

/// The kernels of one of runtime_architectures() (throws value_error otherwise).
template <class T>
const KernelTable<T>& runtime_table(const std::string& label);

}  // namespace corespec::nn::kernels
