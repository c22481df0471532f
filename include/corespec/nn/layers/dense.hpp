// corespec/nn/layers/dense.hpp - fully connected layer, y = act(x W^T + b).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/detail.hpp"

namespace corespec::nn {

/// Dense (PyTorch nn.Linear + an optional fused activation). Parameters:
/// "weight" [out, in], "bias" [out] (when bias). Input [batch, in], output
/// [batch, out]. The weight is packed into GEMM panels by parameters_changed().
template <class T>
class Dense : public Layer<T> {
public:
    /// Throws value_error for zero sizes. Parameters start at zero.
    Dense(std::size_t in_features, std::size_t out_features, Activation act = Activation::identity(), bool bias = true)
        : in_(in_features), out_(out_features), act_(act), bias_(bias) {
        if (in_ == 0 || out_ == 0) throw value_error("nn::Dense: zero features");
        this->declare_parameter("weight", Shape{out_, in_});
        if (bias_) this->declare_parameter("bias", Shape{out_});
        parameters_changed();
    }

    std::string type() const override { return "dense"; }
    std::size_t in_features() const noexcept { return in_; }
    std::size_t out_features() const noexcept { return out_; }
    const Activation& activation() const noexcept { return act_; }
    bool has_bias() const noexcept { return bias_; }

    Shape output_shape(const Shape& in) const override {
        detail::require_shape("nn::Dense", in, 2, {in_});
        return Shape{in[0], out_};
    }

    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        kernels::kernels_of(ws).gemm(gemm_args(in, out.data()));
    }

    bool has_backward() const noexcept override { return true; }

    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const override {
        this->check_output(in, TensorView<T>(const_cast<T*>(out.data()), out.shape()));
        if (grad_out.shape() != out.shape()) throw shape_error("nn::Dense grad_out", out.shape().to_vector(), grad_out.shape().to_vector());
        if (!grad_in.empty() && grad_in.shape() != in.shape()) throw shape_error("nn::Dense grad_in", in.shape().to_vector(), grad_in.shape().to_vector());
        if (!grad_params.empty() && grad_params.size() != this->parameter_count())
            throw shape_error("nn::Dense grad_params", {this->parameter_count()}, {grad_params.size()});
        const auto& K = kernels::kernels_of(ws);
        typename Workspace<T>::Frame frame(ws);
        const std::size_t m = in.batch();
        const T* g = grad_out.data();
        if (!act_.is_identity()) {  // gradient before the activation
            T* gp = ws.allocate(m * out_);
            const T* pre = out.data();
            if (needs_preactivation(act_)) {  // recompute x W^T + b: cheaper than keeping it for every layer
                T* z = ws.allocate(m * out_);
                auto args = gemm_args(in, z);
                args.act = Activation::identity();
                K.gemm(args);
                pre = z;
            }
            K.activation_backward(act_, pre, out.data(), g, gp, m * out_);
            g = gp;
        }
        if (!grad_in.empty()) {  // grad_in = g W
            T* wp = ws.allocate(kernels::packed_size<T>(out_, in_));
            kernels::pack_b<T>(out_, in_, this->params_.data(), static_cast<std::ptrdiff_t>(in_), 1, wp);
            kernels::GemmArgs<T> a;
            a.m = m, a.n = in_, a.k = out_;
            a.a = g, a.a_rs = static_cast<std::ptrdiff_t>(out_), a.a_cs = 1;
            a.b_packed = wp;
            a.c = grad_in.data(), a.c_rs = static_cast<std::ptrdiff_t>(in_), a.c_cs = 1;
            K.gemm(a);
        }
        if (!grad_params.empty()) {  // grad_W += g^T x, grad_b += column sums of g
            T* xp = ws.allocate(kernels::packed_size<T>(m, in_));
            kernels::pack_b<T>(m, in_, in.data(), static_cast<std::ptrdiff_t>(in_), 1, xp);
            // g^T copied to contiguous rows: the GEMM's unit-stride A path is
            // ~1.5x faster than its strided one, the copy is out x batch only.
            T* gt = ws.allocate(out_ * m);
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < out_; ++j) gt[j * m + i] = g[i * out_ + j];
            kernels::GemmArgs<T> a;
            a.m = out_, a.n = in_, a.k = m;
            a.a = gt, a.a_rs = static_cast<std::ptrdiff_t>(m), a.a_cs = 1;
            a.b_packed = xp;
            a.c = grad_params.data(), a.c_rs = static_cast<std::ptrdiff_t>(in_), a.c_cs = 1;
            a.accumulate = true;
            K.gemm(a);
            if (bias_) {
                T* gb = grad_params.data() + out_ * in_;
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t j = 0; j < out_; ++j) gb[j] += g[i * out_ + j];
            }
        }
    }

    nlohmann::json config() const override {
        nlohmann::json j{{"type", type()}, {"in_features", in_}, {"out_features", out_}, {"bias", bias_},
                         {"activation", act_.name()}};
        if (act_.has_parameter()) j["activation_alpha"] = act_.alpha;
        return j;
    }

    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Dense>(*this); }

    void parameters_changed() override {
        // pack_b writes every element (padding included): no zero fill when
        // the size is unchanged (a trainer repacks after every step).
        const std::size_t n = kernels::packed_size<T>(in_, out_);
        if (packed_.size() != n) packed_.assign(n, T(0));
        // B(k, j) = W[j, k]: W^T packed in panels of output features.
        kernels::pack_b<T>(in_, out_, this->params_.data(), 1, static_cast<std::ptrdiff_t>(in_), packed_.data());
    }

    /// The activation's derivative needs its input (not only its output).
    static bool needs_preactivation(const Activation& a) noexcept {
        using K = Activation::Kind;
        return a.kind == K::gelu || a.kind == K::gelu_tanh || a.kind == K::silu || a.kind == K::softplus ||
               (a.kind == K::leaky_relu && a.alpha <= 0);
    }

private:
    kernels::GemmArgs<T> gemm_args(ConstTensorView<T> in, T* out) const noexcept {
        kernels::GemmArgs<T> a;
        a.m = in.batch(), a.n = out_, a.k = in_;
        a.a = in.data(), a.a_rs = static_cast<std::ptrdiff_t>(in_), a.a_cs = 1;
        a.b_packed = packed_.data();
        a.c = out, a.c_rs = static_cast<std::ptrdiff_t>(out_), a.c_cs = 1;
        a.bias_col = bias_ ? this->params_.data() + out_ * in_ : nullptr;
        a.act = act_;
        return a;
    }

    std::size_t in_, out_;
    Activation act_;
    bool bias_;
    detail::aligned_vector<T> packed_;
};

}  // namespace corespec::nn
