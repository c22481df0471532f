// corespec/nn/train/loss.hpp - training losses with value and gradient.
//
// Every loss is a mean, as PyTorch's default reduction="mean":
//   MSE, MAE, Huber, BCE with logits : mean over the (unmasked) elements
//   softmax cross-entropy           : mean over the (unmasked) samples
//   WeightedSum                     : sum_k w_k * loss_k on column blocks
// Masks mark missing targets: a zero mask entry removes that term from both
// the sum and the count (the target there is never read, so it may be NaN).
//
// A trainer that splits a batch over threads needs each slice's share of the
// *batch* mean. Hence the two-step interface:
//   std::vector<double> norms = loss.normalizers(target, mask);   // whole batch
//   double part = loss.evaluate(pred_slice, target_slice, mask_slice, grad_slice, norms);
// The parts of all slices add up to the batch loss, and grad_slice receives
// d(batch loss)/d pred_slice. value_and_grad() does both for one batch.
// Sums are accumulated in double whatever T is.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/tensor.hpp"

namespace corespec::nn::train {

template <class T>
class Loss {
public:
    virtual ~Loss() = default;

    /// Short name ("mse", "bce_with_logits", ...).
    virtual std::string name() const = 0;

    /// The target shape this loss expects for predictions of shape `pred`
    /// (batch first). Cross-entropy accepts two (see its class comment).
    virtual bool accepts_target(const Shape& pred, const Shape& target) const { return pred == target; }

    /// Throws shape_error when predictions, targets and mask (if not empty)
    /// do not fit together.
    void check_shapes(const Shape& pred, const Shape& target, const Shape* mask = nullptr) const {
        if (!accepts_target(pred, target)) throw shape_error("nn::train::" + name() + " target", pred.to_vector(), target.to_vector());
        if (mask && mask->rank() && *mask != mask_shape(pred, target))
            throw shape_error("nn::train::" + name() + " mask", mask_shape(pred, target).to_vector(), mask->to_vector());
    }

    /// The mask shape for these predictions and targets.
    virtual Shape mask_shape(const Shape& pred, const Shape& target) const { (void)pred; return target; }

    /// Denominators of the means over a whole batch (one per component).
    /// A count of zero (everything masked) is replaced by one, so the loss
    /// and its gradient are zero rather than NaN.
    virtual std::vector<double> normalizers(ConstTensorView<T> target, ConstTensorView<T> mask) const = 0;

    /// The share of a batch slice in the batch loss; writes (overwrites)
    /// grad = d(batch loss)/d pred for the slice (skipped if grad is empty).
    /// `mask` may be empty (nothing missing). Shapes are not re-checked here
    /// beyond sizes; call check_shapes once before a training run.
    virtual double evaluate(ConstTensorView<T> pred, ConstTensorView<T> target, ConstTensorView<T> mask,
                            TensorView<T> grad, span<const double> norms) const = 0;

    /// Loss of one batch (mean) and, if grad is not empty, its gradient.
    /// Throws shape_error on mismatched shapes.
    double value_and_grad(ConstTensorView<T> pred, ConstTensorView<T> target, TensorView<T> grad,
                          ConstTensorView<T> mask = {}) const {
        Shape ms = mask.shape();
        check_shapes(pred.shape(), target.shape(), mask.empty() ? nullptr : &ms);
        if (!grad.empty() && grad.shape() != pred.shape())
            throw shape_error("nn::train::" + name() + " gradient", pred.shape().to_vector(), grad.shape().to_vector());
        std::vector<double> norms = normalizers(target, mask);
        return evaluate(pred, target, mask, grad, span<const double>(norms.data(), norms.size()));
    }

    double value(ConstTensorView<T> pred, ConstTensorView<T> target, ConstTensorView<T> mask = {}) const {
        return value_and_grad(pred, target, TensorView<T>(), mask);
    }

    virtual std::unique_ptr<Loss> clone() const = 0;
};

namespace detail {

inline double nonzero_count(double n) noexcept { return n > 0 ? n : 1.0; }

template <class T>
double count_unmasked(std::size_t size, ConstTensorView<T> mask) {
    if (mask.empty()) return static_cast<double>(size);
    double n = 0;
    for (std::size_t i = 0; i < mask.size(); ++i) n += mask[i] != T(0) ? 1.0 : 0.0;
    return n;
}

}  // namespace detail

/// A loss that is a mean over elements of f(prediction, target); `Term`
/// provides `static double value(double p, double t, const Term&)` and
/// `static double grad(double p, double t, const Term&)` (d value / d p).
template <class T, class Term>
class ElementwiseLoss : public Loss<T> {
public:
    std::vector<double> normalizers(ConstTensorView<T> target, ConstTensorView<T> mask) const override {
        return {detail::nonzero_count(detail::count_unmasked(target.size(), mask))};
    }

