"""New since the prior: a finding on the current image with no finding near the same place
in the prior's same view. Places are compared in the breast's own frame, not in raw pixels
(two years apart, the breast is compressed, positioned and cropped differently): from the
nipple, the breast's point farthest from the chest wall, in fractions of the breast's depth
(nipple to chest wall). A reader asks the same: "is there something at 2 o'clock, mid depth,
on the old film?"."""

from __future__ import annotations

import math

from ..network_input import Geometry
from .prediction import Prediction

# How far apart (in breast depths) a current and a prior finding may lie and still be one:
# a fifth of the depth, about 2 cm in a 10 cm breast, is what positioning moves a mass
# between two screening rounds.
MATCH_RADIUS = 0.2


def _working_point(geometry: Geometry, x: float, y: float) -> tuple[float, float]:
    """An original pixel (x, y) in working pixels (row, col), chest wall at column 0."""
    row = (y - geometry.crop[0] + 0.5) * geometry.scale[0] - 0.5
    col = (x - geometry.crop[2] + 0.5) * geometry.scale[1] - 0.5
    if geometry.flipped:
        col = geometry.working_shape[1] - 1 - col
    return row, col


def breast_position(geometry: Geometry, x: float, y: float, *, flip_vertical: bool = False) -> tuple[float, float]:
    """(depth, offset) of an original pixel: depth from the nipple toward the chest wall and
    offset across the breast from the nipple's line, both in breast depths. ``flip_vertical``:
    the image is stored upside down against its pair (the hanging knows, from Patient
    Orientation), so its offsets are turned round."""
    row, col = _working_point(geometry, x, y)
    nipple_row, nipple_col = geometry.nipple_rc or (geometry.working_shape[0] / 2, geometry.working_shape[1] - 1)
    depth = max(nipple_col, 1.0)
    offset = (row - nipple_row) / depth
    return (nipple_col - col) / depth, -offset if flip_vertical else offset


def new_findings(
    current: Prediction,
    prior: Prediction,
    threshold: float,
    *,
    flips: tuple[bool, bool] = (False, False),
    radius: float = MATCH_RADIUS,
) -> dict[int, bool]:
    """Lesion index -> True where the current image's lesion (at ``threshold``) has no lesion
    of the prior's same view within ``radius`` breast depths. ``flips``: whether each image
    (current, prior) is stored upside down against the other."""
    before = [
        breast_position(prior.geometry, *lesion.centroid_xy, flip_vertical=flips[1])
        for lesion in prior.lesions(threshold)
    ]
    found = {}
    for lesion in current.lesions(threshold):
        here = breast_position(current.geometry, *lesion.centroid_xy, flip_vertical=flips[0])
        found[lesion.index] = all(math.dist(here, there) > radius for there in before)
    return found
