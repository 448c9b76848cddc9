"""The view and the breast where the header has no View Position or Image Laterality, as real
collections carry them: CBIS-DDSM puts the view in Patient Orientation (``MLO`` where
orientation letters belong), the breast in the series' Laterality (0020,0060), and both in
the patient ID (``Mass-Test_P_00820_LEFT_CC``); other exports write ``R MLO`` or ``LCC`` in
the series description."""

from __future__ import annotations

import re

# The mammographic views (ACR's abbreviations), as they appear in codes and descriptions.
VIEW_WORDS = ("XCCL", "XCCM", "MLO", "LMO", "SIO", "CC", "ML", "LM", "FB", "AT", "CV")
_SIDES = {"LEFT": "L", "RIGHT": "R"}
# Orientation letters (PS3.3 C.7.6.1.1.1): anterior, posterior, right, left, head, foot.
_ORIENTATION = re.compile(r"^[APRLHF]+$")


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^A-Z0-9]+", text.upper()) if t]


def orientation_or_view(values: list[str]) -> tuple[tuple[str, str] | None, str | None]:
    """Patient Orientation's (row, column) directions when it holds orientation letters, else
    the view code it holds instead: ((row, column) or None, view or None)."""
    cleaned = [str(v).strip().upper() for v in values]
    if len(cleaned) == 2 and all(_ORIENTATION.match(v) for v in cleaned):
        return (cleaned[0], cleaned[1]), None
    view = next((v for v in cleaned if v in VIEW_WORDS), None)
    return None, view


def view_and_side(text: str) -> tuple[str | None, str | None]:
    """(view, laterality) named in free text: ``LEFT_CC``, ``R MLO``, ``LMLO``. A lone ``L`` or
    ``R`` counts only beside a view (``P_00820`` says nothing of a side)."""
    tokens = _tokens(text)
    view = side = None
    for i, token in enumerate(tokens):
        if token in _SIDES and side is None:
            side = _SIDES[token]
        if token in VIEW_WORDS and view is None:
            view = token
            neighbours = tokens[max(0, i - 1) : i] + tokens[i + 1 : i + 2]
            side = side or next((t for t in neighbours if t in ("L", "R")), None)
        elif view is None and token[:1] in ("L", "R") and token[1:] in VIEW_WORDS:
            view, side = token[1:], side or token[:1]
    return view, side
