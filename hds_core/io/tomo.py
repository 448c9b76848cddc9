"""Digital breast tomosynthesis (DBT): a Breast Tomosynthesis Image is a multi-frame object
whose frames are the reconstructed slices, each described by shared and per-frame functional
groups (PS3.3 A.55, C.7.6.16): pixel measures, plane position and orientation, a VOI window
per frame (Frame VOI LUT, with none at image level), the pixel value transformation, and the
frame's laterality (Frame Anatomy). Breast Projection X-Ray images (the acquisition's raw
projections) are recognised and listed, never analysed.

A stack is read one frame at a time: each frame's header is the object's own, with the
functional groups that apply to that frame lifted to the top level (``frame_dataset``), so the
one 2-D pipeline (metadata, windows, rescale) reads it; its pixels are decoded from the file
alone (``read_frame_pixels``), and the whole stack is never held. Slices are ordered by their
positions along the plane's normal, not by the file's frame order."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from . import errors

TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
PROJECTIONS = {
    "1.2.840.10008.5.1.4.1.1.13.1.4": "breast projection X-ray image (for presentation)",
    "1.2.840.10008.5.1.4.1.1.13.1.5": "breast projection X-ray image (for processing)",
}
STACK_CLASSES = {TOMOSYNTHESIS, *PROJECTIONS}
MAX_FRAMES = 1000  # a DBT stack has 30-100 slices, a projection series 9-25; more is not a breast

# Functional group -> the elements it lends each frame (first item of each sequence).
_LIFTED = {
    "PixelMeasuresSequence": ("PixelSpacing", "SliceThickness", "SpacingBetweenSlices"),
    "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction"),
    "PixelValueTransformationSequence": ("RescaleSlope", "RescaleIntercept", "RescaleType"),
    "PlanePositionSequence": ("ImagePositionPatient",),
    "PlaneOrientationSequence": ("ImageOrientationPatient",),
    "FrameAnatomySequence": ("FrameLaterality",),
}
_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def is_stack(ds: Dataset) -> bool:
    """A multi-frame Breast Tomosynthesis or Breast Projection object."""
    frames = ds.get("NumberOfFrames")
    try:
        frames = int(frames) if frames not in (None, "") else 1
    except (TypeError, ValueError):
        return False
    return str(ds.get("SOPClassUID", "")) in STACK_CLASSES and frames > 1


def projection_kind(sop_class_uid: str | None) -> str | None:
    """What a Breast Projection X-Ray object is, in words (None for any other class)."""
    return PROJECTIONS.get(str(sop_class_uid or ""))


def _first(sequence) -> Dataset | None:
    try:
        return sequence[0] if sequence else None
    except (TypeError, IndexError):
        return None


def frame_groups(ds: Dataset, index: int) -> list[Dataset]:
    """The functional groups of frame ``index`` (0-based, file order): shared, then its own."""
    groups = []
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    if shared is not None:
        groups.append(shared)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if index < len(per_frame):
        groups.append(per_frame[index])
    return groups


def frame_dataset(ds: Dataset, index: int) -> Dataset:
    """The header of frame ``index`` as a single-frame image's: the object's elements (no
    pixel data, no functional groups) with the frame's functional groups lifted to the top
    (its own over the shared ones: Frame Laterality among them, which the metadata reads where
    Image Laterality is missing)."""
    flat = Dataset()
    if hasattr(ds, "file_meta"):
        flat.file_meta = ds.file_meta
    for element in ds:
        if element.keyword not in ("PixelData", *_GROUPS):
            flat.add(element)
    for group in frame_groups(ds, index):
        for sequence, keywords in _LIFTED.items():
            item = _first(group.get(sequence))
            if item is None:
                continue
            for keyword in keywords:
                if keyword in item:
                    flat.add(item[keyword])
    flat.NumberOfFrames = 1
    return flat


def _vector(value) -> np.ndarray | None:
    try:
        vector = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return vector if np.all(np.isfinite(vector)) else None


def slice_order(ds: Dataset, path: Path) -> tuple[tuple[int, ...], tuple[float, ...], str | None]:
    """(the frames, 0-based, in spatial order; each slice's depth in mm from the first; a note
    when the file's positions could not order them, and its frame order is kept)."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    depths = []
    for index in range(frames):
        position = orientation = None
        for group in frame_groups(ds, index):
            plane = _first(group.get("PlanePositionSequence"))
            if plane is not None and "ImagePositionPatient" in plane:
                position = _vector(plane.ImagePositionPatient)
            facing = _first(group.get("PlaneOrientationSequence"))
            if facing is not None and "ImageOrientationPatient" in facing:
                orientation = _vector(facing.ImageOrientationPatient)
        if position is None or orientation is None or len(position) != 3 or len(orientation) != 6:
            break
        normal = np.cross(orientation[:3], orientation[3:])
        if not math.isclose(float(np.linalg.norm(normal)), 1.0, abs_tol=0.05):
            break
        depths.append(float(position @ normal))
    if len(depths) != frames:
        thickness = _slice_thickness(ds)
        return (
            tuple(range(frames)),
            tuple(i * thickness for i in range(frames)),
            "no plane position for every frame: slices in the file's frame order",
        )
    order = tuple(int(i) for i in np.argsort(depths, kind="stable"))
    first = depths[order[0]]
    return order, tuple(round(depths[i] - first, 4) for i in order), None


def _slice_thickness(ds: Dataset) -> float:
    for group in frame_groups(ds, 0):
        measures = _first(group.get("PixelMeasuresSequence"))
        if measures is not None:
            for keyword in ("SpacingBetweenSlices", "SliceThickness"):
                try:
                    value = float(measures.get(keyword))
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value) and value > 0:
                    return value
    return 1.0


