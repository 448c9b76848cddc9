"""The DICOM nodes dialog: our AE title and port, the remote nodes (name, AE title, host, port,
DICOMweb URL, TLS), each tested with C-ECHO on a worker thread. Saved to the node book that
``hds-node`` reads too; nothing is saved while a field is invalid (the fault is said)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from hds_core.node import LocalNode, Node, NodeBook, NodeError, load_book, save_book

from ..work.worker import Worker

COLUMNS = ("Name", "AE title", "Host", "Port", "DICOMweb URL", "TLS")


class NodesDialog(QDialog):
    def __init__(self, book_path: Path | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM nodes")
        self.book_path = book_path
        self.worker = Worker("dicom echo", self)
        try:
            book = load_book(book_path)
            problem = ""
        except NodeError as exc:
            book, problem = NodeBook(), str(exc)
        self.ae_title = QLineEdit(book.local.ae_title)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(book.local.port)
        self.bind = QLineEdit(book.local.bind)
        self.bind.setToolTip("127.0.0.1 keeps the listener to this machine; 0.0.0.0 opens it to the network")
        ours = QFormLayout()
        ours.addRow("Our AE title", self.ae_title)
        ours.addRow("Our port", self.port)
        ours.addRow("Listen on", self.bind)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for node in book.nodes:
            self._add_row(node)
        add, remove, self.test_button = QPushButton("Add"), QPushButton("Remove"), QPushButton("Test (C-ECHO)")
        add.clicked.connect(lambda: self._add_row(None))
        remove.clicked.connect(lambda: self.table.removeRow(self.table.currentRow()))
        self.test_button.clicked.connect(self.test)
        row_buttons = QHBoxLayout()
        for button in (add, remove, self.test_button):
            row_buttons.addWidget(button)
        row_buttons.addStretch(1)
        self.message = QLabel(problem)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(ours)
        layout.addWidget(self.table, 1)
        layout.addLayout(row_buttons)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(760, 420)

    def _add_row(self, node: Node | None) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        values = (
            (node.name, node.ae_title, node.host, str(node.port), node.dicomweb_url)
            if node
            else ("", "", "", "104", "")
        )
        for column, value in enumerate(values):
            self.table.setItem(row, column, QTableWidgetItem(value))
        tls = QTableWidgetItem()
        tls.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        tls.setCheckState(Qt.CheckState.Checked if node and node.tls else Qt.CheckState.Unchecked)
        self.table.setItem(row, len(COLUMNS) - 1, tls)
        self.table.setCurrentCell(row, 0)

    def _row_node(self, row: int) -> Node:
        def text(column: int) -> str:
            item = self.table.item(row, column)
            return item.text().strip() if item else ""

        name = text(0) or f"{text(1)}@{text(2)}:{text(3)}"
        tls = self.table.item(row, len(COLUMNS) - 1)
        try:
            return Node(
                name=name,
                ae_title=text(1),
                host=text(2),
                port=text(3),
                dicomweb_url=text(4),
                tls=bool(tls and tls.checkState() == Qt.CheckState.Checked),
            )
        except NodeError as exc:
            raise NodeError(f"row {row + 1}: {exc}") from None

    def book(self) -> NodeBook:
        """What the dialog holds, validated (a NodeError names the field at fault)."""
        local = LocalNode(ae_title=self.ae_title.text(), port=self.port.value(), bind=self.bind.text().strip())
        nodes = tuple(self._row_node(row) for row in range(self.table.rowCount()))
        return NodeBook.from_document(
            {"local": {**local.__dict__, "allow": list(local.allow)}, "nodes": [n.__dict__ for n in nodes]}
        )

    def test(self) -> None:
        from hds_core.node import echo

        row = self.table.currentRow()
        if row < 0:
            self.message.setText("Choose a node to test")
            return
        try:
            node, local = self._row_node(row), self.book().local
        except NodeError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Testing {node}…")
        self.test_button.setEnabled(False)

        def done(_value) -> None:
            self.test_button.setEnabled(True)
            self.message.setText(f"{node} answers: C-ECHO succeeded")

        def failed(exc) -> None:
            self.test_button.setEnabled(True)
            self.message.setText(str(exc))

        self.worker.submit(lambda _cancelled: echo(node, local), done, failed)

    def save(self) -> None:
        try:
            path = save_book(self.book(), self.book_path)
        except NodeError as exc:
            self.message.setText(f"Not saved: {exc}")
            return
        self.message.setText(f"Saved in {path}")
        self.accept()

    def done(self, result: int) -> None:  # QDialog.done: the echo thread goes with the dialog
        self.worker.shutdown(timeout=0.1)
        super().done(result)
