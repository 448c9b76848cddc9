"""The reading workstation, offscreen with pytest-qt: open, analyse, threshold, layouts,
cancel, broken files, hidden PHI, screenshot mode. Uses the tiny phantom-trained weights."""

import hashlib

import pytest
from conftest import run_viewer
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from synthetic import phantom, write_dicom

import resources
from mammo_viewer.app import main as viewer_main
from mammo_viewer.main_window import MainWindow

SETTLE_MS = 60000


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, phantom_model, settings):
    weights = phantom_model
    win = MainWindow(weights=str(weights), device="cpu", settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_settle(qtbot, window, path):
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(path))


def visible_views(window):
    return [v for v in window.views if v.isVisible() and v.key]


def test_demo_opens_hangs_mirrored_and_is_analysed(qtbot, window):
    open_and_settle(qtbot, window, resources.demo_study())
    study = window.study
    assert study is not None and len(study.images) == 2  # the first patient: R MLO + L MLO
    assert all(image.prediction is not None for image in study.images.values())
    views = visible_views(window)
    assert [v.title for v in views] == ["R MLO", "L MLO"]  # right breast on the left of the screen
    # Weights without a calibration show the network's raw score, and say so.
    assert all(v.badge.startswith("score" if study.images[v.key].prediction.calibrated else "raw score") for v in views)
    assert window.findings.exam_score.text() != "—"
    assert "CPU" in window.device_label.text()


def test_threshold_moves_the_contours_without_rerunning_the_network(qtbot, window, monkeypatch):
    open_and_settle(qtbot, window, resources.demo_study())
    calls = []
    monkeypatch.setattr(window.engine.predictor, "predict", lambda *a, **k: calls.append(1))
    window.state.threshold = 0.001
    low = sum(v.contour_item.path().elementCount() for v in visible_views(window))
    rows_low = window.findings.lesions.rowCount()
    window.state.threshold = 0.999
    high = sum(v.contour_item.path().elementCount() for v in visible_views(window))
    assert low > 0 and high < low and rows_low >= window.findings.lesions.rowCount()
    assert not calls
    window.state.reset_threshold()
    assert window.state.threshold == pytest.approx(window.engine.predictor.spec.default_threshold)


def test_layouts_switch_with_one_key_each(qtbot, window, tmp_path):
    study = tmp_path / "four"
    study.mkdir()
    for i, (side, view, orientation) in enumerate(
        (("R", "CC", ["P", "L"]), ("L", "CC", ["A", "R"]), ("R", "MLO", ["P", "FL"]), ("L", "MLO", ["A", "FR"]))
    ):
        pixels, _ = phantom((160, 128), seed=i, chest_wall="right" if side == "R" else "left")
        write_dicom(
            study / f"{side}{view}.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition=view,
            PatientOrientation=orientation,
            ImagerPixelSpacing=[0.4, 0.4],
            PatientID="P1",
            StudyInstanceUID="1.2.3.4",
        )
    open_and_settle(qtbot, window, study)
    assert [v.title for v in visible_views(window)] == ["R CC", "L CC", "R MLO", "L MLO"]
    qtbot.keyClick(window, "D")
    assert [v.title for v in visible_views(window)] == ["R CC", "L CC"]
    qtbot.keyClick(window, "S")
    assert [v.title for v in visible_views(window)] == ["R CC"]
    window.turn_page(1)
    assert [v.title for v in visible_views(window)] == ["L CC"]
    qtbot.keyClick(window, "Q")
    assert len(visible_views(window)) == 4 and window.settings.value("layout") in (4, "4")


def test_cancel_stops_the_run_and_keeps_the_window_usable(qtbot, window):
    with qtbot.waitSignal(window.engine.ready, timeout=SETTLE_MS):
        pass
    with qtbot.waitSignal(window.loader.decoded, timeout=SETTLE_MS):
        window.open_path(str(resources.demo_study()))
    window.cancel_analysis()
    assert not window.engine.busy and "cancelled" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.reanalyse()
    assert all(image.prediction is not None for image in window.study.images.values())


def test_a_broken_file_is_listed_and_the_good_one_still_shows(qtbot, window, tmp_path):
    tmp_path = tmp_path / "input"
    tmp_path.mkdir()
    pixels, _ = phantom((128, 96), seed=3)
    write_dicom(tmp_path / "good.dcm", pixels, ImageLaterality="L", ViewPosition="MLO")
    (tmp_path / "broken.dcm").write_bytes(b"DICM" + b"\0" * 50)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    open_and_settle(qtbot, window, tmp_path)
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any("broken.dcm" in p for p in problems) and window.problems_dock.isVisible()
    assert [v.title for v in visible_views(window)] == ["L MLO"]
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before  # nothing written into or changed in the input folder


