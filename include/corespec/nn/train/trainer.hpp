// corespec/nn/train/trainer.hpp - minibatch training of a Sequential model.
//
//   Sequential<float> model = ...;               // e.g. Dense + ReLU layers
//   train::init_default(model, 42);              // PyTorch's default initialisation
//   train::MseLoss<float> loss;
//   train::Adam<float> adam(1e-3);
//   train::TrainOptions opt;  opt.epochs = 200;  opt.val_fraction = 0.1;  opt.patience = 20;
//   train::Trainer<float> trainer(model, loss, adam, opt);
//   train::TrainResult r = trainer.fit(x, y);    // x [n, features], y [n, outputs]
//
// Determinism: the split and the order of samples come from `seed`; every
// batch is cut into `threads` fixed slices, each thread accumulates its own
// gradient buffer, and the buffers are summed in thread order. The same
// seed and thread count therefore give bit-identical weights. A different
// thread count changes the summation order (and Dropout's random streams),
// so results then agree only to rounding.
//
// Failures: shapes of model, data, targets and mask are checked before the
// first batch (shape_error). A non-finite input or target, a non-finite loss
// or gradient, or a loss that grows by `divergence_factor` over the first
// batch's stops training with a training_error naming the epoch and batch
// (1-based), the model keeping the weights of before that batch.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/core/span.hpp"
#include "corespec/nn/sequential.hpp"
#include "corespec/nn/train/init.hpp"
#include "corespec/nn/train/loss.hpp"
#include "corespec/nn/train/optimizer.hpp"
#include "corespec/nn/train/running_stats.hpp"
#include "corespec/core/thread_pool.hpp"

namespace corespec::nn::train {

/// Training stopped on bad numbers; epoch() and batch() are 1-based (batch 0:
/// during validation).
class training_error : public error {
public:
    training_error(const std::string& what, std::size_t epoch, std::size_t batch)
        : error("nn::train: " + what + " at epoch " + std::to_string(epoch) +
                (batch ? ", batch " + std::to_string(batch) : std::string(", validation"))),
          epoch_(epoch), batch_(batch) {}
    std::size_t epoch() const noexcept { return epoch_; }
    std::size_t batch() const noexcept { return batch_; }

private:
    std::size_t epoch_, batch_;
};

/// What the progress callback sees after each epoch.
struct EpochStats {
    std::size_t epoch = 0, epochs = 0;  ///< 1-based epoch, planned total
    double train_loss = 0;              ///< sample-weighted mean of the batch losses
    double val_loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation data
    double learning_rate = 0;           ///< rate used during the epoch
    double seconds = 0;                 ///< wall time of the epoch (training + validation)
    double samples_per_second = 0;      ///< training samples per second
    double eta_seconds = 0;             ///< remaining planned epochs at this speed
    std::size_t best_epoch = 0;         ///< epoch of the best monitored loss so far
    bool improved = false;              ///< this epoch set a new best
};

/// After each batch (e.g. to record a loss trajectory).
struct BatchStats {
    std::size_t epoch = 0, batch = 0, batches = 0;  ///< 1-based
    double loss = 0;
    double grad_norm = 0;  ///< before clipping
};

/// Prints "epoch  3/50  train 1.234e-02  val 1.500e-02  ..." to stderr.
inline void print_progress(const EpochStats& s) {
    std::fprintf(stderr, "epoch %4zu/%zu  train %.4e  val %.4e  lr %.2e  %.3f s/epoch  %.0f samples/s  ETA %.0f s%s\n", s.epoch,
                 s.epochs, s.train_loss, s.val_loss, s.learning_rate, s.seconds, s.samples_per_second, s.eta_seconds,
                 s.improved ? "  *" : "");
}

struct TrainOptions {
    std::size_t epochs = 10;
    std::size_t batch_size = 64;
    /// Share of the rows held out for validation (a seeded random subset).
    double val_fraction = 0;
    /// Stop after this many epochs without improvement of the monitored loss
    /// (validation if any, else training); 0 = never.
    std::size_t patience = 0;
    /// Put back the weights of the best epoch at the end.
    bool restore_best = true;
    bool shuffle = true;
    std::uint64_t seed = 0;
    std::size_t threads = 1;
    /// Clip the gradient to this 2-norm (0 = no clipping).
    double clip_norm = 0;
    /// A batch loss above divergence_factor * max(first batch loss, 1e-3)
    /// stops training (0 = only non-finite losses stop it).
    double divergence_factor = 1e6;
    /// After each epoch; print_progress by default, empty = silent.
    std::function<void(const EpochStats&)> progress = print_progress;
    /// After each batch (optional).
    std::function<void(const BatchStats&)> on_batch;
    /// When the monitored loss improves (e.g. save the model) (optional).
    std::function<void(const EpochStats&)> checkpoint;

