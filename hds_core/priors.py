"""A woman's earlier studies, found for the one being read: in the opened folder, in the
local study cache, on the PACS. Qt-free: the viewer and the headless commands share it.

The match is on the patient ID (and its issuer, when both sides give one); the name and the
birth date are then checked, and a study that disagrees is kept as a candidate with the
disagreement said, never merged silently and never chosen by default. The default prior is
the most recent study before the current one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER, CACHE, PACS = "the opened folder", "the study cache", "the PACS"


@dataclass(frozen=True)
class PriorCandidate:
    study_uid: str
    date: str | None  # DICOM date, YYYYMMDD
    description: str | None
    source: str  # FOLDER, CACHE or PACS
    mismatch: str | None = None  # why it may be another woman: the reader must pick it herself
    folder: Path | None = None  # where its files are (the cache's folder of it); None: in the scan / not here yet
    patient_id: str | None = None

    @property
    def usable_by_default(self) -> bool:
        return self.mismatch is None


def _blank(value) -> str:
    return " ".join(str(value or "").split()).upper()


def identity_mismatch(current: tuple, other: tuple) -> str | None:
    """Why ``other`` (patient ID, issuer, name, birth date, as MammoMetadata.patient_identity
    gives them) may not be the woman of ``current``; None when nothing disagrees."""
    current, other = tuple(_blank(v) for v in current), tuple(_blank(v) for v in other)
    if current[0] != other[0]:
        return "another patient ID"
    if current[1] and other[1] and current[1] != other[1]:
        return f"patient ID issued by {other[1]}, not {current[1]}"
    faults = []
    if current[2] and other[2] and current[2].replace("^", " ").split() != other[2].replace("^", " ").split():
        faults.append("the name differs")
    if current[3] and other[3] and current[3] != other[3]:
        faults.append("the birth date differs")
    return " and ".join(faults) or None


def earlier(date: str | None, than: str | None) -> bool:
    """Whether a study of ``date`` came before one of ``than`` (DICOM dates). A study with no
    date is not a prior of anything: its order is unknown."""
    valid = [d for d in (date, than) if d and len(d) == 8 and d.isdigit()]
    return len(valid) == 2 and date < than


def ordered(candidates: list[PriorCandidate]) -> list[PriorCandidate]:
    """Most recent first; one per study, the folder's copy before the cache's before the PACS's."""
    rank = {FOLDER: 0, CACHE: 1, PACS: 2}
    best: dict[str, PriorCandidate] = {}
    for candidate in sorted(candidates, key=lambda c: rank.get(c.source, 3)):
        best.setdefault(candidate.study_uid, candidate)
    return sorted(best.values(), key=lambda c: c.date or "", reverse=True)


def default_prior(candidates: list[PriorCandidate]) -> PriorCandidate | None:
    """The most recent prior whose identity agrees."""
    return next((c for c in ordered(candidates) if c.usable_by_default), None)


def _study_identity(entry) -> tuple | None:
    for image in entry.images:
        if image.metadata.file_format == "DICOM":
            return image.metadata.patient_identity
    return None


def priors_in_scan(scan, patient_id: str, study_uid: str) -> list[PriorCandidate]:
    """The earlier studies in a scanned folder of the patient whose study ``study_uid`` is
    (the scan groups studies by patient ID; files without a DICOM identity have no priors)."""
    patient = scan.patients.get(patient_id)
    current = patient.studies.get(study_uid) if patient else None
    identity = _study_identity(current) if current else None
    if identity is None:
        return []
    found = []
    for uid, entry in patient.studies.items():
        other = _study_identity(entry)
        if uid == study_uid or other is None or not earlier(entry.date, current.date):
            continue
        found.append(
            PriorCandidate(
                uid, entry.date, entry.description, FOLDER, identity_mismatch(identity, other), None, other[0]
            )
        )
    return found


class CacheIndex:
    """Who each complete study of the study cache is of, read from one header per study and
    kept (a complete study is never modified, so its identity never changes)."""

    def __init__(self, cache) -> None:
        self.cache = cache
        self._known: dict[str, tuple | None] = {}

    def _identity(self, study) -> tuple | None:
        if study.uid not in self._known:
            from .io.errors import MammoReadError
            from .io.scan import read_header

            self._known[study.uid] = None
            for path in sorted(study.folder.glob("*.dcm")):
                try:
                    meta = read_header(path)
                except MammoReadError:
                    continue
                self._known[study.uid] = (
                    meta.patient_identity,
                    meta.study_date,
                    meta.study_description,
                )
                break
        return self._known[study.uid]

    def priors(self, identity: tuple, study_uid: str, date: str | None) -> list[PriorCandidate]:
        found = []
        for study in self.cache.studies():
            known = self._identity(study)
            if study.uid == study_uid or known is None:
                continue
            other, other_date, description = known
            if _blank(other[0]) != _blank(identity[0]) or not earlier(other_date, date):
                continue
            found.append(
                PriorCandidate(
                    study.uid,
                    other_date,
                    description,
                    CACHE,
                    identity_mismatch(identity, other),
                    study.folder,
                    other[0],
                )
            )
        return found


def priors_on_pacs(records, identity: tuple, study_uid: str, date: str | None) -> list[PriorCandidate]:
    """The earlier studies among a C-FIND's answers (hds_core.node.StudyRecord) for the
    patient's ID: the name is checked; the birth date is not in a study-level answer."""
    found = []
    for record in records:
        if record.study_instance_uid == study_uid or not earlier(record.study_date, date):
            continue
        other = (record.patient_id, "", record.patient_name, "")
        if _blank(record.patient_id) != _blank(identity[0]):
            continue
        found.append(
            PriorCandidate(
                record.study_instance_uid,
                record.study_date,
                record.description,
                PACS,
                identity_mismatch(identity, other),
                None,
                record.patient_id,
            )
        )
    return found


def candidate_text(candidate: PriorCandidate, date_text) -> str:
    """One line for the prior chooser: date, description, where, and any disagreement."""
    text = " ".join(filter(None, (date_text(candidate.date) or "date unknown", candidate.description)))
    text += f" ({candidate.source})"
    return text + (f": {candidate.mismatch}, check before comparing" if candidate.mismatch else "")
