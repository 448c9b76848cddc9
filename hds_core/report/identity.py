"""Which study (and image) a report on disk belongs to.

Reports of different studies must never replace each other: ``--force`` replaces a file
only when it holds the same study's (for a SEG or a JSON result: the same image's) earlier
report. Each writer leaves the identity where it can be read back: a PDF in its Creator
field (a fingerprint, never the UID itself), a DICOM object in its Study Instance UID and
its references, a JSON result in its UIDs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..io import MammoMetadata

PDF_CREATOR = "mammo-hds"


def study_key(metadata: MammoMetadata) -> str:
    """The study an image belongs to: its Study Instance UID, else (rasters, damaged headers)
    the folder that holds it."""
    return metadata.study_instance_uid or str(metadata.path.parent)


def patient_fingerprint(metadata: MammoMetadata) -> str:
    """A short, stable name for the patient identity in a header (never the identity itself)."""
    text = "\x1f".join(metadata.patient_identity)
    return "patient-" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def comparison_key(metadata: MammoMetadata) -> str:
    """What two images must share to be compared (the other breast) or reported together:
    the study and the patient identity its header gives."""
    return f"{study_key(metadata)}|{patient_fingerprint(metadata)}"


@dataclass(frozen=True)
class ReportGroup:
    """The images of one report: one study of one patient. ``study`` is the study key the
    files on disk are identified by; ``patients`` how many patient identities the study's
    images gave (over 1: the study was split, and each report says so)."""

    key: str
    study: str
    members: list
    patients: int

    @property
    def identity_conflict(self) -> str | None:
        if self.patients < 2:
            return None
        return (
            f"The images of this study disagree on the patient ({self.patients} different patient "
            "identities under one Study Instance UID): this report holds only the images of one of "
            "them; the others are reported apart. Check the study at its source before use"
        )


def report_groups(items, metadata_of) -> list[ReportGroup]:
    """``items`` grouped by study and patient identity: a study whose images disagree on the
    patient (ID, issuer, name, birth date) is never reported as one. The key of a study with
    one patient is its study key (the names of earlier reports hold); the patients of a split
    study get theirs from their fingerprints."""
    by_study: dict[str, dict[str, list]] = {}
    for item in items:
        metadata = metadata_of(item)
        by_study.setdefault(study_key(metadata), {}).setdefault(patient_fingerprint(metadata), []).append(item)
    groups = []
    for study, patients in by_study.items():
        for fingerprint, members in patients.items():
            key = study if len(patients) == 1 else f"{study}|{fingerprint}"
            groups.append(ReportGroup(key, study, members, len(patients)))
    return groups


def study_fingerprint(key: str) -> str:
    """A short, stable name for a study that does not disclose its UID."""
    return "study-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def pdf_creator(key: str) -> str:
    return f"{PDF_CREATOR} {study_fingerprint(key)}"


def _pdf_holds(path: Path, text: str) -> bool:
    """Qt writes the Creator as UTF-16BE; older writers as plain text."""
    data = path.read_bytes()
    return text.encode("utf-16-be") in data or text.encode() in data


def _dicom_identity(path: Path) -> tuple[str | None, set[str]]:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    referenced = {
        str(instance.get("ReferencedSOPInstanceUID", ""))
        for series in ds.get("ReferencedSeriesSequence", []) or []
        for instance in series.get("ReferencedInstanceSequence", []) or []
    }
    return (str(ds.get("StudyInstanceUID", "")) or None), referenced - {""}


def replacement_refused(
    path: Path, kind: str, key: str, sop_instance_uid: str | None = None, source: Path | None = None
) -> str | None:
    """Why the existing ``path`` must not be replaced by the report of study ``key`` (and,
    for one image's SEG or JSON, of image ``sop_instance_uid``), or None when it may."""
    if not path.exists():
        return None
    other = (
        f"{path}: holds the {kind} of another {{}}; only the same {{}}'s earlier {kind} is replaced "
        "(choose another name)"
    )
    try:
        if kind == "PDF":
            return None if _pdf_holds(path, study_fingerprint(key)) else other.format("study", "study")
        if kind == "JSON result":
            existing = json.loads(path.read_text())
            # An image is its SOP Instance UID; a raster file, which has none, its path.
            same = (
                existing.get("sop_instance_uid") == sop_instance_uid
                if sop_instance_uid
                else existing.get("file") == str(source)
            )
            return None if same else other.format("image", "image")
        study, referenced = _dicom_identity(path)
        if study != key:
            return other.format("study", "study")
        if sop_instance_uid is not None and sop_instance_uid not in referenced:
            return other.format("image", "image")
        return None
    except Exception as exc:  # noqa: BLE001 - an unreadable file is not ours to replace
        return f"{path}: exists and cannot be read as a {kind} ({type(exc).__name__}); not replaced"
