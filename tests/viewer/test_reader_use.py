"""The viewer as a reader uses it, checked on what reaches the screen and the page: hanging
mirrored with the contours on the mass, every key binding pressed as a key, settings kept
across a restart, window presets, screenshot options, closing during decoding."""

import sys

import numpy as np
import pypdfium2 as pdfium
import pytest
from conftest import run_viewer
from PIL import Image
from pydicom.uid import JPEG2000Lossless
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage
from synthetic import phantom, write_dicom

from mammo_viewer.main_window import MainWindow
from mammo_viewer.reporting.report_pdf import CONTOUR_PRINT, write_report

SETTLE_MS = 60000


def mass_away_from_the_middle(shape, chest_wall, start_seed):
    """A crisp phantom whose mass is far from the image's middle column, so that a contour
    drawn unmirrored over a mirrored image (or the other way round) misses the mass."""
    for seed in range(start_seed, start_seed + 200):
        pixels, mask = phantom(shape, seed=seed, chest_wall=chest_wall, crisp=True, mass_radius=12)
        if abs(np.nonzero(mask)[1].mean() - shape[1] / 2) > shape[1] / 4:
            return pixels
    raise AssertionError("no seed put the mass away from the middle")


@pytest.fixture(scope="module")
def stored_the_other_way(tmp_path_factory):
    """A 4-view study stored with every breast's chest wall on the side away from the middle
    of the screen (R on the left, L on the right): each view must be mirrored to hang."""
    folder = tmp_path_factory.mktemp("mirrored")
    views = (
        ("R", "CC", ["A", "L"], "left"),
        ("L", "CC", ["P", "R"], "right"),
        ("R", "MLO", ["A", "FL"], "left"),
        ("L", "MLO", ["P", "FR"], "right"),
    )
    for i, (side, view, orientation, wall) in enumerate(views):
        pixels = mass_away_from_the_middle((200, 160), wall, 100 * i)
        write_dicom(
            folder / f"{side}_{view}.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition=view,
            PatientOrientation=orientation,
            ImagerPixelSpacing=[0.4, 0.4],
            PatientID="MIRROR",
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.5151",
        )
    return folder


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def new_window(qtbot, weights, settings):
    window = MainWindow(weights=str(weights), device="cpu", settings=settings)
    qtbot.addWidget(window)
    window.show()
    return window


def open_and_settle(qtbot, window, path):
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(path))


def visible_views(window):
    return [v for v in window.views if v.isVisible() and v.key]


def lightness(image: QImage, x: int, y: int, radius: int = 2) -> float:
    values = [
        image.pixelColor(x + dx, y + dy).lightness()
        for dx in range(-radius, radius + 1)
        for dy in range(-radius, radius + 1)
    ]
    return float(np.mean(values))


def test_views_hang_mirrored_with_the_contours_on_the_mass(qtbot, phantom_model, settings, stored_the_other_way):
    window = new_window(qtbot, phantom_model, settings)
    open_and_settle(qtbot, window, stored_the_other_way)
    window.findings.heat_box.setChecked(False)
    views = visible_views(window)
    assert [v.title for v in views] == ["R CC", "L CC", "R MLO", "L MLO"]
    for view in views:
        assert view.flip_h  # every one was stored the other way round
        shot = view.grab().toImage()
        box = view.mapFromScene(view.image_item.sceneBoundingRect()).boundingRect()
        middle_y = box.center().y()
        left = np.mean([lightness(shot, x, middle_y) for x in range(box.left() + 4, box.center().x(), 4)])
        right = np.mean([lightness(shot, x, middle_y) for x in range(box.center().x(), box.right() - 4, 4)])
        # The chest walls meet in the middle: a right breast's is on its view's right.
        assert (right > left) if view.title.startswith("R") else (left > right), (view.title, left, right)
        assert not view.contour_item.path().isEmpty(), view.title
        centre = view.mapFromScene(view.contour_item.sceneBoundingRect().center())
        assert lightness(shot, centre.x(), centre.y()) > 200, view.title  # the crisp mass is the brightest thing
    window.close()


