// corespec/align/zero_loss.hpp - align a spectrum image on its zero-loss peak
// (or on any chosen feature), and apply the same shifts to the core-loss image
// recorded with it (Dual EELS).
//
// align_zero_loss follows HyperSpy 1.7.3 align_zero_loss_peak step by step:
//   1. c = ZLP centre per pixel; shift1 = mean(c) - c; shift every pixel
//      (linear interpolation, new(E) = old(E - shift)), crop the channels the
//      largest shifts left undefined;
//   2. calibrate: axis offset -= mean of the new centres;
//   3. subpixel: shift2 = cross-correlation against pixel 0 over [-3, 3] eV
//      (5 interpolation points), shift and crop again;
//   4. calibrate again.
// Every image in `also` gets the same shifts, crops and offset corrections.
// With ZlpMethod::gaussian/parabola step 1 is already sub-channel and step 3
// may be skipped (subpixel = false).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "corespec/align/shift.hpp"
#include "corespec/align/zlp_centre.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/kernels/spectral.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/core/numeric/hyperspy_axis.hpp"
#include "corespec/prep/low_loss.hpp"

namespace corespec::align {

namespace detail {

inline double nanmean(const std::vector<double>& v) {
    double s = 0.0;
    std::size_t k = 0;
    for (double x : v)
        if (!std::isnan(x)) {
            s += x;
            ++k;
        }
    return k ? s / static_cast<double>(k) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace detail

/// Channels [first, last) kept after shifting by `shifts` with crop (HyperSpy
/// shift1D): the channels that every pixel still covers.
inline std::pair<std::size_t, std::size_t> shift_crop_range(const grid::UniformAxis& axis,
                                                            const std::vector<double>& shifts) {
    double mn = std::numeric_limits<double>::infinity(), mx = -mn;
    for (double s : shifts)
        if (!std::isnan(s)) {
            mn = std::min(mn, s);
            mx = std::max(mx, s);
        }
    std::size_t first = 0, last = axis.size();
    if (mn < 0.0) {
        const auto k = numeric::hyperspy_value2index(axis, axis.back() + mn, numeric::IndexRounding::floor);
        last = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(k + 1, 0, std::ptrdiff_t(axis.size())));
    }
    if (mx > 0.0) {
        const auto k = numeric::hyperspy_value2index(axis, axis.offset() + mx, numeric::IndexRounding::ceil);
        first = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(k, 0, std::ptrdiff_t(axis.size())));
    }
    if (last < first + 2) throw range_error("shift_image: the shifts leave fewer than 2 channels in common");
    return {first, last};
}

namespace detail {
// out[j] = in[j] + t (in[j + 1] - in[j]) for j < n: the hot loop of
// shift_image, dispatched (core/kernels/spectral.hpp) for float and double.
template <class T>
void lerp_run(const T* in, T* out, std::size_t n, double t) {
    if constexpr (std::is_same<T, float>::value) {
        kernels::default_spectral_table().lerp_f(in, out, n, t);
    } else if constexpr (std::is_same<T, double>::value) {
        kernels::default_spectral_table().lerp_d(in, out, n, t);
    } else {
        for (std::size_t j = 0; j < n; ++j) {
            const double y0 = static_cast<double>(in[j]), y1 = static_cast<double>(in[j + 1]);
            out[j] = static_cast<T>(y0 + t * (y1 - y0));
        }
    }
}
}  // namespace detail

/// Shifts every pixel by shifts[p] eV (new(E) = old(E - shift), linear
/// interpolation, NaN where undefined; a NaN shift leaves the pixel as is),
/// then, with crop, keeps the channels all pixels cover. Requires a uniform
/// axis; throws shape_error when shifts.size() != pixel count.
template <class T>
grid::SpectrumImage<T> shift_image(const grid::SpectrumImage<T>& image, const std::vector<double>& shifts,
                                   bool crop = true, unsigned threads = 1) {
    if (shifts.size() != image.pixel_count()) throw shape_error("shift_image shifts", {image.pixel_count()}, {shifts.size()});
    const auto axis = image.axis().as_uniform();
    bool any = false;
    for (double s : shifts) any = any || s != 0.0;  // NaN counts, as numpy.any
    if (!any) return image;
    // Plain variables, not a structured binding: lambdas below capture them (C++17).
    const auto range = crop ? shift_crop_range(axis, shifts) : std::pair<std::size_t, std::size_t>{0, axis.size()};
    const std::size_t first = range.first, last = range.second;
    const std::size_t n = axis.size(), m = last - first;
    // Uninitialised: every channel of every pixel is written below, and each
    // thread first-touches (page-faults) its own pixels, in parallel.
    std::vector<std::size_t> shape(image.navigation_shape());
    shape.push_back(m);
    grid::SpectrumImage<T> out(xt::xarray<T>::from_shape(shape), image.axis().slice(first, last), image.metadata());
    const T nan = std::numeric_limits<T>::quiet_NaN();
    prep::parallel_ranges(image.pixel_count(), threads, [&](std::size_t pb, std::size_t pe) {
        for (std::size_t p = pb; p < pe; ++p) {
            const auto in = image.pixel(p).values;
            auto o = out.pixel(p).values;
            const double s = shifts[p];
            if (std::isnan(s) || s == 0.0) {
                std::copy(in.begin() + static_cast<std::ptrdiff_t>(first), in.begin() + static_cast<std::ptrdiff_t>(last),
                          o.begin());
                continue;
            }
            // scipy interp1d(linear, bounds_error=False, fill=NaN) at x - s. On a
            // uniform axis the source position is j + first - s/scale: a constant
            // integer offset and a constant weight for the whole spectrum.
            const double f = -s / axis.scale();
            const double fl = std::floor(f);
            const double t = f - fl;
            const std::ptrdiff_t k0 = static_cast<std::ptrdiff_t>(first) + static_cast<std::ptrdiff_t>(fl);
            const std::ptrdiff_t last_src = static_cast<std::ptrdiff_t>(n) - 1;
            // Channels whose two sources are inside (0 <= k0 + j < last_src) go
            // through the dispatched kernel; the few at the ends are NaN or an end value.
            const std::ptrdiff_t mm = static_cast<std::ptrdiff_t>(m);
            const std::size_t jb = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(-k0, 0, mm));
            const std::size_t je = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(last_src - k0, std::ptrdiff_t(jb), mm));
            auto edge = [&](std::size_t j) {
                const std::ptrdiff_t k = k0 + static_cast<std::ptrdiff_t>(j);
                if (k == last_src && t < 1e-9) {
                    o[j] = in[static_cast<std::size_t>(k)];
                } else if (k == -1 && t > 1.0 - 1e-9) {
                    o[j] = in[0];
                } else {
                    o[j] = nan;
                }
            };
            for (std::size_t j = 0; j < jb; ++j) edge(j);
            if (je > jb) detail::lerp_run(in.data() + (k0 + std::ptrdiff_t(jb)), o.data() + jb, je - jb, t);
            for (std::size_t j = je; j < m; ++j) edge(j);
        }
    });
    return out;
}

