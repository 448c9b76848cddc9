"""The image object every part of the product shares: full-depth pixels plus metadata."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import grayscale
from .grayscale import VoiPreset

# When a file has no pixel spacing (PNG exports, scanned films), and the caller knows nothing
# of the image's size either, the model assumes this and says so: 0.1 mm is typical of
# digital mammography detectors.
ASSUMED_SPACING_MM = 0.1
# Where the image's size is known, the spacing is estimated instead: its long side taken as
# a standard film's (18 x 24 cm). A CBIS-DDSM film of 4,600 rows (scanned at about 0.05 mm)
# reads 0.052 mm, where the fixed 0.1 mm put the breast at twice the network's scale; a
# mini-MIAS film (1,024 rows at 0.2 mm) reads 0.234, a CDD-CESM export (512 at about 0.4) 0.47.
# A 24 x 30 cm film or detector reads about a quarter too fine; a crop of a film, too fine
# by as much as it was cut. Labelled as an estimate wherever it is used.
ESTIMATE_LONG_SIDE_MM = 240.0
# What a mammogram's pixel spacing can be: detectors 0.05-0.1 mm, digitised films 0.02-0.2,
# downsampled exports up to about 1 mm. A header outside this (by a factor of two and more)
# is damaged: its spacing is treated as unknown rather than used to resample the image.
MIN_SPACING_MM, MAX_SPACING_MM = 0.005, 2.0


def estimated_spacing_mm(shape: tuple[int, int]) -> float:
    """The spacing estimate for an image of ``shape`` (rows, columns) that carries none."""
    longest = max(int(shape[0]), int(shape[1]), 1)
    return min(max(ESTIMATE_LONG_SIDE_MM / longest, MIN_SPACING_MM), MAX_SPACING_MM)


def spacing_estimate_note(estimate_mm: float) -> str:
    return (
        f"pixel spacing unknown: estimated {estimate_mm:.3g} mm (the image's long side taken as a "
        f"{ESTIMATE_LONG_SIDE_MM / 10:g} cm film); set the spacing for exact sizes"
    )


def plausible_spacing(spacing_mm) -> bool:
    """True when every value is a finite spacing a mammogram can have."""
    try:
        return all(math.isfinite(float(v)) and MIN_SPACING_MM <= float(v) <= MAX_SPACING_MM for v in spacing_mm)
    except (TypeError, ValueError):
        return False


# Secondary Capture (single frame, and the multi-frame grayscale ones): how digitised films
# travel (CBIS-DDSM, DDSM conversions); a detector writes a Digital Mammography object.
SECONDARY_CAPTURE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3",
}
# Conversion Type values that mean a scanned film (DF: digitised film; WSD: a workstation's
# capture, how DDSM's conversions are labelled).
FILM_CONVERSIONS = {"DF", "WSD"}
# Film digitisers of the public film collections (DDSM: Lumisys, Howtek, DBA; others: Vidar,
# Array), matched in the manufacturer and capture-device names.
FILM_DIGITISERS = ("LUMISYS", "HOWTEK", "DBA ", "VIDAR", "ARRAY CORP", "FILM DIGITI", "DIGITIZER", "DIGITISER")
DIGITAL_DETECTORS = {"DIRECT", "INDIRECT", "SCINTILLATOR", "STORAGE"}


def header_domain(metadata: MammoMetadata) -> tuple[str | None, str | None]:
    """(domain, what said so) from the header alone; (None, None) when it says nothing."""
    if metadata.file_format != "DICOM":
        return None, None
    detector = (metadata.detector_type or "").strip().upper()
    if detector == "FILM":
        return "film", "Detector Type FILM"
    conversion = (metadata.conversion_type or "").strip().upper()
    if conversion in FILM_CONVERSIONS:
        return "film", f"Conversion Type {conversion}"
    if metadata.sop_class_uid in SECONDARY_CAPTURE_CLASSES:
        return "film", "a Secondary Capture object (a digitised image)"
    devices = f" {metadata.manufacturer or ''} {metadata.capture_device or ''} ".upper()
    digitiser = next((name for name in FILM_DIGITISERS if name in devices), None)
    if digitiser:
        return "film", f"a film digitiser ({digitiser.strip().title()})"
    if detector in DIGITAL_DETECTORS:
        return "digital", f"Detector Type {detector}"
    return None, None


@dataclass(frozen=True)
class MammoMetadata:
    """What the product needs to know about a mammogram. None means the file does not say."""

    path: Path
    file_format: str  # "DICOM", "PNG", "PGM", "TIFF"
    rows: int
    columns: int
    laterality: str | None = None  # "L", "R" (or "B"); None when the file does not say
    laterality_source: str | None = None  # tag it came from
    view: str | None = None  # "CC", "MLO", "ML", ...
    view_source: str | None = None
    patient_orientation: tuple[str, str] | None = None  # (row direction, column direction)
    pixel_spacing_mm: tuple[float, float] | None = None  # (row spacing, column spacing)
    spacing_source: str | None = None
    presentation_intent: str | None = None  # "FOR PRESENTATION" / "FOR PROCESSING"
    breast_implant_present: bool | None = None
    photometric: str = "MONOCHROME2"
    bits_stored: int | None = None
    modality: str | None = None
    transfer_syntax: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    series_instance_uid: str | None = None
    study_instance_uid: str | None = None
    patient_name: str | None = None
    patient_id: str | None = None
    patient_birth_date: str | None = None
    issuer_of_patient_id: str | None = None
    study_date: str | None = None
    study_description: str | None = None
    series_description: str | None = None
    accession_number: str | None = None
    manufacturer: str | None = None
    detector_type: str | None = None  # DetectorType: FILM, DIRECT, INDIRECT, SCINTILLATOR, STORAGE
    conversion_type: str | None = None  # ConversionType: DF (digitised film), WSD, DI, ...
    capture_device: str | None = None  # Secondary Capture Device Manufacturer and model
    synthesized_2d: bool = False  # a 2-D image generated from a tomosynthesis acquisition (C-View, ...)
    header_notes: tuple[str, ...] = ()  # header values found damaged and not used (shown with the warnings)
    # A tomosynthesis stack (io/tomo.py): its frames, their file indices (0-based) in spatial
    # order and each slice's depth in mm; ``frame_number``: which frame (1-based, as DICOM
    # numbers them) an image read from the stack is. A 2-D image has one frame and none of these.
    frames: int = 1
    frame_order: tuple[int, ...] = ()
    slice_depths_mm: tuple[float, ...] = ()
    frame_number: int | None = None
    # A slab read from a stack (StackReader.slab): how many slices, centred on ``frame_number``'s,
    # were combined, and whether by their maximum (MIP) or their average.
    slab_slices: int = 1
    slab_mip: bool = False

    @property
    def is_stack(self) -> bool:
        return self.frames > 1

    @property
    def slices(self) -> int:
        return self.frames if self.is_stack else 1

    @property
    def slice_step_mm(self) -> float | None:
        """The distance between neighbouring slices (their median), or None where unknown."""
        return slice_step_mm(self.slice_depths_mm)

    def frame_of_slice(self, slice_index: int) -> int:
        """The frame number (1-based) of the slice at ``slice_index`` (0-based, spatial order)."""
        return (self.frame_order[slice_index] if self.frame_order else slice_index) + 1

    @property
    def patient_identity(self) -> tuple[str, str, str, str]:
        """Who the image is of, as the header says: patient ID, its issuer, name and birth
        date (blank where the file says nothing). Two images of one study must agree on it."""
        return tuple(  # type: ignore[return-value]
            " ".join(str(v or "").split()).upper()
            for v in (self.patient_id, self.issuer_of_patient_id, self.patient_name, self.patient_birth_date)
        )

    @property
    def acquisition_domain(self) -> str | None:
        """ "film" (a digitised screen-film mammogram), "digital" (a detector's), or None when
        the header does not say (rasters, and DICOM files that name neither): the pixels then
        decide (``io.appearance``). Films and digital images differ in their pixel statistics,
        and each is served by its own model."""
        return header_domain(self)[0]

    @property
    def acquisition_domain_source(self) -> str | None:
        """What in the header said film or digital, in words; None when it said nothing."""
        return header_domain(self)[1]

    @property
    def spacing_known(self) -> bool:
        return self.pixel_spacing_mm is not None

    @property
    def spacing_for_network(self) -> tuple[float, float]:
        """The header's spacing, else the estimate from the image's size (``estimated_spacing_mm``)."""
        if self.pixel_spacing_mm is not None:
            return self.pixel_spacing_mm
        estimate = estimated_spacing_mm((self.rows, self.columns))
        return estimate, estimate

    def warnings(self) -> list[str]:
        """Conditions under which a reader should not trust the model's output blindly."""
        notes = list(self.header_notes)
        if self.presentation_intent and self.presentation_intent.upper() == "FOR PROCESSING":
            notes.append("FOR PROCESSING (raw) image: the model was trained on processed images")
        if self.breast_implant_present:
            notes.append("breast implant present: the model was not validated on implants")
        if self.laterality not in ("L", "R"):
            notes.append("laterality unknown: orientation guessed from the image")
        if self.view is None:
            notes.append("view unknown")
        if self.pixel_spacing_mm is None:
            estimate = estimated_spacing_mm((self.rows, self.columns))
            notes.append(
                f"pixel spacing unknown: sizes in mm are not available; the model's scale is estimated "
                f"({estimate:.3g} mm, the long side taken as a {ESTIMATE_LONG_SIDE_MM / 10:g} cm film)"
            )
        return notes


@dataclass
class MammoImage:
    """Stored pixels at full depth plus what is needed to display and analyse them.

    ``pixels`` are the stored values (before the Modality LUT), 2-D, never down-converted.
    At ``level`` k > 0 they are a reduced resolution level (``levels.py``): 2^k original
    pixels apart, while ``metadata`` still describes the file (its rows, columns, spacing).
    """

    pixels: np.ndarray
    metadata: MammoMetadata
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    file_presets: list[VoiPreset] = field(default_factory=list)
    padding_value: int | None = None
    padding_range_limit: int | None = None
    presentation_lut_shape: str | None = None
    level: int = 0

    def __post_init__(self):
        self._padding = grayscale.padding_mask(self.pixels, self.padding_value, self.padding_range_limit)
        self._presets: list[VoiPreset] | None = None
        # Coarser levels computed from this image, kept: the pixel figures (io.appearance) and
        # the network's input often ask for the same level of a full-resolution film.
        self._coarser: dict[int, MammoImage] = {}

    @property
    def reduction(self) -> int:
        """Original pixels per pixel of ``pixels`` along each side."""
        return 1 << self.level

    @property
    def full_shape(self) -> tuple[int, int]:
        """(rows, columns) of the image at full resolution: the coordinates results are in."""
        if self.level == 0:
            return tuple(self.pixels.shape)
        return self.metadata.rows, self.metadata.columns

    @property
    def pixel_spacing_mm(self) -> tuple[float, float] | None:
        """The spacing of ``pixels`` (the file's spacing at level 0), None when unknown."""
        spacing = self.metadata.pixel_spacing_mm
        return None if spacing is None else (spacing[0] * self.reduction, spacing[1] * self.reduction)

    def at_level(self, level: int) -> MammoImage:
        """This image at the coarser resolution ``level``, computed from its stored values
        (``levels.py``; itself when it is already that coarse)."""
        if level <= self.level:
            return self
        if level in self._coarser:
            return self._coarser[level]
        from .levels import lowpass_levels, stored_range

        value_range = None
        if np.issubdtype(self.pixels.dtype, np.integer):
            value_range = stored_range(
                self.metadata.bits_stored or self.pixels.dtype.itemsize * 8, self.pixels.dtype.kind == "i"
            )
        coarser = replace(self, pixels=lowpass_levels(self.pixels, level - self.level, value_range), level=level)
        if level - self.level >= 2:  # a sixteenth of the pixels or fewer: kept at little cost
            self._coarser[level] = coarser
        return coarser

    def adopt_presets(self, other: MammoImage) -> None:
        """Use ``other``'s windows (another level of the same file): the computed ones differ
        a little between levels, and the reader's window must not move when detail arrives."""
        self._presets = other.presets

    @property
    def padding(self) -> np.ndarray | None:
        """Boolean mask of Pixel Padding pixels, or None when there are none."""
        return self._padding

    def modality_values(self) -> np.ndarray:
        # Not cached: float32 at full size is twice the stored pixels (54 MB for a 13-Mpixel
        # film) and is needed only for the presets (computed once) and a table's range.
        return grayscale.apply_rescale(self.pixels, self.rescale_slope, self.rescale_intercept)

    @property
    def presets(self) -> list[VoiPreset]:
        """The file's windows and VOI LUTs first (the first is the default), then computed ones."""
        if self._presets is None:
            # Percentiles and extremes of the stored values, mapped through the (affine,
            # monotonic) rescale: the same windows as from float modality values, without
            # a float copy of the film (54 MB for a 13-Mpixel film).
            self._presets = [
                *self.file_presets,
                self._rescaled(grayscale.auto_window(self.pixels, self._padding)),
                self._rescaled(grayscale.full_range_window(self.pixels, self._padding)),
            ]
        return self._presets

    def _rescaled(self, preset: VoiPreset) -> VoiPreset:
        """A window found on stored values, expressed in modality values."""
        return replace(
            preset,
            center=self.rescale_slope * preset.center + self.rescale_intercept,
            width=max(abs(self.rescale_slope) * preset.width, 1.0),
        )

    @property
    def default_preset(self) -> VoiPreset:
        return self.presets[0]

    def render(self, preset: VoiPreset | None = None, *, user_invert: bool = False) -> np.ndarray:
        """Display values in [0, 1] (1 = white) through the full DICOM pipeline."""
        return grayscale.render(
            self.pixels,
            preset or self.default_preset,
            slope=self.rescale_slope,
            intercept=self.rescale_intercept,
            photometric=self.metadata.photometric,
            presentation_lut_shape=self.presentation_lut_shape,
            padding=self._padding,
            user_invert=user_invert,
        )

    @property
    def model_preset(self) -> VoiPreset:
        """The window the network's input is rendered with: the file's own (what an export of
        the image bakes in), else the full range of its pixels, never a window that clips. An
        8-bit export of a 12-bit image is its rendering rounded: rendered full range, it gives
        the same input up to that rounding (z-scoring over the breast removes the export's
        own grey range), where the reader's default (a percentile window) would clip the
        brightest pixels, a mass's among them, a second time."""
        return self.file_presets[0] if self.file_presets else self.presets[len(self.presets) - 1]

    def model_input(self) -> np.ndarray:
        """What the network sees before resampling: the image rendered in [0, 1] through the
        display pipeline with :attr:`model_preset`, dense tissue bright whatever the
        photometric interpretation, padding set to 0.

        Using the display pipeline (not raw values) makes film scans (mini-MIAS) and
        FOR PRESENTATION digital mammograms comparable inputs."""
        return self.render(self.model_preset)


@functools.lru_cache(maxsize=64)  # asked at every step through a stack
def slice_step_mm(depths_mm: tuple[float, ...]) -> float | None:
    """The median distance between neighbouring slices of a stack (depths in spatial order), or
    None where the depths are unknown or not increasing."""
    if len(depths_mm) < 2:
        return None
    gaps = np.diff(np.asarray(depths_mm, dtype=np.float64))
    step = float(np.median(gaps))
    return step if np.all(gaps >= 0) and step > 0 else None
