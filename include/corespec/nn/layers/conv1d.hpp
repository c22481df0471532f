// corespec/nn/layers/conv1d.hpp - 1-D convolution and transposed convolution
// (PyTorch Conv1d / ConvTranspose1d semantics, optional fused activation).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "corespec/nn/kernels/conv.hpp"
#include "corespec/nn/kernels/table.hpp"
#include "corespec/nn/layer.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/detail.hpp"

namespace corespec::nn {

/// Padding of a Conv1D: valid (none), same (output length ceil(length /
/// stride), the extra element on the right, as TensorFlow and PyTorch do),
/// or explicit left/right amounts.
struct Padding {
    enum class Mode { valid, same, explicit_ };
    Mode mode = Mode::valid;
    std::size_t left = 0, right = 0;

    static Padding valid() { return {}; }
    static Padding same() { return {Mode::same, 0, 0}; }
    static Padding symmetric(std::size_t p) { return {Mode::explicit_, p, p}; }
    static Padding explicit_pad(std::size_t left, std::size_t right) { return {Mode::explicit_, left, right}; }

    /// (left, right) for an input length.
    std::pair<std::size_t, std::size_t> resolve(std::size_t length, std::size_t kernel, std::size_t stride,
                                                std::size_t dilation) const noexcept {
        if (mode == Mode::valid) return {0, 0};
        if (mode == Mode::explicit_) return {left, right};
        std::size_t out = (length + stride - 1) / stride;
        std::size_t span = dilation * (kernel - 1) + 1;
        std::size_t need = (out - 1) * stride + span;
        std::size_t total = need > length ? need - length : 0;
        return {total / 2, total - total / 2};
    }

    /// "valid", "same", an integer or [left, right].
    nlohmann::json to_json() const {
        if (mode == Mode::valid) return "valid";
        if (mode == Mode::same) return "same";
        if (left == right) return left;
        return nlohmann::json::array({left, right});
    }
    static bool non_negative(const nlohmann::json& j) {
        return j.is_number_unsigned() || (j.is_number_integer() && j.get<long long>() >= 0);
    }
    static Padding from_json(const nlohmann::json& j) {
        if (j.is_string()) {
            if (j == "valid") return valid();
            if (j == "same") return same();
        } else if (non_negative(j)) {
            return symmetric(j.get<std::size_t>());
        } else if (j.is_array() && j.size() == 2 && non_negative(j[0]) && non_negative(j[1])) {
            return explicit_pad(j[0].get<std::size_t>(), j[1].get<std::size_t>());
        }
        throw value_error("nn::Padding: expected \"valid\", \"same\", a non-negative integer or [left, right], got " + j.dump());
    }
};

namespace detail {

/// Writes d loss / d pre-activation into ws memory (or returns grad_out for
/// identity). `recompute(z)` writes the pre-activation when the derivative
/// needs it.
template <class T, class F>
const T* preactivation_gradient(const Activation& act, const kernels::KernelTable<T>& K, const T* out, const T* grad_out,
                                std::size_t n, Workspace<T>& ws, F&& recompute) {
    if (act.is_identity()) return grad_out;
    T* gp = ws.allocate(n);
    const T* pre = out;
    if (Dense<T>::needs_preactivation(act)) {
        T* z = ws.allocate(n);
        recompute(z);
        pre = z;
    }
    K.activation_backward(act, pre, out, grad_out, gp, n);
    return gp;
}

inline void check_conv(const char* what, std::size_t in_c, std::size_t out_c, std::size_t k, std::size_t stride,
                       std::size_t dilation, std::size_t groups) {
    if (!in_c || !out_c || !k || !stride || !dilation || !groups)
        throw value_error(std::string(what) + ": channels, kernel size, stride, dilation and groups must be positive");
    if (in_c % groups || out_c % groups)
        throw value_error(std::string(what) + ": channels must be divisible by groups");
}

}  // namespace detail

/// Conv1d. Parameters "weight" [out, in / groups, kernel], "bias" [out].
/// Input [batch, in_channels, length] -> [batch, out_channels, out_length].
template <class T>
class Conv1D : public Layer<T> {
public:
    /// Throws value_error for zero sizes or channels not divisible by groups.
    Conv1D(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, std::size_t stride = 1,
           Padding padding = Padding::valid(), std::size_t dilation = 1, std::size_t groups = 1,
           Activation act = Activation::identity(), bool bias = true)
        : in_(in_channels), out_(out_channels), k_(kernel_size), stride_(stride), dilation_(dilation), groups_(groups),
          padding_(padding), act_(act), bias_(bias) {
        detail::check_conv("nn::Conv1D", in_, out_, k_, stride_, dilation_, groups_);
        this->declare_parameter("weight", Shape{out_, in_ / groups_, k_});
        if (bias_) this->declare_parameter("bias", Shape{out_});
    }

