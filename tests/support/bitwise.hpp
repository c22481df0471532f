// Test support: bitwise comparison of results.
#pragma once

#include <cstddef>
#include <cstring>

namespace corespec_test {

/// Bitwise equality of n values, NaN == NaN (failed pixels are NaN on both sides).
template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
    return std::memcmp(a, b, n * sizeof(T)) == 0;
}

}  // namespace corespec_test
