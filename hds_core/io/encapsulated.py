"""Where each frame of encapsulated (compressed) multi-frame pixel data lies in its file, found
from the items' headers alone (8 bytes each, the fragments themselves skipped): a frame's
codestream is then read by itself, and a header that claims more frames than the file holds
is caught before any frame is decoded.

Frames are told apart as DICOM says (PS3.5 A.4): by the Basic Offset Table, else the Extended
Offset Table, else one fragment per frame; several fragments per frame with no table are
grouped by where each codestream starts (JPEG 2000's SOC+SIZ, JPEG's SOI)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

ITEM, SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"
STARTS = (b"\xff\x4f\xff\x51", b"\xff\xd8")  # a JPEG 2000 codestream's SOC+SIZ, a JPEG (-LS) SOI
MAX_FRAGMENTS = 1_000_000  # far more than any stack has; a file claiming more is built to stall us


class EncapsulationError(ValueError):
    """The pixel data's items do not add up to the frames the header claims."""


@dataclass(frozen=True)
class FrameIndex:
    frames: tuple[tuple[tuple[int, int], ...], ...]  # per frame: its fragments' (file offset, length)

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, path: Path, index: int) -> bytes:
        """Frame ``index`` (0-based, file order): its fragments' bytes joined."""
        with open(path, "rb") as handle:
            parts = []
            for offset, length in self.frames[index]:
                handle.seek(offset)
                part = handle.read(length)
                if len(part) != length:
                    raise EncapsulationError(f"frame {index + 1} is cut short: the file ends inside it")
                parts.append(part)
        return b"".join(parts)


def frame_index(path: Path, frames: int, extended_offsets=None) -> FrameIndex:
    """The frames of the file's encapsulated pixel data (``extended_offsets``: the Extended
    Offset Table's, if the header has one). Raises EncapsulationError when its items cannot
    hold ``frames`` frames."""
    import pydicom

    with open(path, "rb") as handle:
        pydicom.dcmread(handle, stop_before_pixels=True)  # leaves the file at the Pixel Data element
        head = handle.read(12)
        if len(head) != 12 or head[:4] != b"\xe0\x7f\x10\x00" or head[8:12] != b"\xff\xff\xff\xff":
            raise EncapsulationError("the pixel data is not encapsulated as its transfer syntax says")
        table, fragments = _items(handle)
    if not fragments:
        raise EncapsulationError("the pixel data holds no fragment")
    if table:
        starts = [fragments[0][0] - 8 + offset for offset in table]  # offsets count from the first fragment's item
    elif extended_offsets is not None:
        starts = [fragments[0][0] - 8 + offset for offset in extended_offsets]
    elif len(fragments) == frames:
        return FrameIndex(tuple((fragment,) for fragment in fragments))
    elif frames == 1:
        return FrameIndex((tuple(fragments),))
    else:
        return _by_markers(path, fragments, frames)
    if len(starts) < frames:
        raise EncapsulationError(
            f"the header claims {frames} frames; the pixel data's offset table lists {len(starts)}"
        )
    grouped = [[] for _ in starts]
    at = 0
    for offset, length in fragments:
        while at + 1 < len(starts) and offset - 8 >= starts[at + 1]:
            at += 1
        grouped[at].append((offset, length))
    if any(not group for group in grouped[:frames]):
        raise EncapsulationError("the pixel data's offset table points past its fragments")
    return FrameIndex(tuple(tuple(group) for group in grouped[:frames]))


def _items(handle) -> tuple[list[int], list[tuple[int, int]]]:
    """(the Basic Offset Table's offsets, each fragment's (offset of its bytes, length))."""
    tag = handle.read(8)
    if len(tag) != 8 or tag[:4] != ITEM:
        raise EncapsulationError("the pixel data has no Basic Offset Table item")
    length = struct.unpack("<I", tag[4:])[0]
    table = handle.read(length)
    if len(table) != length or length % 4:
        raise EncapsulationError("the Basic Offset Table is cut short or malformed")
    offsets = list(struct.unpack(f"<{length // 4}I", table)) if length else []
    fragments = []
    while len(fragments) <= MAX_FRAGMENTS:
        tag = handle.read(8)
        if len(tag) < 8 or tag[:4] == SEQUENCE_END:
            return offsets, fragments  # a missing delimiter: the file ends after its last fragment
        if tag[:4] != ITEM:
            raise EncapsulationError(f"a damaged item at byte {handle.tell() - 8} of the pixel data")
        length = struct.unpack("<I", tag[4:])[0]
        fragments.append((handle.tell(), length))
        handle.seek(length, 1)
    raise EncapsulationError(f"more than {MAX_FRAGMENTS} fragments")


def _by_markers(path: Path, fragments, frames: int) -> FrameIndex:
    grouped: list[list[tuple[int, int]]] = []
    with open(path, "rb") as handle:
        for offset, length in fragments:
            handle.seek(offset)
            begins = handle.read(4)
            if not grouped or any(begins.startswith(marker) for marker in STARTS):
                grouped.append([])
            grouped[-1].append((offset, length))
    if len(grouped) < frames:
        raise EncapsulationError(f"the header claims {frames} frames; the pixel data holds {len(grouped)}")
    return FrameIndex(tuple(tuple(group) for group in grouped[:frames]))
