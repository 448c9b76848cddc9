"""Text helpers every layer may use (the ground floor: imports nothing of the engine)."""

from __future__ import annotations

import logging
import logging.handlers
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


def clipped(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most about ``limit`` characters, with
    an ellipsis where it was cut: a message never ends mid-word ("struct form)") or on an
    opening bracket ("plugins: (")."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:([{") + " …"


class EscapedFormatter(logging.Formatter):
    """Log records a peer or a file cannot write into: the message with every control character
    escaped (a CR/LF in a patient's name or a peer's AE title cannot start a forged line), and a
    traceback's lines indented behind ``|`` so none of them can pass for a record either. Used
    for every handler the project adds, so the libraries' records are escaped too."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args, record.exc_text
        record.msg, record.args, record.exc_text = printable(record.getMessage()), None, None
        try:
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return _indented(stack_info)


def _indented(text: str) -> str:
    return "\n".join("    | " + printable(line) for line in text.splitlines())


LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5


class RotatingLog(logging.handlers.RotatingFileHandler):
    """A log file rotated by size (``LOG_MAX_BYTES``, ``LOG_BACKUPS`` old ones kept), escaped,
    and silenced, not spilling logging's own tracebacks onto the terminal, when the disk is
    full or the folder is lost."""

    def __init__(self, path: str | os.PathLike, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
        super().__init__(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
        self.setFormatter(EscapedFormatter(fmt))

    def handleError(self, record) -> None:  # noqa: N802 - logging's name
        self.setLevel(logging.CRITICAL + 1)

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            pass
