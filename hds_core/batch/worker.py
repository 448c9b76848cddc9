"""A batch's work on one study, in two steps Ray runs apart: :func:`read_study` (a task: the
files read for the network, or first retrieved from the PACS) and :class:`StudyAnalyser` (an
actor: the models loaded once per worker, on its GPU where it has one). Both go through
``hds_core.commands.analysis``, which ``hds-predict`` uses too: the same file gives the same
JSON whichever ran it. Ray itself is not imported here."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from .manifest import StudyRow
from .records import FAILED, NOT_A_MAMMOGRAM, OK, state_folder, write_record

log = logging.getLogger("hds_core.batch")


def network_of(weights: str | None):
    """The network input every model of the run is served at (as ``DomainModels.input``), from
    the weights' JSON alone: the reading tasks need it, not the models."""
    from resources import film_weights

    from ..infer.shipped import shipped_weights
    from ..network_input import NetworkInput
    from ..nn import ModelSpec

    paths = (
        [Path(weights)] if weights else [Path(shipped_weights()), *([Path(film_weights())] if film_weights() else [])]
    )
    spacings = []
    for path in paths:
        document = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        spacings.append(ModelSpec.from_document(document, path).working_spacing_mm)
    return NetworkInput(min(spacings))


def _retrieve(study: StudyRow, options: dict) -> StudyRow:
    """A PACS study into the run's own cache, then read as a folder is."""
    from ..node import StudyCache, load_book, retrieve
    from .manifest import from_paths

    book = load_book()
    node = book.find(options["pacs"])
    cache = StudyCache(state_folder(Path(options["out"])) / "cache")
    cached = cache.get(study.pacs_uid) or retrieve(node, book.local, study.pacs_uid, cache).study
    if cached is None:
        raise RuntimeError(f"{node}: study {study.pacs_uid} could not be retrieved (nothing arrived)")
    found = from_paths([Path(cached.folder)])
    rows = [row for row in found.studies if row.key.startswith(study.pacs_uid)] or found.studies
    merged = StudyRow(study.key, study.label)
    for row in rows:
        merged.paths += row.paths
        merged.names.update(row.names)
        merged.stacks += row.stacks
    return merged


