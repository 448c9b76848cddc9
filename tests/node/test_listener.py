"""The listener as another node meets it (pynetdicom as the sender): who may store, what is
refused with which status, what survives a dropped connection and a restart."""

import logging
import time

import numpy as np
import pytest
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, DigitalMammographyXRayImageStorageForPresentation
from synthetic import mg_dataset, phantom

from hds_core.node import Listener, LocalNode, StudyCache

from .orthanc import free_port

MG = DigitalMammographyXRayImageStorageForPresentation


def _films(n: int, study: str | None = None):
    study = study or generate_uid()
    return [mg_dataset(phantom((64, 48), seed=i)[0].astype(np.uint16), StudyInstanceUID=study) for i in range(n)]


def _sender(aet="MODALITY", contexts=(MG,)):
    ae = AE(ae_title=aet)
    for context in contexts:
        ae.add_requested_context(context, ExplicitVRLittleEndian)
    return ae


def test_a_study_is_stored_and_complete_once_quiet(listener):
    server = listener()
    films = _films(3)
    assoc = _sender().associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    assert assoc.is_established
    assert [int(assoc.send_c_store(ds).Status) for ds in films] == [0, 0, 0]
    assoc.release()
    assert server.cache.studies() == []  # still arriving: never shown as complete
    (study,) = server.complete_quiet(now=time.monotonic() + 3601)
    assert study.uid == films[0].StudyInstanceUID and study.instances == 3
    assert sorted(p.stem for p in study.folder.glob("*.dcm")) == sorted(ds.SOPInstanceUID for ds in films)


def test_an_unknown_calling_ae_title_is_refused_and_logged(listener, caplog):
    server = listener()
    with caplog.at_level(logging.WARNING, logger="hds_core.node"):
        assoc = _sender(aet="STRANGER").associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
        assert assoc.is_rejected
        time.sleep(0.2)
    assert any("STRANGER" in record.getMessage() for record in caplog.records)
    assert not any(server.cache.root.joinpath(".incoming").iterdir())


def test_a_class_it_has_no_use_for_is_refused_at_negotiation(listener):
    server = listener()
    assoc = _sender(contexts=(MG, CTImageStorage)).associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
    assoc.release()
    assert str(MG) in accepted and str(CTImageStorage) not in accepted


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the hostile UID, as pydicom sends it
def test_a_malformed_instance_is_refused_with_a_status_and_the_association_goes_on(listener):
    server = listener()
    good, broken, cut, hostile, after = _films(5)
    del broken.PixelData  # a mammogram without its pixels
    cut.PixelData = cut.PixelData[: len(cut.PixelData) // 2]  # and one cut short
    hostile.SOPInstanceUID = "../../../etc/passwd"  # a name from the network, never a path
    assoc = _sender().associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    statuses = [int(assoc.send_c_store(ds).Status) for ds in (good, broken, cut, hostile, after)]
    assoc.release()
    assert statuses[0] == 0 and statuses[4] == 0
    assert all(status >= 0xA000 for status in statuses[1:4])  # failures, with their status
    (study,) = server.complete_quiet(now=time.monotonic() + 3601)
    assert study.instances == 2
    assert not list(server.cache.root.rglob("passwd*"))


def test_a_peer_that_drops_mid_study_loses_nothing_already_received(listener):
    server = listener()
    films = _films(3)
    assoc = _sender().associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    assert int(assoc.send_c_store(films[0]).Status) == 0
    assert int(assoc.send_c_store(films[1]).Status) == 0
    assoc.abort()  # the connection killed mid-study
    time.sleep(0.3)
    (study,) = server.complete_quiet(now=time.monotonic() + 3601)
    assert study.instances == 2


def test_after_a_restart_the_studies_that_were_arriving_are_completed(listener):
    first = listener()
    films = _films(2)
    assoc = _sender().associate("127.0.0.1", first.port, ae_title="HDS_MAMMO")
    assert int(assoc.send_c_store(films[0]).Status) == 0
    assoc.release()
    first.stop()  # before the study was quiet
    second = listener()
    (study,) = second.complete_quiet(now=time.monotonic() + 3601)
    assert study.uid == films[0].StudyInstanceUID and study.instances == 1


def test_an_association_may_store_only_so_much(listener):
    server = listener(max_association_bytes=10_000)
    films = _films(3)  # about 6 kB each
    assoc = _sender().associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    statuses = [int(assoc.send_c_store(ds).Status) for ds in films]
    assoc.release()
    assert statuses[0] == 0 and statuses[-1] == 0xA700  # out of resources


def test_with_a_certificate_the_listener_speaks_tls_only(tmp_path):
    import shutil
    import subprocess

    from hds_core.node import Node, NodeError, echo

    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    local = LocalNode(port=free_port(), tls_cert=str(cert), tls_key=str(key))
    server = Listener(local, StudyCache(tmp_path / "cache"), allow=("HDS_MAMMO",))
    server.start()
    try:
        echo(Node("tls", "HDS_MAMMO", "localhost", server.port, tls=True, tls_ca=str(cert)), LocalNode())
        with pytest.raises(NodeError, match="does not answer|cannot connect"):
            echo(Node("plain", "HDS_MAMMO", "localhost", server.port), LocalNode())
    finally:
        server.stop()


def test_a_tomosynthesis_stack_is_accepted_and_stored_whole(listener, tmp_path):
    """Issue 40: the listener offers the Breast Tomosynthesis class; a stack arrives whole and
    reads back a frame at a time."""
    import pydicom
    from synthetic_dbt import BREAST_TOMOSYNTHESIS, dbt_volume, write_dbt

    from hds_core.io.dicom import StackReader

    volume, _ = dbt_volume(5, shape=(96, 80))
    stack = pydicom.dcmread(write_dbt(tmp_path / "rcc.dcm", volume, order=[4, 2, 0, 1, 3]))
    server = listener()
    assoc = _sender(contexts=(BREAST_TOMOSYNTHESIS,)).associate("127.0.0.1", server.port, ae_title="HDS_MAMMO")
    assert assoc.is_established
    assert int(assoc.send_c_store(stack).Status) == 0
    assoc.release()
    (study,) = server.complete_quiet(now=time.monotonic() + 3601)
    (stored,) = study.folder.glob("*.dcm")
    reader = StackReader(stored)
    assert len(reader) == 5 and all((reader.slice(i).pixels == volume[i]).all() for i in range(5))
