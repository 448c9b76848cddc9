"""DICOM that other systems accept: the demo films and every object we export pass dciodvfy
(dicom3tools, the standard's own checker of each IOD's required attributes) with no error.

CI installs dicom3tools; elsewhere these tests are skipped when it is missing (in CI they
fail instead, so a broken install cannot pass silently)."""

import os
import shutil
import subprocess

import pytest
from synthetic import phantom, write_dicom

import resources
from hds_core.report.cad_sr import MAMMOGRAPHY_CAD_SR as CAD_SR
from hds_core.report.encapsulated_pdf import ENCAPSULATED_PDF_STORAGE as ENCAPSULATED_PDF
from mammo_viewer.headless import main as predict_main

DCIODVFY = shutil.which("dciodvfy")
DSRDUMP = shutil.which("dsrdump")
# DCMTK says this of every Mammography CAD SR it reads: it checks the IOD's relationship
# constraints but not the TID 4000 template (its checker declares template support required).
DCMTK_TEMPLATE_NOTICE = "W: Check for template constraints not yet supported"


@pytest.fixture(autouse=True)
def needs_dciodvfy():
    if DCIODVFY is None:
        if os.environ.get("CI"):
            pytest.fail("dciodvfy (Debian package dicom3tools) is not installed; .ci/run installs it")
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")


def errors_of(path) -> list[str]:
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    report = run.stdout + run.stderr
    assert report.strip(), f"dciodvfy said nothing about {path}"
    return [line for line in report.splitlines() if line.startswith("Error")]


