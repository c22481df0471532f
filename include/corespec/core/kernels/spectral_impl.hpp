// corespec/core/kernels/spectral_impl.hpp - the definition behind SpectralArch;
// include it only in the per-architecture translation units (cmake/kernels/arch_unit.cpp).
#pragma once

#include "corespec/core/kernels/spectral.hpp"

namespace corespec::kernels {

template <class Arch>
const SpectralKernels& SpectralArch<Arch>::get() noexcept {
    return spectral_table<Arch>();
}

}  // namespace corespec::kernels