    std::string type() const override { return "conv1d"; }
    std::size_t in_channels() const noexcept { return in_; }
    std::size_t out_channels() const noexcept { return out_; }
    std::size_t kernel_size() const noexcept { return k_; }
    const Activation& activation() const noexcept { return act_; }
    bool has_bias() const noexcept { return bias_; }

    Shape output_shape(const Shape& in) const override {
        detail::require_shape("nn::Conv1D", in, 3, {in_, 0});
        auto [l, r] = padding_.resolve(in[2], k_, stride_, dilation_);
        std::size_t span = dilation_ * (k_ - 1) + 1;
        if (in[2] + l + r < span)
            throw shape_error("nn::Conv1D input (length too short for the kernel)", {in[0], in_, span}, in.to_vector());
        return Shape{in[0], out_, (in[2] + l + r - span) / stride_ + 1};
    }

    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        run_forward(in, out.data(), act_, ws);
    }

    bool has_backward() const noexcept override { return true; }

    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const override {
        if (grad_out.shape() != out.shape() || out.shape() != output_shape(in.shape()))
            throw shape_error("nn::Conv1D grad_out", output_shape(in.shape()).to_vector(), grad_out.shape().to_vector());
        if (!grad_in.empty() && grad_in.shape() != in.shape()) throw shape_error("nn::Conv1D grad_in", in.shape().to_vector(), grad_in.shape().to_vector());
        if (!grad_params.empty() && grad_params.size() != this->parameter_count())
            throw shape_error("nn::Conv1D grad_params", {this->parameter_count()}, {grad_params.size()});
        const auto& K = kernels::kernels_of(ws);
        typename Workspace<T>::Frame frame(ws);
        const T* g = detail::preactivation_gradient<T>(act_, K, out.data(), grad_out.data(), out.size(), ws,
                                                       [&](T* z) { run_forward(in, z, Activation::identity(), ws); });
        const std::size_t batch = in.batch(), lin = in.shape()[2], lout = out.shape()[2];
        const std::size_t cig = in_ / groups_, cog = out_ / groups_;
        auto geo = geometry(lin, lout);
        const std::size_t rows = geo.rows();
        T* cols = ws.allocate(rows * lout);
        T* packed = ws.allocate(std::max(kernels::packed_size<T>(lout, rows), kernels::packed_size<T>(cog, lout)));
        if (!grad_in.empty())
            for (std::size_t i = 0; i < grad_in.size(); ++i) grad_in[i] = T(0);
        const T* w = this->params_.data();
        for (std::size_t b = 0; b < batch; ++b)
            for (std::size_t gr = 0; gr < groups_; ++gr) {
                const T* gb = g + (b * out_ + gr * cog) * lout;
                if (!grad_params.empty()) {  // grad_W[co, (c, kk)] += sum_l g[co, l] cols[(c, kk), l]
                    kernels::im2col<T>(geo, in.data() + (b * in_ + gr * cig) * lin, static_cast<std::ptrdiff_t>(lin), cols);
                    kernels::pack_b<T>(lout, rows, cols, 1, static_cast<std::ptrdiff_t>(lout), packed);
                    kernels::GemmArgs<T> a;
                    a.m = cog, a.n = rows, a.k = lout;
                    a.a = gb, a.a_rs = static_cast<std::ptrdiff_t>(lout), a.a_cs = 1;
                    a.b_packed = packed;
                    a.c = grad_params.data() + gr * cog * rows, a.c_rs = static_cast<std::ptrdiff_t>(rows), a.c_cs = 1;
                    a.accumulate = true;
                    K.gemm(a);
                    if (bias_) {
                        T* gbias = grad_params.data() + out_ * rows;
                        for (std::size_t co = 0; co < cog; ++co)
                            for (std::size_t l = 0; l < lout; ++l) gbias[gr * cog + co] += gb[co * lout + l];
                    }
                }
                if (!grad_in.empty()) {  // grad_cols = W^T g, then col2im
                    kernels::pack_b<T>(cog, lout, gb, static_cast<std::ptrdiff_t>(lout), 1, packed);
                    kernels::GemmArgs<T> a;
                    a.m = rows, a.n = lout, a.k = cog;
                    a.a = w + gr * cog * rows, a.a_rs = 1, a.a_cs = static_cast<std::ptrdiff_t>(rows);
                    a.b_packed = packed;
                    a.c = cols, a.c_rs = static_cast<std::ptrdiff_t>(lout), a.c_cs = 1;
                    K.gemm(a);
                    kernels::col2im_add<T>(geo, cols, grad_in.data() + (b * in_ + gr * cig) * lin, static_cast<std::ptrdiff_t>(lin));
                }
            }
    }

