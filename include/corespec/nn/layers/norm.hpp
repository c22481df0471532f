// corespec/nn/layers/norm.hpp - BatchNorm1d (foldable into the layer before
// it) and LayerNorm.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/conv1d.hpp"
#include "corespec/nn/layers/dense.hpp"

namespace corespec::nn {

/// BatchNorm1d over channels (dimension 1) of [batch, C] or [batch, C, L].
/// Parameters "weight", "bias" [C] and the buffers "running_mean",
/// "running_var" [C] (not trainable). Inference uses the running statistics;
/// training mode (Workspace::training) the batch statistics (biased
/// variance, as PyTorch normalises). forward is const, so the running
/// statistics are updated by the trainer (train::RunningStatistics): it sums
/// the moments of each thread's slice with accumulate_moments and calls
/// update_running_statistics once per batch, as PyTorch does in train mode:
///   running_mean = (1 - momentum) running_mean + momentum * batch mean
///   running_var  = (1 - momentum) running_var  + momentum * unbiased batch variance
template <class T>
class BatchNorm1d : public Layer<T> {
public:
    /// Throws value_error for zero features or eps <= 0.
    explicit BatchNorm1d(std::size_t num_features, double eps = 1e-5, double momentum = 0.1)
        : c_(num_features), eps_(eps), momentum_(momentum) {
        if (c_ == 0 || !(eps > 0) || !(momentum >= 0 && momentum <= 1))
            throw value_error("nn::BatchNorm1d: need num_features > 0, eps > 0 and momentum in [0, 1]");
        this->declare_parameter("weight", Shape{c_});
        this->declare_parameter("bias", Shape{c_});
        this->declare_parameter("running_mean", Shape{c_}, false);
        this->declare_parameter("running_var", Shape{c_}, false);
        for (std::size_t i = 0; i < c_; ++i) this->params_[i] = T(1), this->params_[3 * c_ + i] = T(1);
    }
    std::string type() const override { return "batch_norm1d"; }
    std::size_t num_features() const noexcept { return c_; }
    double eps() const noexcept { return eps_; }
    double momentum() const noexcept { return momentum_; }

    /// Size of the moment accumulator: the element count, then per channel
    /// the sum and the sum of squares.
    std::size_t moments_size() const noexcept override { return 1 + 2 * c_; }

    /// Adds the count, per-channel sums and sums of squares of `in` (this
    /// layer's input, or a batch slice of it) to acc[0 .. moments_size()).
    void accumulate_moments(ConstTensorView<T> in, span<double> acc) const override {
        output_shape(in.shape());
        if (acc.size() != moments_size()) throw shape_error("nn::BatchNorm1d moments", {moments_size()}, {acc.size()});
        const std::size_t inner = inner_size(in);
        acc[0] += static_cast<double>(in.batch() * inner);
        for (std::size_t b = 0; b < in.batch(); ++b)
            for (std::size_t c = 0; c < c_; ++c) {
                const T* x = in.data() + (b * c_ + c) * inner;
                double s = 0, s2 = 0;
                for (std::size_t l = 0; l < inner; ++l) s += double(x[l]), s2 += double(x[l]) * double(x[l]);
                acc[1 + c] += s, acc[1 + c_ + c] += s2;
            }
    }

    /// Moves the running statistics towards the batch whose moments are in
    /// `acc` (see accumulate_moments), with PyTorch's momentum and unbiased
    /// variance. A batch of one value per channel updates only the mean (its
    /// unbiased variance is undefined; PyTorch refuses such batches).
    void update_running_statistics(span<const double> acc) override {
        if (acc.size() != moments_size()) throw shape_error("nn::BatchNorm1d moments", {moments_size()}, {acc.size()});
        const double n = acc[0], m = momentum_;
        if (!(n >= 1)) return;
        T* rm = this->params_.data() + 2 * c_;
        T* rv = this->params_.data() + 3 * c_;
        for (std::size_t c = 0; c < c_; ++c) {
            const double mean = acc[1 + c] / n;
            rm[c] = T((1 - m) * double(rm[c]) + m * mean);
            if (n >= 2) {
                const double var = std::max(0.0, acc[1 + c_ + c] - n * mean * mean) / (n - 1);
                rv[c] = T((1 - m) * double(rv[c]) + m * var);
            }
        }
    }

    Shape output_shape(const Shape& in) const override {
        if ((in.rank() != 2 && in.rank() != 3) || in[1] != c_)
            throw shape_error("nn::BatchNorm1d input (batch, channels[, length])", {in.rank() ? in[0] : 0, c_}, in.to_vector());
        return in;
    }

    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        typename Workspace<T>::Frame frame(ws);
        const T *mean, *var;
        statistics(in, ws, mean, var);
        const std::size_t inner = inner_size(in);
        for (std::size_t b = 0; b < in.batch(); ++b)
            for (std::size_t c = 0; c < c_; ++c) {
                const T s = gamma()[c] / std::sqrt(var[c] + T(eps_)), t = beta()[c] - mean[c] * s;
                const T* x = in.data() + (b * c_ + c) * inner;
                T* y = out.data() + (b * c_ + c) * inner;
                for (std::size_t l = 0; l < inner; ++l) y[l] = x[l] * s + t;
            }
    }

    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const override {
        detail::check_same<T>("nn::BatchNorm1d grad_out", output_shape(in.shape()), grad_out.shape());
        if (!grad_params.empty() && grad_params.size() != this->parameter_count())
            throw shape_error("nn::BatchNorm1d grad_params", {this->parameter_count()}, {grad_params.size()});
        typename Workspace<T>::Frame frame(ws);
        const T *mean, *var;
        statistics(in, ws, mean, var);
        const std::size_t inner = inner_size(in), count = in.batch() * inner;
        for (std::size_t c = 0; c < c_; ++c) {
            const T inv = T(1) / std::sqrt(var[c] + T(eps_));
            T sum_g = 0, sum_gx = 0;
            for (std::size_t b = 0; b < in.batch(); ++b)
                for (std::size_t l = 0; l < inner; ++l) {
                    std::size_t i = (b * c_ + c) * inner + l;
                    sum_g += grad_out[i];
                    sum_gx += grad_out[i] * (in[i] - mean[c]) * inv;
                }
            if (!grad_params.empty()) grad_params[c] += sum_gx, grad_params[c_ + c] += sum_g;
            if (grad_in.empty()) continue;
            const T w = gamma()[c] * inv;
            for (std::size_t b = 0; b < in.batch(); ++b)
                for (std::size_t l = 0; l < inner; ++l) {
                    std::size_t i = (b * c_ + c) * inner + l;
                    if (ws.training)
                        grad_in[i] = w * (grad_out[i] - sum_g / T(count) - (in[i] - mean[c]) * inv * sum_gx / T(count));
                    else
                        grad_in[i] = w * grad_out[i];
                }
        }
    }

    nlohmann::json config() const override {
        return {{"type", type()}, {"num_features", c_}, {"eps", eps_}, {"momentum", momentum_}};
    }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<BatchNorm1d>(*this); }

    /// Per-channel scale s = weight / sqrt(running_var + eps) and shift
    /// t = bias - running_mean * s of the inference transform y = s x + t.
    void affine(std::size_t c, T& s, T& t) const noexcept {
        s = gamma()[c] / std::sqrt(this->params_[3 * c_ + c] + T(eps_));
        t = beta()[c] - this->params_[2 * c_ + c] * s;
    }

private:
    const T* gamma() const noexcept { return this->params_.data(); }
    const T* beta() const noexcept { return this->params_.data() + c_; }
    std::size_t inner_size(ConstTensorView<T> in) const noexcept { return in.rank() == 3 ? in.shape()[2] : 1; }

    void statistics(ConstTensorView<T> in, Workspace<T>& ws, const T*& mean, const T*& var) const {
        if (!ws.training) {
            mean = this->params_.data() + 2 * c_, var = this->params_.data() + 3 * c_;
            return;
        }
        T* m = ws.allocate(2 * c_);
        T* v = m + c_;
        const std::size_t inner = inner_size(in), count = in.batch() * inner;
        for (std::size_t c = 0; c < c_; ++c) {
            double s = 0, s2 = 0;
            for (std::size_t b = 0; b < in.batch(); ++b)
                for (std::size_t l = 0; l < inner; ++l) s += double(in[(b * c_ + c) * inner + l]);
            const double mu = s / double(count);
            for (std::size_t b = 0; b < in.batch(); ++b)
                for (std::size_t l = 0; l < inner; ++l) {
                    double d = double(in[(b * c_ + c) * inner + l]) - mu;
                    s2 += d * d;
                }
            m[c] = T(mu), v[c] = T(s2 / double(count));
        }
        mean = m, var = v;
    }

    std::size_t c_;
    double eps_, momentum_;
};