def test_the_pdf_hangs_mirrored_with_the_contours_on_the_mass(phantom_model, stored_the_other_way, tmp_path):
    from hds_core.infer import Predictor
    from hds_core.io import read_image

    predictor = Predictor(phantom_model, device="cpu")
    analysed = [
        (image, predictor.predict(image)) for image in map(read_image, sorted(stored_the_other_way.glob("*.dcm")))
    ]
    out = write_report(analysed, 0.5, tmp_path / "r.pdf")
    document = pdfium.PdfDocument(str(out))
    try:
        for index in range(1, len(document)):  # the hanging (page 2) and each view's own page
            page = np.asarray(document[index].render(scale=3).to_pil().convert("RGB")).astype(int)
            amber = np.abs(page - [CONTOUR_PRINT.red(), CONTOUR_PRINT.green(), CONTOUR_PRINT.blue()]).sum(axis=2) < 60
            from scipy import ndimage

            labels, found = ndimage.label(ndimage.binary_dilation(amber, iterations=2))
            assert found == (4 if index == 1 else 1), (index, found)
            for label in range(1, found + 1):
                rows, cols = np.nonzero(labels == label)
                inside = page[int(rows.mean()) - 2 : int(rows.mean()) + 3, int(cols.mean()) - 2 : int(cols.mean()) + 3]
                # Inside each ring: the mass (white on the hanging; tinted by the heat map on the others).
                assert inside[..., 0].mean() > 200, (index, label, inside[..., 0].mean())
    finally:
        document.close()
    # And A4 by default, in points.
    document = pdfium.PdfDocument(str(out))
    assert tuple(round(v) for v in document[0].get_size()) == (595, 842)
    document.close()
    # What the score is worth (the weights' cross-validation) is printed under the scores.
    noted = write_report(
        analysed, 0.5, tmp_path / "noted.pdf", score_note="Cross-validated, patients unseen: films: AUC 0.58"
    )
    document = pdfium.PdfDocument(str(noted))
    assert "Cross-validated, patients unseen: films: AUC 0.58" in document[0].get_textpage().get_text_range()
    assert "Cross-validated" not in pdfium.PdfDocument(str(out))[0].get_textpage().get_text_range()
    document.close()


def test_every_key_binding_works_as_a_key_press(qtbot, phantom_model, settings, stored_the_other_way):
    window = new_window(qtbot, phantom_model, settings)
    open_and_settle(qtbot, window, stored_the_other_way)
    key = lambda k, modifier=Qt.KeyboardModifier.NoModifier: qtbot.keyClick(window, k, modifier)  # noqa: E731
    titles = lambda: [v.title for v in visible_views(window)]  # noqa: E731

    key("D")
    assert titles() == ["R CC", "L CC"]
    key(Qt.Key.Key_Space)
    assert titles() == ["R MLO", "L MLO"]
    key(Qt.Key.Key_Backspace)
    assert titles() == ["R CC", "L CC"]
    key("S")
    assert titles() == ["R CC"]
    key("Q")
    assert len(titles()) == 4

    first = visible_views(window)[0]
    window.state.selected = first.key
    presets = window.grid.renderers[first.key].image.presets  # the file's windows, then Auto, Full range
    assert len(presets) >= 2
    key("2")
    assert window.state.windows[first.key] is presets[1] and first.subtitle == f"window: {presets[1].name}"
    other = window.views[1]
    assert window.state.windows[other.key] is not presets[1]  # only the selected view changed
    before = first.image_item.pixmap().toImage()
    key("1")
    assert window.state.windows[first.key] is presets[0] and first.subtitle == f"window: {presets[0].name}"
    assert first.image_item.pixmap().toImage() != before
    before = first.image_item.pixmap().toImage()
    key("I")
    assert window.state.invert and first.image_item.pixmap().toImage() != before
    key("I")
    assert not window.state.invert

    assert window.findings.contours_box.isChecked()
    key("C")
    assert not window.findings.contours_box.isChecked() and not first.contour_item.isVisible()
    key("C")
    heat = window.findings.heat_box.isChecked()
    key("H")
    assert window.findings.heat_box.isChecked() != heat
    key("M")
    assert window.magnifier_action.isChecked()
    key("M")
    key("F")
    fitted = first.transform().m11()
    assert fitted != pytest.approx(1.0)  # a 200-row film fills a view of another height
    key("1", Qt.KeyboardModifier.ControlModifier)  # 1:1 pixels
    assert first.transform().m11() == pytest.approx(1.0)
    key("F")
    assert first.transform().m11() == pytest.approx(fitted)
    window.state.threshold = 0.2
    key("R")
    assert window.state.threshold == pytest.approx(window.engine.predictor.spec.default_threshold)
    key("P")
    assert window.phi_action.isChecked() and "MIRROR" not in window.windowTitle()
    key("P")
    key("W")
    assert window.model_input_dock.isVisible()
    key("W")
    assert not window.model_input_dock.isVisible()
    # Ctrl+R analyses what has no result; Esc cancels a run.
    for image in window.study.images.values():
        image.prediction = None
    window.controller.predictions.clear()
    key("R", Qt.KeyboardModifier.ControlModifier)
    assert window.engine.busy or window.engine.done
    key(Qt.Key.Key_Escape)
    assert not window.engine.busy and "cancelled" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        key("R", Qt.KeyboardModifier.ControlModifier)
    assert all(image.prediction is not None for image in window.study.images.values())
    window.close()


