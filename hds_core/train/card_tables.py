"""The model card's tables and figures (model_card.py writes the card around them): the
cross-validated figures per dataset, the ablation, the threshold table, the demo study, and
the number formats they share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..eval.evaluate import cad_metrics_from_rows

TARGETS = {
    # Issue 38's, one model per domain.
    "film": "image AUC ≥ 0.70, ≤ 0.5 false regions per normal film, ≥ 40% of masses outlined at the default threshold",
    "digital": "lesion sensitivity ≥ 0.60 at 1 false region per image, Dice ≥ 0.50",
}


SUPPRESSION_WORDS = {
    "breast": "outside the breast (film labels, the scanner's edge)",
    "pectoral": "on an MLO view's pectoral muscle where it is found",
}


def evaluated_threshold(report: dict) -> float:
    """The threshold the folds' outlines were evaluated at (``--cv --threshold``)."""
    first = next(iter(report["per_dataset"].values()))["threshold_evaluated"]
    return float(first[0] if isinstance(first, list) else first)


def fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ci(values) -> str:
    return "" if not values else f" [{values[0]:.2f}, {values[1]:.2f}]"


def mean_sd(stats: dict, digits: int = 3) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    return fmt(stats["mean"], digits) + (f" ± {stats['sd']:.{digits}f}" if stats.get("sd") is not None else "")


def shown(spec: str) -> str:
    """KIND:PATH as the card prints it: the folder's name under PATH/ (this machine's paths mean nothing to a "
    "reader)."""
    kind, _, path = spec.partition(":")
    return f"{kind}:PATH/{Path(path).name}" if path else spec


def dataset_name(spec: str) -> str:
    kind, _, path = spec.partition(":")
    return Path(path).name or kind


def cross_fitted_threshold_lines(report: dict) -> list[str]:
    """The default threshold's contour figures on patients its choice never saw (cv_export)."""
    crossed = report.get("cross_fitted_threshold")
    if not crossed:
        return []
    parts = []
    for spec, row in crossed["per_dataset"].items():
        figures = [f"a contour on {row['contour_sensitivity']:.0%} of images with a lesion"]
        if row.get("contour_specificity") is not None:
            figures.append(f"none on {row['contour_specificity']:.0%} of normal images")
        figures.append(f"Dice {fmt(row['dice_mass_images'], 2)}")
        if row.get("fp_regions_per_normal_image") is not None:
            figures.append(f"{row['fp_regions_per_normal_image']:.2f} false regions per normal image")
        parts.append(f"`{dataset_name(spec)}`: " + ", ".join(figures))
    picks = ", ".join(f"{t:g}" for t in crossed["thresholds"])
    return [
        f"The default threshold was chosen on all folds, so the rows above at it have seen their patients. Chosen by "
        f"the same rule on the other folds only (fold by fold: {picks}), each fold's own figures at that threshold, "
        f"pooled: " + "; ".join(parts) + ".",
        "",
    ]


