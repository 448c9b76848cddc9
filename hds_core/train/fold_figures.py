"""The figures the ablation decisions quote, per fold and pooled, from runs' out-of-fold rows
(``fold-K/oof.json`` as ``hds-train --cv`` and ``train.ensemble`` write them):

    python -m hds_core.train.fold_figures runs/ab/film-whole-suppressed runs/ab/film-whole-seeds \\
        --dataset minimias:PATH/mini-mias

Per run: the image head's and the map maximum's AUC as the mean over folds and pooled, false
regions per normal image, mean Dice of images with a lesion, lesions found at the run's
threshold (pooled), and lesion sensitivity at 1 FP/image (mean over folds)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..eval.metrics import roc_auc


def figures(run: Path, dataset: str) -> dict:
    blocks = []
    for path in sorted(run.glob("fold-*/oof.json"), key=lambda p: int(p.parent.name.split("-")[1])):
        per_dataset = json.loads(path.read_text())["per_dataset"]
        if dataset not in per_dataset:
            raise ValueError(f"{path}: no rows of {dataset} (it has {', '.join(per_dataset)})")
        blocks.append(per_dataset[dataset])
    if not blocks:
        raise ValueError(f"{run}: no fold-K/oof.json")
    rows = [r for b in blocks for r in b["images"]]

    def auc(drawn, key):
        return roc_auc([r[key] for r in drawn], [r["label"] for r in drawn])

    normals = [r for r in rows if not r["label"]]
    dice = [r["dice"] for r in rows if r["dice"] is not None]
    lesions = sum(r["lesions"] for r in rows)
    return {
        "folds": len(blocks),
        "image_head_auc_per_fold": float(np.mean([auc(b["images"], "mil_score") for b in blocks])),
        "map_max_auc_per_fold": float(np.mean([auc(b["images"], "max_probability") for b in blocks])),
        "image_head_auc_pooled": auc(rows, "mil_score"),
        "map_max_auc_pooled": auc(rows, "max_probability"),
        "fp_per_normal_image": sum(r["false_positives"] for r in normals) / len(normals) if normals else None,
        "dice_mass_images": float(np.mean(dice)) if dice else None,
        "lesions_found": sum(r["found"] for r in rows) / lesions if lesions else None,
        "lesion_sensitivity_at_1_fp": float(np.mean([(b["froc_sensitivity_at_fp"].get("1") or 0) for b in blocks])),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.fold_figures", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--dataset", required=True, metavar="KIND:PATH", help="as the rows name it")
    args = p.parse_args(argv)
    try:
        for run in args.runs:
            values = figures(run, args.dataset)
            print(
                f"{run}: "
                + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
            )
    except (OSError, ValueError) as exc:
        print(f"fold_figures: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
