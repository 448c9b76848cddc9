"""The datasets researchers hold, each read from a small replica of its distributed layout
(issue 38): CBIS-DDSM, VinDr-Mammo, the full CDD-CESM release and CMMD."""

import csv
import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from PIL import Image
from synthetic import phantom, write_dicom

from hds_core.data import DatasetLayoutError, dataset_domain, load_dataset
from hds_core.data.tables import read_table


def _csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list]) -> Path:
    """A minimal workbook as Excel writes one: shared strings, numbers as floats."""
    strings: list[str] = []
    cells = []
    for r, row in enumerate(rows, 1):
        xml = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, (int, float)):
                xml.append(f'<c r="{ref}"><v>{float(value)}</v></c>')
            else:
                strings.append(str(value))
                xml.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        cells.append(f'<row r="{r}">{"".join(xml)}</row>')
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="{ns}">' + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>",
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml", f'<worksheet xmlns="{ns}"><sheetData>{"".join(cells)}</sheetData></worksheet>'
        )
    return path


def _dicom(path: Path, pixels: np.ndarray, **tags) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_dicom(path, pixels, **tags)


UID = "1.3.6.1.4.1.9590.100.1.2"  # the CSVs' paths name UID folders the download does not have

# ----- CBIS-DDSM ----------------------------------------------------------------------------------


@pytest.fixture
def cbis(tmp_path):
    root = tmp_path / "CBIS-DDSM"
    film, mass = phantom((160, 128), seed=2)
    mask = (mass * 255).astype(np.uint8)
    _dicom(root / "Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-1/1.000000-full mammogram images-1/1-1.dcm", film)
    # The abnormality's folder: the crop first and the mask second (the CSV names them the other way).
    roi = root / "Mass-Training_P_00001_LEFT_CC_1/07-21-2016-DDSM-2/1.000000-ROI mask images-2"
    _dicom(roi / "1-1.dcm", film[40:80, 30:70].copy())
    _dicom(roi / "1-2.dcm", mask, BitsStored=8)
    other, _ = phantom((160, 128), seed=3, mass=False)
    _dicom(root / "Calc-Test_P_00002_RIGHT_MLO/08-29-2017-DDSM-3/1.000000-full mammogram images-3/1-1.dcm", other)
    columns = ["patient_id", "left or right breast", "image view", "abnormality id", "abnormality type"]
    _csv(
        tmp_path / "mass_case_description_train_set.csv",
        [
            dict(
                zip(columns, ["P_00001", "LEFT", "CC", "1", "mass"]),
                breast_density="3",
                **{
                    "assessment": "4",
                    "pathology": "MALIGNANT",
                    "subtlety": "4",
                    "image file path": f"Mass-Training_P_00001_LEFT_CC/{UID}.4/{UID}.5/000000.dcm",
                    "cropped image file path": f"Mass-Training_P_00001_LEFT_CC_1/{UID}.6/{UID}.7/000000.dcm",
                    "ROI mask file path": f"Mass-Training_P_00001_LEFT_CC_1/{UID}.6/{UID}.8/000001.dcm",
                },
            )
        ],
    )
    _csv(
        tmp_path / "calc_case_description_test_set.csv",
        [
            dict(
                zip(columns, ["P_00002", "RIGHT", "MLO", "1", "calcification"]),
                **{
                    "breast density": "2",
                    "assessment": "3",
                    "pathology": "BENIGN",
                    "subtlety": "2",
                    "image file path": "Calc-Test_P_00002_RIGHT_MLO/1.3.6.1/1.3.6.2/000000.dcm",
                    "cropped image file path": "Calc-Test_P_00002_RIGHT_MLO_1/1.3.6.3/1.3.6.4/000000.dcm",
                    "ROI mask file path": "Calc-Test_P_00002_RIGHT_MLO_1/1.3.6.3/1.3.6.5/000001.dcm",
                },
            )
        ],
    )
    return tmp_path, mass


