// corespec/nn/models/vae.hpp - variational autoencoder and multi-head models.
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
#include "corespec/nn/sequential.hpp"

namespace corespec::nn {

/// encoder body -> (mean head, log-variance head) -> latent z -> decoder.
/// const and thread-safe like Sequential (one Workspace per thread).
template <class T>
class Vae {
public:
    /// The mean and log-variance heads must map the body's output to the same
    /// [batch, latent] shape, and the decoder [batch, latent] back. Shapes are
    /// checked against `input_sample_shape` (no batch); throws shape_error.
    Vae(Sequential<T> body, Sequential<T> mean_head, Sequential<T> logvar_head, Sequential<T> decoder,
        Shape input_sample_shape)
        : body_(std::move(body)), mean_(std::move(mean_head)), logvar_(std::move(logvar_head)),
          decoder_(std::move(decoder)), input_(input_sample_shape) {
        Shape h = body_.output_shape(input_.with_batch(1));
        Shape m = mean_.output_shape(h), v = logvar_.output_shape(h);
        if (m != v || m.rank() != 2) throw shape_error("nn::Vae mean / log-variance heads", m.to_vector(), v.to_vector());
        latent_ = m[1];
        Shape out = decoder_.output_shape(Shape{1, latent_});
        if (out != input_.with_batch(1)) throw shape_error("nn::Vae decoder output", input_.with_batch(1).to_vector(), out.to_vector());
    }

    std::size_t latent_size() const noexcept { return latent_; }
    const Shape& input_shape() const noexcept { return input_; }
    Sequential<T>& body() noexcept { return body_; }
    Sequential<T>& mean_head() noexcept { return mean_; }
    Sequential<T>& logvar_head() noexcept { return logvar_; }
    Sequential<T>& decoder() noexcept { return decoder_; }

    /// mean, logvar: [batch, latent].
    void encode(ConstTensorView<T> x, TensorView<T> mean, TensorView<T> logvar, Workspace<T>& ws) const {
        typename Workspace<T>::Frame frame(ws);
        Shape hs = body_.output_shape(x.shape());
        TensorView<T> h(ws.allocate(hs.size()), hs);
        body_.forward(x, h, ws);
        mean_.forward(h, mean, ws);
        logvar_.forward(h, logvar, ws);
    }

    /// z = mean + exp(logvar / 2) * eps (the reparameterisation), element-wise.
    static void reparameterize(ConstTensorView<T> mean, ConstTensorView<T> logvar, ConstTensorView<T> eps, TensorView<T> z) {
        if (mean.shape() != logvar.shape() || mean.shape() != eps.shape() || mean.shape() != z.shape())
            throw shape_error("nn::Vae::reparameterize", mean.shape().to_vector(), z.shape().to_vector());
        for (std::size_t i = 0; i < z.size(); ++i) z[i] = mean[i] + std::exp(logvar[i] / T(2)) * eps[i];
    }

    /// out = decoder(z), z: [batch, latent].
    void decode(ConstTensorView<T> z, TensorView<T> out, Workspace<T>& ws) const { decoder_.forward(z, out, ws); }

    /// decode(mean(x)): the deterministic reconstruction.
    void reconstruct(ConstTensorView<T> x, TensorView<T> out, Workspace<T>& ws) const {
        typename Workspace<T>::Frame frame(ws);
        Shape ls{x.batch(), latent_};
        TensorView<T> m(ws.allocate(ls.size()), ls), v(ws.allocate(ls.size()), ls);
        encode(x, m, v, ws);
        decode(m, out, ws);
    }

    /// Decodes out.batch() draws z ~ N(0, I) from `rng` (e.g. std::mt19937_64).
    template <class Rng>
    void sample(Rng& rng, TensorView<T> out, Workspace<T>& ws) const {
        typename Workspace<T>::Frame frame(ws);
        Shape ls{out.batch(), latent_};
        TensorView<T> z(ws.allocate(ls.size()), ls);
        std::normal_distribution<double> n01(0.0, 1.0);
        for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<T>(n01(rng));
        decode(z, out, ws);
    }

    void parameters_changed() {
        body_.parameters_changed(), mean_.parameters_changed(), logvar_.parameters_changed(), decoder_.parameters_changed();
    }

private:
    Sequential<T> body_, mean_, logvar_, decoder_;
    Shape input_;
    std::size_t latent_ = 0;
};

/// The study-2 conv VAE: input [batch, 1, length]; Conv1D encoders with
/// `filters` / `kernels`, stride 2, padding `pad` (default kernel / 2 on
/// each side, PyTorch's padding=k//2 of the reference model; "same" puts
/// the odd element on the right instead and shifts the taps by one),
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

/// A shared trunk and several named heads (e.g. element content regression
/// + defect multi-label logits). forward fills one output per head.
template <class T>
class MultiHead {
public:
    MultiHead(Sequential<T> trunk, std::vector<std::string> names, std::vector<Sequential<T>> heads)
        : trunk_(std::move(trunk)), names_(std::move(names)), heads_(std::move(heads)) {
        if (names_.size() != heads_.size() || heads_.empty()) throw value_error("nn::MultiHead: one name per head, at least one head");
    }
    std::size_t head_count() const noexcept { return heads_.size(); }
    const std::string& head_name(std::size_t i) const { return names_.at(i); }
    Sequential<T>& trunk() noexcept { return trunk_; }
    Sequential<T>& head(std::size_t i) { return heads_.at(i); }
    const Sequential<T>& head(std::size_t i) const { return heads_.at(i); }
    /// Output shape of head i for an input shape.
    Shape output_shape(std::size_t i, const Shape& in) const { return heads_.at(i).output_shape(trunk_.output_shape(in)); }

    /// outs[i] receives head i's output (outs.size() == head_count()).
    void forward(ConstTensorView<T> x, span<const TensorView<T>> outs, Workspace<T>& ws) const {
        if (outs.size() != heads_.size()) throw shape_error("nn::MultiHead outputs", {heads_.size()}, {outs.size()});
        typename Workspace<T>::Frame frame(ws);
        Shape hs = trunk_.output_shape(x.shape());
        TensorView<T> h(ws.allocate(hs.size()), hs);
        trunk_.forward(x, h, ws);
        for (std::size_t i = 0; i < heads_.size(); ++i) heads_[i].forward(h, outs[i], ws);
    }

    void parameters_changed() {
        trunk_.parameters_changed();
        for (auto& h : heads_) h.parameters_changed();
    }

private:
    Sequential<T> trunk_;
    std::vector<std::string> names_;
    std::vector<Sequential<T>> heads_;
};

}  // namespace corespec::nn