    nlohmann::json config() const override {
        nlohmann::json j{{"type", type()},     {"in_channels", in_},  {"out_channels", out_}, {"kernel_size", k_},
                         {"stride", stride_},  {"padding", padding_.to_json()}, {"dilation", dilation_},
                         {"groups", groups_},  {"bias", bias_},       {"activation", act_.name()}};
        if (act_.has_parameter()) j["activation_alpha"] = act_.alpha;
        return j;
    }

    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Conv1D>(*this); }

private:
    kernels::ConvGeometry geometry(std::size_t lin, std::size_t lout) const noexcept {
        kernels::ConvGeometry g;
        g.channels = in_ / groups_, g.length = lin, g.kernel = k_, g.stride = stride_, g.dilation = dilation_;
        g.pad_left = padding_.resolve(lin, k_, stride_, dilation_).first;
        g.out_length = lout;
        return g;
    }

    // The GEMM reads its B rows straight from a zero-padded copy of the input
    // split into stride phases (row (c, kk) of panel p starts at padded
    // position p * NR * stride + kk * dilation, contiguous within its phase),
    // so no im2col matrix is built: measured 1.6x on the study-2 encoder.
    void run_forward(ConstTensorView<T> in, T* out, const Activation& act, Workspace<T>& ws) const {
        constexpr std::size_t NR = kernels::panel_width<T>;
        const auto& K = kernels::kernels_of(ws);
        const std::size_t lin = in.shape()[2], lout = output_shape(in.shape())[2];
        const std::size_t cig = in_ / groups_, cog = out_ / groups_, rows = cig * k_, s = stride_;
        const std::size_t pad_left = padding_.resolve(lin, k_, stride_, dilation_).first;
        const std::size_t panels = (lout + NR - 1) / NR;
        const std::size_t span = (panels * NR - 1) * s + (k_ - 1) * dilation_ + 1;  // padded positions read
        const std::size_t plen = (span + s - 1) / s;
        typename Workspace<T>::Frame frame(ws);
        T* xph = ws.allocate(cig * s * plen);
        static_assert(sizeof(const T*) % sizeof(T) == 0, "pointer table carved from T storage");
        auto** ptrs = reinterpret_cast<const T**>(ws.allocate(panels * rows * (sizeof(const T*) / sizeof(T))));
        for (std::size_t p = 0; p < panels; ++p)
            for (std::size_t c = 0; c < cig; ++c)
                for (std::size_t kk = 0; kk < k_; ++kk) {
                    std::size_t t0 = p * NR * s + kk * dilation_;
                    ptrs[p * rows + c * k_ + kk] = xph + (c * s + t0 % s) * plen + t0 / s;
                }
        for (std::size_t b = 0; b < in.batch(); ++b)
            for (std::size_t gr = 0; gr < groups_; ++gr) {
                const T* x = in.data() + (b * in_ + gr * cig) * lin;
                K.split_phases(x, cig, static_cast<std::ptrdiff_t>(lin), lin, s, pad_left, plen, xph);
                kernels::GemmArgs<T> a;
                a.m = cog, a.n = lout, a.k = rows;
                a.a = this->params_.data() + gr * cog * rows, a.a_rs = static_cast<std::ptrdiff_t>(rows), a.a_cs = 1;
                a.b_rows = ptrs;
                a.c = out + (b * out_ + gr * cog) * lout, a.c_rs = static_cast<std::ptrdiff_t>(lout), a.c_cs = 1;
                a.bias_row = bias_ ? this->params_.data() + out_ * rows + gr * cog : nullptr;
                a.act = act;
                K.gemm(a);
            }
    }

    std::size_t in_, out_, k_, stride_, dilation_, groups_;
    Padding padding_;
    Activation act_;
    bool bias_;
};

