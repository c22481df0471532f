// corespec/nn/train/vae_trainer.hpp - training a variational autoencoder.
//
//   Vae<float> vae = make_conv_vae<float>();          // the study-2 conv VAE
//   std::uint64_t seed = 42;
//   for (Sequential<float>* part : train::vae_parts(vae)) train::init_default(*part, seed++);
//   train::MseLoss<float> recon;
//   train::Adam<float> adam(1e-3);
//   train::VaeTrainOptions opt;  opt.beta = 0.01;  opt.epochs = 100;  opt.val_fraction = 0.1;
//   train::VaeTrainer<float> trainer(vae, recon, adam, opt);
//   train::TrainResult r = trainer.fit(x);             // x [n, 1, 240]
//
// Objective of a batch (PyTorch's usual VAE loss):
//   loss = reconstruction(decoder(z), x) + beta * KL,   z = mu + exp(logvar / 2) * eps,
//   KL = mean over samples of -0.5 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)),
// with eps ~ N(0, I) drawn for the whole batch on the calling thread from a
// generator seeded by `seed` (so the thread count does not change the noise),
// or supplied by a noise callback (set_noise), e.g. PyTorch's eps in a parity
// test. Validation uses z = mu (no noise), so the monitored loss does not
// jitter with the draws.
//
// The study's two-encoder variant (fit_two_encoder): beside the VAE, which
// learns from clean (preprocessed) spectra, a deterministic encoder `raw`
// learns to map the raw form of each spectrum straight into the latent
// space; an extra term pulls it towards the VAE's mean of the clean form:
//   loss += pull * mean over samples of sum_j (raw(x_raw)_j - mu(x)_j)^2.
// mu is the term's target, not a parameter: no gradient of it reaches the
// VAE (its latent space is where the simulated references are embedded, and
// the raw encoder must not bend it), so the VAE's gradients are those fit(x)
// computes with the same seed (clipping, early stopping and the best epoch
// see the sum of all terms and both encoders).
//
//   Sequential<float> raw = ...;                       // [n, 1, 240] -> [n, latent]
//   opt.pull = 1.0;
//   trainer.fit_two_encoder(x_clean, x_raw, raw);      // row i of x_raw is the raw form of row i of x_clean
//
// Everything else is the supervised Trainer's (trainer.hpp): seeded shuffling
// and validation split, early stopping with patience, best-weights restore,
// progress / per-batch / checkpoint callbacks, gradient clipping, a
// training_error naming epoch and batch on a non-finite input, loss or
// gradient or a diverging loss, BatchNorm1d running statistics, and
// bit-identical reruns for the same seed and thread count.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "corespec/nn/models/vae.hpp"
#include "corespec/nn/train/trainer.hpp"