    double evaluate(ConstTensorView<T> pred, ConstTensorView<T> target, ConstTensorView<T> mask, TensorView<T> grad,
                    span<const double> norms) const override {
        if (pred.size() != target.size() || (!mask.empty() && mask.size() != pred.size()) ||
            (!grad.empty() && grad.size() != pred.size()))
            throw shape_error("nn::train::" + this->name(), pred.shape().to_vector(), target.shape().to_vector());
        const Term& term = static_cast<const Term&>(*this);
        const double inv = 1.0 / norms[0];
        double sum = 0;
        for (std::size_t i = 0; i < pred.size(); ++i) {
            if (!mask.empty() && mask[i] == T(0)) {
                if (!grad.empty()) grad[i] = T(0);
                continue;
            }
            double p = static_cast<double>(pred[i]), t = static_cast<double>(target[i]);
            sum += Term::term_value(p, t, term);
            if (!grad.empty()) grad[i] = static_cast<T>(Term::term_grad(p, t, term) * inv);
        }
        return sum * inv;
    }
};

/// Mean squared error: mean (p - t)^2.
template <class T>
class MseLoss final : public ElementwiseLoss<T, MseLoss<T>> {
public:
    std::string name() const override { return "mse"; }
    static double term_value(double p, double t, const MseLoss&) noexcept { return (p - t) * (p - t); }
    static double term_grad(double p, double t, const MseLoss&) noexcept { return 2 * (p - t); }
    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<MseLoss>(*this); }
};

/// Mean absolute error: mean |p - t| (gradient sign(p - t), 0 at p == t as PyTorch).
template <class T>
class MaeLoss final : public ElementwiseLoss<T, MaeLoss<T>> {
public:
    std::string name() const override { return "mae"; }
    static double term_value(double p, double t, const MaeLoss&) noexcept { return std::abs(p - t); }
    static double term_grad(double p, double t, const MaeLoss&) noexcept { return p > t ? 1.0 : (p < t ? -1.0 : 0.0); }
    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<MaeLoss>(*this); }
};

/// Huber loss as torch.nn.HuberLoss(delta): 0.5 d^2 for |d| < delta,
/// delta (|d| - delta / 2) beyond. Throws value_error unless delta > 0.
template <class T>
class HuberLoss final : public ElementwiseLoss<T, HuberLoss<T>> {
public:
    explicit HuberLoss(double delta = 1.0) : delta_(delta) {
        if (!(delta > 0) || !std::isfinite(delta)) throw value_error("nn::train::HuberLoss: delta must be finite and > 0");
    }
    std::string name() const override { return "huber"; }
    double delta() const noexcept { return delta_; }
    static double term_value(double p, double t, const HuberLoss& h) noexcept {
        double d = std::abs(p - t);
        return d < h.delta_ ? 0.5 * d * d : h.delta_ * (d - 0.5 * h.delta_);
    }
    static double term_grad(double p, double t, const HuberLoss& h) noexcept {
        double d = p - t;
        return std::abs(d) < h.delta_ ? d : (d > 0 ? h.delta_ : -h.delta_);
    }
    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<HuberLoss>(*this); }

private:
    double delta_;
};

/// Binary cross-entropy on logits (torch.nn.BCEWithLogitsLoss), for
/// multi-label flags: mean of max(x, 0) - x t + log(1 + exp(-|x|)); targets
/// in [0, 1]. Gradient sigmoid(x) - t.
template <class T>
class BceWithLogitsLoss final : public ElementwiseLoss<T, BceWithLogitsLoss<T>> {
public:
    std::string name() const override { return "bce_with_logits"; }
    static double term_value(double x, double t, const BceWithLogitsLoss&) noexcept {
        return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::abs(x)));
    }
    static double term_grad(double x, double t, const BceWithLogitsLoss&) noexcept {
        double s = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
        return s - t;
    }
    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<BceWithLogitsLoss>(*this); }
};

