"""Breast density, suggested from the pixels beside the network: an ordinal logistic model
(one "at least this dense" regression per step of the scale) on the breast tissue's figures
(``io.appearance.DENSITY_FEATURES``), one model per domain and on that domain's own scale:
films on mini-MIAS's F / G / D (fatty, fatty-glandular, dense-glandular), digital images on
ACR BI-RADS A-D (CDD-CESM's labels). Fitted and cross-validated per dataset by
``python -m hds_core.train.density_fit`` (accuracy, weighted kappa and the confusion matrix
are in its JSON and the model card). A suggestion for the reader, labelled so, never a
finding."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .io.appearance import DENSITY_FEATURES, Appearance


def sigmoid(z: float) -> float:
    # Its own, not infer.calibration's: the reports import this module, and they lie below inference.
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


# The scales, least dense first, and their words.
SCALES = {
    "film": (("F", "fatty"), ("G", "fatty-glandular"), ("D", "dense-glandular")),
    "digital": (
        ("A", "almost entirely fatty"),
        ("B", "scattered fibroglandular"),
        ("C", "heterogeneously dense"),
        ("D", "extremely dense"),
    ),
}


@dataclass(frozen=True)
class DensitySuggestion:
    domain: str
    category: str  # "C", "G", ...
    words: str
    probability: float  # of this category
    scale: str  # "ACR BI-RADS" or "mini-MIAS background tissue"

    def text(self) -> str:
        return f"{self.scale} {self.category} ({self.words}; suggested, {self.probability:.0%})"

    def to_dict(self) -> dict:
        return {
            "category": self.category,
            "words": self.words,
            "probability": round(self.probability, 3),
            "scale": self.scale,
            "suggestion": True,
        }


@dataclass(frozen=True)
class OrdinalModel:
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    steps: tuple[tuple[tuple[float, ...], float], ...]  # per step k: (weights, intercept) of P(class >= k)

    def probabilities(self, figures: tuple[float, ...]) -> list[float]:
        z = [(v - m) / s for v, m, s in zip(figures, self.mean, self.scale)]
        at_least = [1.0] + [sigmoid(sum(w * x for w, x in zip(weights, z)) + b) for weights, b in self.steps] + [0.0]
        # Steps fitted apart can cross; each "at least" is kept no higher than the one below it.
        for k in range(1, len(at_least)):
            at_least[k] = min(at_least[k], at_least[k - 1])
        return [at_least[k] - at_least[k + 1] for k in range(len(self.classes))]

    def predict(self, figures: tuple[float, ...]) -> tuple[int, float]:
        probabilities = self.probabilities(figures)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return best, probabilities[best]

    def to_dict(self) -> dict:
        return {
            "classes": list(self.classes),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "steps": [{"weights": list(w), "intercept": b} for w, b in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict) -> OrdinalModel:
        return cls(
            tuple(data["classes"]),
            tuple(data["mean"]),
            tuple(data["scale"]),
            tuple((tuple(step["weights"]), float(step["intercept"])) for step in data["steps"]),
        )


class DensityModels:
    """The shipped models, one per domain (``resources/weights/density.json``)."""

    def __init__(self, path: str | Path):
        data = json.loads(Path(path).read_text())
        if tuple(data.get("features", ())) != DENSITY_FEATURES:
            raise ValueError(f"{path}: fitted on other figures; refit it (python -m hds_core.train.density_fit)")
        self.models = {domain: OrdinalModel.from_dict(m) for domain, m in data["models"].items()}
        self.report = data

    def suggest(self, appearance: Appearance, domain: str | None) -> DensitySuggestion | None:
        """The density of the domain's scale; None for an unknown domain or one without a model."""
        model = self.models.get(domain or "")
        if model is None or not appearance.density:
            return None
        index, probability = model.predict(appearance.density)
        words = dict(SCALES[domain])
        category = model.classes[index]
        scale = "ACR BI-RADS density" if domain == "digital" else "mini-MIAS background tissue"
        return DensitySuggestion(domain, category, words.get(category, category), probability, scale)


def breast_densities(predictions) -> dict[str, dict]:
    """Per breast (R, L), the density suggestion of its images: the one most of them give,
    the denser on a tie (a reader reports the denser breast). Images without one are left out."""
    by_breast: dict[str, list[dict]] = {}
    for prediction in predictions:
        side = prediction.view_key.laterality if prediction.view_key else None
        if prediction.density and side in ("R", "L"):
            by_breast.setdefault(side, []).append(prediction.density)
    chosen = {}
    for side, suggestions in by_breast.items():
        order = {code: i for i, (code, _) in enumerate(SCALES["digital"] + SCALES["film"])}
        categories = [s["category"] for s in suggestions]
        best = max(set(categories), key=lambda c: (categories.count(c), order.get(c, 0)))
        chosen[side] = next(s for s in suggestions if s["category"] == best)
    return chosen


def density_text(suggestion: dict | None) -> str:
    if not suggestion:
        return "—"
    scale = "ACR" if suggestion["scale"].startswith("ACR") else "MIAS"
    return f"{scale} {suggestion['category']} ({suggestion['words']})"
