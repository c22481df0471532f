// corespec/stream/synthetic_series.hpp - a synthetic STEM-EELS time series
// for replaying through a stream: frames of width x height pixels of
// 2048-channel core-loss spectra (the axis of the NMC spectrum images in
// ../shared/data/eels/nmc: 440 eV + 0.3 eV x 2048) in which a second phase
// appears at `change_frame` and grows column by column over `ramp` frames.
//
//   stream::SyntheticSeries series(64, 64, 200, 100);      // 200 frames, change at 100
//   std::vector<float> frame(series.frame_values());
//   series.frame(k, frame.data());                         // pixel-major, channels fastest
//   series.phase_fraction(k);                              // share of phase 1 in frame k
//   auto refs = series.references(6);                      // noise-free "simulated" spectra, labelled
//   auto noisy = series.noisy_references(6, 20, seed);     // 20 measured-like copies of each (training pairs)
//
// The phases are NMC811 (synth::nmc_structure): lithiated (Li 1.0, phase
// 0, "NMC811_lithiated") and delithiated (Li 0.4, phase 1,
// "NMC811_delithiated"), whose Ni L2,3 edges differ (Ni valence 3 -> 3.75).
// Each pixel's spectrum is the four EELS edges of synth::nmc_spectrum (O K,
// Mn, Co, Ni L2,3; noise-free, interpolated onto the axis and continued
// flat above their windows) on a power-law background, with Gaussian
// counting noise (sd sqrt(counts)) drawn once into a bank of spectra per
// phase; a pixel takes a bank spectrum (seeded by frame and pixel) times a
// dose factor in [0.9, 1.1], so frames are cheap to make at streaming rates.
// study2_recipe() is the matching recipe: crop, background 800-840 eV,
// resample the Ni L2,3 edge to 240 channels (845 .. 892.8 eV, 0.2 eV),
// max-normalised: the study-2 encoder's input; study2_raw_recipe() the
// same grid without the background removal (the two-encoder variant's raw
// encoder input).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/steps/recipe.hpp"
#include "corespec/synth/nmc.hpp"
#include "corespec/synth/random.hpp"

namespace corespec::stream {

/// Crop to 799-895 eV, power-law background fitted over 800-840 eV,
/// resample the Ni L2,3 edge to 240 channels at 0.2 eV from 845 eV,
/// max-normalised.
inline steps::Recipe study2_recipe() {
    prep::BackgroundOptions b;
    b.lo = 800.0, b.hi = 840.0;
    return steps::Recipe()
        .then(steps::Crop(799.0, 895.0))  // first: the background is then evaluated on 320 channels, not 2048
        .then(steps::BackgroundStep(b))
        .then(steps::Resample(845.0, 892.8, 0.2))
        .then(steps::NormalizeStep(prep::NormKind::max));
}

/// The raw form of study2_recipe's output for the two-encoder variant
/// (nn::train::VaeTrainer::fit_two_encoder): the same 240-channel grid
/// (845 .. 892.8 eV, 0.2 eV), min-max scaled but with the power-law
/// background left in: no fit per spectrum. Min-max, not max: the
/// background lifts every channel to about 0.6 of the maximum, and the
/// edge structure that tells the phases apart then spans a tenth of the
/// range (mean squared difference of the two phases 1.7e-3 scaled by the
/// maximum, 1.9e-2 min-max; the clean form's is 1.7e-2).
inline steps::Recipe study2_raw_recipe() {
    return steps::Recipe()
        .then(steps::Crop(844.0, 894.0))  // first: the stream then keeps 167 of the 2048 channels
        .then(steps::Resample(845.0, 892.8, 0.2))
        .then(steps::NormalizeStep(prep::NormKind::min_max));
}

class SyntheticSeries {
public:
    static constexpr std::size_t channels = 2048;

    /// Throws value_error for an empty frame, no frames or ramp 0.
    SyntheticSeries(std::size_t width, std::size_t height, std::size_t frames, std::size_t change_frame,
                    std::size_t ramp = 5, std::uint64_t seed = 1, std::size_t bank = 64)
        : w_(width), h_(height), frames_(frames), change_(change_frame), ramp_(ramp), seed_(seed) {
        if (w_ == 0 || h_ == 0 || frames_ == 0 || ramp_ == 0 || bank == 0)
            throw value_error("stream::SyntheticSeries: width, height, frames, ramp and bank must be > 0");
        for (int phase = 0; phase < 2; ++phase) {
            const std::vector<double> clean = spectrum(structure(phase, 0), synth::mix_seed(seed_, 1000 + phase));
            synth::Random rng(synth::mix_seed(seed_, 2000 + phase));
            bank_[phase].resize(bank * channels);
            for (std::size_t b = 0; b < bank; ++b) counting_noise(clean.data(), 1.0, rng, bank_[phase].data() + b * channels);
        }
        bank_size_ = bank;
    }

    static grid::EnergyAxis axis() { return grid::EnergyAxis::uniform(440.0, 0.3, channels); }
    static std::vector<std::string> class_names() { return {"NMC811_lithiated", "NMC811_delithiated"}; }

    std::size_t width() const noexcept { return w_; }
    std::size_t height() const noexcept { return h_; }
    std::size_t frames() const noexcept { return frames_; }
    std::size_t change_frame() const noexcept { return change_; }
    std::size_t frame_pixels() const noexcept { return w_ * h_; }
    std::size_t frame_values() const noexcept { return w_ * h_ * channels; }