def read_study(item: dict, options: dict) -> dict:
    """Ray task: every file of the study read for the network; a file that cannot be read is
    a failure of that file, not of the study."""
    from ..commands.analysis import read_for_analysis
    from ..io import MammoReadError

    study = StudyRow.from_dict(json.loads(item["study"]))
    reads, failures = [], []
    if study.pacs_uid:
        try:
            study = _retrieve(study, options)
        except Exception as exc:  # noqa: BLE001 - one study's retrieve failing costs no other study
            failures.append(("", f"{study.pacs_uid}: {exc}"))
    network = options["network"]
    for path in study.paths:
        started = time.perf_counter()
        try:
            read = read_for_analysis(
                Path(path),
                network,
                stack=path in study.stacks,
                full=bool(options.get("pdf")),
                spacing=options.get("spacing"),
                run_log=log,
            )
            reads.append((read, time.perf_counter() - started))
        except MammoReadError as exc:
            failures.append((path, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a file built to break a reader: a row with its reason
            failures.append((path, f"{path}: cannot be read ({type(exc).__name__}: {exc})"))
    return {"study": json.dumps(study.to_dict()), "reads": reads, "failures": json.dumps(failures)}


class StudyAnalyser:
    """Ray actor: the models, loaded once in this worker; a study in, its files and record out."""

    def __init__(self, options: dict):
        from ..infer.models import DomainModels

        self.options = options
        self.models = DomainModels(options.get("weights"), device=options.get("device", "auto"))
        marks = state_folder(Path(options["out"])) / "workers"
        marks.mkdir(parents=True, exist_ok=True)
        (marks / str(os.getpid())).write_text(self.models.device_name)  # the tests kill a worker by it

    def __call__(self, batch: dict) -> dict:
        labels = []
        for study, reads, failures in zip(batch["study"], batch["reads"], batch["failures"], strict=True):
            row = StudyRow.from_dict(json.loads(study))
            write_record(Path(self.options["out"]), row.label, self.analyse(row, list(reads), json.loads(failures)))
            labels.append(row.label)
        return {"label": labels}

    def threshold_of(self, domain: str | None) -> float:
        given = self.options.get("threshold")
        return given if given is not None else self.models.serving(domain).spec.default_threshold_for(domain)

    def analyse(self, study: StudyRow, reads: list, failures: list) -> list[dict]:
        """The study's files analysed and written, its reports made; its rows for the table."""
        from ..commands.analysis import UNCHANGED, WRITTEN, DamagedFileError, analyse, result_text, write_result
        from ..infer import NotAMammogramError
        from ..io import MammoReadError

        options, out = self.options, Path(self.options["out"])
        rows, done = [], []
        for path, reason in failures:
            rows.append(_row(study, path, status=FAILED, reason=reason))
        for read, seconds in reads:
            started = time.perf_counter()
            try:
                result = analyse(
                    read,
                    self.models,
                    spacing=options.get("spacing"),
                    refuse_damaged=bool(options.get("refuse_damaged")),
                    run_log=log,
                )
            except NotAMammogramError as exc:
                rows.append(_row(study, str(read.path), status=NOT_A_MAMMOGRAM, reason=str(exc), image=read.image))
                continue
            except (MammoReadError, DamagedFileError) as exc:
                rows.append(_row(study, str(read.path), status=FAILED, reason=str(exc), image=read.image))
                continue
            except Exception as exc:  # a bug on one file costs no other file its result (logged)
                log.exception("internal error on %s", read.path)
                reason = f"{read.path}: internal error ({type(exc).__name__}; a bug, please report it)"
                rows.append(_row(study, str(read.path), status=FAILED, reason=reason, image=read.image))
                continue
            done.append((result, seconds + time.perf_counter() - started))
        # Scores compare the two breasts of the study: once every view is in.
        self.models.compare_breasts([result.prediction for result, _ in done])
        exam = max((result.prediction.score for result, _ in done), default=None)
        decile = self.decile([result.prediction for result, _ in done], exam)
        for result, seconds in done:
            domain = result.prediction.domain
            threshold = self.threshold_of(domain)
            name = study.names[str(result.path)]
            said = write_result(out / name, result_text(result, threshold), result, force=True)
            status, reason = (OK, None) if said in (WRITTEN, UNCHANGED) else (FAILED, said)
            rows.append(
                _row(
                    study,
                    str(result.path),
                    status=status,
                    reason=reason,
                    image=result.image,
                    prediction=result.prediction,
                    threshold=threshold,
                    seconds=seconds,
                    result=name,
                    exam=exam,
                    decile=decile,
                )
            )
        failed_reports = self.reports(study, done) if done else []
        if failed_reports:  # the study's rows say what of its reports failed
            for row in rows:
                if row["status"] == OK:
                    row["reason"] = "; ".join(failed_reports)[:2000]
        return rows

    def decile(self, predictions: list, exam: float | None) -> int | None:
        from ..report.exam_decile import exam_deciles
        from ..report.operating_point import study_domain

        if exam is None:
            return None
        deciles = exam_deciles(self.models.for_predictions(predictions).weights_path, study_domain(predictions))
        return deciles.decile(exam) if deciles is not None else None

    def reports(self, study: StudyRow, done: list) -> list[str]:
        """The study's SEG, SRs and PDF where asked for (as ``hds-predict`` makes them)."""
        from ..report.exam_decile import exam_deciles
        from ..report.export import SAME_STUDY, ExportTargets, export_results
        from ..report.operating_point import study_domain

        options = self.options
        if not (options.get("seg_dir") or options.get("sr_dir") or options.get("pdf")):
            return []
        pdf = Path(options["pdf"]) if options.get("pdf") else None
        targets = ExportTargets(
            pdf=pdf.with_name(f"{pdf.stem}-{study.label}.pdf") if pdf else None,
            seg_dir=Path(options["seg_dir"]) if options.get("seg_dir") else None,
            sr_dir=Path(options["sr_dir"]) if options.get("sr_dir") else None,
            page_size=options.get("page_size", "A4"),
            anonymize=bool(options.get("anonymize")),
            replace=SAME_STUDY,  # a study done again replaces its own reports, never another's
            pdf_in_dicom=bool(options.get("pdf") and options.get("sr_dir")),
        )

        def operating_of(predictions):
            domain = study_domain(predictions)
            model = self.models.for_predictions(predictions)
            return self.threshold_of(domain), model.spec.threshold_table, model.spec.cross_validation

        from ..report.reading import ReadingError, ReadingStore, default_readings_folder

        store = ReadingStore(Path(options["readings"]) if options.get("readings") else default_readings_folder())

        def reading_of(study_uid: str):
            """Her reading, where the study was read in the viewer (as hds-predict prints it)."""
            try:
                found = store.latest(study_uid)
            except ReadingError:
                return None
            return None if found is None or found[0].empty else found

        outcome = export_results(
            [(result.path, result.image, result.prediction) for result, _ in done],
            self.threshold_of(None),
            targets,
            operating_of=operating_of,
            pdf_writer=options.get("pdf_writer"),
            result_names={result.path: study.names[str(result.path)] for result, _ in done},
            never_inside=[Path(p) for p in options.get("inputs", ())],
            deciles_of=lambda predictions: exam_deciles(
                self.models.for_predictions(predictions).weights_path, study_domain(predictions)
            ),
            reading_of=reading_of,
        )
        return outcome.failures


def _places(meta, prediction, threshold: float) -> dict:
    """What comparing with the woman's prior needs, kept in the record (not in the table): who
    she is, the view's family and each finding's place in the breast's own frame."""
    from ..findings.comparison import breast_position, stored_upside_down, view_family
    from ..report.identity import patient_fingerprint

    family = view_family(meta.view)
    flipped = stored_upside_down(meta.laterality, family, meta.patient_orientation)
    places = [
        list(breast_position(prediction.geometry, *lesion.centroid_xy, flip_vertical=flipped))
        for lesion in prediction.lesions(threshold)
    ]
    return {"patient_key": patient_fingerprint(meta), "family": family, "places": places}


def _row(study: StudyRow, path: str, *, status: str, reason=None, image=None, prediction=None, **more) -> dict:
    """One image's row of the results table (``records.COLUMNS``)."""
    meta = image.metadata if image is not None else None
    row = {
        "study_label": study.label,
        "study_uid": meta.study_instance_uid if meta else (study.pacs_uid or None),
        "patient_id": meta.patient_id if meta else None,
        "patient_name": str(meta.patient_name).replace("^", " ").strip() if meta and meta.patient_name else None,
        "study_date": meta.study_date if meta else None,
        "path": path,
        "sop_instance_uid": meta.sop_instance_uid if meta else None,
        "laterality": meta.laterality if meta else None,
        "view": meta.view if meta else None,
        "status": status,
        "reason": reason,
    }
    if prediction is not None:
        threshold = more["threshold"]
        row.update(_places(meta, prediction, threshold))
        row.update(
            domain=prediction.domain,
            model=prediction.model_name,
            weights_sha256=prediction.weights_sha256,
            score=float(prediction.score),
            calibrated=bool(prediction.calibrated),
            lesions=len(prediction.lesions(threshold)),
            threshold=float(threshold),
            seconds=round(float(more["seconds"]), 4),
            result=more["result"],
            exam_score=None if more["exam"] is None else float(more["exam"]),
            exam_decile=more["decile"],
        )
    return row
