"""The reading workstation's window: it assembles the hanging area (view_grid.py), the study
browser, the AI findings panel, the problems list and "what the model saw", and wires the
workers' events (scanning and decoding in loading.py, inference in engine.py) through the
study controller (study_controller.py, no widgets) to the screen. What the reader chose
(threshold, overlays, layout, windows) is the reading state (reading_state.py, no widgets),
which the panels and the grid observe. Exports: exports.py; docks and menus:
window_layout.py; the engine's state on screen: engine_status.py."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow

from hds_core.density import breast_densities
from hds_core.io import ScanResult
from hds_core.report.export import ANY, NEVER, SAME_STUDY
from hds_core.report.operating_point import score_trust, study_domain
from hds_core.text import printable

from .pacs.controller import Pacs
from .panels.engine_status import EngineStatus
from .panels.findings_panel import FindingsPanel
from .panels.window_layout import THUMBNAIL_HEIGHT, build_docks, build_menus, remember_recent
from .reading.reading_state import ReadingState
from .reading.study_controller import APP_NAME, StudyController
from .reporting.exports import ExportRequest, Exports
from .views.view_grid import ViewGrid
from .work.decoding import DecodedImage
from .work.engine import Engine
from .work.loading import StudyLoader
from .work.worker import Worker, stop_together

log = logging.getLogger(__name__)
CLOSE_WAIT_S = 2.0  # the most closing the window waits for decoding and inference to stop
ENGINE_START_MS = 5000  # with no film on screen by then (no study opened), the engine starts loading


class MainWindow(QMainWindow):
    study_settled = Signal()  # the open study is decoded and analysed (or the engine is unavailable)
    export_finished = Signal(str)  # a message: what was written, or why not

    def __init__(
        self,
        *,
        weights: str | None = None,
        device: str = "auto",
        settings: QSettings | None = None,
        load_engine: bool = True,
        progressive: bool = True,
        node_book: Path | None = None,
    ):
        """``progressive=False`` decodes every film in full before showing it, as the viewer did
        before it read resolution levels: the benchmark's baseline. ``node_book``: the DICOM
        nodes (default: the user's, hds_core.node.book_path)."""
        super().__init__()
        self.progressive = progressive
        self.study_spacing: dict[tuple, float] = {}  # (patient, study) -> the reader's spacing for films without one
        self.default_spacing: float | None = None  # mammo-viewer --spacing: for every study, until the reader sets one
        self.settings = settings or QSettings("mammo-hds", "mammo-viewer")
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.hide_phi = self.settings.value("hide_phi", False, type=bool)
        self.controller = StudyController()
        self.source_path: str | None = None  # the folder or file opened last
        self._after_detail: list[tuple[set[str], object]] = []  # (images awaited, then) e.g. a report
        settings = self.settings
        self.state = ReadingState(
            contours=settings.value("contours", True, type=bool),
            heat_map=settings.value("heat_map", False, type=bool),
            heat_opacity=int(settings.value("heat_opacity", 50)) / 100.0,
            layout=int(settings.value("layout", 4)),
        )
        self.loader, self.engine = StudyLoader(self), Engine(self)
        self.engine.lesion_threshold = lambda: self.state.threshold
        self.exporter = Worker("export", self)
        self.findings = FindingsPanel(self.state)
        self.grid = ViewGrid(self.state, self.engine)
        self.views = self.grid.views
        self.setCentralWidget(self.grid)
        docks = build_docks(self, self.findings, self.hide_phi, node_book)
        self.browser, self.problems, self.model_input = docks.browser, docks.problems, docks.model_input
        self.problems_dock, self.model_input_dock = docks.problems_dock, docks.model_input_dock
        self.exports = Exports(self, settings, self.exporter, self._status, self._export_said, self.after_detail)
        self.pacs = Pacs(self, docks.pacs, docks.pacs_dock, node_book)
        menus = build_menus(self)
        self.recent_menu, self.layout_actions = menus.recent_menu, menus.layout_actions
        self.contours_action, self.heat_action = menus.contours_action, menus.heat_action
        self.magnifier_action, self.phi_action = menus.magnifier_action, menus.phi_action
        self.device_label = QLabel("AI: loading…")
        self.statusBar().addPermanentWidget(self.device_label)
        self.engine_status = EngineStatus(self.state, self.findings, self.device_label, self._status, self._problem)
        self._wire()
        self._status("Open a folder or a mammogram (Ctrl+O), or drop one here")
        self.resize(1400, 900)
        if load_engine:
            # torch is imported once the first film is on screen (or, with no study opened, after
            # a few seconds): it loads on its own thread while the decoder reads the rest. Measured
            # (tests/benchmarks/bench_viewer.py --cold-start-only): starting it with the window
            # gets a study analysed about 0.8 s sooner, but then torch is imported before any film.
            self.engine.load(weights, device, start=False)
            self.loader.decoded.connect(lambda *_: QTimer.singleShot(0, self.engine.start))
            QTimer.singleShot(ENGINE_START_MS, self.engine.start)
        else:
            self.engine.error = "AI engine not started"

    @property
    def study(self):
        return self.controller.study

    def _wire(self) -> None:
        loader, engine, findings, grid = self.loader, self.engine, self.findings, self.grid
        loader.scanned.connect(self._on_scanned)
        loader.scan_failed.connect(self._on_scan_failed)
        loader.scan_progress.connect(lambda n, path: self._status(f"Scanning… {n} files"))
        loader.decoded.connect(self._on_decoded)
        loader.failed.connect(self._on_decode_failed)
        loader.detailed.connect(self._on_detailed)
        loader.detail_failed.connect(self._on_detail_failed)
        engine.ready.connect(self.engine_status.ready)
        # A study with nothing to analyse (a CT, broken films) settles once the engine has loaded.
        engine.ready.connect(lambda _predictor: self._check_settled())
        engine.unavailable.connect(self._on_engine_unavailable)
        engine.predicted.connect(self._on_predicted)
        engine.failed.connect(self._on_predict_failed)
        engine.progress.connect(findings.set_progress)
        engine.settled.connect(lambda complete: self._check_settled())
        findings.cancel_requested.connect(self.cancel_analysis)
        findings.lesion_activated.connect(self._centre_lesion)
        state, settings = self.state, self.settings
        # The grid redraws the contours itself (view_grid.py); the panel lists them.
        state.observe("threshold", lambda _: self._show_lesion_rows())
        for name, action in (("contours", self.contours_action), ("heat_map", self.heat_action)):
            state.observe(name, action.setChecked)
            state.observe(name, lambda on, name=name: settings.setValue(name, on))
        state.observe("heat_opacity", lambda o: settings.setValue("heat_opacity", round(o * 100)))
        state.observe("layout", self._on_layout)
        self.browser.study_chosen.connect(self.show_study)
        grid.status.connect(self._status)
        grid.view_selected.connect(self._on_view_selected)
        grid.detail_wanted.connect(lambda key: self.want_detail([key], first=True))
        loader.window_of = lambda key: (state.windows.get(key), state.invert)

    # ----- opening -------------------------------------------------------------------------------
    def ask_study_spacing(self) -> None:
        """AI > Pixel spacing…: the reader's spacing for this study's images that carry none."""
        from PySide6.QtWidgets import QInputDialog

        from hds_core.io.image import MAX_SPACING_MM, MIN_SPACING_MM

        if self.study is None:
            return
        unknown = [item for item in self.study.images.values() if not item.metadata.spacing_known]
        if not unknown:
            self._status("Every image of this study carries its pixel spacing")
            return
        current = (
            self.study_spacing.get(self._study_key(), self.default_spacing)
            or unknown[0].metadata.spacing_for_network[0]
        )
        value, ok = QInputDialog.getDouble(
            self,
            "Pixel spacing",
            f"Pixel spacing in mm for the {len(unknown)} image(s) of this study whose files carry none\n"
            "(now: "
            + ("set by you" if self._study_key() in self.study_spacing else "estimated from the image size")
            + "). Scanned films: the scanner's sampling, e.g. 0.05.",
            current,
            MIN_SPACING_MM,
            MAX_SPACING_MM,
            4,
        )
        if ok:
            self.set_study_spacing(value)

    def open_path(self, path: str) -> None:
        path = str(path)
        self._start_opening(path)
        self._status(f"Scanning {path}…")
        remember_recent(self.settings, self.recent_menu, self.open_path, path)
        self.loader.open(path)

    def _start_opening(self, path: str) -> None:
        """Whatever was loading or analysing stops and the window is emptied for ``path``."""
        self.loader.cancel()
        self.engine.new_run()
        self._clear_study()
        self.source_path = path
        self.controller.opening()

    def show_arriving(self, scan) -> None:
        """A study arriving from the PACS (pacs.py), its folder scanned after each instance: the
        first scan opens it, later ones add their new films (decoded and analysed as they come;
        what was analysed stays)."""
        if self.study is None or self.source_path != str(scan.root):
            self._start_opening(str(scan.root))
            self._on_scanned(scan)
            return
        new = self.controller.add_arrived(scan)
        if new:
            self.browser.fill(scan)
            self.grid.rehang()
            self._decode([(item.key, item.path) for item in new])

    def dragEnterEvent(self, event):  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])

    def _clear_study(self) -> None:
        self._after_detail = []
        self.controller.clear()
        self.grid.clear()
        self.browser.forget()
        self.problems.clear()
        self.findings.set_scores(None, {})
        self.findings.set_density({})
        self.findings.set_lesions([])
        self._update_title()

    def _on_scan_failed(self, message: str) -> None:
        self._status(message)
        self._problem(message)
        self._check_settled(failed=message)

    def _on_scanned(self, result: ScanResult) -> None:
        self.controller.scan = result
        for error in result.failures:
            self._problem(str(error))
        for conflict in result.conflicts:  # the dock opens: never merged silently
            self._problem(f"patient identity: {conflict}")
        for kind, count in sorted(result.skipped.items()):
            self._problem(f"skipped {count} file(s) that are not mammograms ({kind})", show=False)
        self.browser.fill(result)
        images = len(result.images)
        self._status(
            f"{images} image(s) in {len(result.patients)} patient(s); {len(result.failures)} unreadable file(s)"
        )
        if not images:
            message = f"No mammograms found in {result.root}" + (
                f" ({len(result.failures)} unreadable file(s), see Problems)" if result.failures else ""
            )
            self._status(message)
            self._check_settled(failed=message)
            return
        patient = next(iter(result.patients.values()))
        self.show_study(patient.patient_id, next(iter(patient.studies)))

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(printable(text))

    def _problem(self, text: str, show: bool = True) -> None:
        """List a file that failed (the dock opens) or a note such as skipped files (it does not).
        Also logged: the texts name files and reasons, never patient details."""
        self.problems.addItem(printable(text))
        log.log(logging.WARNING if show else logging.INFO, "%s", printable(text))
        if show:
            self.problems_dock.show()

    def show_study(self, patient_id: str, study_uid: str) -> None:
        self.loader.cancel()
        self.engine.new_run()
        study = self.controller.show(patient_id, study_uid)
        self.browser.current = (study.patient_id, study.study_uid)
        self.grid.clear(study)
        self.grid.rehang()
        self._update_title()
        order = self.controller.decode_order(self.grid.visible_keys())
        self._decode([(key, study.images[key].path) for key in order])

    def _decode(self, items: list) -> None:
        # JPEG 2000 films are read first at the level that fills a view and at the network's
        # level; full resolution follows once the study is analysed, or when a view needs it.
        levels = (self.grid.screen_shape(), self.engine.network_input) if self.progressive else (None, None)
        self.loader.decode(items, THUMBNAIL_HEIGHT, *levels)

    # ----- decoding and analysis -------------------------------------------------------------------
    def _on_decoded(self, key: str, decoded: DecodedImage) -> None:
        item = self.controller.decoded(key, decoded.image, decoded.chest_wall_right, decoded.model_image)
        if item is None:
            return
        self.grid.add_image(key, decoded.renderer, decoded.breast_box)
        self.browser.set_thumbnail(key, decoded.thumbnail)
        if item.metadata.patient_orientation is None:
            self.grid.rehang()  # the pixel-read chest wall may change the flips
        else:
            self.grid.refresh_view_for(key)
        if item.prediction is not None:
            self._refresh_results()  # analysed before (another study was shown meanwhile): no rerun
        self._queue_analysis()
        self._check_settled()

    def _queue_analysis(self) -> None:
        ready, skipped = self.controller.to_analyse(self.grid.visible_keys())
        for note in skipped:
            # Displayed, never scored: the model's marks on a CT or an MR mean nothing.
            self._problem(f"{printable(self.study.images[note.key].path)}: not a mammogram ({note.reason}): AI not run")
            self.grid.refresh_view_for(note.key)
        spacing = self.study_spacing.get(self._study_key(), self.default_spacing)
        for item in ready:
            self.engine.add(item.key, item.model_image or item.image, spacing)

    def _study_key(self) -> tuple | None:
        study = self.study
        return (study.patient_id, study.study_uid) if study is not None else None

    def set_study_spacing(self, spacing_mm: float | None) -> int:
        """The reader's pixel spacing for the study's images whose files carry none (None: back
        to the estimate from the image's size); those images are analysed again. Returns how
        many."""
        key = self._study_key()
        if key is None:
            return 0
        if spacing_mm is None:
            self.study_spacing.pop(key, None)
        else:
            self.study_spacing[key] = float(spacing_mm)
        again = [
            k for k, item in self.study.images.items() if item.image is not None and not item.metadata.spacing_known
        ]
        if again:
            self.engine.new_run()
            self.controller.forget_results(again)
            for k in again:
                self.grid.refresh_view_for(k)
            self._refresh_results()
            self._queue_analysis()
            self._check_settled()
        self._status(
            f"Pixel spacing {spacing_mm:g} mm for {len(again)} image(s) without one"
            if spacing_mm
            else f"Pixel spacing estimated from the image size for {len(again)} image(s)"
        )
        return len(again)

    def _on_decode_failed(self, key: str, message: str) -> None:
        if self.controller.decode_failed(key, message) is None:
            return
        self._problem(message)
        self.grid.refresh_view_for(key)
        self._queue_analysis()
        self._check_settled()

    # ----- full resolution after the first look (loading.py) --------------------------------------
    def want_detail(self, keys: list[str], *, first: bool = False) -> None:
        """Full resolution of these images (``first``: before any already queued)."""
        if self.study is None:
            return
        items = [self.study.images[k] for k in keys if k in self.study.images]
        self.loader.want_detail(
            [(item.key, item.path) for item in items if item.image is not None and not item.at_full_resolution],
            first=first,
        )

    def _on_detailed(self, key: str, decoded: DecodedImage) -> None:
        if self.controller.detailed(key, decoded.image) is None:
            return
        self.grid.replace_image(key, decoded.renderer)
        self._detail_arrived(key)

    def _on_detail_failed(self, key: str, message: str) -> None:
        if self.controller.detail_failed(key, message) is None:
            return
        self._problem(f"full resolution not available: {message}")
        self.grid.refresh_view_for(key)
        self._detail_arrived(key)

    def _detail_arrived(self, key: str) -> None:
        waiting, self._after_detail = self._after_detail, []
        for keys, then in waiting:
            keys.discard(key)
            if keys:
                self._after_detail.append((keys, then))
            else:
                then()

    def after_detail(self, keys: list[str], then) -> bool:
        """Call ``then`` once these images are at full resolution (or failed to get there);
        False when they already are (nothing is called)."""
        missing = {
            k
            for k in keys
            if self.study is not None
            and k in self.study.images
            and not self.study.images[k].at_full_resolution
            and self.study.images[k].detail_error is None
        }
        if not missing:
            return False
        self._after_detail.append((missing, then))
        self.want_detail(sorted(missing), first=True)
        return True

    def _on_engine_unavailable(self, message: str) -> None:
        self.engine_status.unavailable(message)
        self.grid.redraw()  # views drawn while the weights loaded still say "AI…"
        self._check_settled()

    def _on_predicted(self, key: str, prediction) -> None:
        # A view's score compares it with the other breast's same view once both are in (bilateral.py).
        if self.controller.predicted(key, prediction, self.engine.predictor.compare_breasts):
            self.engine_status.predicted(prediction, self.engine.predictor)
            self._refresh_results()

    def _on_predict_failed(self, key: str, message: str) -> None:
        if self.controller.predict_failed(key, message):
            self._problem(f"{key}: AI analysis failed: {message}")

    def cancel_analysis(self) -> None:
        self.engine.cancel()
        self._status("Analysis cancelled; finished results stay on screen (Ctrl+R analyses again)")

    def reanalyse(self) -> None:
        if self.study is None:
            return
        self.engine.new_run()
        self.controller.analyse_again()
        self._queue_analysis()
        self._check_settled()

    def _check_settled(self, failed: str | None = None) -> None:
        if not self.controller.settle(analysing=self.engine.busy or self.engine.loading, failed=failed):
            return
        if self.study is not None and not failed:
            self._status(f"Analysed {len(self.study.predicted())} of {len(self.study.images)} image(s)")
        if not self.engine.total:
            self.findings.set_idle(self.controller.idle_text(self.engine.error))
        if self.study is not None:
            # The study is on screen and analysed: now the full resolution of every reduced film.
            self.want_detail([item.key for item in self.controller.detail_order(self.grid.visible_keys())])
        self.study_settled.emit()

    # ----- the hanging area (view_grid.py) -------------------------------------------------------
    def set_layout(self, mode: int) -> None:
        if self.state.layout != mode:
            self.grid.set_layout(mode)  # observed: the grid rehangs, the window remembers

    def _on_layout(self, mode: int) -> None:
        self.settings.setValue("layout", mode)
        self.layout_actions[mode].setChecked(True)

    def turn_page(self, step: int) -> None:
        self.grid.turn_page(step)

    def _refresh_results(self) -> None:
        if self.study is None:
            return
        self.grid.refresh_results()
        predictions = [image.prediction for image in self.study.predicted()]
        self.findings.set_scores(
            self.study.exam_score(), self.study.breast_scores(), calibrated=all(p.calibrated for p in predictions)
        )
        self.findings.set_density(breast_densities(predictions))
        if self.engine.predictor is not None:
            # The model serving the study's domain (a film study: the film model): its slider
            # default and table, and the trust line of that domain's figures.
            domain = study_domain(predictions)
            model = self.engine.predictor.for_predictions(predictions)
            self.engine_status.serve(model, domain)
            self.findings.set_trust(score_trust(model.spec.cross_validation, domain))
        self._show_lesion_rows()

    def _show_lesion_rows(self) -> None:
        if self.study is not None:
            self.findings.set_lesions(self.study.lesion_rows(self.state.threshold))

    def _centre_lesion(self, row: int) -> None:
        if row < len(self.findings.rows):
            self.grid.centre_lesion(self.findings.rows[row])  # 1-up on its page when it was off screen

    def _on_view_selected(self, key: str) -> None:
        if self.model_input_dock.isVisible():
            self.model_input.show_input(
                self.study.images.get(key) if self.study else None, self.engine.predictor, self.loader.worker
            )

    # ----- export (exports.py) ---------------------------------------------------------------------
    def export_request(self):
        """What an export writes, from the reading state and the study on screen."""
        items = self.study.predicted() if self.study is not None else []
        predictor = self.engine.predictor
        if predictor is not None:
            predictor = predictor.for_predictions([item.prediction for item in items])
        return ExportRequest(
            items=items,
            threshold=self.state.threshold,
            threshold_table=predictor.spec.threshold_table if predictor is not None else (),
            cross_validation=predictor.spec.cross_validation if predictor is not None else {},
            anonymize=self.hide_phi,
            patient_id=self.study.patient_id if self.study is not None else None,
            source=Path(self.source_path) if self.source_path else None,
        )

    def export_report_to(self, path: str, *, page_size: str | None = None, force: bool = False) -> None:
        """``force``: replace ``path`` if it exists."""
        self.exports.report_to(self.export_request(), path, page_size=page_size, replace=ANY if force else NEVER)

    def export_dicom_to(self, folder: str, *, force: bool = False) -> None:
        """``force``: replace the same study's (or image's) earlier export there."""
        self.exports.dicom_to(self.export_request(), folder, replace=SAME_STUDY if force else NEVER)

    def _export_said(self, message: str, problem: bool) -> None:
        self._status(message)
        if problem:
            self._problem(message)
        self.export_finished.emit(message)

    # ----- privacy, title, closing -----------------------------------------------------------------
    def set_hide_phi(self, hide: bool) -> None:
        self.hide_phi = hide
        self.settings.setValue("hide_phi", hide)
        self._update_title()
        self.browser.set_hide_phi(hide)
        self.pacs.panel.set_hide_phi(hide)

    def _update_title(self) -> None:
        self.setWindowTitle(self.controller.title(self.hide_phi))

    def patient_text_on_screen(self) -> str:
        """Everything patient-identifying the window shows (for the hide-PHI check)."""
        return "\n".join(
            [self.windowTitle(), *self.browser.texts(), *(view.title + view.subtitle for view in self.views)]
        )

    def closeEvent(self, event):  # noqa: N802
        self.pacs.shutdown()
        log.info("closed in %.2f s", stop_together(self.loader, self.engine, self.exporter, CLOSE_WAIT_S))
        super().closeEvent(event)
