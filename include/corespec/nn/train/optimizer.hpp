// corespec/nn/train/optimizer.hpp - optimisers, learning-rate schedules and
// gradient clipping, following PyTorch's update rules exactly (torch.optim
// SGD, Adam, AdamW; lr_scheduler StepLR, CosineAnnealingLR, ReduceLROnPlateau;
// nn.utils.clip_grad_norm_), so that a run can be compared step by step.
//
// An optimiser keeps its state (moments) for one flat parameter array of
// fixed size, a model's layers concatenated. A step is begin_step() and one
// update() per trainable block; blocks never passed (BatchNorm running
// statistics) are never touched. step() does both for a single flat array.
//
// The updates are vectorised (kernels/optim.hpp, run through the dispatched
// KernelTable like the GEMM) and element-wise, so a block's result does not
// depend on how the array is split into blocks.
// Moments below the smallest normal number are flushed to zero: they no
// longer move any weight (a step of at most lr * 1e-38 / eps), while
// denormal arithmetic costs ~100 cycles per instruction on x86 - the moments
// of a dead ReLU unit's weights reach that range after ~800 steps (0.9^t),
// and that once made Adam 75 % of a training epoch.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/kernels/table.hpp"

namespace corespec::nn::train {

namespace detail {

/// Sum of x[i]^2 in double (a single chain took ~20 % of a training epoch),
/// on the dispatched kernels.
template <class T>
double sum_squares(const T* x, std::size_t n) {
    return kernels::default_table<T>().sum_squares(x, n);
}

}  // namespace detail

template <class T>
class Optimizer {
public:
    virtual ~Optimizer() = default;

    /// Current learning rate (schedules change it between epochs).
    double learning_rate() const noexcept { return lr_; }
    /// Throws value_error unless lr is finite and >= 0.
    void set_learning_rate(double lr) {
        if (!(lr >= 0) || !std::isfinite(lr)) throw value_error("nn::train::Optimizer: learning rate must be finite and >= 0");
        lr_ = lr;
    }

    /// One update of a whole flat parameter array: begin_step(params.size())
    /// then update(params, grads, 0). Throws shape_error on size mismatches.
    void step(span<T> params, span<const T> grads) {
        begin_step(params.size());
        update(params, grads, 0);
    }

    /// Starts step t + 1 for a model of `total` parameters (the state is
    /// sized on the first call; throws shape_error if `total` changes later).
    void begin_step(std::size_t total) {
        if (size_ == npos) {
            size_ = total;
            init_state(size_);
        } else if (total != size_) {
            throw shape_error("nn::train::Optimizer parameters", {size_}, {total});
        }
        ++steps_;
        before_step();
    }

    /// Updates one block of the flat array: `params` are the elements
    /// [offset, offset + params.size()) (e.g. one layer's weight), `grads`
    /// their gradients. Blocks never updated (buffers) keep their values.
    void update(span<T> params, span<const T> grads, std::size_t offset) {
        if (params.size() != grads.size()) throw shape_error("nn::train::Optimizer gradients", {params.size()}, {grads.size()});
        if (size_ == npos || steps_ == 0) throw value_error("nn::train::Optimizer::update before begin_step");
        if (offset + params.size() > size_) throw value_error("nn::train::Optimizer::update: block outside the parameters");
        update_block(params.data(), grads.data(), offset, params.size());
    }

    std::size_t steps() const noexcept { return steps_; }

    /// Forgets moments and step count (parameters sized anew on the next step).
    void reset() { size_ = npos; steps_ = 0; }

    virtual std::string name() const = 0;
    virtual std::unique_ptr<Optimizer> clone() const = 0;

    /// Whether update() treats every element on its own (Sgd, Adam, AdamW),
    /// so that disjoint parts of a step may run concurrently
    /// (BatchGradient::apply_step splits them over its threads).
    virtual bool elementwise() const noexcept { return false; }

protected:
    explicit Optimizer(double lr) { set_learning_rate(lr); }
    virtual void init_state(std::size_t n) = 0;
    virtual void before_step() {}
    /// p[i], g[i] for i < n are the elements offset + i of the flat array.
    virtual void update_block(T* p, const T* g, std::size_t offset, std::size_t n) = 0;

