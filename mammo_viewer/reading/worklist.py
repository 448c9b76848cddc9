"""A worklist from an ``hds-batch`` results table (Qt-free): one entry per study, with the
patient, the date, the AI's exam score and its validation decile, what failed, and whether the
study has been read here (draft or signed). The table is read, never written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hds_core.report.reading import ReadingError, ReadingStore


class WorklistError(Exception):
    """A table that cannot be opened; the message names it and the fault."""


@dataclass
class WorkItem:
    label: str
    study_uid: str | None
    patient_id: str | None
    patient_name: str | None
    study_date: str | None
    exam_score: float | None
    decile: int | None
    images: int
    failed: int
    folder: Path | None  # where its files are: opened as a folder, this study shown
    read: str = ""  # "", "draft" or "signed"
    new_since: str | None = None  # the prior's date, where a finding is new since the woman's prior in the run

    @property
    def flags(self) -> str:
        flags = []
        if self.new_since:
            d = self.new_since
            flags.append("new since " + (f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 and d.isdigit() else d))
        return ", ".join(flags)

    @property
    def date_text(self) -> str:
        d = self.study_date or ""
        return f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 and d.isdigit() else d


def table_of(path: Path) -> Path:
    """The table asked for: the file, or a results folder's ``results.parquet``."""
    from hds_core.batch.records import TABLE

    path = Path(path)
    return path / TABLE if path.is_dir() else path


def load_worklist(path: Path, readings: ReadingStore | None = None) -> list[WorkItem]:
    """The studies of the table at ``path`` (a file, or the folder ``hds-batch`` wrote), highest
    exam score first; ``readings``: where the reader's readings are, to say which are read."""
    from hds_core.batch.records import OK, read_table

    table = table_of(path)
    try:
        rows = read_table(table)
    except FileNotFoundError:
        raise WorklistError(f"{table}: no results table here (hds-batch writes OUT/results.parquet)") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file: named, the app goes on
        raise WorklistError(f"{table}: not a results table ({type(exc).__name__}: {exc})") from None
    studies: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("study_label"):
            studies.setdefault(row["study_label"], []).append(row)
    items = []
    for label, members in studies.items():
        first = members[0]
        good = [row for row in members if row.get("status") == OK]
        paths = [Path(row["path"]) for row in members if row.get("path")]
        scores = [row["exam_score"] for row in good if row.get("exam_score") is not None]
        deciles = [row["exam_decile"] for row in good if row.get("exam_decile") is not None]
        new = sorted({row["new_since"] for row in good if row.get("new_since")})
        items.append(
            WorkItem(
                label,
                first.get("study_uid"),
                first.get("patient_id"),
                first.get("patient_name"),
                first.get("study_date"),
                max(scores) if scores else None,
                max(deciles) if deciles else None,
                len(members),
                len(members) - len(good),
                Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else None,
                new_since=new[-1] if new else None,
            )
        )
    if readings is not None:
        for item in items:
            item.read = _read_state(readings, item.study_uid)
    items.sort(key=lambda item: (item.exam_score is None, -(item.exam_score or 0.0), item.label))
    return items


def _read_state(readings: ReadingStore, study_uid: str | None) -> str:
    if not study_uid:
        return ""
    try:
        found = readings.latest(study_uid)
    except ReadingError:
        return "unreadable"
    if not found or found[0].empty:
        return ""
    return "signed" if found[0].signed else "draft"
