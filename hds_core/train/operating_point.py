"""A domain's own default threshold, chosen out of fold on that domain's rows of the weights'
own pooled threshold table, and written into the weights' JSON (``operating_points``; the
tensors, and so the weights' sha256, are untouched).

    python -m hds_core.train.operating_point resources/weights/hds_mammo.safetensors \\
        --domain digital --dataset cdd-cesm --rule dice

Rules: ``dice``, the threshold of the highest mean Dice on the dataset's images with a lesion
(for a dataset without normals, where no specificity exists to trade against: CDD-CESM);
``youden``, contour sensitivity + contour specificity - 1 (a dataset with normals). Ties go
to the higher threshold. Chosen on all folds pooled, as the weights' own default was."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..nn.spec import ModelSpec
from ..safe_write import atomic_write_text

RULES = {
    "dice": ("the highest mean Dice on {name}'s images with a lesion", lambda r: r.get("dice_mass_images")),
    "youden": (
        "contour sensitivity + contour specificity - 1 (Youden's J) on {name}",
        lambda r: (
            None
            if r.get("contour_sensitivity") is None or r.get("contour_specificity") is None
            else r["contour_sensitivity"] + r["contour_specificity"] - 1
        ),
    ),
}


def choose(table: list[dict], rule: str) -> float:
    scored = [(value, row["threshold"]) for row in table if (value := RULES[rule][1](row)) is not None]
    if not scored:
        raise ValueError(f"the table has no figure for the {rule} rule")
    return max(scored)[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.operating_point", description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="NAME.safetensors (its NAME.json is rewritten)")
    p.add_argument("--domain", required=True, choices=["film", "digital"])
    p.add_argument("--dataset", required=True, help="the dataset's folder name (its KIND:PATH in the table ends so)")
    p.add_argument("--rule", required=True, choices=sorted(RULES))
    args = p.parse_args(argv)
    path = args.weights.with_suffix(".json")
    document = json.loads(path.read_text())
    tables = document["validation"]["threshold_table_per_dataset"]
    spec = next((s for s in tables if s.rstrip("/").rsplit("/", 1)[-1] == args.dataset), None)
    if spec is None:
        p.error(f"{path}: no threshold table of a dataset named {args.dataset} (it has {', '.join(tables)})")
    threshold = choose(tables[spec], args.rule)
    name = args.dataset
    document.setdefault("operating_points", {})[args.domain] = {
        "threshold": threshold,
        "rule": RULES[args.rule][0].format(name=name)
        + " in the out-of-fold threshold table pooled over the folds; ties to the higher threshold",
        "dataset": name,
        "command": f"python -m hds_core.train.operating_point {args.weights.name} --domain {args.domain} "
        f"--dataset {name} --rule {args.rule}",
    }
    ModelSpec.from_document(document, path)  # what the Predictor will read must still be valid
    atomic_write_text(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"{path}: {args.domain} images default to threshold {threshold:g} ({args.rule})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
