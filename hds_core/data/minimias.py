"""mini-MIAS in its native layout: ``Info.txt`` plus ``mdbNNN.pgm`` (or ``.png``) films.

Info.txt rows: ``REFNUM BG CLASS [SEVERITY X Y RADIUS]``; X, Y with the origin at the
BOTTOM-LEFT corner (row = height - Y). CIRC, SPIC and MISC are masses. Films come in pairs
per patient (mdb001 + mdb002), odd numbers right breasts, even numbers left.
"""

from __future__ import annotations

import re
from pathlib import Path

from .cases import Case
from .errors import DatasetLayoutError

MASS_CLASSES = {"CIRC", "SPIC", "MISC"}
SPACING_MM = 0.2  # the mini-MIAS films are 200 micron pixel edge
FILM_SIZE = 1024
_ROW = re.compile(r"^(mdb\d{3})\s+([FGD])\s+([A-Z]+)(?:\s+([BM]))?(?:\s+(\d+)\s+(\d+)\s+(\d+))?")


def patient_of(refnum: str) -> str:
    number = int(refnum[3:])
    return f"mias-{(number + 1) // 2:03d}"


def load_minimias(root: str | Path) -> list[Case]:
    root = Path(root)
    info = root / "Info.txt"
    if not info.is_file():
        raise DatasetLayoutError(f"{root}: no Info.txt; a mini-MIAS folder holds Info.txt and mdbNNN.pgm or .png films")
    rows: dict[str, list[tuple]] = {}
    for line in info.read_text(errors="replace").splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows.setdefault(match.group(1), []).append(match.groups())
    cases = []
    for refnum in sorted(rows):
        path = next(
            (p for p in (root / f"{refnum}.pgm", root / f"{refnum}.png", root / f"{refnum}.PGM") if p.is_file()), None
        )
        if path is None:
            continue  # Info.txt lists the full database; a subset folder holds fewer films
        circles = []
        classes = set()
        for _refnum, _background, abnormality, _severity, x, y, radius in rows[refnum]:
            classes.add(abnormality)
            if abnormality in MASS_CLASSES and x is not None:
                circles.append((FILM_SIZE - float(y), float(x), float(radius)))
        number = int(refnum[3:])
        cases.append(
            Case(
                case_id=refnum,
                patient_id=patient_of(refnum),
                image_path=path,
                circles=circles,
                spacing_mm=SPACING_MM,
                laterality="R" if number % 2 else "L",
                view="MLO",
                extra={
                    "background": rows[refnum][0][1],
                    "classes": sorted(classes),
                    "mass_without_coordinates": any(r[2] in MASS_CLASSES and r[4] is None for r in rows[refnum]),
                },
            )
        )
    if not cases:
        raise DatasetLayoutError(f"{root}: Info.txt lists no film present in the folder (expected mdbNNN.pgm or .png)")
    return cases