    TrainOptions& silent() {
        progress = nullptr;
        return *this;
    }
};

struct TrainResult {
    std::size_t epochs_run = 0;
    std::size_t best_epoch = 0;  ///< 1-based, 0 if no epoch ran
    double best_loss = std::numeric_limits<double>::quiet_NaN();  ///< monitored loss at best_epoch
    double train_loss = std::numeric_limits<double>::quiet_NaN(); ///< of the last epoch
    double val_loss = std::numeric_limits<double>::quiet_NaN();   ///< of the last epoch
    double seconds_per_epoch = 0;
    bool stopped_early = false;
    std::vector<EpochStats> history;
};

namespace detail {

/// Whether all n values are finite (the dispatched kernels; a scalar
/// isfinite per element cost a few percent of an epoch).
template <class T>
bool all_finite(const T* x, std::size_t n) {
    return kernels::default_table<T>().all_finite(x, n);
}

/// The seeded validation split of both trainers: round(fraction * n) rows
/// (at most n - 1) drawn at random for validation, the others for training,
/// each list in row order. No validation rows leaves rng untouched.
struct RowSplit {
    std::vector<std::size_t> train, val;
};

inline RowSplit split_rows(std::size_t n, double fraction, Random& rng) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::size_t n_val = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(n) + 0.5));
    if (n > 0 && n_val >= n) n_val = n - 1;
    if (n_val) rng.shuffle(order);
    RowSplit s;
    s.val.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
    s.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
    std::sort(s.val.begin(), s.val.end());
    std::sort(s.train.begin(), s.train.end());
    return s;
}

/// End-of-epoch bookkeeping shared by the trainers: best epoch and weights,
/// timing and ETA, the checkpoint and progress callbacks, the learning-rate
/// schedule and early stopping.
template <class T>
class EpochBook {
public:
    using clock = std::chrono::steady_clock;

    explicit EpochBook(const TrainOptions& o) : o_(o) {}

    /// Completes and records `s` (the caller sets epoch, epochs, learning_rate,
    /// train_loss and val_loss). `parameters()` gives the current weights; it
    /// is called on an improvement when restore_best is set. Returns false
    /// when patience has run out.
    template <class GetParameters>
    bool close(EpochStats& s, double monitored, clock::time_point start, clock::time_point trained, std::size_t rows,
               Optimizer<T>& opt, Schedule<T>* schedule, GetParameters&& parameters) {
        if (monitored < best_loss_) {
            best_loss_ = monitored;
            r_.best_epoch = s.epoch;
            s.improved = true;
            since_best_ = 0;
            if (o_.restore_best) best_ = parameters();
        } else {
            ++since_best_;
        }
        s.best_epoch = r_.best_epoch;
        s.seconds = std::chrono::duration<double>(clock::now() - start).count();
        const double train_seconds = std::chrono::duration<double>(trained - start).count();
        s.samples_per_second = train_seconds > 0 ? static_cast<double>(rows) / train_seconds : 0;
        total_seconds_ += s.seconds;
        s.eta_seconds = total_seconds_ / static_cast<double>(s.epoch) * static_cast<double>(o_.epochs - s.epoch);
        r_.history.push_back(s);
        r_.epochs_run = s.epoch;
        r_.train_loss = s.train_loss;
        r_.val_loss = s.val_loss;
        if (s.improved && o_.checkpoint) o_.checkpoint(s);
        if (o_.progress) o_.progress(s);
        if (schedule) schedule->after_epoch(opt, s.epoch - 1, monitored);
        if (o_.patience && since_best_ >= o_.patience && s.epoch < o_.epochs) {
            r_.stopped_early = true;
            return false;
        }
        return true;
    }

