"""A DICOM mammogram's header: checked before any large allocation (sizes, bits, samples,
rescale and window values a film can have), and read into the metadata the product needs
(:class:`MammoMetadata`, the VOI presets). Pixel data is dicom.py's."""

from __future__ import annotations

import dataclasses
import logging
import math
import mmap
import os
import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid as dicom_uid
from pydicom.dataset import Dataset

from ..text import clipped, printable
from . import errors
from .grayscale import VOI_FUNCTIONS, VoiPreset
from .image import MAX_SPACING_MM, MIN_SPACING_MM, MammoMetadata, plausible_spacing
from .tomo import MAX_FRAMES, frame_dataset, is_stack, slice_order
from .view_text import orientation_or_view, view_and_side

log = logging.getLogger(__name__)


# Stored values through Rescale Slope/Intercept stay far inside float32 (3.4e38).
MAX_MODALITY_VALUE = 1e30
# A window wider than 2^32 (or centred beyond it) is no window of any stored value.
MAX_WINDOW = 2.0**32
# 200 Mpixel is ~10x the largest mammography detector; a header claiming more is refused
# before anything is allocated.
MAX_PIXELS = 200_000_000

# JPEG-LS: pyjpegls is 3x faster than pydicom's default plugin for these films.
VIEW_CODES = {
    "399162004": "CC",
    "R-10242": "CC",
    "399368009": "MLO",
    "R-10226": "MLO",
    "399260004": "ML",
    "R-10224": "ML",
    "399352003": "LM",
    "R-10228": "LM",
    "399099002": "LMO",
    "R-10230": "LMO",
    "399101009": "XCCL",
    "R-1024A": "XCCL",
    "399192003": "XCCM",
    "R-1024B": "XCCM",
    "441555000": "FB",
    "R-40AAA": "FB",
    "399188001": "SIO",
    "R-102D0": "SIO",
}

NON_IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.104.1": "encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation",
    "1.2.840.10008.5.1.4.1.1.88.59": "key object selection",
    "1.2.840.10008.5.1.4.1.1.88.50": "mammography CAD SR",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT structure set",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT plan",
    "1.2.840.10008.5.1.4.1.1.481.4": "RT treatment record",
}


# Modalities of objects that never hold an image of their own.
NON_IMAGE_MODALITIES = {
    "SR": "structured report",
    "KO": "key object selection",
    "PR": "presentation state",
    "DOC": "document",
    "SEG": "segmentation",
    "REG": "registration",
    "PLAN": "plan",
    "RTPLAN": "RT plan",
    "RTSTRUCT": "RT structure set",
    "RTRECORD": "RT treatment record",
    "ECG": "waveform",
    "HD": "waveform",
    "AU": "waveform",
}


def non_image_kind(ds: Dataset) -> str | None:
    """A short name for a DICOM object that is not meant to hold an image; None when the
    object claims (or may be) an image."""
    sop = str(ds.get("SOPClassUID", ""))
    if sop in NON_IMAGE_SOP_CLASSES:
        return NON_IMAGE_SOP_CLASSES[sop]
    if sop.startswith("1.2.840.10008.5.1.4.1.1.88."):
        return "structured report"
    if sop.startswith("1.2.840.10008.5.1.4.1.1.11."):
        return "presentation state"
    if sop.startswith("1.2.840.10008.5.1.4.1.1.9."):
        return "waveform"
    if sop == "1.2.840.10008.1.3.10" or "DirectoryRecordSequence" in ds:
        return "DICOMDIR"
    return NON_IMAGE_MODALITIES.get(str(ds.get("Modality", "") or "").upper())