/// Softmax cross-entropy on logits [batch, classes] (torch.nn.CrossEntropyLoss):
/// targets either class indices [batch, 1] (integral values 0..classes-1) or
/// class probabilities [batch, classes] (e.g. one-hot). Mean over samples; the
/// mask is [batch, 1] (per sample). Throws value_error for an index out of range.
template <class T>
class SoftmaxCrossEntropyLoss final : public Loss<T> {
public:
    std::string name() const override { return "softmax_cross_entropy"; }

    bool accepts_target(const Shape& pred, const Shape& target) const override {
        if (pred.rank() != 2 || target.rank() != 2 || target[0] != pred[0]) return false;
        return target[1] == 1 || target[1] == pred[1];
    }
    Shape mask_shape(const Shape& pred, const Shape&) const override { return Shape{pred[0], 1}; }

    std::vector<double> normalizers(ConstTensorView<T> target, ConstTensorView<T> mask) const override {
        return {detail::nonzero_count(detail::count_unmasked(target.batch(), mask))};
    }

    double evaluate(ConstTensorView<T> pred, ConstTensorView<T> target, ConstTensorView<T> mask, TensorView<T> grad,
                    span<const double> norms) const override {
        if (pred.rank() != 2 || !accepts_target(pred.shape(), target.shape()))
            throw shape_error("nn::train::softmax_cross_entropy target", pred.shape().to_vector(), target.shape().to_vector());
        const std::size_t batch = pred.batch(), classes = pred.shape()[1];
        const bool indices = target.shape()[1] == 1 && classes != 1;
        const double inv = 1.0 / norms[0];
        double sum = 0;
        for (std::size_t b = 0; b < batch; ++b) {
            const T* x = pred.sample(b);
            T* g = grad.empty() ? nullptr : grad.sample(b);
            if (!mask.empty() && mask[b] == T(0)) {
                if (g) std::fill(g, g + classes, T(0));
                continue;
            }
            double mx = static_cast<double>(x[0]);
            for (std::size_t c = 1; c < classes; ++c) mx = std::max(mx, static_cast<double>(x[c]));
            double z = 0;
            for (std::size_t c = 0; c < classes; ++c) z += std::exp(static_cast<double>(x[c]) - mx);
            const double log_z = mx + std::log(z);
            const T* t = target.sample(b);
            std::size_t k = 0;
            double tsum = 1;
            if (indices) {
                double v = static_cast<double>(t[0]);
                if (!(v >= 0) || v >= static_cast<double>(classes) || v != std::floor(v))
                    throw value_error("nn::train::softmax_cross_entropy: class index " + std::to_string(v) + " of sample " +
                                      std::to_string(b) + " is not in [0, " + std::to_string(classes) + ")");
                k = static_cast<std::size_t>(v);
                sum += log_z - static_cast<double>(x[k]);
            } else {
                tsum = 0;
                for (std::size_t c = 0; c < classes; ++c) {
                    double tc = static_cast<double>(t[c]);
                    tsum += tc;
                    sum += tc * (log_z - static_cast<double>(x[c]));
                }
            }
            if (g) {
                // d/dx_c [sum_j t_j (log Z - x_j)] = (sum_j t_j) softmax_c - t_c
                for (std::size_t c = 0; c < classes; ++c) {
                    double p = std::exp(static_cast<double>(x[c]) - log_z);
                    double tc = indices ? (c == k ? 1.0 : 0.0) : static_cast<double>(t[c]);
                    g[c] = static_cast<T>((tsum * p - tc) * inv);
                }
            }
        }
        return sum * inv;
    }

    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<SoftmaxCrossEntropyLoss>(*this); }
};

/// Weighted sum of losses on column blocks of a multi-head output:
///   loss = sum_k weight_k * loss_k(pred[:, first_k : first_k + width_k], target[...])
/// Predictions, targets and masks are [batch, features]; each component sees
/// its own columns (a cross-entropy component with index targets uses one
/// target column: add it with target_width = 1). Each component keeps its
/// own mean, so a head with more outputs does not dominate by its size.
template <class T>
class WeightedSumLoss final : public Loss<T> {
public:
    struct Component {
        std::unique_ptr<Loss<T>> loss;
        double weight;
        std::size_t pred_first, pred_width;
        std::size_t target_first, target_width;
    };

