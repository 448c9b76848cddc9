"""Fit and cross-validate the film / digital classifier of ``hds_core.io.appearance``.

    python -m hds_core.train.domain_fit --dataset minimias:PATH --dataset folder:PATH=digital \\
        --out resources/weights/domain_classifier.json

Each dataset's domain comes from its kind (mini-MIAS is film) or from ``=film`` / ``=digital``.
Folds are drawn by patient over all datasets together; the accuracy is reported per dataset
(out of fold) and never pooled alone: with one dataset per domain a classifier may learn the
dataset rather than the domain, which only a third dataset can tell apart. The ranges of the
no-breast figures over every image are printed and kept, so the limits in ``appearance.py``
can be checked against them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..infer.calibration import newton_logistic
from ..io.appearance import FEATURES, DomainClassifier, measure, no_breast

# A ridge on the standardised figures: with two datasets nearly separable, an unpenalised fit
# puts huge weights on whichever figure splits these two collections best.
RIDGE = 1.0


# The shipped weights' working spacing: the figures are measured at their network's level (or
# coarser), as DomainModels measures them.
WORKING_SPACING_MM = 0.8


def case_appearance(case, working_spacing_mm: float = WORKING_SPACING_MM):
    """A training case's figures, measured as the Predictor measures an image: at the network's
    level for its spacing (the dataset's where the file has none), or coarser."""
    from ..network_input import NetworkInput

    image = case.load()
    spacing = case.spacing(image) or image.metadata.spacing_for_network
    return measure(image, NetworkInput(working_spacing_mm).level(spacing))


def dataset_and_domain(text: str) -> tuple[str, str | None]:
    """``KIND:PATH[=film|digital]`` -> (KIND:PATH, its domain: given, else its kind's, else None)."""
    from ..data import dataset_domain

    spec, _, given = text.partition("=")
    return spec, given or dataset_domain(spec)


def measured(spec: str, cases: list):
    """(case, its appearance) for each case, as the Predictor measures it, saying every 50."""
    for i, case in enumerate(cases, 1):
        yield case, case_appearance(case)
        if i % 50 == 0 or i == len(cases):
            print(f"{spec}: {i}/{len(cases)} images measured", file=sys.stderr, flush=True)


def write_report(out: Path, module: str, datasets: list[str], started: float, document: dict) -> None:
    """The fit's JSON with the command that made it and its time."""
    document["command"] = f"python -m hds_core.train.{module} " + " ".join(f"--dataset {d}" for d in datasets)
    document["seconds"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n")


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit(x: np.ndarray, y: np.ndarray) -> dict:
    mean, scale = _standardise(x)
    theta = newton_logistic((x - mean) / scale, y, ridge=RIDGE)
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "weights": theta[:-1].tolist(),
        "intercept": float(theta[-1]),
    }


def _classifier(params: dict) -> DomainClassifier:
    return DomainClassifier(
        tuple(params["mean"]), tuple(params["scale"]), tuple(params["weights"]), params["intercept"], {}
    )


def cross_validate(x: np.ndarray, y: np.ndarray, groups: list[str], folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold film probabilities, patients never split across folds."""
    from ..io.appearance import Appearance

    patients = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(patients))
    fold_of = {patients[i]: k % folds for k, i in enumerate(order)}
    fold = np.array([fold_of[g] for g in groups])
    out = np.zeros(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        model = _classifier(fit(x[train], y[train]))
        out[test] = [model.film_probability(Appearance(tuple(row))) for row in x[test]]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.domain_fit", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", required=True, metavar="KIND:PATH[=film|digital]")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--features", type=Path, help="also save the measured figures here (.npz)")
    args = p.parse_args(argv)
    from ..data import load_dataset

    rows, labels, groups, names = [], [], [], []
    started = time.monotonic()
    for text in args.dataset:
        spec, domain = dataset_and_domain(text)
        if domain not in ("film", "digital"):
            p.error(f"{spec}: say its domain (=film or =digital)")
        for case, appearance in measured(spec, load_dataset(spec)):
            rows.append(appearance.values)
            labels.append(1.0 if domain == "film" else 0.0)
            groups.append(f"{spec}|{case.patient_id}")
            names.append(spec)
    x, y = np.array(rows), np.array(labels)
    if args.features:
        np.savez(args.features, x=x, y=y, groups=np.array(groups), names=np.array(names))
    oof = cross_validate(x, y, groups, args.folds)
    per_dataset = {}
    for spec in dict.fromkeys(names):
        chosen = np.array([n == spec for n in names])
        correct = (oof[chosen] >= 0.5) == (y[chosen] == 1)
        per_dataset[spec] = {
            "images": int(chosen.sum()),
            "domain": "film" if y[chosen][0] else "digital",
            "accuracy_out_of_fold": round(float(correct.mean()), 4),
            "misread": int((~correct).sum()),
        }
    model = fit(x, y)
    ranges = {name: [round(float(x[:, i].min()), 4), round(float(x[:, i].max()), 4)] for i, name in enumerate(FEATURES)}
    refused = [f"{names[i]}: row {i}" for i, row in enumerate(x) if no_breast(_appearance(row))]
    report = {
        "features": list(FEATURES),
        **model,
        "cross_validation": {"folds": args.folds, "by": "patient", "per_dataset": per_dataset},
        "ranges": ranges,
        "refused_as_no_breast": refused,
    }
    write_report(args.out, "domain_fit", args.dataset, started, report)
    print(json.dumps({"per_dataset": per_dataset, "refused_as_no_breast": len(refused)}, indent=1))
    print(f"wrote {args.out}")
    return 0


def _appearance(row):
    from ..io.appearance import Appearance

    return Appearance(tuple(float(v) for v in row))


if __name__ == "__main__":
    sys.exit(main())
