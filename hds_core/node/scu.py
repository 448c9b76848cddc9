"""Talking to a remote node as its client (pynetdicom): C-ECHO, study-level C-FIND, C-GET or
C-MOVE of a study into the cache, and C-STORE of our results.

Every failure is a :class:`NodeError` that names the node and says what to check: it does not
answer (host, port, firewall), refuses the association (our AE title in its configuration,
its AE title), or answers with a failure status (the status, in words)."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import Arrival, StudyCache, valid_uid
from .errors import NodeError
from .nodes import LocalNode, Node
from .sop_classes import STORED_CLASSES, syntaxes_for

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10
RESPONSE_TIMEOUT_S = 60


@dataclass(frozen=True)
class StudyRecord:
    study_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    modalities: str
    description: str
    instances: int | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StudyQuery:
    """A study-level search; ``dates``: YYYYMMDD, or a range YYYYMMDD-YYYYMMDD whose either end
    may be left out (checked here, for the command line and the PACS tab alike)."""

    patient_id: str = ""
    patient_name: str = ""
    dates: str = ""
    accession_number: str = ""
    modality: str = "MG"

    def __post_init__(self) -> None:
        dates = self.dates.strip()
        object.__setattr__(self, "dates", dates)
        for value in dates.split("-", 1) if dates else ():
            if value and not (len(value) == 8 and value.isdigit()):
                raise NodeError(f"{dates!r} is not a date or a date range", fix="use YYYYMMDD or YYYYMMDD-YYYYMMDD")

    @property
    def study_date(self) -> str:
        """The C-FIND StudyDate: the date, or the range as DICOM writes one."""
        return self.dates


def tls_context(node: Node) -> ssl.SSLContext:
    """The client side of TLS: the system's certificate authorities, or the node's own CA file."""
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=node.tls_ca or None)
    except (OSError, ssl.SSLError) as exc:
        raise NodeError(f"{node}: cannot set up TLS ({exc})", fix="check the node's CA file") from None


def _application(local: LocalNode):
    from pynetdicom import AE

    ae = AE(ae_title=local.ae_title)
    ae.connection_timeout = CONNECT_TIMEOUT_S
    ae.acse_timeout = CONNECT_TIMEOUT_S
    ae.dimse_timeout = RESPONSE_TIMEOUT_S
    ae.network_timeout = RESPONSE_TIMEOUT_S
    return ae


def _associate(ae, node: Node, local: LocalNode, **kwargs):
    """An established association with ``node``, or a NodeError saying why not."""
    tls_args = (tls_context(node), node.host) if node.tls else None
    try:
        assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, tls_args=tls_args, **kwargs)
    except (OSError, ssl.SSLError) as exc:
        raise NodeError(
            f"{node}: cannot connect ({exc})", fix="check the host name, the port and the network"
        ) from None
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise NodeError(
            f"{node}: refused the association",
            fix=f"check that it knows our AE title {local.ae_title!r} and that its AE title is {node.ae_title!r}",
        )
    raise NodeError(
        f"{node}: does not answer at {node.host}:{node.port}",
        fix="check that it runs, the host, the port" + (" and TLS" if node.tls else " and the firewall"),
    )


def _status_words(status) -> str:
    from pynetdicom.status import code_to_category

    code = int(getattr(status, "Status", 0xFFFF))
    comment = str(getattr(status, "ErrorComment", "") or "")
    return f"status 0x{code:04X} ({code_to_category(code).lower()}{': ' + comment if comment else ''})"


def echo(node: Node, local: LocalNode) -> None:
    """C-ECHO: returns when the node answers with success."""
    from pynetdicom.sop_class import Verification

    ae = _application(local)
    ae.add_requested_context(Verification)
    assoc = _associate(ae, node, local)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if not status or int(status.Status) != 0:
        raise NodeError(
            f"{node}: C-ECHO failed ({_status_words(status) if status else 'no answer'})", fix="see its log"
        )


# A search that matches more studies than a reader can look through stops there (the PACS is
# told to cancel): the list says so, and the reader narrows the search.
MAX_STUDIES = 500


class StudyList(list):
    """The studies found; ``truncated``: the node had more than ``MAX_STUDIES``."""

    truncated = False


def find_studies(node: Node, local: LocalNode, query: StudyQuery, limit: int = MAX_STUDIES) -> StudyList:
    """Study-level C-FIND (Study Root), at most ``limit`` studies."""
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    identifier.PatientID = query.patient_id
    identifier.PatientName = query.patient_name
    identifier.StudyDate = query.study_date
    identifier.AccessionNumber = query.accession_number
    identifier.ModalitiesInStudy = query.modality
    identifier.StudyDescription = ""
    identifier.NumberOfStudyRelatedInstances = ""
    ae = _application(local)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(ae, node, local)
    records, failure = StudyList(), None
    try:
        for status, found in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
            code = int(getattr(status, "Status", 0xFFFF)) if status else None
            if code in (0xFF00, 0xFF01) and found is not None:
                record = _record(found)
                if record is not None:
                    records.append(record)
                if len(records) >= limit:
                    records.truncated = True
                    break
            elif code != 0x0000:
                failure = _status_words(status) if status else "the association ended without an answer"
    finally:
        if records.truncated:
            assoc.abort()  # the rest of the answers are not wanted
        elif assoc.is_established:
            assoc.release()
    if failure:
        raise NodeError(f"{node}: C-FIND failed ({failure})", fix="check the query and the node's log")
    return records


def _record(found) -> StudyRecord | None:
    uid = valid_uid(found.get("StudyInstanceUID", ""))
    if uid is None:
        log.warning("a C-FIND answer without a valid Study Instance UID was left out")
        return None
    count = found.get("NumberOfStudyRelatedInstances", None)
    try:
        instances = int(count) if count not in (None, "") else None
    except (TypeError, ValueError):
        instances = None
    modalities = found.get("ModalitiesInStudy", "")
    if not isinstance(modalities, str):
        modalities = "\\".join(str(m) for m in modalities)
    return StudyRecord(
        study_instance_uid=uid,
        patient_id=str(found.get("PatientID", "") or ""),
        patient_name=str(found.get("PatientName", "") or ""),
        study_date=str(found.get("StudyDate", "") or ""),
        accession_number=str(found.get("AccessionNumber", "") or ""),
        modalities=modalities,
        description=str(found.get("StudyDescription", "") or ""),
        instances=instances,
    )


@dataclass
class Retrieval:
    """What a retrieve did: the study in the cache (None when nothing came), how many instances
    were stored, refused by us (malformed) or failed at the node."""

    study: object | None = None
    stored: int = 0
    refused: int = 0
    failed: int = 0
    total: int | None = None  # as the node counts them, once it has said


class RetrieveCancelled(Exception):  # noqa: N818 - a signal, not a fault
    """The reader cancelled: the association was aborted and nothing that arrived is kept."""


def storing_handler(cache: StudyCache, arrivals: dict, on_instance: Callable[[Path], None] | None = None):
    """An EVT_C_STORE handler that writes each instance into its study's arrival (shared by the
    C-GET client and the listener): malformed data is refused with a status, never raised;
    past what one association may store (as the listener's), "out of resources"."""
    from .receive import store_instance

    budget: dict[int, int] = {}

    def handle(event):
        return store_instance(event, cache, arrivals, on_instance, budget=budget)

    return handle


def retrieve(
    node: Node,
    local: LocalNode,
    study_uid: str,
    cache: StudyCache,
    *,
    method: str = "get",
    progress: Callable[[int, int | None], None] | None = None,
    cancelled: threading.Event | None = None,
    on_instance: Callable[[Path], None] | None = None,
) -> Retrieval:
    """C-GET (``method="get"``: the node sends on our association, no inbound port needed) or
    C-MOVE (``"move"``: the node sends to our AE title, which it must know; a listener on
    ``local.port`` receives for the call's duration) of one study into ``cache``.

    ``progress(done, total)`` after each instance; ``cancelled`` set stops the retrieve (C-CANCEL)
    and drops what arrived. The study becomes complete in the cache only when the node reports
    the retrieve finished."""
    from pydicom import Dataset
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
    )

    uid = valid_uid(study_uid)
    if uid is None:
        raise NodeError(f"{study_uid!r} is not a Study Instance UID", fix="copy it from hds-node find")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = uid
    arrivals: dict[str, Arrival] = {}
    result = Retrieval()

    def counted(path: Path) -> None:
        result.stored += 1
        if progress is not None:
            progress(result.stored, result.total)
        if on_instance is not None:
            on_instance(path)

    from .receive import stream_to_disk

    storing = storing_handler(cache, arrivals, counted)

    def handler(event) -> int:
        status = storing(event)
        if status != 0x0000:
            result.refused += 1
        return status

    stream_to_disk()
    ae = _application(local)
    server = None
    if method == "get":
        model = StudyRootQueryRetrieveInformationModelGet
        ae.add_requested_context(model)
        roles = []
        for sop_class in STORED_CLASSES:
            for syntax in syntaxes_for(sop_class):
                ae.add_requested_context(sop_class, [syntax])
            roles.append(build_role(sop_class, scp_role=True))
        assoc = _associate(ae, node, local, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, handler)])
        responses_of = lambda a: a.send_c_get(identifier, model)  # noqa: E731
    elif method == "move":
        from .gate import Gate, Limits
        from .receive import storage_server

        model = StudyRootQueryRetrieveInformationModelMove
        server = storage_server(local, handler, Gate(Limits(), allow=(node.ae_title,)))
        ae.add_requested_context(model)
        try:
            assoc = _associate(ae, node, local)
        except NodeError:
            server.shutdown()  # the port is not kept for a retrieve that never started
            raise
        responses_of = lambda a: a.send_c_move(identifier, local.ae_title, model)  # noqa: E731
    else:
        raise ValueError(method)
    final = None
    try:
        for status, _ in responses_of(assoc):
            if cancelled is not None and cancelled.is_set():
                raise RetrieveCancelled
            if not status:
                final = None
                break
            final = status
            counts = [
                status.get(f"Number{kind}Suboperations", None)
                for kind in ("OfRemaining", "OfCompleted", "OfFailed", "OfWarning")
            ]
            if counts[0] is not None:  # pending: the node says how many there are in all
                result.total = sum(int(c or 0) for c in counts)
            result.failed = int(counts[2] or 0)
    except RetrieveCancelled:
        assoc.abort()
        final = None
        raise
    finally:
        if assoc.is_established:
            assoc.release()
        if server is not None:
            server.shutdown()
        code = int(final.Status) if final is not None else None
        if code not in (0x0000, 0xB000):  # cancelled, broken off or failed: nothing completes
            for arrival in arrivals.values():
                arrival.discard()
    if code is None:
        raise NodeError(f"{node}: the retrieve of study {uid} broke off", fix="try again; check the node's log")
    if code not in (0x0000, 0xB000):
        hint = (
            f"the node must know our AE title {local.ae_title!r} with our address and port {local.port}"
            if method == "move" and code == 0xA801
            else "check the node's log"
        )
        raise NodeError(f"{node}: the retrieve of study {uid} failed ({_status_words(final)})", fix=hint)
    for study, arrival in arrivals.items():
        done = arrival.complete()
        if study == uid:
            result.study = done
    return result