    /// The result; `restore(best weights)` runs when restore_best kept some.
    template <class Restore>
    TrainResult finish(Restore&& restore) {
        r_.best_loss = best_loss_;
        r_.seconds_per_epoch = r_.epochs_run ? total_seconds_ / static_cast<double>(r_.epochs_run) : 0;
        if (o_.restore_best && !best_.empty()) restore(span<const T>(best_));
        return std::move(r_);
    }

private:
    const TrainOptions& o_;
    TrainResult r_;
    std::vector<T> best_;
    double best_loss_ = std::numeric_limits<double>::infinity(), total_seconds_ = 0;
    std::size_t since_best_ = 0;
};

/// The per-batch guards shared by the trainers, run in this order after a
/// batch's gradient: non-finite inputs, a non-finite loss, a loss beyond
/// divergence_factor times the first batch's, a non-finite gradient norm;
/// then clipping to clip_norm. Each failure is a training_error naming the
/// epoch and batch (1-based).
class BatchGuard {
public:
    explicit BatchGuard(const TrainOptions& o) : o_(o) {}

    [[noreturn]] static void non_finite_input(std::size_t row, std::size_t feature, std::size_t epoch, std::size_t batch) {
        throw training_error("non-finite input in row " + std::to_string(row) + ", feature " + std::to_string(feature), epoch,
                             batch);
    }
    /// Checks a gathered batch x (features values per row; rows[i] is row i's
    /// index in the data set), vectorised when all are finite.
    template <class T>
    static void inputs(const T* x, std::size_t n, std::size_t features, const std::size_t* rows, std::size_t epoch,
                       std::size_t batch) {
        if (all_finite(x, n)) return;
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(static_cast<double>(x[i]))) non_finite_input(rows[i / features], i % features, epoch, batch);
    }

    /// The loss and gradient checks, then clipping; returns the gradient's
    /// 2-norm before clipping (sum_squares, vectorised, when grad_norm < 0).
    template <class T>
    double gradient(double loss, double grad_norm, span<T> grads, std::size_t epoch, std::size_t batch) {
        if (!std::isfinite(loss)) throw training_error("non-finite loss (" + std::to_string(loss) + ")", epoch, batch);
        if (reference_ < 0) reference_ = std::max(loss, 1e-3);
        if (o_.divergence_factor > 0 && loss > o_.divergence_factor * reference_)
            throw training_error("diverging loss " + std::to_string(loss) + " (first batch: " + std::to_string(reference_) + ")",
                                 epoch, batch);
        if (grad_norm < 0) grad_norm = std::sqrt(sum_squares(grads.data(), grads.size()));
        if (!std::isfinite(grad_norm)) throw training_error("non-finite gradient", epoch, batch);
        if (o_.clip_norm > 0) clip_grad_norm(grads, o_.clip_norm);
        return grad_norm;
    }

private:
    const TrainOptions& o_;
    double reference_ = -1;  // the first batch's loss (at least 1e-3)
};

}  // namespace detail

/// The update() calls of an optimiser step begun elsewhere (begin_step) for a
/// model whose parameters are elements [base, base + parameter_count()) of
/// the optimiser's flat array (several models, e.g. a VAE's parts, share one
/// step), then parameters_changed().
template <class T>
void update_parameters(Optimizer<T>& opt, Sequential<T>& model, span<const T> grads, std::size_t base) {
    const std::size_t np = model.parameter_count();
    if (grads.size() != np) throw shape_error("nn::train::apply_step gradients", {np}, {grads.size()});
    for (std::size_t i = 0, local = 0; i < model.size(); ++i) {
        Layer<T>& l = model.layer(i);
        span<T> p = l.parameters();
        for (const ParameterInfo& info : l.parameter_info())
            if (info.trainable)
                opt.update(p.subspan(info.offset, info.size()), grads.subspan(local + info.offset, info.size()), base + local + info.offset);
        local += l.parameter_count();
    }
    model.parameters_changed();
}

/// One optimiser step over every trainable parameter of a model, then
/// parameters_changed() on each layer. `grads` is laid out as the model's
/// concatenated parameters.
template <class T>
void apply_step(Optimizer<T>& opt, Sequential<T>& model, span<const T> grads) {
    opt.begin_step(model.parameter_count());
    update_parameters(opt, model, grads, 0);
}


