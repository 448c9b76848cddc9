"""Fit and cross-validate the density suggestion (``hds_core.density``), per dataset.

    python -m hds_core.train.density_fit --dataset minimias:PATH --dataset folder:PATH=digital \\
        --out resources/weights/density.json

Each dataset is cross-validated on its own (5 folds by patient; its own scale: mini-MIAS F/G/D,
ACR A-D elsewhere): accuracy, quadratic weighted kappa and the confusion matrix, out of fold.
The shipped model of a domain is fitted on every labelled image of that domain's dataset."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from ..density import SCALES, OrdinalModel
from ..infer.calibration import newton_logistic
from ..io.appearance import DENSITY_FEATURES
from .domain_fit import dataset_and_domain, measured, write_report

RIDGE = 1.0
_CBIS = {"1": "A", "2": "B", "3": "C", "4": "D"}


def density_label(case) -> str | None:
    """The case's density on its dataset's scale, or None when it has none."""
    extra = case.extra or {}
    if extra.get("background") in ("F", "G", "D"):
        return extra["background"]
    value = extra.get("density") or (extra.get("annotations") or {}).get("acr_density") or ""
    value = _CBIS.get(str(value).strip(), str(value).strip().upper())
    return value if value in ("A", "B", "C", "D") else None


def fit_ordinal(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> OrdinalModel:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    steps = []
    for k in range(1, len(classes)):
        theta = newton_logistic(z, (y >= k).astype(float), ridge=RIDGE)
        steps.append((tuple(theta[:-1].tolist()), float(theta[-1])))
    return OrdinalModel(classes, tuple(mean.tolist()), tuple(scale.tolist()), tuple(steps))


def weighted_kappa(truth: list[int], predicted: list[int], k: int) -> float:
    """Cohen's kappa with quadratic weights."""
    observed = np.zeros((k, k))
    for t, p in zip(truth, predicted):
        observed[t, p] += 1
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / max((k - 1) ** 2, 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / max(observed.sum(), 1)
    denominator = (weights * expected).sum()
    return float(1 - (weights * observed).sum() / denominator) if denominator else float("nan")


def cross_validate(x, y, patients, classes, folds=5, seed=0) -> dict:
    unique = sorted(set(patients))
    random.Random(seed).shuffle(unique)
    fold_of = {p: i % folds for i, p in enumerate(unique)}
    fold = np.array([fold_of[p] for p in patients])
    predicted = np.zeros(len(y), dtype=int)
    for k in range(folds):
        model = fit_ordinal(x[fold != k], y[fold != k], classes)
        predicted[fold == k] = [model.predict(tuple(row))[0] for row in x[fold == k]]
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(y, predicted):
        confusion[t, p] += 1
    return {
        "images": int(len(y)),
        "classes": list(classes),
        "accuracy": round(float((predicted == y).mean()), 4),
        "weighted_kappa": round(weighted_kappa(list(y), list(predicted), len(classes)), 4),
        "confusion": {"rows": "truth", "columns": "suggested", "matrix": confusion.tolist()},
        "majority_class_accuracy": round(float(np.bincount(y).max() / len(y)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.density_fit", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", required=True, metavar="KIND:PATH[=film|digital]")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    from ..data import load_dataset

    started = time.monotonic()
    report, models = {}, {}
    for text in args.dataset:
        spec, domain = dataset_and_domain(text)
        if domain not in SCALES:
            p.error(f"{spec}: say its domain (=film or =digital)")
        classes = tuple(code for code, _ in SCALES[domain])
        rows, labels, patients = [], [], []
        cases = [c for c in load_dataset(spec) if density_label(c) in classes]
        for case, appearance in measured(spec, cases):
            rows.append(appearance.density)
            labels.append(classes.index(density_label(case)))
            patients.append(case.patient_id)
        x, y = np.array(rows), np.array(labels)
        report[spec] = {"domain": domain, **cross_validate(x, y, patients, classes)}
        if domain in models:
            p.error(f"two datasets of the {domain} domain: fit one per domain")
        models[domain] = fit_ordinal(x, y, classes).to_dict()
    document = {"features": list(DENSITY_FEATURES), "models": models, "cross_validation": report}
    write_report(args.out, "density_fit", args.dataset, started, document)
    print(json.dumps({k: {m: v[m] for m in ("images", "accuracy", "weighted_kappa")} for k, v in report.items()}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
