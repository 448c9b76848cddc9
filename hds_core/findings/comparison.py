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
CC_FAMILY = frozenset({"CC", "XCCL", "XCCM", "FB", "CV"})
MLO_FAMILY = frozenset({"MLO", "ML", "LM", "LMO", "SIO", "ISO"})


def view_family(view: str | None) -> str | None:
    """ "CC" or "MLO" for a view of either family; None for any other."""
    if not view:
        return None
    view = view.upper()
    if view in CC_FAMILY:
        return "CC"
    if view in MLO_FAMILY:
        return "MLO"
    return None


def stored_upside_down(side: str | None, family: str | None, patient_orientation) -> bool:
    """Whether an image is stored upside down against the hanging's convention, from its Patient
    Orientation's column direction: an MLO (or an unknown view running head-foot) whose
    columns run toward the head; a CC whose columns run toward its own lateral side. The
    viewer's hanging flips it; comparing two studies turns its offsets round."""
    col_dir = ((patient_orientation or ("", ""))[1] or "").upper() if patient_orientation else ""
    if not col_dir:
        return False
    if family == "MLO" or (family is None and ("F" in col_dir or "H" in col_dir)):
        return "H" in col_dir and "F" not in col_dir
    if family == "CC" and side:
        return side in col_dir and ("L" if side == "R" else "R") not in col_dir
    return False


def new_positions(current: list, prior: list, radius: float = MATCH_RADIUS) -> list[bool]:
    """For each current finding's (depth, offset), whether no prior finding lies within
    ``radius`` breast depths: the rule :func:`new_findings` applies, on places already made."""
    return [all(math.dist(here, there) > radius for there in prior) for here in current]


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
    lesions = current.lesions(threshold)
    here = [breast_position(current.geometry, *lesion.centroid_xy, flip_vertical=flips[0]) for lesion in lesions]
    return {lesion.index: new for lesion, new in zip(lesions, new_positions(here, before, radius), strict=True)}
