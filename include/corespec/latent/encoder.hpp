// corespec/latent/encoder.hpp - the one place where latent:: and stream::
// reach the model: "encoder + mean head" (and log-variance, decoder) as
// calls on a batch of contiguous spectra.
//
//   latent::Encoder<float> enc(nn::make_conv_vae<float>());   // or a trained / loaded Vae
//   enc.encode(x, batch, mean, logvar, ws);                   // x: batch x input_size()
//   enc.reconstruction_error(x, mean, batch, err, ws);         // mean squared error per row
//
// A sequential model whose output is [batch, latent] is a deterministic
// encoder: the raw-spectrum encoder of the study's two-encoder variant
// (nn::train::VaeTrainer::fit_two_encoder), which maps raw spectra into the
// VAE's latent space. It has a mean only: no log-variance (embed the
// simulated references with the VAE) and no decoder (no anomaly score).
//
// Everything else in latent/ and stream/ sees only this class, so a change
// of the model type (nn::Model) is ported here and nowhere else.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "corespec/core/error.hpp"
#include "corespec/nn/models/vae.hpp"
#include "corespec/nn/serialize.hpp"
#include "corespec/nn/workspace.hpp"

namespace corespec::latent {

/// A VAE's encoder (or a deterministic encoder) as a batch function. Const
/// and thread-safe (one nn::Workspace per thread); copies share the model.
template <class T>
class Encoder {
public:
    explicit Encoder(nn::Model<T> model) : Encoder(std::make_shared<const nn::Model<T>>(std::move(model))) {}
    /// A VAE, or a sequential model mapping [batch, input] to [batch, latent]
    /// (a deterministic encoder). Throws value_error for another model, one
    /// without an input shape, and shape_error for a sequential model whose
    /// output is not [batch, latent].
    explicit Encoder(std::shared_ptr<const nn::Model<T>> model) : vae_(std::move(model)) {
        using Kind = typename nn::Model<T>::Kind;
        if (!vae_) throw value_error("latent::Encoder: no model");
        if (vae_->kind() != Kind::vae && vae_->kind() != Kind::sequential)
            throw value_error("latent::Encoder: the model is neither a VAE nor a sequential (deterministic) encoder");
        if (vae_->input_shape().empty()) throw value_error("latent::Encoder: the model records no input shape");
        input_shape_ = nn::Shape(vae_->input_shape());
        if (vae_->kind() == Kind::vae) {
            latent_ = vae_->latent_size();
        } else {
            const nn::Shape out = vae_->output_shape(input_shape_.with_batch(1));
            if (out.rank() != 2) throw shape_error("latent::Encoder: a deterministic encoder's output [batch, latent]", {1, 0}, out.to_vector());
            latent_ = out[1];
        }
    }

    /// A model file (nn::save_model of a VAE or of a deterministic encoder);
    /// throws what nn::load_model and the constructor throw.
    static Encoder load(const std::string& path) { return Encoder(nn::load_model<T>(path)); }

    /// Values per input spectrum (the model's input shape without the batch).
    std::size_t input_size() const noexcept { return input_shape_.size(); }
    std::size_t latent_size() const noexcept { return latent_; }
    const nn::Model<T>& model() const noexcept { return *vae_; }
    /// A deterministic encoder: a mean only, no log-variance and no decoder.
    bool deterministic() const noexcept { return vae_->kind() != nn::Model<T>::Kind::vae; }
    /// Whether reconstruction_error can run (a VAE's decoder).
    bool has_decoder() const noexcept { return !deterministic(); }

    /// mean (and logvar unless null): batch x latent_size(), row-major;
    /// x: batch x input_size(), row-major. Throws value_error for a logvar
    /// asked of a deterministic encoder.
    void encode(const T* x, std::size_t batch, T* mean, T* logvar, nn::Workspace<T>& ws) const {
        if (deterministic() && logvar)
            throw value_error("latent::Encoder::encode: a deterministic encoder has no log-variance (embed the references with the VAE)");
        if (batch == 0) return;
        const nn::Shape ls{batch, latent_size()};
        const nn::ConstTensorView<T> in(x, input_shape_.with_batch(batch));
        if (deterministic()) {
            vae_->forward(in, nn::TensorView<T>(mean, ls), ws);
            return;
        }
        // Without logvar (the stream's case) the log-variance head is not run.
        vae_->encode(in, nn::TensorView<T>(mean, ls), logvar ? nn::TensorView<T>(logvar, ls) : nn::TensorView<T>(), ws);
    }

    /// err[i] = mean over j of (decode(mean_i)_j - x_ij)^2, the anomaly score
    /// of row i (the deterministic reconstruction, as Vae::reconstruct).
    /// Throws value_error without a decoder.
    void reconstruction_error(const T* x, const T* mean, std::size_t batch, T* err, nn::Workspace<T>& ws) const {
        if (!has_decoder()) throw value_error("latent::Encoder::reconstruction_error: a deterministic encoder has no decoder");
        if (batch == 0) return;
        typename nn::Workspace<T>::Frame frame(ws);
        const std::size_t n = input_size();
        T* out = ws.allocate(batch * n);
        vae_->decode(nn::ConstTensorView<T>(mean, nn::Shape{batch, latent_size()}),
                     nn::TensorView<T>(out, input_shape_.with_batch(batch)), ws);
        for (std::size_t i = 0; i < batch; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const double d = static_cast<double>(out[i * n + j]) - static_cast<double>(x[i * n + j]);
                s += d * d;
            }
            err[i] = static_cast<T>(s / static_cast<double>(n));
        }
    }

private:
    std::shared_ptr<const nn::Model<T>> vae_;
    nn::Shape input_shape_;
    std::size_t latent_ = 0;
};

}  // namespace corespec::latent
