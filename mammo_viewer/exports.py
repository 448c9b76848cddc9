"""The window's exports: the PDF report and DICOM SEG + SR of the analysed images, written on
the export worker, never into the opened folder, each ending in one message (what was
written, or why not) that the window shows and emits as ``export_finished``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from hds_core.report.operating_point import score_trust, study_domain
from hds_core.safe_write import is_inside

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .study import StudyImage


class Exports:
    def __init__(self, window: MainWindow):
        self.window = window

    def analysed(self) -> list[StudyImage]:
        study = self.window.study
        return study.predicted() if study is not None else []

    def _folder(self) -> str:
        return str(self.window.settings.value("export_folder", str(Path.home())))

    def _refuse_input_folder(self, target: Path) -> bool:
        source = Path(self.window.source_path) if getattr(self.window, "source_path", None) else None
        folder = source if source is not None and source.is_dir() else (source.parent if source else None)
        if folder is not None and is_inside(target, folder):
            self.message(
                f"Not written: {target} is inside the opened folder, which is never written to. Choose another place."
            )
            return True
        return False

    def message(self, message: str) -> None:
        window = self.window
        window._status(message)
        if "Not written" in message or "failed" in message.lower():
            window._problem(message)
        window.export_finished.emit(message)

    def report(self) -> None:
        if not self.analysed():
            self.message("Not written: no analysed image to report yet")
            return
        window = self.window
        name = "mammo-report.pdf" if window.hide_phi else f"mammo-report-{window.study.patient_id or 'study'}.pdf"
        path, _ = QFileDialog.getSaveFileName(window, "Export report", str(Path(self._folder()) / name), "PDF (*.pdf)")
        if path:
            self.report_to(path, force=True)  # the dialog has asked before replacing a file

    def report_to(self, path: str, *, page_size: str | None = None, force: bool = False) -> None:
        from .report_pdf import write_report

        window, target = self.window, Path(path)
        items = self.analysed()
        if not items:
            self.message("Not written: no analysed image to report yet")
            return
        if self._refuse_input_folder(target):
            return
        # A report prints the films at full resolution: where a view still shows a reduced
        # level, the report is written once its full resolution has arrived.
        if window.after_detail(
            [item.key for item in items], lambda: self.report_to(path, page_size=page_size, force=force)
        ):
            window._status(f"Waiting for full resolution to write {target}…")
            return
        window.settings.setValue("export_folder", str(target.parent))
        analysed = [(item.image, item.prediction) for item in items]
        threshold = window.findings.threshold
        table, anonymize = window.findings.table, window.hide_phi
        note = (
            score_trust(
                window.engine.predictor.spec.cross_validation, study_domain([prediction for _, prediction in analysed])
            )
            if window.engine.predictor is not None
            else None
        )
        size = page_size or str(window.settings.value("page_size", "A4"))
        window._status(f"Writing {target}…")
        window.exporter.submit(
            lambda cancelled: write_report(
                analysed,
                threshold,
                target,
                threshold_table=table,
                anonymize=anonymize,
                page_size=size,
                force=force,
                score_note=note,
            ),
            lambda out: self.message(f"Report written: {out}"),
            lambda exc: self.message(f"Not written: {exc}"),
        )

    def dicom(self) -> None:
        if not self.analysed():
            self.message("Not written: no analysed image to export yet")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Folder for DICOM SEG and SR", self._folder())
        if folder:
            self.dicom_to(folder)

    def dicom_to(self, folder: str, *, force: bool = False) -> None:
        from hds_core.report import AnalysedImage, write_segmentation, write_structured_report

        window, target = self.window, Path(folder)
        items = [item for item in self.analysed() if item.metadata.file_format == "DICOM"]
        if not items:
            self.message("Not written: SEG and SR need analysed DICOM images")
            return
        if self._refuse_input_folder(target):
            return
        window.settings.setValue("export_folder", str(target))
        analysed = [AnalysedImage(item.path, item.prediction) for item in items]
        threshold = window.findings.threshold
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")

        def job(cancelled):
            written = [
                write_segmentation(a, threshold, target / f"{a.path.stem}_seg_{stamp}.dcm", force=force)
                for a in analysed
            ]
            written.append(write_structured_report(analysed, threshold, target / f"report_sr_{stamp}.dcm", force=force))
            return written

        window.exporter.submit(
            job,
            lambda written: self.message(f"Wrote {len(written)} DICOM file(s) to {target}"),
            lambda exc: self.message(f"Not written: {exc}"),
        )
