"""hds-export's work (the command: export_cli.py, which says what it does, in order): a
training checkpoint evaluated on its own validation patients and written as shipped weights."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..data import (
    load_datasets,
    prepare,
    validation_cases_of,
)
from ..eval.evaluate import evaluate_prepared
from ..nn import AGREEMENT_DICE, load_weights, save_weights, sha256
from .shipping import choose_threshold, mask_agreement, rounded_copy, shipped_spec

log = logging.getLogger(__name__)

REPORT_KEYS = (
    "image_auc",
    "image_accuracy",
    "sensitivity",
    "specificity",
    "dice_mass_images",
    "fp_regions_per_normal_image",
)


def calibration_from_reports(paths: list[Path], method: str = "isotonic") -> dict:
    """Fit the image-score calibration on the per-image rows of hds-eval reports (out-of-fold
    predictions: each image scored by a model that never trained on its patient)."""
    import json

    from ..infer.calibration import fit_isotonic, fit_logistic

    scores, labels = [], []
    for path in paths:
        try:
            report = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the evaluation report: {exc}") from None
        blocks = report.get("per_dataset") or {"": report}
        rows = [row for block in blocks.values() for row in block.get("images", [])]
        if not rows:
            raise ValueError(f"{path}: no per-image rows (write it with this hds-eval's --json)")
        scores += [row.get("raw_score", row["score"]) for row in rows]
        labels += [row["label"] for row in rows]
    fit = fit_isotonic(scores, labels) if method == "isotonic" else fit_logistic(scores, labels)
    fit["fitted_on"] = [str(p) for p in paths]
    return fit


def export(
    checkpoint: Path,
    out: Path,
    datasets: list[str],
    *,
    device: torch.device,
    threshold: float | None = None,
    model_name: str | None = None,
    score_source_choice: str = "auto",
    extra: dict | None = None,
    calibration: dict | None = None,
) -> dict:
    model, trained = load_weights(checkpoint, map_location=str(device))
    cases = validation_cases_of(load_datasets(datasets), trained.train_config)
    if not cases:
        raise ValueError(f"{checkpoint}: its training config names no validation patients in {datasets}")
    prepared = [prepare(c, trained.working_spacing_mm) for c in cases]
    score_source = trained.score_source

    rounded = rounded_copy(model, torch.float16)
    fp16_agreement = mask_agreement(model, rounded, prepared, device, 0.5)
    dtype = torch.float16 if fp16_agreement >= AGREEMENT_DICE else None
    shipped = rounded if dtype is not None else model
    log.info("fp16 weights: mask Dice vs fp32 %.4f -> storing %s", fp16_agreement, "fp16" if dtype else "fp32")

    score_rule = "as trained"
    if score_source_choice == "auto" and score_source == "mil":
        # The image score the viewer shows: the MIL head or the map's maximum, whichever
        # separates the validation films better (AUC); ties keep the MIL head.
        aucs = {
            source: evaluate_prepared(
                shipped, prepared, device, threshold=0.5, score_source=source, all_exits=False, cad=False
            )["final"]["image_auc"]
            or 0.0
            for source in ("mil", "max_probability")
        }
        score_source = "max_probability" if aucs["max_probability"] > aucs["mil"] else "mil"
        score_rule = f"higher validation AUC: MIL head {aucs['mil']:.3f}, map maximum {aucs['max_probability']:.3f}"
    elif score_source_choice in ("mil", "max_probability"):
        score_source, score_rule = score_source_choice, "given on the command line"
    log.info("image score: %s (%s)", score_source, score_rule)
    table = evaluate_prepared(
        shipped, prepared, device, threshold=0.5, score_source=score_source, all_exits=False, cad=False
    )["threshold_table"]
    rule = "given on the command line"
    if threshold is None:
        threshold, rule = choose_threshold(table)
    report = evaluate_prepared(
        shipped, prepared, device, threshold=threshold, score_source=score_source, all_exits=True
    )
    bf16_agreement = mask_agreement(shipped, shipped, prepared, device, threshold, autocast_dtype=torch.bfloat16)

    spec = shipped_spec(
        trained,
        checkpoint,
        model_name=model_name or trained.model_name,
        default_threshold=threshold,
        score_source=score_source,
        calibration=calibration or trained.calibration,
        storage_dtype="fp16" if dtype is not None else "fp32",
        precision_agreement={
            "fp16_weights": round(fp16_agreement, 5),
            "bf16": round(bf16_agreement, 5),
            "measured_on": f"{len(prepared)} validation images, final exit, Dice of masks",
        },
        rules={"default_threshold_rule": rule, "score_source_rule": score_rule},
        validation={
            "patients": sorted({c.patient_id for c in cases}),
            "n_images": report["n_images"],
            "n_mass_images": report["n_mass_images"],
            "n_patients": report["n_patients"],
            "threshold": threshold,
            "score_source": score_source,
            "final": {k: report["final"][k] for k in REPORT_KEYS},
            "exits": [{k: e[k] for k in REPORT_KEYS} for e in report["exits"]],
            "threshold_table": report["threshold_table"],
        },
        provenance=extra,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(out, shipped, spec, dtype=dtype)
    report["weights_sha256"] = sha256(out)
    report["spec"] = spec
    return report
