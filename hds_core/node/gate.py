"""Admission control in front of pynetdicom's association handling: what a peer that reaches
the listener's port can hold and send before, and after, it is known.

pynetdicom counts every TCP connection against ``maximum_associations``, gives an accepted
socket no timeout, and buffers each PDU whole at the length the peer declares (up to 4 GiB).
So one host that opens eight connections and sends nothing locks out every sender, and two
streaming into a declared 4 GiB PDU exhaust memory. The gate keeps pynetdicom's own protocol
handling and bounds it from outside:

- **Pending connections** (accepted, no A-ASSOCIATE-RQ yet) have a pool of their own, apart
  from the association slots, and ``handshake_s`` to send their request; past that, or when
  the pool is full, the oldest is closed. A peer may hold ``max_pending_per_peer`` of them.
- **Association slots** are taken only by a request whose calling AE title is allowed, at
  most ``max_associations`` in all and ``max_associations_per_peer`` per host.
- **Rate**: a host may open ``max_connections_per_window`` connections per ``window_s``.
- **PDU size**: before association no PDU over ``max_request_pdu`` bytes is read, after it
  none over the maximum we advertise; a command set over ``max_command_bytes``, a data set of
  anything but a C-STORE over ``max_other_data_bytes``, or an association's bytes past
  ``max_association_bytes`` close the connection. C-STORE data sets are streamed to disk by
  pynetdicom (``STORE_RECV_CHUNKED_DATASET``), never held in memory.
- **Refusals** are logged with the limit that refused whom; repeats within ``window_s`` are
  summarised in one line ("refused 200 connections from 127.0.0.1 in 2.0 s: no free slot").
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

C_STORE_RQ = 0x0001
REJECT_PERMANENT, REJECT_TRANSIENT = 0x01, 0x02
SOURCE_USER, SOURCE_PROVIDER_PRESENTATION = 0x01, 0x03
CALLING_AE_NOT_RECOGNISED, LOCAL_LIMIT_EXCEEDED = 0x03, 0x02


@dataclass(frozen=True)
class Limits:
    handshake_s: float = 5.0
    max_pending: int = 32
    max_pending_per_peer: int = 8
    max_associations: int = 8
    max_associations_per_peer: int = 4
    max_connections_per_window: int = 60
    window_s: float = 10.0
    max_request_pdu: int = 64 * 1024
    max_pdu: int = 64 * 1024  # what we advertise as our maximum receive length
    max_command_bytes: int = 64 * 1024
    max_other_data_bytes: int = 1024 * 1024
    max_association_bytes: int = 8 * 1024**3
    idle_s: float = 60.0


class PeerLimitError(OSError):
    """Raised inside pynetdicom's read loop: it treats an OSError as the connection closing."""


@dataclass
class _Connection:
    peer: str
    sock: socket.socket
    opened: float
    assoc: object = None
    admitted: bool = False
    closed: bool = False


