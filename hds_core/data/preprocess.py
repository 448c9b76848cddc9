"""From a mammogram to the network's working image, and back.

One function (:func:`working_image`), used by training, evaluation and the Predictor alike,
so the model sees the same thing in all three:
0. the stored values taken down the resolution pyramid (``hds_core.io.levels``) to the
   coarsest level no coarser than the working spacing: the same values whether the file gave
   that level ready-made (a JPEG 2000 read at a reduced level) or it came from the full decode,
   so reading a film at that level changes nothing the network sees;
1. display rendering in [0, 1] (``MammoImage.model_input``: dense tissue bright, padding 0);
2. resampling the rest of the way to the working pixel spacing (default 0.4 mm);
3. crop to the breast (largest bright connected region, so film labels are dropped);
4. horizontal flip so the chest wall is on the LEFT (decided from the image itself:
   the side where the breast touches the edge; laterality tags are often wrong on films);
5. normalisation to zero mean, unit variance over breast pixels.
:class:`Geometry` records steps 2-4 so maps and contours go back to original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F

from ..io import ASSUMED_SPACING_MM, MammoImage, breast_mask, chest_wall_on_right
from ..io.image import plausible_spacing
from ..io.levels import input_level

DEFAULT_WORKING_SPACING_MM = 0.4
CROP_MARGIN_MM = 4.0


@dataclass(frozen=True)
class Geometry:
    """How a working image relates to the original: crop box, scale and flip."""

    original_shape: tuple[int, int]
    crop: tuple[int, int, int, int]  # row0, row1, col0, col1 in original pixels (exclusive ends)
    scale: tuple[float, float]  # working pixels per original pixel (rows, cols)
    flipped: bool  # working image is mirrored left-right relative to the original
    working_shape: tuple[int, int]
    working_spacing_mm: float
    spacing_assumed: bool

    def working_to_original(self, points_rc: np.ndarray) -> np.ndarray:
        """(N, 2) row/col points in the working image -> (N, 2) row/col in original pixels."""
        pts = np.asarray(points_rc, dtype=np.float64).copy()
        if self.flipped:
            pts[:, 1] = self.working_shape[1] - 1 - pts[:, 1]
        pts[:, 0] = self.crop[0] + (pts[:, 0] + 0.5) / self.scale[0] - 0.5
        pts[:, 1] = self.crop[2] + (pts[:, 1] + 0.5) / self.scale[1] - 0.5
        return pts

    def to_original(self, working_map: np.ndarray) -> np.ndarray:
        """A working-resolution map resampled into the original image's geometry (0 outside the crop)."""
        if working_map.shape != self.working_shape:
            raise ValueError(f"map shape {working_map.shape} is not the working shape {self.working_shape}")
        data = working_map[:, ::-1] if self.flipped else working_map
        r0, r1, c0, c1 = self.crop
        tensor = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))[None, None]
        resized = F.interpolate(tensor, size=(r1 - r0, c1 - c0), mode="bilinear", align_corners=False)[0, 0].numpy()
        out = np.zeros(self.original_shape, dtype=np.float32)
        out[r0:r1, c0:c1] = resized
        return out

    def in_full_pixels(self, reduction: int, full_shape: tuple[int, int]) -> Geometry:
        """This geometry, found on a reduced resolution level (``reduction`` original pixels per
        pixel), expressed in the full image's pixels: the crop scaled up (cut at the image's
        edge, which the last reduced pixel may overhang) and the scale to match."""
        r0, r1, c0, c1 = self.crop
        crop = (r0 * reduction, min(r1 * reduction, full_shape[0]), c0 * reduction, min(c1 * reduction, full_shape[1]))
        scale = (self.working_shape[0] / (crop[1] - crop[0]), self.working_shape[1] / (crop[3] - crop[2]))
        return replace(self, original_shape=tuple(full_shape), crop=crop, scale=scale)

    def mask_to_working(self, mask: np.ndarray) -> np.ndarray:
        """An original-geometry binary mask to the working image (area-averaged, then > 0.5)."""
        r0, r1, c0, c1 = self.crop
        crop = torch.from_numpy(np.ascontiguousarray(mask[r0:r1, c0:c1], dtype=np.float32))[None, None]
        resized = F.interpolate(crop, size=self.working_shape, mode="area")[0, 0].numpy() > 0.5
        return resized[:, ::-1].copy() if self.flipped else resized


@dataclass
class WorkingImage:
    image: np.ndarray  # float32 (H, W), normalised
    breast: np.ndarray  # bool (H, W)
    geometry: Geometry
    warnings: list[str]


def working_image(
    image: MammoImage,
    spacing_mm: tuple[float, float] | None,
    *,
    working_spacing_mm: float = DEFAULT_WORKING_SPACING_MM,
    crop_to_breast: bool = True,
) -> WorkingImage:
    """The network's input from ``image`` at any resolution level finer than or at
    :func:`input_level` (``spacing_mm``: the full image's; None when unknown)."""
    image = image.at_level(input_level(spacing_mm, working_spacing_mm))
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
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    downscaling = scale[0] < 1 or scale[1] < 1
    return F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=downscaling)[
        0, 0
    ].numpy()


def preprocess(
    values: np.ndarray,
    spacing_mm: tuple[float, float] | None,
    *,
    working_spacing_mm: float = DEFAULT_WORKING_SPACING_MM,
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
        spacing_mm = (ASSUMED_SPACING_MM, ASSUMED_SPACING_MM)
        warnings.append(f"pixel spacing unknown: assumed {ASSUMED_SPACING_MM} mm")
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
    )
    if reduction > 1:
        geometry = geometry.in_full_pixels(reduction, full_shape)
    return WorkingImage(np.ascontiguousarray(image), np.ascontiguousarray(breast), geometry, warnings)
