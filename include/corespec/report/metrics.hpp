// corespec/report/metrics.hpp - the scores a report prints: R² and MAE for
// regression targets; accuracy, F1, ROC-AUC and the expected calibration
// error for binary flags; the coverage of predicted intervals.
//
//   double r2 = report::r2_score(truth, pred);
//   double auc = report::roc_auc(labels, scores);     // labels 0 / 1
//   double cov = report::interval_coverage(truth, pred, sd, 0.68);
//
// Definitions follow scikit-learn 1.2 (tested against its numbers in
// tests/data/report/sklearn_metrics.json): r2_score, mean_absolute_error,
// accuracy_score, f1_score (pos_label 1, 0 when undefined), roc_auc_score
// (tied scores count one half, as its trapezoidal curve does), roc_curve,
// confusion_matrix and calibration_curve (uniform bins) for the ECE.
// Labels are doubles holding 0 or 1 (the form of fusion::Dataset targets).
// Every function throws shape_error when sizes differ, value_error for empty
// input, non-finite values or labels other than 0 / 1.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include "corespec/core/error.hpp"

namespace corespec::report {

namespace detail {

inline void require_same_size(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
    if (a.size() != b.size()) throw shape_error(std::string("report::") + what, {a.size()}, {b.size()});
    if (a.empty()) throw value_error(std::string("report::") + what + ": no values");
}

inline void require_finite(const std::vector<double>& v, const char* what, const char* name) {
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
            throw value_error(std::string("report::") + what + ": " + name + "[" + std::to_string(i) + "] is not finite");
}

inline void require_binary(const std::vector<double>& labels, const char* what) {
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] != 0.0 && labels[i] != 1.0)
            throw value_error(std::string("report::") + what + ": label[" + std::to_string(i) + "] = " +
                              std::to_string(labels[i]) + " is not 0 or 1");
}

}  // namespace detail

/// Coefficient of determination 1 - SS_res / SS_tot (sklearn r2_score: a
/// constant truth gives 1 when predicted exactly, else 0).
inline double r2_score(const std::vector<double>& truth, const std::vector<double>& pred) {
    detail::require_same_size(truth, pred, "r2_score");
    detail::require_finite(truth, "r2_score", "truth");
    detail::require_finite(pred, "r2_score", "pred");
    const double mean = std::accumulate(truth.begin(), truth.end(), 0.0) / static_cast<double>(truth.size());
    double ss_res = 0.0, ss_tot = 0.0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        ss_res += (truth[i] - pred[i]) * (truth[i] - pred[i]);
        ss_tot += (truth[i] - mean) * (truth[i] - mean);
    }
    if (!(ss_tot > 0.0)) return ss_res == 0.0 ? 1.0 : 0.0;
    return 1.0 - ss_res / ss_tot;
}

/// Mean absolute error.
inline double mean_absolute_error(const std::vector<double>& truth, const std::vector<double>& pred) {
    detail::require_same_size(truth, pred, "mean_absolute_error");
    detail::require_finite(truth, "mean_absolute_error", "truth");
    detail::require_finite(pred, "mean_absolute_error", "pred");
    double s = 0.0;
    for (std::size_t i = 0; i < truth.size(); ++i) s += std::abs(truth[i] - pred[i]);
    return s / static_cast<double>(truth.size());
}

/// Hard 0 / 1 decisions: probability >= threshold.
inline std::vector<double> threshold_labels(const std::vector<double>& probability, double threshold = 0.5) {
    detail::require_finite(probability, "threshold_labels", "probability");
    std::vector<double> out(probability.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = probability[i] >= threshold ? 1.0 : 0.0;
    return out;
}

/// Fraction of equal labels (any class values).
inline double accuracy(const std::vector<double>& labels, const std::vector<double>& predicted) {
    detail::require_same_size(labels, predicted, "accuracy");
    std::size_t hit = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) hit += labels[i] == predicted[i];
    return static_cast<double>(hit) / static_cast<double>(labels.size());
}

