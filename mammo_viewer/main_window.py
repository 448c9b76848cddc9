"""The reading workstation's window: hanging area, study browser, AI findings panel,
problems list and "what the model saw". Scanning, decoding and inference run on workers;
this class only wires their results to the screen."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hds_core.report.operating_point import score_trust
from hds_core.infer import not_a_mammogram
from hds_core.infer.bilateral import BOTH_BREASTS
from hds_core.infer.predictor import CUDA_FALLBACK
from hds_core.io import ScanResult
from hds_core.text import printable
from hds_core.report.content import format_dicom_date
from hds_core.safe_write import is_inside

from .display import ScreenRenderer, adjusted, window_of
from .engine import Engine
from .findings_panel import FindingsPanel
from .hanging import Hanging, hang
from .image_view import MammoView, gray_qimage
from .decoding import DecodedImage
from .loading import StudyLoader
from .study import Study, StudyImage
from .worker import Worker

log = logging.getLogger(__name__)
APP_NAME = "Mammo HDS viewer"
THUMBNAIL_HEIGHT = 96
MAX_RECENT = 8
CLOSE_WAIT_S = 2.0  # the most closing the window waits for decoding and inference to stop
LAYOUT_KEYS = {4: "Q", 2: "D", 1: "S"}  # quad, dual, single
LESION_ZOOM = 2.5


class MainWindow(QMainWindow):
    study_settled = Signal()  # the open study is decoded and analysed (or the engine is unavailable)
    export_finished = Signal(str)  # a message: what was written, or why not

    def __init__(self, *, weights: str | None = None, device: str = "auto", settings: QSettings | None = None,
                 load_engine: bool = True):
        super().__init__()
        self.settings = settings or QSettings("mammo-hds", "mammo-viewer")
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.scan: ScanResult | None = None
        self.study: Study | None = None
        self.renderers: dict[str, ScreenRenderer] = {}
        self.windows: dict[str, object] = {}  # key -> the VoiPreset on screen
        self.invert = False
        self.hide_phi = self.settings.value("hide_phi", False, type=bool)
        self.layout_mode = int(self.settings.value("layout", 4))
        self.page = 0
        self.hanging: Hanging | None = None
        self.selected_key: str | None = None
        self.selected_lesion = None
        self.pending_decode = 0
        self._settled_sent = True
        self.predictions: dict[str, object] = {}  # image key -> Prediction, kept while the folder is open
        self._notices: set[str] = set()  # engine notices (CUDA fallback) already listed

        self.loader = StudyLoader(self)
        self.engine = Engine(self)
        self.exporter = Worker("export", self)
        self._build_views()
        self._build_docks()
        self._build_actions()
        self._wire()
        self._status("Open a folder or a mammogram (Ctrl+O), or drop one here")
        self.device_label = QLabel("AI: loading…")
        self.statusBar().addPermanentWidget(self.device_label)
        self.resize(1400, 900)
        if load_engine:
            self.engine.load(weights, device)
        else:
            self.engine.error = "AI engine not started"

    # ----- construction ------------------------------------------------------------------------
    def _build_views(self) -> None:
        area = QWidget()
        area.setStyleSheet("background: black;")
        self.grid = QGridLayout(area)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.views = [MammoView() for _ in range(4)]
        for index, view in enumerate(self.views):
            self.grid.addWidget(view, index // 2, index % 2)
        self.setCentralWidget(area)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.browser = QTreeWidget()
        self.browser.setHeaderHidden(True)
        self.browser.setIconSize(QSize(THUMBNAIL_HEIGHT * 3 // 4, THUMBNAIL_HEIGHT))
        self.browser_dock = self._dock("Studies", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.findings = FindingsPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.findings)
        self.findings_dock = self._dock("AI findings", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems = QListWidget()
        self.problems_dock = self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problems_dock.hide()
        saw = QWidget()
        layout = QVBoxLayout(saw)
        self.model_input_image = QLabel("Select a view to see the network's input")
        self.model_input_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_input_image.setMinimumHeight(220)
        self.model_input_notes = QLabel()
        self.model_input_notes.setWordWrap(True)
        layout.addWidget(self.model_input_image, 1)
        layout.addWidget(self.model_input_notes)
        self.model_input_dock = self._dock("What the model saw", saw, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.model_input_dock.hide()

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False, checked: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open &folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open f&ile…", self.choose_file, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._refresh_recent()
        file_menu.addSeparator()
        self._action(file_menu, "&Export report (PDF)…", self.export_report, "Ctrl+E")
        self._action(file_menu, "Export DICOM &SEG and SR…", self.export_dicom, "Ctrl+Shift+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view_menu = bar.addMenu("&View")
        group = QActionGroup(self)
        self.layout_actions = {}
        for mode, text in ((4, "&4-up (CC over MLO)"), (2, "&2-up (one pair)"), (1, "&1-up")):
            action = self._action(view_menu, text, lambda checked, m=mode: checked and self.set_layout(m), LAYOUT_KEYS[mode],
                                  checkable=True, checked=mode == self.layout_mode)
            group.addAction(action)
            self.layout_actions[mode] = action
        self._action(view_menu, "Next page", lambda: self.turn_page(1), "Space")
        self._action(view_menu, "Previous page", lambda: self.turn_page(-1), "Backspace")
        view_menu.addSeparator()
        self._action(view_menu, "&Fit", lambda: [v.fit() for v in self.views], "F")
        self._action(view_menu, "1:1 pixels", lambda: [v.one_to_one() for v in self.views], "Ctrl+1")
        self.magnifier_action = self._action(view_menu, "&Magnifier", self.set_magnifier, "M", checkable=True)
        view_menu.addSeparator()
        self._action(view_menu, "&Invert", self.toggle_invert, "I")
        for n in range(1, 6):
            self._action(view_menu, f"Window preset {n}", lambda _=False, n=n: self.apply_preset(n - 1), str(n))
        view_menu.addSeparator()
        self.phi_action = self._action(view_menu, "&Hide patient details", self.set_hide_phi, "P", checkable=True,
                                       checked=self.hide_phi)
        self._action(view_menu, "What the model &saw", lambda: self.model_input_dock.setVisible(not self.model_input_dock.isVisible()), "W")
        self._action(view_menu, "Problems list", lambda: self.problems_dock.setVisible(not self.problems_dock.isVisible()))

        ai_menu = bar.addMenu("&AI")
        self.contours_action = self._action(ai_menu, "&Contours", self.findings.contours_box.setChecked, "C", checkable=True,
                                            checked=self.settings.value("contours", True, type=bool))
        self.heat_action = self._action(ai_menu, "&Heat map", self.findings.heat_box.setChecked, "H", checkable=True,
                                        checked=self.settings.value("heat_map", False, type=bool))
        self._action(ai_menu, "&Reset threshold", self.findings.reset_threshold, "R")
        self._action(ai_menu, "Ca&ncel analysis", self.cancel_analysis, "Esc")
        self._action(ai_menu, "Analyse &again", self.reanalyse, "Ctrl+R")
        self.findings.contours_box.setChecked(self.contours_action.isChecked())
        self.findings.heat_box.setChecked(self.heat_action.isChecked())
        self.findings.opacity.setValue(int(self.settings.value("heat_opacity", 50)))

    def _wire(self) -> None:
        self.loader.scanned.connect(self._on_scanned)
        self.loader.scan_failed.connect(self._on_scan_failed)
        self.loader.scan_progress.connect(lambda n, path: self._status(f"Scanning… {n} files"))
        self.loader.decoded.connect(self._on_decoded)
        self.loader.failed.connect(self._on_decode_failed)
        self.engine.ready.connect(self._on_engine_ready)
        self.engine.unavailable.connect(self._on_engine_unavailable)
        self.engine.predicted.connect(self._on_predicted)
        self.engine.failed.connect(self._on_predict_failed)
        self.engine.progress.connect(self.findings.set_progress)
        self.engine.settled.connect(lambda complete: self._check_settled())
        self.findings.threshold_changed.connect(lambda _: self._refresh_results())
        self.findings.cancel_requested.connect(self.cancel_analysis)
        self.findings.contours_toggled.connect(self._on_contours_toggled)
        self.findings.heat_toggled.connect(self._on_heat_toggled)
        self.findings.heat_opacity_changed.connect(self._on_heat_opacity)
        self.findings.lesion_activated.connect(self._centre_lesion)
        self.browser.itemActivated.connect(self._on_browser_item)
        self.browser.itemClicked.connect(self._on_browser_item)
        for view in self.views:
            view.window_drag.connect(self._on_window_drag)
            view.zoomed.connect(self._sync_zoom)
            view.panned.connect(self._sync_pan)
            view.fitted.connect(lambda key: [v.fit() for v in self.views])
            view.activated.connect(self._select_view)

    # ----- opening -------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", str(self.settings.value("last_folder", "")))
        if folder:
            self.open_path(folder)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open mammogram", str(self.settings.value("last_folder", "")),
                                              "Mammograms (*.dcm *.DCM *.png *.pgm *.tif *.tiff);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        path = str(path)
        self.loader.cancel()
        self.engine.new_run()
        self._clear_study()
        self.source_path = path
        self._status(f"Scanning {path}…")
        folder = path if Path(path).is_dir() else str(Path(path).parent)
        self.settings.setValue("last_folder", folder)
        recent = [p for p in self.settings.value("recent", [], type=list) if p != path]
        if printable(path) == path:  # QSettings cannot store a non-UTF-8 path: it is not remembered
            self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self._refresh_recent()
        self._settled_sent = False
        self.loader.open(path)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.value("recent", [], type=list):
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def dragEnterEvent(self, event):  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])

    def _clear_study(self) -> None:
        self.scan = None
        self.predictions.clear()
        self.study = None
        self.renderers.clear()
        self.windows.clear()
        self.selected_key = None
        self.selected_lesion = None
        self.browser.clear()
        self.problems.clear()
        for view in self.views:
            view.clear()
        self.findings.set_scores(None, {})
        self.findings.set_lesions([])
        self._update_title()

    def _on_scan_failed(self, message: str) -> None:
        self._status(message)
        self._problem(message)
        self._check_settled(failed=message)

    def _on_scanned(self, result: ScanResult) -> None:
        self.scan = result
        for error in result.failures:
            self._problem(str(error))
        for kind, count in sorted(result.skipped.items()):
            self._problem(f"skipped {count} file(s) that are not mammograms ({kind})", show=False)
        self._fill_browser()
        images = len(result.images)
        self._status(f"{images} image(s) in {len(result.patients)} patient(s); {len(result.failures)} unreadable file(s)")
        if not images:
            message = f"No mammograms found in {result.root}" + (f" ({len(result.failures)} unreadable file(s), see Problems)"
                                                                 if result.failures else "")
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

    def _fill_browser(self) -> None:
        self.browser.clear()
        self._image_items: dict[str, QTreeWidgetItem] = {}
        for number, patient in enumerate(self.scan.patients.values(), 1):
            patient_item = QTreeWidgetItem([self._patient_text(patient.patient_id, patient.name, number)])
            patient_item.setData(0, Qt.ItemDataRole.UserRole, ("patient", patient.patient_id, None))
            self.browser.addTopLevelItem(patient_item)
            for study in patient.studies.values():
                text = " ".join(filter(None, (format_dicom_date(study.date), study.description))) or "study"
                study_item = QTreeWidgetItem([f"{text} ({len(study.images)} images)"])
                study_item.setData(0, Qt.ItemDataRole.UserRole, ("study", patient.patient_id, study.study_uid))
                patient_item.addChild(study_item)
                for entry in study.images:
                    meta = entry.metadata
                    item = QTreeWidgetItem([f"{meta.laterality or '?'} {meta.view or '?'}"])
                    item.setData(0, Qt.ItemDataRole.UserRole, ("study", patient.patient_id, study.study_uid))
                    study_item.addChild(item)
                    self._image_items[str(entry.path)] = item
            patient_item.setExpanded(True)
        self.browser.expandAll()

    def _patient_text(self, patient_id: str | None, name: str | None, number: int) -> str:
        if self.hide_phi:
            return f"Patient {number}"
        return " — ".join(filter(None, (str(name).replace("^", " ") if name else None, patient_id))) or f"Patient {number}"

    def _on_browser_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data or self.scan is None:
            return
        _, patient_id, study_uid = data
        patient = self.scan.patients.get(patient_id)
        if patient is None:
            return
        study_uid = study_uid or next(iter(patient.studies))
        if self.study is None or self.study.study_uid != study_uid or self.study.patient_id != patient.patient_id:
            self.show_study(patient_id, study_uid)

    def show_study(self, patient_id: str, study_uid: str) -> None:
        patient = self.scan.patients[patient_id]
        entry = patient.studies[study_uid]
        self.loader.cancel()
        self.engine.new_run()
        self.renderers.clear()
        self.windows.clear()
        self.study = Study(patient.patient_id, patient.name, patient.birth_date, entry.date, entry.description, entry.study_uid)
        for image in entry.images:
            key = str(image.path)
            self.study.images[key] = StudyImage(key, image.path, image.metadata)
        self.page = 0
        self.selected_key = None
        self._queued: set[str] = set()
        self._rehang()
        self._update_title()
        self._settled_sent = False
        # Visible views first, in reading order: the first image shows while the rest decode.
        order = [p.key for p in self.hanging.placements] + [k for k in self.study.images if k not in
                                                              {p.key for p in self.hanging.placements}]
        self.pending_decode = len(order)
        self.loader.decode([(key, self.study.images[key].path) for key in order], THUMBNAIL_HEIGHT)

    # ----- decoding and analysis -------------------------------------------------------------------
    def _on_decoded(self, key: str, decoded: DecodedImage) -> None:
        if self.study is None or key not in self.study.images:
            return
        self.pending_decode -= 1
        item = self.study.images[key]
        image = decoded.image
        item.image, item.chest_wall_right = image, decoded.chest_wall_right
        self.renderers[key] = decoded.renderer
        self.windows[key] = image.default_preset
        item.prediction = self.predictions.get(key)
        tree_item = getattr(self, "_image_items", {}).get(key)
        if tree_item is not None:
            tree_item.setIcon(0, QIcon(QPixmap.fromImage(gray_qimage(decoded.thumbnail))))
        if item.metadata.patient_orientation is None:
            self._rehang()  # the pixel-read chest wall may change the flips
        else:
            self._refresh_view_for(key)
        if item.prediction is not None:
            self._refresh_results()  # analysed before (another study was shown meanwhile): no rerun
        self._queue_analysis()
        self._check_settled()

    def _queue_analysis(self) -> None:
        """Hand decoded images to the engine once the views on screen have all decoded: on a
        few cores, inference running beside the decoding would delay the images the reader
        is waiting for. Images off screen follow as they decode."""
        if self.study is None or self.hanging is None:
            return
        visible = [p.key for p in self.hanging.placements]
        if any(self.study.images[k].image is None and self.study.images[k].error is None for k in visible):
            return
        for key, item in self.study.images.items():
            if item.image is not None and item.prediction is None and key not in self._queued:
                self._queued.add(key)
                reason = not_a_mammogram(item.metadata)
                if reason:
                    # Displayed, never scored: the model's marks on a CT or an MR mean nothing.
                    item.not_analysed = "not a mammogram: AI not run"
                    self._problem(f"{printable(item.path)}: not a mammogram ({reason}): AI not run")
                    self._refresh_view_for(key)
                    continue
                self.engine.add(key, item.image)

    def _on_decode_failed(self, key: str, message: str) -> None:
        if self.study is None or key not in self.study.images:
            return
        self.pending_decode -= 1
        self.study.images[key].error = message
        self._problem(message)
        self._refresh_view_for(key)
        self._queue_analysis()
        self._check_settled()

    def _on_engine_ready(self, predictor) -> None:
        table = predictor.metadata.get("validation", {}).get("threshold_table", [])
        self.findings.set_model(predictor.default_threshold, table,
                                f"AI: {predictor.model_name} on {predictor.device_name} ({predictor.precision})",
                                score_trust(predictor.metadata))
        self.findings.set_threshold(predictor.default_threshold)
        self.device_label.setText(f"AI: {predictor.device_name}")

    def _on_engine_unavailable(self, message: str) -> None:
        self.findings.engine_label.setText(message)
        self.findings.set_idle("AI not available")
        self.device_label.setText("AI: not available")
        self._status(message)
        self._problem(message)
        if self.hanging is not None:  # views drawn while the weights loaded still say "AI…"
            for placement in self.hanging.placements:
                self._draw(placement)
        self._check_settled()

    def _on_predicted(self, key: str, prediction) -> None:
        if self.study is None or key not in self.study.images:
            return
        self.study.images[key].prediction = prediction
        self.predictions[key] = prediction
        # A view's score compares it with the other breast's same view once both are in (bilateral.py).
        self.engine.predictor.compare_breasts(list(self.predictions.values()))
        fallback = next((w for w in prediction.warnings if w.startswith(CUDA_FALLBACK)), None)
        if fallback is not None:
            # The engine moved to the CPU: say so where the reader looks, once, and keep it listed.
            self.device_label.setText(f"AI: CPU ({CUDA_FALLBACK})")
            self.findings.engine_label.setText(f"AI: {self.engine.predictor.model_name} on CPU after a CUDA failure "
                                               f"({self.engine.predictor.precision})")
            if fallback not in self._notices:
                self._notices.add(fallback)
                self._problem(fallback)
            self._status(fallback)
        self._refresh_results()

    def _on_predict_failed(self, key: str, message: str) -> None:
        if self.study is not None and key in self.study.images:
            self.study.images[key].error = f"AI failed: {message}"
            self._problem(f"{key}: AI analysis failed: {message}")

    def cancel_analysis(self) -> None:
        self.engine.cancel()
        self._status("Analysis cancelled; finished results stay on screen (Ctrl+R analyses again)")

    def reanalyse(self) -> None:
        if self.study is None:
            return
        self.engine.new_run()
        self._settled_sent = False
        self._queued = set()
        self._queue_analysis()
        self._check_settled()

    def _check_settled(self, failed: str | None = None) -> None:
        if self._settled_sent or (self.study is None and not failed):
            return  # still scanning (or nothing opened)
        decoding = self.study is not None and self.pending_decode > 0
        analysing = self.engine.busy or self.engine.loading
        if failed or (not decoding and not analysing):
            self._settled_sent = True
            done = len(self.study.predicted()) if self.study else 0
            total = len(self.study.images) if self.study else 0
            if self.study is not None and not failed:
                self._status(f"Analysed {done} of {total} image(s)")
            if not self.engine.total:
                self.findings.set_idle(self._idle_text())
            self.study_settled.emit()

    def _idle_text(self) -> str:
        """Why no image is being analysed, for the progress bar."""
        if self.engine.error:
            return "AI not available"
        images = list(self.study.images.values()) if self.study else []
        if not images:
            return "no image to analyse"
        if any(image.prediction is not None for image in images):
            return f"{sum(image.prediction is not None for image in images)} image(s) analysed"
        if all(image.error or image.not_analysed for image in images):
            return "no readable mammogram to analyse"
        return "analysis cancelled" if self._queued else "no image analysed yet"

    # ----- hanging and drawing ----------------------------------------------------------------------
    def set_layout(self, mode: int) -> None:
        self.layout_mode = mode
        self.page = 0
        self.settings.setValue("layout", mode)
        self.layout_actions[mode].setChecked(True)
        self._rehang()

    def turn_page(self, step: int) -> None:
        if self.hanging is not None and self.hanging.pages > 1:
            self.page = (self.page + step) % self.hanging.pages
            self._rehang()

    def _rehang(self) -> None:
        if self.study is None:
            return
        self.hanging = hang(self.study.view_infos(), self.layout_mode, self.page)
        for index, view in enumerate(self.views):
            row, column = divmod(index, 2)
            placement = self.hanging.at(row, column) if row < self.hanging.rows and column < self.hanging.columns else None
            view.setVisible(placement is not None or (row < self.hanging.rows and column < self.hanging.columns))
            if placement is None:
                view.clear()
        for row in range(2):
            self.grid.setRowStretch(row, 1 if row < self.hanging.rows else 0)
        for column in range(2):
            self.grid.setColumnStretch(column, 1 if column < self.hanging.columns else 0)
        for placement in self.hanging.placements:
            self._draw(placement)
        self._status("; ".join(self.hanging.notes)) if self.hanging.notes else None

    def _view_of(self, key: str) -> tuple[MammoView, object] | tuple[None, None]:
        if self.hanging is None:
            return None, None
        for placement in self.hanging.placements:
            if placement.key == key:
                return self.views[placement.row * 2 + placement.column], placement
        return None, None

    def _refresh_view_for(self, key: str) -> None:
        view, placement = self._view_of(key)
        if view is not None:
            self._draw(placement)

    def _draw(self, placement) -> None:
        view = self.views[placement.row * 2 + placement.column]
        item = self.study.images[placement.key]
        renderer = self.renderers.get(placement.key)
        meta = item.metadata
        view.title = placement.label
        view.orientation = meta.patient_orientation
        view.spacing_mm = meta.pixel_spacing_mm
        view.notes = list(placement.notes)
        if renderer is None:
            view.clear()
            view.title = placement.label
            view.subtitle = item.error or "decoding…"
            view.viewport().update()
            return
        preset = self.windows.get(placement.key, renderer.image.default_preset)
        view.set_image(placement.key, renderer.render(preset, user_invert=self.invert), flip_h=placement.flip_horizontal,
                       flip_v=placement.flip_vertical)
        view.title = placement.label
        view.subtitle = f"window: {preset.name}"
        view.notes = list(placement.notes) + [w for w in meta.warnings() if "spacing" in w or "PROCESSING" in w or "implant" in w]
        self._draw_results(view, item)

    def _draw_results(self, view: MammoView, item: StudyImage) -> None:
        prediction = item.prediction
        if prediction is None:
            view.badge = item.not_analysed or ("AI…" if self.engine.busy or self.engine.loading else
                                               ("AI n/a" if self.engine.error else ""))
            view.set_contours([])
            view.set_heat_map(None)
            view.viewport().update()
            return
        threshold = self.findings.threshold
        lesions = prediction.lesions(threshold)
        selected = [self.selected_lesion.lesion.contour_xy] if (
            self.selected_lesion is not None and self.selected_lesion.key == item.key) else []
        view.set_contours([lesion.contour_xy for lesion in lesions], selected)
        view.set_heat_map(prediction.working_probability, prediction.geometry)
        view.set_heat_visible(self.findings.heat_box.isChecked(), self.findings.opacity.value() / 100.0)
        view.set_contours_visible(self.findings.contours_box.isChecked())
        view.badge = f"score {prediction.score:.2f}" + (" (both breasts)" if prediction.score_basis == BOTH_BREASTS else "")
        view.viewport().update()

    def _refresh_results(self) -> None:
        if self.study is None:
            return
        for placement in (self.hanging.placements if self.hanging else ()):
            view = self.views[placement.row * 2 + placement.column]
            if view.key == placement.key:
                self._draw_results(view, self.study.images[placement.key])
        self.findings.set_scores(self.study.exam_score(), self.study.breast_scores())
        self.findings.set_lesions(self.study.lesion_rows(self.findings.threshold))

    def _on_contours_toggled(self, visible: bool) -> None:
        self.contours_action.setChecked(visible)
        self.settings.setValue("contours", visible)
        for view in self.views:
            view.set_contours_visible(visible)

    def _on_heat_toggled(self, visible: bool) -> None:
        self.heat_action.setChecked(visible)
        self.settings.setValue("heat_map", visible)
        self._on_heat_opacity(self.findings.opacity.value() / 100.0)

    def _on_heat_opacity(self, opacity: float) -> None:
        self.settings.setValue("heat_opacity", int(round(opacity * 100)))
        for view in self.views:
            view.set_heat_visible(self.findings.heat_box.isChecked(), opacity)

    def _centre_lesion(self, row: int) -> None:
        if row >= len(self.findings.rows):
            return
        chosen = self.findings.rows[row]
        self.selected_lesion = chosen
        view, _ = self._view_of(chosen.key)
        if view is None and self.study is not None:  # not on this page: show it 1-up
            order = [hang(self.study.view_infos(), 1, i).placements[0].key for i in range(len(self.study.images))]
            self.layout_mode = 1
            self.layout_actions[1].setChecked(True)
            self.page = order.index(chosen.key) if chosen.key in order else 0
            self._rehang()
            view, _ = self._view_of(chosen.key)
        if view is not None:
            x, y = chosen.lesion.centroid_xy
            if view.at_fit:  # at fit the whole image is on screen and there is nothing to centre: zoom in first
                for other in self.views:
                    if other.isVisible() and other.key:
                        other.apply_zoom(LESION_ZOOM)
            self._draw_results(view, self.study.images[chosen.key])
            view.centre_on_image_point(x, y)
            self._select_view(chosen.key)

    # ----- grayscale, zoom, pan --------------------------------------------------------------------
    def apply_preset(self, index: int) -> None:
        keys = [self.selected_key] if self.selected_key else list(self.renderers)
        for key in keys:
            renderer = self.renderers.get(key)
            if renderer and index < len(renderer.image.presets):
                self.windows[key] = renderer.image.presets[index]
                self._refresh_view_for(key)
        if keys and self.selected_key is None:
            self._status(f"Window preset {index + 1} on every view (click a view to change only that one)")

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        for key in self.renderers:
            self._refresh_view_for(key)

    def _on_window_drag(self, key: str, dx: float, dy: float) -> None:
        renderer = self.renderers.get(key)
        if renderer is None:
            return
        preset = self.windows.get(key, renderer.image.default_preset)
        center, width = window_of(renderer.image, preset)
        sensitivity = max(width, 1.0) / 300.0  # a 300-pixel drag doubles or halves the window
        self.windows[key] = adjusted(preset, center + dy * sensitivity, width + dx * sensitivity)
        self._refresh_view_for(key)

    def _sync_zoom(self, key: str, factor: float) -> None:
        for view in self.views:
            if view.key and view.key != key and view.isVisible():
                view.apply_zoom(factor)

    def _sync_pan(self, key: str, dx: float, dy: float) -> None:
        source, placement = self._view_of(key)
        for view in self.views:
            if view is source or not view.key or not view.isVisible():
                continue
            _, other = self._view_of(view.key)
            mirrored = placement is not None and other is not None and other.column != placement.column
            view.apply_pan(-dx if mirrored else dx, dy)  # mirrored pairs pan toward the same anatomy

    def set_magnifier(self, on: bool) -> None:
        for view in self.views:
            view.magnifier = on
            view.viewport().update()

    def _select_view(self, key: str) -> None:
        self.selected_key = key
        if self.model_input_dock.isVisible():
            self._show_model_input(key)

    def _show_model_input(self, key: str) -> None:
        item = self.study.images.get(key) if self.study else None
        if item is None or item.image is None:
            return
        predictor = self.engine.predictor
        if predictor is None:  # the model input depends on the weights' working spacing
            self.model_input_notes.setText("The AI model is not loaded yet.")
            return
        spacing = predictor.working_spacing_mm
        image = item.image

        def job(cancelled):
            return predictor.model_input(image)

        def show(working) -> None:
            shown = np.clip((working.image + 2.0) / 5.0, 0.0, 1.0)  # z-scored input: -2..3 SD to black..white
            pixmap = QPixmap.fromImage(gray_qimage(np.rint(shown * 255).astype(np.uint8)))
            self.model_input_image.setPixmap(pixmap.scaled(self.model_input_image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                           Qt.TransformationMode.SmoothTransformation))
            notes = [f"{item.label}: {working.image.shape[1]}×{working.image.shape[0]} px at {spacing:g} mm, breast crop, "
                     "chest wall turned to the left, z-scored over the breast"]
            notes += working.warnings + image.metadata.warnings()
            self.model_input_notes.setText("\n".join(dict.fromkeys(notes)))

        self.loader.worker.submit(job, show, lambda exc: self.model_input_notes.setText(str(exc)))

    # ----- export ---------------------------------------------------------------------------------
    def _analysed(self) -> list[StudyImage]:
        return self.study.predicted() if self.study is not None else []

    def _export_folder(self) -> str:
        return str(self.settings.value("export_folder", str(Path.home())))

    def _refuse_input_folder(self, target: Path) -> bool:
        source = Path(self.source_path) if getattr(self, "source_path", None) else None
        folder = source if source is not None and source.is_dir() else (source.parent if source else None)
        if folder is not None and is_inside(target, folder):
            self._export_message(f"Not written: {target} is inside the opened folder, which is never written to. "
                                 "Choose another place.")
            return True
        return False

    def _export_message(self, message: str) -> None:
        self._status(message)
        if "Not written" in message or "failed" in message.lower():
            self._problem(message)
        self.export_finished.emit(message)

    def export_report(self) -> None:
        if not self._analysed():
            self._export_message("Not written: no analysed image to report yet")
            return
        name = "mammo-report.pdf" if self.hide_phi else f"mammo-report-{self.study.patient_id or 'study'}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Export report", str(Path(self._export_folder()) / name), "PDF (*.pdf)")
        if path:
            self.export_report_to(path, force=True)  # the dialog has asked before replacing a file

    def export_report_to(self, path: str, *, page_size: str | None = None, force: bool = False) -> None:
        from .report_pdf import write_report

        target = Path(path)
        items = self._analysed()
        if not items:
            self._export_message("Not written: no analysed image to report yet")
            return
        if self._refuse_input_folder(target):
            return
        self.settings.setValue("export_folder", str(target.parent))
        analysed = [(item.image, item.prediction) for item in items]
        threshold = self.findings.threshold
        table, anonymize = self.findings.table, self.hide_phi
        note = score_trust(self.engine.predictor.metadata) if self.engine.predictor is not None else None
        size = page_size or str(self.settings.value("page_size", "A4"))
        self._status(f"Writing {target}…")
        self.exporter.submit(
            lambda cancelled: write_report(analysed, threshold, target, threshold_table=table, anonymize=anonymize,
                                           page_size=size, force=force, score_note=note),
            lambda out: self._export_message(f"Report written: {out}"),
            lambda exc: self._export_message(f"Not written: {exc}"))

    def export_dicom(self) -> None:
        if not self._analysed():
            self._export_message("Not written: no analysed image to export yet")
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for DICOM SEG and SR", self._export_folder())
        if folder:
            self.export_dicom_to(folder)

    def export_dicom_to(self, folder: str, *, force: bool = False) -> None:
        from hds_core.report import AnalysedImage, write_segmentation, write_structured_report

        target = Path(folder)
        items = [item for item in self._analysed() if item.metadata.file_format == "DICOM"]
        if not items:
            self._export_message("Not written: SEG and SR need analysed DICOM images")
            return
        if self._refuse_input_folder(target):
            return
        self.settings.setValue("export_folder", str(target))
        analysed = [AnalysedImage(item.path, item.prediction) for item in items]
        threshold = self.findings.threshold
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")

        def job(cancelled):
            written = [write_segmentation(a, threshold, target / f"{a.path.stem}_seg_{stamp}.dcm", force=force) for a in analysed]
            written.append(write_structured_report(analysed, threshold, target / f"report_sr_{stamp}.dcm", force=force))
            return written

        self.exporter.submit(job, lambda written: self._export_message(f"Wrote {len(written)} DICOM file(s) to {target}"),
                             lambda exc: self._export_message(f"Not written: {exc}"))

    # ----- privacy and title ------------------------------------------------------------------------
    def set_hide_phi(self, hide: bool) -> None:
        self.hide_phi = hide
        self.settings.setValue("hide_phi", hide)
        self._update_title()
        if self.scan is not None:
            for number, item in enumerate((self.browser.topLevelItem(i) for i in range(self.browser.topLevelItemCount())), 1):
                _, patient_id, _ = item.data(0, Qt.ItemDataRole.UserRole)
                patient = self.scan.patients[patient_id]
                item.setText(0, self._patient_text(patient.patient_id, patient.name, number))

    def _update_title(self) -> None:
        if self.study is None:
            self.setWindowTitle(APP_NAME)
            return
        if self.hide_phi:
            who = "patient details hidden"
        else:
            name = str(self.study.patient_name).replace("^", " ") if self.study.patient_name else None
            birth = f"born {format_dicom_date(self.study.birth_date)}" if self.study.birth_date else None
            who = ", ".join(filter(None, (name, self.study.patient_id, birth)))
        when = format_dicom_date(self.study.study_date)
        self.setWindowTitle(" — ".join(filter(None, (who, when, APP_NAME))))

    def patient_text_on_screen(self) -> str:
        """Everything patient-identifying the window shows (for the hide-PHI check)."""
        texts = [self.windowTitle()]
        texts += [self.browser.topLevelItem(i).text(0) for i in range(self.browser.topLevelItemCount())]
        texts += [view.title + view.subtitle for view in self.views]
        return "\n".join(texts)

    # ----- closing -----------------------------------------------------------------------------------
    def closeEvent(self, event):  # noqa: N802
        # Cancel decoding and inference together (both check for it inside), then wait for
        # them 2 s at most in all. A report being written is let finish: it is written
        # atomically, so even a cut-short one would leave nothing behind.
        start = time.monotonic()
        self.loader.cancel()
        self.engine.cancel(quiet=True)
        self.exporter.shutdown(5.0 if self.exporter.busy else 0.5)  # an idle one stops at once
        remaining = lambda: max(0.05, CLOSE_WAIT_S - (time.monotonic() - start))  # noqa: E731
        stopped = self.loader.shutdown(remaining()) & self.engine.shutdown(remaining())
        if not stopped:
            log.warning("background work did not stop within %.0f s; exiting anyway", CLOSE_WAIT_S)
        log.info("closed in %.2f s", time.monotonic() - start)
        super().closeEvent(event)


