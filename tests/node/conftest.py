import os
import shutil

import pytest

from hds_core.node import Listener, LocalNode, StudyCache

from .orthanc import ORTHANC, Orthanc, free_port


@pytest.fixture
def listen_port():
    return free_port()


@pytest.fixture
def orthanc(tmp_path, listen_port):
    """A real Orthanc on free loopback ports that knows our AE title HDS_MAMMO at listen_port."""
    if not shutil.which(ORTHANC) and not os.path.exists(ORTHANC):
        if os.environ.get("HDS_REQUIRE_ORTHANC"):
            pytest.fail("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
        pytest.skip("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
    folder = tmp_path / "orthanc"
    folder.mkdir()
    server = Orthanc(folder, {"hds": ("HDS_MAMMO", listen_port)})
    yield server
    server.stop()


@pytest.fixture
def listener(tmp_path):
    """``listener(**options)``: a started Listener on a free loopback port that accepts the AE
    title MODALITY, storing into one cache per test (a second start is a restart), its studies
    completed only when the test says; stopped after the test."""
    started = []

    def start(**kwargs):
        kwargs.setdefault("allow", ("MODALITY",))
        kwargs.setdefault("quiet_s", 3600)  # completed by the test, at the time it says
        each = Listener(LocalNode(port=free_port()), StudyCache(tmp_path / "cache"), **kwargs)
        each.start()
        started.append(each)
        return each

    yield start
    for each in started:
        each.stop()
