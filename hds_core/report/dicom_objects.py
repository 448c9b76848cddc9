"""Standard DICOM objects for PACS, written with highdicom (which validates what it writes):

- a binary Segmentation per source image, one segment "Mass" holding the lesions at the
  threshold, with the algorithm's name, version and weights hash;
- one Comprehensive SR per study following TID 1500 (Measurement Report): one planar ROI
  group per lesion (its outline, area, longest diameter, maximum probability) and one
  group per image with its score, plus the exam score.

Each object's UIDs derive from its sources, the weights and the threshold (``derived_uid``): the
same result written or sent again is the same object; files are written atomically and never
overwrite without ``force``."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from .. import __version__
from ..findings import Prediction
from ..findings.stack import StackPrediction
from ..safe_write import atomic_write
from ..text import printable

MANUFACTURER = "mammo-hds"
SEG_SERIES_NUMBER = 9501
SR_SERIES_NUMBER = 9502
PROBABILITY = hd.sr.CodedConcept("C0033204", "UMLS", "Probability")
NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")
# Our own codes, in a private coding scheme that each report declares (Coding Scheme
# Identification Sequence), so a receiving system can tell whose codes they are.
PRIVATE_SCHEME = "99HDS"
EXAM_SCORE = hd.sr.CodedConcept("mass-exam-score", PRIVATE_SCHEME, "Exam probability of a mass")
IMAGE_SCORE = hd.sr.CodedConcept("mass-image-score", PRIVATE_SCHEME, "Image probability of a mass")
# A score the weights could not calibrate for the image's domain (film or digital): a rank.
EXAM_RAW_SCORE = hd.sr.CodedConcept("mass-exam-raw-score", PRIVATE_SCHEME, "Exam raw network score, not calibrated")
IMAGE_RAW_SCORE = hd.sr.CodedConcept("mass-image-raw-score", PRIVATE_SCHEME, "Image raw network score, not calibrated")
DIAMETER = hd.sr.CodedConcept("103339001", "SCT", "Long axis")


UID_NAMESPACE = uuid.UUID("6d616d6d-6f2d-4864-9300-000000000001")  # this project's, for uuid5


def derived_uid(*parts) -> str:
    """A UID made from what an object is made of (its sources, the weights, the threshold, what
    kind of object): the same result written or sent again is the same object, and replaces
    the first, where a fresh UID made a duplicate series each time; another threshold or model
    makes another object."""
    # A name-based (version 5) UUID under 2.25: the same parts, the same UID, on any computer.
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, '|'.join(str(part) for part in parts)).int}"


class DicomExportError(Exception):
    """A DICOM object could not be written; the message names the file and the reason."""


@dataclass
class AnalysedImage:
    """A source file and the engine's result for it."""

    path: Path
    prediction: Prediction


# Type 2 attributes the new objects copy from their source: present but empty when the
# source lacks them (in our in-memory copy; the input file is never touched).
COPIED_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "AccessionNumber",
    "StudyID",
)


def _source(path: Path, out: Path) -> pydicom.Dataset:
    """The source image's header through the reader's own parser, which leaves out damaged
    elements we do not need (highdicom would otherwise trip over them while copying)."""
    from ..io.dicom import read_dataset
    from ..io.errors import MammoReadError

    try:
        dataset = read_dataset(path, header_only=True)
    except MammoReadError as exc:
        raise DicomExportError(f"{printable(out)}: not written: cannot read the source header: {exc}") from None
    for keyword, words in (
        ("StudyInstanceUID", "Study Instance UID"),
        ("SeriesInstanceUID", "Series Instance UID"),
        ("SOPInstanceUID", "SOP Instance UID"),
        ("SOPClassUID", "SOP Class UID"),
    ):
        if not str(dataset.get(keyword, "") or "").strip():
            raise DicomExportError(
                f"{printable(out)}: not written: {printable(path.name)} has no {words}, which a DICOM object "
                "made from it must "
                "reference (export the image again from the archive)"
            )
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in dataset:
            del dataset[tag]
    for keyword in COPIED_TYPE2:
        if keyword not in dataset:
            setattr(dataset, keyword, "")
    _drop_rejected_spacing(dataset)
    return dataset


SPACING_KEYWORDS = ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing")


def _drop_rejected_spacing(dataset: pydicom.Dataset) -> None:
    """A spacing the analysis rejected (0\\0, -1\\1, 1e308, nan, 'abc') is not copied into an
    object made from the image: highdicom would copy it into the SEG's pixel measures, or
    fail on it with its own words. The object then says nothing of the spacing, as the
    analysis did ("treated as unknown")."""
    from ..io.image import plausible_spacing

    for keyword in SPACING_KEYWORDS:
        if keyword not in dataset:
            continue
        try:
            values = list(dataset[keyword].value)
            usable = len(values) == 2 and plausible_spacing(values)
        except Exception:  # noqa: BLE001 - a value that does not even convert is rejected too
            usable = False
        if not usable:
            del dataset[keyword]


