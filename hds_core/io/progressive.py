"""Reduced resolution levels straight from JPEG 2000 and HTJ2K pixel data.

A JPEG 2000 codestream is a wavelet pyramid: the level 2^k times smaller decodes from the
codestream's first resolutions without touching the finer ones (a 4096x3328 12-bit lossless
film: full 1.5 s, 1/8 0.035 s through Pillow's OpenJPEG here). openjpeg's own Python binding
has no way to ask for that, Pillow's has (``reduce``).

Pillow returns samples of 9-16 bits scaled to 16 (mode I;16) and signed ones offset to
unsigned; both are undone here, and the result has the dtype pydicom's full decode has.
Only reversible (5/3, lossless) codestreams are read this way: their levels are exactly the
5/3 band of the full decode. Lossy (9/7) ones, and any whose codestream and DICOM header
disagree (sign, precision, several components, an image offset), or that Pillow fails on, are
decoded in full instead: pydicom's handling of those cases is the reference.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames

from ..text import printable
from .codestream import JPEG2000_SYNTAXES, J2KCoding, j2k_coding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pyramid:
    """A frame whose reduced levels can be decoded directly."""

    frame: bytes
    coding: J2KCoding
    dtype: np.dtype  # what pydicom's full decode returns for this header

    @property
    def levels(self) -> int:
        return self.coding.levels


def pyramid_of(ds: Dataset, syntax: str, path: Path) -> Pyramid | None:
    """The pixel data's pyramid, when the file is JPEG 2000/HTJ2K and its codestream agrees
    with the header on everything the samples' values depend on; otherwise None."""
    if syntax not in JPEG2000_SYNTAXES or "PixelData" not in ds:
        return None
    try:
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    except Exception:  # noqa: BLE001 - damaged items: the full decode reports them
        return None
    return frame_pyramid(frame, ds, path)


def frame_pyramid(frame: bytes, ds: Dataset, path: Path) -> Pyramid | None:
    """One frame's codestream (a tomosynthesis slice's) as a pyramid, when it agrees with the
    header as ``pyramid_of`` asks; otherwise None (the frame is decoded in full)."""
    coding = j2k_coding(frame[:65536])
    if coding is None:
        return None
    bits_stored, signed = int(ds.BitsStored), int(ds.get("PixelRepresentation", 0) or 0) == 1
    bits_allocated = int(ds.BitsAllocated)
    if not coding.reversible:
        # A lossy (9/7) codestream's own levels are its low-pass bands, not the 5/3 band of the
        # decoded film that levels are defined as (levels.py): the network's input read from
        # one would differ from the full decode's. Decoded in full, as before.
        return None
    agrees = (
        coding.components == 1
        and coding.origin_at_zero
        and coding.precision == bits_stored
        and coding.signed == signed
        and coding.precision <= 16
        and bits_allocated in (8, 16)
        and (coding.rows, coding.columns) == (int(ds.Rows), int(ds.Columns))
    )
    if not agrees:
        log.info(
            "%s: the codestream and the header differ (%s): reduced levels come from the full decode",
            printable(path.name),
            coding,
        )
        return None
    return Pyramid(frame, coding, np.dtype(f"{'i' if signed else 'u'}{bits_allocated // 8}"))


def decode_level(pyramid: Pyramid, level: int) -> np.ndarray:
    """Level ``level`` (1 <= level <= pyramid.levels) of the frame, as stored values."""
    from PIL import Image

    coding = pyramid.coding
    factor = 1 << level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # sizes were checked against the header
        picture = Image.open(io.BytesIO(pyramid.frame), formats=["JPEG2000"])
        # Pillow rounds a reduced size to the nearest integer, int((n + f/2) / f), where the
        # codestream's level holds ceil(n / f) samples; on sizes such as 517 at 1/4 its decoder
        # then refuses the tile ("broken data stream"). Handing it the size rounded up to a
        # multiple of f makes its rounding give ceil(n / f). Pillow 13.0.0; tests/io/test_levels.py
        # covers odd sizes at every level, so a change in Pillow shows there.
        picture._size = (math.ceil(coding.columns / factor) * factor, math.ceil(coding.rows / factor) * factor)
        picture.reduce = level
        picture.load()
    expected = (math.ceil(coding.rows / factor), math.ceil(coding.columns / factor))
    container = {"L": 8, "I;16": 16}.get(picture.mode)
    if container is None or (picture.height, picture.width) != expected:
        raise ValueError(
            f"Pillow gave mode {picture.mode} at {picture.width}x{picture.height}, expected {expected[1]}x{expected[0]}"
        )
    values = np.asarray(picture).astype(np.int32) >> (container - coding.precision)
    if coding.signed:
        values -= 1 << (coding.precision - 1)
    return values.astype(pyramid.dtype)
