"""The radiologist's read of one study (issue 41), Qt-free: breast composition, a BI-RADS
assessment per breast and for the exam, the management, her own findings (each with its marks
on the views and where they lie), her decision on each AI mark (accepted: it becomes a
finding; dismissed: kept, and shown as dismissed), and the impression.

A reading is kept as it is made (``ReadingStore``): one file per study, keyed by the Study
Instance UID, in the user's data folder, rewritten atomically at every change, so a crash or a
kill loses at most the change being made. Signing off makes a version final and read-only; an
addendum is a new version beside it. A window holding a study's reading holds its lock; another
window on the same study gets it read-only, and says why.

The terms are the ACR BI-RADS atlas's (5th edition): composition a-d, assessment categories 0-6
with 4A/4B/4C, and the management each category usually calls for."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..text import printable

COMPOSITIONS = {
    "a": "The breasts are almost entirely fatty",
    "b": "There are scattered areas of fibroglandular density",
    "c": "The breasts are heterogeneously dense, which may obscure small masses",
    "d": "The breasts are extremely dense, which lowers the sensitivity of mammography",
}
ASSESSMENTS = {
    "0": "Incomplete: need additional imaging evaluation and/or prior mammograms for comparison",
    "1": "Negative",
    "2": "Benign",
    "3": "Probably benign",
    "4": "Suspicious",
    "4A": "Low suspicion for malignancy",
    "4B": "Moderate suspicion for malignancy",
    "4C": "High suspicion for malignancy",
    "5": "Highly suggestive of malignancy",
    "6": "Known biopsy-proven malignancy",
}
MANAGEMENT = {  # what each category usually calls for (the reader may write another)
    "0": "Recall for additional imaging and/or comparison with prior examination(s)",
    "1": "Routine mammography screening",
    "2": "Routine mammography screening",
    "3": "Short-interval (6-month) follow-up or continued surveillance mammography",
    "4": "Tissue diagnosis",
    "4A": "Tissue diagnosis",
    "4B": "Tissue diagnosis",
    "4C": "Tissue diagnosis",
    "5": "Tissue diagnosis",
    "6": "Surgical excision when clinically appropriate",
}
FINDING_KINDS = ("mass", "calcifications", "asymmetry", "architectural distortion", "other")
# The exam's category is the breasts' most serious one (BI-RADS: 0 outranks 1-3, 6 stays 6).
SEVERITY = ("1", "2", "3", "0", "4", "4A", "4B", "4C", "5", "6")
DRAFT, SIGNED = "draft", "signed"
EDITABLE = {"composition", "assessment", "exam_assessment", "management", "impression", "indication", "reader"}
FORMAT = 1  # the file's layout version


class ReadingError(Exception):
    """A reading that cannot be changed, read or saved; the message says which and why."""


@dataclass
class Mark:
    """One place of a finding on one image."""

    image: str  # the image's SOP Instance UID (else the viewer's key for it)
    view: str  # "R CC", "L MLO", ...
    x: float  # full-image pixels
    y: float
    slice: int | None = None  # a tomosynthesis stack's slice (1-based, spatial order)
    frame: int | None = None  # ... and its DICOM frame number
    third: str | None = None  # anterior, middle or posterior (findings/location.py)
    nipple_distance_mm: float | None = None
    left_mm: float | None = None  # a CC mark's offset toward her left
    up_mm: float | None = None  # an MLO mark's offset toward her head


@dataclass
class Finding:
    number: int
    kind: str  # one of FINDING_KINDS
    laterality: str | None
    marks: list[Mark] = field(default_factory=list)  # one per view: CC and MLO of one finding linked
    source: str = "reader"  # "reader", or "ai" (an AI mark she accepted)
    ai_mark: int | None = None  # the AIMark it came from (its number), for "ai"
    note: str = ""


@dataclass
class AIMark:
    """An AI mark she decided on: accepted (it became finding ``finding``) or dismissed."""

    number: int
    image: str
    view: str
    lesion: int  # the lesion's number on that image at ``threshold``
    x: float  # its centroid, full-image pixels
    y: float
    max_probability: float
    threshold: float
    decision: str  # "accepted" or "dismissed"
    finding: int | None = None
    slice: int | None = None


@dataclass
class Reading:
    study_uid: str
    patient_id: str | None = None
    version: int = 1
    status: str = DRAFT
    reader: str = ""
    composition: str | None = None  # a-d
    assessment: dict[str, str] = field(default_factory=dict)  # "R", "L" -> category (the exam's is derived)
    exam_assessment: str | None = None  # set by the reader, else the breasts' most serious
    management: str | None = None  # None: the exam category's usual one
    impression: str = ""
    indication: str = ""  # why the study was done: screening, a lump, recall, ...
    findings: list[Finding] = field(default_factory=list)
    ai_marks: list[AIMark] = field(default_factory=list)
    model: dict | None = None  # {"name", "weights_sha256"} of the AI shown while reading
    amends: int | None = None  # the version an addendum amends
    created: str = ""
    modified: str = ""
    signed_at: str | None = None

    # ----- what the report says ---------------------------------------------------------------
    @property
    def exam(self) -> str | None:
        """The exam's assessment: the reader's, else her breasts' most serious."""
        if self.exam_assessment:
            return self.exam_assessment
        given = [c for c in self.assessment.values() if c]
        return max(given, key=SEVERITY.index) if given else None

    @property
    def recommended(self) -> str | None:
        """The management: hers, else what the exam's category usually calls for."""
        return self.management or (MANAGEMENT.get(self.exam) if self.exam else None)

    @property
    def empty(self) -> bool:
        """Nothing read yet: no report prints or sends it."""
        return not (
            self.composition
            or self.assessment
            or self.exam_assessment
            or self.management
            or self.impression.strip()
            or self.indication.strip()
            or self.findings
            or self.ai_marks
            or self.signed
        )

    @property
    def signed(self) -> bool:
        return self.status == SIGNED

    def missing(self) -> list[str]:
        """What a report needs before it can be signed."""
        wanted = []
        if not self.composition:
            wanted.append("breast composition")
        if not self.exam:
            wanted.append("an assessment")
        if not self.reader.strip():
            wanted.append("the reader's name")
        return wanted

    # ----- changes (each refused once signed) ---------------------------------------------------
    def _editable(self) -> None:
        if self.signed:
            raise ReadingError(
                f"version {self.version} of this reading was signed {self.signed_at}: it is final "
                "(write an addendum to add to it)"
            )

    def set(self, **values) -> None:
        """Composition, assessment, exam_assessment, management, impression, indication or reader."""
        self._editable()
        for name, value in values.items():
            if name == "composition" and value not in (None, *COMPOSITIONS):
                raise ReadingError(f"breast composition {value!r} is not one of a, b, c, d")
            if name == "exam_assessment" and value not in (None, *ASSESSMENTS):
                raise ReadingError(f"BI-RADS {value!r} is not an assessment category")
            if name == "assessment":
                bad = [c for c in value.values() if c and c not in ASSESSMENTS]
                if bad:
                    raise ReadingError(f"BI-RADS {bad[0]!r} is not an assessment category")
            if name not in EDITABLE:
                raise ReadingError(f"a reading has no {name!r}")
            setattr(self, name, value)

    def assess(self, side: str, category: str | None) -> None:
        """BI-RADS ``category`` for breast ``side`` ("R" or "L"; None clears it)."""
        if side not in ("R", "L"):
            raise ReadingError(f"breast {side!r} is not R or L")
        self.set(assessment={**self.assessment, side: category} if category else {
            k: v for k, v in self.assessment.items() if k != side
        })  # fmt: skip

    def add_finding(self, kind: str, mark: Mark, laterality: str | None, *, source: str = "reader") -> Finding:
        self._editable()
        if kind not in FINDING_KINDS:
            raise ReadingError(f"finding type {kind!r} is not one of {', '.join(FINDING_KINDS)}")
        finding = Finding(self._next(self.findings), kind, laterality, [mark], source)
        self.findings.append(finding)
        return finding

    def link_mark(self, number: int, mark: Mark) -> Finding:
        """The same finding seen on another view (its CC and its MLO): one finding, two marks."""
        self._editable()
        finding = self.finding(number)
        if any(m.view == mark.view for m in finding.marks):
            raise ReadingError(f"finding {number} is marked on {mark.view} already")
        finding.marks.append(mark)
        return finding

    def remove_finding(self, number: int) -> None:
        self._editable()
        finding = self.finding(number)
        self.findings.remove(finding)
        for decision in self.ai_marks:  # an accepted AI mark whose finding goes is undecided again
            if decision.finding == number:
                self.ai_marks.remove(decision)
                break

    def decide(self, mark: AIMark, kind: str = "mass", place: Mark | None = None) -> AIMark:
        """Accept (``mark.decision`` "accepted": a finding of ``kind`` at its place, ``place`` where
        located) or dismiss an AI mark; deciding a mark again replaces the earlier decision."""
        self._editable()
        if mark.decision not in ("accepted", "dismissed"):
            raise ReadingError(f"an AI mark is accepted or dismissed, not {mark.decision!r}")
        earlier = self.ai_decision(mark.image, mark.lesion, mark.threshold)
        if earlier is not None:
            if earlier.finding is not None:
                self.findings = [f for f in self.findings if f.number != earlier.finding]
            self.ai_marks.remove(earlier)
        mark = dataclasses.replace(mark, number=self._next(self.ai_marks), finding=None)
        if mark.decision == "accepted":
            laterality = mark.view.split()[0] if mark.view[:1] in ("R", "L") else None
            place = place or Mark(mark.image, mark.view, mark.x, mark.y, mark.slice)
            mark.finding = self.add_finding(kind, place, laterality, source="ai").number
            self.findings[-1].ai_mark = mark.number
        self.ai_marks.append(mark)
        return mark

    def ai_decision(self, image: str, lesion: int, threshold: float) -> AIMark | None:
        return next((m for m in self.ai_marks if (m.image, m.lesion, m.threshold) == (image, lesion, threshold)), None)

    def finding(self, number: int) -> Finding:
        found = next((f for f in self.findings if f.number == number), None)
        if found is None:
            raise ReadingError(f"there is no finding {number}")
        return found

    @staticmethod
    def _next(items) -> int:
        return max((item.number for item in items), default=0) + 1

    # ----- to and from the file -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Reading:
        data = dict(data)
        data["findings"] = [
            Finding(**{**f, "marks": [Mark(**m) for m in f.get("marks", [])]}) for f in data.get("findings", [])
        ]
        data["ai_marks"] = [AIMark(**m) for m in data.get("ai_marks", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def default_readings_folder() -> Path:
    """Where readings are kept: ``MAMMO_VIEWER_READINGS``, else the viewer's data folder (where
    Qt puts the application data of "mammo-hds/mammo-viewer"), so that ``hds-predict`` finds
    the readings the viewer saved without importing Qt."""
    if os.environ.get("MAMMO_VIEWER_READINGS"):
        return Path(os.environ["MAMMO_VIEWER_READINGS"])
    import sys

    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "mammo-hds" / "mammo-viewer" / "readings"


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


class ReadingStore:
    """The readings of the studies read on this computer, one file per study in ``folder``
    (``<hash of the Study Instance UID>.json``: every version, the last one the current)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, study_uid: str) -> Path:
        return self.folder / f"{hashlib.sha256(study_uid.encode()).hexdigest()[:32]}.json"

    def versions(self, study_uid: str) -> list[Reading]:
        """Every version of the study's reading, oldest first (none: an empty list)."""
        path = self.path(study_uid)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ReadingError(
                f"{printable(path)}: the saved reading cannot be read ({exc}); it is left as it is: move it "
                "away to start a new one"
            ) from None
        if data.get("study_uid") != study_uid:
            raise ReadingError(f"{printable(path)}: holds another study's reading")
        try:
            return [Reading.from_dict(version) for version in data["versions"]]
        except (KeyError, TypeError) as exc:
            raise ReadingError(f"{printable(path)}: the saved reading is damaged ({exc})") from None

    def latest(self, study_uid: str) -> tuple[Reading, Reading | None] | None:
        """The study's current version and, for an addendum, the version it amends; None where
        the study was never read here (what the reports print and send)."""
        versions = self.versions(study_uid)
        if not versions:
            return None
        current = versions[-1]
        amended = next((v for v in versions if v.version == current.amends), None) if current.amends else None
        return current, amended

    def open(self, study_uid: str, patient_id: str | None = None, model: dict | None = None) -> Reading:
        """The study's current reading, or a new draft (not saved until something is set)."""
        versions = self.versions(study_uid)
        if versions:
            return versions[-1]
        now = _now()
        return Reading(study_uid, patient_id, model=model, created=now, modified=now)

    def save(self, reading: Reading) -> Path:
        """Write ``reading`` as its study's current version (its earlier versions stay),
        atomically and flushed to disk: a kill or a crash leaves the last save whole."""
        versions = self.versions(reading.study_uid)
        if versions and versions[-1].version == reading.version and versions[-1].signed and not reading.signed:
            raise ReadingError(f"version {reading.version} is signed: it cannot be saved over")
        if versions and versions[-1].version > reading.version:
            raise ReadingError(
                f"the reading was changed elsewhere (now version {versions[-1].version}); reopen the study"
            )
        reading.modified = _now()
        kept = [v for v in versions if v.version != reading.version] + [reading]
        document = {"format": FORMAT, "study_uid": reading.study_uid, "versions": [v.to_dict() for v in kept]}
        return self._write(self.path(reading.study_uid), json.dumps(document, indent=1) + "\n")

    def sign(self, reading: Reading, reader: str | None = None) -> Reading:
        """Make ``reading`` final: refused while it lacks what a report needs."""
        if reader is not None:
            reading.set(reader=reader)
        reading._editable()
        missing = reading.missing()
        if missing:
            raise ReadingError("not signed: the report still needs " + ", ".join(missing))
        reading.status, reading.signed_at = SIGNED, _now()
        self.save(reading)
        return reading

    def addendum(self, reading: Reading) -> Reading:
        """A new draft version amending the signed ``reading`` (which stays as it was)."""
        if not reading.signed:
            raise ReadingError("an addendum amends a signed reading; this one is still a draft")
        now = _now()
        new = dataclasses.replace(
            Reading.from_dict(reading.to_dict()),
            version=reading.version + 1,
            status=DRAFT,
            amends=reading.version,
            signed_at=None,
            created=now,
        )
        self.save(new)
        return new

    @staticmethod
    def _write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ReadingError(f"{printable(path)}: the reading could not be saved: {exc.strerror or exc}") from None
        return path


class ReadingLock:
    """One window's hold on a study's reading (an advisory lock the system drops when the
    process ends, however it ends). ``held`` False: another window holds it."""

    def __init__(self, store: ReadingStore, study_uid: str):
        import fcntl

        path = store.path(study_uid).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a+")  # held for the lock's life
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.held = True
        except OSError:
            self.held = False

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None