def dsrdump_complaints(path) -> list[str]:
    """DCMTK's warnings and errors on reading a structured report (none: an empty list)."""
    if DSRDUMP is None:
        if os.environ.get("CI"):
            pytest.fail("dsrdump (Debian package dcmtk) is not installed; .ci/run installs it")
        pytest.skip("dsrdump (Debian package dcmtk) is not installed")
    run = subprocess.run([DSRDUMP, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    said = (run.stdout + run.stderr).splitlines()
    return [line for line in said if line[:2] in ("W:", "E:", "F:") and line != DCMTK_TEMPLATE_NOTICE]


def sop_class_of(path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID)


def test_the_demo_films_are_valid_digital_mammography_images():
    films = sorted(resources.demo_study().glob("*/*.dcm"))
    assert len(films) == 8  # six films and the digital patient's two views
    for film in films:
        assert errors_of(film) == [], film


def test_exported_segmentations_and_structured_reports_are_valid(phantom_model, tmp_path, capsys):
    # The demo study, and synthetic films without Patient Orientation (the SEG must still say it).
    study = tmp_path / "synthetic"
    study.mkdir()
    for side in ("R", "L"):
        pixels, _ = phantom((160, 128), seed=40, crisp=True, chest_wall="left" if side == "R" else "right")
        write_dicom(
            study / f"{side}_CC.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition="CC",
            ImagerPixelSpacing=[0.4, 0.4],
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.4040",
        )
    seg, sr = tmp_path / "seg", tmp_path / "sr"
    for source in (resources.demo_study() / "DEMO-014", study):
        assert (
            predict_main(
                [
                    str(source),
                    "--out",
                    str(tmp_path / "json"),
                    "--weights",
                    str(phantom_model),
                    "--seg-dir",
                    str(seg),
                    "--sr-dir",
                    str(sr),
                    "--threshold",
                    "0.5",
                ]
            )
            == 0
        )
    capsys.readouterr()
    objects = sorted(seg.iterdir()) + sorted(sr.iterdir())
    assert len(objects) == 4 + 2 * 2  # a SEG per image; per study a TID 1500 SR and a Mammography CAD SR
    for path in objects:
        assert errors_of(path) == [], path
    for path in sr.iterdir():
        assert dsrdump_complaints(path) == [], path


def test_a_tomosynthesis_stacks_seg_sr_and_pdf_name_the_frames_of_its_finding(phantom_model, tmp_path, capsys):
    """A lesion sharp on one slice of a stack stored out of spatial order: the SEG marks the
    frames of the slices the finding spans (and only those), the SR's outline references the
    frame of its sharpest slice, both pass dciodvfy, and the PDF prints that slice, saying so."""
    import json

    import pydicom
    from pdf_text import pdf_text
    from synthetic_dbt import dbt_volume, write_dbt

    volume, _ = dbt_volume(12, shape=(320, 240), lesion_slice=7)
    order = [3, 1, 0, 2, 4, 11, 7, 6, 5, 8, 9, 10]
    (tmp_path / "in").mkdir()
    write_dbt(tmp_path / "in" / "rcc.dcm", volume, order=order, spacing_mm=0.2)
    seg, sr, pdf = tmp_path / "seg", tmp_path / "sr", tmp_path / "report.pdf"
    argv = [str(tmp_path / "in"), "--weights", str(phantom_model), "--device", "cpu", "--out", str(tmp_path / "out")]
    argv += ["--seg-dir", str(seg), "--sr-dir", str(sr), "--pdf", str(pdf)]
    assert predict_main(argv) == 0, capsys.readouterr()
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    (lesion,) = result["lesions"]
    sharpest = order.index(7) + 1
    assert lesion["frame"] == sharpest

    (seg_file,) = seg.glob("*.dcm")
    assert errors_of(seg_file) == []
    marked = pydicom.dcmread(seg_file)
    referenced = sorted(
        int(group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
        for group in marked.PerFrameFunctionalGroupsSequence
    )
    assert referenced == sorted(lesion["frames"]) and sharpest in referenced
    assert all(frame.any() for frame in marked.pixel_array.reshape(len(referenced), *marked.pixel_array.shape[-2:]))

    reports = {sop_class_of(path): path for path in sr.glob("*.dcm")}
    assert len(reports) == 3  # the TID 1500 SR, the CAD SR and, with --pdf, the PDF as DICOM
    assert errors_of(reports.pop(ENCAPSULATED_PDF)) == []
    for path in reports.values():  # the TID 1500 SR and the CAD SR outline it on its sharpest slice's frame
        assert errors_of(path) == [] and dsrdump_complaints(path) == []
        frames = {int(e.value) for e in pydicom.dcmread(path).iterall() if e.keyword == "ReferencedFrameNumber"}
        assert frames == {sharpest}, path
    assert CAD_SR in reports

    text = " ".join(pdf_text(pdf).split())
    assert f"Finding #1 on slice 8 of 12 (frame {sharpest}" in text
    assert "R CC #1 · slice 8" in text and "slice 8/12" in text
    assert "trained on 2-D mammograms, not on DBT" in text


def test_the_same_result_written_again_is_the_same_object_and_another_threshold_another(
    phantom_model, tmp_path, capsys
):
    """Each SEG's and SR's UIDs derive from its sources, the weights and the threshold: a rerun
    (or a resend) replaces instead of adding a series; another threshold makes new objects."""
    import pydicom

    def uids(run: str, threshold: str) -> set[tuple[str, str, str]]:
        seg, sr = tmp_path / run / "seg", tmp_path / run / "sr"
        argv = [str(resources.demo_study() / "DEMO-014"), "--weights", str(phantom_model), "--device", "cpu"]
        argv += [
            "--out",
            str(tmp_path / run / "json"),
            "--seg-dir",
            str(seg),
            "--sr-dir",
            str(sr),
            "--threshold",
            threshold,
        ]
        assert predict_main(argv) == 0, capsys.readouterr()
        found = set()
        for path in [*seg.glob("*.dcm"), *sr.glob("*.dcm")]:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            found.add((ds.Modality, ds.SeriesInstanceUID, ds.SOPInstanceUID))
        return found

    first, again, other = uids("first", "0.5"), uids("again", "0.5"), uids("other", "0.3")
    assert first == again and len(first) == 4  # two SEG, the TID 1500 SR and the CAD SR
    assert not {sop for _, _, sop in first} & {sop for _, _, sop in other}
