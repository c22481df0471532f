// corespec/prep/detail/polyfit.hpp - forwarding header: the polynomial fit is
// shared numerics, in corespec/core/numeric/polyfit.hpp (numeric::polyfit).
#pragma once

#include "corespec/core/numeric/polyfit.hpp"

namespace corespec::prep::detail {
using numeric::polyfit;
}  // namespace corespec::prep::detail
