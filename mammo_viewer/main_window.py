"""The reading workstation's window: the assembly of the rooms below it. It builds the hanging
area (views/view_grid.py), the study browser, the AI findings panel, the problems list and
"what the model saw" (panels/), the workers (work/: loading, decoding, the engine) and the
reading state and study controller (reading/, no widgets), and wires their events. What it
does as a study opens and is analysed is the session's (session/opening.py,
session/analysis.py); exports: reporting/exports.py; docks and menus: panels/window_layout.py;
the engine's state on screen: panels/engine_status.py."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow

from hds_core.report.export import ANY, NEVER, SAME_STUDY
from hds_core.text import printable

from .pacs.controller import Pacs
from .panels.engine_status import EngineStatus
from .panels.findings_panel import FindingsPanel
from .panels.window_layout import build_docks, build_menus
from .reading.reading_state import ReadingState
from .reading.study_controller import APP_NAME, StudyController
from .reporting.exports import ExportRequest, Exports
from .session.analysis import Analysis
from .session.opening import Opening
from .session.priors import Priors
from .session.reading import ReadingSession
from .session.stacks import Stacks
from .views.view_grid import ViewGrid
from .work.engine import Engine
from .work.loading import StudyLoader
from .work.worker import Worker, stop_together

log = logging.getLogger(__name__)
CLOSE_WAIT_S = 2.0  # the most closing the window waits for decoding and inference to stop
ENGINE_START_MS = 5000  # with no film on screen by then (no study opened), the engine starts loading


class MainWindow(Opening, Stacks, Analysis, Priors, ReadingSession, QMainWindow):
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
        self.prior_worker = Worker("priors", self)  # the cache's and the PACS's priors (session/priors.py)
        self.findings = FindingsPanel(self.state)
        self.grid = ViewGrid(self.state, self.engine)
        self.views = self.grid.views
        self.setCentralWidget(self.grid)
        docks = build_docks(self, self.findings, self.hide_phi, node_book)
        self.browser, self.problems, self.model_input = docks.browser, docks.problems, docks.model_input
        self.problems_dock, self.model_input_dock = docks.problems_dock, docks.model_input_dock
        self.reading_panel, self.reading_dock = docks.reading, docks.reading_dock
        self.worklist, self.worklist_dock = docks.worklist, docks.worklist_dock
        self.worklist.open_requested.connect(self.open_work_item)
        self.exports = Exports(self, settings, self.exporter, self._status, self._export_said, self.after_detail)
        self.pacs = Pacs(self, docks.pacs, docks.pacs_dock, node_book)
        menus = build_menus(self)
        self.recent_menu, self.layout_actions = menus.recent_menu, menus.layout_actions
        self.prior_menu, self.protocol_menu = menus.prior_menu, menus.protocol_menu
        self.contours_action, self.heat_action = menus.contours_action, menus.heat_action
        self.magnifier_action, self.phi_action = menus.magnifier_action, menus.phi_action
        self.device_label = QLabel("AI: loading…")
        self.statusBar().addPermanentWidget(self.device_label)
        self.engine_status = EngineStatus(self.state, self.findings, self.device_label, self._status, self._problem)
        self._wire()
        self._init_reading()
        self.load_protocols()
        self._refresh_prior_menu()
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
        loader.sliced.connect(self._on_sliced)
        loader.slice_failed.connect(self._on_slice_failed)
        loader.stack_loaded.connect(self._on_stack_loaded)
        loader.stack_failed.connect(self._on_stack_failed)
        engine.ready.connect(self.engine_status.ready)
        # A study with nothing to analyse (a CT, broken films) settles once the engine has loaded.
        engine.ready.connect(lambda _predictor: self._check_settled())
        engine.unavailable.connect(self._on_engine_unavailable)
        engine.predicted.connect(self._on_predicted)
        engine.failed.connect(self._on_predict_failed)
        engine.stack_progress.connect(self._on_stack_progress)
        engine.progress.connect(findings.set_progress)
        engine.settled.connect(lambda complete: self._check_settled())
        findings.cancel_requested.connect(self.cancel_analysis)
        findings.lesion_activated.connect(self._centre_lesion)
        state, settings = self.state, self.settings
        # The grid redraws the contours itself (view_grid.py); the panel lists them.
        state.observe("threshold", lambda _: self._on_threshold())
        for name, action in (("contours", self.contours_action), ("heat_map", self.heat_action)):
            state.observe(name, action.setChecked)
            state.observe(name, lambda on, name=name: settings.setValue(name, on))
        state.observe("heat_opacity", lambda o: settings.setValue("heat_opacity", round(o * 100)))
        state.observe("layout", self._on_layout)
        self.browser.study_chosen.connect(self.show_study)
        grid.status.connect(self._status)
        grid.view_selected.connect(self._on_view_selected)
        grid.detail_wanted.connect(lambda key: self.want_detail([key], first=True))
        grid.slice_wanted.connect(self._want_slice)
        grid.sharp_slice_wanted.connect(lambda key, index: self._want_slice(key, index, sharp=True))
        loader.window_of = lambda key: (state.windows.get(key), state.invert)

    # ----- status and problems ----------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.statusBar().showMessage(printable(text))

    def _problem(self, text: str, show: bool = True) -> None:
        """List a file that failed (the dock opens) or a note such as skipped files (it does not).
        Also logged: the texts name files and reasons, never patient details."""
        self.problems.addItem(printable(text))
        log.log(logging.WARNING if show else logging.INFO, "%s", printable(text))
        if show:
            self.problems_dock.show()

    # ----- the hanging area (view_grid.py) -------------------------------------------------------
    def set_layout(self, mode: int) -> None:
        """Hang by a plain layout (no protocol) until a protocol is chosen again."""
        self.grid.set_layout(mode)  # the state's layout is observed: the window remembers it

    def _on_layout(self, mode: int) -> None:
        self.settings.setValue("layout", mode)
        self.layout_actions[mode].setChecked(True)

    def hang_with(self, protocol, stage: int = 0) -> None:
        """Hang by ``protocol`` (reading/protocols.py; the window's own of its name) from ``stage``
        (from 0), this study and the next."""
        same = [p for p in self.grid.protocols if p.name == protocol.name]
        self.grid.use_protocol(same[0] if same else protocol, stage)

    def turn_page(self, step: int) -> None:
        self.grid.turn_page(step)

    def _centre_lesion(self, row: int) -> None:
        if row < len(self.findings.rows):
            self.grid.centre_lesion(self.findings.rows[row])  # 1-up on its page when it was off screen

    def _on_view_selected(self, key: str) -> None:
        if self.model_input_dock.isVisible():
            self.model_input.show_input(
                self.study.images.get(key) if self.study else None, self.engine.predictor, self.loader.worker
            )

    # ----- the worklist (an hds-batch results table) -------------------------------------------------
    def open_worklist(self, path: str) -> None:
        """The studies of an hds-batch results table (the file, or the folder it is in)."""
        from hds_core.report.reading import ReadingStore, default_readings_folder

        from .reading.worklist import WorklistError, load_worklist, table_of

        try:
            items = load_worklist(Path(path), ReadingStore(default_readings_folder()))
        except WorklistError as exc:
            self._status(str(exc))
            self._problem(str(exc))
            return
        self.worklist.show_items(items, str(table_of(Path(path))))
        self.worklist_dock.show()
        self.worklist_dock.raise_()
        # Wide enough for its columns (the score and the decile are at the right), never most of the window.
        width = min(self.worklist.table.horizontalHeader().length() + 40, int(self.width() * 0.45))
        self.resizeDocks([self.worklist_dock], [width], Qt.Orientation.Horizontal)
        self.worklist.table.setFocus()
        self._status(f"Worklist: {len(items)} stud(ies), highest AI exam score first")

    def open_work_item(self, item) -> None:
        """A worklist row's study: its folder opened, that study shown (not the folder's latest)."""
        if item.folder is None or not item.folder.is_dir():
            message = f"{item.label}: its files are not at {item.folder} any more"
            self._status(message)
            self._problem(message)
            return
        self._wanted_study = item.study_uid
        self.open_path(str(item.folder))

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
            comparison=self.comparison(),
            reading=self.reading_for_export(),
            deciles=self.exam_deciles(predictor, items),
        )

    @staticmethod
    def exam_deciles(predictor, items):
        """Where the study's exam score falls among the serving weights' validation exams."""
        from hds_core.report.exam_decile import exam_deciles
        from hds_core.report.operating_point import study_domain

        if predictor is None or not items:
            return None
        return exam_deciles(predictor.weights_path, study_domain([item.prediction for item in items]))

    def comparison(self):
        """The study against its prior, for the report: the prior's date and the lesions new
        since it (every lesion's image key is its file's path)."""
        from hds_core.report.content import Comparison

        if self.study is None:
            return None
        prior = self.controller.prior
        if prior is None:
            return Comparison(None)
        new = self.controller.new_since_prior(self.state.threshold)
        return Comparison(prior.study_date, frozenset(new))

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
        self._close_reading()  # what she typed last is saved; her hold on the study's reading goes
        self.pacs.shutdown()
        self.prior_worker.shutdown(0.5)  # a search or retrieve in flight is abandoned (nothing half-written: the cache)
        log.info("closed in %.2f s", stop_together(self.loader, self.engine, self.exporter, CLOSE_WAIT_S))
        super().closeEvent(event)
