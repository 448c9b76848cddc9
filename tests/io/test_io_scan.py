"""Folder scanning: patient -> study -> series, non-images skipped and counted, failures listed."""

import os

import numpy as np
import pytest
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid
from synthetic import mg_dataset, phantom, write_dicom

from hds_core.io import scan_folder


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "archive"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "b").mkdir()
    study = generate_uid()
    series = generate_uid()
    pixels, _ = phantom((64, 48))
    for i, (side, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO")]):
        write_dicom(
            root / "a" / f"img{i}.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition=view,
            StudyInstanceUID=study,
            SeriesInstanceUID=series,
        )
    write_dicom(root / "a" / "deep" / "other_patient.dcm", pixels, PatientID="P2", PatientName="Other^Patient")
    sr = mg_dataset(np.zeros((2, 2), np.uint16))
    del sr.PixelData
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    sr.file_meta.MediaStorageSOPClassUID = sr.SOPClassUID
    sr.save_as(root / "b" / "report.dcm", enforce_file_format=True)
    (root / "b" / "broken.dcm").write_bytes(b"\x00" * 10)
    (root / "b" / "README.txt").write_text("export notes")
    os.symlink(root, root / "b" / "loop")  # a symlink loop must not hang the scan
    return root, study


def test_groups_and_counts(archive):
    root, study = archive
    result = scan_folder(root)
    assert set(result.patients) == {"PHANTOM-1", "P2"}
    assert len(result.patients["PHANTOM-1"].studies[study].images) == 3
    assert {(e.metadata.laterality, e.metadata.view) for e in result.patients["PHANTOM-1"].studies[study].images} == {
        ("R", "CC"),
        ("L", "CC"),
        ("R", "MLO"),
    }
    assert [f.path.name for f in result.failures] == ["broken.dcm"]
    # The README beside the films is passed over without a word; the SR is said.
    assert result.skipped == {"structured report": 1} and result.ignored == 1
    assert len(result.images) == 4


def test_progress_and_cancel(archive):
    root, _ = archive
    seen = []
    result = scan_folder(root, progress=lambda done, path: seen.append(done), cancelled=lambda: len(seen) >= 2)
    assert seen == [1, 2] and len(result.images) + len(result.failures) + sum(result.skipped.values()) <= 2


def test_dicomdir_is_followed(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    pixels, _ = phantom((32, 32))
    fs = FileSet()
    for side in ("L", "R"):
        path = write_dicom(source / f"{side}.dcm", pixels, ImageLaterality=side)
        fs.add(str(path))
    media = tmp_path / "media"
    fs.write(media)
    (media / "stray.dcm").write_bytes(b"not listed in the DICOMDIR")
    result = scan_folder(media)
    assert sorted(e.metadata.laterality for e in result.images) == ["L", "R"]
    assert not result.failures  # only what the DICOMDIR references was read


def test_truncated_pixel_data_found_from_the_header(tmp_path):
    pixels, _ = phantom((64, 64))
    path = write_dicom(tmp_path / "t.dcm", pixels)
    path.write_bytes(path.read_bytes()[:-1000])
    result = scan_folder(tmp_path)
    assert len(result.failures) == 1 and result.failures[0].kind in ("truncated", "size does not match")


def test_single_file_and_raster_grouping(tmp_path):
    from synthetic import write_png

    pixels, _ = phantom((32, 32), bits=16)
    write_png(tmp_path / "a.png", pixels)
    write_png(tmp_path / "b.png", pixels)
    result = scan_folder(tmp_path)
    assert len(result.patients) == 1 and len(result.images) == 2
    assert len(scan_folder(tmp_path / "a.png").images) == 1
