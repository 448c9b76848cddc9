"""One call reads any supported mammogram file: DICOM, PNG, PGM or TIFF."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from . import errors
from .image import MammoImage

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"P5", "PGM"),
    (b"P2", "PGM"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\xff\xd8\xff", "JPEG"),  # research exports (CDD-CESM); never a diagnostic original
)


def sniff_format(path: str | os.PathLike) -> str:
    """The file's format from its first bytes ("DICOM", "PNG", "PGM", "TIFF", "JPEG"), never its name."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise errors.UnreadableFileError(path, f"cannot open ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise errors.UnreadableFileError(path, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        # Opening a named pipe blocks until someone writes to it; devices are not images.
        raise errors.UnreadableFileError(path, "is not a regular file (a pipe, socket or device)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except IsADirectoryError:
        raise errors.UnreadableFileError(path, "is a folder, not a file") from None
    except PermissionError:
        raise errors.UnreadableFileError(path, "permission denied", "check the file's permissions") from None
    except OSError as exc:
        raise errors.UnreadableFileError(path, f"cannot open ({exc.strerror or exc})") from None
    if not head:
        raise errors.EmptyFileError(path, "file is empty (0 bytes)")
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "DICOM"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    # DICOM without preamble starts with a group 0x0002 or 0x0008 tag, little endian.
    if head[:2] in (b"\x02\x00", b"\x08\x00"):
        return "DICOM"
    raise errors.NotAnImageError(path, "not a DICOM, PNG, PGM, TIFF or JPEG file", "open a mammogram file")


def read_image(path: str | os.PathLike) -> MammoImage:
    """Read a mammogram with full-depth pixels and metadata.

    Raises a :class:`~hds_core.io.errors.MammoReadError` subclass naming the file and the
    reason. Never writes to the file.
    """
    path = Path(path)
    file_format = sniff_format(path)
    if file_format == "DICOM":
        from .dicom import read_dicom

        return read_dicom(path)
    from .raster import read_raster

    return read_raster(path, file_format)
