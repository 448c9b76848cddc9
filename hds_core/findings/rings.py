"""The regions of a probability map at a level, measured and outlined in one compiled pass.

The threshold slider redraws every view's lesions at each step: labelling the regions, measuring
them and outlining each with ``skimage.measure.find_contours`` on its own padded box took longer
than a frame in NumPy and scikit-image (a view holds a hundred regions at a low threshold, and
the array operations were many and small). ``_outline.c`` does it in one pass over the map and
gives what those calls gave, point for point: regions numbered as scikit-image's ``label``
numbers them (8-connected, by first pixel in raster order), the same marching-squares segments
(scikit-image's table, low values fully connected), each ring starting where scikit-image's
assembly closes it (the end of the ring's last segment in scan order), a region's longest ring
kept (the first traced winning a tie), each coordinate computed in the same order of
floating-point operations, and the measures the NumPy code took. tests/inference/test_rings.py
holds it to scikit-image's per-region calls on random maps.

A pixel of a region exactly at the level makes scikit-image drop degenerate segments and pinch
rings there: then only the measures come back and the caller traces those regions one by one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:
    from . import _outline
except ImportError as error:  # a source checkout that pip has not built, or a build for another Python
    raise ImportError(
        f"{__package__}._outline, the compiled lesion pass, is not built for this Python: run "
        "`pip install -e .` in the project folder (it needs a C compiler; see the README)"
    ) from error


@dataclass(frozen=True)
class Rings:
    """One ring per region, packed: ``points`` holds every ring's (row, col) points one after
    the other (each closed: its first point repeated last), ``lengths`` how many each, ``labels``
    whose ring it is (ascending). Packed so that what is measured on them is measured for all
    regions in one array operation, not region by region."""

    labels: np.ndarray
    points: np.ndarray
    lengths: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths

    def __len__(self) -> int:
        return len(self.labels)

    def of(self, index: int) -> np.ndarray:
        start = int(self.starts[index])
        return self.points[start : start + int(self.lengths[index])]

    def as_dict(self) -> dict[int, np.ndarray]:
        return {int(label): self.of(i) for i, label in enumerate(self.labels)}

    @classmethod
    def from_dict(cls, rings: dict[int, np.ndarray | None]) -> Rings:
        kept = [(label, ring) for label, ring in sorted(rings.items()) if ring is not None and len(ring)]
        return cls(
            np.array([label for label, _ in kept], dtype=np.int64),
            np.concatenate([ring for _, ring in kept]) if kept else np.zeros((0, 2)),
            np.array([len(ring) for _, ring in kept], dtype=np.int64),
        )


@dataclass(frozen=True)
class Regions:
    """The regions of a map kept at a level (specks dropped), ascending by label number: their
    pixel counts, largest values, sums of values (float64) and of pixel rows and columns, and
    their rings (None when a pixel lies exactly at the level)."""

    labels: np.ndarray
    counts: np.ndarray
    maxima: np.ndarray
    sums: np.ndarray
    row_sums: np.ndarray
    col_sums: np.ndarray
    rings: Rings | None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def means(self) -> np.ndarray:
        return self.sums / self.counts

    @property
    def centroids(self) -> np.ndarray:
        """(row, col): the mean of whole pixel coordinates, summed exactly."""
        return np.stack([self.row_sums, self.col_sums], axis=1) / self.counts[:, None]

    def subset(self, chosen: np.ndarray, rings: Rings) -> Regions:
        """These measures of the regions ``chosen`` (indices), with ``rings`` traced for them."""
        return Regions(
            self.labels[chosen],
            self.counts[chosen],
            self.maxima[chosen],
            self.sums[chosen],
            self.row_sums[chosen],
            self.col_sums[chosen],
            rings,
        )


def trace_regions(values: np.ndarray, level: float, min_pixels: int) -> Regions:
    """The regions of ``values >= level`` (8-connected) of at least ``min_pixels`` pixels,
    measured, each with its longest ring around it as (N, 2) row/col points, closed (the first
    point repeated last), in the coordinates and the order ``find_contours`` gives on the
    region's box padded by one pixel with every other pixel 0, shifted back into the map's.
    ``values`` is read as float32 (the network's maps are)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    height, width = values.shape
    labels, counts, maxima, sums, row_sums, col_sums, points, lengths = _outline.trace(
        values, height, width, float(level), int(min_pixels)
    )

    def array(data, dtype):
        return np.frombuffer(data, dtype=dtype)

    labels = array(labels, np.int64)
    rings = None
    if points is not None:
        rings = Rings(labels, array(points, np.float64).reshape(-1, 2), array(lengths, np.int64))
    return Regions(
        labels,
        array(counts, np.int64),
        array(maxima, np.float32),
        array(sums, np.float64),
        array(row_sums, np.int64),
        array(col_sums, np.int64),
        rings,
    )


def longest_chords(points: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each ring of the packed ``points`` (``lengths`` each): the largest distance between two of
    its points, every pair but those strictly inside the octagon of the ring's extreme points in
    eight directions (Akl and Toussaint: never the farthest pair), in _outline.c."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    return np.frombuffer(_outline.chords(points, lengths), dtype=np.float64)


def thin_rings(
    points: np.ndarray, lengths: np.ndarray, tolerance: float, shortest: int
) -> tuple[np.ndarray, np.ndarray]:
    """The packed rings without the points within ``tolerance`` of the chord between their
    neighbours, every other point per pass, two passes, rings of fewer than ``shortest`` points
    kept whole (the viewer draws outlines so: mammo_viewer/pictures/outline_path.py says why)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    thinned, kept = _outline.thin(points, lengths, float(tolerance), int(shortest))
    return np.frombuffer(thinned, dtype=np.float64).reshape(-1, 2), np.frombuffer(kept, dtype=np.int64)
