// corespec/nn/kernels/dispatch_impl.hpp - the definition behind ArchKernels;
// include it only in the per-architecture translation units (see dispatch.hpp).
#pragma once

#include "corespec/nn/kernels/dispatch.hpp"

namespace corespec::nn::kernels {

template <class T, class Arch>
const KernelTable<T>& ArchKernels<T, Arch>::get() noexcept {
    return table<T, Arch>();
}

}  // namespace corespec::nn::kernels
