"""hds-export: turn a training checkpoint into weights the viewer and hds-predict ship with.

What it does, in order, on the checkpoint's own validation patients:
1. rounds the weights to fp16 and keeps them only if the fp16 masks agree with the fp32
   masks (mean Dice >= 0.99 per image); otherwise it keeps fp32 and says so;
2. picks the image score (MIL head or the map's maximum) by validation AUC, evaluates the
   kept weights (all exits) and picks the default threshold from the validation threshold
   table (unless they are given);
3. measures bf16-autocast agreement, which the Predictor requires before it uses bf16;
4. writes NAME.safetensors + NAME.json with the validation report, the threshold table the
   viewer labels its slider with, the agreement figures and the source checkpoint's sha256.

Everything recorded comes from this run: the numbers are rerunnable with the same command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# The command parses its arguments before it imports torch and the datasets: --help answers at once.


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hds-export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a training checkpoint (e.g. runs/hds/best_dice.safetensors)")
    p.add_argument("out", type=Path, help="NAME.safetensors to write (NAME.json beside it)")
    p.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        required=True,
        metavar="KIND:PATH",
        help="the dataset(s) the checkpoint was trained on; its validation patients are evaluated",
    )
    p.add_argument("--threshold", type=float, help="default threshold (default: chosen from the validation table)")
    p.add_argument("--model-name")
    p.add_argument(
        "--score-source",
        choices=["auto", "mil", "max_probability"],
        default="auto",
        help="the image score: auto picks the MIL head or the map's maximum by validation AUC",
    )
    p.add_argument(
        "--calibrate-on",
        nargs="+",
        type=Path,
        metavar="EVAL.json",
        help="hds-eval reports of out-of-fold predictions: fit the image-score calibration on their rows",
    )
    p.add_argument(
        "--calibration",
        choices=["isotonic", "logistic"],
        default=None,
        help="calibration form (default: isotonic with --calibrate-on, logistic with --cv)",
    )
    p.add_argument(
        "--cv",
        type=Path,
        metavar="CV_DIR",
        help="an hds-train --cv output folder: take the image score, calibration, two-breast combination, "
        "default threshold and slider table from its out-of-fold predictions (for a checkpoint "
        "trained on every patient with --no-validation); writes NAME_cv.json beside the weights",
    )
    p.add_argument(
        "--domain",
        dest="domains",
        action="append",
        type=_domain,
        default=[],
        metavar="KIND:PATH=film|digital",
        help="with --cv: the acquisition of a dataset whose kind does not say (a folder): a score is shown as a "
        "probability only for images of the domain it was calibrated on, and the viewer's trust line is that "
        "domain's (minimias is film and inbreast digital already)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    return p


def _domain(text: str) -> tuple[str, str]:
    from ..data import DOMAINS

    spec, sep, domain = text.rpartition("=")
    if not sep or domain not in DOMAINS:
        raise argparse.ArgumentTypeError(f"expected KIND:PATH=film or KIND:PATH=digital, got {text!r}")
    return spec, domain


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.out.exists() and not args.force:
        print(f"hds-export: error: {args.out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    from ..data import DatasetLayoutError
    from ..eval.evaluate import format_report
    from ..infer.device import DeviceError, choose_device
    from ..io import MammoReadError
    from ..nn import WeightsError
    from .export import calibration_from_reports, export

    try:
        if args.cv:
            from .cv_export import export_from_cv

            report = export_from_cv(
                args.checkpoint,
                args.out,
                args.datasets,
                args.cv,
                device=choose_device(args.device),
                model_name=args.model_name,
                score_source=args.score_source,
                method=args.calibration or "logistic",
                domains=dict(args.domains),
            )
            agreement = report["spec"].precision_agreement
            print(
                f"wrote {args.out} ({report['spec'].storage_dtype}, sha256 {report['weights_sha256']}) and "
                f"{args.out.stem}_cv.json; default threshold {report['threshold']:g}; fp16-weights agreement "
                f"{agreement['fp16_weights']:.4f}, bf16 agreement {agreement['bf16']:.4f}"
            )
            return 0
        calibration = (
            calibration_from_reports(args.calibrate_on, args.calibration or "isotonic") if args.calibrate_on else None
        )
        report = export(
            args.checkpoint,
            args.out,
            args.datasets,
            device=choose_device(args.device),
            threshold=args.threshold,
            model_name=args.model_name,
            score_source_choice=args.score_source,
            calibration=calibration,
        )
    except (DatasetLayoutError, DeviceError, MammoReadError, WeightsError, ValueError, OSError) as exc:
        print(f"hds-export: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    agreement = report["spec"].precision_agreement
    print(
        f"\nwrote {args.out} ({report['spec'].storage_dtype}, sha256 {report['weights_sha256']}); "
        f"default threshold {report['threshold']:g}; fp16-weights agreement {agreement['fp16_weights']:.4f}, "
        f"bf16 agreement {agreement['bf16']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
