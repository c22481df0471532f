// corespec/fusion/model.hpp - multimodal models: training, prediction with
// uncertainty, and model files that know their input.
//
//   fusion::FusionOptions o;                      // late fusion, 3 members, modality dropout 0.2
//   auto model = fusion::train(train_set, modalities, o);
//   auto p = model.predict(test_set);             // p.value[t][row], p.sd[t][row]
//   model.save("out/multimodal");                 // out/multimodal_0.safetensors, _1, _2
//   auto back = fusion::FusionModel::load({"out/multimodal_0.safetensors", ...});
//
// Input of the network: the fused features (FeatureLayout order) followed by
// one presence bit per modality. A missing modality is all zeros with its
// bit 0; training drops present modalities at random (modality dropout) so
// the network learns to predict from any subset. Strategies:
//   early  concatenated features -> Dense trunk -> one output per target
//   late   a small encoder per modality (one BlockDense: each modality's bins
//          to `encoder_width` features, the presence bits passed through a
//          block of their own) -> ReLU -> concatenation -> Dense trunk -> outputs
//   mean   the same encoders (the presence bits copied through, not learnt)
//          -> leaky ReLU -> the mean of the present modalities' encodings
//          (nn::MaskedBlockMean) and the presence bits -> Dense trunk -> outputs
//
// Threads: the members (and, through train(data, jobs, threads), the
// members of several models) are tasks on a core/thread_pool.hpp pool, each
// trained on one thread with its own seed and state: the same model bit for
// bit whatever the thread count.
//
// Uncertainty: an ensemble of `members` networks (different seeds and
// dropout draws). An ensemble was chosen over a variance head because its
// spread grows away from the training data (what matters on measured
// spectra after training on simulated ones), and it needs no new loss. The
// spread alone misses the noise of the labels, so each regression target
// gets sd = sqrt(ensemble variance + a constant); each flag's mean logit is
// Platt-scaled. Member k validates on group fold k (of 1 / validation_fraction
// folds of the TRAINING set, never the test set) and trains on the others;
// the constant and the Platt parameters are fitted on the out-of-member
// predictions pooled over the members (each member on its own fold).
//
// Early stopping per target (default): the heads share a trunk but learn
// and overfit at different speeds, so each member keeps, per target, the
// weights of the epoch with that target's best validation loss; a member is
// then up to one network per target (FusionCard::heads says which). A
// regression target whose validation R² is <= 0 is predicted as the
// training mean (FusionCard::constant), so an input that does not tell a
// target says so instead of adding noise.
//
// The model file: each network is a corespec model file (nn::save_model
// format) whose __metadata__ key "corespec.fusion" holds the FusionCard:
// modalities (grids, normalisation statistics, recipes), targets and their
// scaling, strategy, calibration, heads. Prediction fuses raw spectra through the
// stored modalities, and refuses features of another layout by name.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "corespec/core/error.hpp"
#include "corespec/core/thread_pool.hpp"
#include "corespec/fusion/dataset.hpp"
#include "corespec/fusion/modality.hpp"
#include "corespec/nn/layers/activation.hpp"
#include "corespec/nn/layers/block_dense.hpp"
#include "corespec/nn/layers/dense.hpp"
#include "corespec/nn/layers/masked_block_mean.hpp"
#include "corespec/nn/serialize.hpp"
#include "corespec/nn/train/trainer.hpp"
#include "corespec/report/metrics.hpp"
#include "corespec/synth/random.hpp"

namespace corespec::fusion {

/// early: concatenated features; late: per-modality encoders, concatenated;
/// mean: per-modality encoders, averaged over the present modalities.
enum class Strategy { early, late, mean };

inline const char* to_string(Strategy s) noexcept {
    return s == Strategy::early ? "early" : (s == Strategy::late ? "late" : "mean");
}
inline Strategy strategy_from_string(const std::string& s) {
    if (s == "early") return Strategy::early;
    if (s == "late") return Strategy::late;
    if (s == "mean") return Strategy::mean;
    throw value_error("fusion: unknown strategy '" + s + "' (early, late or mean)");
}

/// How a fusion model is built and trained.
struct FusionOptions {
    Strategy strategy = Strategy::late;
    std::size_t encoder_width = 16;   ///< late, mean: features per modality encoder
    std::size_t hidden = 64;          ///< width of each trunk layer
    std::size_t hidden_layers = 2;    ///< Dense + ReLU layers of the trunk
    double modality_dropout = 0.2;    ///< per epoch, P(a present modality is dropped); one always stays
    std::size_t members = 3;          ///< ensemble size (>= 2 for a spread)
    std::size_t epochs = 400, batch_size = 32, patience = 30;
    /// Small sets have few batches per epoch: training runs at least this
    /// many optimiser steps (more epochs than `epochs` if need be) before
    /// patience may stop it.
    std::size_t min_steps = 3000;
    double learning_rate = 2e-3, weight_decay = 1e-4;
    /// Member k holds out group fold k of round(1 / validation_fraction)
    /// folds for early stopping; the folds pooled calibrate the ensemble.
    double validation_fraction = 0.2;
    /// Early stopping per target: each target's output comes from the epoch
    /// with that target's best validation loss (the heads share a trunk but
    /// converge and overfit at different speeds), so a member may hold up to
    /// one network per target. false: one epoch, the best total loss.
    bool select_per_target = true;
    /// With select_per_target: per target, members whose validation loss
    /// exceeds this multiple of the best member's are left out of the mean
    /// (the two best always stay).
    double member_tolerance = 1.5;
    /// A regression target whose ensemble R² on the validation structures
    /// is <= 0 is not learnt from these inputs: the model then predicts the
    /// training mean (sd = the training spread) and says so in its card.
    bool constant_if_unpredictable = true;
    std::uint64_t seed = 1;
    /// Members trained concurrently, one thread each (0: the hardware's
    /// threads). The model is bit-identical whatever the count.
    std::size_t threads = 0;
    /// After each epoch of each member (member and epoch 0-based), e.g. a
    /// progress bar. With threads > 1 the callbacks run on the threads that
    /// train the members, one call at a time (the library holds a lock).
    std::function<void(std::size_t member, std::size_t epoch, std::size_t epochs)> progress;
    /// After each epoch: the validation loss per target (MSE of the scaled
    /// target, or BCE with logits), for learning curves.
    std::function<void(std::size_t member, std::size_t epoch, const std::vector<double>& val_loss)> on_validation;

