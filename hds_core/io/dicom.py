"""DICOM mammograms: reading a file (every element checked, dicom_header.py), decoding its
pixels with the project's chosen plugins at the level asked for, and the silenced pydicom logs."""

from __future__ import annotations

import dataclasses
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid as dicom_uid
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..text import clipped, printable
from . import errors
from .codestream import JPEG2000_SYNTAXES
from .dicom_header import (
    MAX_MODALITY_VALUE,
    MAX_PIXELS,
    check_image_header,
    convert_elements,
    finite_value,
    metadata_from_dataset,
    pixel_tag_offset,
    stack_frames,
    voi_presets_from_dataset,
)
from .image import MammoImage, MammoMetadata
from .levels import deepest_level
from .progressive import decode_level, frame_pyramid, pyramid_of
from .tomo import combine_slices, frame_dataset, is_stack, read_frame_pixels, slab_around

# Picks a resolution level from the file's metadata and the levels its pixel data holds.
LevelChoice = Callable[[MammoMetadata, int], int]

log = logging.getLogger(__name__)

_PREFERRED_PLUGIN = {
    dicom_uid.JPEGLSLossless: "pyjpegls",
    dicom_uid.JPEGLSNearLossless: "pyjpegls",
}


# SNOMED CT (and legacy SNOMED-RT) codes of ViewCodeSequence -> ViewPosition abbreviations.
def silence_pydicom_messages(log_handler: logging.Handler | None = None) -> None:
    """For the entry points (viewer, its decoder process, CLIs): pydicom's validation
    warnings can quote header values (an invalid birth date, a name that is too long), which
    must not reach logs or terminals; and its decoders log each failure with a whole
    traceback, where the typed error we report per file already says what is wrong in one
    line. Those errors go to ``log_handler`` (the program's log file) only, never to a
    terminal."""
    import warnings

    logger = logging.getLogger("pydicom")
    logger.setLevel(logging.ERROR)
    logger.propagate = False  # not to the root logger's terminal handler
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    # A logger with no handler at all would fall back to Python's last-resort stderr handler.
    logger.addHandler(log_handler if log_handler is not None else logging.NullHandler())
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")


def _encapsulated(path: Path) -> bool:
    """The file's pixel data is compressed (encapsulated in fragments), as its meta says."""
    try:
        syntax = pydicom.filereader.read_file_meta_info(path).get("TransferSyntaxUID")
    except Exception:  # noqa: BLE001 - no preamble, a damaged meta: the usual parse says what is wrong
        return False
    uid = dicom_uid.UID(str(syntax or ""))
    return uid.is_transfer_syntax and uid.is_compressed  # an unknown syntax: refused by the usual path


def _header_before_fragments(path: Path) -> Dataset:
    """The header of a file with encapsulated pixel data, without reading the fragments:
    pydicom cannot defer a value of undefined length, and a 300 MB tomosynthesis stack would be
    read whole just to see its header. The Pixel Data element is there, empty: its frames are
    found from the items' headers when a frame is read (encapsulated.py)."""
    with open(path, "rb") as handle:
        ds = pydicom.dcmread(handle, stop_before_pixels=True)
        head = handle.read(12)
    if head[:4] == b"\xe0\x7f\x10\x00":
        ds.add(pydicom.DataElement(0x7FE00010, "OB", b"", is_undefined_length=True))
    ds.filename = str(path)
    return ds


