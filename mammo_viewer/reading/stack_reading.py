"""A tomosynthesis stack's result as the slice on screen shows it (Qt-free): the findings
that span the slice (outlined on every slice of their span, numbered as in the lesion table),
the heat map of the slab the slice lies in, and what the view's title says of them."""

from __future__ import annotations

from hds_core.findings import Lesion, Prediction
from hds_core.findings.stack import StackPrediction
from hds_core.io import MammoMetadata


def displayed_slice(metadata: MammoMetadata) -> int | None:
    """The slice (0-based, spatial order) an image of a stack is, or None (not a stack's)."""
    if not metadata.is_stack or metadata.frame_number is None:
        return None
    index = metadata.frame_number - 1
    return metadata.frame_order.index(index) if metadata.frame_order else index


def slice_overlay(
    result: StackPrediction, slice_index: int, threshold: float
) -> tuple[list[Lesion], Prediction | None]:
    """(the findings' lesions to outline on ``slice_index``, the Prediction whose map is the
    slice's heat map: its slab's, or None while that slab is not analysed yet)."""
    slab = result.slab_of(slice_index)
    lesions = [finding.lesion for finding in result.on_slice(slice_index, threshold)]
    return lesions, slab[1] if slab is not None else None


def slice_note(result: StackPrediction, slice_index: int, threshold: float) -> str:
    """What the title says: the findings sharpest on this slice, those spanning it whose
    sharpest slice is another, and where the others are (the reader scrolls there)."""
    here, near, elsewhere = [], [], []
    for finding in result.findings(threshold):
        number = f"#{finding.lesion.index}"
        if finding.slice_index == slice_index:
            here.append(number)
        elif finding.span[0] <= slice_index <= finding.span[1]:
            near.append(f"{number} best on {finding.slice_index + 1}")
        else:
            elsewhere.append(f"{number} on {finding.slice_index + 1}")
    parts = ([f"{', '.join(here)} sharpest here"] if here else []) + near
    if elsewhere:  # nothing outlined on this slice is not nothing found: say where to scroll
        parts.append("AI: " + ", ".join(elsewhere[:3]) + (" …" if len(elsewhere) > 3 else ""))
    if not result.complete:
        analysed = result.slabs[-1][0][1] + 1 if result.slabs else 0
        parts.append(f"AI: {analysed}/{result.slices} slices so far")
    return " · ".join(parts)


def lesion_slice(result, lesion: Lesion, threshold: float) -> int | None:
    """The slice (0-based) a stack's finding is sharpest on, or None (not a stack's)."""
    if not isinstance(result, StackPrediction):
        return None
    finding = result.finding(lesion.index, threshold)
    return finding.slice_index if finding is not None else None