    void validate() const {
        if (encoder_width == 0 || hidden == 0 || members == 0 || epochs == 0 || batch_size == 0)
            throw value_error("fusion::FusionOptions: widths, members, epochs and batch_size must be > 0");
        if (!(modality_dropout >= 0 && modality_dropout < 1)) throw value_error("fusion::FusionOptions: modality_dropout must lie in [0, 1)");
        if (!(validation_fraction > 0 && validation_fraction < 1))
            throw value_error("fusion::FusionOptions: validation_fraction must lie in (0, 1)");
    }
};

/// What a model knows about its input and outputs (stored in every file).
struct FusionCard {
    std::vector<Modality> modalities;
    std::vector<Target> targets;
    Strategy strategy = Strategy::late;
    std::vector<double> target_mean, target_scale;  ///< network output t = (value - mean) / scale (binary: 0, 1)
    std::vector<double> noise_variance;             ///< regression: added to the ensemble variance (target units^2)
    std::vector<double> platt_a, platt_b;           ///< binary: p = sigmoid(a * mean logit + b)
    /// heads[t]: the networks whose output t is averaged (per-target early
    /// stopping and member selection); empty: every network for every target.
    std::vector<std::vector<std::size_t>> heads;
    /// Regression targets not learnt (validation R² <= 0): predicted as
    /// target_mean with sd target_scale (the training mean and spread).
    std::vector<bool> constant;

    /// The networks that give target t, out of `networks`.
    std::vector<std::size_t> head(std::size_t t, std::size_t networks) const {
        if (!heads.empty()) return heads.at(t);
        std::vector<std::size_t> all(networks);
        for (std::size_t i = 0; i < networks; ++i) all[i] = i;
        return all;
    }
    bool is_constant(std::size_t t) const { return !constant.empty() && constant.at(t); }
    /// Whether the inputs do not tell target t: a regression head that predicts
    /// the training mean (is_constant), or a flag whose calibration slope is 0
    /// (its validation logits ranked it the wrong way: the base rate is predicted).
    bool uninformative(std::size_t t) const {
        return is_constant(t) || (targets.at(t).kind == TargetKind::binary && platt_a.at(t) == 0.0);
    }

    FeatureLayout layout() const { return layout_of(modalities); }
    std::size_t input_size() const { return layout().size() + modalities.size(); }

    nlohmann::json to_json() const {
        nlohmann::json t = nlohmann::json::array();
        for (std::size_t i = 0; i < targets.size(); ++i)
            t.push_back({{"name", targets[i].name},
                         {"kind", targets[i].kind == TargetKind::binary ? "binary" : "regression"},
                         {"mean", target_mean[i]}, {"scale", target_scale[i]}, {"noise_variance", noise_variance[i]},
                         {"platt_a", platt_a[i]}, {"platt_b", platt_b[i]}});
        for (std::size_t i = 0; i < targets.size(); ++i) t[i]["constant"] = is_constant(i);
        nlohmann::json j{{"format", "corespec.fusion"}, {"version", 1}, {"strategy", to_string(strategy)},
                         {"modalities", modalities_to_json(modalities)}, {"targets", t}};
        if (!heads.empty()) j["heads"] = heads;
        return j;
    }

    /// Networks the card's heads refer to (`networks` when heads is empty).
    std::size_t network_count(std::size_t networks) const {
        std::size_t n = heads.empty() ? networks : 0;
        for (const auto& h : heads)
            for (std::size_t i : h) n = std::max(n, i + 1);
        return n;
    }

