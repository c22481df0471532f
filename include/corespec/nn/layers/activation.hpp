// corespec/nn/layers/activation.hpp - stand-alone activation layers:
// element-wise activations, PReLU (learned slopes) and softmax.
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/detail.hpp"

namespace corespec::nn {

namespace detail {
template <class T>
void check_same(const std::string& what, const Shape& want, const Shape& got) {
    if (want != got) throw shape_error(what, want.to_vector(), got.to_vector());
}
inline void require_batched(const char* what, const Shape& s) {
    if (s.rank() < 2) throw shape_error(std::string(what) + " input (batch first, rank 2 or 3)", {0, 0}, s.to_vector());
}
}  // namespace detail

/// An element-wise activation on a tensor of any shape (rank 2 or 3).
/// Type name: the activation's name ("relu", "leaky_relu", ...).
template <class T>
class ActivationLayer : public Layer<T> {
public:
    explicit ActivationLayer(Activation act) : act_(act) {}

    std::string type() const override { return act_.name(); }
    const Activation& activation() const noexcept { return act_; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::activation", in);
        return in;
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        kernels::kernels_of(ws).activation_forward(act_, in.data(), out.data(), in.size());
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>& ws) const override {
        detail::check_same<T>("nn::" + type() + " grad_out", in.shape(), grad_out.shape());
        detail::check_same<T>("nn::" + type() + " output", in.shape(), out.shape());
        if (grad_in.empty()) return;
        detail::check_same<T>("nn::" + type() + " grad_in", in.shape(), grad_in.shape());
        kernels::kernels_of(ws).activation_backward(act_, in.data(), out.data(), grad_out.data(), grad_in.data(), in.size());
    }
    nlohmann::json config() const override {
        nlohmann::json j{{"type", type()}};
        if (act_.has_parameter()) j["alpha"] = act_.alpha;
        return j;
    }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<ActivationLayer>(*this); }

private:
    Activation act_;
};

/// PReLU: y = x for x > 0, a_c x otherwise; "weight" [num_parameters] with
/// num_parameters 1 (shared) or the channel count (dimension 1 of the input).
template <class T>
class PReLU : public Layer<T> {
public:
    /// Slopes start at `init` (PyTorch: 0.25). Throws value_error for 0 parameters.
    explicit PReLU(std::size_t num_parameters = 1, double init = 0.25) : n_(num_parameters) {
        if (n_ == 0) throw value_error("nn::PReLU: num_parameters must be positive");
        this->declare_parameter("weight", Shape{n_});
        for (auto& a : this->params_) a = static_cast<T>(init);
    }
    std::string type() const override { return "prelu"; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::prelu", in);
        if (n_ != 1 && in[1] != n_) throw shape_error("nn::PReLU input channels", {in[0], n_}, in.to_vector());
        return in;
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        run(in, [&](std::size_t i, T a) { out[i] = in[i] > T(0) ? in[i] : a * in[i]; });
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>&) const override {
        detail::check_same<T>("nn::PReLU grad_out", in.shape(), grad_out.shape());
        if (!grad_in.empty()) {
            detail::check_same<T>("nn::PReLU grad_in", in.shape(), grad_in.shape());
            run(in, [&](std::size_t i, T a) { grad_in[i] = in[i] > T(0) ? grad_out[i] : a * grad_out[i]; });
        }
        if (!grad_params.empty()) {
            const std::size_t per_sample = in.sample_size(), channels = in.rank() > 1 ? in.shape()[1] : 1;
            const std::size_t inner = per_sample / channels;
            for (std::size_t i = 0; i < in.size(); ++i)
                if (!(in[i] > T(0))) grad_params[n_ == 1 ? 0 : (i / inner) % channels] += grad_out[i] * in[i];
        }
    }
    nlohmann::json config() const override { return {{"type", type()}, {"num_parameters", n_}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<PReLU>(*this); }

private:
    template <class F>
    void run(ConstTensorView<T> in, F&& f) const {
        const std::size_t channels = in.shape()[1], inner = in.sample_size() / channels;
        for (std::size_t i = 0; i < in.size(); ++i) f(i, this->params_[n_ == 1 ? 0 : (i / inner) % channels]);
    }
    std::size_t n_;
};

/// Softmax over the last dimension.
template <class T>
class Softmax : public Layer<T> {
public:
    std::string type() const override { return "softmax"; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::softmax", in);
        return in;
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        const std::size_t cols = in.shape()[in.rank() - 1];
        kernels::kernels_of(ws).softmax_rows(in.data(), out.data(), in.size() / cols, cols);
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>&) const override {
        detail::check_same<T>("nn::Softmax grad_out", in.shape(), grad_out.shape());
        if (grad_in.empty()) return;
        const std::size_t cols = in.shape()[in.rank() - 1];
        for (std::size_t r = 0; r < in.size() / cols; ++r) {
            const T* y = out.data() + r * cols;
            const T* g = grad_out.data() + r * cols;
            T dot = 0;
            for (std::size_t j = 0; j < cols; ++j) dot += g[j] * y[j];
            for (std::size_t j = 0; j < cols; ++j) grad_in[r * cols + j] = y[j] * (g[j] - dot);
        }
    }
    nlohmann::json config() const override { return {{"type", type()}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Softmax>(*this); }
};

}  // namespace corespec::nn