/// Loss and parameter gradient of one batch, split over a fixed pool of
/// threads (one workspace and gradient buffer each). Reusable across batches
/// and models; allocates only when a batch or model is larger than before.
///
/// One batch is one fork-join of the pool: each thread runs forward, loss
/// and backward on its slice of the batch into its own buffer; after a
/// barrier each thread sums the buffers over its own range of the
/// parameters, in thread order (so the result depends on the thread count,
/// never on timing), and the squared norm of that range.
template <class T>
class BatchGradient {
public:
    explicit BatchGradient(std::size_t threads = 1) : pool_(threads), slots_(pool_.size()) {}

    std::size_t threads() const noexcept { return pool_.size(); }

    /// Returns the batch loss; `grads` (size model.parameter_count()) is
    /// overwritten with its gradient. `seed` feeds Dropout (training mode).
    /// Shapes are assumed checked (Trainer::check).
    double compute(const Sequential<T>& model, const Loss<T>& loss, ConstTensorView<T> x, ConstTensorView<T> y,
                   ConstTensorView<T> mask, span<T> grads, bool training = true, std::uint64_t seed = 0) {
        return run(model, loss, x, nullptr, y, mask, grads, training, seed);
    }

    /// As compute, for the batch made of the rows rows[0 .. y.batch()) of
    /// `x`: each thread copies the rows of its own slice (the gather runs in
    /// parallel and stays in that core's cache). `y` and `mask` are the
    /// batch's targets, already gathered. A non-finite input is not trained
    /// on: bad_input() then names the first one and the gradient is garbage.
    /// Throws range_error for a row index outside x.
    double compute_rows(const Sequential<T>& model, const Loss<T>& loss, ConstTensorView<T> x, const std::size_t* rows,
                        ConstTensorView<T> y, ConstTensorView<T> mask, span<T> grads, bool training = true,
                        std::uint64_t seed = 0) {
        return run(model, loss, x, rows, y, mask, grads, training, seed);
    }

    /// The first non-finite input the last compute_rows met (found = false if none).
    struct BadInput {
        bool found = false;
        std::size_t row = 0, feature = 0;  ///< row of x, element within the row
    };
    const BadInput& bad_input() const noexcept { return bad_; }

    /// 2-norm of the gradient of the last compute (accumulated in double).
    double gradient_norm() const noexcept { return grad_norm_; }

    /// apply_step (below) with the optimiser update and the layers'
    /// parameters_changed() split over the threads; the same result as
    /// apply_step. Optimisers that are not elementwise() run serially.
    void apply_step(Optimizer<T>& opt, Sequential<T>& model, span<const T> grads) {
        const std::size_t np = model.parameter_count(), nt = pool_.size();
        if (nt == 1 || !opt.elementwise()) return train::apply_step(opt, model, grads);
        if (grads.size() != np) throw shape_error("nn::train::apply_step gradients", {np}, {grads.size()});
        assign_layers(model);
        opt.begin_step(np);
        pool_.run([&](std::size_t t) {
            std::exception_ptr failure;
            try {  // this thread's range of the flat parameter array, in every trainable block
                const std::size_t r0 = np * t / nt, r1 = np * (t + 1) / nt;
                std::size_t base = 0;
                for (std::size_t i = 0; i < model.size(); ++i) {
                    Layer<T>& l = model.layer(i);
                    span<T> p = l.parameters();
                    for (const ParameterInfo& info : l.parameter_info()) {
                        const std::size_t b0 = std::max(r0, base + info.offset), b1 = std::min(r1, base + info.offset + info.size());
                        if (info.trainable && b0 < b1)
                            opt.update(p.subspan(b0 - base, b1 - b0), grads.subspan(b0, b1 - b0), b0);
                    }
                    base += l.parameter_count();
                }
            } catch (...) {
                failure = std::current_exception();
            }
            pool_.barrier();
            for (std::size_t i = 0; i < model.size(); ++i)
                if (owner_[i] == t) model.layer(i).parameters_changed();
            if (failure) std::rethrow_exception(failure);
        });
    }

