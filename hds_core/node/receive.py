"""Receiving instances (C-STORE SCP): the handler that stores each one into its study's arrival
in the cache, and the listener that runs it for other nodes.

Each instance is checked before it is kept: it must parse, carry valid Study and SOP Instance
UIDs and be of the class its presentation context says; anything else is refused with a DIMSE
failure status, logged, and the association goes on. An association may store at most
``max_bytes``; past that it is told "out of resources". Instances are written whole or not at
all, so a peer that drops mid-study loses nothing already received. A study is complete when
it has been quiet for ``quiet_s`` seconds; after a restart, the studies that were arriving are
picked up again."""

from __future__ import annotations

import logging
import shutil
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .cache import Arrival, CachedStudy, StudyCache
from .errors import NodeError
from .nodes import LocalNode
from .sop_classes import STORED_CLASSES, syntaxes_for

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
MAX_INSTANCE_BYTES = 2 * 1024**3
DEFAULT_MAX_ASSOCIATION_BYTES = 8 * 1024**3
DEFAULT_QUIET_S = 5.0


def stream_to_disk() -> None:
    """C-STORE data sets go to a file as they arrive, never into memory (a process-wide
    pynetdicom setting; every handler here reads the file)."""
    from pynetdicom import _config

    _config.STORE_RECV_CHUNKED_DATASET = True


def _received_file(event, spill: Path) -> tuple[Path, bool]:
    """The instance as a file (pynetdicom's, when streamed to disk) and whether it is ours to
    remove afterwards."""
    try:
        return Path(event.dataset_path), False
    except AttributeError:
        spill.parent.mkdir(parents=True, exist_ok=True)
        spill.write_bytes(event.encoded_dataset(include_meta=True))
        return spill, True


def content_digest(path: Path) -> str:
    """SHA-256 of the data set (the file meta, which each sender writes its own way, left out)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        head = handle.read(144)
        start = 0
        if len(head) == 144 and head[128:132] == b"DICM" and head[132:136] == b"\x02\x00\x00\x00":
            start = 144 + int.from_bytes(head[140:144], "little")
        handle.seek(start)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sender(event) -> str:
    try:
        return f"{event.assoc.requestor.ae_title!r} at {event.assoc.requestor.address}"
    except AttributeError:
        return "the peer"


def drop_partial(event) -> None:
    """A peer that stops mid-instance leaves pynetdicom's temporary file behind: removed."""
    try:
        message = event.assoc.dimse.message
        path = getattr(message, "_data_set_path", None) if message is not None else None
        if path:
            Path(path).unlink(missing_ok=True)
    except (AttributeError, OSError):
        pass


def store_instance(
    event,
    cache: StudyCache,
    arrivals: dict[str, Arrival],
    on_instance: Callable[[Path], None] | None = None,
    budget: dict | None = None,
    max_bytes: int = DEFAULT_MAX_ASSOCIATION_BYTES,
    lock: threading.Lock | None = None,
) -> int:
    """Check one received instance (``validate.check_instance``) and keep it in its study's
    arrival; the DIMSE status to answer. A SOP Instance UID already in another study is
    refused; one already in this study with the same content is acknowledged as a duplicate,
    with other content kept apart (``.conflicts/``), never over the first."""
    import uuid

    from .validate import UnreadableError, check_instance

    spill = cache.root / ".incoming" / f".received-{uuid.uuid4().hex}.dcm"
    try:
        path, ours = _received_file(event, spill)
    except Exception as exc:  # noqa: BLE001 - whatever the peer sent: a status, not a crash
        log.warning("refused an instance that cannot be read (%s)", type(exc).__name__)
        return CANNOT_UNDERSTAND
    try:
        size = path.stat().st_size
        if size > MAX_INSTANCE_BYTES:
            log.warning("refused an instance of %d bytes: over %d", size, MAX_INSTANCE_BYTES)
            return OUT_OF_RESOURCES
        try:
            instance = check_instance(path, str(event.context.abstract_syntax))
        except UnreadableError as refusal:
            log.warning("refused an instance from %s: %s", _sender(event), refusal)
            return refusal.status
        study, sop = instance.study_uid, instance.sop_uid
        if budget is not None:
            key = id(event.assoc)
            used = budget.get(key, 0) + size
            if used > max_bytes:
                log.warning("refused instance %s: the association stored more than %d bytes", sop, max_bytes)
                return OUT_OF_RESOURCES
            budget[key] = used
        # Under the listener's lock: a study is never completed while one of its instances is written.
        with lock or threading.Lock():
            try:
                elsewhere = cache.study_of(sop)
                if elsewhere is not None and elsewhere != study:
                    log.warning("refused instance %s of study %s: already in study %s", sop, study, elsewhere)
                    return DATASET_DOES_NOT_MATCH
                arrival = arrivals.get(study)
                if arrival is None:
                    arrival = arrivals[study] = cache.arrival(study)
                existing = arrival.existing(sop)
                if existing is not None:
                    digest = content_digest(path)
                    if digest == content_digest(existing):
                        log.info("instance %s of study %s: a duplicate of what is stored, acknowledged", sop, study)
                        arrival.last_arrival = time.monotonic()
                        return SUCCESS
                    apart = cache.keep_apart(study, sop, path, digest)
                    log.warning(
                        "instance %s of study %s reuses a stored SOP Instance UID with other content: "
                        "kept apart in %s, the stored one unchanged",
                        sop,
                        study,
                        apart,
                    )
                    return DATASET_DOES_NOT_MATCH
                stored = arrival.add(sop, lambda tmp: shutil.copyfile(path, tmp))
            except OSError as exc:
                log.error("could not store instance %s of study %s: %s", sop, study, exc.strerror or exc)
                return OUT_OF_RESOURCES
    finally:
        if ours:
            spill.unlink(missing_ok=True)
    if on_instance is not None:
        on_instance(stored)
    return SUCCESS


