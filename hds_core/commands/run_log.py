"""The commands' terminal line and log file: every failure in full in the log, with the
library's notes, pydicom's decoder tracebacks and the C decoders' own lines, so the terminal
keeps one line per file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
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


# Where a Python warning raised while decoding comes from a decoder (not the header).
_DECODER_FILES = ("pixels", "openjpeg", "libjpeg", "pylibjpeg", "rle", "jpeg_ls", "gdcm", "pillow")


@contextlib.contextmanager
def native_output_to(run_log: logging.Logger):
    """While a file is read: what its decoders say. C decoders (openjpeg) print their
    complaints straight to the process's stderr ("Error with SIZ marker: ..."), beside our one
    line per file, so that stream goes to the log file instead; the decoders' Python warnings
    are logged too. Yields a list that holds, once the block is done, each thing a decoder
    said (empty when the image decoded cleanly)."""
    said: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _stderr_to_log(run_log, said):
                yield said
        finally:
            for warning in caught:
                text = str(warning.message)
                run_log.info("decoder warning: %s", text)
                if any(part in str(warning.filename).lower() for part in _DECODER_FILES):
                    said.append(text)


@contextlib.contextmanager
def _stderr_to_log(run_log: logging.Logger, said: list[str]):
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
            text = sink.read(65536).decode("utf-8", "replace").strip()
            if text:
                run_log.info("decoder output: %s", text)
                said.append(text)
