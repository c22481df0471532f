// corespec/prep/normalize.hpp - intensity normalisation of one spectrum or
// of every pixel of a block / spectrum image.
//
//   min_max : (y - min) / (max - min)        -> [0, 1] (the reference studies, per edge)
//   max     : y / max(y)                     (pymatgen XAS.normalize("max"))
//   area    : y / integral y dE (trapezoid on the energy axis, any spacing)
//   sum     : y / sum(y)                     (pymatgen XAS.normalize("sum"))
//
// A constant spectrum carries no intensity information: every kind rejects
// it (value_error for one spectrum, Status::constant for a pixel), as it
// rejects non-finite input and a divisor it cannot stand behind: zero,
// non-finite, subnormal (a spectrum of denormal values, whose few significant
// bits make any ratio noise) or so small that a result overflows the type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/grid/spectrum.hpp"

namespace corespec::prep {

enum class NormKind { min_max, max, area, sum };

/// Per-spectrum outcome when many spectra are normalised at once.
enum class Status : unsigned char {
    ok = 0,
    non_finite,    ///< NaN or Inf in the input; values left unchanged
    constant,      ///< all values equal; values left unchanged
    zero_divisor,  ///< divisor zero, non-finite, subnormal or overflowing the result; values left unchanged
};

inline const char* to_string(Status s) noexcept {
    switch (s) {
        case Status::ok: return "ok";
        case Status::non_finite: return "non-finite input";
        case Status::constant: return "constant spectrum";
        case Status::zero_divisor: return "zero, non-finite or too small divisor";
    }
    return "unknown";
}

namespace detail {

/// Normalises `y` on `axis` in place; returns the status (y untouched unless ok).
template <class T>
Status normalize_in_place(span<T> y, const grid::EnergyAxis& axis, NormKind kind) {
    const std::size_t n = y.size();
    if (n == 0) return Status::constant;
    double lo = static_cast<double>(y[0]), hi = lo;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(y[i]);
        if (!std::isfinite(v)) return Status::non_finite;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    if (!(hi > lo)) return Status::constant;
    // Every value subnormal in T: too few significant bits to normalise.
    if (std::max(std::abs(lo), std::abs(hi)) < static_cast<double>(std::numeric_limits<T>::min()))
        return Status::zero_divisor;
    double shift = 0.0, div = 1.0;
    switch (kind) {
        case NormKind::min_max:
            shift = lo;
            div = hi - lo;
            break;
        case NormKind::max: div = hi; break;
        case NormKind::sum: {
            div = 0.0;
            for (std::size_t i = 0; i < n; ++i) div += static_cast<double>(y[i]);
            break;
        }
        case NormKind::area: {
            div = 0.0;
            for (std::size_t i = 1; i < n; ++i)
                div += 0.5 * (static_cast<double>(y[i]) + static_cast<double>(y[i - 1])) *
                       (axis.energy(i) - axis.energy(i - 1));
            break;
        }
    }
    if (!(std::isfinite(div) && std::abs(div) >= std::numeric_limits<double>::min())) return Status::zero_divisor;
    const double inv = 1.0 / div;
    // The largest |result| must be finite in T (max or sum of a spectrum with
    // a tiny positive max and a large negative min overflows, in float first).
    const double largest = std::max(std::abs(lo - shift), std::abs(hi - shift)) * std::abs(inv);
    if (!(largest <= static_cast<double>(std::numeric_limits<T>::max()))) return Status::zero_divisor;
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>((static_cast<double>(y[i]) - shift) * inv);
    return Status::ok;
}

}  // namespace detail

/// The normalisation as a step: one kind, applied to a spectrum or a block.
struct Normalize {
    NormKind kind = NormKind::min_max;

    /// In place on one spectrum. Throws value_error (constant, non-finite,
    /// zero divisor) naming the cause.
    template <class T>
    void apply(const grid::SpectrumView<T>& s) const {
        const Status st = detail::normalize_in_place(s.values, *s.axis, kind);
        if (st != Status::ok) throw value_error(std::string("normalize: ") + to_string(st));
    }

    /// A normalised copy.
    template <class T>
    grid::Spectrum<T> operator()(const grid::Spectrum<T>& s) const {
        grid::Spectrum<T> out = s;
        apply(out.view());
        return out;
    }

    /// In place on a contiguous block of spectra (pixel-major, channels
    /// fastest, axis.size() channels each); one status per spectrum, never
    /// throws for a bad pixel. Throws shape_error when the block size is not
    /// a multiple of the axis size.
    template <class T>
    std::vector<Status> apply_block(span<T> block, const grid::EnergyAxis& axis) const {
        const std::size_t c = axis.size();
        if (c == 0 || block.size() % c != 0) throw shape_error("Normalize::apply_block", {c}, {block.size()});
        std::vector<Status> status(block.size() / c);
        for (std::size_t p = 0; p < status.size(); ++p)
            status[p] = detail::normalize_in_place(block.subspan(p * c, c), axis, kind);
        return status;
    }

    /// In place on every pixel of a spectrum image (grid::SpectrumImage or
    /// anything with pixel_count() and pixel(i) views); one status per pixel.
    template <class Image>
    auto apply_image(Image& image) const -> decltype(image.pixel_count(), std::vector<Status>()) {
        std::vector<Status> status(image.pixel_count());
        for (std::size_t p = 0; p < status.size(); ++p) {
            auto v = image.pixel(p);
            status[p] = detail::normalize_in_place(v.values, *v.axis, kind);
        }
        return status;
    }
};

}  // namespace corespec::prep
