"""Writes sklearn_metrics.json: inputs and scikit-learn's scores for
tests/unit/test_report.cpp. Run with Debian's interpreter:
    /usr/bin/python3 tests/data/report/make_sklearn_metrics.py
"""
import json
import os

import numpy as np
import sklearn
from scipy.stats import norm
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, mean_absolute_error, r2_score,
                             roc_auc_score, roc_curve)

rng = np.random.default_rng(13)
cases = []
for n, ties in [(40, False), (57, True), (200, True)]:
    truth = rng.uniform(0, 1, n)
    pred = truth + rng.normal(0, 0.15, n)
    sd = np.abs(rng.normal(0.15, 0.05, n))
    labels = (rng.uniform(0, 1, n) < 0.4).astype(float)
    prob = np.clip(0.3 * labels + rng.uniform(0, 0.7, n), 0, 1)
    if ties:
        prob = np.round(prob, 1)  # many tied scores, some exactly on bin edges
    hard = (prob >= 0.5).astype(float)
    classes = rng.integers(0, 3, n).astype(float)
    classes_pred = np.where(rng.uniform(0, 1, n) < 0.6, classes, rng.integers(0, 3, n)).astype(float)
    prob_true, prob_pred = calibration_curve(labels, prob, n_bins=10, strategy="uniform")
    bins = np.linspace(0.0, 1.0, 11)
    binids = np.searchsorted(bins[1:-1], prob)
    counts = np.bincount(binids, minlength=10)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / n * np.abs(prob_true - prob_pred)))
    fpr, tpr, thr = roc_curve(labels, prob, drop_intermediate=False)
    cov = {}
    for level in (0.68, 0.95):
        z = norm.ppf(0.5 + level / 2)
        cov[str(level)] = float(np.mean(np.abs(truth - pred) <= z * sd))
    cases.append({
        "truth": truth.tolist(), "pred": pred.tolist(), "sd": sd.tolist(), "labels": labels.tolist(),
        "prob": prob.tolist(), "classes": classes.tolist(), "classes_pred": classes_pred.tolist(),
        "r2": r2_score(truth, pred), "mae": mean_absolute_error(truth, pred),
        "accuracy": accuracy_score(labels, hard), "f1": f1_score(labels, hard),
        "roc_auc": roc_auc_score(labels, prob), "ece": ece,
        "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
        "confusion": confusion_matrix(classes, classes_pred).tolist(),
        "accuracy_classes": accuracy_score(classes, classes_pred),
        "coverage": cov, "z68": float(norm.ppf(0.84)), "z95": float(norm.ppf(0.975)),
    })
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sklearn_metrics.json")
with open(out, "w") as f:
    json.dump({"generator": "tests/data/report/make_sklearn_metrics.py", "sklearn": sklearn.__version__,
               "numpy": np.__version__, "cases": cases}, f, indent=None)
    f.write("\n")
print(out)