    /// Throws parse_error naming `source` and the key.
    static FusionCard from_json(const nlohmann::json& j, const std::string& source) {
        std::string key = "format";
        try {
            if (j.at("format") != "corespec.fusion") throw value_error("not a corespec.fusion document");
            key = "version";
            if (j.at("version") != 1) throw value_error("version " + j.at("version").dump() + " is not supported (this is 1)");
            FusionCard c;
            key = "strategy";
            c.strategy = strategy_from_string(j.at("strategy").get<std::string>());
            key = "modalities";
            c.modalities = modalities_from_json(j.at("modalities"), source);
            key = "targets";
            for (const auto& t : j.at("targets")) {
                const std::string kind = t.at("kind").get<std::string>();
                if (kind != "binary" && kind != "regression") throw value_error("target kind '" + kind + "'");
                c.targets.push_back({t.at("name").get<std::string>(), kind == "binary" ? TargetKind::binary : TargetKind::regression});
                c.target_mean.push_back(t.at("mean").get<double>());
                c.target_scale.push_back(t.at("scale").get<double>());
                c.noise_variance.push_back(t.at("noise_variance").get<double>());
                c.platt_a.push_back(t.at("platt_a").get<double>());
                c.platt_b.push_back(t.at("platt_b").get<double>());
                if (!(c.target_scale.back() > 0)) throw value_error("target '" + c.targets.back().name + "': scale must be > 0");
                c.constant.push_back(t.value("constant", false));  // optional: files written before it
            }
            if (c.targets.empty()) throw value_error("no targets");
            key = "heads";
            if (j.contains("heads")) {
                c.heads = j.at("heads").get<std::vector<std::vector<std::size_t>>>();
                if (c.heads.size() != c.targets.size()) throw value_error("one list of networks per target");
                for (const auto& h : c.heads)
                    if (h.empty()) throw value_error("a target without networks");
            }
            return c;
        } catch (const parse_error&) {
            throw;
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(source, "corespec.fusion." + key, e.what());
        } catch (const value_error& e) {
            throw parse_error(source, "corespec.fusion." + key, e.what());
        }
    }
};

/// Predictions for `rows` samples, per target t and row r: value[t][r] is
/// the regression estimate or the flag's calibrated probability; sd[t][r]
/// the regression standard deviation (NaN for flags).
struct Prediction {
    std::size_t rows = 0;
    std::vector<std::vector<double>> value, sd;
};

namespace detail {

/// The network input: features then presence bits, as float.
inline std::vector<float> network_input(const FeatureMatrix& x) {
    const std::size_t f = x.columns(), m = x.layout.modality_count(), w = f + m;
    std::vector<float> in(x.rows * w);
    for (std::size_t r = 0; r < x.rows; ++r) {
        bool any = false;
        for (std::size_t c = 0; c < f; ++c) in[r * w + c] = static_cast<float>(x.row(r)[c]);
        for (std::size_t k = 0; k < m; ++k) {
            in[r * w + f + k] = x.present[r * m + k] ? 1.0f : 0.0f;
            any = any || x.present[r * m + k];
        }
        if (!any) throw value_error("fusion: row " + std::to_string(r) + " has no modality present");
    }
    return in;
}

/// Modality dropout: each present modality of each row is zeroed (and its
/// presence bit cleared) with probability p; a row keeps at least one.
inline void drop_modalities(std::vector<float>& in, const FeatureLayout& layout, double p, synth::Random& rng) {
    const std::size_t f = layout.size(), m = layout.modality_count(), w = f + m, rows = in.size() / w;
    if (p <= 0) return;
    std::vector<std::size_t> drop;
    for (std::size_t r = 0; r < rows; ++r) {
        float* row = in.data() + r * w;
        drop.clear();
        std::size_t present = 0;
        for (std::size_t k = 0; k < m; ++k)
            if (row[f + k] != 0.0f) {
                ++present;
                if (rng.bernoulli(p)) drop.push_back(k);
            }
        if (drop.size() >= present) drop.erase(drop.begin() + static_cast<std::ptrdiff_t>(rng.index(drop.size())));
        for (std::size_t k : drop) {
            std::fill(row + layout[k].offset, row + layout[k].end(), 0.0f);
            row[f + k] = 0.0f;
        }
    }
}

/// Leaky ReLU (slope 0.1) after the encoders and trunk layers: with a plain
/// ReLU a modality's whole encoder can die early in training and never
/// recover (seen: one member of the synthetic multimodal ensemble whose
/// validation loss on frac_Mn stayed at the Ni-L-only level, 0.85 against
/// 0.02), which silently cuts that edge out of the model.
inline nn::Activation hidden_activation() { return nn::Activation::leaky_relu(0.1); }

inline nn::Sequential<float> build_network(const FusionCard& card, const FusionOptions& o) {
    nn::Sequential<float> net;
    const FeatureLayout layout = card.layout();
    std::size_t width = card.input_size();
    const std::size_t m = layout.modality_count();
    if (card.strategy == Strategy::late || card.strategy == Strategy::mean) {
        const bool mean = card.strategy == Strategy::mean;
        std::vector<nn::BlockDense<float>::Block> blocks;
        for (const ModalitySlot& s : layout) blocks.push_back({s.size(), o.encoder_width});
        // The presence bits: late learns a block of them; mean copies them
        // through, since the masked mean needs them as 0 / 1 (and the leaky
        // ReLU after leaves 0 and 1 unchanged).
        blocks.push_back({m, m, mean});
        net.emplace<nn::BlockDense<float>>(blocks);
        net.emplace<nn::ActivationLayer<float>>(detail::hidden_activation());
        width = o.encoder_width * m + m;
        if (mean) {
            net.emplace<nn::MaskedBlockMean<float>>(m, o.encoder_width);
            width = o.encoder_width + m;
        }
    }
    for (std::size_t i = 0; i < o.hidden_layers; ++i) {
        net.emplace<nn::Dense<float>>(width, o.hidden, detail::hidden_activation());
        width = o.hidden;
    }
    net.emplace<nn::Dense<float>>(width, card.targets.size());
    return net;
}

/// Mean validation loss of target t (column t of z and y, `nt` columns):
/// MSE of the scaled regression target, or BCE with logits for a flag (the
/// training loss's components, term by term).
inline double validation_loss(TargetKind kind, const std::vector<float>& z, const std::vector<float>& y, std::size_t t, std::size_t nt) {
    using Bce = nn::train::BceWithLogitsLoss<float>;
    using Mse = nn::train::MseLoss<float>;
    const Bce bce;
    const Mse mse;
    const std::size_t rows = y.size() / nt;
    double s = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        const double x = z[r * nt + t], v = y[r * nt + t];
        s += kind == TargetKind::binary ? Bce::term_value(x, v, bce) : Mse::term_value(x, v, mse);
    }
    return s / static_cast<double>(rows);
}

inline double sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

/// Platt scaling: (a, b), a >= 0, minimising the log loss of sigmoid(a z + b) on
/// labels y (0 or 1), with Platt's (1999) targets for small sets: a positive
/// counts as (N+ + 1) / (N+ + 2), a negative as 1 / (N- + 2), so a few
/// separable points cannot drive a to infinity (10 positives count as 11/12
/// each; 1000 as 0.999: the labels nearly as given).
/// Newton's method with a small ridge towards a = 1, b = 0.
inline std::pair<double, double> fit_platt(const std::vector<double>& z, const std::vector<double>& y) {
    double a = 1, b = 0;
    const double ridge = 1e-3;
    double positives = 0;
    for (double v : y) positives += v > 0.5;
    const double hi = (positives + 1) / (positives + 2), lo = 1 / (static_cast<double>(y.size()) - positives + 2);
    const auto softplus = [](double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); };
    const auto loss = [&](double a_, double b_) {  // the penalised log loss against the targets
        double l = 0.5 * ridge * ((a_ - 1) * (a_ - 1) + b_ * b_);
        for (std::size_t i = 0; i < z.size(); ++i) {
            const double x = a_ * z[i] + b_, t = y[i] > 0.5 ? hi : lo;
            l += t * softplus(-x) + (1 - t) * softplus(x);
        }
        return l;
    };
    for (int it = 0; it < 100; ++it) {
        double ga = ridge * (a - 1), gb = ridge * b, haa = ridge, hab = 0, hbb = ridge;
        for (std::size_t i = 0; i < z.size(); ++i) {
            const double p = sigmoid(a * z[i] + b), d = p - (y[i] > 0.5 ? hi : lo), w = p * (1 - p);
            ga += d * z[i], gb += d;
            haa += w * z[i] * z[i], hab += w * z[i], hbb += w;
        }
        const double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        // Backtracking: a full Newton step from a = 1 can overshoot without
        // bound when the logits rank the flag the wrong way (seen: a = 1.8e6).
        const double before = loss(a, b);
        double step = 1;
        while (step > 1e-6 && !(loss(a - step * da, b - step * db) <= before)) step /= 2;
        a -= step * da, b -= step * db;
        if (step * (std::abs(da) + std::abs(db)) < 1e-10) break;
    }
    // A calibration may not reverse the network's ranking: when the best
    // slope is negative (the validation logits rank the flag the wrong way,
    // i.e. the input does not tell it), the best slope >= 0 is 0, a constant
    // probability at the (target-smoothed) base rate.
    if (!(a >= 0)) {
        double mean = 0;
        for (double v : y) mean += v > 0.5 ? hi : lo;
        mean /= static_cast<double>(y.size());
        return {0.0, std::log(mean / (1 - mean))};
    }
    return {a, b};
}

}  // namespace detail

