"""Lesion-level detection, as a CAD is judged: which true lesions a reader would see marked,
and how many marks point at nothing.

* A true lesion is a connected component (8-connectivity) of the truth mask.
* A predicted region is a connected component of ``probability >= threshold`` of at least
  ``min_pixels`` (smaller specks are not drawn by the viewer, so they are not counted).
* A true lesion is found when some predicted region overlaps it with IoU >= 0.1 or contains
  its centroid (a mark on the lesion counts even when its outline is poor), and in either
  case is at most 10 times the lesion's area, the size an IoU of 0.1 allows at most: a
  region over most of the breast contains every centroid and localises nothing (a
  cross-validation pilot here read lesion sensitivity 1.0 at 1 false positive per image
  from such regions at low thresholds before this bound).
* A predicted region that finds no lesion is a false positive, on every image, normal or not.

FROC: lesion sensitivity (found / all true lesions) against false positives per image, over
a grid of thresholds; ``sensitivity_at_fp`` reads the highest sensitivity reached at or
below each false-positive rate (0 when no threshold is that strict)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import measure

IOU_FOUND = 0.1
FROC_RATES = (0.25, 0.5, 1.0, 2.0)
FROC_THRESHOLDS = tuple(round(t, 3) for t in (*np.arange(0.05, 0.951, 0.05), 0.975, 0.99, 0.995, 0.999))


@dataclass(frozen=True)
class ImageDetection:
    lesions: int  # true lesions on the image
    found: int  # of which found
    false_positives: int  # predicted regions that found no lesion


def match_lesions(probability: np.ndarray, truth: np.ndarray, threshold: float, min_pixels: int = 1) -> ImageDetection:
    truth_labels, lesions = measure.label(truth, connectivity=2, return_num=True)
    predicted_labels = measure.label(probability >= threshold, connectivity=2)
    regions = [r for r in measure.regionprops(predicted_labels) if r.area >= min_pixels]
    if not lesions:
        return ImageDetection(0, 0, len(regions))
    truth_sizes = np.bincount(truth_labels.ravel(), minlength=lesions + 1)
    centroids = [tuple(int(round(v)) for v in r.centroid) for r in measure.regionprops(truth_labels)]
    found = np.zeros(lesions + 1, dtype=bool)
    useful = 0
    for region in regions:
        inside = predicted_labels == region.label
        overlap = np.bincount(truth_labels[inside], minlength=lesions + 1)
        finds = False
        for lesion in range(1, lesions + 1):
            union = truth_sizes[lesion] + region.area - overlap[lesion]
            row, col = centroids[lesion - 1]
            if region.area > truth_sizes[lesion] / IOU_FOUND:
                continue  # too large to say where the lesion is
            if (overlap[lesion] and overlap[lesion] / union >= IOU_FOUND) or inside[row, col]:
                found[lesion] = finds = True
        useful += finds
    return ImageDetection(lesions, int(found.sum()), len(regions) - useful)


def summarise(detections: list[ImageDetection]) -> dict:
    lesions = sum(d.lesions for d in detections)
    return {
        "lesions": lesions,
        "lesions_found": sum(d.found for d in detections),
        "lesion_sensitivity": sum(d.found for d in detections) / lesions if lesions else None,
        "fp_regions_per_image": sum(d.false_positives for d in detections) / len(detections) if detections else None,
    }


def froc(
    probabilities: list[np.ndarray], truths: list[np.ndarray], min_pixels: int = 1, thresholds=FROC_THRESHOLDS
) -> dict:
    """The FROC curve over ``thresholds`` and the sensitivity at each of ``FROC_RATES``."""
    curve = []
    for threshold in thresholds:
        point = summarise([match_lesions(p, t, threshold, min_pixels) for p, t in zip(probabilities, truths)])
        curve.append(
            {
                "threshold": float(threshold),
                "lesion_sensitivity": point["lesion_sensitivity"],
                "fp_per_image": point["fp_regions_per_image"],
            }
        )
    return {"curve": curve, "sensitivity_at_fp": sensitivity_at_fp(curve)}


def sensitivity_at_fp(curve: list[dict], rates=FROC_RATES) -> dict[str, float | None]:
    at = {}
    for rate in rates:
        reached = [
            p["lesion_sensitivity"]
            for p in curve
            if p["fp_per_image"] is not None and p["fp_per_image"] <= rate and p["lesion_sensitivity"] is not None
        ]
        has_lesions = any(p["lesion_sensitivity"] is not None for p in curve)
        at[f"{rate:g}"] = (max(reached) if reached else 0.0) if has_lesions else None
    return at
