"""The fuzz campaign's findings, one test each: a damaged spacing, a crash told from a
refusal, names too long, studies that shared a report name, SEG names across folders,
patients and control characters kept off the terminal, links out of the opened folder, a
2x2 image, and a machine without a display."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fuzz import raw_element
from pydicom.uid import generate_uid
from synthetic import mg_dataset, phantom, write_dicom

from hds_core.commands import predict as predict_cli
from hds_core.infer import NotAMammogramError, Predictor
from hds_core.io import read_image, scan_folder
from hds_core.io.image import MammoMetadata
from hds_core.report.identity import replacement_refused
from hds_core.report.naming import MAX_NAME, output_names, study_labels
from hds_core.text import printable
from mammo_viewer import headless


def film(path: Path, seed=1, **tags) -> Path:
    pixels, _ = phantom((128, 96), seed=seed)
    tags = {"ImageLaterality": "R", "ViewPosition": "CC", "ImagerPixelSpacing": [0.4, 0.4], **tags}
    return write_dicom(path, pixels, **tags)


def predict(*args) -> subprocess.CompletedProcess:
    """hds-predict as a user runs it: its own process, its own terminal handler."""
    return subprocess.run(
        [sys.executable, "-m", "mammo_viewer.headless", *map(str, args)],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.parametrize("spacing", ["1e308", "inf", "1e-300", "nan", "-1"])
def test_a_spacing_no_mammogram_can_have_is_treated_as_unknown_with_a_warning(tmp_path, spacing):
    pixels, _ = phantom((128, 96), seed=1)
    ds = mg_dataset(pixels, ImageLaterality="R", ViewPosition="CC")
    raw_element(ds, "ImagerPixelSpacing", f"{spacing}\\{spacing}")
    path = tmp_path / "f.dcm"
    ds.save_as(path, enforce_file_format=True)
    meta = read_image(path).metadata
    assert meta.pixel_spacing_mm is None
    assert any("not a mammogram's pixel spacing" in w for w in meta.warnings())


def test_a_damaged_spacing_costs_no_result_and_a_crash_has_its_own_exit_status(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    film(folder / "a.dcm", ImagerPixelSpacing=["1e308", "1e308"])
    film(folder / "b.dcm", seed=2, ImageLaterality="L")
    assert headless.main([str(folder), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    result = json.loads((tmp_path / "out" / "in_a.json").read_text())
    assert result["pixel_spacing_mm"] is None and any("not a mammogram's" in w for w in result["warnings"])
    # --spacing is held to the same range
    with pytest.raises(SystemExit) as exit_info:
        headless.main([str(folder), "--spacing", "1e308"])
    assert exit_info.value.code == 2
    # A bug on one file: the other file's result is still written, and the status is 3, not 1.
    real = Predictor.predict

    def buggy(self, image, **kwargs):
        if image.metadata.path.name == "a.dcm":
            raise OverflowError("a bug")
        return real(self, image, **kwargs)

    monkeypatch.setattr(Predictor, "predict", buggy)
    out = tmp_path / "out2"
    assert headless.main([str(folder), "--out", str(out), "--device", "cpu"]) == predict_cli.EXIT_FAILED
    assert (out / "in_b.json").is_file() and not (out / "in_a.json").exists()


def test_output_names_stay_short_and_distinct_whatever_the_file_names():
    long_a, long_b = Path("/d/STUDY") / ("x" * 250 + "a.dcm"), Path("/d/STUDY") / ("x" * 250 + "b.dcm")
    names = output_names([(long_a, None), (long_b, None)])
    assert len(set(names.values())) == 2 and all(len(n) <= MAX_NAME + len(".json") for n in names.values())


def test_three_studies_in_one_folder_get_three_labels_stable_across_runs():
    folder = Path("/data/screening")
    keys = [generate_uid() for _ in range(3)]
    labels = study_labels({key: folder for key in keys})
    assert len(set(labels.values())) == 3
    assert study_labels({keys[2]: folder, keys[0]: folder}) == {keys[2]: labels[keys[2]], keys[0]: labels[keys[0]]}
    assert all("screening" in label for label in labels.values())


def test_reports_of_three_studies_are_three_files_and_force_never_replaces_another_studys(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for seed in range(3):
        film(folder / f"s{seed}.dcm", seed=seed, StudyInstanceUID=generate_uid())
    out = tmp_path / "out"
    args = [
        str(folder),
        "--out",
        str(out / "json"),
        "--sr-dir",
        str(out / "sr"),
        "--seg-dir",
        str(out / "seg"),
        "--device",
        "cpu",
    ]
    assert headless.main(args) == 0
    # Per study the TID 1500 SR and the CAD SR.
    assert len(list((out / "sr").glob("*_sr.dcm"))) == 6 and len(list((out / "seg").glob("*.dcm"))) == 3
    assert headless.main([*args, "--force"]) == 0  # the same studies' reports: replaced
    # Another study whose report would take one of these names: refused, even with --force.
    sr = sorted((out / "sr").glob("*_sr.dcm"))[0]
    assert "another study" in replacement_refused(sr, "structured report", generate_uid())
    seg = sorted((out / "seg").glob("*.dcm"))[0]
    assert "another" in replacement_refused(seg, "segmentation", "1.2.3", "4.5.6")
    result = sorted((out / "json").glob("*.json"))[0]
    assert "another image" in replacement_refused(result, "JSON result", "", "1.2.3.4")


def test_pdf_of_one_study_is_not_replaced_by_another_studys_with_force(tmp_path):
    pytest.importorskip("PySide6")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    film(a / "x.dcm")
    film(b / "x.dcm", seed=3)
    pdf = tmp_path / "report.pdf"
    assert headless.main([str(a), "--out", str(tmp_path / "ja"), "--pdf", str(pdf), "--device", "cpu"]) == 0
    assert headless.main([str(a), "--out", str(tmp_path / "ja"), "--pdf", str(pdf), "--device", "cpu", "--force"]) == 0
    mine = pdf.read_bytes()
    assert headless.main([str(b), "--out", str(tmp_path / "jb"), "--pdf", str(pdf), "--device", "cpu", "--force"]) == 1
    assert pdf.read_bytes() == mine  # b's report did not replace a's
    assert "another study" in replacement_refused(pdf, "PDF", "1.2.999")


def test_seg_names_of_files_alike_in_two_folders_do_not_clash(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side / "STUDY").mkdir(parents=True)
        film(tmp_path / side / "STUDY" / "L_CC.dcm", seed=ord(side), ImageLaterality="L")
    out = tmp_path / "out"
    assert (
        headless.main(
            [
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--out",
                str(out / "json"),
                "--seg-dir",
                str(out / "seg"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert len(list((out / "seg").glob("*.dcm"))) == 2


def test_a_file_without_study_uid_gets_a_named_refusal_for_its_structured_report(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = film(folder / "x.dcm")
    data = path.read_bytes()
    import pydicom

    ds = pydicom.dcmread(path)
    del ds.StudyInstanceUID
    ds.save_as(path, enforce_file_format=True)
    assert data != path.read_bytes()
    run = predict(folder, "--out", tmp_path / "out", "--sr-dir", tmp_path / "sr", "--device", "cpu")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "has no Study Instance UID" in run.stderr and "x.dcm" in run.stderr


def test_terminal_shows_no_patient_name_no_library_warning_and_no_control_character(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    # highdicom warns about this name while writing a SEG, quoting it.
    film(folder / "evil\x1b[2J\x07name.dcm", PatientName="SMITH", PatientID="ID-4711")
    run = predict(
        folder, "--out", tmp_path / "out", "--seg-dir", tmp_path / "seg", "--pdf", tmp_path / "r.pdf", "--device", "cpu"
    )
    assert run.returncode == 0, run.stderr
    assert "SMITH" not in run.stderr and "ID-4711" not in run.stderr
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr and "\\x1b" in run.stderr
    assert printable("a\nb\x9bc") == "a\\nb\\x9bc"


def test_links_out_of_the_opened_folder_are_not_followed(tmp_path):
    (tmp_path / "study" / "sub").mkdir(parents=True)
    (tmp_path / "sibling").mkdir()
    film(tmp_path / "study" / "in.dcm")
    film(tmp_path / "sibling" / "out.dcm", seed=2)
    os.symlink("../..", tmp_path / "study" / "sub" / "parent")
    os.symlink(tmp_path / "sibling" / "out.dcm", tmp_path / "study" / "file_link.dcm")
    os.symlink("..", tmp_path / "study" / "sub" / "loop")  # inside: a loop, cut as before
    scan = scan_folder(tmp_path / "study")
    assert [image.path.name for image in scan.images] == ["in.dcm"]
    assert sorted(p.name for p in scan.outside) == ["file_link.dcm", "parent"]
    run = predict(tmp_path / "study", "--out", tmp_path / "out", "--device", "cpu")
    assert run.returncode == 0 and "did not follow 2 link(s)" in run.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["study_in.json"]


def test_a_two_by_two_image_is_not_analysed(tmp_path):
    from PIL import Image

    path = tmp_path / "tiny.pgm"
    Image.fromarray(np.array([[0, 255], [128, 64]], np.uint8)).save(path)
    image = read_image(path)
    with pytest.raises(NotAMammogramError, match="too small"):
        Predictor(device="cpu").predict(image)


def test_no_display_gives_the_ways_on_instead_of_an_abort(monkeypatch, capsys):
    from mammo_viewer import app

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert app.no_display()
    assert app.main([]) == 2
    said = capsys.readouterr().err
    assert "no display" in said and "xvfb-run" in said and "hds-predict" in said
    monkeypatch.setenv("DISPLAY", ":0")
    assert not app.no_display()


def test_metadata_notes_reach_the_warnings():
    meta = MammoMetadata(path=Path("x"), file_format="DICOM", rows=10, columns=10, header_notes=("High Bit 3 …",))
    assert meta.warnings()[0] == "High Bit 3 …"


def test_the_model_card_names_datasets_by_folder_not_by_this_machines_paths():
    from hds_core.train.model_card import without_machine_paths

    line = "AUC on minimias:/home/someone/data/mini-mias: 0.62; rows of folder:/srv/x/cdd-cesm (runs/cv20)"
    assert without_machine_paths(line) == "AUC on mini-mias: 0.62; rows of cdd-cesm (runs/cv20)"
    import resources

    card = (Path(resources.__file__).parent / "weights" / "MODEL_CARD.md").read_text()
    assert not re.search(r"(minimias|folder|inbreast):/", card)


def test_reasons_say_what_is_wrong(tmp_path):
    """A JPEG 2000 file cut inside its pixel data, header damage before the pixel data, a
    SamplesPerPixel of 65535, a window no value can have: each reported as what it is."""
    from pydicom.uid import JPEG2000Lossless

    from hds_core.io import errors

    j2k = write_dicom(
        tmp_path / "j2k.dcm", phantom((128, 96))[0], syntax=JPEG2000Lossless, ImageLaterality="R", ViewPosition="CC"
    )
    data = j2k.read_bytes()
    j2k.write_bytes(data[: len(data) - 2000])
    with pytest.raises(errors.TruncatedFileError, match="inside the pixel data"):
        read_image(j2k)
    damaged = film(tmp_path / "damaged.dcm")
    data = bytearray(damaged.read_bytes())
    at = data.find(b"\x28\x00\x10\x00US")  # Rows: a length field that runs past the file's end
    data[at + 6 : at + 8] = b"\xff\x7f"
    damaged.write_bytes(bytes(data))
    with pytest.raises(errors.MammoReadError) as caught:
        read_image(damaged)
    assert "holds no pixel data" not in str(caught.value)
    samples = film(tmp_path / "samples.dcm", SamplesPerPixel=65535)
    with pytest.raises(errors.UnsupportedImageError, match="65535 samples per pixel"):
        read_image(samples)
    wide = film(tmp_path / "wide.dcm", WindowCenter="1e300", WindowWidth="1e308")
    assert read_image(wide).file_presets == []
    high = film(tmp_path / "high.dcm", HighBit=3)
    assert any("High Bit 3" in w for w in read_image(high).metadata.warnings())


def test_a_dicomdir_cannot_lead_out_of_the_opened_folder(tmp_path):
    import shutil

    from pydicom.fileset import FileSet

    fs = FileSet()
    for side in ("L", "R"):
        fs.add(str(film(tmp_path / f"{side}.dcm", ImageLaterality=side)))
    media = tmp_path / "media"
    fs.write(media)
    patient = next(p for p in media.iterdir() if p.is_dir())
    # The patient's folder moved elsewhere and linked back: the DICOMDIR's paths now lead out.
    shutil.move(patient, tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", patient)
    # (pydicom refuses such a DICOMDIR itself; the folder walk then meets the link and stops there.)
    scan = scan_folder(media)
    assert scan.images == [] and scan.outside == [patient]