    /// Updates the BatchNorm1d running statistics of `model` from the last
    /// training-mode compute() (see running_stats.hpp); no-op without any.
    void update_running_statistics(Sequential<T>& model) { stats_.apply(model); }

    /// Mean loss over a data set (inference mode), in chunks of at most
    /// `chunk` samples per thread. Deterministic for a fixed thread count.
    double evaluate(const Sequential<T>& model, const Loss<T>& loss, ConstTensorView<T> x, ConstTensorView<T> y,
                    ConstTensorView<T> mask, std::size_t chunk = 256) {
        const std::size_t n = x.batch(), nt = pool_.size();
        std::vector<double> norms = loss.normalizers(y, mask);
        span<const double> nspan(norms.data(), norms.size());
        pool_.run([&](std::size_t t) {
            const std::size_t first = n * t / nt, last = n * (t + 1) / nt;
            slots_[t].part = 0;
            Workspace<T>& ws = slots_[t].ws;
            ws.training = false;
            for (std::size_t s = first; s < last; s += chunk) {
                const std::size_t c = std::min(chunk, last - s);
                typename Workspace<T>::Frame frame(ws);
                Shape os = model.output_shape(x.batch_slice(s, c).shape());
                TensorView<T> out(ws.allocate(os.size()), os);
                model.forward(x.batch_slice(s, c), out, ws);
                slots_[t].part += loss.evaluate(out, y.batch_slice(s, c), mask.empty() ? mask : mask.batch_slice(s, c), TensorView<T>(), nspan);
            }
        });
        double total = 0;
        for (std::size_t t = 0; t < nt; ++t) total += slots_[t].part;
        return total;
    }

private:
    struct Slot {
        Workspace<T> ws;
        std::vector<T> grad;  // unused by thread 0, which accumulates into the caller's buffer
        std::vector<ConstTensorView<T>> acts;
        double part = 0, sq = 0;
        BadInput bad;
    };

