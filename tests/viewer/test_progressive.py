"""The viewer on JPEG 2000 films: a reduced level on screen first, the network on its own level
(the same input as from the full decode), full resolution after the analysis or as soon as a
view needs it, contours in the full image's pixels throughout."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import JPEG2000Lossless
from PySide6.QtCore import QSettings
from synthetic import phantom, write_dicom

from hds_core.infer import DomainModels
from hds_core.io import read_image
from mammo_viewer.pictures.view_pictures import DETAIL_LOADING

VIEWS = (("R", "CC", ["P", "L"]), ("L", "CC", ["A", "R"]), ("R", "MLO", ["P", "FL"]), ("L", "MLO", ["A", "FR"]))
SHAPE = (2048, 1664)


@pytest.fixture(scope="module")
def j2k_study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("j2k") / "study"
    folder.mkdir()
    for i, (side, view, orientation) in enumerate(VIEWS):
        film, _ = phantom(SHAPE, seed=20 + i, mass=i % 2 == 0, chest_wall="right" if side == "R" else "left")
        write_dicom(
            folder / f"{side}_{view}.dcm",
            film,
            syntax=JPEG2000Lossless,
            ImageLaterality=side,
            ViewPosition=view,
            PatientOrientation=orientation,
            ImagerPixelSpacing=[0.07, 0.07],
            PatientID="PROG",
            StudyInstanceUID="1.2.826.0.1.77",
        )
    return folder


@pytest.fixture(scope="module")
def shipped() -> DomainModels:
    """What the viewer runs: one model per domain."""
    return DomainModels(device="cpu")


def open_window(qtbot, folder: Path, tmp_path: Path, *, on_decoded=None):
    from mammo_viewer.main_window import MainWindow

    window = MainWindow(device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    first_levels: dict[str, int] = {}
    window.loader.decoded.connect(lambda key, decoded: first_levels.__setitem__(key, decoded.image.level))
    if on_decoded is not None:
        window.loader.decoded.connect(on_decoded)
    with qtbot.waitSignal(window.study_settled, timeout=120000):
        window.open_path(str(folder))
    return window, first_levels


def all_full(window) -> bool:
    return all(item.at_full_resolution for item in window.study.images.values())


def test_films_show_a_reduced_level_first_and_full_resolution_after_the_analysis(qtbot, tmp_path, j2k_study, shipped):
    window, first_levels = open_window(qtbot, j2k_study, tmp_path)
    assert len(first_levels) == 4 and all(level > 0 for level in first_levels.values()), first_levels
    windows_before = dict(window.state.windows)
    items = list(window.study.images.values())
    references = [shipped.predict(read_image(item.path)) for item in items]
    shipped.compare_breasts(references)  # as the viewer scores a study: each breast against the other
    for item, reference in zip(items, references):
        # The network got its own level, read from the file: its result is the full decode's,
        # from the same model (the domain read from the same figures).
        assert item.model_image.level == shipped.input.level(item.metadata.pixel_spacing_mm) == 3
        assert (item.prediction.domain, item.prediction.model_name) == (reference.domain, reference.model_name)
        assert item.prediction.score == pytest.approx(reference.score, abs=1e-6)
        threshold = window.state.threshold
        assert [lesion.to_dict() for lesion in item.prediction.lesions(threshold)] == [
            lesion.to_dict() for lesion in reference.lesions(threshold)
        ]
    view = next(v for v in window.views if v.key)
    assert view.image_size == SHAPE and view.level_scale > 1  # the scene is in full pixels at any level
    contours = view.contour_item.path().boundingRect()
    qtbot.waitUntil(lambda: all_full(window), timeout=60000)
    assert view.image_size == SHAPE and view.level_scale == 1.0
    assert view.contour_item.path().boundingRect() == contours  # nothing moved
    assert window.state.windows == windows_before  # the reader's window stays as it was
    for renderer in window.grid.renderers.values():
        assert renderer.image.level == 0 and renderer.image.pixels.shape == SHAPE


def test_zooming_past_the_level_asks_for_full_resolution_first_and_says_it_is_loading(
    qtbot, tmp_path, j2k_study, monkeypatch
):
    window, _ = open_window(qtbot, j2k_study, tmp_path)
    visible = [view for view in window.views if view.isVisible() and view.key]
    view = visible[-1]  # the last one in the queue after the analysis
    if window.study.images[view.key].at_full_resolution:
        pytest.skip("full resolution arrived before the zoom (a very fast machine)")
    texts: list[str] = []
    monkeypatch.setattr(view, "_text", lambda painter, rect, flags, text, color=None: texts.append(text))
    view.apply_zoom(4.0)
    assert view.wants_detail
    queue = [key for key, _ in window.loader._detail_queue]
    running = window.loader._detail_running[0] if window.loader._detail_running else None
    assert running == view.key or queue[:1] == [view.key]
    view.viewport().repaint()
    assert any(DETAIL_LOADING in text for text in texts)
    qtbot.waitUntil(lambda: window.study.images[view.key].at_full_resolution, timeout=60000)
    assert not view.wants_detail and view.level_scale == 1.0
    texts.clear()
    view.viewport().repaint()
    assert not any(DETAIL_LOADING in text for text in texts)


def test_one_to_one_and_measuring_want_full_resolution(qtbot, tmp_path, j2k_study):
    window, _ = open_window(qtbot, j2k_study, tmp_path)
    window.loader.cancel()  # nothing arrives during this test: only what the views ask for counts
    asked: list[str] = []
    window.grid.detail_wanted.connect(asked.append)
    views = [view for view in window.views if view.isVisible() and view.key and view.level_scale > 1]
    views[0].one_to_one()
    assert asked == [views[0].key]
    views[1]._measuring = True
    views[1]._check_detail()
    assert asked == [views[0].key, views[1].key]


def test_a_report_is_written_once_full_resolution_is_in(qtbot, tmp_path, j2k_study):
    window, _ = open_window(qtbot, j2k_study, tmp_path)
    window.loader.cancel()  # the films stay at their first level until the report asks for them
    assert not any(item.at_full_resolution for item in window.study.images.values())
    out = tmp_path / "out" / "report.pdf"
    out.parent.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=120000) as finished:
        window.export_report_to(str(out))
        assert "Waiting for full resolution" in window.statusBar().currentMessage()
        assert not out.exists()
    assert finished.args[0].startswith("Report written"), finished.args
    assert out.is_file() and all_full(window)


def test_a_film_that_cannot_be_read_in_full_keeps_its_first_look_and_says_why(qtbot, tmp_path, j2k_study):
    import shutil

    folder = tmp_path / "study"
    shutil.copytree(j2k_study, folder)
    gone = folder / "L_MLO.dcm"

    def remove_after_first_look(key, decoded):
        if Path(key) == gone and gone.exists():
            gone.unlink()

    window, _ = open_window(qtbot, folder, tmp_path, on_decoded=remove_after_first_look)
    key = str(gone)
    qtbot.waitUntil(lambda: window.study.images[key].detail_error is not None, timeout=60000)
    item = window.study.images[key]
    assert item.image is not None and item.image.level > 0 and item.prediction is not None
    assert any(
        "full resolution not available" in window.problems.item(i).text() for i in range(window.problems.count())
    )
    view, _ = window.grid.view_of(key)
    assert view is not None and "full resolution not available" in view.detail_note


def test_films_without_levels_are_read_once_in_full(qtbot, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    film, _ = phantom((512, 416), seed=3)
    write_dicom(
        folder / "R_CC.dcm",
        film,
        ImageLaterality="R",
        ViewPosition="CC",
        PatientOrientation=["P", "L"],
        ImagerPixelSpacing=[0.1, 0.1],
    )
    window, first_levels = open_window(qtbot, folder, tmp_path)
    assert list(first_levels.values()) == [0]
    assert window.loader._detail_queue == [] and window.loader._detail_running is None


def test_seg_and_sr_need_no_full_resolution(qtbot, tmp_path, j2k_study):
    """The segmentations come from the network's map in the full image's geometry and the
    file's own header: written at once, while the views still show reduced levels."""
    import pydicom

    window, _ = open_window(qtbot, j2k_study, tmp_path)
    window.loader.cancel()
    out = tmp_path / "dicom"
    out.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=120000) as finished:
        window.export_dicom_to(str(out))
    # Four SEGs, the TID 1500 SR and the CAD SR; the report PDF waits for full resolution.
    assert finished.args[0].startswith("Wrote 6 DICOM file(s)"), finished.args
    assert "not the report" in finished.args[0]
    assert not any(item.at_full_resolution for item in window.study.images.values())
    for seg in out.glob("*_seg_*.dcm"):
        ds = pydicom.dcmread(seg)
        assert (ds.Rows, ds.Columns) == SHAPE


def test_the_demo_study_opens_progressively_with_the_full_decodes_results(qtbot, tmp_path, shipped):
    from resources import demo_study

    window, first_levels = open_window(qtbot, demo_study() / "DEMO-014", tmp_path)
    assert first_levels and all(level > 0 for level in first_levels.values()), first_levels  # 1024x1024 films, 2 views
    threshold = window.state.threshold
    items = list(window.study.images.values())
    references = [shipped.predict(read_image(item.path)) for item in items]
    shipped.compare_breasts(references)  # both breasts, as the viewer scores the study
    for item, reference in zip(items, references):
        assert (item.model_image or item.image).level == shipped.input.level(item.metadata.pixel_spacing_mm)
        assert item.prediction.model_name == reference.model_name == "hds_mammo_film"  # the films' model
        assert item.prediction.score == pytest.approx(reference.score, abs=1e-6)
        assert [lesion.to_dict() for lesion in item.prediction.lesions(threshold)] == [
            lesion.to_dict() for lesion in reference.lesions(threshold)
        ]
    qtbot.waitUntil(lambda: all_full(window), timeout=60000)