def cv_table(report: dict) -> list[str]:
    """Per dataset: the shipped score's figures out of fold (pooled over folds, 95% intervals
    by patient) and the spread over folds."""
    lines = [
        "| figure | " + " | ".join(f"`{dataset_name(s)}`" for s in report["per_dataset"]) + " |",
        "|---|" + "---|" * len(report["per_dataset"]),
    ]
    blocks = list(report["per_dataset"].values())

    def row(name, cell):
        lines.append(f"| {name} | " + " | ".join(cell(b) for b in blocks) + " |")

    row(
        "images (with a lesion) / patients",
        lambda b: (
            f"{b['shipped_score']['n_images']} "
            f"({sum(r['label'] for r in b['images'])}) / {len({r['patient'] for r in b['images']})}"
        ),
    )
    row(
        "image AUC, shipped score",
        lambda b: fmt(b["shipped_score"]["image_auc"]) + ci(b["shipped_score"]["image_auc_ci"]),
    )
    row(
        "image AUC, this image alone (calibrated)",
        lambda b: fmt(b["single_image_score"]["image_auc"]) + ci(b["single_image_score"]["image_auc_ci"]),
    )
    row(
        "image AUC, compared with the other breast",
        lambda b: fmt(b["two_breast_score"]["image_auc"]) + ci(b["two_breast_score"]["image_auc_ci"]),
    )
    row(
        "image AUC, the network's raw score",
        lambda b: fmt(b["raw_score"]["image_auc"]) + ci(b["raw_score"]["image_auc_ci"]),
    )
    row("images scored from both breasts", lambda b: str(b["images_scored_from_both_breasts"]))
    row(
        "lesion sensitivity at the default threshold",
        lambda b: fmt(b["shipped_score"]["lesion_sensitivity"]) + ci(b["shipped_score"]["lesion_sensitivity_ci"]),
    )
    row(
        "false regions per image at the default threshold", lambda b: fmt(b["shipped_score"]["fp_regions_per_image"], 2)
    )
    row(
        "false regions per normal image",
        lambda b: (
            fmt(b["shipped_score"]["fp_regions_per_normal_image"], 2)
            + ci(b["shipped_score"].get("fp_regions_per_normal_image_ci"))
        ),
    )
    row(
        "Dice (images with a lesion)",
        lambda b: fmt(b["shipped_score"]["dice_mass_images"]) + ci(b["shipped_score"].get("dice_mass_images_ci")),
    )
    row(
        "FROC: lesion sensitivity at 0.5 FP/image (mean ± sd over folds)",
        lambda b: mean_sd(b["over_folds"]["lesion_sensitivity_at_0.5_fp_per_image"]),
    )
    row(
        "FROC: lesion sensitivity at 1 FP/image (mean ± sd over folds)",
        lambda b: mean_sd(b["over_folds"]["lesion_sensitivity_at_1_fp_per_image"]),
    )
    row(
        "FROC: lesion sensitivity at 2 FP/image (mean ± sd over folds)",
        lambda b: mean_sd(b["over_folds"]["lesion_sensitivity_at_2_fp_per_image"]),
    )
    row("image AUC per fold (mean ± sd), network score", lambda b: mean_sd(b["over_folds"]["image_auc"]))
    row("Dice per fold (mean ± sd)", lambda b: mean_sd(b["over_folds"]["dice_mass_images"]))
    row("ECE of the shipped score", lambda b: fmt(b["shipped_score"]["ece"]) + ci(b["shipped_score"].get("ece_ci")))
    return lines


def ablation_rows(source: Path, folds: set[int] | None = None) -> dict[str, dict]:
    """Per dataset: the out-of-fold rows and the folds' own reports of one cross-validated run,
    from an ``hds-train --cv`` folder (``fold-K/oof.json``, only ``folds`` when given) or a
    ``NAME_cv.json`` report (all its folds)."""
    if source.is_file():
        report = json.loads(source.read_text())
        result = {}
        for spec, block in report["per_dataset"].items():
            every = sorted({r["fold"] for r in block["images"] if "fold" in r})
            kept = [k for k in every if folds is None or k in folds]
            values = block["over_folds"]["lesion_sensitivity_at_1_fp_per_image"]["values"]
            # One value per fold, in fold order (folds without a lesion give none: then all are kept).
            sens1 = [v for k, v in zip(every, values) if k in kept] if len(values) == len(every) else values
            result[spec] = {
                "rows": [r for r in block["images"] if r.get("fold") in kept],
                "sens1": sens1,
                "folds": kept,
            }
        return result
    paths = {int(p.parent.name.split("-")[1]): p for p in source.glob("fold-*/oof.json")}
    reports = [(k, json.loads(paths[k].read_text())) for k in sorted(paths) if folds is None or k in folds]
    if not reports:
        raise ValueError(f"{source}: no fold-K/oof.json (an hds-train --cv folder) and not a NAME_cv.json report")
    result = {}
    for spec in reports[0][1]["per_dataset"]:
        blocks = [(k, r["per_dataset"][spec]) for k, r in reports if spec in r["per_dataset"]]
        result[spec] = {
            "rows": [dict(row, fold=k) for k, b in blocks for row in b["images"]],
            "folds": [k for k, _ in blocks],
            "sens1": [
                b["froc_sensitivity_at_fp"]["1"] for _, b in blocks if b["froc_sensitivity_at_fp"].get("1") is not None
            ],
        }
    return result


def ablation_report(source: Path, description: str) -> dict:
    """A cross-validated run's out-of-fold rows, each with its fold, and each fold's lesion
    sensitivity at 1 FP/image: what :func:`ablation_rows` reads, small enough to keep beside
    the weights (``resources/weights/ablation/``), so the card can be written again after the
    run folders are gone."""
    per_dataset = {}
    for spec, run in ablation_rows(source).items():
        per_dataset[spec] = {
            "images": run["rows"],
            "over_folds": {"lesion_sensitivity_at_1_fp_per_image": {"values": run["sens1"]}},
        }
    return {"run": description, "source": str(source), "per_dataset": per_dataset}