    // parameters_changed() of each layer to one thread: largest layer first,
    // to the least loaded thread. Recomputed only when the model changes.
    // (The optimiser's ranges are split evenly: a barrier separates them from
    // the repacking, which needs a layer's updated values from all threads.)
    void assign_layers(const Sequential<T>& model) {
        bool same = owner_counts_.size() == model.size();
        for (std::size_t i = 0; same && i < model.size(); ++i) same = owner_counts_[i] == model.layer(i).parameter_count();
        if (same) return;
        std::vector<std::size_t> counts(model.size());
        for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = model.layer(i).parameter_count();
        const std::size_t nt = pool_.size();
        std::vector<std::size_t> order(counts.size()), load(nt, 0);
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return counts[a] > counts[b]; });
        owner_.assign(counts.size(), 0);
        for (std::size_t i : order) {
            const std::size_t t = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
            owner_[i] = t;
            load[t] += counts[i] + 1;
        }
        owner_counts_ = std::move(counts);
    }

    double run(const Sequential<T>& model, const Loss<T>& loss, ConstTensorView<T> x, const std::size_t* rows,
               ConstTensorView<T> y, ConstTensorView<T> mask, span<T> grads, bool training, std::uint64_t seed) {
        const std::size_t batch = y.batch(), nt = pool_.size();
        const std::size_t np = model.parameter_count();
        if (grads.size() != np) throw shape_error("nn::train::BatchGradient gradients", {np}, {grads.size()});
        std::vector<double> norms = loss.normalizers(y, mask);
        span<const double> nspan(norms.data(), norms.size());
        if (rows)
            for (std::size_t i = 0; i < batch; ++i)
                if (rows[i] >= x.batch()) throw range_error("nn::train::BatchGradient::compute_rows: row " + std::to_string(rows[i]) + " of " + std::to_string(x.batch()));
        for (std::size_t t = 1; t < nt; ++t) slots_[t].grad.resize(np);
        stats_.begin(model, training ? nt : 0);
        pool_.run([&](std::size_t t) {
            Slot& slot = slots_[t];
            const std::size_t first = batch * t / nt, last = batch * (t + 1) / nt, count = last - first;
            span<T> g = t == 0 ? grads : span<T>(slot.grad.data(), np);
            slot.part = 0;
            slot.bad = BadInput{};
            std::exception_ptr failure;  // held until after the barrier, which every thread must reach
            try {
                std::fill(g.begin(), g.end(), T(0));
                if (count) {
                    Workspace<T>& ws = slot.ws;
                    ws.training = training;
                    ws.seed = seed * 0x9E3779B97F4A7C15ull + t;
                    typename Workspace<T>::Frame frame(ws);
                    ConstTensorView<T> xs;
                    if (rows) {
                        Shape shape = x.shape();
                        shape[0] = count;
                        const std::size_t f = x.sample_size();
                        T* dst = ws.allocate(count * f);
                        for (std::size_t i = 0; i < count; ++i) std::copy(x.sample(rows[first + i]), x.sample(rows[first + i]) + f, dst + i * f);
                        xs = ConstTensorView<T>(dst, shape);
                        if (!detail::all_finite(dst, count * f)) {
                            for (std::size_t i = 0; i < count * f && !slot.bad.found; ++i)
                                if (!std::isfinite(static_cast<double>(dst[i]))) slot.bad = BadInput{true, rows[first + i / f], i % f};
                        }
                    } else {
                        xs = x.batch_slice(first, count);
                    }
                    if (!slot.bad.found) {
                        std::vector<ConstTensorView<T>>& acts = slot.acts;
                        model.forward_trace(xs, acts, ws);
                        if (training) stats_.accumulate(model, acts, t);
                        ConstTensorView<T> out = acts.back();
                        TensorView<T> gout(ws.allocate(out.size()), out.shape());
                        slot.part = loss.evaluate(out, y.batch_slice(first, count),
                                                  mask.empty() ? mask : mask.batch_slice(first, count), gout, nspan);
                        model.backward(acts, gout, TensorView<T>(), g, ws);
                    }
                }
            } catch (...) {
                failure = std::current_exception();
            }
            pool_.barrier();
            // Sum the buffers over this thread's range, in thread order, and its squared norm.
            const std::size_t p0 = np * t / nt, p1 = np * (t + 1) / nt;
            T* dst = grads.data();
            const kernels::KernelTable<T>& K = kernels::kernels_of(slot.ws);
            for (std::size_t u = 1; u < nt; ++u) K.accumulate(dst + p0, slots_[u].grad.data() + p0, p1 - p0);
            slot.sq = train::detail::sum_squares(dst + p0, p1 - p0);
            if (failure) std::rethrow_exception(failure);
        });
        double total = 0, sq = 0;
        bad_ = BadInput{};
        for (std::size_t t = 0; t < nt; ++t) {
            total += slots_[t].part;
            sq += slots_[t].sq;
            if (!bad_.found) bad_ = slots_[t].bad;
        }
        grad_norm_ = std::sqrt(sq);
        return total;
    }

    ThreadPool pool_;
    std::vector<Slot> slots_;
    RunningStatistics<T> stats_;
    BadInput bad_;
    double grad_norm_ = 0;
    std::vector<std::size_t> owner_, owner_counts_;
};

