"""Stored means readable: an instance received from the network is kept only if any DICOM
reader can read it as it is encoded.

It must parse under the transfer syntax of its presentation context, in that encoding
(implicit VR data on an explicit context, or the reverse, is refused: pydicom would guess and
read it, other readers do not); every element's value must be there in full; pixel data must
be encapsulated exactly when the transfer syntax is compressed, hold the bytes its Rows,
Columns, Bits Allocated, Samples per Pixel and Number of Frames declare when native, and
start as its codec's stream does when compressed; and only image objects and segmentations
carry pixel data at all (an SR claiming 4 GB of pixels is refused).

The file is walked from disk, never read whole: values over ``DEFER`` bytes are checked by
their bounds only, and encapsulated fragments by their item headers and first bytes."""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..text import clipped
from .cache import valid_uid

DEFER = 16 * 1024 * 1024
MAX_FRAGMENTS = 1_000_000
MAX_TAIL = 1024 * 1024
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
# How each compressed transfer syntax's first fragment begins.
_J2K = (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")
_JPEG = (b"\xff\xd8",)
_SIGNATURES = {
    "1.2.840.10008.1.2.4.90": _J2K,
    "1.2.840.10008.1.2.4.91": _J2K,
    "1.2.840.10008.1.2.4.201": _J2K,
    "1.2.840.10008.1.2.4.202": _J2K,
    "1.2.840.10008.1.2.4.203": _J2K,
    "1.2.840.10008.1.2.4.50": _JPEG,
    "1.2.840.10008.1.2.4.51": _JPEG,
    "1.2.840.10008.1.2.4.57": _JPEG,
    "1.2.840.10008.1.2.4.70": _JPEG,
    "1.2.840.10008.1.2.4.80": _JPEG,
    "1.2.840.10008.1.2.4.81": _JPEG,
}
RLE = "1.2.840.10008.1.2.5"
# Classes whose objects carry pixel data: mammography (1.1.x), breast tomosynthesis and
# projections (13.1.x), segmentations.
_PIXEL_CLASSES_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.1.",
    "1.2.840.10008.5.1.4.1.1.13.1.",
    "1.2.840.10008.5.1.4.1.1.66.4",
)


@dataclass(frozen=True)
class Instance:
    study_uid: str
    sop_uid: str
    sop_class: str
    patient: tuple[str, str, str, str]  # ID, issuer, name, birth date (as sent)


class UnreadableError(Exception):
    """Why an instance is refused; ``status`` is the DIMSE failure to answer."""

    def __init__(self, reason: str, status: int = 0xC000) -> None:
        super().__init__(reason)
        self.status = status


def check_instance(path: Path, context_class: str) -> Instance:
    """The instance at ``path`` (pynetdicom's file: file meta with the context's transfer
    syntax, then the data set as received) checked as the module says; raises UnreadableError."""
    from pydicom import dcmread
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    size = path.stat().st_size
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            with open(path, "rb") as handle:
                from pydicom.filereader import _read_file_meta_info, read_preamble

                read_preamble(handle, False)
                syntax = str(_read_file_meta_info(handle).get("TransferSyntaxUID", ""))
                handle.seek(0)
                if syntax == DeflatedExplicitVRLittleEndian:
                    from ..io.deflated import read_deflated

                    dataset, pixel_at = read_deflated(path, 400_000_000), None
                else:
                    dataset = dcmread(handle, stop_before_pixels=True, defer_size=DEFER)
                    pixel_at = handle.tell()
                _walk(dataset, size)
        except UnreadableError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a peer sent: a reason, not a crash
            raise UnreadableError(f"it does not parse ({type(exc).__name__}: {clipped(str(exc), 200)})") from None
    for warning in said:
        text = str(warning.message)
        if "Expected explicit VR, but found implicit VR" in text or "Expected implicit VR, but found explicit" in text:
            raise UnreadableError(f"its encoding is not the one negotiated ({syntax}): {text}", 0xA900)
    study, sop = valid_uid(dataset.get("StudyInstanceUID")), valid_uid(dataset.get("SOPInstanceUID"))
    if study is None or sop is None:
        raise UnreadableError("it has no valid Study or SOP Instance UID", 0xA900)
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class != context_class:
        raise UnreadableError(f"its class {sop_class} is not its context's ({context_class})", 0xA900)
    carries_pixels = sop_class.startswith(_PIXEL_CLASSES_PREFIXES)
    if pixel_at is not None and pixel_at < size:
        if not carries_pixels:
            raise UnreadableError(f"a {sop_class} object carries pixel data", 0xA900)
        _check_pixel_element(path, pixel_at, size, dataset, syntax)
    elif pixel_at is None and "PixelData" in dataset:
        if not carries_pixels:
            raise UnreadableError(f"a {sop_class} object carries pixel data", 0xA900)
        _check_native_length(len(dataset.PixelData), dataset)
    elif carries_pixels:
        raise UnreadableError("its pixel data is missing")
    keys = ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate")
    patient = tuple(str(dataset.get(k, "") or "") for k in keys)
    return Instance(study, sop, sop_class, patient)  # type: ignore[arg-type]


