"""The viewer as a DICOM node: the PACS panel finds and retrieves a study from a real Orthanc and
opens it; the results of the study on screen go back into it; the nodes dialog tests and saves."""

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from hds_core.node import Node, NodeBook, load_book, save_book
from mammo_viewer.main_window import MainWindow
from mammo_viewer.pacs.nodes_dialog import NodesDialog

from .orthanc import AE_TITLE, free_port
from .test_orthanc import _series_of, _with_demo

SETTLE_MS = 120000


@pytest.fixture
def book(tmp_path, orthanc):
    path = tmp_path / "nodes.json"
    save_book(NodeBook().with_node(Node("Local Orthanc", AE_TITLE, "127.0.0.1", orthanc.dicom_port)), path)
    return path


@pytest.fixture
def window(qtbot, tmp_path, book):
    win = MainWindow(
        device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), node_book=book
    )
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_a_study_found_and_retrieved_from_the_pacs_opens_analysed_and_its_results_go_back(
    qtbot, window, orthanc, tmp_path
):
    from hds_core.node import StudyCache

    uid = _with_demo(orthanc)
    panel = window.pacs.panel
    panel._cache = StudyCache(tmp_path / "cache")
    window.pacs.show()
    assert panel.node.currentText() == "Local Orthanc"
    panel.patient_id.setText("DEMO-014")
    panel.search()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1 and panel.search_button.isEnabled(), timeout=30000)
    assert panel.table.item(0, 0).text() == "DEMO-014" and "1 study" in panel.message.text()
    window.set_hide_phi(True)  # patient details hidden: hidden in the results too
    assert panel.table.item(0, 0).text() == "—" and panel.table.item(0, 1).text() == "—"
    events = []
    panel.study_arriving.connect(lambda scan: events.append(("arriving", len(scan.images))))
    panel.study_retrieved.connect(lambda folder: events.append(("retrieved",)))
    window.engine.predicted.connect(lambda *_: events.append(("predicted",)))
    panel.retrieve(0)
    qtbot.waitUntil(
        lambda: panel.retrieve_button.isEnabled() and window.study and len(window.study.predicted()) == 2,
        timeout=SETTLE_MS,
    )
    assert Path(window.source_path) == tmp_path / "cache" / uid
    # Opened at its first film, the second added as it came; analysed once each, not reopened.
    assert events[:2] == [("arriving", 1), ("arriving", 2)] and ("retrieved",) in events
    assert events.count(("predicted",)) == 2
    panel.retrieve(0)  # complete in the cache with every image the PACS lists: no network
    assert "from the local cache" in panel.message.text() and panel.retrieve_button.isEnabled()
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as said:
        window.exports.send(window.export_request(), load_book(window.pacs.book_path).nodes[0], NodeBook().local)
    # Two SEGs, the TID 1500 SR, the CAD SR and the report as an Encapsulated PDF.
    assert said.args[0].startswith("Sent 5 result object(s)"), said.args
    series = _series_of(orthanc, uid)
    assert len(series["SEG"]) == 2 and len(series["SR"]) == 2 and len(series["DOC"]) == 1


def test_a_node_that_does_not_answer_is_said_in_the_panel(qtbot, tmp_path):
    path = tmp_path / "nodes.json"
    save_book(NodeBook().with_node(Node("Gone", "GONE", "127.0.0.1", free_port())), path)
    win = MainWindow(
        device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), node_book=path,
        load_engine=False,
    )  # fmt: skip
    qtbot.addWidget(win)
    panel = win.pacs.panel
    panel.search()
    qtbot.waitUntil(lambda: panel.search_button.isEnabled(), timeout=30000)
    assert "GONE@127.0.0.1" in panel.message.text() and "does not answer" in panel.message.text()
    panel.dates.setText("last week")
    panel.search()
    assert "not a date" in panel.message.text()
    win.close()


def test_the_nodes_dialog_tests_a_node_and_saves_only_what_is_valid(qtbot, tmp_path, orthanc):
    path = tmp_path / "nodes.json"
    dialog = NodesDialog(path)
    qtbot.addWidget(dialog)
    dialog._add_row(None)
    for column, value in enumerate(("Orthanc", AE_TITLE, "127.0.0.1", str(orthanc.dicom_port))):
        dialog.table.item(0, column).setText(value)
    dialog.test()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30000)
    assert "C-ECHO succeeded" in dialog.message.text()
    dialog.table.item(0, 3).setText("99999")
    dialog.save()
    assert "Not saved" in dialog.message.text() and "row 1" in dialog.message.text() and not path.exists()
    dialog.table.item(0, 3).setText(str(orthanc.dicom_port))
    dialog.save()
    assert load_book(path).find("Orthanc").port == orthanc.dicom_port


def test_an_arriving_study_leaves_the_window_alone_once_the_reader_opened_something_else(qtbot, tmp_path):
    import shutil

    from hds_core.io import scan_folder

    demo = Path(__file__).resolve().parents[2] / "resources" / "demo"
    arriving, other = tmp_path / "arriving", demo / "DEMO-017"
    arriving.mkdir()
    win = MainWindow(
        device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        node_book=tmp_path / "nodes.json", load_engine=False,
    )  # fmt: skip
    qtbot.addWidget(win)
    win.pacs.panel.retrieve_started.emit()
    shutil.copy(demo / "DEMO-014" / "L_MLO.dcm", arriving)
    win.pacs.arriving(scan_folder(arriving))  # the first film: the study opens
    assert win.source_path == str(arriving)
    shutil.copy(demo / "DEMO-014" / "R_MLO.dcm", arriving)
    win.pacs.arriving(scan_folder(arriving))  # the next: added
    assert len(win.study.images) == 2
    win.open_path(str(other))  # the reader moves on
    win.pacs.arriving(scan_folder(arriving))
    win.pacs.retrieved(str(arriving))
    assert win.source_path == str(other)
    win.close()


def test_the_prior_of_a_study_opened_from_a_folder_is_found_on_the_pacs_and_retrieved(
    qtbot, book, orthanc, tmp_path, phantom_model
):
    """Issue 39: a woman's three studies on the PACS, her latest opened from a folder: the one
    before it is found (C-FIND by her patient ID, MG), retrieved into the cache in the
    background and hung beside it, analysed after it; the oldest is listed for the reader."""
    from woman import DATES, write_study

    from hds_core.node import StudyCache

    for date in DATES:
        for path in write_study(tmp_path / "pacs" / date, date, mass_in=(("R", "CC"),) if date == DATES[-1] else ()):
            orthanc.upload(path)
    window = MainWindow(
        weights=str(phantom_model),
        device="cpu",
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        node_book=book,
    )
    qtbot.addWidget(window)
    window.show()
    window.pacs.panel._cache = StudyCache(tmp_path / "cache")
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(tmp_path / "pacs" / DATES[-1]))
    qtbot.waitUntil(
        lambda: window.controller.prior is not None and len(window.controller.prior.predicted()) == 4,
        timeout=SETTLE_MS,
    )
    prior = window.controller.prior
    assert prior.study_date == DATES[1]
    assert all(Path(item.path).is_relative_to(tmp_path / "cache") for item in prior.images.values())
    candidates = window.controller.prior_candidates
    assert [(c.date, c.source) for c in candidates] == [(DATES[1], "the PACS"), (DATES[0], "the PACS")]
    assert window.grid.hanging.protocol == "8-up current + prior"
    assert [(r.view, r.new_since) for r in window.findings.rows] == [("R CC", DATES[1])]
    window.close()