/// All parameters of a model, concatenated (a copy).
template <class T>
std::vector<T> get_parameters(const Sequential<T>& model) {
    std::vector<T> out;
    out.reserve(model.parameter_count());
    for (std::size_t i = 0; i < model.size(); ++i) {
        span<const T> p = model.layer(i).parameters();
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

/// Writes concatenated parameters back (throws shape_error on a size mismatch).
template <class T>
void set_parameters(Sequential<T>& model, span<const T> values) {
    if (values.size() != model.parameter_count()) throw shape_error("nn::train::set_parameters", {model.parameter_count()}, {values.size()});
    std::size_t base = 0;
    for (std::size_t i = 0; i < model.size(); ++i) {
        span<T> p = model.layer(i).parameters();
        std::copy(values.begin() + base, values.begin() + base + p.size(), p.begin());
        base += p.size();
    }
    model.parameters_changed();
}

/// dst = the rows `rows[0 .. count)` of src, shape = src's with count rows.
template <class T>
void copy_rows(ConstTensorView<T> src, const std::size_t* rows, std::size_t count, std::vector<T>& dst, Shape& shape) {
    const std::size_t s = src.sample_size();
    dst.resize(count * s);
    for (std::size_t i = 0; i < count; ++i) std::copy(src.sample(rows[i]), src.sample(rows[i]) + s, dst.data() + i * s);
    shape = src.shape();
    shape[0] = count;
}

template <class T>
class Trainer {
public:
    /// Keeps references to model, loss and optimiser (they must outlive the
    /// trainer). Throws value_error for batch_size 0 or val_fraction outside [0, 1).
    Trainer(Sequential<T>& model, const Loss<T>& loss, Optimizer<T>& optimizer, TrainOptions options = {})
        : model_(model), loss_(loss), opt_(optimizer), o_(std::move(options)), grad_(o_.threads ? o_.threads : 1) {
        if (o_.batch_size == 0) throw value_error("nn::train::Trainer: batch_size must be > 0");
        if (!(o_.val_fraction >= 0 && o_.val_fraction < 1)) throw value_error("nn::train::Trainer: val_fraction must lie in [0, 1)");
    }

    /// A learning-rate schedule applied after each epoch (not owned; may be null).
    void set_schedule(Schedule<T>* schedule) noexcept { schedule_ = schedule; }

    const TrainOptions& options() const noexcept { return o_; }

    /// Throws shape_error unless rows of x, y (and mask, if not empty) agree,
    /// the model accepts x's samples and the loss accepts y for its output.
    void check(ConstTensorView<T> x, ConstTensorView<T> y, ConstTensorView<T> mask = {}) const {
        if (x.rank() < 2 || y.rank() < 2) throw shape_error("nn::train::Trainer data (rows first)", {0, 0}, x.rank() < 2 ? x.shape().to_vector() : y.shape().to_vector());
        if (x.batch() != y.batch()) throw shape_error("nn::train::Trainer targets: rows", {x.batch()}, {y.batch()});
        if (x.batch() == 0) throw value_error("nn::train::Trainer: no training rows");
        Shape out = model_.output_shape(x.shape());
        Shape ms = mask.shape();
        loss_.check_shapes(out, y.shape(), mask.empty() ? nullptr : &ms);
    }

    /// Trains on rows of x / y (mask: missing targets, optional), holding out
    /// val_fraction of them. See the file comment for what throws.
    TrainResult fit(ConstTensorView<T> x, ConstTensorView<T> y, ConstTensorView<T> mask = {}) {
        check(x, y, mask);
        Random rng(o_.seed);
        detail::RowSplit split = detail::split_rows(x.batch(), o_.val_fraction, rng);
        std::vector<std::size_t>&train = split.train, &val = split.val;
        const std::size_t n_val = val.size();
        Gathered v = gather(x, y, mask, val);
        return run(x, y, mask, train, n_val ? &v : nullptr, rng);
    }

    /// Trains on all rows of x / y, validating on the given set.
    TrainResult fit(ConstTensorView<T> x, ConstTensorView<T> y, ConstTensorView<T> mask, ConstTensorView<T> x_val,
                    ConstTensorView<T> y_val, ConstTensorView<T> mask_val = {}) {
        check(x, y, mask);
        check(x_val, y_val, mask_val);
        if (x_val.shape().drop_batch() != x.shape().drop_batch())
            throw shape_error("nn::train::Trainer validation inputs", x.shape().to_vector(), x_val.shape().to_vector());
        Random rng(o_.seed);
        std::vector<std::size_t> train(x.batch());
        for (std::size_t i = 0; i < train.size(); ++i) train[i] = i;
        std::vector<std::size_t> all(x_val.batch());
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
        Gathered v = gather(x_val, y_val, mask_val, all);
        return run(x, y, mask, train, &v, rng);
    }

private:
    struct Gathered {
        std::vector<T> x, y, m;
        Shape xs, ys, ms;
        ConstTensorView<T> xv() const { return {x.data(), xs}; }
        ConstTensorView<T> yv() const { return {y.data(), ys}; }
        ConstTensorView<T> mv() const { return m.empty() ? ConstTensorView<T>() : ConstTensorView<T>(m.data(), ms); }
    };

    static Gathered gather(ConstTensorView<T> x, ConstTensorView<T> y, ConstTensorView<T> mask, const std::vector<std::size_t>& rows) {
        Gathered g;
        copy_rows(x, rows.data(), rows.size(), g.x, g.xs);
        copy_rows(y, rows.data(), rows.size(), g.y, g.ys);
        if (!mask.empty()) copy_rows(mask, rows.data(), rows.size(), g.m, g.ms);
        return g;
    }

    // Throws training_error naming the original row of the first non-finite
    // (unmasked) target of a batch (inputs: BatchGradient::compute_rows).
    static void check_targets(const Gathered& b, const std::size_t* rows, std::size_t epoch, std::size_t batch) {
        if (detail::all_finite(b.y.data(), b.y.size())) return;
        const std::size_t n = b.ys[0], fy = b.ys.size() / (n ? n : 1);
        const bool per_sample = !b.m.empty() && b.m.size() != b.y.size();
        for (std::size_t i = 0; i < n * fy; ++i) {
            if (!b.m.empty() && (per_sample ? b.m[i / fy] : b.m[i]) == T(0)) continue;
            if (!std::isfinite(static_cast<double>(b.y[i])))
                throw training_error("non-finite target in row " + std::to_string(rows[i / fy]) + ", column " + std::to_string(i % fy), epoch, batch);
        }
    }

    TrainResult run(ConstTensorView<T> x, ConstTensorView<T> y, ConstTensorView<T> mask, std::vector<std::size_t>& train,
                    const Gathered* val, Random& rng) {
        using clock = std::chrono::steady_clock;
        detail::EpochBook<T> book(o_);
        const std::size_t np = model_.parameter_count(), nb = (train.size() + o_.batch_size - 1) / o_.batch_size;
        std::vector<T> grads(np);
        detail::BatchGuard guard(o_);
        Gathered b;
        for (std::size_t epoch = 1; epoch <= o_.epochs; ++epoch) {
            const auto start = clock::now();
            const double lr = opt_.learning_rate();
            if (o_.shuffle) rng.shuffle(train);
            double sum = 0;
            for (std::size_t k = 0; k < nb; ++k) {
                const std::size_t first = k * o_.batch_size, count = std::min(o_.batch_size, train.size() - first);
                const std::size_t* rows = train.data() + first;
                // Targets here (small); the inputs are gathered by the threads.
                copy_rows(y, rows, count, b.y, b.ys);
                if (!mask.empty()) copy_rows(mask, rows, count, b.m, b.ms);
                const std::uint64_t seed = o_.seed ^ ((static_cast<std::uint64_t>(epoch) << 32) + k);
                double loss = grad_.compute_rows(model_, loss_, x, rows, b.yv(), b.mv(), span<T>(grads), true, seed);
                if (grad_.bad_input().found)
                    detail::BatchGuard::non_finite_input(grad_.bad_input().row, grad_.bad_input().feature, epoch, k + 1);
                check_targets(b, rows, epoch, k + 1);
                const double gnorm = guard.gradient(loss, grad_.gradient_norm(), span<T>(grads), epoch, k + 1);
                grad_.update_running_statistics(model_);
                grad_.apply_step(opt_, model_, span<const T>(grads));
                sum += loss * static_cast<double>(count);
                if (o_.on_batch) o_.on_batch(BatchStats{epoch, k + 1, nb, loss, gnorm});
            }
            EpochStats s;
            s.epoch = epoch;
            s.epochs = o_.epochs;
            s.learning_rate = lr;
            s.train_loss = sum / static_cast<double>(train.size());
            const auto trained = clock::now();
            if (val) {
                s.val_loss = grad_.evaluate(model_, loss_, val->xv(), val->yv(), val->mv());
                if (!std::isfinite(s.val_loss)) throw training_error("non-finite validation loss", epoch, 0);
            }
            const double monitored = val ? s.val_loss : s.train_loss;
            if (!book.close(s, monitored, start, trained, train.size(), opt_, schedule_, [&] { return get_parameters(model_); }))
                break;
        }
        return book.finish([&](span<const T> best) { set_parameters(model_, best); });
    }

    Sequential<T>& model_;
    const Loss<T>& loss_;
    Optimizer<T>& opt_;
    TrainOptions o_;
    BatchGradient<T> grad_;
    Schedule<T>* schedule_ = nullptr;
};

}  // namespace corespec::nn::train