def _check_target(path: Path, force: bool, sources: list[Path]) -> None:
    if path.exists() and not force:
        raise DicomExportError(f"{path}: exists already (use --force to overwrite)")
    for source in sources:
        if path.resolve() == source.resolve():
            raise DicomExportError(f"{path}: would overwrite an input file")


def _save(dataset: pydicom.Dataset, path: Path) -> None:
    try:
        atomic_write(path, lambda tmp: dataset.save_as(tmp, enforce_file_format=True))
    except OSError as exc:
        raise DicomExportError(f"{path}: cannot write: {exc.strerror or exc}") from None


def algorithm(prediction: Prediction) -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(
        name=prediction.model_name[:64],
        version=__version__,
        family=codes.cid7162.ArtificialIntelligence,
        source="mammo-hds hds_core",
        parameters={"weights_sha256": prediction.weights_sha256},
    )


def write_segmentation(item: AnalysedImage, threshold: float, out: Path, *, force: bool = False) -> Path:
    """One binary SEG for ``item``'s source image; segment 1 "Mass" = the lesions at ``threshold``."""
    _check_target(out, force, [item.path])
    source = _source(item.path, out)
    if isinstance(item.prediction, StackPrediction):
        mask = None
        shape = item.prediction.geometry.original_shape
    else:
        mask = item.prediction.lesion_mask(threshold)
        shape = mask.shape
    if tuple(shape) != (source.Rows, source.Columns):
        raise DicomExportError(
            f"{item.path}: the result's size {tuple(shape)} does not match the file's {(source.Rows, source.Columns)}"
        )
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Mass",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Mass,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm(item.prediction),
    )
    try:
        segmentation = _build_segmentation(source, mask, description, threshold, item)
    except Exception as exc:  # noqa: BLE001 - highdicom validates the source header and raises many kinds
        raise DicomExportError(
            f"{printable(out)}: cannot build the segmentation from {printable(item.path.name)}: {exc}"
        ) from None
    _save(segmentation, out)
    return out


def _stack_frames(source, prediction: StackPrediction, threshold: float) -> tuple[np.ndarray, dict]:
    """A stack's SEG frames: each finding's outline on every frame (slice) it spans, only the
    frames marked (one empty frame where nothing is), placed by their source frames' plane
    positions so that each SEG frame references its source frame. (frames, rows, columns)
    uint8 and highdicom's keywords for them."""
    from skimage.draw import polygon2mask

    shape = (int(source.Rows), int(source.Columns))
    marked: dict[int, np.ndarray] = {}  # 0-based file frame -> its mask
    for finding in prediction.findings(threshold):
        ring = np.asarray(finding.lesion.contour_xy, dtype=np.float64)
        if len(ring) < 3:
            continue
        region = polygon2mask(shape, ring[:, ::-1])
        for frame in finding.frames:
            marked[frame - 1] = marked.get(frame - 1, np.zeros(shape, bool)) | region
    frames = sorted(marked) or [0]
    per_frame = source.get("PerFrameFunctionalGroupsSequence") or []
    positions = []
    for frame in frames:
        item = per_frame[frame] if frame < len(per_frame) else None
        position = item.get("PlanePositionSequence") if item is not None else None
        if not position:
            raise DicomExportError(f"frame {frame + 1} of the source has no plane position to place its mark by")
        positions.append(hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT, position[0].ImagePositionPatient))
    pixels = np.stack([marked.get(frame, np.zeros(shape, bool)) for frame in frames]).astype(np.uint8)
    return pixels, {"plane_positions": positions}


def _build_segmentation(source, mask, description, threshold: float, item: AnalysedImage) -> hd.seg.Segmentation:
    pixels, placed = (
        _stack_frames(source, item.prediction, threshold) if mask is None else (mask[None].astype(np.uint8), {})
    )
    made_of = (source.SOPInstanceUID, item.prediction.weights_sha256, f"{threshold:.6g}")
    segmentation = hd.seg.Segmentation(
        source_images=[source],
        pixel_array=pixels,
        **placed,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=derived_uid("seg series", *made_of),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=derived_uid("seg", *made_of),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=item.prediction.model_name[:64],
        software_versions=__version__,
        device_serial_number=item.prediction.weights_sha256[:16],
        series_description=f"AI mass segmentation (threshold {threshold:g})"[:64],
        content_label="MASS",
    )
    # General Image module: a SEG of a projection image keeps its source's orientation (Type
    # 2C: present, empty when the source does not say).
    segmentation.PatientOrientation = source.get("PatientOrientation", "") or ""
    return segmentation


def _measurement(name, value: float, unit) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit)


