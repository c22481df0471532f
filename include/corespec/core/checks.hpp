// corespec/core/checks.hpp - argument checks shared by every stage.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"

namespace corespec {

/// True when none of `values[0..count)` is NaN or infinite. For float and
/// double a branch-free test of the exponent bits, which the compiler
/// vectorises in any build (std::isfinite in a loop with an early exit does
/// not; it was 11% of an eager .hspy read); other types go through
/// std::isfinite. The one portable check (readers, steps, argument checks);
/// hot loops of the engine use the runtime-dispatched
/// nn::kernels::KernelTable::all_finite instead.
template <class T>
bool all_finite(const T* values, std::size_t count) noexcept {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
        constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
        Bits bad = 0;
        for (std::size_t k = 0; k < count; ++k) {
            Bits b;
            std::memcpy(&b, values + k, sizeof b);
            bad |= Bits((b & exponent) == exponent);
        }
        return bad == 0;
    } else {
        for (std::size_t k = 0; k < count; ++k)
            if (!std::isfinite(static_cast<double>(values[k]))) return false;
        return true;
    }
}

template <class T>
bool all_finite(span<const T> values) noexcept {
    return all_finite(values.data(), values.size());
}

/// Throws value_error naming `what` and the first offending index when any
/// value is NaN or infinite.
template <class T>
void require_finite(span<const T> values, const std::string& what) {
    if (all_finite(values)) return;  // the common case, fast; else find and name the value
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(static_cast<double>(values[i]))) {
            throw value_error(what + ": non-finite value (" + std::to_string(static_cast<double>(values[i])) +
                              ") at index " + std::to_string(i));
        }
    }
}

/// Throws value_error when `values` is empty.
template <class T>
void require_not_empty(span<const T> values, const std::string& what) {
    if (values.empty()) throw value_error(what + ": empty input");
}

}  // namespace corespec