def server_tls(local: LocalNode) -> ssl.SSLContext | None:
    if not local.tls_cert:
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(local.tls_cert, local.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise NodeError(
            f"cannot use {local.tls_cert} for TLS ({exc})", fix="give a PEM certificate and its key"
        ) from None
    return context


def storage_server(local: LocalNode, handler, gate, extra_handlers=()):
    """A running C-STORE SCP (and C-ECHO) on ``local.bind:local.port`` behind ``gate``
    (``gate.py``: who may connect, how long they may wait, how much they may send)."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    from .gate import gated_server

    stream_to_disk()
    ae = AE(ae_title=local.ae_title)
    ae.add_supported_context(Verification)
    for sop_class in STORED_CLASSES:
        ae.add_supported_context(sop_class, list(syntaxes_for(sop_class)))
    ae.dimse_timeout = 60
    handlers = [
        (evt.EVT_C_STORE, handler),
        (evt.EVT_ABORTED, drop_partial),
        (evt.EVT_CONN_CLOSE, drop_partial),
        *extra_handlers,
    ]
    try:
        return gated_server(ae, (local.bind, local.port), gate, ssl_context=server_tls(local), evt_handlers=handlers)
    except OSError as exc:
        raise NodeError(
            f"cannot listen on {local.bind}:{local.port} ({exc.strerror or exc})",
            fix="choose another port, or stop what uses this one",
        ) from None


class Listener:
    """``hds-node listen``: receives studies into the cache; ``on_study(study)`` is called (on
    one worker thread, one study at a time) when a study has been quiet for ``quiet_s``."""

    def __init__(
        self,
        local: LocalNode,
        cache: StudyCache,
        *,
        allow: tuple[str, ...] = (),
        on_study: Callable[[CachedStudy], None] | None = None,
        quiet_s: float = DEFAULT_QUIET_S,
        max_association_bytes: int = DEFAULT_MAX_ASSOCIATION_BYTES,
        limits=None,
    ) -> None:
        from .gate import Gate, Limits

        self.local, self.cache, self.allow = local, cache, allow
        self.limits = replace(limits or Limits(), max_association_bytes=max_association_bytes)
        self.gate = Gate(self.limits, allow)
        self.on_study, self.quiet_s = on_study, quiet_s
        self.max_association_bytes = max_association_bytes
        self.arrivals: dict[str, Arrival] = {}
        self.received = 0
        self._budget: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = None
        self._watcher: threading.Thread | None = None

    def _store(self, event) -> int:
        status = store_instance(
            event, self.cache, self.arrivals, budget=self._budget, max_bytes=self.max_association_bytes, lock=self._lock
        )
        if status == SUCCESS:
            self.received += 1
        return status

    def start(self) -> None:
        from pynetdicom import evt

        for arrival in self.cache.unfinished():  # a restart: what arrived before is still there
            self.arrivals.setdefault(arrival.uid, arrival)
        released = (evt.EVT_RELEASED, lambda event: self._budget.pop(id(event.assoc), None))
        aborted = (evt.EVT_ABORTED, lambda event: self._budget.pop(id(event.assoc), None))
        self._server = storage_server(self.local, self._store, self.gate, extra_handlers=(released, aborted))
        self._watcher = threading.Thread(target=self._watch, name="hds-node quiet studies", daemon=True)
        self._watcher.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.local.port

    def _watch(self) -> None:
        while not self._stop.wait(min(0.5, self.quiet_s / 4)):
            self.complete_quiet()

    def complete_quiet(self, now: float | None = None) -> list[CachedStudy]:
        now = time.monotonic() if now is None else now
        completed = []
        with self._lock:
            quiet = [a for a in self.arrivals.values() if now - a.last_arrival >= self.quiet_s]
            for arrival in quiet:
                del self.arrivals[arrival.uid]
                try:
                    completed.append(arrival.complete())
                except OSError as exc:
                    log.error("study %s could not be completed: %s", arrival.uid, exc.strerror or exc)
        done = []
        for study in completed:
            if study is None:
                continue
            log.info("study %s complete: %d instance(s)", study.uid, study.instances)
            done.append(study)
            if self.on_study is not None:
                try:
                    self.on_study(study)
                except Exception:  # one study's analysis must not stop the listener: logged in full
                    log.exception("analysing study %s failed", study.uid)
        return done

    def stop(self) -> None:
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        self.gate.stop()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