def send_files(node: Node, local: LocalNode, paths: list[Path]) -> int:
    """C-STORE each file as it is encoded; returns how many the node stored. A file the node
    refuses is named with its status."""
    from pydicom import dcmread

    if node.dicomweb_url:
        from .dicomweb import store_instances

        return store_instances(node, paths)
    headers = []
    for path in paths:
        try:
            header = dcmread(path, stop_before_pixels=True)
            headers.append((path, str(header.SOPClassUID), str(header.file_meta.TransferSyntaxUID)))
        except Exception as exc:  # noqa: BLE001 - any unreadable file: named, the others still go
            raise NodeError(f"{path}: cannot be sent ({exc})", fix="export the results again") from None
    ae = _application(local)
    for pair in sorted({(sop, syntax) for _, sop, syntax in headers}):
        ae.add_requested_context(pair[0], [pair[1]])
    assoc = _associate(ae, node, local)
    failures = []
    try:
        for path, _, _ in headers:
            status = assoc.send_c_store(path)
            if not status or int(status.Status) not in (0x0000, 0xB000, 0xB007, 0xB006):
                failures.append(f"{path.name}: {_status_words(status) if status else 'no answer'}")
    finally:
        if assoc.is_established:
            assoc.release()
    if failures:
        raise NodeError(f"{node}: refused " + "; ".join(failures), fix="check the node's log")
    return len(headers)
