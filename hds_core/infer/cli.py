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

DEFAULT_OUT = "hds-results"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


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
    return p


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
    from ..infer import DeviceError, Predictor
    from ..io import MammoReadError, read_image, scan_folder
    from ..nn import WeightsError
    from ..safe_write import atomic_write_text

    out = Path(args.out) if args.out else Path.cwd() / DEFAULT_OUT
    inputs = [Path(raw) for raw in args.paths]
    if args.out is None and any(p.is_dir() and _inside(out, p) for p in inputs):
        # Input folders are read-only to us: never write results into them by default.
        print(f"hds-predict: error: the default output folder {out} lies inside an input folder; "
              "run from another folder or give --out", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"hds-predict: error: cannot create the output folder {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        predictor = Predictor(args.weights, device=args.device, precision=args.precision)
    except (WeightsError, DeviceError) as exc:
        print(f"hds-predict: error: {exc}", file=sys.stderr)
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
            print(f"hds-predict: {path}: skipped {count} file(s) that are not images ({kind})", file=sys.stderr)

    used: set[str] = set()
    written = 0
    print(f"hds-predict: {len(files)} image(s) on {predictor.device_name} with {predictor.model_name} "
          f"(threshold {threshold:g})", file=sys.stderr)
    for path in tqdm(files, desc="predicting", disable=not sys.stderr.isatty()):
        try:
            image = read_image(path)
            spacing = (args.spacing, args.spacing) if args.spacing and image.metadata.pixel_spacing_mm is None else None
            prediction = predictor.predict(image, spacing_mm=spacing)
        except MammoReadError as exc:
            failures.append(str(exc))
            continue
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
            print(f"hds-predict: error: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        written += 1
    for failure in failures:
        print(f"hds-predict: failed: {failure}", file=sys.stderr)
    print(f"hds-predict: wrote {written} result(s) to {out}; {len(failures)} failure(s)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