def pixel_tag_offset(path: Path) -> int | None:
    """Where the Pixel Data tag (7FE0,0010, either byte order) starts in the file, or None:
    tells a header that stopped early from a file without pixels, and a file cut inside its
    pixel data from one cut inside its header."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for tag in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):
                at = data.rfind(tag)
                if at >= 0:
                    return at
    except (OSError, ValueError):  # empty files cannot be mapped
        return None
    return None


ESSENTIAL = {
    "SOPClassUID",
    "Modality",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "RescaleSlope",
    "RescaleIntercept",
    "PixelPaddingValue",
    "PixelPaddingRangeLimit",
    "PresentationLUTShape",
    "ImageLaterality",
    "Laterality",
    "ViewPosition",
    "ViewCodeSequence",
    "PatientOrientation",
    "ImagerPixelSpacing",
    "PixelSpacing",
    "EstimatedRadiographicMagnificationFactor",
    "PresentationIntentType",
    "BreastImplantPresent",
    "PixelData",
}


_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


def convert_elements(ds: Dataset, path: Path) -> None:
    """pydicom converts element values on first access, so a damaged value would otherwise
    surface as an untyped exception wherever it is first read. Convert them all here."""
    for tag in list(ds.keys()):
        if tag in _PIXEL_TAGS:
            continue  # kept raw: its declared length is how a cut-off file is told from a bad header
        raw = ds.get_item(tag, keep_deferred=True)
        if raw is None or (getattr(raw, "value", True) is None and getattr(raw, "length", 0)):
            continue  # a deferred value: read when needed
        try:
            element = ds[tag]
            items = list(element.value) if element.VR == "SQ" else []
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on damaged values
            keyword = pydicom.datadict.keyword_for_tag(tag) or str(tag)
            if keyword in ESSENTIAL:
                reason = clipped(str(exc).splitlines()[0], 120) if str(exc) else type(exc).__name__
                raise errors.InvalidHeaderError(
                    path, f"{keyword} cannot be read ({reason})", "the header is damaged"
                ) from None
            # The image still reads: a note for the log file, not a warning on the terminal.
            log.info("%s: left out the unreadable element %s", printable(path.name), keyword)
            del ds[tag]
            continue
        for item in items:
            convert_elements(item, path)


def _int(ds: Dataset, keyword: str, path: Path) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        raise errors.InvalidHeaderError(path, f"{keyword} is missing", "the file is not a valid image object")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.InvalidHeaderError(path, f"{keyword} is not a number ({value!r})") from None


def finite_value(ds: Dataset, keyword: str, default: float, path: Path) -> float:
    """A decimal header value that the pixel arithmetic depends on: refused if not a finite number."""
    try:
        value = ds.get(keyword)
    except (TypeError, ValueError) as exc:  # pydicom converts DS text on access
        raise errors.InvalidHeaderError(path, f"{keyword} is not a number ({exc})") from None
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise errors.InvalidHeaderError(path, f"{keyword} is not a number ({clipped(repr(str(value)), 40)})") from None
    if not math.isfinite(number):
        raise errors.InvalidHeaderError(path, f"{keyword} is {number}, not a finite number")
    return number


def _multi(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def stack_frames(ds: Dataset, path: Path, frames: int):
    """Where each frame of a compressed stack lies in its file (encapsulated.py), from the items'
    headers alone; a header claiming more frames than the items hold is refused, unread."""
    from .encapsulated import EncapsulationError, frame_index

    extended = ds.get("ExtendedOffsetTable")
    try:
        offsets = list(struct.unpack(f"<{len(extended) // 8}Q", extended)) if extended else None
        return frame_index(path, frames, offsets)
    except EncapsulationError as exc:
        raise errors.InvalidHeaderError(path, str(exc), "export the stack again from the archive") from None
    except (OSError, struct.error, ValueError) as exc:
        raise errors.InvalidHeaderError(path, f"the pixel data's items cannot be read: {exc}") from None


def check_image_header(ds: Dataset, path: Path) -> None:
    """Everything that can be refused from the header alone, before any pixel is decoded."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        kind = non_image_kind(ds)
        if kind:
            raise errors.NonImageObjectError(path, f"no pixel data ({kind})")
        sop = dicom_uid.UID(str(ds.get("SOPClassUID", "")))
        if ds.filename and pixel_tag_offset(Path(ds.filename)) is not None:
            # pydicom stops quietly at a damaged element: the pixel data is there, unreached.
            last = max(ds.keys(), default=None)
            where = f" after {pydicom.datadict.keyword_for_tag(last) or last}" if last is not None else ""
            raise errors.InvalidHeaderError(
                path,
                f"the header is damaged: reading stopped{where}, before the pixel data the file holds",
                "export the file again from the archive",
            )
        raise errors.NoPixelDataError(
            path,
            f"{sop.name or 'the object'} holds no pixel data",
            "the file is incomplete; export it again from the archive",
        )
    rows, columns = _int(ds, "Rows", path), _int(ds, "Columns", path)
    bits_allocated, bits_stored = _int(ds, "BitsAllocated", path), _int(ds, "BitsStored", path)
    samples = _int(ds, "SamplesPerPixel", path) if ds.get("SamplesPerPixel") not in (None, "") else 1
    frames = _int(ds, "NumberOfFrames", path) if ds.get("NumberOfFrames") not in (None, "") else 1
    if rows <= 0 or columns <= 0:
        raise errors.InvalidHeaderError(path, f"image size {rows}x{columns} is empty")
    value = ds.get("PhotometricInterpretation", "")
    if not isinstance(value, str):  # a damaged VR reads as numbers: "[20301, 20302] image" said nothing
        raise errors.InvalidHeaderError(path, "Photometric Interpretation is not a code string (its VR is damaged)")
    photometric = value.upper()
    if not photometric:
        raise errors.InvalidHeaderError(path, "Photometric Interpretation is missing")
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise errors.UnsupportedImageError(
            path,
            f"{photometric or 'colour'} image with {samples} samples per pixel",
            "mammograms are single-channel grayscale",
        )
    stack = is_stack(ds)  # read a frame at a time: the limit is a frame's, and the frames' count
    if rows * columns * (1 if stack else frames) > MAX_PIXELS:
        raise errors.ImageTooLargeError(
            path,
            f"header claims {rows}x{columns}x{frames} frame(s), over the {MAX_PIXELS // 1_000_000} Mpixel limit",
            "the header is corrupt or this is not a mammogram",
        )
    if stack and frames > MAX_FRAMES:
        raise errors.ImageTooLargeError(
            path,
            f"header claims {frames} frames, more than any breast tomosynthesis ({MAX_FRAMES} at most)",
            "the header is corrupt or was built to exhaust memory",
        )
    if bits_allocated not in (1, 8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        raise errors.InvalidHeaderError(path, f"Bits Stored {bits_stored} does not fit Bits Allocated {bits_allocated}")
    if frames != 1 and not stack:
        raise errors.UnsupportedImageError(
            path,
            f"{frames} frames (cine or an unknown multi-frame object)",
            "2-D mammograms and Breast Tomosynthesis stacks are read",
        )
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    syntax = dicom_uid.UID(str(syntax)) if syntax else dicom_uid.ExplicitVRLittleEndian
    if not syntax.is_transfer_syntax:
        raise errors.UnsupportedTransferSyntaxError(
            path, f"unknown transfer syntax {syntax}", "ask the sender to export in a standard transfer syntax"
        )
    if syntax.is_compressed:
        from pydicom.pixels import get_decoder

        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            decoder = None
        if decoder is None or not decoder.is_available:
            raise errors.UnsupportedTransferSyntaxError(
                path,
                f"transfer syntax {syntax.name or syntax} has no installed decoder",
                "install pylibjpeg-openjpeg (JPEG 2000/HTJ2K), pyjpegls (JPEG-LS) or python-gdcm (JPEG lossless)",
            )
        if stack:
            stack_frames(ds, path, frames)  # a stack claiming frames its file does not hold: refused unread
    else:
        expected = (
            rows * columns * frames * samples * bits_allocated // 8
            if bits_allocated != 1
            else (rows * columns * frames + 7) // 8
        )
        element = ds.get_item("PixelData", keep_deferred=True)  # never read the pixels here
        declared = getattr(element, "length", None)  # raw (unconverted) elements keep the header's length
        if declared == 0xFFFFFFFF:
            declared = None
        present = None
        if element is not None and getattr(element, "value", None) is not None:
            present = len(element.value)
        elif element is not None and declared is not None:
            # Deferred read (folder scan): what the file still holds after the value starts.
            offset = getattr(element, "value_tell", None)
            if offset is not None and ds.filename:
                present = min(declared, os.path.getsize(ds.filename) - offset)
        if declared is not None and present is not None and present < declared:
            raise errors.TruncatedFileError(
                path,
                f"pixel data is cut off: {present} of {declared} bytes present",
                "the file was cut off while copying; copy it again",
            )
        actual = declared if declared is not None else present
        # An odd length is padded to even by one byte; anything else disagrees with the header.
        if actual is not None and actual != 0xFFFFFFFF and not expected <= actual <= expected + 1:
            raise errors.PixelSizeMismatchError(
                path,
                f"pixel data holds {actual} bytes but {rows}x{columns} at {bits_allocated} bits needs {expected}",
                "the file is truncated or its header is wrong",
            )


def _spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None, list[str]]:
    """(spacing, the tag it came from, notes): Imager Pixel Spacing (corrected by the
    estimated magnification) before Pixel Spacing. A value no mammogram can have (not
    finite, zero, negative, or far outside 0.01-1 mm) is never used: the next tag is tried,
    and a note says why the spacing is unknown."""
    candidates = []
    imager, pixel = _multi(ds.get("ImagerPixelSpacing")), _multi(ds.get("PixelSpacing"))
    try:
        magnification = float(ds.get("EstimatedRadiographicMagnificationFactor", 0) or 0)
    except (TypeError, ValueError):
        magnification = 0.0
    if len(imager) == 2:
        if math.isfinite(magnification) and magnification > 0:
            candidates.append((imager, magnification, "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor"))
        else:
            candidates.append((imager, 1.0, "ImagerPixelSpacing"))
    if len(pixel) == 2:
        candidates.append((pixel, 1.0, "PixelSpacing"))
    notes = []
    for values, divisor, source in candidates:
        try:
            spacing = (float(values[0]) / divisor, float(values[1]) / divisor)
        except (TypeError, ValueError):
            notes.append(f"{source} {clipped(printable(str(values)), 40)} is not a number: treated as unknown")
            continue
        if plausible_spacing(spacing):
            return spacing, source, []
        notes.append(
            f"{source} {spacing[0]:g} x {spacing[1]:g} mm is not a mammogram's pixel spacing "
            f"({MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm): treated as unknown"
        )
    return None, None, notes[:1]


