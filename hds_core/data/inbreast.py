"""INbreast in its native layout: ``AllDICOMs/``, ``AllXML/`` (OsiriX plist ROIs) and the
CSV with BI-RADS. Masses only: ROIs named "Mass" become polygon masks.

File names: ``<fileid>_<patientid>_MG_<L|R>_<CC|ML>_ANON.dcm``; ``AllXML/<fileid>.xml``.
"""

from __future__ import annotations

import csv
import plistlib
from pathlib import Path

import numpy as np

from .cases import Case
from .errors import DatasetLayoutError


def read_mass_polygons(xml_path: Path) -> list[np.ndarray]:
    """Mass ROIs of an OsiriX plist as (N, 2) row/col arrays."""
    with open(xml_path, "rb") as handle:
        plist = plistlib.load(handle)
    polygons = []
    for image in plist.get("Images", []):
        for roi in image.get("ROIs", []):
            if str(roi.get("Name", "")).strip().lower() != "mass":
                continue
            points = []
            for text in roi.get("Point_px", []):
                x, y = (float(v) for v in str(text).strip("() ").split(","))
                points.append((y, x))
            if len(points) >= 3:
                polygons.append(np.asarray(points))
    return polygons


def _read_birads(root: Path) -> dict[str, str]:
    for name in ("INbreast.csv", "INbreast.CSV"):
        path = root / name
        if path.is_file():
            with open(path, newline="", encoding="utf-8", errors="replace") as handle:
                reader = csv.DictReader(handle, delimiter=";")
                return {str(row.get("File Name", "")).strip(): str(row.get("Bi-Rads", "")).strip() for row in reader}
    return {}


def load_inbreast(root: str | Path) -> list[Case]:
    root = Path(root)
    dicoms = root / "AllDICOMs"
    if not dicoms.is_dir():
        raise DatasetLayoutError(
            f"{root}: no AllDICOMs/ folder; an INbreast folder holds AllDICOMs/, AllXML/ and INbreast.csv"
        )
    birads = _read_birads(root)
    cases = []
    for path in sorted(dicoms.glob("*.dcm")):
        parts = path.stem.split("_")
        if len(parts) < 5:
            continue
        file_id, patient_id, laterality, view = parts[0], parts[1], parts[3], parts[4]
        xml = root / "AllXML" / f"{file_id}.xml"
        polygons = read_mass_polygons(xml) if xml.is_file() else []
        cases.append(
            Case(
                case_id=file_id,
                patient_id=f"inbreast-{patient_id}",
                image_path=path,
                polygons=polygons,
                laterality=laterality if laterality in ("L", "R") else None,
                view=view,
                extra={"birads": birads.get(file_id)},
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{dicoms}: no <fileid>_<patient>_MG_<side>_<view>_ANON.dcm files")
    return cases
