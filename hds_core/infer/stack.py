"""The 2-D HDS network on a tomosynthesis stack (issue 40): the stack is cut into slabs of a
few consecutive slices (their average: a thin 2-D mammogram of that depth), each slab is
analysed as a 2-D image, and the result (findings/stack.py) scores the stack by the maximum
over its slabs and groups a finding seen on neighbouring slabs into one, marked on the slice
where the network responds most (the slices of its best slab analysed one by one here).

The network was trained on 2-D mammograms, not on DBT: the slabs are what it knows best, and
its figures on DBT are unmeasured (the model card says so). A stack is read a slab at a time,
never whole (io/tomo.py)."""

from __future__ import annotations

import dataclasses
import math

from ..findings import Prediction
from ..findings.stack import StackPrediction
from ..io import MammoImage
from ..io.image import slice_step_mm
from ..io.tomo import combine_slices

SLAB_MM = 2.0  # two 1-mm slices a slab: a mass sharp on one slice keeps half its contrast


def slab_spans(slices: int, depths_mm: tuple[float, ...], slab_mm: float = SLAB_MM) -> list[tuple[int, int]]:
    """Consecutive slabs of about ``slab_mm`` covering every slice once (the last may be thinner)."""
    size = max(1, int(math.floor(slab_mm / (slice_step_mm(tuple(depths_mm)) or 1.0) + 1e-6)))
    return [(first, min(first + size, slices) - 1) for first in range(0, slices, size)]


def slab_image(slices: list[MammoImage]) -> MammoImage:
    """The average of consecutive slices, as an image of the first slice's header."""
    if len(slices) == 1:
        return slices[0]
    return dataclasses.replace(slices[0], pixels=combine_slices(item.pixels for item in slices))


def predict_stack(
    predict,
    stack,
    *,
    slab_mm: float = SLAB_MM,
    level: int = 0,
    progress=None,
    cancel=None,
) -> StackPrediction:
    """``predict(image)`` (a 2-D prediction, e.g. DomainModels.predict) over the slabs of
    ``stack`` (io.dicom.StackReader), in depth order, each slice read at resolution ``level``
    (the network's: ``NetworkInput.level``; a JPEG 2000 slice then decodes only its first
    resolutions). ``progress(done, total, partial)`` after
    each slab, ``partial`` the StackPrediction of the slabs so far: the first slab's result is
    on screen before the last is read."""
    meta = stack.metadata
    spans = slab_spans(meta.frames, meta.slice_depths_mm, slab_mm)

    def check() -> None:
        if cancel is not None and cancel():
            from .events import PredictionCancelled

            raise PredictionCancelled()

    def analyse(span: tuple[int, int]) -> Prediction:
        check()
        return predict(slab_image([stack.slice(index, level) for index in range(span[0], span[1] + 1)]))

    slabs: list[tuple[tuple[int, int], Prediction]] = []
    singles: dict[int, Prediction] = {}
    for done, span in enumerate(spans, 1):
        slabs.append((span, analyse(span)))
        if span[0] == span[1]:
            singles[span[0]] = slabs[-1][1]
        if progress is not None:
            progress(
                done,
                len(spans),
                StackPrediction(
                    list(slabs), meta.frame_order, meta.slice_depths_mm, slices=meta.frames, singles=singles
                ),
            )
    return StackPrediction(
        slabs,
        meta.frame_order,
        meta.slice_depths_mm,
        refine=lambda index: analyse((index, index)),
        slices=meta.frames,
        singles=singles,
    )
