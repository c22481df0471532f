// corespec/synth/random.hpp - a small seeded random source with the same
// sequence on every platform.
//
// std::normal_distribution, std::poisson_distribution and friends are not
// specified bit for bit, so libstdc++ and libc++ give different numbers for
// one seed. The synthetic data and the dataset augmentation draw through
// this class instead: a std::mt19937_64 engine (its output is fixed by the
// standard) and explicit formulas for the uniform, normal and Poisson draws.
// The same seed then gives the same spectra with any compiler.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace corespec::synth {

/// SplitMix64 finaliser: mixes a seed and a stream index into an
/// independent-looking 64-bit seed (so sample i of a set can be drawn
/// without drawing samples 0..i-1 first).
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

class Random {
public:
    explicit Random(std::uint64_t seed) : engine_(seed) {}

    /// Uniform in [0, 1): the top 53 bits of one engine output.
    double uniform() noexcept { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }

    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

    /// True with probability p.
    bool bernoulli(double p) noexcept { return uniform() < p; }

    /// An index in [0, n) (n > 0).
    std::size_t index(std::size_t n) noexcept {
        const auto i = static_cast<std::size_t>(uniform() * static_cast<double>(n));
        return i < n ? i : n - 1;
    }

    /// Standard normal (Box-Muller; both values of a pair are used).
    double normal() noexcept {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        constexpr double two_pi = 6.28318530717958647692;
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1)), t = two_pi * uniform();
        spare_ = r * std::sin(t);
        has_spare_ = true;
        return r * std::cos(t);
    }

    double normal(double mean, double sd) noexcept { return mean + sd * normal(); }

    /// Poisson with mean `mean` >= 0: Knuth's product method below 30, the
    /// normal approximation with continuity correction above (its error is
    /// far below the noise it models there).
    double poisson(double mean) noexcept {
        if (!(mean > 0.0)) return 0.0;
        if (mean < 30.0) {
            const double limit = std::exp(-mean);
            double product = uniform();
            double k = 0.0;
            while (product > limit) {
                product *= uniform();
                k += 1.0;
            }
            return k;
        }
        const double k = std::floor(mean + std::sqrt(mean) * normal() + 0.5);
        return k > 0.0 ? k : 0.0;
    }

    std::mt19937_64& engine() noexcept { return engine_; }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

}  // namespace corespec::synth
