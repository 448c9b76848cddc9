"""What a batch run keeps: a record per finished study (its rows, written atomically once every
file of the study is written), and the results table made from the records: Parquet, one row
per image. A stopped run is started again from the records: a study with a record is done,
any other is done again (its files are rewritten or left alone, as ``hds-predict --force``
would), so every study is in the table exactly once."""

from __future__ import annotations

import json
from pathlib import Path

from ..safe_write import atomic_write, atomic_write_text

STATE = ".hds-batch"  # inside the output folder: the records, the PACS cache, the workers' marks
TABLE = "results.parquet"
OK, FAILED, NOT_A_MAMMOGRAM = "ok", "failed", "not a mammogram"

# The table's columns, in order, with their Arrow types (pyarrow names).
COLUMNS = {
    "study_label": "string",
    "study_uid": "string",
    "patient_id": "string",
    "patient_name": "string",
    "study_date": "string",
    "path": "string",
    "sop_instance_uid": "string",
    "laterality": "string",
    "view": "string",
    "domain": "string",
    "model": "string",
    "weights_sha256": "string",
    "score": "float64",
    "calibrated": "bool",
    "exam_score": "float64",
    "exam_decile": "int64",
    "lesions": "int64",
    "threshold": "float64",
    "seconds": "float64",
    "status": "string",
    "reason": "string",
    "result": "string",
    "new_since": "string",  # the date of the woman's prior study in the run, where a finding is new since it
}


def state_folder(out: Path) -> Path:
    return Path(out) / STATE


def record_path(out: Path, label: str) -> Path:
    return state_folder(out) / "studies" / f"{label}.json"


def write_record(out: Path, label: str, rows: list[dict]) -> None:
    """The study is done: its rows, atomically (a kill before this line redoes the study)."""
    path = record_path(out, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"label": label, "rows": rows}, indent=1) + "\n")


def done_labels(out: Path) -> set[str]:
    """The studies a record says are done (an unreadable record: not done)."""
    folder = state_folder(out) / "studies"
    done = set()
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            done.add(json.loads(path.read_text(encoding="utf-8"))["label"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return done


def study_rows(out: Path, label: str) -> list[dict]:
    """One study's rows, from its record (none: an empty list)."""
    try:
        return json.loads(record_path(out, label).read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def all_rows(out: Path) -> list[dict]:
    """Every record's rows, in a fixed order (by study, then file): the same table whatever order
    the studies finished in, and whatever runs it took."""
    folder = state_folder(out) / "studies"
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            rows.extend(json.loads(path.read_text(encoding="utf-8"))["rows"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(rows, key=lambda row: (row.get("study_label") or "", row.get("path") or ""))


def mark_new_since(rows: list[dict]) -> None:
    """Each image with a finding that has no finding near its place on the same view of the
    woman's prior study in the run (her latest earlier one, as the viewer hangs it) gets that
    study's date in ``new_since`` (hds_core.findings.comparison's rule)."""
    from ..findings.comparison import new_positions

    women: dict[str, dict[str, list[dict]]] = {}
    for row in rows:
        if row.get("status") == OK and row.get("patient_key") and row.get("study_date"):
            women.setdefault(row["patient_key"], {}).setdefault(row["study_label"], []).append(row)
    for studies in women.values():
        by_date = sorted(studies.values(), key=lambda members: members[0]["study_date"])
        for before, current in zip(by_date, by_date[1:]):
            if before[0]["study_date"] == current[0]["study_date"]:
                continue  # one day's two studies: neither is the other's prior
            for row in current:
                prior = next(
                    (
                        p
                        for p in before
                        if (p.get("laterality"), p.get("family")) == (row.get("laterality"), row.get("family"))
                    ),
                    None,
                )
                if prior is not None and row.get("family") and any(new_positions(row["places"], prior["places"])):
                    row["new_since"] = prior["study_date"]


def write_table(out: Path, rows: list[dict]) -> Path:
    """``rows`` as ``OUT/results.parquet``, atomically (with what is new since each woman's prior)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    mark_new_since(rows)
    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])
    table = pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS} for row in rows], schema=schema)
    target = Path(out) / TABLE
    atomic_write(target, lambda tmp: pq.write_table(table, tmp))
    return target


def read_table(path: Path) -> list[dict]:
    """A results table's rows (the viewer's worklist reads it; nothing writes it but a run)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
