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
from mammo_viewer.headless import main as predict_main

DCIODVFY = shutil.which("dciodvfy")


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
    assert len(objects) == 4 + 2
    for path in objects:
        assert errors_of(path) == [], path
