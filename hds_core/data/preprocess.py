"""From a mammogram to the network's working image, and back.

One function, used by training, evaluation and the Predictor alike, so the model sees the
same thing in all three:
1. display rendering in [0, 1] (``MammoImage.model_input``: dense tissue bright, padding 0);
2. resampling to the working pixel spacing (default 0.4 mm) from the file's spacing;
3. crop to the breast (largest bright connected region, so film labels are dropped);
4. horizontal flip so the chest wall is on the LEFT (decided from the image itself:
   the side where the breast touches the edge; laterality tags are often wrong on films);
5. normalisation to zero mean, unit variance over breast pixels.
:class:`Geometry` records steps 2-4 so maps and contours go back to original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..io import breast_mask, chest_wall_on_right

DEFAULT_WORKING_SPACING_MM = 0.4
# When a file has no spacing (PNG exports, scanned films) this is assumed and the
# result carries a warning: 0.1 mm is typical of digital mammography detectors.
FALLBACK_SPACING_MM = 0.1
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


def resample(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    height = max(1, round(values.shape[0] * scale[0]))
    width = max(1, round(values.shape[1] * scale[1]))
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    downscaling = scale[0] < 1 or scale[1] < 1
    return F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=downscaling)[0, 0].numpy()


def preprocess(
    values: np.ndarray,
    spacing_mm: tuple[float, float] | None,
    *,
    working_spacing_mm: float = DEFAULT_WORKING_SPACING_MM,
    padding: np.ndarray | None = None,
    crop_to_breast: bool = True,
) -> WorkingImage:
    """``values``: display values in [0, 1] (``MammoImage.model_input()``), original geometry."""
    warnings: list[str] = []
    assumed = spacing_mm is None
    if assumed:
        spacing_mm = (FALLBACK_SPACING_MM, FALLBACK_SPACING_MM)
        warnings.append(f"pixel spacing unknown: assumed {FALLBACK_SPACING_MM} mm")
    scale = (spacing_mm[0] / working_spacing_mm, spacing_mm[1] / working_spacing_mm)
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
        original_shape=tuple(original_shape), crop=(r0, r1, c0, c1), scale=exact_scale, flipped=flipped,
        working_shape=tuple(image.shape), working_spacing_mm=working_spacing_mm, spacing_assumed=assumed)
    return WorkingImage(np.ascontiguousarray(image), np.ascontiguousarray(breast), geometry, warnings)