def write_structured_report(
    items: list[AnalysedImage], threshold: float, out: Path, *, force: bool = False, note: str | None = None
) -> Path:
    """One Comprehensive SR (TID 1500) for the images of one study of one patient. ``note``:
    the study was split because its images disagree on the patient; the SR is then marked
    PARTIAL, with that said in its completion flag description and series description."""
    if not items:
        raise DicomExportError(f"{out}: no analysed images to report")
    _check_target(out, force, [i.path for i in items])
    sources = [_source(item.path, out) for item in items]
    studies = {str(s.get("StudyInstanceUID", "")) for s in sources}  # str: a damaged VR may give a list
    if len(studies) != 1:
        raise DicomExportError(f"{out}: the images belong to {len(studies)} studies; write one report per study")
    try:
        document = _build_report(items, sources, threshold)
    except Exception as exc:  # noqa: BLE001 - highdicom validates the source headers and raises many kinds
        raise DicomExportError(f"{printable(out)}: cannot build the structured report: {exc}") from None
    if note:
        document.CompletionFlag = "PARTIAL"
        document.CompletionFlagDescription = "Study split: its images disagree on the patient"
        document.SeriesDescription = "AI findings; study split: patients disagree"
    _save(document, out)
    return out


def _build_report(items: list[AnalysedImage], sources: list, threshold: float) -> hd.sr.ComprehensiveSR:
    first = items[0].prediction
    made_of = (
        str(sources[0].get("StudyInstanceUID", "")),
        *sorted(str(s.SOPInstanceUID) for s in sources),
        *sorted({item.prediction.weights_sha256 for item in items}),
        f"{threshold:.6g}",
    )
    tracking = iter(range(1, 1_000_000))  # each group's UID: the report's and its place in it
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derived_uid("device", first.weights_sha256),
            name=first.model_name[:64],
            manufacturer_name=MANUFACTURER,
            model_name=f"hds_core {__version__}",
            serial_number=first.weights_sha256[:16],
        ),
    )
    context = hd.sr.ObservationContext(observer_device_context=observer)
    groups = []
    for item, source in zip(items, sources, strict=True):
        prediction = item.prediction
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=derived_uid("tracking", *made_of, next(tracking)),
                    identifier=f"image score {source.SOPInstanceUID}"[:64],
                ),
                measurements=[
                    _measurement(IMAGE_SCORE if prediction.calibrated else IMAGE_RAW_SCORE, prediction.score, NO_UNITS)
                ],
                source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
            )
        )
        # A stack's finding is outlined on its sharpest slice: the region references that frame.
        stack = prediction if isinstance(prediction, StackPrediction) else None
        for lesion in prediction.lesions(threshold):
            finding = stack.finding(lesion.index, threshold) if stack is not None else None
            frames = [finding.frame_number] if finding is not None else None
            ring = np.asarray(lesion.contour_xy, dtype=np.float64)
            if len(ring) < 3:
                continue
            if not np.allclose(ring[0], ring[-1]):
                ring = np.vstack([ring, ring[:1]])
            region = hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=ring + 0.5,  # pixel centres
                source_image=hd.sr.SourceImageForRegion.from_source_image(source, referenced_frame_numbers=frames),
            )
            measurements = [_measurement(PROBABILITY, lesion.max_probability, NO_UNITS)]
            if lesion.area_mm2 is not None:
                measurements.append(_measurement(codes.SCT.Area, lesion.area_mm2, codes.UCUM.SquareMillimeter))
            if lesion.longest_diameter_mm is not None:
                measurements.append(_measurement(DIAMETER, lesion.longest_diameter_mm, codes.UCUM.Millimeter))
            groups.append(
                hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(
                        uid=derived_uid("tracking", *made_of, next(tracking)), identifier=f"lesion {lesion.index}"
                    ),
                    referenced_region=region,
                    finding_type=codes.SCT.Mass,
                    measurements=measurements,
                )
            )
    exam = max(item.prediction.score for item in items)
    groups.append(
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=derived_uid("tracking", *made_of, next(tracking)), identifier="exam score"
            ),
            measurements=[
                _measurement(
                    EXAM_SCORE if all(item.prediction.calibrated for item in items) else EXAM_RAW_SCORE, exam, NO_UNITS
                )
            ],
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.MammographyStudy
        if hasattr(codes.LN, "MammographyStudy")
        else hd.sr.CodedConcept("24606-6", "LN", "MG Breast Screening"),
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    document = hd.sr.ComprehensiveSR(
        evidence=sources,
        content=report[0],
        series_number=SR_SERIES_NUMBER,
        series_instance_uid=derived_uid("sr series", *made_of),
        sop_instance_uid=derived_uid("sr", *made_of),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=f"AI mass findings (threshold {threshold:g})"[:64],
        content_date=dt.date.today(),
        content_time=dt.datetime.now().time(),
    )
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "mammo-hds AI scores"
    scheme.CodingSchemeVersion = __version__
    scheme.CodingSchemeResponsibleOrganization = "mammo-hds project"
    document.CodingSchemeIdentificationSequence = [scheme]
    return document
