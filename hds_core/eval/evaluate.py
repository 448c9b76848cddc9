"""Evaluate a network on prepared cases: metrics per exit, the final exit, and a
sensitivity/specificity table over thresholds (which the viewer's threshold slider shows)."""

from __future__ import annotations

import numpy as np
import torch

from ..data import PreparedCase
from ..findings import ViewKey
from ..findings.lesions import MIN_LESION_AREA_MM2, min_region_pixels
from ..infer.bilateral import final_scores
from ..infer.forward import ExitResult, image_score, predict_working
from ..nn import HDSUNet
from .detection import froc, match_lesions
from .metrics import classification_at, count_regions, dice, roc_auc, segmentation_at
from .uncertainty import bootstrap_by_patient, reliability

TABLE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))


def exit_metrics(
    results: list[ExitResult],
    masks: list[np.ndarray],
    labels: list[int],
    threshold: float,
    source: str,
    min_pixels: int = 1,
) -> dict:
    scores = [image_score(r, source) for r in results]
    metrics = {"threshold": threshold, "score_source": source, "image_auc": roc_auc(scores, labels)}
    metrics.update(classification_at(scores, labels, threshold))
    metrics.update(segmentation_at([r.probability for r in results], masks, threshold, min_pixels))
    return metrics


def threshold_table(
    results: list[ExitResult],
    masks: list[np.ndarray],
    labels: list[int],
    source: str,
    thresholds=TABLE_THRESHOLDS,
    min_pixels: int = 1,
) -> list[dict]:
    """Per threshold T: image label by score >= T ("sensitivity"/"specificity"), and whether a
    contour appears at T (a region of at least ``min_pixels`` at T, as the viewer would draw:
    "contour_sensitivity"/"contour_specificity"), with Dice and false-positive regions at T.
    The viewer's slider moves T."""
    scores = [image_score(r, source) for r in results]
    rows = []
    for t in thresholds:
        by_score = classification_at(scores, labels, t)
        marked = [1.0 if count_regions(r.probability >= t, min_pixels) else 0.0 for r in results]
        by_contour = classification_at(marked, labels, 0.5)
        row = {
            "threshold": float(t),
            "sensitivity": by_score["sensitivity"],
            "specificity": by_score["specificity"],
            "contour_sensitivity": by_contour["sensitivity"],
            "contour_specificity": by_contour["specificity"],
        }
        row.update(segmentation_at([r.probability for r in results], masks, t, min_pixels))
        rows.append(row)
    return rows


def cad_metrics(
    results: list[ExitResult],
    cases: list[PreparedCase],
    threshold: float,
    source: str,
    min_pixels: int = 1,
    bootstrap_samples: int = 1000,
    calibration: dict | None = None,
    bilateral: dict | None = None,
) -> dict:
    """What a CAD is judged by, on the final exit: lesion-level detection at the threshold and
    as a FROC curve, image AUC and lesion sensitivity with 95% intervals resampled by patient,
    calibration of the image score, and one row per image from which any figure can be
    re-derived. A dataset's patient is its study: the score of an image whose other breast's
    same view is among ``cases`` comes from both (``bilateral``), as the Predictor's does."""
    raw = [image_score(r, source) for r in results]
    keys = [ViewKey(c.case.patient_id, c.case.laterality, c.case.view) for c in cases]
    scores = final_scores(raw, keys, calibration, bilateral)  # what the Predictor reports
    detections = [match_lesions(r.probability, c.mask, threshold, min_pixels) for r, c in zip(results, cases)]
    rows = [
        {
            "image": c.case.case_id,
            "patient": c.case.patient_id,
            "dataset": c.case.dataset,
            "laterality": c.case.laterality,
            "view": c.case.view,
            "score": round(float(score), 6),
            "score_basis": basis,
            "raw_score": round(float(raw_score), 6),
            "mil_score": round(float(r.mil_probability), 6),
            "max_probability": round(float(r.max_probability), 6),
            "label": c.label,
            "lesions": d.lesions,
            "found": d.found,
            "false_positives": d.false_positives,
            "dice": round(dice(r.probability >= threshold, c.mask), 6) if c.label else None,
        }
        for c, (score, basis), raw_score, d, r in zip(cases, scores, raw, detections, results)
    ]
    curve = froc([r.probability for r in results], [c.mask for c in cases], min_pixels)
    return {
        **cad_metrics_from_rows(rows, bootstrap_samples),
        "froc_sensitivity_at_fp": curve["sensitivity_at_fp"],
        "froc_curve": curve["curve"],
        "images": rows,
    }


