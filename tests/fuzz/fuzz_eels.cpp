// libFuzzer target: EELS preprocessing on arbitrary values (NaN, Inf, huge,
// negative, zero): background fits, ZLP, thickness, deconvolution and
// alignment must end in a value, a status or a corespec exception.
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

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 8 + 64 * sizeof(float)) return 0;
    double scale_raw;
    std::memcpy(&scale_raw, data, sizeof(double));
    const std::size_t n = std::min<std::size_t>((size - 8) / sizeof(float) / 2, 1024);
    std::vector<float> a(2 * n);
    std::memcpy(a.data(), data + 8, a.size() * sizeof(float));
    try {
        const double scale = std::isfinite(scale_raw) && std::abs(scale_raw) > 1e-3 && std::abs(scale_raw) < 10
                                 ? std::abs(scale_raw)
                                 : 0.25;
        const auto axis = grid::EnergyAxis::uniform(-10.0, scale, n);
        grid::SpectrumImage<float> image(xt::xarray<float>(xt::adapt(a, std::vector<std::size_t>{2, n})), axis);
        for (auto fit : {prep::BackgroundFit::fast, prep::BackgroundFit::least_squares}) {
            prep::BackgroundOptions o;
            o.lo = axis.energy(n / 4);
            o.hi = axis.energy(n / 2);
            o.fit = fit;
            (void)prep::remove_background(image, o);
            o.model = prep::BackgroundModel::exponential;
            (void)prep::remove_background(image, o);
            o.model = prep::BackgroundModel::polynomial;
            (void)prep::remove_background(image, o);
        }
        (void)prep::zlp_centres(image);
        prep::ZlpOptions g;
        g.method = prep::ZlpMethod::gaussian;
        (void)prep::zlp_centres(image, g);
        (void)prep::thickness(image, axis.energy(n / 3));
        try {
            (void)prep::thickness(image, prep::ThresholdOptions{});
        } catch (const corespec::error&) {
        }
        align::ZlpAlignOptions zo;
        (void)align::align_zero_loss(image, zo);
        const auto s0 = image.spectrum(0), s1 = image.spectrum(1);
        (void)align::xcorr_shift(axis, span<const float>(s0.values()), span<const float>(s1.values()), axis.energy(1),
                                 axis.energy(n - 2));
        try {
            (void)prep::fourier_log_deconvolution(s0, s1);
        } catch (const corespec::error&) {
        }
        (void)prep::fourier_ratio_deconvolution(s0, s1);
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
