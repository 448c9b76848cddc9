"""A tomosynthesis stack's result (issue 40): each slab's 2-D prediction, the stack's score (their
maximum) and its findings at any threshold: a finding seen on neighbouring slabs is one
finding, marked on the slice where the network responds most (the slices of its best slab
analysed one by one, where that was done) with the frames it spans. It reads as a Prediction
of its best slab, so scores, reports and the viewer treat a stack as they treat an image.
``infer/stack.py`` makes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .lesions import Lesion
from .prediction import Prediction


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


# What a stack's result takes from its best slab, so that everything that reads a Prediction
# (the scores per breast, compare_breasts, the trust line, the badge) reads a stack alike.
_FROM_BEST = (
    "path", "score", "raw_score", "score_basis", "single_image_score", "calibrated", "view_key",
    "weights_sha256", "model_name", "device", "precision", "domain", "domain_source", "density",
    "spacing_mm", "spacing_estimate_mm", "geometry", "working_probability",
)  # fmt: skip


@dataclass
class StackPrediction:
    """A stack's result: each slab's 2-D prediction (all of them, or the first ones while the
    analysis goes on), the score (their maximum) and the findings at a threshold, each on its
    best slice. It reads as a Prediction of its best slab (score, model, provenance)."""

    slabs: list[tuple[tuple[int, int], Prediction]]  # (first, last slice) -> the slab's prediction
    frame_order: tuple[int, ...]
    depths_mm: tuple[float, ...]
    # slice index -> Prediction of that slice alone (runs the network); None once the analysis is
    # over in the viewer: a threshold's findings then use the slices analysed so far, never the
    # network on the window's thread.
    refine: object = None
    slices: int | None = None  # how many slices the stack has (the slabs may not cover them yet)
    singles: dict[int, Prediction] = field(default_factory=dict)  # slice -> its own analysis, kept
    _findings: dict[float, list[StackFinding]] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        best = self.best
        for name in _FROM_BEST:
            setattr(self, name, getattr(best, name))
        self.warnings = list(best.warnings)
        if self.slices is None:
            self.slices = len(self.frame_order) or (self.slabs[-1][0][1] + 1 if self.slabs else 0)

    @property
    def best(self) -> Prediction:
        """The slab with the highest score: the stack's score, model and warnings are its."""
        return max((prediction for _, prediction in self.slabs), key=lambda p: p.score)

    @property
    def complete(self) -> bool:
        """Every slice lies in an analysed slab."""
        return bool(self.slabs) and self.slabs[-1][0][1] + 1 >= (self.slices or 0)

    @property
    def max_probability(self) -> float:
        return max(prediction.max_probability for _, prediction in self.slabs)

    def frame_of(self, slice_index: int) -> int:
        return (self.frame_order[slice_index] if self.frame_order else slice_index) + 1

    def slab_of(self, slice_index: int) -> tuple[tuple[int, int], Prediction] | None:
        """The analysed slab that holds ``slice_index``, or None (not analysed yet)."""
        return next(((span, p) for span, p in self.slabs if span[0] <= slice_index <= span[1]), None)

    def findings(self, threshold: float) -> list[StackFinding]:
        if threshold not in self._findings:
            if len(self._findings) >= 4:
                self._findings.pop(next(iter(self._findings)))
            self._findings[threshold] = self._group(threshold)
        return list(self._findings[threshold])

    def refined_findings(self, threshold: float, refine) -> list[StackFinding]:
        """The findings at ``threshold`` with ``refine`` (slice index -> its own Prediction)
        run where a finding's slab has slices not analysed alone yet; kept for ``findings``."""
        findings = self._group(threshold, refine)
        self._findings[threshold] = findings
        return list(findings)

    def lesions(self, threshold: float) -> list[Lesion]:
        """The findings' lesions (each on its best slice), numbered as the findings are."""
        return [finding.lesion for finding in self.findings(threshold)]

    def finding(self, index: int, threshold: float) -> StackFinding | None:
        return next((f for f in self.findings(threshold) if f.lesion.index == index), None)

    def on_slice(self, slice_index: int, threshold: float) -> list[StackFinding]:
        """The findings that span ``slice_index``: what the view of that slice outlines."""
        return [f for f in self.findings(threshold) if f.span[0] <= slice_index <= f.span[1]]

    def _group(self, threshold: float, refine=None) -> list[StackFinding]:
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
            best_slice, best_prediction, best_lesion = self._best_slice(span, prediction, lesion, threshold, refine)
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

    def _single(self, index: int, refine=None) -> Prediction | None:
        refine = refine or self.refine
        if index not in self.singles and refine is not None:
            self.singles[index] = refine(index)
        return self.singles.get(index)

    def _best_slice(self, span, prediction: Prediction, lesion: Lesion, threshold: float, refine=None):
        """The slice of the slab where the network responds most inside the lesion's box: each
        slice of the slab analysed alone (a slab of one slice is its own answer; without the
        slices' own analyses, the slab's middle slice)."""
        first, last = span
        if first == last:
            return first, prediction, lesion
        best = (-1.0, first + (last - first) // 2, prediction, lesion)
        for index in range(first, last + 1):
            alone = self._single(index, refine)
            if alone is None:
                continue
            matches = [other for other in alone.lesions(threshold) if _overlap(other, lesion)]
            if matches:
                match = max(matches, key=lambda other: other.max_probability)
                if match.max_probability > best[0]:
                    best = (match.max_probability, index, alone, match)
        return best[1], best[2], best[3]

    def to_dict(self, threshold: float) -> dict:
        """The best slab's result (model, provenance) with the stack's score, its lesions
        replaced by the stack's findings, each naming its frame (1-based) and the frames it spans."""
        document = self.best.to_dict(threshold)
        document["score"] = round(self.score, 4)
        document["score_basis"] = self.score_basis
        document["lesions"] = [finding.to_dict() for finding in self.findings(threshold)]
        document["tomosynthesis"] = {
            "slices": self.slices,
            "slabs": [[first + 1, last + 1] for (first, last), _ in self.slabs],
            "slab_scores": [round(prediction.score, 4) for _, prediction in self.slabs],
            "note": STACK_NOTE,
        }
        return document


STACK_NOTE = "the 2-D model run on slabs of the stack; it was trained on 2-D mammograms, not on DBT"


def _overlap(a: Lesion, b: Lesion) -> bool:
    """Boxes that overlap, or centres inside the other's box."""
    ax, ay, aw, ah = a.bbox_xywh
    bx, by, bw, bh = b.bbox_xywh
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _continues(group, span, lesion) -> bool:
    last_span = max(s for s, _, _ in group)
    adjacent = span[0] <= last_span[1] + 1
    return adjacent and any(_overlap(lesion, other) for s, _, other in group if s == last_span)
