"""The full CDD-CESM release as The Cancer Imaging Archive distributes it: the low-energy
images (``Low energy images of CDD-CESM/P1_L_DM_MLO.jpg``; the subtracted ``_CM_`` images are
left out, they are not mammograms), ``Radiology-manual-annotations.xlsx`` (or a CSV of it:
per image the side, view, ACR density, BI-RADS, findings and the pathology: Normal, Benign or
Malignant) and ``Radiology_hand_drawn_segmentations_v2.csv`` (the radiologists' outlines, in
the VGG Image Annotator's format).

Unlike the malignant-only 512-pixel derivative the project develops on, the release holds
normal images (its pathology says so): a researcher who has it trains the digital model with
normals. Every outlined finding is a lesion, as in the derivative. No spacing in JPEG: the
size-based estimate applies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .cases import Case
from .errors import DatasetLayoutError
from .tables import find_one, read_table


def _polygon(shape: dict) -> np.ndarray | None:
    """A VIA region as an (N, 2) row/column polygon."""
    name = shape.get("name")
    if name == "polygon" or name == "polyline":
        xs, ys = shape.get("all_points_x") or [], shape.get("all_points_y") or []
        return np.column_stack([ys, xs]).astype(float) if len(xs) >= 3 and len(xs) == len(ys) else None
    if name in ("ellipse", "circle"):
        cx, cy = float(shape["cx"]), float(shape["cy"])
        rx = float(shape.get("rx", shape.get("r", 0)))
        ry = float(shape.get("ry", shape.get("r", 0)))
        angle = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.column_stack([cy + ry * np.sin(angle), cx + rx * np.cos(angle)]) if rx > 0 and ry > 0 else None
    if name == "rect":
        x, y, w, h = (float(shape[k]) for k in ("x", "y", "width", "height"))
        return np.array([[y, x], [y, x + w], [y + h, x + w], [y + h, x]])
    return None


def load_cdd_cesm(root: str | Path) -> list[Case]:
    root = Path(root)
    images = {p.stem: p for p in root.rglob("*.jpg") if "_DM_" in p.stem}
    if not images:
        raise DatasetLayoutError(f"{root}: no low-energy images (PNNN_S_DM_VIEW.jpg); is this the CDD-CESM release?")
    table = find_one(root, ("Radiology-manual-annotations.xlsx", "Radiology-manual-annotations*.csv"), "annotations")
    outlines = find_one(root, ("Radiology_hand_drawn_segmentations*.csv",), "segmentation CSV")
    polygons: dict[str, list[np.ndarray]] = {}
    for row in read_table(outlines):
        stem = Path(row.get("#filename", row.get("filename", ""))).stem
        try:
            shape = json.loads(row.get("region_shape_attributes") or "{}")
        except ValueError:
            raise DatasetLayoutError(f"{outlines}: {stem}: the region is not JSON") from None
        polygon = _polygon(shape) if isinstance(shape, dict) else None
        if polygon is not None:
            polygons.setdefault(stem, []).append(polygon)
    cases = []
    for row in read_table(table):
        stem = Path(row.get("Image_name", "")).stem.strip()
        if stem not in images:
            continue
        pathology = next((v for k, v in row.items() if k.lower().startswith("pathology")), "")
        cases.append(
            Case(
                case_id=stem,
                patient_id=f"cdd-P{row.get('Patient_ID', stem.split('_')[0].lstrip('P'))}",
                image_path=images[stem],
                polygons=polygons.get(stem, []),
                laterality=row.get("Side") or None,
                view=row.get("View") or None,
                extra={
                    "pathology": pathology,
                    "density": next((v for k, v in row.items() if k.lower().startswith("breast density")), ""),
                    "birads": row.get("BIRADS", ""),
                    "findings": row.get("Findings", ""),
                },
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{table}: names no low-energy image present under {root}")
    return sorted(cases, key=lambda c: c.case_id)
