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

import io
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .cache import Arrival, CachedStudy, StudyCache, valid_uid
from .errors import NodeError
from .nodes import LocalNode
from .sop_classes import IMAGES, STORED_CLASSES, TRANSFER_SYNTAXES

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
MAX_INSTANCE_BYTES = 2 * 1024**3
DEFAULT_MAX_ASSOCIATION_BYTES = 8 * 1024**3
DEFAULT_QUIET_S = 5.0


def _whole_pixel_data(dataset) -> bool:
    """A mammogram's pixel data is there in full: as many bytes as its rows, columns and bits
    say when uncompressed, at least one fragment when compressed (parsing reads to the end)."""
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    data = dataset.PixelData
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        return rows > 0 and columns > 0 and len(data) > 8
    expected = rows * columns * int(dataset.get("SamplesPerPixel", 1)) * int(dataset.BitsAllocated) // 8
    return rows > 0 and columns > 0 and len(data) >= expected


def _checked(event) -> tuple[bytes, str, str] | int:
    """The instance's bytes (as received, with a file meta header), study and SOP Instance UID;
    or the failure status to answer."""
    from pydicom import dcmread

    try:
        data = event.encoded_dataset(include_meta=True)
    except Exception as exc:  # noqa: BLE001 - whatever the peer sent: a status, not a crash
        log.warning("refused an instance that cannot be read (%s)", type(exc).__name__)
        return CANNOT_UNDERSTAND
    if len(data) > MAX_INSTANCE_BYTES:
        return OUT_OF_RESOURCES
    try:
        dataset = dcmread(io.BytesIO(data))
        study, sop = valid_uid(dataset.get("StudyInstanceUID")), valid_uid(dataset.get("SOPInstanceUID"))
        sop_class = str(dataset.get("SOPClassUID", ""))
        if sop_class in IMAGES and not _whole_pixel_data(dataset):
            log.warning("refused an instance whose pixel data is missing or cut short")
            return CANNOT_UNDERSTAND
    except Exception as exc:  # noqa: BLE001 - a malformed file from the network: refused with a status
        log.warning("refused a malformed instance (%s: %s)", type(exc).__name__, str(exc)[:200])
        return CANNOT_UNDERSTAND
    if study is None or sop is None:
        log.warning("refused an instance without valid Study/SOP Instance UIDs")
        return DATASET_DOES_NOT_MATCH
    if sop_class != str(event.context.abstract_syntax):
        log.warning("refused instance %s: its class %s is not its context's", sop, sop_class)
        return DATASET_DOES_NOT_MATCH
    return data, study, sop


def store_instance(
    event,
    cache: StudyCache,
    arrivals: dict[str, Arrival],
    on_instance: Callable[[Path], None] | None = None,
    budget: dict | None = None,
    max_bytes: int = DEFAULT_MAX_ASSOCIATION_BYTES,
    lock: threading.Lock | None = None,
) -> int:
    checked = _checked(event)
    if isinstance(checked, int):
        return checked
    data, study, sop = checked
    if budget is not None:
        key = id(event.assoc)
        used = budget.get(key, 0) + len(data)
        if used > max_bytes:
            log.warning("refused instance %s: the association stored more than %d bytes", sop, max_bytes)
            return OUT_OF_RESOURCES
        budget[key] = used
    # Under the listener's lock: a study is never completed while one of its instances is written.
    with lock or threading.Lock():
        try:
            arrival = arrivals.get(study)
            if arrival is None:
                arrival = arrivals[study] = cache.arrival(study)
            path = arrival.add(sop, lambda tmp: Path(tmp).write_bytes(data))
        except OSError as exc:
            log.error("could not store instance %s of study %s: %s", sop, study, exc.strerror or exc)
            return OUT_OF_RESOURCES
    if on_instance is not None:
        on_instance(path)
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


def storage_server(local: LocalNode, handler, allow: tuple[str, ...] = (), extra_handlers=()):
    """A running C-STORE SCP (and C-ECHO) on ``local.bind:local.port``; ``allow``: the only
    calling AE titles accepted (others are rejected at association and logged)."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=local.ae_title)
    ae.add_supported_context(Verification)
    for sop_class in STORED_CLASSES:
        ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
    ae.maximum_associations = 8
    ae.network_timeout = 60
    ae.dimse_timeout = 60
    if allow:
        ae.require_calling_aet = list(allow)

    def rejected(event) -> None:
        log.warning(
            "refused an association from AE title %r at %s",
            event.assoc.requestor.ae_title,
            event.assoc.requestor.address,
        )

    handlers = [(evt.EVT_C_STORE, handler), (evt.EVT_REJECTED, rejected), *extra_handlers]
    try:
        return ae.start_server(
            (local.bind, local.port), block=False, evt_handlers=handlers, ssl_context=server_tls(local)
        )
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
    ) -> None:
        self.local, self.cache, self.allow = local, cache, allow
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
        self._server = storage_server(self.local, self._store, self.allow, extra_handlers=(released, aborted))
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
        if self._watcher is not None:
            self._watcher.join(timeout=30)
