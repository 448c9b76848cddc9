"""The one way analysed images leave as reports: a PDF per study, a DICOM Segmentation per
image and a structured report per study, for ``hds-predict`` and the viewer alike (a PACS
destination is one more target here).

Reports of different studies never share a name: one study's PDF is the file asked for,
several studies' are ``NAME-<study label>.pdf``; SEGs are named after each image's result
name and the weights, SRs after the study. What may be replaced is the caller's choice
(:class:`ExportTargets.replace`); another study's file is never replaced by ``"same"``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..findings import Prediction
from ..io import MammoImage
from ..safe_write import is_inside
from ..text import printable
from .identity import replacement_refused, report_groups
from .naming import common_folder, output_names, study_labels
from .operating_point import score_trust, study_domain

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

    @property
    def any(self) -> bool:
        return bool(self.pdf or self.seg_dir or self.sr_dir)


@dataclass
class ExportOutcome:
    written: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pdf_films: dict[Path, Path] = field(default_factory=dict)  # each PDF written -> a DICOM film of its study
    conflicts: list[str] = field(default_factory=list)  # studies split because their images disagree on the patient


# (image, prediction) pairs of one study, threshold, out, keyword options -> the PDF written.
PdfWriter = Callable[..., Path]


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
) -> ExportOutcome:
    """Write ``targets`` for the ``analysed`` (path, image, prediction) triples, grouped by
    study. ``result_names``: each path's result name (hds-predict's JSON names; by default
    the same rule's); ``never_inside``: folders no report may be written into (the inputs);
    ``on_written``: told one line per report written; ``operating_of``: a study's threshold,
    slider table and cross-validated figures from its predictions (one model per domain: a
    film study is reported at the film model's threshold), else ``threshold``,
    ``threshold_table`` and ``cross_validation`` for every study. Failures are returned, never
    raised: one report's failure never costs another its file. ``comparison``: the viewer's
    study against its prior (content.Comparison), printed in its PDF."""
    # highdicom, imported here: the viewer imports this module at start.
    from .dicom_objects import AnalysedImage, DicomExportError, write_segmentation, write_structured_report

    outcome = ExportOutcome()
    for target in (targets.pdf, targets.seg_dir, targets.sr_dir):
        if target and any(is_inside(Path(target), folder) for folder in never_inside if folder.is_dir()):
            outcome.failures.append(f"{target}: lies inside an input folder; choose another place")
            return outcome
    groups = report_groups(analysed, lambda item: item[1].metadata)
    studies = {group.key: group for group in groups}
    labels = study_labels({g.key: common_folder([path for path, _, _ in g.members]) for g in groups})
    names = result_names or output_names([(path, image.metadata.sop_instance_uid) for path, image, _ in analysed])

    def may_write(out: Path, kind: str, key: str, sop: str | None = None) -> bool:
        reason = replacement_refused(out, kind, key, sop) if targets.replace == SAME_STUDY else None
        if reason:
            outcome.failures.append(reason)
        return reason is None

    def wrote(out: Path, what: str | None = None) -> None:
        outcome.written.append(out)
        if on_written is not None and what is not None:  # a line per study, not per image
            on_written(f"wrote {printable(out)} ({what})")

    force = targets.replace != NEVER
    defaults = (threshold, threshold_table, cross_validation)
    for group in groups:
        key, members, label = group.study, group.members, labels[group.key]
        threshold, threshold_table, cross_validation = (
            operating_of([p for _, _, p in members]) if operating_of else defaults
        )
        # Named by its folder, never by patient name or ID: this output ends up in terminals and logs.
        described = f"study {label}: {len(members)} image(s): {', '.join(sorted(p.name for p, _, _ in members))}"
        if group.identity_conflict:
            outcome.conflicts.append(f"study {label}: {group.identity_conflict}")
        if targets.pdf:
            pdf = Path(targets.pdf)
            out = pdf if len(studies) == 1 else pdf.with_name(f"{pdf.stem}-{label}.pdf")
            if pdf_writer is None:
                outcome.failures.append(
                    f"{out}: PDF not written: PDF reports are drawn by the viewer's code "
                    "(run hds-predict as installed with mammo-hds)"
                )
            elif may_write(out, "PDF", key):
                try:
                    pdf_writer(
                        [(image, prediction) for _, image, prediction in members],
                        threshold,
                        out,
                        threshold_table=list(threshold_table),
                        anonymize=targets.anonymize,
                        page_size=targets.page_size,
                        force=force,
                        score_note=score_trust(cross_validation or {}, study_domain([p for _, _, p in members])),
                        identity_note=group.identity_conflict,
                        **({"comparison": comparison} if comparison is not None else {}),
                    )
                    wrote(out, described)
                    films = [path for path, image, _ in members if image.metadata.file_format == "DICOM"]
                    if films:
                        outcome.pdf_films[out] = films[0]
                except Exception as exc:  # noqa: BLE001 - the writer is the viewer's Qt code; the others go on
                    text = str(exc)
                    outcome.failures.append(
                        f"PDF not written: {text}" if str(out) in text else f"{out}: PDF not written: {text}"
                    )
        items = [AnalysedImage(path, prediction) for path, _, prediction in members]
        if targets.seg_dir:
            for (path, image, _), item in zip(members, items, strict=True):
                # The result's name (unique per file in the run) and the weights that made it.
                stem = Path(names[path]).stem
                out = Path(targets.seg_dir) / f"{stem}_{item.prediction.weights_sha256[:8]}_seg.dcm"
                if may_write(out, "segmentation", key, image.metadata.sop_instance_uid):
                    try:
                        wrote(write_segmentation(item, threshold, out, force=force))
                    except DicomExportError as exc:
                        outcome.failures.append(str(exc))
                    except Exception as exc:  # noqa: BLE001 - a file built to break a writer: named, the rest go on
                        outcome.failures.append(_unexpected(out, "segmentation", exc))
        if targets.sr_dir:
            out = Path(targets.sr_dir) / f"{label}_sr.dcm"
            if may_write(out, "structured report", key):
                try:
                    wrote(write_structured_report(items, threshold, out, force=force, note=group.identity_conflict))
                except DicomExportError as exc:
                    outcome.failures.append(str(exc))
                except Exception as exc:  # noqa: BLE001 - a file built to break a writer: named, the rest go on
                    outcome.failures.append(_unexpected(out, "structured report", exc))
    return outcome


def _unexpected(out: Path, kind: str, exc: Exception) -> str:
    import logging

    logging.getLogger(__name__).error("%s not written", out, exc_info=exc)
    return f"{printable(out)}: {kind} not written: the image's header could not be used ({type(exc).__name__})"
