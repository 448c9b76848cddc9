"""hds-eval: metrics per exit and for the final exit on a dataset's images (or a fold)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from ..dataset_kinds import KINDS_HELP


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hds-eval",
        description="Evaluate HDS weights: image AUC/accuracy/sensitivity/"
        "specificity, Dice over mass images, false-positive regions per normal image, per exit.",
    )
    p.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        required=True,
        metavar="KIND:PATH",
        help=f"a dataset to evaluate on, repeatable; each is reported on its own. Kinds: {KINDS_HELP}",
    )
    p.add_argument("--weights", required=True, help="NAME.safetensors (with NAME.json beside it)")
    p.add_argument("--json", dest="json_out", help="write the full report (per exit, threshold table) to this file")
    p.add_argument(
        "--threshold", type=float, help="threshold for the image label and masks (default: the weights' default)"
    )
    p.add_argument("--fold", type=int, help="evaluate only this fold's validation patients (as hds-train splits them)")
    p.add_argument("--folds", type=int, help="number of folds (default: the weights' training config)")
    p.add_argument("--seed", type=int, help="split seed (default: the weights' training config)")
    p.add_argument(
        "--val-split",
        action="store_true",
        help="evaluate exactly the validation patients the weights were trained with (from their JSON)",
    )
    p.add_argument("--patients", nargs="+", help="evaluate only these patient IDs")
    p.add_argument("--exclude-patients", nargs="+", default=[], help="leave these patient IDs out")
    p.add_argument(
        "--suppress",
        action="append",
        default=[],
        choices=["breast", "pectoral"],
        help="remove marks outside the breast (breast) or on an MLO view's pectoral muscle (pectoral) before "
        "scoring and outlining (repeatable): evaluates the same weights with and without the anatomy",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--final-only", action="store_true", help="skip the auxiliary exits (faster)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from ..io.dicom import silence_pydicom_messages

    silence_pydicom_messages()
    from ..data import (
        DatasetLayoutError,
        load_datasets,
        prepare,
        split_cases,
        validation_cases_of,
    )
    from ..infer.device import DeviceError, choose_device
    from ..infer.suppression import suppressed
    from ..io import MammoReadError
    from ..nn import WeightsError, load_weights, sha256
    from .evaluate import format_report, per_dataset_reports, predict_cases

    try:
        device = choose_device(args.device)
        model, spec = load_weights(args.weights, map_location=str(device))
        trained = spec.train_config
        cases = load_datasets(args.datasets)
        exclude = set(args.exclude_patients)
        if args.val_split:
            cases = validation_cases_of(cases, trained, exclude)
        elif args.fold is not None:
            _, cases = split_cases(
                cases,
                folds=args.folds or trained.get("folds", 5),
                fold=args.fold,
                seed=args.seed
                if args.seed is not None
                else trained["fold_seed"]
                if trained.get("fold_seed") is not None
                else trained.get("seed", 0),
                exclude_patients=exclude,
            )
        else:
            cases = [c for c in cases if c.patient_id not in exclude]
        if args.patients:
            cases = [c for c in cases if c.patient_id in set(args.patients)]
        if not cases:
            raise ValueError("no images left to evaluate after the patient selection")
        prepared = [
            prepare(c, spec.working_spacing_mm) for c in tqdm(cases, desc="preparing", disable=not sys.stderr.isatty())
        ]
        threshold = args.threshold if args.threshold is not None else spec.default_threshold
        # Each dataset on its own, never pooled: pooled with a film set that has normals, a
        # digital set without any would make the AUC measure the domain, not the mass.
        with tqdm(total=len(prepared), desc="evaluating", disable=not sys.stderr.isatty()) as bar:
            per_exit = predict_cases(model, prepared, device, all_exits=not args.final_only, progress=bar.update)
        per_exit = suppressed(per_exit, prepared, args.suppress)
        blocks = per_dataset_reports(
            per_exit,
            prepared,
            threshold=threshold,
            score_source=spec.score_source,
            calibration=spec.calibration,
            bilateral=spec.bilateral,
        )
        for dataset, block in blocks.items():
            block["patients"] = sorted({c.case.patient_id for c in prepared if c.case.dataset == dataset})
    except (DatasetLayoutError, DeviceError, MammoReadError, WeightsError, ValueError) as exc:
        print(f"hds-eval: error: {exc}", file=sys.stderr)
        return 2
    report = dict(next(iter(blocks.values()))) if len(blocks) == 1 else {}
    report["per_dataset"] = blocks
    report["weights"] = {
        "path": str(args.weights),
        "sha256": sha256(Path(args.weights)),
        "model_name": spec.model_name,
    }
    report["datasets"] = args.datasets
    report["suppress"] = args.suppress
    report["patients"] = sorted({c.patient_id for c in cases})
    for dataset, block in blocks.items():
        if len(blocks) > 1:
            print(f"\n== {dataset} ==")
        print(format_report(block))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
