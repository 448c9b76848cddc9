"""hds-predict: run the engine on files or folders; one JSON per image.

Bad files are reported (file and reason) and skipped; the others are still predicted, and
every result is kept whatever happens to another file.

Exit status:
  0  every file was predicted and every result written
  1  some files were refused (each named with its reason) or some results not written
  2  nothing could run, be predicted or be written (weights, device, usage, no image, full disk)
  3  the tool failed: an internal error (a bug; the traceback is in the log file); the
     results of the other files are still written"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from ..report.naming import output_names
from ..safe_write import is_inside
from ..text import EscapedFormatter
from .run_log import say, setup_log

DEFAULT_OUT = "hds-results"
EXIT_OK, EXIT_REFUSED, EXIT_NOTHING, EXIT_FAILED = 0, 1, 2, 3


class _OursOnly(logging.Filter):
    """The terminal shows our own warnings, escaped; library warnings (pydicom's, highdicom's,
    Python's, which quote header values such as a patient's name) go to the log file only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("hds_core")


def spacing_mm(text: str) -> float:
    from ..io.image import MAX_SPACING_MM, MIN_SPACING_MM, plausible_spacing

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not plausible_spacing([value]):
        raise argparse.ArgumentTypeError(
            f"{text} mm is not a mammogram's pixel spacing ({MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm)"
        )
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hds-predict", description="Predict mass contours and image scores with the HDS engine."
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="mammogram files (DICOM, PNG, PGM, TIFF) or folders")
    p.add_argument(
        "--out",
        help=f"folder for the JSON results (created if needed; default ./{DEFAULT_OUT} in the "
        "current folder, which must not lie inside an input folder)",
    )
    p.add_argument("--threshold", type=float, help="segmentation threshold for lesions (default: the model's)")
    p.add_argument("--weights", help="NAME.safetensors (default: the shipped weights)")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"], help="fp32 forces full precision")
    p.add_argument(
        "--spacing",
        type=spacing_mm,
        help="pixel spacing in mm for files that do not carry it (PNG, TIFF, scanned films); default: an estimate "
        "from the image's size (its long side taken as a 24 cm film), given in the result as an estimate",
    )
    p.add_argument(
        "--slab-mm",
        type=float,
        default=None,
        help="tomosynthesis: slab thickness in mm (slices averaged into each slab the 2-D model analyses; default 2)",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing result files")
    p.add_argument(
        "--refuse-damaged",
        action="store_true",
        help="refuse (do not analyse) an image whose decoder reported errors or warnings; by default it is "
        "analysed and its result says 'decoded with errors'",
    )
    reports = p.add_argument_group("reports (one per study; never written into an input folder)")
    reports.add_argument(
        "--pdf",
        metavar="OUT.pdf",
        help="PDF report; several studies give OUT-<study folder>-<study fingerprint>.pdf each (the fingerprint: "
        "ten hex digits of a hash of the study, never the patient's name or ID)",
    )
    reports.add_argument("--page-size", choices=["A4", "Letter"], default="A4")
    reports.add_argument(
        "--anonymize", action="store_true", help="leave name, ID, birth date and accession out of the PDF"
    )
    reports.add_argument("--seg-dir", help="folder for DICOM Segmentations (one per image)")
    reports.add_argument(
        "--sr-dir",
        help="folder for the study's DICOM structured reports: the measurements (TID 1500), the Mammography CAD "
        "SR (TID 4000), the radiologist's report where she read the study in the viewer (TID 4200), and with "
        "--pdf the PDF as an Encapsulated PDF",
    )
    reports.add_argument(
        "--readings",
        metavar="FOLDER",
        help="where the viewer keeps the radiologists' readings (default: its data folder, or "
        "MAMMO_VIEWER_READINGS); a study read there gets her reading in its PDF and SR",
    )
    reports.add_argument(
        "--send-to",
        metavar="NODE",
        help="send the SEG and SRs into each study on this DICOM node (AET@host:port or a name from hds-node nodes; "
        "a node with a DICOMweb URL gets them by STOW-RS)",
    )
    reports.add_argument(
        "--send-pdf", action="store_true", help="with --send-to and --pdf: the PDF too, as an Encapsulated PDF"
    )
    return p


# Failure lines shown on the terminal before the rest go to the log file only.
SCREENFUL = 30


def _say_failures(failures: list[str], run_log: logging.Logger, log_path: Path | None) -> None:
    """Every failure to the log; the first screenful to the terminal, then how many more."""
    from ..text import printable

    for number, failure in enumerate(failures):
        run_log.info("failed: %s", printable(failure))
        if number < SCREENFUL or len(failures) <= SCREENFUL + 1:
            say(f"hds-predict: failed: {failure}")
    if len(failures) > SCREENFUL + 1:
        say(
            f"hds-predict: … and {len(failures) - SCREENFUL} more failure(s)"
            + (f"; the full list is in {log_path}" if log_path else "")
        )


def main(argv: list[str] | None = None, *, pdf_writer=None, predictor=None) -> int:
    """``pdf_writer``: draws ``--pdf`` (``hds_core.report.export.PdfWriter``); the installed
    ``hds-predict`` passes the viewer's (``mammo_viewer.headless``), which draws with Qt.
    ``predictor``: one already loaded (the listener analyses study after study with one)."""
    args = parser().parse_args(argv)
    # The terminal gets warnings and our own lines; the log file everything from INFO up.
    # Handlers are added for this run and removed after it; none installed by others is touched.
    root = logging.getLogger()
    added = []
    if not root.handlers:  # as logging.basicConfig would, but at WARNING whatever the root's level
        terminal = logging.StreamHandler()
        terminal.setLevel(logging.WARNING)
        terminal.setFormatter(EscapedFormatter("%(levelname)s %(name)s: %(message)s"))
        terminal.addFilter(_OursOnly())
        added.append(terminal)
    handler, log_path = setup_log()
    if handler is not None:
        added.append(handler)
    level = root.level
    for each in added:
        root.addHandler(each)
    root.setLevel(logging.INFO if handler is not None else logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn from the libraries: to the log, not the terminal
    run_log = logging.getLogger("hds_core.commands.predict.run")
    try:
        return _run(args, run_log, log_path, pdf_writer, predictor)
    except Exception:  # noqa: BLE001 - a bug must not look like a refusal: its own exit status
        run_log.exception("internal error")
        say(
            "hds-predict: internal error (a bug, please report it)"
            + (f"; the traceback is in {log_path}" if log_path else "")
        )
        return EXIT_FAILED
    finally:
        logging.captureWarnings(False)
        for each in added:
            root.removeHandler(each)
        root.setLevel(level)
        if handler is not None:
            handler.close()


def _run(args, run_log: logging.Logger, log_path: Path | None, pdf_writer, predictor=None) -> int:
    from ..infer import DeviceError, NotAMammogramError
    from ..infer.models import DomainModels
    from ..io import MammoReadError, scan_folder
    from ..nn import WeightsError
    from ..report.exam_decile import exam_deciles
    from ..report.export import NEVER, SAME_STUDY, ExportTargets, export_results
    from ..report.operating_point import study_domain
    from ..text import printable
    from .analysis import (
        UNCHANGED,
        WRITTEN,
        DamagedFileError,
        analyse,
        log_internal_error,
        read_for_analysis,
        result_text,
        write_result,
    )

    out = Path(args.out) if args.out else Path.cwd() / DEFAULT_OUT
    inputs = [Path(raw) for raw in args.paths]
    run_log.info("hds-predict on %s", ", ".join(printable(p) for p in inputs))
    if args.out is None and any(p.is_dir() and is_inside(out, p) for p in inputs):
        # Input folders are read-only to us: never write results into them by default.
        say(
            f"hds-predict: error: the default output folder {out} lies inside an input folder; "
            "run from another folder or give --out"
        )
        return EXIT_NOTHING
    destination = None
    if args.send_pdf and not (args.send_to and args.pdf):
        say("hds-predict: error: --send-pdf sends the --pdf report to the --send-to node: give both")
        return EXIT_NOTHING
    if args.send_to:
        from ..node import NodeError, load_book

        try:
            book = load_book()
            destination = (book.find(args.send_to), book.local)
        except NodeError as exc:
            say(f"hds-predict: error: {exc}")
            return EXIT_NOTHING
    entries: list[tuple[Path, str | None]] = []
    stacks: set[Path] = set()  # tomosynthesis stacks: analysed slab by slab (infer/stack.py)
    failures: list[str] = []
    for path in inputs:
        if not path.exists():
            failures.append(f"{path}: no such file or folder")
            continue
        scan = scan_folder(path)
        entries.extend((entry.path, entry.metadata.sop_instance_uid) for entry in scan.images)
        stacks.update(entry.path for entry in scan.images if entry.metadata.is_stack)
        failures.extend(str(error) for error in scan.failures)
        if scan.outside:
            say(
                f"hds-predict: {path}: did not follow {len(scan.outside)} link(s) leading out of the folder "
                f"(the folder given is the boundary; the log names them)"
            )
        for kind, count in sorted(scan.skipped.items()):
            say(f"hds-predict: {path}: skipped {count} file(s) that are not images ({kind})")
    names = output_names(entries)
    if not entries:
        # Said before the weights load (3 s for nothing): there was no image to read.
        _say_failures(failures, run_log, log_path)
        say(
            f"hds-predict: nothing could be predicted: no image to read in {', '.join(printable(p) for p in inputs)}; "
            "nothing written" + (f" (log: {log_path})" if log_path else "")
        )
        return EXIT_NOTHING
    try:
        predictor = predictor or DomainModels(args.weights, device=args.device, precision=args.precision)
    except (WeightsError, DeviceError) as exc:
        say(f"hds-predict: error: {exc}")
        return EXIT_NOTHING

    def threshold_of(model, domain: str | None) -> float:
        """--threshold, else the default of the model serving the image (one per domain) for
        that domain (a model may record its own operating point per domain)."""
        return args.threshold if args.threshold is not None else model.spec.default_threshold_for(domain)

    def operating_of(predictions):
        domain = study_domain(predictions)
        model = predictor.for_predictions(predictions)
        return threshold_of(model, domain), model.spec.threshold_table, model.spec.cross_validation

    written = unchanged = not_mammograms = predicted = unwritten = 0
    crashed = False
    sending = tempfile.TemporaryDirectory(prefix="hds-send-") if destination else None
    targets = ExportTargets(
        pdf=Path(args.pdf) if args.pdf else None,
        seg_dir=Path(args.seg_dir) if args.seg_dir else (Path(sending.name) / "seg" if sending else None),
        sr_dir=Path(args.sr_dir) if args.sr_dir else (Path(sending.name) / "sr" if sending else None),
        page_size=args.page_size,
        anonymize=args.anonymize,
        replace=SAME_STUDY if args.force else NEVER,
        # The PDF as DICOM too: beside the SRs, or to be sent with them.
        pdf_in_dicom=bool(args.pdf and (args.sr_dir or args.send_pdf)),
    )
    reporting = targets.any
    analysed, done = [], []
    thresholds = (
        f"{args.threshold:g}"
        if args.threshold is not None
        else ", ".join(f"{threshold_of(predictor.serving(d), d):g} for {d} images" for d in ("film", "digital"))
    )
    say(
        f"hds-predict: {len(entries)} image(s) on {predictor.device_name} with {predictor.model_name} "
        f"(threshold {thresholds})"
    )
    for path, _ in tqdm(entries, desc="predicting", disable=not sys.stderr.isatty()):
        try:
            read = read_for_analysis(
                path, predictor.input, stack=path in stacks, full=bool(args.pdf), spacing=args.spacing, run_log=run_log
            )
            result = analyse(
                read,
                predictor,
                spacing=args.spacing,
                refuse_damaged=args.refuse_damaged,
                run_log=run_log,
                slab_mm=getattr(args, "slab_mm", None),
            )
        except (MammoReadError, DamagedFileError) as exc:
            failures.append(str(exc))
            continue
        except NotAMammogramError as exc:
            say(f"hds-predict: {exc}")  # displayed by the viewer, never scored
            run_log.info("%s", printable(str(exc)))
            not_mammograms += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a bug on one file must not cost the others their results
            failures.append(log_internal_error(run_log, path, exc, log_path))
            crashed = True
            continue
        predicted += 1
        if not reporting:
            result.image = None  # the images are kept only for the reports (a stack's: its slices are read again)
        done.append(result)
    # Scores compare the two breasts of a study (bilateral.py): only once every view is in.
    predictor.compare_breasts([result.prediction for result in done])
    for result in done:
        if reporting:
            analysed.append((result.path, result.image, result.prediction))
        domain = result.prediction.domain
        said = write_result(
            out / names[result.path],
            result_text(result, threshold_of(predictor.serving(domain), domain)),
            result,
            force=args.force,
        )
        if said == UNCHANGED:
            unchanged += 1
        elif said == WRITTEN:
            written += 1
        else:
            failures.append(said)
            unwritten += ": cannot write: " in said
    if reporting and analysed:
        outcome = export_results(
            analysed,
            threshold_of(predictor, None),
            targets,
            operating_of=operating_of,
            pdf_writer=pdf_writer,
            result_names=names,
            never_inside=inputs,
            on_written=lambda line: say(f"hds-predict: {line}"),
            reading_of=_readings(args, failures),
            deciles_of=lambda predictions: exam_deciles(
                predictor.for_predictions(predictions).weights_path, study_domain(predictions)
            ),
        )
        failures += outcome.failures
        for conflict in outcome.conflicts:  # never a failure: each patient's report was written
            run_log.info("warning: %s", conflict)
            say(f"hds-predict: warning: {conflict}")
        if destination:
            failures += _send(outcome.written, *destination)
    if sending:
        sending.cleanup()
    _say_failures(failures, run_log, log_path)
    say(
        f"hds-predict: wrote {written} result(s) to {out}"
        + (f" ({unchanged} unchanged)" if unchanged else "")
        + f"; {len(failures)} failure(s)"
    )
    if crashed:
        return EXIT_FAILED
    if not predicted:
        say("hds-predict: nothing could be predicted" + (f" (log: {log_path})" if log_path else ""))
        return EXIT_NOTHING
    if unwritten and not written and not unchanged:  # a full disk, a read-only folder: no result at all
        return EXIT_NOTHING
    return EXIT_REFUSED if failures else EXIT_OK


def _readings(args, failures: list[str]):
    """A study's reading from the viewer's store (--readings, else where the viewer keeps them),
    for the reports; a damaged one is a failure named, the reports go on without it."""
    from ..report.reading import ReadingError, ReadingStore, default_readings_folder

    store = ReadingStore(Path(args.readings) if args.readings else default_readings_folder())

    def reading_of(study_uid: str):
        try:
            found = store.latest(study_uid)
        except ReadingError as exc:
            failures.append(str(exc))
            return None
        if found is not None and found[0].empty:
            return None
        if found is not None:
            current = found[0]
            state = f"signed {current.signed_at}" if current.signed else "a draft, not signed"
            say(f"hds-predict: the reports include the radiologist's reading (version {current.version}, {state})")
        return found

    return reading_of


def _send(written: list[Path], node, local) -> list[str]:
    """The DICOM objects just written (SEG, SRs and, with --send-pdf, the Encapsulated PDF),
    sent to ``node``: failures named, as the others are."""
    from ..node import NodeError, send_files

    objects = [path for path in written if path.suffix == ".dcm"]
    failures: list[str] = []
    if not objects:
        return failures + [f"{node}: nothing to send (no SEG or SR was written)"]
    try:
        sent = send_files(node, local, objects)
    except NodeError as exc:
        return failures + [str(exc)]
    say(f"hds-predict: sent {sent} object(s) to {node}")
    return failures


if __name__ == "__main__":
    sys.exit(main())