def test_hide_phi_removes_name_id_and_birth_date(qtbot, window, tmp_path):
    pixels, _ = phantom((128, 96), seed=4)
    write_dicom(
        tmp_path / "a.dcm",
        pixels,
        PatientName="Doe^Jane",
        PatientID="MRN12345",
        PatientBirthDate="19600102",
        ImageLaterality="R",
        ViewPosition="CC",
    )
    open_and_settle(qtbot, window, tmp_path)
    shown = window.patient_text_on_screen()
    assert "Doe" in shown and "MRN12345" in shown and "1960" in shown
    qtbot.keyClick(window, "P")
    hidden = window.patient_text_on_screen()
    assert "Doe" not in hidden and "MRN12345" not in hidden and "1960" not in hidden


def test_window_level_drag_and_presets_change_the_pixels(qtbot, window):
    open_and_settle(qtbot, window, resources.demo_study())
    view = visible_views(window)[0]
    before = view.image_item.pixmap().toImage()
    assert view.subtitle == ""  # the file's own window: no label over the breast
    # The view fits the breast the decoder found, not the whole film with its padding.
    box = window.grid.boxes[view.key]
    assert box is not None and box[2] * box[3] < 0.9 * view.image_size[0] * view.image_size[1]
    view.window_drag.emit(view.key, 120.0, 40.0)
    assert view.image_item.pixmap().toImage() != before
    assert view.subtitle.startswith("window: ")  # the reader's own window is named
    window.state.selected = view.key
    dragged = view.image_item.pixmap().toImage()
    qtbot.keyClick(window, "1")  # the file's first window (FILM), replacing the dragged one
    preset = window.grid.renderers[view.key].image.presets[0]
    assert window.state.windows[view.key] is preset and view.subtitle == f"window: {preset.name}" == "window: FILM"
    assert view.image_item.pixmap().toImage() != dragged


def broken_weights(kind: str, good, folder):
    """A copy of the tiny weights broken one way; returns (path, words the message must hold)."""
    import json
    import pickle
    import shutil

    path = folder / f"{kind}.safetensors"
    if kind == "missing":
        return path, "not found"
    shutil.copy(good, path)
    shutil.copy(good.with_suffix(".json"), path.with_suffix(".json"))
    if kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        return path, "truncated or corrupt"
    if kind == "mismatched":
        config = json.loads(path.with_suffix(".json").read_text())
        config["network"]["bottleneck_width"] *= 2
        path.with_suffix(".json").write_text(json.dumps(config))
        return path, "do not match"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=2))
        return path, "refused"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["missing", "truncated", "mismatched", "pickle"])
def test_broken_weights_still_show_images_and_say_why(qtbot, settings, phantom_model, tmp_path, kind):
    weights, words = broken_weights(kind, phantom_model, tmp_path)
    win = MainWindow(weights=str(weights), device="cpu", settings=settings)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.study_settled, timeout=SETTLE_MS):
        win.open_path(str(resources.demo_study()))
    label = win.findings.engine_label.text()
    assert "not available" in label and weights.name in label and words in label, label
    views = visible_views(win)
    assert len(views) == 2 and all(v.image_item.pixmap().width() > 0 for v in views)
    assert all(v.badge == "AI n/a" for v in views), [v.badge for v in views]
    assert win.findings.progress.text() == "AI not available"  # not "0 / 1 images analysed"
    assert "(model default)" not in win.findings.operating_label.text()  # no model, no model default
    win.close()


def test_screenshot_mode_writes_a_picture_and_fails_on_unreadable_paths(phantom_model, tmp_path):
    weights = phantom_model
    out = tmp_path / "shot.png"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_viewer(
        resources.demo_study(),
        "--screenshot",
        out,
        "--weights",
        weights,
        "--device",
        "cpu",
        "--layout",
        "4",
        "--threshold",
        "0.3",
        TMPDIR=str(scratch),
    )
    assert result.returncode == 0, result.stderr
    # The run's own settings (which hold the folders it opened) leave with it.
    assert not list(scratch.glob("mammo-viewer-*"))
    assert out.stat().st_size > 10000
    image = QImage(str(out))
    assert image.width() >= 1000  # the whole window, not a blank
    failed = run_viewer(tmp_path / "missing", "--screenshot", tmp_path / "x.png", "--weights", weights)
    assert failed.returncode == 2 and "cannot read" in failed.stderr and not (tmp_path / "x.png").exists()


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        viewer_main(["--version"])
    assert info.value.code == 0 and "mammo-viewer" in capsys.readouterr().out


