"""Names of hds-predict's outputs: they identify the file or study whatever else a run
holds and in whatever order, and never carry a patient's name or ID (they end up in
terminals and logs)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "image"


def output_names(entries: list[tuple[Path, str | None]]) -> dict[Path, str]:
    """``<folder>_<stem>.json`` for every (path, SOP Instance UID): the name identifies the
    file whatever else is predicted in the same run and in whatever order. Files that would
    share a name all get their SOP Instance UID added (then, if still alike, a counter in
    path order)."""
    def named(form) -> dict[Path, str]:
        return {path: form(path, sop) for path, sop in entries}

    names = named(lambda path, sop: f"{safe_name(path.parent.name)}_{safe_name(path.stem)}")
    clashing = {name for name in names.values() if list(names.values()).count(name) > 1}
    for path, sop in entries:
        if names[path] in clashing and sop:
            names[path] = f"{names[path]}_{safe_name(sop)}"
    seen: dict[str, int] = {}
    for path in sorted(names, key=str):
        count = seen[names[path]] = seen.get(names[path], 0) + 1
        if count > 1:
            names[path] = f"{names[path]}_{count}"
    return {path: f"{name}.json" for path, name in names.items()}


def study_labels(folders: dict[str, Path]) -> dict[str, str]:
    """A file-name-safe label per study (study key -> label): the name of the folder that
    holds the study's files, which identifies it whatever the order of the run; studies that
    share a folder add their position in Study Instance UID order. Never the patient's name
    or ID (these names end up in terminals and logs)."""
    labels = {key: safe_name(folder.name) for key, folder in folders.items()}
    for key in sorted(labels):
        alike = sorted(k for k in labels if labels[k] == labels[key])
        if len(alike) > 1:
            labels[key] = f"{labels[key]}-{alike.index(key) + 1}"
    return labels


def common_folder(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))
