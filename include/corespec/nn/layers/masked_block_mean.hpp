// corespec/nn/layers/masked_block_mean.hpp - the mean of the present blocks
// (late fusion by mean).
//
// Each input row holds M blocks of width w (e.g. one encoding per modality)
// followed by M presence values p_k, each 0 or 1. The output row is the mean
// of the present blocks followed by the presence values unchanged:
//
//   y[j]     = sum_k p_k e_k[j] / max(1, sum_k p_k)     j < w
//   y[w + k] = p_k                                      k < M
//
// so an absent block never enters the mean whatever it holds, a row with
// nothing present gives zeros (not NaN), and the next layer still knows
// which blocks it saw. The mask is data: backward gives the encodings their
// gradient, and the presence columns only the gradient of their pass-through
// copy (the mean is not differentiated in p). That is exact for 0 / 1 masks
// only, so forward and backward refuse any other presence value.
//
//   MaskedBlockMean<float> mean(7, 16);   // in 7 * 16 + 7 = 119 -> out 16 + 7 = 23
//
// No parameters. JSON config: {"type": "masked_block_mean", "blocks": M, "width": w}.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/detail.hpp"

namespace corespec::nn {

template <class T>
class MaskedBlockMean : public Layer<T> {
public:
    /// Throws value_error for zero blocks or a zero width.
    MaskedBlockMean(std::size_t blocks, std::size_t width) : blocks_(blocks), width_(width) {
        if (blocks_ == 0 || width_ == 0) throw value_error("nn::MaskedBlockMean: blocks and width must be > 0");
    }

    std::string type() const override { return "masked_block_mean"; }
    std::size_t blocks() const noexcept { return blocks_; }
    std::size_t width() const noexcept { return width_; }
    std::size_t in_features() const noexcept { return blocks_ * width_ + blocks_; }
    std::size_t out_features() const noexcept { return width_ + blocks_; }

    Shape output_shape(const Shape& in) const override {
        detail::require_shape("nn::MaskedBlockMean", in, 2, {in_features()});
        return Shape{in[0], out_features()};
    }

    /// Throws value_error naming the row and block for a presence value
    /// other than 0 or 1.
    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>&) const override {
        this->check_output(in, out);
        const std::size_t ni = in_features(), no = out_features();
        for (std::size_t r = 0; r < in.batch(); ++r) {
            const T* x = in.data() + r * ni;
            const T* p = x + blocks_ * width_;
            T* y = out.data() + r * no;
            std::fill(y, y + width_, T(0));
            for (std::size_t k = 0; k < blocks_; ++k)
                if (present(p, r, k))
                    for (std::size_t j = 0; j < width_; ++j) y[j] += x[k * width_ + j];
            const T scale = T(1) / std::max(T(1), count(p));
            for (std::size_t j = 0; j < width_; ++j) y[j] *= scale;
            std::copy(p, p + blocks_, y + width_);
        }
    }

    bool has_backward() const noexcept override { return true; }

    /// grad e_k = p_k / max(1, sum p) * grad of the mean; grad p_k = the
    /// gradient of its pass-through copy (the mask is data). No parameters.
    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T>, Workspace<T>&) const override {
        this->check_output(in, TensorView<T>(const_cast<T*>(out.data()), out.shape()));
        if (grad_out.shape() != out.shape())
            throw shape_error("nn::MaskedBlockMean grad_out", out.shape().to_vector(), grad_out.shape().to_vector());
        if (grad_in.empty()) return;
        if (grad_in.shape() != in.shape())
            throw shape_error("nn::MaskedBlockMean grad_in", in.shape().to_vector(), grad_in.shape().to_vector());
        const std::size_t ni = in_features(), no = out_features();
        for (std::size_t r = 0; r < in.batch(); ++r) {
            const T* p = in.data() + r * ni + blocks_ * width_;
            const T* g = grad_out.data() + r * no;
            T* gx = grad_in.data() + r * ni;
            const T scale = T(1) / std::max(T(1), count(p));
            for (std::size_t k = 0; k < blocks_; ++k) {
                const T s = present(p, r, k) ? scale : T(0);
                for (std::size_t j = 0; j < width_; ++j) gx[k * width_ + j] = s * g[j];
            }
            std::copy(g + width_, g + no, gx + blocks_ * width_);
        }
    }

    nlohmann::json config() const override { return {{"type", type()}, {"blocks", blocks_}, {"width", width_}}; }
    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<MaskedBlockMean>(*this); }

private:
    bool present(const T* p, std::size_t row, std::size_t k) const {
        if (p[k] == T(1)) return true;
        if (p[k] == T(0)) return false;
        throw value_error("nn::MaskedBlockMean: row " + std::to_string(row) + ", presence of block " + std::to_string(k) + " is " +
                          std::to_string(static_cast<double>(p[k])) + "; a presence value must be 0 or 1");
    }
    T count(const T* p) const noexcept {
        T n = 0;
        for (std::size_t k = 0; k < blocks_; ++k) n += p[k];
        return n;
    }

    std::size_t blocks_, width_;
};

}  // namespace corespec::nn
