"""CBIS-DDSM as The Cancer Imaging Archive distributes it: a tree of DICOM files, one top
folder per image (``Mass-Training_P_00001_LEFT_CC``) and one per abnormality
(``Mass-Training_P_00001_LEFT_CC_1``, holding its ROI mask and its cropped image), and four
description CSVs (``mass_case_description_train_set.csv`` and the test and calcification
ones). The CSV paths name the top folders; the files below them are found whatever the
download tool called the folders in between. The ROI mask is the file of the full image's
size (the CSVs swap the mask and the crop for some abnormalities).

- Masses (benign or malignant) are the lesions; an image with calcifications only is an image
  without a mass, its calcifications kept in ``extra``.
- The official split is kept: ``cbis-ddsm-train:PATH`` and ``cbis-ddsm-test:PATH`` load one
  side, ``cbis-ddsm:PATH`` both, each case's side in ``extra["split"]``.
- Patients are CBIS-DDSM's (``P_00001``): one woman's mass and calcification images, train or
  test, stay in one fold.
- The files carry no spacing (scanned film, about 0.05 mm): left unknown, so training and
  inference both use the size-based estimate (``io.image.estimated_spacing_mm``)."""

from __future__ import annotations

import re
from pathlib import Path

from .cases import Case
from .errors import DatasetLayoutError
from .tables import read_table

DESCRIPTIONS = {
    "mass_case_description_train_set.csv": "train",
    "mass_case_description_test_set.csv": "test",
    "calc_case_description_train_set.csv": "train",
    "calc_case_description_test_set.csv": "test",
}
_SIDE = {"LEFT": "L", "RIGHT": "R"}


def _column(row: dict, *names: str) -> str:
    return next((row[n] for n in names if n in row), "")


def _top(path_text: str) -> str:
    return re.split(r"[\\/]", path_text.strip().strip('"'), maxsplit=1)[0]


def load_cbis_ddsm(root: str | Path, split: str | None = None) -> list[Case]:
    root = Path(root)
    tables = {name: side for name, side in DESCRIPTIONS.items() if split in (None, side)}
    found = {name: next(iter(sorted(root.rglob(name))), None) for name in tables}
    if not any(found.values()):
        raise DatasetLayoutError(
            f"{root}: no CBIS-DDSM description CSV ({', '.join(tables)}); download them beside the DICOM tree"
        )
    # Top folder name -> its DICOM files, from one walk of the tree.
    files: dict[str, list[Path]] = {}
    for path in root.rglob("*.dcm"):
        top = path.relative_to(root).parts
        name = next((part for part in top if part.startswith(("Mass-", "Calc-"))), None)
        if name:
            files.setdefault(name, []).append(path)
    images: dict[str, Case] = {}
    for name, path in found.items():
        if path is None:
            continue
        for row in read_table(path):
            image_folder = _top(_column(row, "image file path"))
            if image_folder not in files:
                continue  # a partial download: the image is not here
            case = images.get(image_folder)
            if case is None:
                side = _SIDE.get(_column(row, "left or right breast").upper())
                case = images[image_folder] = Case(
                    case_id=image_folder,
                    patient_id=f"cbis-{_column(row, 'patient_id')}",
                    image_path=sorted(files[image_folder])[0],
                    laterality=side,
                    view=_column(row, "image view").upper() or None,
                    extra={
                        "split": DESCRIPTIONS[name],
                        "density": _column(row, "breast_density", "breast density"),
                        "abnormalities": [],
                        "mask_candidates": [],
                        "mask_has_mass": False,
                    },
                )
            kind = _column(row, "abnormality type").lower()
            case.extra["abnormalities"].append(
                {
                    "id": _column(row, "abnormality id"),
                    "type": kind,
                    "pathology": _column(row, "pathology"),
                    "assessment": _column(row, "assessment"),
                    "subtlety": _column(row, "subtlety"),
                }
            )
            if kind == "mass":
                case.extra["mask_has_mass"] = True
                folders = {_top(_column(row, "ROI mask file path")), _top(_column(row, "cropped image file path"))}
                case.extra["mask_candidates"].append(sorted(p for f in folders for p in files.get(f, [])))
    if not images:
        raise DatasetLayoutError(f"{root}: the description CSVs name no image present under the folder")
    return sorted(images.values(), key=lambda c: c.case_id)
