"""Patient-level K-fold cross-validation: every patient is predicted once by a model that
never saw them (out-of-fold), each dataset is reported on its own, and the spread over folds
says how much one fold could be trusted (one fold of 24 patients moved by +-0.1 in Dice
from epoch to epoch: it cannot choose a model).

``OUT/fold-K/`` holds each fold's run (train with ``--resume`` to continue one that
stopped) and its ``oof.json``: the ``last`` weights (the same epoch count for every fold,
not a best-of-fold pick) evaluated on that fold's validation patients, per dataset, with
per-image rows. ``OUT/cv.json`` gathers them: per dataset, the mean and standard deviation
over folds of each figure, the same figures on all out-of-fold rows pooled (with 95%
intervals by patient), and per epoch the mean validation Dice over folds, from which the
number of epochs is chosen. The out-of-fold rows are what ``hds-export --calibrate-on``
fits the score calibration on."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from .config import TrainConfig

log = logging.getLogger(__name__)

FOLD_FIGURES = (
    "image_auc",
    "dice_mass_images",
    "fp_regions_per_normal_image",
    "lesion_sensitivity",
    "fp_regions_per_image",
    *(f"lesion_sensitivity_at_{rate}_fp_per_image" for rate in ("0.25", "0.5", "1", "2")),
    "ece",
)


def _figure(block: dict, key: str):
    if key.startswith("lesion_sensitivity_at_"):
        return (block.get("froc_sensitivity_at_fp") or {}).get(key.split("_")[3])
    return block["final"][key] if key in block["final"] else block.get(key)


def over_folds(blocks: list[dict]) -> dict:
    """Per figure: mean and standard deviation over the folds' own reports, and the values."""
    result = {}
    for key in FOLD_FIGURES:
        values = [v for v in (_figure(b, key) for b in blocks) if v is not None]
        result[key] = {
            "mean": float(np.mean(values)) if values else None,
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            "folds": len(values),
            "values": [round(float(v), 4) for v in values],
        }
    return result


def fold_config(config: TrainConfig, folds: int, fold: int) -> TrainConfig:
    return dataclasses.replace(
        config, out=str(Path(config.out) / f"fold-{fold}"), folds=folds, fold=fold, val_patients=None
    )


def _finished(config: TrainConfig) -> bool:
    last = Path(config.out) / "last.json"
    try:
        return json.loads(last.read_text()).get("epoch") == config.epochs
    except (OSError, ValueError):
        return False


