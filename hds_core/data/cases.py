"""A training/evaluation case: one image, its patient, its mass annotation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skimage import draw

from ..io import MammoImage, read_image
from ..network_input import NetworkInput, WorkingImage
from .errors import DatasetLayoutError


def read_mask(path: Path) -> np.ndarray:
    """A mask file as booleans: lesion where the value is above half the file's range (127 of
    255, 32767 of 65535), so the lossy edges of JPEG masks do not grow the lesion."""
    pixels = read_image(path).pixels
    if pixels.dtype == np.uint8:
        return pixels > 127
    if pixels.dtype == np.uint16:
        return pixels > 32767
    return pixels > 0


def _mask_of_size(candidates: list[Path], shape: tuple[int, int]) -> np.ndarray:
    """The one of ``candidates`` (an abnormality's mask and its crop, in either order) that
    has the image's size, as a mask; an error naming them when none has."""
    import pydicom

    for path in candidates:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise DatasetLayoutError(f"{path}: cannot read the ROI file ({exc})") from None
        if (int(header.get("Rows", 0)), int(header.get("Columns", 0))) == tuple(shape):
            return read_mask(path)
    raise DatasetLayoutError(
        f"no ROI mask of the image's size {shape[1]}x{shape[0]} among {', '.join(map(str, candidates)) or 'no files'}"
    )


@dataclass
class Case:
    case_id: str
    patient_id: str
    image_path: Path
    # Mass annotation in original pixel coordinates, any of: circles (row, col, radius),
    # polygons (N, 2) row/col arrays, or a mask file of the same size (non-zero = mass);
    # ``extra["mask_candidates"]``: per lesion, files of which the one of the image's size is
    # its mask (CBIS-DDSM's ROI mask and crop).
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    polygons: list[np.ndarray] = field(default_factory=list)
    mask_path: Path | None = None
    # Used when the file itself carries no spacing (film scans, PNG exports).
    spacing_mm: float | None = None
    laterality: str | None = None
    view: str | None = None
    # The KIND:PATH the case was loaded from: metrics are reported per dataset, never pooled.
    dataset: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def has_mass(self) -> bool:
        return bool(self.circles or self.polygons or self.extra.get("mask_has_mass"))

    def mass_mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        for row, col, radius in self.circles:
            rr, cc = draw.disk((row, col), radius, shape=shape)
            mask[rr, cc] = True
        for polygon in self.polygons:
            rr, cc = draw.polygon(polygon[:, 0], polygon[:, 1], shape=shape)
            mask[rr, cc] = True
        for candidates in self.extra.get("mask_candidates", []):
            mask |= _mask_of_size(candidates, shape)
        if self.mask_path is not None:
            other = read_mask(self.mask_path)
            if other.shape != shape:
                raise DatasetLayoutError(
                    f"{self.mask_path}: the mask is {other.shape[1]}x{other.shape[0]} pixels, "
                    f"its image {shape[1]}x{shape[0]}; masks must have their image's size"
                )
            mask |= other
        return mask

    def load(self) -> MammoImage:
        return read_image(self.image_path)

    def spacing(self, image: MammoImage) -> tuple[float, float] | None:
        if image.metadata.pixel_spacing_mm is not None:
            return image.metadata.pixel_spacing_mm
        return (self.spacing_mm, self.spacing_mm) if self.spacing_mm else None


@dataclass
class PreparedCase:
    """A case preprocessed to the working spacing: what training and evaluation consume."""

    case: Case
    working: WorkingImage
    mask: np.ndarray  # bool, working geometry

    @property
    def label(self) -> int:
        """1 for an image with a mass: its mask says, or its label where the dataset has
        image labels only (CMMD: no outlines)."""
        if self.case.extra.get("image_labels_only"):
            return int(self.case.has_mass)
        return int(self.mask.any())


def prepare(case: Case, working_spacing_mm: float) -> PreparedCase:
    image = case.load()
    working = NetworkInput(working_spacing_mm).prepare(image, case.spacing(image))
    mask = working.geometry.mask_to_working(case.mass_mask(image.full_shape))
    return PreparedCase(case, working, mask)