def cad_metrics_from_rows(rows: list[dict], bootstrap_samples: int = 1000) -> dict:
    """The figures that per-image rows determine (all but the FROC curve, which needs the
    maps): used on one evaluation's rows and on out-of-fold rows pooled over folds."""
    patients = [row["patient"] for row in rows]

    def auc(drawn):
        return roc_auc([r["score"] for r in drawn], [r["label"] for r in drawn])

    def sensitivity(drawn):
        lesions = sum(r["lesions"] for r in drawn)
        return sum(r["found"] for r in drawn) / lesions if lesions else None

    def mean_dice(drawn):
        values = [r["dice"] for r in drawn if r.get("dice") is not None]
        return float(np.mean(values)) if values else None

    def fp_per_normal(drawn):
        normals = [r for r in drawn if not r["label"]]
        return sum(r["false_positives"] for r in normals) / len(normals) if normals else None

    def calibration_error(drawn):
        return reliability([r["score"] for r in drawn], [r["label"] for r in drawn])[0]

    def interval(statistic):
        return bootstrap_by_patient(rows, patients, statistic, samples=bootstrap_samples)

    lesions = sum(r["lesions"] for r in rows)
    ece, table = reliability([r["score"] for r in rows], [r["label"] for r in rows])
    return {
        "n_images": len(rows),
        "image_auc": auc(rows),
        "image_auc_ci": interval(auc),
        "lesions": lesions,
        "lesions_found": sum(r["found"] for r in rows),
        "lesion_sensitivity": sensitivity(rows),
        "lesion_sensitivity_ci": interval(sensitivity),
        "fp_regions_per_image": sum(r["false_positives"] for r in rows) / len(rows) if rows else None,
        "fp_regions_per_normal_image": fp_per_normal(rows),
        "fp_regions_per_normal_image_ci": interval(fp_per_normal),
        "dice_mass_images": mean_dice(rows),
        "dice_mass_images_ci": interval(mean_dice),
        "ece": ece,
        "ece_ci": interval(calibration_error),
        "reliability": table,
    }


def predict_cases(
    model: HDSUNet,
    cases: list[PreparedCase],
    device: torch.device,
    *,
    all_exits: bool = True,
    autocast_dtype=None,
    progress=None,
) -> list[list[ExitResult]]:
    """The network on each case: per exit (deepest first), one result per case."""
    per_exit: list[list[ExitResult]] | None = None
    for case in cases:
        results = predict_working(model, case.working.image, device, all_exits=all_exits, autocast_dtype=autocast_dtype)
        if per_exit is None:
            per_exit = [[] for _ in results]
        for k, result in enumerate(results):
            per_exit[k].append(result)
        if progress is not None:
            progress()
    if per_exit is None:
        raise ValueError("no cases to evaluate")
    return per_exit


def evaluate_prepared(
    model: HDSUNet,
    cases: list[PreparedCase],
    device: torch.device,
    *,
    threshold: float = 0.5,
    score_source: str = "mil",
    all_exits: bool = True,
    autocast_dtype=None,
    progress=None,
    cad: bool = True,
    calibration: dict | None = None,
    bilateral: dict | None = None,
) -> dict:
    """``cad``: also the lesion-level, interval and calibration figures (:func:`cad_metrics`;
    training's per-epoch validation leaves them out)."""
    per_exit = predict_cases(
        model, cases, device, all_exits=all_exits, autocast_dtype=autocast_dtype, progress=progress
    )
    return report_from_results(
        per_exit,
        cases,
        threshold=threshold,
        score_source=score_source,
        cad=cad,
        calibration=calibration,
        bilateral=bilateral,
    )


def report_from_results(
    per_exit: list[list[ExitResult]],
    cases: list[PreparedCase],
    *,
    threshold: float,
    score_source: str,
    cad: bool = True,
    calibration: dict | None = None,
    bilateral: dict | None = None,
) -> dict:
    """The report for ``cases`` from the network's results on them (a subset of cases may be
    reported from one run: per dataset, say)."""
    if not cases:
        raise ValueError("no cases to evaluate")
    if any(c.case.extra.get("image_labels_only") for c in cases):
        report = _report(per_exit, cases, threshold, score_source, cad, calibration, bilateral)
        return _image_level_only(report)
    return _report(per_exit, cases, threshold, score_source, cad, calibration, bilateral)


# What an image-label dataset (no outlines: CMMD) cannot measure: anything against a mask.
OUTLINE_FIGURES = (
    "dice_mass_images",
    "dice_mass_images_ci",
    "lesions",
    "lesions_found",
    "lesion_sensitivity",
    "lesion_sensitivity_ci",
    "fp_regions_per_image",
    "froc_sensitivity_at_fp",
    "froc_curve",
)


def _image_level_only(report: dict) -> dict:
    """The report with every figure that needs an outline set to None (an empty mask on an
    image with a mass would count its Dice as 0 and its lesion as a false region)."""
    for metrics in [*report["exits"], report["final"]]:
        metrics["dice_mass_images"] = None
    for row in report["threshold_table"]:
        row["dice_mass_images"] = None
    for key in OUTLINE_FIGURES:
        if key in report:
            report[key] = None
    for row in report.get("images", []):
        row.update(dice=None, lesions=0, found=0, false_positives=row["false_positives"] if not row["label"] else 0)
    report["image_labels_only"] = True
    return report


