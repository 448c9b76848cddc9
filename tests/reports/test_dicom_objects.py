"""DICOM SEG and TID 1500 SR: written with highdicom, read back with highdicom and pydicom."""

import highdicom as hd
import numpy as np
import pydicom
import pytest
from synthetic import phantom, write_dicom

from hds_core.infer import Predictor
from hds_core.io import read_image
from hds_core.report import AnalysedImage, DicomExportError, write_segmentation, write_structured_report


@pytest.fixture(scope="module")
def analysed(phantom_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    predictor = Predictor(phantom_model, device="cpu")
    items = []
    for i, side in enumerate(("R", "L")):
        pixels, _ = phantom((256, 192), seed=300 + i, mass=True, chest_wall="right" if side == "R" else "left")
        path = write_dicom(
            folder / f"{side}.dcm",
            pixels,
            ImagerPixelSpacing=[0.4, 0.4],
            ImageLaterality=side,
            ViewPosition="CC",
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.1",
            PatientID="SEG-TEST",
        )
        items.append(AnalysedImage(path, predictor.predict(read_image(path))))
    return items


def threshold_with_lesions(items):
    return next(t for t in (0.5, 0.3, 0.1, 0.02) if all(i.prediction.lesions(t) for i in items))


def test_segmentation_round_trips_and_matches_the_lesions(analysed, tmp_path):
    item = analysed[0]
    threshold = threshold_with_lesions(analysed)
    out = write_segmentation(item, threshold, tmp_path / "seg.dcm")
    seg = hd.seg.segread(out)
    source = pydicom.dcmread(item.path, stop_before_pixels=True)
    assert (
        seg.Modality == "SEG" and seg.SegmentationType == "BINARY" and seg.StudyInstanceUID == source.StudyInstanceUID
    )
    assert seg.SOPInstanceUID != source.SOPInstanceUID and seg.SeriesInstanceUID != source.SeriesInstanceUID
    segment = seg.SegmentSequence[0]
    assert segment.SegmentLabel == "Mass"
    algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
    assert item.prediction.weights_sha256 in str(algorithm.AlgorithmParameters) and algorithm.AlgorithmName
    assert (
        seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    )
    stored = pydicom.dcmread(out).pixel_array.astype(bool)
    np.testing.assert_array_equal(stored, item.prediction.lesion_mask(threshold))
    area = stored.sum() * 0.4 * 0.4
    assert area == pytest.approx(sum(lesion.area_mm2 for lesion in item.prediction.lesions(threshold)), rel=0.15)


def test_structured_report_has_one_finding_per_lesion_and_the_scores(analysed, tmp_path):
    threshold = threshold_with_lesions(analysed)
    out = write_structured_report(analysed, threshold, tmp_path / "sr.dcm")
    sr = hd.sr.srread(out)
    lesions = sum(len(i.prediction.lesions(threshold)) for i in analysed)
    rois = sr.content.get_planar_roi_measurement_groups()
    assert len(rois) == lesions
    names = {m.name.meaning for m in rois[0].get_measurements()}
    assert {"Probability", "Area", "Long axis"} <= names
    groups = sr.content.get_image_measurement_groups()
    values = [m.value for g in groups for m in g.get_measurements()]
    exam = max(i.prediction.score for i in analysed)
    assert any(abs(float(v) - exam) < 1e-6 for v in values)
    assert pydicom.dcmread(out).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR


def test_writes_refuse_to_overwrite_and_fail_cleanly(analysed, tmp_path):
    out = tmp_path / "seg.dcm"
    write_segmentation(analysed[0], 0.5, out)
    with pytest.raises(DicomExportError, match="exists"):
        write_segmentation(analysed[0], 0.5, out)
    with pytest.raises(DicomExportError, match="input file"):
        write_segmentation(analysed[0], 0.5, analysed[0].path, force=True)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")  # root ignores permissions; this fails for anyone
    with pytest.raises(DicomExportError, match="cannot write"):
        write_structured_report(analysed, 0.5, blocker / "sr.dcm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder", "seg.dcm"]  # no temporary file left


def test_the_report_names_a_raw_score_as_such(analysed, tmp_path):
    """The phantom weights carry no calibration: the SR's score concepts say 'not calibrated',
    not 'probability of a mass'."""
    assert not any(i.prediction.calibrated for i in analysed)
    out = write_structured_report(analysed, threshold_with_lesions(analysed), tmp_path / "sr.dcm")
    groups = hd.sr.srread(out).content.get_image_measurement_groups()
    names = {m.name.meaning for g in groups for m in g.get_measurements()}
    assert {"Image raw network score, not calibrated", "Exam raw network score, not calibrated"} <= names
    assert not any("probability of a mass" in name for name in names)