/// A trained ensemble and its card.
class FusionModel {
public:
    /// `networks`: one per ensemble member, or those the card's heads name.
    FusionModel(FusionCard card, std::vector<nn::Model<float>> networks) : card_(std::move(card)), members_(std::move(networks)) {
        if (members_.empty()) throw value_error("fusion::FusionModel: no members");
        if (card_.network_count(members_.size()) != members_.size())
            throw value_error("fusion::FusionModel: the card's heads name " + std::to_string(card_.network_count(members_.size())) +
                              " networks, " + std::to_string(members_.size()) + " given");
        for (const auto& m : members_)
            if (m.output_shape(nn::Shape{1, card_.input_size()}) != nn::Shape{1, card_.targets.size()})
                throw shape_error("fusion::FusionModel member output", {1, card_.targets.size()},
                                  m.output_shape(nn::Shape{1, card_.input_size()}).to_vector());
    }

    const FusionCard& card() const noexcept { return card_; }
    /// The networks whose output t is averaged (indices for network()).
    std::vector<std::size_t> head(std::size_t t) const { return card_.head(t, members_.size()); }
    std::size_t networks() const noexcept { return members_.size(); }
    const nn::Model<float>& network(std::size_t i) const { return members_.at(i); }

    /// Raw outputs of every network, [network][row * targets + t].
    std::vector<std::vector<float>> outputs(const FeatureMatrix& x) const {
        check_layout(x.layout);
        const std::vector<float> in = detail::network_input(x);
        std::vector<std::vector<float>> out;
        nn::Workspace<float> ws;
        for (const auto& m : members_) {
            std::vector<float> y(x.rows * card_.targets.size());
            m.forward(nn::ConstTensorView<float>(in.data(), nn::Shape{x.rows, card_.input_size()}),
                      nn::TensorView<float>(y.data(), nn::Shape{x.rows, card_.targets.size()}), ws);
            out.push_back(std::move(y));
        }
        return out;
    }

    /// Calibrated predictions (see the file comment). Throws value_error when
    /// the features were fused with other modalities or grids than the model's.
    Prediction predict(const FeatureMatrix& x) const { return combine(outputs(x), x.rows, card_); }

    /// Fuses each sample through the model's own modalities first.
    Prediction predict(const Dataset& d) const { return predict(d.features(card_.modalities)); }

    /// One sample's raw spectra by modality name (any non-empty subset).
    Prediction predict(const std::map<std::string, grid::Spectrum<double>>& spectra) const {
        const FusedFeatures f = fuse(card_.modalities, spectra);
        FeatureMatrix x;
        x.rows = 1;
        x.values = f.values;
        x.present = f.present;
        x.layout = f.layout;
        return predict(x);
    }

    /// Throws value_error unless `layout` is the model's (names, order, grids).
    void check_layout(const FeatureLayout& layout) const {
        const FeatureLayout mine = card_.layout();
        auto describe = [](const FeatureLayout& l) {
            std::string s;
            for (const ModalitySlot& m : l)
                s += (s.empty() ? "" : ", ") + m.name + " (" + std::to_string(m.size()) + " bins from " +
                     std::to_string(m.axis.energy(0)) + " eV)";
            return s.empty() ? std::string("nothing") : s;
        };
        bool same = layout.modality_count() == mine.modality_count();
        for (std::size_t k = 0; same && k < mine.modality_count(); ++k)
            same = layout[k].name == mine[k].name && layout[k].size() == mine[k].size() && layout[k].offset == mine[k].offset &&
                   std::abs(layout[k].axis.energy(0) - mine[k].axis.energy(0)) < 1e-9 &&
                   std::abs(layout[k].axis.energy(mine[k].size() - 1) - mine[k].axis.energy(mine[k].size() - 1)) < 1e-9;
        if (!same) throw value_error("fusion::FusionModel: the model expects " + describe(mine) + "; got " + describe(layout));
    }

