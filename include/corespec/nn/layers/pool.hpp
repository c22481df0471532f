// corespec/nn/layers/pool.hpp - MaxPool1d, AvgPool1d and global average
// pooling over the length of [batch, channels, length].
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/activation.hpp"

namespace corespec::nn {

/// Max or average pooling with PyTorch's semantics (floor mode; padding
/// counted in the average, count_include_pad = true; max ignores padding).
template <class T>
class Pool1d : public Layer<T> {
public:
    enum class Kind { max, average };
    /// stride 0 means stride = kernel. Throws value_error for kernel 0 or
    /// padding > kernel / 2 (as PyTorch).
    Pool1d(Kind kind, std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0)
        : kind_(kind), k_(kernel), s_(stride ? stride : kernel), p_(padding) {
        if (k_ == 0 || 2 * p_ > k_) throw value_error("nn::Pool1d: need kernel > 0 and padding <= kernel / 2");
    }
    std::string type() const override { return kind_ == Kind::max ? "max_pool1d" : "avg_pool1d"; }
    Shape output_shape(const Shape& in) const override {
        if (in.rank() != 3 || in[2] + 2 * p_ < k_)
            throw shape_error("nn::" + type() + " input (batch, channels, length >= kernel)", {0, 0, k_}, in.to_vector());
        return Shape{in[0], in[1], (in[2] + 2 * p_ - k_) / s_ + 1};
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        each_window(in, out.shape()[2], [&](std::size_t row, std::size_t j, std::ptrdiff_t lo, std::ptrdiff_t hi) {
            const T* x = in.data() + row * in.shape()[2];
            T r = kind_ == Kind::max ? -std::numeric_limits<T>::infinity() : T(0);
            for (std::ptrdiff_t i = lo; i < hi; ++i) r = kind_ == Kind::max ? (x[i] > r ? x[i] : r) : r + x[i];
            out[row * out.shape()[2] + j] = kind_ == Kind::max ? r : r / T(k_);
        });
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>&) const override {
        detail::check_same<T>("nn::" + type() + " grad_out", output_shape(in.shape()), grad_out.shape());
        if (grad_in.empty()) return;
        for (std::size_t i = 0; i < grad_in.size(); ++i) grad_in[i] = T(0);
        const std::size_t lout = out.shape()[2], lin = in.shape()[2];
        each_window(in, lout, [&](std::size_t row, std::size_t j, std::ptrdiff_t lo, std::ptrdiff_t hi) {
            const T* x = in.data() + row * lin;
            T* gx = grad_in.data() + row * lin;
            const T g = grad_out[row * lout + j];
            if (kind_ == Kind::average) {
                for (std::ptrdiff_t i = lo; i < hi; ++i) gx[i] += g / T(k_);
            } else {  // the first maximum takes the gradient, as PyTorch
                std::ptrdiff_t arg = lo;
                for (std::ptrdiff_t i = lo; i < hi; ++i)
                    if (x[i] > x[arg]) arg = i;
                gx[arg] += g;
            }
        });
    }
    nlohmann::json config() const override {
        return {{"type", type()}, {"kernel_size", k_}, {"stride", s_}, {"padding", p_}};
    }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Pool1d>(*this); }

private:
    template <class F>
    void each_window(ConstTensorView<T> in, std::size_t lout, F&& f) const {
        const std::size_t rows = in.shape()[0] * in.shape()[1];
        const std::ptrdiff_t lin = static_cast<std::ptrdiff_t>(in.shape()[2]);
        for (std::size_t row = 0; row < rows; ++row)
            for (std::size_t j = 0; j < lout; ++j) {
                std::ptrdiff_t lo = static_cast<std::ptrdiff_t>(j * s_) - static_cast<std::ptrdiff_t>(p_);
                std::ptrdiff_t hi = lo + static_cast<std::ptrdiff_t>(k_);
                f(row, j, lo < 0 ? 0 : lo, hi > lin ? lin : hi);
            }
    }
    Kind kind_;
    std::size_t k_, s_, p_;
};

template <class T>
struct MaxPool1d : Pool1d<T> {
    explicit MaxPool1d(std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0)
        : Pool1d<T>(Pool1d<T>::Kind::max, kernel, stride, padding) {}
};
template <class T>
struct AvgPool1d : Pool1d<T> {
    explicit AvgPool1d(std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0)
        : Pool1d<T>(Pool1d<T>::Kind::average, kernel, stride, padding) {}
};

/// [batch, channels, length] -> [batch, channels]: the mean over the length.
template <class T>
class GlobalAvgPool1d : public Layer<T> {
public:
    std::string type() const override { return "global_avg_pool1d"; }
    Shape output_shape(const Shape& in) const override {
        if (in.rank() != 3 || in[2] == 0) throw shape_error("nn::GlobalAvgPool1d input", {0, 0, 1}, in.to_vector());
        return Shape{in[0], in[1]};
    }
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        const std::size_t l = in.shape()[2];
        for (std::size_t r = 0; r < out.size(); ++r) {
            T s = 0;
            for (std::size_t i = 0; i < l; ++i) s += in[r * l + i];
            out[r] = s / T(l);
        }
    }
    bool has_backward() const noexcept override { return true; }
    void backward(ConstTensorView<T> in, ConstTensorView<T>, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>&) const override {
        detail::check_same<T>("nn::GlobalAvgPool1d grad_out", output_shape(in.shape()), grad_out.shape());
        if (grad_in.empty()) return;
        const std::size_t l = in.shape()[2];
        for (std::size_t r = 0; r < grad_out.size(); ++r)
            for (std::size_t i = 0; i < l; ++i) grad_in[r * l + i] = grad_out[r] / T(l);
    }
    nlohmann::json config() const override { return {{"type", type()}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<GlobalAvgPool1d>(*this); }
};

}  // namespace corespec::nn
