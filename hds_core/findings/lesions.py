"""Lesions from a probability map at any threshold, without rerunning the network.

Regions and contours are traced on the working-resolution map (small: fast enough to
follow a slider) and the contour points are mapped to original pixel coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..network_input import Geometry
from .rings import Rings, outer_rings


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


def _longest_chord(points: np.ndarray) -> float:
    """The largest distance between two of ``points``: every pair, or the convex hull's vertices
    first when there are many (the farthest pair lies on the hull, so the answer is the same)."""
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


# Up to this many candidate points a ring's pairs are all measured together with the other
# rings'; a ring with more goes to the convex hull on its own.
_ALL_PAIRS_UP_TO = 160
# The eight directions whose extreme points make each ring's inner octagon.
_OCTAGON = np.array([(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)], dtype=np.float64)


def _first_of_each(rings_of: np.ndarray, flags: np.ndarray, count: int) -> np.ndarray:
    """Per ring, the index of its first flagged point (every ring has one)."""
    flagged = np.flatnonzero(flags)
    first = np.full(count, -1, dtype=np.int64)
    first[rings_of[flagged][::-1]] = flagged[::-1]
    return first


def longest_chords(points: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`_longest_chord` of every ring of the packed ``points`` (``lengths`` each), for all
    rings at once. The farthest pair of a ring are vertices of its convex hull, so a point strictly
    inside the octagon of the ring's extreme points in eight directions (Akl and Toussaint) is
    never one of them: those are dropped (most of a round outline) and the pairs of what is left
    are measured together, each distance computed as :func:`_longest_chord` computes it. A point
    on or near the octagon's edge is kept, so rounding can only keep a point, never lose one."""
    count = len(lengths)
    chords = np.zeros(count)
    if not count:
        return chords
    rings_of = np.repeat(np.arange(count), lengths)
    starts = np.cumsum(lengths) - lengths
    projections = points @ _OCTAGON.T  # (N, 8)
    corners = np.empty((count, 8, 2))
    for k in range(8):
        highest = np.maximum.reduceat(projections[:, k], starts)
        corners[:, k] = points[_first_of_each(rings_of, projections[:, k] == highest[rings_of], count)]
    # The octagon's corners in angular order; each point against each of its eight edges.
    edges = np.roll(corners, -1, axis=1) - corners  # (rings, 8, 2)
    edge_of = edges[rings_of]
    to_point = points[:, None, :] - corners[rings_of]
    cross = edge_of[..., 0] * to_point[..., 1] - edge_of[..., 1] * to_point[..., 0]  # (N, 8)
    # Rounding in a cross product is a few units in the last place of extent**2: a point
    # within this margin of an edge's line counts as on it (kept).
    margin = 1e-9 * (float(np.abs(points).max()) + 1.0) ** 2
    degenerate = (edges == 0).all(-1)[rings_of]
    inside = (((cross > margin) | degenerate).all(1) | ((cross < -margin) | degenerate).all(1)) & ~degenerate.all(1)
    kept = ~inside
    kept_counts = np.bincount(rings_of[kept], minlength=count)
    candidates = points[kept]
    candidate_ring = rings_of[kept]
    few = (kept_counts >= 2) & (kept_counts <= _ALL_PAIRS_UP_TO)
    # Every pair of each ring with few candidates: ring r's m**2 pairs (i, j) in a row.
    order = np.flatnonzero(few[candidate_ring])
    chosen = candidates[order]
    m = kept_counts[few]
    if len(m):
        local_start = np.cumsum(m) - m
        pair_ring = np.repeat(np.arange(len(m)), m * m)
        pair_offset = np.cumsum(m * m) - m * m
        q = np.arange(int((m * m).sum())) - pair_offset[pair_ring]
        i = local_start[pair_ring] + q // m[pair_ring]
        j = local_start[pair_ring] + q % m[pair_ring]
        deltas = chosen[i] - chosen[j]
        squared = (deltas**2).sum(-1)
        chords[np.flatnonzero(few)] = np.sqrt(np.maximum.reduceat(squared, pair_offset))
    for ring in np.flatnonzero(kept_counts > _ALL_PAIRS_UP_TO):
        chords[ring] = _longest_chord(candidates[candidate_ring == ring])
    return chords


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