    /// Writes `<stem>_<i>.safetensors` per network; returns the paths.
    std::vector<std::string> save(const std::string& stem) const {
        std::vector<std::string> paths;
        nlohmann::json doc = card_.to_json();
        for (std::size_t i = 0; i < members_.size(); ++i) {
            doc["member"] = i;
            doc["members"] = members_.size();
            nn::SaveOptions<float> so;
            so.input_shape = {card_.input_size()};
            so.description = "corespec fusion model (" + std::string(to_string(card_.strategy)) + "), network " +
                             std::to_string(i + 1) + " of " + std::to_string(members_.size());
            nn::SafeTensors st = nn::model_to_safetensors(members_[i], so);
            st.metadata[metadata_key] = doc.dump();
            paths.push_back(stem + "_" + std::to_string(i) + ".safetensors");
            st.write(paths.back());
        }
        return paths;
    }

    /// Reads the network files written by save (any order: each file knows
    /// its place). Throws parse_error for a file without "corespec.fusion"
    /// metadata, files whose cards differ, a place given twice or files
    /// missing; io_error, shape_error as nn::load_model.
    static FusionModel load(const std::vector<std::string>& paths) {
        if (paths.empty()) throw value_error("fusion::FusionModel::load: no files");
        std::vector<std::optional<nn::Model<float>>> slots(paths.size());
        nlohmann::json first;
        FusionCard card;
        for (const std::string& p : paths) {
            nn::ModelFile f = nn::read_model_file(p);
            const auto it = f.tensors.metadata.find(metadata_key);
            if (it == f.tensors.metadata.end())
                throw parse_error(p, "__metadata__", std::string("no \"") + metadata_key + "\" entry: not a corespec fusion model");
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(it->second);
            } catch (const nlohmann::json::exception& e) {
                throw parse_error(p, metadata_key, e.what());
            }
            if (doc.contains("members") && doc["members"] != paths.size())
                throw parse_error(p, metadata_key, "one of " + doc["members"].dump() + " network files, " + std::to_string(paths.size()) + " given");
            const nlohmann::json place = doc.contains("member") ? doc["member"] : nlohmann::json();
            if (!place.is_number_unsigned() || place.get<std::size_t>() >= slots.size() || slots[place.get<std::size_t>()])
                throw parse_error(p, metadata_key + std::string(".member"), "network " + place.dump() + ": not a place among " +
                                                                                std::to_string(paths.size()) + " files, or given twice");
            doc.erase("member");
            if (first.is_null()) {
                card = FusionCard::from_json(doc, p);
                first = doc;
            } else if (doc != first) {
                throw parse_error(p, metadata_key, "its card differs from " + paths[0] + "'s (not members of one ensemble)");
            }
            if (f.spec.input_shape != std::vector<std::size_t>{card.input_size()})
                throw parse_error(p, "input_shape", "the network does not take the " + std::to_string(card.input_size()) +
                                                        " inputs its card describes");
            slots[place.get<std::size_t>()].emplace(nn::build_model<float>(std::move(f.spec), f.tensors, f.source));
        }
        std::vector<nn::Model<float>> networks;
        for (auto& m : slots) networks.push_back(std::move(*m));
        return FusionModel(std::move(card), std::move(networks));
    }

    static constexpr const char* metadata_key = "corespec.fusion";

    /// Mean and spread of members' outputs turned into calibrated predictions.
    static Prediction combine(const std::vector<std::vector<float>>& out, std::size_t rows, const FusionCard& card) {
        const std::size_t nt = card.targets.size();
        Prediction p;
        p.rows = rows;
        p.value.assign(nt, std::vector<double>(rows));
        p.sd.assign(nt, std::vector<double>(rows, std::numeric_limits<double>::quiet_NaN()));
        for (std::size_t t = 0; t < nt; ++t) {
            const std::vector<std::size_t> head = card.head(t, out.size());
            const std::size_t nm = head.size();
            for (std::size_t r = 0; r < rows; ++r) {
                double mean = 0, sq = 0;
                for (std::size_t i : head) mean += out[i][r * nt + t];
                mean /= static_cast<double>(nm);
                for (std::size_t i : head) sq += (out[i][r * nt + t] - mean) * (out[i][r * nt + t] - mean);
                const double var = nm > 1 ? sq / static_cast<double>(nm - 1) : 0.0;
                if (card.is_constant(t)) {
                    p.value[t][r] = card.target_mean[t];
                    p.sd[t][r] = card.target_scale[t];
                } else if (card.targets[t].kind == TargetKind::binary) {
                    p.value[t][r] = detail::sigmoid(card.platt_a[t] * mean + card.platt_b[t]);
                } else {
                    const double s = card.target_scale[t];
                    p.value[t][r] = card.target_mean[t] + s * mean;
                    p.sd[t][r] = std::sqrt(s * s * var + card.noise_variance[t]);
                }
            }
        }
        return p;
    }

private:
    FusionCard card_;
    std::vector<nn::Model<float>> members_;
};
/// One model to train: its modalities and options (callbacks included).
struct FusionJob {
    std::vector<Modality> modalities;
    FusionOptions options;
};

