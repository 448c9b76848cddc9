"""Lesions from a probability map at any threshold, without rerunning the network.

Regions and contours are traced on the working-resolution map (small: fast enough to
follow a slider) and the contour points are mapped to original pixel coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..network_input import Geometry
from .rings import outer_rings


@dataclass(frozen=True)
class Lesion:
    index: int
    contour_xy: np.ndarray  # (N, 2) x (column), y (row) in ORIGINAL image pixels, closed ring
    max_probability: float
    mean_probability: float
    area_mm2: float | None  # None when the image's pixel spacing is unknown
    longest_diameter_mm: float | None
    centroid_xy: tuple[float, float]  # original pixels
    bbox_xywh: tuple[float, float, float, float]  # original pixels

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "max_probability": round(self.max_probability, 4),
            "mean_probability": round(self.mean_probability, 4),
            "area_mm2": None if self.area_mm2 is None else round(self.area_mm2, 2),
            "longest_diameter_mm": None if self.longest_diameter_mm is None else round(self.longest_diameter_mm, 2),
            "centroid_xy": [round(v, 1) for v in self.centroid_xy],
            "bbox_xywh": [round(v, 1) for v in self.bbox_xywh],
            "contour_xy": np.round(self.contour_xy, 1).tolist(),
        }


def preload() -> None:
    """Import what outlining lesions needs (scikit-image, SciPy: 0.3 s) now, on the caller's
    thread: the viewer's engine does it while it loads, so the first contours do not stall
    the window."""
    import scipy.ndimage
    import scipy.spatial  # noqa: F401
    import skimage.measure  # noqa: F401


# Up to this many points every pair is measured: quicker than building the convex hull first
# (the farthest pair lies on the hull, so the answer is the same).
_ALL_PAIRS_UP_TO = 160


def _longest_chord(points: np.ndarray) -> float:
    if len(points) < 2:
        return 0.0
    if len(points) > _ALL_PAIRS_UP_TO:
        from scipy.spatial import ConvexHull, QhullError

        try:
            points = points[ConvexHull(points).vertices]
        except (QhullError, ValueError):
            pass
    deltas = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((deltas**2).sum(-1)).max())


# Regions smaller than this (at the working spacing) are specks, not lesions: neither drawn
# nor counted as false positives by hds-eval. The smallest mass in mini-MIAS is ~36 mm².
MIN_LESION_AREA_MM2 = 5.0


def min_region_pixels(working_spacing_mm: float) -> int:
    return max(1, math.ceil(MIN_LESION_AREA_MM2 / working_spacing_mm**2 - 1e-9))


def _traced_alone(probability, labels, label, boxes, threshold) -> np.ndarray | None:
    """One region's longest ring by scikit-image on its own padded box (what :func:`outer_rings`
    reproduces for all regions at once, when every region pixel is above the threshold)."""
    from skimage import measure

    rows, cols = boxes[label - 1]
    inside = labels[rows, cols] == label
    patch = np.pad(np.where(inside, probability[rows, cols], 0.0), 1)
    contours = measure.find_contours(patch, threshold)
    if not contours:
        return None
    return max(contours, key=len) + np.array([rows.start - 1, cols.start - 1])


def find_lesions(
    probability: np.ndarray, threshold: float, geometry: Geometry, spacing_mm: tuple[float, float] | None
) -> list[Lesion]:
    """Connected regions of ``probability >= threshold``, largest probability first.

    ``spacing_mm`` is the ORIGINAL image's spacing (row, col) or None when unknown."""
    mask = probability >= threshold
    if not mask.any():
        return []
    # Imported here: the viewer's window opens before scikit-image and SciPy are needed.
    from scipy import ndimage
    from skimage import measure

    labels = measure.label(mask, connectivity=2)
    working_pixel_mm2 = geometry.working_spacing_mm**2
    lesions = []
    # Specks are dropped before anything is traced or measured: at a low threshold most
    # regions are specks, and measuring each one cost more than the lesions.
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_region_pixels(geometry.working_spacing_mm)
    keep[0] = False
    boxes = ndimage.find_objects(labels)
    kept = np.flatnonzero(keep)
    rings = outer_rings(probability, labels, kept, threshold, boxes)  # all at once: the slider follows
    if rings is None:
        rings = {int(label): _traced_alone(probability, labels, int(label), boxes, threshold) for label in kept}
    for label, ring in rings.items():
        if ring is None:
            continue
        rows, cols = boxes[label - 1]
        r0, c0 = rows.start, cols.start
        inside = labels[rows, cols] == label
        values = probability[rows, cols][inside]
        original_rc = geometry.working_to_original(ring)
        contour_xy = original_rc[:, ::-1]
        known = spacing_mm is not None and not geometry.spacing_assumed
        area = int(sizes[label]) * working_pixel_mm2 if known else None
        diameter = None
        if known:
            scaled = original_rc * np.asarray(spacing_mm)
            diameter = _longest_chord(scaled)
        centroid = (np.argwhere(inside) + [r0, c0]).mean(axis=0)
        centroid_rc = geometry.working_to_original(centroid[None])[0]
        x0, y0 = contour_xy.min(axis=0)
        x1, y1 = contour_xy.max(axis=0)
        lesions.append(
            Lesion(
                index=0,
                contour_xy=contour_xy,
                max_probability=float(values.max()),
                mean_probability=float(values.mean()),
                area_mm2=area,
                longest_diameter_mm=diameter,
                centroid_xy=(float(centroid_rc[1]), float(centroid_rc[0])),
                bbox_xywh=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
            )
        )
    lesions.sort(key=lambda lesion: -lesion.max_probability)
    return [Lesion(**{**lesion.__dict__, "index": i + 1}) for i, lesion in enumerate(lesions)]


def lesion_mask(probability: np.ndarray, threshold: float, geometry: Geometry) -> np.ndarray:
    """The lesions at ``threshold`` as a boolean mask in ORIGINAL pixels: the same regions
    :func:`find_lesions` outlines (specks dropped), resampled from the working map."""
    mask = probability >= threshold
    if not mask.any():
        return np.zeros(geometry.original_shape, dtype=bool)
    from skimage import measure

    labels = measure.label(mask, connectivity=2)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_region_pixels(geometry.working_spacing_mm)
    keep[0] = False
    return geometry.to_original(keep[labels].astype(np.float32)) >= 0.5