def _region_statistics(probability: np.ndarray, labels: np.ndarray, regions: np.ndarray):
    """The largest and the mean probability and the centroid (row, col) of each of ``regions``
    (label numbers, ascending), from one sort of the labelled pixels by label. The centroid is
    the mean of whole pixel coordinates, summed exactly; the mean probability is summed in
    float64."""
    where = np.flatnonzero(labels)
    pixel_labels = labels.ravel()[where]
    order = np.argsort(pixel_labels, kind="stable")
    where, pixel_labels = where[order], pixel_labels[order]
    starts = np.flatnonzero(np.r_[True, pixel_labels[1:] != pixel_labels[:-1]])  # every label present
    chosen = np.searchsorted(pixel_labels[starts], regions)
    counts = np.diff(np.r_[starts, len(where)])[chosen]
    values = probability.ravel()[where]
    rows, cols = np.divmod(where, labels.shape[1])
    maxima = np.maximum.reduceat(values, starts)[chosen]
    means = np.add.reduceat(values.astype(np.float64), starts)[chosen] / counts
    centroids = (
        np.stack([np.add.reduceat(rows, starts)[chosen], np.add.reduceat(cols, starts)[chosen]], axis=1)
        / counts[:, None]
    )
    return maxima, means, centroids


def find_lesions(
    probability: np.ndarray, threshold: float, geometry: Geometry, spacing_mm: tuple[float, float] | None
) -> list[Lesion]:
    """Connected regions of ``probability >= threshold``, largest probability first.

    ``spacing_mm`` is the ORIGINAL image's spacing (row, col) or None when unknown. Every region
    is measured in the same array operations as the others (a view may hold a hundred regions at
    a low threshold, and the slider redraws them all at each step)."""
    mask = probability >= threshold
    if not mask.any():
        return []
    # Imported here: the viewer's window opens before scikit-image and SciPy are needed.
    from scipy import ndimage
    from skimage import measure

    labels = measure.label(mask, connectivity=2)
    # Specks are dropped before anything is traced or measured: at a low threshold most
    # regions are specks, and measuring each one cost more than the lesions.
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_region_pixels(geometry.working_spacing_mm)
    keep[0] = False
    boxes = ndimage.find_objects(labels)
    kept = np.flatnonzero(keep)
    rings = outer_rings(probability, labels, kept, threshold, boxes)  # all at once: the slider follows
    if rings is None:
        rings = Rings.from_dict(
            {int(label): _traced_alone(probability, labels, int(label), boxes, threshold) for label in kept}
        )
    if not len(rings):
        return []
    regions = rings.labels
    maxima, totals, centroids = _region_statistics(probability, labels, regions)
    centroids_rc = geometry.working_to_original(centroids)
    original_rc = geometry.working_to_original(rings.points)
    contour_xy = original_rc[:, ::-1]
    starts = rings.starts
    low = np.minimum.reduceat(contour_xy, starts)
    high = np.maximum.reduceat(contour_xy, starts)
    known = spacing_mm is not None and not geometry.spacing_assumed
    if known:
        diameters = longest_chords(original_rc * np.asarray(spacing_mm), rings.lengths)
        areas = sizes[regions] * geometry.working_spacing_mm**2
    lesions = []
    for i in sorted(range(len(regions)), key=lambda i: -float(maxima[i])):
        start, stop = int(starts[i]), int(starts[i] + rings.lengths[i])
        (x0, y0), (x1, y1) = low[i], high[i]
        lesions.append(
            Lesion(
                index=len(lesions) + 1,
                contour_xy=contour_xy[start:stop],
                max_probability=float(maxima[i]),
                mean_probability=float(totals[i]),
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
