// corespec/nn/layers/detail.hpp - small helpers shared by the layers.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xsimd/memory/xsimd_aligned_allocator.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/tensor.hpp"

namespace corespec::nn::detail {

template <class T>
using aligned_vector = std::vector<T, xsimd::aligned_allocator<T, 64>>;

/// Throws shape_error unless `s` has rank `rank` and, where `dims[i]` is not
/// 0, s[i] == dims[i] (dims excludes the batch, which may be anything).
inline void require_shape(const char* context, const Shape& s, std::size_t rank,
                          std::initializer_list<std::size_t> dims) {
    bool ok = s.rank() == rank;
    std::size_t i = 1;
    for (std::size_t d : dims) {
        if (ok && d != 0 && s[i] != d) ok = false;
        ++i;
    }
    if (!ok) {
        std::vector<std::size_t> want{0};
        for (std::size_t d : dims) want.push_back(d);
        throw shape_error(std::string(context) + " input (0 = any)", want, s.to_vector());
    }
}

}  // namespace corespec::nn::detail
