#!/usr/bin/python3
"""scikit-learn baseline on corespec's fused NMC features.

Reads DIR/features.csv and DIR/modalities.json written by
build/examples/nmc_features (so both sides see exactly the same features:
each edge on its grid, min-max normalised, concatenated), and for every input
set (each single modality, then all of them: "multimodal") runs group-aware
cross-validation and prints, per input set, R^2 and MAE for each regression
target and accuracy, F1 and ROC-AUC for each binary flag.

    build/examples/nmc_features --out /tmp/feff --manifest ../shared/data/sim/feff_nmc/manifest.csv
    /usr/bin/python3 tools/sklearn_baseline.py /tmp/feff [--model linear|forest] [--folds 5] [--csv metrics.csv]
        [--sets O_K,Ni_L23]   (only these single edges, then multimodal: the slow linear runs on a large set)

Models: "linear" = standardised features, RidgeCV (alpha chosen by efficient
leave-one-out among 1e-3..1e3) per regression target, LogisticRegressionCV
(C among 1e-3..1e2, inner 3-fold, ROC-AUC) per flag; "forest" = extra trees
(300 trees, balanced classes for the flags). Metrics are computed on the
pooled out-of-fold predictions of GroupKFold over the group_id column
(groups shuffled with --seed first). Needs Debian's python3-sklearn.
"""
import argparse
import csv
import json
import sys

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load(folder):
    with open(f"{folder}/features.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    first_feature = next(i for i, name in enumerate(header) if "@" in name)
    target_names = header[2:first_feature]
    groups = np.array([r[1] for r in rows])
    targets = np.array([[float(v) for v in r[2:first_feature]] for r in rows])
    x = np.array([[float(v) for v in r[first_feature:]] for r in rows])
    feature_modality = np.array([name.split("@")[0] for name in header[first_feature:]])
    with open(f"{folder}/modalities.json") as f:
        modalities = [m["name"] for m in json.load(f)["modalities"]]
    return x, feature_modality, modalities, target_names, targets, groups


def regressor(kind, seed):
    if kind == "forest":
        return ExtraTreesRegressor(n_estimators=300, random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))


def classifier(kind, seed):
    if kind == "forest":
        return ExtraTreesClassifier(n_estimators=300, class_weight="balanced", random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=np.logspace(-3, 2, 6), cv=3, scoring="roc_auc",
                                                                max_iter=5000, class_weight="balanced"))


def evaluate(x, targets, target_names, binary, groups, folds, kind, seed):
    """Out-of-fold predictions for every target, then the metrics."""
    oof = np.zeros_like(targets)
    for train, test in folds:
        for t, name in enumerate(target_names):
            if binary[t]:
                model = classifier(kind, seed).fit(x[train], targets[train, t].astype(int))
                oof[test, t] = model.predict_proba(x[test])[:, 1]
            else:
                model = regressor(kind, seed).fit(x[train], targets[train, t])
                oof[test, t] = model.predict(x[test])
    metrics = []
    for t, name in enumerate(target_names):
        y = targets[:, t]
        if binary[t]:
            label = (oof[:, t] >= 0.5).astype(int)
            metrics += [(name, "accuracy", accuracy_score(y, label)), (name, "F1", f1_score(y, label, zero_division=0)),
                        (name, "ROC-AUC", roc_auc_score(y, oof[:, t]))]
        else:
            metrics += [(name, "R2", r2_score(y, oof[:, t])), (name, "MAE", mean_absolute_error(y, oof[:, t]))]
    return metrics


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="output folder of nmc_features (features.csv, modalities.json)")
    p.add_argument("--model", choices=["linear", "forest"], default="linear")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--csv", help="also write the metrics as input_set,target,metric,value")
    p.add_argument("--sets", help="comma-separated input sets to run (modality names; multimodal always runs last)")
    a = p.parse_args()

    x, feature_modality, modalities, target_names, targets, groups = load(a.folder)
    binary = [set(np.unique(targets[:, t])) <= {0.0, 1.0} and name.endswith("_present")
              for t, name in enumerate(target_names)]
    # GroupKFold is deterministic; shuffle the group labels' order with the seed first.
    unique = np.unique(groups)
    rank = dict(zip(unique, np.random.default_rng(a.seed).permutation(len(unique))))
    folds = list(GroupKFold(n_splits=a.folds).split(x, groups=np.array([rank[g] for g in groups])))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test]), "group leakage"

    if a.sets:
        unknown = set(a.sets.split(",")) - set(modalities) - {"multimodal"}
        if unknown:
            sys.exit(f"--sets: unknown input set(s) {', '.join(sorted(unknown))} (modalities: {', '.join(modalities)})")
    chosen = [m for m in modalities if not a.sets or m in a.sets.split(",")]
    input_sets = [(m, feature_modality == m) for m in chosen] + [("multimodal", np.ones(x.shape[1], bool))]
    results = {}
    for name, columns in input_sets:
        results[name] = evaluate(x[:, columns], targets, target_names, binary, groups, folds, a.model, a.seed)
        print(f"# {name}: done", file=sys.stderr, flush=True)

    columns = [(t, m) for t, m, _ in results["multimodal"]]
    print(f"{x.shape[0]} samples, {len(unique)} groups, {a.folds}-fold GroupKFold, model {a.model}\n")
    print("| input set | " + " | ".join(f"{t} {m}" for t, m in columns) + " |")
    print("| --- " * (len(columns) + 1) + "|")
    for name, _ in input_sets:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for _, _, v in results[name]) + " |")
    print()
    for i, (t, m) in enumerate(columns):
        if m not in ("R2", "ROC-AUC"):
            continue
        best_single = max(((results[n][i][2], n) for n, _ in input_sets[:-1]))
        multi = results["multimodal"][i][2]
        verdict = "beats" if multi > best_single[0] else "does not beat"
        print(f"{t} {m}: multimodal {multi:.3f} {verdict} the best single edge ({best_single[1]} {best_single[0]:.3f})")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["input_set", "target", "metric", "value"])
            for name, _ in input_sets:
                for t, m, v in results[name]:
                    w.writerow([name, t, m, f"{v:.6g}"])


if __name__ == "__main__":
    main()
