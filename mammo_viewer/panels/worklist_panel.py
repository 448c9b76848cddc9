"""The worklist: the studies of an ``hds-batch`` results table, one a row, sortable by any
column (by the AI's exam score, highest first, when opened). Enter or a double-click opens the
row's study; the window's keys step to the next and the previous. Read-only: the table is never
written."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..reading.worklist import WorkItem

COLUMNS = ("Patient", "ID", "Date", "Exam score", "Decile", "Flags", "Images", "Failed", "Read")
READ_COLUMN = COLUMNS.index("Read")


class _Item(QTableWidgetItem):
    """A cell that sorts by its value (numbers as numbers, empty last), not by its text."""

    def __init__(self, text: str, value=None):
        super().__init__(text)
        self.value = value
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other):  # the table sorts by value
        mine, theirs = self.value, getattr(other, "value", None)
        if mine is None or theirs is None:
            return theirs is None and mine is not None
        return mine < theirs


class WorklistPanel(QWidget):
    open_requested = Signal(object)  # the WorkItem to open

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.source = QLabel("No worklist: File > Open worklist (an hds-batch results table)")
        self.source.setWordWrap(True)
        layout.addWidget(self.source)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.itemActivated.connect(lambda item: self.open_row(item.row()))
        layout.addWidget(self.table)
        self.items: list[WorkItem] = []
        self.hide_phi = False

    def show_items(self, items: list[WorkItem], source: str) -> None:
        self.items = list(items)
        self.source.setText(f"{source}: {len(items)} stud(ies); Enter opens, Ctrl+Shift+Down the next")
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            cells = (
                _Item("de-identified" if self.hide_phi else (item.patient_name or "—"), item.patient_name or ""),
                _Item("—" if self.hide_phi else (item.patient_id or "—"), item.patient_id or ""),
                _Item(item.date_text or "—", item.study_date),
                _Item("—" if item.exam_score is None else f"{item.exam_score:.3f}", item.exam_score),
                _Item("—" if item.decile is None else f"{item.decile}/10", item.decile),
                _Item(item.flags, item.flags),
                _Item(str(item.images), item.images),
                _Item(str(item.failed) if item.failed else "", item.failed),
                _Item(item.read, item.read),
            )
            cells[0].setData(Qt.ItemDataRole.UserRole, row)  # the item behind the row, whatever the sort
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
        self.table.setSortingEnabled(True)
        self.table.sortItems(3, Qt.SortOrder.DescendingOrder)  # the AI's exam score, highest first
        self.table.resizeColumnsToContents()
        if items:
            self.table.selectRow(0)

    def item_at(self, row: int) -> WorkItem | None:
        cell = self.table.item(row, 0)
        return self.items[cell.data(Qt.ItemDataRole.UserRole)] if cell is not None else None

    def open_row(self, row: int) -> None:
        item = self.item_at(row)
        if item is not None:
            self.table.selectRow(row)
            self.open_requested.emit(item)

    def step(self, by: int) -> None:
        """The next (``by`` 1) or previous (-1) study in the list as sorted, opened."""
        if not self.items:
            return
        current = self.table.currentRow()
        row = min(max(current + by, 0), self.table.rowCount() - 1) if current >= 0 else 0
        self.open_row(row)

    def mark_read(self, study_uid: str | None, state: str) -> None:
        """The row of ``study_uid`` says how far it is read (after a reading changes)."""
        for row in range(self.table.rowCount()):
            item = self.item_at(row)
            if item is not None and study_uid and item.study_uid == study_uid:
                item.read = state
                self.table.item(row, READ_COLUMN).setText(state)
                self.table.item(row, READ_COLUMN).value = state
