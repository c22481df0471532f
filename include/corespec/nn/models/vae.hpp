// corespec/nn/models/vae.hpp - the study-2 convolutional VAE (a Model of kind vae).
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/shape.hpp"
#include "corespec/nn/model.hpp"
#include "corespec/nn/sequential.hpp"

namespace corespec::nn {

/// A VAE and a multi-head model are nn::Model (nn/model.hpp), built with its
/// VAE constructor (encoder, mean, logvar, decoder, input shape) or its
/// multi-head one (trunk, names, heads); these names say which is meant.
template <class T>
using Vae = Model<T>;
template <class T>
using MultiHead = Model<T>;

/// The study-2 conv VAE: input [batch, 1, length]; Conv1D encoders with
/// `filters` / `kernels`, stride 2, padding `pad` (default: kernel / 2 on
/// both sides, as PyTorch's padding=k//2 in the study-2 module of
/// tools/make_nn_fixtures.py; Padding::same() pads asymmetrically),
/// LeakyReLU(slope) -> Flatten -> Dense(latent) mean and log-variance heads;
/// decoder Dense(latent -> flat, LeakyReLU) -> Reshape -> ConvTranspose1D
/// mirror (stride 2, padding k / 2, output_padding 1) with LeakyReLU between
/// and `output` after the last. Requires length divisible by 2^layers.
template <class T>
Vae<T> make_conv_vae(std::size_t length = 240, std::vector<std::size_t> filters = {16, 32, 32, 64},
                     std::vector<std::size_t> kernels = {7, 7, 3, 3}, std::size_t latent = 16, double slope = 0.3,
                     std::optional<Padding> pad = std::nullopt, Activation output = Activation::identity()) {
    if (filters.empty() || filters.size() != kernels.size()) throw value_error("nn::make_conv_vae: filters and kernels differ in length");
    if (length % (std::size_t(1) << filters.size())) throw value_error("nn::make_conv_vae: length must be divisible by 2^layers");
    const Activation leaky = Activation::leaky_relu(slope);
    Sequential<T> body;
    std::size_t c = 1, l = length;
    for (std::size_t i = 0; i < filters.size(); ++i) {
        body.template emplace<Conv1D<T>>(c, filters[i], kernels[i], 2, pad ? *pad : Padding::symmetric(kernels[i] / 2), 1, 1, leaky);
        c = filters[i], l /= 2;
    }
    body.template emplace<Flatten<T>>();
    Sequential<T> mean, logvar, dec;
    mean.template emplace<Dense<T>>(c * l, latent);
    logvar.template emplace<Dense<T>>(c * l, latent);
    dec.template emplace<Dense<T>>(latent, c * l, leaky);
    dec.template emplace<Reshape<T>>(Shape{c, l});
    for (std::size_t i = filters.size(); i-- > 0;) {
        std::size_t to = i == 0 ? 1 : filters[i - 1];
        dec.template emplace<ConvTranspose1D<T>>(c, to, kernels[i], 2, kernels[i] / 2, 1, 1, 1, i == 0 ? output : leaky);
        c = to;
    }
    return Vae<T>(std::move(body), std::move(mean), std::move(logvar), std::move(dec), Shape{1, length});
}

}  // namespace corespec::nn