    static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
    double lr_ = 0;
    std::size_t size_ = npos;
    std::size_t steps_ = 0;
};

/// torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g
/// on the first step); g = nesterov ? g + momentum buf : buf; p -= lr g.
template <class T>
class Sgd final : public Optimizer<T> {
public:
    struct Options {
        double momentum = 0, dampening = 0, weight_decay = 0;
        bool nesterov = false;
    };
    /// Throws value_error for negative momentum/weight decay or nesterov
    /// without momentum.
    explicit Sgd(double lr, Options o = {}) : Optimizer<T>(lr), o_(o) {
        if (o.momentum < 0 || o.weight_decay < 0 || (o.nesterov && (o.momentum <= 0 || o.dampening != 0)))
            throw value_error("nn::train::Sgd: invalid momentum / weight decay / nesterov settings");
    }
    std::string name() const override { return "sgd"; }
    bool elementwise() const noexcept override { return true; }
    std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<Sgd>(*this); }

private:
    void init_state(std::size_t n) override { buf_.assign(o_.momentum != 0 ? n : 0, T(0)); }
    void update_block(T* p, const T* g, std::size_t offset, std::size_t n) override {
        const kernels::SgdStep<T> a{static_cast<T>(this->lr_), static_cast<T>(o_.weight_decay), static_cast<T>(o_.momentum),
                                    static_cast<T>(1 - o_.dampening), o_.weight_decay != 0, this->steps_ == 1, o_.nesterov};
        kernels::default_table<T>().sgd_update(a, p, g, buf_.empty() ? nullptr : buf_.data() + offset, n);
    }
    Options o_;
    std::vector<T> buf_;
};

/// torch.optim.Adam / AdamW (decoupled = true). With step t:
///   (Adam)  g += wd p           (AdamW)  p *= 1 - lr wd
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
template <class T>
class Adam : public Optimizer<T> {
public:
    struct Options {
        double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    };
    /// Throws value_error for betas outside [0, 1), eps < 0 or weight decay < 0.
    explicit Adam(double lr = 1e-3, Options o = {}, bool decoupled = false) : Optimizer<T>(lr), o_(o), decoupled_(decoupled) {
        if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps >= 0) || !(o.weight_decay >= 0))
            throw value_error("nn::train::Adam: betas must lie in [0, 1), eps and weight decay must be >= 0");
    }
    std::string name() const override { return decoupled_ ? "adamw" : "adam"; }
    bool elementwise() const noexcept override { return true; }
    std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<Adam>(*this); }
    const Options& options() const noexcept { return o_; }

private:
    void init_state(std::size_t n) override {
        m_.assign(n, T(0));
        v_.assign(n, T(0));
    }
    void before_step() override {
        const double t = static_cast<double>(this->steps_);
        step_size_ = this->lr_ / (1 - std::pow(o_.beta1, t));
        bc2_sqrt_ = std::sqrt(1 - std::pow(o_.beta2, t));
    }
    // Hot loop over ~1e5 parameters per batch; kept in T as PyTorch does
    // (measure before changing). The divider bounds it (an AVX-512 sqrt costs
    // ~12 cycles, a division ~10), so the step is written with one division,
    //   p -= (step bc2) m / (sqrt(v) + eps bc2),
    // the same value as PyTorch's m / (sqrt(v) / bc2 + eps) up to rounding.
    void update_block(T* p, const T* g, std::size_t offset, std::size_t n) override {
        const bool decoupled = decoupled_ && o_.weight_decay != 0, coupled = !decoupled_ && o_.weight_decay != 0;
        const kernels::AdamStep<T> a{static_cast<T>(o_.beta1),          static_cast<T>(o_.beta2),
                                     static_cast<T>(1 - o_.beta1),      static_cast<T>(1 - o_.beta2),
                                     static_cast<T>(o_.weight_decay),   static_cast<T>(step_size_ * bc2_sqrt_),
                                     static_cast<T>(o_.eps * bc2_sqrt_), static_cast<T>(1 - this->lr_ * o_.weight_decay),
                                     coupled,                           decoupled};
        kernels::default_table<T>().adam_update(a, p, g, m_.data() + offset, v_.data() + offset, n);
    }
    Options o_;
    bool decoupled_;
    double step_size_ = 0, bc2_sqrt_ = 1;
    std::vector<T> m_, v_;
};

/// torch.optim.AdamW (default weight decay 0.01 as PyTorch).
template <class T>
class AdamW final : public Adam<T> {
public:
    explicit AdamW(double lr = 1e-3, typename Adam<T>::Options o = {0.9, 0.999, 1e-8, 1e-2}) : Adam<T>(lr, o, true) {}
    std::unique_ptr<Optimizer<T>> clone() const override { return std::make_unique<AdamW>(*this); }
};

// --- learning-rate schedules (called once per epoch, after it) -------------

