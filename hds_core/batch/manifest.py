"""What a batch analyses: one row per study, from folders and files, a CSV of paths, or a
PACS query. Rows are made on the driver from the headers alone (nothing is decoded), named as
``hds-predict`` names them: each image's result name is decided over the whole manifest, so the
same files give the same names whichever command ran them."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ..report.identity import report_groups
from ..report.naming import common_folder, output_names, study_labels
from ..text import printable


class ManifestError(Exception):
    """A manifest that cannot be used; the message names it and the fault."""


@dataclass
class StudyRow:
    """One study to analyse: its key (as reports know it), a file-name-safe label, its images
    (with each result's file name) or, for a study still on a PACS, where to get it."""

    key: str
    label: str
    paths: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # path -> result JSON name
    stacks: list[str] = field(default_factory=list)  # paths that are tomosynthesis stacks
    pacs_uid: str | None = None  # a study on the PACS: retrieved by the worker that reads it

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "paths": list(self.paths),
            "names": dict(self.names),
            "stacks": list(self.stacks),
            "pacs_uid": self.pacs_uid,
        }

    @classmethod
    def from_dict(cls, row: dict) -> StudyRow:
        return cls(
            row["key"], row["label"], list(row["paths"]), dict(row["names"]), list(row["stacks"]), row.get("pacs_uid")
        )


@dataclass
class Manifest:
    studies: list[StudyRow]
    failures: list[str] = field(default_factory=list)  # files whose header could not be read: each a row
    skipped: dict[str, int] = field(default_factory=dict)  # files that are not images, by kind


def csv_paths(path: Path) -> list[Path]:
    """The ``path`` column of a CSV (relative paths are relative to the CSV's folder)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise ManifestError(
                    f"{printable(path)}: a manifest CSV needs a 'path' column (one file or folder a row)"
                )
            return [(path.parent / row["path"]).resolve() for row in reader if (row.get("path") or "").strip()]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{printable(path)}: cannot read the manifest ({exc})") from None


def from_paths(inputs: list[Path]) -> Manifest:
    """Folders, files and CSV manifests -> one row per study (a study split because its images
    disagree on the patient is two rows, as its reports are)."""
    from ..io import scan_folder

    targets: list[Path] = []
    for given in inputs:
        if given.suffix.lower() == ".csv" and given.is_file():
            targets.extend(csv_paths(given))
        else:
            targets.append(given)
    entries, failures, skipped = [], [], {}
    for target in targets:
        if not target.exists():
            failures.append(f"{target}: no such file or folder")
            continue
        scan = scan_folder(target)
        entries.extend(scan.images)
        failures.extend(str(error) for error in scan.failures)
        for kind, count in scan.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + count
    seen, unique = set(), []
    for entry in entries:  # a file named twice (a folder and a CSV row) is one image
        if entry.path not in seen:
            seen.add(entry.path)
            unique.append(entry)
    names = output_names([(entry.path, entry.metadata.sop_instance_uid) for entry in unique])
    groups = report_groups(unique, lambda entry: entry.metadata)
    labels = study_labels({g.key: common_folder([entry.path for entry in g.members]) for g in groups})
    studies = [
        StudyRow(
            group.key,
            labels[group.key],
            [str(entry.path) for entry in sorted(group.members, key=lambda e: str(e.path))],
            {str(entry.path): names[entry.path] for entry in group.members},
            [str(entry.path) for entry in group.members if entry.metadata.is_stack],
        )
        for group in groups
    ]
    studies.sort(key=lambda row: row.label)
    return Manifest(studies, failures, skipped)


def from_pacs(node, local, query) -> Manifest:
    """The studies a PACS query finds: each retrieved into the batch's own cache by the worker
    that analyses it (``hds_core.node``)."""
    from ..node import find_studies
    from ..report.naming import bounded, safe_name

    found = find_studies(node, local, query)
    studies = [
        StudyRow(
            record.study_instance_uid,
            f"{bounded(safe_name(record.study_instance_uid), 60)}",
            pacs_uid=record.study_instance_uid,
        )
        for record in found
    ]
    notes = [f"{node}: more studies match than one query returns; narrow it (dates)"] if found.truncated else []
    return Manifest(studies, notes)