namespace detail {

/// What every member of one job trains on: the card before calibration,
/// the network inputs and scaled targets of all the data, and the group
/// folds (member k validates on folds[k % folds.size()], trains on the rest).
struct PreparedJob {
    FusionCard card;
    FeatureMatrix x;
    std::vector<float> in, y;
    std::vector<Split> folds;
};

inline PreparedJob prepare_job(const Dataset& data, std::vector<Modality> modalities, const FusionOptions& o) {
    o.validate();
    if (data.targets().empty()) throw value_error("fusion::train: the dataset has no targets");
    const std::size_t k = std::max<std::size_t>(2, static_cast<std::size_t>(std::lround(1 / o.validation_fraction)));
    std::set<std::string> groups;
    for (const Sample& s : data.samples()) groups.insert(s.group);
    if (groups.size() < k)
        throw value_error("fusion::train: " + std::to_string(groups.size()) + " groups are too few for validation folds of " +
                          std::to_string(o.validation_fraction) + " (" + std::to_string(k) + " folds)");
    PreparedJob p{FusionCard{}, {}, {}, {}, group_kfold(data, k, o.seed)};
    // Unsupervised statistics and target scaling on all the training data
    // (every structure is trained on by some member).
    for (Modality& m : modalities)
        if (m.normalisation == Normalisation::standardise && m.mean.empty()) {
            std::vector<std::vector<double>> resampled;
            for (const Sample& s : data.samples()) {
                const auto it = s.spectra.find(m.name);
                if (it != s.spectra.end()) resampled.push_back(m.resample(m.preprocess(it->second)));
            }
            m.fit_standardisation(resampled);
        }
    FusionCard& card = p.card;
    card.modalities = std::move(modalities);
    card.targets = data.targets();
    card.strategy = o.strategy;
    const std::size_t nt = card.targets.size();
    for (std::size_t t = 0; t < nt; ++t) {
        double mean = 0, sq = 0;
        for (const Sample& s : data.samples()) mean += s.targets[t];
        mean /= static_cast<double>(data.size());
        for (const Sample& s : data.samples()) sq += (s.targets[t] - mean) * (s.targets[t] - mean);
        const double sd = std::sqrt(sq / static_cast<double>(data.size()));
        const bool binary = card.targets[t].kind == TargetKind::binary;
        card.target_mean.push_back(binary ? 0.0 : mean);
        card.target_scale.push_back(binary || !(sd > 0) ? 1.0 : sd);
        card.noise_variance.push_back(0.0);
        card.platt_a.push_back(1.0);
        card.platt_b.push_back(0.0);
    }
    p.x = data.features(card.modalities);
    p.in = network_input(p.x);
    p.y.resize(data.size() * nt);
    for (std::size_t r = 0; r < data.size(); ++r)
        for (std::size_t t = 0; t < nt; ++t) p.y[r * nt + t] = static_cast<float>((data[r].targets[t] - card.target_mean[t]) / card.target_scale[t]);
    return p;
}

/// Rows `rows` of a row-major matrix of width w.
inline std::vector<float> gather_rows(const std::vector<float>& m, std::size_t w, const std::vector<std::size_t>& rows) {
    std::vector<float> out(rows.size() * w);
    for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(m.begin() + static_cast<std::ptrdiff_t>(rows[i] * w), w, out.begin() + static_cast<std::ptrdiff_t>(i * w));
    return out;
}

/// One trained member: its networks (one, or one per distinct best epoch
/// with per-target selection), per target the network giving it and that
/// network's validation loss of the target, and per network its raw outputs
/// on the member's validation rows (out-of-member predictions, for calibration).
struct TrainedMember {
    std::vector<nn::Model<float>> networks;
    std::vector<std::size_t> net_of;
    std::vector<double> loss_of;
    std::vector<std::vector<float>> val_out;
};

/// Trains member k of a job on its folds. Everything it writes is its own
/// (network, optimiser, loss, workspace, random stream seeded by (o.seed,
/// k)), and the trainer runs on one thread, so the result does not depend on
/// which thread runs it or what runs beside it. The callbacks run under `lock`.
inline TrainedMember train_member(const PreparedJob& p, const FusionOptions& o, std::size_t k, std::mutex& lock) {
    const FusionCard& card = p.card;
    const Split& split = p.folds[k % p.folds.size()];
    const std::size_t nt = card.targets.size(), w = card.input_size(), nfit = split.train.size(), nval = split.test.size();
    const std::vector<float> in_fit = gather_rows(p.in, w, split.train), y_fit = gather_rows(p.y, nt, split.train),
                             in_val = gather_rows(p.in, w, split.test), y_val = gather_rows(p.y, nt, split.test);
    nn::train::WeightedSumLoss<float> loss;
    for (std::size_t t = 0; t < nt; ++t) {
        if (card.targets[t].kind == TargetKind::binary) loss.add(std::make_unique<nn::train::BceWithLogitsLoss<float>>(), 1.0, t, 1);
        else loss.add(std::make_unique<nn::train::MseLoss<float>>(), 1.0, t, 1);
    }
    const nn::ConstTensorView<float> yv(y_fit.data(), nn::Shape{nfit, nt}), xvv(in_val.data(), nn::Shape{nval, w}),
        yvv(y_val.data(), nn::Shape{nval, nt});
    TrainedMember m{{}, std::vector<std::size_t>(nt, 0), std::vector<double>(nt, 0.0), {}};
    nn::Workspace<float> ws;
    std::vector<float> z_val(nval * nt);
    std::vector<double> val_loss(nt);
    const std::uint64_t seed = synth::mix_seed(o.seed, 1000 + k);
    nn::Sequential<float> net = build_network(card, o);
    nn::train::init_default(net, seed);
    synth::Random rng(seed);  // modality dropout
    nn::train::Adam<float> adam(o.learning_rate, {0.9, 0.999, 1e-8, o.weight_decay}, true);
    nn::train::TrainOptions to;
    to.epochs = 1;
    to.batch_size = o.batch_size;
    to.threads = 1;  // one thread per member: a batch split over threads would sum its gradients in another order
    to.restore_best = false;
    to.silent();
    // The best total validation loss, and each target's own best (per-target selection).
    double best = std::numeric_limits<double>::infinity();
    std::vector<float> best_params = nn::train::get_parameters(net), x_epoch;
    std::vector<double> best_t(nt, std::numeric_limits<double>::infinity());
    std::vector<std::size_t> best_epoch_t(nt, 0);
    std::map<std::size_t, std::vector<float>> snapshots;  // epoch -> parameters, for the targets' best epochs
    std::size_t since_best = 0;
    const std::size_t batches = (nfit + o.batch_size - 1) / o.batch_size;
    const std::size_t min_epochs = (o.min_steps + batches - 1) / batches, epochs = std::max(o.epochs, min_epochs);
    for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
        x_epoch = in_fit;  // a fresh modality-dropout draw every epoch
        drop_modalities(x_epoch, p.x.layout, o.modality_dropout, rng);
        to.seed = synth::mix_seed(seed, epoch);
        nn::train::Trainer<float> trainer(net, loss, adam, to);
        const auto r = trainer.fit(nn::ConstTensorView<float>(x_epoch.data(), nn::Shape{nfit, w}), yv, {}, xvv, yvv);
        if (o.progress) {
            std::lock_guard<std::mutex> g(lock);
            o.progress(k, epoch, epochs);
        }
        bool improved = false;
        if (o.select_per_target || o.on_validation) {
            net.forward(xvv, nn::TensorView<float>(z_val.data(), nn::Shape{nval, nt}), ws);
            for (std::size_t t = 0; t < nt; ++t) val_loss[t] = validation_loss(card.targets[t].kind, z_val, y_val, t, nt);
            if (o.on_validation) {
                std::lock_guard<std::mutex> g(lock);
                o.on_validation(k, epoch, val_loss);
            }
        }
        if (o.select_per_target) {
            for (std::size_t t = 0; t < nt; ++t)
                if (val_loss[t] < best_t[t]) best_t[t] = val_loss[t], best_epoch_t[t] = epoch, improved = true;
            if (improved) {
                snapshots[epoch] = nn::train::get_parameters(net);
                for (auto it = snapshots.begin(); it != snapshots.end();)  // keep only epochs some target still uses
                    it = std::find(best_epoch_t.begin(), best_epoch_t.end(), it->first) == best_epoch_t.end() ? snapshots.erase(it) : ++it;
            }
        } else if (r.val_loss < best) {
            best = r.val_loss;
            best_params = nn::train::get_parameters(net);
            improved = true;
        }
        if (improved) since_best = 0;
        else if (o.patience && ++since_best >= o.patience && epoch + 1 >= min_epochs) break;
    }
    auto keep = [&](nn::Model<float> model) {
        m.val_out.emplace_back(nval * nt);
        model.forward(xvv, nn::TensorView<float>(m.val_out.back().data(), nn::Shape{nval, nt}), ws);
        m.networks.push_back(std::move(model));
    };
    if (!o.select_per_target) {
        nn::train::set_parameters(net, span<const float>(best_params));
        keep(nn::make_model(std::move(net), {w}));
        return m;
    }
    for (const auto& [epoch, params] : snapshots) {  // one network per distinct best epoch
        for (std::size_t t = 0; t < nt; ++t)
            if (best_epoch_t[t] == epoch) m.net_of[t] = m.networks.size(), m.loss_of[t] = best_t[t];
        nn::train::set_parameters(net, span<const float>(params));
        keep(nn::make_model(net, {w}));
    }
    return m;
}

