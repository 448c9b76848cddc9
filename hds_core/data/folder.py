"""A generic folder: ``images/`` and ``masks/`` with the same file stem (non-zero = mass).

An image without a mask is a normal image. Patients come from an optional ``patients.csv``
(columns ``image,patient``); without it each image is its own patient. An optional
``spacing.csv`` (columns ``image,spacing_mm``) gives the spacing of files that lack it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..io import read_image
from .cases import Case
from .minimias import DatasetLayoutError

_IMAGE_SUFFIXES = {".dcm", ".png", ".pgm", ".tif", ".tiff", ""}


def _read_map(path: Path, key: str, value: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row[key].strip(): row[value].strip() for row in csv.DictReader(handle)}


def load_folder(root: str | Path) -> list[Case]:
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise DatasetLayoutError(f"{root}: no images/ folder; a generic dataset holds images/ and masks/ with the same file stems")
    masks = {p.stem: p for p in (root / "masks").glob("*") if p.is_file()} if (root / "masks").is_dir() else {}
    patients = _read_map(root / "patients.csv", "image", "patient")
    spacings = _read_map(root / "spacing.csv", "image", "spacing_mm")
    cases = []
    for path in sorted(p for p in images.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES):
        mask_path = masks.get(path.stem)
        has_mass = bool(mask_path is not None and np.any(read_image(mask_path).pixels))
        cases.append(Case(case_id=path.stem, patient_id=patients.get(path.stem, path.stem), image_path=path,
                          mask_path=mask_path if has_mass else None,
                          spacing_mm=float(spacings[path.stem]) if path.stem in spacings else None,
                          extra={"mask_has_mass": has_mass}))
    if not cases:
        raise DatasetLayoutError(f"{images}: no image files")
    return cases
