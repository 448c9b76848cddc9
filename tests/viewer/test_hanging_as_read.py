"""The hanging as readers expect it (issue 39, point 4): the two breasts of one view at one
physical scale with their chest walls meeting at the midline (a reader compares left and right
by size and density), text on a backing, and a folder of non-mammograms said in full."""

import pytest
from PySide6.QtCore import QSettings

import resources
from mammo_viewer.main_window import MainWindow


@pytest.fixture
def window(qtbot, phantom_model, tmp_path):
    win = MainWindow(
        weights=str(phantom_model),
        device="cpu",
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.close()


def _pixels_per_mm(view) -> float:
    return view.scale_factor * view.devicePixelRatioF() / view.spacing_mm[1]


def test_both_mlos_at_one_scale_with_chest_walls_at_the_midline(qtbot, window):
    with qtbot.waitSignal(window.study_settled, timeout=120000):
        window.open_path(str(resources.demo_study() / "DEMO-017"))
    left, right = [v for v in window.views if v.isVisible() and v.key]
    assert (left.title, right.title) == ("R MLO", "L MLO")
    # One scale: equal scale bars (the right MLO was drawn a quarter smaller before).
    assert _pixels_per_mm(left) == pytest.approx(_pixels_per_mm(right), rel=1e-6)
    # The larger breast fills its view (to a pixel), the other follows.
    fills = []
    for view in (left, right):
        shown = view.mapFromScene(view.content_rect()).boundingRect()
        fills.append(max(shown.width() / view.viewport().width(), shown.height() / view.viewport().height()))
    assert max(fills) == pytest.approx(1.0, abs=0.01)
    # Chest walls at the midline: the right breast's against its view's right edge, the left's
    # against its view's left edge.
    left_box = left.mapFromScene(left.content_rect()).boundingRect()
    right_box = right.mapFromScene(right.content_rect()).boundingRect()
    assert abs(left_box.right() - left.viewport().width()) <= 2 and abs(right_box.left()) <= 2
    # Zoom then fit again (double-click): back to the shared scale.
    left.apply_zoom(2.0)
    left.fit()
    assert _pixels_per_mm(left) == pytest.approx(_pixels_per_mm(right), rel=1e-6)


def test_text_over_the_film_sits_on_a_backing(qtbot):
    """A title over a white pectoral muscle or film label stays legible (issue 39, point 4)."""
    import numpy as np

    from mammo_viewer.views.image_view import MammoView

    view = MammoView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    view.set_image("white film", np.full((300, 300), 255, np.uint8), flip_h=False, flip_v=False)
    view.title = "R MLO"
    picture = view.grab().toImage()
    # Between the letters, inside the title's box: the backing darkens the white film.
    under = [picture.pixelColor(x, y).red() for x in range(6, 40) for y in range(10, 20)]
    assert min(under) < 40 and np.median(under) < 160
    # Far from any text the film is as white as it is.
    assert picture.pixelColor(200, 200).red() == 255


def test_a_folder_of_non_mammograms_says_so_in_full(qtbot, window, tmp_path):
    """A CT, an MR and a colour PNG: every file is listed with its reason, the status line says
    it whole, and the CT on screen carries no note on where a breast was placed."""
    import shutil

    import numpy as np
    from PIL import Image
    from pydicom.data import get_testdata_file

    folder = tmp_path / "not mammograms"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(get_testdata_file(name, download=False), folder / name)
    Image.fromarray(np.zeros((60, 40, 3), np.uint8)).save(folder / "colour.png")
    with qtbot.waitSignal(window.study_settled, timeout=120000):
        window.open_path(str(folder))
    problems = "\n".join(window.problems.item(i).text() for i in range(window.problems.count()))
    assert "CT_small.dcm: not a mammogram (Modality CT" in problems
    assert "MR_small.dcm: not a mammogram (Modality MR" in problems  # in the folder's other study
    assert "colour.png: colour image (mode RGB)" in problems
    status = window.statusBar().currentMessage()
    assert "not a mammogram" in status and "1 file(s) in the folder not read" in status
    (view,) = [v for v in window.views if v.isVisible() and v.key]
    assert view.notes == [] and "not a mammogram" in view.badge


def test_the_hanging_is_written_as_json_with_the_screenshot(tmp_path, phantom_model):
    """mammo-viewer --hanging-json: which image went to which viewport, for a reader debugging
    a hanging and for tests; the two MLOs at one mm per screen pixel."""
    import json

    from conftest import run_viewer

    out = tmp_path / "hanging.json"
    run = run_viewer(
        resources.demo_study() / "DEMO-017",
        "--weights",
        phantom_model,
        "--device",
        "cpu",
        "--screenshot",
        tmp_path / "shot.png",
        "--hanging-json",
        out,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    hanging = json.loads(out.read_text())
    cells = {(v["row"], v["column"]): v for v in hanging["viewports"]}
    assert [cells[(0, 0)]["label"], cells[(0, 1)]["label"]] == ["R MLO", "L MLO"]
    assert all(
        v["study"] == "current" and v["study_date"] == "20260101" and v["sop_instance_uid"] for v in cells.values()
    )
    assert cells[(0, 0)]["mm_per_screen_pixel"] == pytest.approx(cells[(0, 1)]["mm_per_screen_pixel"], rel=1e-4)
    refused = run_viewer(resources.demo_study(), "--hanging-json", out)
    assert refused.returncode == 2 and "--screenshot" in refused.stderr
