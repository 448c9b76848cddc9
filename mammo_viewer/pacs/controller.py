"""The window's side of the DICOM node: the PACS panel's dock, the DICOM nodes dialog, and
sending the results of the study on screen back to a node (Export → Send results to PACS)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QInputDialog

from hds_core.node import NodeError, load_book

from .nodes_dialog import NodesDialog
from .panel import PacsPanel


class Pacs:
    def __init__(self, window, panel: PacsPanel, dock, book_path: Path | None) -> None:
        self.window, self.panel, self.dock, self.book_path = window, panel, dock, book_path
        self._following: str | None = None  # the arriving study's folder, once shown
        panel.retrieve_started.connect(lambda: setattr(self, "_following", None))
        panel.study_arriving.connect(self.arriving)
        panel.study_retrieved.connect(self.retrieved)
        panel.nodes_requested.connect(self.edit_nodes)
        panel.set_hide_phi(window.hide_phi)

    def show(self) -> None:
        """Ctrl+F: the PACS tab in front, its first field ready for typing."""
        self.dock.setVisible(True)
        self.dock.raise_()
        self.panel.patient_id.setFocus()

    def arriving(self, scan) -> None:
        """A film of the study being retrieved has arrived: its first opens the study; the next
        are added while the window still shows it. Once the reader has opened something else,
        the arriving study leaves the window alone."""
        root = str(scan.root)
        if self._following != root:
            self._following = root
            self.window.show_arriving(scan)
        elif self.window.source_path == root:
            self.window.show_arriving(scan)

    def retrieved(self, folder: str) -> None:
        """The study is complete: opened now unless it was shown as it arrived."""
        if self._following != folder:
            self.window.open_path(folder)

    def edit_nodes(self) -> None:
        dialog = NodesDialog(self.book_path, self.window)
        if dialog.exec():
            self.panel.reload_nodes()

    def send_results(self) -> None:
        window = self.window
        try:
            book = load_book(self.book_path)
        except NodeError as exc:
            window.exports.message(f"Not sent: {exc}")
            return
        if not book.nodes:
            window.exports.message("Not sent: no DICOM node yet (File → DICOM nodes…)")
            return
        names = [node.name for node in book.nodes]
        current = names.index(self.panel.node.currentText()) if self.panel.node.currentText() in names else 0
        name, chosen = QInputDialog.getItem(window, "Send results to PACS", "Node", names, current, False)
        if chosen:
            window.exports.send(window.export_request(), book.find(name), book.local)

    def shutdown(self) -> None:
        self.panel.shutdown()
