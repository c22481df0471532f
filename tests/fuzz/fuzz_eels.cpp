// libFuzzer target: EELS preprocessing on arbitrary values (NaN, Inf, huge,
// negative, zero): background fits, ZLP, thickness, deconvolution and
// alignment must end in a value, a status or a corespec exception.
//
// Input: byte 0 picks the stage, bytes 1..8 the channel width (a double),
// the rest two spectra of n float32 channels, 16 <= n <= 64 (bytes beyond
// are ignored). One stage per input and short spectra keep an input well
// under a millisecond under ASan (the cross-correlation of the alignment is
// O(n^2)), so CI's 60 s covers >= 100,000 inputs; every stage runs inline
// (threads = 1), no thread is started per input.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <xtensor/xadapt.hpp>

#include <corespec/align/shift.hpp>
#include <corespec/align/zero_loss.hpp>
#include <corespec/prep/eels_background.hpp>
#include <corespec/prep/low_loss.hpp>

using namespace corespec;

namespace {

constexpr std::size_t header = 1 + sizeof(double), min_channels = 16, max_channels = 64;

void backgrounds(const grid::SpectrumImage<float>& image, const grid::EnergyAxis& axis, std::uint8_t variant) {
    const std::size_t n = axis.size();
    for (auto fit : {prep::BackgroundFit::fast, prep::BackgroundFit::least_squares}) {
        prep::BackgroundOptions o;
        o.lo = axis.energy(n / 4);
        o.hi = axis.energy(n / 2);
        o.fit = fit;
        o.max_iterations = 20;  // enough to reach every branch of the fit; 200 only costs time here
        o.binned = (variant & 1) == 0;
        o.zero_fill = (variant & 2) != 0;
        (void)prep::remove_background(image, o);
        o.model = prep::BackgroundModel::exponential;
        (void)prep::remove_background(image, o);
        o.model = prep::BackgroundModel::polynomial;
        o.polynomial_order = variant % 4;
        (void)prep::remove_background(image, o);
    }
}

void zero_loss(const grid::SpectrumImage<float>& image) {
    for (auto m : {prep::ZlpMethod::maximum, prep::ZlpMethod::parabola, prep::ZlpMethod::gaussian}) {
        prep::ZlpOptions g;
        g.method = m;
        (void)prep::zlp_centres(image, g);
    }
}

void thicknesses(const grid::SpectrumImage<float>& image, const grid::EnergyAxis& axis) {
    (void)prep::thickness(image, axis.energy(axis.size() / 3));
    try {
        (void)prep::thickness(image, prep::ThresholdOptions{});
    } catch (const corespec::error&) {
    }
}

void deconvolutions(const grid::SpectrumImage<float>& image) {
    const auto s0 = image.spectrum(0), s1 = image.spectrum(1);
    try {
        (void)prep::fourier_log_deconvolution(s0, s1);
    } catch (const corespec::error&) {
    }
    (void)prep::fourier_ratio_deconvolution(s0, s1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < header + 2 * min_channels * sizeof(float)) return 0;
    const std::uint8_t stage = data[0];
    double scale_raw;
    std::memcpy(&scale_raw, data + 1, sizeof(double));
    const std::size_t n = std::min<std::size_t>((size - header) / sizeof(float) / 2, max_channels);
    std::vector<float> a(2 * n);
    std::memcpy(a.data(), data + header, a.size() * sizeof(float));
    try {
        const double scale = std::isfinite(scale_raw) && std::abs(scale_raw) > 1e-3 && std::abs(scale_raw) < 10
                                 ? std::abs(scale_raw)
                                 : 0.25;
        const auto axis = grid::EnergyAxis::uniform(-10.0, scale, n);
        const grid::SpectrumImage<float> image(xt::xarray<float>(xt::adapt(a, std::vector<std::size_t>{2, n})), axis);
        switch (stage % 6) {
            case 0: backgrounds(image, axis, static_cast<std::uint8_t>(stage / 6)); break;
            case 1: zero_loss(image); break;
            case 2: thicknesses(image, axis); break;
            case 3: {
                align::ZlpAlignOptions zo;
                zo.subpixel = (stage & 8) == 0;
                (void)align::align_zero_loss(image, zo);
                break;
            }
            case 4: {
                const auto s0 = image.spectrum(0), s1 = image.spectrum(1);
                (void)align::xcorr_shift(axis.as_uniform(), span<const float>(s0.values()), span<const float>(s1.values()),
                                         axis.energy(1), axis.energy(n - 2));
                break;
            }
            default: deconvolutions(image); break;
        }
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
