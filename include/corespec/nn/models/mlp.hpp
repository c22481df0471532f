// corespec/nn/models/mlp.hpp - multi-layer perceptron builder.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/sequential.hpp"

namespace corespec::nn {

/// Dense layers sizes[0] -> sizes[1] -> ... -> sizes.back(), `hidden` after
/// every layer but the last, `output` after the last (study 1: {702, 128,
/// 64, n}, ReLU). Parameters are zero; load them or call init_uniform.
/// Throws value_error for fewer than two sizes or a zero size.
template <class T>
Sequential<T> make_mlp(const std::vector<std::size_t>& sizes, Activation hidden = Activation::relu(),
                       Activation output = Activation::identity()) {
    if (sizes.size() < 2) throw value_error("nn::make_mlp: need at least an input and an output size");
    Sequential<T> m;
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
        m.template emplace<Dense<T>>(sizes[i], sizes[i + 1], i + 2 == sizes.size() ? output : hidden);
    return m;
}

/// Fills every parameter of every layer with U(-1/sqrt(fan_in), 1/sqrt(fan_in))
/// (PyTorch's default scale for Linear/Conv), fan_in = weight size / out
/// channels; deterministic for a seed. BatchNorm-style buffers are left alone.
template <class T>
void init_uniform(Sequential<T>& model, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (std::size_t l = 0; l < model.size(); ++l) {
        Layer<T>& layer = model.layer(l);
        std::size_t fan_in = 1;
        for (const auto& p : layer.parameter_info())
            if (p.name == "weight" && p.shape.rank() >= 2) fan_in = p.shape.size() / p.shape[0];
        const double bound = 1.0 / std::sqrt(double(fan_in));
        std::uniform_real_distribution<double> u(-bound, bound);
        for (const auto& p : layer.parameter_info()) {
            if (!p.trainable) continue;
            auto v = layer.parameter(p.name);
            for (auto& x : v) x = static_cast<T>(u(rng));
        }
        layer.parameters_changed();
    }
}

}  // namespace corespec::nn
