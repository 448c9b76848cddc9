"""The worklist (issue 42): an hds-batch results table opened in the viewer lists its studies,
highest AI exam score first, sortable; Enter opens the row's study (the right one of two sharing
a folder); Ctrl+Shift+Down goes to the next; the rows say which studies are read; the table is
never written. The table is made here as hds-batch writes it (records.write_table), so this
test needs no Ray."""

from __future__ import annotations

import hashlib

import pytest
from conftest import viewer_on
from PySide6.QtCore import Qt
from synthetic import phantom, write_dicom

from hds_core.batch.records import write_table
from hds_core.report.reading import ReadingStore, default_readings_folder

SETTLE_MS = 120000
# (study folder, study uid, patient, date, exam score, decile)
STUDIES = [
    ("shared", "1.2.826.0.1.3680043.8.498.4201", "W-1", "20260110", 0.42, 6),
    ("shared", "1.2.826.0.1.3680043.8.498.4202", "W-2", "20260111", 0.91, 10),
    ("third", "1.2.826.0.1.3680043.8.498.4203", "W-3", "20260112", 0.12, 1),
]


@pytest.fixture
def results(tmp_path):
    rows = []
    for index, (folder, uid, patient, date, score, decile) in enumerate(STUDIES):
        (tmp_path / folder).mkdir(exist_ok=True)
        pixels, _ = phantom((160, 128), seed=60 + index, crisp=True)
        path = write_dicom(
            tmp_path / folder / f"L_CC_{index}.dcm",
            pixels,
            StudyInstanceUID=uid,
            PatientID=patient,
            StudyDate=date,
            ImageLaterality="L",
            ViewPosition="CC",
            ImagerPixelSpacing=[0.4, 0.4],
        )
        rows.append(
            {
                "study_label": f"{folder}-{index}",
                "study_uid": uid,
                "patient_id": patient,
                "patient_name": f"Woman {index}",
                "study_date": date,
                "path": str(path),
                "status": "ok",
                "score": score,
                "exam_score": score,
                "exam_decile": decile,
                "new_since": "20250111" if patient == "W-2" else None,
            }
        )
    rows.append({"study_label": "third-2", "study_uid": STUDIES[2][1], "path": str(tmp_path / "third" / "x.dcm"),
                 "status": "failed", "reason": "x.dcm: not DICOM"})  # fmt: skip
    out = tmp_path / "batch"
    write_table(out, rows)
    return out


def test_the_worklist_lists_sorts_opens_and_steps(qtbot, phantom_model, results, tmp_path):
    table = results / "results.parquet"
    before = hashlib.sha256(table.read_bytes()).hexdigest()
    # The third study was read and signed here already.
    store = ReadingStore(default_readings_folder())
    reading = store.open(STUDIES[2][1], "W-3")
    reading.set(reader="Ada Example", composition="a")
    reading.assess("L", "1")
    store.save(reading)
    store.sign(reading)

    window = viewer_on(qtbot, phantom_model, tmp_path / "third", tmp_path)
    window.open_worklist(str(results))  # the folder hds-batch wrote
    panel = window.worklist
    assert window.worklist_dock.isVisible()
    rows = [[panel.table.item(r, c).text() for c in range(9)] for r in range(panel.table.rowCount())]
    assert [row[1] for row in rows] == ["W-2", "W-1", "W-3"]  # highest exam score first
    assert rows[0][3:6] == ["0.910", "10/10", "new since 2025-01-11"] and rows[0][2] == "2026-01-11"
    assert rows[2][7] == "1" and rows[2][8] == "signed"  # one file failed; read and signed
    panel.table.sortItems(2, Qt.SortOrder.AscendingOrder)  # by date
    assert [panel.table.item(r, 1).text() for r in range(3)] == ["W-1", "W-2", "W-3"]
    panel.table.sortItems(3, Qt.SortOrder.DescendingOrder)

    # Enter opens the selected row's study: W-2, though W-1 shares its folder.
    panel.table.setFocus()
    panel.table.selectRow(0)
    panel.table.setCurrentCell(0, 0)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        qtbot.keyClick(panel.table, Qt.Key.Key_Return)
    assert window.study.study_uid == STUDIES[1][1]
    # Ctrl+Shift+Down: the next row's study, W-1, in the same folder.
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.study.study_uid == STUDIES[0][1]
    # Reading it marks its row as a draft.
    window.set_composition("b")
    assert panel.table.item(panel.table.currentRow(), 8).text() == "draft"
    assert hashlib.sha256(table.read_bytes()).hexdigest() == before  # never written

    # A file that is not a results table is named, and the app goes on.
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    window.open_worklist(str(tmp_path / "bad.parquet"))
    assert "not a results table" in window.statusBar().currentMessage()
    window.close()