/// The ensemble of a job from its trained members: member selection per
/// target, then calibration on the out-of-member predictions pooled over the
/// members (each member's outputs on its own validation fold: structures it
/// never trained on). 3 members on 5 folds calibrate on 60 % of the
/// structures instead of one shared 20 % split: three times the points,
/// which matters on small sets (21 validation structures per FEFF fold).
inline FusionModel finish_job(const Dataset& data, const PreparedJob& p, const FusionOptions& o, std::vector<TrainedMember> members) {
    FusionCard card = p.card;
    const std::size_t nt = card.targets.size(), nm = members.size();
    std::vector<nn::Model<float>> networks;
    std::vector<std::vector<std::size_t>> net_of(nm);
    for (std::size_t k = 0; k < nm; ++k) {
        net_of[k] = members[k].net_of;
        for (std::size_t& n : net_of[k]) n += networks.size();
        for (auto& n : members[k].networks) networks.push_back(std::move(n));
    }
    // Per target, the members whose networks are averaged.
    std::vector<std::vector<std::size_t>> used(nt);
    for (std::size_t t = 0; t < nt; ++t)
        for (std::size_t k = 0; k < nm; ++k) used[t].push_back(k);
    if (o.select_per_target) {
        // Member selection per target: a member whose validation loss is more than
        // `member_tolerance` times the best member's (stuck on a plateau, a poor
        // start) would drag the mean; the two best always stay (a spread).
        std::vector<std::size_t> renumber(networks.size(), networks.size());
        std::vector<nn::Model<float>> kept;
        card.heads.assign(nt, {});
        for (std::size_t t = 0; t < nt; ++t) {
            std::vector<std::size_t>& order = used[t];
            auto loss_of = [&](std::size_t k) { return members[k].loss_of[t]; };
            std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return loss_of(a) < loss_of(b); });
            std::size_t n_used = 0;
            for (; n_used < order.size(); ++n_used) {
                const std::size_t k = order[n_used];
                if (n_used >= 2 && !(loss_of(k) <= o.member_tolerance * loss_of(order[0]))) break;
                std::size_t& n = renumber[net_of[k][t]];
                if (n == networks.size()) n = kept.size(), kept.push_back(networks[net_of[k][t]]);
                card.heads[t].push_back(n);
            }
            order.resize(n_used);
            std::sort(card.heads[t].begin(), card.heads[t].end());
        }
        networks = std::move(kept);
    }
    FusionModel model(card, std::move(networks));

    // The ensemble's spread on every structure, for the noise term.
    const Prediction spread = FusionModel::combine(model.outputs(p.x), data.size(), card);
    card.constant.assign(nt, false);
    for (std::size_t t = 0; t < nt; ++t) {
        // Out-of-member points: (member k's output, structure r) for r in k's validation fold.
        std::vector<double> z, y;
        std::vector<bool> validated(data.size(), false);
        for (std::size_t k : used[t]) {
            const std::vector<std::size_t>& rows = p.folds[k % p.folds.size()].test;
            const std::vector<float>& out = members[k].val_out[members[k].net_of[t]];
            for (std::size_t i = 0; i < rows.size(); ++i) {
                z.push_back(out[i * nt + t]);
                y.push_back(data[rows[i]].targets[t]);
                validated[rows[i]] = true;
            }
        }
        // The ensemble variance a test point would see. Where one member is out of
        // sample and the others trained, the spread is mostly that member's error
        // (not the members' spread); where every member trained it is at most the
        // test-time spread, so it is used when such structures exist (the noise
        // term is then, if anything, too large: intervals too wide, not too narrow).
        double v = 0, nv = 0, v_all = 0;
        for (std::size_t r = 0; r < data.size(); ++r) {
            const double sd = std::isnan(spread.sd[t][r]) ? 0.0 : spread.sd[t][r];
            v_all += sd * sd / static_cast<double>(data.size());
            if (!validated[r]) v += sd * sd, ++nv;
        }
        v = nv > 0 ? v / nv : v_all;
        if (card.targets[t].kind == TargetKind::binary) {
            std::tie(card.platt_a[t], card.platt_b[t]) = fit_platt(z, y);
        } else {
            // One member's out-of-member error holds the ensemble mean's error plus
            // the member's own deviation from that mean (variance ~ the ensemble
            // variance v): E[e_k²] = E[e_mean²] + v (1 - 1/M) for M members averaged,
            // and the prediction's sd² is v + c, so c = mean(e_k²) - (2 - 1/M) v.
            const double mm = static_cast<double>(used[t].size()), s = card.target_scale[t];
            double sq = 0;
            std::vector<double> pred(z.size());
            for (std::size_t i = 0; i < z.size(); ++i) {
                pred[i] = card.target_mean[t] + s * z[i];
                sq += (y[i] - pred[i]) * (y[i] - pred[i]);
            }
            card.noise_variance[t] = std::max(0.0, sq / static_cast<double>(z.size()) - (2 - 1 / mm) * v);
            // Out-of-member R² <= 0: the inputs do not tell this target; say so and predict the training mean.
            card.constant[t] = o.constant_if_unpredictable && !(report::r2_score(y, pred) > 0);
        }
    }
    std::vector<nn::Model<float>> calibrated;
    for (std::size_t i = 0; i < model.networks(); ++i) calibrated.push_back(model.network(i));
    return FusionModel(std::move(card), std::move(calibrated));
}

