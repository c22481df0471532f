// corespec/core/checks.hpp - argument checks shared by every stage.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"

namespace corespec {

/// Throws value_error naming `what` and the first offending index when any
/// value is NaN or infinite.
template <class T>
void require_finite(span<const T> values, const std::string& what) {
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