def test_cbis_ddsm_as_distributed(cbis):
    root, mass = cbis
    cases = {c.case_id: c for c in load_dataset(f"cbis-ddsm:{root}")}
    film, calc = cases["Mass-Training_P_00001_LEFT_CC"], cases["Calc-Test_P_00002_RIGHT_MLO"]
    assert (film.patient_id, film.laterality, film.view, film.extra["split"]) == ("cbis-P_00001", "L", "CC", "train")
    assert film.has_mass and not calc.has_mass and calc.extra["abnormalities"][0]["type"] == "calcification"
    assert np.array_equal(film.mass_mask(film.load().full_shape), mass)  # the file of the image's size
    assert [c.case_id for c in load_dataset(f"cbis-ddsm-test:{root}")] == ["Calc-Test_P_00002_RIGHT_MLO"]
    assert dataset_domain(f"cbis-ddsm:{root}") == "film"
    with pytest.raises(DatasetLayoutError, match="description CSV"):
        load_dataset(f"cbis-ddsm:{root / 'CBIS-DDSM' / 'Calc-Test_P_00002_RIGHT_MLO'}")


# ----- VinDr-Mammo --------------------------------------------------------------------------------


def test_vindr_mammo_as_distributed(tmp_path):
    pixels, _ = phantom((160, 128), seed=4)
    rows = []
    for study, image, side, split in (
        ("s1", "i1", "L", "training"),
        ("s1", "i2", "R", "training"),
        ("s2", "i3", "L", "test"),
    ):
        _dicom(tmp_path / "images" / study / f"{image}.dicom", pixels)
        rows.append(
            dict(
                study_id=study,
                series_id="x",
                image_id=image,
                laterality=side,
                view_position="CC",
                height=160,
                width=128,
                breast_birads="BI-RADS 4" if image == "i1" else "BI-RADS 1",
                breast_density="DENSITY C",
                split=split,
            )
        )
    _csv(tmp_path / "breast-level_annotations.csv", rows)
    finding = dict(rows[0], finding_categories="['Mass', 'Suspicious Calcification']", finding_birads="BI-RADS 4")
    finding.update(xmin=30.5, ymin=40.0, xmax=60.0, ymax=90.0)
    normal = dict(rows[1], finding_categories="['No Finding']", finding_birads="", xmin="", ymin="", xmax="", ymax="")
    _csv(tmp_path / "finding_annotations.csv", [finding, normal])
    cases = {c.case_id: c for c in load_dataset(f"vindr:{tmp_path}")}
    assert sorted(cases) == ["i1", "i2", "i3"] and cases["i1"].patient_id == "vindr-s1"
    assert cases["i1"].has_mass and not cases["i2"].has_mass
    assert (cases["i1"].extra["birads"], cases["i1"].extra["density"]) == ("4", "C")
    box = cases["i1"].mass_mask((160, 128))
    assert box[40:90, 31:60].all() and box.sum() < 60 * 40  # the box, as a weak mask
    assert [c.case_id for c in load_dataset(f"vindr-test:{tmp_path}")] == ["i3"]
    assert dataset_domain(f"vindr:{tmp_path}") == "digital"


# ----- CDD-CESM, the full release -----------------------------------------------------------------