class Gate:
    """The bookkeeping of one listener: connections by state and host, refusals by reason."""

    def __init__(self, limits: Limits, allow: tuple[str, ...] = ()) -> None:
        self.limits, self.allow = limits, tuple(a.strip() for a in allow)
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._opened: dict[str, deque] = {}
        self._refusals: dict[tuple[str, str], list] = {}
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="hds-node gate", daemon=True)

    def start(self) -> None:
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self._flush_refusals(force=True)

    # -- connections --------------------------------------------------------------------------
    def accept(self, sock: socket.socket, peer: str) -> bool:
        """A new TCP connection from ``peer``: False to close it at once (the host's rate)."""
        now = time.monotonic()
        evicted = []
        with self._lock:
            opened = self._opened.setdefault(peer, deque())
            while opened and now - opened[0] > self.limits.window_s:
                opened.popleft()
            if len(opened) >= self.limits.max_connections_per_window:
                refused = True
            else:
                refused = False
                opened.append(now)
                pending = [c for c in self._connections if not c.admitted and not c.closed]
                mine = [c for c in pending if c.peer == peer]
                if len(mine) >= self.limits.max_pending_per_peer:
                    evicted.append(mine[0])
                elif len(pending) >= self.limits.max_pending:
                    evicted.append(pending[0])
                for each in evicted:
                    each.closed = True
                self._connections.append(_Connection(peer, sock, now))
        if refused:
            self.refuse(
                peer,
                f"over {self.limits.max_connections_per_window} connections in {self.limits.window_s:g} s",
                what="connection",
            )
            return False
        for each in evicted:
            self.refuse(each.peer, "pending connections full: the oldest without a request closed", what="connection")
            _close(each.sock)
        return True

    def attach(self, sock: socket.socket, assoc) -> None:
        with self._lock:
            for each in self._connections:
                if each.sock is sock:
                    each.assoc = assoc

    def admit(self, assoc, calling_aet: str) -> tuple[int, int, int] | None:
        """At the A-ASSOCIATE-RQ: None when the association may go on, else the rejection's
        (result, source, reason), logged with what refused it."""
        peer = str(assoc.requestor.address)
        if self.allow and calling_aet.strip() not in self.allow:
            self.refuse(peer, f"calling AE title {calling_aet!r} is not on the allow-list")
            return REJECT_PERMANENT, SOURCE_USER, CALLING_AE_NOT_RECOGNISED
        with self._lock:
            entry = next((c for c in self._connections if c.assoc is assoc), None)
            if entry is None or entry.closed:
                return REJECT_TRANSIENT, SOURCE_PROVIDER_PRESENTATION, LOCAL_LIMIT_EXCEEDED
            admitted = [
                c for c in self._connections if c.admitted and not c.closed and (c.assoc is None or c.assoc.is_alive())
            ]
            if len(admitted) >= self.limits.max_associations:
                reason = f"no free slot ({self.limits.max_associations} associations in use)"
            elif sum(c.peer == peer for c in admitted) >= self.limits.max_associations_per_peer:
                reason = f"this host holds {self.limits.max_associations_per_peer} associations already"
            else:
                entry.admitted = True
                return None
        self.refuse(peer, reason)
        return REJECT_TRANSIENT, SOURCE_PROVIDER_PRESENTATION, LOCAL_LIMIT_EXCEEDED

    def release(self, assoc) -> None:
        """The association ended (released, aborted, its connection closed): its slot is free
        at once, not at the watcher's next look."""
        with self._lock:
            for each in self._connections:
                if each.assoc is assoc:
                    each.closed = True

    def is_admitted(self, assoc) -> bool:
        with self._lock:
            return any(c.assoc is assoc and c.admitted for c in self._connections)

    def counts(self) -> dict[str, int]:
        with self._lock:
            live = [c for c in self._connections if not c.closed]
            return {"pending": sum(not c.admitted for c in live), "associations": sum(c.admitted for c in live)}

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            late = []
            with self._lock:
                for each in self._connections:
                    alive = each.assoc is None or each.assoc.is_alive()
                    if each.closed or not alive:
                        each.closed = True
                    elif not each.admitted and now - each.opened > self.limits.handshake_s:
                        each.closed = True
                        late.append(each)
                self._connections = [c for c in self._connections if not c.closed]
            for each in late:
                self.refuse(
                    each.peer, f"no association request within {self.limits.handshake_s:g} s", what="connection"
                )
                _close(each.sock)
            self._flush_refusals()

    # -- refusals -----------------------------------------------------------------------------
    def refuse(self, peer: str, reason: str, *, what: str = "association") -> None:
        """Log a refusal: the first of its kind at once, repeats summarised once a window."""
        now = time.monotonic()
        key = (peer, f"{what}s|{reason}")
        with self._lock:
            seen = self._refusals.get(key)
            if seen is None:
                self._refusals[key] = [now, 0]
        if seen is None:
            log.warning("refused a %s from %s: %s", what, peer, reason)
        else:
            seen[1] += 1

    def _flush_refusals(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = [(k, v) for k, v in self._refusals.items() if force or now - v[0] >= self.limits.window_s]
            for key, _ in due:
                del self._refusals[key]
        for (peer, kind), (first, repeats) in due:
            if repeats:
                what, reason = kind.split("|", 1)
                log.warning("refused %d more %s from %s in %.1f s: %s", repeats, what, peer, now - first, reason)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _command_field(command: bytes) -> int | None:
    """(0000,0100) of an implicit VR little endian command set."""
    at = 0
    while at + 8 <= len(command):
        group, element, length = struct.unpack_from("<HHL", command, at)
        if (group, element) == (0x0000, 0x0100) and length == 2 and at + 10 <= len(command):
            return struct.unpack_from("<H", command, at + 8)[0]
        at += 8 + length
    return None


def gated_server(ae, address, gate: Gate, *, ssl_context, evt_handlers):
    """A running pynetdicom server whose connections pass ``gate`` (see the module's text)."""
    from pynetdicom import evt
    from pynetdicom.transport import AssociationSocket, RequestHandler, ThreadedAssociationServer

    limits = gate.limits

    class GatedSocket(AssociationSocket):
        """pynetdicom's socket with each PDU's declared length checked before it is read."""

        def gate_init(self) -> None:
            self._body: int | None = None
            self._pdu_type = 0
            self._received = 0
            self._command = bytearray()
            self._data = 0
            self._store = False

        def refused(self, why: str) -> PeerLimitError:
            # Closed here and now: pynetdicom would otherwise keep the socket until its timeout.
            _close(self.socket)
            return PeerLimitError(why)

        def recv(self, nr_bytes: int) -> bytearray:
            peer = str(self.assoc.requestor.address)
            if self._body is None:  # pynetdicom reads each PDU as 6 header bytes, then the rest
                data = super().recv(nr_bytes)
                if len(data) == 6:
                    self._pdu_type, _, length = struct.unpack(">BBL", bytes(data))
                    cap = limits.max_pdu + 6 if gate.is_admitted(self.assoc) else limits.max_request_pdu
                    if length > cap:
                        gate.refuse(peer, f"a PDU of {length} bytes, over the {cap} we accept", what="connection")
                        raise self.refused("PDU over the limit")
                    self._body = length
                return data
            self._body = None
            data = super().recv(nr_bytes)
            self._received += len(data) + 6
            if self._received > limits.max_association_bytes + limits.max_pdu:
                gate.refuse(peer, f"over {limits.max_association_bytes} bytes in one association", what="connection")
                raise self.refused("association over its byte budget")
            if self._pdu_type == 0x04:
                self._check_pdvs(peer, data)
            return data

        def _check_pdvs(self, peer: str, body: bytearray) -> None:
            at = 0
            while at + 6 <= len(body):
                length = struct.unpack_from(">L", body, at)[0]
                header = body[at + 5]
                fragment = length - 2
                if header & 1:  # a command fragment
                    self._command += body[at + 6 : at + 4 + length]
                    if len(self._command) > limits.max_command_bytes:
                        gate.refuse(peer, f"a command set over {limits.max_command_bytes} bytes", what="connection")
                        raise self.refused("command set over the limit")
                    if header & 2:
                        self._store = _command_field(bytes(self._command)) == C_STORE_RQ
                        self._command.clear()
                        self._data = 0
                else:
                    self._data += max(fragment, 0)
                    if not self._store and self._data > limits.max_other_data_bytes:
                        gate.refuse(
                            peer,
                            f"a data set over {limits.max_other_data_bytes} bytes in a message not a C-STORE",
                            what="connection",
                        )
                        raise self.refused("data set over the limit")
                at += 4 + length

    class GatedHandler(RequestHandler):
        def _create_association(self):
            assoc = super()._create_association()
            # The same socket object, made a gated one before the association starts: every
            # read passes the gate (a second socket would signal the connection twice).
            assoc.dul.socket.__class__ = GatedSocket
            assoc.dul.socket.gate_init()
            assoc.dul.artim_timer.timeout = limits.handshake_s
            gate.attach(self.request, assoc)
            return assoc

    class GatedServer(ThreadedAssociationServer):
        def verify_request(self, request, client_address) -> bool:
            request.settimeout(limits.idle_s)  # no read blocks for ever
            return gate.accept(request, str(client_address[0]))

        def shutdown(self) -> None:
            super().shutdown()
            gate.stop()

        def get_request(self):
            client, address = self.socket.accept()
            if self.ssl_context:  # the handshake runs on the connection's own thread, under the gate
                client.settimeout(limits.handshake_s)
                client = self.ssl_context.wrap_socket(client, server_side=True, do_handshake_on_connect=False)
            return client, address

    def requested(event) -> None:
        assoc = event.assoc
        rejection = gate.admit(assoc, str(assoc.requestor.primitive.calling_ae_title))
        if rejection is not None:
            assoc.acse.send_reject(*rejection)
            assoc.kill()

    # pynetdicom logs each refused peer's fault with a traceback (a log a peer can flood and
    # write into): the gate logs every refusal itself, escaped and summarised.
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    ae.maximum_associations = 10_000  # the gate's limits govern; pynetdicom's would count pending sockets
    ae.acse_timeout = limits.handshake_s
    ae.network_timeout = limits.idle_s
    ae.maximum_pdu_size = limits.max_pdu
    server = ae.make_server(
        address,
        ssl_context=ssl_context,
        evt_handlers=[
            *evt_handlers,
            (evt.EVT_REQUESTED, requested),
            *(
                (event, lambda e: gate.release(e.assoc))
                for event in (evt.EVT_RELEASED, evt.EVT_ABORTED, evt.EVT_CONN_CLOSE)
            ),
        ],
        server_class=GatedServer,
        request_handler=GatedHandler,
    )
    gate.start()
    thread = threading.Thread(target=server.serve_forever, name="hds-node listener", daemon=True)
    thread.start()
    ae._servers.append(server)
    return server