def read_dataset(path: Path, *, header_only: bool = False) -> Dataset:
    """Parse a DICOM file; header_only defers large values (pixel data is not read), except
    in deflated files, which are inflated whole within a bound (``deflated.py``)."""
    from .deflated import is_deflated, read_deflated

    try:
        try:
            if is_deflated(path):
                ds = read_deflated(path, MAX_PIXELS)
            elif header_only and _encapsulated(path):
                ds = _header_before_fragments(path)
            else:
                ds = pydicom.dcmread(path, defer_size="64 KB" if header_only else None)
        except InvalidDicomError:
            # Files without the 128-byte preamble are legal in old archives; accept them
            # only when what was parsed looks like a DICOM object.
            ds = pydicom.dcmread(path, force=True, defer_size="64 KB" if header_only else None)
            if "SOPClassUID" not in ds and "PixelData" not in ds and not ds.get("file_meta"):
                raise errors.NotAnImageError(
                    path, "not a DICOM file (no DICM marker, no DICOM elements)", "open a DICOM, PNG, PGM or TIFF file"
                ) from None
    except errors.MammoReadError:
        raise
    except PermissionError:
        raise errors.UnreadableFileError(path, "permission denied", "check the file's permissions") from None
    except (EOFError, struct.error) as exc:
        where = "the pixel data" if pixel_tag_offset(path) is not None else "the DICOM header"
        raise errors.TruncatedFileError(
            path, f"the file ends inside {where} ({exc})", "the file was cut off while copying; copy it again"
        ) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises plain ValueError/KeyError/... on corrupt headers
        raise errors.InvalidHeaderError(path, f"cannot parse the DICOM header: {exc}") from None
    if "SOPClassUID" not in ds and "PixelData" not in ds:
        # pydicom stops quietly where a file ends; SOP Class UID is among the first elements.
        size = os.path.getsize(path)
        meta_class = ds.file_meta.get("MediaStorageSOPClassUID") if hasattr(ds, "file_meta") else None
        if meta_class:
            where = "the pixel data" if pixel_tag_offset(path) is not None else "the DICOM header"
            raise errors.TruncatedFileError(
                path,
                f"the file ends after {size} bytes, inside {where}",
                "the file was cut off while copying; copy it again",
            )
        raise errors.InvalidHeaderError(path, "no DICOM elements could be read after the DICM marker (corrupt header)")
    convert_elements(ds, path)
    return ds


# Elements whose values decide what the pixels mean or where the image hangs: if one of them
# cannot be read the file is refused. Any other element that cannot be read is left out of
# our in-memory copy (the file itself is never touched), so a damaged private tag does not
# cost the reader a good image.
def read_dicom(path: Path, level: int | LevelChoice = 0, *, slice_index: int | None = None) -> MammoImage:
    """The image at resolution ``level`` (``levels.py``), or at the level ``level(metadata,
    available)`` picks, where ``available`` is how many reduced levels the pixel data holds
    ready-made (JPEG 2000/HTJ2K: its wavelet levels; any other syntax: 0). A tomosynthesis
    stack gives one slice: ``slice_index`` (0-based, spatial order; default the middle one)."""
    header = read_dataset(path, header_only=True)
    if is_stack(header):
        return _read_slice(header, path, level, slice_index)
    ds = read_dataset(path)
    check_image_header(ds, path)
    metadata = metadata_from_dataset(ds, path)
    syntax = dicom_uid.UID(metadata.transfer_syntax or dicom_uid.ExplicitVRLittleEndian)
    if syntax.is_compressed:
        check_codestream_size(ds, path, syntax)
    pyramid = pyramid_of(ds, syntax, path) if callable(level) or level else None
    level, pixels = _at_level(metadata, level, pyramid, path.name)
    direct = pixels is not None
    if not direct:
        pixels = _decode_full(ds, path, syntax)
    return _image(ds, path, metadata, pixels, level, direct)


def _at_level(metadata: MammoMetadata, level: int | LevelChoice, pyramid, name: str):
    """(the level to read, its pixels straight from ``pyramid`` or None: decode in full). The one
    rule for a film and for a tomosynthesis slice: the level asked for (or chosen by ``level``
    from the levels the pyramid holds), within the image's levels."""
    if callable(level):
        level = level(metadata, pyramid.levels if pyramid else 0)
    level = max(0, min(int(level), deepest_level((metadata.rows, metadata.columns))))
    if level and pyramid is not None and level <= pyramid.levels:
        try:
            return level, decode_level(pyramid, level)
        except Exception as exc:  # noqa: BLE001 - the full decode then says what is wrong, in our words
            log.info("%s: level %d not decoded directly (%s); decoding in full", printable(name), level, exc)
    return level, None


