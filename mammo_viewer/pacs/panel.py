"""The PACS panel: search a node's studies (C-FIND), retrieve one into the local study cache
(C-GET, with progress and cancel) and open it. Every exchange runs on the panel's own worker
thread; a node that does not answer or refuses us is said in the panel, in words."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hds_core.node import NodeError, StudyQuery, load_book

from ..work.worker import Worker

COLUMNS = ("Patient ID", "Name", "Date", "Modalities", "Images", "Description")
HIDDEN = "—"


class _Progress(QObject):
    changed = Signal(int, int)  # done, total (0: not known yet), from the worker thread
    scanned = Signal(object)  # the arriving study's folder scanned again (a ScanResult)


class PacsPanel(QWidget):
    study_retrieved = Signal(str)  # the study's folder in the cache, complete
    study_arriving = Signal(object)  # a ScanResult of the study's folder after each new instance
    retrieve_started = Signal()
    nodes_requested = Signal()  # the reader wants the DICOM nodes dialog

    def __init__(self, book_path: Path | None = None, cache=None, parent=None) -> None:
        super().__init__(parent)
        self.book_path, self._cache = book_path, cache
        self.worker = Worker("pacs", self)
        self.records: list = []
        self.hide_phi = False
        self._cancel = threading.Event()
        self._progress = _Progress(self)
        self._progress.changed.connect(self._show_progress)
        self._progress.scanned.connect(self.study_arriving)

        self.node = QComboBox()
        nodes_button = QPushButton("Nodes…")
        nodes_button.clicked.connect(self.nodes_requested)
        node_row = QHBoxLayout()
        node_row.addWidget(self.node, 1)
        node_row.addWidget(nodes_button)
        self.patient_id, self.patient_name = QLineEdit(), QLineEdit()
        self.accession, self.dates, self.modality = QLineEdit(), QLineEdit(), QLineEdit("MG")
        self.patient_name.setPlaceholderText("* and ? allowed")
        self.dates.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        form = QFormLayout()
        form.addRow("Node", node_row)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Accession", self.accession)
        form.addRow("Study date", self.dates)
        form.addRow("Modality", self.modality)
        for field in (self.patient_id, self.patient_name, self.accession, self.dates, self.modality):
            field.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.retrieve(row))
        self.retrieve_button = QPushButton("Retrieve and open")
        self.retrieve_button.clicked.connect(lambda: self.retrieve(self.table.currentRow()))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.search_button)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.reload_nodes()

    # ----- nodes ---------------------------------------------------------------------------------------
    def reload_nodes(self) -> None:
        try:
            self.book = load_book(self.book_path)
        except NodeError as exc:
            from hds_core.node import NodeBook

            self.book = NodeBook()
            self.say(str(exc))
        chosen = self.node.currentText()
        self.node.clear()
        self.node.addItems([node.name for node in self.book.nodes])
        if chosen:
            self.node.setCurrentText(chosen)
        if not self.book.nodes:
            self.say("No DICOM node yet: add your PACS with Nodes…")

    def _node(self):
        text = self.node.currentText().strip()
        if not text:
            raise NodeError("no node chosen", fix="add your PACS with Nodes…")
        return self.book.find(text)

    def chosen_node(self):
        """(the node chosen in the tab, our own node), or None where no node is set."""
        if not self.book.nodes or not self.node.currentText().strip():
            return None
        try:
            return self._node(), self.book.local
        except NodeError:  # a name the book no longer has
            return None

    def cache_root(self) -> Path | None:
        """The study cache's folder, where there is one (none is made to look into)."""
        if self._cache is not None:
            return self._cache.root
        from hds_core.node.cache import default_root

        root = default_root()
        return root if root.is_dir() else None

    def say(self, text: str) -> None:
        self.message.setText(text)

    # ----- search --------------------------------------------------------------------------------------
    def query(self) -> StudyQuery:
        return StudyQuery(
            patient_id=self.patient_id.text().strip(),
            patient_name=self.patient_name.text().strip(),
            dates=self.dates.text(),
            accession_number=self.accession.text().strip(),
            modality=self.modality.text().strip(),
        )

    def search(self) -> None:
        from hds_core.node import find_studies

        try:
            node, query = self._node(), self.query()
        except NodeError as exc:
            self.say(str(exc))
            return
        local = self.book.local
        self.say(f"Searching {node}…")
        self.search_button.setEnabled(False)
        self.worker.submit(lambda _cancelled: find_studies(node, local, query), self._found, self._failed)

    def _found(self, records) -> None:
        self.search_button.setEnabled(True)
        self.records = records  # a StudyList: it knows whether the PACS had more
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            values = (
                HIDDEN if self.hide_phi else record.patient_id,
                HIDDEN if self.hide_phi else record.patient_name.replace("^", " "),
                record.study_date,
                record.modalities,
                "" if record.instances is None else str(record.instances),
                record.description,
            )
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        if self.records:
            self.table.selectRow(0)
        more = "; the PACS has more: narrow the search" if getattr(records, "truncated", False) else ""
        self.say(f"{len(self.records)} stud{'y' if len(self.records) == 1 else 'ies'} found{more}")

    def _failed(self, exc: Exception) -> None:
        self.search_button.setEnabled(True)
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        from hds_core.node.scu import RetrieveCancelled

        if isinstance(exc, RetrieveCancelled):
            self.say("Retrieve cancelled: what arrived stays unfinished in the cache; retrieve again to complete it")
        else:
            self.say(str(exc) if isinstance(exc, NodeError) else f"Failed: {exc}")

    def set_hide_phi(self, hide: bool) -> None:
        self.hide_phi = hide
        self._found(self.records)

    # ----- retrieve ------------------------------------------------------------------------------------
    @property
    def cache(self):
        if self._cache is None:
            from hds_core.node import StudyCache

            self._cache = StudyCache()
        return self._cache

    def retrieve(self, row: int) -> None:
        from hds_core.node import retrieve

        if not 0 <= row < len(self.records):
            self.say("Choose a study in the list first")
            return
        record = self.records[row]
        try:
            node, cache = self._node(), self.cache
        except NodeError as exc:
            self.say(str(exc))
            return
        cached = cache.get(record.study_instance_uid)
        if cached is not None and record.instances is not None and cached.instances >= record.instances:
            # Complete in the cache with every image the PACS lists: opened without the network.
            self.say(f"Opened from the local cache ({cached.instances} image(s))")
            self.study_retrieved.emit(str(cached.folder))
            return
        local = self.book.local
        self._cancel.clear()
        self.retrieve_started.emit()
        self.retrieve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.say(f"Retrieving the study of {record.study_date} from {node}…")
        emit, scanned = self._progress.changed.emit, self._progress.scanned.emit
        own_folder = cache.root / record.study_instance_uid

        def arrived(path: Path) -> None:
            # On the receiving thread: a first arrival is written in the study's own folder,
            # which the window can show as its films come (a new version of a complete study
            # is shown once complete). Headers only: a few milliseconds a film.
            if path.parent == own_folder:
                from hds_core.io import scan_folder

                scanned(scan_folder(own_folder))

        def job(_cancelled):
            return retrieve(
                node,
                local,
                record.study_instance_uid,
                cache,
                progress=lambda done, total: emit(done, total or 0),
                cancelled=self._cancel,
                on_instance=arrived,
            )

        self.worker.submit(job, self._retrieved, self._failed)

    def _show_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.say(f"Retrieving… {done}{f' of {total}' if total else ''} image(s)")

    def cancel(self) -> None:
        self._cancel.set()
        self.say("Cancelling the retrieve…")

    def _retrieved(self, result) -> None:
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        if result.study is None:
            self.say("The node sent nothing for this study")
            return
        note = f"; {result.refused} refused as malformed" if result.refused else ""
        self.say(f"Retrieved {result.study.instances} instance(s){note}")
        self.study_retrieved.emit(str(result.study.folder))

    def shutdown(self) -> None:
        self._cancel.set()
        self.worker.shutdown()
