"""Scan a folder into patient -> study -> series -> images, from headers only.

Pixels are not decoded here (the viewer decodes them later, image by image), but every
check that the header allows is made, so files that could never be shown are listed as
failures at once. Non-image DICOM objects are skipped and counted, not errors.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..text import printable
from . import errors
from .image import MammoMetadata
from .raster import COLOUR_MODES
from .reader import sniff_format

log = logging.getLogger(__name__)

# Files that commonly sit beside DICOM exports and are not worth a failure line.
_IGNORED_SUFFIXES = {
    ".txt",
    ".md",
    ".xml",
    ".json",
    ".csv",
    ".html",
    ".htm",
    ".pdf",
    ".ini",
    ".log",
    ".xlsx",
    ".xls",
    ".zip",
}


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
    outside: list[Path] = field(default_factory=list)  # links leading out of the folder, not followed
    ignored: int = 0  # hidden files and known companions (README, study.json, CSV): passed over unreported
    # Identities that disagree: never merged silently (a study UID under two patients, one
    # patient ID with two names or birth dates). Each names the files, never the patients.
    conflicts: list[str] = field(default_factory=list)
    _identity_of_study: dict = field(default_factory=dict, repr=False)
    _identity_of_patient: dict = field(default_factory=dict, repr=False)

    @property
    def images(self) -> list[ImageEntry]:
        return [
            image for patient in self.patients.values() for study in patient.studies.values() for image in study.images
        ]

    def add(self, entry: ImageEntry) -> None:
        meta = entry.metadata
        # Raster files carry no DICOM identity: one "study" per folder keeps them together.
        folder = str(entry.path.parent)
        patient_id = meta.patient_id or ("(no patient ID)" if meta.file_format == "DICOM" else folder)
        patient = self.patients.setdefault(
            patient_id, PatientEntry(patient_id, meta.patient_name, meta.patient_birth_date)
        )
        study_uid = meta.study_instance_uid or folder
        self._check_identity(entry, patient_id, study_uid)
        study = patient.studies.setdefault(study_uid, StudyEntry(study_uid, meta.study_date, meta.study_description))
        series_uid = meta.series_instance_uid or folder
        series = study.series.setdefault(series_uid, SeriesEntry(series_uid, meta.series_description, meta.modality))
        series.images.append(entry)

    def _check_identity(self, entry: ImageEntry, patient_id: str, study_uid: str) -> None:
        if entry.metadata.file_format != "DICOM":
            return
        identity = entry.metadata.patient_identity
        first = self._identity_of_study.setdefault(study_uid, (identity, entry.path))
        if first[0] != identity:
            self.conflicts.append(
                f"{entry.path} and {first[1]}: one Study Instance UID, but the images disagree on the patient "
                "(ID, issuer, name or birth date); shown and reported as separate patients"
            )
        who = (identity[2], identity[3])  # name, birth date
        seen = self._identity_of_patient.setdefault(patient_id, (who, entry.path))
        if seen[0] != who:
            self.conflicts.append(
                f"{entry.path} and {seen[1]}: one patient ID, but a different name or birth date; "
                "check the patient before reading these images together"
            )


def read_header(path: Path) -> MammoMetadata:
    """Metadata of one file without decoding its pixels; raises MammoReadError."""
    file_format = sniff_format(path)
    if file_format == "DICOM":
        from .dicom import read_dataset
        from .dicom_header import check_image_header, metadata_from_dataset

        ds = read_dataset(path, header_only=True)
        check_image_header(ds, path)
        return metadata_from_dataset(ds, path)
    from PIL import Image

    try:
        with Image.open(path) as im:
            columns, rows = im.size
            mode, frames = im.mode, getattr(im, "n_frames", 1)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on damaged headers
        raise errors.DecodeError(path, f"cannot read the {file_format} header: {exc}") from None
    # What the raster reader would refuse, refused here from the header (raster.py's rules):
    # the folder's listing names the file at once, not when (if ever) it is shown.
    if mode in COLOUR_MODES:
        raise errors.UnsupportedImageError(path, f"colour image (mode {mode})", "save the mammogram as grayscale")
    if frames > 1:
        raise errors.UnsupportedImageError(path, f"{frames} pages/frames; a mammogram is one image")
    return MammoMetadata(path=path, file_format=file_format, rows=rows, columns=columns)


def _dicomdir_files(dicomdir: Path) -> list[Path] | None:
    """Files a DICOMDIR references, or None when it cannot be used (then the folder is walked)."""
    try:
        import pydicom
        from pydicom.fileset import FileSet

        return [Path(instance.path) for instance in FileSet(pydicom.dcmread(dicomdir))]
    except Exception:  # noqa: BLE001 - a damaged DICOMDIR: the folder is then walked instead
        return None


def outside_of(path: Path, boundary: Path) -> bool:
    """True when ``path`` resolves (links, ``..``) to a place outside ``boundary``."""
    try:
        return not path.resolve().is_relative_to(boundary)
    except (OSError, RuntimeError):  # a loop or a dangling link: the reader names it
        return False


def leads_out(path: Path, boundary: Path) -> bool:
    """True when ``path`` is a link whose target lies outside ``boundary``."""
    return path.is_symlink() and outside_of(path, boundary)


def iter_files(root: Path, outside: list[Path] | None = None):
    """Every file below root, following folder links once (symlink loops are cut). The
    opened folder is the boundary: a link (to a folder or a file) that leads out of it is not
    followed, and is added to ``outside``."""
    seen: set[tuple[int, int]] = set()
    boundary = root.resolve()
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
        kept = []
        for name in sorted(subfolders):
            if leads_out(Path(folder) / name, boundary):
                if outside is not None:
                    outside.append(Path(folder) / name)
            else:
                kept.append(name)
        subfolders[:] = kept
        for name in sorted(files):
            path = Path(folder) / name
            if leads_out(path, boundary):
                if outside is not None:
                    outside.append(path)
                continue
            yield path


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
            candidates = list(iter_files(root, result.outside))
        else:  # a DICOMDIR's references, held to the same boundary
            boundary = root.resolve()
            # Every reference is resolved: a DICOMDIR may name "../x" or go through a linked folder.
            result.outside.extend(c for c in candidates if outside_of(c, boundary))
            candidates = [c for c in candidates if not outside_of(c, boundary)]
        for link in result.outside:
            log.info("%s: leads out of the opened folder %s: not followed", printable(link), printable(root))
    for done, path in enumerate(candidates, 1):
        if cancelled is not None and cancelled():
            break
        if progress is not None:
            progress(done, path)
        # A file named on its own is tried whatever its name (``..dcm`` is a valid file name);
        # in a folder, hidden files and known non-images are passed over.
        if path != root and (path.name.startswith(".") or path.suffix.lower() in _IGNORED_SUFFIXES):
            # A README, the study cache's study.json, a CSV: known companions, not noise to report.
            result.ignored += 1
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
