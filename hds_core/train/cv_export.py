"""What the shipped weights take from a cross-validation (``hds-train --cv K``): every choice
is made on out-of-fold predictions of all K folds, never on one fold.

- the image score (MIL head or map maximum): higher out-of-fold AUC on the datasets that
  hold both normal and mass images (a dataset without normals has no AUC);
- the calibration of the single-image score and the two-breast combination (bilateral.py),
  fitted on those datasets' out-of-fold rows (a calibration needs both outcomes: fitted on a
  set where every image is malignant it would learn that set's prevalence);
- the default threshold: Youden's J of the contour criterion on the folds' threshold tables
  pooled (``pooled_threshold_table``), on the datasets with normals;
- the figures reported for the shipped score: cross-fitted (the calibration and the
  combination fitted on the other folds' rows and applied to each fold's), per dataset,
  with 95% intervals by patient."""

from __future__ import annotations

import json
from pathlib import Path

from ..eval.evaluate import cad_metrics_from_rows
from ..eval.metrics import roc_auc
from ..findings import ViewKey
from ..infer.bilateral import final_scores, fit_bilateral
from ..infer.calibration import fit_isotonic, fit_logistic
from .cv import over_folds
from .shipping import choose_threshold

SOURCE_KEYS = {"mil": "mil_score", "max_probability": "max_probability"}
TABLE_WEIGHTS = {
    "sensitivity": "n_mass_images",
    "contour_sensitivity": "n_mass_images",
    "dice_mass_images": "n_mass_images",
    "specificity": "n_normal_images",
    "contour_specificity": "n_normal_images",
    "fp_regions_per_normal_image": "n_normal_images",
}


