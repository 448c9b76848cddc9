"""The other breast. Readers compare the two breasts: a mass is seldom bilateral and symmetric,
while dense tissue, film grain and a vendor's processing are. The shipped image score of a
view is a logistic combination of the network's raw score for that view and for the same
view of the other breast of the same study,

    p = sigmoid(a * logit(raw) + b * logit(raw_other) + c)

fitted on out-of-fold predictions (``fit_bilateral``) and stored in the weights' JSON
(``"bilateral"``). A view without a counterpart (one breast imaged, laterality or view
unknown) keeps the single-image score, calibrated (``calibration.py``). ``final_scores`` is
the one place either is chosen: hds-eval, hds-predict, the viewer and the reports all call it,
so what is evaluated is what ships."""

from __future__ import annotations

import math

import numpy as np

from ..findings.views import BOTH_BREASTS, THIS_IMAGE, ViewKey
from .calibration import EPS, calibrate, newton_logistic, sigmoid


def counterparts(keys: list[ViewKey]) -> list[list[int]]:
    """For each image, the indices of the same view of the other breast in the same study."""
    index: dict[ViewKey, list[int]] = {}
    for i, key in enumerate(keys):
        index.setdefault(key.normalised, []).append(i)
    return [index.get(key.counterpart(), []) if key.counterpart() else [] for key in keys]


def _logit(score: float) -> float:
    score = min(max(float(score), EPS), 1 - EPS)
    return math.log(score / (1 - score))


def other_raw(raw: list[float], partners: list[int]) -> float | None:
    """The other breast's raw score: the mean logit of its views (a repeat exposure counts once)."""
    if not partners:
        return None
    mean = float(np.mean([_logit(raw[j]) for j in partners]))
    return sigmoid(mean)


def bilateral_score(raw: float, raw_other: float, fit: dict) -> float:
    a, b = fit["weights"]
    z = a * _logit(raw) + b * _logit(raw_other) + fit["bias"]
    return sigmoid(z)


def final_scores(
    raw: list[float], keys: list[ViewKey], calibration: dict | None, bilateral: dict | None
) -> list[tuple[float, str]]:
    """(score, basis) per image: the two-breast score where the study holds the other breast's
    same view and the weights carry a bilateral fit, else the calibrated single-image score."""
    partners = counterparts(keys)
    result = []
    for i, score in enumerate(raw):
        other = other_raw(raw, partners[i])
        if bilateral and other is not None:
            result.append((bilateral_score(score, other, bilateral), BOTH_BREASTS))
        else:
            result.append((calibrate(score, calibration), THIS_IMAGE))
    return result


def fit_bilateral(raw: list[float], keys: list[ViewKey], labels: list[int]) -> dict:
    """Logistic regression of the label on (logit raw, logit raw of the other breast) over the
    images that have a counterpart, the first weight kept >= 0 and the second <= 0. Raises
    ValueError when fewer than 10 such images, or when they do not hold both labels."""
    partners = counterparts(keys)
    rows = [(_logit(raw[i]), _logit(other_raw(raw, partners[i])), labels[i]) for i in range(len(raw)) if partners[i]]
    if len(rows) < 10 or len({label for *_, label in rows}) < 2:
        raise ValueError(
            f"a bilateral fit needs at least 10 images with the other breast's view and both labels; got {len(rows)}"
        )
    features = np.array([[z, z_other] for z, z_other, _ in rows])
    # The view's own score may only raise its score, the other breast's only lower it (masses
    # are seldom bilateral and symmetric): a fold's noise cannot turn the comparison around.
    a, b, bias = newton_logistic(features, np.array([label for *_, label in rows], dtype=np.float64), signs=[1, -1])
    return {
        "method": "logistic",
        "features": ["logit(raw score)", "logit(raw score of the other breast, same view)"],
        "weights": [float(a), float(b)],
        "bias": float(bias),
        "n_images": len(rows),
        "n_positive": int(sum(label for *_, label in rows)),
    }
