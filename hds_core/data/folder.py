"""A generic folder: ``images/`` and ``masks/`` with the same file stem.

Images and masks may be DICOM, PNG, PGM, TIFF or JPEG, 8- or 16-bit. A mask pixel is lesion
when its value is above half the file's range (JPEG masks have lossy edges). An image
without a mask, or with an empty one, is a normal image. Patients come from an optional ``patients.csv``
(columns ``image,patient``); without it each image is its own patient. An optional
``spacing.csv`` (columns ``image,spacing_mm``) gives the spacing of files that lack it. An
optional ``annotations.csv`` (first column ``image``, any others) is kept per image in
``Case.extra["annotations"]`` (CDD-CESM's findings, BI-RADS, pathology).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .cases import Case, read_mask
from .errors import DatasetLayoutError

_IMAGE_SUFFIXES = {".dcm", ".png", ".pgm", ".tif", ".tiff", ".jpg", ".jpeg", ""}


def _read_map(path: Path, key: str, value: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row[key].strip(): row[value].strip() for row in csv.DictReader(handle)}


def _read_rows(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a CSV keyed by their ``image`` column (a file name or a stem)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "image" not in reader.fieldnames:
            raise DatasetLayoutError(f"{path}: the first row must name the columns, one of them 'image'")
        return {row["image"].strip(): {k: (v or "").strip() for k, v in row.items() if k != "image"} for row in reader}


def load_folder(root: str | Path) -> list[Case]:
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise DatasetLayoutError(
            f"{root}: no images/ folder; a generic dataset holds images/ and masks/ with the same file stems"
        )
    masks = {p.stem: p for p in (root / "masks").glob("*") if p.is_file()} if (root / "masks").is_dir() else {}
    patients = _read_map(root / "patients.csv", "image", "patient")
    spacings = _read_map(root / "spacing.csv", "image", "spacing_mm")
    annotations = _read_rows(root / "annotations.csv")
    cases = []
    for path in sorted(p for p in images.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES):
        mask_path = masks.get(path.stem)
        has_mass = bool(mask_path is not None and np.any(read_mask(mask_path)))
        annotation = annotations.get(path.stem, annotations.get(path.name)) or {}
        cases.append(
            Case(
                case_id=path.stem,
                patient_id=patients.get(path.stem, path.stem),
                image_path=path,
                laterality=annotation.get("side") or None,
                view=annotation.get("view") or None,
                mask_path=mask_path if has_mass else None,
                spacing_mm=float(spacings[path.stem]) if path.stem in spacings else None,
                extra={"mask_has_mass": has_mass, "annotations": annotation or None},
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{images}: no image files")
    return cases
