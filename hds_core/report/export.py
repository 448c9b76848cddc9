"""The one way analysed images leave as reports: a PDF per study, a DICOM Segmentation per
image, and per study a TID 1500 measurement report, a Mammography CAD SR, the radiologist's
structured report (where she read the study) and the PDF as an Encapsulated PDF, for
``hds-predict`` and the viewer alike (a PACS destination is one more target here).

Reports of different studies never share a name: one study's PDF is the file asked for,
several studies' are ``NAME-<study label>.pdf``; SEGs are named after each image's result
name and the weights, the study's objects after the study. What may be replaced is the
caller's choice (:class:`ExportTargets.replace`); another study's file is never replaced by
``"same"``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..findings import Prediction
from ..io import MammoImage
from ..safe_write import is_inside
from ..text import printable
from .identity import replacement_refused, report_groups
from .naming import common_folder, output_names, study_labels
from .operating_point import score_trust, study_domain

if TYPE_CHECKING:
    from .exam_decile import ExamDeciles
    from .reading import Reading

NEVER, SAME_STUDY, ANY = "never", "same", "any"


@dataclass(frozen=True)
class ExportTargets:
    pdf: Path | None = None
    seg_dir: Path | None = None
    sr_dir: Path | None = None
    page_size: str = "A4"
    anonymize: bool = False
    # NEVER: an existing file is refused; SAME_STUDY: replaced only when it holds the same
    # study's (a SEG: the same image's) earlier report; ANY: the reader chose this very file.
    replace: str = NEVER
    pdf_in_dicom: bool = False  # the study's PDF also as an Encapsulated PDF in ``sr_dir``

    @property
    def any(self) -> bool:
        return bool(self.pdf or self.seg_dir or self.sr_dir)


@dataclass
class ExportOutcome:
    written: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # studies split because their images disagree on the patient


# (image, prediction) pairs of one study, threshold, out, keyword options -> the PDF written.
PdfWriter = Callable[..., Path]
# A Study Instance UID -> the radiologist's reading of that study and, for an addendum, the
# version it amends; None: the study was not read.
ReadingOf = Callable[[str], "tuple[Reading, Reading | None] | None"]


def export_results(
    analysed: Sequence[tuple[Path, MammoImage, Prediction]],
    threshold: float,
    targets: ExportTargets,
    *,
    threshold_table: Sequence[dict] = (),
    cross_validation: dict | None = None,
    pdf_writer: PdfWriter | None = None,
    result_names: dict[Path, str] | None = None,
    never_inside: Sequence[Path] = (),
    on_written: Callable[[str], None] | None = None,
    operating_of: Callable[[list[Prediction]], tuple[float, Sequence[dict], dict]] | None = None,
    comparison=None,
    reading_of: ReadingOf | None = None,
    deciles_of: Callable[[list[Prediction]], ExamDeciles | None] | None = None,
) -> ExportOutcome:
    """Write ``targets`` for the ``analysed`` (path, image, prediction) triples, grouped by
    study. ``result_names``: each path's result name (hds-predict's JSON names; by default
    the same rule's); ``never_inside``: folders no report may be written into (the inputs);
    ``on_written``: told one line per report written; ``operating_of``: a study's threshold,
    slider table and cross-validated figures from its predictions (one model per domain: a
    film study is reported at the film model's threshold), else ``threshold``,
    ``threshold_table`` and ``cross_validation`` for every study. Failures are returned, never
    raised: one report's failure never costs another its file. ``comparison``: the viewer's
    study against its prior (content.Comparison), printed in its PDF. ``reading_of``: the
    radiologist's reading of a study, printed first in its PDF and written as her structured
    report in ``sr_dir``; ``deciles_of``: where a study's exam score falls among the
    validation exams (``exam_decile.py``), printed in its PDF."""
    outcome = ExportOutcome()
    for target in (targets.pdf, targets.seg_dir, targets.sr_dir):
        if target and any(is_inside(Path(target), folder) for folder in never_inside if folder.is_dir()):
            outcome.failures.append(f"{target}: lies inside an input folder; choose another place")
            return outcome
    groups = report_groups(analysed, lambda item: item[1].metadata)
    labels = study_labels({g.key: common_folder([path for path, _, _ in g.members]) for g in groups})
    names = result_names or output_names([(path, image.metadata.sop_instance_uid) for path, image, _ in analysed])
    with tempfile.TemporaryDirectory(prefix="hds-pdf-") as scratch:
        for group in groups:
            _Study(
                group,
                labels[group.key],
                len(groups),
                targets,
                outcome,
                Path(scratch),
                operating_of([p for _, _, p in group.members])
                if operating_of
                else (threshold, threshold_table, cross_validation),
            ).write(pdf_writer, names, on_written, comparison, reading_of, deciles_of)
    return outcome


class _Study:
    """One study's reports, each failure named and the others written."""

    def __init__(self, group, label: str, studies: int, targets: ExportTargets, outcome, scratch: Path, operating):
        self.group, self.label, self.studies, self.targets = group, label, studies, targets
        self.outcome, self.scratch = outcome, scratch
        self.threshold, self.threshold_table, self.cross_validation = operating
        self.members = group.members
        self.key = group.study
        self.force = targets.replace != NEVER

    def may_write(self, out: Path, kind: str, sop: str | None = None) -> bool:
        reason = replacement_refused(out, kind, self.key, sop) if self.targets.replace == SAME_STUDY else None
        if reason:
            self.outcome.failures.append(reason)
        return reason is None

    def wrote(self, out: Path, on_written=None, what: str | None = None) -> None:
        self.outcome.written.append(out)
        if on_written is not None and what is not None:  # a line per study, not per image
            on_written(f"wrote {printable(out)} ({what})")

    def attempt(self, out: Path, kind: str, write, on_written=None, what=None) -> Path | None:
        """``write(out)``; a failure named in the outcome, never raised."""
        from .dicom_objects import DicomExportError

        try:
            written = write(out)
        except DicomExportError as exc:
            self.outcome.failures.append(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a file built to break a writer: named, the rest go on
            self.outcome.failures.append(_unexpected(out, kind, exc))
            return None
        self.wrote(written, on_written, what)
        return written

    def write(self, pdf_writer, names, on_written, comparison, reading_of, deciles_of) -> None:
        # highdicom, imported here: the viewer imports this module at start.
        from .cad_sr import write_cad_sr
        from .dicom_objects import AnalysedImage, write_segmentation, write_structured_report
        from .encapsulated_pdf import write_encapsulated_pdf
        from .reader_sr import write_reader_sr

        members, targets, threshold, label = self.members, self.targets, self.threshold, self.label
        if self.group.identity_conflict:
            self.outcome.conflicts.append(f"study {label}: {self.group.identity_conflict}")
        reading, amended = _reading(reading_of, self)
        films = [path for path, image, _ in members if image is not None and image.metadata.file_format == "DICOM"]
        pdf = self.write_pdf(pdf_writer, on_written, comparison, reading, deciles_of, bool(films))
        items = [AnalysedImage(path, prediction) for path, _, prediction in members]
        if targets.seg_dir:
            for (path, image, _), item in zip(members, items, strict=True):
                # The result's name (unique per file in the run) and the weights that made it.
                stem = Path(names[path]).stem
                out = Path(targets.seg_dir) / f"{stem}_{item.prediction.weights_sha256[:8]}_seg.dcm"
                if self.may_write(out, "segmentation", image.metadata.sop_instance_uid):
                    self.attempt(
                        out, "segmentation", lambda o, i=item: write_segmentation(i, threshold, o, force=self.force)
                    )
        if not targets.sr_dir:
            return
        folder, force, note = Path(targets.sr_dir), self.force, self.group.identity_conflict
        made = [
            (
                f"{label}_sr.dcm",
                "structured report",
                lambda o: write_structured_report(items, threshold, o, force=force, note=note),
            ),
            (
                f"{label}_cad_sr.dcm",
                "Mammography CAD SR",
                lambda o: write_cad_sr(items, threshold, o, force=force, note=note),
            ),
        ]
        if reading is not None:
            on_films = [item for item in items if item.path in films]
            line = comparison.line if comparison is not None else None

            def reader_sr(out: Path) -> Path:
                return write_reader_sr(reading, on_films, out, comparison_line=line, amended=amended, force=force)

            made.append((f"{label}_reading_v{reading.version}_sr.dcm", "reader's structured report", reader_sr))
        if pdf is not None and targets.pdf_in_dicom and films:
            made_of = _pdf_made_of(members, threshold, reading)
            made.append(
                (
                    f"{label}_report_pdf.dcm",
                    "Encapsulated PDF",
                    lambda o: write_encapsulated_pdf(pdf, films[0], o, made_of=made_of, force=force),
                )
            )
        for name, kind, write in made:
            if self.may_write(folder / name, kind):
                self.attempt(folder / name, kind, write)

    def write_pdf(self, pdf_writer, on_written, comparison, reading, deciles_of, has_films: bool) -> Path | None:
        """The study's PDF (or, for an Encapsulated PDF only, a scratch one): its path, or None."""
        targets, members = self.targets, self.members
        if targets.pdf:
            asked = Path(targets.pdf)
            out = asked if self.studies == 1 else asked.with_name(f"{asked.stem}-{self.label}.pdf")
        elif targets.pdf_in_dicom and targets.sr_dir and has_films:
            out = self.scratch / f"{self.label}.pdf"  # drawn only to be wrapped as DICOM
        else:
            return None
        if pdf_writer is None:
            self.outcome.failures.append(
                f"{out}: PDF not written: PDF reports are drawn by the viewer's code "
                "(run hds-predict as installed with mammo-hds)"
            )
            return None
        if targets.pdf and not self.may_write(out, "PDF"):
            return None
        predictions = [p for _, _, p in members]
        extra = {"comparison": comparison} if comparison is not None else {}
        if reading is not None:
            extra["reading"] = reading
        deciles = deciles_of(predictions) if deciles_of else None
        if deciles is not None:
            extra["deciles"] = deciles
        try:
            pdf_writer(
                [(image, prediction) for _, image, prediction in members],
                self.threshold,
                out,
                threshold_table=list(self.threshold_table),
                anonymize=targets.anonymize,
                page_size=targets.page_size,
                force=self.force or not targets.pdf,
                score_note=score_trust(self.cross_validation or {}, study_domain(predictions)),
                identity_note=self.group.identity_conflict,
                **extra,
            )
        except Exception as exc:  # noqa: BLE001 - the writer is the viewer's Qt code; the others go on
            text = str(exc)
            self.outcome.failures.append(
                f"PDF not written: {text}" if str(out) in text else f"{out}: PDF not written: {text}"
            )
            return None
        if targets.pdf:
            # Named by its folder, never by patient name or ID: this output ends up in terminals and logs.
            described = (
                f"study {self.label}: {len(members)} image(s): {', '.join(sorted(p.name for p, _, _ in members))}"
            )
            self.wrote(out, on_written, described)
        return out


def _reading(reading_of, study: _Study):
    """The study's reading and the version it amends, or (None, None). A study split because
    its images disagree on the patient gets none: a reading is keyed by the Study Instance UID,
    and two women sharing one must never share a report."""
    members = study.members
    uid = members[0][1].metadata.study_instance_uid if members and members[0][1] is not None else None
    found = reading_of(uid) if reading_of is not None and uid else None
    if not found:
        return None, None
    reading, amended = found
    patients = {image.metadata.patient_id for _, image, _ in members if image is not None}
    if study.group.identity_conflict or (reading.patient_id and reading.patient_id not in patients):
        study.outcome.conflicts.append(
            f"study {study.label}: the radiologist's reading was left out of its reports: it was made for "
            "another patient than these images'"
        )
        return None, None
    return reading, amended


def _pdf_made_of(members, threshold: float, reading) -> tuple:
    """What an Encapsulated PDF is made of, for its UIDs: the images, the weights, the threshold
    and the reading's version (the same report sent again is the same object)."""
    return (
        *sorted(str(image.metadata.sop_instance_uid) for _, image, _ in members),
        *sorted({prediction.weights_sha256 for _, _, prediction in members}),
        f"{threshold:.6g}",
        f"reading {reading.version} {reading.signed_at or reading.modified}" if reading is not None else "no reading",
    )


def _unexpected(out: Path, kind: str, exc: Exception) -> str:
    import logging

    logging.getLogger(__name__).error("%s not written", out, exc_info=exc)
    return f"{printable(out)}: {kind} not written: the image's header could not be used ({type(exc).__name__})"