    WeightedSumLoss() = default;
    WeightedSumLoss(const WeightedSumLoss& o) {
        for (const auto& c : o.parts_) parts_.push_back({c.loss->clone(), c.weight, c.pred_first, c.pred_width, c.target_first, c.target_width});
    }
    WeightedSumLoss& operator=(const WeightedSumLoss&) = delete;

    /// Adds a component on prediction columns [pred_first, pred_first +
    /// pred_width) and target columns [target_first, ...). Throws value_error
    /// for a null loss, a zero width or a non-finite weight.
    WeightedSumLoss& add(std::unique_ptr<Loss<T>> loss, double weight, std::size_t pred_first, std::size_t pred_width,
                         std::size_t target_first, std::size_t target_width) {
        if (!loss || pred_width == 0 || target_width == 0 || !std::isfinite(weight))
            throw value_error("nn::train::WeightedSumLoss::add: need a loss, non-zero widths and a finite weight");
        parts_.push_back({std::move(loss), weight, pred_first, pred_width, target_first, target_width});
        return *this;
    }
    /// Same columns in predictions and targets.
    WeightedSumLoss& add(std::unique_ptr<Loss<T>> loss, double weight, std::size_t first, std::size_t width) {
        return add(std::move(loss), weight, first, width, first, width);
    }

    std::string name() const override { return "weighted_sum"; }
    std::size_t size() const noexcept { return parts_.size(); }

    bool accepts_target(const Shape& pred, const Shape& target) const override {
        if (parts_.empty() || pred.rank() != 2 || target.rank() != 2 || pred[0] != target[0]) return false;
        std::size_t pcols = 0, tcols = 0;
        for (const auto& c : parts_) {
            if (c.pred_first + c.pred_width > pred[1] || c.target_first + c.target_width > target[1]) return false;
            if (!c.loss->accepts_target(Shape{pred[0], c.pred_width}, Shape{pred[0], c.target_width})) return false;
            pcols = std::max(pcols, c.pred_first + c.pred_width);
            tcols = std::max(tcols, c.target_first + c.target_width);
        }
        return pcols == pred[1] && tcols == target[1];
    }

    std::vector<double> normalizers(ConstTensorView<T> target, ConstTensorView<T> mask) const override {
        std::vector<double> out;
        std::vector<T> tbuf, mbuf;
        for (const auto& c : parts_) {
            auto t = columns(target, c.target_first, c.target_width, tbuf);
            ConstTensorView<T> m = mask.empty() ? ConstTensorView<T>() : mask_columns(mask, c, target.batch(), mbuf);
            std::vector<double> n = c.loss->normalizers(t, m);
            if (n.size() != 1) throw unsupported_error("nn::train::WeightedSumLoss: nested weighted sums");
            out.push_back(n[0]);
        }
        return out;
    }

    /// The mask has the target's shape; a cross-entropy component with index
    /// targets reads its per-sample mask from its one target column.
    double evaluate(ConstTensorView<T> pred, ConstTensorView<T> target, ConstTensorView<T> mask, TensorView<T> grad,
                    span<const double> norms) const override {
        if (norms.size() != parts_.size()) throw value_error("nn::train::WeightedSumLoss: normalizers do not match");
        const std::size_t batch = pred.batch();
        std::vector<T> pbuf, tbuf, mbuf, gbuf;
        if (!grad.empty()) std::fill(grad.data(), grad.data() + grad.size(), T(0));
        double total = 0;
        for (std::size_t k = 0; k < parts_.size(); ++k) {
            const Component& c = parts_[k];
            auto p = columns(pred, c.pred_first, c.pred_width, pbuf);
            auto t = columns(target, c.target_first, c.target_width, tbuf);
            ConstTensorView<T> m = mask.empty() ? ConstTensorView<T>() : mask_columns(mask, c, batch, mbuf);
            TensorView<T> g;
            if (!grad.empty()) {
                gbuf.assign(batch * c.pred_width, T(0));
                g = TensorView<T>(gbuf.data(), Shape{batch, c.pred_width});
            }
            total += c.weight * c.loss->evaluate(p, t, m, g, norms.subspan(k, 1));
            if (!grad.empty())
                for (std::size_t b = 0; b < batch; ++b)
                    for (std::size_t j = 0; j < c.pred_width; ++j)
                        grad.sample(b)[c.pred_first + j] += static_cast<T>(c.weight * static_cast<double>(gbuf[b * c.pred_width + j]));
        }
        return total;
    }