def cross_validate(
    config: TrainConfig, folds: int, *, resume: bool = False, device=None, only: list[int] | None = None
) -> dict:
    """Train (or continue) each fold (or the ``only`` ones: an ablation on a budget), evaluate
    it out of fold, and write ``OUT/cv.json``."""
    from .loop import train

    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            "--cv runs its folds one after another in one process; start it without torchrun "
            "(or run the folds as separate torchrun jobs with --fold N and evaluate them with hds-eval)"
        )
    if only and not all(0 <= k < folds for k in only):
        raise ValueError(f"--cv-folds must name folds in 0..{folds - 1}, got {only}")
    reports = []
    for fold in sorted(set(only)) if only else range(folds):
        run = fold_config(config, folds, fold)
        if not _finished(run):
            started = (Path(run.out) / "last.safetensors").is_file()
            if started and not resume:
                raise ValueError(f"{run.out} holds an unfinished run; continue it with --resume")
            log.info("fold %d of %d: training into %s", fold + 1, folds, run.out)
            train(run, resume=started)
        oof = Path(run.out) / "oof.json"
        if _stale(oof, run):
            oof.write_text(json.dumps(evaluate_fold(run, device), indent=1) + "\n")
        reports.append(json.loads(oof.read_text()))
    summary = summarise(config, reports)
    (Path(config.out) / "cv.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _stale(oof: Path, run: TrainConfig) -> bool:
    """Evaluate again when the weights are newer, the threshold or the suppression differs, or the report lacks
    the per-source scores (an older hds-train wrote it)."""
    if not oof.is_file() or oof.stat().st_mtime < (Path(run.out) / "last.safetensors").stat().st_mtime:
        return True
    try:
        report = json.loads(oof.read_text())
        blocks = report["per_dataset"].values()
    except (OSError, ValueError, KeyError):
        return True
    if report.get("suppress", []) != list(run.suppress):
        return True
    return any(
        b.get("threshold") != run.threshold or any("mil_score" not in row for row in b.get("images", []))
        for b in blocks
    )


def evaluate_fold(run: TrainConfig, device=None) -> dict:
    """The fold's ``last`` weights on its own validation patients, per dataset."""
    from ..data import load_datasets, prepare, validation_cases_of
    from ..eval.evaluate import per_dataset_reports, predict_cases
    from ..infer.device import choose_device
    from ..infer.suppression import suppressed
    from ..nn import load_weights

    device = device or choose_device(run.device)
    weights = Path(run.out) / "last.safetensors"
    model, spec = load_weights(weights, map_location=str(device))
    cases = validation_cases_of(load_datasets(run.datasets), spec.train_config)
    prepared = [prepare(c, run.working_spacing_mm) for c in cases]
    per_exit = suppressed(predict_cases(model, prepared, device, all_exits=False), prepared, run.suppress)
    blocks = per_dataset_reports(per_exit, prepared, threshold=run.threshold, score_source=run.score_source)
    return {
        "fold": run.fold,
        "folds": run.folds,
        "weights": str(weights),
        "epoch": spec.epoch,
        "suppress": list(run.suppress),
        "per_dataset": blocks,
    }


def summarise(config: TrainConfig, reports: list[dict]) -> dict:
    from ..eval.evaluate import cad_metrics_from_rows

    per_dataset = {}
    for spec in config.datasets:
        blocks = [r["per_dataset"][spec] for r in reports if spec in r["per_dataset"]]
        if not blocks:
            continue
        rows = [row for b in blocks for row in b["images"]]
        per_dataset[spec] = {
            "over_folds": over_folds(blocks),
            "out_of_fold": cad_metrics_from_rows(rows),
            "images": rows,
        }
    epochs = _epoch_curve(config, [r["fold"] for r in reports])
    return {
        "folds": len(reports),
        "epochs": config.epochs,
        "per_dataset": per_dataset,
        "per_epoch": epochs,
        "best_epoch_by_mean_dice": max(epochs, key=lambda e: e["mean_dice"] or -1)["epoch"] if epochs else None,
    }


def _epoch_curve(config: TrainConfig, fold_numbers: list[int]) -> list[dict]:
    """Mean validation Dice (mass images) over folds, per epoch: pooled, and per dataset when
    the run has several."""
    by_epoch: dict[int, list[float]] = {}
    by_dataset: dict[int, dict[str, list[float]]] = {}
    for fold in fold_numbers:
        log_path = Path(config.out) / f"fold-{fold}" / "metrics.jsonl"
        if not log_path.is_file():
            continue
        for line in log_path.read_text().splitlines():
            record = json.loads(line)
            dice = (record.get("val") or {}).get("dice_mass_images")
            if dice is not None:
                by_epoch.setdefault(record["epoch"], []).append(dice)
            for spec, values in (record.get("val_per_dataset") or {}).items():
                if values.get("dice_mass_images") is not None:
                    by_dataset.setdefault(record["epoch"], {}).setdefault(spec, []).append(values["dice_mass_images"])
    return [
        {
            "epoch": e,
            "mean_dice": float(np.mean(v)),
            "folds": len(v),
            "mean_dice_per_dataset": {spec: float(np.mean(d)) for spec, d in by_dataset.get(e, {}).items()},
        }
        for e, v in sorted(by_epoch.items())
    ]


def format_summary(summary: dict) -> str:
    def fmt(value):
        return "n/a" if value is None else f"{value:.3f}"

    lines = [f"{summary['folds']}-fold cross-validation, {summary['epochs']} epochs each"]
    for spec, block in summary["per_dataset"].items():
        lines.append(f"== {spec} ==")
        for key, stats in block["over_folds"].items():
            lines.append(f"  {key:<28} {fmt(stats['mean'])} +- {fmt(stats['sd'])} over {stats['folds']} folds")
        pooled = block["out_of_fold"]
        auc_ci = pooled["image_auc_ci"]
        lines.append(
            f"  out of fold: {pooled['n_images']} images, AUC {fmt(pooled['image_auc'])}"
            + (f" [{auc_ci[0]:.3f}, {auc_ci[1]:.3f}]" if auc_ci else "")
            + f", lesion sensitivity {fmt(pooled['lesion_sensitivity'])}, {fmt(pooled['fp_regions_per_image'])} "
            f"false regions per image, ECE {fmt(pooled['ece'])}"
        )
    if summary["best_epoch_by_mean_dice"]:
        lines.append(f"epoch with the best mean validation Dice over folds: {summary['best_epoch_by_mean_dice']}")
    return "\n".join(lines)
