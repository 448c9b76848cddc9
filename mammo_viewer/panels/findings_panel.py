"""The AI side panel: engine status and progress with cancel, exam and breast scores, the
threshold (slider + spin box + reset, with the validation figures at that threshold),
overlay toggles and the lesion table. The threshold and the overlays are the reading
state's (reading_state.py): the panel shows them and writes the reader's changes to it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hds_core.density import density_text
from hds_core.report.content import format_dicom_date
from hds_core.report.operating_point import describe_operating_point, operating_point, score_kind

from ..reading.reading_state import MAX_THRESHOLD, MIN_THRESHOLD, ReadingState
from ..reading.study import LesionRow

SLIDER_STEPS = 1000  # the slider moves in 0.001 steps
ROWS_BEYOND_VIEW = 10  # lesion rows filled ahead of the table's scrolling


def density_line(per_breast: dict[str, dict]) -> str:
    """ "R: MIAS F (fatty) · L: …": the model's density suggestion per breast (empty: none)."""
    return " · ".join(f"{side}: {density_text(per_breast[side])}" for side in ("R", "L") if side in per_breast)


def _fmt(value, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


ANALYSED_FORMAT = "%v / %m images analysed"  # the progress bar's text while images are queued


class FindingsPanel(QWidget):
    cancel_requested = Signal()
    lesion_activated = Signal(int)  # row index in the current lesion rows

    def __init__(self, state: ReadingState, parent=None):
        super().__init__(parent)
        self.state = state
        self.idle_text = "no image analysed yet"  # the progress bar's text while nothing is queued
        self.table: list[dict] = []
        self.rows: list[LesionRow] = []
        layout = QVBoxLayout(self)

        self.engine_label = QLabel("AI engine: loading weights…")
        self.engine_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat(self.idle_text)
        self.cancel_button = QPushButton("Cancel analysis")
        self.cancel_button.setToolTip("Stop the AI analysis (Esc); finished results stay")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.setEnabled(False)
        layout.addWidget(self.engine_label)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)

        self.scores_box = scores = QGroupBox("Scores (probability of a mass)")
        form = QFormLayout(scores)
        self.exam_score = QLabel("—")
        self.right_score = QLabel("—")
        self.left_score = QLabel("—")
        for label in (self.exam_score, self.right_score, self.left_score):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Exam:", self.exam_score)
        form.addRow("Right breast:", self.right_score)
        form.addRow("Left breast:", self.left_score)
        # The density suggestion (hds_core.density): beside the network, per breast, labelled.
        self.density_label = QLabel("—")
        self.density_label.setWordWrap(True)
        self.density_label.setToolTip(
            "Suggested from the pixels by a small model cross-validated per dataset (see the model card); "
            "a suggestion for the reader, not a finding"
        )
        form.addRow("Density (suggested):", self.density_label)
        # What the score is worth, from the model card's cross-validation: a score a reader
        # cannot trust must say so where it is shown.
        self.trust_label = QLabel()
        self.trust_label.setWordWrap(True)
        self.trust_label.setVisible(False)
        form.addRow(self.trust_label)
        layout.addWidget(scores)

        threshold = QGroupBox("Contour threshold")
        box = QVBoxLayout(threshold)
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(MIN_THRESHOLD * SLIDER_STEPS), round(MAX_THRESHOLD * SLIDER_STEPS))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(MIN_THRESHOLD, MAX_THRESHOLD)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the model card's default threshold (R)")
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        row.addWidget(self.reset_button)
        box.addLayout(row)
        self.operating_label = QLabel()
        self.operating_label.setWordWrap(True)
        box.addWidget(self.operating_label)
        layout.addWidget(threshold)
        self.slider.valueChanged.connect(lambda v: self._from_widget(v / SLIDER_STEPS, source="slider"))
        self.spin.valueChanged.connect(lambda v: self._from_widget(v, source="spin"))
        self.reset_button.clicked.connect(state.reset_threshold)

        overlays = QGroupBox("Overlays")
        grid = QFormLayout(overlays)
        self.contours_box = QCheckBox("Contours (C)")
        self.contours_box.setChecked(state.contours)
        self.heat_box = QCheckBox("Heat map (H)")
        self.heat_box.setChecked(state.heat_map)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(state.heat_opacity * 100))
        self.contours_box.toggled.connect(lambda on: setattr(state, "contours", on))
        self.heat_box.toggled.connect(lambda on: setattr(state, "heat_map", on))
        self.opacity.valueChanged.connect(lambda v: setattr(state, "heat_opacity", v / 100.0))
        state.observe("contours", self.contours_box.setChecked)
        state.observe("heat_map", self.heat_box.setChecked)
        state.observe("heat_opacity", lambda o: self.opacity.setValue(round(o * 100)))
        grid.addRow(self.contours_box)
        grid.addRow(self.heat_box)
        grid.addRow("Heat map opacity:", self.opacity)
        layout.addWidget(overlays)

        self.lesions = QTableWidget(0, 5)
        self.lesions.setHorizontalHeaderLabels(["View", "Area mm²", "Diam. mm", "Max p", "Since prior"])
        self.lesions.setColumnHidden(4, True)  # shown while a prior is hung
        header = self.lesions.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.lesions.verticalHeader().setVisible(False)
        self.lesions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.lesions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.lesions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lesions.cellClicked.connect(lambda r, _c: self.lesion_activated.emit(r))
        self._rows_filled = 0
        scroll = self.lesions.verticalScrollBar()
        scroll.valueChanged.connect(lambda _value: self._fill_rows_in_view())
        scroll.rangeChanged.connect(lambda *_range: self._fill_rows_in_view())  # the table grew taller
        layout.addWidget(QLabel("Lesions at this threshold (click to centre):"))
        layout.addWidget(self.lesions, 1)
        self._updating = False  # the widgets are being set from the state: not the reader's move
        self._source = None  # the widget the reader moved: it keeps its own position
        state.observe("threshold", self._show_threshold)
        state.observe("default_threshold", lambda _: self._describe_operating_point())
        state.observe("model_loaded", lambda _: self._describe_operating_point())
        self._show_threshold(state.threshold)

    # ----- threshold -------------------------------------------------------------------------
    def set_model(self, table: list[dict], description: str, trust: str | None = None) -> None:
        """The weights have loaded: their validation table labels the slider."""
        self.set_trust(trust)
        self.table = list(table or [])
        self.engine_label.setText(description)
        self.reset_button.setText(f"Reset ({self.state.default_threshold:g})")
        self._describe_operating_point()

    def _from_widget(self, value: float, source: str) -> None:
        if self._updating:
            return
        self._source = source
        try:
            self.state.threshold = value
        finally:
            self._source = None

    def _show_threshold(self, value: float) -> None:
        source = self._source
        self._updating = True
        try:
            if source != "slider":
                self.slider.setValue(round(value * SLIDER_STEPS))
            if source != "spin":
                self.spin.setValue(value)
        finally:
            self._updating = False
        self._describe_operating_point()

    def _describe_operating_point(self) -> None:
        value = self.state.threshold
        point = operating_point(self.table, value)
        default = " (model default)" if self.state.at_default() else ""
        if point is None:
            self.operating_label.setText(f"Threshold {value:.3f}{default}. No validation table for these weights.")
            return
        self.operating_label.setText(
            f"Threshold {value:.3f}{default}. Validation patients at this threshold: {describe_operating_point(point)}."
        )

    # ----- results ----------------------------------------------------------------------------
    def set_progress(self, done: int, total: int) -> None:
        # With nothing queued a bar reading "0 / 1 images analysed" would be a lie: say why instead.
        self.progress.setFormat(ANALYSED_FORMAT if total else self.idle_text)
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.cancel_button.setEnabled(done < total)

    def set_trust(self, trust: str | None) -> None:
        """What the score is worth: the cross-validated figure for the study's domain."""
        self.trust_label.setText(trust or "")
        self.trust_label.setVisible(bool(trust))

    def set_idle(self, text: str) -> None:
        """What the progress bar says while no image is queued for the AI."""
        self.idle_text = text
        if self.progress.format() != ANALYSED_FORMAT:
            self.progress.setFormat(text)

    def set_scores(self, exam: float | None, breasts: dict[str, float], calibrated: bool = True) -> None:
        """``calibrated``: the scores are probabilities calibrated for the study's domain (film
        or digital); otherwise they are the network's raw scores, and the title says so."""
        # A short title (the panel keeps its width); the tooltip says what a raw score is.
        self.scores_box.setTitle("Scores (probability of a mass)" if calibrated else "Scores (raw, not calibrated)")
        self.scores_box.setToolTip(
            ""
            if calibrated
            else f"The {score_kind(False)}: the weights' calibration was fitted on "
            "another kind of image (film or digital) than this study's"
        )
        self.exam_score.setText(_fmt(exam, 3))
        self.right_score.setText(_fmt(breasts.get("R"), 3))
        self.left_score.setText(_fmt(breasts.get("L"), 3))

    def set_density(self, per_breast: dict[str, dict]) -> None:
        """``per_breast``: ``hds_core.density.breast_densities`` of the study's predictions."""
        self.density_label.setText(density_line(per_breast) or "—")

    def set_lesions(self, rows: list[LesionRow], *, compared: bool = False) -> None:
        """``compared``: a prior is hung, and each row says whether its lesion is new since it."""
        self.rows = rows
        self.lesions.setColumnHidden(4, not compared)
        self.lesions.clearContents()
        self.lesions.setRowCount(len(rows))
        self._rows_filled = 0
        self._fill_rows_in_view()

    def _fill_rows_in_view(self) -> None:
        """Cells for the rows on screen and a page beyond, the rest as the table scrolls to
        them: a low threshold lists a hundred lesions, the slider refills the table at every
        step, and a cell costs as much to make as a contour to trace."""
        table = self.lesions
        last_in_view = table.rowAt(table.viewport().height() - 1)
        wanted = len(self.rows) if last_in_view < 0 else min(len(self.rows), last_in_view + 1 + ROWS_BEYOND_VIEW)
        first = self._rows_filled
        if wanted <= first:
            return
        self._rows_filled = wanted  # first: resizing the columns below may call this again
        # Columns sized once for the new cells, not again at each cell (ResizeToContents would
        # measure every row of the column per cell: a hundred rows took 40 ms).
        header = table.horizontalHeader()
        modes = [header.sectionResizeMode(c) for c in range(table.columnCount())]
        for c in range(table.columnCount()):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
        for r in range(first, wanted):
            row = self.rows[r]
            lesion = row.lesion
            values = (
                row.place,
                _fmt(lesion.area_mm2, 1),
                _fmt(lesion.longest_diameter_mm, 1),
                _fmt(lesion.max_probability, 3),
                f"new since {format_dicom_date(row.new_since)}" if row.new_since else "",
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
        for c, mode in enumerate(modes):
            header.setSectionResizeMode(c, mode)
