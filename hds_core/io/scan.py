"""Scan a folder into patient -> study -> series -> images, from headers only.

Pixels are not decoded here (the viewer decodes them later, image by image), but every
check that the header allows is made, so files that could never be shown are listed as
failures at once. Non-image DICOM objects are skipped and counted, not errors.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import errors
from .image import MammoMetadata
from .reader import sniff_format

# Files that commonly sit beside DICOM exports and are not worth a failure line.
_IGNORED_SUFFIXES = {".txt", ".md", ".xml", ".json", ".csv", ".html", ".htm", ".pdf", ".ini", ".log", ".xlsx", ".xls", ".zip"}


@dataclass
class ImageEntry:
    path: Path
    metadata: MammoMetadata


@dataclass
class SeriesEntry:
    series_uid: str
    description: str | None
    modality: str | None
    images: list[ImageEntry] = field(default_factory=list)


@dataclass
class StudyEntry:
    study_uid: str
    date: str | None
    description: str | None
    series: dict[str, SeriesEntry] = field(default_factory=dict)

    @property
    def images(self) -> list[ImageEntry]:
        return [image for series in self.series.values() for image in series.images]


@dataclass
class PatientEntry:
    patient_id: str
    name: str | None
    birth_date: str | None
    studies: dict[str, StudyEntry] = field(default_factory=dict)


@dataclass
class ScanResult:
    root: Path
    patients: dict[str, PatientEntry] = field(default_factory=dict)
    failures: list[errors.MammoReadError] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    @property
    def images(self) -> list[ImageEntry]:
        return [image for patient in self.patients.values() for study in patient.studies.values() for image in study.images]

    def add(self, entry: ImageEntry) -> None:
        meta = entry.metadata
        # Raster files carry no DICOM identity: one "study" per folder keeps them together.
        folder = str(entry.path.parent)
        patient_id = meta.patient_id or ("(no patient ID)" if meta.file_format == "DICOM" else folder)
        patient = self.patients.setdefault(patient_id, PatientEntry(patient_id, meta.patient_name, meta.patient_birth_date))
        study_uid = meta.study_instance_uid or folder
        study = patient.studies.setdefault(study_uid, StudyEntry(study_uid, meta.study_date, meta.study_description))
        series_uid = meta.series_instance_uid or folder
        series = study.series.setdefault(series_uid, SeriesEntry(series_uid, meta.series_description, meta.modality))
        series.images.append(entry)


def read_header(path: Path) -> MammoMetadata:
    """Metadata of one file without decoding its pixels; raises MammoReadError."""
    file_format = sniff_format(path)
    if file_format == "DICOM":
        from .dicom import check_image_header, metadata_from_dataset, read_dataset

        ds = read_dataset(path, header_only=True)
        check_image_header(ds, path)
        return metadata_from_dataset(ds, path)
    from PIL import Image

    try:
        with Image.open(path) as im:
            columns, rows = im.size
    except Exception as exc:
        raise errors.DecodeError(path, f"cannot read the {file_format} header: {exc}") from None
    return MammoMetadata(path=path, file_format=file_format, rows=rows, columns=columns)


def _dicomdir_files(dicomdir: Path) -> list[Path] | None:
    """Files a DICOMDIR references, or None when it cannot be used (then the folder is walked)."""
    try:
        import pydicom
        from pydicom.fileset import FileSet

        return [Path(instance.path) for instance in FileSet(pydicom.dcmread(dicomdir))]
    except Exception:
        return None


def iter_files(root: Path):
    """Every file below root, following folder links once (symlink loops are cut)."""
    seen: set[tuple[int, int]] = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        try:
            stat = os.stat(folder)
        except OSError:
            subfolders[:] = []
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            subfolders[:] = []
            continue
        seen.add(key)
        subfolders.sort()
        for name in sorted(files):
            yield Path(folder) / name


def scan_folder(root: str | os.PathLike, *, progress=None, cancelled=None) -> ScanResult:
    """Group every mammogram below ``root`` (a folder or a single file).

    ``progress(done, path)`` is called per file; ``cancelled()`` returning True stops early.
    """
    root = Path(root)
    result = ScanResult(root=root)
    if root.is_file():
        candidates = [root]
    else:
        dicomdir = root / "DICOMDIR"
        candidates = _dicomdir_files(dicomdir) if dicomdir.is_file() else None
        if candidates is None:
            candidates = list(iter_files(root))
    for done, path in enumerate(candidates, 1):
        if cancelled is not None and cancelled():
            break
        if progress is not None:
            progress(done, path)
        if path.name.startswith(".") or path.suffix.lower() in _IGNORED_SUFFIXES:
            result.skipped["other file"] += 1
            continue
        if path.name.upper() == "DICOMDIR":
            result.skipped["DICOMDIR"] += 1
            continue
        try:
            result.add(ImageEntry(path, read_header(path)))
        except errors.NonImageObjectError as exc:
            result.skipped[exc.reason.removeprefix("no pixel data (").rstrip(")")] += 1
        except errors.MammoReadError as exc:
            result.failures.append(exc)
    return result
