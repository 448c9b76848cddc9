"""hds-predict: run the engine on files or folders; one JSON per image.

Bad files are reported (file and reason) and skipped; the others are still predicted.
Exit status: 0 all good, 1 some files failed, 2 nothing could run (weights, device, usage)."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

from tqdm import tqdm

from ..safe_write import is_inside

DEFAULT_OUT = "hds-results"


def say(message: str) -> None:
    """One line to stderr; file names that are not valid UTF-8 are shown escaped."""
    from ..io import printable

    print(printable(message), file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hds-predict", description="Predict mass contours and image scores with the HDS engine.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="mammogram files (DICOM, PNG, PGM, TIFF) or folders")
    p.add_argument("--out", help=f"folder for the JSON results (created if needed; default ./{DEFAULT_OUT} in the "
                   "current folder, which must not lie inside an input folder)")
    p.add_argument("--threshold", type=float, help="segmentation threshold for lesions (default: the model's)")
    p.add_argument("--weights", help="NAME.safetensors (default: the shipped weights)")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"], help="fp32 forces full precision")
    p.add_argument("--spacing", type=float, help="pixel spacing in mm for files that do not carry it (PNG, PGM, TIFF)")
    p.add_argument("--force", action="store_true", help="overwrite existing result files")
    reports = p.add_argument_group("reports (one per study; never written into an input folder)")
    reports.add_argument("--pdf", metavar="OUT.pdf", help="PDF report; several studies give OUT-1.pdf, OUT-2.pdf, …")
    reports.add_argument("--page-size", choices=["A4", "Letter"], default="A4")
    reports.add_argument("--anonymize", action="store_true", help="leave name, ID, birth date and accession out of the PDF")
    reports.add_argument("--seg-dir", help="folder for DICOM Segmentations (one per image)")
    reports.add_argument("--sr-dir", help="folder for DICOM structured reports (TID 1500, one per study)")
    return p


def pdf_writer():
    """The PDF writer is Qt code that ships with the viewer; the engine finds it through an
    entry point, so ``hds_core`` itself never imports Qt."""
    from importlib.metadata import entry_points

    found = list(entry_points(group="hds_core.report_writers", name="pdf"))
    if not found:
        raise RuntimeError("no PDF writer is installed (it comes with the mammo_viewer package)")
    return found[0].load()


def write_reports(args, analysed: list, threshold: float, threshold_table: list[dict], inputs: list[Path]) -> list[str]:
    """PDF, SEG and SR for the analysed images, grouped by study; returns the failures."""
    from ..report import AnalysedImage, DicomExportError, write_segmentation, write_structured_report

    failures: list[str] = []
    studies: dict[str, list] = {}
    for path, image, prediction in analysed:
        studies.setdefault(image.metadata.study_instance_uid or str(path.parent), []).append((path, image, prediction))
    targets = [Path(p) for p in (args.pdf, args.seg_dir, args.sr_dir) if p]
    for target in targets:
        if any(is_inside(target, folder) for folder in inputs if folder.is_dir()):
            return [f"{target}: lies inside an input folder; choose another place"]
    for number, members in enumerate(studies.values(), 1):
        # Named by its files, never by patient name or ID: this output ends up in terminals and logs.
        label = f"study {number}: {len(members)} image(s), first {members[0][0].name}"
        if args.pdf:
            out = Path(args.pdf) if len(studies) == 1 else Path(args.pdf).with_name(f"{Path(args.pdf).stem}-{number}.pdf")
            try:
                pdf_writer()([(image, prediction) for _, image, prediction in members], threshold, out,
                             threshold_table=threshold_table, anonymize=args.anonymize, page_size=args.page_size, force=args.force)
                say(f"hds-predict: wrote {out} ({label})")
            except Exception as exc:  # noqa: BLE001 - a report failure is reported per study, the others go on
                failures.append(f"PDF not written: {exc}" if str(out) in str(exc) else f"{out}: PDF not written: {exc}")
        items = [AnalysedImage(path, prediction) for path, _, prediction in members]
        if args.seg_dir:
            for item in items:
                out = Path(args.seg_dir) / f"{item.path.stem}_{item.prediction.weights_sha256[:8]}_{number}_seg.dcm"
                try:
                    write_segmentation(item, threshold, out, force=args.force)
                except DicomExportError as exc:
                    failures.append(str(exc))
        if args.sr_dir:
            out = Path(args.sr_dir) / f"study-{number}_sr.dcm"
            try:
                write_structured_report(items, threshold, out, force=args.force)
            except DicomExportError as exc:
                failures.append(str(exc))
    return failures


def _output_name(path: Path, sop_uid: str | None, used: set[str]) -> str:
    """``stem.json``; on a clash the parent folder is prefixed (``DEMO-014_L_MLO.json``),
    then the SOP Instance UID, then a counter."""
    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "image"

    candidates = [clean(path.stem), f"{clean(path.parent.name)}_{clean(path.stem)}"]
    if sop_uid:
        candidates.append(f"{clean(path.stem)}_{clean(sop_uid)}")
    for candidate in candidates:
        if f"{candidate}.json" not in used:
            used.add(f"{candidate}.json")
            return f"{candidate}.json"
    counter = 2
    while f"{candidates[0]}_{counter}.json" in used:
        counter += 1
    used.add(f"{candidates[0]}_{counter}.json")
    return f"{candidates[0]}_{counter}.json"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from ..io.dicom import silence_pydicom_messages

    silence_pydicom_messages()
    from ..infer import DeviceError, Predictor
    from ..io import MammoReadError, read_image, scan_folder
    from ..nn import WeightsError
    from ..safe_write import atomic_write_text

    out = Path(args.out) if args.out else Path.cwd() / DEFAULT_OUT
    inputs = [Path(raw) for raw in args.paths]
    if args.out is None and any(p.is_dir() and is_inside(out, p) for p in inputs):
        # Input folders are read-only to us: never write results into them by default.
        say(f"hds-predict: error: the default output folder {out} lies inside an input folder; "
              "run from another folder or give --out")
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        say(f"hds-predict: error: cannot create the output folder {out}: {exc.strerror or exc}")
        return 2
    try:
        predictor = Predictor(args.weights, device=args.device, precision=args.precision)
    except (WeightsError, DeviceError) as exc:
        say(f"hds-predict: error: {exc}")
        return 2
    threshold = args.threshold if args.threshold is not None else predictor.default_threshold

    files: list[Path] = []
    failures: list[str] = []
    for raw in args.paths:
        path = Path(raw)
        if not path.exists():
            failures.append(f"{path}: no such file or folder")
            continue
        scan = scan_folder(path)
        files.extend(entry.path for entry in scan.images)
        failures.extend(str(error) for error in scan.failures)
        for kind, count in sorted(scan.skipped.items()):
            say(f"hds-predict: {path}: skipped {count} file(s) that are not images ({kind})")

    used: set[str] = set()
    written = 0
    reporting = bool(args.pdf or args.seg_dir or args.sr_dir)
    analysed = []
    say(f"hds-predict: {len(files)} image(s) on {predictor.device_name} with {predictor.model_name} "
          f"(threshold {threshold:g})")
    for path in tqdm(files, desc="predicting", disable=not sys.stderr.isatty()):
        try:
            image = read_image(path)
            spacing = (args.spacing, args.spacing) if args.spacing and image.metadata.pixel_spacing_mm is None else None
            prediction = predictor.predict(image, spacing_mm=spacing)
        except MammoReadError as exc:
            failures.append(str(exc))
            continue
        if reporting:
            analysed.append((path, image, prediction))
        target = out / _output_name(path, image.metadata.sop_instance_uid, used)
        if target.exists() and not args.force:
            failures.append(f"{target}: exists already (use --force to overwrite)")
            continue
        document = prediction.to_dict(threshold)
        document["sop_instance_uid"] = image.metadata.sop_instance_uid
        document["study_instance_uid"] = image.metadata.study_instance_uid
        document["laterality"] = image.metadata.laterality
        document["view"] = image.metadata.view
        try:
            atomic_write_text(target, json.dumps(document, indent=1) + "\n")
        except OSError as exc:
            say(f"hds-predict: error: cannot write {target}: {exc.strerror or exc}")
            return 2
        written += 1
    if reporting and analysed:
        table = predictor.metadata.get("validation", {}).get("threshold_table", [])
        failures += write_reports(args, analysed, threshold, table, [Path(p) for p in args.paths])
    for failure in failures:
        say(f"hds-predict: failed: {failure}")
    say(f"hds-predict: wrote {written} result(s) to {out}; {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
