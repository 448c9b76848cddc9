"""The radiologist's report as a DICOM structured report: a Comprehensive SR following TID 4200
(Breast Imaging Report) with its narrative sections (TID 4201).

Why TID 4200: it is the standard's root template for a breast imaging report, its section
titles (CID 6052) are the atlas's (indication, breast composition, findings, comparison,
assessment, recommendations, addendum), and a PACS that knows no breast template still shows a
narrative SR as text. The sections hold the words the PDF prints (``reading_text.py``); each of
the reader's findings points at her marks (a point on the image, on a stack the frame of the
slice she marked). BI-RADS categories are written as text: the ACR's own codes for them are not
in the standard's public tables.

A signed reading is VERIFIED by the reader at the time she signed; a draft is PARTIAL and
UNVERIFIED. An addendum is the next version in the same series, naming the version it amends
(Predecessor Documents). UIDs derive from the study and the version, so the same version sent
twice is one object."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from . import sr_tree as t
from .dicom_objects import MANUFACTURER, AnalysedImage, DicomExportError, derived_uid
from .reading import Reading
from .reading_text import finding_text, report_sections
from .sr_document import document, write_sr

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
READER_SR_SERIES_NUMBER = 9504
_SECTIONS = {  # section key -> (CID 6052 section title, CID 6053 element)
    "indication": (codes.LN.IndicationsForProcedure, codes.LN.IndicationsForProcedure),
    "composition": (codes.SCT.BreastComposition, codes.SCT.BreastComposition),
    "findings": (codes.LN.Findings, codes.DCM.Finding),
    "comparison": (codes.DCM.ComparisonToPreviousStudies, codes.DCM.ComparisonToPreviousStudies),
    "assessment": (codes.DCM.OverallAssessment, codes.DCM.OverallAssessment),
    "management": (codes.LN.Recommendations, codes.DCM.Recommendation),
}


def reading_uids(reading: Reading) -> tuple[str, str]:
    """(series, instance) of a version of a study's reading: every version in one series."""
    return (
        derived_uid("reading sr series", reading.study_uid),
        derived_uid("reading sr", reading.study_uid, reading.version, reading.signed_at or reading.modified),
    )


def write_reader_sr(
    reading: Reading,
    items: list[AnalysedImage],
    out: Path,
    *,
    comparison_line: str | None = None,
    amended: Reading | None = None,
    force: bool = False,
) -> Path:
    """The reading as a TID 4200 Comprehensive SR in the study of ``items`` (its analysed DICOM
    images: patient, study and evidence come from them). ``amended``: the version an addendum
    amends."""
    if not items:
        raise DicomExportError(f"{out}: no DICOM image of the study to place the reader's report in")
    return write_sr(
        items,
        out,
        force=force,
        kind="reader's report",
        wrong_study=lambda studies: (
            None if studies == {reading.study_uid} else "the reading is of another study than these images"
        ),
        build=lambda sources: _build(reading, sources, comparison_line, amended),
    )


def _finding_item(finding, element, sources_by_uid: dict[str, Dataset]) -> Dataset:
    places = []
    for mark in finding.marks:
        source = sources_by_uid.get(mark.image)
        if source is None:  # an image not analysed here (a PNG, a prior): the words say where
            continue
        frames = [mark.frame] if mark.frame else []
        on_image = t.image("SELECTED FROM", None, str(source.SOPClassUID), str(source.SOPInstanceUID), frames)
        places.append(t.point("INFERRED FROM", codes.DCM.Center, (mark.x, mark.y), [on_image]))
    return t.text("CONTAINS", element, finding_text(finding), places)


def _when(text: str | None) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text) if text else dt.datetime.now()
    except ValueError:
        return dt.datetime.now()


def _build(reading: Reading, sources: list[Dataset], comparison_line: str | None, amended: Reading | None):
    by_uid = {str(s.SOPInstanceUID): s for s in sources}
    sections = []
    for section in report_sections(reading, comparison_line):
        title, element = _SECTIONS[section.key]
        if section.key == "findings":
            texts = [_finding_item(f, element, by_uid) for f in reading.findings]
            texts += [t.text("CONTAINS", element, line) for line in section.lines[len(reading.findings) :]]
        else:
            texts = [t.text("CONTAINS", element, line) for line in section.lines]
        sections.append(t.container("CONTAINS", title, texts))
    if reading.amends:
        sections.append(
            t.container(
                "CONTAINS",
                codes.LN.Addendum,
                [t.text("CONTAINS", codes.DCM.Conclusion, f"Version {reading.version} amends {reading.amends}.")],
            )
        )
    observer = [
        t.coded("HAS OBS CONTEXT", codes.DCM.ObserverType, codes.DCM.Person),
        t.person("HAS OBS CONTEXT", codes.DCM.PersonObserverName, reading.reader or "unknown"),
    ]
    root = t.container(None, codes.DCM.BreastImagingReport, [*observer, *sections], template="4200")
    series_uid, sop_uid = reading_uids(reading)
    predecessor = None
    if amended is not None:
        earlier_series, earlier_sop = reading_uids(amended)
        reference = Dataset()
        reference.ReferencedSOPClassUID = COMPREHENSIVE_SR
        reference.ReferencedSOPInstanceUID = earlier_sop
        series = Dataset()
        series.SeriesInstanceUID = earlier_series
        series.ReferencedSOPSequence = [reference]
        predecessor = Dataset()
        predecessor.StudyInstanceUID = reading.study_uid
        predecessor.ReferencedSeriesSequence = [series]
    signed = reading.signed
    return document(
        sources,
        root,
        sop_class=COMPREHENSIVE_SR,
        series_uid=series_uid,
        sop_uid=sop_uid,
        series_number=READER_SR_SERIES_NUMBER,
        series_description="Breast imaging report (reader)" + ("" if signed else ", draft"),
        manufacturer=MANUFACTURER,
        model_name="mammo-viewer reading",
        when=_when(reading.signed_at or reading.modified),
        verified_by=(reading.reader, _when(reading.signed_at)) if signed else None,
        completion="COMPLETE" if signed else "PARTIAL",
        completion_note=None if signed else "Draft: not signed by the reader",
        predecessor=predecessor,
    )
