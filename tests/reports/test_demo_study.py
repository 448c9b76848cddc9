"""The demo study: the builder on synthetic films, and the files shipped in resources/demo."""

import json

import numpy as np
import pydicom
import pytest
from PIL import Image
from synthetic import phantom

import resources
from hds_core.data.demo_study import write_demo_study
from hds_core.io import read_image, scan_folder


@pytest.fixture
def fake_mias(tmp_path):
    root = tmp_path / "mias"
    root.mkdir()
    (root / "Info.txt").write_text("header\nmdb001 G CIRC M 300 600 40\nmdb002 F NORM\n")
    for number, wall in ((1, "right"), (2, "left")):
        pixels, _ = phantom((700, 500), chest_wall=wall, seed=number, bits=8)
        film = np.zeros((1024, 1024), np.uint8)  # padded like the real films
        film[150:850, 300:800] = pixels
        Image.fromarray(film).save(root / f"mdb{number:03d}.pgm")
    return root


def test_builder_writes_realistic_lossless_mg_files(fake_mias, tmp_path):
    out = tmp_path / "demo"
    records = write_demo_study(fake_mias, out, patients=["mias-001"])
    assert [r["file"] for r in records] == ["DEMO-001/R_MLO.dcm", "DEMO-001/L_MLO.dcm"]
    right = pydicom.dcmread(out / "DEMO-001" / "R_MLO.dcm")
    assert right.Modality == "MG" and right.PresentationIntentType == "FOR PRESENTATION"
    assert right.file_meta.TransferSyntaxUID == pydicom.uid.JPEG2000Lossless
    assert right.ImageLaterality == "R" and right.ViewPosition == "MLO"
    assert right.ViewCodeSequence[0].CodeValue == "399368009"
    assert list(right.PatientOrientation) == ["P", "FL"]  # read from the pixels: chest wall at the right
    assert list(pydicom.dcmread(out / "DEMO-001" / "L_MLO.dcm").PatientOrientation) == ["A", "FR"]
    assert [float(v) for v in right.ImagerPixelSpacing] == [0.2, 0.2]
    assert right.PatientName == "Demo^MIAS 001" and right.PatientIdentityRemoved == "YES"
    original = np.array(Image.open(fake_mias / "mdb001.pgm"))
    np.testing.assert_array_equal(read_image(out / "DEMO-001" / "R_MLO.dcm").pixels, original)
    truth = json.loads((out / "annotations.json").read_text())["films"]
    assert truth[0]["mass_circles_xy_radius"] == [[300.0, 424.0, 40.0]]  # y flipped from the bottom-left origin
    # Deterministic UIDs: building again gives the same identity.
    again = write_demo_study(fake_mias, tmp_path / "again", patients=["mias-001"])
    assert pydicom.dcmread(tmp_path / "again" / again[0]["file"]).SOPInstanceUID == right.SOPInstanceUID


def test_unknown_patient_is_an_error(fake_mias, tmp_path):
    with pytest.raises(ValueError, match="mias-099"):
        write_demo_study(fake_mias, tmp_path / "x", patients=["mias-099"])


def test_shipped_demo_study_reads_and_matches_its_annotations():
    demo = resources.demo_study()
    assert demo is not None, "resources/demo is missing"
    scan = scan_folder(demo)
    # Three film patients (MLO of both breasts) and one digital patient (CC and MLO of one breast).
    assert not scan.failures and len(scan.patients) == 4 and len(scan.images) == 8
    truth = {r["file"]: r for r in json.loads((demo / "annotations.json").read_text())["films"]}
    assert sum(r["has_mass"] for r in truth.values()) == 4
    digital = {f for f, r in truth.items() if "cdd_image" in r}
    assert digital == {"DEMO-P126/L_CC.dcm", "DEMO-P126/L_MLO.dcm"}
    for entry in scan.images:
        meta = entry.metadata
        file = entry.path.relative_to(demo).as_posix()
        record = truth[file]
        assert (meta.laterality, meta.view, list(meta.patient_orientation)) == (
            record["laterality"],
            record["view"],
            record["patient_orientation"],
        )
        assert meta.pixel_spacing_mm == ((0.4, 0.4) if file in digital else (0.2, 0.2)) and meta.modality == "MG"
        assert meta.transfer_syntax == pydicom.uid.JPEG2000Lossless
        # Right films have the chest wall at the right edge (P), left films at the left (A).
        assert meta.patient_orientation[0] == ("P" if meta.laterality == "R" else "A")
