"""Text helpers every layer may use (the ground floor: imports nothing of the engine)."""

from __future__ import annotations

import os
import re

# C0 controls, DEL and C1 controls: a file name or a header value holding them would move the
# cursor, clear the screen or retitle the terminal when printed (terminal injection).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escaped(match: re.Match) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(match.group(), f"\\x{ord(match.group()):02x}")


def printable(text: str | os.PathLike) -> str:
    """Text safe to print, log or show in Qt: a file name that is not valid UTF-8 reaches
    Python with lone surrogates, which ``print`` to a strict stream refuses and Qt silently
    cuts off at. Undecodable bytes are shown as ``\\xe9`` (as ``ls -b`` does), control
    characters as ``\\x1b``, ``\\n``."""
    text = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(_escaped, text)
