"""One model per domain in the viewer (issue 38): the slider's default and table follow the
model serving the study, the density is suggested per breast, and the reader sets the pixel
spacing of a study whose films carry none."""

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from synthetic import phantom, write_png

import resources
from mammo_viewer.main_window import MainWindow
from mammo_viewer.panels.engine_status import EngineStatus
from mammo_viewer.reading.reading_state import ReadingState

SETTLE_MS = 120000


def _window(qtbot, tmp_path, weights):
    win = MainWindow(
        weights=str(weights) if weights else None,
        device="cpu",
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(win)
    win.show()
    return win


class _Panel:
    def __init__(self):
        self.models, self.trust = [], None

    def set_model(self, table, description, trust=None):
        self.models.append((table, description))

    def set_trust(self, trust):
        self.trust = trust


def _model(name, threshold, per_domain=None):
    spec = SimpleNamespace(
        default_threshold=threshold,
        default_threshold_for=lambda domain: (per_domain or {}).get(domain, threshold),
        threshold_table=[{"threshold": threshold}],
        cross_validation={},
    )
    return SimpleNamespace(spec=spec, model_name=name, device_name="CPU", precision="fp32")


def test_the_slider_follows_the_studys_model_unless_the_reader_moved_it():
    state, panel = ReadingState(), _Panel()
    status = EngineStatus(state, panel, SimpleNamespace(setText=lambda _t: None), lambda _t: None, lambda _t: None)
    digital, film = _model("digital_model", 0.4, {"digital": 0.6}), _model("film_model", 0.3)
    status.ready(SimpleNamespace(**vars(digital), serving=lambda _d: digital))
    assert state.threshold == 0.4
    status.serve(film, "film")
    assert (state.threshold, state.default_threshold) == (0.3, 0.3)
    assert "film_model (film model)" in panel.models[-1][1] and panel.models[-1][0] == [{"threshold": 0.3}]
    state.threshold = 0.55  # the reader's choice stays when the next study is digital
    status.serve(digital, "digital")
    assert (state.threshold, state.default_threshold) == (0.55, 0.6)  # the digital operating point
    state.reset_threshold()
    assert state.threshold == 0.6


def test_the_reader_sets_the_spacing_of_a_study_without_one(qtbot, tmp_path, phantom_model):
    pixels, _ = phantom((320, 256), seed=11, crisp=True)
    folder = tmp_path / "films"
    folder.mkdir()
    write_png(folder / "film.png", (pixels >> 4).astype(np.uint8))
    window = _window(qtbot, tmp_path, phantom_model)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(folder))
    (item,) = window.study.images.values()
    assert item.prediction.spacing_mm is None and item.prediction.spacing_estimate_mm == pytest.approx(240 / 320)
    assert any("estimated" in w for w in item.prediction.warnings)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        assert window.set_study_spacing(0.4) == 1
    (item,) = window.study.images.values()
    assert item.prediction is not None and item.prediction.spacing_mm == (0.4, 0.4)
    assert item.prediction.spacing_estimate_mm is None
    window.close()


def test_the_shipped_models_suggest_a_density_per_breast(qtbot, tmp_path):
    window = _window(qtbot, tmp_path, None)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(resources.demo_study()))
    predictions = [image.prediction for image in window.study.images.values()]
    assert all(p.domain == "film" and p.density and p.density["category"] in ("F", "G", "D") for p in predictions)
    text = window.findings.density_label.text()
    assert text.startswith("R: MIAS ") and " · L: MIAS " in text
    assert window.engine_status.serving is window.engine.predictor.serving("film")
    window.close()


def test_a_cbis_ddsm_film_is_read_as_a_film_in_the_viewer(qtbot, tmp_path):
    """Issue 38's done-when, in the viewer: the Secondary Capture film hangs as R MLO, is served
    by the film model, and its view says the spacing is estimated."""
    from synthetic import write_cbis_like

    from hds_core.io import read_image

    film = read_image(resources.demo_study() / "DEMO-091" / "R_MLO.dcm").pixels.astype(np.uint16)
    folder = tmp_path / "cbis"
    folder.mkdir()
    write_cbis_like(
        folder / "1-1.dcm",
        np.kron(film, np.ones((2, 2), np.uint16)) * 256,
        "Mass-Test_P_00820_RIGHT_MLO",
        orientation="MLO",
        side="R",
    )
    window = _window(qtbot, tmp_path, None)
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(folder))
    (view,) = [v for v in window.views if v.isVisible() and v.key]
    (item,) = window.study.images.values()
    assert view.title == "R MLO"
    assert item.prediction.domain == "film" and item.prediction.model_name == "hds_mammo_film"
    assert any("estimated" in note for note in view.notes)
    assert "hds_mammo_film (film model)" in window.findings.engine_label.text()
    window.close()
