"""The listener against peers that mean harm, on loopback: half-open connections, floods,
oversized PDUs, a full house, and instances nobody can read or that reuse another's UID.
Every loop is bounded in count and time and every socket is closed by the test."""

import logging
import os
import socket
import struct
import sys
import time
from contextlib import ExitStack

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless, generate_uid
from pynetdicom import AE
from synthetic import mg_dataset, phantom

from hds_core.node.gate import Limits

from .orthanc import free_port
from .test_listener import MG

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return sock


def _closed_by_peer(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except TimeoutError:
        return False
    except OSError:  # reset
        return True


def _film(**tags):
    return mg_dataset(phantom((64, 48), seed=1)[0].astype(np.uint16), **tags)


def _store(port: int, datasets, syntax=ExplicitVRLittleEndian, aet="MODALITY", classes=(MG,)):
    ae = AE(ae_title=aet)
    for each in classes:
        ae.add_requested_context(each, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title="HDS_MAMMO")
    if not assoc.is_established:
        return None
    statuses = [int(assoc.send_c_store(ds).Status) for ds in datasets]
    assoc.release()
    return statuses


def test_a_good_sender_gets_through_while_50_half_open_connections_sit_on_the_port(listener):
    server = listener(limits=Limits(handshake_s=30))  # they would stay for the whole test
    with ExitStack() as stack:
        for i in range(50):  # from two hosts, the sender's own among them
            sock = stack.enter_context(_connect(server.port, "127.0.0.2" if i % 2 else "127.0.0.1"))
            sock.sendall(b"\x01\x00\x00")  # three bytes of an A-ASSOCIATE-RQ, then nothing
        assert _store(server.port, [_film()]) == [0]
        assert server.gate.counts()["pending"] <= server.limits.max_pending


def test_a_connection_without_a_request_is_closed_after_the_handshake_time(listener):
    server = listener(limits=Limits(handshake_s=1))
    with _connect(server.port, "127.0.0.2") as sock:
        sock.sendall(b"\x01\x00\x00")
        started = time.monotonic()
        assert _closed_by_peer(sock, 6)
        assert time.monotonic() - started < 5


def test_a_declared_4_gib_pdu_is_never_buffered(listener, caplog):
    server = listener()
    with caplog.at_level(logging.WARNING, logger="hds_core.node"), _connect(server.port) as sock:
        sock.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0) + b"\x00" * 4096)
        assert _closed_by_peer(sock, 5)
    assert any("PDU of 4294967280 bytes" in r.getMessage() for r in caplog.records)
    assert _store(server.port, [_film()]) == [0]


def test_a_flood_from_one_host_is_cut_and_summarised_and_the_others_get_through(listener, caplog):
    server = listener(limits=Limits(max_connections_per_window=20, window_s=60))  # one window for the whole flood
    with caplog.at_level(logging.WARNING, logger="hds_core.node"):
        closed = 0
        for _ in range(60):
            with _connect(server.port, "127.0.0.3") as sock:
                sock.sendall(b"\xff" * 10)  # not even a PDU type
                closed += _closed_by_peer(sock, 2)
        assert closed == 60
        assert _store(server.port, [_film()]) == [0]
        server.gate.stop()  # writes the summaries now, as at the window's end
    said = [r.getMessage() for r in caplog.records]
    assert any("refused a connection from 127.0.0.3: over 20 connections" in m for m in said)
    assert any(m.startswith("refused ") and " more connections from 127.0.0.3" in m for m in said)
    assert len(said) < 15  # one line per kind of refusal, not one per connection


def test_when_every_slot_is_taken_the_log_says_so_not_that_the_caller_is_unknown(listener, caplog):
    server = listener(limits=Limits(max_associations=2, max_associations_per_peer=2))
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(MG, ExplicitVRLittleEndian)
    held = [ae.associate("127.0.0.1", server.port, ae_title="HDS_MAMMO") for _ in range(2)]
    try:
        assert all(a.is_established for a in held)
        with caplog.at_level(logging.WARNING, logger="hds_core.node"):
            third = ae.associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
            assert third.is_rejected
            time.sleep(0.2)
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "no free slot" in said and "allow-list" not in said
    finally:
        for each in held:
            each.release()
    time.sleep(0.5)
    assert _store(server.port, [_film()]) == [0]  # the slots come back


