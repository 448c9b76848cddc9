"""The radiologist reads a study start to finish with the keyboard (issue 41): composition,
assessments, an AI mark accepted and one dismissed, her own finding placed with a click and
linked on its other view, the reading kept and restored, another window read-only, signed
off, amended; F1 lists every key."""

import pydicom
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from synthetic import phantom, write_dicom

from mammo_viewer.main_window import MainWindow
from mammo_viewer.panels.window_layout import key_table

STUDY = "1.2.826.0.1.3680043.8.498.6161"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("read")
    views = (("R", "CC", ["A", "L"], "left"), ("L", "CC", ["P", "L"], "right"),
             ("R", "MLO", ["A", "F"], "left"), ("L", "MLO", ["P", "F"], "right"))  # fmt: skip
    for i, (side, view, orientation, wall) in enumerate(views):
        pixels, _ = phantom((240, 180), seed=20 + i, chest_wall=wall, crisp=True, mass=side == "R")
        write_dicom(
            folder / f"{side}_{view}.dcm", pixels, ImageLaterality=side, ViewPosition=view,
            PatientOrientation=orientation, ImagerPixelSpacing=[0.3, 0.3], PatientID="READ-1",
            StudyInstanceUID=STUDY,
        )  # fmt: skip
    return folder


def open_window(qtbot, weights, settings_path, folder):
    window = MainWindow(
        weights=str(weights), device="cpu", settings=QSettings(str(settings_path), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.study_settled, timeout=60000):
        window.open_path(str(folder))
    return window


def view_of(window, label):
    return next(v for v in window.views if v.isVisible() and v.key and v.title.startswith(label))


def click_on_image(qtbot, view, x, y):
    point = view.mapFromScene(view.image_to_view(x, y))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(point.x()), int(point.y())))