def ablation_table(shipped: Path, runs: list[tuple[str, Path]]) -> list[str]:
    """One line per run and dataset: the network's raw scores (MIL head and map maximum; no
    calibration, no second breast) and its outlines at each run's own evaluation threshold, out of fold. A run on
    fewer folds is set beside the shipped recipe on the same folds."""
    lines = [
        "| run | folds | dataset | image AUC, MIL head | image AUC, map maximum | lesion sensitivity at 1 FP/image "
        "(mean over folds) | Dice (lesion images) | false regions per normal image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    every = ablation_rows(shipped)
    table = [("**shipped recipe**", every)]
    shown_folds = [set(next(iter(every.values()))["folds"])]
    for name, source in runs:
        run = ablation_rows(source)
        folds = set(next(iter(run.values()))["folds"])
        if folds and folds not in shown_folds:
            table.append(("**shipped recipe**", ablation_rows(shipped, folds)))
            shown_folds.append(folds)
        table.append((name, run))
    for name, run_rows in table:
        for spec, run in run_rows.items():
            rows = run["rows"]
            raw = cad_metrics_from_rows([dict(r, score=r["mil_score"]) for r in rows], bootstrap_samples=200)
            peak = cad_metrics_from_rows([dict(r, score=r["max_probability"]) for r in rows], bootstrap_samples=50)
            sens1 = float(np.mean(run["sens1"])) if run["sens1"] else None
            lines.append(
                f"| {name} | {', '.join(map(str, run['folds']))} | `{dataset_name(spec)}` | "
                f"{fmt(raw['image_auc'])}{ci(raw.get('image_auc_ci'))} | {fmt(peak['image_auc'])} | {fmt(sens1)} | "
                f"{fmt(raw['dice_mass_images'])} | {fmt(raw['fp_regions_per_normal_image'], 2)} |"
            )
    return lines


def threshold_rows(spec) -> list[str]:
    tables = spec.provenance["validation"]["threshold_table_per_dataset"]
    film = spec.provenance["validation"]["dataset"]
    others = [s for s in tables if s != film]
    head = (
        "| threshold | film: contour on mass films | film: no contour on normal films | film: Dice | film: FP "
        "regions / normal film |"
        + "".join(f" `{dataset_name(s)}`: contour on lesion images | `{dataset_name(s)}`: Dice |" for s in others)
    )
    lines = [head, "|---|---|---|---|---|" + "---|---|" * len(others)]
    for i, row in enumerate(tables[film]):
        default = " **(default)**" if abs(row["threshold"] - spec.default_threshold) < 1e-9 else ""
        cells = [
            f"{row['threshold']:.2f}{default}",
            fmt(row["contour_sensitivity"], 2),
            fmt(row["contour_specificity"], 2),
            fmt(row["dice_mass_images"]),
            fmt(row["fp_regions_per_normal_image"], 2),
        ]
        for dataset in others:
            other = tables[dataset][i]
            cells += [fmt(other["contour_sensitivity"], 2), fmt(other["dice_mass_images"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def demo_rows(weights: Path, demo: Path) -> list[str]:
    import time

    from ..infer import Predictor
    from ..io import read_image

    predictor = Predictor(weights, device="cpu", precision="fp32")
    records = json.loads((demo / "annotations.json").read_text())["films"]
    images = [read_image(demo / r["file"]) for r in records]
    predictions, seconds = [], []
    for image in images:
        started = time.perf_counter()
        predictions.append(predictor.predict(image))
        seconds.append(time.perf_counter() - started)
    predictor.compare_breasts(predictions)
    threshold = predictor.spec.default_threshold
    lines = [
        "| image | source | lesion | image score | scored from | max probability | lesions at the default threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for record, p in zip(records, predictions):
        lines.append(
            f"| {record['file'].removesuffix('.dcm')} | {record.get('mias_film') or record.get('cdd_image')} | "
            f"{'yes' if record['has_mass'] else 'no'} | {p.score:.3f} | {p.score_basis} | {p.max_probability:.3f} | "
            f"{len(p.lesions(threshold))} |"
        )
    import os

    lines += [
        "",
        f"The Predictor took {np.median(seconds):.2f} s per view (median of {len(seconds)}; CPU, fp32, "
        f"{torch_threads()} threads, {os.cpu_count()} cores; the image already read).",
    ]
    return lines