/// Offsets the energy axis of an image by `delta` eV (new offset = old + delta).
template <class T>
grid::SpectrumImage<T> offset_axis(grid::SpectrumImage<T> image, double delta) {
    const auto a = image.axis().as_uniform();
    return grid::SpectrumImage<T>(std::move(image.data()),
                                  grid::EnergyAxis::uniform(a.offset() + delta, a.scale(), a.size(), a.units()),
                                  image.metadata());
}

struct ZlpAlignOptions {
    ZlpMethod method = ZlpMethod::maximum;  ///< HyperSpy: maximum
    std::optional<std::pair<double, double>> range;     ///< ZLP search range (HyperSpy signal_range)
    bool calibrate = true;  ///< put the mean ZLP at 0 eV
    bool subpixel = true;   ///< the cross-correlation step over [-3, 3] eV
    bool crop = true;
    std::size_t interpolation_points = 5;
    double subpixel_half_window = 3.0;  ///< eV
    unsigned threads = 1;               ///< std::threads over pixels
};

template <class T>
struct ZlpAlignment {
    grid::SpectrumImage<T> aligned;            ///< on its new axis (cropped, calibrated)
    std::vector<grid::SpectrumImage<T>> also;  ///< the other images, same shifts
    std::vector<double> centre_before;         ///< ZLP centre per pixel before (eV)
    std::vector<double> shift;                 ///< total shift per pixel (eV): shift1 + shift2
    std::vector<double> shift_subpixel;        ///< the cross-correlation part (eV)
    double offset_change = 0.0;                ///< eV added to the axis offset by calibration
};

