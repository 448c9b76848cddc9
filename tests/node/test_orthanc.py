"""The node against a real PACS (Orthanc): the demo films stored into it, found, retrieved,
analysed, and the SEG and SR sent back into the same study."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

from hds_core.commands import node as node_command
from hds_core.commands import predict
from hds_core.node import LocalNode, Node, StudyCache, retrieve

from .orthanc import AE_TITLE

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "DEMO-014"


def _with_demo(orthanc) -> str:
    for path in sorted(DEMO.glob("*.dcm")):
        orthanc.upload(path)
    return str(pydicom.dcmread(next(DEMO.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


def _address(orthanc) -> str:
    return f"{AE_TITLE}@127.0.0.1:{orthanc.dicom_port}"


def _dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's errors on ``path`` (dicom3tools; CI installs it, elsewhere the check is skipped)."""
    if not shutil.which("dciodvfy"):
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [line for line in checked.stderr.splitlines() if line.startswith("Error")]


def _series_of(orthanc, study_uid: str) -> dict[str, list[str]]:
    """Modality -> instance ids of the study in Orthanc."""
    found = orthanc.post("/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}})
    assert len(found) == 1, found
    out: dict[str, list[str]] = {}
    for series_id in orthanc.get(f"/studies/{found[0]}")["Series"]:
        series = orthanc.get(f"/series/{series_id}")
        out.setdefault(series["MainDicomTags"].get("Modality", ""), []).extend(series["Instances"])
    return out


def test_echo_find_and_get_the_demo_study(orthanc, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    uid = _with_demo(orthanc)
    assert node_command.main(["echo", _address(orthanc)]) == 0
    capsys.readouterr()
    assert node_command.main(["find", _address(orthanc), "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["StudyInstanceUID"] == uid
    assert record["PatientID"] == "DEMO-014" and record["StudyDate"] == "20260101"
    assert record["NumberOfStudyRelatedInstances"] == 2
    assert node_command.main(["get", _address(orthanc), "--study", uid, "--to", str(tmp_path / "cache")]) == 0
    files = sorted((tmp_path / "cache" / uid).glob("*.dcm"))
    assert len(files) == 2
    for path in files:  # as acquired: the same bytes of pixel data, the same encoding
        original = pydicom.dcmread(
            DEMO / ("L_MLO.dcm" if "L" in pydicom.dcmread(path).ImageLaterality else "R_MLO.dcm")
        )
        assert pydicom.dcmread(path).PixelData == original.PixelData
    assert not list((tmp_path / "cache" / ".incoming").iterdir())  # nothing half-retrieved left


def test_a_study_retrieved_by_c_move_arrives_at_our_listener(orthanc, tmp_path, listen_port):
    uid = _with_demo(orthanc)
    node = Node("orthanc", AE_TITLE, "127.0.0.1", orthanc.dicom_port)
    result = retrieve(node, LocalNode(port=listen_port), uid, StudyCache(tmp_path / "cache"), method="move")
    assert result.study is not None and result.study.instances == 2


def test_the_results_go_back_into_the_study_and_dciodvfy_accepts_them(orthanc, tmp_path, monkeypatch):
    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    uid = _with_demo(orthanc)
    cache = tmp_path / "cache"
    assert node_command.main(["get", _address(orthanc), "--study", uid, "--to", str(cache)]) == 0
    code = predict.main([str(cache / uid), "--out", str(tmp_path / "json"), "--send-to", _address(orthanc)])
    assert code == predict.EXIT_OK
    series = _series_of(orthanc, uid)
    assert len(series["MG"]) == 2 and len(series["SEG"]) == 2 and len(series["SR"]) == 2  # TID 1500 and CAD SR
    for instance in series["SEG"] + series["SR"]:
        response = __import__("requests").get(f"{orthanc.url}/instances/{instance}/file", timeout=30)
        path = tmp_path / f"{instance}.dcm"
        path.write_bytes(response.content)
        errors = _dciodvfy_errors(path)
        assert not errors, errors


def test_results_sent_by_stow_rs_to_the_dicomweb_server(orthanc, tmp_path, monkeypatch):
    from hds_core.node import NodeBook, save_book

    uid = _with_demo(orthanc)
    book = NodeBook().with_node(
        Node("web", AE_TITLE, "127.0.0.1", orthanc.dicom_port, dicomweb_url=f"{orthanc.url}/dicom-web")
    )
    save_book(book, tmp_path / "nodes.json")
    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    code = predict.main([str(DEMO), "--out", str(tmp_path / "json"), "--send-to", "web"])
    assert code == predict.EXIT_OK
    series = _series_of(orthanc, uid)
    assert len(series["SEG"]) == 2 and len(series["SR"]) == 2  # TID 1500 and CAD SR


def test_a_node_that_does_not_answer_is_named_with_what_to_check(tmp_path, capsys, monkeypatch):
    from .orthanc import free_port

    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    address = f"NOBODY@127.0.0.1:{free_port()}"
    assert node_command.main(["echo", address]) == node_command.EXIT_NOTHING
    err = capsys.readouterr().err
    assert "NOBODY@127.0.0.1" in err and ("host" in err or "port" in err)
    assert node_command.main(["echo", "no-such-node"]) == node_command.EXIT_NOTHING
    assert "AET@host:port" in capsys.readouterr().err


def test_orthanc_pushes_a_study_to_the_listener_and_gets_the_results_back(orthanc, tmp_path, listen_port):
    uid = _with_demo(orthanc)
    store = tmp_path / "store"
    command = [
        sys.executable, "-m", "hds_core.commands.node", "listen", "--aet", "HDS_MAMMO", "--port", str(listen_port),
        "--store", str(store), "--analyse", "--send-to", _address(orthanc), "--allow", AE_TITLE, "--quiet", "1",
    ]  # fmt: skip
    listener = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_line(listener, "listening on")
        (study_id,) = orthanc.post("/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": uid}})
        orthanc.post("/modalities/hds/store", {"Resources": [study_id], "Synchronous": True})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(_series_of(orthanc, uid).get("SR", [])) < 2:
            time.sleep(1)
        series = _series_of(orthanc, uid)
        assert len(series.get("SEG", [])) == 2 and len(series.get("SR", [])) == 2  # TID 1500 and CAD SR
        assert (store / uid / "study.json").exists()
    finally:
        listener.terminate()
        listener.wait(timeout=60)


def _wait_for_line(process, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if text in line:
            return line
        if not line and process.poll() is not None:
            break
    pytest.fail(f"no {text!r} from the listener: {''.join(seen)[-2000:]}")


def test_on_request_the_pdf_goes_back_too_as_an_encapsulated_pdf(orthanc, tmp_path, monkeypatch):
    import requests

    from mammo_viewer.headless import main as hds_predict  # the installed hds-predict: it draws the PDF

    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    uid = _with_demo(orthanc)
    argv = [str(DEMO), "--out", str(tmp_path / "json"), "--pdf", str(tmp_path / "report.pdf")]
    assert hds_predict([*argv, "--send-pdf"]) == predict.EXIT_NOTHING  # --send-pdf needs --send-to
    assert hds_predict([*argv, "--send-to", _address(orthanc), "--send-pdf"]) == predict.EXIT_OK
    (document,) = _series_of(orthanc, uid)["DOC"]
    path = tmp_path / "report.dcm"
    path.write_bytes(requests.get(f"{orthanc.url}/instances/{document}/file", timeout=30).content)
    wrapped = pydicom.dcmread(path)
    assert wrapped.EncapsulatedDocument[: wrapped.EncapsulatedDocumentLength] == (tmp_path / "report.pdf").read_bytes()
    assert wrapped.StudyInstanceUID == uid and wrapped.PatientID == "DEMO-014"
    errors = _dciodvfy_errors(path)
    assert not errors, errors


def test_a_push_from_a_calling_ae_title_not_allowed_is_refused(orthanc, tmp_path, listen_port, caplog):
    import logging

    import requests

    from hds_core.node import Listener

    uid = _with_demo(orthanc)
    listener = Listener(LocalNode(port=listen_port), StudyCache(tmp_path / "cache"), allow=("SOMEONE_ELSE",))
    listener.start()
    try:
        (study_id,) = orthanc.post("/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": uid}})
        with caplog.at_level(logging.WARNING, logger="hds_core.node"):
            response = requests.post(
                f"{orthanc.url}/modalities/hds/store", json={"Resources": [study_id], "Synchronous": True}, timeout=60
            )
        assert not response.ok  # Orthanc's store job failed: the association was rejected
        assert any(AE_TITLE in record.getMessage() for record in caplog.records)
        assert listener.complete_quiet(now=time.monotonic() + 3600) == []
        assert not (tmp_path / "cache" / uid).exists()
    finally:
        listener.stop()


def test_a_search_matching_more_studies_than_the_limit_stops_there_and_says_so(orthanc):
    from hds_core.node import StudyQuery, find_studies

    for path in sorted(DEMO.parent.glob("*/*.dcm")):  # the four demo studies
        orthanc.upload(path)
    node = Node("orthanc", AE_TITLE, "127.0.0.1", orthanc.dicom_port)
    every = find_studies(node, LocalNode(), StudyQuery())
    assert len(every) == 4 and not every.truncated
    first = find_studies(node, LocalNode(), StudyQuery(), limit=2)
    assert len(first) == 2 and first.truncated


def _dataset_bytes(data: bytes) -> bytes:
    """A Part 10 file's data set, after its File Meta Information (which a C-STORE receiver
    writes itself: the meta group is not sent over the network)."""
    import struct

    assert data[128:132] == b"DICM"
    (group_length,) = struct.unpack("<I", data[140:144])  # (0002,0000) UL, explicit VR
    return data[144 + group_length :]


def test_the_cad_sr_readers_report_and_pdf_make_the_round_trip_and_a_resend_is_one_object(
    orthanc, tmp_path, monkeypatch
):
    """hds-predict with a signed reading sends the SEGs, the TID 1500 SR, the Mammography CAD SR,
    the reader's report and the PDF into the study; Orthanc gives each back with the same data
    set (C-STORE) and, uploaded over REST, the very same file; sent again, each is still one
    object in Orthanc."""
    import requests

    from hds_core.report.reading import Mark, ReadingStore
    from mammo_viewer.headless import main as hds_predict  # the installed hds-predict: it draws the PDF

    monkeypatch.setenv("HDS_NODES", str(tmp_path / "nodes.json"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    uid = _with_demo(orthanc)
    film = pydicom.dcmread(sorted(DEMO.glob("*.dcm"))[0], stop_before_pixels=True)
    store = ReadingStore(tmp_path / "readings")
    reading = store.open(uid, "DEMO-014")
    reading.set(reader="Ada Example", composition="b", indication="Screening")
    reading.assess("L", "4A")
    reading.add_finding("mass", Mark(str(film.SOPInstanceUID), "L MLO", 300.0, 600.0), "L")
    store.save(reading)
    store.sign(reading)
    for run in ("first", "again"):
        argv = [str(DEMO), "--out", str(tmp_path / run / "json"), "--pdf", str(tmp_path / run / "report.pdf")]
        argv += ["--sr-dir", str(tmp_path / run / "sr"), "--readings", str(tmp_path / "readings")]
        assert hds_predict([*argv, "--send-to", _address(orthanc), "--send-pdf"]) == predict.EXIT_OK
        stored = _series_of(orthanc, uid)
        assert {modality: len(ids) for modality, ids in stored.items()} == {"MG": 2, "SEG": 2, "SR": 3, "DOC": 1}
    by_sop = {}
    for instance in [i for ids in stored.values() for i in ids]:
        by_sop[orthanc.get(f"/instances/{instance}/simplified-tags")["SOPInstanceUID"]] = instance
    # Orthanc keeps the first of two objects with one SOP Instance UID: the first run's files.
    written = sorted((tmp_path / "first" / "sr").glob("*.dcm"))
    assert len(written) == 4  # TID 1500, CAD SR, the reader's report, the PDF
    for path in written:
        sop = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
        back = requests.get(f"{orthanc.url}/instances/{by_sop[sop]}/file", timeout=30).content
        assert _dataset_bytes(back) == _dataset_bytes(path.read_bytes()), path.name
    # Over REST, Orthanc keeps the file as it came: byte for byte.
    cad = next(p for p in written if p.name.endswith("_cad_sr.dcm"))
    requests.delete(f"{orthanc.url}/instances/{by_sop[pydicom.dcmread(cad).SOPInstanceUID]}", timeout=30)
    instance = orthanc.upload(cad)["ID"]
    assert requests.get(f"{orthanc.url}/instances/{instance}/file", timeout=30).content == cad.read_bytes()


def test_hds_batch_analyses_the_studies_a_pacs_query_finds(orthanc, tmp_path, phantom_model):
    """``hds-batch --pacs NODE``: the query's studies, each retrieved (C-GET) by the worker that
    analyses it into the run's own cache, analysed and in the table."""
    import os

    pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[scale]"')
    from hds_core.batch.records import OK, read_table

    uid = _with_demo(orthanc)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "hds_core.batch.cli", "--pacs", _address(orthanc), "--out", str(out)]
    command += ["--weights", str(phantom_model), "--device", "cpu", "--workers", "2"]
    env = {**os.environ, "HDS_NODES": str(tmp_path / "nodes.json"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = read_table(out / "results.parquet")
    assert len(rows) == 2 and all(row["status"] == OK for row in rows), rows
    assert {row["study_uid"] for row in rows} == {uid}
    assert len(list(out.glob("*.json"))) == 2
    assert "1/1 studies" in run.stderr
