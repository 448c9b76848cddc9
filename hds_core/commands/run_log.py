"""The commands' terminal line and log file: every failure in full in the log, with the
library's notes, pydicom's decoder tracebacks and the C decoders' own lines, so the terminal
keeps one line per file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path


def say(message: str) -> None:
    """One line to stderr; file names that are not valid UTF-8 are shown escaped."""
    from ..text import printable

    print(printable(message), file=sys.stderr, flush=True)


def setup_log(command: str = "hds-predict") -> tuple[logging.Handler | None, Path | None]:
    """The run's log file (every failure in full, pydicom's decoder tracebacks), in the
    user's log folder: the terminal gets one line per file and a summary."""
    import platformdirs

    from ..io.dicom import silence_pydicom_messages
    from ..text import RotatingLog

    folder = platformdirs.user_log_path("mammo-hds")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingLog(folder / f"{command}.log")
    except OSError:
        silence_pydicom_messages()
        return None, None
    handler.setLevel(logging.INFO)
    silence_pydicom_messages(handler)
    return handler, folder / f"{command}.log"


@contextlib.contextmanager
def native_output_to(run_log: logging.Logger):
    """C decoders (openjpeg) print their complaints straight to the process's stderr
    ("Error with SIZ marker: ..."), beside our one line per file: while a file is read,
    that stream goes to the log file instead."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            said = sink.read(65536).decode("utf-8", "replace").strip()
            if said:
                run_log.info("decoder output: %s", said)
