"""Deflated Explicit VR Little Endian files, inflated with a bound.

pydicom inflates such a dataset whole with ``zlib.decompress``: a 3 MB file holding a 3 GiB
private element of zeros took 6.6 GB of memory to read a 64x64 image. Here the dataset is
inflated as a stream while its element headers are walked, and refused as soon as a
declared length goes past what the header allows: the pixel data may hold what Rows,
Columns, Bits Allocated, Samples per Pixel and Number of Frames say (plus the pad byte),
and everything else together ``OTHER_ELEMENTS_LIMIT``. Nothing is inflated past the element
that breaks the bound.

pydicom's deferred reads also cannot serve these files (they seek into the compressed file
at offsets of the inflated stream), so the dataset is parsed from the inflated bytes whole,
which the bound keeps to the image's own size plus the allowance.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from pydicom.dataset import FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble
from pydicom.uid import DeflatedExplicitVRLittleEndian as DEFLATED  # noqa: N814

from . import errors

# Headers of real mammograms hold at most a few MB of private data; 64 MiB is generous.
OTHER_ELEMENTS_LIMIT = 64 * 2**20
_CHUNK = 1 << 20  # inflated bytes per step
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
_SIZE_TAGS = {
    (0x0028, 0x0002): "SamplesPerPixel",
    (0x0028, 0x0008): "NumberOfFrames",
    (0x0028, 0x0010): "Rows",
    (0x0028, 0x0011): "Columns",
    (0x0028, 0x0100): "BitsAllocated",
}


class _Walker:
    """Walks element headers of an Explicit VR Little Endian stream as it grows; raises
    before a declared length can take the stream past the bound."""

    def __init__(self, path: Path, max_pixels: int):
        self.path = path
        self.max_pixels = max_pixels
        self.position = 0  # next element header
        self.depth = 0  # open sequences and items of undefined length
        self.sizes: dict[str, int] = {}
        self.other = 0

    def pixel_limit(self) -> int | None:
        try:
            rows, columns, bits = self.sizes["Rows"], self.sizes["Columns"], self.sizes["BitsAllocated"]
        except KeyError:
            return None
        samples, frames = self.sizes.get("SamplesPerPixel", 1) or 1, self.sizes.get("NumberOfFrames", 1) or 1
        pixels = rows * columns * samples * frames
        if pixels > self.max_pixels:
            raise errors.ImageTooLargeError(
                self.path,
                f"header claims {rows}x{columns}x{frames} frame(s), over the {self.max_pixels // 1_000_000} "
                "Mpixel limit",
                "the header is corrupt or this is not a mammogram",
            )
        return (pixels * bits + 7) // 8 + 1

    def walk(self, data: bytearray) -> None:
        """Advance over every element whose header is complete in ``data``."""
        while True:
            start = self.position
            if len(data) < start + 8:
                return
            group, element = struct.unpack_from("<HH", data, start)
            if group == 0xFFFE:  # item and delimiters: tag and a 4-byte length, no VR
                (length,) = struct.unpack_from("<I", data, start + 4)
                if element == 0xE000 and length != _UNDEFINED:
                    self._other(8 + length)
                    self.position = start + 8 + length
                else:
                    self.depth += 1 if element == 0xE000 else -1
                    self.position = start + 8
                continue
            vr = bytes(data[start + 4 : start + 6])
            if vr in _LONG_VRS:
                if len(data) < start + 12:
                    return
                (length,) = struct.unpack_from("<I", data, start + 8)
                header = 12
            else:
                (length,) = struct.unpack_from("<H", data, start + 6)
                header = 8
            if length == _UNDEFINED:  # a sequence (or encapsulated data) whose items follow
                self.depth += 1
                self.position = start + header
                continue
            tag = (group, element)
            if self.depth == 0 and tag in _SIZE_TAGS:
                if len(data) < start + header + length:
                    return  # wait for the value
                self.sizes[_SIZE_TAGS[tag]] = _number(bytes(data[start + header : start + header + length]), vr)
            if self.depth == 0 and tag in _PIXEL_TAGS and (limit := self.pixel_limit()) is not None:
                if length > limit:
                    raise errors.PixelSizeMismatchError(
                        self.path,
                        f"the deflated pixel data declares {length} bytes, but the header's image size needs "
                        f"{limit - 1}",
                        "the file is damaged or was built to exhaust memory",
                    )
            else:
                self._other(header + length)
            self.position = start + header + length

    def _other(self, size: int) -> None:
        self.other += size
        if self.other > OTHER_ELEMENTS_LIMIT:
            raise errors.ImageTooLargeError(
                self.path,
                f"the deflated dataset inflates past {OTHER_ELEMENTS_LIMIT // 2**20} MiB of elements besides "
                "the pixel data",
                "the file is damaged or was built to exhaust memory",
            )


def _number(value: bytes, vr: bytes) -> int:
    try:
        if vr == b"US":
            return struct.unpack("<H", value[:2])[0]
        return int(value.decode("ascii", "replace").strip("\x00 ").split("\\")[0] or 0)  # IS (Number of Frames)
    except (ValueError, struct.error):
        return 0  # left for the header checks to refuse


def inflate_bounded(handle, path: Path, max_pixels: int) -> bytes:
    """The inflated dataset that follows the file meta information in ``handle``."""
    walker = _Walker(path, max_pixels)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    data = bytearray()
    pending = b""
    while True:
        if not pending:
            pending = handle.read(_CHUNK)
            if not pending:
                break  # the file ends; a value cut off is found when the dataset is parsed
        try:
            # Inflate only up to the element being walked (plus a step), never beyond.
            room = max(walker.position + _CHUNK - len(data), _CHUNK)
            data += inflater.decompress(pending, room)
        except zlib.error as exc:
            raise errors.InvalidHeaderError(
                path, f"the deflated dataset is damaged ({exc})", "copy the file again from the archive"
            ) from None
        pending = inflater.unconsumed_tail
        walker.walk(data)
        if inflater.eof:
            break
    if not inflater.eof:
        data += inflater.flush(_CHUNK)  # what zlib still holds of the consumed input (a window at most)
        walker.walk(data)
    return bytes(data)


def is_deflated(path: Path) -> bool:
    """Whether the file meta information names the deflated transfer syntax (read from the
    first few KB; the UID is looked for before the meta group is parsed)."""
    try:
        with open(path, "rb") as handle:
            if DEFLATED.encode() not in handle.read(16384):
                return False
            handle.seek(0)
            read_preamble(handle, True)
            return str(_read_file_meta_info(handle).get("TransferSyntaxUID", "")) == DEFLATED
    except Exception:  # noqa: BLE001 - the ordinary reader reports what is wrong with the file
        return False


def read_deflated(path: Path, max_pixels: int) -> FileDataset:
    """Parse a Deflated Explicit VR Little Endian file with bounded inflation."""
    with open(path, "rb") as handle:
        preamble = read_preamble(handle, True)
        file_meta = _read_file_meta_info(handle)
        inflated = inflate_bounded(handle, path, max_pixels)
    buffer = DicomBytesIO(inflated)
    buffer.name = str(path)
    dataset = read_dataset(buffer, is_implicit_VR=False, is_little_endian=True)
    ds = FileDataset(str(path), dataset, preamble, file_meta, False, True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds
