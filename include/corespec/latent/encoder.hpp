// corespec/latent/encoder.hpp - the one place where latent:: and stream::
// reach the VAE: "encoder + mean head" (and log-variance, decoder) as calls
// on a batch of contiguous spectra.
//
//   latent::Encoder<float> enc(nn::make_conv_vae<float>());   // or a trained / loaded Vae
//   enc.encode(x, batch, mean, logvar, ws);                   // x: batch x input_size()
//   enc.reconstruction_error(x, mean, batch, err, ws);         // mean squared error per row
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

/// A VAE's encoder as a batch function. Const and thread-safe (one
/// nn::Workspace per thread); copies share the model.
template <class T>
class Encoder {
public:
    explicit Encoder(nn::Model<T> vae) : Encoder(std::make_shared<const nn::Model<T>>(std::move(vae))) {}
    explicit Encoder(std::shared_ptr<const nn::Model<T>> vae) : vae_(std::move(vae)) {
        if (!vae_) throw value_error("latent::Encoder: no model");
        if (vae_->kind() != nn::Model<T>::Kind::vae) throw value_error("latent::Encoder: the model is not a VAE");
        if (vae_->input_shape().empty()) throw value_error("latent::Encoder: the VAE records no input shape");
        input_shape_ = nn::Shape(vae_->input_shape());
    }

    /// A VAE model file (nn::save_model of a VAE); throws what nn::load_model
    /// throws, and value_error for a model of another kind.
    static Encoder load(const std::string& path) { return Encoder(nn::load_model<T>(path)); }

    /// Values per input spectrum (the VAE's input shape without the batch).
    std::size_t input_size() const noexcept { return input_shape_.size(); }
    std::size_t latent_size() const noexcept { return vae_->latent_size(); }
    const nn::Model<T>& model() const noexcept { return *vae_; }

    /// mean (and logvar unless null): batch x latent_size(), row-major;
    /// x: batch x input_size(), row-major.
    void encode(const T* x, std::size_t batch, T* mean, T* logvar, nn::Workspace<T>& ws) const {
        if (batch == 0) return;
        typename nn::Workspace<T>::Frame frame(ws);
        const nn::Shape ls{batch, latent_size()};
        T* lv = logvar ? logvar : ws.allocate(ls.size());
        vae_->encode(nn::ConstTensorView<T>(x, input_shape_.with_batch(batch)), nn::TensorView<T>(mean, ls),
                     nn::TensorView<T>(lv, ls), ws);
    }

    /// err[i] = mean over j of (decode(mean_i)_j - x_ij)^2, the anomaly score
    /// of row i (the deterministic reconstruction, as Vae::reconstruct).
    void reconstruction_error(const T* x, const T* mean, std::size_t batch, T* err, nn::Workspace<T>& ws) const {
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
};

}  // namespace corespec::latent
