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


def read_image(path: str | os.PathLike, *, level: int = 0, slice_index: int | None = None) -> MammoImage:
    """Read a mammogram with full-depth pixels and metadata; at ``level`` k > 0 a reduced
    resolution level, 2^k times smaller along each side (``levels.py``): straight from the
    codestream's pyramid for JPEG 2000/HTJ2K, from the full decode for anything else.

    A tomosynthesis stack gives one slice: ``slice_index`` (0-based, spatial order; default
    its middle slice); ``image.metadata`` says how many there are (``io/tomo.py``).

    Raises a :class:`~hds_core.io.errors.MammoReadError` subclass naming the file and the
    reason. Never writes to the file.
    """
    path = Path(path)
    file_format = sniff_format(path)
    if file_format == "DICOM":
        from .dicom import read_dicom

        return read_dicom(path, level, slice_index=slice_index)
    return _raster(path, file_format, level)


def read_preview(
    path: str | os.PathLike,
    *,
    screen_shape: tuple[int, int] | None = None,
    network=None,
    unknown_spacing_mm: float | None = None,
) -> MammoImage:
    """The first look at a mammogram: the coarsest level that still fills ``screen_shape``
    (rows, columns, the whole image fitted) and that the network can work from (``network``:
    a ``hds_core.network_input.NetworkInput``, or anything whose ``level(spacing_mm)`` says
    which level its input comes from; with the spacing the file gives, else the one the
    model assumes),
    where the file holds such levels ready-made (JPEG 2000/HTJ2K). Anything else is read in
    full (level 0): reducing it would cost its full decode anyway. ``image.level`` says which.
    ``unknown_spacing_mm``: the spacing the caller will give the network for a file that has
    none (hds-predict --spacing)."""
    path = Path(path)
    file_format = sniff_format(path)
    if file_format != "DICOM":
        return _raster(path, file_format, 0)
    from .dicom import read_dicom
    from .levels import preview_level

    def choose(metadata, available: int) -> int:
        spacing = (unknown_spacing_mm,) * 2 if unknown_spacing_mm and not metadata.spacing_known else None
        spacing = spacing or metadata.spacing_for_network
        return preview_level(
            (metadata.rows, metadata.columns),
            screen_shape=screen_shape,
            network_level=None if network is None else network.level(spacing),
            available=available,
        )

    return read_dicom(path, choose)


def _raster(path: Path, file_format: str, level: int) -> MammoImage:
    from .levels import deepest_level
    from .raster import read_raster

    image = read_raster(path, file_format)
    return image.at_level(min(level, deepest_level(image.pixels.shape)))