def metadata_from_dataset(ds: Dataset, path: Path) -> MammoMetadata:
    if is_stack(ds):
        # A tomosynthesis stack: what its middle slice's header says (io/tomo.py), with the
        # frames in spatial order and their depths.
        order, depths, note = slice_order(ds, path)
        meta = metadata_from_dataset(frame_dataset(ds, order[len(order) // 2]), path)
        return dataclasses.replace(
            meta,
            frames=len(order),
            frame_order=order,
            slice_depths_mm=depths,
            header_notes=meta.header_notes + ((note,) if note else ()),
        )
    laterality, laterality_source = None, None
    # Image Laterality, else the series' Laterality (0020,0060), where CBIS-DDSM keeps it.
    # Image Laterality, else a tomosynthesis frame's (Frame Anatomy, lifted by io/tomo.py),
    # else the series' Laterality (0020,0060), where CBIS-DDSM keeps it.
    for keyword in ("ImageLaterality", "FrameLaterality", "Laterality"):
        value = str(ds.get(keyword, "") or "").strip().upper()
        if value in ("L", "R", "B"):
            laterality, laterality_source = value, keyword
            break

    view, view_source = None, None
    position = str(ds.get("ViewPosition", "") or "").strip().upper()
    if position:
        view, view_source = position, "ViewPosition"
    else:
        for item in ds.get("ViewCodeSequence", []) or []:
            code = str(item.get("CodeValue", "")).strip()
            if code in VIEW_CODES:
                view, view_source = VIEW_CODES[code], "ViewCodeSequence"
                break

    patient_orientation, view_code = orientation_or_view([str(v) for v in _multi(ds.get("PatientOrientation"))])
    spacing, spacing_source, notes = _spacing(ds)
    if view is None and view_code:
        view, view_source = view_code, "PatientOrientation"
        notes.append(f"view {view} read from Patient Orientation, which holds a view code instead of directions")
    for keyword in ("SeriesDescription", "PatientID", "StudyDescription"):
        if view is not None and laterality is not None:
            break
        text_view, text_side = view_and_side(str(ds.get(keyword, "") or ""))
        found = []
        if view is None and text_view:
            view, view_source = text_view, keyword
            found.append(f"view {view}")
        if laterality is None and text_side:
            laterality, laterality_source = text_side, keyword
            found.append(f"breast {laterality}")
        if found:
            notes.append(f"{' and '.join(found)} read from {keyword} (the header has no view / laterality tag)")
    bits_stored, high_bit = ds.get("BitsStored"), ds.get("HighBit")
    if isinstance(bits_stored, int) and isinstance(high_bit, int) and high_bit != bits_stored - 1:
        notes.append(
            f"High Bit {high_bit} disagrees with Bits Stored {bits_stored} (expected {bits_stored - 1}): "
            "the low bits are read as the pixel values"
        )

    implant = str(ds.get("BreastImplantPresent", "") or "").upper()
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None

    def text(keyword):
        value = ds.get(keyword)
        return str(value) if value not in (None, "") else None

    return MammoMetadata(
        path=path,
        file_format="DICOM",
        rows=int(ds.get("Rows", 0) or 0),
        columns=int(ds.get("Columns", 0) or 0),
        laterality=laterality,
        laterality_source=laterality_source,
        view=view,
        view_source=view_source,
        patient_orientation=patient_orientation,
        pixel_spacing_mm=spacing,
        spacing_source=spacing_source,
        presentation_intent=text("PresentationIntentType"),
        breast_implant_present={"YES": True, "NO": False}.get(implant),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").upper(),
        bits_stored=int(ds.get("BitsStored", 0) or 0) or None,
        modality=text("Modality"),
        transfer_syntax=str(syntax) if syntax else None,
        sop_class_uid=text("SOPClassUID"),
        sop_instance_uid=text("SOPInstanceUID"),
        series_instance_uid=text("SeriesInstanceUID"),
        study_instance_uid=text("StudyInstanceUID"),
        patient_name=text("PatientName"),
        patient_id=text("PatientID"),
        patient_birth_date=text("PatientBirthDate"),
        issuer_of_patient_id=text("IssuerOfPatientID"),
        study_date=text("StudyDate"),
        study_description=text("StudyDescription"),
        series_description=text("SeriesDescription"),
        accession_number=text("AccessionNumber"),
        header_notes=tuple(notes),
        manufacturer=text("Manufacturer"),
        detector_type=text("DetectorType"),
        conversion_type=text("ConversionType"),
        capture_device=" ".join(
            filter(
                None, (text("SecondaryCaptureDeviceManufacturer"), text("SecondaryCaptureDeviceManufacturerModelName"))
            )
        )
        or None,
        synthesized_2d=synthesized_2d(ds),
    )


# How DBT systems mark the 2-D image they compute from the tomosynthesis: Image Type's
# GENERATED_2D (PS3.3 C.8.11.7), or the vendors' names for it in the series description.
SYNTHESIZED_WORDS = ("C-VIEW", "CVIEW", "V-PREVIEW", "VPREVIEW", "INSIGHT 2D", "SYNTHESIZED", "SYNTHETIC 2D", "S2D")


def synthesized_2d(ds: Dataset) -> bool:
    """A 2-D mammogram generated from the tomosynthesis (Hologic C-View, GE V-Preview, Siemens
    Insight 2D): hung as its view's 2-D image of a DBT study."""
    if is_stack(ds):
        return False
    values = [str(v).upper() for v in _multi(ds.get("ImageType"))]
    if any("GENERATED_2D" in value or "SYNTHESIZED" in value for value in values):
        return True
    description = str(ds.get("SeriesDescription", "") or "").upper()
    return any(word in description for word in SYNTHESIZED_WORDS)


def voi_presets_from_dataset(ds: Dataset) -> list[VoiPreset]:
    presets: list[VoiPreset] = []
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    if function not in VOI_FUNCTIONS:
        function = "LINEAR"
    centers, widths = _multi(ds.get("WindowCenter")), _multi(ds.get("WindowWidth"))
    explanations = _multi(ds.get("WindowCenterWidthExplanation"))
    for i, (center, width) in enumerate(zip(centers, widths)):
        try:
            center, width = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if not (math.isfinite(center) and math.isfinite(width)) or width <= 0 or (function == "LINEAR" and width < 1):
            continue
        if abs(center) > MAX_WINDOW or width > MAX_WINDOW:  # no real window: it would overflow the display maths
            log.info("window centre %g / width %g left out: beyond any pixel value", center, width)
            continue
        label = str(explanations[i]) if i < len(explanations) and str(explanations[i]).strip() else f"Window {i + 1}"
        presets.append(
            VoiPreset(
                name=label,
                explanation=f"from the file: centre {center:g}, width {width:g}, {function}",
                center=center,
                width=width,
                function=function,
            )
        )
    for i, item in enumerate(ds.get("VOILUTSequence", []) or []):
        descriptor = _multi(item.get("LUTDescriptor"))
        if len(descriptor) != 3 or "LUTData" not in item:
            continue
        entries = int(descriptor[0]) or 65536
        bits = int(descriptor[2])
        raw = item.LUTData
        if isinstance(raw, (bytes, bytearray)):
            # LUT Data entries are 16-bit words whatever the bits per entry (PS3.3 C.11.2.1.1).
            data = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2")
        else:
            data = np.asarray(_multi(raw))
        data = tuple(int(v) for v in data[:entries])
        name = str(item.get("LUTExplanation", "") or f"VOI LUT {i + 1}")
        presets.append(
            VoiPreset(
                name=name,
                explanation="from the file: VOI LUT table",
                lut_first_mapped=int(descriptor[1]),
                lut_bits=bits,
                lut_data=data,
            )
        )
    return presets
