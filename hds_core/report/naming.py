"""Names of hds-predict's outputs: they identify the file or study whatever else a run
holds and in whatever order, and never carry a patient's name or ID (they end up in
terminals and logs)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# Output names stay well inside a file system's 255-byte limit, with room for the suffixes
# the reports add ("_<weights>_seg.dcm", "-<study>.pdf").
MAX_NAME = 120


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "image"


def bounded(name: str, limit: int = MAX_NAME) -> str:
    """``name`` if short enough, else its start and a hash of the whole (still unique)."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 11]}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def output_names(entries: list[tuple[Path, str | None]]) -> dict[Path, str]:
    """``<folder>_<stem>.json`` for every (path, SOP Instance UID): the name identifies the
    file whatever else is predicted in the same run and in whatever order. Files that would
    share a name all get their SOP Instance UID added (then, if still alike, a counter in
    path order)."""

    def named(form) -> dict[Path, str]:
        return {path: form(path, sop) for path, sop in entries}

    names = named(lambda path, sop: bounded(f"{safe_name(path.parent.name)}_{safe_name(path.stem)}"))
    clashing = {name for name in names.values() if list(names.values()).count(name) > 1}
    for path, sop in entries:
        if names[path] in clashing and sop:
            names[path] = bounded(f"{names[path]}_{safe_name(sop)}", MAX_NAME + 20)
    seen: dict[str, int] = {}
    for path in sorted(names, key=str):
        count = seen[names[path]] = seen.get(names[path], 0) + 1
        if count > 1:
            names[path] = f"{names[path]}_{count}"
    return {path: f"{name}.json" for path, name in names.items()}


def study_labels(folders: dict[str, Path]) -> dict[str, str]:
    """A file-name-safe label per study (study key -> label): the name of the folder that
    holds the study's files and the study's fingerprint (``report/identity.py``), so that
    two studies never share a label whatever the folders are called or the order of the run,
    and the same study gets the same label in every run. Never the patient's name or ID
    (these names end up in terminals and logs)."""
    from ..report.identity import study_fingerprint

    labels = {
        key: f"{bounded(safe_name(folder.name), 40)}-{study_fingerprint(key)[6:16]}" for key, folder in folders.items()
    }
    if len(set(labels.values())) != len(labels):  # 40 bits of a hash alike: name the studies in full
        labels = {
            key: f"{bounded(safe_name(folder.name), 40)}-{study_fingerprint(key)[6:]}"
            for key, folder in folders.items()
        }
    return labels


def common_folder(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))
