"""Digital breast tomosynthesis in the viewer (issue 40): a stack steps slice by slice, each
with its own window; it is analysed slab by slab on the engine's thread, its slabs on screen as
they come; a finding is listed with its sharpest slice, outlined on the slices it spans, and a
click on its row goes to that slice."""

from conftest import viewer_on
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from synthetic_dbt import dbt_volume, write_dbt

from hds_core.findings.stack import StackPrediction


def test_the_viewer_steps_through_a_stack(qtbot, tmp_path, phantom_model):
    """The viewer opens a stack at its middle slice and steps its slices (wheel, arrow keys,
    Home/End), each with its own window."""
    volume, _ = dbt_volume(6, shape=(320, 240), lesion_slice=3)
    (tmp_path / "study").mkdir()
    order = [5, 3, 1, 0, 2, 4]
    windows = [(1500.0 + frame, 3000.0) for frame in range(6)]
    write_dbt(tmp_path / "study" / "rcc.dcm", volume, order=order, windows=windows)
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path)
    (item,) = window.study.images.values()
    assert item.image.metadata.frame_number == order.index(3) + 1  # the middle slice, in spatial order
    study_item = window.browser.topLevelItem(0).child(0)
    assert study_item.child(0).text(0) == "R CC · tomosynthesis, 6 slices"
    (view,) = [v for v in window.views if v.isVisible() and v.key]
    assert view.title.endswith("slice 4/6 · 3.0 mm") and view.is_stack

    def on_slice(spatial: int) -> bool:
        shown = item.image.metadata
        return shown.frame_number == order.index(spatial) + 1 and view.title.endswith(
            f"slice {spatial + 1}/6 · {spatial:.1f} mm"
        )

    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: on_slice(4), timeout=20000)
    assert (item.image.pixels == volume[4]).all()
    assert window.state.windows[item.key].center == 1500.0 + order.index(4)  # the frame's own window
    qtbot.keyClick(view, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: on_slice(0), timeout=20000)
    wheel = QWheelEvent(
        QPointF(50, 50), QPointF(view.mapToGlobal(QPoint(50, 50))), QPoint(), QPoint(0, -240),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    scale = view.scale_factor
    view.wheelEvent(wheel)  # two notches toward you: two slices deeper, no zoom
    qtbot.waitUntil(lambda: on_slice(2), timeout=20000)
    assert view.scale_factor == scale
    qtbot.keyClick(view, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: on_slice(5), timeout=20000)
    window.close()


def test_the_viewer_analyses_a_stack_slab_by_slab_and_goes_to_a_findings_slice(
    qtbot, tmp_path, phantom_model, monkeypatch
):
    """A lesion sharp on one slice: the slabs' results come one by one before the whole, the
    finding is listed with that slice and outlined there, the threshold re-outlines it, and a
    click on its row brings that slice on screen."""
    volume, centre = dbt_volume(12, shape=(320, 240), lesion_slice=2)
    order = [3, 1, 0, 2, 4, 11, 7, 6, 5, 8, 9, 10]
    (tmp_path / "study").mkdir()
    write_dbt(tmp_path / "study" / "rcc.dcm", volume, order=order, spacing_mm=0.2)
    seen = []
    from mammo_viewer.main_window import MainWindow

    original = MainWindow._on_stack_progress
    monkeypatch.setattr(
        MainWindow,
        "_on_stack_progress",
        lambda self, key, partial, done, total: (
            seen.append((done, total, partial.complete)),
            original(self, key, partial, done, total),
        ),
    )
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path)
    (item,) = window.study.images.values()
    result = item.prediction
    assert isinstance(result, StackPrediction) and result.complete and item.not_analysed is None
    assert [done for done, _, _ in seen] == list(range(1, 7)) and seen[0][:2] == (1, 6)
    assert [complete for _, _, complete in seen] == [False] * 5 + [True]  # the first slab's came first
    assert "1 tomosynthesis stack(s), slab by slab" in window.statusBar().currentMessage()
    assert "trained on 2-D mammograms, not on DBT" in window.findings.trust_label.text()

    (row,) = window.findings.rows
    assert row.slice == 3 and row.place == "R CC #1 · slice 3"
    assert window.findings.lesions.item(0, 0).text() == "R CC #1 · slice 3"
    x, y = row.lesion.centroid_xy
    assert abs(x - centre[1]) < 4 and abs(y - centre[0]) < 4
    (view,) = [v for v in window.views if v.isVisible() and v.key]
    assert "slice 7/12" in view.title  # the middle slice: the finding's span is not there
    assert not view.lesion_labels and "AI: #1 on 3" in view.title  # where to scroll

    window.findings.lesions.cellClicked.emit(0, 0)  # the reader clicks the row
    qtbot.waitUntil(lambda: "slice 3/12" in view.title, timeout=20000)
    assert "#1 sharpest here" in view.title and len(view.lesion_labels) == 1
    assert item.image.metadata.frame_number == order.index(2) + 1

    area = row.lesion.area_mm2
    window.state.threshold = 0.01  # below the whole breast's probability: its outline grows to the breast
    assert window.findings.rows[0].lesion.area_mm2 > 5 * area and view.lesion_labels
    window.state.threshold = window.state.default_threshold
    (again,) = window.findings.rows
    assert again.slice == 3 and again.lesion.area_mm2 == area and len(view.lesion_labels) == 1
    window.close()


