"""Ensembles measured out of fold: for each fold, the fold models of several runs (seeds) and,
with ``--flip``, each model also on the image flipped top to bottom, their probability maps
and image scores averaged, on that fold's own validation patients. The rows are written as
``OUT/fold-K/oof.json`` in the format ``hds-train --cv`` writes, so ``recipe keep``, the model
card and ``hds-export --cv`` read them as any other run.

    python -m hds_core.train.ensemble runs/ab/film-whole [runs/ab/film-whole-s1 ...] --flip \\
        --out runs/ab/film-whole-flip --only minimias:../shared/data/mini-mias

Every member of a fold must hold out the same patients (the same folds: one recipe, other
seeds); the command refuses members that do not."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..infer.forward import ExitResult, predict_working


def average_predictions(models, image: np.ndarray, device, *, flip: bool) -> ExitResult:
    """The members' final-exit maps and MIL probabilities, averaged (and over the top-bottom
    flip: mammograms are flipped so in training, the chest wall stays on the left)."""
    maps, scores = [], []
    for model in models:
        for flipped in (False, True) if flip else (False,):
            view = image[::-1] if flipped else image
            (result,) = predict_working(model, np.ascontiguousarray(view), device)
            maps.append(result.probability[::-1] if flipped else result.probability)
            scores.append(result.mil_probability)
    return ExitResult(np.mean(maps, axis=0).astype(np.float32), float(np.mean(scores)))


def _fold_seed(config: dict) -> int:
    return config["fold_seed"] if config.get("fold_seed") is not None else config.get("seed", 0)


def evaluate_fold(
    members: list[Path], fold: int, *, flip: bool, only: list[str], device, threshold: float, suppress: list[str]
) -> dict:
    from ..data import load_datasets, prepare, validation_cases_of
    from ..eval.evaluate import per_dataset_reports
    from ..infer.suppression import suppressed
    from ..nn import load_weights

    loaded = [
        load_weights(member / f"fold-{fold}" / "last.safetensors", map_location=str(device)) for member in members
    ]
    specs = [spec for _, spec in loaded]
    config = specs[0].train_config
    for member, spec in zip(members, specs):
        same = {k: spec.train_config.get(k) for k in ("datasets", "folds", "fold", "exclude_patients")}
        same["fold_seed"] = _fold_seed(spec.train_config)
        if same != {**{k: config.get(k) for k in same}, "fold_seed": _fold_seed(config)}:
            raise ValueError(f"{member}/fold-{fold}: holds out other patients than {members[0]}/fold-{fold}")
    cases = validation_cases_of(load_datasets(config["datasets"]), config)
    if only:
        cases = [c for c in cases if c.dataset in only]
    prepared = [prepare(c, specs[0].working_spacing_mm) for c in cases]
    models = [model for model, _ in loaded]
    results = [average_predictions(models, case.working.image, device, flip=flip) for case in prepared]
    per_exit = suppressed([results], prepared, suppress)
    source = config.get("score_source") or "mil"
    return {
        "fold": fold,
        "folds": config["folds"],
        "weights": [str(member / f"fold-{fold}" / "last.safetensors") for member in members],
        "ensemble": {"members": len(members), "flip": flip},
        "epoch": specs[0].epoch,
        "suppress": suppress,
        "per_dataset": per_dataset_reports(per_exit, prepared, threshold=threshold, score_source=source),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.ensemble", description=__doc__.split("\n\n")[0])
    p.add_argument("members", nargs="+", type=Path, help="cross-validation folders (fold-K/last.safetensors)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--flip", action="store_true", help="each model also on the image flipped top to bottom")
    p.add_argument("--folds", type=int, nargs="+", help="which folds (default: every fold the first member has)")
    p.add_argument("--only", action="append", default=[], metavar="KIND:PATH", help="evaluate this dataset only")
    p.add_argument("--threshold", type=float, default=0.4, help="the lesion threshold (default 0.4, the recipe's)")
    p.add_argument("--suppress", action="append", default=[], choices=["breast", "pectoral"])
    args = p.parse_args(argv)
    import torch

    device = torch.device("cpu")
    folds = args.folds or sorted(int(d.name.split("-")[1]) for d in args.members[0].glob("fold-*") if d.is_dir())
    for fold in folds:
        started = time.monotonic()
        report = evaluate_fold(
            args.members,
            fold,
            flip=args.flip,
            only=args.only,
            device=device,
            threshold=args.threshold,
            suppress=args.suppress,
        )
        out = args.out / f"fold-{fold}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "oof.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"fold {fold}: {out / 'oof.json'} ({time.monotonic() - started:.0f} s)", flush=True)
    # The training curves are the members' own: the first member's per-epoch validation, so a
    # card written from these rows still shows how the epoch count was chosen.
    source = args.members[0] / "cv.json"
    if source.is_file():
        curve = {
            k: v for k, v in json.loads(source.read_text()).items() if k in ("per_epoch", "best_epoch_by_mean_dice")
        }
        (args.out / "cv.json").write_text(json.dumps({**curve, "curve_from": str(source)}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
