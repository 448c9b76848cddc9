"""From a mammogram to the network's working image, and back.

One function (:func:`working_image`), used by training, evaluation, the Predictor and the
viewer alike, so the model sees the same thing in all of them:
0. the stored values taken down the resolution pyramid (:func:`.level.input_level`) to the
   coarsest level no coarser than the working spacing: the same values whether the file gave
   that level ready-made (a JPEG 2000 read at a reduced level) or it came from the full decode,
   so reading a film at that level changes nothing the network sees;
1. display rendering in [0, 1] (``MammoImage.model_input``: dense tissue bright, padding 0);
2. resampling the rest of the way to the working pixel spacing (the weights' ``working_spacing_mm``);
3. crop to the breast (largest bright connected region, so film labels are dropped);
4. horizontal flip so the chest wall is on the LEFT (decided from the image itself:
   the side where the breast touches the edge; laterality tags are often wrong on films);
5. normalisation to zero mean, unit variance over breast pixels.
:class:`Geometry` records steps 2-4 so maps and contours go back to original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import MammoImage, breast_mask, chest_wall_on_right
from ..io.image import estimated_spacing_mm, plausible_spacing, spacing_estimate_note
from .geometry import Geometry, interpolate
from .level import input_level

CROP_MARGIN_MM = 4.0


@dataclass
class WorkingImage:
    image: np.ndarray  # float32 (H, W), normalised
    breast: np.ndarray  # bool (H, W)
    geometry: Geometry
    warnings: list[str]


def nipple(breast: np.ndarray) -> tuple[float, float] | None:
    """The breast's farthest point from the chest wall (on the left of ``breast``): the middle
    of its outline's last columns (the last 2 % of its depth, so one stray pixel does not
    decide), as (row, col)."""
    columns = np.flatnonzero(breast.any(axis=0))
    if columns.size == 0:
        return None
    last = columns[-1]
    band = breast[:, max(last - max(1, int(0.02 * (last + 1))), 0) : last + 1]
    rows = np.flatnonzero(band.any(axis=1))
    return float((rows[0] + rows[-1]) / 2), float(last)


def working_image(
    image: MammoImage,
    spacing_mm: tuple[float, float] | None,
    *,
    working_spacing_mm: float,
    crop_to_breast: bool = True,
) -> WorkingImage:
    """The network's input from ``image`` at any resolution level finer than or at
    :func:`input_level` (``spacing_mm``: the full image's; None when unknown)."""
    image = image.at_level(input_level(spacing_mm or image.metadata.spacing_for_network, working_spacing_mm))
    return preprocess(
        image.model_input(),
        spacing_mm,
        working_spacing_mm=working_spacing_mm,
        padding=image.padding,
        crop_to_breast=crop_to_breast,
        reduction=image.reduction,
        full_shape=image.full_shape,
    )


def resample(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    height = max(1, round(values.shape[0] * scale[0]))
    width = max(1, round(values.shape[1] * scale[1]))
    downscaling = scale[0] < 1 or scale[1] < 1
    return interpolate(values, (height, width), "bilinear", align_corners=False, antialias=downscaling)


def preprocess(
    values: np.ndarray,
    spacing_mm: tuple[float, float] | None,
    *,
    working_spacing_mm: float,
    padding: np.ndarray | None = None,
    crop_to_breast: bool = True,
    reduction: int = 1,
    full_shape: tuple[int, int] | None = None,
) -> WorkingImage:
    """``values``: display values in [0, 1] (``MammoImage.model_input()``), original geometry,
    or a reduced resolution level of it (``reduction`` original pixels per pixel, the image
    ``full_shape`` at full resolution): ``spacing_mm`` is always the original pixels', and the
    geometry maps to original pixels."""
    warnings: list[str] = []
    assumed = spacing_mm is None
    if assumed:
        # The estimate from the image's size (io.image.estimated_spacing_mm), labelled as such.
        shape = full_shape or (values.shape[0] * reduction, values.shape[1] * reduction)
        estimate = estimated_spacing_mm(shape)
        spacing_mm = (estimate, estimate)
        warnings.append(spacing_estimate_note(estimate))
    if not plausible_spacing(spacing_mm):
        # Readers refuse such headers (io/image.py); a caller passing one is a bug, not input.
        raise ValueError(f"pixel spacing {spacing_mm} mm is not a mammogram's")
    scale = (spacing_mm[0] * reduction / working_spacing_mm, spacing_mm[1] * reduction / working_spacing_mm)
    original_shape = values.shape
    if padding is not None:
        values = np.where(padding, np.float32(0), values)
    small = resample(values, scale)
    scale = (small.shape[0] / original_shape[0], small.shape[1] / original_shape[1])
    breast = breast_mask(small) if crop_to_breast else np.ones(small.shape, dtype=bool)

    if crop_to_breast:
        rows, cols = np.nonzero(breast)
        margin = int(round(CROP_MARGIN_MM / working_spacing_mm))
        wr0, wr1 = max(rows.min() - margin, 0), min(rows.max() + 1 + margin, small.shape[0])
        wc0, wc1 = max(cols.min() - margin, 0), min(cols.max() + 1 + margin, small.shape[1])
    else:
        wr0, wr1, wc0, wc1 = 0, small.shape[0], 0, small.shape[1]
    # The crop in original pixels, and the working image cut exactly there.
    r0, r1 = int(np.floor(wr0 / scale[0])), min(int(np.ceil(wr1 / scale[0])), original_shape[0])
    c0, c1 = int(np.floor(wc0 / scale[1])), min(int(np.ceil(wc1 / scale[1])), original_shape[1])
    working = small[wr0:wr1, wc0:wc1]
    breast = breast[wr0:wr1, wc0:wc1]
    exact_scale = (working.shape[0] / (r1 - r0), working.shape[1] / (c1 - c0))

    flipped = chest_wall_on_right(breast)
    if flipped:
        working, breast = working[:, ::-1], breast[:, ::-1]
    pixels = working[breast] if breast.any() else working.ravel()
    mean, std = float(pixels.mean()), float(pixels.std())
    image = ((working - mean) / max(std, 1e-3)).astype(np.float32)
    geometry = Geometry(
        original_shape=tuple(original_shape),
        crop=(r0, r1, c0, c1),
        scale=exact_scale,
        flipped=flipped,
        working_shape=tuple(image.shape),
        working_spacing_mm=working_spacing_mm,
        spacing_assumed=assumed,
        nipple_rc=nipple(breast) if crop_to_breast else None,
    )
    if reduction > 1:
        geometry = geometry.in_full_pixels(reduction, full_shape)
    return WorkingImage(np.ascontiguousarray(image), np.ascontiguousarray(breast), geometry, warnings)
