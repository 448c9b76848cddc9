"""The network's input, defined once: the working image (breast crop at the weights' working
spacing, chest wall on the left, z-scored), its geometry back to the film, the resolution
level it is read from and the value it is padded with. Training, evaluation, inference and
the viewer's decoder all take it from here; it imports only ``hds_core.io``."""

from __future__ import annotations

from dataclasses import dataclass

from .geometry import Geometry
from .level import input_level
from .padding import pad_value
from .working import CROP_MARGIN_MM, WorkingImage, preprocess, resample, working_image

__all__ = [
    "CROP_MARGIN_MM",
    "Geometry",
    "NetworkInput",
    "WorkingImage",
    "input_level",
    "pad_value",
    "preprocess",
    "resample",
    "working_image",
]


@dataclass(frozen=True)
class NetworkInput:
    """The input of one set of weights (their working spacing): which level of a film to read
    for it, and the working image from that level. Small and picklable: the viewer's decoder
    processes take it, and ``hds_core.io.read_preview`` asks it for the level."""

    working_spacing_mm: float

    def level(self, spacing_mm: tuple[float, float] | None) -> int:
        return input_level(spacing_mm, self.working_spacing_mm)

    def prepare(self, image, spacing_mm: tuple[float, float] | None, *, crop_to_breast: bool = True) -> WorkingImage:
        return working_image(
            image, spacing_mm, working_spacing_mm=self.working_spacing_mm, crop_to_breast=crop_to_breast
        )