/// Aligns a low-loss spectrum image on its ZLP (HyperSpy align_zero_loss_peak)
/// and applies the same shifts to each image in `also` (same navigation
/// shape). Pixels whose ZLP is NaN keep their data (NaN shift). Requires
/// uniform axes; throws shape_error / range_error on mismatches or windows
/// outside the axis.
template <class T>
ZlpAlignment<T> align_zero_loss(const grid::SpectrumImage<T>& low_loss, const ZlpAlignOptions& o = {},
                                const std::vector<const grid::SpectrumImage<T>*>& also = {}) {
    for (const auto* a : also) {
        if (!a) throw value_error("align_zero_loss: null image in `also`");
        if (a->pixel_count() != low_loss.pixel_count())
            throw shape_error("align_zero_loss also-image pixels", {low_loss.pixel_count()}, {a->pixel_count()});
    }
    ZlpOptions zo;
    zo.method = o.method;
    zo.range = o.range;
    // Shift first, then build the result: no copy of the (possibly large) input.
    std::vector<double> centres = zlp_centres(low_loss, zo, o.threads);
    const double mean0 = detail::nanmean(centres);
    std::vector<double> shift1(centres.size());
    for (std::size_t p = 0; p < shift1.size(); ++p) shift1[p] = mean0 - centres[p];
    ZlpAlignment<T> r{shift_image(low_loss, shift1, o.crop, o.threads), {}, std::move(centres), std::move(shift1), {},
                      0.0};
    for (const auto* a : also) r.also.push_back(shift_image(*a, r.shift, o.crop, o.threads));
    auto recalibrate = [&] {
        const double m = detail::nanmean(zlp_centres(r.aligned, zo, o.threads));
        if (std::isnan(m)) return;
        r.aligned = offset_axis(std::move(r.aligned), -m);
        for (auto& a : r.also) a = offset_axis(std::move(a), -m);
        r.offset_change -= m;
    };
    if (o.calibrate) recalibrate();
    r.shift_subpixel.assign(r.shift.size(), 0.0);
    if (!o.subpixel) return r;
    double left = -o.subpixel_half_window, right = o.subpixel_half_window;
    if (!o.calibrate) {
        left += mean0;
        right += mean0;
    }
    const auto& ax = r.aligned.axis();
    left = std::max(left, ax.front());
    right = std::min(right, ax.back());
    if (r.aligned.pixel_count() > 1) {
        const std::size_t n = ax.size();
        const span<const T> ref(r.aligned.data().data(), n);
        const grid::UniformAxis uniform = ax.as_uniform();
        prep::parallel_ranges(r.shift.size(), o.threads, [&](std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p)
                r.shift_subpixel[p] = xcorr_shift(uniform, span<const T>(r.aligned.data().data() + p * n, n), ref, left,
                                                  right, o.interpolation_points);
        });
        r.aligned = shift_image(r.aligned, r.shift_subpixel, o.crop, o.threads);
        for (auto& a : r.also) a = shift_image(a, r.shift_subpixel, o.crop, o.threads);
        for (std::size_t p = 0; p < r.shift.size(); ++p)
            if (!std::isnan(r.shift_subpixel[p])) r.shift[p] += r.shift_subpixel[p];
    }
    if (o.calibrate) recalibrate();
    return r;
}