def test_a_study_read_start_to_finish_with_the_keyboard(qtbot, phantom_model, study, tmp_path):
    window = open_window(qtbot, phantom_model, tmp_path / "a.ini", study)
    key = lambda k, modifier=Qt.KeyboardModifier.NoModifier: qtbot.keyClick(window, k, modifier)  # noqa: E731
    alt, ctrl_shift = (
        Qt.KeyboardModifier.AltModifier,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    panel = window.reading_panel
    assert panel.isEnabled() and "version 1, draft" in panel.status.text()
    assert panel.density_hint.text().startswith("AI suggests:")  # beside the choice, not made for her
    assert window.reading.composition is None

    key(Qt.Key.Key_3, alt)  # composition c
    assert window.reading.composition == "c"
    box = panel.assessments["R"]
    box.setCurrentIndex(box.findData("4B"))
    box.activated.emit(box.currentIndex())
    assert window.reading.assessment == {"R": "4B"} and window.reading.exam == "4B"

    # The AI's marks: the first accepted (a finding), a second dismissed (kept, shown as such).
    rows = window.findings.rows
    assert len(rows) >= 2
    window.findings.lesions.setCurrentCell(0, 0)
    key("A")
    window.findings.lesions.setCurrentCell(1, 0)
    key("X")
    accepted, dismissed = window.reading.ai_marks
    assert (accepted.decision, dismissed.decision) == ("accepted", "dismissed")
    (from_ai,) = window.reading.findings
    assert from_ai.source == "ai" and from_ai.marks[0].view == rows[0].view
    assert from_ai.marks[0].third is not None and from_ai.marks[0].nipple_distance_mm is not None  # located too
    dismissed_view = window.grid.view_of(rows[1].key)[0]
    assert any(label.endswith("dismissed") for _, _, label in dismissed_view.reader_marks)
    assert any("AI mark dismissed" in panel.findings.item(i).text() for i in range(panel.findings.count()))

    # Her own finding: N, a click on the right CC (toward her left of the nipple), its kind; then
    # Shift+N and a click on the right MLO (above the nipple): one finding, two views.
    window.choose_finding_kind = lambda: "calcifications"
    cc, mlo = view_of(window, "R CC"), view_of(window, "R MLO")
    key("N")
    assert cc.marking
    nx, ny = 100.0, 150.0
    click_on_image(qtbot, cc, nx, ny)
    assert not cc.marking
    mine = window.reading.findings[-1]
    assert mine.kind == "calcifications" and mine.source == "reader" and mine.laterality == "R"
    mark = mine.marks[0]
    assert mark.view == "R CC" and abs(mark.x - nx) < 2 and mark.third in ("anterior", "middle", "posterior")
    assert mark.nipple_distance_mm is not None and mark.left_mm > 0  # rows run toward her left
    panel.findings.setCurrentRow(len(window.reading.findings) - 1)
    key("N", Qt.KeyboardModifier.ShiftModifier)
    click_on_image(qtbot, mlo, 100.0, 60.0)
    assert [m.view for m in window.reading.findings[-1].marks] == ["R CC", "R MLO"]
    assert window.reading.findings[-1].marks[1].up_mm > 0  # above the nipple: toward her head
    text = panel.findings.item(len(window.reading.findings) - 1).text()
    assert "calcifications, right breast" in text and "o'clock (upper inner)" in text and "(R CC, R MLO)" in text
    assert "F2" in {label for _, _, label in cc.reader_marks}

    # Esc cancels a mark being placed, not the analysis.
    key("N")
    key(Qt.Key.Key_Escape)
    assert not cc.marking and "Mark cancelled" in window.statusBar().currentMessage()

    # Another window on the same study: read-only, and says why.
    other = open_window(qtbot, phantom_model, tmp_path / "b.ini", study)
    assert "read-only" in other.reading_panel.status.text() and len(other.reading.findings) == 2
    other.mark_finding()
    assert not view_of(other, "R CC").marking and "read-only" in other.statusBar().currentMessage()
    other.close()
    window.activateWindow()  # the keys go to the first window again
    qtbot.waitUntil(window.isActiveWindow)

    # Signed: final; an addendum is a new version beside it.
    panel.reader.setText("Dr A. Reader")
    panel.reader.editingFinished.emit()
    key(Qt.Key.Key_Return, ctrl_shift)
    assert window.reading.signed and window.reading.reader == "Dr A. Reader"
    key("N")
    assert not cc.marking and "read-only" in window.statusBar().currentMessage()
    # The signed reading is the report's first part, in the atlas's order, and leaves as DICOM.
    from pdf_text import pdf_text

    with qtbot.waitSignal(window.export_finished, timeout=120000) as said:
        window.export_report_to(str(tmp_path / "read.pdf"))
    assert said.args[0].startswith("Report written"), said.args
    text = " ".join(pdf_text(tmp_path / "read.pdf").split())
    order = ["Indication", "Breast composition", "Findings", "Comparison", "Impression and assessment", "Management"]
    places = [text.index(title) for title in order]
    assert places == sorted(places) and places[-1] < text.index("AI analysis")
    assert "Read and signed by Dr A. Reader" in text and "c. The breasts are heterogeneously dense" in text
    assert "calcifications, right breast" in text and "[AI mark accepted]" in text
    with qtbot.waitSignal(window.export_finished, timeout=120000) as said:
        window.export_dicom_to(str(tmp_path / "dicom"))
    assert "Wrote" in said.args[0] and "Not written" not in said.args[0], said.args
    (report,) = (tmp_path / "dicom").glob("*_reading_v1_sr.dcm")
    assert pydicom.dcmread(report).VerificationFlag == "VERIFIED"
    key("A", ctrl_shift)
    assert (window.reading.version, window.reading.amends, window.reading.signed) == (2, 1, False)
    window.close()

    again = open_window(qtbot, phantom_model, tmp_path / "a.ini", study)
    assert again.reading.version == 2 and len(again.reading.findings) == 2 and again.reading.composition == "c"
    assert again.reading.model["weights_sha256"] == again.engine.predictor.serving(None).weights_sha256
    assert [v.version for v in again.readings.versions(STUDY)] == [1, 2]
    key_rows = key_table(again)
    assert ("Reading", "Mark a finding (then click it)", "N") in key_rows
    keys = [row[2] for row in key_rows]
    assert len(keys) == len(set(keys))  # no key does two things
    assert any(row[2] == "F1" for row in key_rows)
    qtbot.keyClick(again, Qt.Key.Key_F1)
    assert again.key_table_dialog.isVisible()
    again.key_table_dialog.close()
    again.close()


def test_the_readmes_key_table_is_the_apps(qtbot, tmp_path):
    """The README lists every key the menus hold, as Help > Keyboard shortcuts does."""
    from pathlib import Path

    from mammo_viewer.panels.window_layout import KEY_TABLE_END, KEY_TABLE_START, key_table_markdown

    window = MainWindow(
        weights=None, device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    written = readme.split(KEY_TABLE_START, 1)[1].split(KEY_TABLE_END, 1)[0].strip()
    assert written == key_table_markdown(window), (
        "README.md lists other keys than the menus: copy key_table_markdown() into it"
    )
    window.close()