def test_what_the_model_saw_shows_the_network_input_and_its_warnings(qtbot, window, tmp_path):
    tmp_path = tmp_path / "input"
    tmp_path.mkdir()
    pixels, _ = phantom((160, 128), seed=5)
    write_dicom(
        tmp_path / "raw.dcm",
        pixels,
        PresentationIntentType="FOR PROCESSING",
        ViewPosition="MLO",
        ImagerPixelSpacing=[0.4, 0.4],
    )  # no laterality
    open_and_settle(qtbot, window, tmp_path)
    window.model_input_dock.show()
    key = visible_views(window)[0].key
    window.grid.select(key)
    qtbot.waitUntil(lambda: "px at" in window.model_input.notes.text(), timeout=SETTLE_MS)
    notes = window.model_input.notes.text()
    assert "FOR PROCESSING" in notes and "laterality unknown" in notes
    assert not window.model_input.image.pixmap().isNull()


def test_switching_studies_reuses_cached_results_and_a_lesion_click_centres_it(qtbot, window, monkeypatch):
    open_and_settle(qtbot, window, resources.demo_study())
    first = window.study.study_uid
    browser = window.browser
    other = browser.topLevelItem(1).child(0)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.browser.choose(other)
    assert window.study.study_uid != first
    calls = []
    original = window.engine.add
    monkeypatch.setattr(window.engine, "add", lambda *a: (calls.append(a[0]), original(*a)))
    window.controller.settled_sent = False
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.browser.choose(browser.topLevelItem(0).child(0))
    assert window.study.study_uid == first and not calls  # cached: the network did not run again
    window.state.threshold = 0.001
    assert window.findings.lesions.rowCount() > 0
    window._centre_lesion(0)
    chosen = window.findings.rows[0]
    target_view, _ = window.grid.view_of(chosen.key)
    centre = target_view.mapToScene(target_view.viewport().rect().center())
    expected = target_view.image_to_view(*chosen.lesion.centroid_xy)
    assert abs(centre.x() - expected.x()) < 40 and abs(centre.y() - expected.y()) < 40
    assert not target_view.selected_item.path().isEmpty()


def test_shift_drag_measures_in_mm(qtbot, window):
    from PySide6.QtCore import Qt

    open_and_settle(qtbot, window, resources.demo_study())
    view = visible_views(window)[0]
    start = view.mapFromScene(view.image_to_view(100, 100))
    end = view.mapFromScene(view.image_to_view(100, 600))
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, start)
    qtbot.mouseMove(view.viewport(), end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, end)
    # 500 pixels of 0.2 mm, within a pixel or two of screen rounding at the fitted zoom.
    assert abs(view.measurement_mm() - 100.0) < 3.0


def test_export_report_and_dicom_from_the_viewer(qtbot, window, tmp_path):
    import pypdfium2 as pdfium

    open_and_settle(qtbot, window, resources.demo_study())
    out = tmp_path / "report.pdf"
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_report_to(str(out))
    assert "Report written" in blocker.args[0] and out.stat().st_size > 10000
    document = pdfium.PdfDocument(str(out))
    # The report, the hanging, a page per view.
    assert len(document) == 4 and "Demo MIAS 014" in document[0].get_textpage().get_text_range()
    document.close()
    qtbot.keyClick(window, "P")  # hide PHI: the report is de-identified too
    anonymous = tmp_path / "anon.pdf"
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS):
        window.export_report_to(str(anonymous))
    document = pdfium.PdfDocument(str(anonymous))
    assert "DEMO-014" not in document[0].get_textpage().get_text_range()
    document.close()
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_report_to(str(out))
    assert "exists" in blocker.args[0]  # never overwrites without asking
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_dicom_to(str(tmp_path / "dicom"))
    # A SEG per view; the TID 1500 SR, the CAD SR and the PDF as DICOM (no reading: no reader's SR).
    assert "Wrote 5 DICOM file(s)" in blocker.args[0]
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_report_to(str(resources.demo_study() / "x.pdf"))
    assert "inside the opened folder" in blocker.args[0] and not (resources.demo_study() / "x.pdf").exists()
