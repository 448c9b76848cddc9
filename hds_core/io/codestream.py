"""The image size a compressed frame declares, read from its first bytes.

Decoders allocate what the codestream says, not what the DICOM header says: a 145-byte
JPEG 2000 codestream whose SIZ marker declares 65000x65000 inside a file whose header says
64x64 took the decoders to 9 GB before they gave up. The size markers are a few bytes into
the first fragment (JPEG 2000 SIZ, JPEG-LS SOF55, JPEG SOFn), so a frame that disagrees
with Rows and Columns is refused before any decoder runs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pydicom import uid

JPEG2000_SYNTAXES = {
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.JPEG2000MCLossless,
    uid.JPEG2000MC,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
}
JPEG_LS_SYNTAXES = {uid.JPEGLSLossless, uid.JPEGLSNearLossless}
JPEG_SYNTAXES = {uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1}
_ITEM = b"\xfe\xff\x00\xe0"


def first_fragment(pixel_data: bytes, limit: int = 65536) -> bytes | None:
    """The start of the first fragment after the Basic Offset Table of encapsulated pixel
    data (None when the items cannot be read: the decoder then reports the damage)."""
    if len(pixel_data) < 8 or pixel_data[:4] != _ITEM:
        return None
    (offsets,) = struct.unpack_from("<I", pixel_data, 4)
    start = 8 + offsets
    if len(pixel_data) < start + 8 or pixel_data[start : start + 4] != _ITEM:
        return None
    (length,) = struct.unpack_from("<I", pixel_data, start + 4)
    return bytes(pixel_data[start + 8 : start + 8 + min(length, limit)])


def declared_size(syntax: str, fragment: bytes) -> tuple[int, int] | None:
    """(rows, columns) the codestream declares; None when the syntax has no such marker
    here or the marker cannot be found (then the decoder has the last word)."""
    if syntax in JPEG2000_SYNTAXES:
        return _j2k_size(fragment)
    if syntax in JPEG_LS_SYNTAXES or syntax in JPEG_SYNTAXES:
        return _jpeg_size(fragment)
    return None


def _j2k_size(data: bytes) -> tuple[int, int] | None:
    # SOC then SIZ (FF4F FF51); a JP2 wrapper (not allowed in DICOM, but seen) puts boxes first.
    at = data.find(b"\xff\x4f\xff\x51")
    if at < 0 or len(data) < at + 4 + 2 + 2 + 16:
        return None
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">IIII", data, at + 8)
    if xsiz <= xosiz or ysiz <= yosiz:
        return None  # a damaged marker: the decoder says what is wrong
    return ysiz - yosiz, xsiz - xosiz


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments from SOI to the first start-of-frame (SOF0-15 but DHT, JPG and
    DAC; SOF55 for JPEG-LS): precision (1 byte), lines (2), samples per line (2)."""
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        (length,) = struct.unpack_from(">H", data, at + 2)
        if (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)) or marker == 0xF7:
            if at + 9 > len(data):
                return None
            lines, samples = struct.unpack_from(">HH", data, at + 5)
            return (lines, samples) if lines else None  # 0 lines: set later by a DNL marker
        if marker == 0xDA:  # start of scan without a frame header
            return None
        at += 2 + length
    return None


@dataclass(frozen=True)
class J2KCoding:
    """What a JPEG 2000 main header says about the pyramid and the samples."""

    rows: int
    columns: int
    components: int
    precision: int  # bits per sample
    signed: bool
    origin_at_zero: bool  # image and tile offsets 0, as DICOM files have them
    levels: int  # wavelet decomposition levels: so many reduced levels decode without the full image
    reversible: bool  # the 5/3 integer wavelet (lossless); False: the 9/7 irreversible one


def j2k_coding(data: bytes) -> J2KCoding | None:
    """The main header's SIZ and COD markers (None when they cannot be read: the decoder
    then has the last word)."""
    at = data.find(b"\xff\x4f\xff\x51")
    if at < 0 or len(data) < at + 4 + 39:
        return None
    xsiz, ysiz, xosiz, yosiz, _, _, xtosiz, ytosiz = struct.unpack_from(">IIIIIIII", data, at + 8)
    (components,) = struct.unpack_from(">H", data, at + 40)
    ssiz = data[at + 42]
    levels = transform = None
    marker = at + 2
    while marker + 4 <= len(data) and data[marker] == 0xFF:
        code = data[marker + 1]
        if code in (0x90, 0x93, 0xD9):  # start of tile, start of data, end: the main header is over
            break
        (length,) = struct.unpack_from(">H", data, marker + 2)
        if code == 0x52 and marker + 14 <= len(
            data
        ):  # COD: Scod, progression, layers, MCT, levels, code-block, transform
            levels, transform = data[marker + 9], data[marker + 13]
        marker += 2 + length
    if levels is None or xsiz <= xosiz or ysiz <= yosiz:
        return None
    return J2KCoding(
        rows=ysiz - yosiz,
        columns=xsiz - xosiz,
        components=components,
        precision=(ssiz & 0x7F) + 1,
        signed=bool(ssiz & 0x80),
        origin_at_zero=xosiz == yosiz == xtosiz == ytosiz == 0,
        levels=levels,
        reversible=transform == 1,
    )
