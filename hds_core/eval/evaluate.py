"""Evaluate a network on prepared cases: metrics per exit, the final exit, and a
sensitivity/specificity table over thresholds (which the viewer's threshold slider shows)."""

from __future__ import annotations

import numpy as np
import torch

from ..data import PreparedCase
from ..infer.forward import ExitResult, image_score, predict_working
from ..infer.lesions import MIN_LESION_AREA_MM2, min_region_pixels
from ..nn import HDSUNet
from .metrics import classification_at, count_regions, roc_auc, segmentation_at

TABLE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))
def exit_metrics(results: list[ExitResult], masks: list[np.ndarray], labels: list[int], threshold: float, source: str,
                 min_pixels: int = 1) -> dict:
    scores = [image_score(r, source) for r in results]
    metrics = {"threshold": threshold, "score_source": source, "image_auc": roc_auc(scores, labels)}
    metrics.update(classification_at(scores, labels, threshold))
    metrics.update(segmentation_at([r.probability for r in results], masks, threshold, min_pixels))
    return metrics


def threshold_table(results: list[ExitResult], masks: list[np.ndarray], labels: list[int], source: str,
                    thresholds=TABLE_THRESHOLDS, min_pixels: int = 1) -> list[dict]:
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
        row = {"threshold": float(t), "sensitivity": by_score["sensitivity"], "specificity": by_score["specificity"],
               "contour_sensitivity": by_contour["sensitivity"], "contour_specificity": by_contour["specificity"]}
        row.update(segmentation_at([r.probability for r in results], masks, t, min_pixels))
        rows.append(row)
    return rows


def evaluate_prepared(model: HDSUNet, cases: list[PreparedCase], device: torch.device, *, threshold: float = 0.5,
                      score_source: str = "mil", all_exits: bool = True, autocast_dtype=None, progress=None) -> dict:
    per_exit: list[list[ExitResult]] | None = None
    masks, labels = [], []
    for case in cases:
        results = predict_working(model, case.working.image, device, all_exits=all_exits, autocast_dtype=autocast_dtype)
        if per_exit is None:
            per_exit = [[] for _ in results]
        for k, result in enumerate(results):
            per_exit[k].append(result)
        masks.append(case.mask)
        labels.append(case.label)
        if progress is not None:
            progress()
    if not cases:
        raise ValueError("no cases to evaluate")
    # Specks below the viewer's smallest lesion are not drawn, so they are not counted either.
    min_pixels = min_region_pixels(cases[0].working.geometry.working_spacing_mm)
    exits = [exit_metrics(results, masks, labels, threshold, score_source, min_pixels) for results in per_exit]
    return {
        "n_images": len(cases), "n_mass_images": int(sum(labels)), "n_normal_images": len(labels) - int(sum(labels)),
        "n_patients": len({c.case.patient_id for c in cases}),
        "threshold": threshold, "score_source": score_source,
        "final": exits[-1], "exits": exits,
        "threshold_table": threshold_table(per_exit[-1], masks, labels, score_source, min_pixels=min_pixels),
        "min_lesion_area_mm2": MIN_LESION_AREA_MM2,
    }


def format_report(report: dict) -> str:
    """A readable table: one row per exit (deepest first), the final exit last."""
    def fmt(value):
        return "  n/a" if value is None else f"{value:5.3f}"

    columns = ("image_auc", "image_accuracy", "sensitivity", "specificity", "dice_mass_images", "fp_regions_per_normal_image")
    heads = ("AUC", "acc", "sens", "spec", "Dice(mass)", "FP/normal")
    lines = [f"{report['n_images']} images ({report['n_mass_images']} with a mass, {report['n_normal_images']} normal) "
             f"from {report['n_patients']} patients; threshold {report['threshold']:g}; image score: {report['score_source']}",
             "exit      " + "  ".join(f"{h:>10}" for h in heads)]
    n = len(report["exits"])
    for k, metrics in enumerate(report["exits"]):
        name = "final" if k == n - 1 else f"exit {k + 1}"
        lines.append(f"{name:<10}" + "  ".join(f"{fmt(metrics[c]):>10}" for c in columns))
    lines.append("")
    lines.append("threshold  sens  spec  contour-sens  contour-spec  Dice(mass)  FP/normal")
    for row in report["threshold_table"]:
        lines.append(f"{row['threshold']:9.2f}  {fmt(row['sensitivity'])} {fmt(row['specificity'])}  "
                     f"{fmt(row['contour_sensitivity']):>12}  {fmt(row['contour_specificity']):>12}  "
                     f"{fmt(row['dice_mass_images']):>10}  {fmt(row['fp_regions_per_normal_image']):>9}")
    return "\n".join(lines)
