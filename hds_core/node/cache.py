"""The local study cache: where retrieved and received studies live, one folder per study.

    <root>/<StudyInstanceUID>/          a study: complete once study.json is there, then never modified
        <SOPInstanceUID>.dcm
        study.json                      when it was completed, its instances and bytes
    <root>/.incoming/<uid>.<id>/        a new version of a complete study, still arriving
    <root>/.conflicts/<uid>/            instances that reused a SOP Instance UID with other content

A study arriving for the first time is written in its own folder, so the viewer can show its
films as they arrive; it is complete (listed, analysed, evicted) only once its study.json is
written, which happens last. A first arrival that stops (a cancelled or broken retrieve, a
stopped listener) stays there unfinished, and the next arrival of that study carries on in it.
Instances that arrive for a study already complete make a new version: the old files and the
new are put together in a fresh folder, which then takes the old one's place in one rename.
Over the size limit, the oldest complete studies are removed first (never the one just
completed).

Folder and file names come from UIDs, which come from the network: only a valid UID (digits
and dots, at most 64 characters) is ever turned into a name."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..safe_write import atomic_write_text
from .errors import NodeError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
MANIFEST = "study.json"
INCOMING = ".incoming"
CONFLICTS = ".conflicts"
DEFAULT_LIMIT_GB = 20.0
CACHE_ENV = "HDS_STUDY_CACHE"


def valid_uid(text: object) -> str | None:
    uid = str(text or "").strip().rstrip("\x00")
    return uid if len(uid) <= 64 and _UID.match(uid) else None


def default_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir("hds-mammo")) / "studies"


@dataclass(frozen=True)
class CachedStudy:
    uid: str
    folder: Path
    completed: float
    instances: int
    bytes: int


class Arrival:
    """A study being received or retrieved: instances are written one by one (each whole or not
    at all); :meth:`complete` makes the study appear in the cache, :meth:`discard` drops it."""

    def __init__(self, cache: StudyCache, uid: str, folder: Path) -> None:
        self.cache, self.uid, self.folder = cache, uid, folder
        self.in_place = folder == cache.root / uid  # a first arrival, in the study's own folder
        self.last_arrival = time.monotonic()
        self.instances = len(list(folder.glob("*.dcm")))

    def existing(self, sop_instance_uid: str) -> Path | None:
        """The file this study already holds under that SOP Instance UID: arrived in this
        arrival, or in the complete version a new version will be merged with."""
        for folder in (self.folder, self.cache.root / self.uid):
            path = folder / f"{sop_instance_uid}.dcm"
            if path.is_file():
                return path
        return None

    def add(self, sop_instance_uid: str, write) -> Path:
        """``write(path)`` writes one instance's file; a SOP Instance UID already here replaces it."""
        sop = valid_uid(sop_instance_uid)
        if sop is None:
            raise NodeError(f"study {self.uid}: {sop_instance_uid!r} is not a SOP Instance UID", fix="refused")
        target = self.folder / f"{sop}.dcm"
        temporary = self.folder / f".{sop}.{uuid.uuid4().hex}.part"
        try:
            write(temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        self.last_arrival = time.monotonic()
        self.instances = len(list(self.folder.glob("*.dcm")))
        self.cache.record_instance(sop, self.uid)
        return target

    def complete(self) -> CachedStudy | None:
        """The study in the cache with what arrived (merged with a version already there);
        None when nothing arrived."""
        return self.cache._complete(self)

    def discard(self) -> None:
        """Drop a new version that will not be completed. A first arrival stays unfinished in
        its folder (never listed as complete; the viewer may be showing it) for the next one."""
        if not self.in_place:
            shutil.rmtree(self.folder, ignore_errors=True)


class StudyCache:
    def __init__(self, root: Path | None = None, limit_bytes: int | None = None) -> None:
        self.root = Path(root) if root else default_root()
        self.limit_bytes = int(DEFAULT_LIMIT_GB * 1e9) if limit_bytes is None else int(limit_bytes)
        self._lock = threading.Lock()
        self._sops: dict[str, str] | None = None
        try:
            (self.root / INCOMING).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeError(
                f"{self.root}: cannot use as the study cache ({exc.strerror or exc})", fix="give a writable folder"
            ) from None

    def study_of(self, sop_instance_uid: str) -> str | None:
        """The study that holds this SOP Instance UID, complete or arriving (an index of the
        cache's file names, built on first use)."""
        with self._lock:
            if self._sops is None:
                self._sops = {}
                for folder in self.root.iterdir():
                    study = valid_uid(folder.name)
                    if study is None and folder.name == INCOMING:
                        for version in folder.iterdir():
                            uid = valid_uid(version.name.rsplit(".", 1)[0])
                            if uid and version.is_dir():
                                self._sops.update((f.stem, uid) for f in version.glob("*.dcm"))
                    elif study is not None and folder.is_dir():
                        self._sops.update((f.stem, study) for f in folder.glob("*.dcm"))
            return self._sops.get(sop_instance_uid)

    def record_instance(self, sop_instance_uid: str, study_uid: str) -> None:
        with self._lock:
            if self._sops is not None:
                self._sops[sop_instance_uid] = study_uid

    def keep_apart(self, study_uid: str, sop_instance_uid: str, source: Path, digest: str) -> Path:
        """An instance whose SOP Instance UID the study already holds with other content: kept
        in ``.conflicts/`` for a person to look at, never over the first."""
        folder = self.root / CONFLICTS / study_uid
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{sop_instance_uid}.{digest[:16]}.dcm"
        shutil.copyfile(source, target)
        return target

    def arrival(self, study_uid: str) -> Arrival:
        uid = valid_uid(study_uid)
        if uid is None:
            raise NodeError(f"{study_uid!r} is not a Study Instance UID", fix="refused")
        with self._lock:
            folder = self.root / uid
            if (folder / MANIFEST).exists():  # complete already: a new version, beside it
                folder = self.root / INCOMING / f"{uid}.{uuid.uuid4().hex[:12]}"
            folder.mkdir(parents=True, exist_ok=True)
        return Arrival(self, uid, folder)

    def unfinished(self) -> list[Arrival]:
        """Studies left arriving by a process that stopped (a restart): nothing received is lost."""
        arrivals = []
        first = [f for f in sorted(self.root.iterdir()) if valid_uid(f.name) and not (f / MANIFEST).exists()]
        versions = [f for f in sorted((self.root / INCOMING).iterdir()) if valid_uid(f.name.rsplit(".", 1)[0])]
        for folder in first + versions:
            if folder.is_dir():
                for leftover in folder.glob(".*.part"):
                    leftover.unlink(missing_ok=True)  # a file cut off mid-write
                uid = folder.name if folder in first else folder.name.rsplit(".", 1)[0]
                arrivals.append(Arrival(self, uid, folder))
        return arrivals

    def get(self, study_uid: str) -> CachedStudy | None:
        uid = valid_uid(study_uid)
        if uid is None:
            return None
        folder = self.root / uid
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return CachedStudy(
            uid, folder, float(manifest["completed"]), int(manifest["instances"]), int(manifest["bytes"])
        )

    def studies(self) -> list[CachedStudy]:
        """The complete studies, oldest first."""
        found = [self.get(folder.name) for folder in self.root.iterdir() if not folder.name.startswith(".")]
        return sorted((s for s in found if s is not None), key=lambda s: s.completed)

    def _complete(self, arrival: Arrival) -> CachedStudy | None:
        with self._lock:
            arrived = list(arrival.folder.glob("*.dcm"))
            if not arrived:
                if arrival.in_place:
                    shutil.rmtree(arrival.folder, ignore_errors=True)
                else:
                    arrival.discard()
                return None
            target = self.root / arrival.uid
            if not arrival.in_place:  # a new version: the old files, then the new ones over them
                for old in target.glob("*.dcm"):
                    if not (arrival.folder / old.name).exists():
                        shutil.copy2(old, arrival.folder / old.name)
            files = list(arrival.folder.glob("*.dcm"))
            manifest = {
                "study_instance_uid": arrival.uid,
                "completed": time.time(),
                "instances": len(files),
                "bytes": sum(f.stat().st_size for f in files),
            }
            # Written last, whole (the study is complete from this moment on).
            atomic_write_text(arrival.folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
            if arrival.in_place:
                pass
            elif target.exists():
                retired = self.root / INCOMING / f".retired-{arrival.uid}.{uuid.uuid4().hex[:8]}"
                os.replace(target, retired)
                os.replace(arrival.folder, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(arrival.folder, target)
            self._evict(keep=arrival.uid)
        return self.get(arrival.uid)

    def _evict(self, keep: str) -> None:
        studies = self.studies()
        total = sum(s.bytes for s in studies)
        for study in studies:
            if total <= self.limit_bytes:
                break
            if study.uid == keep:
                continue
            shutil.rmtree(study.folder, ignore_errors=True)
            total -= study.bytes
            self._sops = None  # rebuilt on next use