def test_slabs_cine_and_the_depth_link(qtbot, tmp_path, phantom_model):
    """A slab around each view's slice (MIP or average, the same for every view, said on the
    view), cine rocking back and forth, and a breast's two views following each other by
    relative depth while the other breast stays where it was."""
    import numpy as np

    (tmp_path / "study").mkdir()
    volumes = {}
    for name, side, view, slices in (("rcc", "R", "CC", 12), ("rmlo", "R", "MLO", 6), ("lcc", "L", "CC", 12)):
        volumes[name], _ = dbt_volume(slices, shape=(320, 240), seed=slices)
        write_dbt(tmp_path / "study" / f"{name}.dcm", volumes[name], side=side, view=view, study_uid="1.2.3.4")
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path)
    grid = window.grid
    items = {path.rsplit("/", 1)[1][:-4]: item for path, item in window.study.images.items()}
    keys = {name: item.key for name, item in items.items()}
    view_of = {name: grid.view_of(key)[0] for name, key in keys.items()}

    window.state.slab_mip = True
    window.state.slab_mm = 3.0  # 1-mm slices: three around the slice on screen
    qtbot.waitUntil(lambda: all(item.image.metadata.slab_slices == 3 for item in items.values()), timeout=20000)
    assert (items["rcc"].image.pixels == np.maximum.reduce(volumes["rcc"][5:8])).all()  # around slice 6 (0-based)
    assert "slice 7/12 · 6.0 mm · 3-slice MIP" in view_of["rcc"].title
    window.state.slab_mm = 0.0
    qtbot.waitUntil(lambda: all(item.image.metadata.slab_slices == 1 for item in items.values()), timeout=20000)
    assert (items["rcc"].image.pixels == volumes["rcc"][6]).all() and "MIP" not in view_of["rcc"].title

    window.state.depth_link = True
    grid.select(keys["rcc"])
    grid.step_slices(10_000)  # End on the right CC
    shown = lambda name: grid.shown_slice(keys[name])  # noqa: E731
    assert (shown("rcc"), shown("rmlo"), shown("lcc")) == (11, 5, 6)  # the MLO at its last slice too
    qtbot.waitUntil(lambda: "slice 6/6" in view_of["rmlo"].title, timeout=20000)
    window.state.depth_link = False
    grid.step_slices(-11)
    assert (shown("rcc"), shown("rmlo")) == (0, 5)

    grid.select(keys["rmlo"])
    grid.set_cine(True)
    assert grid.cine_playing
    grid._cine_step()  # at its last slice: cine turns back
    grid._cine_step()
    assert shown("rmlo") == 3 and shown("rcc") == 0  # only the selected stack plays
    grid.set_cine(False)
    assert not grid.cine_playing
    fps = window.state.cine_fps
    grid.cine_speed(1)
    assert window.state.cine_fps > fps

    # The same from the keyboard, as a reader uses them.
    key = lambda k, modifier=Qt.KeyboardModifier.NoModifier: qtbot.keyClick(window, k, modifier)  # noqa: E731
    ctrl = Qt.KeyboardModifier.ControlModifier
    key(Qt.Key.Key_BracketRight, ctrl)
    assert window.state.slab_mm == 2.0
    key(Qt.Key.Key_BracketRight, ctrl)
    key(Qt.Key.Key_BracketLeft, ctrl)
    assert window.state.slab_mm == 2.0
    mip, link = window.state.slab_mip, window.state.depth_link
    key("M", ctrl)
    key("D", ctrl)
    assert (window.state.slab_mip, window.state.depth_link) == (not mip, not link)
    fps = window.state.cine_fps
    key(Qt.Key.Key_BracketLeft)
    assert window.state.cine_fps < fps
    key(Qt.Key.Key_Space, ctrl)
    assert grid.cine_playing
    key(Qt.Key.Key_Space, ctrl)
    assert not grid.cine_playing
    window.close()


