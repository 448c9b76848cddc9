"""The radiologist's reading, as she fills it in (hds_core/report/reading.py holds it): her
name, breast composition (the model's suggestion beside it, never filled in for her), a BI-RADS
assessment per breast and for the exam, the management, her findings and her decisions on the
AI's marks, the impression, and signing off. The panel only shows and asks: every change goes
out as ``changed`` and comes back through ``show_reading`` once saved."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from hds_core.report.reading import ASSESSMENTS, COMPOSITIONS, Reading
from hds_core.report.reading_text import finding_text

NONE = "—"


class ReadingPanel(QWidget):
    changed = Signal(str, object)  # field (composition, R, L, exam, management, impression, indication, reader)
    sign_requested = Signal()
    addendum_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._updating = False
        layout = QVBoxLayout(self)
        self.status = QLabel("No study open")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        form = QFormLayout()
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("your name, as the report is signed")
        self.reader.editingFinished.connect(lambda: self._emit("reader", self.reader.text().strip()))
        form.addRow("Reader:", self.reader)
        self.indication = QLineEdit()
        self.indication.setPlaceholderText("screening, a lump, recall, follow-up…")
        self.indication.editingFinished.connect(lambda: self._emit("indication", self.indication.text().strip()))
        form.addRow("Indication:", self.indication)
        row = QHBoxLayout()
        self.composition = QButtonGroup(self)
        for letter in COMPOSITIONS:
            button = QRadioButton(letter)
            button.setToolTip(COMPOSITIONS[letter])
            self.composition.addButton(button)
            row.addWidget(button)
        self.composition.buttonClicked.connect(lambda button: self._emit("composition", button.text()))
        form.addRow("Composition:", row)
        self.density_hint = QLabel("")
        self.density_hint.setWordWrap(True)
        form.addRow("", self.density_hint)
        self.assessments = {}
        for side, label in (("R", "Right breast:"), ("L", "Left breast:"), ("exam", "Exam:")):
            box = QComboBox()
            # The categories' words are long: the box stays narrow (the list opens wide), so
            # the dock does not take the hanging's width.
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(14)
            box.view().setMinimumWidth(420)
            box.addItem(NONE if side != "exam" else "from the breasts", None)
            for category, meaning in ASSESSMENTS.items():
                box.addItem(f"BI-RADS {category}: {meaning}", category)
            box.activated.connect(lambda _index, side=side, box=box: self._emit(side, box.currentData()))
            form.addRow(label, box)
            self.assessments[side] = box
        self.management = QLineEdit()
        self.management.editingFinished.connect(
            lambda: self._emit("management", self.management.text().strip() or None)
        )
        form.addRow("Management:", self.management)
        layout.addLayout(form)
        hint = QLabel("Findings (N marks one, Shift+N adds its other view; A accepts, X dismisses an AI mark):")
        hint.setWordWrap(True)  # a long line would widen the dock and narrow the hanging
        layout.addWidget(hint)
        self.findings = QListWidget()
        self.findings.setWordWrap(True)
        layout.addWidget(self.findings, 1)
        layout.addWidget(QLabel("Impression:"))
        self.impression = QPlainTextEdit()
        self.impression.setTabChangesFocus(True)
        # Saved a moment after typing stops, not at every key.
        self._impression_timer = QTimer(self, singleShot=True, interval=600)
        self._impression_timer.timeout.connect(lambda: self._emit("impression", self.impression.toPlainText()))
        self.impression.textChanged.connect(lambda: None if self._updating else self._impression_timer.start())
        layout.addWidget(self.impression, 1)
        buttons = QHBoxLayout()
        self.sign = QPushButton("Sign off")
        self.sign.setToolTip("Ctrl+Shift+Return: the reading becomes final")
        self.sign.clicked.connect(self.sign_requested)
        self.addendum = QPushButton("Addendum")
        self.addendum.setToolTip("Ctrl+Shift+A: a new version amending the signed one")
        self.addendum.clicked.connect(self.addendum_requested)
        buttons.addWidget(self.sign)
        buttons.addWidget(self.addendum)
        layout.addLayout(buttons)
        self.setEnabled(False)

    def _emit(self, name: str, value) -> None:
        if not self._updating:
            self.changed.emit(name, value)

    def flush(self) -> None:
        """The impression being typed, saved now (before signing, before the study changes)."""
        if self._impression_timer.isActive():
            self._impression_timer.stop()
            self._emit("impression", self.impression.toPlainText())

    def show_reading(self, reading: Reading | None, *, read_only: bool, note: str = "", dismissed=()) -> None:
        """``dismissed``: lines for the AI marks she dismissed (kept, and listed as such)."""
        self._updating = True
        try:
            self.setEnabled(reading is not None)
            if reading is None:
                self.status.setText(note or "No study open")
                return
            state = f"signed by {reading.reader} {reading.signed_at}" if reading.signed else "draft, saved as made"
            version = f"version {reading.version}" + (f" (addendum to {reading.amends})" if reading.amends else "")
            self.status.setText(" · ".join(filter(None, (f"Reading {version}, {state}", note))))
            if self.reader.text() != reading.reader and (reading.reader or read_only):
                self.reader.setText(reading.reader)
            for button in self.composition.buttons():
                button.setChecked(button.text() == reading.composition)
            for side, box in self.assessments.items():
                value = reading.exam_assessment if side == "exam" else reading.assessment.get(side)
                box.setCurrentIndex(max(box.findData(value), 0))
            exam = self.assessments["exam"]
            exam.setItemText(0, f"from the breasts (BI-RADS {reading.exam})" if reading.exam else "from the breasts")
            if self.indication.text() != reading.indication:
                self.indication.setText(reading.indication)
            if self.management.text() != (reading.management or ""):
                self.management.setText(reading.management or "")
            self.management.setPlaceholderText(reading.recommended or "the exam category's usual management")
            if self.impression.toPlainText() != reading.impression:
                self.impression.setPlainText(reading.impression)
            self.findings.clear()
            for finding in reading.findings:
                self.findings.addItem(finding_text(finding))
            for line in dismissed:
                item_text = f"AI mark dismissed: {line}"
                self.findings.addItem(item_text)
                self.findings.item(self.findings.count() - 1).setForeground(Qt.GlobalColor.gray)
            editable = not read_only
            for widget in (self.reader, self.management, *self.assessments.values(), *self.composition.buttons()):
                widget.setEnabled(editable)
            self.impression.setReadOnly(not editable)
            self.sign.setEnabled(editable)
            self.addendum.setEnabled(reading.signed and not note.startswith("read-only"))
        finally:
            self._updating = False

    def set_density_hint(self, text: str) -> None:
        self.density_hint.setText(f"AI suggests: {text} (yours to choose)" if text else "")

    def selected_finding(self, reading: Reading | None) -> int | None:
        row = self.findings.currentRow()
        if reading is None or not 0 <= row < len(reading.findings):
            return None
        return reading.findings[row].number