    std::unique_ptr<Loss<T>> clone() const override { return std::make_unique<WeightedSumLoss>(*this); }

private:
    static ConstTensorView<T> columns(ConstTensorView<T> x, std::size_t first, std::size_t width, std::vector<T>& buf) {
        const std::size_t batch = x.batch(), cols = x.sample_size();
        buf.resize(batch * width);
        for (std::size_t b = 0; b < batch; ++b)
            for (std::size_t j = 0; j < width; ++j) buf[b * width + j] = x.data()[b * cols + first + j];
        return ConstTensorView<T>(buf.data(), Shape{batch, width});
    }
    ConstTensorView<T> mask_columns(ConstTensorView<T> mask, const Component& c, std::size_t batch, std::vector<T>& buf) const {
        Shape want = c.loss->mask_shape(Shape{batch, c.pred_width}, Shape{batch, c.target_width});
        auto m = columns(mask, c.target_first, c.target_width, buf);
        if (want[1] == 1 && c.target_width != 1) {
            // A per-sample mask derived from per-element ones: the sample counts if any entry does.
            std::vector<T> per(batch, T(0));
            for (std::size_t b = 0; b < batch; ++b)
                for (std::size_t j = 0; j < c.target_width; ++j)
                    if (m[b * c.target_width + j] != T(0)) per[b] = T(1);
            buf = std::move(per);
            return ConstTensorView<T>(buf.data(), Shape{batch, 1});
        }
        return m;
    }

    std::vector<Component> parts_;
};

/// KL divergence of N(mu, exp(logvar)) from N(0, 1), the VAE regulariser:
///   beta * mean over samples of -0.5 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))
/// (summed over the latent dimensions, averaged over the batch; divide beta
/// by the number of reconstructed elements to match a per-element MSE).
/// `batch_size` is the whole batch when mu is one thread's slice (0 = mu's).
/// Writes (overwrites) grad_mu and grad_logvar when they are not empty.
/// Throws shape_error when shapes differ.
template <class T>
double gaussian_kl(ConstTensorView<T> mu, ConstTensorView<T> logvar, TensorView<T> grad_mu, TensorView<T> grad_logvar,
                   double beta = 1.0, std::size_t batch_size = 0) {
    if (mu.shape() != logvar.shape()) throw shape_error("nn::train::gaussian_kl logvar", mu.shape().to_vector(), logvar.shape().to_vector());
    if (!grad_mu.empty() && grad_mu.shape() != mu.shape())
        throw shape_error("nn::train::gaussian_kl grad_mu", mu.shape().to_vector(), grad_mu.shape().to_vector());
    if (!grad_logvar.empty() && grad_logvar.shape() != mu.shape())
        throw shape_error("nn::train::gaussian_kl grad_logvar", mu.shape().to_vector(), grad_logvar.shape().to_vector());
    const double scale = beta / static_cast<double>(batch_size ? batch_size : (mu.batch() ? mu.batch() : 1));
    double sum = 0;
    for (std::size_t i = 0; i < mu.size(); ++i) {
        double m = static_cast<double>(mu[i]), lv = static_cast<double>(logvar[i]), e = std::exp(lv);
        sum += -0.5 * (1 + lv - m * m - e);
        if (!grad_mu.empty()) grad_mu[i] = static_cast<T>(scale * m);
        if (!grad_logvar.empty()) grad_logvar[i] = static_cast<T>(scale * 0.5 * (e - 1));
    }
    return sum * scale;
}

/// A loss by name: "mse", "mae", "huber", "bce" / "bce_with_logits",
/// "ce" / "softmax_cross_entropy". Throws value_error for other names.
template <class T>
std::unique_ptr<Loss<T>> make_loss(const std::string& name) {
    if (name == "mse") return std::make_unique<MseLoss<T>>();
    if (name == "mae" || name == "l1") return std::make_unique<MaeLoss<T>>();
    if (name == "huber") return std::make_unique<HuberLoss<T>>();
    if (name == "bce" || name == "bce_with_logits") return std::make_unique<BceWithLogitsLoss<T>>();
    if (name == "ce" || name == "cross_entropy" || name == "softmax_cross_entropy") return std::make_unique<SoftmaxCrossEntropyLoss<T>>();
    throw value_error("nn::train::make_loss: unknown loss '" + name + "' (mse, mae, huber, bce, ce)");
}

}  // namespace corespec::nn::train
