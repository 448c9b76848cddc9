"""The main window (stub): a summary of what a folder scan found."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow

from hds_core.io import scan_folder

from . import __version__


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle(f"Mammo HDS viewer {__version__}")
        self.summary = QLabel("Open a DICOM folder or a mammogram file (File → Open folder…)")
        self.summary.setWordWrap(True)
        self.setCentralWidget(self.summary)
        menu = self.menuBar().addMenu("&File")
        menu.addAction("Open &folder…", self._choose_folder)
        menu.addAction("&Quit", self.close)
        self.resize(900, 600)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.open_path(folder)

    def open_path(self, path: str) -> None:
        # Header-only scan: fast enough for a stub; the workstation moves it to a worker.
        result = scan_folder(path)
        lines = [f"{path}: {len(result.images)} image(s) in {len(result.patients)} patient(s)"]
        lines += [f"failed: {error}" for error in result.failures]
        lines += [f"skipped {count} {kind}" for kind, count in sorted(result.skipped.items())]
        self.summary.setText("\n".join(lines))
