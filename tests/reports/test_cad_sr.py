"""The Mammography CAD SR (TID 4000) and the radiologist's report (TID 4200): what each says,
that dciodvfy and DCMTK's dsrdump accept them, and that their UIDs derive from what they are
made of (the same object written twice is one object)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from synthetic import phantom, write_dicom
from test_dicom_conformance import dsrdump_complaints, errors_of

from hds_core.findings import Lesion
from hds_core.report.cad_sr import MAMMOGRAPHY_CAD_SR, write_cad_sr
from hds_core.report.dicom_objects import AnalysedImage
from hds_core.report.encapsulated_pdf import write_encapsulated_pdf
from hds_core.report.reader_sr import write_reader_sr
from hds_core.report.reading import Mark, ReadingStore

REQUIRED = "111150"  # Presentation Required: Rendering device is expected to present
NOT_FOR_PRESENTATION = "111152"


def _lesion(index: int, probability: float, x: float, y: float) -> Lesion:
    ring = np.array([[x - 6, y - 6], [x + 6, y - 6], [x + 6, y + 6], [x - 6, y + 6], [x - 6, y - 6]], float)
    return Lesion(index, ring, probability, probability * 0.8, 144.0, 17.0, (x, y), (x - 6, y - 6, 12.0, 12.0))


class _Regions:
    """A prediction with three regions of known maximum probability: what the CAD SR lists at
    any threshold (a real one's regions also grow at a lower threshold; these keep their shape)."""

    model_name, weights_sha256, calibrated, score = "test-model", "ab" * 32, True, 0.95

    def __init__(self):
        self.regions = [_lesion(1, 0.95, 40, 50), _lesion(2, 0.45, 90, 60), _lesion(3, 0.25, 60, 120)]

    def lesions(self, threshold: float) -> list[Lesion]:
        return [lesion for lesion in self.regions if lesion.max_probability >= threshold]


@pytest.fixture
def film(tmp_path):
    pixels, _ = phantom((160, 128), seed=3, crisp=True)
    return write_dicom(
        tmp_path / "L_CC.dcm", pixels, ImageLaterality="L", ViewPosition="CC", ImagerPixelSpacing=[0.4, 0.4]
    )


def _findings(path) -> list[tuple[float, str]]:
    """(certainty %, rendering intent code) of each Single Image Finding, in order."""
    found = []
    for item in pydicom.dcmread(path).iterall():
        if getattr(item, "keyword", "") != "ContentSequence":
            continue
        for content in item.value:
            name = content.get("ConceptNameCodeSequence")
            if name and name[0].CodeValue == "111059":  # Single Image Finding
                intent = next(c for c in content.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == "111056")
                certainty = next(c for c in content.ContentSequence if c.ValueType == "NUM")
                found.append(
                    (
                        float(certainty.MeasuredValueSequence[0].NumericValue),
                        intent.ConceptCodeSequence[0].CodeValue,
                    )
                )
    return found


def test_rendering_intents_follow_the_operating_threshold(film, tmp_path):
    """At 0.4 the regions of 0.95 and 0.45 must be shown and the one of 0.25 (above half the
    threshold) is kept not for presentation; at 0.9 only 0.95 must be shown, 0.45 is kept not
    for presentation and 0.25 (below half) is left out."""
    item = AnalysedImage(film, _Regions())
    low = write_cad_sr([item], 0.4, tmp_path / "low.dcm")
    high = write_cad_sr([item], 0.9, tmp_path / "high.dcm")
    assert sorted(_findings(low)) == [(25.0, NOT_FOR_PRESENTATION), (45.0, REQUIRED), (95.0, REQUIRED)]
    assert sorted(_findings(high)) == [(45.0, NOT_FOR_PRESENTATION), (95.0, REQUIRED)]
    for path in (low, high):
        assert errors_of(path) == [] and dsrdump_complaints(path) == []
        document = pydicom.dcmread(path)
        assert document.SOPClassUID == MAMMOGRAPHY_CAD_SR
        assert document.ContentTemplateSequence[0].TemplateIdentifier == "4000"
        # Each outline and centre is selected from the analysed image.
        references = {e.value for e in document.iterall() if e.keyword == "ReferencedSOPInstanceUID"}
        assert references == {pydicom.dcmread(film, stop_before_pixels=True).SOPInstanceUID}
    # Another threshold is another object; the same threshold again, the same object.
    assert pydicom.dcmread(low).SOPInstanceUID != pydicom.dcmread(high).SOPInstanceUID
    again = write_cad_sr([item], 0.4, tmp_path / "again.dcm")
    assert pydicom.dcmread(again).SOPInstanceUID == pydicom.dcmread(low).SOPInstanceUID


def test_a_cad_sr_without_findings_says_so(film, tmp_path):
    regions = _Regions()
    regions.regions = []
    path = write_cad_sr([AnalysedImage(film, regions)], 0.5, tmp_path / "none.dcm")
    summary = next(
        c for c in pydicom.dcmread(path).ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == "111017"
    )
    assert summary.ConceptCodeSequence[0].CodeValue == "111241"  # All algorithms succeeded; without findings
    assert errors_of(path) == [] and dsrdump_complaints(path) == []


def _signed_reading(tmp_path, film):
    source = pydicom.dcmread(film, stop_before_pixels=True)
    store = ReadingStore(tmp_path / "readings")
    reading = store.open(str(source.StudyInstanceUID), "PHANTOM-1")
    reading.set(reader="Dr Ada Example", composition="c", indication="Screening", impression="Mass, left breast.")
    reading.assess("L", "4B")
    mark = Mark(str(source.SOPInstanceUID), "L CC", 40.0, 50.0, third="middle", nipple_distance_mm=30.0, left_mm=9.0)
    reading.add_finding("mass", mark, "L")
    store.save(reading)
    return store, store.sign(reading)


def test_the_readers_report_is_a_verified_tid_4200_report_in_the_atlas_order(film, tmp_path):
    store, signed = _signed_reading(tmp_path, film)
    item = AnalysedImage(film, _Regions())
    first = write_reader_sr(signed, [item], tmp_path / "v1.dcm", comparison_line="No prior available.")
    assert errors_of(first) == [] and dsrdump_complaints(first) == []
    document = pydicom.dcmread(first)
    assert document.ContentTemplateSequence[0].TemplateIdentifier == "4200"
    assert document.VerificationFlag == "VERIFIED" and document.CompletionFlag == "COMPLETE"
    assert document.VerifyingObserverSequence[0].VerifyingObserverName == "Example^Ada^^Dr"
    sections = [
        c.ConceptNameCodeSequence[0].CodeMeaning for c in document.ContentSequence if c.ValueType == "CONTAINER"
    ]
    assert sections == [
        "Indications for Procedure",
        "Breast composition",
        "Findings",
        "Comparison to previous studies",
        "Overall Assessment",
        "Recommendations",
    ]
    texts = [e.value for e in document.iterall() if e.keyword == "TextValue"]
    assert "Screening" in texts and "No prior available." in texts
    assert any(t.startswith("1. mass, left breast") and "30 mm from the nipple" in t for t in texts)
    assert "Exam: BI-RADS 4B: Moderate suspicion for malignancy" in texts
    # Her finding points at her mark on the image.
    (finding,) = [c for c in document.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == "59776-5"]
    (point,) = finding.ContentSequence[0].ContentSequence
    assert point.GraphicType == "POINT" and list(point.GraphicData) == [40.5, 50.5]

    # The same version again is the same object; an addendum is a new one naming the version it amends.
    assert pydicom.dcmread(write_reader_sr(signed, [item], tmp_path / "v1b.dcm")).SOPInstanceUID == (
        document.SOPInstanceUID
    )
    addendum = store.addendum(signed)
    addendum.set(impression="Ultrasound advised.")
    second = pydicom.dcmread(write_reader_sr(addendum, [item], tmp_path / "v2.dcm", amended=signed))
    assert second.SOPInstanceUID != document.SOPInstanceUID
    assert second.SeriesInstanceUID == document.SeriesInstanceUID
    predecessor = second.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == document.SOPInstanceUID
    assert second.VerificationFlag == "UNVERIFIED" and second.CompletionFlag == "PARTIAL"
    assert errors_of(tmp_path / "v2.dcm") == [] and dsrdump_complaints(tmp_path / "v2.dcm") == []


def test_the_encapsulated_pdf_is_the_same_object_when_made_of_the_same(film, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%fake but enough to wrap\n")
    one = write_encapsulated_pdf(pdf, film, tmp_path / "one.dcm", made_of=("sop", "weights", "0.5", "reading 1"))
    two = write_encapsulated_pdf(pdf, film, tmp_path / "two.dcm", made_of=("sop", "weights", "0.5", "reading 1"))
    other = write_encapsulated_pdf(pdf, film, tmp_path / "three.dcm", made_of=("sop", "weights", "0.5", "reading 2"))
    uids = [pydicom.dcmread(p).SOPInstanceUID for p in (one, two, other)]
    assert uids[0] == uids[1] != uids[2]
    assert errors_of(one) == []
