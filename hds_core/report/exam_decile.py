"""Where a study's AI exam score falls among the exams the weights were validated on, as a
decile 1-10: how readers use an exam-level CAD score (Transpara's 1-10 is the known example;
these deciles are ours, from our own out-of-fold scores, not Transpara's).

The reference is the weights' cross-validation report (``NAME_cv.json`` beside the weights):
every validation image's out-of-fold score, per dataset, with its patient. An exam's score is
the highest of its images' (as the report's exam score is); the deciles are taken over the
exams of the study's domain (film or digital) only, never pooled across domains."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ExamDeciles:
    cuts: tuple[float, ...]  # the 9 scores between deciles, ascending
    exams: int
    with_lesion: int  # exams with an outlined lesion (the datasets' truth)
    datasets: tuple[str, ...]
    domain: str

    def decile(self, score: float) -> int:
        """1 (the lowest tenth of validation exams) to 10 (the highest tenth)."""
        return bisect.bisect_right(self.cuts, score) + 1

    def text(self, score: float) -> str:
        """ "decile 10 of 10 of 121 validation exams (film; 57 with a lesion) — our deciles, not Transpara's" """
        normals = self.exams - self.with_lesion
        mix = f"{self.with_lesion} with a lesion" + (
            f", {normals} without" if normals else ", none without: the dataset has no normal exams"
        )
        return (
            f"decile {self.decile(score)} of 10 among {self.exams} {self.domain} validation exams scored out of fold "
            f"({mix}; {', '.join(self.datasets)}); our deciles, not Transpara's 1-10"
        )


def cv_report_of(weights: Path) -> Path:
    return Path(weights).with_name(Path(weights).stem + "_cv.json")


@lru_cache(maxsize=8)
def exam_deciles(weights: Path, domain: str | None) -> ExamDeciles | None:
    """The deciles of ``weights``' validation exams of ``domain``; None without a domain (a study
    mixing film and digital: never pooled), without a report, or with fewer than 20 exams."""
    if domain is None:
        return None
    try:
        report = json.loads(cv_report_of(weights).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    exams: dict[tuple[str, str], tuple[float, bool]] = {}
    datasets = []
    for name, block in (report.get("per_dataset") or {}).items():
        if block.get("domain") != domain:
            continue
        datasets.append(name.partition(":")[2].rstrip("/").rsplit("/", 1)[-1] or name)
        for row in block.get("images") or []:
            if row.get("score") is None:
                continue
            key = (name, str(row.get("patient") or row.get("image")))
            score, lesion = exams.get(key, (0.0, False))
            exams[key] = (max(score, float(row["score"])), lesion or bool(row.get("label")))
    if len(exams) < 20:
        return None
    scores = np.array([score for score, _ in exams.values()])
    cuts = tuple(float(c) for c in np.quantile(scores, np.arange(1, 10) / 10))
    return ExamDeciles(cuts, len(exams), sum(lesion for _, lesion in exams.values()), tuple(datasets), domain)
