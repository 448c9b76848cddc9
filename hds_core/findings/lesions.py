"""Lesions from a probability map at any threshold, without rerunning the network.

Regions and contours are traced on the working-resolution map (small: fast enough to
follow a slider) and the contour points are mapped to original pixel coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..network_input import Geometry
from .rings import Regions, Rings, longest_chords, trace_regions


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
    """Import what outlining lesions may need (scikit-image, SciPy: 0.3 s) now, on the caller's
    thread: the viewer's engine does it while it loads, so no contour stalls the window."""
    import scipy.ndimage  # noqa: F401
    import skimage.measure  # noqa: F401


# Regions smaller than this (at the working spacing) are specks, not lesions: neither drawn
# nor counted as false positives by hds-eval. The smallest mass in mini-MIAS is ~36 mm².
MIN_LESION_AREA_MM2 = 5.0


def min_region_pixels(working_spacing_mm: float) -> int:
    return max(1, math.ceil(MIN_LESION_AREA_MM2 / working_spacing_mm**2 - 1e-9))


def _traced_alone(probability, labels, label, boxes, threshold) -> np.ndarray | None:
    """One region's longest ring by scikit-image on its own padded box (what rings.py's compiled
    pass reproduces for all regions at once, when every region pixel is above the threshold)."""
    from skimage import measure

    rows, cols = boxes[label - 1]
    inside = labels[rows, cols] == label
    patch = np.pad(np.where(inside, probability[rows, cols], 0.0), 1)
    contours = measure.find_contours(patch, threshold)
    if not contours:
        return None
    return max(contours, key=len) + np.array([rows.start - 1, cols.start - 1])


def _traced_one_by_one(probability: np.ndarray, threshold: float, regions: Regions) -> Regions:
    """``regions`` (measured, not traced: a pixel lies exactly at the threshold) with the rings
    scikit-image traces on each alone; a region it finds no ring around is dropped."""
    from scipy import ndimage
    from skimage import measure

    labels = measure.label(probability >= threshold, connectivity=2)  # numbered as _outline.c numbers them
    boxes = ndimage.find_objects(labels)
    traced = {int(label): _traced_alone(probability, labels, int(label), boxes, threshold) for label in regions.labels}
    rings = Rings.from_dict(traced)
    return regions.subset(np.searchsorted(regions.labels, rings.labels), rings)


def find_lesions(
    probability: np.ndarray, threshold: float, geometry: Geometry, spacing_mm: tuple[float, float] | None
) -> list[Lesion]:
    """Connected regions of ``probability >= threshold``, largest probability first.

    ``spacing_mm`` is the ORIGINAL image's spacing (row, col) or None when unknown. The regions
    are found, measured and outlined in one compiled pass (rings.py: a view may hold a hundred
    regions at a low threshold, and the slider redraws them all at each step)."""
    regions = trace_regions(probability, threshold, min_region_pixels(geometry.working_spacing_mm))
    if regions.rings is None:
        regions = _traced_one_by_one(probability, threshold, regions)
    rings = regions.rings
    if not len(rings):
        return []
    maxima, means = regions.maxima, regions.means
    centroids_rc = geometry.working_to_original(regions.centroids)
    original_rc = geometry.working_to_original(rings.points)
    contour_xy = original_rc[:, ::-1]
    starts = rings.starts
    low = np.minimum.reduceat(contour_xy, starts)
    high = np.maximum.reduceat(contour_xy, starts)
    known = spacing_mm is not None and not geometry.spacing_assumed
    if known:
        diameters = longest_chords(original_rc * np.asarray(spacing_mm), rings.lengths)
        areas = regions.counts * geometry.working_spacing_mm**2
    lesions = []
    for i in sorted(range(len(rings)), key=lambda i: -float(maxima[i])):
        start, stop = int(starts[i]), int(starts[i] + rings.lengths[i])
        (x0, y0), (x1, y1) = low[i], high[i]
        lesions.append(
            Lesion(
                index=len(lesions) + 1,
                contour_xy=contour_xy[start:stop],
                max_probability=float(maxima[i]),
                mean_probability=float(means[i]),
                area_mm2=float(areas[i]) if known else None,
                longest_diameter_mm=float(diameters[i]) if known else None,
                centroid_xy=(float(centroids_rc[i, 1]), float(centroids_rc[i, 0])),
                bbox_xywh=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
            )
        )
    return lesions


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
