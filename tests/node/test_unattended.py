"""The unattended mode: each received study analysed once, even across a restart."""

import shutil
from pathlib import Path

import pydicom

from hds_core.commands.unattended import StudyAnalyst
from hds_core.node import LocalNode, StudyCache

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "DEMO-014"


def _receive(cache: StudyCache, uid: str, files):
    arrival = cache.arrival(uid)
    for path in files:
        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        arrival.add(sop, lambda target, source=path: shutil.copy(source, target))
    return arrival.complete()


def test_a_study_is_analysed_once_and_again_only_when_it_changes(tmp_path):
    uid = str(pydicom.dcmread(DEMO / "L_MLO.dcm", stop_before_pixels=True).StudyInstanceUID)
    cache = StudyCache(tmp_path / "cache")
    study = _receive(cache, uid, [DEMO / "L_MLO.dcm"])
    analyst = StudyAnalyst(cache, None, LocalNode(), device="cpu")
    assert analyst.analyse(study)
    assert len(list((analyst.results_of(study) / "seg").glob("*.dcm"))) == 1
    assert len(list((analyst.results_of(study) / "sr").glob("*.dcm"))) == 2  # TID 1500 and CAD SR
    restarted = StudyAnalyst(cache, None, LocalNode(), device="cpu")
    restarted.catch_up()  # after a restart: nothing analysed twice
    assert analyst.runs == 1 and restarted.runs == 0
    newer = _receive(cache, uid, [DEMO / "R_MLO.dcm"])  # the other film arrives later
    restarted.catch_up()
    assert restarted.runs == 1 and restarted.done(newer)
    assert len(list((restarted.results_of(newer) / "seg").glob("*.dcm"))) == 2


def test_the_listeners_terminal_keeps_its_lines_while_analyses_run(tmp_path):
    """hds-node listen --analyse as a user runs it: a study left from before the restart is
    caught up while a new one arrives. Each analysis runs in a child whose lines reach the
    terminal prefixed with its study; the listener's own lines go on reaching the terminal
    after both (they once ended up on a deleted temporary file)."""
    import os
    import subprocess
    import sys
    import time

    from pynetdicom import AE

    from .orthanc import free_port
    from .test_listener import MG

    cache = StudyCache(tmp_path / "cache")
    old_uid = str(pydicom.dcmread(DEMO / "L_MLO.dcm", stop_before_pixels=True).StudyInstanceUID)
    _receive(cache, old_uid, [DEMO / "L_MLO.dcm"])  # complete, never analysed: the catch-up's
    new = pydicom.dcmread(Path(DEMO).parent / "DEMO-017" / sorted(os.listdir(Path(DEMO).parent / "DEMO-017"))[0])
    port = free_port()
    env = {**os.environ, "HDS_NODES": str(tmp_path / "nodes.json"), "XDG_STATE_HOME": str(tmp_path / "state")}
    command = [sys.executable, "-m", "hds_core.commands.node", "listen", "--aet", "HDS_MAMMO", "--port", str(port)]
    command += ["--store", str(cache.root), "--allow", "MODALITY", "--quiet", "1", "--analyse", "--device", "cpu"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any("listening on" in line for line in lines):
            assert time.monotonic() < deadline and child.poll() is None, lines
            lines.append(child.stderr.readline())
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(MG, str(new.file_meta.TransferSyntaxUID))
        assoc = ae.associate("127.0.0.1", port, ae_title="HDS_MAMMO")
        assert int(assoc.send_c_store(new).Status) == 0
        assoc.release()
        deadline = time.monotonic() + 400
        while sum("analysed in" in line for line in lines) < 2:
            assert time.monotonic() < deadline and child.poll() is None, lines
            lines.append(child.stderr.readline())
    finally:
        child.terminate()
        rest = child.communicate(timeout=60)[1]
    lines += rest.splitlines()
    said = "\n".join(lines)
    assert "stopping" in said  # the listener's own last line reached the terminal
    for uid in (old_uid, str(new.StudyInstanceUID)):
        assert f"hds-node: study {uid}: hds-predict:" in said  # the child's lines, prefixed
    log = next((tmp_path / "state").rglob("hds-node.log")).read_text()
    assert "decoder output: hds-node" not in log


def test_an_image_with_no_breast_is_never_analysed_or_sent(tmp_path, caplog):
    """Issue 37's point 6 with issue 38's pixel check: an MG object whose pixels are a drawing
    (grey lines and a circle), sent to the listener, gets no SEG, no SR and no score; the log
    says why."""
    import logging

    import numpy as np
    from PIL import Image, ImageDraw
    from pydicom.uid import generate_uid
    from synthetic import write_dicom

    drawing = Image.new("L", (600, 750), 128)
    pen = ImageDraw.Draw(drawing)
    for x in range(0, 600, 30):
        pen.line([(x, 0), (x, 750)], fill=90, width=3)
    pen.ellipse([150, 220, 450, 520], outline=220, width=6)
    uid = generate_uid()
    path = write_dicom(tmp_path / "drawing.dcm", np.asarray(drawing), StudyInstanceUID=uid, ImageLaterality="L")
    cache = StudyCache(tmp_path / "cache")
    study = _receive(cache, uid, [path])
    analyst = StudyAnalyst(cache, None, LocalNode(), device="cpu")
    with caplog.at_level(logging.INFO):
        analyst.analyse(study)
    out = analyst.results_of(study)
    assert not list(out.rglob("*.dcm")) and not list(out.rglob("*.json"))
    assert "not a mammogram (no breast" in caplog.text
