"""The AI's result as a Mammography CAD SR (SOP class 1.2.840.10008.5.1.4.1.1.88.50, root
template TID 4000): what mammography workstations display CAD marks from (iCAD, Hologic/R2
and ScreenPoint send this object; a TID 1500 report is for research tools).

One document per study:
- the Image Library (TID 4020): each analysed image with its laterality, view and date;
- the CAD Processing and Findings Summary, holding one Individual Impression (TID 4003) per
  region, each a Single Image Finding "Mammographic breast mass" (TID 4006) with its
  certainty (the region's maximum probability, %), its centre and its outline (SCOORD on the
  image; on a tomosynthesis stack, on the frame of the slice where it is sharpest);
- the Rendering Intent of every region, set from the operating threshold: a region reaching
  the threshold is "Presentation Required" (the reader must see it); a fainter region, down to
  half the threshold, is "Not for Presentation" (kept for systems that show more on request);
- the Summary of Detections (mass detection: succeeded) and of Analyses (none attempted).

The UIDs derive from the sources, the weights and the threshold (``derived_uid``): the same
result sent again replaces the first; another threshold or model makes another object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.sr.codedict import codes

from .. import __version__
from ..findings import Lesion
from ..findings.stack import StackPrediction
from . import sr_tree as t
from .dicom_objects import (
    MANUFACTURER,
    AnalysedImage,
    DicomExportError,
    derived_uid,
)
from .sr_document import document, write_sr

MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
CAD_SR_SERIES_NUMBER = 9503
CANDIDATE_FRACTION = 0.5  # regions down to this fraction of the threshold are kept, not for presentation
PERCENT = ("%", "UCUM", "percent")
MASS = codes.SCT.MammographicBreastMass

_VIEW_CODES = {  # CID 4014, for files without a View Code Sequence
    "CC": codes.SCT.CranioCaudal,
    "MLO": codes.SCT.MedioLateralObliqueProjection,
    "ML": codes.SCT.MedioLateralProjection,
    "LM": codes.SCT.LateroMedial,
    "LMO": codes.SCT.LateroMedialOblique,
    "XCCL": codes.SCT.CranioCaudalExaggeratedLaterally,
    "XCCM": codes.SCT.CranioCaudalExaggeratedMedially,
    "FB": codes.SCT.CaudoCranial,
    "SIO": codes.SCT.SuperolateralToInferomedialOblique,
}
_SIDES = {"R": codes.SCT.RightBreast, "L": codes.SCT.LeftBreast}


@dataclass(frozen=True)
class CadMark:
    """A region the CAD SR lists: where, how probable, and whether a reader must see it."""

    lesion: Lesion
    frame: int | None  # a stack: the 1-based frame of the slice where it is sharpest
    required: bool  # reaches the operating threshold: Presentation Required

    @property
    def intent(self):
        return (
            codes.DCM.PresentationRequiredRenderingDeviceIsExpectedToPresent
            if self.required
            else codes.DCM.NotForPresentationRenderingDeviceExpectedNotToPresent
        )


def cad_marks(prediction, threshold: float) -> list[CadMark]:
    """The regions at ``threshold`` (required), then the fainter ones found down to
    ``CANDIDATE_FRACTION`` of it that never reach it (not for presentation)."""
    low = threshold * CANDIDATE_FRACTION
    if isinstance(prediction, StackPrediction):
        required = [CadMark(f.lesion, f.frame_number, True) for f in prediction.findings(threshold)]
        faint = [CadMark(f.lesion, f.frame_number, False) for f in prediction.findings(low)]
    else:
        required = [CadMark(lesion, None, True) for lesion in prediction.lesions(threshold)]
        faint = [CadMark(lesion, None, False) for lesion in prediction.lesions(low)]
    # A faint region that reaches the threshold holds a required one: it is that region, larger.
    return required + [mark for mark in faint if mark.lesion.max_probability < threshold]


def write_cad_sr(
    items: list[AnalysedImage], threshold: float, out: Path, *, force: bool = False, note: str | None = None
) -> Path:
    """One Mammography CAD SR for the analysed images of one study, at ``out``. ``note``: the
    study was split because its images disagree on the patient (the SR is then PARTIAL)."""
    if not items:
        raise DicomExportError(f"{out}: no analysed images to report")

    def build(sources):
        dataset = _build(items, sources, threshold)
        if note:
            dataset.CompletionFlag = "PARTIAL"
            dataset.CompletionFlagDescription = "Study split: its images disagree on the patient"
        return dataset

    return write_sr(
        items,
        out,
        force=force,
        kind="CAD SR",
        wrong_study=lambda studies: (
            None if len(studies) == 1 else "the images belong to several studies; write one CAD SR per study"
        ),
        build=build,
    )


def _library_entry(source) -> object:
    """TID 4020: the image, with its laterality, view and study date as acquisition context."""
    laterality = str(source.get("ImageLaterality", "") or source.get("Laterality", "") or "").upper()
    context = []
    if laterality in _SIDES:
        context.append(t.coded("HAS ACQ CONTEXT", codes.DCM.ImageLaterality, _SIDES[laterality]))
    view_sequence = source.get("ViewCodeSequence")
    if view_sequence:
        view = view_sequence[0]
        context.append(
            t.coded(
                "HAS ACQ CONTEXT",
                codes.DCM.ImageView,
                (view.CodeValue, view.CodingSchemeDesignator, str(view.get("CodeMeaning", "") or view.CodeValue)),
            )
        )
    elif str(source.get("ViewPosition", "") or "").upper() in _VIEW_CODES:
        context.append(t.coded("HAS ACQ CONTEXT", codes.DCM.ImageView, _VIEW_CODES[str(source.ViewPosition).upper()]))
    if str(source.get("StudyDate", "") or ""):
        context.append(t.date("HAS ACQ CONTEXT", codes.DCM.StudyDate, str(source.StudyDate)))
    return t.image("CONTAINS", None, str(source.SOPClassUID), str(source.SOPInstanceUID), children=context)


def _finding(mark: CadMark, source) -> object:
    """TID 4006 Single Image Finding: a mass, its certainty, centre and outline on the image
    (on a stack's frame)."""
    frames = [mark.frame] if mark.frame else []

    def on_image():
        return t.image("SELECTED FROM", None, str(source.SOPClassUID), str(source.SOPInstanceUID), frames)

    ring = np.asarray(mark.lesion.contour_xy, dtype=np.float64)
    if len(ring) and not np.allclose(ring[0], ring[-1]):
        ring = np.vstack([ring, ring[:1]])
    properties = [
        t.coded("HAS CONCEPT MOD", codes.DCM.RenderingIntent, mark.intent),
        t.number("HAS PROPERTIES", codes.DCM.CertaintyOfFinding, 100 * mark.lesion.max_probability, PERCENT),
        t.point("HAS PROPERTIES", codes.DCM.Center, mark.lesion.centroid_xy, [on_image()]),
    ]
    if len(ring) >= 4:  # a closed outline: at least three corners
        properties.append(t.region("HAS PROPERTIES", codes.DCM.Outline, ring, [on_image()]))
    return t.coded("CONTAINS", codes.DCM.SingleImageFinding, MASS, properties)


def _build(items: list[AnalysedImage], sources: list, threshold: float):
    made_of = (
        str(sources[0].get("StudyInstanceUID", "")),
        *sorted(str(s.SOPInstanceUID) for s in sources),
        *sorted({item.prediction.weights_sha256 for item in items}),
        f"{threshold:.6g}",
    )
    impressions = []
    any_required = False
    for item, source in zip(items, sources, strict=True):
        for mark in cad_marks(item.prediction, threshold):
            any_required |= mark.required
            impressions.append(
                t.container(
                    "INFERRED FROM",
                    codes.DCM.IndividualImpressionRecommendation,
                    [
                        t.coded("HAS CONCEPT MOD", codes.DCM.RenderingIntent, mark.intent),
                        _finding(mark, source),
                    ],
                )
            )
    summary = (
        codes.DCM.AllAlgorithmsSucceededWithFindings
        if any_required
        else codes.DCM.AllAlgorithmsSucceededWithoutFindings
    )
    first = items[0].prediction
    detection = t.coded(
        "CONTAINS",
        codes.DCM.DetectionPerformed,
        MASS,
        [
            t.text("HAS PROPERTIES", codes.DCM.AlgorithmName, first.model_name[:64] or "hds"),
            t.text(
                "HAS PROPERTIES",
                codes.DCM.AlgorithmVersion,
                f"mammo-hds {__version__}, weights {first.weights_sha256[:16]}",
            ),
        ],
    )
    root = t.container(
        None,
        codes.DCM.MammographyCADReport,
        [
            t.container("CONTAINS", codes.DCM.ImageLibrary, [_library_entry(source) for source in sources]),
            t.coded("CONTAINS", codes.DCM.CADProcessingAndFindingsSummary, summary, impressions),
            t.coded(
                "CONTAINS",
                codes.DCM.SummaryOfDetections,
                codes.DCM.Succeeded,
                [t.container("INFERRED FROM", codes.DCM.SuccessfulDetections, [detection])],
            ),
            t.coded("CONTAINS", codes.DCM.SummaryOfAnalyses, codes.DCM.NotAttempted),
        ],
        template="4000",
    )
    return document(
        sources,
        root,
        sop_class=MAMMOGRAPHY_CAD_SR,
        series_uid=derived_uid("cad sr series", *made_of),
        sop_uid=derived_uid("cad sr", *made_of),
        series_number=CAD_SR_SERIES_NUMBER,
        series_description=f"AI mass CAD (threshold {threshold:g})",
        manufacturer=MANUFACTURER,
        model_name=first.model_name[:64],
        when=dt.datetime.now(),
    )