def _file_with_body(path, dataset: Dataset, meta_syntax: str, implicit: bool) -> None:
    """A file whose file meta names ``meta_syntax`` and whose data set is encoded as ``implicit`` says."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = meta_syntax
    meta.ImplementationClassUID = generate_uid()
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, implicit
    write_dataset(body, dataset)
    out = DicomBytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    path.write_bytes(out.getvalue() + body.getvalue())


def test_what_nobody_could_read_is_refused_with_a_failure_status(listener, tmp_path, monkeypatch):
    from pynetdicom import _config

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # the files' bytes, as they are
    server = listener()
    implicit_on_explicit = tmp_path / "implicit.dcm"
    _file_with_body(implicit_on_explicit, _film(), ExplicitVRLittleEndian, implicit=True)
    explicit_on_implicit = tmp_path / "explicit.dcm"
    _file_with_body(explicit_on_implicit, _film(), ImplicitVRLittleEndian, implicit=False)
    native_as_j2k = tmp_path / "j2k.dcm"
    _file_with_body(native_as_j2k, _film(), JPEG2000Lossless, implicit=False)
    sr = Dataset()
    sr.SOPClassUID, sr.SOPInstanceUID = COMPREHENSIVE_SR, generate_uid()
    sr.StudyInstanceUID, sr.Modality = generate_uid(), "SR"
    sr.add_new(0x7FE00010, "OB", b"\x00" * 64)  # an SR carrying pixel data
    sr_file = tmp_path / "sr.dcm"
    _file_with_body(sr_file, sr, ExplicitVRLittleEndian, implicit=False)

    assert _store(server.port, [implicit_on_explicit])[0] >= 0xA000
    assert _store(server.port, [explicit_on_implicit], syntax=ImplicitVRLittleEndian)[0] >= 0xA000
    assert _store(server.port, [native_as_j2k], syntax=JPEG2000Lossless)[0] >= 0xA000
    assert _store(server.port, [sr_file], classes=(COMPREHENSIVE_SR,))[0] >= 0xA000
    good = tmp_path / "good.dcm"
    _file_with_body(good, _film(), ExplicitVRLittleEndian, implicit=False)
    assert _store(server.port, [good]) == [0]  # a good one still goes in
    assert len(list(server.cache.root.rglob("*.dcm"))) == 1


def test_nothing_stored_is_replaced_and_a_uid_belongs_to_one_study(listener):
    server = listener()
    film = _film()
    assert _store(server.port, [film, film]) == [0, 0]  # the same again: a duplicate, acknowledged
    (study,) = server.complete_quiet(now=time.monotonic() + 3601)
    stored = (study.folder / f"{film.SOPInstanceUID}.dcm").read_bytes()

    impostor = Dataset()  # an SR under the mammogram's SOP Instance UID, into the complete study
    impostor.SOPClassUID, impostor.SOPInstanceUID = COMPREHENSIVE_SR, film.SOPInstanceUID
    impostor.StudyInstanceUID, impostor.Modality = film.StudyInstanceUID, "SR"
    impostor.file_meta = FileMetaDataset()
    impostor.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    assert _store(server.port, [impostor], classes=(COMPREHENSIVE_SR,))[0] >= 0xA000
    server.complete_quiet(now=time.monotonic() + 7202)
    assert (study.folder / f"{film.SOPInstanceUID}.dcm").read_bytes() == stored
    assert len(list((server.cache.root / ".conflicts").rglob("*.dcm"))) == 1

    moved = _film(StudyInstanceUID=generate_uid())
    moved.SOPInstanceUID = film.SOPInstanceUID  # the same UID in another study
    assert _store(server.port, [moved])[0] >= 0xA000


def test_an_instance_cut_off_midway_leaves_no_file_behind(listener, tmp_path, monkeypatch):
    import tempfile
    import threading

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where pynetdicom streams to
    (tmp_path / "tmp").mkdir()
    from pynetdicom.transport import AssociationSocket

    real_send = AssociationSocket.send

    def slow_send(self, data):  # the sender's PDUs 20 ms apart: the transfer takes seconds
        if self.assoc.is_requestor:
            time.sleep(0.02)
        return real_send(self, data)

    monkeypatch.setattr(AssociationSocket, "send", slow_send)
    server = listener()
    big = mg_dataset(np.zeros((2048, 2048), np.uint16))  # 8 MiB: about 130 PDUs, 2.6 s
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(MG, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    sending = threading.Thread(target=lambda: assoc.send_c_store(big), daemon=True)
    sending.start()
    deadline = time.monotonic() + 10
    while not list((tmp_path / "tmp").glob("*.dcm")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list((tmp_path / "tmp").glob("*.dcm")), "the transfer never started streaming to disk"
    # The peer dies mid-instance (pynetdicom's abort() would wait for the store to finish).
    assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
    sending.join(timeout=30)
    time.sleep(0.5)
    assert not list((tmp_path / "tmp").glob("*.dcm"))
    assert not list(server.cache.root.rglob("*.dcm"))


def _peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_listener_process_stays_under_400_mb_whatever_peers_send(tmp_path):
    """hds-node listen as a user runs it: two allowed peers store 96 MiB instances at once
    while two others stream 96 MiB into a declared 4 GiB PDU. Its peak RSS (VmHWM) stays under
    400 MB: nothing is buffered whole."""
    import subprocess
    import threading

    port = free_port()
    env = {**os.environ, "HDS_NODES": str(tmp_path / "nodes.json"), "XDG_STATE_HOME": str(tmp_path / "state")}
    env["TMPDIR"] = str(tmp_path)
    command = [sys.executable, "-m", "hds_core.commands.node", "listen", "--aet", "HDS_MAMMO", "--port", str(port)]
    command += ["--store", str(tmp_path / "cache"), "--allow", "MODALITY", "--quiet", "3600"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in child.stderr.readline():
            assert time.monotonic() < deadline and child.poll() is None, "the listener did not start"
        big = mg_dataset(np.zeros((7000, 7168), np.uint16))  # 96 MiB of pixels

        def flood() -> None:
            with _connect(port) as sock:
                sock.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0))
                chunk = b"\x00" * (1 << 20)
                try:
                    for _ in range(96):
                        sock.sendall(chunk)
                except OSError:
                    pass  # closed by the listener: what should happen

        statuses = []
        workers = [threading.Thread(target=lambda: statuses.append(_store(port, [big]))) for _ in range(2)]
        workers += [threading.Thread(target=flood) for _ in range(2)]
        for each in workers:
            each.start()
        for each in workers:
            each.join(timeout=300)
        assert statuses == [[0], [0]]
        peak = _peak_rss_mb(child.pid)
        print(f"listener peak RSS {peak:.0f} MB")
        assert peak < 400, f"peak RSS {peak:.0f} MB"
    finally:
        child.terminate()
        child.wait(timeout=30)