/// Folds an inference BatchNorm1d into the Dense or Conv1D before it (which
/// must have a bias and no activation): W'[o] = s_o W[o], b'[o] = s_o b[o] + t_o.
/// Returns false (and changes nothing) when `prev` is neither.
template <class T>
bool fold_batch_norm(Layer<T>& prev, const BatchNorm1d<T>& bn) {
    std::size_t out = 0;
    bool bias = false;
    if (auto* d = dynamic_cast<Dense<T>*>(&prev)) {
        out = d->out_features(), bias = d->has_bias();
        if (!d->activation().is_identity()) throw unsupported_error("nn::fold_batch_norm: the dense layer has an activation");
    } else if (auto* c = dynamic_cast<Conv1D<T>*>(&prev)) {
        out = c->out_channels(), bias = c->has_bias();
        if (!c->activation().is_identity()) throw unsupported_error("nn::fold_batch_norm: the conv layer has an activation");
    } else {
        return false;
    }
    if (!bias) throw unsupported_error("nn::fold_batch_norm: the layer before BatchNorm1d has no bias");
    if (out != bn.num_features()) throw shape_error("nn::fold_batch_norm channels", {out}, {bn.num_features()});
    auto w = prev.parameter("weight");
    auto b = prev.parameter("bias");
    const std::size_t per = w.size() / out;
    for (std::size_t o = 0; o < out; ++o) {
        T s, t;
        bn.affine(o, s, t);
        for (std::size_t i = 0; i < per; ++i) w[o * per + i] *= s;
        b[o] = b[o] * s + t;
    }
    prev.parameters_changed();
    return true;
}

/// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * weight + bias.
/// Parameters "weight", "bias" [normalized_size].
template <class T>
class LayerNorm : public Layer<T> {
public:
    /// Throws value_error for a zero size or eps <= 0.
    explicit LayerNorm(std::size_t normalized_size, double eps = 1e-5, bool affine = true)
        : n_(normalized_size), eps_(eps), affine_(affine) {
        if (n_ == 0 || !(eps > 0)) throw value_error("nn::LayerNorm: need a positive size and eps > 0");
        if (affine_) {
            this->declare_parameter("weight", Shape{n_});
            this->declare_parameter("bias", Shape{n_});
            for (std::size_t i = 0; i < n_; ++i) this->params_[i] = T(1);
        }
    }
    std::string type() const override { return "layer_norm"; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::layer_norm", in);
        if (in[in.rank() - 1] != n_) throw shape_error("nn::LayerNorm input (last dimension)", {0, n_}, in.to_vector());
        return in;
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        for (std::size_t r = 0; r < in.size() / n_; ++r) {
            const T* x = in.data() + r * n_;
            T* y = out.data() + r * n_;
            T mean, inv;
            moments(x, mean, inv);
            for (std::size_t j = 0; j < n_; ++j) {
                T v = (x[j] - mean) * inv;
                y[j] = affine_ ? v * this->params_[j] + this->params_[n_ + j] : v;
            }
        }
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>&) const override {
        detail::check_same<T>("nn::LayerNorm grad_out", in.shape(), grad_out.shape());
        for (std::size_t r = 0; r < in.size() / n_; ++r) {
            const T* x = in.data() + r * n_;
            const T* g = grad_out.data() + r * n_;
            T mean, inv;
            moments(x, mean, inv);
            T sum_wg = 0, sum_wgx = 0;
            for (std::size_t j = 0; j < n_; ++j) {
                T xh = (x[j] - mean) * inv, wg = affine_ ? g[j] * this->params_[j] : g[j];
                sum_wg += wg, sum_wgx += wg * xh;
                if (affine_ && !grad_params.empty()) grad_params[j] += g[j] * xh, grad_params[n_ + j] += g[j];
            }
            if (grad_in.empty()) continue;
            for (std::size_t j = 0; j < n_; ++j) {
                T xh = (x[j] - mean) * inv, wg = affine_ ? g[j] * this->params_[j] : g[j];
                grad_in[r * n_ + j] = inv * (wg - sum_wg / T(n_) - xh * sum_wgx / T(n_));
            }
        }
    }
    nlohmann::json config() const override {
        return {{"type", type()}, {"normalized_shape", n_}, {"eps", eps_}, {"elementwise_affine", affine_}};
    }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<LayerNorm>(*this); }

private:
    void moments(const T* x, T& mean, T& inv) const noexcept {
        T s = 0;
        for (std::size_t j = 0; j < n_; ++j) s += x[j];
        mean = s / T(n_);
        T v = 0;
        for (std::size_t j = 0; j < n_; ++j) v += (x[j] - mean) * (x[j] - mean);
        inv = T(1) / std::sqrt(v / T(n_) + T(eps_));
    }
    std::size_t n_;
    double eps_;
    bool affine_;
};

}  // namespace corespec::nn
