import os
import shutil

import pytest

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
