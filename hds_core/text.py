"""Text helpers every layer may use (the ground floor: imports nothing of the engine)."""

from __future__ import annotations

import os


def printable(text: str | os.PathLike) -> str:
    """Text safe to print, log or show in Qt: a file name that is not valid UTF-8 reaches
    Python with lone surrogates, which ``print`` to a strict stream refuses and Qt silently
    cuts off at. Undecodable bytes are shown as ``\\xe9`` (as ``ls -b`` does)."""
    text = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