/// F1 of the positive class (1): 2 TP / (2 TP + FP + FN); 0 when there is
/// no positive label and no positive prediction (sklearn's zero_division).
inline double f1_score(const std::vector<double>& labels, const std::vector<double>& predicted) {
    detail::require_same_size(labels, predicted, "f1_score");
    detail::require_binary(labels, "f1_score");
    detail::require_binary(predicted, "f1_score");
    std::size_t tp = 0, fp = 0, fn = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        tp += labels[i] == 1.0 && predicted[i] == 1.0;
        fp += labels[i] == 0.0 && predicted[i] == 1.0;
        fn += labels[i] == 1.0 && predicted[i] == 0.0;
    }
    const std::size_t den = 2 * tp + fp + fn;
    return den ? 2.0 * static_cast<double>(tp) / static_cast<double>(den) : 0.0;
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half (the Mann-Whitney U with
/// average ranks; equal to sklearn's trapezoidal roc_auc_score). Throws
/// value_error when only one class is present (the AUC is undefined).
inline double roc_auc(const std::vector<double>& labels, const std::vector<double>& scores) {
    detail::require_same_size(labels, scores, "roc_auc");
    detail::require_binary(labels, "roc_auc");
    detail::require_finite(scores, "roc_auc", "scores");
    const std::size_t n = labels.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    double rank_sum = 0.0;  // of the positives, ranks 1..n, ties averaged
    std::size_t positives = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && scores[order[j]] == scores[order[i]]) ++j;
        const double rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1 .. j
        for (std::size_t k = i; k < j; ++k)
            if (labels[order[k]] == 1.0) rank_sum += rank, ++positives;
        i = j;
    }
    const std::size_t negatives = n - positives;
    if (positives == 0 || negatives == 0)
        throw value_error("report::roc_auc: only one class present (" + std::to_string(positives) + " positive, " +
                          std::to_string(negatives) + " negative): the AUC is undefined");
    const double p = static_cast<double>(positives);
    return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

/// The ROC curve: one point per distinct score (thresholds descending),
/// starting at (0, 0) and ending at (1, 1), as sklearn roc_curve with
/// drop_intermediate = false. Throws as roc_auc.
struct RocCurve {
    std::vector<double> fpr, tpr, thresholds;
};

inline RocCurve roc_curve(const std::vector<double>& labels, const std::vector<double>& scores) {
    roc_auc(labels, scores);  // the same checks
    const std::size_t n = labels.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    const double positives = std::count(labels.begin(), labels.end(), 1.0);
    const double negatives = static_cast<double>(n) - positives;
    RocCurve c;
    c.fpr.push_back(0.0), c.tpr.push_back(0.0), c.thresholds.push_back(HUGE_VAL);
    double tp = 0, fp = 0;
    for (std::size_t i = 0; i < n; ++i) {
        (labels[order[i]] == 1.0 ? tp : fp) += 1;
        if (i + 1 < n && scores[order[i + 1]] == scores[order[i]]) continue;
        c.fpr.push_back(fp / negatives), c.tpr.push_back(tp / positives), c.thresholds.push_back(scores[order[i]]);
    }
    return c;
}

/// Confusion counts: classes ascending (those present in either vector),
/// counts[t][p] = samples of true class classes[t] predicted as classes[p].
struct Confusion {
    std::vector<double> classes;
    std::vector<std::vector<std::size_t>> counts;
};