/// ConvTranspose1d. Parameters "weight" [in, out / groups, kernel], "bias"
/// [out]. Output length (length - 1) * stride - 2 * padding + dilation *
/// (kernel - 1) + output_padding + 1.
template <class T>
class ConvTranspose1D : public Layer<T> {
public:
    /// Throws value_error for zero sizes, channels not divisible by groups,
    /// or output_padding >= max(stride, dilation) (as PyTorch).
    ConvTranspose1D(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, std::size_t stride = 1,
                    std::size_t padding = 0, std::size_t output_padding = 0, std::size_t dilation = 1,
                    std::size_t groups = 1, Activation act = Activation::identity(), bool bias = true)
        : in_(in_channels), out_(out_channels), k_(kernel_size), stride_(stride), padding_(padding),
          output_padding_(output_padding), dilation_(dilation), groups_(groups), act_(act), bias_(bias) {
        detail::check_conv("nn::ConvTranspose1D", in_, out_, k_, stride_, dilation_, groups_);
        if (output_padding_ >= std::max(stride_, dilation_))
            throw value_error("nn::ConvTranspose1D: output_padding must be smaller than stride or dilation");
        this->declare_parameter("weight", Shape{in_, out_ / groups_, k_});
        if (bias_) this->declare_parameter("bias", Shape{out_});
    }

    std::string type() const override { return "conv_transpose1d"; }
    const Activation& activation() const noexcept { return act_; }

    Shape output_shape(const Shape& in) const override {
        detail::require_shape("nn::ConvTranspose1D", in, 3, {in_, 0});
        std::size_t full = (in[2] - 1) * stride_ + dilation_ * (k_ - 1) + output_padding_ + 1;
        if (in[2] == 0 || full <= 2 * padding_)
            throw shape_error("nn::ConvTranspose1D input (output would be empty)", {in[0], in_, 0}, in.to_vector());
        return Shape{in[0], out_, full - 2 * padding_};
    }

    void forward(ConstTensorView<T> in, TensorView<T> out, Workspace<T>& ws) const override {
        this->check_output(in, out);
        run_forward(in, out.data(), act_, ws);
    }

    bool has_backward() const noexcept override { return true; }

    void backward(ConstTensorView<T> in, ConstTensorView<T> out, ConstTensorView<T> grad_out, TensorView<T> grad_in,
                  span<T> grad_params, Workspace<T>& ws) const override {
        if (grad_out.shape() != out.shape() || out.shape() != output_shape(in.shape()))
            throw shape_error("nn::ConvTranspose1D grad_out", output_shape(in.shape()).to_vector(), grad_out.shape().to_vector());
        if (!grad_in.empty() && grad_in.shape() != in.shape())
            throw shape_error("nn::ConvTranspose1D grad_in", in.shape().to_vector(), grad_in.shape().to_vector());
        if (!grad_params.empty() && grad_params.size() != this->parameter_count())
            throw shape_error("nn::ConvTranspose1D grad_params", {this->parameter_count()}, {grad_params.size()});
        const auto& K = kernels::kernels_of(ws);
        typename Workspace<T>::Frame frame(ws);
        const T* g = detail::preactivation_gradient<T>(act_, K, out.data(), grad_out.data(), out.size(), ws,
                                                       [&](T* z) { run_forward(in, z, Activation::identity(), ws); });
        const std::size_t batch = in.batch(), lin = in.shape()[2], lout = out.shape()[2];
        const std::size_t cig = in_ / groups_, cog = out_ / groups_;
        auto geo = geometry(lin, lout);  // im2col of the output gradient, positions = input positions
        const std::size_t rows = geo.rows();
        T* cols = ws.allocate(rows * lin);
        T* packed = ws.allocate(std::max(kernels::packed_size<T>(rows, lin), kernels::packed_size<T>(lin, rows)));
        const T* w = this->params_.data();
        for (std::size_t b = 0; b < batch; ++b)
            for (std::size_t gr = 0; gr < groups_; ++gr) {
                const T* gb = g + (b * out_ + gr * cog) * lout;
                if (!grad_in.empty()) {  // grad_x[ci, i] = sum_(oc, kk) W[ci, (oc, kk)] g[oc, i s - p + kk d]
                    kernels::im2col_packed<T>(geo, gb, static_cast<std::ptrdiff_t>(lout), packed);
                    kernels::GemmArgs<T> a;
                    a.m = cig, a.n = lin, a.k = rows;
                    a.a = w + gr * cig * rows, a.a_rs = static_cast<std::ptrdiff_t>(rows), a.a_cs = 1;
                    a.b_packed = packed;
                    a.c = grad_in.data() + (b * in_ + gr * cig) * lin, a.c_rs = static_cast<std::ptrdiff_t>(lin), a.c_cs = 1;
                    K.gemm(a);
                }
                if (!grad_params.empty()) {  // grad_W[ci, (oc, kk)] += sum_i x[ci, i] cols[(oc, kk), i]
                    kernels::im2col<T>(geo, gb, static_cast<std::ptrdiff_t>(lout), cols);
                    kernels::pack_b<T>(lin, rows, cols, 1, static_cast<std::ptrdiff_t>(lin), packed);
                    kernels::GemmArgs<T> a;
                    a.m = cig, a.n = rows, a.k = lin;
                    a.a = in.data() + (b * in_ + gr * cig) * lin, a.a_rs = static_cast<std::ptrdiff_t>(lin), a.a_cs = 1;
                    a.b_packed = packed;
                    a.c = grad_params.data() + gr * cig * rows, a.c_rs = static_cast<std::ptrdiff_t>(rows), a.c_cs = 1;
                    a.accumulate = true;
                    K.gemm(a);
                    if (bias_) {
                        T* gbias = grad_params.data() + in_ * rows;
                        for (std::size_t oc = 0; oc < cog; ++oc)
                            for (std::size_t j = 0; j < lout; ++j) gbias[gr * cog + oc] += gb[oc * lout + j];
                    }
                }
            }
    }