/// ZLP alignment of one spectrum: its axis moved so that the ZLP sits at 0 eV.
template <class T>
struct SpectrumZlpAlignment {
    grid::Spectrum<T> aligned;            ///< on its calibrated axis
    std::vector<grid::Spectrum<T>> also;  ///< the other spectra, same correction
    double centre_before = 0.0;           ///< ZLP centre before (eV; NaN: nothing changed)
    double offset_change = 0.0;           ///< eV added to the axis offset
};

/// align_zero_loss on one spectrum (HyperSpy align_zero_loss_peak on a
/// single spectrum: no shift between pixels, only the calibration), and the
/// same offset change for each spectrum in `also` (a core loss recorded with
/// it). Runs the image code on 1 x N images, so one spectrum and one pixel
/// give the same numbers.
template <class T>
SpectrumZlpAlignment<T> align_zero_loss(const grid::Spectrum<T>& low_loss, const ZlpAlignOptions& o = {},
                                        const std::vector<const grid::Spectrum<T>*>& also = {}) {
    std::vector<grid::SpectrumImage<T>> also_images;
    for (const auto* a : also) {
        if (!a) throw value_error("align_zero_loss: null spectrum in `also`");
        also_images.push_back(prep::detail::one_pixel_image(*a));
    }
    std::vector<const grid::SpectrumImage<T>*> also_ptrs;
    for (const auto& a : also_images) also_ptrs.push_back(&a);
    auto r = align_zero_loss(prep::detail::one_pixel_image(low_loss), o, also_ptrs);
    SpectrumZlpAlignment<T> out{r.aligned.spectrum(0), {}, r.centre_before[0], r.offset_change};
    for (const auto& a : r.also) out.also.push_back(a.spectrum(0));
    return out;
}

struct FeatureAlignOptions {
    ZlpMethod method = ZlpMethod::gaussian;  ///< how the feature's position is found
    std::optional<double> target;  ///< eV to put the feature at; default: its mean position (axis unchanged)
    bool crop = true;
};

template <class T>
struct FeatureAlignment {
    grid::SpectrumImage<T> aligned;
    std::vector<grid::SpectrumImage<T>> also;
    std::vector<double> position_before;  ///< feature position per pixel (eV)
    std::vector<double> shift;            ///< eV applied per pixel
};

/// Aligns every pixel on a feature (the maximum in [lo, hi], e.g. a reference
/// edge's L3 peak when there is no ZLP): each pixel is shifted so that its
/// feature lands on `target` (default: the mean position). The same shifts
/// go to the images in `also`.
template <class T>
FeatureAlignment<T> align_on_feature(const grid::SpectrumImage<T>& image, double lo, double hi,
                                     const FeatureAlignOptions& o = {},
                                     const std::vector<const grid::SpectrumImage<T>*>& also = {}) {
    for (const auto* a : also)
        if (!a || a->pixel_count() != image.pixel_count())
            throw shape_error("align_on_feature also-image pixels", {image.pixel_count()}, {a ? a->pixel_count() : 0});
    ZlpOptions zo;
    zo.method = o.method;
    zo.range = std::make_pair(lo, hi);
    FeatureAlignment<T> r{image, {}, zlp_centres(image, zo), {}};
    const double target = o.target ? *o.target : detail::nanmean(r.position_before);
    if (!std::isfinite(target)) throw value_error("align_on_feature: no pixel has a finite feature position");
    r.shift.resize(r.position_before.size());
    for (std::size_t p = 0; p < r.shift.size(); ++p) r.shift[p] = target - r.position_before[p];
    r.aligned = shift_image(image, r.shift, o.crop);
    for (const auto* a : also) r.also.push_back(shift_image(*a, r.shift, o.crop));
    return r;
}

}  // namespace corespec::align