inline Confusion confusion_matrix(const std::vector<double>& labels, const std::vector<double>& predicted) {
    detail::require_same_size(labels, predicted, "confusion_matrix");
    detail::require_finite(labels, "confusion_matrix", "labels");
    detail::require_finite(predicted, "confusion_matrix", "predicted");
    Confusion c;
    c.classes = labels;
    c.classes.insert(c.classes.end(), predicted.begin(), predicted.end());
    std::sort(c.classes.begin(), c.classes.end());
    c.classes.erase(std::unique(c.classes.begin(), c.classes.end()), c.classes.end());
    const auto index = [&](double v) {
        return static_cast<std::size_t>(std::lower_bound(c.classes.begin(), c.classes.end(), v) - c.classes.begin());
    };
    c.counts.assign(c.classes.size(), std::vector<std::size_t>(c.classes.size(), 0));
    for (std::size_t i = 0; i < labels.size(); ++i) ++c.counts[index(labels[i])][index(predicted[i])];
    return c;
}

/// Expected calibration error of binary probabilities over `bins` equal bins
/// of [0, 1]: sum over bins of (share of samples) x |fraction positive - mean
/// probability|. Bins as sklearn calibration_curve(strategy = "uniform"):
/// (lo, hi], the first one [0, hi]. Throws value_error for probabilities
/// outside [0, 1] or bins < 1.
inline double expected_calibration_error(const std::vector<double>& labels, const std::vector<double>& probability,
                                         std::size_t bins = 10) {
    detail::require_same_size(labels, probability, "expected_calibration_error");
    detail::require_binary(labels, "expected_calibration_error");
    detail::require_finite(probability, "expected_calibration_error", "probability");
    if (bins < 1) throw value_error("report::expected_calibration_error: need at least one bin");
    std::vector<double> count(bins, 0.0), positive(bins, 0.0), prob_sum(bins, 0.0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const double p = probability[i];
        if (p < 0.0 || p > 1.0)
            throw value_error("report::expected_calibration_error: probability[" + std::to_string(i) + "] = " +
                              std::to_string(p) + " is outside [0, 1]");
        std::size_t b = 0;  // the number of inner edges k / bins strictly below p
        while (b + 1 < bins && static_cast<double>(b + 1) / static_cast<double>(bins) < p) ++b;
        count[b] += 1, positive[b] += labels[i], prob_sum[b] += p;
    }
    double ece = 0.0;
    for (std::size_t b = 0; b < bins; ++b)
        if (count[b] > 0) ece += count[b] / static_cast<double>(labels.size()) * std::abs(positive[b] / count[b] - prob_sum[b] / count[b]);
    return ece;
}

/// z such that a normal variable lies within +-z sd with probability
/// `level` (e.g. 0.6827 -> 1.0, 0.95 -> 1.96); bisection on erf to 1e-12.
/// Throws value_error unless 0 < level < 1.
inline double normal_interval_halfwidth(double level) {
    if (!(level > 0.0 && level < 1.0)) throw value_error("report::normal_interval_halfwidth: level must be in (0, 1)");
    double lo = 0.0, hi = 40.0;
    for (int k = 0; k < 200 && hi - lo > 1e-13; ++k) {
        const double mid = 0.5 * (lo + hi);
        (std::erf(mid / std::sqrt(2.0)) < level ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

/// Fraction of samples whose truth lies in pred +- z sd, z the normal
/// half-width for `level` (the coverage of the central `level` interval; a
/// calibrated model covers about `level`). sd must be finite and >= 0.
inline double interval_coverage(const std::vector<double>& truth, const std::vector<double>& pred,
                                const std::vector<double>& sd, double level) {
    detail::require_same_size(truth, pred, "interval_coverage");
    detail::require_same_size(truth, sd, "interval_coverage");
    detail::require_finite(truth, "interval_coverage", "truth");
    detail::require_finite(pred, "interval_coverage", "pred");
    detail::require_finite(sd, "interval_coverage", "sd");
    const double z = normal_interval_halfwidth(level);
    std::size_t inside = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        if (sd[i] < 0.0) throw value_error("report::interval_coverage: sd[" + std::to_string(i) + "] is negative");
        inside += std::abs(truth[i] - pred[i]) <= z * sd[i];
    }
    return static_cast<double>(inside) / static_cast<double>(truth.size());
}

}  // namespace corespec::report