def test_settings_survive_a_restart(qtbot, phantom_model, tmp_path, stored_the_other_way):
    path = tmp_path / "settings.ini"
    window = new_window(qtbot, phantom_model, QSettings(str(path), QSettings.Format.IniFormat))
    open_and_settle(qtbot, window, stored_the_other_way)
    window.set_layout(2)
    window.findings.contours_box.setChecked(False)
    window.findings.heat_box.setChecked(True)
    window.findings.opacity.setValue(30)
    window.phi_action.setChecked(True)
    window.close()
    restarted = new_window(qtbot, phantom_model, QSettings(str(path), QSettings.Format.IniFormat))
    assert restarted.grid.layout_mode == 2 and restarted.layout_actions[2].isChecked()
    assert not restarted.findings.contours_box.isChecked() and restarted.findings.heat_box.isChecked()
    assert restarted.findings.opacity.value() == 30
    assert restarted.hide_phi and restarted.phi_action.isChecked()
    recent = [action.text() for action in restarted.recent_menu.actions()]
    assert any(str(stored_the_other_way) in text for text in recent), recent
    restarted.close()


def test_screenshot_mode_honours_layout_and_threshold(phantom_model, stored_the_other_way, tmp_path):
    shots = {}
    for name, options in (
        ("four", ["--layout", "4", "--threshold", "0.5"]),
        ("one", ["--layout", "1", "--threshold", "0.5"]),
        ("low", ["--layout", "4", "--threshold", "0.01"]),
    ):
        out = tmp_path / f"{name}.png"
        run = run_viewer(
            stored_the_other_way, "--screenshot", out, "--weights", phantom_model, "--device", "cpu", *options
        )
        assert run.returncode == 0, run.stderr
        with Image.open(out) as picture:
            shots[name] = np.asarray(picture.convert("RGB"))
    # One view instead of four; and at 0.01 the whole breast (p = 0.018 there) is outlined.
    assert shots["one"].size == shots["four"].size and (shots["one"] != shots["four"]).mean() > 0.05
    assert (shots["low"] != shots["four"]).mean() > 0.005
    missing = run_viewer(tmp_path / "missing", "--screenshot", tmp_path / "x.png", "--weights", phantom_model)
    assert missing.returncode == 2
    assert missing.stderr.count(str(tmp_path / "missing")) == 1 and "see Problems" not in missing.stderr, missing.stderr


