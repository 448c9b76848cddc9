"""How far a figure can be trusted: 95% intervals by resampling patients (the images of one
patient are not independent, so they are drawn together), and calibration of the image score
(whether a score of 0.7 means a mass 7 times in 10)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BOOTSTRAP_SAMPLES = 1000
CALIBRATION_BINS = 10


def bootstrap_by_patient(
    rows: list,
    patients: list[str],
    statistic: Callable[[list], float | None],
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> list[float] | None:
    """[low, high] percentile interval of ``statistic(rows)`` over resamples that draw
    patients with replacement and take all of each drawn patient's rows. Resamples where the
    statistic is undefined (None: say, no normal image drawn for an AUC) are left out; None
    when fewer than half are defined."""
    if len(rows) != len(patients):
        raise ValueError("one patient per row")
    by_patient: dict[str, list] = {}
    for row, patient in zip(rows, patients):
        by_patient.setdefault(patient, []).append(row)
    groups = list(by_patient.values())
    if not groups:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        drawn = rng.integers(0, len(groups), size=len(groups))
        value = statistic([row for index in drawn for row in groups[index]])
        if value is not None:
            values.append(value)
    if len(values) < samples / 2:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def reliability(scores, labels, bins: int = CALIBRATION_BINS) -> tuple[float | None, list[dict]]:
    """Expected calibration error (equal-width bins of the score, weighted by their counts)
    and the reliability table: per bin, its range, count, mean score and fraction with a mass."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if not len(scores):
        return None, []
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1], right=True), 0, bins - 1)
    table, error = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        row = {
            "low": float(edges[b]),
            "high": float(edges[b + 1]),
            "count": count,
            "mean_score": None,
            "fraction_positive": None,
        }
        if count:
            row["mean_score"] = float(scores[members].mean())
            row["fraction_positive"] = float(labels[members].mean())
            error += count / len(scores) * abs(row["mean_score"] - row["fraction_positive"])
        table.append(row)
    return float(error), table
