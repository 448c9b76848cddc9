"""Where a mark lies in the breast, as a report says it (BI-RADS atlas): the breast, the clock
face, the depth third and the distance from the nipple in mm. Qt-free; the viewer's marks and
the AI's findings are located alike.

A view's breast frame comes from its pixels (the breast's outline, its chest wall, its nipple:
the breast's point farthest from the chest wall) and from Patient Orientation, which says which
way the image's rows run: on a CC toward the patient's left or right, on an MLO toward the feet
or the head (approximately: the view is oblique). The clock face is read facing the woman: 12
is up, 3 o'clock her left. One CC mark gives the side (inner or outer: 3 or 9 o'clock), one MLO
mark gives up or down (12 or 6); a finding marked on both gets its hour from the two offsets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THIRDS = ("anterior", "middle", "posterior")


@dataclass(frozen=True)
class BreastFrame:
    """One view's breast, in full-image pixels (x = column, y = row)."""

    nipple_xy: tuple[float, float]
    chest_wall_x: float  # the column of the chest wall's edge of the breast
    spacing_mm: tuple[float, float] | None  # (row, column) mm per full-image pixel
    down: str | None  # what increasing rows point to: "L" or "R" (CC), "F" or "H" (MLO); None: unknown


@dataclass(frozen=True)
class MarkLocation:
    depth_fraction: float  # 0 at the nipple, 1 at the chest wall
    third: str  # anterior, middle or posterior
    nipple_distance_mm: float | None  # None where the image has no pixel spacing
    left_mm: float | None  # on a CC: toward the woman's left (negative: her right); else None
    up_mm: float | None  # on an MLO: toward her head (negative: her feet); else None


def breast_frame(
    breast: np.ndarray, scale: float, spacing_mm, patient_orientation, view_family: str | None
) -> BreastFrame | None:
    """The frame of a breast mask taken from an image ``scale`` times smaller than the full
    image (a reduced level: 2 ** level). None where the mask holds no breast."""
    from ..io.orientation import chest_wall_on_right

    columns = np.flatnonzero(breast.any(axis=0))
    if columns.size < 2:
        return None
    chest_right = chest_wall_on_right(breast)
    width = max(
        1, int(0.02 * (columns[-1] - columns[0] + 1))
    )  # the last 2 % of its depth: one stray pixel does not decide
    if chest_right:
        chest_x, far = columns[-1] + 1, columns[0]
        band = breast[:, far : far + width]
    else:
        chest_x, far = columns[0], columns[-1]
        band = breast[:, far + 1 - width : far + 1]
    rows = np.flatnonzero(band.any(axis=1))
    if rows.size == 0:
        return None

    def full(index: float) -> float:  # a reduced level's pixel centre, in full-image pixel indices
        return (index + 0.5) * scale - 0.5

    nipple = (full(far), full((rows[0] + rows[-1]) / 2))
    return BreastFrame(nipple, chest_x * scale - 0.5, spacing_mm, _down(patient_orientation, view_family))


def _down(patient_orientation, family: str | None) -> str | None:
    if not patient_orientation or len(patient_orientation) < 2:
        return None
    column = str(patient_orientation[1]).upper()  # the direction of increasing row index
    if family == "CC":
        return "L" if "L" in column and "R" not in column else "R" if "R" in column and "L" not in column else None
    if family == "MLO":
        return "F" if "F" in column and "H" not in column else "H" if "H" in column and "F" not in column else None
    return None


def locate(frame: BreastFrame, x: float, y: float) -> MarkLocation:
    """Where the point (x, y) of the full image lies in ``frame``'s breast."""
    nx, ny = frame.nipple_xy
    depth = abs(frame.chest_wall_x - nx) or 1.0
    fraction = min(max(abs(x - nx) / depth, 0.0), 1.0)
    third = THIRDS[min(int(fraction * 3), 2)]
    distance = across = None
    if frame.spacing_mm is not None:
        row_mm, column_mm = frame.spacing_mm
        distance = math.hypot((x - nx) * column_mm, (y - ny) * row_mm)
        across = (y - ny) * row_mm  # along increasing rows
    left = up = None
    if across is not None and frame.down in ("L", "R"):
        left = across if frame.down == "L" else -across
    if across is not None and frame.down in ("F", "H"):
        up = across if frame.down == "H" else -across
    return MarkLocation(fraction, third, distance, left, up)


def clock_face(left_mm: float | None, up_mm: float | None, *, near_mm: float = 5.0) -> str | None:
    """The hour facing the woman (3 o'clock: her left) from the offset toward her left (a CC
    mark) and toward her head (an MLO mark); "retroareolar" within ``near_mm`` of the nipple's
    line on every view given. None where neither is known."""
    if left_mm is None and up_mm is None:
        return None
    u, v = left_mm or 0.0, up_mm or 0.0
    if math.hypot(u, v) < near_mm:
        return "retroareolar"
    hour = round((90.0 - math.degrees(math.atan2(v, u))) / 30.0) % 12 or 12
    return f"{hour} o'clock"


def quadrant(laterality: str | None, left_mm: float | None, up_mm: float | None) -> str | None:
    """Upper/lower and inner/outer, as far as the marks tell (the outer side of the right breast
    is the woman's right)."""
    parts = []
    if up_mm is not None and abs(up_mm) >= 5.0:
        parts.append("upper" if up_mm > 0 else "lower")
    if left_mm is not None and abs(left_mm) >= 5.0 and laterality in ("R", "L"):
        toward_left = left_mm > 0
        outer = toward_left if laterality == "L" else not toward_left
        parts.append("outer" if outer else "inner")
    return " ".join(parts) or None
