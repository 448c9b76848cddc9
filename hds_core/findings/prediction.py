"""One image's result (:class:`Prediction`): the probability map at working resolution, the
scores, the provenance, and the lesions at any threshold without rerunning the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..network_input import Geometry
from .lesions import Lesion, find_lesions, lesion_mask
from .views import THIS_IMAGE, ViewKey


@dataclass
class Prediction:
    """One image's result. Maps at working resolution; :meth:`probability_map` gives the
    original geometry. Lesions at any threshold come from :meth:`lesions`."""

    path: Path | None
    # Image-level probability of "contains a mass": calibrated when the weights carry a
    # calibration, and from both breasts once compare_breasts has seen the other breast's view.
    score: float
    working_probability: np.ndarray  # float32 (h, w) at the working spacing
    geometry: Geometry
    spacing_mm: tuple[float, float] | None
    model_name: str
    weights_sha256: str
    device: str
    precision: str
    warnings: list[str] = field(default_factory=list)
    raw_score: float | None = None  # the network's own score, before calibration
    view_key: ViewKey = ViewKey(None, None, None)  # study, breast and view: how compare_breasts pairs images
    score_basis: str = THIS_IMAGE  # or BOTH_BREASTS
    single_image_score: float | None = None  # the calibrated score of this image alone
    domain: str | None = None  # "film", "digital" or None (the header's, else the pixels')
    spacing_estimate_mm: float | None = None  # what the network was given where the file has no spacing
    domain_source: str | None = None
    # The density suggestion (hds_core.density.DensitySuggestion.to_dict()), None without one.
    density: dict | None = None  # what said so ("header: Detector Type FILM", "pixels: film (97%; ...)")
    # True when ``score`` is a probability calibrated for this image's domain; False when it is
    # the network's raw score (the weights were calibrated on another domain, or not at all):
    # a rank among images of that domain, shown as such.
    calibrated: bool = True

    def __post_init__(self):
        # One contiguous copy, if the network's output was a view of a larger array:
        # every threshold's lesion pass reads it, and would copy it each time otherwise.
        self.working_probability = np.ascontiguousarray(self.working_probability)
        self._original: np.ndarray | None = None
        self._lesions: dict[float, list[Lesion]] = {}  # the last few thresholds: the panel and the views ask alike

    @property
    def max_probability(self) -> float:
        return float(self.working_probability.max()) if self.working_probability.size else 0.0

    def probability_map(self) -> np.ndarray:
        """Mass probability in the ORIGINAL image geometry (float32, 0 outside the breast crop)."""
        if self._original is None:
            self._original = self.geometry.to_original(self.working_probability)
        return self._original

    def lesions(self, threshold: float) -> list[Lesion]:
        if threshold not in self._lesions:
            if len(self._lesions) >= 4:
                self._lesions.pop(next(iter(self._lesions)))
            self._lesions[threshold] = find_lesions(self.working_probability, threshold, self.geometry, self.spacing_mm)
        return list(self._lesions[threshold])

    def lesion_mask(self, threshold: float) -> np.ndarray:
        """The lesions at ``threshold`` as a boolean mask in the original pixels."""
        return lesion_mask(self.working_probability, threshold, self.geometry)

    def to_dict(self, threshold: float) -> dict:
        return {
            "file": str(self.path) if self.path else None,
            "score": round(self.score, 4),
            "raw_score": round(self.raw_score if self.raw_score is not None else self.score, 4),
            "score_basis": self.score_basis,
            "single_image_score": round(
                self.single_image_score if self.single_image_score is not None else self.score, 4
            ),
            "max_probability": round(self.max_probability, 4),
            "domain": self.domain,
            "domain_source": self.domain_source,
            "density_suggestion": self.density,
            "score_is_calibrated_probability": self.calibrated,
            "threshold": threshold,
            "lesions": [lesion.to_dict() for lesion in self.lesions(threshold)],
            "image_size": list(self.geometry.original_shape[::-1]),
            "pixel_spacing_mm": list(self.spacing_mm) if self.spacing_mm else None,
            "pixel_spacing_estimate_mm": round(self.spacing_estimate_mm, 4) if self.spacing_estimate_mm else None,
            "model": {"name": self.model_name, "weights_sha256": self.weights_sha256},
            "device": self.device,
            "precision": self.precision,
            "software": f"hds_core {__version__}",
            "warnings": self.warnings,
        }
