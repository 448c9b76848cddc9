"""Image- and pixel-level metrics, written out so their definitions are visible.

* Dice at a threshold, per image; ``dice_mass_images`` averages over images with a mass
  only (Dice on normal images is 0 or 1 and hides false positives; those are counted by
  ``fp_regions_per_normal_image``: connected regions above threshold per normal image).
* Image label at a threshold: image score >= threshold.
* AUC: Mann-Whitney U statistic (ties count half).
"""

from __future__ import annotations

import numpy as np
from skimage import measure


def dice(prediction: np.ndarray, target: np.ndarray) -> float:
    total = int(prediction.sum()) + int(target.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, target).sum()) / total


def region_sizes(mask: np.ndarray) -> np.ndarray:
    """Pixel counts of the connected regions (8-connectivity) of a binary mask."""
    if not mask.any():
        return np.zeros(0, dtype=np.int64)
    return np.bincount(measure.label(mask, connectivity=2).ravel())[1:]


def count_regions(mask: np.ndarray, min_pixels: int = 1) -> int:
    """Regions of at least ``min_pixels`` (smaller specks are not shown as lesions either)."""
    return int((region_sizes(mask) >= min_pixels).sum())


def roc_auc(scores, labels) -> float | None:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return None
    greater = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positives) * len(negatives)))


def classification_at(scores, labels, threshold: float) -> dict:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    predicted = scores >= threshold
    tp, tn = int((predicted & labels).sum()), int((~predicted & ~labels).sum())
    fp, fn = int((predicted & ~labels).sum()), int((~predicted & labels).sum())
    return {
        "image_accuracy": (tp + tn) / len(labels) if len(labels) else None,
        "sensitivity": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }


def segmentation_at(
    probabilities: list[np.ndarray], masks: list[np.ndarray], threshold: float, min_region_pixels: int = 1
) -> dict:
    dices, fp_regions, normals = [], 0, 0
    for probability, mask in zip(probabilities, masks):
        predicted = probability >= threshold
        if mask.any():
            dices.append(dice(predicted, mask))
        else:
            normals += 1
            fp_regions += count_regions(predicted, min_region_pixels)
    return {
        "dice_mass_images": float(np.mean(dices)) if dices else None,
        "fp_regions_per_normal_image": fp_regions / normals if normals else None,
    }
