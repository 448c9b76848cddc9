"""What the pixels say about an image when its header does not: whether a breast is in it, and
whether it looks like a digitised film or a digital detector's image.

Both come from a few figures measured on the image rendered over its full range of values
at a coarse level (the longest side 512-1023 pixels), so they cost a few tens of
milliseconds and never depend on the pixel spacing, which films rarely carry. A film's
background is the film base (grey, grainy, with labels, the film's edge and scanner
borders); a detector's is flat black around a smooth breast. The film / digital weights are
a logistic regression fitted by ``python -m hds_core.train.domain_fit`` (cross-validated per
dataset; its accuracy is in the JSON and the model card) and shipped beside the network's
weights."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .image import MammoImage

FEATURES = (
    "breast_fraction",  # of the image, the largest bright region
    "background_median",
    "background_noise",  # median absolute deviation of the background
    "background_bright",  # background pixels above 0.8: labels, film edge, scanner borders
    "breast_mean",
    "breast_spread",  # standard deviation inside the breast
    "breast_fine_texture",  # fine detail inside the breast (grain, noise) relative to its spread
    "black_fraction",  # pixels at the bottom of the range: padding, detector background
    "breast_skew",
    "grey_levels",  # distinct rendered levels inside the breast (of 256), as a fraction
)
# The coarse level's longest side: at least this many pixels (a finer level is never read).
ANALYSIS_SIDE = 512


# What the breast's tissue looks like, for the density estimate (``hds_core.density``): the
# inner breast's values stretched between its fat (2nd percentile) and its brightest
# (99.5th), then how much of it is bright and how.
DENSITY_FEATURES = (
    "bright_half",  # fraction above the middle of the stretch
    "bright_third",  # fraction above two thirds of it
    "stretched_mean",
    "stretched_median",
    "stretched_p75",
    "stretched_spread",
    "breast_skew",
    "breast_fine_texture",
)


@dataclass(frozen=True)
class Appearance:
    """The figures, in the order of :data:`FEATURES`; ``density`` those of :data:`DENSITY_FEATURES`."""

    values: tuple[float, ...]
    density: tuple[float, ...] = ()

    def __getitem__(self, name: str) -> float:
        return self.values[FEATURES.index(name)]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.values))


def analysis_level(shape: tuple[int, int]) -> int:
    """The coarsest level whose longest side is still at least :data:`ANALYSIS_SIDE`."""
    level = 0
    while max(shape) >> (level + 1) >= ANALYSIS_SIDE:
        level += 1
    return level


def measure(image: MammoImage, network_level: int = 0) -> Appearance:
    """The figures of ``image``, at the coarser of :func:`analysis_level` and
    ``network_level`` (the level the network's input is read from: ``NetworkInput.level``).
    Any reader gives the image at that level or finer (the viewer and hds-predict read films
    at the network's level, --pdf in full), and a level computed from a finer one is the
    same values (``levels.py``): the figures, hence the domain and the model, never depend on
    which level was read."""
    level = max(analysis_level(image.full_shape), network_level)
    coarse = image.at_level(level) if level > image.level else image
    # The full range of the stored values, never the file's window: one image exported with
    # and without a VOI window (the demo's CDD-CESM DICOM files and their JPEG sources) must
    # measure alike.
    values = coarse.render(coarse.presets[len(coarse.presets) - 1])
    return measure_values(np.asarray(values, dtype=np.float32))


def measure_values(values: np.ndarray) -> Appearance:
    from scipy import ndimage

    from .orientation import breast_mask

    values = np.nan_to_num(np.clip(values, 0, 1))
    breast = breast_mask(values)
    if breast.all() or not breast.any():
        breast = np.zeros(values.shape, dtype=bool) if not breast.any() else breast
    background = ~breast
    inside = values[breast] if breast.any() else np.zeros(1, np.float32)
    outside = values[background] if background.any() else np.zeros(1, np.float32)
    median = float(np.median(outside))
    spread = float(inside.std())
    fine = values - ndimage.uniform_filter(values, 3)
    fine_inside = float(np.abs(fine[breast]).mean()) if breast.any() else 0.0
    centred = inside - inside.mean()
    skew = max(-10.0, min(10.0, float((centred**3).mean() / max(spread, 1e-6) ** 3)))
    return Appearance(
        (
            float(breast.mean()),
            median,
            float(np.median(np.abs(outside - median))),
            float((outside > 0.8).mean()),
            float(inside.mean()),
            spread,
            fine_inside / max(spread, 1e-3),
            float((values <= 0.02).mean()),
            skew,
            len(np.unique(np.round(inside * 255))) / 256,
        ),
        _density_figures(values, breast, skew, fine_inside / max(spread, 1e-3)),
    )


def _density_figures(values: np.ndarray, breast: np.ndarray, skew: float, fine: float) -> tuple[float, ...]:
    from scipy import ndimage

    inner = ndimage.binary_erosion(breast, iterations=5) if breast.sum() > 400 else breast
    tissue = values[inner] if inner.any() else np.zeros(1, np.float32)
    low, high = np.percentile(tissue, [2, 99.5])
    stretched = np.clip((tissue - low) / max(high - low, 1e-3), 0, 1)
    return (
        float((stretched > 0.5).mean()),
        float((stretched > 2 / 3).mean()),
        float(stretched.mean()),
        float(np.median(stretched)),
        float(np.percentile(stretched, 75)),
        float(stretched.std()),
        skew,
        fine,
    )


# A breast fills a fair part of a mammogram, lies against a background and is tissue, not a
# drawing or noise: over the 505 development images (mini-MIAS, CDD-CESM), measured at the
# network's level, the breast covers 9-76 % of the image, with at least 141 rendered grey
# levels, a spread of 0.116 or more and a fine texture of 0.050-0.315 (``train.domain_fit``
# keeps the ranges in its JSON); the limits below sit well outside them.
MIN_BREAST_FRACTION, MAX_BREAST_FRACTION = 0.03, 0.97
MIN_GREY_LEVELS = 24 / 256
MIN_BREAST_SPREAD = 0.02
MIN_FINE_TEXTURE, MAX_FINE_TEXTURE = 0.008, 0.5


def no_breast(appearance: Appearance) -> str | None:
    """Why the image holds no breast, or None when it may: a blank or nearly blank image, a
    drawing of a few flat greys, an image with no region standing out from its background,
    a smooth ramp, noise."""
    fraction = appearance["breast_fraction"]
    if fraction < MIN_BREAST_FRACTION:
        return f"no breast found (the brightest region covers {fraction:.1%} of the image)"
    if fraction > MAX_BREAST_FRACTION:
        return "no breast found (no region stands out from a background)"
    if appearance["grey_levels"] < MIN_GREY_LEVELS:
        levels = round(appearance["grey_levels"] * 256)
        return f"no breast tissue found (the brightest region has {levels} grey levels: a drawing, not an X-ray)"
    if appearance["breast_spread"] < MIN_BREAST_SPREAD:
        return "no breast tissue found (the brightest region is flat)"
    fine = appearance["breast_fine_texture"]
    if fine < MIN_FINE_TEXTURE:
        return "no breast tissue found (the brightest region is a smooth ramp, without the detail of tissue)"
    if fine > MAX_FINE_TEXTURE:
        return "no breast tissue found (the image is noise)"
    return None


@dataclass(frozen=True)
class DomainClassifier:
    """Logistic regression on the standardised figures: the probability that an image is a film."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    report: dict

    @classmethod
    def load(cls, path: str | Path) -> DomainClassifier:
        data = json.loads(Path(path).read_text())
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"{path}: fitted on other figures ({data.get('features')}); refit it")
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]), float(data["intercept"]), data)

    def film_probability(self, appearance: Appearance) -> float:
        z = sum(w * (v - m) / s for w, v, m, s in zip(self.weights, appearance.values, self.mean, self.scale))
        z += self.intercept
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))

    def domain(self, appearance: Appearance) -> tuple[str, float]:
        """("film" or "digital", the probability of the one chosen)."""
        p = self.film_probability(appearance)
        return ("film", p) if p >= 0.5 else ("digital", 1 - p)
