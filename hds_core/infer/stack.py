"""The 2-D HDS network on a tomosynthesis stack (issue 40): the stack is cut into slabs of a
few consecutive slices (their average: a thin 2-D mammogram of that depth), each slab is
analysed as a 2-D image, the stack's score is the maximum over its slabs, and a finding seen
on neighbouring slabs is one finding, marked on the slice where the network responds most
(the slices of its best slab are analysed one by one) with the frames it spans.

The network was trained on 2-D mammograms, not on DBT: the slabs are what it knows best, and
its figures on DBT are unmeasured (the model card says so). A stack is read a slab at a time,
never whole (io/tomo.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ..findings import Lesion, Prediction
from ..io import MammoImage

SLAB_MM = 2.0  # two 1-mm slices a slab: a mass sharp on one slice keeps half its contrast


@dataclass
class StackFinding:
    """One finding of a stack: its lesion on its best slice, and the slices it spans."""

    lesion: Lesion
    slice_index: int  # 0-based, spatial order: where the network responds most
    frame_number: int  # 1-based DICOM frame of that slice
    span: tuple[int, int]  # first and last slice (0-based, spatial order) whose slab shows it
    frames: tuple[int, ...]  # the DICOM frame numbers of those slices
    depth_mm: float | None = None
    prediction: Prediction | None = None  # the analysis of its best slice (its map, its contour)

    def to_dict(self) -> dict:
        return {
            **self.lesion.to_dict(),
            "frame": self.frame_number,
            "frames": list(self.frames),
            "slice": self.slice_index + 1,
            "depth_mm": None if self.depth_mm is None else round(self.depth_mm, 2),
        }


@dataclass
class StackPrediction:
    """A stack's result: each slab's 2-D prediction, the score (their maximum) and the
    findings at a threshold, each on its best slice."""

    slabs: list[tuple[tuple[int, int], Prediction]]  # (first, last slice) -> the slab's prediction
    frame_order: tuple[int, ...]
    depths_mm: tuple[float, ...]
    refine: object = None  # (first, last slice) -> Prediction of those slices: the analysis of one slice
    _findings: dict[float, list[StackFinding]] = field(default_factory=dict, repr=False)

    @property
    def best(self) -> Prediction:
        """The slab with the highest score: the stack's score, model and warnings are its."""
        return max((prediction for _, prediction in self.slabs), key=lambda p: p.score)

    @property
    def score(self) -> float:
        return self.best.score

    def frame_of(self, slice_index: int) -> int:
        return (self.frame_order[slice_index] if self.frame_order else slice_index) + 1

    def findings(self, threshold: float) -> list[StackFinding]:
        if threshold not in self._findings:
            self._findings[threshold] = self._group(threshold)
        return list(self._findings[threshold])

    def _group(self, threshold: float) -> list[StackFinding]:
        """Lesions of neighbouring slabs that overlap are one finding."""
        groups: list[list[tuple[tuple[int, int], Prediction, Lesion]]] = []
        for span, prediction in self.slabs:
            for lesion in prediction.lesions(threshold):
                home = next((g for g in groups if _continues(g, span, lesion)), None)
                if home is None:
                    groups.append([(span, prediction, lesion)])
                else:
                    home.append((span, prediction, lesion))
        findings = []
        for group in groups:
            span, prediction, lesion = max(group, key=lambda item: item[2].max_probability)
            first, last = min(s[0] for s, _, _ in group), max(s[1] for s, _, _ in group)
            best_slice, best_prediction, best_lesion = self._best_slice(span, prediction, lesion, threshold)
            findings.append(
                StackFinding(
                    lesion=best_lesion,
                    slice_index=best_slice,
                    frame_number=self.frame_of(best_slice),
                    span=(first, last),
                    frames=tuple(self.frame_of(i) for i in range(first, last + 1)),
                    depth_mm=self.depths_mm[best_slice] if best_slice < len(self.depths_mm) else None,
                    prediction=best_prediction,
                )
            )
        findings.sort(key=lambda f: -f.lesion.max_probability)
        for number, finding in enumerate(findings, 1):
            finding.lesion = dataclasses.replace(finding.lesion, index=number)
        return findings

    def _best_slice(self, span, prediction: Prediction, lesion: Lesion, threshold: float):
        """The slice of the slab where the network responds most inside the lesion's box: each
        slice of the slab analysed alone (a slab of one slice is its own answer)."""
        first, last = span
        if first == last or self.refine is None:
            return first + (last - first) // 2, prediction, lesion
        best = (-1.0, first + (last - first) // 2, prediction, lesion)
        for index in range(first, last + 1):
            alone = self.refine((index, index))
            matches = [other for other in alone.lesions(threshold) if _overlap(other, lesion)]
            if matches:
                match = max(matches, key=lambda other: other.max_probability)
                if match.max_probability > best[0]:
                    best = (match.max_probability, index, alone, match)
        return best[1], best[2], best[3]

    def to_dict(self, threshold: float) -> dict:
        """The best slab's result (score, model, provenance), its lesions replaced by the
        stack's findings, each naming its frame (1-based) and the frames it spans."""
        document = self.best.to_dict(threshold)
        document["lesions"] = [finding.to_dict() for finding in self.findings(threshold)]
        document["tomosynthesis"] = {
            "slices": len(self.frame_order) or None,
            "slabs": [[first + 1, last + 1] for (first, last), _ in self.slabs],
            "slab_scores": [round(prediction.score, 4) for _, prediction in self.slabs],
            "note": "the 2-D model run on slabs of the stack; it was trained on 2-D mammograms, not on DBT",
        }
        return document


def _overlap(a: Lesion, b: Lesion) -> bool:
    """Boxes that overlap, or centres inside the other's box."""
    ax, ay, aw, ah = a.bbox_xywh
    bx, by, bw, bh = b.bbox_xywh
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _continues(group, span, lesion) -> bool:
    last_span = max(s for s, _, _ in group)
    adjacent = span[0] <= last_span[1] + 1
    return adjacent and any(_overlap(lesion, other) for s, _, other in group if s == last_span)


def slab_spans(slices: int, depths_mm: tuple[float, ...], slab_mm: float = SLAB_MM) -> list[tuple[int, int]]:
    """Consecutive slabs of about ``slab_mm`` covering every slice once (the last may be thinner)."""
    step = 1.0
    if len(depths_mm) > 1:
        gaps = np.diff(depths_mm)
        step = float(np.median(gaps)) if np.all(gaps >= 0) and np.median(gaps) > 0 else 1.0
    size = max(1, int(math.floor(slab_mm / step + 1e-6)))
    return [(first, min(first + size, slices) - 1) for first in range(0, slices, size)]


def slab_image(slices: list[MammoImage]) -> MammoImage:
    """The average of consecutive slices, as an image of the first slice's header."""
    first = slices[0]
    if len(slices) == 1:
        return first
    total = np.zeros(first.pixels.shape, dtype=np.float64)
    for item in slices:
        total += item.pixels
    pixels = np.rint(total / len(slices)).astype(first.pixels.dtype)
    return dataclasses.replace(first, pixels=pixels)


def predict_stack(
    predict,
    stack,
    *,
    slab_mm: float = SLAB_MM,
    progress=None,
    cancel=None,
) -> StackPrediction:
    """``predict(image)`` (a 2-D prediction, e.g. DomainModels.predict) over the slabs of
    ``stack`` (io.dicom.StackReader). ``progress(done, total)`` after each slab, in depth
    order: the first slab's result exists before the last is read."""
    meta = stack.metadata
    spans = slab_spans(meta.frames, meta.slice_depths_mm, slab_mm)
    cache: dict[tuple[int, int], Prediction] = {}

    def analyse(span: tuple[int, int]) -> Prediction:
        if span not in cache:
            if cancel is not None and cancel():
                from .events import PredictionCancelled

                raise PredictionCancelled()
            slices = [stack.slice(index) for index in range(span[0], span[1] + 1)]
            cache[span] = predict(slab_image(slices))
        return cache[span]

    slabs = []
    for done, span in enumerate(spans, 1):
        slabs.append((span, analyse(span)))
        if progress is not None:
            progress(done, len(spans))
    return StackPrediction(slabs, meta.frame_order, meta.slice_depths_mm, refine=analyse)