    /// The phase of a pixel: 1 in the first columns once the change began.
    int phase(std::size_t frame, std::size_t pixel) const noexcept {
        if (frame < change_) return 0;
        const double grown = std::min(1.0, static_cast<double>(frame - change_ + 1) / static_cast<double>(ramp_));
        return static_cast<double>(pixel % w_) < grown * static_cast<double>(w_) ? 1 : 0;
    }
    double phase_fraction(std::size_t frame) const noexcept {
        std::size_t n = 0;
        for (std::size_t p = 0; p < frame_pixels(); ++p) n += static_cast<std::size_t>(phase(frame, p));
        return static_cast<double>(n) / static_cast<double>(frame_pixels());
    }

    /// Frame k into out (frame_values() floats, pixel-major).
    void frame(std::size_t k, float* out) const {
        for (std::size_t p = 0; p < frame_pixels(); ++p) {
            synth::Random rng(synth::mix_seed(seed_ ^ 0xF00Dull, k * frame_pixels() + p));
            const int ph = phase(k, p);
            const float dose = static_cast<float>(rng.uniform(0.9, 1.1));
            const float* src = bank_[ph].data() + rng.index(bank_size_) * channels;
            float* dst = out + p * channels;
            for (std::size_t i = 0; i < channels; ++i) dst[i] = dose * src[i];
        }
    }

    /// `per_phase` noise-free reference spectra per phase (local distortion
    /// and Ni disproportionation varied, as simulations of several
    /// structures would be): per_phase * 2 x channels values, labels.
    struct References {
        std::vector<float> values;
        std::vector<int> labels;
    };
    References references(std::size_t per_phase) const {
        References r;
        for (int phase = 0; phase < 2; ++phase)
            for (std::size_t k = 0; k < per_phase; ++k) {
                const auto s = spectrum(structure(phase, k), synth::mix_seed(seed_, 3000 + 100 * phase + k));
                r.values.insert(r.values.end(), s.begin(), s.end());
                r.labels.push_back(phase);
            }
        return r;
    }

    /// `copies` measured-like draws of each of references(per_phase): a dose
    /// factor in [0.9, 1.1] and the pixels' counting noise (sd sqrt(counts))
    /// on each noise-free reference, seeded by `seed` (copy c of reference i
    /// at row c * 2 * per_phase + i). Training pairs that span the classes
    /// for the two-encoder variant: a stream's first frames hold one phase
    /// only, and a raw encoder trained on them alone maps every spectrum
    /// near that phase (docs/streaming.md).
    References noisy_references(std::size_t per_phase, std::size_t copies, std::uint64_t seed) const {
        const References clean = references(per_phase);
        const std::size_t n = clean.labels.size();
        References r;
        r.values.resize(copies * n * channels);
        synth::Random rng(seed);
        std::vector<double> c(channels);
        for (std::size_t k = 0; k < copies; ++k)
            for (std::size_t i = 0; i < n; ++i) {
                std::copy(clean.values.begin() + static_cast<std::ptrdiff_t>(i * channels),
                          clean.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * channels), c.begin());
                const double dose = rng.uniform(0.9, 1.1);
                counting_noise(c.data(), dose, rng, r.values.data() + (k * n + i) * channels);
                r.labels.push_back(clean.labels[i]);
            }
        return r;
    }

private:
    // out = dose * (counts + sd sqrt(counts) noise), clipped at 0: the pixels' noise model.
    static void counting_noise(const double* counts, double dose, synth::Random& rng, float* out) {
        for (std::size_t i = 0; i < channels; ++i)
            out[i] = static_cast<float>(dose * std::max(0.0, counts[i] + std::sqrt(counts[i]) * rng.normal()));
    }

    // Variant k of a phase: k = 0 undistorted, then distortion and
    // disproportionation spread over their ranges.
    static synth::NmcStructure structure(int phase, std::size_t k) {
        synth::NmcStructure s = synth::nmc_structure(0.8, 0.1, 0.1, phase == 0 ? 1.0 : 0.4, 0.0, 0.0, "NMC811");
        const double t = static_cast<double>(k % 6) / 5.0;
        s.distortion_ni = s.distortion_mn = s.distortion_co = s.distortion_o = 0.3 * t;
        s.ni_disproportionation = 0.2 * t;
        return s;
    }

    // The four EELS edges (noise-free counts) on axis(), each continued flat
    // above its window, on a power-law background (E / 440 eV)^-3.
    static std::vector<double> spectrum(const synth::NmcStructure& s, std::uint64_t seed) {
        synth::NmcOptions o;
        o.noise = false;
        synth::Random rng(seed);
        const grid::EnergyAxis a = axis();
        std::vector<double> y(channels, 0.0);
        for (synth::NmcEdge e : {synth::NmcEdge::o_k, synth::NmcEdge::mn_l23, synth::NmcEdge::co_l23, synth::NmcEdge::ni_l23}) {
            const auto edge = synth::nmc_spectrum(s, e, rng, o);
            const auto& ex = edge.axis();
            const auto& ey = edge.values();
            for (std::size_t i = 0; i < channels; ++i) {
                const double en = a.energy(i);
                if (en < ex.front()) continue;
                if (en >= ex.back()) {
                    y[i] += ey.back();
                    continue;
                }
                const double f = ex.fractional_index(en);
                const auto j = static_cast<std::size_t>(f);
                const double t = f - static_cast<double>(j);
                y[i] += (1 - t) * ey[j] + t * ey[std::min(j + 1, ey.size() - 1)];
            }
        }
        for (std::size_t i = 0; i < channels; ++i) y[i] += 30000.0 * std::pow(a.energy(i) / 440.0, -3.0);
        return y;
    }

    std::size_t w_, h_, frames_, change_, ramp_;
    std::uint64_t seed_;
    std::vector<float> bank_[2];
    std::size_t bank_size_ = 0;
};

}  // namespace corespec::stream
