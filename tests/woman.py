"""A synthetic woman screened three times over four years (2022, 2024, 2026): four views a
study, the same breasts each time, and on the last study a mass in the right CC that the
earlier ones lack. Bright crisp masses, so the hand-set intensity model (fixed_model.py)
outlines them wherever it runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid
from synthetic import phantom, write_dicom

DATES = ("20220315", "20240320", "20260318")
PATIENT = {"PatientID": "WOMAN-3", "PatientName": "Synthetic^Woman", "PatientBirthDate": "19660412"}
# Chest wall on the right for the right breast (rows run from the nipple to the back).
ORIENTATION = {("R", "CC"): ["P", "L"], ("L", "CC"): ["A", "R"], ("R", "MLO"): ["P", "F"], ("L", "MLO"): ["A", "F"]}


def breast(side: str, view: str, *, mass_at=None, shape=(320, 240), seed=0) -> np.ndarray:
    """The same breast each year (one seed per breast and view); ``mass_at``: (row, depth) of a
    crisp mass, as fractions of the image height and of the breast's depth from the chest wall."""
    pixels, _ = phantom(shape, seed=seed + 7 * (side == "L") + 3 * (view == "MLO"), mass=False, chest_wall="left")
    if mass_at is not None:
        rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
        centre = (mass_at[0] * shape[0], mass_at[1] * shape[1] * 0.8)
        disc = np.hypot(rows - centre[0], cols - centre[1]) <= 0.07 * min(shape)
        pixels = np.where(disc, np.uint16(0.95 * 4095), pixels)
    return pixels[:, ::-1].copy() if side == "R" else pixels  # a right breast's chest wall on the right


def write_study(
    folder: Path, date: str, *, mass_in=(), spacing=0.2, identity=None, study_uid=None, description="screening"
) -> list[Path]:
    """Four views of one screening study; ``mass_in``: the (side, view) pairs that show the mass."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    paths = []
    for n, (side, view) in enumerate(ORIENTATION):
        mass_at = (0.45, 0.55) if (side, view) in mass_in else None
        paths.append(
            write_dicom(
                folder / f"{date}-{side}{view}.dcm",
                breast(side, view, mass_at=mass_at),
                **{**PATIENT, **(identity or {})},
                StudyInstanceUID=study_uid,
                StudyDate=date,
                StudyDescription=description,
                ImageLaterality=side,
                ViewPosition=view,
                PatientOrientation=ORIENTATION[(side, view)],
                PixelSpacing=[spacing, spacing],
                InstanceNumber=n + 1,
            )
        )
    return paths


def write_woman(root: Path, *, mass_in_last=(("R", "CC"),), dates=DATES) -> Path:
    """Her studies, one folder each, under ``root``; the last shows the mass."""
    for date in dates:
        write_study(root / date, date, mass_in=mass_in_last if date == dates[-1] else ())
    return root