def load_folds(cv_dir: Path) -> list[dict]:
    """Each fold's ``oof.json`` (written by ``hds-train --cv``), in fold order."""
    paths = sorted(Path(cv_dir).glob("fold-*/oof.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if len(paths) < 2:
        raise ValueError(f"{cv_dir}: fewer than two folds with an oof.json; run hds-train --cv K --resume there first")
    folds = []
    for path in paths:
        try:
            folds.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the out-of-fold report: {exc}") from None
        rows = [row for block in folds[-1]["per_dataset"].values() for row in block["images"]]
        if rows and "mil_score" not in rows[0]:
            raise ValueError(
                f"{path}: written by an older hds-train (no per-source scores); delete it and rerun "
                "hds-train --cv K --resume to re-evaluate the fold"
            )
    return folds


def rows_by_fold(folds: list[dict]) -> list[list[dict]]:
    return [
        [dict(row, fold=k) for block in fold["per_dataset"].values() for row in block["images"]]
        for k, fold in enumerate(folds)
    ]


def has_both_labels(rows: list[dict]) -> bool:
    return len({row["label"] for row in rows}) == 2


def datasets_with_normals(rows: list[dict]) -> set[str]:
    return {spec for spec in {r["dataset"] for r in rows} if has_both_labels([r for r in rows if r["dataset"] == spec])}


def pooled_threshold_table(tables: list[tuple[dict, list[dict]]]) -> list[dict]:
    """One threshold table from the folds' (block, table) pairs: each rate weighted by the
    images it is a rate of (mass images for sensitivity and Dice, normals for specificity and
    false regions per normal), so it is the rate over all out-of-fold images."""
    pooled = []
    for index, row in enumerate(tables[0][1]):
        out = {"threshold": row["threshold"]}
        for key in row:
            if key == "threshold":
                continue
            weight_key = TABLE_WEIGHTS.get(key)
            pairs = [
                (t[index][key], block.get(weight_key, block.get("n_images", 1)) if weight_key else 1)
                for block, t in tables
                if t[index].get(key) is not None
            ]
            total = sum(w for _, w in pairs)
            out[key] = sum(v * w for v, w in pairs) / total if total else None
        pooled.append(out)
    return pooled


def _fit(rows: list[dict], source: str, method: str) -> tuple[dict, dict | None]:
    key = SOURCE_KEYS[source]
    raw, labels = [r[key] for r in rows], [r["label"] for r in rows]
    calibration = fit_isotonic(raw, labels) if method == "isotonic" else fit_logistic(raw, labels)
    try:
        bilateral = fit_bilateral(raw, [ViewKey(r["patient"], r["laterality"], r["view"]) for r in rows], labels)
    except ValueError:
        bilateral = None  # too few images with the other breast: single-image scores only
    return calibration, bilateral


def _scored(rows: list[dict], source: str, calibration: dict, bilateral: dict | None) -> list[dict]:
    raw = [r[SOURCE_KEYS[source]] for r in rows]
    keys = [ViewKey(r["patient"], r["laterality"], r["view"]) for r in rows]
    single = final_scores(raw, keys, calibration, None)
    both = final_scores(raw, keys, calibration, bilateral)
    return [
        dict(r, raw_score=x, single_image_score=s, score=b, score_basis=basis)
        for r, x, (s, _), (b, basis) in zip(rows, raw, single, both)
    ]


def cross_fitted_rows(per_fold: list[list[dict]], source: str, method: str, fit_datasets: set[str]) -> list[dict]:
    """Each fold's rows scored by a calibration and combination fitted on the other folds."""
    scored = []
    for k, rows in enumerate(per_fold):
        others = [
            r for j, fold_rows in enumerate(per_fold) if j != k for r in fold_rows if r["dataset"] in fit_datasets
        ]
        calibration, bilateral = _fit(others, source, method)
        scored += _scored(rows, source, calibration, bilateral)
    return scored


def cross_fitted_operating_point(folds: list[dict], film: str) -> dict:
    """The default threshold's figures on patients its choice never saw: for each fold, the
    threshold the shipped rule (``choose_threshold``) picks on the other folds' pooled film
    table, and that fold's own table row at it; the rows pooled over the folds, per dataset,
    as the slider's table is. (The default threshold itself is picked on all folds, so its
    row of that table has seen the patients it describes.)"""
    thresholds = []
    for k in range(len(folds)):
        others = [f["per_dataset"][film] for j, f in enumerate(folds) if j != k and film in f["per_dataset"]]
        thresholds.append(choose_threshold(pooled_threshold_table([(b, b["threshold_table"]) for b in others]))[0])
    per_dataset = {}
    for spec in dict.fromkeys(spec for f in folds for spec in f["per_dataset"]):
        rows = [
            (
                f["per_dataset"][spec],
                [next(r for r in f["per_dataset"][spec]["threshold_table"] if abs(r["threshold"] - t) < 1e-9)],
            )
            for f, t in zip(folds, thresholds)
            if spec in f["per_dataset"]
        ]
        per_dataset[spec] = {k: v for k, v in pooled_threshold_table(rows)[0].items() if k != "threshold"}
    return {"thresholds": thresholds, "per_dataset": per_dataset}


def cv_choices(
    cv_dir: Path, *, score_source: str = "auto", method: str = "logistic", domains: dict[str, str] | None = None
) -> dict:
    """Everything the shipped weights' JSON takes from the cross-validation in ``cv_dir``.
    ``domains``: film or digital per dataset spec where its kind does not say (a folder)."""
    from ..data import dataset_domain

    folds = load_folds(cv_dir)
    suppress = {tuple(f.get("suppress", [])) for f in folds}
    if len(suppress) > 1:
        raise ValueError(
            f"{cv_dir}: the folds were evaluated with different suppressions ({sorted(suppress)}); "
            "evaluate them all alike (hds-train --cv K --resume with the same --suppress)"
        )
    per_fold = rows_by_fold(folds)
    rows = [r for fold_rows in per_fold for r in fold_rows]
    fit_datasets = datasets_with_normals(rows)
    if not fit_datasets:
        raise ValueError(f"{cv_dir}: no dataset holds both normal and mass images; nothing to calibrate on")
    fit_rows = [r for r in rows if r["dataset"] in fit_datasets]
    aucs = {
        source: roc_auc([r[key] for r in fit_rows], [r["label"] for r in fit_rows]) or 0.0
        for source, key in SOURCE_KEYS.items()
    }
    if score_source == "auto":
        score_source = "max_probability" if aucs["max_probability"] > aucs["mil"] else "mil"
        source_rule = (
            f"higher out-of-fold AUC on {', '.join(sorted(fit_datasets))}: MIL head {aucs['mil']:.3f}, "
            f"map maximum {aucs['max_probability']:.3f}"
        )
    else:
        source_rule = "given on the command line"
    calibration, bilateral = _fit(fit_rows, score_source, method)
    calibration["fitted_on"] = bilateral_fitted_on = f"out-of-fold rows of {', '.join(sorted(fit_datasets))} ({cv_dir})"
    if bilateral:
        bilateral["fitted_on"] = bilateral_fitted_on
    # A calibration holds for the domain of the images it was fitted on: the Predictor shows
    # other images' scores as raw ranks, not as probabilities.
    fitted_domains = {dataset_domain(spec, domains) for spec in fit_datasets}
    calibration["domain"] = fitted_domains.pop() if len(fitted_domains) == 1 else None
    if bilateral:
        bilateral["domain"] = calibration["domain"]

    tables = {}
    for spec in dict.fromkeys(r["dataset"] for r in rows):
        tables[spec] = pooled_threshold_table(
            [
                (f["per_dataset"][spec], f["per_dataset"][spec]["threshold_table"])
                for f in folds
                if spec in f["per_dataset"]
            ]
        )
    film = sorted(fit_datasets)[0]
    threshold, rule = choose_threshold(tables[film])
    rule = rule.replace(
        "on the validation patients", f"on {film}'s out-of-fold threshold table pooled over {len(folds)} folds"
    )

    scored = cross_fitted_rows(per_fold, score_source, method, fit_datasets)
    # Keep the two-breast combination only where the cross-validation confirms it: a higher
    # cross-fitted AUC than the single-image score on the datasets it was fitted on.
    both_auc = roc_auc(
        [r["score"] for r in scored if r["dataset"] in fit_datasets],
        [r["label"] for r in scored if r["dataset"] in fit_datasets],
    )
    single_auc = roc_auc(
        [r["single_image_score"] for r in scored if r["dataset"] in fit_datasets],
        [r["label"] for r in scored if r["dataset"] in fit_datasets],
    )
    keep_bilateral = bilateral is not None and both_auc is not None and single_auc is not None and both_auc > single_auc
    bilateral_rule = (
        f"cross-fitted out-of-fold AUC on {', '.join(sorted(fit_datasets))}: both breasts {fmt_auc(both_auc)}, "
        f"this image alone {fmt_auc(single_auc)}; " + ("kept" if keep_bilateral else "not shipped (no gain)")
    )
    per_dataset = {}
    for spec in dict.fromkeys(r["dataset"] for r in rows):
        both = [r for r in scored if r["dataset"] == spec]
        single = [dict(r, score=r["single_image_score"], score_basis="this image") for r in both]
        raw = [dict(r, score=r["raw_score"], score_basis="this image") for r in both]
        # What the Predictor shows for this dataset's images: the raw score where the
        # calibration was fitted on another domain (the figures must be those of that score).
        calibrated_here = calibration["domain"] is None or dataset_domain(spec, domains) == calibration["domain"]
        chosen = (both if keep_bilateral else single) if calibrated_here else raw
        per_dataset[spec] = {
            "domain": dataset_domain(spec, domains),
            "shipped_score": _brief(cad_metrics_from_rows(chosen)),
            "two_breast_score": _brief(cad_metrics_from_rows(both)),
            "single_image_score": _brief(cad_metrics_from_rows(single)),
            "raw_score": _brief(cad_metrics_from_rows(raw)),
            "shipped_score_is_calibrated": calibrated_here,
            "images_scored_from_both_breasts": sum(r["score_basis"] != "this image" for r in chosen),
            "threshold_evaluated": sorted(
                {f["per_dataset"][spec]["threshold"] for f in folds if spec in f["per_dataset"]}
            ),
            "over_folds": over_folds([f["per_dataset"][spec] for f in folds if spec in f["per_dataset"]]),
            "images": chosen,
        }
    return {
        "score_source": score_source,
        "score_source_rule": source_rule,
        "calibration": calibration,
        "bilateral": bilateral if keep_bilateral else None,
        "bilateral_fit": bilateral,
        "bilateral_rule": bilateral_rule,
        "default_threshold": threshold,
        "default_threshold_rule": rule,
        "threshold_tables": tables,
        "film_dataset": film,
        "folds": len(folds),
        "per_dataset": per_dataset,
        "cross_fitted_threshold": cross_fitted_operating_point(folds, film),
        "suppress": list(suppress.pop()),
    }


def slider_table(tables: dict[str, list[dict]], film: str) -> list[dict]:
    """The film table with, where there is exactly one other dataset (the digital one), its
    contour sensitivity and Dice per threshold as ``digital_*`` columns: the slider's label
    says both (operating_point.py)."""
    others = [spec for spec in tables if spec != film]
    rows = [dict(row) for row in tables[film]]
    if len(others) == 1:
        for row, other in zip(rows, tables[others[0]]):
            row["digital_contour_sensitivity"] = other["contour_sensitivity"]
            row["digital_dice_mass_images"] = other["dice_mass_images"]
    return rows


def fmt_auc(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _brief(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "images"}


AGREEMENT_IMAGES = 40


def export_from_cv(
    checkpoint: Path,
    out: Path,
    datasets: list[str],
    cv_dir: Path,
    *,
    device,
    model_name: str | None = None,
    score_source: str = "auto",
    method: str = "logistic",
    domains: dict[str, str] | None = None,
) -> dict:
    """Shipped weights from a checkpoint trained on every patient (``hds-train --no-validation``)
    with the choices and figures of the cross-validation in ``cv_dir``. The fp16 and bf16
    agreement (a property of the arithmetic, not of unseen patients) is measured on up to
    40 of the training images, spread over the datasets, at the default threshold. Also writes ``NAME_cv.json``: the
    cross-validated figures with one row per out-of-fold image (what MODEL_CARD.md is built from)."""
    import torch

    from ..data import load_datasets, prepare
    from ..nn import AGREEMENT_DICE, load_weights, save_weights, sha256
    from .shipping import mask_agreement, rounded_copy, shipped_spec

    model, checkpoint_spec = load_weights(checkpoint, map_location=str(device))
    trained = checkpoint_spec.train_config
    choices = cv_choices(cv_dir, score_source=score_source, method=method, domains=domains)
    excluded = set(trained.get("exclude_patients") or [])
    cases = [c for c in load_datasets(datasets) if c.patient_id not in excluded]
    step = max(1, len(cases) // AGREEMENT_IMAGES)
    prepared = [prepare(c, checkpoint_spec.working_spacing_mm) for c in cases[::step][:AGREEMENT_IMAGES]]
    # Agreement at the threshold the weights ship with: the masks the reader is shown. (At 0.5
    # a broad plateau of the digital maps sits on the threshold, so that figure is recorded too.)
    threshold = choices["default_threshold"]
    # Weights exported before (they name their training checkpoint) take a new cross-validation's
    # choices with their tensors unchanged: their fp16 agreement was measured against the fp32
    # checkpoint then, and rounding fp16 values again would only agree with itself.
    again = "source_checkpoint" in checkpoint_spec.provenance and checkpoint_spec.storage_dtype == "fp16"
    rounded = rounded_copy(model, torch.float16)
    fp16_agreement = 1.0 if again else mask_agreement(model, rounded, prepared, device, threshold)
    fp16_at_half = 1.0 if again else mask_agreement(model, rounded, prepared, device, 0.5)
    dtype = torch.float16 if again or fp16_agreement >= AGREEMENT_DICE else None
    shipped = rounded if dtype is not None else model
    bf16_agreement = mask_agreement(shipped, shipped, prepared, device, threshold, autocast_dtype=torch.bfloat16)
    film = choices["film_dataset"]
    agreement = {
        "fp16_weights": round(fp16_agreement, 5),
        "bf16": round(bf16_agreement, 5),
        "fp16_weights_at_0.5": round(fp16_at_half, 5),
        "measured_on": f"{len(prepared)} training images, final exit, Dice of masks at the "
        f"default threshold {threshold:g}",
    }
    if again:  # the tensors are the earlier export's: so are their fp16 figures
        agreement = {**checkpoint_spec.precision_agreement, "bf16": round(bf16_agreement, 5)}
    spec = shipped_spec(
        checkpoint_spec,
        checkpoint,
        model_name=model_name or checkpoint_spec.model_name,
        default_threshold=threshold,
        score_source=choices["score_source"],
        calibration=choices["calibration"],
        # The Predictor removes the marks the cross-validation removed, so the figures hold.
        suppress=tuple(choices["suppress"]),
        bilateral=choices["bilateral"] or None,
        storage_dtype="fp16" if dtype is not None else "fp32",
        precision_agreement=agreement,
        cross_validation={
            dataset: {k: v for k, v in block.items() if k != "images"}
            for dataset, block in choices["per_dataset"].items()
        },
        rules={
            "default_threshold_rule": choices["default_threshold_rule"],
            "score_source_rule": choices["score_source_rule"],
            "bilateral_rule": choices["bilateral_rule"],
        },
        provenance={"cross_fitted_threshold": choices["cross_fitted_threshold"]},
        # The slider's labels: out-of-fold, pooled over the folds (the film set: it has normals).
        validation={
            "source": f"{choices['folds']}-fold cross-validation, out of fold ({cv_dir})",
            "dataset": film,
            "threshold": threshold,
            "score_source": choices["score_source"],
            "threshold_table": slider_table(choices["threshold_tables"], film),
            "threshold_table_per_dataset": choices["threshold_tables"],
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(out, shipped, spec, dtype=dtype)
    report = {"weights": out.name, "weights_sha256": sha256(out), **choices}
    try:  # the folds' validation curve, so the card needs no run folder
        report["per_epoch"] = json.loads((Path(cv_dir) / "cv.json").read_text())["per_epoch"]
    except (OSError, ValueError, KeyError):
        pass
    out.with_name(out.stem + "_cv.json").write_text(json.dumps(report, indent=1) + "\n")
    return {"spec": spec, "weights_sha256": report["weights_sha256"], "threshold": threshold}
