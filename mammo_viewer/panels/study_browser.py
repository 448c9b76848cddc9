"""The study browser: patient -> study -> image, with thumbnails as they decode; names are
replaced by "Patient N" while patient details are hidden."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from hds_core.io import ScanResult
from hds_core.report.content import format_dicom_date, reading_order
from hds_core.text import printable

from ..pictures.view_pictures import gray_pixmap


class StudyBrowser(QTreeWidget):
    study_chosen = Signal(str, str)  # patient ID, study UID

    def __init__(self, thumbnail_height: int):
        super().__init__()
        self.setHeaderHidden(True)
        self.setIconSize(QSize(thumbnail_height * 3 // 4, thumbnail_height))
        self.scan: ScanResult | None = None
        self.hide_phi = False
        self.current: tuple[str | None, str | None] = (None, None)  # (patient ID, study UID) on screen
        self._image_items: dict[str, QTreeWidgetItem] = {}
        self._study_items: dict[str, tuple[QTreeWidgetItem, str]] = {}  # study UID -> (item, its text)
        self.itemActivated.connect(self.choose)
        self.itemClicked.connect(self.choose)

    def fill(self, scan: ScanResult) -> None:
        self.clear()
        self.scan, self._image_items, self._study_items = scan, {}, {}
        for number, patient in enumerate(scan.patients.values(), 1):
            patient_item = QTreeWidgetItem([self.patient_text(patient.patient_id, patient.name, number)])
            patient_item.setData(0, Qt.ItemDataRole.UserRole, ("patient", patient.patient_id, None))
            self.addTopLevelItem(patient_item)
            for study in patient.studies.values():
                text = " ".join(filter(None, (format_dicom_date(study.date), study.description))) or "study"
                text = printable(f"{text} ({len(study.images)} images)")
                study_item = QTreeWidgetItem([text])
                self._study_items[study.study_uid] = (study_item, text)
                study_item.setData(0, Qt.ItemDataRole.UserRole, ("study", patient.patient_id, study.study_uid))
                patient_item.addChild(study_item)
                for entry in sorted(study.images, key=lambda e: reading_order(e.metadata)):  # right first
                    meta = entry.metadata
                    stack = f" · tomosynthesis, {meta.frames} slices" if meta.is_stack else ""
                    item = QTreeWidgetItem([printable(f"{meta.laterality or '?'} {meta.view or '?'}{stack}")])
                    item.setData(0, Qt.ItemDataRole.UserRole, ("study", patient.patient_id, study.study_uid))
                    study_item.addChild(item)
                    self._image_items[str(entry.path)] = item
            patient_item.setExpanded(True)
        self.expandAll()

    def mark(self, current_uid: str | None, prior_uid: str | None) -> None:
        """Say which of the woman's studies is on screen and which is hung as its prior."""
        for uid, (item, text) in self._study_items.items():
            role = "on screen" if uid == current_uid else "prior" if uid == prior_uid else None
            item.setText(0, f"{text} · {role}" if role else text)
            font = item.font(0)
            font.setBold(role is not None)
            item.setFont(0, font)

    def forget(self) -> None:
        """Nothing open (not reset(): QTreeWidget.clear() calls that Qt virtual)."""
        self.clear()
        self.scan, self._image_items, self._study_items, self.current = None, {}, {}, (None, None)

    def patient_text(self, patient_id: str | None, name: str | None, number: int) -> str:
        if self.hide_phi:
            return f"Patient {number}"
        # Escaped: a name holding ESC, BEL or a line break was drawn as boxes over two lines.
        text = " — ".join(filter(None, (str(name).replace("^", " ") if name else None, patient_id)))
        return printable(text) if text else f"Patient {number}"

    def set_hide_phi(self, hide: bool) -> None:
        self.hide_phi = hide
        if self.scan is None:
            return
        for number, item in enumerate((self.topLevelItem(i) for i in range(self.topLevelItemCount())), 1):
            _, patient_id, _ = item.data(0, Qt.ItemDataRole.UserRole)
            patient = self.scan.patients[patient_id]
            item.setText(0, self.patient_text(patient.patient_id, patient.name, number))

    def set_thumbnail(self, key: str, thumbnail) -> None:
        item = self._image_items.get(key)
        if item is not None:
            item.setIcon(0, QIcon(gray_pixmap(thumbnail)))

    def texts(self) -> list[str]:
        return [self.topLevelItem(i).text(0) for i in range(self.topLevelItemCount())]

    def choose(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        """A patient (its first study), a study or an image: show its study unless already shown."""
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data or self.scan is None:
            return
        _, patient_id, study_uid = data
        patient = self.scan.patients.get(patient_id)
        if patient is None:
            return
        study_uid = study_uid or next(iter(patient.studies))
        if self.current != (patient.patient_id, study_uid):
            self.study_chosen.emit(patient_id, study_uid)