def test_the_full_cdd_cesm_release_with_its_normals(tmp_path):
    low = tmp_path / "Low energy images of CDD-CESM"
    low.mkdir()
    pixels, _ = phantom((200, 160), seed=5)
    for name in ("P1_L_DM_MLO", "P2_R_DM_CC"):
        Image.fromarray((pixels >> 4).astype(np.uint8)).save(low / f"{name}.jpg")
    (tmp_path / "Subtracted images of CDD-CESM").mkdir()
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(tmp_path / "Subtracted images of CDD-CESM" / "P1_L_CM_MLO.jpg")
    header = ["Image_name", "Patient_ID", "Side", "Type", "Age", "Breast density (ACR)", "BIRADS", "Findings", "View"]
    header += ["Pathology Classification/ Follow up"]
    _xlsx(
        tmp_path / "Radiology-manual-annotations.xlsx",
        [
            header,
            ["P1_L_DM_MLO", 1, "L", "DM", 50, "C", 5, "mass", "MLO", "Malignant"],
            ["P1_L_CM_MLO", 1, "L", "CM", 50, "C", 5, "mass", "MLO", "Malignant"],
            ["P2_R_DM_CC", 2, "R", "DM", 44, "B", 1, "", "CC", "Normal"],
        ],
    )
    polygon = {"name": "polygon", "all_points_x": [40, 80, 80, 40], "all_points_y": [50, 50, 100, 100]}
    ellipse = {"name": "ellipse", "cx": 120, "cy": 150, "rx": 10, "ry": 8}
    _csv(
        tmp_path / "Radiology_hand_drawn_segmentations_v2.csv",
        [
            {"#filename": "P1_L_DM_MLO.jpg", "region_shape_attributes": json.dumps(polygon)},
            {"#filename": "P1_L_DM_MLO.jpg", "region_shape_attributes": json.dumps(ellipse)},
        ],
    )
    cases = {c.case_id: c for c in load_dataset(f"cdd-cesm:{tmp_path}")}
    assert sorted(cases) == ["P1_L_DM_MLO", "P2_R_DM_CC"]  # low energy only
    lesion, normal = cases["P1_L_DM_MLO"], cases["P2_R_DM_CC"]
    assert lesion.has_mass and not normal.has_mass and normal.extra["pathology"] == "Normal"
    assert (lesion.patient_id, lesion.extra["density"], lesion.view) == ("cdd-P1", "C", "MLO")
    mask = lesion.mass_mask((200, 160))
    assert mask[60:90, 50:70].all() and mask[150, 120] and not mask[10, 10]
    assert read_table(tmp_path / "Radiology-manual-annotations.xlsx")[0]["Patient_ID"] == "1"  # not "1.0"


# ----- CMMD ---------------------------------------------------------------------------------------


def test_cmmd_image_labels_only(tmp_path, phantom_model):
    pixels, _ = phantom((160, 128), seed=6)
    _dicom(tmp_path / "CMMD/D1-0001/07-18-2010-NA-1/1.000000-NA-2/1-1.dcm", pixels, ImageLaterality="L")
    _dicom(tmp_path / "CMMD/D1-0001/07-18-2010-NA-1/1.000000-NA-2/1-2.dcm", pixels, ImageLaterality="R")
    _csv(
        tmp_path / "CMMD_clinicaldata_revision.csv",
        [
            {
                "ID1": "D1-0001",
                "LeftRight": "L",
                "Age": "44",
                "number": "1",
                "abnormality": "mass",
                "classification": "Malignant",
                "subtype": "",
            }
        ],
    )
    cases = {c.laterality: c for c in load_dataset(f"cmmd:{tmp_path}")}
    assert cases["L"].has_mass and not cases["R"].has_mass and cases["L"].patient_id == "cmmd-D1-0001"
    assert cases["L"].extra["lesion"]["classification"] == "Malignant"
    from hds_core.train.config import TrainConfig
    from hds_core.train.loop import train

    with pytest.raises(DatasetLayoutError, match="image labels only"):
        train(TrainConfig(datasets=[f"cmmd:{tmp_path}"], out=str(tmp_path / "run"), folds=2, epochs=1))

    # hds-eval gives the image-level figures and none that needs an outline.
    from hds_core.eval.cli import main as evaluate

    assert (
        evaluate(["--dataset", f"cmmd:{tmp_path}", "--weights", str(phantom_model), "--json", str(tmp_path / "e.json")])
        == 0
    )
    (block,) = json.loads((tmp_path / "e.json").read_text())["per_dataset"].values()
    assert (block["n_mass_images"], block["n_normal_images"], block["image_labels_only"]) == (1, 1, True)
    assert block["final"]["dice_mass_images"] is None and block["lesion_sensitivity"] is None
    assert block["image_auc"] is not None


def test_hds_train_lists_every_kind(capsys):
    from hds_core.train.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in ("minimias:PATH", "cbis-ddsm", "vindr", "cdd-cesm:PATH", "cmmd:PATH", "folder:PATH"):
        assert kind in text