def _read_slice(ds: Dataset, path: Path, level, slice_index: int | None) -> MammoImage:
    stack = StackReader(path, ds)
    return stack.slice(stack.metadata.frames // 2 if slice_index is None else slice_index, level)


class StackReader:
    """A tomosynthesis stack, its header read once: any slice on demand, its frame alone
    decoded (io/tomo.py), with its own window, rescale and laterality from its functional
    groups. ``metadata``: the stack's (its middle slice's header, frames in spatial order)."""

    def __init__(self, path: Path, ds: Dataset | None = None) -> None:
        self.path = Path(path)
        self.ds = ds if ds is not None else read_dataset(self.path, header_only=True)
        check_image_header(self.ds, self.path)
        self.metadata = metadata_from_dataset(self.ds, self.path)
        self.syntax = dicom_uid.UID(self.metadata.transfer_syntax or dicom_uid.ExplicitVRLittleEndian)
        self._plugin = _PREFERRED_PLUGIN.get(self.syntax, "")
        # JPEG 2000 frames are found in the file once: a reduced level of a slice then decodes
        # from its own codestream's first resolutions (progressive.py), not the whole frame.
        self._frames = (
            stack_frames(self.ds, self.path, self.metadata.frames) if self.syntax in JPEG2000_SYNTAXES else None
        )

    def __len__(self) -> int:
        return self.metadata.frames

    def slice(self, slice_index: int, level: int | LevelChoice = 0) -> MammoImage:
        """Slice ``slice_index`` (0-based, spatial order) at resolution ``level``."""
        stack = self.metadata
        if not 0 <= slice_index < stack.frames:
            raise IndexError(f"slice {slice_index} of a {stack.frames}-slice stack")
        index = stack.frame_order[slice_index]
        flat = frame_dataset(self.ds, index)
        metadata = dataclasses.replace(
            metadata_from_dataset(flat, self.path),
            frames=stack.frames,
            frame_order=stack.frame_order,
            slice_depths_mm=stack.slice_depths_mm,
            frame_number=index + 1,
            header_notes=stack.header_notes,
        )
        pyramid = self._pyramid(index, flat) if (callable(level) or level) else None
        level, pixels = _at_level(metadata, level, pyramid, f"{self.path.name} frame {index + 1}")
        direct = pixels is not None
        if not direct:
            pixels = read_frame_pixels(self.path, index, stack.frames, self._plugin)
        return _image(flat, self.path, metadata, pixels, level, direct)

    def _pyramid(self, index: int, flat: Dataset):
        """Frame ``index``'s (file order) codestream as a pyramid, or None (decoded in full)."""
        if self._frames is None:
            return None
        try:
            return frame_pyramid(self._frames.read(self.path, index), flat, self.path)
        except (OSError, ValueError):  # a damaged frame: the full decode names it
            return None

    def slab(self, centre: int, count: int, *, mip: bool = False, level: int | LevelChoice = 0) -> MammoImage:
        """``count`` slices around ``centre`` as one image (their MIP or average), with the
        centre slice's header and window; one slice at a time in memory besides the sum."""
        span = slab_around(centre, count, self.metadata.frames)
        if len(span) == 1:
            return self.slice(centre, level)
        middle = self.slice(centre, level)
        pixels = (middle.pixels if index == centre else self.slice(index, level).pixels for index in span)
        return slab_of(middle, pixels, len(span), mip)


def slab_of(middle: MammoImage, pixels, count: int, mip: bool) -> MammoImage:
    """``count`` slices' pixels (an iterable, ``middle``'s among them) as one image with the
    middle slice's header and window: the slab a view shows (io/tomo.combine_slices)."""
    metadata = dataclasses.replace(middle.metadata, slab_slices=count, slab_mip=mip)
    return dataclasses.replace(middle, pixels=combine_slices(pixels, mip), metadata=metadata)


def _image(ds: Dataset, path: Path, metadata: MammoMetadata, pixels: np.ndarray, level: int, direct: bool):
    """The decoded pixels with what the header says about their values (rescale, windows,
    padding, presentation LUT), at ``level`` (``direct``: the pixels are that level already)."""
    note = signedness_note(pixels, metadata.bits_stored, int(ds.get("PixelRepresentation", 0) or 0) == 1)
    if note:
        metadata = dataclasses.replace(metadata, header_notes=(*metadata.header_notes, note))
    slope = finite_value(ds, "RescaleSlope", 1.0, path)
    if slope == 0:
        raise errors.InvalidHeaderError(path, "Rescale Slope is 0: every pixel would have the same value")
    intercept = finite_value(ds, "RescaleIntercept", 0.0, path)
    # The display pipeline computes in float32: a slope or intercept that sends the stored
    # range beyond it would turn every pixel into inf or nan.
    if abs(slope) * 2.0 ** (metadata.bits_stored or 16) + abs(intercept) > MAX_MODALITY_VALUE:
        raise errors.InvalidHeaderError(
            path,
            f"Rescale Slope {slope:g} / Intercept {intercept:g} take the pixel values out of any real range",
            "the header is damaged",
        )
    padding_value = ds.get("PixelPaddingValue")
    padding_limit = ds.get("PixelPaddingRangeLimit")
    shape = str(ds.get("PresentationLUTShape", "") or "").upper() or None
    image = MammoImage(
        pixels=pixels,
        metadata=metadata,
        rescale_slope=slope,
        rescale_intercept=intercept,
        file_presets=voi_presets_from_dataset(ds),
        padding_value=int(padding_value) if padding_value is not None else None,
        padding_range_limit=int(padding_limit) if padding_limit is not None else None,
        presentation_lut_shape=shape,
        level=level if direct else 0,
    )
    return image if direct else image.at_level(level)


def _encapsulation_complete(path: Path) -> bool:
    """The encapsulated pixel data ends with its sequence delimiter: the file is whole, so
    a decoder's failure means damaged data, not a copy cut short."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            return b"\xfe\xff\xdd\xe0\x00\x00\x00\x00" in handle.read()
    except OSError:
        return False


def signedness_note(pixels: np.ndarray, bits_stored: int | None, signed: bool) -> str | None:
    """A note when Pixel Representation says signed but the values are unsigned data wrapped
    around: both ends of the signed range are in use, the brightest tissue just below the
    top and its continuation just above the bottom (a real signed image does not do both)."""
    if not signed or not bits_stored or pixels.dtype.kind != "i":
        return None
    half = 1 << (bits_stored - 1)
    sample = pixels[:: max(1, pixels.shape[0] // 256), :: max(1, pixels.shape[1] // 256)]
    low, high = np.count_nonzero(sample <= -half // 2), np.count_nonzero(sample >= half // 2)
    if low and high and low >= 0.001 * sample.size:
        return (
            "Pixel Representation says signed, but the values look like unsigned data read as signed "
            "(both ends of the range in use): the header may be wrong and the image shown wrongly"
        )
    return None


def _decode_full(ds: Dataset, path: Path, syntax: dicom_uid.UID) -> np.ndarray:
    try:
        plugin = _PREFERRED_PLUGIN.get(syntax, "")
        pixels = ds.pixel_array if not plugin else _decode_with(ds, plugin)
    except MemoryError:
        raise errors.ImageTooLargeError(path, "not enough memory to decode the image") from None
    except Exception as exc:  # noqa: BLE001 - every decoder plugin raises its own kinds
        # Length mismatches of native pixel data were refused by check_image_header.
        raise errors.DecodeError(
            path,
            f"cannot decode the pixel data ({syntax.name}): {_decoder_reason(exc)}",
            "the compressed data is damaged, though the file is whole; export it again from the archive"
            if _encapsulation_complete(path)
            else "the file was cut off inside its compressed data; copy it again from the archive",
        ) from None
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))  # big-endian files
    if pixels.ndim != 2:
        raise errors.UnsupportedImageError(path, f"decoded pixel array has shape {pixels.shape}, expected 2-D")
    return pixels


def check_codestream_size(ds: Dataset, path: Path, syntax: dicom_uid.UID) -> None:
    """Refuse a compressed frame whose own size markers disagree with Rows and Columns,
    before a decoder allocates what the codestream claims (``codestream.py``)."""
    from .codestream import declared_size, first_fragment

    fragment = first_fragment(ds.PixelData)
    size = declared_size(syntax, fragment) if fragment else None
    rows, columns = int(ds.Rows), int(ds.Columns)
    if size is not None and size != (rows, columns):
        raise errors.PixelSizeMismatchError(
            path,
            f"the {syntax.name} codestream declares {size[1]}x{size[0]} pixels but the header says {columns}x{rows}",
            "the file is damaged or was built to exhaust memory; export it again from the archive",
        )


def _decoder_reason(exc: Exception) -> str:
    """pydicom reports "all plugins failed" on its first line and each plugin's reason on the
    next; the decoders' own words are what say what is wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    plugins = [line for line in lines[1:] if ":" in line and "NoneType" not in line and "<_io." not in line]
    return clipped("; ".join(plugins), 300) if plugins else clipped(lines[0], 300)


def _decode_with(ds: Dataset, plugin: str) -> np.ndarray:
    from pydicom.pixels import get_decoder

    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    if plugin in decoder.available_plugins:
        ds.pixel_array_options(decoding_plugin=plugin)
    return ds.pixel_array