def test_stepping_draws_from_the_kept_slices_and_a_zoomed_view_gets_them_sharp(qtbot, tmp_path, phantom_model):
    """Every slice of an open stack is kept at its view's level, so a step shows the next slice
    at once (no decoder in between); zoomed in, the slice on screen follows at full resolution."""
    volume, _ = dbt_volume(8, shape=(1600, 1200), seed=3)
    (tmp_path / "study").mkdir()
    write_dbt(tmp_path / "study" / "rcc.dcm", volume)
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path)
    (item,) = window.study.images.values()
    qtbot.waitUntil(lambda: len(item.slices) == 8, timeout=30000)
    level = next(iter(item.slices.values())).level
    assert level > 0  # a 1600-row slice in a view a few hundred pixels high: a reduced level is kept
    grid = window.grid
    (view,) = [v for v in window.views if v.isVisible() and v.key]
    grid.step_slices(-1)  # from the middle (slice 5 of 8) to slice 4: drawn before any event is processed
    assert item.image.metadata.frame_number == 4 and item.image.level == level and "slice 4/8" in view.title

    view.apply_zoom(8.0)  # the reader zooms in: the kept level is too coarse
    qtbot.waitUntil(lambda: item.image.level == 0 and item.image.metadata.frame_number == 4, timeout=20000)
    assert (item.image.pixels == volume[3]).all()
    grid.step_slices(1)  # from memory first, then sharp again
    assert item.image.metadata.frame_number == 5 and item.image.level == level
    qtbot.waitUntil(lambda: item.image.level == 0 and item.image.metadata.frame_number == 5, timeout=20000)
    assert (item.image.pixels == volume[4]).all()
    window.close()


def test_a_dbt_study_hangs_its_synthesized_2d_images_first_then_its_stacks(qtbot, tmp_path, phantom_model):
    """Each view's synthesized 2-D image (Image Type GENERATED_2D) is that view's 2-D image: the
    DBT protocol opens on them, Space goes on to the stacks; a study of stacks alone opens on
    its stacks (the 2-D stage it has no image for is passed over)."""
    from synthetic import phantom, write_dicom

    (tmp_path / "study").mkdir()
    sides = {"R": "left", "L": "right"}
    for side in ("R", "L"):
        for view in ("CC", "MLO"):
            volume, _ = dbt_volume(4, shape=(160, 120), seed=len(view), chest_wall=sides[side])
            write_dbt(tmp_path / "study" / f"{side}{view}.dcm", volume, side=side, view=view, study_uid="1.2.3.9")
            pixels, _ = phantom((160, 120), seed=7, chest_wall=sides[side])
            write_dicom(
                tmp_path / "study" / f"{side}{view}-c-view.dcm",
                pixels,
                ImageLaterality=side,
                ViewPosition=view,
                ImageType=["DERIVED", "PRIMARY", "TOMOSYNTHESIS", "GENERATED_2D"],
                StudyInstanceUID="1.2.3.9",
                PatientID="DBT-1",
                PatientName="Tomo^Test",
                PatientBirthDate="19650101",
            )
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path, timeout_ms=120000)
    assert len(window.study.images) == 8
    grid = window.grid

    def hung() -> list[str]:
        return sorted(p.key.rsplit("/", 1)[1] for p in grid.hanging.placements)

    assert (grid.protocol.name, grid.hanging.stage) == ("DBT screening", "2-D (synthesized)")
    assert hung() == ["LCC-c-view.dcm", "LMLO-c-view.dcm", "RCC-c-view.dcm", "RMLO-c-view.dcm"]
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert grid.hanging.stage == "tomosynthesis" and hung() == ["LCC.dcm", "LMLO.dcm", "RCC.dcm", "RMLO.dcm"]
    window.close()

    for synthesized in (tmp_path / "study").glob("*-c-view.dcm"):
        synthesized.unlink()
    window = viewer_on(qtbot, phantom_model, tmp_path / "study", tmp_path / "again")
    assert (window.grid.protocol.name, window.grid.hanging.stage) == ("DBT screening", "tomosynthesis")
    window.close()
