// corespec/core/status.hpp - the per-pixel outcome shared by every step.
//
// Operations on many spectra never fail a whole image for one bad pixel:
// each spectrum gets a PixelStatus beside its result (DESIGN.md, "per-pixel
// status"). Every step of a recipe reports in this one type; the older
// per-algorithm enums (prep::Status, prep::EdgeStatus, prep::BackgroundStatus)
// map onto it (corespec/steps/steps.hpp, to_pixel_status).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace corespec {

enum class PixelStatus : std::uint8_t {
    ok = 0,
    non_finite,    ///< NaN or Inf in the input (or an intermediate result)
    constant,      ///< all values equal where a range is needed (normalisation)
    zero_divisor,  ///< a normalising divisor is zero or not finite
    empty_window,  ///< a fit window holds only zeros (a pixel outside the specimen)
    non_positive,  ///< a logarithm of a non-positive sum, value or energy was needed
    fit_failed,    ///< an iterative fit did not converge
    no_edge,       ///< no significant absorption edge
    bad_window,    ///< too few points in a fit window, or a window outside this spectrum
    out_of_range,  ///< a shift or reference energy puts the output outside the input
    outlier,       ///< a few channels (a spike) dominate a fit window: no fit to stand behind
};

inline const char* to_string(PixelStatus s) noexcept {
    switch (s) {
        case PixelStatus::ok: return "ok";
        case PixelStatus::non_finite: return "non_finite";
        case PixelStatus::constant: return "constant";
        case PixelStatus::zero_divisor: return "zero_divisor";
        case PixelStatus::empty_window: return "empty_window";
        case PixelStatus::non_positive: return "non_positive";
        case PixelStatus::fit_failed: return "fit_failed";
        case PixelStatus::no_edge: return "no_edge";
        case PixelStatus::bad_window: return "bad_window";
        case PixelStatus::out_of_range: return "out_of_range";
        case PixelStatus::outlier: return "outlier";
    }
    return "unknown";
}

/// How many entries of `status` equal `s`.
inline std::size_t count(const std::vector<PixelStatus>& status, PixelStatus s) noexcept {
    return static_cast<std::size_t>(std::count(status.begin(), status.end(), s));
}

}  // namespace corespec
