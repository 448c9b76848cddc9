"""hds-batch: the engine over an archive, on Ray (locally by default, on a cluster with
--address). Writes what hds-predict writes (a JSON per image; on request SEG, SRs and PDF per
study) and a results table (OUT/results.parquet, one row per image). Stopped and started again,
it goes on where it stopped.

Exit status: 0 every study analysed and every file written; 1 some files failed (each a row
with its reason); 2 nothing could run (usage, weights, manifest, Ray)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..commands.predict import spacing_mm
from ..commands.run_log import say

EXIT_OK, EXIT_FAILED, EXIT_NOTHING = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hds-batch",
        description="Analyse an archive with the HDS engine on Ray: one row per image in OUT/results.parquet.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="folders, files, or CSV manifests (a 'path' column, relative to the CSV) of the studies to analyse",
    )
    p.add_argument("--out", required=True, help="the results folder: JSON per image, results.parquet, the run's state")
    p.add_argument("--pacs", metavar="NODE", help="analyse the studies this node finds (hds-node nodes names it)")
    p.add_argument("--dates", default="", help="with --pacs: YYYYMMDD or YYYYMMDD-YYYYMMDD")
    p.add_argument("--address", help="a Ray cluster's address (ray start --head prints it); default: this machine")
    p.add_argument("--workers", type=int, default=1, help="model workers (each loads the models once; default 1)")
    p.add_argument("--limit", type=int, help="analyse at most this many studies (of those not done yet)")
    p.add_argument("--dry-run", action="store_true", help="list the studies that would be analysed, and stop")
    p.add_argument("--weights", help="weights (.safetensors); default: the shipped film and digital models")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threshold", type=float, help="contour threshold; default: each model's own for its domain")
    p.add_argument("--spacing", type=spacing_mm, help="mm per pixel for images whose header gives none")
    p.add_argument("--refuse-damaged", action="store_true", help="refuse images whose decoder reported errors")
    p.add_argument("--pdf", metavar="OUT.pdf", help="a PDF per study, OUT-<study>.pdf")
    p.add_argument("--page-size", choices=["A4", "Letter"], default="A4")
    p.add_argument("--anonymize", action="store_true", help="leave name, ID, birth date and accession out of the PDF")
    p.add_argument("--seg-dir", help="folder for DICOM Segmentations (one per image)")
    p.add_argument("--sr-dir", help="folder for the structured reports (TID 1500, CAD SR) and, with --pdf, the PDF")
    p.add_argument(
        "--readings",
        metavar="FOLDER",
        help="where the viewer keeps the radiologists' readings (default: its data folder); a study read there "
        "gets her reading in its PDF and her report as an SR",
    )
    return p


def main(argv: list[str] | None = None, *, pdf_writer=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from .manifest import ManifestError, from_pacs, from_paths
    from .records import FAILED, OK, all_rows, done_labels, study_rows, write_record, write_table
    from .worker import network_of

    out = Path(args.out)
    if bool(args.paths) == bool(args.pacs):
        say("hds-batch: error: give the studies as PATHs or with --pacs NODE, one or the other")
        return EXIT_NOTHING
    if args.workers < 1:
        say("hds-batch: error: --workers must be at least 1")
        return EXIT_NOTHING
    inputs = [Path(p) for p in args.paths]
    if any(path.is_dir() and out.resolve().is_relative_to(path.resolve()) for path in inputs):
        say(f"hds-batch: error: {out} lies inside an input folder; inputs are never written to")
        return EXIT_NOTHING
    try:
        if args.pacs:
            from ..node import NodeError, StudyQuery, load_book

            try:
                book = load_book()
                manifest = from_pacs(book.find(args.pacs), book.local, StudyQuery(dates=args.dates))
            except NodeError as exc:
                say(f"hds-batch: error: {exc}")
                return EXIT_NOTHING
        else:
            manifest = from_paths(inputs)
    except ManifestError as exc:
        say(f"hds-batch: error: {exc}")
        return EXIT_NOTHING
    for kind, count in sorted(manifest.skipped.items()):
        say(f"hds-batch: skipped {count} file(s) that are not images ({kind})")
    done = done_labels(out)
    todo = [study for study in manifest.studies if study.label not in done]
    if args.limit is not None:
        todo = todo[: max(0, args.limit)]
    images = sum(len(study.paths) for study in todo)
    already = len(done & {study.label for study in manifest.studies})
    say(
        f"hds-batch: {len(manifest.studies)} stud(ies) in the manifest, {already} done already, {len(todo)} to "
        f"analyse ({images} image(s)); {len(manifest.failures)} file(s) unreadable"
    )
    if args.dry_run:
        for study in todo:
            say(f"hds-batch: would analyse {study.label}: {len(study.paths) or 'PACS'} image(s)")
        return EXIT_OK
    if not manifest.studies and not manifest.failures:
        say("hds-batch: nothing to analyse: no image in the manifest")
        return EXIT_NOTHING
    # Files whose header could not be read belong to no study: their rows, recorded once.
    write_record(
        out, "_unreadable", [{"path": None, "status": FAILED, "reason": reason} for reason in manifest.failures]
    )
    if todo:
        try:
            from .pipeline import run_studies
        except ImportError:
            say('hds-batch: error: Ray is not installed: pip install -e ".[scale]"')
            return EXIT_NOTHING
        options = {
            "out": str(out),
            "weights": args.weights,
            "device": args.device,
            "threshold": args.threshold,
            "spacing": args.spacing,
            "refuse_damaged": args.refuse_damaged,
            "pdf": args.pdf,
            "page_size": args.page_size,
            "anonymize": args.anonymize,
            "seg_dir": args.seg_dir,
            "sr_dir": args.sr_dir,
            "pdf_writer": pdf_writer,
            "inputs": [str(p) for p in inputs],
            "pacs": args.pacs,
            "readings": args.readings,
            "network": network_of(args.weights),
        }
        failed_files = [0]

        def progress(finished: int, total: int, seconds: float, label: str) -> None:
            failed_files[0] += sum(row.get("status") != OK for row in study_rows(out, label))
            rate = finished / seconds if seconds > 0 else 0.0
            left = f"ETA {(total - finished) / rate:.0f} s" if rate else "ETA unknown"
            say(f"hds-batch: {finished}/{total} studies, {rate:.2f}/s, {left}, {failed_files[0]} file(s) failed")

        try:
            run_studies(todo, options, address=args.address, workers=args.workers, progress=progress)
        except KeyboardInterrupt:
            say("hds-batch: stopped; run the same command again to go on where it stopped")
            return EXIT_FAILED
    rows = all_rows(out)
    table = write_table(out, rows)
    failed = [row for row in rows if row.get("status") != OK]
    say(
        f"hds-batch: {sum(row.get('status') == OK for row in rows)} image(s) analysed, {len(failed)} not "
        f"(each a row with its reason); table {table}"
    )
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
