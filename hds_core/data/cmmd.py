"""CMMD (The Chinese Mammography Database) as The Cancer Imaging Archive distributes it: one
folder per woman (``D1-0001/<study>/<series>/1-1.dcm``) and ``CMMD_clinicaldata_revision.xlsx``
(or a CSV of it: per breast with a lesion, ID1, LeftRight, abnormality, classification).

Image labels only: no outlines. An image of a breast the table lists is positive for its
abnormality (mass, calcification or both; ``extra``), a breast it does not list is negative.
Good for an image-level evaluation (``hds-eval``: the image AUC); ``hds-train`` refuses it,
as training needs outlines."""

from __future__ import annotations

from pathlib import Path

from .cases import Case
from .errors import DatasetLayoutError
from .tables import find_one, read_table


def load_cmmd(root: str | Path) -> list[Case]:
    import pydicom

    root = Path(root)
    table = find_one(root, ("CMMD_clinicaldata*.xlsx", "CMMD_clinicaldata*.csv"), "clinical data table")
    lesions = {}
    for row in read_table(table):
        key = (row.get("ID1", ""), row.get("LeftRight", "").upper()[:1])
        lesions[key] = {k: row.get(k, "") for k in ("abnormality", "classification", "subtype", "Age")}
    cases = []
    for path in sorted(root.rglob("*.dcm")):
        woman = next((part for part in path.relative_to(root).parts if part.startswith("D")), None)
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise DatasetLayoutError(f"{path}: cannot read the header ({exc})") from None
        side = str(header.get("ImageLaterality", "") or header.get("Laterality", "")).upper()[:1] or None
        lesion = lesions.get((woman, side))
        abnormality = (lesion or {}).get("abnormality", "").lower()
        cases.append(
            Case(
                case_id=f"{woman}_{path.parent.name}_{path.stem}",
                patient_id=f"cmmd-{woman}",
                image_path=path,
                laterality=side,
                view=None,
                extra={
                    "image_labels_only": True,
                    "mask_has_mass": abnormality in ("mass", "both"),
                    "lesion": lesion,
                },
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{root}: no DICOM files below the folder")
    return cases
