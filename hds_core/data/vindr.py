"""VinDr-Mammo as PhysioNet distributes it: ``images/<study_id>/<image_id>.dicom``,
``breast-level_annotations.csv`` (per image: laterality, view, breast BI-RADS, density, split)
and ``finding_annotations.csv`` (per finding: categories, BI-RADS and a box in pixels).

- Mass boxes become the image's mass regions: weak masks (a box is not an outline), enough
  for the image-level (MIL) heads; an image's Dice against a box is not a segmentation figure.
- Breast-level BI-RADS and density (A-D) are kept in ``extra``.
- The official split is kept: ``vindr-train:PATH``, ``vindr-test:PATH``, or ``vindr:PATH``
  for both (``extra["split"]``).
- One study per woman in this release: the study is the patient."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from .cases import Case
from .errors import DatasetLayoutError
from .tables import read_table

_SPLITS = {"training": "train", "train": "train", "test": "test"}


def _categories(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = [part.strip() for part in text.strip("[]").split(",")]
    return [str(v).strip().strip("'\"") for v in (value if isinstance(value, (list, tuple)) else [value])]


def _box(row: dict) -> np.ndarray | None:
    try:
        x0, y0, x1, y1 = (float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    except (KeyError, ValueError):
        return None
    return np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]])


def load_vindr(root: str | Path, split: str | None = None) -> list[Case]:
    root = Path(root)
    breast_csv, finding_csv = root / "breast-level_annotations.csv", root / "finding_annotations.csv"
    if not breast_csv.is_file():
        raise DatasetLayoutError(f"{root}: no breast-level_annotations.csv; a VinDr-Mammo folder holds it and images/")
    boxes: dict[str, list[np.ndarray]] = {}
    findings: dict[str, list[str]] = {}
    for row in read_table(finding_csv) if finding_csv.is_file() else []:
        categories = _categories(row.get("finding_categories", ""))
        findings.setdefault(row["image_id"], []).extend(c for c in categories if c != "No Finding")
        box = _box(row)
        if "Mass" in categories and box is not None:
            boxes.setdefault(row["image_id"], []).append(box)
    cases = []
    for row in read_table(breast_csv):
        side = _SPLITS.get(row.get("split", "").lower())
        if split is not None and side != split:
            continue
        path = root / "images" / row["study_id"] / f"{row['image_id']}.dicom"
        if not path.is_file():
            continue
        cases.append(
            Case(
                case_id=row["image_id"],
                patient_id=f"vindr-{row['study_id']}",
                image_path=path,
                polygons=boxes.get(row["image_id"], []),
                laterality=row.get("laterality") or None,
                view=row.get("view_position") or None,
                extra={
                    "split": side,
                    "birads": row.get("breast_birads", "").replace("BI-RADS", "").strip(),
                    "density": row.get("breast_density", "").replace("DENSITY", "").strip(),
                    "findings": sorted(set(findings.get(row["image_id"], []))),
                    "weak_masks": True,
                },
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{root}: breast-level_annotations.csv names no image present under images/")
    return cases
