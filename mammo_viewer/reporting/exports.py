"""The window's exports: the PDF report and DICOM SEG + SR of the analysed images, written on
the export worker through the engine's one export (``hds_core.report.export``), never into
the opened folder, each ending in one message (what was written, or why not). What to write
comes in as an :class:`ExportRequest` (the window builds it from the reading state): this
module reads nothing from the window's widgets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from hds_core.report.export import ANY, NEVER, SAME_STUDY, ExportTargets, export_results
from hds_core.safe_write import is_inside

from ..reading.study import StudyImage


@dataclass(frozen=True)
class ExportRequest:
    items: Sequence[StudyImage]  # the analysed images of the study on screen
    threshold: float
    threshold_table: Sequence[dict]
    cross_validation: dict
    anonymize: bool
    patient_id: str | None
    source: Path | None  # what was opened: never written into
    comparison: object = None  # hds_core.report.content.Comparison: the study against its prior
    reading: tuple | None = None  # the radiologist's reading (current version, the one it amends)
    deciles: object = None  # hds_core.report.exam_decile.ExamDeciles of the study's domain

    def reading_of(self, study_uid: str):
        """The reading of ``study_uid``, for the exports (only the study it was made for)."""
        if self.reading is None or self.reading[0].study_uid != study_uid:
            return None
        return self.reading

    @property
    def opened_folder(self) -> Path | None:
        if self.source is None:
            return None
        return self.source if self.source.is_dir() else self.source.parent

    def analysed(self, dicom_only: bool = False) -> list:
        return [
            (item.path, item.image, item.prediction)
            for item in self.items
            if not dicom_only or item.metadata.file_format == "DICOM"
        ]


class Exports:
    def __init__(self, parent, settings, worker, status, finished: Callable[[str, bool], None], after_detail):
        """``status(text)``: the window's status line, for progress; ``finished(message,
        problem)``: an export's last word (the Problems list too when ``problem``);
        ``after_detail(keys, then)``: calls ``then`` once those images are at full resolution,
        False when they already are."""
        self.parent, self.settings, self.worker = parent, settings, worker
        self.status, self.finished, self.after_detail = status, finished, after_detail

    def _folder(self) -> str:
        return str(self.settings.value("export_folder", str(Path.home())))

    def _refused(self, request: ExportRequest, target: Path) -> bool:
        folder = request.opened_folder
        if folder is not None and is_inside(target, folder):
            self.message(
                f"Not written: {target} is inside the opened folder, which is never written to. Choose another place."
            )
            return True
        return False

    def message(self, message: str) -> None:
        self.finished(message, "Not written" in message or "Not sent" in message or "failed" in message.lower())

    def report(self, request: ExportRequest) -> None:
        if not request.items:
            self.message("Not written: no analysed image to report yet")
            return
        name = "mammo-report.pdf" if request.anonymize else f"mammo-report-{request.patient_id or 'study'}.pdf"
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export report", str(Path(self._folder()) / name), "PDF (*.pdf)"
        )
        if path:
            self.report_to(request, path, replace=ANY)  # the save dialog asked before replacing a file

    def report_to(
        self, request: ExportRequest, path: str, *, page_size: str | None = None, replace: str = NEVER
    ) -> None:
        """The PDF at ``path`` (``replace``: see ``ExportTargets``)."""
        from .report_pdf import write_report as write_pdf_report

        target = Path(path)
        if not request.items:
            self.message("Not written: no analysed image to report yet")
            return
        if self._refused(request, target):
            return
        # A report prints the films at full resolution: where a view still shows a reduced
        # level, the report is written once its full resolution has arrived.
        if self.after_detail(
            [item.key for item in request.items],
            lambda: self.report_to(request, path, page_size=page_size, replace=replace),
        ):
            self.status(f"Waiting for full resolution to write {target}…")
            return
        self.settings.setValue("export_folder", str(target.parent))
        targets = ExportTargets(
            pdf=target,
            page_size=page_size or str(self.settings.value("page_size", "A4")),
            anonymize=request.anonymize,
            replace=replace,
        )
        self.status(f"Writing {target}…")
        self._submit(request, request.analysed(), targets, write_pdf_report, lambda out: f"Report written: {out[0]}")

    def dicom(self, request: ExportRequest) -> None:
        if not request.items:
            self.message("Not written: no analysed image to export yet")
            return
        folder = QFileDialog.getExistingDirectory(self.parent, "Folder for the DICOM SEG, SRs and PDF", self._folder())
        if folder:
            self.dicom_to(request, folder, replace=SAME_STUDY)

    def dicom_to(self, request: ExportRequest, folder: str, *, replace: str = NEVER) -> None:
        """A SEG per image and the study's SR in ``folder``; from the menu an earlier export of
        the same study (or image) there is replaced, another study's file never."""
        target = Path(folder)
        analysed = request.analysed(dicom_only=True)
        if not analysed:
            self.message("Not written: SEG and SR need analysed DICOM images")
            return
        if self._refused(request, target):
            return
        from .report_pdf import write_report as write_pdf_report

        # SEG and SRs need no full resolution (a progressive film exports at once); the report
        # goes too, as an Encapsulated PDF, where the films it prints are at full resolution.
        full = all(item.at_full_resolution for item in request.items)
        self.settings.setValue("export_folder", str(target))
        targets = ExportTargets(
            seg_dir=target,
            sr_dir=target,
            replace=replace,
            pdf_in_dicom=full,
            page_size=str(self.settings.value("page_size", "A4")),
            anonymize=request.anonymize,
        )
        left_out = "" if full else " (not the report: the films are not at full resolution yet; Send results sends it)"
        self._submit(
            request,
            analysed,
            targets,
            write_pdf_report if full else None,
            lambda out: f"Wrote {len(out)} DICOM file(s) to {target}{left_out}",
        )

    def _submit(self, request: ExportRequest, analysed: list, targets: ExportTargets, pdf_writer, done) -> None:
        def job(cancelled):
            return _export(request, analysed, targets, pdf_writer)

        def finished(outcome) -> None:
            if not outcome.failures:
                self.message(done(outcome.written))
                return
            written = f"{done(outcome.written)}; " if outcome.written else ""
            self.message(written + "Not written: " + "; ".join(outcome.failures))

        self.worker.submit(job, finished, lambda exc: self.message(f"Not written: {exc}"))

    def send(self, request: ExportRequest, node, local) -> None:
        """The SEG per image, the study's SRs (measurements, CAD, the reader's report) and its
        PDF as an Encapsulated PDF, made on the export worker in a temporary folder and sent
        into the study on ``node`` (C-STORE, or STOW-RS for a DICOMweb node)."""
        from .report_pdf import write_report as write_pdf_report

        analysed = request.analysed(dicom_only=True)
        if not analysed:
            self.message("Not sent: results go back to the PACS for analysed DICOM images only")
            return
        # The PDF prints the films at full resolution: sent once it has arrived.
        if self.after_detail([item.key for item in request.items], lambda: self.send(request, node, local)):
            self.status(f"Waiting for full resolution to send the report to {node}…")
            return
        self.status(f"Sending the results to {node}…")

        def job(cancelled):
            import tempfile

            from hds_core.node import send_files

            with tempfile.TemporaryDirectory(prefix="hds-send-") as folder:
                targets = ExportTargets(
                    seg_dir=Path(folder) / "seg",
                    sr_dir=Path(folder) / "sr",
                    pdf_in_dicom=True,
                    page_size=str(self.settings.value("page_size", "A4")),
                    anonymize=request.anonymize,
                )
                outcome = _export(request, analysed, targets, write_pdf_report)
                if outcome.failures:
                    return "Not sent: " + "; ".join(outcome.failures)
                objects = [path for path in outcome.written if path.suffix == ".dcm"]
                what = "SEG, SR, CAD SR, " + ("the reader's report, " if request.reading else "") + "PDF"
                return f"Sent {send_files(node, local, objects)} result object(s) ({what}) to {node}"

        self.worker.submit(job, self.message, lambda exc: self.message(f"Not sent: {exc}"))


def _export(request: ExportRequest, analysed: list, targets: ExportTargets, pdf_writer):
    """The request's images through the engine's one export (run on the export worker)."""
    return export_results(
        analysed,
        request.threshold,
        targets,
        threshold_table=request.threshold_table,
        cross_validation=request.cross_validation,
        pdf_writer=pdf_writer,
        comparison=request.comparison,
        reading_of=request.reading_of,
        deciles_of=lambda _predictions: request.deciles,
    )