inline std::size_t thread_count(std::size_t threads) {
    if (threads) return threads;
    const unsigned h = std::thread::hardware_concurrency();
    return h ? h : 1;
}

}  // namespace detail

/// Trains several models on the same data (e.g. one per input set), every
/// member of every job as one task on a pool of `threads` threads (0: the
/// hardware's), the largest inputs first; jobs' own `threads` are not used.
/// Each member trains on one thread with its own seed and state, so the
/// models are bit-identical whatever the thread count. The jobs' progress
/// and on_validation callbacks are called one at a time (under a lock), from
/// the thread that trains the member, so their order across members varies.
/// Throws as train() below; a failing member's error is rethrown (the first
/// in job and member order) after the running ones finish.
inline std::vector<FusionModel> train(const Dataset& data, const std::vector<FusionJob>& jobs, std::size_t threads) {
    std::vector<detail::PreparedJob> prepared;
    for (const FusionJob& j : jobs) prepared.push_back(detail::prepare_job(data, j.modalities, j.options));
    struct Task {
        std::size_t job, member;
    };
    std::vector<Task> tasks;
    for (std::size_t j = 0; j < jobs.size(); ++j)
        for (std::size_t k = 0; k < jobs[j].options.members; ++k) tasks.push_back({j, k});
    // Longest first (cost ~ input width), so that no large member starts last and runs alone.
    std::stable_sort(tasks.begin(), tasks.end(), [&](const Task& a, const Task& b) {
        return prepared[a.job].card.input_size() > prepared[b.job].card.input_size();
    });
    std::vector<std::vector<detail::TrainedMember>> members(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) members[j].resize(jobs[j].options.members);
    std::vector<std::exception_ptr> failed(tasks.size());
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::mutex lock;
    ThreadPool pool(std::min(detail::thread_count(threads), std::max<std::size_t>(tasks.size(), 1)));
    pool.run([&](std::size_t) {
        for (std::size_t i; !stop.load() && (i = next.fetch_add(1)) < tasks.size();) {
            try {
                const Task& t = tasks[i];
                members[t.job][t.member] = detail::train_member(prepared[t.job], jobs[t.job].options, t.member, lock);
            } catch (...) {
                failed[i] = std::current_exception();
                stop.store(true);
            }
        }
    });
    for (std::size_t j = 0; j < jobs.size(); ++j)  // the first failure in job and member order
        for (std::size_t i = 0; i < tasks.size(); ++i)
            if (failed[i] && tasks[i].job == j) std::rethrow_exception(failed[i]);
    std::vector<FusionModel> models;
    for (std::size_t j = 0; j < jobs.size(); ++j) models.push_back(detail::finish_job(data, prepared[j], jobs[j].options, std::move(members[j])));
    return models;
}

/// Trains an ensemble on `data` with the given modalities (standardisation
/// statistics, when asked for and not given, are fitted on `data`), its
/// members concurrently on `o.threads` threads (the same model whatever the
/// count). Member k holds out group fold k of `data` for early stopping;
/// the folds' out-of-member predictions calibrate the ensemble. Throws
/// value_error for bad options or data, nn::train::training_error when
/// training diverges.
inline FusionModel train(const Dataset& data, std::vector<Modality> modalities, const FusionOptions& o) {
    return std::move(train(data, {FusionJob{std::move(modalities), o}}, o.threads).front());
}

}  // namespace corespec::fusion