def read_frame_pixels(path: Path, index: int, frames: int, plugin: str = "") -> np.ndarray:
    """Frame ``index`` (0-based, file order) of the stack at ``path``, decoded from the file
    alone (pydicom reads that frame's bytes or fragments, not the whole pixel data). A frame
    that cannot be decoded is named by its number (1-based, as DICOM numbers frames)."""
    from pydicom.pixels import pixel_array

    try:
        pixels = pixel_array(str(path), index=index, decoding_plugin=plugin)
    except MemoryError:
        raise errors.ImageTooLargeError(path, f"frame {index + 1}: not enough memory to decode it") from None
    except Exception as exc:  # noqa: BLE001 - every decoder plugin raises its own kinds
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise errors.DecodeError(
            path,
            f"frame {index + 1} of {frames} cannot be decoded: {reason}",
            "the other frames can still be read; export the stack again from the archive",
        ) from None
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    if pixels.ndim != 2:
        raise errors.UnsupportedImageError(path, f"frame {index + 1} decoded to shape {pixels.shape}, expected 2-D")
    return pixels


def slab_count(slab_mm: float, depths_mm) -> int:
    """How many slices make a slab of ``slab_mm`` (1: one slice; unknown depths: 1 mm apart)."""
    from .image import slice_step_mm

    step = slice_step_mm(tuple(depths_mm)) or 1.0
    return max(1, int(round(slab_mm / step + 1e-6))) if slab_mm > 0 else 1


def slab_around(centre: int, count: int, slices: int) -> range:
    """The ``count`` slices centred on ``centre`` (0-based, spatial order), shifted inside the stack."""
    count = max(1, min(count, slices))
    first = min(max(centre - (count - 1) // 2, 0), slices - count)
    return range(first, first + count)


def combine_slices(pixels, mip: bool = False) -> np.ndarray:
    """Slices' stored values (an iterable: each read when its turn comes, so one slice at a time
    is held besides the running result) as one slab: their maximum (MIP: a calcification or a
    spiculation stays bright) or their average (a thicker slice, less noise), in their dtype."""
    result, count, dtype = None, 0, None
    for item in pixels:
        count += 1
        if result is None:
            dtype = item.dtype
            result = item.copy() if mip else item.astype(np.float64)
        elif mip:
            np.maximum(result, item, out=result)
        else:
            result += item
    if result is None:
        raise ValueError("a slab of no slice")
    return result if mip else np.rint(result / count).astype(dtype)
