// Test support for latent/ and stream/: a small study-2-like job that runs
// in milliseconds. 256-channel EELS-like spectra (600 .. 727.5 eV) of two
// phases (an edge peak at 645 or 652 eV on a power-law background),
// recipe background (605-625 eV) -> crop -> resample to 64 channels ->
// max normalisation, a small conv VAE (2 conv layers, latent 4) with
// seeded initial weights, and references embedded from noise-free spectra.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <corespec/latent/analysis.hpp>
#include <corespec/nn/models/vae.hpp>
#include <corespec/nn/train/init.hpp>
#include <corespec/nn/train/vae_trainer.hpp>
#include <corespec/steps/recipe.hpp>
#include <corespec/synth/random.hpp>

namespace corespec_test {

inline corespec::grid::EnergyAxis latent_axis() { return corespec::grid::EnergyAxis::uniform(600.0, 0.5, 256); }

inline corespec::steps::Recipe latent_recipe() {
    corespec::prep::BackgroundOptions b;
    b.lo = 605.0, b.hi = 625.0;
    return corespec::steps::Recipe()
        .then(corespec::steps::BackgroundStep(b))
        .then(corespec::steps::Crop(628.0, 670.0))
        .then(corespec::steps::Resample(630.0, 661.5, 0.5))
        .then(corespec::steps::NormalizeStep(corespec::prep::NormKind::max));
}

/// One spectrum of phase 0 or 1; noise (Poisson-like, seeded) unless `clean`.
inline std::vector<float> latent_spectrum(int phase, std::uint64_t seed, bool clean = false) {
    corespec::synth::Random rng(seed);
    const auto axis = latent_axis();
    std::vector<float> v(axis.size());
    const double centre = phase == 0 ? 645.0 : 652.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double e = axis.energy(i);
        double y = 4e7 * std::pow(e, -2.2);
        if (e > 640.0) y += 60.0 * (1.0 + std::atan((e - 641.0) / 1.5)) / 3.0;
        y += 200.0 * std::exp(-0.5 * std::pow((e - centre) / 1.5, 2));
        if (!clean) y += std::sqrt(y) * rng.normal();
        v[i] = static_cast<float>(y);
    }
    return v;
}

inline corespec::latent::Encoder<float> latent_encoder(std::uint64_t seed = 7) {
    auto vae = corespec::nn::make_conv_vae<float>(64, {4, 8}, {5, 3}, 4);
    for (auto* part : corespec::nn::train::vae_parts(vae)) corespec::nn::train::init_default(*part, seed++);
    return corespec::latent::Encoder<float>(std::move(vae));
}

/// References: `per_phase` clean spectra per phase through the recipe,
/// embedded, `samples` posterior draws each.
inline corespec::latent::LatentPoints<float> latent_references(const corespec::latent::Encoder<float>& enc,
                                                               std::size_t per_phase = 3, std::size_t samples = 5) {
    const auto plan = latent_recipe().prepare(latent_axis());
    const std::size_t m = plan.output_axis().size();
    std::vector<float> x;
    std::vector<int> labels;
    auto scratch = plan.scratch<float>();
    std::vector<double> reports(plan.report_names().size());
    for (int phase = 0; phase < 2; ++phase)
        for (std::size_t k = 0; k < per_phase; ++k) {
            auto s = latent_spectrum(phase, 1000 + k, true);
            for (auto& v : s) v *= static_cast<float>(1.0 + 0.1 * double(k));  // dose
            x.resize(x.size() + m);
            plan.run_pixel<float>(corespec::strided_span<const float>(s.data(), s.size(), 1), x.data() + x.size() - m,
                                  reports.data(), scratch);
            labels.push_back(phase);
        }
    corespec::nn::Workspace<float> ws;
    const auto emb = corespec::latent::embed(enc, x.data(), labels.size(), ws);
    return corespec::latent::sample_posterior(emb, labels, {"phase_a", "phase_b"}, samples, 99);
}

/// n noisy spectra, contiguous: pixel p is phase phase_of(p).
template <class F>
std::vector<float> latent_spectra(std::size_t n, F phase_of, std::uint64_t seed = 5) {
    std::vector<float> all;
    all.reserve(n * latent_axis().size());
    for (std::size_t p = 0; p < n; ++p) {
        const auto s = latent_spectrum(phase_of(p), corespec::synth::mix_seed(seed, p));
        all.insert(all.end(), s.begin(), s.end());
    }
    return all;
}

}  // namespace corespec_test