    nlohmann::json config() const override {
        nlohmann::json j{{"type", type()},       {"in_channels", in_},     {"out_channels", out_},
                         {"kernel_size", k_},    {"stride", stride_},      {"padding", padding_},
                         {"output_padding", output_padding_}, {"dilation", dilation_}, {"groups", groups_},
                         {"bias", bias_},        {"activation", act_.name()}};
        if (act_.has_parameter()) j["activation_alpha"] = act_.alpha;
        return j;
    }

    std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<ConvTranspose1D>(*this); }

private:
    // The adjoint view: a convolution over the *output* with the same
    // kernel, stride, dilation and padding, whose positions are the input's.
    kernels::ConvGeometry geometry(std::size_t lin, std::size_t lout) const noexcept {
        kernels::ConvGeometry g;
        g.channels = out_ / groups_, g.length = lout, g.kernel = k_, g.stride = stride_, g.dilation = dilation_;
        g.pad_left = padding_, g.out_length = lin;
        return g;
    }

    void run_forward(ConstTensorView<T> in, T* out, const Activation& act, Workspace<T>& ws) const {
        const auto& K = kernels::kernels_of(ws);
        const std::size_t lin = in.shape()[2], lout = output_shape(in.shape())[2];
        const std::size_t cig = in_ / groups_, cog = out_ / groups_;
        auto geo = geometry(lin, lout);
        const std::size_t rows = geo.rows();
        typename Workspace<T>::Frame frame(ws);
        T* cols = ws.allocate(rows * lin);
        T* packed = ws.allocate(kernels::packed_size<T>(cig, lin));
        const T* bias = bias_ ? this->params_.data() + in_ * rows : nullptr;
        for (std::size_t b = 0; b < in.batch(); ++b) {
            T* ob = out + b * out_ * lout;
            for (std::size_t c = 0; c < out_; ++c)
                for (std::size_t j = 0; j < lout; ++j) ob[c * lout + j] = bias ? bias[c] : T(0);
            for (std::size_t gr = 0; gr < groups_; ++gr) {
                // cols[(oc, kk), i] = sum_ci W[ci, (oc, kk)] x[ci, i], then scatter.
                kernels::pack_b<T>(cig, lin, in.data() + (b * in_ + gr * cig) * lin, static_cast<std::ptrdiff_t>(lin), 1, packed);
                kernels::GemmArgs<T> a;
                a.m = rows, a.n = lin, a.k = cig;
                a.a = this->params_.data() + gr * cig * rows, a.a_rs = 1, a.a_cs = static_cast<std::ptrdiff_t>(rows);
                a.b_packed = packed;
                a.c = cols, a.c_rs = static_cast<std::ptrdiff_t>(lin), a.c_cs = 1;
                K.gemm(a);
                kernels::col2im_add<T>(geo, cols, ob + gr * cog * lout, static_cast<std::ptrdiff_t>(lout));
            }
            K.activation_forward(act, ob, ob, out_ * lout);
        }
    }

    std::size_t in_, out_, k_, stride_, padding_, output_padding_, dilation_, groups_;
    Activation act_;
    bool bias_;
};

}  // namespace corespec::nn
