"""A 4-view DBT screening study as the tomosynthesis benchmark reads it (issue 40): four Breast
Tomosynthesis objects of 60 slices of 2000 x 2500 pixels, JPEG 2000 lossless frame by frame,
a lesion sharp on one slice of the right breast's views. Written once into a folder and
reused (encoding takes a few minutes on two cores).

    .venv/bin/python tests/benchmarks/dbt_study.py FOLDER [--slices 60]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPE = (2500, 2000)  # rows, columns
VIEWS = (("R", "CC", "left"), ("L", "CC", "right"), ("R", "MLO", "left"), ("L", "MLO", "right"))
STUDY_UID = "1.2.826.0.1.3680043.8.498.40400"


def _write(folder: Path, index: int, slices: int) -> Path:
    from pydicom.uid import JPEG2000Lossless
    from synthetic_dbt import dbt_volume, write_dbt

    side, view, chest_wall = VIEWS[index]
    lesion = slices // 3 if side == "R" else None
    volume, _ = dbt_volume(slices, shape=SHAPE, lesion_slice=lesion, seed=40 + index, chest_wall=chest_wall)
    order = list(range(slices))[::-1]  # stored deepest first, as some systems do
    path = folder / f"{side}{view}.dcm"
    write_dbt(path.with_suffix(".part"), volume, side=side, view=view, order=order, spacing_mm=0.1,
              syntax=JPEG2000Lossless, study_uid=STUDY_UID)  # fmt: skip
    path.with_suffix(".part").rename(path)
    return path


def make_dbt_study(folder: Path, slices: int = 60) -> list[Path]:
    """The study's four files in ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{side}{view}.dcm" for side, view, _ in VIEWS]
    missing = [i for i, path in enumerate(paths) if not path.exists()]
    if missing:
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_write, [folder] * len(missing), missing, [slices] * len(missing)))
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--slices", type=int, default=60)
    args = parser.parse_args()
    for path in make_dbt_study(args.folder, args.slices):
        print(path, f"{path.stat().st_size / 1e6:.0f} MB")