def _walk(dataset, size: int) -> None:
    """Every element converted (sequences parsed), deferred ones checked against the file's end."""
    from pydicom.dataelem import RawDataElement

    for tag in list(dataset.keys()):
        raw = dataset._dict[tag]
        if isinstance(raw, RawDataElement):
            if raw.value is None:  # deferred: over DEFER bytes, not read
                if raw.length != _UNDEFINED and raw.value_tell + raw.length > size:
                    raise UnreadableError(f"element {tag} is cut short ({raw.length} bytes declared)")
                continue
            if raw.length != _UNDEFINED and len(raw.value) != raw.length:
                raise UnreadableError(f"element {tag} is cut short ({len(raw.value)} of {raw.length} bytes)")
        element = dataset[tag]
        if element.VR == "SQ":
            for item in element.value:
                _walk(item, size)


def _expected_bytes(dataset) -> int:
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    bits = int(dataset.get("BitsAllocated", 0) or 0)
    if rows <= 0 or columns <= 0 or bits <= 0 or frames <= 0:
        raise UnreadableError("its Rows, Columns, Bits Allocated or Number of Frames are missing or zero")
    return (rows * columns * samples * frames * bits + 7) // 8


def _check_native_length(length: int, dataset) -> None:
    expected = _expected_bytes(dataset)
    if length not in (expected, expected + 1):
        raise UnreadableError(f"its pixel data holds {length} bytes where its header declares {expected}")


def _check_pixel_element(path: Path, at: int, size: int, dataset, syntax: str) -> None:
    from pydicom.uid import UID

    uid = UID(syntax)
    implicit = uid.is_implicit_VR
    compressed = uid.is_compressed
    with open(path, "rb") as handle:
        handle.seek(at)
        header = handle.read(8)
        if len(header) < 8:
            raise UnreadableError("its pixel data element is cut short")
        group, element = struct.unpack("<HH", header[:4])
        if (group, element) != (0x7FE0, 0x0010):
            return  # float or double pixel data: not ours to check here (refused later as not an image)
        if implicit:
            length = struct.unpack("<L", header[4:8])[0]
        elif header[4:6] in _LONG_VRS:
            extra = handle.read(4)
            if len(extra) < 4:
                raise UnreadableError("its pixel data element is cut short")
            length = struct.unpack("<L", extra)[0]
        else:
            length = struct.unpack("<H", header[6:8])[0]
        start = handle.tell()
        if length != _UNDEFINED:
            if compressed:
                raise UnreadableError(f"its pixel data is not encapsulated, as {uid.name} requires", 0xA900)
            if start + length > size:
                raise UnreadableError(f"its pixel data is cut short ({size - start} of {length} bytes)")
            _check_native_length(length, dataset)
            _check_tail(handle, start + length, size, implicit)
            return
        if not compressed:
            raise UnreadableError(f"its pixel data is encapsulated under {uid.name}, which is not compressed", 0xA900)
        _check_fragments(handle, size, syntax, implicit)


def _check_fragments(handle, size: int, syntax: str, implicit: bool) -> None:
    for index in range(MAX_FRAGMENTS):
        item = handle.read(8)
        if len(item) < 8:
            raise UnreadableError("its encapsulated pixel data is cut short (no sequence delimiter)")
        group, element, length = struct.unpack("<HHL", item)
        if (group, element) == (0xFFFE, 0xE0DD):
            if index < 2:
                raise UnreadableError("its encapsulated pixel data holds no fragment")
            _check_tail(handle, handle.tell(), size, implicit)
            return
        if (group, element) != (0xFFFE, 0xE000) or length == _UNDEFINED:
            raise UnreadableError("its encapsulated pixel data has a malformed item")
        start = handle.tell()
        if start + length > size:
            raise UnreadableError(f"fragment {index} of its pixel data is cut short")
        if index == 1:  # the first fragment after the offset table
            head = handle.read(min(length, 64))
            signatures = _SIGNATURES.get(syntax)
            if signatures and not head.startswith(signatures):
                raise UnreadableError(f"its pixel data does not begin as a {_syntax_name(syntax)} stream does", 0xA900)
            if syntax == RLE and (len(head) < 4 or not 1 <= struct.unpack("<L", head[:4])[0] <= 15):
                raise UnreadableError("its pixel data does not begin with an RLE header", 0xA900)
        handle.seek(start + length)
    raise UnreadableError(f"its pixel data has over {MAX_FRAGMENTS} fragments")


def _check_tail(handle, at: int, size: int, implicit: bool) -> None:
    """Elements after the pixel data (trailing padding, signatures) must parse too."""
    if at >= size:
        return
    if size - at > MAX_TAIL:
        raise UnreadableError(f"{size - at} bytes follow its pixel data")
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    handle.seek(at)
    tail = read_dataset(DicomBytesIO(handle.read()), implicit, True)
    _walk(tail, size - at)


def _syntax_name(syntax: str) -> str:
    from pydicom.uid import UID

    return UID(syntax).name