namespace corespec::nn::train {

struct VaeTrainOptions : TrainOptions {
    /// Weight of the KL term (beta-VAE); must be finite and >= 0.
    double beta = 1.0;
    /// Weight of the two-encoder term (fit_two_encoder only); finite and >= 0.
    double pull = 1.0;
};

/// A VAE batch's loss and its terms (kl without beta; pull with its weight,
/// 0 without a raw encoder).
struct VaeLoss {
    double total = 0, reconstruction = 0, kl = 0, pull = 0;
};

/// The two-encoder term of a batch: the raw encoder, the raw form of the
/// batch's rows (rows aligned with the clean batch) and the term's weight.
template <class T>
struct PullTerm {
    const Sequential<T>* encoder = nullptr;  ///< null: no such term
    ConstTensorView<T> x;
    double weight = 0;
};

/// The chains of a VAE model in the order of its flat parameter array
/// (value_error for another kind of model).
template <class T>
std::array<Sequential<T>*, 4> vae_parts(Vae<T>& v) {
    return {&v.encoder(), &v.mean_head(), &v.logvar_head(), &v.decoder()};
}
template <class T>
std::array<const Sequential<T>*, 4> vae_parts(const Vae<T>& v) {
    return {&v.encoder(), &v.mean_head(), &v.logvar_head(), &v.decoder()};
}

template <class T>
std::size_t parameter_count(const Vae<T>& v) {
    std::size_t n = 0;
    for (const Sequential<T>* p : vae_parts(v)) n += p->parameter_count();
    return n;
}

/// All parameters of a VAE (body, mean head, log-variance head, decoder).
template <class T>
std::vector<T> get_parameters(const Vae<T>& v) {
    std::vector<T> out;
    out.reserve(parameter_count(v));
    for (const Sequential<T>* p : vae_parts(v)) {
        std::vector<T> part = get_parameters(*p);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

/// Writes get_parameters' layout back (throws shape_error on a size mismatch).
template <class T>
void set_parameters(Vae<T>& v, span<const T> values) {
    if (values.size() != parameter_count(v)) throw shape_error("nn::train::set_parameters (VAE)", {parameter_count(v)}, {values.size()});
    std::size_t base = 0;
    for (Sequential<T>* p : vae_parts(v)) {
        set_parameters(*p, values.subspan(base, p->parameter_count()));
        base += p->parameter_count();
    }
}

/// Loss and parameter gradient of one VAE batch, split over a fixed pool of
/// threads like BatchGradient (thread t takes rows [n t / T, n (t + 1) / T),
/// its gradient buffer is summed in thread order).
template <class T>
class VaeGradient {
public:
    explicit VaeGradient(std::size_t threads = 1) : pool_(threads), slots_(pool_.size()) {}

    std::size_t threads() const noexcept { return pool_.size(); }

    /// Loss of the batch x with noise eps [batch, latent]; `grads` (size
    /// parameter_count(vae), plus the raw encoder's parameters after them
    /// when `pull` has one) is overwritten with its gradient unless empty.
    /// training: layers in training mode (Dropout, BatchNorm batch
    /// statistics; `seed` feeds Dropout). An empty eps means z = mu.
    /// Throws shape_error for eps, grads or a raw batch that do not fit.
    VaeLoss compute(const Vae<T>& vae, const Loss<T>& recon, ConstTensorView<T> x, ConstTensorView<T> eps, span<T> grads,
                    double beta, bool training = true, std::uint64_t seed = 0, PullTerm<T> pull = {}) {
        const std::size_t batch = x.batch(), nt = pool_.size(), nv = parameter_count(vae);
        const std::size_t np = nv + (pull.encoder ? pull.encoder->parameter_count() : 0);
        const std::size_t latent = vae.latent_size();
        if (!grads.empty() && grads.size() != np) throw shape_error("nn::train::VaeGradient gradients", {np}, {grads.size()});
        if (!eps.empty() && eps.shape() != Shape{batch, latent})
            throw shape_error("nn::train::VaeGradient eps", {batch, latent}, eps.shape().to_vector());
        if (pull.encoder) check_pull(*pull.encoder, pull.x.shape(), batch, latent);
        const auto parts = vae_parts(vae);
        std::vector<double> norms = recon.normalizers(x, ConstTensorView<T>());
        span<const double> nspan(norms.data(), norms.size());
        for (std::size_t k = 0; k < 4; ++k) running_[k].begin(*parts[k], training ? nt : 0);
        if (pull.encoder) running_[4].begin(*pull.encoder, training ? nt : 0);
        pool_.run([&](std::size_t t) {
            Slot& s = slots_[t];
            const std::size_t first = batch * t / nt, last = batch * (t + 1) / nt, n = last - first;
            span<T> g;
            if (!grads.empty()) {
                if (t == 0) g = grads;
                else s.grads.resize(np), g = span<T>(s.grads.data(), np);
                std::fill(g.begin(), g.end(), T(0));
            }
            s.loss = VaeLoss{};
            if (n == 0) return;
            Workspace<T>& ws = s.ws;
            ws.training = training;
            ws.seed = seed * 0x9E3779B97F4A7C15ull + t;
            typename Workspace<T>::Frame frame(ws);
            ConstTensorView<T> xs = x.batch_slice(first, n);
            // forward: body -> mean, logvar -> z -> decoder
            parts[0]->forward_trace(xs, s.acts[0], ws);
            parts[1]->forward_trace(s.acts[0].back(), s.acts[1], ws);
            parts[2]->forward_trace(s.acts[0].back(), s.acts[2], ws);
            if (training)
                for (std::size_t k = 0; k < 3; ++k) running_[k].accumulate(*parts[k], s.acts[k], t);
            ConstTensorView<T> mu = s.acts[1].back(), lv = s.acts[2].back();
            const Shape ls{n, latent};
            TensorView<T> z(ws.allocate(ls.size()), ls);
            ConstTensorView<T> e = eps.empty() ? ConstTensorView<T>() : eps.batch_slice(first, n);
            for (std::size_t i = 0; i < z.size(); ++i) z[i] = e.empty() ? mu[i] : mu[i] + std::exp(lv[i] / T(2)) * e[i];
            parts[3]->forward_trace(z, s.acts[3], ws);
            if (training) running_[3].accumulate(*parts[3], s.acts[3], t);
            ConstTensorView<T> out = s.acts[3].back();
            TensorView<T> g_out, g_mu, g_lv;
            if (!g.empty()) {
                g_out = TensorView<T>(ws.allocate(out.size()), out.shape());
                g_mu = TensorView<T>(ws.allocate(ls.size()), ls);
                g_lv = TensorView<T>(ws.allocate(ls.size()), ls);
            }
            s.loss.reconstruction = recon.evaluate(out, xs, ConstTensorView<T>(), g_out, nspan);
            s.loss.kl = gaussian_kl(mu, lv, g_mu, g_lv, 1.0, batch);
            s.loss.total = s.loss.reconstruction + beta * s.loss.kl;
            if (pull.encoder) {  // the raw encoder towards mu (a target: no gradient into the VAE)
                pull.encoder->forward_trace(pull.x.batch_slice(first, n), s.acts[4], ws);
                if (training) running_[4].accumulate(*pull.encoder, s.acts[4], t);
                ConstTensorView<T> r = s.acts[4].back();
                TensorView<T> g_r;
                if (!g.empty()) g_r = TensorView<T>(ws.allocate(r.size()), r.shape());
                double sq = 0;
                const double scale = pull.weight / static_cast<double>(batch);
                for (std::size_t i = 0; i < r.size(); ++i) {
                    const double d = static_cast<double>(r[i]) - static_cast<double>(mu[i]);
                    sq += d * d;
                    if (!g_r.empty()) g_r[i] = static_cast<T>(2 * scale * d);
                }
                s.loss.pull = scale * sq;
                s.loss.total += s.loss.pull;
                if (!g.empty()) pull.encoder->backward(s.acts[4], g_r, TensorView<T>(), g.subspan(nv, np - nv), ws);
            }
            if (g.empty()) return;
            // backward: decoder -> z -> (mu, logvar) -> body
            std::size_t off[5] = {0};
            for (std::size_t k = 0; k < 4; ++k) off[k + 1] = off[k] + parts[k]->parameter_count();
            auto gp = [&](std::size_t k) { return g.subspan(off[k], parts[k]->parameter_count()); };
            TensorView<T> g_z(ws.allocate(ls.size()), ls);
            parts[3]->backward(s.acts[3], g_out, g_z, gp(3), ws);
            for (std::size_t i = 0; i < z.size(); ++i) {
                const T kl_mu = g_mu[i], kl_lv = g_lv[i];
                g_mu[i] = g_z[i] + T(beta) * kl_mu;
                const T dz_dlv = e.empty() ? T(0) : e[i] * std::exp(lv[i] / T(2)) / T(2);
                g_lv[i] = g_z[i] * dz_dlv + T(beta) * kl_lv;
            }
            const Shape hs = s.acts[0].back().shape();
            TensorView<T> g_h(ws.allocate(hs.size()), hs), g_h2(ws.allocate(hs.size()), hs);
            parts[1]->backward(s.acts[1], g_mu, g_h, gp(1), ws);
            parts[2]->backward(s.acts[2], g_lv, g_h2, gp(2), ws);
            for (std::size_t i = 0; i < g_h.size(); ++i) g_h[i] += g_h2[i];
            parts[0]->backward(s.acts[0], g_h, TensorView<T>(), gp(0), ws);
        });
        VaeLoss total;
        for (std::size_t t = 0; t < nt; ++t) {
            total.total += slots_[t].loss.total;
            total.reconstruction += slots_[t].loss.reconstruction;
            total.kl += slots_[t].loss.kl;
            total.pull += slots_[t].loss.pull;
        }
        if (!grads.empty())
            for (std::size_t t = 1; t < nt; ++t) {
                const T* b = slots_[t].grads.data();
                for (std::size_t i = 0; i < np; ++i) grads[i] += b[i];
            }
        return total;
    }

    /// Updates BatchNorm1d running statistics from the last training-mode
    /// compute() (of the raw encoder too, when given: the one of that compute).
    void update_running_statistics(Vae<T>& vae, Sequential<T>* raw = nullptr) {
        const auto parts = vae_parts(vae);
        for (std::size_t k = 0; k < 4; ++k) running_[k].apply(*parts[k]);
        if (raw) running_[4].apply(*raw);
    }

    /// Mean loss (z = mu, inference mode) over a data set, in chunks (and
    /// its raw form pull.x, when pull has an encoder).
    VaeLoss evaluate(const Vae<T>& vae, const Loss<T>& recon, ConstTensorView<T> x, double beta, std::size_t chunk = 256,
                     PullTerm<T> pull = {}) {
        VaeLoss sum;
        const double n = static_cast<double>(x.batch());
        for (std::size_t s = 0; s < x.batch(); s += chunk) {
            const std::size_t c = std::min(chunk, x.batch() - s);
            PullTerm<T> p = pull;
            if (p.encoder) p.x = pull.x.batch_slice(s, c);
            VaeLoss l = compute(vae, recon, x.batch_slice(s, c), ConstTensorView<T>(), span<T>(), beta, false, 0, p);
            const double w = static_cast<double>(c) / n;  // chunk means -> data set mean
            sum.total += w * l.total, sum.reconstruction += w * l.reconstruction, sum.kl += w * l.kl, sum.pull += w * l.pull;
        }
        return sum;
    }

    /// Throws shape_error unless the raw batch has `batch` rows and the raw
    /// encoder maps it to [batch, latent].
    static void check_pull(const Sequential<T>& raw, const Shape& raw_shape, std::size_t batch, std::size_t latent) {
        if (raw_shape.rank() < 2 || raw_shape[0] != batch)
            throw shape_error("nn::train: raw rows (the raw form of each clean row)", {batch}, raw_shape.to_vector());
        const Shape out = raw.output_shape(raw_shape);
        if (out != Shape{batch, latent})
            throw shape_error("nn::train: raw encoder output (the VAE's latent)", {batch, latent}, out.to_vector());
    }

private:
    struct Slot {
        Workspace<T> ws;
        std::vector<T> grads;
        std::array<std::vector<ConstTensorView<T>>, 5> acts;  // the VAE's four chains, the raw encoder
        VaeLoss loss;
    };
    ThreadPool pool_;
    std::vector<Slot> slots_;
    std::array<RunningStatistics<T>, 5> running_;
};

/// After each VAE batch: BatchStats (loss = total) and the terms.
struct VaeBatchStats : BatchStats {
    double reconstruction = 0, kl = 0, pull = 0;
};

template <class T>
class VaeTrainer {
public:
    /// Fills eps [batch, latent] for training batch `batch` (1-based) of `epoch`.
    using Noise = std::function<void(std::size_t epoch, std::size_t batch, TensorView<T> eps)>;

    /// Keeps references to vae, loss and optimiser (they must outlive the
    /// trainer). Throws value_error for batch_size 0, val_fraction outside
    /// [0, 1) or a negative or non-finite beta.
    VaeTrainer(Vae<T>& vae, const Loss<T>& reconstruction, Optimizer<T>& optimizer, VaeTrainOptions options = {})
        : vae_(vae), loss_(reconstruction), opt_(optimizer), o_(std::move(options)), grad_(o_.threads ? o_.threads : 1) {
        if (o_.batch_size == 0) throw value_error("nn::train::VaeTrainer: batch_size must be > 0");
        if (!(o_.val_fraction >= 0 && o_.val_fraction < 1)) throw value_error("nn::train::VaeTrainer: val_fraction must lie in [0, 1)");
        if (!(o_.beta >= 0) || !std::isfinite(o_.beta)) throw value_error("nn::train::VaeTrainer: beta must be finite and >= 0");
        if (!(o_.pull >= 0) || !std::isfinite(o_.pull)) throw value_error("nn::train::VaeTrainer: pull must be finite and >= 0");
    }

    void set_schedule(Schedule<T>* schedule) noexcept { schedule_ = schedule; }
    /// Replaces the seeded N(0, 1) draws (empty function: back to them).
    void set_noise(Noise noise) { noise_ = std::move(noise); }
    /// After each batch, with the reconstruction and KL terms (optional).
    void on_batch(std::function<void(const VaeBatchStats&)> f) { on_batch_ = std::move(f); }
    const VaeTrainOptions& options() const noexcept { return o_; }

    /// Throws shape_error unless x is [rows, <the VAE's input shape>] and the
    /// reconstruction loss accepts it; value_error for zero rows.
    void check(ConstTensorView<T> x) const {
        const Shape sample(vae_.input_shape());
        if (x.rank() < 2 || x.shape().drop_batch() != sample)
            throw shape_error("nn::train::VaeTrainer data (rows, input shape)", sample.with_batch(x.rank() ? x.batch() : 0).to_vector(),
                              x.shape().to_vector());
        if (x.batch() == 0) throw value_error("nn::train::VaeTrainer: no training rows");
        loss_.check_shapes(x.shape(), x.shape());
    }

    /// Trains on the rows of x, holding out val_fraction of them (seeded).
    TrainResult fit(ConstTensorView<T> x) {
        check(x);
        return fit_rows(x, ConstTensorView<T>(), nullptr);
    }

    /// The two-encoder variant (file comment): trains the VAE on the clean
    /// rows of x and `raw` (the raw form x_raw [rows, raw input shape] ->
    /// [rows, latent]) towards the VAE's mean, holding out the same
    /// val_fraction of rows of both (seeded). The monitored and reported
    /// losses include the pull term; the best epoch's weights of both
    /// encoders are restored. `raw` must outlive the call. Throws
    /// shape_error unless x_raw has x's rows and raw maps them to the latent.
    TrainResult fit_two_encoder(ConstTensorView<T> x, ConstTensorView<T> x_raw, Sequential<T>& raw) {
        check(x);
        VaeGradient<T>::check_pull(raw, x_raw.shape(), x.batch(), vae_.latent_size());
        return fit_rows(x, x_raw, &raw);
    }

    /// Trains on all rows of x, validating on x_val.
    TrainResult fit(ConstTensorView<T> x, ConstTensorView<T> x_val) {
        check(x);
        check(x_val);
        Random rng(o_.seed);
        std::vector<std::size_t> train(x.batch());
        for (std::size_t i = 0; i < train.size(); ++i) train[i] = i;
        return run(x, train, x_val, rng);
    }

private:
    TrainResult fit_rows(ConstTensorView<T> x, ConstTensorView<T> x_raw, Sequential<T>* raw) {
        Random rng(o_.seed);
        detail::RowSplit split = detail::split_rows(x.batch(), o_.val_fraction, rng);
        std::vector<std::size_t>&train = split.train, &val = split.val;
        const std::size_t n_val = val.size();
        std::vector<T> xv, xrv;
        Shape vs, vrs;
        copy_rows(x, val.data(), val.size(), xv, vs);
        if (raw) copy_rows(x_raw, val.data(), val.size(), xrv, vrs);
        const auto view = [&](const std::vector<T>& v, const Shape& s) { return n_val ? ConstTensorView<T>(v.data(), s) : ConstTensorView<T>(); };
        return run(x, train, view(xv, vs), rng, x_raw, view(xrv, vrs), raw);
    }

    // The VAE's parameters, then the raw encoder's (the optimiser's flat array).
    std::vector<T> parameters(const Sequential<T>* raw) const {
        std::vector<T> p = get_parameters(vae_);
        if (raw) {
            const std::vector<T> r = get_parameters(*raw);
            p.insert(p.end(), r.begin(), r.end());
        }
        return p;
    }

    TrainResult run(ConstTensorView<T> x, std::vector<std::size_t>& train, ConstTensorView<T> val, Random& rng,
                    ConstTensorView<T> x_raw = {}, ConstTensorView<T> val_raw = {}, Sequential<T>* raw = nullptr) {
        using clock = std::chrono::steady_clock;
        detail::EpochBook<T> book(o_);
        const std::size_t nv = parameter_count(vae_), np = nv + (raw ? raw->parameter_count() : 0);
        const std::size_t nb = (train.size() + o_.batch_size - 1) / o_.batch_size;
        const std::size_t latent = vae_.latent_size(), features = x.sample_size();
        std::vector<T> grads(np), xb, xrb, eps;
        Shape xs, xrs;
        Random noise(o_.seed ^ 0x5DEECE66Dull);  // the default eps stream, separate from shuffling
        detail::BatchGuard guard(o_);
        for (std::size_t epoch = 1; epoch <= o_.epochs; ++epoch) {
            const auto start = clock::now();
            const double lr = opt_.learning_rate();
            if (o_.shuffle) rng.shuffle(train);
            double sum = 0;
            for (std::size_t k = 0; k < nb; ++k) {
                const std::size_t first = k * o_.batch_size, count = std::min(o_.batch_size, train.size() - first);
                const std::size_t* rows = train.data() + first;
                copy_rows(x, rows, count, xb, xs);
                detail::BatchGuard::inputs(xb.data(), xb.size(), features, rows, epoch, k + 1);
                PullTerm<T> pull;
                if (raw) {
                    copy_rows(x_raw, rows, count, xrb, xrs);
                    detail::BatchGuard::inputs(xrb.data(), xrb.size(), x_raw.sample_size(), rows, epoch, k + 1);
                    pull = {raw, ConstTensorView<T>(xrb.data(), xrs), o_.pull};
                }
                eps.resize(count * latent);
                TensorView<T> ev(eps.data(), Shape{count, latent});
                if (noise_) noise_(epoch, k + 1, ev);
                else
                    for (T& e : eps) e = static_cast<T>(noise.normal());
                const std::uint64_t seed = o_.seed ^ ((static_cast<std::uint64_t>(epoch) << 32) + k);
                const VaeLoss l =
                    grad_.compute(vae_, loss_, ConstTensorView<T>(xb.data(), xs), ev, span<T>(grads), o_.beta, true, seed, pull);
                const double loss = l.total;
                const double gnorm = guard.gradient(loss, -1.0, span<T>(grads), epoch, k + 1);
                grad_.update_running_statistics(vae_, raw);
                opt_.begin_step(np);
                std::size_t base = 0;
                for (Sequential<T>* p : vae_parts(vae_)) {
                    update_parameters(opt_, *p, span<const T>(grads.data() + base, p->parameter_count()), base);
                    base += p->parameter_count();
                }
                if (raw) update_parameters(opt_, *raw, span<const T>(grads.data() + base, raw->parameter_count()), base);
                sum += loss * static_cast<double>(count);
                BatchStats bs{epoch, k + 1, nb, loss, gnorm};
                if (o_.on_batch) o_.on_batch(bs);
                if (on_batch_) {
                    VaeBatchStats v;
                    static_cast<BatchStats&>(v) = bs;
                    v.reconstruction = l.reconstruction, v.kl = l.kl, v.pull = l.pull;
                    on_batch_(v);
                }
            }
            EpochStats s;
            s.epoch = epoch;
            s.epochs = o_.epochs;
            s.learning_rate = lr;
            s.train_loss = sum / static_cast<double>(train.size());
            const auto trained = clock::now();
            if (!val.empty()) {
                s.val_loss = grad_.evaluate(vae_, loss_, val, o_.beta, 256, {raw, val_raw, o_.pull}).total;
                if (!std::isfinite(s.val_loss)) throw training_error("non-finite validation loss", epoch, 0);
            }
            const double monitored = val.empty() ? s.train_loss : s.val_loss;
            if (!book.close(s, monitored, start, trained, train.size(), opt_, schedule_, [&] { return parameters(raw); })) break;
        }
        return book.finish([&](span<const T> best) {
            set_parameters(vae_, best.subspan(0, nv));
            if (raw) set_parameters(*raw, best.subspan(nv, np - nv));
        });
    }

    Vae<T>& vae_;
    const Loss<T>& loss_;
    Optimizer<T>& opt_;
    VaeTrainOptions o_;
    VaeGradient<T> grad_;
    Schedule<T>* schedule_ = nullptr;
    Noise noise_;
    std::function<void(const VaeBatchStats&)> on_batch_;
};

}  // namespace corespec::nn::train
