// corespec/nn/layers/shape.hpp - layers that move data without arithmetic:
// Flatten, Reshape, Dropout (identity at inference).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/activation.hpp"

namespace corespec::nn {

namespace detail {
template <class T>
void copy_tensor(ConstTensorView<T> in, TensorView<T> out) noexcept {
    if (in.data() != out.data())
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
}
}  // namespace detail

namespace detail {

/// A layer that only relabels the shape: forward and backward copy the values.
template <class T>
class ShapeOnlyLayer : public Layer<T> {
public:
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        copy_tensor(in, out);
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>&) const override {
        if (grad_out.size() != in.size())
            throw shape_error("nn::" + this->type() + " grad_out", this->output_shape(in.shape()).to_vector(),
                              grad_out.shape().to_vector());
        if (!grad_in.empty()) copy_tensor(grad_out, grad_in);
    }
};

}  // namespace detail

/// [batch, channels, length] -> [batch, channels * length] (PyTorch Flatten;
/// rank-2 input passes through).
template <class T>
class Flatten : public detail::ShapeOnlyLayer<T> {
public:
    std::string type() const override { return "flatten"; }
    bool passes_through(bool) const noexcept override { return true; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::flatten", in);
        return Shape{in[0], in.size() / (in[0] ? in[0] : 1)};
    }
    nlohmann::json config() const override { return {{"type", type()}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Flatten>(*this); }
};

/// Reshapes each sample to `shape` (no batch; rank 1 or 2, same size).
template <class T>
class Reshape : public detail::ShapeOnlyLayer<T> {
public:
    /// Throws value_error for a rank other than 1 or 2.
    explicit Reshape(Shape sample_shape) : shape_(sample_shape) {
        if (shape_.rank() < 1 || shape_.rank() > 2) throw value_error("nn::Reshape: target rank must be 1 or 2");
    }
    std::string type() const override { return "reshape"; }
    bool passes_through(bool) const noexcept override { return true; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::reshape", in);
        Shape out = shape_.with_batch(in[0]);
        if (out.size() != in.size()) throw shape_error("nn::Reshape input", out.to_vector(), in.to_vector());
        return out;
    }
    nlohmann::json config() const override { return {{"type", type()}, {"shape", shape_.to_vector()}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Reshape>(*this); }

private:
    Shape shape_;
};

/// Dropout with probability p: identity at inference; in training mode
/// (Workspace::training) keeps each element with probability 1 - p and
/// scales it by 1 / (1 - p). The mask is a counter-based hash of
/// (Workspace::seed, element index), so backward recomputes it exactly.
template <class T>
class Dropout : public Layer<T> {
public:
    /// Throws value_error unless 0 <= p < 1.
    explicit Dropout(double p = 0.5) : p_(p) {
        if (!(p >= 0.0 && p < 1.0)) throw value_error("nn::Dropout: p must be in [0, 1)");
    }
    std::string type() const override { return "dropout"; }
    double p() const noexcept { return p_; }
    bool passes_through(bool training) const noexcept override { return !training || p_ == 0.0; }
    Shape output_shape(const Shape& in) const override {
        detail::require_batched("nn::dropout", in);
        return in;
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        if (!ws.training || p_ == 0.0) return detail::copy_tensor(in, out);
        const T scale = T(1.0 / (1.0 - p_));
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = keep(ws.seed, i) ? in[i] * scale : T(0);
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>& ws) const override {
        detail::check_same<T>("nn::Dropout grad_out", in.shape(), grad_out.shape());
        if (grad_in.empty()) return;
        if (!ws.training || p_ == 0.0) return detail::copy_tensor(grad_out, grad_in);
        const T scale = T(1.0 / (1.0 - p_));
        for (std::size_t i = 0; i < in.size(); ++i) grad_in[i] = keep(ws.seed, i) ? grad_out[i] * scale : T(0);
    }
    nlohmann::json config() const override { return {{"type", type()}, {"p", p_}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Dropout>(*this); }

    /// Whether element i survives for a seed (splitmix64 of seed and index).
    bool keep(std::uint64_t seed, std::size_t i) const noexcept {
        std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(i) + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return double(z >> 11) * 0x1.0p-53 >= p_;
    }

private:
    double p_;
};

}  // namespace corespec::nn