def _report(per_exit, cases, threshold, score_source, cad, calibration, bilateral) -> dict:
    masks, labels = [c.mask for c in cases], [c.label for c in cases]
    # Specks below the viewer's smallest lesion are not drawn, so they are not counted either.
    min_pixels = min_region_pixels(cases[0].working.geometry.working_spacing_mm)
    exits = [exit_metrics(results, masks, labels, threshold, score_source, min_pixels) for results in per_exit]
    return {
        "n_images": len(cases),
        "n_mass_images": int(sum(labels)),
        "n_normal_images": len(labels) - int(sum(labels)),
        "n_patients": len({c.case.patient_id for c in cases}),
        "threshold": threshold,
        "score_source": score_source,
        "final": exits[-1],
        "exits": exits,
        "threshold_table": threshold_table(per_exit[-1], masks, labels, score_source, min_pixels=min_pixels),
        "min_lesion_area_mm2": MIN_LESION_AREA_MM2,
        **(
            cad_metrics(
                per_exit[-1], cases, threshold, score_source, min_pixels, calibration=calibration, bilateral=bilateral
            )
            if cad
            else {}
        ),
    }


def per_dataset_reports(per_exit: list[list[ExitResult]], cases: list[PreparedCase], **options) -> dict[str, dict]:
    """One report per dataset, from one run of the network over all the cases."""
    reports = {}
    for spec in dict.fromkeys(c.case.dataset for c in cases):
        chosen = [i for i, c in enumerate(cases) if c.case.dataset == spec]
        reports[spec] = report_from_results(
            [[results[i] for i in chosen] for results in per_exit], [cases[i] for i in chosen], **options
        )
    return reports


def format_report(report: dict) -> str:
    """A readable table: one row per exit (deepest first), the final exit last."""

    def fmt(value):
        return "  n/a" if value is None else f"{value:5.3f}"

    columns = (
        "image_auc",
        "image_accuracy",
        "sensitivity",
        "specificity",
        "dice_mass_images",
        "fp_regions_per_normal_image",
    )
    heads = ("AUC", "acc", "sens", "spec", "Dice(mass)", "FP/normal")
    lines = [
        f"{report['n_images']} images ({report['n_mass_images']} with a mass, {report['n_normal_images']} normal) "
        f"from {report['n_patients']} patients; threshold {report['threshold']:g}; image score: "
        f"{report['score_source']}",
        "exit      " + "  ".join(f"{h:>10}" for h in heads),
    ]
    n = len(report["exits"])
    for k, metrics in enumerate(report["exits"]):
        name = "final" if k == n - 1 else f"exit {k + 1}"
        lines.append(f"{name:<10}" + "  ".join(f"{fmt(metrics[c]):>10}" for c in columns))
    if "lesion_sensitivity" in report:

        def interval(values):
            return f" [{values[0]:.3f}, {values[1]:.3f}]" if values else " [n/a]"

        lines.append("")
        lines.append(
            f"image AUC{interval(report['image_auc_ci'])} (95%, patients resampled); "
            f"ECE {fmt(report['ece']).strip()} (image score calibration, {len(report['reliability'])} bins)"
        )
        if report.get("image_labels_only"):
            lines.append("image labels only (no outlines): no Dice, lesion sensitivity or FROC for this dataset")
        else:
            froc_text = ", ".join(
                f"{rate} FP: {fmt(value).strip()}" for rate, value in report["froc_sensitivity_at_fp"].items()
            )
            lines.append(
                f"lesions: {report['lesions_found']} of {report['lesions']} found at the threshold, sensitivity "
                f"{fmt(report['lesion_sensitivity']).strip()}{interval(report['lesion_sensitivity_ci'])}; "
                f"{fmt(report['fp_regions_per_image']).strip()} false regions per image"
            )
            lines.append(f"FROC lesion sensitivity at {froc_text} per image")
        paired = sum(row.get("score_basis") == "both breasts" for row in report.get("images", []))
        if paired:
            lines.append(
                f"image scores from both breasts (the other breast's same view of the patient): {paired} of "
                f"{report['n_images']} images"
            )
    lines.append("")
    lines.append("threshold  sens  spec  contour-sens  contour-spec  Dice(mass)  FP/normal")
    for row in report["threshold_table"]:
        lines.append(
            f"{row['threshold']:9.2f}  {fmt(row['sensitivity'])} {fmt(row['specificity'])}  "
            f"{fmt(row['contour_sensitivity']):>12}  {fmt(row['contour_specificity']):>12}  "
            f"{fmt(row['dice_mass_images']):>10}  {fmt(row['fp_regions_per_normal_image']):>9}"
        )
    return "\n".join(lines)
