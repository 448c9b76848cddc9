"""Marks where no mass can be: outside the breast (film labels, the scanner's edge) and on an
MLO view's pectoral muscle, the bright triangle a reader dismisses at once.

Applied to the network's probability maps after the forward pass, so one set of weights can
be evaluated with and without it (``hds-eval --suppress``); used by the Predictor only where
cross-validation said it helps (the weights' JSON names it)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..io.anatomy import pectoral_mask
from .forward import ExitResult

SUPPRESSIONS = ("breast", "pectoral")


def excluded_region(
    image: np.ndarray, breast: np.ndarray, view: str | None, kinds: tuple[str, ...] | list[str]
) -> np.ndarray:
    """Where marks are removed on a working image (chest wall on the left): outside ``breast``
    for "breast"; the pectoral muscle of an MLO view for "pectoral" (none on CC views, on views
    of unknown projection, or when the muscle is not found)."""
    unknown = [k for k in kinds if k not in SUPPRESSIONS]
    if unknown:
        raise ValueError(f"unknown suppression {', '.join(unknown)}; choose from {', '.join(SUPPRESSIONS)}")
    region = np.zeros(image.shape, dtype=bool)
    if "breast" in kinds and breast.any():
        region |= ~breast
    if "pectoral" in kinds and (view or "").upper() == "MLO":
        region |= pectoral_mask(image, breast)
    return region


def suppressed(
    per_exit: list[list[ExitResult]], cases: list, kinds: list[str] | tuple[str, ...]
) -> list[list[ExitResult]]:
    """Every exit's results without marks in each case's excluded region (``cases``: prepared
    cases, each with its ``working`` image and its ``case.view``)."""
    if not kinds:
        return per_exit
    regions = [excluded_region(c.working.image, c.working.breast, c.case.view, kinds) for c in cases]
    return [[suppress(result, region) for result, region in zip(results, regions)] for results in per_exit]


def suppress(result: ExitResult, region: np.ndarray) -> ExitResult:
    """The result with no probability in ``region`` (the MIL probability is the head's own
    and is left as it is)."""
    if not region.any():
        return result
    return dataclasses.replace(result, probability=np.where(region, np.float32(0), result.probability))
