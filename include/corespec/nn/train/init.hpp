// corespec/nn/train/init.hpp - seeded random numbers and PyTorch's default
// parameter initialisation.
//
// std::mt19937_64's output is fixed by the standard, but the standard
// distributions are not; Random draws uniforms and permutations with its own
// arithmetic so that a seed means the same numbers on every compiler.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/registry.hpp"

namespace corespec::nn::train {

/// A seeded generator with reproducible uniforms, normals and shuffles.
class Random {
public:
    explicit Random(std::uint64_t seed = 0) : engine_(seed) {}

    std::uint64_t next() { return engine_(); }

    /// Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    /// Standard normal (Box-Muller; both values of a pair are not kept, for simplicity).
    double normal() {
        double u1 = uniform();
        double u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    /// Uniform integer in [0, n) without modulo bias (n > 0).
    std::uint64_t below(std::uint64_t n) {
        std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
        std::uint64_t x;
        do x = engine_();
        while (x >= limit);
        return x % n;
    }
    /// Fisher-Yates shuffle.
    template <class V>
    void shuffle(std::vector<V>& v) {
        for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(below(i))]);
    }

private:
    std::mt19937_64 engine_;
};

/// Fan-in of a weight of PyTorch layout [out, in, k...] (torch.nn.init's
/// _calculate_fan_in_and_fan_out: dim 1 times the receptive field). For a
/// ConvTranspose1d weight [in, out/groups, k] that is (out/groups) k, as PyTorch.
inline std::size_t fan_in(const Shape& weight) {
    if (weight.rank() < 2) throw value_error("nn::train::fan_in: a weight needs at least 2 dimensions, got " + weight.to_string());
    std::size_t f = weight[1];
    for (std::size_t i = 2; i < weight.rank(); ++i) f *= weight[i];
    return f;
}

/// Initialises one layer as PyTorch's reset_parameters() does, drawing from
/// `rng` (the values differ from torch's generator, the distributions do
/// not). The rule of each parameter is its layer type's init() in
/// layers/registry.hpp: a matrix weight and its bias U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)); a rank-1 norm
/// "weight" and "running_var" 1; other buffers and biases 0; PReLU 0.25.
template <class T>
void init_default(Layer<T>& layer, Random& rng) {
    span<T> params = layer.parameters();
    std::size_t weight_fan_in = 0;
    for (const ParameterInfo& p : layer.parameter_info())
        if (p.name == "weight" && p.shape.rank() >= 2) weight_fan_in = fan_in(p.shape);
    const std::string type = layer.type();
    for (const ParameterInfo& p : layer.parameter_info()) {
        T* x = params.data() + p.offset;
        const InitRule rule = init_rule(type, p, weight_fan_in > 0);
        if (rule.uniform_fan_in) {
            std::size_t fan = weight_fan_in;
            if (!rule.fan_in_of.empty())
                for (const ParameterInfo& q : layer.parameter_info())
                    if (q.name == rule.fan_in_of) fan = fan_in(q.shape);
            const double bound = fan ? 1.0 / std::sqrt(static_cast<double>(fan)) : 0.0;
            for (std::size_t i = 0; i < p.size(); ++i) x[i] = static_cast<T>(rng.uniform(-bound, bound));
        } else {
            for (std::size_t i = 0; i < p.size(); ++i) x[i] = static_cast<T>(rule.value);
        }
    }
    layer.parameters_changed();
}

/// init_default on every layer of a model (anything with size() and layer(i)).
template <class Model>
void init_default(Model& model, std::uint64_t seed) {
    Random rng(seed);
    for (std::size_t i = 0; i < model.size(); ++i) init_default(model.layer(i), rng);
}

}  // namespace corespec::nn::train
