"""Which resolution level of a film the network's input comes from."""

from __future__ import annotations

import math

from ..io import ASSUMED_SPACING_MM


def input_level(spacing_mm: tuple[float, float] | None, working_spacing_mm: float) -> int:
    """The coarsest level (``hds_core.io.levels``) whose pixels are no coarser than the
    working spacing, for an image of ``spacing_mm`` (the full image's; None: the spacing the
    model assumes), so the network's own resampling only ever shrinks the image."""
    spacing = max(spacing_mm) if spacing_mm else ASSUMED_SPACING_MM
    if spacing <= 0 or spacing >= working_spacing_mm:
        return 0
    return max(0, math.floor(math.log2(working_spacing_mm / spacing) + 1e-9))