def test_closing_during_decoding_stops_the_decoder_process(qtbot, phantom_model, settings, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for i, side in enumerate("RRLL"):
        pixels, _ = phantom((2400, 1900), seed=i)  # ~0.5 s each to decode: four keep the decoder busy
        write_dicom(
            folder / f"{side}{i}.dcm",
            pixels,
            syntax=JPEG2000Lossless,
            ImageLaterality=side,
            ViewPosition="CC" if i % 2 else "MLO",
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.6161",
        )
    window = new_window(qtbot, phantom_model, settings)
    with qtbot.waitSignal(window.loader.decoded, timeout=SETTLE_MS):
        window.open_path(str(folder))
    assert window.controller.pending_decode > 0  # the others are still decoding
    processes = list(window.loader.decoders._pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    window.close()
    assert not any(p.is_alive() for p in processes)
    assert window.loader.decoders._pool is None


@pytest.mark.parametrize("size", [(1050, 900), (640, 480), (1900, 1200)])
def test_every_label_on_an_image_fits_its_box(qtbot, phantom_model, settings, stored_the_other_way, monkeypatch, size):
    """Scale bar, titles, orientation letters, notes: no text is wider than the box it is drawn
    in (a box as wide as the bar clipped "10 mm" to "0 mm" in a real 1050x900 window)."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainter

    drawn = []
    real = QPainter.drawText

    def record(painter, *args):
        if isinstance(args[0], QRectF) and len(args) == 3 and not args[1] & int(Qt.TextFlag.TextWordWrap):
            metrics = painter.fontMetrics()
            drawn.append(
                (args[2], args[0].width(), max(metrics.horizontalAdvance(line) for line in args[2].split("\n")))
            )
        return real(painter, *args)

    monkeypatch.setattr(QPainter, "drawText", record)
    window = new_window(qtbot, phantom_model, settings)
    window.resize(*size)
    open_and_settle(qtbot, window, stored_the_other_way)
    drawn.clear()  # what was painted while the window was still being laid out
    for view in visible_views(window):
        view.grab()  # paints every annotation once
    assert any(text.endswith(" mm") for text, _, _ in drawn)  # the scale bars were drawn, whole
    assert not any(text.endswith("…") and "mm" in text for text, _, _ in drawn)
    too_wide = [(text, width, needed) for text, width, needed in drawn if needed > width]
    assert not too_wide, too_wide
    window.close()


def test_a_desktop_without_qts_system_libraries_is_told_which_to_install(monkeypatch, capsys):
    import ctypes

    from mammo_viewer import app

    real = ctypes.CDLL

    def without_icccm(name, *args, **kwargs):
        if name == "libxcb-icccm.so.4":
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", without_icccm)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    if not sys.platform.startswith("linux"):
        pytest.skip("the check is for Linux desktops")
    assert "libxcb-icccm4" in app.missing_desktop_packages()
    assert app.main([]) == 2
    assert "sudo apt-get install" in capsys.readouterr().err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.missing_desktop_packages() == []


def test_the_progress_bar_says_why_nothing_is_analysed(qtbot, phantom_model, settings, tmp_path):
    window = new_window(qtbot, phantom_model, settings)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.dcm").write_bytes(b"DICM" * 10)
    for folder in (empty, broken):
        open_and_settle(qtbot, window, folder)
        assert "0 / 1" not in window.findings.progress.text()
        assert window.findings.progress.text() in ("no image to analyse", "no readable mammogram to analyse"), (
            window.findings.progress.text()
        )
    window.close()


def test_a_digital_study_reads_its_own_score_and_trust_line(qtbot, phantom_model, settings, tmp_path):
    """Weights calibrated on films: a digital study's scores are labelled as uncalibrated marks
    (not as a probability), and the panel's trust line gives the digital figures."""
    import json
    import shutil

    weights = tmp_path / "film-calibrated.safetensors"
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    document["calibration"] = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.1, 0.3], "n": 2, "domain": "film"}
    document["cross_validation"] = {
        "minimias:/d/mini-mias": {"domain": "film", "shipped_score": {"image_auc": 0.77, "image_auc_ci": [0.7, 0.84]}},
        "folder:/d/cdd-cesm": {
            "domain": "digital",
            "shipped_score": {"lesion_sensitivity": 0.81, "fp_regions_per_image": 0.7},
        },
    }
    weights.with_suffix(".json").write_text(json.dumps(document))
    folder = tmp_path / "digital"
    folder.mkdir()
    for side, wall in (("R", "left"), ("L", "right")):
        write_dicom(
            folder / f"{side}_CC.dcm",
            mass_away_from_the_middle((200, 160), wall, 7),
            ImageLaterality=side,
            ViewPosition="CC",
            ImagerPixelSpacing=[0.4, 0.4],
            DetectorType="DIRECT",
            PatientID="DIGITAL",
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.5252",
        )
    window = new_window(qtbot, weights, settings)
    open_and_settle(qtbot, window, folder)
    assert "not calibrated" in window.findings.scores_box.title()
    assert "cdd-cesm: 81% of lesions outlined" in window.findings.trust_label.text()
    assert "mini-mias" not in window.findings.trust_label.text()
    views = [v for v in window.views if v.isVisible() and v.key]
    assert views and all(v.badge.startswith("raw score") for v in views)
    scores = [image.prediction for image in window.study.predicted()]
    assert all(p.score == p.raw_score and not p.calibrated for p in scores)
