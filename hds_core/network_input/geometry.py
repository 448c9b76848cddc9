"""How a working image relates to the original mammogram: crop box, scale and flip, and the
way back for maps, masks and points."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def interpolate(values: np.ndarray, size: tuple[int, int], mode: str, **options) -> np.ndarray:
    """torch's resampling of a 2-D array (imported here: reading a film's level and drawing it
    need no torch; only resampling does)."""
    import torch
    from torch.nn import functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=size, mode=mode, **options)[0, 0].numpy()


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
    # The nipple, in working pixels (row, col): the breast's point farthest from the chest
    # wall (column 0 of the working image). Comparing a finding with the prior places it from
    # here; None for a geometry made without the breast's outline.
    nipple_rc: tuple[float, float] | None = None

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
        resized = interpolate(data, (r1 - r0, c1 - c0), "bilinear", align_corners=False)
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
        resized = interpolate(mask[r0:r1, c0:c1], self.working_shape, "area") > 0.5
        return resized[:, ::-1].copy() if self.flipped else resized