template <class T>
class Schedule {
public:
    virtual ~Schedule() = default;
    /// Sets the optimiser's rate for the epoch after `epoch` (0-based) ended
    /// with validation (or training) loss `metric`.
    virtual void after_epoch(Optimizer<T>& opt, std::size_t epoch, double metric) = 0;
    virtual std::unique_ptr<Schedule> clone() const = 0;
};

/// StepLR: lr = base * gamma^floor(epochs_done / step_size).
template <class T>
class StepSchedule final : public Schedule<T> {
public:
    /// Throws value_error for step_size 0 or gamma <= 0.
    StepSchedule(double base_lr, std::size_t step_size, double gamma = 0.1) : base_(base_lr), step_(step_size), gamma_(gamma) {
        if (step_size == 0 || !(gamma > 0)) throw value_error("nn::train::StepSchedule: step_size must be > 0 and gamma > 0");
    }
    void after_epoch(Optimizer<T>& opt, std::size_t epoch, double) override {
        opt.set_learning_rate(base_ * std::pow(gamma_, static_cast<double>((epoch + 1) / step_)));
    }
    std::unique_ptr<Schedule<T>> clone() const override { return std::make_unique<StepSchedule>(*this); }

private:
    double base_;
    std::size_t step_;
    double gamma_;
};

/// CosineAnnealingLR (closed form): lr = min + (base - min) (1 + cos(pi e / T_max)) / 2
/// with e = epochs done (restarting the half period after T_max as PyTorch's closed form).
template <class T>
class CosineSchedule final : public Schedule<T> {
public:
    /// Throws value_error for t_max 0.
    CosineSchedule(double base_lr, std::size_t t_max, double min_lr = 0) : base_(base_lr), t_max_(t_max), min_(min_lr) {
        if (t_max == 0) throw value_error("nn::train::CosineSchedule: t_max must be > 0");
    }
    void after_epoch(Optimizer<T>& opt, std::size_t epoch, double) override {
        const double pi = 3.14159265358979323846;
        double e = static_cast<double>(epoch + 1);
        opt.set_learning_rate(min_ + (base_ - min_) * (1 + std::cos(pi * e / static_cast<double>(t_max_))) / 2);
    }
    std::unique_ptr<Schedule<T>> clone() const override { return std::make_unique<CosineSchedule>(*this); }

private:
    double base_;
    std::size_t t_max_;
    double min_;
};

/// ReduceLROnPlateau (mode "min", threshold_mode "rel"): after more than
/// `patience` epochs without the metric falling below best * (1 - threshold),
/// lr = max(lr * factor, min_lr), then `cooldown` epochs of rest.
template <class T>
class PlateauSchedule final : public Schedule<T> {
public:
    /// Throws value_error unless 0 < factor < 1.
    explicit PlateauSchedule(double factor = 0.1, std::size_t patience = 10, double threshold = 1e-4, std::size_t cooldown = 0,
                             double min_lr = 0)
        : factor_(factor), patience_(patience), threshold_(threshold), cooldown_(cooldown), min_lr_(min_lr) {
        if (!(factor > 0 && factor < 1)) throw value_error("nn::train::PlateauSchedule: factor must lie in (0, 1)");
    }
    void after_epoch(Optimizer<T>& opt, std::size_t, double metric) override {
        if (metric < best_ * (1 - threshold_)) {
            best_ = metric;
            bad_ = 0;
        } else {
            ++bad_;
        }
        if (cool_ > 0) {
            --cool_;
            bad_ = 0;
        }
        if (bad_ > patience_) {
            double lr = std::max(opt.learning_rate() * factor_, min_lr_);
            opt.set_learning_rate(lr);
            cool_ = cooldown_;
            bad_ = 0;
        }
    }
    std::unique_ptr<Schedule<T>> clone() const override { return std::make_unique<PlateauSchedule>(*this); }

private:
    double factor_;
    std::size_t patience_;
    double threshold_;
    std::size_t cooldown_;
    double min_lr_;
    double best_ = std::numeric_limits<double>::infinity();
    std::size_t bad_ = 0, cool_ = 0;
};

/// clip_grad_norm_: scales grads so that their 2-norm is at most max_norm
/// (factor max_norm / (norm + 1e-6), as PyTorch). Returns the norm before
/// clipping (accumulated in double). Throws value_error unless max_norm > 0.
template <class T>
double clip_grad_norm(span<T> grads, double max_norm) {
    if (!(max_norm > 0)) throw value_error("nn::train::clip_grad_norm: max_norm must be > 0");
    double norm = std::sqrt(detail::sum_squares(grads.data(), grads.size()));
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (T& g : grads) g = static_cast<T>(static_cast<double>(g) * coef);
    return norm;
}

}  // namespace corespec::nn::train
